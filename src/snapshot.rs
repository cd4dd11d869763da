//! Copies of a model's live state for plots and reports: cheap to take, bounded in size.
//!
//! Each model stage keeps a [`Tracker`] that sees every labelled batch. It keeps
//! the last few thousand records (the sample the plots project), a timeline of
//! the scores (thinned to a bounded number of points however long the run),
//! how many records went to each cluster or class, and the running moments of
//! the features. [`Tracker::snapshot`] copies that and the model's centres or
//! confusion matrix into a [`Snapshot`], which the plot thread renders. A tree model's
//! snapshot also holds its trees ([`trees`]) and its shape over the run.

pub mod trees;

use crate::metrics::{ClassificationMetrics, ClusteringMetrics, ConfusionMatrix};
use crate::model::{Model, NO_PREDICTION};
use crate::moments::Moments;
use crate::record::Batch;
use crate::OnlineClusterer;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
pub use trees::{ShapePoint, TreeSummary};

/// Records kept for the projection plot and the silhouette.
pub const SAMPLE_ROWS: usize = 2000;
/// Points kept on a timeline.
const TIMELINE_POINTS: usize = 512;
/// While a run is younger than this many records, its timeline gets a point every
/// [`FINE_ROWS`] records inside each batch too: a run of a few thousand records is a
/// handful of batches, too few points to read a curve from.
const FINE_RECORDS: u64 = 8192;
/// Records between the points inside a young run's batches.
pub const FINE_ROWS: usize = 64;

/// One point of a run's history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Records seen.
    pub records: u64,
    /// Prequential accuracy so far (classifiers) or mean inertia so far (clusterers).
    pub overall: f64,
    /// Accuracy over the rolling window (classifiers) or mean inertia of the last batch (clusterers).
    pub recent: f64,
}

/// One point of a clusterer's history: where each centre stood (input units) and how
/// many records each had been given so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterPoint {
    /// Records seen.
    pub records: u64,
    /// The centres, one row each; no columns when there are too many to keep
    /// (more than [`MAX_CENTRE_VALUES`] values).
    pub centers: Array2<f64>,
    /// Records given each cluster since the start of the run.
    pub counts: Vec<u64>,
}

/// Centre values (clusters × features) a cluster history keeps per point: above it,
/// only the counts are kept, so a run's history stays a few megabytes at most.
pub const MAX_CENTRE_VALUES: usize = 1024;
/// Clusters a history point may hold (a loaded `run.json` with more is refused: each is
/// a line to draw).
pub const MAX_HISTORY_CLUSTERS: usize = 4096;
/// Points kept on a cluster history.
const CLUSTER_POINTS: usize = 128;

/// A model's state at one moment, for plots and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The model's name.
    pub model: String,
    /// Records seen when it was taken.
    pub records: u64,
    /// Feature names.
    pub features: Vec<String>,
    /// Class names by id, when the input had named classes.
    pub class_names: Option<Vec<String>>,
    /// Mean and variance of every feature over the run (from every 8th batch).
    pub moments: Moments,
    /// The most recent records (at most [`SAMPLE_ROWS`]) and their labels.
    pub sample: Array2<f64>,
    /// The label each sampled record was given.
    pub sample_labels: Vec<i64>,
    /// The true class of each sampled record, when known.
    pub sample_truth: Option<Vec<i64>>,
    /// History of the scores.
    pub timeline: Vec<TimelinePoint>,
    /// Records given each label over the run.
    pub label_counts: BTreeMap<i64, u64>,
    /// A clusterer's history: its centres and cluster sizes over the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_timeline: Vec<ClusterPoint>,
    /// A tree model's trees: the top levels, shape, split features, a forest's trees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trees: Option<TreeSummary>,
    /// A tree model's shape over the run (a forest's trees added up).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shape_timeline: Vec<ShapePoint>,
    /// What only clusterers or only classifiers have.
    pub detail: Detail,
    /// What was watched beside the model (`--drift`, `--watch`), with the first events:
    /// marks on the timeline and the report's drift section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<crate::pipeline::DriftSummary>,
    /// Its delayed labels (`--delayed-labels`): the report's section on them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delayed: Option<crate::pipeline::delayed::DelayedSummary>,
    /// Taken from a saved model file, not a run: the model's own state only, so no
    /// sample, no timeline and no scores (a report shows none of them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_model_file: bool,
    /// What the model's encoders and imputer did to the records.
    #[serde(default, skip_serializing_if = "crate::preprocess::InputSummary::is_empty")]
    pub inputs: crate::preprocess::InputSummary,
}

