//! What the Redis and Kafka group tests check alike of a group's shared model.

use eddy::OnlineClassifier;
use std::path::Path;

/// The largest difference between the class probabilities of the model saved at `one`
/// (one process over the whole stream) and `merged` (the group's), on a grid of
/// two-feature points.
pub fn worst_probability_gap(one: &Path, merged: &eddy::model::Model) -> f64 {
    let (_, one) =
        eddy::model_file::load_model(one, &eddy::model_file::Keys::default()).expect("loads the one-process model");
    let probe = ndarray::Array2::from_shape_fn((200, 2), |(i, j)| ((i * 37 + j * 11) % 100) as f64 / 10.0);
    let proba = |m: &eddy::model::Model| {
        m.as_classifier().expect("a classifier").predict_proba(probe.view()).expect("predicts").expect("probabilities")
    };
    let (p1, p2) = (proba(&one), proba(merged));
    p1.iter().zip(p2.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}
