//! Stream metrics: prequential classification scores and clustering quality.
//!
//! Fed with the labels of `learn_predict`, [`ClassificationMetrics`] is the
//! prequential (test-then-train) evaluation: every record is scored by a model
//! that had not yet learned from it.

mod classification;
mod clustering;

pub use classification::{ClassScore, ClassificationMetrics, ConfusionMatrix, MAX_WINDOW};
pub use clustering::{adjusted_rand_index, ClusteringMetrics};
