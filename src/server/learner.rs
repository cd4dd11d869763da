//! The learner: one thread owns the model and learns, in the order requests
//! arrive, through the same predict-then-learn step as `eddy run`
//! (the pipeline's model stage). After each batch it publishes an immutable
//! copy of the model, which predictions read without ever waiting for it.
//!
//! Checkpoints are jobs in the same queue, so a checkpoint holds exactly the
//! batches learned before it: none half-learned, none counted twice.

use super::body::{Label, Records};
use super::learn_log::{Entry, LearnLog};
use super::metrics::Metrics;
use super::{ApiError, ServerError};
use crate::error::ModelError;
use crate::model::Model;
use crate::model_file::{self, Header, Keys};
use crate::pipeline::{Metrics as Scores, PipelineError, PipelineOptions, Prequential, Scored};
use crate::record::{Batch, LabelMap};
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
    /// The model, as `--model` spells it.
    pub kind: String,
    /// Feature names, in order.
    pub features: Vec<String>,
    /// Class ids a classifier knows (centre ids for a clusterer).
    pub classes: Vec<i64>,
    /// Class names by id, when the classes have names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
    /// Records the model has learned, over its whole life (checkpoints keep it).
    pub records_seen: u64,
    /// Records learned since the service started.
    pub learned_since_start: u64,
    /// Prequential scores of the records learned since the service started.
    pub metrics: Scores,
    /// The last checkpoint written, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_checkpoint: Option<Saved>,
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

/// What predictions read: the model as of the last batch learned.
pub struct Live {
    /// The model.
    pub model: Model,
    /// Its description.
    pub info: ModelInfo,
}

/// Where a learn job's answer goes.
type Reply = oneshot::Sender<Result<Vec<i64>, ApiError>>;

/// Work for the learner.
pub enum Job {
    /// Learn a batch; answer with its prequential labels.
    Learn {
        /// The batch.
        records: Records,
        /// Where the answer goes.
        reply: Reply,
    },
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
    prequential: Prequential,
    start_records: u64,
    saved_records: u64,
    last_saved: Option<Saved>,
    target: Option<CheckpointTarget>,
    log: Option<LearnLog>,
    live: Arc<ArcSwap<Live>>,
    metrics: Arc<Metrics>,
}

impl Learner {
    /// A learner for `model` as loaded with `header`; publishes into the returned `ArcSwap`.
    pub fn new(
        model: Model,
        header: &Header,
        prequential: Prequential,
        window: usize,
        target: Option<CheckpointTarget>,
        metrics: Arc<Metrics>,
    ) -> (Self, Arc<ArcSwap<Live>>) {
        let options = PipelineOptions { prequential, window, track: true, ..PipelineOptions::default() };
        let mut scored = Scored::new(model.name(), model, &options, &header.features);
        scored.records = header.records_seen;
        let labels = match (&header.classes, header.records_seen) {
            // An untrained model without declared classes: the first label decides
            // whether labels are integers or names, as in `eddy run`.
            (None, 0) => LabelMap::discover(),
            (names, _) => LabelMap::resume(names.as_deref()),
        };
        let placeholder = Live { model: scored.model.clone(), info: placeholder_info() };
        let live = Arc::new(ArcSwap::from_pointee(placeholder));
        let learner = Self {
            scored,
            labels,
            features: header.features.clone(),
            prequential,
            start_records: header.records_seen,
            saved_records: header.records_seen,
            last_saved: None,
            target,
            log: None,
            live: Arc::clone(&live),
            metrics,
        };
        learner.publish();
        (learner, live)
    }

    /// Open the learn log at `path` and learn again every batch it holds past the
    /// model's record count. Returns the batches and records learned again.
    pub fn open_log(&mut self, path: &Path, keys: &Keys) -> Result<(u64, u64), ServerError> {
        let features = self.features.clone();
        let (mut batches, mut records) = (0, 0);
        let log = LearnLog::open(path, keys, &features, |entry| {
            let n = entry.x.nrows() as u64;
            if self.replay(entry)? {
                batches += 1;
                records += n;
            }
            Ok(())
        })?;
        self.log = Some(log);
        self.start_records = self.scored.records;
        self.publish();
        Ok((batches, records))
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
        let batch = Batch { seq: 0, ids: (records..records + n).collect(), x: entry.x, y: entry.y, end_offset: 0 };
        self.scored.step(&Arc::new(batch), self.prequential).map_err(|e| e.to_string())?;
        if let Some(names) = entry.names {
            self.labels = LabelMap::resume(Some(&names));
        }
        Ok(true)
    }

