//! One model shared by the workers of a group: each learns from its own records, and
//! every `--sync-every` records publishes its model to a *model log* (a Redis stream or a
//! Kafka topic), then folds every update in the log, in the log's order, into the shared
//! model ([`crate::model::merge`]) and goes on from it.
//!
//! The log's order is the one order every worker agrees on, so the shared model is a
//! function of the log: every replica that has folded the same entries holds the same
//! model, bit for bit, and a worker that joins (or restarts) folds the log from its
//! start and catches up. No worker waits for another: a slow or dead worker's updates
//! simply come later, or not at all.
//!
//! An update carries the replica's whole model and the log position of its base (the
//! last entry its shared model had folded; empty for the untrained model). Every folder
//! keeps the shared model after each of the last [`HISTORY`] entries, so it can fold the
//! replica's change since that base. An update whose base is older than that is
//! skipped, by every folder alike, and counted.

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod redis;

use crate::model::Model;
use crate::model_file::{self, Header, Keys};
use std::collections::VecDeque;
use std::path::Path;

/// Shared models kept, one per recent log entry, as the bases of updates to come.
pub const HISTORY: usize = 64;
/// The updates looked at to count the workers that share the model (an averaged
/// stage's change weighs 1 / that count).
pub const ACTIVE_WINDOW: usize = 16;

/// An error of the model log or of an update in it.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The log's engine failed or could not be reached.
    #[error("model log {log}: {reason}")]
    Log {
        /// The log, as shown.
        log: String,
        /// What failed.
        reason: String,
    },
    /// An update is not a model file of this model.
    #[error("model log {log}, entry {id}: {reason}")]
    Update {
        /// The log, as shown.
        log: String,
        /// The entry.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

/// The model log at `url`: a Redis stream or a Kafka topic.
pub fn open_log(url: &str) -> Result<Box<dyn ModelLog>, SyncError> {
    use crate::endpoint::{Endpoint, Engine};
    match Endpoint::of(url) {
        Endpoint::Stream(Engine::Redis) => Ok(Box::new(redis::RedisLog::open(url)?)),
        #[cfg(feature = "kafka")]
        Endpoint::Stream(Engine::Kafka) => Ok(Box::new(kafka::KafkaLog::open(url)?)),
        _ => Err(SyncError::Log {
            log: url.to_string(),
            reason: "a model log is a redis:// stream or a kafka:// topic (of a build with Kafka)".into(),
        }),
    }
}

/// One entry of a model log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Its position in the log (a Redis entry id).
    pub id: String,
    /// The worker that published it.
    pub worker: String,
    /// The position of the last entry folded into the replica's base; empty when the
    /// base is the untrained model.
    pub base: String,
    /// Records the replica learned since its base.
    pub records: u64,
    /// The replica's model, as a model file.
    pub model: Vec<u8>,
}

/// Where updates are published and read, in one order for everyone.
pub trait ModelLog: Send {
    /// The log as it may be shown (no password).
    fn name(&self) -> &str;
    /// Append an update (its `id` is ignored: the log assigns it), and return its id.
    fn publish(&mut self, update: &Update) -> Result<String, SyncError>;
    /// The entries after `after` (from the start with `None`), in log order, at most `limit`.
    fn read_after(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<Update>, SyncError>;
}

/// The shared model: the fold of a log's updates, with what a replica needs to publish.
pub struct SharedModel {
    log: Box<dyn ModelLog>,
    keys: Keys,
    features: Vec<String>,
    /// The untrained model: the base of updates with an empty base.
    initial: Model,
    /// The fold of every entry up to `position`.
    shared: Model,
    /// The last entry folded.
    position: Option<String>,
    /// The shared model after each recent entry, oldest first.
    history: VecDeque<(String, Model)>,
    /// Workers of the most recent updates, newest last.
    recent_workers: VecDeque<String>,
    /// Updates folded, and skipped (base too old, or not foldable).
    folded: u64,
    skipped: u64,
}

impl SharedModel {
    /// Fold `log` from its start into `initial` (an untrained model: every worker must
    /// start from the same one, the same `--model`). `features` name the columns, as in
    /// the model files the updates are.
    pub fn open(log: Box<dyn ModelLog>, initial: Model, features: Vec<String>, keys: Keys) -> Result<Self, SyncError> {
        let mut shared = Self {
            log,
            keys,
            features,
            shared: initial.clone(),
            initial,
            position: None,
            history: VecDeque::new(),
            recent_workers: VecDeque::new(),
            folded: 0,
            skipped: 0,
        };
        shared.catch_up()?;
        Ok(shared)
    }

