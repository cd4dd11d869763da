//! Delayed labels (issue #13): `POST /v1/predict` with `"ids"` keeps each record and
//! its prediction in a [`PendingStore`]; `POST /v1/feedback` brings the labels, and
//! the learner learns the records (through the same step as `/v1/learn`) and scores
//! the predictions made at arrival (the delayed prequential accuracy).
//!
//! The store lives in the learner thread, beside the model: inserts, labels, expiries
//! and checkpoints are then in one order, the queue's, so the answers (and what a
//! checkpoint holds) are those of a sequential run, with no lock to get wrong.
//!
//! Time is counted two ways, as the store does ([`Tick`]): records are the records
//! predicted with ids (each advances the service's record clock by one; a label comes
//! at the clock as it is), and milliseconds are the wall clock.

use super::body::{parse_json, IdsSeed, Label, LabelsSeed};
use super::ApiError;
use crate::pipeline::pending::{DelayQuantiles, PendingError, PendingStore, Resolution, Tick, Ttl};
use crate::record::Categories;
use ndarray::Array2;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

/// What the store keeps of a record while it waits: its numeric feature values and
/// its categorical ones, in the model's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingRow {
    /// The numeric feature values (NaN: missing, when the model fills them).
    pub x: Vec<f64>,
    /// The categorical values (`None`: missing).
    pub cats: Vec<Option<String>>,
}

/// A pending row as the service saved it before records had categorical values
/// (pending files of kind [`LEGACY_PENDING_KIND`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyPendingRow {
    x: Vec<f64>,
}

/// The body kind of the pending records saved beside a checkpoint (rows with their
/// categorical values).
pub const PENDING_KIND: &str = "service-pending-2";

/// The body kind of pending records saved before records had categorical values: read
/// as rows without any.
pub const LEGACY_PENDING_KIND: &str = "service-pending";

/// Read the pending records file at `path`, of either kind.
pub fn load_pending(
    path: &std::path::Path,
    keys: &crate::model_file::Keys,
) -> Result<(crate::model_file::Header, SavedPending), crate::model_file::ModelFileError> {
    use crate::model_file::{load, ModelFileError};
    match load::<SavedPending>(path, PENDING_KIND, keys) {
        Err(ModelFileError::Kind { found, .. }) if found == LEGACY_PENDING_KIND => {
            let (header, old): (_, LegacyPending) = load(path, LEGACY_PENDING_KIND, keys)?;
            let store = old.store.map_features(|row| PendingRow { x: row.x, cats: Vec::new() });
            Ok((header, SavedPending { store, correct: old.correct, duplicates: old.duplicates }))
        }
        other => other,
    }
}

pub use crate::pipeline::pending::{parse_label_ttl, LabelTtlError};

/// The label TTL as `/v1/model` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TtlInfo {
    /// A label may come this many records (predicted with ids) after its record.
    Records(u64),
    /// A label may come this many seconds after its record.
    Seconds(f64),
}

/// Quantiles of the delays in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SecondsQuantiles {
    /// The median.
    pub median: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The largest.
    pub max: f64,
}

/// The label delay distribution of the records learned by feedback.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DelayInfo {
    /// Delays measured (one per learned record).
    pub count: u64,
    /// True while the quantiles are exact (the first 10,000 delays; within 0.4 % after).
    pub exact: bool,
    /// In records predicted with ids.
    pub records: DelayQuantiles,
    /// In seconds.
    pub seconds: SecondsQuantiles,
}

