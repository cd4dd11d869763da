//! Events that wait for their labels (issue #13, "labels that arrive later").
//!
//! An *event* is a record with features and an id but no label yet: a model labels it
//! when it arrives, and that prediction is the one scored (River's delayed evaluation).
//! Its *feedback* (the id and the label) comes later; only then does the model learn the
//! record. Meanwhile the event waits in a [`PendingStore`], keyed by its id.
//!
//! # Outcomes
//!
//! - [`PendingStore::insert`] keeps an event. An id that is still pending is refused
//!   ([`PendingError::Duplicate`]: the caller rejects the record). A full store makes
//!   room by expiring its oldest event, which is handed back ([`Insert::Evicted`]).
//! - [`PendingStore::expire`] expires the events older than the TTL, oldest first.
//! - [`PendingStore::resolve`] answers a label: [`Resolution::Learn`] with the event's
//!   features, the prediction made at its arrival and the label's delay;
//!   [`Resolution::Expired`] when the event expired before its label came (late);
//!   [`Resolution::Unknown`] for an id never seen, already learned, or expired so long
//!   ago that it is forgotten (see [`PendingStore`] for the bound).
//!
//! No event is lost silently: each ends exactly once, learned or expired, and every
//! expiry is reported exactly once (by `insert`, `expire` or `resolve`), so the caller can
//! count it and list it in its rejects file.
//!
//! # Time
//!
//! The caller supplies every [`Tick`] (record index and wall clock), so a replay and a
//! resumed run decide exactly as the original. The store keeps a clock, the largest tick
//! seen (per component); an earlier tick counts as the clock, so a wall clock that steps
//! back never reorders arrivals nor gives a negative delay.
//!
//! # Ids
//!
//! An id is taken as written: no trimming, case folding or Unicode normalisation, so
//! `A1`, `a1` and ` A1` are three ids. A caller reading JSON decides how a number id is
//! written (`42` and `"42"` meet only if it writes both as `42`). The empty id and ids
//! over [`MAX_ID_BYTES`] are refused. An id that comes back after its event was learned or
//! expired starts a new event.
//!
//! # Scoring
//!
//! [`Resolution::Learn`] carries the prediction made at arrival: the caller scores it with
//! `ClassificationMetrics::update(&[truth], &[prediction])` before learning. Accuracy thus
//! counts only the resolved events; expired ones are in [`PendingCounts`], not in the
//! accuracy. The delays of learned events go to the store's [`DelayStats`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::{HashMap, VecDeque};

/// The largest `max_pending` a store takes (a bound for decoded states, not advice: each
/// pending event holds its features).
pub const MAX_PENDING: usize = 1 << 26;

/// The longest id, in bytes (UTF-8). Ids are kept in memory, so they are bounded too.
pub const MAX_ID_BYTES: usize = 1024;

/// More events than any stream holds; a decoded count above it is damage (the same
/// bound as the classification scores').
const MAX_COUNT: u64 = 1 << 48;

/// Stale queue slots allowed beyond the live ones before the queue is compacted.
const SLACK: usize = 64;

/// A moment of the stream: the record index and a wall clock in milliseconds, both
/// supplied by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tick {
    /// Index of the record in the input (or a request counter in the service).
    pub record: u64,
    /// Milliseconds on the caller's clock.
    pub millis: u64,
}

impl Tick {
    /// The tick of record `record` at `millis`.
    pub fn new(record: u64, millis: u64) -> Self {
        Self { record, millis }
    }

    /// True when both components are at most `other`'s.
    fn not_after(self, other: Tick) -> bool {
        self.record <= other.record && self.millis <= other.millis
    }
}

/// How long an event waits for its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ttl {
    /// A label may come up to this many records after its event (`--label-ttl 1000`).
    Records(u64),
    /// A label may come up to this many milliseconds after its event.
    Millis(u64),
}

/// Why a `--label-ttl` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelTtlError {
    /// Neither a whole number of records nor seconds with `s`.
    #[error("--label-ttl {0:?}: expected a number of records (50000) or of seconds (3600s, 0.5s)")]
    Malformed(String),
    /// Zero (every record would expire before its label) or less.
    #[error("--label-ttl {0:?}: must be more than 0")]
    NotPositive(String),
    /// Longer than a year of seconds (or under a millisecond).
    #[error("--label-ttl {0:?}: seconds must be from 0.001 to a year")]
    OutOfRange(String),
}

/// Parse `--label-ttl`: `50000` (records) or `3600s` (seconds, to the millisecond).
pub fn parse_label_ttl(text: &str) -> Result<Ttl, LabelTtlError> {
    const YEAR_MS: f64 = 365.0 * 24.0 * 3600.0 * 1000.0;
    let t = text.trim();
    if let Some(secs) = t.strip_suffix('s') {
        let secs: f64 = secs.trim().parse().map_err(|_| LabelTtlError::Malformed(text.into()))?;
        if !secs.is_finite() {
            return Err(LabelTtlError::Malformed(text.into()));
        }
        if secs <= 0.0 {
            return Err(LabelTtlError::NotPositive(text.into()));
        }
        let ms = (secs * 1000.0).round();
        if !(1.0..=YEAR_MS).contains(&ms) {
            return Err(LabelTtlError::OutOfRange(text.into()));
        }
        // In 1..=YEAR_MS, so the conversion is exact.
        return Ok(Ttl::Millis(ms as u64));
    }
    if t.starts_with('-') {
        return Err(LabelTtlError::NotPositive(text.into()));
    }
    match t.parse::<u64>() {
        Ok(0) => Err(LabelTtlError::NotPositive(text.into())),
        Ok(n) => Ok(Ttl::Records(n)),
        Err(_) => Err(LabelTtlError::Malformed(text.into())),
    }
}

/// Why an event expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpiryReason {
    /// Its label did not come within the TTL.
    Ttl,
    /// The store was full and it was the oldest event.
    Capacity,
}

impl ExpiryReason {
    /// The reason's name, as counts and rejects write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ttl => "ttl",
            Self::Capacity => "capacity",
        }
    }
}

/// An event that expired before its label came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expired {
    /// Its id.
    pub id: String,
    /// When it arrived.
    pub arrived: Tick,
    /// When it expired.
    pub at: Tick,
    /// Why.
    pub reason: ExpiryReason,
}

/// What [`PendingStore::insert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insert {
    /// The event is pending.
    Stored,
    /// The event is pending, and another one expired to make room: the oldest event of a
    /// full store (reason [`ExpiryReason::Capacity`], or [`ExpiryReason::Ttl`] when it
    /// had outlived its TTL already), or an earlier event with the same id that had
    /// outlived its TTL (reason [`ExpiryReason::Ttl`]).
    Evicted(Expired),
}

/// How long a label took: from its event's arrival to its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delay {
    /// Records between the event and its label.
    pub records: u64,
    /// Milliseconds between them.
    pub millis: u64,
}

/// The answer to a label ([`PendingStore::resolve`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution<F> {
    /// The event was pending: learn `features` with the label, and score `prediction`
    /// (made when the event arrived) against it.
    Learn {
        /// What the caller kept of the event.
        features: F,
        /// The label the model gave the event when it arrived (possibly
        /// [`crate::NO_PREDICTION`], which scores as a miss).
        prediction: i64,
        /// How late the label is.
        delay: Delay,
    },
    /// The event expired before its label came: the label is late, nothing is learned.
    Expired {
        /// The event's expiry.
        expired: Expired,
        /// True when this call expired it (it had outlived its TTL but `expire` was not
        /// called at this tick first): this is then the only report of the expiry. False
        /// when `insert` or `expire` reported it earlier.
        newly: bool,
    },
    /// No such event: never seen, already learned, refused, or expired and forgotten.
    Unknown,
}

/// Why a store refused an event or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PendingError {
    /// An event whose id is still pending: the caller rejects the record.
    #[error("id {id:?} is already waiting for its label (its event arrived at record {})", arrived.record)]
    Duplicate {
        /// The id.
        id: String,
        /// When the pending event with this id arrived.
        arrived: Tick,
    },
    /// An event with an empty id.
    #[error("an event with an empty id")]
    EmptyId,
    /// An id longer than [`MAX_ID_BYTES`].
    #[error("an id of {0} bytes (at most {MAX_ID_BYTES})")]
    IdTooLong(usize),
    /// `max_pending` outside 1..=[`MAX_PENDING`].
    #[error("--max-pending must be from 1 to {MAX_PENDING}, got {0}")]
    MaxPending(usize),
    /// A TTL of 0 would expire every event before its label.
    #[error("--label-ttl must be at least 1")]
    ZeroTtl,
    /// A checkpoint's store was set up otherwise than this run's.
    #[error("the checkpoint's pending store ({saved}) is not this run's ({now})")]
    Mismatch {
        /// The checkpoint's settings.
        saved: String,
        /// This run's.
        now: String,
    },
}

/// The store's counts. Every accepted event is pending, learned or expired:
/// `inserted == pending + learned + expired_ttl + expired_capacity`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingCounts {
    /// Events waiting now.
    pub pending: u64,
    /// Events accepted (duplicates and bad ids not included).
    pub inserted: u64,
    /// Events learned: their label came in time.
    pub learned: u64,
    /// Events expired because their label did not come within the TTL.
    pub expired_ttl: u64,
    /// Events expired to make room in a full store.
    pub expired_capacity: u64,
    /// Labels that came after their event expired (answered [`Resolution::Expired`]).
    pub late: u64,
    /// Labels for no known event (answered [`Resolution::Unknown`]).
    pub unknown: u64,
    /// Events refused because their id was still pending.
    pub duplicates: u64,
}

impl PendingCounts {
    /// Events expired, for either reason.
    pub fn expired(&self) -> u64 {
        self.expired_ttl + self.expired_capacity
    }
}

/// A pending event.
#[derive(Debug, Clone)]
struct Entry<F> {
    /// Its slot in the arrival queue: a queue slot whose number differs is stale.
    seq: u64,
    arrived: Tick,
    prediction: i64,
    features: F,
}

/// What is remembered of an expired event.
#[derive(Debug, Clone, Copy)]
struct Gone {
    seq: u64,
    arrived: Tick,
    at: Tick,
    reason: ExpiryReason,
}

