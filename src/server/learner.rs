//! The learner: one thread owns the model and learns, in the order requests
//! arrive, through the same predict-then-learn step as `eddy run`
//! (the pipeline's model stage). After each batch it publishes an immutable
//! copy of the model, which predictions read without ever waiting for it.
//!
//! Checkpoints are jobs in the same queue, so a checkpoint holds exactly the
//! batches learned before it: none half-learned, none counted twice.

use super::body::{Columns, Label, Records};
use super::feedback::{FeedbackAnswer, Pending, PendingInfo, PENDING_KIND};
use super::learn_log::{Entry, LearnLog};
use super::metrics::Metrics;
use super::{ApiError, ServerError};
use crate::error::ModelError;
use crate::model::Model;
use crate::model_file::{self, Header, Keys};
use crate::pipeline::{Metrics as Scores, PipelineError, PipelineOptions, Prequential, RunEvent, Scored};
use crate::record::{Batch, Categories, Interner, LabelMap};
use crate::snapshot::Snapshot;
use crate::OnlineClassifier;
use arc_swap::ArcSwap;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// What the service tells about its model (`GET /v1/model`).
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// The estimator's registry name (`sgd`, `minibatch-kmeans`, ...).
    pub kind: String,
    /// The whole model in the model language, e.g. `scale | sgd(loss=log_loss)`.
    pub spec: String,
    /// Numeric feature names, in order.
    pub features: Vec<String>,
    /// Each categorical feature, in order (after the numeric ones in a positional
    /// record), with the categories the model knows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categorical: Vec<CategoricalColumn>,
    /// True when the model fills missing values (it starts with `impute`): records may
    /// have them. Otherwise a record with one is refused.
    pub fills_missing: bool,
    /// Values the imputer filled, per column that had any, since the model's start
    /// (`null` without an imputer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imputed: Option<std::collections::BTreeMap<String, u64>>,
    /// Class ids a classifier knows (centre ids for a clusterer).
    pub classes: Vec<i64>,
    /// Class names by id, when the classes have names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
    /// Records the model has learned, over its whole life (checkpoints keep it).
    pub records_seen: u64,
    /// Records learned since the service started.
    pub learned_since_start: u64,
    /// Prequential scores of the records the service learned, carried across restarts
    /// by `--checkpoint` (and since the start without it).
    pub metrics: Scores,
    /// The last checkpoint written, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_checkpoint: Option<Saved>,
    /// The drift detector on the model's errors (`--drift`) and its counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftCounts>,
}

/// A categorical feature of the served model, in `/v1/model`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoricalColumn {
    /// The feature's name.
    pub name: String,
    /// The categories the model's encoder knows, in the order it met them; `null` for
    /// a hashed column (`hash` keeps no list: every value has its bucket).
    pub categories: Option<Vec<String>>,
    /// True when `hash` encodes the column.
    pub hashed: bool,
    /// Values past `max_categories`, which share the `other` column (`onehot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<u64>,
}

/// What watches the model and its counts, in `/v1/model`.
#[derive(Debug, Clone, Serialize)]
pub struct DriftCounts {
    /// The detector, in the spec language (`--drift`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    /// Warning events (one per warning zone).
    pub warnings: u64,
    /// Drift events.
    pub drifts: u64,
    /// The cluster watch, in the spec language (`--cluster-events`, clusterers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clusters: Option<String>,
    /// Its events by kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_events: Option<crate::drift::ClusterEventCounts>,
}

/// A written checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    /// The file.
    pub path: PathBuf,
    /// Records the saved model had learned.
    pub records_seen: u64,
    /// Whether it is signed.
    pub signed: bool,
    /// When, seconds since the Unix epoch.
    pub created: u64,
}

/// A first feature that makes a debug build panic in the learner, when the
/// environment has `EDDY_FAULTS=1`: how the tests show that a panic is contained.
pub(crate) const PANIC_IN_LEARN: f64 = -7777.25;
/// The same, in the predict handler.
pub(crate) const PANIC_IN_PREDICT: f64 = -8888.25;

