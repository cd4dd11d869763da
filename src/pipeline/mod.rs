//! Stages as threads joined by bounded channels: source → model(s) → sink(s).
//!
//! ```text
//! source ──Arc<Batch>──▶ model "a" ──labels──▶ sink "a"
//!        └─Arc<Batch>──▶ model "b" ──labels──▶ sink "b"
//! ```
//!
//! Every channel is bounded, so a slow stage makes the ones before it wait and
//! memory stays bounded whatever the length of the stream. Batches are shared
//! (`Arc`) between the models, never copied. The stream ends by disconnection:
//! at the end of input (or when `quit` is set by Ctrl-C) the source drops its
//! senders, each model drains its queue and drops its own, and each sink flushes.
//! A failing stage sets `quit` and drops its channels, so the others stop too;
//! its error, with the stage's name, is what [`run`] returns.
//!
//! [`run_inline`] does the same work on one thread and is the oracle the tests
//! hold [`run`] to: the same labels and the same summary, for the same input.

pub mod delayed;
pub mod pending;
mod stage;
pub mod watch;

use crate::checkpoint::{Checkpoint, CheckpointOptions, ModelCheckpoint};
use crate::error::ModelError;
use crate::metrics::{ClassificationMetrics, ClusteringMetrics};
use crate::model::{Model, NO_PREDICTION};
use crate::model_file::ModelFileError;
use crate::plot::{self, PlotError, PlotFormat};
use crate::record::{Batch, LabelMap};
use crate::sink::LabelSink;
use crate::snapshot::{Snapshot, Tracker};
use crate::source::{Source, SourceError};
use crate::{OnlineClassifier, OnlineClusterer};
use ndarray::ArrayView1;
use serde::Serialize;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

pub use stage::ModelStage;
pub use watch::{DriftSummary, RunEvent, RunEventKind, WatchError, Watched, Watches, MAX_LISTED_EVENTS};

/// When a classifier's label is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prequential {
    /// Each record is predicted, then learned, in order (the default).
    #[default]
    PerRow,
    /// scikit-learn's way: predict the whole batch, then learn it.
    PerBatch,
    /// Predict only: the models learn nothing (`--no-learn`).
    Frozen,
}

/// How to run.
#[derive(Clone)]
pub struct PipelineOptions {
    /// When classifiers label.
    pub prequential: Prequential,
    /// Batches each channel holds before its sender waits.
    pub channel_capacity: usize,
    /// Records in the rolling accuracy window.
    pub window: usize,
    /// Set to stop reading (Ctrl-C, SIGTERM); the stream then drains as at its end.
    pub quit: Arc<AtomicBool>,
    /// Called by the source stage with the number of records of each batch read.
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    /// Called by the plot thread once the input has ended, before each picture it
    /// still draws, with the number left (the run ends when they are drawn).
    pub drawing: Option<Arc<dyn Fn(usize) + Send + Sync>>,
    /// Draw snapshots of every model while the stream runs.
    pub snapshots: Option<SnapshotOptions>,
    /// Keep the state that snapshots and reports need (implied by `snapshots`).
    pub track: bool,
    /// Write checkpoints while the stream runs.
    pub checkpoint: Option<CheckpointOptions>,
    /// Continue from this checkpoint: each model's scores and record count are restored
    /// (the models themselves and the source position are set up by the caller).
    pub resume: Option<Arc<Checkpoint>>,
    /// Watch each model with a copy of this detector (`--drift`): a classifier's
    /// prequential error, a clusterer's distances (see [`watch`]); its warnings and
    /// drifts become [`RunEvent`]s.
    pub drift: Option<Box<dyn crate::drift::Detector>>,
    /// Input columns watched beside each model with copies of `drift` (`--watch`).
    pub watch: Vec<String>,
    /// Watch each clusterer's clusters: centres that move, clusters that vanish or
    /// appear (`--cluster-events`).
    pub cluster_events: Option<crate::drift::ClusterWatchParams>,
}

/// When and where snapshots are drawn.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// The folder for `snapshot-NNNNNN-<model>.<ext>` and `latest-<model>.<ext>`.
    pub dir: std::path::PathBuf,
    /// Draw every this many records (per model).
    pub every_records: Option<u64>,
    /// Draw every this long.
    pub interval: Option<std::time::Duration>,
    /// PNG or SVG.
    pub format: PlotFormat,
    /// The input is live (standard input, a followed file, a Redis or Kafka stream):
    /// when [`SNAPSHOT_QUEUE`] snapshots wait to be drawn, the next is skipped rather
    /// than slow the stream. A finite input waits for the drawing: every requested
    /// picture is drawn.
    pub live: bool,
}

