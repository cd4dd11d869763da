//! Kafka topics as a source: `kafka://HOST:PORT/TOPIC` reads every partition of the
//! topic from its first message, one record a message, the message's value a JSON
//! object (an NDJSON line) or, with `--format csv --columns ...`, a CSV line without a
//! header, so a topic's records obey exactly the rules of a file's.
//! The run waits for new messages until Ctrl-C or SIGTERM, or stops at the topic's end
//! with `--until-end` (each partition's end as the broker reports it when reached).
//!
//! With `--until-end` the partitions are read one after the other, each to its end: an
//! order that the offsets alone pin down, so a checkpoint (the next offset of each
//! partition) resumes into exactly the records an uninterrupted run reads. A followed
//! topic is read as its messages come, partitions interleaved.
//!
//! Errors and rejects name a record by `topic/partition/offset`, and so do the labels.
//!
//! With `--group G --worker W` the worker is a member of Kafka's consumer group `G`: the
//! broker assigns it some of the topic's partitions (again whenever a worker joins or
//! leaves), it reads each from the group's committed offset, and the offsets of records
//! whose labels are durable are committed through [`Source::acknowledger`]. A partition
//! taken away is handed over: its old owner still commits the records it had read for
//! [`HANDOVER`], and the new owner reads on from the offset committed after [`SETTLE`].
//! A worker killed between its labels and their commit, or slower than the handover,
//! has its last records labelled (and learned) again by the partition's next owner: at
//! least once, each label keyed by its record.

use super::entries::{
    key_batch, lock, run_columns, same_columns, shared_state, EntryReader, Fetch, Lines, Origin, SharedState,
};
use super::text::{LineNames, TextFormat, TextSource};
use super::{Acknowledge, GroupOptions};
use super::{Source, SourceError, SourceOptions};
use crate::record::{Batch, LabelMap, SourcePosition};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long one poll waits before the source looks at Ctrl-C again.
const POLL: Duration = Duration::from_millis(100);
/// Quiet polls in a row (a second) after which a partition read past its high watermark
/// has ended, when the broker sends no end-of-partition event.
const QUIET_POLLS: u32 = 10;
/// Messages taken in one fetch.
const MESSAGES_PER_FETCH: usize = 1024;
/// How long metadata and watermark requests may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a group's worker waits after its assignment changed before it reads: workers
/// that start together join in one rebalance or a few, not after each other's reading
/// began (what the broker's `group.initial.rebalance.delay.ms` does for a new group).
const SETTLE: Duration = Duration::from_secs(2);
/// How long a worker still commits a partition taken away from it: the records it had
/// read are labelled meanwhile (labels are synced once a second), and the partition's
/// new owner reads from the committed offset only after [`SETTLE`].
const HANDOVER: Duration = Duration::from_millis(1500);
/// How long a partition no worker reads may stay behind its end before an idle worker
/// rejoins the group, three session timeouts: brokers that drop a dead member at its
/// session timeout without a rebalance (tansu 0.6) leave its partitions to nobody, and
/// a worker that leaves and joins again makes the group assign every partition anew.
const ORPHANED: Duration = Duration::from_secs(18);

/// A topic's address: the bootstrap brokers and the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Brokers, as librdkafka takes them (`HOST:PORT[,HOST:PORT...]`).
    pub brokers: String,
    /// The topic.
    pub topic: String,
}

impl Address {
    /// Read `kafka://HOST:PORT[,HOST:PORT...]/TOPIC`.
    pub fn parse(input: &str) -> Result<Self, String> {
        const FORM: &str = "expected kafka://HOST:PORT/TOPIC";
        let rest =
            input.get(..8).filter(|s| s.eq_ignore_ascii_case("kafka://")).and_then(|_| input.get(8..)).ok_or(FORM)?;
        let (brokers, topic) = rest.split_once('/').ok_or(FORM)?;
        if brokers.is_empty() {
            return Err(format!("no broker: {FORM}"));
        }
        // Kafka's own rule for topic names.
        let valid = !topic.is_empty()
            && topic.len() <= 249
            && topic.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(format!("{topic:?} is not a topic name (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-')"));
        }
        Ok(Self { brokers: brokers.to_string(), topic: topic.to_string() })
    }
}

/// The next offset of each partition, as a checkpoint keeps it: `0:120,1:98`.
pub(crate) fn offsets_text(offsets: &BTreeMap<i32, i64>) -> String {
    offsets.iter().map(|(p, o)| format!("{p}:{o}")).collect::<Vec<_>>().join(",")
}

/// [`offsets_text`] read back, refused when it is not one.
pub(crate) fn parse_offsets(text: &str) -> Result<BTreeMap<i32, i64>, String> {
    if text.is_empty() {
        return Ok(BTreeMap::new());
    }
    text.split(',')
        .map(|pair| {
            let (p, o) = pair.split_once(':').ok_or_else(|| format!("{pair:?} is not PARTITION:OFFSET"))?;
            let p: i32 = p.parse().map_err(|_| format!("{p:?} is not a partition"))?;
            let o: i64 = o.parse().map_err(|_| format!("{o:?} is not an offset"))?;
            if p < 0 || o < 0 {
                return Err(format!("{pair:?}: negative"));
            }
            Ok((p, o))
        })
        .collect()
}