/// The part of a snapshot that depends on the kind of model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// A clusterer's centres and counts, and its scores.
    Clusterer {
        /// Centres in the input's units (a scaler in front is undone).
        centers: Array2<f64>,
        /// The model's per-centre counts (its learning rates).
        counts: Vec<f64>,
        /// Mean inertia per record: squared distance to the assigned centre, in the
        /// units the model works in (see [`working_units`] of `transforms`).
        inertia: Option<f64>,
        /// ARI against the label column.
        ari: Option<f64>,
        /// The transformers in front of the clusterer, in the model language (`scale`):
        /// empty when the model works in input units.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        transforms: Vec<String>,
        /// The centres as the model keeps them, in the units it works in, when these
        /// are not input units (a scaler in front).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model_centers: Option<Array2<f64>>,
    },
    /// A classifier's scores.
    Classifier {
        /// Prequential accuracy.
        accuracy: Option<f64>,
        /// Rolling accuracy.
        rolling_accuracy: Option<f64>,
        /// Macro F1.
        macro_f1: Option<f64>,
        /// Confusion matrix.
        confusion: ConfusionMatrix,
        /// Precision, recall, F1 per class.
        per_class: Vec<crate::metrics::ClassScore>,
    },
}

/// The units a clusterer with these transformers in front works in (its centres as
/// kept and its inertia): `input units` with none.
pub fn working_units(transforms: &[String]) -> String {
    match transforms {
        [] => "input units".into(),
        [t] if t == "scale" => "standardised units".into(),
        _ => format!("the units after `{}`", transforms.join(" | ")),
    }
}

impl Detail {
    /// A clusterer's centres in input units, the transformers in front of it (in the
    /// model language) and, when there are any, its centres as it keeps them.
    pub(crate) fn clusterer_of(
        m: &crate::model::ClustererModel,
        d: usize,
    ) -> (Array2<f64>, Vec<String>, Option<Array2<f64>>) {
        let transforms: Vec<String> =
            m.transforms().iter().map(|t| crate::model::registry::stage_spec(t.as_ref())).collect();
        let centers = m.centers_in_input_units().unwrap_or_else(|| Array2::zeros((0, d)));
        let model_centers = if transforms.is_empty() { None } else { m.cluster_centers().map(|c| c.to_owned()) };
        (centers, transforms, model_centers)
    }
}

/// Keeps what snapshots need, batch by batch. See the module documentation.
///
/// Nothing is copied per record: the recent sample is the last few batches
/// themselves (shared with the rest of the pipeline), and label counts go into
/// a dense array. Feature moments are updated from every 8th batch: over a run
/// that estimates the overall mean and variance, at an eighth of the cost of
/// updating them on every batch (which cost more than all the rest together).
#[derive(Debug, Clone)]
pub struct Tracker {
    features: Vec<String>,
    moments: Option<Moments>,
    /// The latest batches, holding at least [`SAMPLE_ROWS`] records, with their labels.
    recent: VecDeque<(Arc<Batch>, Vec<i64>)>,
    recent_rows: usize,
    timeline: Vec<TimelinePoint>,
    stride: u64,
    batches: u64,
    clusters: Vec<ClusterPoint>,
    cluster_stride: u64,
    /// A tree model's shape over the run.
    shapes: trees::ShapeHistory,
    /// Records per label for labels 0..DENSE; others in `sparse_counts`.
    dense_counts: Vec<u64>,
    sparse_counts: BTreeMap<i64, u64>,
    records: u64,
}

/// Feature moments are updated from one batch in this many.
const MOMENT_EVERY: u64 = 8;

/// Labels below this are counted in an array (cluster ids and class ids are small).
const DENSE: usize = 4096;

/// `batch` without its records that have a missing value (NaN), and their labels;
/// `None` when it has none.
fn complete_rows(batch: &Arc<Batch>, labels: &[i64]) -> Option<(Arc<Batch>, Vec<i64>)> {
    if !batch.x.iter().any(|v| v.is_nan()) {
        return None;
    }
    let keep: Vec<usize> = (0..batch.len()).filter(|&i| !batch.x.row(i).iter().any(|v| v.is_nan())).collect();
    let x = batch.x.select(ndarray::Axis(0), &keep);
    let ids = keep.iter().map(|&i| batch.ids[i]).collect();
    let y = batch.y.as_ref().map(|y| keep.iter().map(|&i| y[i]).collect());
    let kept_labels = keep.iter().filter_map(|&i| labels.get(i).copied()).collect();
    Some((Arc::new(Batch { seq: batch.seq, ids, x, y, end_offset: batch.end_offset, ..Batch::default() }), kept_labels))
}

