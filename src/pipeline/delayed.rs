//! Delayed labels in a model stage (`--delayed-labels`, see [`crate::source::join`]).
//!
//! The source has joined each label to its event and says what every record is
//! ([`Role`]); a model stage then, in record order:
//!
//! - labels each event with the model as it is (that label is written, and is the one
//!   scored later, as River's delayed evaluation does) and keeps its features (numeric
//!   row and categorical values) with that prediction, keyed by the event's record id;
//! - on its feedback, scores the kept prediction against the label and learns the kept
//!   features with it, through the chain methods an in-order run uses
//!   (`learn_predict_with` per row, `partial_fit_with` per batch): a run whose labels
//!   all come, in event order, learns exactly what an in-order run learns;
//! - drops the events the source expired, and counts the labels it could not join.
//!
//! The kept events are in checkpoints ([`Delayed`] is serialised in arrival order), so a
//! resumed run goes on exactly.

use super::{Labelled, PipelineError, Prequential, Scored};
use crate::error::ModelError;
use crate::model::{Model, NO_PREDICTION};
use crate::pipeline::pending::{DelayQuantiles, DelayStats, ExpiryReason, MAX_PENDING};
use crate::record::{Batch, Categories, Role, Roles};
use ndarray::{s, Array2, ArrayView1};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// An event waiting for its label: what the model needs to learn it, and its label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Waiting {
    x: Vec<f64>,
    cats: Vec<Option<String>>,
    prediction: i64,
}

/// What became of the events and labels a model saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayedCounts {
    /// Events labelled and kept.
    pub events: u64,
    /// Events learned: their label came in time (with `--no-learn`, scored only).
    pub learned: u64,
    /// Learned events whose label at arrival was right.
    pub correct: u64,
    /// Events expired because no label came within `--label-ttl`.
    pub expired_ttl: u64,
    /// Events expired to make room (`--max-pending`).
    pub expired_capacity: u64,
    /// Labels that came after their event expired.
    pub late: u64,
    /// Labels for no waiting event (skipped).
    pub unknown: u64,
    /// Events whose id was still waiting (skipped).
    pub duplicates: u64,
}

/// A model's delayed labels: the events waiting, the counts and the delays.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(try_from = "DelayedParts")]
pub struct Delayed {
    waiting: BTreeMap<u64, Waiting>,
    counts: DelayedCounts,
    delays: DelayStats,
}

/// [`Delayed`] as decoded, checked before use.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DelayedParts {
    waiting: BTreeMap<u64, Waiting>,
    counts: DelayedCounts,
    delays: DelayStats,
}

impl TryFrom<DelayedParts> for Delayed {
    type Error = String;
    fn try_from(p: DelayedParts) -> Result<Self, String> {
        let c = p.counts;
        let ended = c.learned.checked_add(c.expired_ttl).and_then(|n| n.checked_add(c.expired_capacity));
        let fits = ended.and_then(|n| n.checked_add(p.waiting.len() as u64)).is_some_and(|n| n <= c.events);
        if p.waiting.len() > MAX_PENDING || !fits || c.correct > c.learned || c.learned != p.delays.count() {
            return Err(format!(
                "delayed labels whose counts do not add up ({} waiting, {} events, {} learned, {} right, {} delays)",
                p.waiting.len(),
                c.events,
                c.learned,
                c.correct,
                p.delays.count()
            ));
        }
        let mut widths = p.waiting.values().map(|w| (w.x.len(), w.cats.len()));
        if let Some(first) = widths.next() {
            if widths.any(|w| w != first) {
                return Err("delayed labels: waiting events of different widths".into());
            }
        }
        Ok(Self { waiting: p.waiting, counts: p.counts, delays: p.delays })
    }
}

/// The label delays in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DelayedDelay {
    /// Labels measured (one per learned event).
    pub count: u64,
    /// True while the quantiles are exact (the first 10,000 delays; within 0.4 % after).
    pub exact: bool,
    /// In records (the label's record id minus its event's).
    pub records: DelayQuantiles,
    /// In seconds, on the wall clock.
    pub seconds: SecondsQuantiles,
}

/// Delay quantiles in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SecondsQuantiles {
    /// The median.
    pub median: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The largest.
    pub max: f64,
}

/// A classifier's delayed labels in the run summary (`"delayed"`) and the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DelayedSummary {
    /// Events waiting for their labels at the end.
    pub pending: u64,
    /// Events labelled and kept.
    pub events: u64,
    /// Events learned when their label came (with `--no-learn`: scored, the model frozen).
    pub learned: u64,
    /// Events expired, for either reason.
    pub expired: u64,
    /// ... because no label came within `--label-ttl`.
    pub expired_ttl: u64,
    /// ... to make room (`--max-pending`).
    pub expired_capacity: u64,
    /// Labels that came after their event expired.
    pub late: u64,
    /// Labels for no waiting event.
    pub unknown: u64,
    /// Events whose id was already waiting.
    pub duplicates: u64,
    /// `correct / learned`: the prequential accuracy on delayed labels (`null` before any).
    pub accuracy: Option<f64>,
    /// The label delays (`null` before any event is learned).
    pub delay: Option<DelayedDelay>,
}

