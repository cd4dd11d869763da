//! The model language: any text is parsed and built, or refused with an error; a
//! built model prints a spec that builds the same model.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = eddy::spec::parse(text).map(|s| s.to_string());
    if let Ok(model) = eddy::model::Model::from_spec(text) {
        let printed = model.spec();
        let again = eddy::model::Model::from_spec(&printed).expect("a printed spec builds");
        assert_eq!(again.spec(), printed);
    }
});