/// The pending records and the delayed scores, in `GET /v1/model` (`"pending"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingInfo {
    /// Records waiting for their labels now.
    pub pending: u64,
    /// The most that may wait (`--max-pending`).
    pub max_pending: usize,
    /// How long a record waits (`--label-ttl`; `null`: until the store is full).
    pub label_ttl: Option<TtlInfo>,
    /// Records predicted with ids and kept.
    pub inserted: u64,
    /// Records learned by feedback.
    pub learned: u64,
    /// Records expired, for either reason.
    pub expired: u64,
    /// ... because their label did not come within the TTL.
    pub expired_ttl: u64,
    /// ... to make room in a full store (the oldest first).
    pub expired_capacity: u64,
    /// Feedback for a record that had expired (answered `expired`).
    pub late: u64,
    /// Feedback for an id not waiting (answered `unknown`).
    pub unknown: u64,
    /// Prediction requests refused because one of their ids was still waiting.
    pub duplicates: u64,
    /// Learned records whose prediction at arrival was right.
    pub correct: u64,
    /// `correct / learned`: the prequential accuracy on delayed labels (`null` before any).
    pub accuracy: Option<f64>,
    /// The label delays (`null` before any record is learned).
    pub delay: Option<DelayInfo>,
}

/// What became of one id of a feedback call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It was waiting: its prediction was scored and the model learned it.
    Learned,
    /// It had expired (TTL or a full store) before its label came: not learned.
    Expired,
    /// No record with this id is waiting (never predicted with it, or already learned).
    Unknown,
}

/// One id's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdOutcome {
    /// The id, as sent.
    pub id: String,
    /// What became of it.
    pub outcome: Outcome,
}

/// The answer to `POST /v1/feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedbackAnswer {
    /// One per id, in the order sent.
    pub outcomes: Vec<IdOutcome>,
    /// Ids learned.
    pub learned: u64,
    /// Ids that had expired.
    pub expired: u64,
    /// Ids unknown.
    pub unknown: u64,
    /// Records the model has learned after this call.
    pub records_seen: u64,
}

/// The pending records as a checkpoint saves them.
#[derive(Serialize)]
struct SavedRef<'a> {
    store: &'a PendingStore<PendingRow>,
    correct: u64,
    duplicates: u64,
}

/// The pending records as decoded, checked by [`Pending::restore`] before use.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPending {
    store: PendingStore<PendingRow>,
    correct: u64,
    duplicates: u64,
}

/// [`SavedPending`] of a [`LEGACY_PENDING_KIND`] file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyPending {
    store: PendingStore<LegacyPendingRow>,
    correct: u64,
    duplicates: u64,
}

/// The service's pending records and delayed scores (owned by the learner thread).
#[derive(Debug, Clone)]
pub struct Pending {
    store: PendingStore<PendingRow>,
    /// Learned records whose prediction at arrival was right.
    correct: u64,
    /// Requests refused because an id was waiting (refused before the store sees them).
    duplicates: u64,
    /// Changed since the last checkpoint.
    dirty: bool,
}

/// Milliseconds since the Unix epoch (0 for a clock set before it).
fn wall_millis() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

impl Pending {
    /// An empty store of at most `max_pending` records, each waiting at most `ttl`.
    pub fn new(max_pending: usize, ttl: Option<Ttl>) -> Result<Self, PendingError> {
        Ok(Self { store: PendingStore::new(max_pending, ttl)?, correct: 0, duplicates: 0, dirty: false })
    }

    /// The tick a label comes at now: the record clock as it is, the wall clock.
    fn now(&self) -> Tick {
        Tick::new(self.store.clock().record, wall_millis())
    }

    /// True when something changed since the last checkpoint.
    pub fn dirty(&self) -> bool {
        self.dirty
    }