impl Delayed {
    /// What the summary says.
    pub fn summary(&self) -> DelayedSummary {
        let c = self.counts;
        let seconds = |q: DelayQuantiles| SecondsQuantiles {
            median: q.median as f64 / 1000.0,
            p99: q.p99 as f64 / 1000.0,
            max: q.max as f64 / 1000.0,
        };
        DelayedSummary {
            pending: self.waiting.len() as u64,
            events: c.events,
            learned: c.learned,
            expired: c.expired_ttl + c.expired_capacity,
            expired_ttl: c.expired_ttl,
            expired_capacity: c.expired_capacity,
            late: c.late,
            unknown: c.unknown,
            duplicates: c.duplicates,
            accuracy: (c.learned > 0).then(|| c.correct as f64 / c.learned as f64),
            delay: self.delays.summary().map(|d| DelayedDelay {
                count: d.count,
                exact: d.exact,
                records: d.records,
                seconds: seconds(d.millis),
            }),
        }
    }
}

/// A model's error on rows `first..=last` of the input (by record id).
fn refused(name: &str, batch: &Batch, rows: std::ops::Range<usize>, error: ModelError) -> PipelineError {
    let row = match &error {
        ModelError::NonFinite { row, .. }
        | ModelError::NegativeFeature { row, .. }
        | ModelError::UnknownLabel { row, .. }
        | ModelError::ReservedLabel { row, .. } => Some(rows.start + *row),
        _ => None,
    };
    let id = |i: usize| batch.ids.get(i).copied().unwrap_or(0);
    let (first, last) = match row {
        Some(r) => (id(r), id(r)),
        None => (id(rows.start), id(rows.end.saturating_sub(1))),
    };
    PipelineError::Model { model: name.to_string(), first, last, error }
}

/// True when two roles go in one run of rows: events with events, feedback with feedback.
fn same_run(a: &Role, b: &Role) -> bool {
    matches!((a, b), (Role::Event, Role::Event) | (Role::Feedback { .. }, Role::Feedback { .. }))
}