/// The partition and offset a message key (`topic/partition/offset`) names.
fn partition_offset(key: &str) -> Option<(i32, i64)> {
    let mut parts = key.rsplitn(3, '/');
    let offset = parts.next()?.parse().ok()?;
    let partition = parts.next()?.parse().ok()?;
    Some((partition, offset))
}

/// Changes of a group's assignment, as the consumer's rebalance callback reports them
/// (the fetch takes them up after each poll), and when each partition was taken away.
#[derive(Clone, Default)]
struct Rebalances {
    assignments: Arc<Mutex<Assignments>>,
    /// Held while committing.
    committing: Arc<Mutex<()>>,
}

#[derive(Default)]
struct Assignments {
    changes: Vec<Change>,
    revoked: BTreeMap<i32, Instant>,
    /// Each partition's offset after the last record the source gave the models.
    emitted: BTreeMap<i32, i64>,
    /// Each partition's offset after the last record acknowledged and settled (committed,
    /// or found committed further, or no longer the worker's).
    settled: BTreeMap<i32, i64>,
    /// Offsets acknowledged whose commit a rebalance refused: committed at the next try.
    refused: BTreeMap<i32, i64>,
    /// Offsets of rejected records not yet committed past: each is, once every record
    /// before it is settled (it has no label to wait for).
    rejected: BTreeMap<i32, BTreeSet<i64>>,
    /// When `settled` last moved: a worker whose labels stop settling (records a
    /// clusterer holds until it can start) ends after [`SETTLE_PATIENCE`] anyway.
    settled_at: Option<Instant>,
}

/// How long a worker with nothing left to read waits for its labels to settle.
const SETTLE_PATIENCE: Duration = Duration::from_secs(10);

impl Assignments {
    /// `next` with each partition's offset moved past the rejected records that follow it.
    fn past_rejected(&mut self, next: &mut BTreeMap<i32, i64>) {
        for (p, at) in next.iter_mut() {
            if let Some(rejected) = self.rejected.get_mut(p) {
                rejected.retain(|&o| o >= *at);
                while rejected.remove(at) {
                    *at += 1;
                }
            }
        }
    }

    /// A partition taken up from `from`: what was emitted and settled before is another
    /// owner's story now.
    fn start(&mut self, partition: i32, from: i64) {
        self.emitted.insert(partition, from);
        self.settled.insert(partition, from);
        self.rejected.remove(&partition);
    }
}

/// Raise each partition's offset in `into` to `from`'s where that is further.
fn raise(into: &mut BTreeMap<i32, i64>, from: &BTreeMap<i32, i64>) {
    for (&p, &o) in from {
        let at = into.entry(p).or_insert(o);
        *at = (*at).max(o);
    }
}

/// Partitions given to the worker (`true`) or taken away.
type Change = (bool, Vec<i32>);

impl Rebalances {
    fn lock(&self) -> std::sync::MutexGuard<'_, Assignments> {
        // Plain data, whole after any panic between its calls.
        self.assignments.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self) -> Vec<Change> {
        std::mem::take(&mut self.lock().changes)
    }

    /// Whether `partition` was taken away from the worker less than [`HANDOVER`] ago.
    fn handing_over(&self, partition: i32) -> bool {
        self.lock().revoked.get(&partition).is_some_and(|at| at.elapsed() < HANDOVER)
    }

    /// Whether every record of `partitions` given to the models is settled, rejected
    /// ones included, and no commit waits for another try; or the labels stopped
    /// settling [`SETTLE_PATIENCE`] ago.
    fn all_settled(&self, partitions: &BTreeSet<i32>) -> bool {
        let a = self.lock();
        let done = a.refused.is_empty()
            && partitions.iter().all(|p| {
                a.emitted.get(p).is_none_or(|&emitted| a.settled.get(p).is_some_and(|&s| s >= emitted))
                    && a.rejected.get(p).is_none_or(BTreeSet::is_empty)
            });
        done || a.settled_at.is_some_and(|at| at.elapsed() >= SETTLE_PATIENCE)
    }
}

impl ClientContext for Rebalances {}

impl ConsumerContext for Rebalances {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let partitions = |list: &TopicPartitionList| list.elements().iter().map(|e| e.partition()).collect();
        let change: Change = match rebalance {
            Rebalance::Assign(list) => (true, partitions(list)),
            Rebalance::Revoke(list) => (false, partitions(list)),
            Rebalance::Error(_) => return,
        };
        let mut assignments = self.lock();
        for &p in &change.1 {
            if change.0 {
                assignments.revoked.remove(&p);
            } else {
                assignments.revoked.insert(p, Instant::now());
            }
        }
        assignments.changes.push(change);
    }
}

type GroupConsumer = BaseConsumer<Rebalances>;

fn consumer(brokers: &str, group: Option<&GroupOptions>, rebalances: Rebalances) -> Result<GroupConsumer, String> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        // Positions are kept in eddy's checkpoints, or committed once labels are durable.
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // The end of a partition is told by an event (`--until-end`).
        .set("enable.partition.eof", "true")
        // A fetch returns what is there at once rather than waiting to fill.
        .set("fetch.wait.max.ms", "10");
    match group {
        Some(group) => config
            .set("group.id", &group.group)
            .set("client.id", &group.worker)
            // A killed worker's partitions go to the others after this long.
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "1000"),
        // Partitions are assigned by eddy.
        None => config.set("group.id", "eddy-reader"),
    };
    config.create_with_context(rebalances).map_err(|e| e.to_string())
}