    /// Fold `log` from its start without knowing the model beforehand (a reader that
    /// serves or inspects the shared model): the untrained model is built from the first
    /// update's spec. `None` while the log holds no update.
    pub fn follow(mut log: Box<dyn ModelLog>, keys: Keys) -> Result<Option<Self>, SyncError> {
        let Some(first) = log.read_after(None, 1)?.into_iter().next() else { return Ok(None) };
        let bad = |reason: String| SyncError::Update { log: log.name().to_string(), id: first.id.clone(), reason };
        let header = model_file::decode::<Model>(Path::new(log.name()), &first.model, model_file::MODEL_KIND, &keys)
            .map_err(|e| bad(e.to_string()))?
            .0;
        let spec = header.spec.ok_or_else(|| bad("the update names no model spec".into()))?;
        let initial = Model::from_spec(&spec).map_err(|e| bad(format!("its spec {spec:?}: {e}")))?;
        Self::open(log, initial, header.features, keys).map(Some)
    }

    /// The input's feature names, as the updates record them.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// The shared model, as of the last entry folded.
    pub fn model(&self) -> &Model {
        &self.shared
    }

    /// The last entry folded, if any.
    pub fn position(&self) -> Option<&str> {
        self.position.as_deref()
    }

    /// Updates folded and skipped so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.folded, self.skipped)
    }

    /// The log's name, as shown.
    pub fn log_name(&self) -> &str {
        self.log.name()
    }

    /// Publish `replica` (the shared model as of [`SharedModel::position`], plus
    /// `records` learned since) as `worker`'s update, then fold the log up to and past
    /// it; the update's size in bytes. The caller goes on from [`SharedModel::model`].
    pub fn publish(&mut self, worker: &str, replica: &Model, records: u64) -> Result<usize, SyncError> {
        let header = Header::for_model(replica, self.features.clone(), None);
        let bytes = model_file::encode(Path::new(self.log.name()), &header, replica, &self.keys)
            .map_err(|e| SyncError::Log { log: self.log.name().to_string(), reason: e.to_string() })?;
        let update = Update {
            id: String::new(),
            worker: worker.to_string(),
            base: self.position.clone().unwrap_or_default(),
            records,
            model: bytes,
        };
        self.log.publish(&update)?;
        self.catch_up()?;
        Ok(update.model.len())
    }

    /// Fold every entry after [`SharedModel::position`].
    pub fn catch_up(&mut self) -> Result<(), SyncError> {
        loop {
            let entries = self.log.read_after(self.position.as_deref(), 256)?;
            if entries.is_empty() {
                return Ok(());
            }
            for update in entries {
                self.fold(update)?;
            }
        }
    }

    /// Fold one entry: the replica's change since its base, into the shared model.
    fn fold(&mut self, update: Update) -> Result<(), SyncError> {
        let bad =
            |reason: String| SyncError::Update { log: self.log.name().to_string(), id: update.id.clone(), reason };
        let (header, replica): (Header, Model) =
            model_file::decode(Path::new(self.log.name()), &update.model, model_file::MODEL_KIND, &self.keys)
                .map_err(|e| bad(e.to_string()))?;
        if header.spec.as_deref() != Some(self.initial.spec().as_str()) {
            return Err(bad(format!(
                "an update of model {}, not of this run's {}: each group shares one model",
                header.spec.unwrap_or_default(),
                self.initial.spec()
            )));
        }
        self.recent_workers.push_back(update.worker.clone());
        if self.recent_workers.len() > ACTIVE_WINDOW {
            self.recent_workers.pop_front();
        }
        let mut active: Vec<&String> = self.recent_workers.iter().collect();
        active.sort_unstable();
        active.dedup();
        let share = 1.0 / active.len().max(1) as f64;
        let base = if update.base.is_empty() {
            Some(&self.initial)
        } else {
            self.history.iter().find(|(id, _)| *id == update.base).map(|(_, m)| m)
        };
        // Every folder decides alike: a base too old to have, or a change that does not
        // fold (features that differ, say), is skipped by all.
        match base.map(|b| self.shared.fold(b, &replica, share)) {
            Some(Ok(())) => self.folded += 1,
            Some(Err(_)) | None => self.skipped += 1,
        }
        self.history.push_back((update.id.clone(), self.shared.clone()));
        if self.history.len() > HISTORY {
            self.history.pop_front();
        }
        self.position = Some(update.id);
        Ok(())
    }
}