impl Scored {
    /// [`Scored::step`] on a batch of events and labels (see the [module](self)): the
    /// labels of its events, in order.
    pub(crate) fn step_delayed(
        &mut self,
        batch: &Arc<Batch>,
        roles: &Roles,
        prequential: Prequential,
    ) -> Result<Vec<i64>, PipelineError> {
        let Model::Classifier(m) = &mut self.model else {
            return Err(PipelineError::Delayed(format!("model {}: delayed labels are for classifiers", self.name)));
        };
        if roles.roles.len() != batch.len() {
            return Err(PipelineError::Delayed(format!("{} roles for {} records", roles.roles.len(), batch.len())));
        }
        let truth = batch.y.as_deref().ok_or_else(|| PipelineError::NoLabels(self.name.clone()))?;
        let state = self.delayed.get_or_insert_with(Delayed::default);
        let mut labels = Vec::new();
        // The labels' records, in the order the model learned them: a forest's
        // replacements are events at the record that caused them.
        let mut learned_ids = Vec::new();
        let mut i = 0;
        while i < batch.len() {
            let role = roles.roles[i];
            let mut j = i + 1;
            while j < batch.len() && same_run(&role, &roles.roles[j]) {
                j += 1;
            }
            match role {
                Role::Event => {
                    let x = batch.x.slice(s![i..j, ..]);
                    let cats = if batch.cats.is_empty() { Categories::default() } else { batch.cats.slice_rows(i..j) };
                    let predicted = match m.predict_with(x, &cats) {
                        Ok(p) => p.to_vec(),
                        Err(ModelError::NotFitted(_)) => vec![NO_PREDICTION; j - i],
                        Err(e) => return Err(refused(&self.name, batch, i..j, e)),
                    };
                    for (k, &prediction) in (i..j).zip(&predicted) {
                        let cats = if batch.cats.is_empty() {
                            Vec::new()
                        } else {
                            batch.cats.row(k).iter().map(|v| v.as_deref().map(str::to_string)).collect()
                        };
                        state.waiting.insert(batch.ids[k], Waiting { x: batch.x.row(k).to_vec(), cats, prediction });
                    }
                    state.counts.events += (j - i) as u64;
                    labels.extend(predicted);
                }
                Role::Feedback { .. } => {
                    let (d, w) = (batch.x.ncols(), batch.cats.width());
                    let (mut xs, mut values) = (Vec::with_capacity((j - i) * d), Vec::new());
                    let (mut predicted, mut y) = (Vec::with_capacity(j - i), Vec::with_capacity(j - i));
                    for ((role, &record), &class) in roles.roles[i..j].iter().zip(&batch.ids[i..j]).zip(&truth[i..j]) {
                        let Role::Feedback { event, delay } = *role else { continue };
                        // The source joins only the events it let through, and every
                        // model sees every batch: a miss is a bug, not bad input.
                        let kept = state.waiting.remove(&event).ok_or_else(|| {
                            PipelineError::Delayed(format!("record {record}: its event (record {event}) is not kept"))
                        })?;
                        if kept.x.len() != d || kept.cats.len() != w {
                            return Err(PipelineError::Delayed(format!(
                                "event {event}: kept features of another width"
                            )));
                        }
                        xs.extend_from_slice(&kept.x);
                        values.extend(kept.cats.into_iter().map(|v| v.map(Arc::<str>::from)));
                        predicted.push(kept.prediction);
                        y.push(class);
                        learned_ids.push(record);
                        state.delays.record(delay);
                    }
                    let n = y.len();
                    let x = Array2::from_shape_vec((n, d), xs)
                        .map_err(|e| PipelineError::Delayed(format!("kept features: {e}")))?;
                    let cats = if w == 0 {
                        Categories::default()
                    } else {
                        Categories::new(Arc::clone(batch.cats.shared_names()), values, n)
                            .map_err(PipelineError::Delayed)?
                    };
                    let yv = ArrayView1::from(&y[..]);
                    let learned = match prequential {
                        Prequential::PerRow => m.learn_predict_with(x.view(), &cats, yv).map(|_| ()),
                        Prequential::PerBatch => m.partial_fit_with(x.view(), &cats, yv),
                        Prequential::Frozen => Ok(()),
                    };
                    learned.map_err(|e| refused(&self.name, batch, i..j, e))?;
                    if !m.state_is_finite() {
                        return Err(refused(&self.name, batch, i..j, ModelError::Overflow));
                    }
                    self.classification.update(&y, &predicted);
                    state.counts.learned += n as u64;
                    state.counts.correct += y.iter().zip(&predicted).filter(|(t, p)| t == p).count() as u64;
                }
                Role::Unknown => state.counts.unknown += (j - i) as u64,
                Role::Late => state.counts.late += (j - i) as u64,
                Role::Duplicate => state.counts.duplicates += (j - i) as u64,
            }
            i = j;
        }
        for &(event, reason) in &roles.expired {
            if state.waiting.remove(&event).is_some() {
                match reason {
                    ExpiryReason::Ttl => state.counts.expired_ttl += 1,
                    ExpiryReason::Capacity => state.counts.expired_capacity += 1,
                }
            }
        }
        if let Some(w) = self.watches.as_mut() {
            w.observe_trees(&self.name, &self.model, &learned_ids);
        }
        self.records += batch.len() as u64;
        if let Some(t) = self.tracker.as_mut() {
            let point =
                (self.classification.accuracy().unwrap_or(0.0), self.classification.rolling_accuracy().unwrap_or(0.0));
            let events = Arc::new(events_only(batch, roles));
            let model = &self.model;
            t.observe(&events, &labels, point, || model.as_clusterer().and_then(|m| m.centers_in_input_units()));
            t.observe_trees(model);
        }
        Ok(labels)
    }
}

/// The events of a batch, alone (for the tracker, which pairs rows with labels).
fn events_only(batch: &Batch, roles: &Roles) -> Batch {
    let keep: Vec<usize> = (0..batch.len()).filter(|&i| roles.roles[i] == Role::Event).collect();
    let x = batch.x.select(ndarray::Axis(0), &keep);
    let cats = if batch.cats.is_empty() {
        Categories::default()
    } else {
        let values = keep.iter().flat_map(|&i| batch.cats.row(i).iter().cloned()).collect();
        Categories::new(Arc::clone(batch.cats.shared_names()), values, keep.len()).unwrap_or_default()
    };
    Batch {
        seq: batch.seq,
        ids: keep.iter().map(|&i| batch.ids[i]).collect(),
        x,
        y: None,
        cats,
        end_offset: batch.end_offset,
        roles: None,
        keys: None,
    }
}

/// The record ids that get a label line: every record's, or only the events' with
/// delayed labels (feedback and skipped records get none).
pub(crate) fn labelled_ids(labelled: &Labelled) -> std::borrow::Cow<'_, [u64]> {
    let batch = &labelled.0;
    match batch.roles.as_deref() {
        None => std::borrow::Cow::Borrowed(&batch.ids),
        Some(roles) => std::borrow::Cow::Owned(
            batch.ids.iter().zip(&roles.roles).filter(|(_, r)| **r == Role::Event).map(|(&id, _)| id).collect(),
        ),
    }
}
