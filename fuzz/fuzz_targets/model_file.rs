//! Model files: the first byte picks the header's feature count, the rest is the body
//! behind a valid digest; a decoded model is used every way, and reported on.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&n, body)) = data.split_first() else { return };
    let n = usize::from(n % 8) + 1;
    let bytes = common::envelope("model", n, body);
    let path = std::path::Path::new("fuzzed.eddy");
    let keys = eddy::model_file::Keys::default();
    if let Ok((header, mut model)) = eddy::model_file::decode::<eddy::model::Model>(path, &bytes, "model", &keys) {
        let _ = eddy::report::RunRecord::from_model("fuzzed", &header, &model);
        common::exercise(&mut model, n);
    }
});