/// Snapshots that wait to be drawn (each a copy of a model's state) before a model
/// waits for the plot thread, or, on a live input, skips.
pub const SNAPSHOT_QUEUE: usize = 8;

/// Snapshots drawn and skipped during a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotStats {
    /// Pictures drawn (each also replaces `latest-<model>`).
    pub drawn: u64,
    /// Snapshots skipped: on a live input, because [`SNAPSHOT_QUEUE`] were waiting to
    /// be drawn; or because a picture could not be written.
    pub skipped: u64,
}

/// Everything a run leaves behind.
#[derive(Debug)]
pub struct RunOutcome {
    /// The summary.
    pub summary: RunSummary,
    /// The models as they ended.
    pub models: Vec<Model>,
    /// Each model's final state, when tracked (`track` or `snapshots`).
    pub snapshots: Vec<Snapshot>,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            prequential: Prequential::PerRow,
            channel_capacity: 4,
            window: 10_000,
            quit: Arc::new(AtomicBool::new(false)),
            progress: None,
            drawing: None,
            snapshots: None,
            track: false,
            checkpoint: None,
            drift: None,
            watch: Vec::new(),
            cluster_events: None,
            resume: None,
        }
    }
}

/// Why a run stopped early.
#[derive(Debug, Error)]
pub enum PipelineError {
    /// The source failed (a bad record, I/O).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A model refused a batch.
    #[error("model {model}: {}", if first == last { format!("record {first}") } else { format!("records {first}..={last}") })]
    Model {
        /// The model's name.
        model: String,
        /// First record id of the batch.
        first: u64,
        /// Last record id of the batch.
        last: u64,
        /// Why.
        #[source]
        error: ModelError,
    },
    /// A classifier was asked to learn from a stream without labels.
    #[error("model {0} is a classifier: it needs a label column (--label-column)")]
    NoLabels(String),
    /// Writing labels failed.
    #[error("writing the labels of {model} to {path}")]
    Sink {
        /// The model's name.
        model: String,
        /// The label file.
        path: String,
        /// What the OS said.
        #[source]
        error: std::io::Error,
    },
    /// Drawing a snapshot failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// Writing a checkpoint failed.
    #[error("writing a checkpoint")]
    Checkpoint(#[source] ModelFileError),
    /// Sharing the model with the group failed.
    #[error(transparent)]
    Sync(#[from] crate::sync::SyncError),
    /// A stage panicked (a bug): the run stopped.
    #[error("the {0} stage panicked")]
    Panic(String),
    /// Delayed labels that do not fit together (a bug: the source joins them).
    #[error("delayed labels: {0}")]
    Delayed(String),
    /// The drift watches of a model could not be set up (`--drift`, `--watch`).
    #[error("model {model}")]
    Watch {
        /// The model.
        model: String,
        /// Why.
        #[source]
        error: WatchError,
    },
}

/// What a run did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    /// Records read and labelled (per model).
    pub records: u64,
    /// Records rejected by the source.
    pub rejected: u64,
    /// Wall time.
    pub seconds: f64,
    /// `records / seconds`.
    pub records_per_second: f64,
    /// True when the run was stopped by `quit` (Ctrl-C) before the end of input.
    pub interrupted: bool,
    /// One entry per model.
    pub models: Vec<ModelSummary>,
    /// Class names by id, when the input's labels were names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// Snapshots drawn and skipped, when snapshots were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<SnapshotStats>,
}

/// One model's results.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelSummary {
    /// The model's name.
    pub model: String,
    /// Where its labels went.
    pub labels: String,
    /// Its scores.
    pub metrics: Metrics,
    /// Its drift detector's counts and first events (`--drift`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftSummary>,
    /// Values its imputer filled, per column that had any (`impute`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imputed: Option<std::collections::BTreeMap<String, u64>>,
    /// Per categorical column its encoder one-hot encodes: categories known, values past the bound.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<crate::preprocess::EncodedColumn>,
    /// Its delayed labels (`--delayed-labels`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delayed: Option<delayed::DelayedSummary>,
}

/// Scores of a model over the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Metrics {
    /// Prequential scores of a classifier.
    Classifier {
        /// Share of records predicted right before being learned.
        accuracy: Option<f64>,
        /// The same over the last `window` records.
        rolling_accuracy: Option<f64>,
        /// Macro-averaged F1.
        macro_f1: Option<f64>,
    },
    /// Scores of a clusterer.
    Clusterer {
        /// Mean squared distance of a record to the centre it was assigned to, in the
        /// units the model works in (see `inertia_units`).
        inertia: Option<f64>,
        /// `input`, or `standardised` when a transformer (such as `scale`) stands in
        /// front of the clusterer, so distances are measured after it.
        inertia_units: &'static str,
        /// Adjusted Rand index against the label column, when there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        ari: Option<f64>,
        /// Records absorbed by each centre.
        counts: Vec<f64>,
    },
}