/// Panic on purpose if this is a debug build run with `EDDY_FAULTS=1` and the batch's
/// first value is `marker`. Compiled out of release builds.
pub(crate) fn injected_fault(x: &ndarray::Array2<f64>, marker: f64) {
    #[cfg(debug_assertions)]
    {
        static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let on = *ON.get_or_init(|| std::env::var("EDDY_FAULTS").is_ok_and(|v| v == "1"));
        if on && x.first() == Some(&marker) {
            panic!("EDDY_FAULTS: a fault injected on purpose");
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = (x, marker);
}

/// What predictions read: the model as of the last batch learned.
pub struct Live {
    /// The model.
    pub model: Model,
    /// Its description.
    pub info: ModelInfo,
    /// The latest drift events, oldest first.
    pub events: Vec<RunEvent>,
    /// The columns of its records, as bodies are decoded.
    pub columns: Arc<Columns>,
}

/// A learn job's answer: the prequential labels and the records seen after the batch.
pub type Learned = (Vec<i64>, u64);

/// Where a learn job's answer goes.
type Reply = oneshot::Sender<Result<Learned, ApiError>>;

/// Work for the learner.
pub enum Job {
    /// Learn a batch; answer with its prequential labels.
    Learn {
        /// The batch.
        records: Records,
        /// Where the answer goes.
        reply: Reply,
    },
    /// Keep records predicted with ids until their labels come (`POST /v1/predict`
    /// with `"ids"`).
    Pend {
        /// One per record.
        ids: Vec<String>,
        /// The records.
        x: ndarray::Array2<f64>,
        /// Their categorical values.
        cats: Categories,
        /// The labels the live model gave them (what the caller was answered).
        predictions: Vec<i64>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<(), ApiError>>,
    },
    /// Labels for records kept by `Pend` (`POST /v1/feedback`).
    Feedback {
        /// The records' ids.
        ids: Vec<String>,
        /// One per id.
        labels: Vec<Label>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<FeedbackAnswer, ApiError>>,
    },
    /// Anything else.
    Control(Control),
}

/// Work for the learner other than learning.
pub enum Control {
    /// Save the model (skipped, with `Ok(None)`, when `only_if_changed` and nothing was learned since the last).
    Checkpoint {
        /// Skip when nothing changed (the periodic and the final checkpoint).
        only_if_changed: bool,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Option<Saved>, ApiError>>,
    },
    /// The state to draw.
    Snapshot {
        /// Where the answer goes.
        reply: oneshot::Sender<Option<Snapshot>>,
    },
    /// Serve this model from now on: a new version of a group's shared model
    /// (`--follow-model`).
    Replace(Box<Model>),
}

/// The longest class name, in characters, a learn call may bring (names are kept for
/// good). Characters, not bytes: the service's OpenAPI document can state that bound.
pub(super) const MAX_NAME_CHARS: usize = 256;

/// The class id of `label` in `labels` (a new name added), or why it is refused.
pub(super) fn label_id(labels: &mut LabelMap, label: &Label) -> Result<i64, String> {
    match label {
        Label::Id(id) => labels.integer(*id),
        Label::Name(name) if name.chars().count() > MAX_NAME_CHARS => {
            Err(format!("a class name is longer than {MAX_NAME_CHARS} characters"))
        }
        Label::Name(name) => labels.id(name),
    }
}

/// The answer to learning from a service that follows a group's shared model.
fn following() -> ApiError {
    ApiError::conflict(
        "this service follows a group's shared model (--follow-model): the group's workers learn, and each \
         version they publish is served"
            .into(),
    )
}

/// Learn jobs answered after one sync of the learn log, at most.
const GROUP: usize = 256;

/// A learn log longer than this triggers a checkpoint (which empties it), so the log
/// and the time to learn it again at start stay bounded even without
/// `--checkpoint-interval`.
const LOG_CHECKPOINT_BYTES: u64 = 64 << 20;

/// The learner's state before a group of batches, to undo the group when the learn log
/// cannot be written.
struct Undo {
    scored: Scored,
    labels: LabelMap,
    truth_labels: std::collections::HashSet<i64>,
}

/// The body kind of the scores saved beside a checkpoint.
const SCORES_KIND: &str = "service-scores";

/// The prequential scores saved beside a checkpoint, so that `/v1/model` and
/// `/metrics` go on from where they were after a restart.
#[derive(Serialize, serde::Deserialize)]
struct SavedScores {
    classification: crate::metrics::ClassificationMetrics,
    clustering: crate::metrics::ClusteringMetrics,
    truth_labels: Vec<i64>,
    /// The drift watch and the latest events.
    #[serde(default)]
    watches: Option<crate::pipeline::Watches>,
    events: Vec<RunEvent>,
}

/// The scores file that goes with a checkpoint file.
pub fn scores_path_for(checkpoint: &Path) -> PathBuf {
    beside(checkpoint, ".scores")
}

/// The pending records file that goes with a checkpoint file. (A file of its own, not a
/// field of the scores: scores files written before delayed labels keep loading, and a
/// store of many records is read and checked apart.)
pub fn pending_path_for(checkpoint: &Path) -> PathBuf {
    beside(checkpoint, ".pending")
}

fn beside(checkpoint: &Path, suffix: &str) -> PathBuf {
    let mut name = checkpoint.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    checkpoint.with_file_name(name)
}

/// Where checkpoints go.
#[derive(Debug, Clone)]
pub struct CheckpointTarget {
    /// The model file to write (atomically replaced).
    pub path: PathBuf,
    /// Sign and/or encrypt with these.
    pub keys: Keys,
}

/// The learner's state.
pub struct Learner {
    scored: Scored,
    labels: LabelMap,
    features: Vec<String>,
    /// The record columns (numeric features, categorical ones, missing values).
    columns: Arc<Columns>,
    /// Shares the categorical values of replayed and pending records.
    interner: Interner,
    prequential: Prequential,
    start_records: u64,
    /// Serving a group's shared model (`--follow-model`): it changes by new versions
    /// only, so learning and feedback are refused.
    following: bool,
    saved_records: u64,
    last_saved: Option<Saved>,
    target: Option<CheckpointTarget>,
    log: Option<LearnLog>,
    live: Arc<ArcSwap<Live>>,
    metrics: Arc<Metrics>,
    max_classes: usize,
    /// Distinct true labels a clusterer was given (for its ARI), bounded by `max_classes`.
    truth_labels: std::collections::HashSet<i64>,
    /// The latest drift events (`--drift`), at most [`MAX_EVENTS`].
    events: std::collections::VecDeque<RunEvent>,
    /// Records predicted with ids, waiting for their labels.
    pending: Pending,
    /// What `/v1/model` shows of them, published apart from the model (which is not
    /// copied for a prediction that only adds pending records).
    pending_view: Arc<ArcSwap<PendingInfo>>,
}

/// Drift events `GET /v1/events` keeps: the latest.
pub const MAX_EVENTS: usize = 1000;

impl Learner {
    /// A learner for `model` as loaded with `header`; publishes into the returned `ArcSwap`.
    pub fn new(
        model: Model,
        header: &Header,
        serve: &super::ServeOptions,
        target: Option<CheckpointTarget>,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, Arc<ArcSwap<Live>>), ServerError> {
        let (prequential, max_classes) = (serve.prequential, serve.max_classes);
        let options = PipelineOptions {
            prequential,
            window: serve.window,
            track: true,
            drift: serve.drift.clone(),
            cluster_events: serve.cluster_events,
            ..PipelineOptions::default()
        };
        // Before anything is served: the model encodes every categorical column, as
        // `eddy run` checks before any output. (A model file without categorical columns
        // is served as before: an encoder in it has nothing to encode and passes the
        // numbers through, as `eddy model new 'onehot | ...'` makes them.)
        if !header.categorical.is_empty() {
            let checked = match &model {
                Model::Classifier(m) => m.check_categorical(&header.categorical),
                Model::Clusterer(m) => m.check_categorical(&header.categorical),
            };
            checked.map_err(|reason| ServerError::Categorical { columns: header.categorical.clone(), reason })?;
        }
        let fills_missing = match &model {
            Model::Classifier(m) => m.fills_missing(),
            Model::Clusterer(m) => m.fills_missing(),
        };
        let columns = Arc::new(Columns {
            features: header.features.clone(),
            categorical: header.categorical.clone(),
            missing: fills_missing,
        });
        let mut scored = Scored::new(model.estimator().to_string(), model, &options, &header.features)
            .map_err(ServerError::Watch)?;
        scored.records = header.records_seen;
        let labels = match (&header.classes, header.records_seen) {
            // An untrained model without declared classes: the first label decides
            // whether labels are integers or names, as in `eddy run`.
            (None, 0) => LabelMap::discover(),
            (names, _) => LabelMap::resume(names.as_deref()),
        };
        let pending = Pending::new(serve.max_pending, serve.label_ttl)
            .map_err(|e| ServerError::Settings(format!("delayed labels: {e}")))?;
        let pending_view = Arc::new(ArcSwap::from_pointee(pending.info()));
        let placeholder = Live {
            model: scored.model.clone(),
            info: placeholder_info(),
            events: Vec::new(),
            columns: Arc::clone(&columns),
        };
        let live = Arc::new(ArcSwap::from_pointee(placeholder));
        let learner = Self {
            scored,
            labels,
            features: header.features.clone(),
            interner: Interner::new(columns.categorical.len()),
            columns,
            prequential,
            start_records: header.records_seen,
            following: serve.follow.is_some(),
            saved_records: header.records_seen,
            last_saved: None,
            target,
            log: None,
            live: Arc::clone(&live),
            metrics,
            max_classes,
            truth_labels: std::collections::HashSet::new(),
            events: std::collections::VecDeque::new(),
            pending,
            pending_view,
        };
        learner.publish();
        learner.publish_pending();
        Ok((learner, live))
    }

    /// Take up the prequential scores saved with the checkpoint at `checkpoint`, when
    /// they belong to the model being served (the same record count). Returns whether
    /// they were taken.
    pub fn restore_scores(&mut self, checkpoint: &Path, keys: &Keys) -> Result<bool, ServerError> {
        let path = scores_path_for(checkpoint);
        if !path.exists() {
            return Ok(false);
        }
        let (header, scores): (Header, SavedScores) = model_file::load(&path, SCORES_KIND, keys)?;
        if header.records_seen != self.scored.records {
            eprintln!(
                "eddy serve: {}: scores of {} records, the model has {}: scores start over",
                path.display(),
                header.records_seen,
                self.scored.records
            );
            return Ok(false);
        }
        self.scored.classification = scores.classification;
        self.scored.clustering = scores.clustering;
        self.truth_labels = scores.truth_labels.into_iter().collect();
        // The watch goes on only if it is the one asked for (same detector); otherwise,
        // or when the scores were saved without one, the fresh watch starts.
        if let (Some(now), Some(saved)) = (self.scored.watches.as_ref(), scores.watches) {
            if let Ok(w) = now.clone().resumed(&saved) {
                self.scored.watches = Some(w);
                self.events = scores.events.into_iter().rev().take(MAX_EVENTS).rev().collect();
            }
        }
        self.publish();
        Ok(true)
    }

    /// What `/v1/model` shows of the pending records, as the learner publishes it.
    pub fn pending_view(&self) -> Arc<ArcSwap<PendingInfo>> {
        Arc::clone(&self.pending_view)
    }

    /// Take up the pending records saved with the checkpoint at `checkpoint`, when they
    /// belong to the model as it is now (after its learn log: the same record count).
    /// Returns how many records wait. Refused when the checkpoint's store was set up
    /// with other `--max-pending`/`--label-ttl` (its answers would differ), or is damaged.
    pub fn restore_pending(&mut self, checkpoint: &Path, keys: &Keys) -> Result<Option<u64>, ServerError> {
        let path = pending_path_for(checkpoint);
        if !path.exists() {
            return Ok(None);
        }
        let (header, saved) = super::feedback::load_pending(&path, keys)?;
        if header.records_seen != self.scored.records {
            // Saved before a crash, and the learn log holds records learned since: some of
            // its records may have been learned already. Nothing is learned twice.
            eprintln!(
                "eddy serve: {}: pending records of a model of {} records, the model has {}: they are dropped",
                path.display(),
                header.records_seen,
                self.scored.records
            );
            return Ok(None);
        }
        self.pending.restore(saved, self.features.len(), self.columns.categorical.len(), self.columns.missing).map_err(|reason| {
            ServerError::Settings(format!(
                "{}: {reason} (start with the same --max-pending and --label-ttl, or remove the file to drop its records)",
                path.display()
            ))
        })?;
        self.publish_pending();
        Ok(Some(self.pending.info().pending))
    }

    /// Open the learn log at `path` and learn again every batch it holds past the
    /// model's record count. Returns the batches and records learned again.
    pub fn open_log(&mut self, path: &Path, keys: &Keys) -> Result<(u64, u64), ServerError> {
        let columns = Arc::clone(&self.columns);
        let (mut batches, mut records) = (0, 0);
        let log = LearnLog::open(path, keys, &columns.features, &columns.categorical, |entry| {
            let n = entry.x.nrows() as u64;
            if self.replay(entry)? {
                batches += 1;
                records += n;
            }
            Ok(())
        })?;
        self.log = Some(log);
        self.start_records = self.scored.records;
        self.collect_events();
        self.publish();
        Ok((batches, records))
    }

    /// The model as learned so far.
    pub fn into_model(self) -> Model {
        self.scored.model
    }

    /// Learn a logged batch again; `Ok(false)` when the model already holds it.
    fn replay(&mut self, entry: Entry) -> Result<bool, String> {
        let records = self.scored.records;
        if entry.first < records {
            return Ok(false);
        }
        if entry.first > records {
            return Err(format!(
                "it starts at record {}, but the model has learned {records}: the log is not this model's",
                entry.first
            ));
        }
        let n = entry.x.nrows() as u64;
        let cats = self.categories(entry.cats.iter().map(Option::as_deref), entry.x.nrows())?;
        let batch = Batch {
            seq: 0,
            ids: (records..records + n).collect(),
            x: entry.x,
            y: entry.y,
            cats,
            end_offset: 0,
            ..Batch::default()
        };
        self.scored.step(&Arc::new(batch.clone()), self.prequential).map_err(|e| e.to_string())?;
        if let (Model::Clusterer(_), Some(y)) = (&self.scored.model, &batch.y) {
            self.truth_labels.extend(y.iter().copied());
        }
        if let Some(labels) = entry.labels {
            self.labels = labels;
        }
        Ok(true)
    }

    /// The categorical values `values` (row-major, `rows` records) as a batch carries
    /// them, shared through the learner's interner.
    fn categories<'v>(
        &mut self,
        values: impl Iterator<Item = Option<&'v str>>,
        rows: usize,
    ) -> Result<Categories, String> {
        let width = self.columns.categorical.len();
        if width == 0 {
            return Ok(Categories::default());
        }
        let values = values.enumerate().map(|(i, v)| v.map(|text| self.interner.get(i % width, text))).collect();
        Categories::new(Arc::from(self.columns.categorical.as_slice()), values, rows)
    }

    /// Serve jobs until every sender is gone.
    ///
    /// Learn jobs waiting in the queue are taken together: each is learned, then the
    /// learn log is synced once for all of them, and only then are they published to
    /// predictions and answered. If the log cannot be written, the whole group is
    /// undone and answered with an error: nothing is learned that a crash would lose.
    pub fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        let mut group = Vec::new();
        // The state before the group, to undo it if the log cannot be written.
        let mut before: Option<Undo> = None;
        while let Some(job) = jobs.blocking_recv() {
            let mut next = Some(job);
            while let Some(job) = next.take() {
                match job {
                    // The caller has gone (hung up, or timed out before the learner got
                    // here): the batch is neither learned nor answered.
                    Job::Learn { reply, .. } if reply.is_closed() => {}
                    Job::Learn { reply, .. } if self.following => {
                        let _ = reply.send(Err(following()));
                    }
                    Job::Learn { records, reply } => {
                        if before.is_none() && self.log.is_some() {
                            before = Some(Undo {
                                scored: self.scored.clone(),
                                labels: self.labels.clone(),
                                truth_labels: self.truth_labels.clone(),
                            });
                        }
                        let answer = self.learn_contained(records);
                        group.push((reply, answer));
                    }
                    Job::Pend { reply, .. } if reply.is_closed() => {}
                    Job::Pend { reply, .. } if self.following => {
                        let _ = reply.send(Err(following()));
                    }
                    Job::Pend { ids, x, cats, predictions, reply } => {
                        self.commit(&mut group, before.take());
                        let answer = self.pending.add(&ids, &x, &cats, &predictions);
                        self.publish_pending();
                        let _ = reply.send(answer);
                    }
                    Job::Feedback { reply, .. } if reply.is_closed() => {}
                    Job::Feedback { reply, .. } if self.following => {
                        let _ = reply.send(Err(following()));
                    }
                    Job::Feedback { ids, labels, reply } => {
                        self.commit(&mut group, before.take());
                        let answer = self.feedback(ids, labels);
                        let _ = reply.send(answer);
                    }
                    Job::Control(control) => {
                        self.commit(&mut group, before.take());
                        // A panic while checkpointing or drawing drops the reply (the
                        // caller gets 503) but not the learner.
                        let contained =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.control(control)));
                        if contained.is_err() {
                            eprintln!(
                                "eddy serve: a checkpoint or snapshot failed inside eddy (a bug); the learner goes on"
                            );
                        }
                    }
                }
                if group.len() < GROUP {
                    next = jobs.try_recv().ok();
                }
            }
            self.commit(&mut group, before.take());
        }
    }

    /// Sync the learn log, publish, then answer the group.
    fn commit(&mut self, group: &mut Vec<(Reply, Result<Learned, ApiError>)>, before: Option<Undo>) {
        if group.is_empty() {
            return;
        }
        let synced = self.log.as_mut().map_or(Ok(()), LearnLog::commit);
        if let Err(e) = &synced {
            if let Some(undo) = before {
                self.scored = undo.scored;
                self.labels = undo.labels;
                self.truth_labels = undo.truth_labels;
            }
            eprintln!("eddy serve: writing the learn log failed, {} learn calls undone: {e}", group.len());
        }
        let answers: Vec<(Reply, Result<Learned, ApiError>)> = group
            .drain(..)
            .map(|(reply, answer)| match (&synced, answer) {
                (Err(e), Ok(_)) => (
                    reply,
                    Err(ApiError::internal(format!(
                        "not learned: the learn log could not be written, so a crash would have lost the batch: {e}"
                    ))),
                ),
                (_, answer) => (reply, answer),
            })
            .collect();
        let learned: u64 = answers.iter().filter_map(|(_, a)| a.as_ref().ok()).map(|a| a.0.len() as u64).sum();
        if learned > 0 {
            // Published before anyone is answered: a caller that reads /v1/model or
            // predicts after its learn call sees its batch.
            self.metrics.learned(learned);
            self.collect_events();
            self.publish();
        }
        for (reply, answer) in answers {
            // The client may have gone since; the batch is learned all the same.
            let _ = reply.send(answer);
        }
        let log_len = self.log.as_ref().map_or(0, LearnLog::len);
        if log_len > LOG_CHECKPOINT_BYTES && self.target.is_some() {
            if let Err(e) = self.checkpoint() {
                eprintln!("eddy serve: checkpoint of a long learn log failed: {}", e.message);
            }
        }
    }

    fn control(&mut self, control: Control) {
        match control {
            Control::Checkpoint { only_if_changed, reply } => {
                let unchanged = self.scored.records == self.saved_records && !self.pending.dirty();
                let answer = if only_if_changed && unchanged { Ok(None) } else { self.checkpoint().map(Some) };
                let _ = reply.send(answer);
            }
            Control::Snapshot { reply } => {
                let _ = reply.send(self.snapshot());
            }
            Control::Replace(model) => {
                self.scored.records = model.records_seen();
                self.scored.model = *model;
                self.publish();
            }
        }
    }

    /// The state to draw, counted in the model's records seen over its whole life:
    /// the tracker behind the snapshot counts only what this service learned.
    fn snapshot(&self) -> Option<Snapshot> {
        let mut s = self.scored.final_snapshot()?;
        let before = self.scored.records.saturating_sub(s.records);
        s.records = self.scored.records;
        for point in &mut s.timeline {
            point.records += before;
        }
        s.class_names = self.labels.class_names();
        Some(s)
    }

    /// The class ids of `given`, mapped on a copy of the label map (a refused batch adds no class).
    fn label_ids(&self, given: &[Label]) -> Result<(Vec<i64>, LabelMap), ApiError> {
        let mut labels = self.labels.clone();
        let ids = given
            .iter()
            .enumerate()
            .map(|(i, l)| label_id(&mut labels, l).map_err(|e| format!("record {i}: {e}")))
            .collect::<Result<Vec<i64>, String>>()
            .map_err(ApiError::unprocessable)?;
        Ok((ids, labels))
    }

    /// Refuse a batch that would make more than `max_classes` distinct labels.
    fn check_classes(&self, y: &[i64]) -> Result<(), ApiError> {
        // Only the batch's own labels are collected: the known ones are looked up, not copied.
        let (known, new): (usize, std::collections::HashSet<i64>) = match &self.scored.model {
            Model::Classifier(m) => {
                let classes = m.classes();
                (classes.len(), y.iter().copied().filter(|l| classes.binary_search(l).is_err()).collect())
            }
            Model::Clusterer(_) => {
                (self.truth_labels.len(), y.iter().copied().filter(|l| !self.truth_labels.contains(l)).collect())
            }
        };
        let all = known + new.len();
        if all > self.max_classes {
            return Err(ApiError::unprocessable(format!(
                "this batch would make {all} distinct labels: more than --max-classes ({})",
                self.max_classes
            )));
        }
        Ok(())
    }

    /// [`Self::learn`], with a panic inside it contained: the batch is undone (the
    /// state before it restored) and answered 500, and the learner keeps serving.
    fn learn_contained(&mut self, records: Records) -> Result<Learned, ApiError> {
        let before = (self.scored.clone(), self.labels.clone(), self.truth_labels.clone(), self.log_pending());
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.learn(records))) {
            Ok(answer) => answer,
            Err(_) => {
                (self.scored, self.labels, self.truth_labels) = (before.0, before.1, before.2);
                if let Some(log) = &mut self.log {
                    log.truncate_pending(before.3);
                }
                eprintln!("eddy serve: learning a batch failed inside eddy (a bug); it was undone");
                Err(ApiError::internal(
                    "learning this batch failed inside eddy (a bug, reported on its standard error): it was not learned"
                        .into(),
                ))
            }
        }
    }

    fn log_pending(&self) -> usize {
        self.log.as_ref().map_or(0, LearnLog::pending)
    }

    fn learn(&mut self, records: Records) -> Result<Learned, ApiError> {
        injected_fault(&records.x, PANIC_IN_LEARN);
        let (y, labels) = match &records.labels {
            Some(given) => {
                let (ids, labels) = self.label_ids(given)?;
                (Some(ids), labels)
            }
            None => (None, self.labels.clone()),
        };
        self.learn_mapped(records.x, records.cats, y, labels, records.labels.as_deref())
    }

    /// Learn `x` with class ids `y` (mapped by [`Self::label_ids`] into `labels`, from
    /// the labels `given`): the step `/v1/learn` and `/v1/feedback` share.
    fn learn_mapped(
        &mut self,
        x: ndarray::Array2<f64>,
        cats: Categories,
        y: Option<Vec<i64>>,
        labels: LabelMap,
        given: Option<&[Label]>,
    ) -> Result<Learned, ApiError> {
        if let Some(ids) = &y {
            self.check_classes(ids)?;
        }
        let n = x.nrows();
        match &self.scored.model {
            Model::Classifier(_) if y.is_none() => {
                return Err(ApiError::unprocessable("learning a classifier needs a label for every record".into()))
            }
            Model::Clusterer(m) if n < m.rows_to_start() => {
                return Err(ApiError::unprocessable(format!(
                    "k-means has not started: its first batch needs at least {} records, this one has {n}",
                    m.rows_to_start()
                )))
            }
            _ => {}
        }
        let first = self.scored.records;
        let batch = Arc::new(Batch {
            seq: 0,
            ids: (first..first + n as u64).collect(),
            x,
            y,
            cats,
            end_offset: 0,
            ..Batch::default()
        });
        // Validation comes before learning, but an overflow is only seen after (before
        // any score moves): a copy of the model is all it takes to undo.
        let undo = self.scored.model.clone();
        let predicted = match self.scored.step(&batch, self.prequential) {
            Ok(predicted) => predicted,
            Err(e) => {
                self.scored.model = undo;
                return Err(self.refusal(e, given));
            }
        };
        let changed = (labels != self.labels).then(|| labels.clone());
        self.labels = labels;
        if let (Model::Clusterer(_), Some(y)) = (&self.scored.model, &batch.y) {
            self.truth_labels.extend(y.iter().copied());
        }
        if let Some(log) = &mut self.log {
            log.append(batch, changed);
        }
        Ok((predicted, self.scored.records))
    }

    /// Answer labels for pending records: learn those waiting (in the order of `ids`, as
    /// one batch through [`Self::learn_mapped`], on disk in the learn log before the
    /// answer), then resolve every id. Refused with nothing changed when a label is
    /// bad, the model refuses the batch, or the log cannot be written: the store is
    /// only touched once the learning is done.
    fn feedback(&mut self, ids: Vec<String>, given: Vec<Label>) -> Result<FeedbackAnswer, ApiError> {
        // Every label is checked, waiting or not (on a copy of the label map: a label
        // of an unknown id adds no class).
        self.label_ids(&given)?;
        let now = self.pending.labels_come();
        let learnable: Vec<(usize, super::feedback::PendingRow)> =
            self.pending.learnable(&ids, now).into_iter().map(|(i, row)| (i, row.clone())).collect();
        let mut truth = vec![None; ids.len()];
        if !learnable.is_empty() {
            let d = self.features.len();
            let values: Vec<f64> = learnable.iter().flat_map(|(_, row)| row.x.iter().copied()).collect();
            let x = ndarray::Array2::from_shape_vec((learnable.len(), d), values)
                .map_err(|e| ApiError::internal(format!("pending records of {d} features: {e}")))?;
            let texts = learnable.iter().flat_map(|(_, row)| row.cats.iter().map(Option::as_deref));
            let cats = self
                .categories(texts, learnable.len())
                .map_err(|e| ApiError::internal(format!("pending records' categorical values: {e}")))?;
            let chosen: Vec<Label> = learnable.iter().map(|(i, _)| given[*i].clone()).collect();
            let (y, labels) = self.label_ids(&chosen)?;
            let before = (self.scored.clone(), self.labels.clone(), self.truth_labels.clone(), self.log_pending());
            let learned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                injected_fault(&x, PANIC_IN_LEARN);
                self.learn_mapped(x, cats, Some(y.clone()), labels, Some(&chosen))
            }));
            let failed = match learned {
                Ok(Ok(_)) => match self.log.as_mut().map_or(Ok(()), LearnLog::commit) {
                    Ok(()) => None,
                    Err(e) => Some(ApiError::internal(format!(
                        "not learned: the learn log could not be written, so a crash would have lost the records: {e}"
                    ))),
                },
                Ok(Err(refused)) => return Err(refused),
                Err(_) => Some(ApiError::internal(
                    "learning these records failed inside eddy (a bug, reported on its standard error): nothing was learned"
                        .into(),
                )),
            };
            if let Some(e) = failed {
                (self.scored, self.labels, self.truth_labels) = (before.0, before.1, before.2);
                if let Some(log) = &mut self.log {
                    log.truncate_pending(before.3);
                }
                eprintln!("eddy serve: a feedback call was undone: {}", e.message);
                return Err(e);
            }
            for ((i, _), class) in learnable.iter().zip(y) {
                truth[*i] = Some(class);
            }
            self.metrics.learned(learnable.len() as u64);
            self.collect_events();
            self.publish();
        }
        let answer = self.pending.resolve(&ids, &truth, now, self.scored.records);
        self.publish_pending();
        Ok(answer)
    }

    /// The answer to a batch the model refused. Rows in the model's messages are
    /// records of this request, from 0.
    fn refusal(&self, e: PipelineError, given: Option<&[Label]>) -> ApiError {
        if let PipelineError::Model { error: ModelError::UnknownLabel { row, .. }, .. } = &e {
            if let Some(Label::Name(name)) = given.and_then(|l| l.get(*row)) {
                // Say it with the name the caller sent, not the id it was given here.
                return ApiError::unprocessable(format!(
                    "row {row}: label {name:?} is not one of the model's classes ({})",
                    self.labels.names().join(", ")
                ));
            }
        }
        match e {
            PipelineError::Model { error, .. } => ApiError::unprocessable(error.to_string()),
            other => ApiError::internal(other.to_string()),
        }
    }

    fn checkpoint(&mut self) -> Result<Saved, ApiError> {
        let Some(target) = &self.target else {
            return Err(ApiError::conflict("no checkpoint file: start the service with --checkpoint FILE".into()));
        };
        let header = Header {
            records_seen: self.scored.records,
            categorical: self.columns.categorical.clone(),
            ..Header::for_model(&self.scored.model, self.features.clone(), self.labels.class_names())
        };
        // The scores first: a crash between the two files leaves scores newer than the
        // model, which the next start notices (their record counts differ) and ignores.
        let scores = SavedScores {
            classification: self.scored.classification.clone(),
            clustering: self.scored.clustering.clone(),
            truth_labels: self.truth_labels.iter().copied().collect(),
            watches: self.scored.watches.clone(),
            events: self.events.iter().cloned().collect(),
        };
        let scores_header = Header { kind: SCORES_KIND.into(), ..header.clone() };
        model_file::save(&scores_path_for(&target.path), &scores_header, &scores, &target.keys)
            .map_err(|e| ApiError::internal(format!("writing the checkpoint's scores: {e}")))?;
        let pending_header = Header { kind: PENDING_KIND.into(), ..header.clone() };
        model_file::save(&pending_path_for(&target.path), &pending_header, &self.pending.saved(), &target.keys)
            .map_err(|e| ApiError::internal(format!("writing the checkpoint's pending records: {e}")))?;
        model_file::save(&target.path, &header, &self.scored.model, &target.keys)
            .map_err(|e| ApiError::internal(format!("writing the checkpoint: {e}")))?;
        self.saved_records = self.scored.records;
        self.pending.saved_at_checkpoint();
        if let Some(log) = &mut self.log {
            // Harmless if it fails: the checkpoint holds these entries, and they are skipped at start.
            if let Err(e) = log.clear() {
                eprintln!("eddy serve: emptying the learn log: {e}");
            }
        }
        let saved = Saved {
            path: target.path.clone(),
            records_seen: self.scored.records,
            signed: target.keys.signing.is_some(),
            created: header.created,
        };
        self.last_saved = Some(saved.clone());
        self.metrics.checkpointed();
        self.publish();
        Ok(saved)
    }

    /// Take the drift events of the batches learned (after their group is on disk: an
    /// undone group takes its events back with the model's state), count them, keep
    /// the latest.
    fn collect_events(&mut self) {
        for e in self.scored.take_events() {
            self.metrics.drift_event(e.kind);
            if self.events.len() == MAX_EVENTS {
                self.events.pop_front();
            }
            self.events.push_back(e);
        }
    }

    /// Publish the pending records' description (and their metrics).
    fn publish_pending(&self) {
        let info = self.pending.info();
        self.metrics.pending(&info);
        self.pending_view.store(Arc::new(info));
    }

    fn publish(&self) {
        let model = &self.scored.model;
        let classes = match model {
            Model::Classifier(m) => m.classes().to_vec(),
            Model::Clusterer(m) => {
                (0..crate::OnlineClusterer::cluster_centers(m).map_or(0, |c| c.nrows()) as i64).collect()
            }
        };
        let summary = self.scored.summary(String::new());
        let metrics = summary.metrics;
        self.metrics.model(self.scored.records, &metrics);
        let info = ModelInfo {
            kind: model.estimator().to_string(),
            spec: model.spec(),
            features: self.features.clone(),
            categorical: categorical_info(model, &self.columns.categorical),
            fills_missing: self.columns.missing,
            imputed: summary.imputed,
            classes,
            class_names: self.labels.class_names(),
            records_seen: self.scored.records,
            learned_since_start: self.scored.records - self.start_records,
            metrics,
            last_checkpoint: self.last_saved.clone(),
            drift: self.scored.watches.as_ref().map(|w| {
                let s = w.summary_counts();
                DriftCounts {
                    detector: s.detector,
                    warnings: s.warnings,
                    drifts: s.drifts,
                    clusters: s.clusters,
                    cluster_events: s.cluster_events,
                }
            }),
        };
        let events = self.events.iter().cloned().collect();
        let columns = Arc::clone(&self.columns);
        self.live.store(Arc::new(Live { model: model.clone(), info, events, columns }));
    }
}

