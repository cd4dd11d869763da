//! Clustering quality: running inertia and the adjusted Rand index.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Running clustering scores: inertia per record and, when true labels are
/// known, the adjusted Rand index of every assignment so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Parts")]
pub struct ClusteringMetrics {
    n: u64,
    inertia: f64,
    /// (true, assigned) -> count; only filled when true labels are given.
    contingency: HashMap<(i64, i64), u64>,
}

/// Scores as decoded from a checkpoint, before they are checked to fit together.
#[derive(Deserialize)]
struct Parts {
    n: u64,
    inertia: f64,
    contingency: HashMap<(i64, i64), u64>,
}

impl TryFrom<Parts> for ClusteringMetrics {
    type Error = String;
    /// Counts bounded so the ARI's squares of sums stay exact in `u128`.
    fn try_from(p: Parts) -> Result<Self, String> {
        let counted = p.contingency.values().try_fold(0u64, |a, &c| a.checked_add(c));
        let fits = p.n < super::classification::MAX_RECORDS
            && counted.is_some_and(|c| c <= p.n)
            && p.inertia.is_finite()
            && p.inertia >= 0.0;
        if !fits {
            return Err("clustering scores whose counts do not fit together".into());
        }
        Ok(Self { n: p.n, inertia: p.inertia, contingency: p.contingency })
    }
}

impl ClusteringMetrics {
    /// No records yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a batch: its inertia, its assignments and, if known, its true labels.
    pub fn update(&mut self, batch_inertia: f64, assigned: &[i64], truth: Option<&[i64]>) {
        self.n += assigned.len() as u64;
        self.inertia += batch_inertia;
        if let Some(truth) = truth {
            for (&t, &a) in truth.iter().zip(assigned.iter()) {
                *self.contingency.entry((t, a)).or_insert(0) += 1;
            }
        }
    }

    /// Records seen.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Summed squared distance of each record to its assigned centre.
    pub fn inertia(&self) -> f64 {
        self.inertia
    }

    /// Mean inertia per record, `None` before any record.
    pub fn mean_inertia(&self) -> Option<f64> {
        (self.n > 0).then(|| self.inertia / self.n as f64)
    }

    /// Adjusted Rand index of the assignments against the true labels, `None` when
    /// no true labels were given.
    pub fn ari(&self) -> Option<f64> {
        (!self.contingency.is_empty()).then(|| ari_from_contingency(&self.contingency))
    }
}

/// Adjusted Rand index of two labellings (scikit-learn's `adjusted_rand_score`):
/// 1 for identical partitions up to renaming, about 0 for random ones.
pub fn adjusted_rand_index(labels_true: &[i64], labels_pred: &[i64]) -> f64 {
    let mut contingency = HashMap::new();
    for (&t, &p) in labels_true.iter().zip(labels_pred.iter()) {
        *contingency.entry((t, p)).or_insert(0u64) += 1;
    }
    ari_from_contingency(&contingency)
}

/// Pair-counting form of the ARI, in exact integer arithmetic up to the last division.
fn ari_from_contingency(contingency: &HashMap<(i64, i64), u64>) -> f64 {
    let mut rows: HashMap<i64, u128> = HashMap::new();
    let mut cols: HashMap<i64, u128> = HashMap::new();
    let (mut n, mut sum_sq) = (0u128, 0u128);
    for (&(t, p), &c) in contingency {
        let c = u128::from(c);
        n += c;
        sum_sq += c * c;
        *rows.entry(t).or_insert(0) += c;
        *cols.entry(p).or_insert(0) += c;
    }
    let row_sq: u128 = rows.values().map(|v| v * v).sum();
    let col_sq: u128 = cols.values().map(|v| v * v).sum();
    // Ordered pairs: same cluster in both, only in the prediction, only in the truth, in neither.
    let tp = (sum_sq - n) as f64;
    let fp = (col_sq - sum_sq) as f64;
    let fneg = (row_sq - sum_sq) as f64;
    let tn = (n * n) as f64 - tp - fp - fneg - n as f64;
    if fneg == 0.0 && fp == 0.0 {
        return 1.0;
    }
    2.0 * (tp * tn - fneg * fp) / ((tp + fneg) * (fneg + tn) + (tp + fp) * (fp + tn))
}