/// The offsets the group committed for `partitions` of `topic` (those without one left out).
fn committed_offsets(
    consumer: &GroupConsumer,
    topic: &str,
    partitions: impl IntoIterator<Item = i32>,
    timeout: Duration,
) -> Result<BTreeMap<i32, i64>, KafkaError> {
    let mut list = TopicPartitionList::new();
    for p in partitions {
        list.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(list, timeout)?;
    Ok((committed.elements().iter())
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect())
}

/// Commits a group's offsets: each partition's after the last record acknowledged.
struct Commits {
    consumer: Arc<GroupConsumer>,
    topic: String,
}

impl Commits {
    /// Commit each partition's offset in `next` that the worker holds (or is handing
    /// over) and no other worker committed further; offsets a rebalance refused are kept
    /// in [`Assignments::refused`] for the next try.
    fn commit(&self, mut next: BTreeMap<i32, i64>) -> Result<(), String> {
        let rebalances = self.consumer.context();
        // One commit at a time (the sink's thread and the fetch's): a read of the
        // committed offsets and the commit after it must not interleave with another's.
        let _one = rebalances.committing.lock().unwrap_or_else(PoisonError::into_inner);
        rebalances.lock().past_rejected(&mut next);
        if next.is_empty() {
            return Ok(());
        }
        // A partition the group has given to another worker is that worker's to commit
        // once handed over: it reads on from the last commit (later records labelled twice).
        let held = self.consumer.assignment().map_err(|e| e.to_string())?;
        let is_held = |p: i32| held.find_partition(&self.topic, p).is_some();
        let mine: BTreeMap<i32, i64> =
            next.iter().filter(|&(&p, _)| is_held(p) || rebalances.handing_over(p)).map(|(&p, &o)| (p, o)).collect();
        // Another worker may have committed further already (the broker told this one
        // late, or gave two workers a partition for a while): a commit never takes a
        // partition back. Unanswered, only held partitions are committed.
        let committed =
            committed_offsets(&self.consumer, &self.topic, mine.keys().copied(), Duration::from_secs(2)).ok();
        let mut list = TopicPartitionList::new();
        for (&p, &at) in &mine {
            let further = match &committed {
                Some(committed) => committed.get(&p).is_some_and(|&theirs| theirs >= at),
                None => !is_held(p),
            };
            if !further {
                list.add_partition_offset(&self.topic, p, Offset::Offset(at)).map_err(|e| e.to_string())?;
            }
        }
        let done = if list.count() == 0 { Ok(()) } else { self.consumer.commit(&list, CommitMode::Sync) };
        let mut assignments = rebalances.lock();
        match done {
            Ok(()) => {
                raise(&mut assignments.settled, &next);
                assignments.settled_at = Some(Instant::now());
                Ok(())
            }
            Err(KafkaError::ConsumerCommit(
                RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::UnknownMemberId,
            )) => {
                raise(&mut assignments.refused, &mine);
                // The rest is no longer this worker's: settled as far as it goes.
                let theirs: BTreeMap<i32, i64> = next.into_iter().filter(|(p, _)| !mine.contains_key(p)).collect();
                raise(&mut assignments.settled, &theirs);
                Ok(())
            }
            Err(e) => Err(format!("committing the offsets of topic {}: {e}", self.topic)),
        }
    }

    /// Try again the commits a rebalance refused, and commit past rejected records
    /// that follow what is settled.
    fn retry(&self) -> Result<(), String> {
        let next = {
            let mut a = self.consumer.context().lock();
            let mut next = std::mem::take(&mut a.refused);
            let waiting: Vec<(i32, i64)> = (a.rejected.iter())
                .filter(|(_, r)| !r.is_empty())
                .filter_map(|(&p, _)| Some((p, *a.settled.get(&p)?)))
                .collect();
            for (p, settled) in waiting {
                let at = next.entry(p).or_insert(settled);
                *at = (*at).max(settled);
            }
            next
        };
        self.commit(next)
    }
}

impl Acknowledge for Commits {
    fn acknowledge(&self, keys: &[Arc<str>]) -> Result<(), String> {
        let mut next = std::mem::take(&mut self.consumer.context().lock().refused);
        for (p, o) in keys.iter().filter_map(|k| partition_offset(k)) {
            let at = next.entry(p).or_insert(o + 1);
            *at = (*at).max(o + 1);
        }
        self.commit(next)
    }
}

/// A consumer outside the group, at the end of the partitions it watches: the fetch
/// responses carry their high watermarks, which its statistics report.
struct Probe {
    consumer: BaseConsumer<Highs>,
    topic: String,
    watched: Vec<i32>,
}

/// The high watermarks in the probe's last statistics.
#[derive(Clone, Default)]
struct Highs {
    topic: String,
    highs: Arc<Mutex<BTreeMap<i32, i64>>>,
}

impl ClientContext for Highs {
    fn stats(&self, statistics: rdkafka::Statistics) {
        let Some(topic) = statistics.topics.get(&self.topic) else { return };
        // Plain data, whole after any panic between its calls.
        let mut highs = self.highs.lock().unwrap_or_else(PoisonError::into_inner);
        for (&p, partition) in &topic.partitions {
            // Unknown until a fetch answered (negative).
            if p >= 0 && partition.hi_offset >= 0 {
                highs.insert(p, partition.hi_offset);
            }
        }
    }
}

impl ConsumerContext for Highs {}

impl Probe {
    fn open(brokers: &str, topic: &str) -> Result<Self, String> {
        let highs = Highs { topic: topic.to_string(), highs: Arc::default() };
        let consumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "eddy-reader")
            .set("enable.auto.commit", "false")
            .set("statistics.interval.ms", "1000")
            // Messages that come after the probe's start are dropped: fetch little of them.
            .set("max.partition.fetch.bytes", "1024")
            .set("queued.max.messages.kbytes", "64")
            .create_with_context(highs)
            .map_err(|e| e.to_string())?;
        Ok(Self { consumer, topic: topic.to_string(), watched: Vec::new() })
    }

    /// Fetch `partitions` at their end from now on, and serve the statistics due. A
    /// watermark only grows: one reported before a change of the set may be low, which
    /// a topic still written to can make end a group's read early (as far as it got).
    fn watch(&mut self, partitions: &[i32]) -> Result<(), KafkaError> {
        if self.watched != partitions {
            let mut list = TopicPartitionList::new();
            for &p in partitions {
                list.add_partition_offset(&self.topic, p, Offset::End)?;
            }
            self.consumer.assign(&list)?;
            self.consumer.context().highs.lock().unwrap_or_else(PoisonError::into_inner).clear();
            self.watched = partitions.to_vec();
        }
        // The statistics' callbacks are served by polls (each ends one with nothing
        // to return), messages dropped: drain what queued up while the worker was busy.
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(20) {
            let _ = self.consumer.poll(Duration::ZERO);
        }
        Ok(())
    }

    fn highs(&self) -> BTreeMap<i32, i64> {
        let highs = self.consumer.context().highs.lock().unwrap_or_else(PoisonError::into_inner);
        self.watched.iter().filter_map(|p| Some((*p, *highs.get(p)?))).collect()
    }
}

