//! `.npy` headers: read with bounded lengths and nesting, or refused, quickly.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = data;
    if let Ok(header) = eddy::source::read_npy_header(&mut reader) {
        assert!(header.shape.len() <= 8);
    }
});
