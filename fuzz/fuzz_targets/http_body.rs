//! `eddy serve`'s request bodies, in each format, for a three-feature model, and for a
//! model with a categorical column too, whose missing values are let through or not.
#![no_main]
use eddy::server::body::{decode, Format, Shape};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, data)) = data.split_first() else { return };
    let features: Vec<String> = ["temperature", "load", "label2"].map(String::from).to_vec();
    let categorical: Vec<String> = if pick & 1 != 0 { vec!["city".to_string()] } else { Vec::new() };
    let missing = pick & 2 != 0;
    let shape = Shape::new(&features, 10_000).categorical(&categorical).missing(missing);
    for format in [Format::Json, Format::Ndjson, Format::Csv] {
        if let Ok(records) = decode(format, data, &shape) {
            assert_eq!(records.x.ncols(), 3);
            assert!(records.x.iter().all(|v| v.is_finite() || (missing && v.is_nan())));
            assert_eq!(records.cats.names(), categorical.as_slice());
            if !categorical.is_empty() {
                assert_eq!(records.cats.rows(), records.x.nrows());
                assert!(missing || records.cats.values().iter().all(Option::is_some));
            }
        }
    }
});