    /// Keep records `x` (with their categorical values `cats`) with their `ids` and the
    /// `predictions` made for them. Refused, with nothing changed (but the count of
    /// duplicates), when an id repeats in the request or is still waiting, or when there
    /// are more records than the store holds.
    pub fn add(
        &mut self,
        ids: &[String],
        x: &Array2<f64>,
        cats: &Categories,
        predictions: &[i64],
    ) -> Result<(), ApiError> {
        let n = ids.len();
        if x.nrows() != n || predictions.len() != n || (!cats.is_empty() && cats.rows() != n) {
            return Err(ApiError::internal(format!("{n} ids for {} records", x.nrows())));
        }
        if n > self.store.max_pending() {
            return Err(ApiError::unprocessable(format!(
                "{n} records with ids: more than --max-pending ({}) may wait",
                self.store.max_pending()
            )));
        }
        let now = self.now();
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(n);
        for (i, id) in ids.iter().enumerate() {
            if let Some(j) = seen.insert(id.as_str(), i) {
                return Err(ApiError::unprocessable(format!(
                    "record {i}: id {id:?} is record {j}'s too: the ids of a request must differ"
                )));
            }
            // Still waiting at this tick (one past its TTL would simply be replaced).
            if self.store.peek(id, now).is_some() {
                self.duplicates += 1;
                self.dirty = true;
                return Err(ApiError::conflict(format!(
                    "record {i}: id {id:?} is already waiting for its label (send it with POST /v1/feedback first)"
                )));
            }
        }
        self.store.expire(now);
        for (i, id) in ids.iter().enumerate() {
            let at = Tick::new(now.record + 1 + i as u64, now.millis);
            let values = if cats.is_empty() { &[][..] } else { cats.row(i) };
            let row = PendingRow {
                x: x.row(i).to_vec(),
                cats: values.iter().map(|v| v.as_deref().map(String::from)).collect(),
            };
            // Cannot fail: the ids are checked (body) and none is waiting at `now`, so
            // none is at a later tick either.
            self.store
                .insert(id, row, predictions[i], at)
                .map_err(|e| ApiError::internal(format!("record {i}: keeping it: {e}")))?;
        }
        self.dirty = true;
        Ok(())
    }

    /// The tick to answer labels at, with the records past their TTL expired first.
    pub fn labels_come(&mut self) -> Tick {
        let now = self.now();
        if !self.store.expire(now).is_empty() {
            self.dirty = true;
        }
        now
    }

    /// The ids of `ids` that [`Self::resolve`] at `now` will learn (index in `ids`,
    /// and the kept row), changing nothing. An id sent twice is learned once, first.
    pub fn learnable(&self, ids: &[String], now: Tick) -> Vec<(usize, &PendingRow)> {
        let mut taken = std::collections::HashSet::new();
        ids.iter()
            .enumerate()
            .filter_map(|(i, id)| {
                let (row, _) = self.store.peek(id, now)?;
                taken.insert(id.as_str()).then_some((i, row))
            })
            .collect()
    }

    /// Answer the labels of `ids` at `now`: `truth[i]` is the class id of `ids[i]` when
    /// it was learned ([`Self::learnable`]). Learned predictions are scored against it.
    pub fn resolve(&mut self, ids: &[String], truth: &[Option<i64>], now: Tick, records_seen: u64) -> FeedbackAnswer {
        let mut answer = FeedbackAnswer {
            outcomes: Vec::with_capacity(ids.len()),
            learned: 0,
            expired: 0,
            unknown: 0,
            records_seen,
        };
        for (i, id) in ids.iter().enumerate() {
            let outcome = match self.store.resolve(id, now) {
                Resolution::Learn { prediction, .. } => {
                    self.correct += u64::from(truth.get(i).copied().flatten() == Some(prediction));
                    answer.learned += 1;
                    Outcome::Learned
                }
                Resolution::Expired { .. } => {
                    answer.expired += 1;
                    Outcome::Expired
                }
                Resolution::Unknown => {
                    answer.unknown += 1;
                    Outcome::Unknown
                }
            };
            answer.outcomes.push(IdOutcome { id: id.clone(), outcome });
        }
        self.dirty = true;
        answer
    }