/// Each categorical column `names` of `model`, with what its encoder knows: the
/// categories of a `onehot` column, none for a `hash` column (which keeps no list).
fn categorical_info(model: &Model, names: &[String]) -> Vec<CategoricalColumn> {
    let (transforms, known, encoded) = match model {
        Model::Classifier(m) => (m.transforms(), m.known_categories(), m.encoded()),
        Model::Clusterer(m) => (m.transforms(), m.known_categories(), m.encoded()),
    };
    // Which stage reads each column, as the start-up check found it.
    let mut hashed = std::collections::HashSet::new();
    let mut left = names.to_vec();
    for t in transforms {
        let Ok(out) = t.categorical_out(&left) else { break };
        if t.entry().name == crate::preprocess::HASH.name {
            hashed.extend(left.iter().filter(|c| !out.contains(c)).cloned());
        }
        left = out;
    }
    names
        .iter()
        .map(|name| {
            let is_hashed = hashed.contains(name);
            let categories = (!is_hashed)
                .then(|| known.iter().find(|(c, _)| c == name).map(|(_, list)| list.clone()).unwrap_or_default());
            let other = encoded.iter().find(|e| &e.column == name).map(|e| e.other);
            CategoricalColumn { name: name.clone(), categories, hashed: is_hashed, other }
        })
        .collect()
}