/// Events waiting for their labels, keyed by id (see the [module](self)).
///
/// - `F` is what the caller keeps of an event (its feature row, say).
/// - Each operation is O(1) amortised: a hash map by id, and a queue in arrival order
///   whose slots of learned events are skipped when they reach its front (lazy deletion)
///   and dropped in one pass when they outnumber the live ones.
/// - Memory is bounded: at most `max_pending` events, and the ids of the last
///   `max_pending` expired events (without their features), so that a late label is
///   answered [`Resolution::Expired`]; a label later than that is [`Resolution::Unknown`].
/// - It is saved in checkpoints: it serialises canonically (the live events in arrival
///   order, the remembered expiries oldest first) and a decoded store is checked before
///   it is used.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "StoreParts<F>", bound(deserialize = "F: DeserializeOwned"))]
pub struct PendingStore<F> {
    max_pending: usize,
    ttl: Option<Ttl>,
    clock: Tick,
    counts: PendingCounts,
    entries: HashMap<String, Entry<F>>,
    /// (seq, id) in arrival order; a slot is live when `entries[id].seq == seq`.
    order: VecDeque<(u64, String)>,
    /// Recently expired ids; at most `max_pending`.
    gone: HashMap<String, Gone>,
    /// (seq, id) in expiry order; a slot is live when `gone[id].seq == seq`.
    gone_order: VecDeque<(u64, String)>,
    next_seq: u64,
    delays: DelayStats,
}

fn check_id(id: &str) -> Result<(), PendingError> {
    match id.len() {
        0 => Err(PendingError::EmptyId),
        n if n > MAX_ID_BYTES => Err(PendingError::IdTooLong(n)),
        _ => Ok(()),
    }
}

impl<F> PendingStore<F> {
    /// A store of at most `max_pending` events, each waiting at most `ttl` (`None`: until
    /// the store is full).
    pub fn new(max_pending: usize, ttl: Option<Ttl>) -> Result<Self, PendingError> {
        if !(1..=MAX_PENDING).contains(&max_pending) {
            return Err(PendingError::MaxPending(max_pending));
        }
        if matches!(ttl, Some(Ttl::Records(0) | Ttl::Millis(0))) {
            return Err(PendingError::ZeroTtl);
        }
        Ok(Self {
            max_pending,
            ttl,
            clock: Tick::default(),
            counts: PendingCounts::default(),
            entries: HashMap::new(),
            order: VecDeque::new(),
            gone: HashMap::new(),
            gone_order: VecDeque::new(),
            next_seq: 0,
            delays: DelayStats::new(),
        })
    }

    /// This (fresh) store's settings with a checkpoint's state, when the checkpoint's
    /// store has the same settings; refused otherwise (its answers would differ).
    pub fn resumed(self, saved: PendingStore<F>) -> Result<Self, PendingError> {
        if (saved.max_pending, saved.ttl) != (self.max_pending, self.ttl) {
            return Err(PendingError::Mismatch { saved: saved.describe(), now: self.describe() });
        }
        Ok(saved)
    }

    /// The settings, as one line.
    fn describe(&self) -> String {
        let ttl = match self.ttl {
            None => "no TTL".to_string(),
            Some(Ttl::Records(n)) => format!("TTL {n} records"),
            Some(Ttl::Millis(n)) => format!("TTL {n} ms"),
        };
        format!("max {} pending, {ttl}", self.max_pending)
    }

    /// The most events it holds.
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    /// How long an event waits.
    pub fn ttl(&self) -> Option<Ttl> {
        self.ttl
    }

    /// The latest tick seen (per component).
    pub fn clock(&self) -> Tick {
        self.clock
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no event waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The same store, with what is kept of each event changed by `f`: how a caller
    /// reads a store saved by an older version of its `F`.
    pub fn map_features<G>(self, mut f: impl FnMut(F) -> G) -> PendingStore<G> {
        let entries = self
            .entries
            .into_iter()
            .map(|(id, e)| {
                let entry = Entry { seq: e.seq, arrived: e.arrived, prediction: e.prediction, features: f(e.features) };
                (id, entry)
            })
            .collect();
        PendingStore {
            max_pending: self.max_pending,
            ttl: self.ttl,
            clock: self.clock,
            counts: self.counts,
            entries,
            order: self.order,
            gone: self.gone,
            gone_order: self.gone_order,
            next_seq: self.next_seq,
            delays: self.delays,
        }
    }

    /// The pending events (id and what the caller kept), in arrival order: for a caller
    /// that checks what a decoded store holds.
    pub fn pending(&self) -> impl Iterator<Item = (&str, &F)> {
        self.pending_in_order().map(|(id, e)| (id, &e.features))
    }

    /// True when an event with this id waits.
    pub fn contains(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// The counts so far.
    pub fn counts(&self) -> PendingCounts {
        PendingCounts { pending: self.entries.len() as u64, ..self.counts }
    }

    /// The delays of the labels learned so far.
    pub fn delays(&self) -> &DelayStats {
        &self.delays
    }

    /// Keep the event `id` (its `features` and the `prediction` made for it) that arrived
    /// at `at`. Refused when the id is bad or still pending (the store is then unchanged
    /// but for its clock and the duplicate count).
    pub fn insert(&mut self, id: &str, features: F, prediction: i64, at: Tick) -> Result<Insert, PendingError> {
        check_id(id)?;
        let now = self.advance(at);
        let displaced = match self.entries.get(id) {
            Some(e) if !self.outlived(e.arrived, now) => {
                self.counts.duplicates += 1;
                return Err(PendingError::Duplicate { id: id.to_string(), arrived: e.arrived });
            }
            // The same id, past its TTL: that event is over, this one starts.
            Some(_) => self.retire(id.to_string(), now, ExpiryReason::Ttl),
            None if self.entries.len() >= self.max_pending => self.evict_oldest(now),
            None => None,
        };
        // A new event with a remembered id: a label for it is this event's.
        self.gone.remove(id);
        let seq = self.take_seq();
        self.entries.insert(id.to_string(), Entry { seq, arrived: now, prediction, features });
        self.order.push_back((seq, id.to_string()));
        self.counts.inserted += 1;
        self.compact();
        Ok(displaced.map_or(Insert::Stored, Insert::Evicted))
    }

    /// Expire the events whose label has not come within the TTL at `now`, oldest first.
    pub fn expire(&mut self, now: Tick) -> Vec<Expired> {
        let now = self.advance(now);
        let mut expired = Vec::new();
        while let Some(arrived) = self.live_front() {
            if !self.outlived(arrived, now) {
                break;
            }
            let Some((_, id)) = self.order.pop_front() else { break };
            expired.extend(self.retire(id, now, ExpiryReason::Ttl));
        }
        self.compact();
        expired
    }

    /// What [`Self::resolve`]`(id, now)` would learn (the event's features and the
    /// prediction made at its arrival), changing nothing: a caller that must learn
    /// before it commits the resolution (and may fail to) looks first.
    pub fn peek(&self, id: &str, now: Tick) -> Option<(&F, i64)> {
        let now = Tick { record: self.clock.record.max(now.record), millis: self.clock.millis.max(now.millis) };
        self.entries.get(id).filter(|e| !self.outlived(e.arrived, now)).map(|e| (&e.features, e.prediction))
    }

    /// Answer the label of event `id`, come at `now`.
    pub fn resolve(&mut self, id: &str, now: Tick) -> Resolution<F> {
        let now = self.advance(now);
        if let Some(e) = self.entries.get(id) {
            if self.outlived(e.arrived, now) {
                self.counts.late += 1;
                let expired = self.retire(id.to_string(), now, ExpiryReason::Ttl);
                self.compact();
                // `retire` finds the entry: it was just looked up.
                return expired.map_or(Resolution::Unknown, |expired| Resolution::Expired { expired, newly: true });
            }
        }
        if let Some(e) = self.entries.remove(id) {
            let delay = Delay {
                records: now.record.saturating_sub(e.arrived.record),
                millis: now.millis.saturating_sub(e.arrived.millis),
            };
            self.counts.learned += 1;
            self.delays.record(delay);
            self.compact();
            return Resolution::Learn { features: e.features, prediction: e.prediction, delay };
        }
        if let Some(g) = self.gone.get(id) {
            self.counts.late += 1;
            let expired = Expired { id: id.to_string(), arrived: g.arrived, at: g.at, reason: g.reason };
            return Resolution::Expired { expired, newly: false };
        }
        self.counts.unknown += 1;
        Resolution::Unknown
    }

    /// Move the clock to `t` (per component, never back) and give the tick that counts.
    fn advance(&mut self, t: Tick) -> Tick {
        self.clock = Tick { record: self.clock.record.max(t.record), millis: self.clock.millis.max(t.millis) };
        self.clock
    }

    /// True when an event that arrived at `arrived` is past its TTL at `now`.
    fn outlived(&self, arrived: Tick, now: Tick) -> bool {
        match self.ttl {
            None => false,
            Some(Ttl::Records(n)) => now.record.saturating_sub(arrived.record) > n,
            Some(Ttl::Millis(n)) => now.millis.saturating_sub(arrived.millis) > n,
        }
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// The arrival of the oldest pending event, dropping stale slots before it.
    fn live_front(&mut self) -> Option<Tick> {
        while let Some((seq, id)) = self.order.front() {
            match self.entries.get(id) {
                Some(e) if e.seq == *seq => return Some(e.arrived),
                _ => {
                    self.order.pop_front();
                }
            }
        }
        None
    }

    /// Expire the oldest event to make room (its reason is the TTL if it had outlived it).
    fn evict_oldest(&mut self, now: Tick) -> Option<Expired> {
        let arrived = self.live_front()?;
        let reason = if self.outlived(arrived, now) { ExpiryReason::Ttl } else { ExpiryReason::Capacity };
        let (_, id) = self.order.pop_front()?;
        self.retire(id, now, reason)
    }

    /// End the pending event `id` as expired: count it and remember its id.
    fn retire(&mut self, id: String, now: Tick, reason: ExpiryReason) -> Option<Expired> {
        let e = self.entries.remove(&id)?;
        match reason {
            ExpiryReason::Ttl => self.counts.expired_ttl += 1,
            ExpiryReason::Capacity => self.counts.expired_capacity += 1,
        }
        let seq = self.take_seq();
        self.gone.insert(id.clone(), Gone { seq, arrived: e.arrived, at: now, reason });
        self.gone_order.push_back((seq, id.clone()));
        while self.gone.len() > self.max_pending {
            let Some((seq, old)) = self.gone_order.pop_front() else { break };
            if self.gone.get(&old).is_some_and(|g| g.seq == seq) {
                self.gone.remove(&old);
            }
        }
        Some(Expired { id, arrived: e.arrived, at: now, reason })
    }

    /// Drop stale queue slots once they outnumber the live ones (so each slot is dropped
    /// once: O(1) amortised, and the queues stay within twice the live entries).
    fn compact(&mut self) {
        if self.order.len() > 2 * self.entries.len() + SLACK {
            let entries = &self.entries;
            self.order.retain(|(seq, id)| entries.get(id).is_some_and(|e| e.seq == *seq));
        }
        if self.gone_order.len() > 2 * self.gone.len() + SLACK {
            let gone = &self.gone;
            self.gone_order.retain(|(seq, id)| gone.get(id).is_some_and(|g| g.seq == *seq));
        }
    }

    /// The live pending events in arrival order.
    fn pending_in_order(&self) -> impl Iterator<Item = (&str, &Entry<F>)> {
        self.order
            .iter()
            .filter_map(|(seq, id)| self.entries.get(id).filter(|e| e.seq == *seq).map(|e| (id.as_str(), e)))
    }

    /// The remembered expiries, oldest first.
    fn gone_in_order(&self) -> impl Iterator<Item = Expired> + '_ {
        self.gone_order.iter().filter_map(|(seq, id)| {
            self.gone.get(id).filter(|g| g.seq == *seq).map(|g| Expired {
                id: id.clone(),
                arrived: g.arrived,
                at: g.at,
                reason: g.reason,
            })
        })
    }
}

/// A pending event as saved.
#[derive(Serialize)]
struct SavedEntryRef<'a, F> {
    id: &'a str,
    arrived: Tick,
    prediction: i64,
    features: &'a F,
}

/// A pending event as decoded.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedEntry<F> {
    id: String,
    arrived: Tick,
    prediction: i64,
    features: F,
}

