//! `.npy` sources: headers read with bounded lengths and nesting, or refused quickly;
//! then the values, with an optional labels stream cut from the same bytes.
#![no_main]
use eddy::source::{NpyInput, NpySource, OnError, Source, SourceOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = data;
    if let Ok(header) = eddy::source::read_npy_header(&mut reader) {
        assert!(header.shape.len() <= 8);
    }
    // The last two bytes say where a labels file starts (0: no labels).
    let Some((bytes, [lo, hi])) = data.split_last_chunk::<2>().map(|(b, c)| (b, *c)) else { return };
    let cut = usize::from(u16::from_le_bytes([lo, hi])).min(bytes.len());
    let (features, labels) = if cut == 0 { (bytes, None) } else { (&bytes[..cut], Some(&bytes[cut..])) };
    let options = SourceOptions {
        batch_size: 5,
        on_error: if data.len() % 2 == 0 { OnError::Skip } else { OnError::Fail },
        ..SourceOptions::default()
    };
    let features = NpyInput::bytes("x.npy", features.to_vec());
    let labels = labels.map(|l| NpyInput::bytes("y.npy", l.to_vec()));
    let Ok(mut src) = NpySource::from_inputs(features, labels, options) else { return };
    let width = src.feature_names().len();
    while let Ok(Some(batch)) = src.next_batch() {
        assert_eq!(batch.x.ncols(), width);
        assert_eq!(batch.x.nrows(), batch.ids.len());
        assert!(batch.x.iter().all(|v| v.is_finite()));
    }
});
