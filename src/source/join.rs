//! Delayed labels in one stream (`--id-column ID --delayed-labels`): the source joins
//! each label to its event by id, so every model sees the same, deterministic join.
//!
//! A record with features and no label is an *event*; a record with only the id and a
//! label is its *feedback*. The join keeps the ids of the waiting events in a
//! [`PendingStore`] (the features stay with each model, keyed by the event's record id)
//! and tells the models, per record, what it is ([`Role`]) and which events expired.
//! Time is the record id (`Tick::record`) and the wall clock (`Tick::millis`), which only
//! decides expiries when `--label-ttl` is given in seconds.
//!
//! Why the source and not the models: the join is a property of the stream, the source
//! alone knows where a record is (file:line) for an error or the rejects file, and its
//! state then travels in [`crate::record::SourcePosition`], which checkpoints already save.

use crate::pipeline::pending::{Expired, Insert, PendingError, PendingStore, Resolution, Tick, Ttl, MAX_ID_BYTES};
use crate::record::Role;
use serde::{Deserialize, Serialize};

/// How the source joins delayed labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayedOptions {
    /// The column holding each record's id (`--id-column`).
    pub id_column: String,
    /// Events that may wait at once (`--max-pending`).
    pub max_pending: usize,
    /// How long an event waits (`--label-ttl`; `None`: until the store is full).
    pub ttl: Option<Ttl>,
    /// The labels come in a second stream, this file (`--labels-from`; `-`: standard
    /// input), and the input holds events only. Not reproducible: see
    /// [`crate::source::feedback`].
    pub feedback: Option<std::path::PathBuf>,
}

/// The join's state, saved in checkpoints with the source's position.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinState {
    store: PendingStore<()>,
}

impl PartialEq for JoinState {
    /// Equal when they encode alike: the store serialises canonically (it has no
    /// `PartialEq` of its own, its queues holding stale slots).
    fn eq(&self, other: &Self) -> bool {
        postcard::to_allocvec(self).ok() == postcard::to_allocvec(other).ok()
    }
}

/// Milliseconds since the Unix epoch (0 for a clock set before it).
fn wall_millis() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// What the join made of a record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Joined {
    /// A role for the record's row, and a rejects line to write (late or skipped labels,
    /// duplicates).
    Row(Role, Option<String>),
    /// A bad record: refused (or skipped) like any other.
    Refused(String),
}

/// The source's side of delayed labels.
#[derive(Debug, Clone)]
pub(crate) struct Join {
    store: PendingStore<()>,
    /// Expiries not yet handed to a batch: (event record id, reason) and their rejects lines.
    expired: Vec<Expired>,
}

impl Join {
    /// An empty join.
    pub(crate) fn new(options: &DelayedOptions) -> Result<Self, PendingError> {
        Ok(Self { store: PendingStore::new(options.max_pending, options.ttl)?, expired: Vec::new() })
    }

    /// Take up a checkpoint's state, refused when it was set up otherwise.
    pub(crate) fn resume(&mut self, saved: &JoinState) -> Result<(), PendingError> {
        let fresh = PendingStore::new(self.store.max_pending(), self.store.ttl())?;
        self.store = fresh.resumed(saved.store.clone())?;
        self.expired.clear();
        Ok(())
    }

    /// The state a checkpoint saves.
    pub(crate) fn state(&self) -> JoinState {
        JoinState { store: self.store.clone() }
    }

    /// The tick of record `record`, now.
    pub(crate) fn tick(record: u64) -> Tick {
        Tick::new(record, wall_millis())
    }

    /// Check an id's text.
    pub(crate) fn check_id(id: &str) -> Result<(), String> {
        match id.len() {
            0 => Err("an empty id".into()),
            n if n > MAX_ID_BYTES => Err(format!("an id of {n} bytes (at most {MAX_ID_BYTES})")),
            _ => Ok(()),
        }
    }

    /// An event with `id` at `now` (its features already read).
    pub(crate) fn event(&mut self, id: &str, now: Tick) -> Joined {
        self.expire(now);
        match self.store.insert(id, (), crate::NO_PREDICTION, now) {
            Ok(Insert::Stored) => Joined::Row(Role::Event, None),
            Ok(Insert::Evicted(e)) => {
                self.expired.push(e);
                Joined::Row(Role::Event, None)
            }
            Err(PendingError::Duplicate { arrived, .. }) => Joined::Row(
                Role::Duplicate,
                Some(format!(
                    "id {id:?} is already waiting for its label (its event is record {}): a duplicate event",
                    arrived.record
                )),
            ),
            Err(e) => Joined::Refused(e.to_string()),
        }
    }

