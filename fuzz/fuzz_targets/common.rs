//! Shared by the targets: build a model-file envelope around fuzzed bytes (so that
//! fuzzing reaches the body behind the digest), and use a decoded model every way.

use eddy::model::Model;
use eddy::{OnlineClassifier, OnlineClusterer};
use sha2::{Digest, Sha256};

/// A valid envelope (format 2, unsigned, unencrypted) of `kind` around `body`, with
/// `n` features named in the header.
pub fn envelope(kind: &str, n: usize, body: &[u8]) -> Vec<u8> {
    let features: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
    let header = serde_json::json!({
        "format_version": eddy::model_file::FORMAT_VERSION, "kind": kind, "eddy_version": "fuzz",
        "features": features, "n_features": n, "classes": null, "records_seen": 0, "created": 0,
    });
    let header = serde_json::to_vec(&header).expect("a header serialises");
    let mut out = b"EDDYMDL\0".to_vec();
    out.extend_from_slice(&eddy::model_file::FORMAT_VERSION.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

/// Predict, learn, print and report a decoded model: none of it may panic.
pub fn exercise(model: &mut Model, n: usize) {
    let _ = model.spec();
    let _ = serde_json::to_string(model);
    let x = ndarray::Array2::from_shape_fn((4, n.max(1)), |(i, j)| (i * 3 + j) as f64 - 2.0);
    let y = ndarray::array![0i64, 1, 0, 2];
    match model {
        Model::Classifier(m) => {
            let _ = m.predict(x.view());
            let _ = m.predict_proba(x.view());
            let _ = m.learn_predict(x.view(), y.view());
            let _ = m.predict(x.view());
        }
        Model::Clusterer(m) => {
            let _ = m.predict(x.view());
            let _ = m.centers_in_input_units();
            let _ = m.learn_predict(x.view());
            let _ = m.predict_with_inertia(x.view());
        }
    }
}