    /// What `/v1/model` shows.
    pub fn info(&self) -> PendingInfo {
        let c = self.store.counts();
        let delay = self.store.delays().summary().map(|d| DelayInfo {
            count: d.count,
            exact: d.exact,
            records: d.records,
            seconds: SecondsQuantiles {
                median: d.millis.median as f64 / 1000.0,
                p99: d.millis.p99 as f64 / 1000.0,
                max: d.millis.max as f64 / 1000.0,
            },
        });
        PendingInfo {
            pending: c.pending,
            max_pending: self.store.max_pending(),
            label_ttl: self.store.ttl().map(|t| match t {
                Ttl::Records(n) => TtlInfo::Records(n),
                Ttl::Millis(ms) => TtlInfo::Seconds(ms as f64 / 1000.0),
            }),
            inserted: c.inserted,
            learned: c.learned,
            expired: c.expired(),
            expired_ttl: c.expired_ttl,
            expired_capacity: c.expired_capacity,
            late: c.late,
            unknown: c.unknown,
            duplicates: c.duplicates + self.duplicates,
            correct: self.correct,
            accuracy: (c.learned > 0).then(|| self.correct as f64 / c.learned as f64),
            delay,
        }
    }

    /// The state a checkpoint saves (see [`Self::saved_at_checkpoint`]).
    pub fn saved(&self) -> impl Serialize + '_ {
        SavedRef { store: &self.store, correct: self.correct, duplicates: self.duplicates }
    }

    /// The state is in a checkpoint now.
    pub fn saved_at_checkpoint(&mut self) {
        self.dirty = false;
    }

    /// Take up a checkpoint's pending records: refused when the store was set up with
    /// other `--max-pending`/`--label-ttl`, or holds rows that are not `n_features`
    /// numbers (finite, or NaN for a missing value when `missing`) and `n_categorical`
    /// categorical values (missing only when `missing`), or scores more than it learned.
    pub fn restore(
        &mut self,
        saved: SavedPending,
        n_features: usize,
        n_categorical: usize,
        missing: bool,
    ) -> Result<(), String> {
        let learned = saved.store.counts().learned;
        if saved.correct > learned {
            return Err(format!("{} predictions right of {learned} learned", saved.correct));
        }
        for (id, row) in saved.store.pending() {
            let number = |v: &f64| v.is_finite() || (missing && v.is_nan());
            if row.x.len() != n_features || !row.x.iter().all(number) {
                return Err(format!("record {id:?} is not {n_features} finite values"));
            }
            if row.cats.len() != n_categorical || (!missing && row.cats.iter().any(Option::is_none)) {
                return Err(format!(
                    "record {id:?} has {} categorical values, the model takes {n_categorical}{}",
                    row.cats.len(),
                    if missing { "" } else { " (none missing)" }
                ));
            }
        }
        let fresh = PendingStore::new(self.store.max_pending(), self.store.ttl()).map_err(|e| e.to_string())?;
        self.store = fresh.resumed(saved.store).map_err(|e| e.to_string())?;
        self.correct = saved.correct;
        self.duplicates = saved.duplicates;
        self.dirty = false;
        Ok(())
    }
}

/// A feedback body: `{"ids": [...], "labels": [...]}`, one label per id, at most
/// `max` of each. Refusals are positioned (`id 3: ...`, `record 2: ...`) and status 400
/// (malformed) or 413/422 as for records.
pub fn decode_feedback(body: &[u8], max: usize) -> Result<(Vec<String>, Vec<Label>), ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::bad(format!("the body is not UTF-8: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ApiError::bad("the body is empty: expected {\"ids\": [...], \"labels\": [...]}".into()));
    }
    let refusal = Cell::new(None);
    let (ids, labels) = parse_json(text, FeedbackSeed { max, refusal: &refusal }, &refusal)?;
    if ids.is_empty() {
        return Err(ApiError::bad("no ids: expected {\"ids\": [...], \"labels\": [...]}".into()));
    }
    if ids.len() != labels.len() {
        return Err(ApiError::unprocessable(format!(
            "{} ids but {} labels: give one label per id",
            ids.len(),
            labels.len()
        )));
    }
    Ok((ids, labels))
}