/// A model with its scores, as a stage holds it.
#[derive(Clone)]
pub(crate) struct Scored {
    pub(crate) name: String,
    pub(crate) model: Model,
    pub(crate) classification: ClassificationMetrics,
    pub(crate) clustering: ClusteringMetrics,
    pub(crate) records: u64,
    tracker: Option<Tracker>,
    every: Option<u64>,
    interval: Option<std::time::Duration>,
    next_at: u64,
    last: Instant,
    /// Rows held until a clusterer has enough to start (a followed stream may
    /// bring fewer rows than centres at first).
    held: Option<Batch>,
    /// What is watched beside the model (`--drift`, `--watch`).
    pub(crate) watches: Option<Watches>,
    /// The input's numeric feature names (the imputer counts by position).
    features: Vec<String>,
    /// Events waiting for their labels (`--delayed-labels`), from the first such batch.
    delayed: Option<delayed::Delayed>,
    /// A group's replica: syncs the model with the other workers' ([`crate::sync`]).
    /// Shared by copies of this state (a service keeps one to roll back), used by one.
    pub(crate) replica: Option<Arc<std::sync::Mutex<crate::sync::Replica>>>,
}

impl Scored {
    pub(crate) fn new(
        name: String,
        model: Model,
        options: &PipelineOptions,
        features: &[String],
    ) -> Result<Self, PipelineError> {
        let watches =
            Watches::new(&model, options.drift.as_deref(), &options.watch, features, options.cluster_events.as_ref())
                .map_err(|error| PipelineError::Watch { model: name.clone(), error })?;
        let snapshots = options.snapshots.as_ref();
        let every = snapshots.and_then(|s| s.every_records).filter(|&n| n > 0);
        Self {
            name,
            model,
            // A zero window is refused by the metrics; the options' default is 10 000.
            classification: ClassificationMetrics::new(options.window.max(1))
                .unwrap_or_else(|_| unreachable!("window >= 1")),
            clustering: ClusteringMetrics::new(),
            records: 0,
            tracker: (options.track || snapshots.is_some()).then(|| Tracker::new(features.to_vec())),
            every,
            interval: snapshots.and_then(|s| s.interval),
            next_at: every.unwrap_or(u64::MAX),
            last: Instant::now(),
            held: None,
            watches,
            features: features.to_vec(),
            delayed: None,
            replica: None,
        }
        .resumed(options)
    }

    /// Restore the scores and the record count this model had at the checkpoint.
    fn resumed(mut self, options: &PipelineOptions) -> Result<Self, PipelineError> {
        let found = options.resume.as_ref().and_then(|c| c.models.iter().find(|m| m.name == self.name));
        if let Some(m) = found {
            self.classification = m.classification.clone();
            self.clustering = m.clustering.clone();
            self.records = m.records;
            self.delayed = m.delayed.clone();
            // The run's settings (--drift, --watch, --cluster-events) are checked against
            // the checkpoint's before this; a checkpoint without watches for a run with
            // them (only a hand-made one) leaves the fresh watches to start afresh.
            if let (Some(now), Some(saved)) = (self.watches.as_ref(), m.watches.as_ref()) {
                let resumed =
                    now.clone().resumed(saved).map_err(|error| PipelineError::Watch { model: m.name.clone(), error });
                self.watches = Some(resumed?);
            }
            // The pictures' timeline goes on from the checkpoint's count, on the same axis
            // as the events' record ids.
            if let Some(t) = self.tracker.as_mut() {
                t.resume_at(m.records);
            }
        }
        Ok(self)
    }

    /// Label `batch` (with any rows held before it) and learn from it. `None` while
    /// a clusterer still holds rows to start with; then the labels come with the
    /// batch they belong to, held rows first, in input order.
    pub(crate) fn accept(
        &mut self,
        batch: Arc<Batch>,
        prequential: Prequential,
    ) -> Result<Option<Labelled>, PipelineError> {
        let need = match &self.model {
            Model::Clusterer(m) => m.rows_to_start(),
            Model::Classifier(_) => 0,
        };
        let batch = match self.held.take() {
            Some(held) => Arc::new(join(held, &batch)),
            None if batch.len() < need => {
                self.held = Some((*batch).clone());
                return Ok(None);
            }
            None => batch,
        };
        if batch.len() < need {
            self.held = Some((*batch).clone());
            return Ok(None);
        }
        let labels = self.step(&batch, prequential)?;
        if let Some(replica) = &self.replica {
            let mut replica = replica.lock().map_err(|_| PipelineError::Panic("replica".into()))?;
            replica.learned(&mut self.model, batch.len() as u64)?;
        }
        Ok(Some((batch, labels)))
    }