/// What one poll gave.
enum Taken {
    Message,
    /// A message before the offset asked for.
    Skipped,
    /// The end of this partition.
    End(i32),
    Nothing,
}

/// Reads the topic's messages.
struct KafkaFetch {
    consumer: Arc<GroupConsumer>,
    topic: String,
    /// How a message's value reads: a JSON object, or a CSV line.
    format: TextFormat,
    follow: bool,
    /// A group's worker: the assignment changes to take up.
    rebalances: Option<Rebalances>,
    /// A group's worker: the partitions it holds.
    held: BTreeSet<i32>,
    /// A group's worker: partitions read to their end (an end event after the last message).
    ended: BTreeSet<i32>,
    /// A group's worker: held partitions are paused until then, after a rebalance.
    settling: Option<Instant>,
    /// A group's worker: partitions assigned whose offset to read from is asked for once settled.
    starting: BTreeSet<i32>,
    /// The topic's partitions.
    partitions: Vec<i32>,
    /// The next offset to read of each partition.
    next: BTreeMap<i32, i64>,
    /// With `--until-end`: the partitions still to read, in order.
    plan: VecDeque<i32>,
    /// The partition being read (`--until-end`), to its end.
    current: Option<i32>,
    /// Polls in a row that brought nothing.
    quiet: u32,
    /// Partitions assigned at an offset whose first message has not come yet: the offset,
    /// and whether the partition was asked again from its start.
    sought: BTreeMap<i32, (i64, bool)>,
    /// Partitions read again from their start that have brought no message since.
    rewound: BTreeSet<i32>,
    /// A group's worker: each partition it does not hold that is behind its end, with
    /// the offset committed for it and since when that has not moved.
    behind: BTreeMap<i32, (i64, Instant)>,
    /// A group's worker: the high watermarks of the partitions it does not hold.
    probe: Option<Probe>,
    brokers: String,
    quit: Arc<AtomicBool>,
}