    /// True when the label of `id` at `now` would be learned: the caller then reads it.
    pub(crate) fn waits(&self, id: &str, now: Tick) -> bool {
        self.store.peek(id, now).is_some()
    }

    /// The label of `id`, come at `now` (the caller read the label when [`Self::waits`]).
    pub(crate) fn feedback(&mut self, id: &str, now: Tick) -> Joined {
        self.expire(now);
        match self.store.resolve(id, now) {
            Resolution::Learn { delay, .. } => {
                // The store's clock is the tick the delay was measured at.
                let event = self.store.clock().record - delay.records;
                Joined::Row(Role::Feedback { event, delay }, None)
            }
            Resolution::Expired { expired, newly } => {
                let line = format!(
                    "late: the label of id {id:?} came after its event (record {}) expired ({})",
                    expired.arrived.record,
                    expired.reason.name()
                );
                if newly {
                    self.expired.push(expired);
                }
                Joined::Row(Role::Late, Some(line))
            }
            Resolution::Unknown => {
                Joined::Row(Role::Unknown, Some(format!("unknown id {id:?}: no event with this id waits for a label")))
            }
        }
    }

    fn expire(&mut self, now: Tick) {
        let expired = self.store.expire(now);
        self.expired.extend(expired);
    }

    /// The expiries since the last call, oldest first.
    pub(crate) fn take_expired(&mut self) -> Vec<Expired> {
        std::mem::take(&mut self.expired)
    }

    /// The rejects line of an expiry.
    pub(crate) fn expiry_line(e: &Expired, ttl: Option<Ttl>, max_pending: usize) -> String {
        let why = match (e.reason, ttl) {
            (crate::pipeline::pending::ExpiryReason::Ttl, Some(Ttl::Records(n))) => {
                format!("no label within {n} records")
            }
            (crate::pipeline::pending::ExpiryReason::Ttl, Some(Ttl::Millis(ms))) => {
                format!("no label within {}s", ms as f64 / 1000.0)
            }
            _ => format!("{max_pending} events were waiting (--max-pending)"),
        };
        format!("expired ({}): the event of id {:?} (record {}): {why}", e.reason.name(), e.id, e.arrived.record)
    }

    /// The store's settings.
    pub(crate) fn settings(&self) -> (Option<Ttl>, usize) {
        (self.store.ttl(), self.store.max_pending())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::pending::{Delay, ExpiryReason};

    fn join(max: usize, ttl: Option<Ttl>) -> Join {
        Join::new(&DelayedOptions { id_column: "id".into(), max_pending: max, ttl, feedback: None }).expect("settings")
    }

    #[test]
    fn labels_join_their_events_and_the_rest_is_named() {
        let mut j = join(2, Some(Ttl::Records(3)));
        assert_eq!(j.event("a", Tick::new(0, 0)), Joined::Row(Role::Event, None));
        assert_eq!(j.event("b", Tick::new(1, 0)), Joined::Row(Role::Event, None));
        assert!(matches!(j.event("b", Tick::new(2, 0)), Joined::Row(Role::Duplicate, Some(_))));
        assert!(j.waits("b", Tick::new(3, 0)));
        let fb = j.feedback("b", Tick::new(3, 0));
        assert_eq!(fb, Joined::Row(Role::Feedback { event: 1, delay: Delay { records: 2, millis: 0 } }, None));
        // "a" arrived at 0: past its TTL of 3 records at 4.
        assert!(!j.waits("a", Tick::new(4, 0)));
        assert!(matches!(j.feedback("a", Tick::new(4, 0)), Joined::Row(Role::Late, Some(_))));
        let expired = j.take_expired();
        assert_eq!((expired.len(), expired[0].arrived.record, expired[0].reason), (1, 0, ExpiryReason::Ttl));
        assert!(matches!(j.feedback("zz", Tick::new(5, 0)), Joined::Row(Role::Unknown, Some(_))));
        let saved = postcard::to_allocvec(&j.state()).expect("encodes");
        let mut back = join(2, Some(Ttl::Records(3)));
        back.resume(&postcard::from_bytes(&saved).expect("decodes")).expect("same settings");
        assert_eq!(back.state(), j.state());
        assert!(join(3, Some(Ttl::Records(3))).resume(&j.state()).is_err());
    }

    #[test]
    fn a_full_store_expires_its_oldest_event() {
        let mut j = join(1, None);
        j.event("a", Tick::new(0, 0));
        j.event("b", Tick::new(1, 0));
        let expired = j.take_expired();
        assert_eq!((expired[0].id.as_str(), expired[0].reason), ("a", ExpiryReason::Capacity));
        let line = Join::expiry_line(&expired[0], None, 1);
        assert_eq!(line, "expired (capacity): the event of id \"a\" (record 0): 1 events were waiting (--max-pending)");
    }
}