    /// At the end of the stream: rows still held mean the clusterer never started.
    pub(crate) fn finish(&mut self) -> Result<(), PipelineError> {
        if let Some(replica) = &self.replica {
            // What was learned since the last sync goes to the group too.
            let mut replica = replica.lock().map_err(|_| PipelineError::Panic("replica".into()))?;
            replica.sync(&mut self.model)?;
        }
        match (self.held.take(), &self.model) {
            (Some(held), Model::Clusterer(m)) => Err(PipelineError::Model {
                model: self.name.clone(),
                first: held.ids.first().copied().unwrap_or(0),
                last: held.ids.last().copied().unwrap_or(0),
                error: ModelError::NotEnoughSamples { rows: held.len(), n_clusters: m.rows_to_start() },
            }),
            _ => Ok(()),
        }
    }

    /// A snapshot, when one is due after the batch just learned. `Err(())` when one
    /// was due but there is no `room` for it (a live input's full queue): skipped.
    pub(crate) fn due_snapshot(&mut self, room: bool) -> Result<Option<Snapshot>, ()> {
        let by_count = self.records >= self.next_at;
        let by_time = self.interval.is_some_and(|t| self.last.elapsed() >= t);
        if !(by_count || by_time) {
            return Ok(None);
        }
        if let Some(n) = self.every {
            while self.next_at <= self.records {
                self.next_at += n;
            }
        }
        self.last = Instant::now();
        if !room {
            return Err(());
        }
        Ok(self.final_snapshot())
    }

    /// The model's part of a checkpoint, or `None` while it holds rows it has not
    /// labelled yet (a clusterer waiting for enough rows to start).
    pub(crate) fn checkpoint_state(&self, labels_path: &str) -> Option<ModelCheckpoint> {
        if self.held.is_some() {
            return None;
        }
        Some(ModelCheckpoint {
            name: self.name.clone(),
            labels_path: labels_path.to_string(),
            labels_len: 0,
            records: self.records,
            model: self.model.clone(),
            classification: self.classification.clone(),
            clustering: self.clustering.clone(),
            watches: self.watches.clone(),
            events_len: 0,
            delayed: self.delayed.clone(),
        })
    }

    /// The state now, when tracked.
    pub(crate) fn final_snapshot(&self) -> Option<Snapshot> {
        let tracker = self.tracker.as_ref()?;
        let mut snap = tracker.snapshot(&self.name, &self.model, &self.classification, &self.clustering);
        snap.drift = self.watches.as_ref().map(Watches::summary);
        snap.delayed = self.delayed.as_ref().map(delayed::Delayed::summary);
        Some(snap)
    }