fn placeholder_info() -> ModelInfo {
    ModelInfo {
        kind: String::new(),
        spec: String::new(),
        features: Vec::new(),
        categorical: Vec::new(),
        fills_missing: false,
        imputed: None,
        classes: Vec::new(),
        class_names: None,
        records_seen: 0,
        learned_since_start: 0,
        metrics: Scores::Clusterer { inertia: None, inertia_units: "input", ari: None, counts: Vec::new() },
        last_checkpoint: None,
        drift: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `GET /v1/snapshot.png` draws what [`Control::Snapshot`] answers: its title
    /// counts the model's records over its life, not those since the service started.
    #[test]
    fn the_snapshot_counts_the_model_s_records_seen_not_the_service_s() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sensors-sgd.eddy");
        let (header, model) = model_file::load_model(&path, &Keys::default()).expect("the shipped model");
        assert_eq!(header.records_seen, 3000);
        let metrics = Arc::new(Metrics::new());
        let serve = super::super::ServeOptions { window: 100, max_classes: 100, ..Default::default() };
        let (mut learner, _live) = Learner::new(model, &header, &serve, None, metrics).expect("no watches asked for");
        let x = ndarray::Array2::from_shape_fn((6, 4), |(r, c)| 20.0 * r as f64 + c as f64);
        let labels = ["ok", "warn", "fail", "ok", "ok", "warn"].map(|l| Label::Name(l.into())).to_vec();
        learner.learn(Records { x, cats: Categories::default(), labels: Some(labels) }).expect("learns");

        let (reply, mut answer) = oneshot::channel();
        learner.control(Control::Snapshot { reply });
        let snap = answer.try_recv().expect("answered").expect("the service tracks its model");
        assert_eq!(snap.records, 3006);
        assert_eq!(snap.class_names.as_deref(), Some(&["ok".to_string(), "warn".into(), "fail".into()][..]));
        assert!(snap.timeline.iter().all(|p| p.records > 3000 && p.records <= 3006), "{:?}", snap.timeline);

        // The picture's title, drawn by the same code as the PNG (as SVG, to read it).
        let svg = std::env::temp_dir().join(format!("eddy-learner-snapshot-{}.svg", std::process::id()));
        crate::plot::render(&snap, &svg, crate::plot::PlotFormat::Svg).expect("draws");
        let text = std::fs::read_to_string(&svg).expect("the SVG");
        let _ = std::fs::remove_file(&svg);
        assert!(text.contains("after 3006 records"), "the title counts the model's records");
    }
}
