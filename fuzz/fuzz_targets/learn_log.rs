//! The learn log's replay at `eddy serve --checkpoint` start: frames of fuzzed bodies
//! (raw, or entries built from the bytes and encoded as the service writes them) behind
//! valid digests, replayed onto each kind of model from the registry, which is then used.
#![no_main]
use eddy::model::Model;
use eddy::model_file::{self, Header, Keys};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;

#[path = "common.rs"]
mod common;

const N: usize = 3;

/// The service's entry, as written (see `src/server/learn_log.rs`).
#[derive(Serialize)]
struct Entry {
    first: u64,
    x: ndarray::Array2<f64>,
    y: Option<Vec<i64>>,
    labels: Option<eddy::record::LabelMap>,
}

fn frame(out: &mut Vec<u8>, envelope: &[u8]) {
    out.extend_from_slice(&(envelope.len() as u64).to_le_bytes());
    out.extend_from_slice(envelope);
}

fuzz_target!(|data: &[u8]| {
    let [pick, mode, rest @ ..] = data else { return };
    let specs = ["sgd", "scale | perceptron", "gaussian-nb", "multinomial-nb", "minibatch-kmeans(n_clusters=2)"];
    let spec = specs[usize::from(*pick) % specs.len()];
    let Ok(model) = Model::from_spec(spec) else { return };
    let features: Vec<String> = (0..N).map(|i| format!("f{i}")).collect();
    let header = Header::for_model(&model, features.clone(), None);
    let path = std::env::temp_dir().join(format!("eddy-fuzz-{}.learn-log", std::process::id()));
    let mut bytes = Vec::new();
    if mode & 1 == 0 {
        frame(&mut bytes, &common::envelope("learn-batches", N, rest));
    } else {
        // Entries from the bytes: each chunk of 3 bytes is a record, the mode picks labels.
        let rows = rest.len() / N;
        let x = ndarray::Array2::from_shape_fn((rows, N), |(i, j)| f64::from(rest[i * N + j]) - 100.0);
        let y = (mode & 2 != 0).then(|| (0..rows).map(|i| i64::from(rest[i * N] % 4)).collect());
        let first = if mode & 4 != 0 { u64::from(mode >> 3) } else { 0 };
        let entries = vec![Entry { first, x, y, labels: None }];
        let log_header = Header::new("learn-batches", features.clone(), None, first);
        let Ok(encoded) = model_file::encode(&path, &log_header, &entries, &Keys::default()) else { return };
        frame(&mut bytes, &encoded);
        if mode & 8 != 0 {
            // A torn last frame, as a crash mid-write leaves it.
            frame(&mut bytes, &encoded[..encoded.len() / 2]);
        }
    }
    if std::fs::write(&path, &bytes).is_err() {
        return;
    }
    let options = eddy::server::ServeOptions::default();
    if let Ok((mut model, _, _)) = eddy::server::replay_learn_log(model, &header, &path, &options) {
        common::exercise(&mut model, N);
    }
    let _ = std::fs::remove_file(&path);
});
