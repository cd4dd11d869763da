//! Model files: round trips, and every way a file is refused.

use crate::util::{blobs_for, every_model_spec};
use eddy::model::Model;
use eddy::model_file::{self, Header, Key, Keys, ModelFileError};
use eddy::source::synth::Blobs;
use eddy::{OnlineClassifier, OnlineClusterer};
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("eddy-files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn header(features: usize) -> Header {
    Header {
        eddy_version: "test".into(),
        created: 0,
        ..Header::new("model", (0..features).map(|i| format!("f{i}")).collect(), None, 500)
    }
}

fn trained(spec: &str, counts: bool) -> Model {
    let mut model = Model::from_spec(spec).expect("valid");
    let (x, y) = blobs_for(counts, 1, 500);
    match &mut model {
        Model::Classifier(m) => m.partial_fit(x.view(), y.view()).expect("valid"),
        Model::Clusterer(m) => m.partial_fit(x.view()).expect("valid"),
    }
    model
}

fn predictions(model: &Model) -> Vec<i64> {
    let (x, _) = Blobs::new(3, 4, 2).next_batch(200);
    match model {
        Model::Classifier(m) => m.predict(x.mapv(|v| (v + 15.0).max(0.0).round()).view()).expect("valid").to_vec(),
        Model::Clusterer(m) => m.predict(x.view()).expect("valid").to_vec(),
    }
}

#[test]
fn every_estimator_and_chain_round_trips() {
    let d = dir("roundtrip");
    let keys = Keys { signing: Some(Key::from_bytes([7; 32])), encryption: Some(Key::from_bytes([9; 32])) };
    for (i, (spec, counts)) in every_model_spec().into_iter().enumerate() {
        let model = trained(&spec, counts);
        for keys in [Keys::default(), keys.clone()] {
            let path = d.join(format!("{i}.eddy"));
            model_file::save(&path, &header(4), &model, &keys).expect("saves");
            let (h, back): (Header, Model) = model_file::load(&path, "model", &keys).expect("loads");
            assert_eq!(h, header(4));
            assert_eq!(predictions(&back), predictions(&model), "{spec}");
            assert_eq!(back.spec(), model.spec(), "{spec}");
            assert_eq!(serde_json::to_string(&back).expect("json"), serde_json::to_string(&model).expect("json"));
        }
    }
}

#[test]
fn damaged_tampered_and_mismatched_files_are_refused() {
    let d = dir("refused");
    let model = trained("sgd", false);
    let signing = Key::from_bytes([1; 32]);
    let signed = Keys { signing: Some(signing.clone()), encryption: None };
    let path = d.join("m.eddy");
    model_file::save(&path, &header(4), &model, &signed).expect("saves");
    let good = std::fs::read(&path).expect("read");
    let load = |bytes: &[u8], keys: &Keys| {
        std::fs::write(d.join("x.eddy"), bytes).expect("write");
        model_file::load::<Model>(&d.join("x.eddy"), "model", keys).map(|_| ())
    };
    assert!(load(&good, &signed).is_ok());
    assert!(matches!(load(&good[..good.len() - 40], &signed), Err(ModelFileError::Truncated(_))));
    assert!(matches!(load(&good[..20], &signed), Err(ModelFileError::Truncated(_))));
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    assert!(matches!(load(&flipped, &signed), Err(ModelFileError::Corrupt(_))));
    // A tamperer who rewrites the digest still cannot forge the signature.
    let body_end = good.len() - 64;
    let mut forged = good[..body_end].to_vec();
    forged[mid] ^= 0x40;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&forged);
    forged.extend_from_slice(&digest);
    forged.extend_from_slice(&good[good.len() - 32..]);
    assert!(matches!(load(&forged, &signed), Err(ModelFileError::BadSignature(_))));
    let other = Keys { signing: Some(Key::from_bytes([2; 32])), encryption: None };
    assert!(matches!(load(&good, &other), Err(ModelFileError::BadSignature(_))));
    assert!(matches!(load(&good, &Keys::default()), Err(ModelFileError::NeedSigningKey(_))));
    let mut version = good.clone();
    version[8] = 9;
    assert!(matches!(load(&version, &signed), Err(ModelFileError::UnknownVersion { found: 9, .. })));
    assert!(matches!(load(b"not a model at all", &signed), Err(ModelFileError::NotAModelFile(_))));

    let unsigned = d.join("u.eddy");
    model_file::save(&unsigned, &header(4), &model, &Keys::default()).expect("saves");
    let bytes = std::fs::read(&unsigned).expect("read");
    assert!(
        matches!(load(&bytes, &signed), Err(ModelFileError::Unsigned(_))),
        "a key is configured: unsigned is refused"
    );

    let secret = Keys { signing: None, encryption: Some(Key::from_bytes([5; 32])) };
    let sealed = d.join("s.eddy");
    model_file::save(&sealed, &header(4), &model, &secret).expect("saves");
    let bytes = std::fs::read(&sealed).expect("read");
    assert!(matches!(load(&bytes, &Keys::default()), Err(ModelFileError::NeedEncryptionKey(_))));
    let wrong = Keys { signing: None, encryption: Some(Key::from_bytes([6; 32])) };
    assert!(matches!(load(&bytes, &wrong), Err(ModelFileError::WrongKey(_))));
    // The header stays readable without the encryption key.
    assert_eq!(model_file::read_header(&sealed, &Keys::default()).expect("header").records_seen, 500);

    let h = header(4);
    let err = model_file::check_features(&path, &h, &["a".into()]).expect_err("features differ");
    assert!(err.to_string().contains("has no feature named f0, f1, f2, f3"), "{err}");
    let reordered: Vec<String> = ["f1", "f0", "f2", "f3"].map(String::from).to_vec();
    let err = model_file::check_features(&path, &h, &reordered).expect_err("order differs");
    assert!(err.to_string().contains("trained on features"), "{err}");
    assert!(matches!(model_file::load::<Model>(&path, "checkpoint", &signed), Err(ModelFileError::Kind { .. })));
    assert!(!format!("{:?}", signing).contains("01"), "keys never print");
}