    /// Label a batch and learn from it; update the scores.
    pub(crate) fn step(&mut self, batch: &Arc<Batch>, prequential: Prequential) -> Result<Vec<i64>, PipelineError> {
        if let Some(roles) = batch.roles.as_deref() {
            return self.step_delayed(batch, roles, prequential);
        }
        let model_error = |error: ModelError| {
            // A row of the batch is a record of the input: name it by its id.
            let row = match &error {
                ModelError::NonFinite { row, .. }
                | ModelError::NegativeFeature { row, .. }
                | ModelError::UnknownLabel { row, .. }
                | ModelError::ReservedLabel { row, .. } => Some(*row),
                _ => None,
            };
            let record = row.and_then(|r| batch.ids.get(r).copied());
            PipelineError::Model {
                model: self.name.clone(),
                first: record.or(batch.ids.first().copied()).unwrap_or(0),
                last: record.or(batch.ids.last().copied()).unwrap_or(0),
                error,
            }
        };
        // A young run's timeline also gets points inside the batch.
        let fine = self.tracker.as_ref().and_then(Tracker::fine_rows);
        let labels = match &mut self.model {
            Model::Classifier(m) if prequential == Prequential::Frozen => {
                let labels = match m.predict_with(batch.x.view(), &batch.cats) {
                    Ok(p) => p.to_vec(),
                    Err(ModelError::NotFitted(_)) => vec![NO_PREDICTION; batch.len()],
                    Err(e) => return Err(model_error(e)),
                };
                // Scored when the input has labels; a frozen model needs none.
                let within = match batch.y.as_deref() {
                    Some(truth) => classification_within(&mut self.classification, truth, &labels, fine),
                    None => Vec::new(),
                };
                let point = (
                    self.classification.accuracy().unwrap_or(0.0),
                    self.classification.rolling_accuracy().unwrap_or(0.0),
                );
                (labels, point, within)
            }
            Model::Classifier(m) => {
                let truth = batch.y.as_deref().ok_or_else(|| PipelineError::NoLabels(self.name.clone()))?;
                let y = ArrayView1::from(truth);
                let labels = match prequential {
                    Prequential::PerRow => m.learn_predict_with(batch.x.view(), &batch.cats, y).map_err(model_error)?,
                    Prequential::PerBatch | Prequential::Frozen => {
                        m.validate(batch.x.view(), y).map_err(model_error)?;
                        let predicted = match m.predict_with(batch.x.view(), &batch.cats) {
                            Ok(p) => p,
                            Err(ModelError::NotFitted(_)) => ndarray::Array1::from_elem(batch.len(), NO_PREDICTION),
                            Err(e) => return Err(model_error(e)),
                        };
                        m.partial_fit_with(batch.x.view(), &batch.cats, y).map_err(model_error)?;
                        predicted
                    }
                };
                // Before any score moves: a caller that keeps a copy of the model alone
                // can undo an overflow.
                if !m.state_is_finite() {
                    return Err(model_error(ModelError::Overflow));
                }
                let labels = labels.to_vec();
                let within = classification_within(&mut self.classification, truth, &labels, fine);
                let point = (
                    self.classification.accuracy().unwrap_or(0.0),
                    self.classification.rolling_accuracy().unwrap_or(0.0),
                );
                (labels, point, within)
            }
            Model::Clusterer(m) if prequential == Prequential::Frozen => {
                let (labels, batch_inertia) =
                    m.predict_with_inertia_with(batch.x.view(), &batch.cats).map_err(model_error)?;
                let labels = labels.to_vec();
                self.clustering.update(batch_inertia, &labels, batch.y.as_deref());
                let point = (self.clustering.mean_inertia().unwrap_or(0.0), batch_inertia / batch.len().max(1) as f64);
                (labels, point, Vec::new())
            }
            Model::Clusterer(m) => {
                let before = m.inertia();
                let scored = (self.clustering.inertia(), self.clustering.count());
                let labels = m.learn_predict_with(batch.x.view(), &batch.cats).map_err(model_error)?.to_vec();
                if !m.state_is_finite() {
                    return Err(model_error(ModelError::Overflow));
                }
                let batch_inertia = m.inertia() - before;
                self.clustering.update(batch_inertia, &labels, batch.y.as_deref());
                let point = (self.clustering.mean_inertia().unwrap_or(0.0), batch_inertia / batch.len().max(1) as f64);
                let within = clustering_within(scored, m.row_inertia().filter(|r| r.len() == labels.len()), fine);
                (labels, point, within)
            }
        };
        let (labels, point, within) = labels;
        if let Some(w) = self.watches.as_mut() {
            w.observe(&self.name, &self.model, batch, &labels)
                .map_err(|error| PipelineError::Watch { model: self.name.clone(), error })?;
        }
        self.records += batch.len() as u64;
        if let Some(t) = self.tracker.as_mut() {
            let model = &self.model;
            t.observe_within(&within);
            t.observe(batch, &labels, point, || model.as_clusterer().and_then(|m| m.centers_in_input_units()));
            t.observe_trees(model);
        }
        Ok(labels)
    }

    /// The events signalled since the last call, in record order.
    pub(crate) fn take_events(&mut self) -> Vec<RunEvent> {
        self.watches.as_mut().map(Watches::take_new).unwrap_or_default()
    }

    pub(crate) fn summary(&self, labels: String) -> ModelSummary {
        let metrics = match &self.model {
            Model::Classifier(_) => Metrics::Classifier {
                accuracy: self.classification.accuracy(),
                rolling_accuracy: self.classification.rolling_accuracy(),
                macro_f1: self.classification.macro_f1(),
            },
            Model::Clusterer(m) => Metrics::Clusterer {
                inertia: self.clustering.mean_inertia(),
                inertia_units: if m.transforms().is_empty() { "input" } else { "standardised" },
                ari: self.clustering.ari(),
                counts: m.counts().to_vec(),
            },
        };
        let drift = self.watches.as_ref().map(Watches::summary);
        let inputs = crate::preprocess::InputSummary::of(&self.model, &self.features);
        let has_imputer = match &self.model {
            Model::Classifier(m) => m.fills_missing(),
            Model::Clusterer(m) => m.fills_missing(),
        };
        let imputed = has_imputer.then_some(inputs.imputed);
        let delayed = self.delayed.as_ref().map(delayed::Delayed::summary);
        ModelSummary {
            model: self.name.clone(),
            labels,
            metrics,
            drift,
            imputed,
            categories: inputs.categories,
            delayed,
        }
    }
}