/// A replica that publishes every `every` records it learns, or every `interval` (the
/// model stage's tap).
pub struct Replica {
    shared: SharedModel,
    worker: String,
    every: u64,
    since: u64,
    interval: Option<std::time::Duration>,
    last: std::time::Instant,
}

impl Replica {
    /// `worker`'s replica of `shared`, publishing every `every` records.
    pub fn new(shared: SharedModel, worker: String, every: u64) -> Self {
        Self { shared, worker, every: every.max(1), since: 0, interval: None, last: std::time::Instant::now() }
    }

    /// Publish also once `interval` has passed since the last sync, at the next batch
    /// learned, however few records came (a slow stream).
    pub fn every_interval(self, interval: std::time::Duration) -> Self {
        Self { interval: Some(interval), ..self }
    }

    /// The shared model: where the worker's model starts.
    pub fn model(&self) -> &Model {
        self.shared.model()
    }

    /// After a batch of `records` learned into `model`: publish and take up the shared
    /// model when a sync is due.
    pub fn learned(&mut self, model: &mut Model, records: u64) -> Result<(), SyncError> {
        self.since += records;
        let due = self.interval.is_some_and(|i| self.since > 0 && self.last.elapsed() >= i);
        if self.since >= self.every || due {
            self.sync(model)?;
        }
        Ok(())
    }

    /// Publish what `model` learned since the last sync (if anything) and take up the
    /// shared model.
    pub fn sync(&mut self, model: &mut Model) -> Result<(), SyncError> {
        if self.since > 0 {
            self.shared.publish(&self.worker, model, self.since)?;
        } else {
            self.shared.catch_up()?;
        }
        *model = self.shared.model().clone();
        self.since = 0;
        self.last = std::time::Instant::now();
        Ok(())
    }

