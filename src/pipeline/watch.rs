//! What a run watches beside each model (`--drift`, `--watch`) and the events it
//! signals.
//!
//! - A classifier's prequential error: 1 for a wrong label, 0 for a right one.
//! - A clusterer's distance of each record to the centre it was given, over the
//!   running mean of those distances (so the watched level is about 1 whatever the
//!   data's scale); centres as they stand after the batch was learned.
//! - Input columns (`--watch`), each with its own copy of the detector.
//! - A clusterer's clusters (`--cluster-events`): centres that move, clusters that
//!   vanish or appear ([`crate::drift::ClusterWatch`]).
//! - A forest's trees: each replacement of a tree by its background tree (always,
//!   without flags: the forest's own detectors signal them).
//!
//! All of it is one value a model stage owns, saved in checkpoints and decoded
//! with checks, so a resumed run signals exactly what an uninterrupted one does.

use crate::drift::{ClusterEventKind, ClusterWatch, ClusterWatchParams, EventKind, Monitor};
use crate::model::{Model, NO_PREDICTION};
use crate::record::Batch;
use serde::{Deserialize, Serialize};

/// What an event watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Watched {
    /// A classifier's prequential error (0/1).
    #[default]
    Error,
    /// A clusterer's distance to the assigned centre, over its running mean.
    Distance,
    /// An input column (`--watch`).
    Column,
    /// A clusterer's clusters (`--cluster-events`).
    Clusters,
    /// A forest's trees (their own drift detectors).
    Trees,
}

/// What an event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunEventKind {
    /// A detector entered its warning zone.
    Warning,
    /// A detector found a drift.
    Drift,
    /// A centre moved more than its spread allows (`--cluster-events`).
    Moved,
    /// A cluster's share of the records fell near zero.
    Vanished,
    /// A new mass of records was captured by a cluster that had none.
    Appeared,
    /// A forest replaced one of its trees (its drift detector signalled).
    Replaced,
}

impl RunEventKind {
    /// The kind's name, as events and metrics write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Drift => "drift",
            Self::Moved => "moved",
            Self::Vanished => "vanished",
            Self::Appeared => "appeared",
            Self::Replaced => "replaced",
        }
    }
}

impl From<EventKind> for RunEventKind {
    fn from(k: EventKind) -> Self {
        match k {
            EventKind::Warning => Self::Warning,
            EventKind::Drift => Self::Drift,
        }
    }
}

impl From<ClusterEventKind> for RunEventKind {
    fn from(k: ClusterEventKind) -> Self {
        match k {
            ClusterEventKind::Moved => Self::Moved,
            ClusterEventKind::Vanished => Self::Vanished,
            ClusterEventKind::Appeared => Self::Appeared,
        }
    }
}

/// A warning, drift or cluster event signalled during a run. Fields that do not apply
/// to an event are `null` (always present: model files and checkpoints need them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    /// The record (its index in the input) whose value signalled.
    pub record: u64,
    /// The model beside which it was watched.
    pub model: String,
    /// What was watched.
    #[serde(default)]
    pub watched: Watched,
    /// The input column, when a column was watched.
    #[serde(default)]
    pub column: Option<String>,
    /// The detector (or the cluster watch), in the spec language.
    pub detector: String,
    /// What happened.
    pub kind: RunEventKind,
    /// The watched level before the change (see [`crate::drift::Event`]).
    pub mean_before: Option<f64>,
    /// The level after it.
    pub mean_after: Option<f64>,
    /// The cluster, for cluster events.
    #[serde(default)]
    pub cluster: Option<i64>,
    /// The cluster's share of the records before and after (see
    /// [`crate::drift::ClusterEvent`]).
    #[serde(default)]
    pub share_before: Option<f64>,
    /// Its share after.
    #[serde(default)]
    pub share_after: Option<f64>,
    /// For `moved`: how far the centre moved (input units).
    #[serde(default)]
    pub distance: Option<f64>,
    /// The cluster's spread (RMS distance of its members to the centre, input units).
    #[serde(default)]
    pub spread: Option<f64>,
    /// For `replaced`: the tree of the forest (0-based).
    #[serde(default)]
    pub tree: Option<u32>,
}

