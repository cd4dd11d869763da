//! The CSV and NDJSON sources of `eddy run`, through a file (as a user runs them), with
//! a label column, skipping bad records into a rejects file.
#![no_main]
use eddy::source::{self, OnError, SourceOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let dir = std::env::temp_dir().join(format!("eddy-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let ext = if pick % 2 == 0 { "csv" } else { "ndjson" };
    let path = dir.join(format!("in.{ext}"));
    if std::fs::write(&path, text).is_err() {
        return;
    }
    let options = SourceOptions {
        batch_size: 7,
        label_column: (pick & 2 != 0).then(|| "y".to_string()),
        on_error: if pick & 4 != 0 { OnError::Skip } else { OnError::Fail },
        rejects: (pick & 4 != 0).then(|| dir.join("rejects.tsv")),
        max_line_bytes: 4096,
        ..SourceOptions::default()
    };
    let Ok(mut src) = source::open(path.to_str().expect("a temp path is UTF-8"), options) else { return };
    while let Ok(Some(batch)) = src.next_batch() {
        assert_eq!(batch.x.nrows(), batch.ids.len());
        assert!(batch.x.iter().all(|v| v.is_finite()));
    }
});