/// The store as saved (the same fields, in the same order, as [`StoreParts`]).
#[derive(Serialize)]
struct StoreRef<'a, F> {
    max_pending: usize,
    ttl: Option<Ttl>,
    clock: Tick,
    counts: PendingCounts,
    pending: Vec<SavedEntryRef<'a, F>>,
    expired: Vec<Expired>,
    delays: &'a DelayStats,
}

/// The store as decoded, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "F: DeserializeOwned"))]
struct StoreParts<F> {
    max_pending: usize,
    ttl: Option<Ttl>,
    clock: Tick,
    counts: PendingCounts,
    pending: Vec<SavedEntry<F>>,
    expired: Vec<Expired>,
    delays: DelayStats,
}

impl<F: Serialize> Serialize for PendingStore<F> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoreRef {
            max_pending: self.max_pending,
            ttl: self.ttl,
            clock: self.clock,
            counts: self.counts(),
            pending: self
                .pending_in_order()
                .map(|(id, e)| SavedEntryRef {
                    id,
                    arrived: e.arrived,
                    prediction: e.prediction,
                    features: &e.features,
                })
                .collect(),
            expired: self.gone_in_order().collect(),
            delays: &self.delays,
        }
        .serialize(serializer)
    }
}

impl<F> TryFrom<StoreParts<F>> for PendingStore<F> {
    type Error = String;
    fn try_from(p: StoreParts<F>) -> Result<Self, String> {
        let mut store = Self::new(p.max_pending, p.ttl).map_err(|e| format!("a pending store: {e}"))?;
        let c = p.counts;
        let fields =
            [c.pending, c.inserted, c.learned, c.expired_ttl, c.expired_capacity, c.late, c.unknown, c.duplicates];
        if fields.iter().any(|&n| n >= MAX_COUNT) {
            return Err("a pending store with a count out of range".into());
        }
        // Below 2^48 each, so these sums cannot overflow.
        let ended = c.pending + c.learned + c.expired_ttl + c.expired_capacity;
        if ended != c.inserted || c.pending != p.pending.len() as u64 || c.learned != p.delays.count() {
            return Err(format!(
                "a pending store whose counts do not add up ({} pending, {} inserted, {} learned, {} expired, {} delays)",
                p.pending.len(),
                c.inserted,
                c.learned,
                c.expired(),
                p.delays.count()
            ));
        }
        if p.pending.len() > p.max_pending || p.expired.len() > p.max_pending {
            return Err(format!(
                "a pending store holding {} events and {} expired ids (at most {} each)",
                p.pending.len(),
                p.expired.len(),
                p.max_pending
            ));
        }
        let remembered = |reason| p.expired.iter().filter(|x| x.reason == reason).count() as u64;
        if remembered(ExpiryReason::Ttl) > c.expired_ttl || remembered(ExpiryReason::Capacity) > c.expired_capacity {
            return Err("a pending store remembering more expiries than it counts".into());
        }
        store.clock = p.clock;
        store.counts = c;
        let mut last = Tick::default();
        for e in p.pending {
            check_id(&e.id).map_err(|err| format!("a pending event: {err}"))?;
            // Arrivals are in order, and not after the clock: expiry scans the front.
            if !last.not_after(e.arrived) || !e.arrived.not_after(p.clock) {
                return Err(format!("pending event {:?}: an arrival out of order or after the clock", e.id));
            }
            last = e.arrived;
            let seq = store.take_seq();
            let entry = Entry { seq, arrived: e.arrived, prediction: e.prediction, features: e.features };
            if store.entries.insert(e.id.clone(), entry).is_some() {
                return Err(format!("pending event {:?} twice", e.id));
            }
            store.order.push_back((seq, e.id));
        }
        let mut last = Tick::default();
        for x in p.expired {
            check_id(&x.id).map_err(|err| format!("an expired event: {err}"))?;
            if !x.arrived.not_after(x.at) || !last.not_after(x.at) || !x.at.not_after(p.clock) {
                return Err(format!("expired event {:?}: ticks out of order or after the clock", x.id));
            }
            last = x.at;
            if store.entries.contains_key(&x.id) {
                return Err(format!("event {:?} both pending and expired", x.id));
            }
            let seq = store.take_seq();
            let gone = Gone { seq, arrived: x.arrived, at: x.at, reason: x.reason };
            if store.gone.insert(x.id.clone(), gone).is_some() {
                return Err(format!("expired event {:?} twice", x.id));
            }
            store.gone_order.push_back((seq, x.id));
        }
        store.delays = p.delays;
        Ok(store)
    }
}

/// Delays kept exactly, before a [`DelaySketch`] switches to its histogram.
pub const EXACT_DELAYS: usize = 10_000;

/// Bits of each value kept by the histogram: values under `2^(SUB_BITS+1)` are exact,
/// larger ones fall in buckets `2^-SUB_BITS` of their value wide.
const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
/// Buckets of the histogram: `2^SUB_BITS` per power of two, up to `u64::MAX`.
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

/// The bucket of `v` (a log-linear histogram, as HDR Histogram's).
fn bucket_of(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let shift = 63 - v.leading_zeros() - SUB_BITS;
    // (v >> shift) is in [SUB, 2 SUB): the value's top SUB_BITS + 1 bits.
    shift as usize * SUB + (v >> shift) as usize
}

/// The smallest value of bucket `b` and the bucket's width.
fn bucket_range(b: usize) -> (u64, u64) {
    if b < 2 * SUB {
        return (b as u64, 1);
    }
    let shift = (b / SUB - 1) as u32;
    let top = (b % SUB + SUB) as u64;
    (top << shift, 1 << shift)
}

/// The distribution of one kind of delay: count, quantiles and maximum.
///
/// Exact for the first [`EXACT_DELAYS`] values (the values themselves are kept, and a
/// quantile sorts a copy). From then on a log-linear histogram (as HDR Histogram's) with
/// 128 buckets per power of two, at most 7,424 buckets whatever the stream's length:
/// values under 256 stay exact, and a quantile is the midpoint of the bucket holding the
/// exact nearest-rank value `v` (clamped to the maximum), off by at most `v / 256`
/// (0.4 %). The count and the maximum are always exact. No random draws, so a replay
/// gives the same numbers, unlike a reservoir's sample, whose quantiles are only probably
/// close.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SketchParts")]
pub struct DelaySketch {
    count: u64,
    max: u64,
    /// The values, while there are at most [`EXACT_DELAYS`].
    exact: Vec<u64>,
    /// (bucket, count) sorted by bucket, counts > 0, once past [`EXACT_DELAYS`].
    buckets: Vec<(u16, u64)>,
}

/// A sketch as decoded, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SketchParts {
    count: u64,
    max: u64,
    exact: Vec<u64>,
    buckets: Vec<(u16, u64)>,
}

impl TryFrom<SketchParts> for DelaySketch {
    type Error = String;
    fn try_from(p: SketchParts) -> Result<Self, String> {
        if p.count >= MAX_COUNT {
            return Err("a delay count out of range".into());
        }
        let fits = if p.count <= EXACT_DELAYS as u64 {
            p.buckets.is_empty()
                && p.exact.len() as u64 == p.count
                && p.exact.iter().max().copied().unwrap_or(0) == p.max
        } else {
            let ordered = p.buckets.windows(2).all(|w| w[0].0 < w[1].0);
            let in_range = p.buckets.iter().all(|&(b, n)| usize::from(b) < BUCKETS && n > 0);
            let total = p.buckets.iter().try_fold(0u64, |a, &(_, n)| a.checked_add(n));
            p.exact.is_empty()
                && ordered
                && in_range
                && total == Some(p.count)
                && p.buckets.last().is_some_and(|&(b, _)| usize::from(b) == bucket_of(p.max))
        };
        if !fits {
            return Err(format!("a delay distribution of {} values that does not fit together", p.count));
        }
        Ok(Self { count: p.count, max: p.max, exact: p.exact, buckets: p.buckets })
    }
}

impl DelaySketch {
    /// An empty distribution.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a value.
    pub fn insert(&mut self, v: u64) {
        self.count += 1;
        self.max = self.max.max(v);
        if self.buckets.is_empty() && self.exact.len() < EXACT_DELAYS {
            self.exact.push(v);
            return;
        }
        for x in std::mem::take(&mut self.exact) {
            self.add_to_bucket(x);
        }
        self.add_to_bucket(v);
    }

