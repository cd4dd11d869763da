//! Checkpoints: a fuzzed body behind a valid digest; every decoded model is used.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&n, body)) = data.split_first() else { return };
    let n = usize::from(n % 8) + 1;
    let bytes = common::envelope(eddy::checkpoint::KIND, n, body);
    let path = std::path::Path::new("fuzzed.eddy");
    let keys = eddy::model_file::Keys::default();
    type Decoded = eddy::checkpoint::Checkpoint;
    if let Ok((_, mut checkpoint)) = eddy::model_file::decode::<Decoded>(path, &bytes, eddy::checkpoint::KIND, &keys) {
        for m in &mut checkpoint.models {
            let _ = m.classification.macro_f1();
            let _ = m.clustering.ari();
            m.classification.update(&[0, 1], &[1, 1]);
            common::exercise(&mut m.model, n);
        }
    }
});