/// Events kept in the summary and the pictures (the events file has them all).
pub const MAX_LISTED_EVENTS: usize = 1000;

/// What a model's watches saw over the run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DriftSummary {
    /// The detector, in the spec language (`--drift`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    /// The input columns watched besides the model (`--watch`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Warning events (one per warning zone).
    pub warnings: u64,
    /// Drift events.
    pub drifts: u64,
    /// The cluster watch (`--cluster-events`), in the spec language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<String>,
    /// Cluster events by kind, with the cluster watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_events: Option<crate::drift::ClusterEventCounts>,
    /// A forest's tree replacements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacements: Option<u64>,
    /// The first events, at most [`MAX_LISTED_EVENTS`].
    pub events: Vec<RunEvent>,
}

/// One watched input column.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ColumnWatch {
    /// The feature's index in a batch.
    index: usize,
    /// Its name.
    name: String,
    monitor: Monitor,
}

/// A forest's replacements of its trees, read from the model after each batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TreeWatch {
    /// Records the forest had learned at the last batch: later replacements are new.
    learned: u64,
    /// Replacements signalled.
    replacements: u64,
    /// The forest's drift detector, as events name it (from the model, not the file).
    #[serde(skip)]
    detector: String,
}

/// Everything watched beside one model, with the events so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "WatchesParts")]
pub struct Watches {
    /// The detector on the model's own signal (`--drift`).
    model: Option<Monitor>,
    /// Its spec, as events name it (computed once: a batch may bring many events).
    #[serde(skip)]
    spec: String,
    /// The cluster watch (`--cluster-events`, clusterers).
    clusters: Option<ClusterWatch>,
    /// A forest's trees.
    trees: Option<TreeWatch>,
    /// What the model's signal is.
    watched: Watched,
    /// Sum and count of the distances seen (clusterers), the scale of the next one.
    distance: (f64, u64),
    columns: Vec<ColumnWatch>,
    warnings: u64,
    drifts: u64,
    /// The first events, for the summary and the pictures.
    listed: Vec<RunEvent>,
    /// Events not yet handed to the events file (nothing is pending at a checkpoint:
    /// the stage writes them before it saves its state).
    #[serde(skip)]
    new: Vec<RunEvent>,
}

/// Watches as decoded, before they are checked.
#[derive(Deserialize)]
struct WatchesParts {
    model: Option<Monitor>,
    clusters: Option<ClusterWatch>,
    #[serde(default)]
    trees: Option<TreeWatch>,
    watched: Watched,
    distance: (f64, u64),
    columns: Vec<ColumnWatch>,
    warnings: u64,
    drifts: u64,
    listed: Vec<RunEvent>,
}

impl TryFrom<WatchesParts> for Watches {
    type Error = String;
    fn try_from(p: WatchesParts) -> Result<Self, String> {
        if matches!(p.watched, Watched::Column | Watched::Clusters | Watched::Trees) {
            return Err("a model's own watch cannot be a column or its clusters".into());
        }
        if p.model.is_none() && p.clusters.is_none() && p.trees.is_none() {
            return Err("watches that watch nothing".into());
        }
        if p.model.is_none() && !p.columns.is_empty() {
            return Err("columns watched without a detector".into());
        }
        if !p.distance.0.is_finite() || p.distance.0 < 0.0 {
            return Err("a running distance that is not a finite sum of distances".into());
        }
        if p.listed.len() > MAX_LISTED_EVENTS {
            return Err(format!("{} listed events (at most {MAX_LISTED_EVENTS})", p.listed.len()));
        }
        Ok(Self {
            spec: p.model.as_ref().map(|m| crate::drift::registry::spec_of(m.detector())).unwrap_or_default(),
            model: p.model,
            clusters: p.clusters,
            trees: p.trees,
            watched: p.watched,
            distance: p.distance,
            columns: p.columns,
            warnings: p.warnings,
            drifts: p.drifts,
            listed: p.listed,
            new: Vec::new(),
        })
    }
}

