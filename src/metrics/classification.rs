//! Accuracy (overall and over a rolling window), confusion matrix, per-class and macro F1.

use crate::error::ParamsError;
use crate::model::NO_PREDICTION;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Running classification scores over a stream of (true, predicted) labels.
///
/// A [`NO_PREDICTION`] counts as a miss: it lowers accuracy and the true class's
/// recall, and is not a class of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Parts")]
pub struct ClassificationMetrics {
    n: u64,
    correct: u64,
    window: usize,
    recent: VecDeque<bool>,
    recent_correct: u64,
    /// (true, predicted) -> count.
    pairs: BTreeMap<(i64, i64), u64>,
}

/// Scores as decoded from a checkpoint, before they are checked to fit together.
#[derive(Deserialize)]
struct Parts {
    n: u64,
    correct: u64,
    window: usize,
    recent: VecDeque<bool>,
    recent_correct: u64,
    pairs: BTreeMap<(i64, i64), u64>,
}

/// More records than any stream scores; a decoded count above it is damage.
pub(crate) const MAX_RECORDS: u64 = 1 << 48;
/// The longest rolling window (it is kept in memory).
pub const MAX_WINDOW: usize = 1 << 30;

impl TryFrom<Parts> for ClassificationMetrics {
    type Error = String;
    fn try_from(p: Parts) -> Result<Self, String> {
        let paired = p.pairs.values().try_fold(0u64, |a, &c| a.checked_add(c));
        let recent_correct = p.recent.iter().filter(|&&hit| hit).count() as u64;
        let fits = (1..=MAX_WINDOW).contains(&p.window)
            && p.n < MAX_RECORDS
            && p.correct <= p.n
            && paired == Some(p.n)
            && p.recent.len() <= p.window
            && p.recent.len() as u64 <= p.n
            && p.recent_correct == recent_correct;
        if !fits {
            return Err("classification scores whose counts do not fit together".into());
        }
        Ok(Self {
            n: p.n,
            correct: p.correct,
            window: p.window,
            recent: p.recent,
            recent_correct: p.recent_correct,
            pairs: p.pairs,
        })
    }
}

/// A confusion matrix: `counts[[i, j]]` rows of true class `labels[i]` predicted as `labels[j]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Classes, sorted ascending (the union of true and predicted labels).
    pub labels: Vec<i64>,
    /// Counts, `labels.len() x labels.len()`.
    pub counts: Array2<u64>,
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    /// The class.
    pub label: i64,
    /// Correct among the rows predicted as this class (0 when none was).
    pub precision: f64,
    /// Correct among the rows of this class (0 when none was seen).
    pub recall: f64,
    /// Harmonic mean of the two: `2 tp / (2 tp + fp + fn)`, 0 when undefined.
    pub f1: f64,
    /// Rows of this class seen.
    pub support: u64,
}

impl ClassificationMetrics {
    /// Scores with a rolling window of the last `window` records.
    pub fn new(window: usize) -> Result<Self, ParamsError> {
        if window == 0 || window > MAX_WINDOW {
            return Err(ParamsError::Window);
        }
        Ok(Self {
            n: 0,
            correct: 0,
            window,
            recent: VecDeque::with_capacity(window),
            recent_correct: 0,
            pairs: BTreeMap::new(),
        })
    }

    /// Add a batch of (true, predicted) labels. Extra entries of the longer slice are ignored.
    pub fn update(&mut self, y_true: &[i64], y_pred: &[i64]) {
        for (&t, &p) in y_true.iter().zip(y_pred.iter()) {
            let hit = t == p;
            self.n += 1;
            self.correct += u64::from(hit);
            if self.recent.len() == self.window && self.recent.pop_front() == Some(true) {
                self.recent_correct -= 1;
            }
            self.recent.push_back(hit);
            self.recent_correct += u64::from(hit);
            *self.pairs.entry((t, p)).or_insert(0) += 1;
        }
    }

    /// Records scored.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Share of records predicted right, `None` before any record.
    pub fn accuracy(&self) -> Option<f64> {
        (self.n > 0).then(|| self.correct as f64 / self.n as f64)
    }

    /// Accuracy over the last `window` records, `None` before any record.
    pub fn rolling_accuracy(&self) -> Option<f64> {
        (!self.recent.is_empty()).then(|| self.recent_correct as f64 / self.recent.len() as f64)
    }

    /// The confusion matrix over every class seen as a target or a prediction.
    pub fn confusion_matrix(&self) -> ConfusionMatrix {
        let labels: BTreeSet<i64> =
            self.pairs.keys().flat_map(|&(t, p)| [t, p]).filter(|&l| l != NO_PREDICTION).collect();
        let labels: Vec<i64> = labels.into_iter().collect();
        let mut counts = Array2::zeros((labels.len(), labels.len()));
        for (&(t, p), &c) in &self.pairs {
            if let (Ok(i), Ok(j)) = (labels.binary_search(&t), labels.binary_search(&p)) {
                counts[[i, j]] += c;
            }
        }
        ConfusionMatrix { labels, counts }
    }

    /// Precision, recall and F1 of every class (scikit-learn's `zero_division=0`).
    pub fn per_class(&self) -> Vec<ClassScore> {
        let cm = self.confusion_matrix();
        let mut support: BTreeMap<i64, u64> = BTreeMap::new();
        for (&(t, _), &c) in &self.pairs {
            *support.entry(t).or_insert(0) += c;
        }
        cm.labels
            .iter()
            .enumerate()
            .map(|(i, &label)| {
                let tp = cm.counts[[i, i]] as f64;
                let predicted = cm.counts.column(i).sum() as f64;
                let actual = support.get(&label).copied().unwrap_or(0);
                let div = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
                let (fp, fneg) = (predicted - tp, actual as f64 - tp);
                ClassScore {
                    label,
                    precision: div(tp, predicted),
                    recall: div(tp, actual as f64),
                    f1: div(2.0 * tp, 2.0 * tp + fp + fneg),
                    support: actual,
                }
            })
            .collect()
    }

    /// Unweighted mean of the per-class F1, `None` before any record.
    pub fn macro_f1(&self) -> Option<f64> {
        let scores = self.per_class();
        (!scores.is_empty()).then(|| scores.iter().map(|s| s.f1).sum::<f64>() / scores.len() as f64)
    }
}