impl KafkaFetch {
    fn open(address: &Address, start: &BTreeMap<i32, i64>, options: &SourceOptions) -> Result<Self, String> {
        let rebalances = Rebalances::default();
        let consumer = Arc::new(consumer(&address.brokers, options.group.as_ref(), rebalances.clone())?);
        let metadata = consumer
            .fetch_metadata(Some(&address.topic), METADATA_TIMEOUT)
            .map_err(|e| format!("reading the topic's partitions: {e}"))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == address.topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(format!("no topic {:?} on {}", address.topic, address.brokers));
        }
        let next: BTreeMap<i32, i64> = partitions.iter().map(|&p| (p, start.get(&p).copied().unwrap_or(0))).collect();
        let mut fetch = Self {
            consumer,
            topic: address.topic.clone(),
            format: options.format.unwrap_or(TextFormat::Ndjson),
            follow: !options.until_end,
            rebalances: options.group.is_some().then_some(rebalances),
            held: BTreeSet::new(),
            ended: BTreeSet::new(),
            settling: None,
            starting: BTreeSet::new(),
            next,
            partitions: partitions.clone(),
            plan: VecDeque::new(),
            current: None,
            quiet: 0,
            sought: BTreeMap::new(),
            rewound: BTreeSet::new(),
            behind: BTreeMap::new(),
            probe: None,
            brokers: address.brokers.clone(),
            quit: Arc::clone(&options.quit),
        };
        if fetch.rebalances.is_some() {
            fetch.consumer.subscribe(&[&address.topic]).map_err(|e| e.to_string())?;
        } else if fetch.follow {
            let mut all = TopicPartitionList::new();
            for (&p, &o) in &fetch.next {
                all.add_partition_offset(&fetch.topic, p, Offset::Offset(o)).map_err(|e| e.to_string())?;
                fetch.sought.insert(p, (o, false));
            }
            fetch.consumer.assign(&all).map_err(|e| e.to_string())?;
        } else {
            // Each to the end the broker reports when it is reached (a topic still
            // written to is read as far as it got then).
            fetch.plan.extend(partitions);
        }
        Ok(fetch)
    }

    /// Take one message into `lines`: `Taken::Nothing` when none came within `wait`,
    /// `Taken::End` at the end of a partition.
    fn take(&mut self, lines: &mut Lines, wait: Duration) -> io::Result<Taken> {
        // The message borrows the consumer; taking up an assignment changes `self`.
        let consumer = Arc::clone(&self.consumer);
        let polled = consumer.poll(wait);
        self.take_up_rebalances()?;
        let message = match polled {
            None => return Ok(Taken::Nothing),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => return self.end_of(p),
            Some(message) => message.map_err(io::Error::other)?,
        };
        let (partition, offset) = (message.partition(), message.offset());
        if self.rebalances.is_some() && !self.held.contains(&partition) {
            // Fetched before its partition was taken away: its new owner reads it.
            return Ok(Taken::Skipped);
        }
        if self.starting.contains(&partition) {
            // Fetched before the partition was paused: it is read from the committed
            // offset once settled (a later message first makes it read again from its start).
            return Ok(Taken::Skipped);
        }
        if let Some(&(wanted, retried)) = self.sought.get(&partition) {
            self.rewound.remove(&partition);
            if offset < wanted {
                // Read again from the start to reach `wanted`: skipped.
                return Ok(Taken::Skipped);
            }
            if offset > wanted && !retried {
                // Some brokers (tansu) answer a fetch from inside a batch with the next
                // batch: ask again from the partition's start and skip up to `wanted`.
                // A gap that stays (a compacted topic) is taken as it is.
                return self.rewind(partition, wanted);
            }
            self.sought.remove(&partition);
        }
        let key = format!("{}/{partition}/{offset}", self.topic);
        self.ended.remove(&partition);
        match self.format {
            TextFormat::Ndjson => lines.push_json(&key, message.payload().unwrap_or_default()),
            TextFormat::Csv => lines.push_line(&key, message.payload().unwrap_or_default()),
        }
        self.next.insert(partition, offset + 1);
        Ok(Taken::Message)
    }
}

impl KafkaFetch {
    /// A group's worker takes up the partitions assigned to it (each from the group's
    /// committed offset) and lets go of those revoked.
    fn take_up_rebalances(&mut self) -> io::Result<()> {
        let Some(rebalances) = &self.rebalances else { return Ok(()) };
        let changes = rebalances.take();
        if changes.is_empty() {
            return self.settled();
        }
        for (assigned, partitions) in changes {
            if !assigned {
                for p in partitions {
                    self.held.remove(&p);
                    self.starting.remove(&p);
                    self.ended.remove(&p);
                    self.sought.remove(&p);
                    self.rewound.remove(&p);
                    self.next.remove(&p);
                }
                continue;
            }
            for p in partitions {
                self.held.insert(p);
                self.ended.remove(&p);
                self.starting.insert(p);
            }
        }
        self.consumer.pause(&self.held_list()).map_err(io::Error::other)?;
        self.settling = Some(Instant::now() + SETTLE);
        Ok(())
    }

    /// Once the assignment has kept still for [`SETTLE`], read the held partitions again,
    /// each partition new to the worker from the offset the group committed by then (its
    /// old owner's last commits included).
    fn settled(&mut self) -> io::Result<()> {
        if self.settling.is_none_or(|until| Instant::now() < until) {
            return Ok(());
        }
        self.settling = None;
        let starting = std::mem::take(&mut self.starting);
        let committed = committed_offsets(&self.consumer, &self.topic, starting.iter().copied(), METADATA_TIMEOUT)
            .map_err(io::Error::other)?;
        self.consumer.resume(&self.held_list()).map_err(io::Error::other)?;
        for p in starting {
            let from = committed.get(&p).copied().unwrap_or(0);
            self.consumer.context().lock().start(p, from);
            self.sought.insert(p, (from, false));
            self.next.insert(p, from);
            // Messages and the end event skipped while settling moved the fetch on: it
            // starts again at `from`, and tells the end again if there.
            self.consumer.seek(&self.topic, p, Offset::Offset(from), METADATA_TIMEOUT).map_err(io::Error::other)?;
        }
        Ok(())
    }