    /// Updates folded and skipped so far, and the log's name.
    pub fn stats(&self) -> (u64, u64, &str) {
        let (folded, skipped) = self.shared.counts();
        (folded, skipped, self.shared.log_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OnlineClassifier;
    use crate::source::synth::Blobs;

    /// A log in memory, for the fold's rules.
    #[derive(Default, Clone)]
    struct MemoryLog(std::sync::Arc<std::sync::Mutex<Vec<Update>>>);

    impl ModelLog for MemoryLog {
        fn name(&self) -> &str {
            "memory"
        }
        fn publish(&mut self, update: &Update) -> Result<String, SyncError> {
            let mut log = self.0.lock().expect("not poisoned");
            let id = format!("{}-0", log.len() + 1);
            log.push(Update { id: id.clone(), ..update.clone() });
            Ok(id)
        }
        fn read_after(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<Update>, SyncError> {
            let log = self.0.lock().expect("not poisoned");
            let start = after.map_or(0, |a| log.iter().position(|u| u.id == a).map_or(log.len(), |i| i + 1));
            Ok(log[start..].iter().take(limit).cloned().collect())
        }
    }

    fn learn(model: &mut Model, stream: &mut Blobs, n: usize) {
        let (x, y) = stream.next_batch(n);
        let Model::Classifier(c) = model else { unreachable!("a classifier") };
        c.partial_fit(x.view(), y.view()).expect("learns");
    }

    /// Naive Bayes over four features shared through `log`.
    fn naive_bayes(log: &MemoryLog) -> SharedModel {
        let features: Vec<String> = (0..4).map(|i| format!("x{i}")).collect();
        let initial = Model::from_spec("gaussian-nb").expect("spec");
        SharedModel::open(Box::new(log.clone()), initial, features, Keys::default()).expect("opens")
    }

    /// Three replicas of naive Bayes syncing at different paces: after the last sync
    /// every replica that folded the whole log holds the same model, equal (up to
    /// rounding) to one model that learned every record.
    #[test]
    fn replicas_that_folded_the_same_log_agree_and_lose_nothing() {
        let log = MemoryLog::default();
        let open = || naive_bayes(&log);
        let mut replicas: Vec<(Replica, Model, Blobs)> = (0..3)
            .map(|w| {
                let replica = Replica::new(open(), format!("w{w}"), 100 + 70 * w as u64);
                let model = replica.model().clone();
                (replica, model, Blobs::new(3, 4, 10 + w as u64))
            })
            .collect();
        let mut one = Model::from_spec("gaussian-nb").expect("spec");
        for round in 0..12 {
            for (w, (replica, model, stream)) in replicas.iter_mut().enumerate() {
                let n = 25 + 10 * ((round + w) % 3);
                let mut copy = stream.clone();
                learn(model, stream, n);
                learn(&mut one, &mut copy, n);
                replica.learned(model, n as u64).expect("syncs");
            }
        }
        for (replica, model, _) in &mut replicas {
            replica.sync(model).expect("syncs");
        }
        // The first replicas synced before the last published: they catch up.
        for (replica, model, _) in &mut replicas {
            replica.sync(model).expect("syncs");
        }
        let probe = Blobs::new(3, 4, 99).next_batch(50).0;
        let proba = |m: &Model| m.as_classifier().expect("classifier").predict_proba(probe.view()).expect("p");
        let first = proba(&replicas[0].1);
        for (replica, model, _) in &replicas {
            assert_eq!(proba(model), first, "replicas differ");
            assert_eq!(replica.stats().1, 0, "nothing skipped");
        }
        let (one, merged) = (proba(&one).expect("some"), first.expect("some"));
        assert!(one.iter().zip(merged.iter()).all(|(a, b)| (a - b).abs() < 1e-9), "{one} vs {merged}");
        assert_eq!(replicas[0].1.records_seen(), 3 * 12 * 35);
    }

    /// `--sync-interval`: a replica publishes at the first batch after its interval,
    /// however few records it learned, and not before.
    #[test]
    fn an_interval_publishes_a_slow_streams_records() {
        let log = MemoryLog::default();
        let open = || naive_bayes(&log);
        let mut stream = Blobs::new(3, 4, 5);
        let mut later =
            Replica::new(open(), "w1".into(), 1_000_000).every_interval(std::time::Duration::from_secs(3600));
        let mut model = later.model().clone();
        learn(&mut model, &mut stream, 5);
        later.learned(&mut model, 5).expect("learns");
        assert_eq!(log.0.lock().expect("not poisoned").len(), 0, "an hour has not passed");
        let mut now = Replica::new(open(), "w2".into(), 1_000_000).every_interval(std::time::Duration::ZERO);
        let mut model = now.model().clone();
        now.learned(&mut model, 0).expect("learns");
        assert_eq!(log.0.lock().expect("not poisoned").len(), 0, "nothing learned, nothing published");
        learn(&mut model, &mut stream, 5);
        now.learned(&mut model, 5).expect("learns");
        let published = log.0.lock().expect("not poisoned").clone();
        assert_eq!((published.len(), published[0].records, published[0].worker.as_str()), (1, 5, "w2"));
    }

    /// An update of another model is an error, not a silent fold.
    #[test]
    fn an_update_of_another_model_is_refused() {
        let log = MemoryLog::default();
        let features = vec!["a".to_string()];
        let mut other = SharedModel::open(
            Box::new(log.clone()),
            Model::from_spec("perceptron").expect("spec"),
            features.clone(),
            Keys::default(),
        )
        .expect("opens");
        other.publish("w1", &Model::from_spec("perceptron").expect("spec"), 1).expect("publishes");
        let e =
            SharedModel::open(Box::new(log), Model::from_spec("gaussian-nb").expect("spec"), features, Keys::default())
                .err()
                .expect("refused");
        assert!(e.to_string().contains("each group shares one model"), "{e}");
    }
}
