//! Helpers shared by the integration tests: fixture loading and tolerant comparison.

use ndarray::{Array1, Array2};
use serde_json::Value;
use std::path::PathBuf;

/// Load `tests/fixtures/sklearn/<case>.json`.
pub fn fixture(case: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sklearn").join(format!("{case}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

pub fn arr1(v: &Value) -> Array1<f64> {
    Array1::from(f64s(v))
}

pub fn labels(v: &Value) -> Array1<i64> {
    v.as_array().expect("array").iter().map(|x| x.as_i64().expect("integer")).collect()
}

pub fn arr2(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v.as_array().expect("array").iter().map(f64s).collect();
    let ncols = rows.first().map_or(0, Vec::len);
    Array2::from_shape_vec((rows.len(), ncols), rows.concat()).expect("rectangular")
}

/// The fixture's batches, in order: features and (for supervised cases) targets.
pub fn batches(case: &Value) -> Vec<(Array2<f64>, Option<Array1<i64>>)> {
    case["batches"]
        .as_array()
        .expect("batches")
        .iter()
        .map(|b| (arr2(&b["x"]), (!b["y"].is_null()).then(|| labels(&b["y"]))))
        .collect()
}

/// All batches stacked into one.
pub fn stacked(case: &Value) -> (Array2<f64>, Array1<i64>) {
    let bs = batches(case);
    let xs: Vec<_> = bs.iter().map(|(x, _)| x.view()).collect();
    let ys: Vec<i64> = bs.iter().flat_map(|(_, y)| y.clone().expect("labelled").to_vec()).collect();
    (ndarray::concatenate(ndarray::Axis(0), &xs).expect("same width"), Array1::from(ys))
}

/// `a` and `b` agree to 1e-6 relative; values within 1e-9 of zero are compared absolutely.
#[track_caller]
pub fn assert_close<'a>(what: &str, a: impl IntoIterator<Item = &'a f64>, b: impl IntoIterator<Item = &'a f64>) {
    let a: Vec<f64> = a.into_iter().copied().collect();
    let b: Vec<f64> = b.into_iter().copied().collect();
    assert_eq!(a.len(), b.len(), "{what}: length {} vs {}", a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        let tol = 1e-6 * x.abs().max(y.abs()) + 1e-9;
        assert!((x - y).abs() <= tol || (x == y), "{what}[{i}]: eddy {x} vs scikit-learn {y}");
    }
}

/// One model for every entry of the registry: each estimator alone and behind each
/// transformer that may precede it, with whether it takes counts (values >= 0).
/// Tests that iterate this cover a new registry entry without being edited.
pub fn every_model_spec() -> Vec<(String, bool)> {
    use eddy::model::registry::{Role, ENTRIES};
    let mut specs = Vec::new();
    for e in ENTRIES.iter().filter(|e| e.role != Role::Transformer) {
        specs.push((e.name.to_string(), e.takes_counts));
        for t in ENTRIES.iter().filter(|t| t.role == Role::Transformer) {
            let chained = format!("{} | {}", t.name, e.name);
            if eddy::model::Model::from_spec(&chained).is_ok() {
                specs.push((chained, e.takes_counts));
            }
        }
    }
    // Settings whose state the defaults leave empty or unused (the adaptive step sizes'
    // accumulators, forgetting), so that the contracts exercise it too.
    for spec in STATEFUL_SETTINGS {
        specs.push((spec.to_string(), false));
    }
    specs
}

/// Specs that reach state a default model does not (see [`every_model_spec`]).
const STATEFUL_SETTINGS: &[&str] = &[
    "sgd(loss=log_loss, learning_rate=adam)",
    "sgd(learning_rate=adagrad)",
    "scale | sgd(loss=modified_huber, learning_rate=rmsprop, penalty=elasticnet)",
    "minibatch-kmeans(decay_factor=0.5, time_unit=points)",
    "minibatch-kmeans(halflife=0.1)",
    "gaussian-nb(halflife=50)",
    "scale(halflife=50) | gaussian-nb(halflife=20)",
];

/// A batch for `spec`: labelled blobs, as counts when the model takes counts.
pub fn blobs_for(counts: bool, seed: u64, rows: usize) -> (Array2<f64>, Array1<i64>) {
    let (x, y) = eddy::source::synth::Blobs::new(3, 4, seed).next_batch(rows);
    (if counts { x.mapv(|v| (v + 15.0).max(0.0).round()) } else { x }, y)
}