impl Tracker {
    /// A tracker for a stream with these feature names.
    pub fn new(features: Vec<String>) -> Self {
        Self {
            features,
            moments: None,
            recent: VecDeque::new(),
            recent_rows: 0,
            timeline: Vec::new(),
            stride: 1,
            batches: 0,
            clusters: Vec::new(),
            cluster_stride: 1,
            shapes: trees::ShapeHistory::default(),
            dense_counts: Vec::new(),
            sparse_counts: BTreeMap::new(),
            records: 0,
        }
    }

    /// Records seen.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Go on counting from `records` (a run resumed from a checkpoint): the timeline's
    /// points and the events are then on one axis.
    pub fn resume_at(&mut self, records: u64) {
        self.records = records;
    }

    /// Rows between the score points wanted inside the next batch (see
    /// [`Tracker::observe_within`]), while the run is young; `None` after.
    pub fn fine_rows(&self) -> Option<usize> {
        (self.records < FINE_RECORDS).then_some(FINE_ROWS)
    }

    /// Before [`Tracker::observe`] of a batch: the scores after some of its first rows,
    /// as `(rows into the batch, (overall, recent))`, in order. Points at or past the
    /// batch's end are the batch's own point's to give.
    pub fn observe_within(&mut self, points: &[(usize, (f64, f64))]) {
        for &(rows, (overall, recent)) in points {
            self.push_point(TimelinePoint { records: self.records + rows as u64, overall, recent });
        }
    }

    /// Keep `point`; when the timeline is full, keep every other point and double the stride.
    fn push_point(&mut self, point: TimelinePoint) {
        if self.timeline.len() >= TIMELINE_POINTS {
            let kept: Vec<TimelinePoint> = self.timeline.iter().step_by(2).copied().collect();
            self.timeline = kept;
            self.stride *= 2;
        }
        self.timeline.push(point);
    }

    /// Take in a labelled batch and the scores after it; `centers` gives a clusterer's
    /// centres in input units, asked for only when a point of its history is due.
    pub fn observe(
        &mut self,
        batch: &Arc<Batch>,
        labels: &[i64],
        point: (f64, f64),
        centers: impl FnOnce() -> Option<Array2<f64>>,
    ) {
        self.records += batch.len() as u64;
        let all_labels = labels;
        // Records with missing values (an imputer's input) stay out of the moments and
        // the sample: the pictures show what was measured, not what was filled.
        let complete;
        let (batch, labels) = match complete_rows(batch, labels) {
            Some((b, l)) => {
                complete = (b, l);
                (&complete.0, complete.1.as_slice())
            }
            None => (batch, labels),
        };
        if self.batches.is_multiple_of(MOMENT_EVERY) && !batch.is_empty() {
            self.moments.get_or_insert_with(|| Moments::new(batch.x.ncols())).update_batch(batch.x.view());
        }
        for &l in all_labels {
            match usize::try_from(l) {
                Ok(i) if i < DENSE => {
                    if i >= self.dense_counts.len() {
                        self.dense_counts.resize(i + 1, 0);
                    }
                    self.dense_counts[i] += 1;
                }
                _ if l == NO_PREDICTION => {}
                _ => *self.sparse_counts.entry(l).or_insert(0) += 1,
            }
        }
        self.recent.push_back((Arc::clone(batch), labels.to_vec()));
        self.recent_rows += batch.len();
        while self.recent.front().is_some_and(|(b, _)| self.recent_rows - b.len() >= SAMPLE_ROWS) {
            if let Some((b, _)) = self.recent.pop_front() {
                self.recent_rows -= b.len();
            }
        }
        // One point per `stride` batches.
        if self.batches.is_multiple_of(self.stride) {
            self.push_point(TimelinePoint { records: self.records, overall: point.0, recent: point.1 });
        }
        // The cluster history thins the same way, to fewer points (each holds centres).
        if self.batches.is_multiple_of(self.cluster_stride) {
            if let Some(c) = centers() {
                if self.clusters.len() == CLUSTER_POINTS {
                    self.clusters = self.clusters.iter().step_by(2).cloned().collect();
                    self.cluster_stride *= 2;
                }
                let point = self.cluster_point(c);
                self.clusters.push(point);
            }
        }
        self.batches += 1;
    }

    /// After [`Tracker::observe`]: a point of a tree model's shape when one is due.
    pub fn observe_trees(&mut self, model: &Model) {
        self.shapes.observe(model, self.records);
    }