/// When checkpoints are due: every `every_records` records and/or every `interval`.
/// One clock serves the threaded run's source stage and the inline run alike.
pub(crate) struct CheckpointClock {
    every: u64,
    interval: Option<std::time::Duration>,
    next_at: u64,
    last: Instant,
}

impl CheckpointClock {
    /// A clock for the run's checkpoint options, `None` without checkpoints.
    pub(crate) fn new(options: &PipelineOptions) -> Option<Self> {
        let c = options.checkpoint.as_ref()?;
        let every = c.every_records.max(1);
        Some(Self { every, interval: c.interval, next_at: every, last: Instant::now() })
    }

    /// True when a checkpoint is due now that `records` have been read.
    pub(crate) fn due(&mut self, records: u64) -> bool {
        let by_time = self.interval.is_some_and(|t| self.last.elapsed() >= t);
        if records < self.next_at && !by_time {
            return false;
        }
        while self.next_at <= records {
            self.next_at += self.every;
        }
        self.last = Instant::now();
        true
    }
}

/// Records a resumed run had already read and labelled before its checkpoint.
pub(crate) fn resumed_records(options: &PipelineOptions) -> u64 {
    options.resume.as_ref().map_or(0, |c| c.position.records - c.position.rejected)
}

/// Hand a model's new events to its events file (dropped without one: the summary
/// still counts and lists them).
pub(crate) fn write_events(
    scored: &mut Scored,
    out: Option<&mut crate::sink::EventsFile>,
) -> Result<(), PipelineError> {
    let events = scored.take_events();
    if let Some(out) = out {
        for e in &events {
            let written = out.write(e);
            events_error(&scored.name, out, written)?;
        }
    }
    Ok(())
}

/// An events file's I/O error as the pipeline reports it.
pub(crate) fn events_error<T>(
    model: &str,
    out: &crate::sink::EventsFile,
    result: std::io::Result<T>,
) -> Result<T, PipelineError> {
    result.map_err(|error| PipelineError::Sink { model: model.to_string(), path: out.path().to_string(), error })
}

/// Labels of one batch, on their way to the sink.
pub(crate) type Labelled = (Arc<Batch>, Vec<i64>);

/// `a` followed by `b`, as one batch.
fn join(a: Batch, b: &Batch) -> Batch {
    let x = ndarray::concatenate(ndarray::Axis(0), &[a.x.view(), b.x.view()])
        .unwrap_or_else(|_| unreachable!("batches of one stream have the same width"));
    let y = match (a.y, &b.y) {
        (Some(mut ya), Some(yb)) => {
            ya.extend_from_slice(yb);
            Some(ya)
        }
        _ => None,
    };
    let mut ids = a.ids;
    ids.extend_from_slice(&b.ids);
    let mut cats = a.cats;
    if cats.append(&b.cats).is_err() {
        unreachable!("batches of one stream have the same categorical columns");
    }
    let keys = match (a.keys, &b.keys) {
        (Some(mut ka), Some(kb)) => {
            ka.extend_from_slice(kb);
            Some(ka)
        }
        _ => None,
    };
    Batch { seq: a.seq, ids, x, y, cats, end_offset: b.end_offset, roles: None, keys }
}

/// Run the stream through every model on its own thread. See the module documentation.
pub fn run(
    source: Box<dyn Source>,
    stages: Vec<ModelStage>,
    options: &PipelineOptions,
) -> Result<RunOutcome, PipelineError> {
    stage::run_threads(source, stages, options)
}