struct FeedbackSeed<'r> {
    max: usize,
    refusal: &'r Cell<Option<ApiError>>,
}

impl<'de> DeserializeSeed<'de> for FeedbackSeed<'_> {
    type Value = (Vec<String>, Vec<Label>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FeedbackSeed<'_> {
    type Value = (Vec<String>, Vec<Label>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object {\"ids\": [...], \"labels\": [...]}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut ids, mut labels) = (None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "ids" if ids.is_none() => {
                    ids = Some(map.next_value_seed(IdsSeed { max: self.max, refusal: self.refusal })?);
                }
                "labels" if labels.is_none() => {
                    labels = Some(map.next_value_seed(LabelsSeed { max: self.max, refusal: self.refusal })?);
                }
                "ids" | "labels" => return Err(A::Error::custom(format!("duplicate field `{key}`"))),
                other => return Err(A::Error::custom(format!("unknown field `{other}`, expected `ids` or `labels`"))),
            }
        }
        match (ids, labels) {
            (Some(ids), Some(labels)) => Ok((ids, labels)),
            (None, _) => Err(A::Error::custom("missing field `ids`")),
            (_, None) => Err(A::Error::custom("missing field `labels`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn label_ttls_are_records_or_seconds_and_nonsense_is_refused() {
        assert_eq!(parse_label_ttl("50000"), Ok(Ttl::Records(50_000)));
        assert_eq!(parse_label_ttl("3600s"), Ok(Ttl::Millis(3_600_000)));
        assert_eq!(parse_label_ttl("0.25s"), Ok(Ttl::Millis(250)));
        for bad in ["", "s", "ten", "1e3", "12x", "1.5", "NaNs", "infs"] {
            assert!(matches!(parse_label_ttl(bad), Err(LabelTtlError::Malformed(_))), "{bad:?}");
        }
        for bad in ["0", "-5", "0s", "-1s"] {
            assert!(matches!(parse_label_ttl(bad), Err(LabelTtlError::NotPositive(_))), "{bad:?}");
        }
        for bad in ["0.0001s", "99999999999s"] {
            assert!(matches!(parse_label_ttl(bad), Err(LabelTtlError::OutOfRange(_))), "{bad:?}");
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_refused_request_changes_nothing() {
        let mut p = Pending::new(3, Some(Ttl::Records(10))).expect("settings");
        let x = array![[1.0, 2.0], [3.0, 4.0]];
        p.add(&ids(&["a", "b"]), &x, &Categories::default(), &[0, 1]).expect("kept");
        let before = p.info();
        let e = p.add(&ids(&["c", "c"]), &x, &Categories::default(), &[0, 1]).expect_err("twice in one request");
        assert_eq!((e.status.as_u16(), e.message.contains("record 1: id \"c\" is record 0's")), (422, true));
        let e = p.add(&ids(&["c", "a"]), &x, &Categories::default(), &[0, 1]).expect_err("a is waiting");
        assert_eq!(e.status.as_u16(), 409);
        assert!(e.message.starts_with("record 1: id \"a\" is already waiting"), "{}", e.message);
        let e = p.add(
            &ids(&["c", "d", "e", "f"]),
            &array![[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],
            &Categories::default(),
            &[0; 4],
        );
        assert_eq!(e.expect_err("more than the store holds").status.as_u16(), 422);
        assert_eq!(p.info(), PendingInfo { duplicates: 1, ..before });
    }

    #[test]
    fn feedback_learns_what_was_waiting_once_and_scores_its_prediction() {
        let mut p = Pending::new(2, None).expect("settings");
        p.add(&ids(&["a", "b"]), &array![[1.0], [2.0]], &Categories::default(), &[1, 0]).expect("kept");
        // A third record: the oldest ("a") makes room.
        p.add(&ids(&["c"]), &array![[3.0]], &Categories::default(), &[1]).expect("kept");
        let now = p.labels_come();
        let sent = ids(&["b", "a", "zz", "b", "c"]);
        let learnable: Vec<(usize, Vec<f64>)> =
            p.learnable(&sent, now).into_iter().map(|(i, r)| (i, r.x.clone())).collect();
        assert_eq!(learnable, vec![(0, vec![2.0]), (4, vec![3.0])]);
        let answer = p.resolve(&sent, &[Some(0), None, None, None, Some(0)], now, 7);
        let outcomes: Vec<Outcome> = answer.outcomes.iter().map(|o| o.outcome).collect();
        use Outcome::*;
        assert_eq!(outcomes, [Learned, Expired, Unknown, Unknown, Learned]);
        assert_eq!((answer.learned, answer.expired, answer.unknown, answer.records_seen), (2, 1, 2, 7));
        let info = p.info();
        assert_eq!((info.pending, info.learned, info.correct, info.accuracy), (0, 2, 1, Some(0.5)));
        assert_eq!((info.expired_capacity, info.late, info.unknown), (1, 1, 2));
        // "b" arrived at record 2 and "c" at record 3; labels came at record 3.
        let delay = info.delay.expect("two delays");
        assert_eq!((delay.count, delay.records.median, delay.records.max), (2, 0, 1));
    }

    #[test]
    fn a_saved_store_comes_back_only_into_the_same_settings_and_checked() {
        let mut p = Pending::new(4, Some(Ttl::Records(5))).expect("settings");
        p.add(&ids(&["a", "7"]), &array![[1.0, 2.0], [3.0, 4.0]], &Categories::default(), &[1, 0]).expect("kept");
        assert!(p.dirty());
        let bytes = postcard::to_allocvec(&p.saved()).expect("encodes");
        p.saved_at_checkpoint();
        assert!(!p.dirty());
        let decode = || postcard::from_bytes::<SavedPending>(&bytes).expect("decodes");
        let mut back = Pending::new(4, Some(Ttl::Records(5))).expect("settings");
        back.restore(decode(), 2, 0, false).expect("the same settings");
        assert_eq!(back.info(), p.info());
        let now = back.labels_come();
        assert_eq!(back.learnable(&ids(&["7"]), now)[0].1.x, vec![3.0, 4.0]);
        let e = Pending::new(4, Some(Ttl::Records(6)))
            .expect("settings")
            .restore(decode(), 2, 0, false)
            .expect_err("other TTL");
        assert!(e.contains("is not this run's"), "{e}");
        let e = Pending::new(4, Some(Ttl::Records(5)))
            .expect("settings")
            .restore(decode(), 3, 0, false)
            .expect_err("width");
        assert!(e.contains("not 3 finite values"), "{e}");
    }

    #[test]
    fn pending_rows_keep_their_categories_and_old_files_are_still_read() {
        use std::sync::Arc;
        let mut p = Pending::new(4, None).expect("settings");
        let names: Arc<[String]> = Arc::from(vec!["city".to_string()]);
        let cats = Categories::new(names, vec![Some(Arc::from("rome")), None], 2).expect("2 x 1");
        p.add(&ids(&["a", "b"]), &array![[1.0], [f64::NAN]], &cats, &[0, 1]).expect("kept");
        let bytes = postcard::to_allocvec(&p.saved()).expect("encodes");
        let decode = || postcard::from_bytes::<SavedPending>(&bytes).expect("decodes");
        let mut back = Pending::new(4, None).expect("settings");
        back.restore(decode(), 1, 1, true).expect("an imputing model takes them");
        let now = back.labels_come();
        let rows: Vec<Vec<Option<String>>> =
            back.learnable(&ids(&["a", "b"]), now).into_iter().map(|(_, r)| r.cats.clone()).collect();
        assert_eq!(rows, vec![vec![Some("rome".to_string())], vec![None]]);
        let e = Pending::new(4, None).expect("settings").restore(decode(), 1, 1, false).expect_err("NaN");
        assert!(e.contains("not 1 finite values"), "{e}");
        let e = Pending::new(4, None).expect("settings").restore(decode(), 1, 2, true).expect_err("width");
        assert!(e.contains("has 1 categorical values, the model takes 2"), "{e}");

        // A file written before rows had categories.
        #[derive(Serialize)]
        struct OldRow {
            x: Vec<f64>,
        }
        #[derive(Serialize)]
        struct Old {
            store: PendingStore<OldRow>,
            correct: u64,
            duplicates: u64,
        }
        let mut store = PendingStore::new(4, None).expect("settings");
        store.insert("k", OldRow { x: vec![2.5] }, 1, Tick::new(1, 0)).expect("kept");
        let dir = std::env::temp_dir().join(format!("eddy-old-pending-{}", std::process::id()));
        let path = dir.join("state.eddy.pending");
        let keys = crate::model_file::Keys::default();
        let header = crate::model_file::Header::new(LEGACY_PENDING_KIND, vec!["a".into()], None, 0);
        crate::model_file::save(&path, &header, &Old { store, correct: 0, duplicates: 0 }, &keys).expect("saves");
        let (_, saved) = load_pending(&path, &keys).expect("an old file is read");
        let mut back = Pending::new(4, None).expect("settings");
        back.restore(saved, 1, 0, false).expect("a numeric model takes it");
        let now = back.labels_come();
        let kept: Vec<PendingRow> = back.learnable(&ids(&["k"]), now).into_iter().map(|(_, r)| r.clone()).collect();
        assert_eq!(kept, vec![PendingRow { x: vec![2.5], cats: Vec::new() }]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn feedback_bodies_are_checked_with_positions() {
        let (i, l) = decode_feedback(br#"{"labels": ["ok", 2], "ids": ["a", 17]}"#, 10).expect("decodes");
        assert_eq!((i, l), (ids(&["a", "17"]), vec![Label::Name("ok".into()), Label::Id(2)]));
        // 17.0 is an integer to JSON Schema (and to the OpenAPI document): the same id.
        let (i, _) = decode_feedback(br#"{"labels": [1, 2], "ids": [17.0, -3.0]}"#, 10).expect("decodes");
        assert_eq!(i, ids(&["17", "-3"]));
        let refused = |body: &str| {
            let e = decode_feedback(body.as_bytes(), 2).expect_err("refused");
            (e.status.as_u16(), e.message)
        };
        assert_eq!(refused(r#"{"ids": ["a"], "labels": [1, 2]}"#).0, 422);
        assert!(refused(r#"{"ids": ["a"], "labels": [1, 2]}"#).1.contains("1 ids but 2 labels"));
        let (status, message) = refused(r#"{"ids": ["a", ""], "labels": [1, 2]}"#);
        assert_eq!((status, message.as_str()), (422, "id 1 (record 1): an empty id"));
        let (status, message) = refused(r#"{"ids": ["a", 1.5], "labels": [1, 2]}"#);
        assert!(status == 400 && message.starts_with("id 1: invalid type: floating point"), "{message}");
        assert_eq!(refused(r#"{"ids": ["a", "b", "c"], "labels": [1, 2, 3]}"#).0, 413);
        assert!(refused(r#"{"ids": ["a"]}"#).1.contains("missing field `labels`"));
        assert!(refused(r#"{"ids": ["a"], "labels": [1], "x": 1}"#).1.contains("unknown field `x`"));
        assert_eq!(refused("[1, 2]").0, 400);
        assert_eq!(refused("").0, 400);
        assert_eq!(refused(r#"{"ids": [], "labels": []}"#).0, 400);
        let long = format!(r#"{{"ids": ["{}"], "labels": [1]}}"#, "x".repeat(1025));
        assert_eq!(refused(&long).0, 422);
    }
}