    fn held_list(&self) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for &p in &self.held {
            list.add_partition(&self.topic, p);
        }
        list
    }

    /// A group's worker with `--until-end`: every partition it holds is read to its end
    /// (an end event: brokers' high watermarks are not trusted, tansu's lag), and the
    /// group committed every other partition up to its high watermark (a killed worker's
    /// partitions go to a worker still there after the session timeout, or after
    /// [`ORPHANED`] through a rejoin on a broker that does not rebalance then).
    fn group_ended(&mut self) -> io::Result<bool> {
        Ok(self.idle() && self.labels_settled()? && !self.watch_others()?)
    }

    /// Whether the labels of every record the worker read from the partitions it holds
    /// are written and their offsets committed (trying again commits a rebalance refused).
    fn labels_settled(&self) -> io::Result<bool> {
        let commits = Commits { consumer: Arc::clone(&self.consumer), topic: self.topic.clone() };
        commits.retry().map_err(io::Error::other)?;
        Ok(self.consumer.context().all_settled(&self.held))
    }

    /// A group's worker has read every partition it holds to its end.
    fn idle(&self) -> bool {
        self.settling.is_none() && self.held.is_subset(&self.ended)
    }

    /// Note which partitions the worker does not hold are committed short of their high
    /// watermark, and rejoin the group when one has not moved for [`ORPHANED`]; whether
    /// any is behind.
    fn watch_others(&mut self) -> io::Result<bool> {
        let others: Vec<i32> = self.partitions.iter().copied().filter(|p| !self.held.contains(p)).collect();
        let committed = committed_offsets(&self.consumer, &self.topic, others.iter().copied(), METADATA_TIMEOUT)
            .map_err(io::Error::other)?;
        let highs = self.high_watermarks(&others)?;
        let mut behind = BTreeMap::new();
        for p in others {
            let at = committed.get(&p).copied().unwrap_or(0);
            if highs.get(&p).is_none_or(|&high| at < high) {
                let since = match self.behind.get(&p) {
                    Some(&(before, since)) if before == at => since,
                    _ => Instant::now(),
                };
                behind.insert(p, (at, since));
            }
        }
        let any = !behind.is_empty();
        self.behind = behind;
        if self.behind.values().any(|(_, since)| since.elapsed() >= ORPHANED) {
            self.rejoin()?;
        }
        Ok(any)
    }

    /// The high watermarks of `partitions` as the broker's fetch responses report them
    /// (a probe outside the group fetches them at their end; its statistics, once a
    /// second, tell). Not the broker's answer to a watermark request: tansu 0.6 answers
    /// that with its last batch's first offset plus one, which a group's end would
    /// trust inside the last batch. Partitions not reported yet are left out.
    fn high_watermarks(&mut self, partitions: &[i32]) -> io::Result<BTreeMap<i32, i64>> {
        if partitions.is_empty() {
            return Ok(BTreeMap::new());
        }
        let probe = match &mut self.probe {
            Some(probe) => probe,
            none => none.insert(Probe::open(&self.brokers, &self.topic).map_err(io::Error::other)?),
        };
        probe.watch(partitions).map_err(io::Error::other)?;
        Ok(probe.highs())
    }

    /// Leave the group and join it again, so that it assigns every partition anew.
    fn rejoin(&mut self) -> io::Result<()> {
        self.behind.clear();
        self.consumer.unsubscribe();
        self.consumer.subscribe(&[&self.topic]).map_err(io::Error::other)
    }

    /// Read again from their start the partitions sought inside that brought neither a
    /// message nor an end event: tansu answers a fetch from inside a partition's last
    /// batch with nothing, ever.
    /// Whether any was.
    fn rewind_silent(&mut self) -> io::Result<bool> {
        let silent: Vec<(i32, i64)> = (self.sought.iter())
            .filter(|&(p, &(wanted, retried))| wanted > 0 && !retried && !self.ended.contains(p))
            .map(|(&p, &(wanted, _))| (p, wanted))
            .collect();
        for &(p, wanted) in &silent {
            self.rewind(p, wanted)?;
        }
        Ok(!silent.is_empty())
    }

    /// Read `partition` again from its start, to skip up to `wanted`.
    fn rewind(&mut self, partition: i32, wanted: i64) -> io::Result<Taken> {
        self.sought.insert(partition, (wanted, true));
        self.rewound.insert(partition);
        self.consumer.seek(&self.topic, partition, Offset::Beginning, METADATA_TIMEOUT).map_err(io::Error::other)?;
        Ok(Taken::Skipped)
    }

    /// An end-of-partition event. Before the first message after an assignment at an
    /// offset inside the partition it may be the broker's empty answer to a fetch from
    /// inside its last batch (tansu): the partition is read again from its start. Right
    /// after that, an end event is the stale answer to the fetch before: not the end.
    fn end_of(&mut self, partition: i32) -> io::Result<Taken> {
        if self.rewound.contains(&partition) || self.starting.contains(&partition) {
            return Ok(Taken::Skipped);
        }
        match self.sought.get(&partition) {
            Some(&(wanted, false)) if wanted > 0 => self.rewind(partition, wanted),
            _ => Ok(Taken::End(partition)),
        }
    }
}