/// Why watches could not be set up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WatchError {
    /// A binary detector (errors) was asked to watch real values.
    #[error("{detector} takes 0/1 errors; {what} needs a detector of real values (adwin, page-hinkley or kswin)")]
    NotReal {
        /// The detector.
        detector: String,
        /// What it was to watch.
        what: String,
    },
    /// `--watch` named a column that is not a feature of the input.
    #[error("--watch {column}: not a feature of the input (features: {features})")]
    UnknownColumn {
        /// The column asked for.
        column: String,
        /// The features there are.
        features: String,
    },
    /// The cluster watch's parameters are out of range.
    #[error("--cluster-events")]
    ClusterParams(#[source] crate::error::DriftParamsError),
    /// The cluster watch could not take a batch (its centres changed shape).
    #[error("the cluster watch")]
    Clusters(#[source] crate::drift::ClusterWatchError),
    /// A resumed run's watches do not fit this run's.
    #[error("the checkpoint's watches ({saved}) are not this run's ({now})")]
    Mismatch {
        /// What the checkpoint watched.
        saved: String,
        /// What this run watches.
        now: String,
    },
}

impl Watches {
    /// What a run asks to watch beside `model`: with `detector` (`--drift`) the model's
    /// own signal and the `columns` (feature names), each with a copy; with `clusters`
    /// (`--cluster-events`) a clusterer's clusters; a forest's replacements always.
    /// `None` when that leaves nothing to watch.
    pub fn new(
        model: &Model,
        detector: Option<&(dyn crate::drift::Detector + 'static)>,
        columns: &[String],
        features: &[String],
        clusters: Option<&ClusterWatchParams>,
    ) -> Result<Option<Self>, WatchError> {
        let clusters = match (model, clusters) {
            (Model::Clusterer(_), Some(p)) => Some(ClusterWatch::new(*p).map_err(WatchError::ClusterParams)?),
            _ => None,
        };
        let trees = model.replacements().map(|r| TreeWatch {
            learned: r.learned,
            replacements: 0,
            detector: r.detector.to_string(),
        });
        let (watched, monitor, columns) = match detector {
            Some(detector) => {
                let spec = detector.spec();
                let real = detector.check_value(0.5).is_ok();
                let watched = match model {
                    Model::Classifier(_) => Watched::Error,
                    Model::Clusterer(_) if real => Watched::Distance,
                    Model::Clusterer(_) => {
                        return Err(WatchError::NotReal { detector: spec, what: "a clusterer's distances".into() })
                    }
                };
                if !columns.is_empty() && !real {
                    return Err(WatchError::NotReal { detector: spec, what: "--watch".into() });
                }
                let columns = columns
                    .iter()
                    .map(|name| {
                        let index = features.iter().position(|f| f == name).ok_or_else(|| {
                            WatchError::UnknownColumn { column: name.clone(), features: features.join(", ") }
                        })?;
                        let monitor = Monitor::new(dyn_clone::clone_box(detector));
                        Ok(ColumnWatch { index, name: name.clone(), monitor })
                    })
                    .collect::<Result<Vec<_>, WatchError>>()?;
                (watched, Some(Monitor::new(dyn_clone::clone_box(detector))), columns)
            }
            None if clusters.is_some() => (Watched::Distance, None, Vec::new()),
            None if trees.is_some() => (Watched::Error, None, Vec::new()),
            None => return Ok(None),
        };
        Ok(Some(Self {
            spec: monitor.as_ref().map(|m| crate::drift::registry::spec_of(m.detector())).unwrap_or_default(),
            model: monitor,
            clusters,
            trees,
            watched,
            distance: (0.0, 0),
            columns,
            warnings: 0,
            drifts: 0,
            listed: Vec::new(),
            new: Vec::new(),
        }))
    }

    /// What these watch, as one line (for errors and checks).
    fn describe(&self) -> String {
        let columns: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let clusters = self.clusters.as_ref().map(|c| c.params().to_spec()).unwrap_or_default();
        format!(
            "{:?} with {}, columns [{}], clusters {clusters:?}, trees {:?}",
            self.detector(),
            serde_plain(self.watched),
            columns.join(", "),
            self.trees.as_ref().map(|t| t.detector.as_str()),
        )
    }

    /// These watches as a checkpoint saved them, when they watch the same things with
    /// the same detector; the fresh ones otherwise refuse the resume.
    pub fn resumed(self, saved: &Watches) -> Result<Self, WatchError> {
        let mut saved = saved.clone();
        // A forest's detector is named by the model, not by the file.
        if let (Some(then), Some(now)) = (saved.trees.as_mut(), self.trees.as_ref()) {
            then.detector.clone_from(&now.detector);
        }
        if saved.describe() != self.describe()
            || saved.columns.iter().zip(&self.columns).any(|(a, b)| a.index != b.index)
        {
            return Err(WatchError::Mismatch { saved: saved.describe(), now: self.describe() });
        }
        Ok(saved)
    }

    /// The detector, in the spec language (`--drift`).
    pub fn detector(&self) -> Option<String> {
        self.model.as_ref().map(|_| self.spec.clone())
    }

    /// Warning and drift events so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.warnings, self.drifts)
    }

    /// The first events (at most [`MAX_LISTED_EVENTS`]).
    pub fn listed(&self) -> &[RunEvent] {
        &self.listed
    }

    /// Take the events signalled since the last call, in record order.
    pub fn take_new(&mut self) -> Vec<RunEvent> {
        std::mem::take(&mut self.new)
    }

    /// What the summary says.
    pub fn summary(&self) -> DriftSummary {
        DriftSummary { events: self.listed.clone(), ..self.summary_counts() }
    }

    /// The summary without its events (cheap: what the service publishes per batch).
    pub fn summary_counts(&self) -> DriftSummary {
        DriftSummary {
            detector: self.detector(),
            columns: self.columns.iter().map(|c| c.name.clone()).collect(),
            warnings: self.warnings,
            drifts: self.drifts,
            clusters: self.clusters.as_ref().map(|c| c.params().to_spec()),
            cluster_events: self.clusters.as_ref().map(ClusterWatch::counts),
            replacements: self.trees.as_ref().map(|t| t.replacements),
            events: Vec::new(),
        }
    }

    /// Watch a batch `model` has just labelled (`labels`) and learned.
    pub fn observe(&mut self, name: &str, model: &Model, batch: &Batch, labels: &[i64]) -> Result<(), WatchError> {
        let replaced = self.tree_events(name, model, &batch.ids);
        let detector = &self.spec;
        let mut found: Vec<RunEvent> = Vec::new();
        // Events of the cluster watch and of a forest's trees (beside `found`, which
        // the detectors' closure holds).
        let mut others: Vec<RunEvent> = Vec::new();
        let blank = |record: u64, watched: Watched, detector: &str, kind: RunEventKind| {
            blank_event(record, name, watched, detector, kind)
        };
        let mut event = |record: u64, watched: Watched, column: Option<&str>, e: crate::drift::Event| {
            found.push(RunEvent {
                column: column.map(str::to_string),
                mean_before: e.mean_before,
                mean_after: e.mean_after,
                ..blank(record, watched, detector, e.kind.into())
            })
        };
        match (model, batch.y.as_deref(), self.model.as_mut()) {
            (Model::Classifier(_), Some(truth), Some(monitor)) => {
                for ((&id, &t), &l) in batch.ids.iter().zip(truth).zip(labels) {
                    // A record the model could not label says nothing of its errors (as in River).
                    if l == NO_PREDICTION {
                        continue;
                    }
                    if let Some(e) = monitor.update(if l == t { 0.0 } else { 1.0 }) {
                        event(id, Watched::Error, None, e);
                    }
                }
            }
            (Model::Classifier(_), _, _) => {}
            (Model::Clusterer(m), _, monitor) => {
                // Centres as they stand after the batch, in input units: distances and
                // cluster moves are measured where the records are (`None` only behind a
                // transformer that cannot be undone).
                if let Some(centers) = m.centers_in_input_units() {
                    if let Some(monitor) = monitor {
                        for ((&id, row), &l) in batch.ids.iter().zip(batch.x.outer_iter()).zip(labels) {
                            let Some(c) = usize::try_from(l).ok().filter(|&c| c < centers.nrows()) else { continue };
                            let d = crate::model::sq_dist(row, centers.row(c)).sqrt();
                            if !d.is_finite() {
                                continue;
                            }
                            let (sum, n) = self.distance;
                            // The first distance sets the scale: it is 1 by definition.
                            let scaled = if n == 0 || sum == 0.0 { 1.0 } else { d / (sum / n as f64) };
                            self.distance = (sum + d, n.saturating_add(1));
                            if let Some(e) = monitor.update(scaled) {
                                event(id, Watched::Distance, None, e);
                            }
                        }
                    }
                    if let Some(watch) = self.clusters.as_mut() {
                        let events = watch
                            .observe(&batch.ids, batch.x.view(), labels, centers.view())
                            .map_err(WatchError::Clusters)?;
                        // Events are rare: the spec is written only for batches that have some.
                        let spec = if events.is_empty() { String::new() } else { watch.params().to_spec() };
                        for e in events {
                            others.push(RunEvent {
                                cluster: Some(e.cluster),
                                share_before: Some(e.share_before),
                                share_after: Some(e.share_after),
                                distance: e.distance,
                                spread: e.spread,
                                ..blank(e.record, Watched::Clusters, &spec, e.kind.into())
                            });
                        }
                    }
                }
            }
        }
        others.extend(replaced);
        for c in &mut self.columns {
            for (&id, &v) in batch.ids.iter().zip(batch.x.column(c.index)) {
                // A missing value (NaN) is no value of the column: it cannot signal.
                if !v.is_finite() {
                    continue;
                }
                if let Some(e) = c.monitor.update(v) {
                    event(id, Watched::Column, Some(&c.name), e);
                }
            }
        }
        // The events of one batch, in record order.
        found.extend(others);
        found.sort_by_key(|e| e.record);
        self.record(found);
        Ok(())
    }

    /// Watch a forest's replacements after it learned the records `learned` (with delayed
    /// labels: the labels' records, in the order they were learned).
    pub fn observe_trees(&mut self, name: &str, model: &Model, learned: &[u64]) {
        let events = self.tree_events(name, model, learned);
        self.record(events);
    }

    /// The replacements since the last call, each at the record of `learned` that
    /// caused it (the forest counts the records it learned).
    fn tree_events(&mut self, name: &str, model: &Model, learned: &[u64]) -> Vec<RunEvent> {
        let (Some(watch), Some(r)) = (self.trees.as_mut(), model.replacements()) else { return Vec::new() };
        let start = r.latest.partition_point(|&(record, _)| record < watch.learned);
        let events = r.latest[start..]
            .iter()
            .map(|&(record, tree)| {
                let at = usize::try_from(record - watch.learned).unwrap_or(usize::MAX);
                let id = learned.get(at).or(learned.last()).copied().unwrap_or(0);
                let event = blank_event(id, name, Watched::Trees, &watch.detector, RunEventKind::Replaced);
                RunEvent { tree: Some(tree), ..event }
            })
            .collect();
        watch.learned = r.learned;
        events
    }

    /// Count and keep `found`, in record order.
    fn record(&mut self, found: Vec<RunEvent>) {
        for e in found {
            match e.kind {
                RunEventKind::Warning => self.warnings = self.warnings.saturating_add(1),
                RunEventKind::Drift => self.drifts = self.drifts.saturating_add(1),
                RunEventKind::Replaced => {
                    if let Some(t) = self.trees.as_mut() {
                        t.replacements = t.replacements.saturating_add(1);
                    }
                }
                // The cluster watch counts its own.
                RunEventKind::Moved | RunEventKind::Vanished | RunEventKind::Appeared => {}
            }
            if self.listed.len() < MAX_LISTED_EVENTS {
                self.listed.push(e.clone());
            }
            self.new.push(e);
        }
    }
}

/// An event of `kind` at `record` with nothing measured: the fields each kind fills start empty.
fn blank_event(record: u64, model: &str, watched: Watched, detector: &str, kind: RunEventKind) -> RunEvent {
    RunEvent {
        record,
        model: model.to_string(),
        watched,
        column: None,
        detector: detector.to_string(),
        kind,
        mean_before: None,
        mean_after: None,
        cluster: None,
        share_before: None,
        share_after: None,
        distance: None,
        spread: None,
        tree: None,
    }
}

/// `watched`'s name as it is written in events.
fn serde_plain(w: Watched) -> &'static str {
    match w {
        Watched::Error => "error",
        Watched::Distance => "distance",
        Watched::Column => "column",
        Watched::Clusters => "clusters",
        Watched::Trees => "trees",
    }
}
