//! `eddy serve`'s request bodies, in each format, for a three-feature model.
#![no_main]
use eddy::server::body::{decode, Format, Shape};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let features: Vec<String> = ["temperature", "load", "label2"].map(String::from).to_vec();
    let shape = Shape { features: &features, max_records: 10_000 };
    for format in [Format::Json, Format::Ndjson, Format::Csv] {
        if let Ok(records) = decode(format, data, &shape) {
            assert_eq!(records.x.ncols(), 3);
            assert!(records.x.iter().all(|v| v.is_finite()));
        }
    }
});