    /// Serve jobs until every sender is gone.
    ///
    /// Learn jobs waiting in the queue are taken together: each is learned, then
    /// the learn log is synced once for all of them, and only then are they answered.
    pub fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        /// Most learn jobs answered after one sync.
        const GROUP: usize = 256;
        let mut answered = Vec::new();
        while let Some(job) = jobs.blocking_recv() {
            let mut next = Some(job);
            while let Some(job) = next.take() {
                match job {
                    Job::Learn { records, reply } => {
                        answered.push((reply, self.learn(records)));
                        if answered.len() < GROUP {
                            next = jobs.try_recv().ok();
                        }
                    }
                    other => {
                        self.commit(&mut answered);
                        self.serve(other);
                    }
                }
            }
            self.commit(&mut answered);
        }
    }

    /// Sync the learn log, then send the answers.
    fn commit(&mut self, answered: &mut Vec<(Reply, Result<Vec<i64>, ApiError>)>) {
        let synced = self.log.as_mut().map_or(Ok(()), LearnLog::commit);
        for (reply, answer) in answered.drain(..) {
            let answer = match (&synced, answer) {
                (Err(e), Ok(_)) => Err(ApiError::internal(format!(
                    "the batch was learned, but writing the learn log failed, so a crash would lose it: {e}"
                ))),
                (_, answer) => answer,
            };
            // The client may have gone (timeout); the batch is learned all the same.
            let _ = reply.send(answer);
        }
    }

    fn serve(&mut self, job: Job) {
        match job {
            Job::Learn { .. } => unreachable!("learn jobs are grouped in run"),
            Job::Checkpoint { only_if_changed, reply } => {
                let answer = if only_if_changed && self.scored.records == self.saved_records {
                    Ok(None)
                } else {
                    self.checkpoint().map(Some)
                };
                let _ = reply.send(answer);
            }
            Job::Snapshot { reply } => {
                let _ = reply.send(self.scored.final_snapshot().map(|mut s| {
                    s.class_names = self.labels.has_names().then(|| self.labels.names().to_vec());
                    s
                }));
            }
        }
    }

    fn learn(&mut self, records: Records) -> Result<Vec<i64>, ApiError> {
        let n = records.x.nrows();
        // Names are mapped on a copy: a refused batch adds no class.
        let mut labels = self.labels.clone();
        let y = match &records.labels {
            Some(given) => Some(
                given
                    .iter()
                    .enumerate()
                    .map(|(i, l)| match l {
                        Label::Id(id) => Ok(*id),
                        Label::Name(name) => labels.id(name).map_err(|e| format!("record {i}: {e}")),
                    })
                    .collect::<Result<Vec<i64>, String>>()
                    .map_err(ApiError::unprocessable)?,
            ),
            None => None,
        };
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
        let batch =
            Arc::new(Batch { seq: 0, ids: (first..first + n as u64).collect(), x: records.x, y, end_offset: 0 });
        let predicted = self.scored.step(&batch, self.prequential).map_err(|e| match e {
            // Rows in the model's messages are records of this request, from 0.
            PipelineError::Model { error: ModelError::UnknownLabel { row, .. }, .. }
                if matches!(records.labels.as_ref().and_then(|l| l.get(row)), Some(Label::Name(_))) =>
            {
                // Say it with the name the caller sent, not the id it was given here.
                let name = match records.labels.as_ref().and_then(|l| l.get(row)) {
                    Some(Label::Name(name)) => name.as_str(),
                    _ => "",
                };
                let known = self.labels.names().join(", ");
                ApiError::unprocessable(format!(
                    "row {row}: label {name:?} is not one of the model's classes ({known})"
                ))
            }
            PipelineError::Model { error, .. } => ApiError::unprocessable(error.to_string()),
            other => ApiError::internal(other.to_string()),
        })?;
        self.labels = labels;
        if let Some(log) = &mut self.log {
            let names = self.labels.has_names().then(|| self.labels.names());
            log.append(first, &batch.x, batch.y.as_deref(), names)
                .map_err(|e| ApiError::internal(format!("the batch was learned, but logging it failed: {e}")))?;
        }
        self.metrics.learned(n as u64);
        self.publish();
        Ok(predicted)
    }

    fn checkpoint(&mut self) -> Result<Saved, ApiError> {
        let Some(target) = &self.target else {
            return Err(ApiError::conflict("no checkpoint file: start the service with --checkpoint FILE".into()));
        };
        let header = Header {
            format_version: model_file::FORMAT_VERSION,
            kind: "model".into(),
            eddy_version: env!("CARGO_PKG_VERSION").into(),
            n_features: self.features.len(),
            features: self.features.clone(),
            classes: self.labels.has_names().then(|| self.labels.names().to_vec()),
            records_seen: self.scored.records,
            created: model_file::now(),
        };
        model_file::save(&target.path, &header, &self.scored.model, &target.keys)
            .map_err(|e| ApiError::internal(format!("writing the checkpoint: {e}")))?;
        self.saved_records = self.scored.records;
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

    fn publish(&self) {
        let model = &self.scored.model;
        let classes = match model {
            Model::Classifier(m) => m.classes().to_vec(),
            Model::Clusterer(m) => {
                (0..crate::OnlineClusterer::cluster_centers(m).map_or(0, |c| c.nrows()) as i64).collect()
            }
        };
        let metrics = self.scored.summary(String::new()).metrics;
        self.metrics.model(self.scored.records, &metrics);
        let info = ModelInfo {
            kind: model.name(),
            features: self.features.clone(),
            classes,
            class_names: self.labels.has_names().then(|| self.labels.names().to_vec()),
            records_seen: self.scored.records,
            learned_since_start: self.scored.records - self.start_records,
            metrics,
            last_checkpoint: self.last_saved.clone(),
        };
        self.live.store(Arc::new(Live { model: model.clone(), info }));
    }
}

fn placeholder_info() -> ModelInfo {
    ModelInfo {
        kind: String::new(),
        features: Vec::new(),
        classes: Vec::new(),
        class_names: None,
        records_seen: 0,
        learned_since_start: 0,
        metrics: Scores::Clusterer { inertia: None, ari: None, counts: Vec::new() },
        last_checkpoint: None,
    }
}