    fn add_to_bucket(&mut self, v: u64) {
        // bucket_of < BUCKETS = 7424, which fits in a u16.
        let b = bucket_of(v) as u16;
        match self.buckets.binary_search_by_key(&b, |&(b, _)| b) {
            Ok(i) => self.buckets[i].1 += 1,
            Err(i) => self.buckets.insert(i, (b, 1)),
        }
    }

    /// Values added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest value, `None` before any.
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    /// True while every quantile is exact (at most [`EXACT_DELAYS`] values).
    pub fn is_exact(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The nearest-rank `numerator / denominator` quantile: the value of rank
    /// `ceil(count * numerator / denominator)` (at least 1) in ascending order; `None`
    /// before any value, or for a ratio outside (0, 1].
    pub fn quantile(&self, numerator: u64, denominator: u64) -> Option<u64> {
        if self.count == 0 || numerator == 0 || numerator > denominator {
            return None;
        }
        let n = u128::from(self.count);
        let rank = (n * u128::from(numerator)).div_ceil(u128::from(denominator));
        // 1 <= rank <= count < 2^64.
        let rank = u64::try_from(rank).ok()?.max(1);
        if self.is_exact() {
            let mut sorted = self.exact.clone();
            sorted.sort_unstable();
            return sorted.get(usize::try_from(rank - 1).ok()?).copied();
        }
        let mut seen = 0u64;
        for &(b, c) in &self.buckets {
            seen += c;
            if seen >= rank {
                let (lo, width) = bucket_range(usize::from(b));
                return Some((lo + (width - 1) / 2).min(self.max));
            }
        }
        Some(self.max)
    }

    /// The median (nearest rank: the lower of the two middle values).
    pub fn median(&self) -> Option<u64> {
        self.quantile(1, 2)
    }

    /// The 99th percentile (nearest rank).
    pub fn p99(&self) -> Option<u64> {
        self.quantile(99, 100)
    }

    /// Median, 99th percentile and maximum, `None` before any value.
    pub fn quantiles(&self) -> Option<DelayQuantiles> {
        let (median, p99, max) = (self.median()?, self.p99()?, self.max()?);
        Some(DelayQuantiles { median, p99, max })
    }
}

/// A delay's median, 99th percentile and maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelayQuantiles {
    /// The median.
    pub median: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The largest.
    pub max: u64,
}

/// What the summary and the report say of the delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelaySummary {
    /// Labels learned.
    pub count: u64,
    /// True when the quantiles are exact (see [`DelaySketch`] otherwise).
    pub exact: bool,
    /// Delays in records.
    pub records: DelayQuantiles,
    /// Delays in milliseconds.
    pub millis: DelayQuantiles,
}

/// The label delay distribution, in records and in milliseconds (see [`DelaySketch`] for
/// the method and its error).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DelayParts")]
pub struct DelayStats {
    records: DelaySketch,
    millis: DelaySketch,
}

/// Delay statistics as decoded, before they are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DelayParts {
    records: DelaySketch,
    millis: DelaySketch,
}

impl TryFrom<DelayParts> for DelayStats {
    type Error = String;
    fn try_from(p: DelayParts) -> Result<Self, String> {
        if p.records.count != p.millis.count {
            return Err(format!("{} delays in records but {} in milliseconds", p.records.count, p.millis.count));
        }
        Ok(Self { records: p.records, millis: p.millis })
    }
}

impl DelayStats {
    /// No delays yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a label's delay.
    pub fn record(&mut self, delay: Delay) {
        self.records.insert(delay.records);
        self.millis.insert(delay.millis);
    }

    /// Delays recorded.
    pub fn count(&self) -> u64 {
        self.records.count
    }

    /// The delays in records.
    pub fn records(&self) -> &DelaySketch {
        &self.records
    }

    /// The delays in milliseconds.
    pub fn millis(&self) -> &DelaySketch {
        &self.millis
    }