/// Draw `snapshot` as picture number `n` of its model, and make it the latest; a tree
/// model's tree (`latest-<model>-tree`) and forest (`latest-<model>-forest`) beside it.
pub(crate) fn publish(options: &SnapshotOptions, n: u64, snapshot: &Snapshot) -> Result<(), PlotError> {
    let ext = options.format.extension();
    let numbered = options.dir.join(format!("snapshot-{n:06}-{}.{ext}", snapshot.model));
    plot::render(snapshot, &numbered, options.format)?;
    let latest = options.dir.join(format!("latest-{}.{ext}", snapshot.model));
    let tmp = options.dir.join(format!(".latest-{}.tmp.{ext}", snapshot.model));
    let io = |error| PlotError::Io { path: latest.clone(), error };
    std::fs::copy(&numbered, &tmp).map_err(io)?;
    std::fs::rename(&tmp, &latest).map_err(io)?;
    // A tree model's trees: the latest only (each is drawn under a temporary name and
    // renamed); the shape's history is in the picture.
    if let Some(t) = &snapshot.trees {
        plot::render_tree(
            snapshot,
            &options.dir.join(format!("latest-{}-tree.{ext}", snapshot.model)),
            options.format,
        )?;
        if t.forest.is_some() {
            let forest = options.dir.join(format!("latest-{}-forest.{ext}", snapshot.model));
            plot::render_forest(snapshot, &forest, options.format)?;
        }
    }
    Ok(())
}

/// The same as [`run`], on the calling thread: the oracle for tests.
pub fn run_inline(
    mut source: Box<dyn Source>,
    stages: Vec<ModelStage>,
    options: &PipelineOptions,
) -> Result<RunOutcome, PipelineError> {
    let start = Instant::now();
    let features = source.feature_names().to_vec();
    let mut running: Vec<(Scored, Box<dyn LabelSink>, String)> = Vec::new();
    let mut events: Vec<Option<crate::sink::EventsFile>> = Vec::new();
    for s in stages {
        let mut scored = Scored::new(s.name, s.model, options, &features)?;
        scored.replica = s.replica.map(|r| Arc::new(std::sync::Mutex::new(r)));
        running.push((scored, s.sink, s.labels_path));
        events.push(s.events);
    }
    let mut pictures = Pictures::default();
    let mut clock = CheckpointClock::new(options);
    let mut records = 0;
    let outcome = (|| {
        while let Some(batch) = source.next_batch()? {
            records += batch.len() as u64;
            if let Some(p) = &options.progress {
                p(batch.len() as u64);
            }
            let batch = Arc::new(batch);
            for ((scored, sink, path), events) in running.iter_mut().zip(events.iter_mut()) {
                let Some(labelled) = scored.accept(Arc::clone(&batch), options.prequential)? else { continue };
                write_events(scored, events.as_mut())?;
                let keys = labelled.0.keys.as_deref().filter(|_| labelled.0.roles.is_none());
                sink.write_keyed(&delayed::labelled_ids(&labelled), keys, &labelled.1)
                    .map_err(|error| PipelineError::Sink { model: scored.name.clone(), path: path.clone(), error })?;
                match (scored.due_snapshot(true), options.snapshots.as_ref()) {
                    (Ok(Some(mut snap)), Some(opts)) => {
                        snap.class_names = class_names(source.as_ref());
                        pictures.draw(opts, &snap)
                    }
                    (Err(()), _) => pictures.stats.skipped += 1,
                    _ => {}
                }
            }
            let due = clock.as_mut().is_some_and(|c| c.due(records));
            if let Some(opts) = options.checkpoint.as_ref().filter(|_| due) {
                let mut models = Vec::new();
                for ((scored, sink, path), events) in running.iter_mut().zip(events.iter_mut()) {
                    let Some(mut state) = scored.checkpoint_state(path) else { break };
                    if let Some(out) = events.as_mut() {
                        let synced = out.sync();
                        state.events_len = events_error(&scored.name, out, synced)?;
                    }
                    state.labels_len = sink.sync().map_err(|error| PipelineError::Sink {
                        model: scored.name.clone(),
                        path: path.clone(),
                        error,
                    })?;
                    models.push(state);
                }
                if models.len() == running.len() {
                    source.sync()?;
                    let checkpoint =
                        crate::checkpoint::Checkpoint { settings: Vec::new(), position: source.position(), models };
                    crate::checkpoint::write(opts, &checkpoint).map_err(PipelineError::Checkpoint)?;
                }
            }
        }
        for (scored, _, _) in running.iter_mut() {
            scored.finish()?;
        }
        Ok::<(), PipelineError>(())
    })();
    let mut finished = Ok(());
    for (out, (scored, _, _)) in events.iter_mut().zip(&running) {
        if let Some(out) = out {
            let done = out.finish();
            if let Err(e) = events_error(&scored.name, out, done) {
                finished = Err(e);
            }
        }
    }
    for (scored, sink, path) in running.iter_mut() {
        if let Err(error) = sink.finish() {
            finished = Err(PipelineError::Sink { model: scored.name.clone(), path: path.clone(), error });
        }
    }
    outcome?;
    finished?;
    let classes = class_names(source.as_ref());
    let snapshots = finish_snapshots(running.iter().map(|(s, _, _)| s), options, &classes, &mut pictures);
    let seconds = start.elapsed().as_secs_f64();
    let summary = RunSummary {
        records: records + resumed_records(options),
        rejected: source.rejected(),
        seconds,
        records_per_second: records as f64 / seconds.max(1e-9),
        interrupted: options.quit.load(std::sync::atomic::Ordering::Relaxed),
        models: running.iter().map(|(s, _, path)| s.summary(path.clone())).collect(),
        classes,
        snapshots: options.snapshots.as_ref().map(|_| pictures.stats),
    };
    Ok(RunOutcome { summary, models: running.into_iter().map(|(s, _, _)| s.model).collect(), snapshots })
}