#[test]
fn key_files_are_raw_or_hex() {
    let d = dir("keys");
    std::fs::write(d.join("raw"), [3u8; 32]).expect("write");
    std::fs::write(d.join("hex"), format!("{}\n", "03".repeat(32))).expect("write");
    std::fs::write(d.join("short"), "abcd").expect("write");
    assert_eq!(Key::read(&d.join("raw")).expect("raw"), Key::from_bytes([3; 32]));
    assert_eq!(Key::read(&d.join("hex")).expect("hex"), Key::from_bytes([3; 32]));
    assert!(matches!(Key::read(&d.join("short")), Err(ModelFileError::KeyFormat { .. })));
}

#[test]
fn run_saves_a_model_that_model_show_prints() {
    let d = dir("cli");
    std::fs::write(d.join("key"), "11".repeat(32)).expect("key");
    let eddy = || std::process::Command::new(env!("CARGO_BIN_EXE_eddy"));
    let out = eddy()
        .current_dir(&d)
        .args([
            "run",
            "synth:blobs?n=3000&d=3&k=3&seed=2",
            "--model",
            "minibatch-kmeans(n_clusters=3)",
            "--labels-out",
            "l.csv",
            "--save-model",
            "models/km.eddy",
            "--signing-key",
            "key",
            "--quiet",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let show = eddy()
        .current_dir(&d)
        .args(["model", "show", "models/km.eddy", "--signing-key", "key"])
        .output()
        .expect("runs");
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(json["header"]["records_seen"], 3000);
    assert_eq!(json["header"]["features"], serde_json::json!(["f0", "f1", "f2"]));
    assert!(json["model"]["clusterer"].is_object());
    let unsigned = eddy()
        .current_dir(&d)
        .args(["model", "show", "models/km.eddy"])
        .env_remove("EDDY_SIGNING_KEY_FILE")
        .output()
        .expect("runs");
    assert!(!unsigned.status.success());
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("signed"));
    let via_env = eddy()
        .current_dir(&d)
        .args(["model", "show", "models/km.eddy"])
        .env("EDDY_SIGNING_KEY_FILE", d.join("key"))
        .output()
        .expect("runs");
    assert!(via_env.status.success());
    assert!(!String::from_utf8_lossy(&via_env.stdout).contains(&"11".repeat(32)), "the key is never printed");
}

#[test]
fn a_report_from_a_model_file() {
    let d = dir("report-model");
    let eddy = || std::process::Command::new(env!("CARGO_BIN_EXE_eddy"));
    let out = eddy()
        .current_dir(&d)
        .args([
            "run",
            "synth:blobs?n=4000&d=3&k=3&seed=4",
            "--model",
            "minibatch-kmeans(n_clusters=3)",
            "--labels-out",
            "l.csv",
            "--save-model",
            "km.eddy",
            "--quiet",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = eddy().current_dir(&d).args(["report", "km.eddy", "--out", "r"]).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let md = std::fs::read_to_string(d.join("r/report.md")).expect("report");
    let (_, model): (Header, Model) = model_file::load(&d.join("km.eddy"), "model", &Keys::default()).expect("loads");
    let Model::Clusterer(km) = model else { panic!("k-means") };
    let centers = km.cluster_centers().expect("fitted");
    for (c, row) in centers.outer_iter().enumerate() {
        let centre: Vec<String> = row.iter().map(|v| format!("{v:.3}")).collect();
        assert!(md.contains(&format!("| {c} | {} |", km.counts()[c] as u64)), "size of cluster {c}");
        assert!(md.contains(&centre.join(", ")), "centre of cluster {c}");
    }
    assert!(d.join("r/km-state.png").exists());
}

/// A file of an older format version (1: the fixed enum of models before the model
/// language; 2: model states before forgetting and adaptive steps) is refused with a
/// message that says how to re-create it, not decoded into nonsense.
#[test]
fn an_older_format_is_refused_with_how_to_re_create_it() {
    use sha2::{Digest, Sha256};
    let d = dir("format1");
    let path = d.join("old.eddy");
    model_file::save(&path, &header(4), &trained("sgd", false), &Keys::default()).expect("saves");
    let saved = std::fs::read(&path).expect("read");
    for old in [1u16, 2] {
        let mut bytes = saved.clone();
        bytes[8..10].copy_from_slice(&old.to_le_bytes());
        let body_end = bytes.len() - 32;
        let digest = Sha256::digest(&bytes[..body_end]);
        bytes[body_end..].copy_from_slice(&digest);
        std::fs::write(&path, &bytes).expect("write");
        let err = model_file::load_model(&path, &Keys::default()).expect_err("an older format");
        assert!(matches!(err, ModelFileError::Outdated(_, v) if v == old), "{err}");
        assert!(err.to_string().contains("eddy run INPUT --model SPEC --save-model FILE"), "{err}");
    }
    // The shipped models are of this format and load.
    for shipped in ["models/sensors-sgd.eddy", "models/blobs-kmeans.eddy"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(shipped);
        let (header, model) = model_file::load_model(&path, &Keys::default()).expect("a shipped model loads");
        assert_eq!(header.spec.as_deref(), Some(model.spec().as_str()), "{shipped}");
    }
}