    /// Both distributions' median, p99 and maximum, `None` before any delay.
    pub fn summary(&self) -> Option<DelaySummary> {
        Some(DelaySummary {
            count: self.count(),
            exact: self.records.is_exact(),
            records: self.records.quantiles()?,
            millis: self.millis.quantiles()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ClassificationMetrics;
    use crate::test_support::{json_at_mut, json_paths};
    use proptest::prelude::*;
    use rand_xoshiro::rand_core::{RngCore, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use serde_json::{json, Value};

    fn t(record: u64, millis: u64) -> Tick {
        Tick::new(record, millis)
    }

    fn store<F>(max: usize, ttl: Option<Ttl>) -> PendingStore<F> {
        PendingStore::new(max, ttl).expect("valid settings")
    }

    fn learned<F>(r: Resolution<F>) -> (F, i64, Delay) {
        match r {
            Resolution::Learn { features, prediction, delay } => (features, prediction, delay),
            Resolution::Expired { .. } => panic!("expired, not learned"),
            Resolution::Unknown => panic!("unknown, not learned"),
        }
    }

    fn expired(id: &str, arrived: Tick, at: Tick, reason: ExpiryReason) -> Expired {
        Expired { id: id.to_string(), arrived, at, reason }
    }

    /// Every accepted event is pending, learned or expired, and every learned one has its delay.
    fn assert_counts_add_up<F>(s: &PendingStore<F>) {
        let c = s.counts();
        assert_eq!(c.pending, s.len() as u64);
        assert_eq!(c.inserted, c.pending + c.learned + c.expired(), "{c:?}");
        assert_eq!(s.delays().count(), c.learned);
        assert!(s.len() <= s.max_pending());
        assert!(s.gone.len() <= s.max_pending());
        assert!(s.order.len() <= 2 * s.entries.len() + SLACK + 1, "{} slots", s.order.len());
        assert!(s.gone_order.len() <= 2 * s.gone.len() + SLACK + 1, "{} slots", s.gone_order.len());
    }

    #[test]
    fn a_label_in_time_is_learned_with_the_features_the_prediction_and_its_delay() {
        let mut s = store(4, Some(Ttl::Records(10)));
        assert_eq!(s.insert("a", vec![1.0, 2.0], 3, t(5, 100)), Ok(Insert::Stored));
        assert_eq!(s.insert("b", vec![3.0, 4.0], 1, t(6, 130)), Ok(Insert::Stored));
        assert!(s.contains("a") && s.contains("b") && !s.contains("c"));
        let (features, prediction, delay) = learned(s.resolve("a", t(8, 250)));
        assert_eq!((features, prediction, delay), (vec![1.0, 2.0], 3, Delay { records: 3, millis: 150 }));
        // A second label for it: the event is over.
        assert_eq!(s.resolve("a", t(9, 260)), Resolution::Unknown);
        let c = s.counts();
        assert_eq!((c.inserted, c.learned, c.pending, c.unknown, c.late, c.expired()), (2, 1, 1, 1, 0, 0));
        let d = s.delays().summary().expect("one delay");
        assert_eq!(d.records, DelayQuantiles { median: 3, p99: 3, max: 3 });
        assert_eq!(d.millis, DelayQuantiles { median: 150, p99: 150, max: 150 });
        assert!(d.exact);
        assert_counts_add_up(&s);
    }

    #[test]
    fn unknown_and_bad_ids_are_counted_and_change_nothing_else() {
        let mut s = store::<u8>(4, None);
        let long = "x".repeat(MAX_ID_BYTES + 1);
        assert_eq!(s.insert("", 0, 0, t(0, 0)), Err(PendingError::EmptyId));
        assert_eq!(s.insert(&long, 0, 0, t(0, 0)), Err(PendingError::IdTooLong(MAX_ID_BYTES + 1)));
        assert_eq!(s.insert(&"y".repeat(MAX_ID_BYTES), 0, 0, t(0, 0)), Ok(Insert::Stored));
        for id in ["never", "", long.as_str(), " y", "Y"] {
            assert_eq!(s.resolve(id, t(1, 1)), Resolution::Unknown, "{id:?}");
        }
        let c = s.counts();
        assert_eq!((c.inserted, c.unknown, c.duplicates, c.pending), (1, 5, 0, 1));
        assert_counts_add_up(&s);
    }

    #[test]
    fn ids_are_taken_as_written() {
        let mut s = store::<u8>(8, None);
        for id in ["A1", "a1", " A1", "A1 ", "42", "42.0"] {
            assert_eq!(s.insert(id, 0, 0, t(0, 0)), Ok(Insert::Stored), "{id:?}");
        }
        assert_eq!(s.len(), 6);
    }

    #[test]
    fn a_ttl_in_records_expires_events_whose_label_is_later() {
        let mut s = store::<&str>(8, Some(Ttl::Records(3)));
        s.insert("a", "fa", 0, t(10, 0)).expect("stored");
        s.insert("b", "fb", 1, t(11, 0)).expect("stored");
        // 3 records after its event, a label is still in time.
        assert_eq!(s.expire(t(13, 0)), vec![]);
        assert_eq!(s.expire(t(14, 0)), vec![expired("a", t(10, 0), t(14, 0), ExpiryReason::Ttl)]);
        assert_eq!(learned(s.resolve("b", t(14, 0))), ("fb", 1, Delay { records: 3, millis: 0 }));
        // The late label: "expired", not "unknown", and reported once.
        let late = s.resolve("a", t(15, 0));
        assert_eq!(
            late,
            Resolution::Expired { expired: expired("a", t(10, 0), t(14, 0), ExpiryReason::Ttl), newly: false }
        );
        assert_eq!(s.resolve("a", t(16, 0)), late);
        let c = s.counts();
        assert_eq!((c.inserted, c.learned, c.expired_ttl, c.expired_capacity, c.late, c.unknown), (2, 1, 1, 0, 2, 0));
        assert_counts_add_up(&s);
    }

    #[test]
    fn a_ttl_in_milliseconds_ignores_records() {
        let mut s = store::<u32>(8, Some(Ttl::Millis(100)));
        s.insert("a", 1, 0, t(0, 1000)).expect("stored");
        s.insert("b", 2, 0, t(1, 1050)).expect("stored");
        assert_eq!(s.expire(t(1_000_000, 1100)), vec![]);
        assert_eq!(s.expire(t(1_000_001, 1101)), vec![expired("a", t(0, 1000), t(1_000_001, 1101), ExpiryReason::Ttl)]);
        let (f, _, delay) = learned(s.resolve("b", t(1_000_002, 1150)));
        assert_eq!((f, delay), (2, Delay { records: 1_000_001, millis: 100 }));
        assert_eq!(s.counts().expired_ttl, 1);
        assert_counts_add_up(&s);
    }

    #[test]
    fn a_label_past_its_ttl_is_expired_even_when_expire_was_not_called() {
        let mut s = store::<u8>(8, Some(Ttl::Records(2)));
        s.insert("a", 7, 0, t(0, 0)).expect("stored");
        s.insert("b", 8, 0, t(1, 0)).expect("stored");
        assert_eq!(
            s.resolve("a", t(3, 0)),
            Resolution::Expired { expired: expired("a", t(0, 0), t(3, 0), ExpiryReason::Ttl), newly: true }
        );
        // Reported once: expire does not report it again.
        assert_eq!(s.expire(t(3, 0)), vec![]);
        assert_eq!(s.expire(t(4, 0)), vec![expired("b", t(1, 0), t(4, 0), ExpiryReason::Ttl)]);
        let c = s.counts();
        assert_eq!((c.expired_ttl, c.late, c.learned), (2, 1, 0));
        assert_counts_add_up(&s);
    }

    #[test]
    fn a_full_store_evicts_its_oldest_event_and_says_so() {
        let mut s = store::<char>(2, None);
        assert_eq!(s.insert("a", 'a', 0, t(0, 0)), Ok(Insert::Stored));
        assert_eq!(s.insert("b", 'b', 0, t(1, 0)), Ok(Insert::Stored));
        assert_eq!(
            s.insert("c", 'c', 0, t(2, 0)),
            Ok(Insert::Evicted(expired("a", t(0, 0), t(2, 0), ExpiryReason::Capacity)))
        );
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.resolve("a", t(3, 0)),
            Resolution::Expired { expired: expired("a", t(0, 0), t(2, 0), ExpiryReason::Capacity), newly: false }
        );
        // The oldest is the oldest still pending: b's label came, so c goes next.
        assert_eq!(learned(s.resolve("b", t(3, 0))).0, 'b');
        assert_eq!(s.insert("d", 'd', 0, t(4, 0)), Ok(Insert::Stored));
        assert_eq!(
            s.insert("e", 'e', 0, t(5, 0)),
            Ok(Insert::Evicted(expired("c", t(2, 0), t(5, 0), ExpiryReason::Capacity)))
        );
        let c = s.counts();
        assert_eq!((c.inserted, c.learned, c.expired_capacity, c.expired_ttl, c.late), (5, 1, 2, 0, 1));
        assert_counts_add_up(&s);

        // An oldest event already past its TTL is evicted for its TTL.
        let mut s = store::<char>(1, Some(Ttl::Records(1)));
        s.insert("a", 'a', 0, t(0, 0)).expect("stored");
        assert_eq!(
            s.insert("b", 'b', 0, t(2, 0)),
            Ok(Insert::Evicted(expired("a", t(0, 0), t(2, 0), ExpiryReason::Ttl)))
        );
        assert_eq!(s.counts().expired_ttl, 1);
    }

    #[test]
    fn a_duplicate_pending_id_is_refused_and_the_first_event_kept() {
        let mut s = store::<&str>(4, Some(Ttl::Records(5)));
        s.insert("a", "first", 1, t(0, 0)).expect("stored");
        assert_eq!(
            s.insert("a", "second", 2, t(1, 0)),
            Err(PendingError::Duplicate { id: "a".into(), arrived: t(0, 0) })
        );
        assert_eq!(s.counts().duplicates, 1);
        assert_eq!(learned(s.resolve("a", t(2, 0))), ("first", 1, Delay { records: 2, millis: 0 }));
        // Once learned, the id may come back: a new event.
        assert_eq!(s.insert("a", "third", 3, t(3, 0)), Ok(Insert::Stored));
        // Past its TTL, the pending one is over and the new one takes its place.
        assert_eq!(
            s.insert("a", "fourth", 4, t(9, 0)),
            Ok(Insert::Evicted(expired("a", t(3, 0), t(9, 0), ExpiryReason::Ttl)))
        );
        assert_eq!(learned(s.resolve("a", t(10, 0))).0, "fourth");
        let c = s.counts();
        assert_eq!((c.inserted, c.duplicates, c.learned, c.expired_ttl), (3, 1, 2, 1));
        assert_counts_add_up(&s);
    }

    #[test]
    fn an_expired_id_that_comes_back_is_a_new_event() {
        let mut s = store::<u8>(4, Some(Ttl::Records(1)));
        s.insert("a", 1, 0, t(0, 0)).expect("stored");
        assert_eq!(s.expire(t(2, 0)).len(), 1);
        s.insert("a", 2, 0, t(2, 0)).expect("stored");
        assert_eq!(learned(s.resolve("a", t(3, 0))).0, 2);
        // Its earlier expiry is forgotten: the id now names the learned event.
        assert_eq!(s.resolve("a", t(3, 0)), Resolution::Unknown);
        assert_counts_add_up(&s);
    }

    #[test]
    fn the_memory_of_expired_ids_is_the_last_max_pending() {
        let mut s = store::<u8>(2, Some(Ttl::Records(1)));
        for (i, id) in ["a", "b", "c", "d"].into_iter().enumerate() {
            s.insert(id, 0, 0, t(i as u64 * 10, 0)).expect("stored");
            assert_eq!(s.expire(t(i as u64 * 10 + 5, 0)).len(), 1);
        }
        assert_eq!(s.gone.len(), 2);
        for (id, late) in [("a", false), ("b", false), ("c", true), ("d", true)] {
            assert_eq!(matches!(s.resolve(id, t(100, 0)), Resolution::Expired { .. }), late, "{id}");
        }
        let c = s.counts();
        assert_eq!((c.expired_ttl, c.late, c.unknown), (4, 2, 2));
    }

    #[test]
    fn the_clock_never_goes_back() {
        let mut s = store::<u8>(4, Some(Ttl::Millis(50)));
        s.insert("a", 0, 0, t(10, 1000)).expect("stored");
        // A wall clock that stepped back: no negative delay.
        assert_eq!(learned(s.resolve("a", t(12, 900))).2, Delay { records: 2, millis: 0 });
        assert_eq!(s.clock(), t(12, 1000));
        // An arrival before the clock arrives at the clock: arrivals stay in order.
        s.insert("b", 0, 0, t(5, 990)).expect("stored");
        assert_eq!(learned(s.resolve("b", t(13, 1040))).2, Delay { records: 1, millis: 40 });
    }

    #[test]
    fn settings_are_checked() {
        assert_eq!(PendingStore::<u8>::new(0, None).err(), Some(PendingError::MaxPending(0)));
        assert_eq!(
            PendingStore::<u8>::new(MAX_PENDING + 1, None).err(),
            Some(PendingError::MaxPending(MAX_PENDING + 1))
        );
        assert_eq!(PendingStore::<u8>::new(1, Some(Ttl::Records(0))).err(), Some(PendingError::ZeroTtl));
        assert_eq!(PendingStore::<u8>::new(1, Some(Ttl::Millis(0))).err(), Some(PendingError::ZeroTtl));
        let mut saved = store::<u8>(4, Some(Ttl::Records(9)));
        saved.insert("a", 1, 0, t(0, 0)).expect("stored");
        let resumed = store::<u8>(4, Some(Ttl::Records(9))).resumed(saved.clone()).expect("same settings");
        assert!(resumed.contains("a"));
        let e = store::<u8>(4, Some(Ttl::Millis(9))).resumed(saved.clone()).expect_err("another TTL");
        assert_eq!(
            e.to_string(),
            "the checkpoint's pending store (max 4 pending, TTL 9 records) is not this run's (max 4 pending, TTL 9 ms)"
        );
        assert!(store::<u8>(5, Some(Ttl::Records(9))).resumed(saved).is_err());
    }

    #[test]
    fn stale_queue_slots_stay_bounded() {
        // One event waits for ever while thousands come and go behind it.
        let mut s = store::<u64>(8, None);
        s.insert("old", 0, 0, t(0, 0)).expect("stored");
        for i in 1..5_000u64 {
            let id = format!("e{i}");
            s.insert(&id, i, 0, t(i, 0)).expect("stored");
            assert_eq!(learned(s.resolve(&id, t(i, 0))).0, i);
            assert_counts_add_up(&s);
        }
        assert_eq!(learned(s.resolve("old", t(5_000, 0))).0, 0);
        // Ids that expire and come back leave stale slots in the expiry memory.
        let mut s = store::<u64>(4, Some(Ttl::Records(1)));
        s.insert("keep", 0, 0, t(0, 0)).expect("stored");
        for i in 0..5_000u64 {
            let id = format!("x{}", i % 3);
            s.insert(&id, i, 0, t(2 * i + 2, 0)).expect("stored");
            s.expire(t(2 * i + 4, 0));
            assert_counts_add_up(&s);
        }
    }

    /// A one-layer perceptron: its result depends on the order it learns in.
    #[derive(Debug, Clone, PartialEq)]
    struct Perceptron([f64; 3]);

    impl Perceptron {
        fn predict(&self, x: &[f64]) -> i64 {
            i64::from(self.0[0] * x[0] + self.0[1] * x[1] + self.0[2] >= 0.0)
        }
        fn learn(&mut self, x: &[f64], y: i64) {
            let sign = (y - self.predict(x)) as f64;
            self.0[0] += 0.1 * sign * x[0];
            self.0[1] += 0.1 * sign * x[1];
            self.0[2] += 0.1 * sign;
        }
    }

    fn events(n: usize, seed: u64) -> Vec<(Vec<f64>, i64)> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        (0..n)
            .map(|_| {
                let x = vec![unit(), unit()];
                let y = i64::from(x[0] + 0.5 * x[1] > 0.1);
                (x, y)
            })
            .collect()
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Item {
        Event(usize),
        Label(usize),
    }

    /// One stream of events and their labels, each label at most `max_delay` records
    /// after its event; in the events' order (`fifo`) or any order.
    fn interleave(n: usize, max_delay: u64, fifo: bool, seed: u64) -> Vec<Item> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut items = Vec::new();
        let mut waiting: Vec<(usize, u64)> = Vec::new();
        let mut next = 0;
        while next < n || !waiting.is_empty() {
            let r = items.len() as u64;
            let due = waiting.iter().position(|&(_, at)| r - at >= max_delay);
            if next < n && due.is_none() && (waiting.is_empty() || rng.next_u64() % 3 != 0) {
                waiting.push((next, r));
                items.push(Item::Event(next));
                next += 1;
            } else {
                let k = match due {
                    Some(k) => k,
                    None if fifo => 0,
                    None => (rng.next_u64() % waiting.len() as u64) as usize,
                };
                items.push(Item::Label(waiting.remove(k).0));
            }
        }
        items
    }

    /// The delayed run: events labelled on arrival and kept; the model learns each one
    /// when its label comes. Gives the model, the scores and the events learned in order.
    fn run_delayed(
        data: &[(Vec<f64>, i64)],
        items: &[Item],
        s: &mut PendingStore<Vec<f64>>,
    ) -> (Perceptron, ClassificationMetrics, Vec<usize>, Vec<Expired>) {
        let mut model = Perceptron([0.0; 3]);
        let mut scores = ClassificationMetrics::new(100).expect("window");
        let mut order = Vec::new();
        let mut expired = Vec::new();
        for (r, item) in items.iter().enumerate() {
            let now = t(r as u64, 7 * r as u64);
            expired.extend(s.expire(now));
            match *item {
                Item::Event(i) => {
                    let (x, _) = &data[i];
                    let inserted = s.insert(&format!("tx-{i}"), x.clone(), model.predict(x), now).expect("a new id");
                    if let Insert::Evicted(e) = inserted {
                        expired.push(e);
                    }
                }
                Item::Label(i) => match s.resolve(&format!("tx-{i}"), now) {
                    Resolution::Learn { features, prediction, .. } => {
                        let (x, y) = &data[i];
                        assert_eq!(&features, x, "event {i} came back with another's features");
                        scores.update(&[*y], &[prediction]);
                        model.learn(&features, *y);
                        order.push(i);
                    }
                    Resolution::Expired { expired: e, newly } => {
                        if newly {
                            expired.push(e);
                        }
                    }
                    Resolution::Unknown => {}
                },
            }
        }
        (model, scores, order, expired)
    }

    #[test]
    fn labels_in_time_and_in_order_give_the_model_of_an_in_order_run() {
        let n = 2_000;
        let data = events(n, 7);
        let mut in_order = Perceptron([0.0; 3]);
        let mut in_order_scores = ClassificationMetrics::new(100).expect("window");
        for (x, y) in &data {
            in_order_scores.update(&[*y], &[in_order.predict(x)]);
            in_order.learn(x, *y);
        }
        let items = interleave(n, 40, true, 11);
        let mut s = store(n, Some(Ttl::Records(40)));
        let (model, scores, order, expired) = run_delayed(&data, &items, &mut s);
        assert_eq!(model, in_order, "bit for bit");
        assert_eq!(order, (0..n).collect::<Vec<_>>());
        assert_eq!(expired, vec![]);
        // Every event is scored once, on the prediction made at its arrival (a model that
        // has learned less than the in-order one by then).
        assert_eq!(scores.count(), n as u64);
        assert_ne!(scores.accuracy(), None);
        let c = s.counts();
        assert_eq!(
            (c.inserted, c.learned, c.pending, c.expired(), c.late, c.unknown),
            (n as u64, n as u64, 0, 0, 0, 0)
        );
        let d = s.delays().summary().expect("delays");
        assert!(d.records.max <= 40 && d.records.median >= 1, "{d:?}");
        assert_eq!(d.millis.max, 7 * d.records.max);
        assert!(d.exact);
        assert_counts_add_up(&s);
    }

    #[test]
    fn labels_in_time_in_any_order_resolve_each_event_once_with_its_features() {
        let n = 2_000;
        let data = events(n, 8);
        let items = interleave(n, 25, false, 12);
        let mut s = store(n, Some(Ttl::Records(25)));
        let (_, scores, mut order, expired) = run_delayed(&data, &items, &mut s);
        assert_ne!(order, (0..n).collect::<Vec<_>>(), "the labels came out of order");
        order.sort_unstable();
        assert_eq!(order, (0..n).collect::<Vec<_>>());
        assert_eq!((expired.len(), scores.count()), (0, n as u64));
        assert_eq!(s.counts().learned, n as u64);
    }

    #[test]
    fn labels_that_come_late_or_never_are_counted() {
        let n = 100;
        let data = events(n, 9);
        // Events 0, 5, 10, ... never get a label; 1, 6, 11, ... get it 30 records late;
        // the others 2 records later.
        let mut items: Vec<(u64, Item)> = Vec::new();
        for i in 0..n {
            let at = 10 * i as u64;
            items.push((at, Item::Event(i)));
            match i % 5 {
                0 => {}
                1 => items.push((at + 30, Item::Label(i))),
                _ => items.push((at + 2, Item::Label(i))),
            }
        }
        items.push((10 * n as u64 + 100, Item::Label(n + 1)));
        items.sort_by_key(|&(at, item)| (at, matches!(item, Item::Event(_))));
        // One record per item, with the gaps kept: spread the items over their times.
        let mut stream = Vec::new();
        for (at, item) in items {
            while (stream.len() as u64) < at {
                stream.push(Item::Label(usize::MAX));
            }
            stream.push(item);
        }
        let mut s = store(50, Some(Ttl::Records(20)));
        let mut data = data;
        data.push((vec![0.0, 0.0], 0));
        data.push((vec![0.0, 0.0], 0));
        let (_, scores, order, expired) = run_delayed(&data, &stream, &mut s);
        let c = s.counts();
        let late = (0..n).filter(|i| i % 5 == 1).count() as u64;
        let never = (0..n).filter(|i| i % 5 == 0).count() as u64;
        assert_eq!(c.learned, n as u64 - late - never);
        assert_eq!(c.expired_ttl, late + never);
        assert_eq!(c.late, late, "every late label is answered 'expired'");
        // The filler records and the label of an event that never was.
        assert_eq!(c.unknown, stream.iter().filter(|i| matches!(i, Item::Label(l) if *l >= n)).count() as u64);
        assert_eq!((c.expired_capacity, c.pending, c.duplicates), (0, 0, 0));
        assert_eq!(scores.count(), c.learned);
        assert_eq!(order.len() as u64, c.learned);
        // Each expiry reported once, in order of expiry, naming the right events.
        let mut ids: Vec<usize> = expired.iter().map(|e| e.id[3..].parse().expect("an index")).collect();
        assert!(expired.iter().all(|e| e.reason == ExpiryReason::Ttl && e.at.record - e.arrived.record == 21));
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        ids.retain(|i| i % 5 > 1);
        assert_eq!(ids, Vec::<usize>::new());
        assert_eq!(expired.len() as u64, late + never);
        assert_counts_add_up(&s);
    }

    #[test]
    fn a_small_store_evicts_and_counts_by_capacity() {
        let n = 300;
        let data = events(n, 10);
        let items = interleave(n, 60, true, 13);
        let mut s = store(10, None);
        let (_, scores, order, expired) = run_delayed(&data, &items, &mut s);
        let c = s.counts();
        assert!(c.expired_capacity > 0 && c.expired_ttl == 0);
        assert_eq!(c.learned + c.expired_capacity, n as u64);
        assert_eq!(expired.len() as u64, c.expired_capacity);
        assert_eq!((scores.count(), order.len() as u64), (c.learned, c.learned));
        assert_eq!(c.late + c.unknown, c.expired_capacity, "each evicted event's label is late or forgotten");
        assert_counts_add_up(&s);
    }

    /// A scripted stream of operations on a store of feature rows.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(String, f64, i64, Tick),
        Resolve(String, Tick),
        Expire(Tick),
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Out {
        Insert(Result<Insert, PendingError>),
        Resolve(Resolution<Vec<f64>>),
        Expire(Vec<Expired>),
    }

    fn script(n: usize, seed: u64) -> Vec<Op> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let (mut r, mut ms) = (0u64, 0u64);
        (0..n)
            .map(|i| {
                r += rng.next_u64() % 3;
                ms += rng.next_u64() % 40;
                let id = format!("id-{}", rng.next_u64() % 12);
                match rng.next_u64() % 5 {
                    0 | 1 => Op::Insert(id, i as f64 * 0.5, (i % 4) as i64, t(r, ms)),
                    2 | 3 => Op::Resolve(id, t(r, ms)),
                    _ => Op::Expire(t(r, ms)),
                }
            })
            .collect()
    }

    fn apply(s: &mut PendingStore<Vec<f64>>, op: &Op) -> Out {
        match op {
            Op::Insert(id, v, p, at) => Out::Insert(s.insert(id, vec![*v, -*v], *p, *at)),
            Op::Resolve(id, at) => Out::Resolve(s.resolve(id, *at)),
            Op::Expire(at) => Out::Expire(s.expire(*at)),
        }
    }

    #[test]
    fn a_saved_store_goes_on_as_the_original() {
        for ttl in [None, Some(Ttl::Records(6)), Some(Ttl::Millis(90))] {
            let ops = script(3_000, 21);
            let mut s = store(8, ttl);
            // Save mid-stream, at a point with events pending and expiries remembered.
            let mut mid = 0;
            while mid < 1_500 || s.is_empty() || s.gone.is_empty() {
                apply(&mut s, &ops[mid]);
                mid += 1;
            }
            let c = s.counts();
            assert!(c.learned > 0 && c.expired() > 0 && c.late > 0 && c.unknown > 0 && c.duplicates > 0, "{c:?}");
            let json = serde_json::to_string(&s).expect("encodes");
            let bytes = postcard::to_allocvec(&s).expect("encodes");
            let mut from_json: PendingStore<Vec<f64>> = serde_json::from_str(&json).expect("decodes");
            let mut from_postcard: PendingStore<Vec<f64>> = postcard::from_bytes(&bytes).expect("decodes");
            // Saved canonically: a decoded store saves the same bytes.
            assert_eq!(serde_json::to_string(&from_json).expect("encodes"), json);
            assert_eq!(postcard::to_allocvec(&from_postcard).expect("encodes"), bytes);
            for op in &ops[mid..] {
                let out = apply(&mut s, op);
                assert_eq!(apply(&mut from_json, op), out, "{op:?}");
                assert_eq!(apply(&mut from_postcard, op), out, "{op:?}");
            }
            assert_eq!(
                serde_json::to_string(&from_json).expect("encodes"),
                serde_json::to_string(&s).expect("encodes")
            );
            assert_eq!(
                postcard::to_allocvec(&from_postcard).expect("encodes"),
                postcard::to_allocvec(&s).expect("encodes")
            );
            assert_counts_add_up(&from_postcard);
        }
    }

    /// A store with pending events, remembered expiries and delays, as JSON.
    fn saved() -> Value {
        let mut s = store::<Vec<f64>>(4, Some(Ttl::Records(5)));
        for op in script(60, 3) {
            apply(&mut s, &op);
        }
        // Make sure of two pending events and two remembered expiries.
        s.insert("p1", vec![1.0, 2.0], 0, s.clock()).expect("stored");
        s.insert("p2", vec![3.0, 4.0], 1, t(s.clock().record + 1, s.clock().millis + 1)).expect("stored");
        assert!(s.len() >= 2 && s.gone.len() >= 2 && s.delays().count() > 0, "{:?}", s.counts());
        serde_json::to_value(&s).expect("encodes")
    }

    fn refusal(good: &Value, edit: &dyn Fn(&mut Value)) -> String {
        let mut v = good.clone();
        edit(&mut v);
        serde_json::from_value::<PendingStore<Vec<f64>>>(v).expect_err("refused").to_string()
    }

    #[test]
    fn a_hostile_state_is_refused() {
        let good = saved();
        serde_json::from_value::<PendingStore<Vec<f64>>>(good.clone()).expect("the good one decodes");
        let n = good["pending"].as_array().expect("pending").len();
        let clock = good["clock"]["record"].as_u64().expect("clock");
        let refuse = |edit: &dyn Fn(&mut Value)| refusal(&good, edit);
        let bump = |v: &mut Value, field: &str, by: u64| {
            let was = v["counts"][field].as_u64().expect("a count");
            v["counts"][field] = json!(was + by);
        };
        assert!(refuse(&|v| v["max_pending"] = json!(0)).contains("--max-pending"));
        assert!(refuse(&|v| v["max_pending"] = json!(n - 1)).contains("holding"));
        assert!(refuse(&|v| v["max_pending"] = json!(u64::MAX)).contains("--max-pending"));
        assert!(refuse(&|v| v["ttl"] = json!({"records": 0})).contains("--label-ttl"));
        assert!(refuse(&|v| v["ttl"] = json!({"hours": 1})).contains("unknown variant"));
        assert!(refuse(&|v| bump(v, "inserted", 1)).contains("do not add up"));
        assert!(refuse(&|v| bump(v, "pending", 1)).contains("do not add up"));
        assert!(refuse(&|v| v["counts"]["pending"] = json!(0)).contains("do not add up"));
        assert!(refuse(&|v| {
            bump(v, "learned", 1);
            bump(v, "inserted", 1)
        })
        .contains("do not add up"));
        assert!(refuse(&|v| v["counts"]["late"] = json!(1u64 << 60)).contains("out of range"));
        assert!(refuse(&|v| v["counts"]["inserted"] = json!(u64::MAX)).contains("out of range"));
        assert!(refuse(&|v| v["pending"][1]["id"] = v["pending"][0]["id"].clone()).contains("twice"));
        assert!(refuse(&|v| v["pending"][0]["id"] = json!("")).contains("empty id"));
        assert!(refuse(&|v| v["pending"][0]["id"] = json!("x".repeat(MAX_ID_BYTES + 1))).contains("bytes"));
        assert!(refuse(&|v| v["pending"][n - 1]["arrived"]["record"] = json!(clock + 1)).contains("after the clock"));
        assert!(refuse(&|v| v["pending"][0]["arrived"] = v["clock"].clone()).contains("out of order"));
        assert!(refuse(&|v| v["pending"][0]["features"] = json!("x")).contains("invalid type"));
        assert!(refuse(&|v| v["pending"][0]["extra"] = json!(1)).contains("unknown field"));
        assert!(refuse(&|v| v["expired"][0]["id"] = v["pending"][0]["id"].clone()).contains("both pending and expired"));
        assert!(refuse(&|v| v["expired"][1]["id"] = v["expired"][0]["id"].clone()).contains("twice"));
        assert!(refuse(&|v| v["expired"][0]["at"]["record"] = json!(clock + 1)).contains("after the clock"));
        assert!(refuse(&|v| v["expired"][0]["arrived"]["millis"] = json!(u64::MAX)).contains("out of order"));
        assert!(refuse(&|v| v["expired"][0]["at"] = v["clock"].clone()).contains("out of order"));
        assert!(refuse(&|v| v["expired"][0]["reason"] = json!("boredom")).contains("unknown variant"));
        assert!(refuse(&|v| {
            let e = v["expired"].as_array().expect("expired").clone();
            v["expired"] = json!([e.clone(), e.clone(), e].concat());
        })
        .contains("expired ids"));
        assert!(refuse(&|v| {
            for f in ["expired_ttl", "expired_capacity", "inserted"] {
                v["counts"][f] = json!(0);
            }
            v["counts"]["inserted"] =
                json!(v["counts"]["pending"].as_u64().expect("n") + v["counts"]["learned"].as_u64().expect("n"));
        })
        .contains("remembering more expiries"));
        assert!(refuse(&|v| v["delays"]["records"]["count"] = json!(1)).contains("does not fit"));
        assert!(refuse(&|v| v["delays"]["records"]["max"] = json!(1u64 << 40)).contains("does not fit"));
        assert!(refuse(&|v| v["delays"]["millis"]["buckets"] = json!([[3, 1]])).contains("does not fit"));
        assert!(refuse(&|v| {
            let m = &mut v["delays"]["millis"];
            let mut exact = m["exact"].as_array().expect("exact").clone();
            exact.pop();
            m["count"] = json!(exact.len());
            m["max"] = json!(exact.iter().filter_map(Value::as_u64).max().unwrap_or(0));
            m["exact"] = json!(exact);
        })
        .contains("in milliseconds"));
        assert!(refuse(&|v| v["extra"] = json!(1)).contains("unknown field"));
    }

    /// Every leaf of a saved state spoiled in turn: refused, or a store that runs on with
    /// its counts adding up.
    #[test]
    fn a_spoiled_state_is_refused_or_runs_never_panics() {
        let good = saved();
        let mut tried = 0;
        let mut accepted = 0;
        for path in &json_paths(&good) {
            for bad in [json!(null), json!(-1), json!(0), json!(1), json!(7), json!(u64::MAX), json!([]), json!("id-1")]
            {
                let mut spoiled = good.clone();
                *json_at_mut(&mut spoiled, path) = bad;
                tried += 1;
                if let Ok(mut s) = serde_json::from_value::<PendingStore<Vec<f64>>>(spoiled) {
                    accepted += 1;
                    assert_counts_add_up(&s);
                    for op in script(200, 5) {
                        apply(&mut s, &op);
                        assert_counts_add_up(&s);
                    }
                }
            }
        }
        assert!(tried > 300, "only {tried} spoiled states");
        assert!(accepted > 0, "a harmless change (a prediction, a feature) is accepted");
    }

    #[test]
    fn spoiled_bytes_are_refused_or_run_never_panic() {
        let s: PendingStore<Vec<f64>> = serde_json::from_value(saved()).expect("decodes");
        let bytes = postcard::to_allocvec(&s).expect("encodes");
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        for cut in 0..bytes.len() {
            assert!(postcard::from_bytes::<PendingStore<Vec<f64>>>(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for _ in 0..3_000 {
            let mut spoiled = bytes.clone();
            for _ in 0..1 + rng.next_u64() % 3 {
                let i = (rng.next_u64() % spoiled.len() as u64) as usize;
                spoiled[i] = rng.next_u64() as u8;
            }
            if let Ok(mut s) = postcard::from_bytes::<PendingStore<Vec<f64>>>(&spoiled) {
                assert_counts_add_up(&s);
                for op in script(50, 6) {
                    apply(&mut s, &op);
                }
                assert_counts_add_up(&s);
            }
        }
    }

    #[test]
    fn quantiles_are_nearest_rank_and_exact_while_small() {
        let mut d = DelaySketch::new();
        assert_eq!((d.median(), d.p99(), d.max(), d.quantiles()), (None, None, None, None));
        for v in [5, 1, 4, 2, 3] {
            d.insert(v);
        }
        assert_eq!((d.median(), d.p99(), d.max()), (Some(3), Some(5), Some(5)));
        d.insert(6);
        // Six values: the median is the third (the lower middle one), the p99 the sixth.
        assert_eq!((d.median(), d.p99(), d.quantile(1, 6), d.quantile(1, 1)), (Some(3), Some(6), Some(1), Some(6)));
        assert_eq!((d.quantile(0, 2), d.quantile(3, 2), d.quantile(1, 0)), (None, None, None));
        let mut d = DelaySketch::new();
        for v in 1..=200u64 {
            d.insert(v * 1_000_003);
        }
        assert_eq!((d.median(), d.p99(), d.count()), (Some(100 * 1_000_003), Some(198 * 1_000_003), 200));
        assert!(d.is_exact());
    }

    #[test]
    fn buckets_cover_every_value_within_their_error() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let edges = (0..64).flat_map(|b| {
            let p = 1u64 << b;
            [p - 1, p, p + 1]
        });
        for v in edges.chain((0..100_000).map(|_| rng.next_u64() >> (rng.next_u64() % 64))).chain([u64::MAX]) {
            let b = bucket_of(v);
            assert!(b < BUCKETS, "{v}");
            let (lo, width) = bucket_range(b);
            assert!(lo <= v && v - lo < width, "{v} in bucket {b} = [{lo}, +{width})");
            assert!(v < 256 && width == 1 || width <= lo / 128, "{v}: width {width} at {lo}");
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn past_the_exact_limit_quantiles_are_within_their_stated_error() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        for name in ["uniform", "small", "heavy tail"] {
            let mut values: Vec<u64> = (0..3 * EXACT_DELAYS as u64 + 17)
                .map(|_| match name {
                    "uniform" => rng.next_u64() % 1_000_000,
                    "small" => rng.next_u64() % 300,
                    _ => rng.next_u64() >> (rng.next_u64() % 64),
                })
                .collect();
            let mut d = DelaySketch::new();
            for &v in &values {
                d.insert(v);
            }
            assert!(!d.is_exact());
            assert!(d.buckets.len() <= BUCKETS);
            values.sort_unstable();
            assert_eq!((d.count(), d.max()), (values.len() as u64, values.last().copied()));
            for (num, den) in [(1, 2), (99, 100), (1, 100), (1, 1), (1, 1000), (999, 1000)] {
                let rank = (values.len() as u64 * num).div_ceil(den).max(1);
                let exact = values[rank as usize - 1];
                let got = d.quantile(num, den).expect("values");
                let error = exact.abs_diff(got);
                assert!(error <= exact / 256, "{name} {num}/{den}: {got} for {exact}");
                if exact < 256 {
                    assert_eq!(got, exact, "{name}: small values stay exact");
                }
            }
            // Round trips, and a decoded sketch goes on as the original.
            let mut back: DelaySketch =
                postcard::from_bytes(&postcard::to_allocvec(&d).expect("encodes")).expect("decodes");
            let mut json: DelaySketch =
                serde_json::from_str(&serde_json::to_string(&d).expect("encodes")).expect("decodes");
            for v in [0, 1 << 20, u64::MAX] {
                d.insert(v);
                back.insert(v);
                json.insert(v);
            }
            assert_eq!((&back, &json), (&d, &d));
        }
    }

    #[test]
    fn a_hostile_histogram_is_refused() {
        let mut d = DelaySketch::new();
        for v in 0..EXACT_DELAYS as u64 + 1_000 {
            d.insert(v * 37);
        }
        let good = serde_json::to_value(&d).expect("encodes");
        let refuse = |edit: &dyn Fn(&mut Value)| {
            let mut v = good.clone();
            edit(&mut v);
            serde_json::from_value::<DelaySketch>(v).expect_err("refused").to_string()
        };
        assert!(refuse(&|v| v["exact"] = json!([1])).contains("does not fit"));
        assert!(refuse(&|v| v["buckets"][0][1] = json!(0)).contains("does not fit"));
        assert!(refuse(&|v| v["buckets"][0][0] = json!(BUCKETS)).contains("does not fit"));
        assert!(refuse(&|v| v["buckets"][1][0] = v["buckets"][0][0].clone()).contains("does not fit"));
        assert!(refuse(&|v| v["buckets"][0][1] = json!(u64::MAX)).contains("does not fit"));
        assert!(refuse(&|v| v["max"] = json!(5)).contains("does not fit"));
        assert!(refuse(&|v| v["count"] = json!(1u64 << 50)).contains("out of range"));
        assert!(refuse(&|v| v["buckets"] = json!([])).contains("does not fit"));
        assert!(refuse(&|v| v["buckets"][0][0] = json!(70_000)).contains("invalid value"));
        let mut stats = DelayStats::new();
        stats.record(Delay { records: 1, millis: 2 });
        let mut v = serde_json::to_value(&stats).expect("encodes");
        v["millis"] = serde_json::to_value(DelaySketch::new()).expect("encodes");
        let e = serde_json::from_value::<DelayStats>(v).expect_err("refused").to_string();
        assert!(e.contains("1 delays in records but 0 in milliseconds"), "{e}");
    }

    /// The store's semantics, spelled out the slow way: each operation scans vectors.
    #[derive(Debug)]
    struct Naive {
        max: usize,
        ttl: Option<Ttl>,
        clock: Tick,
        /// (id, arrived, serial, prediction), in arrival order.
        pending: Vec<(String, Tick, u64, i64)>,
        /// The remembered expiries, in order.
        gone: Vec<Expired>,
        counts: PendingCounts,
        /// The serials that ended, learned or expired.
        ended: std::collections::HashSet<u64>,
    }

    impl Naive {
        fn new(max: usize, ttl: Option<Ttl>) -> Self {
            Self {
                max,
                ttl,
                clock: Tick::default(),
                pending: Vec::new(),
                gone: Vec::new(),
                counts: PendingCounts::default(),
                ended: Default::default(),
            }
        }
        fn advance(&mut self, at: Tick) -> Tick {
            self.clock = t(self.clock.record.max(at.record), self.clock.millis.max(at.millis));
            self.clock
        }
        fn outlived(&self, arrived: Tick, now: Tick) -> bool {
            match self.ttl {
                None => false,
                Some(Ttl::Records(n)) => now.record - arrived.record > n,
                Some(Ttl::Millis(n)) => now.millis - arrived.millis > n,
            }
        }
        fn end(&mut self, serial: u64) {
            assert!(self.ended.insert(serial), "event {serial} ended twice");
        }
        fn retire(&mut self, k: usize, now: Tick, reason: ExpiryReason) -> Expired {
            let (id, arrived, serial, _) = self.pending.remove(k);
            self.end(serial);
            match reason {
                ExpiryReason::Ttl => self.counts.expired_ttl += 1,
                ExpiryReason::Capacity => self.counts.expired_capacity += 1,
            }
            let e = Expired { id, arrived, at: now, reason };
            self.gone.push(e.clone());
            if self.gone.len() > self.max {
                self.gone.remove(0);
            }
            e
        }
        fn insert(&mut self, id: &str, serial: u64, prediction: i64, at: Tick) -> Result<Insert, PendingError> {
            let now = self.advance(at);
            let mut displaced = None;
            if let Some(k) = self.pending.iter().position(|p| p.0 == id) {
                if !self.outlived(self.pending[k].1, now) {
                    self.counts.duplicates += 1;
                    return Err(PendingError::Duplicate { id: id.into(), arrived: self.pending[k].1 });
                }
                displaced = Some(self.retire(k, now, ExpiryReason::Ttl));
            } else if self.pending.len() == self.max {
                let reason =
                    if self.outlived(self.pending[0].1, now) { ExpiryReason::Ttl } else { ExpiryReason::Capacity };
                displaced = Some(self.retire(0, now, reason));
            }
            self.gone.retain(|g| g.id != id);
            self.pending.push((id.into(), now, serial, prediction));
            self.counts.inserted += 1;
            Ok(displaced.map_or(Insert::Stored, Insert::Evicted))
        }
        fn expire(&mut self, now: Tick) -> Vec<Expired> {
            let now = self.advance(now);
            let mut out = Vec::new();
            while !self.pending.is_empty() && self.outlived(self.pending[0].1, now) {
                out.push(self.retire(0, now, ExpiryReason::Ttl));
            }
            out
        }
        fn resolve(&mut self, id: &str, now: Tick) -> Resolution<u64> {
            let now = self.advance(now);
            if let Some(k) = self.pending.iter().position(|p| p.0 == id) {
                if self.outlived(self.pending[k].1, now) {
                    self.counts.late += 1;
                    return Resolution::Expired { expired: self.retire(k, now, ExpiryReason::Ttl), newly: true };
                }
                let (_, arrived, serial, prediction) = self.pending.remove(k);
                self.end(serial);
                self.counts.learned += 1;
                let delay = Delay { records: now.record - arrived.record, millis: now.millis - arrived.millis };
                return Resolution::Learn { features: serial, prediction, delay };
            }
            if let Some(g) = self.gone.iter().find(|g| g.id == id) {
                self.counts.late += 1;
                return Resolution::Expired { expired: g.clone(), newly: false };
            }
            self.counts.unknown += 1;
            Resolution::Unknown
        }
    }

    fn settings() -> impl Strategy<Value = (usize, Option<Ttl>)> {
        (1usize..6, 0u8..3, 1u64..8, 1u64..120).prop_map(|(max, kind, records, millis)| {
            let ttl = match kind {
                0 => None,
                1 => Some(Ttl::Records(records)),
                _ => Some(Ttl::Millis(millis)),
            };
            (max, ttl)
        })
    }

    proptest! {
        /// Random interleavings of insert, resolve and expire (with clocks that stall or
        /// step back, and save-and-reload in the middle): the store answers as the naive
        /// one, holds at most `max_pending`, ends each event at most once, and its counts
        /// add up.
        #[test]
        fn any_interleaving_keeps_the_invariants(
            (max, ttl) in settings(),
            ops in prop::collection::vec((0u8..9, 0u8..7, 0u64..3, -30i64..60), 1..300),
        ) {
            let mut s = store::<u64>(max, ttl);
            let mut naive = Naive::new(max, ttl);
            let (mut record, mut millis) = (0u64, 500i64);
            let (mut attempts, mut serial) = (0u64, 0u64);
            for (kind, id, dr, dm) in ops {
                record += dr;
                millis = (millis + dm).max(0);
                let now = t(record, millis as u64);
                let id = format!("e{id}");
                match kind {
                    0..=2 => {
                        attempts += 1;
                        serial += 1;
                        let got = s.insert(&id, serial, (serial % 3) as i64, now);
                        prop_assert_eq!(&got, &naive.insert(&id, serial, (serial % 3) as i64, now));
                    }
                    3..=5 => {
                        let peeked = s.peek(&id, now).map(|(f, p)| (*f, p));
                        let got = s.resolve(&id, now);
                        if let Resolution::Learn { features, prediction, .. } = &got {
                            prop_assert!(naive.pending.iter().any(|p| p.2 == *features));
                            prop_assert_eq!(peeked, Some((*features, *prediction)), "peek foretells resolve");
                        } else {
                            prop_assert_eq!(peeked, None, "peek foretells resolve");
                        }
                        prop_assert_eq!(got, naive.resolve(&id, now));
                    }
                    6 | 7 => prop_assert_eq!(s.expire(now), naive.expire(now)),
                    _ => {
                        let bytes = postcard::to_allocvec(&s).expect("encodes");
                        s = postcard::from_bytes(&bytes).expect("decodes");
                    }
                }
                let c = s.counts();
                prop_assert!(s.len() <= max);
                prop_assert_eq!(c, PendingCounts { pending: naive.pending.len() as u64, ..naive.counts });
                prop_assert_eq!(c.learned + c.expired() + c.pending, attempts - c.duplicates);
                prop_assert_eq!(naive.ended.len() as u64, c.learned + c.expired());
                prop_assert_eq!(s.clock(), naive.clock);
                assert_counts_add_up(&s);
            }
        }
    }
}
