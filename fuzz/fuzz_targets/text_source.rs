//! The CSV and NDJSON sources of `eddy run`, read from memory through the sources'
//! reader entry point, with or without a label column, failing or skipping bad records
//! (into a rejects file), with missing values let through or not and a column declared
//! categorical or not.
#![no_main]
use eddy::source::{OnError, Source, SourceOptions, TextFormat, TextSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let format = if pick % 2 == 0 { TextFormat::Csv } else { TextFormat::Ndjson };
    let rejects = std::env::temp_dir().join(format!("eddy-fuzz-{}-rejects.tsv", std::process::id()));
    let options = SourceOptions {
        batch_size: 7,
        label_column: (pick & 2 != 0).then(|| "y".to_string()),
        classes: (pick & 8 != 0).then(|| vec!["a".to_string(), "1".to_string()]),
        on_error: if pick & 4 != 0 { OnError::Skip } else { OnError::Fail },
        rejects: (pick & 4 != 0).then(|| rejects.clone()),
        max_line_bytes: if pick & 16 != 0 { 64 } else { 4096 },
        missing: pick & 32 != 0,
        categorical: if pick & 64 != 0 { vec!["c".to_string()] } else { Vec::new() },
        ..SourceOptions::default()
    };
    let reader = Box::new(std::io::Cursor::new(text.to_vec()));
    let Ok(mut src) = TextSource::from_reader("fuzzed".into(), reader, format, options) else { return };
    let width = src.feature_names().len();
    let categorical = src.categorical_names().to_vec();
    let missing = pick & 32 != 0;
    while let Ok(Some(batch)) = src.next_batch() {
        assert_eq!(batch.x.nrows(), batch.ids.len());
        assert_eq!(batch.x.ncols(), width);
        // Missing values are NaN when let through, and nothing else is not finite.
        assert!(batch.x.iter().all(|v| v.is_finite() || (missing && v.is_nan())));
        assert_eq!(batch.cats.names(), categorical.as_slice());
        if !categorical.is_empty() {
            assert_eq!(batch.cats.rows(), batch.ids.len());
            assert!(missing || batch.cats.values().iter().all(Option::is_some));
        }
        if let Some(y) = &batch.y {
            assert_eq!(y.len(), batch.ids.len());
        }
    }
    let _ = src.position();
});