impl KafkaFetch {
    /// Take the messages that are there (waiting one poll for the first), at most a
    /// fetch's worth, noting partitions that reached their end; how many came.
    fn take_waiting(&mut self, lines: &mut Lines) -> io::Result<usize> {
        let mut taken = 0;
        for i in 0..MESSAGES_PER_FETCH {
            match self.take(lines, if i == 0 { POLL } else { Duration::ZERO })? {
                Taken::Message => taken += 1,
                Taken::End(p) => {
                    self.ended.insert(p);
                }
                Taken::Skipped => {}
                Taken::Nothing => break,
            }
        }
        Ok(taken)
    }
}

impl Fetch for KafkaFetch {
    fn fetch(&mut self, lines: &mut Lines) -> io::Result<()> {
        if self.follow {
            let taken = self.take_waiting(lines)?;
            if taken > 0 {
                self.quiet = 0;
                return Ok(());
            }
            self.quiet += 1;
            if self.rebalances.is_some() && self.quiet.is_multiple_of(QUIET_POLLS) && self.idle() {
                // Only a watch: a broker slow to answer is asked again in a second.
                if self.labels_settled().unwrap_or(false) {
                    let _ = self.watch_others();
                }
            }
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if self.rebalances.is_some() {
            // A group's worker to the end: its partitions come and go, read as they come,
            // and a quiet fetch hands on the records read so far (their labels settle meanwhile).
            if self.take_waiting(lines)? > 0 {
                self.quiet = 0;
                return Ok(());
            }
            self.quiet += 1;
            if self.quit.load(Ordering::Relaxed) {
                return Ok(());
            }
            if self.quiet.is_multiple_of(QUIET_POLLS) {
                self.rewind_silent()?;
                if self.group_ended()? {
                    return Ok(());
                }
            }
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut taken = 0;
        while taken < MESSAGES_PER_FETCH {
            let partition = match self.current {
                Some(current) => current,
                None => {
                    let Some(p) = self.plan.pop_front() else { return Ok(()) };
                    let mut one = TopicPartitionList::new();
                    let from = self.next.get(&p).copied().unwrap_or(0);
                    one.add_partition_offset(&self.topic, p, Offset::Offset(from)).map_err(io::Error::other)?;
                    self.consumer.assign(&one).map_err(io::Error::other)?;
                    self.sought.insert(p, (from, false));
                    self.current = Some(p);
                    p
                }
            };
            match self.take(lines, POLL)? {
                Taken::Message => {
                    taken += 1;
                    self.quiet = 0;
                }
                Taken::Skipped => self.quiet = 0,
                Taken::End(p) if p == partition => self.current = None,
                Taken::End(_) => {}
                // Stopped while a partition had messages still to come: the end.
                Taken::Nothing if self.quit.load(Ordering::Relaxed) => return Ok(()),
                // Quiet: past the partition's high watermark is its end too (a broker
                // that sends no end-of-partition event after the last batch).
                Taken::Nothing => {
                    self.quiet += 1;
                    if self.quiet >= QUIET_POLLS {
                        self.quiet = 0;
                        // Sought inside the partition's last batch (tansu, which then answers
                        // nothing, and may report a stale high watermark).
                        if self.rewind_silent()? {
                            continue;
                        }
                        let high = self.consumer.fetch_watermarks(&self.topic, partition, METADATA_TIMEOUT);
                        let next = self.next.get(&partition).copied().unwrap_or(0);
                        if high.map_err(io::Error::other)?.1 <= next {
                            self.current = None;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Records from a Kafka topic. See the module documentation.
pub struct KafkaSource {
    inner: TextSource,
    shared: SharedState,
    /// The reader's consumer: a group's offsets are committed through it.
    consumer: Arc<GroupConsumer>,
    name: String,
    address: Address,
    options: SourceOptions,
    /// The next offset of each partition after the lines read so far, but the last.
    consumed: BTreeMap<i32, i64>,
}

impl KafkaSource {
    /// Connect to the topic at `url` and read up to its first message, which fixes the
    /// columns (waiting for it unless `until_end`).
    pub fn open(url: &str, options: SourceOptions) -> Result<Self, SourceError> {
        let schema = |reason: String| SourceError::Schema { source_name: url.to_string(), reason };
        let address = Address::parse(url).map_err(schema)?;
        if options.format == Some(TextFormat::Csv) && options.columns.is_none() {
            return Err(schema(
                "--format csv: a Kafka message's value is one CSV line without a header: name its columns with --columns"
                    .into(),
            ));
        }
        if options.delayed.is_some() {
            return Err(schema("--delayed-labels reads files only for now".into()));
        }
        if options.follow {
            return Err(schema("--follow is for files: a Kafka topic is followed unless --until-end".into()));
        }
        let (inner, shared, consumer) = Self::read_from(url, &address, &options, &BTreeMap::new(), 0)?;
        Ok(Self { inner, shared, consumer, name: url.to_string(), address, options, consumed: BTreeMap::new() })
    }

    fn read_from(
        input: &str,
        address: &Address,
        options: &SourceOptions,
        start: &BTreeMap<i32, i64>,
        line: u64,
    ) -> Result<(TextSource, SharedState, Arc<GroupConsumer>), SourceError> {
        let fetch = KafkaFetch::open(address, start, options)
            .map_err(|reason| SourceError::Schema { source_name: input.to_string(), reason })?;
        let consumer = Arc::clone(&fetch.consumer);
        let shared = shared_state(None);
        let reader = EntryReader { fetch, lines: Lines::plain(Arc::clone(&shared), line) };
        let mut options = options.clone();
        let format = *options.format.get_or_insert(TextFormat::Ndjson);
        let mut inner = TextSource::from_reader(input.to_string(), Box::new(reader), format, options)?;
        let origin: LineNames = Arc::new(Origin(Arc::clone(&shared)));
        inner.name_lines(origin);
        Ok((inner, shared, consumer))
    }
}

impl Source for KafkaSource {
    fn next_batch(&mut self) -> Result<Option<Batch>, SourceError> {
        let mut batch = self.inner.next_batch();
        let at = self.inner.position();
        // The offsets of the lines about to be forgotten: where a checkpoint stands.
        for key in lock(&self.shared).ids.keys_before(at.line) {
            if let Some((p, o)) = partition_offset(key) {
                self.consumed.insert(p, o + 1);
            }
        }
        let rejected = key_batch(&self.shared, &self.name, &at, &mut batch)?;
        if self.options.group.is_some() {
            // What the worker waits to see settled before its group's end, and the
            // rejected records to commit past once what comes before them is.
            let keys = batch.as_ref().ok().and_then(Option::as_ref).and_then(|b| b.keys.as_ref());
            let mut emitted = BTreeMap::new();
            for (p, o) in keys.into_iter().flatten().filter_map(|k| partition_offset(k)) {
                let at = emitted.entry(p).or_insert(o + 1);
                *at = (*at).max(o + 1);
            }
            let mut a = self.consumer.context().lock();
            raise(&mut a.emitted, &emitted);
            for (p, o) in rejected.iter().filter_map(|k| partition_offset(k)) {
                a.rejected.entry(p).or_default().insert(o);
            }
        }
        batch
    }

    fn feature_names(&self) -> &[String] {
        self.inner.feature_names()
    }

    fn categorical_names(&self) -> &[String] {
        self.inner.categorical_names()
    }

    fn label_map(&self) -> Option<&LabelMap> {
        self.inner.label_map()
    }

    fn has_labels(&self) -> bool {
        self.inner.has_labels()
    }

    fn rejected(&self) -> u64 {
        self.inner.rejected()
    }

    fn position(&self) -> SourcePosition {
        let mut position = self.inner.position();
        position.checksum = None;
        let mut offsets = self.consumed.clone();
        if let Some((p, o)) = lock(&self.shared).ids.get(position.line).as_deref().and_then(partition_offset) {
            offsets.insert(p, o + 1);
        }
        position.stream = Some(super::redis::StreamPosition {
            stream: self.address.topic.clone(),
            last_id: offsets_text(&offsets),
            header: None,
        });
        position
    }

    fn resume(&mut self, position: &SourcePosition) -> Result<(), SourceError> {
        let schema = |reason: String| SourceError::Schema { source_name: self.name.clone(), reason };
        let Some(at) = &position.stream else {
            return Err(schema("the checkpoint was not taken on a Kafka topic".into()));
        };
        if at.stream != self.address.topic {
            return Err(schema(format!("the checkpoint was taken on the topic {:?}", at.stream)));
        }
        let offsets = parse_offsets(&at.last_id).map_err(|e| schema(format!("the checkpoint's offsets: {e}")))?;
        let options = run_columns(&self.inner, &self.options);
        let (mut inner, shared, consumer) =
            Self::read_from(&self.name, &self.address, &options, &offsets, position.line)?;
        same_columns(&self.name, &self.inner, &inner, "message")?;
        inner.continue_after(position)?;
        (self.inner, self.shared, self.consumer, self.consumed) = (inner, shared, consumer, offsets);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), SourceError> {
        self.inner.sync()
    }

    fn acknowledger(&self) -> Option<Arc<dyn Acknowledge>> {
        self.options.group.as_ref()?;
        Some(Arc::new(Commits { consumer: Arc::clone(&self.consumer), topic: self.address.topic.clone() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_brokers_and_a_topic() {
        let a = Address::parse("kafka://127.0.0.1:9092/events").expect("valid");
        assert_eq!(a, Address { brokers: "127.0.0.1:9092".into(), topic: "events".into() });
        let a = Address::parse("KAFKA://h1:1,h2:2/ev.v1_x-y").expect("valid");
        assert_eq!(a, Address { brokers: "h1:1,h2:2".into(), topic: "ev.v1_x-y".into() });
        for bad in ["kafka://h:1", "kafka://h:1/", "kafka:///events", "kafka://h/a/b", "kafka://h/a b", "redis://h/x"] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn offsets_read_back_and_keys_name_them() {
        let offsets: BTreeMap<i32, i64> = [(0, 120), (3, 7)].into_iter().collect();
        assert_eq!(offsets_text(&offsets), "0:120,3:7");
        assert_eq!(parse_offsets("0:120,3:7"), Ok(offsets));
        assert_eq!(parse_offsets(""), Ok(BTreeMap::new()));
        for bad in ["0", "a:1", "0:-1", "-1:0", "0:1,", "0:99999999999999999999"] {
            assert!(parse_offsets(bad).is_err(), "{bad}");
        }
        assert_eq!(partition_offset("events/2/41"), Some((2, 41)));
        assert_eq!(partition_offset("events/x/41"), None);
    }
}