/// The pictures of a run: each model's numbering, and what was drawn and skipped.
#[derive(Default)]
pub(crate) struct Pictures {
    numbers: std::collections::HashMap<String, u64>,
    pub(crate) stats: SnapshotStats,
    warned: bool,
}

impl Pictures {
    /// Draw `snap` as its model's next numbered picture and the latest one. A picture
    /// that cannot be written (disk full, folder gone) is reported once and counted as
    /// skipped: pictures never stop or fail a run.
    pub(crate) fn draw(&mut self, options: &SnapshotOptions, snap: &Snapshot) {
        let n = self.numbers.get(&snap.model).copied().unwrap_or(0) + 1;
        match publish(options, n, snap) {
            Ok(()) => {
                self.numbers.insert(snap.model.clone(), n);
                self.stats.drawn += 1;
            }
            Err(e) => {
                self.stats.skipped += 1;
                if !self.warned {
                    eprintln!("eddy: warning: snapshot not drawn: {e}");
                    self.warned = true;
                }
            }
        }
    }
}

/// The source's class names so far, when its labels are names.
pub(crate) fn class_names(source: &dyn Source) -> Option<Vec<String>> {
    source.label_map().and_then(LabelMap::class_names)
}

/// Each model's final snapshot, named with the run's classes, drawn when snapshots are on.
pub(crate) fn finish_snapshots<'a>(
    scored: impl Iterator<Item = &'a Scored>,
    options: &PipelineOptions,
    classes: &Option<Vec<String>>,
    pictures: &mut Pictures,
) -> Vec<Snapshot> {
    let mut out = Vec::new();
    for s in scored {
        let Some(mut snap) = s.final_snapshot() else { continue };
        snap.class_names = classes.clone();
        if snap.trees.is_some() {
            // The text names the classes, now that the source has named them all.
            snap.trees = crate::snapshot::TreeSummary::of(&s.model, &snap.features, classes.as_deref());
        }
        if let Some(opts) = &options.snapshots {
            pictures.draw(opts, &snap);
        }
        out.push(snap);
    }
    out
}

/// Scores `labels` against `truth` in runs of `step` rows (all at once without a step),
/// giving the scores after each run but the last: a young run's points inside a batch.
/// Scoring in runs is scoring row by row, so the metrics end as they would anyway.
fn classification_within(
    metrics: &mut ClassificationMetrics,
    truth: &[i64],
    labels: &[i64],
    step: Option<usize>,
) -> Vec<(usize, (f64, f64))> {
    let n = truth.len().min(labels.len());
    let step = step.unwrap_or(n).max(1);
    let mut points = Vec::new();
    let mut at = 0;
    while at < n {
        let end = at.saturating_add(step).min(n);
        metrics.update(&truth[at..end], &labels[at..end]);
        if end < n {
            points.push((end, (metrics.accuracy().unwrap_or(0.0), metrics.rolling_accuracy().unwrap_or(0.0))));
        }
        at = end;
    }
    points
}

/// A clusterer's scores every `step` rows inside a batch but at its end, from each row's
/// inertia (`rows`) and the inertia and records scored before the batch (`before`):
/// the mean inertia since the start and over the batch so far.
fn clustering_within(before: (f64, u64), rows: Option<&[f64]>, step: Option<usize>) -> Vec<(usize, (f64, f64))> {
    let (Some(rows), Some(step)) = (rows, step) else { return Vec::new() };
    let (mut total, mut batch) = (before.0, 0.0);
    let mut points = Vec::new();
    for (i, &d) in rows.iter().enumerate() {
        total += d;
        batch += d;
        let done = i + 1;
        if done % step.max(1) == 0 && done < rows.len() {
            points.push((done, (total / (before.1 + done as u64) as f64, batch / done as f64)));
        }
    }
    points
}