    /// A point of the cluster history now, with these centres.
    fn cluster_point(&self, centers: Array2<f64>) -> ClusterPoint {
        let k = centers.nrows();
        let counts = (0..k).map(|i| self.dense_counts.get(i).copied().unwrap_or(0)).collect();
        let centers = if centers.len() <= MAX_CENTRE_VALUES { centers } else { Array2::zeros((k, 0)) };
        ClusterPoint { records: self.records, centers, counts }
    }

    fn label_counts(&self) -> BTreeMap<i64, u64> {
        let mut all = self.sparse_counts.clone();
        for (l, &n) in self.dense_counts.iter().enumerate() {
            if n > 0 {
                all.insert(l as i64, n);
            }
        }
        all
    }

    /// Copy the state of `model` and its scores.
    pub fn snapshot(
        &self,
        name: &str,
        model: &Model,
        classification: &ClassificationMetrics,
        clustering: &ClusteringMetrics,
    ) -> Snapshot {
        let d = self.features.len();
        // The last SAMPLE_ROWS records of the recent batches, oldest first.
        let skip = self.recent_rows.saturating_sub(SAMPLE_ROWS);
        let mut sample = Array2::zeros((self.recent_rows - skip, d));
        let (mut sample_labels, mut sample_truth) = (Vec::new(), Some(Vec::new()));
        let mut at = 0;
        let mut row_index = 0;
        for (batch, labels) in &self.recent {
            for (i, row) in batch.x.outer_iter().enumerate() {
                row_index += 1;
                if row_index <= skip {
                    continue;
                }
                sample.row_mut(at).assign(&row);
                at += 1;
                sample_labels.push(labels[i]);
                match (&mut sample_truth, &batch.y) {
                    (Some(t), Some(y)) => t.push(y[i]),
                    _ => sample_truth = None,
                }
            }
        }
        let mut cluster_timeline = self.clusters.clone();
        let detail = match model {
            Model::Clusterer(m) => {
                let (centers, transforms, model_centers) = Detail::clusterer_of(m, d);
                // The history ends where the model stands now.
                if cluster_timeline.last().is_some_and(|p| p.records < self.records) {
                    cluster_timeline.push(self.cluster_point(centers.clone()));
                }
                Detail::Clusterer {
                    centers,
                    counts: m.counts().to_vec(),
                    inertia: clustering.mean_inertia(),
                    ari: clustering.ari(),
                    transforms,
                    model_centers,
                }
            }
            Model::Classifier(_) => Detail::Classifier {
                accuracy: classification.accuracy(),
                rolling_accuracy: classification.rolling_accuracy(),
                macro_f1: classification.macro_f1(),
                confusion: classification.confusion_matrix(),
                per_class: classification.per_class(),
            },
        };
        Snapshot {
            model: name.to_string(),
            records: self.records,
            features: self.features.clone(),
            // Names arrive with the run's summary: the source owns the label map.
            class_names: None,
            moments: self.moments.clone().unwrap_or_else(|| Moments::new(d)),
            sample,
            sample_labels,
            sample_truth,
            timeline: self.timeline.clone(),
            label_counts: self.label_counts(),
            cluster_timeline,
            trees: TreeSummary::of(model, &self.features, None),
            shape_timeline: self.shapes.points(model, self.records),
            detail,
            drift: None,
            inputs: crate::preprocess::InputSummary::of(model, &self.features),
            delayed: None,
            from_model_file: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_the_last_rows_oldest_first() {
        let mut t = Tracker::new(vec!["i".into()]);
        let mut next = 0.0;
        for size in [1500usize, 1200, 700] {
            let x = Array2::from_shape_fn((size, 1), |(r, _)| next + r as f64);
            let ids: Vec<u64> = (0..size as u64).collect();
            let labels: Vec<i64> = (0..size as i64).map(|r| (next as i64 + r) % 3).collect();
            let batch = Arc::new(Batch { seq: 0, ids, x, y: None, end_offset: 0, ..Batch::default() });
            t.observe(&batch, &labels, (0.0, 0.0), || None);
            next += size as f64;
        }
        let model = Model::from_spec("minibatch-kmeans").expect("valid");
        let snap = t.snapshot("m", &model, &ClassificationMetrics::new(1).expect("valid"), &ClusteringMetrics::new());
        let want: Vec<f64> = (3400 - SAMPLE_ROWS..3400).map(|v| v as f64).collect();
        assert_eq!(snap.sample.column(0).to_vec(), want);
        assert_eq!(snap.sample_labels, want.iter().map(|&v| v as i64 % 3).collect::<Vec<_>>());
        assert_eq!(snap.records, 3400);
        assert_eq!(snap.label_counts.values().sum::<u64>(), 3400);
    }
}
