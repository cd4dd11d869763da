//! Redis Streams as a source: `redis://HOST:PORT/STREAM` reads the stream's entries
//! from its first (`XREAD`), one record an entry, the entry's fields its columns. The
//! run waits for new entries until Ctrl-C or SIGTERM, or stops at the stream's end
//! with `--until-end`.
//!
//! The entries become CSV lines for [`TextSource`], so a stream's records obey exactly
//! the rules of a file's (schema inference, bad records and rejects, categories,
//! missing values, line length): the first entry's field names are the header, later
//! entries are laid out in that order, a field an entry lacks is an empty (missing)
//! value, and a field the first entry did not have makes the record too wide. Errors
//! and rejects name a record by its entry id.

use super::entries::{
    key_batch, lock, run_columns, same_columns, shared_state, EntryReader, Fetch, Lines, Origin, SharedState,
};
use super::text::{LineNames, TextFormat, TextSource};
use super::{GroupOptions, Source, SourceError, SourceOptions};
use crate::record::{Batch, LabelMap, SourcePosition};
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// How long one read waits for new entries before the source looks at Ctrl-C again.
const BLOCK_MS: u64 = 100;
/// Entries asked for in one read.
const ENTRIES_PER_READ: usize = 1024;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `input` as it may be shown (errors, rejects, summaries): without a password.
pub fn display_name(input: &str) -> String {
    match (is_address(input), input.find("://"), input.rfind('@')) {
        (true, Some(scheme), Some(at)) if at > scheme => format!("{}***{}", &input[..scheme + 3], &input[at..]),
        _ => input.to_string(),
    }
}

/// True when `input` names a Redis stream (`redis://`).
pub fn is_address(input: &str) -> bool {
    crate::endpoint::Engine::of(input) == Some(crate::endpoint::Engine::Redis)
}

/// A stream's address: the server's URL and the stream's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The server, as the Redis client takes it (`redis://HOST:PORT[/DB]`).
    pub server: String,
    /// The stream's key.
    pub stream: String,
}

impl Address {
    /// Read `redis://[USER:PASSWORD@]HOST[:PORT][/DB]/STREAM`.
    pub fn parse(input: &str) -> Result<Self, String> {
        if input.get(..9).is_some_and(|s| s.eq_ignore_ascii_case("rediss://")) {
            return Err("rediss:// (TLS) is not supported: reach the server over redis:// (a loopback port or a \
                        tunnel)"
                .into());
        }
        let rest = input.get(8..).filter(|_| is_address(input)).ok_or("expected redis://HOST:PORT/STREAM")?;
        let (server, stream) = rest.rsplit_once('/').ok_or("no stream: expected redis://HOST:PORT/STREAM")?;
        if server.is_empty() {
            return Err("no server: expected redis://HOST:PORT/STREAM".into());
        }
        if stream.is_empty() {
            return Err("no stream: expected redis://HOST:PORT/STREAM".into());
        }
        Ok(Self { server: format!("redis://{server}"), stream: stream.to_string() })
    }
}

/// Where a run on a Redis stream stands: the last entry read, and the field names
/// the entries are laid out by (the first entry's), so that a resumed run reads the
/// entries after it exactly as the interrupted run would have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition {
    /// The stream's key.
    pub stream: String,
    /// The id of the last entry read (`0-0`: none yet).
    pub last_id: String,
    /// The header: the first entry's field names, in order (`None` before it).
    pub header: Option<Vec<String>>,
}

/// Reads the stream's entries.
struct RedisFetch {
    conn: redis::Connection,
    stream: String,
    /// The id of the last entry read (`0-0` before the first).
    last_id: String,
    /// Wait for new entries at the end (otherwise the end of the stream ends the text).
    follow: bool,
    /// Reading as a worker of a consumer group.
    group: Option<GroupRead>,
}

/// Where a worker of a consumer group stands.
struct GroupRead {
    options: GroupOptions,
    /// Reading this worker's own pending entries (a restart's) after this id; `None` once done.
    own_pending: Option<String>,
    /// Where the scan for other workers' idle entries goes on (an XPENDING range start, `-` from the first).
    claim_cursor: String,
}

/// One entry of an `XREAD` reply: its id and its fields in order.
type Entry = (String, Vec<(Vec<u8>, Vec<u8>)>);

impl Fetch for RedisFetch {
    fn fetch(&mut self, lines: &mut Lines) -> io::Result<()> {
        if self.group.is_some() {
            return self.fetch_in_group(lines);
        }
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT").arg(ENTRIES_PER_READ);
        if self.follow {
            cmd.arg("BLOCK").arg(BLOCK_MS);
        }
        cmd.arg("STREAMS").arg(&self.stream).arg(&self.last_id);
        let reply: redis::Value = cmd.query(&mut self.conn).map_err(io::Error::other)?;
        let entries = entries_of(reply).map_err(io::Error::other)?;
        if entries.is_empty() {
            return if self.follow { Err(io::ErrorKind::WouldBlock.into()) } else { Ok(()) };
        }
        for (id, fields) in entries {
            lines.push_fields(&id, &fields)?;
            self.last_id = id;
        }
        Ok(())
    }
}

impl RedisFetch {
    /// A worker's next entries: its own pending ones first (a restarted worker's), then
    /// new ones, then other workers' that were pending longer than the claim time (a
    /// dead worker's).
    fn fetch_in_group(&mut self, lines: &mut Lines) -> io::Result<()> {
        let Some(g) = self.group.as_mut() else { return Ok(()) };
        let (group, worker) = (g.options.group.clone(), g.options.worker.clone());
        let read = |conn: &mut redis::Connection, from: &str, block: bool| -> io::Result<Vec<Entry>> {
            let mut cmd = redis::cmd("XREADGROUP");
            cmd.arg("GROUP").arg(&group).arg(&worker).arg("COUNT").arg(ENTRIES_PER_READ);
            if block {
                cmd.arg("BLOCK").arg(BLOCK_MS);
            }
            cmd.arg("STREAMS").arg(&self.stream).arg(from);
            let reply: redis::Value = cmd.query(conn).map_err(io::Error::other)?;
            entries_of(reply).map_err(io::Error::other)
        };
        let mut entries = Vec::new();
        while let Some(from) = g.own_pending.clone() {
            entries = read(&mut self.conn, &from, false)?;
            g.own_pending = entries.last().map(|(id, _)| id.clone());
            // A pending entry deleted from the stream meanwhile comes back without fields
            // (an entry always has one): nothing to label, so it is done.
            let (gone, kept): (Vec<Entry>, Vec<Entry>) = entries.into_iter().partition(|(_, f)| f.is_empty());
            if !gone.is_empty() {
                let mut ack = redis::cmd("XACK");
                ack.arg(&self.stream).arg(&group);
                for (id, _) in &gone {
                    ack.arg(id);
                }
                ack.query::<u64>(&mut self.conn).map_err(io::Error::other)?;
            }
            entries = kept;
            // Only deleted ones in this read: read on from there (not yet the new ones).
            if !entries.is_empty() || g.own_pending.is_none() {
                break;
            }
        }
        if entries.is_empty() {
            entries = read(&mut self.conn, ">", self.follow)?;
        }
        // Other workers' entries pending longer than --claim-idle (their worker died).
        // Not XAUTOCLAIM: it would also hand this worker back its own entries still on
        // their way through its pipeline, to be learned twice.
        while entries.is_empty() {
            let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
                .arg(&self.stream)
                .arg(&group)
                .arg("IDLE")
                .arg(g.options.claim_idle_ms)
                .arg(&g.claim_cursor)
                .arg("+")
                .arg(ENTRIES_PER_READ)
                .query(&mut self.conn)
                .map_err(io::Error::other)?;
            let Some((last, ..)) = pending.last() else {
                g.claim_cursor = "-".into();
                break;
            };
            g.claim_cursor = format!("({last}");
            let theirs: Vec<&String> =
                pending.iter().filter(|(_, owner, ..)| *owner != worker).map(|(id, ..)| id).collect();
            if theirs.is_empty() {
                continue;
            }
            let reply: redis::Value = redis::cmd("XCLAIM")
                .arg(&self.stream)
                .arg(&group)
                .arg(&worker)
                .arg(g.options.claim_idle_ms)
                .arg(&theirs)
                .query(&mut self.conn)
                .map_err(io::Error::other)?;
            entries = claimed_of(reply).map_err(io::Error::other)?;
        }
        if entries.is_empty() {
            return if self.follow { Err(io::ErrorKind::WouldBlock.into()) } else { Ok(()) };
        }
        for (id, fields) in entries {
            lines.push_fields(&id, &fields)?;
        }
        Ok(())
    }
}

/// The entries of an `XREAD` reply on one stream (none for a nil reply: no entry came).
fn entries_of(reply: redis::Value) -> Result<Vec<Entry>, String> {
    use redis::Value;
    let streams = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(streams) => streams.into_iter().map(pair).collect::<Result<Vec<_>, _>>()?,
        Value::Map(streams) => streams,
        other => return Err(format!("unexpected XREAD reply {other:?}")),
    };
    let Some((_, entries)) = streams.into_iter().next() else { return Ok(Vec::new()) };
    entry_list(entries)
}

/// The entries of an `XCLAIM` reply. An entry deleted after it was read is not among
/// them (Redis 7 drops it from the pending list) or is nil (before 7): skipped.
fn claimed_of(reply: redis::Value) -> Result<Vec<Entry>, String> {
    let entries = match reply {
        redis::Value::Array(list) => {
            redis::Value::Array(list.into_iter().filter(|e| *e != redis::Value::Nil).collect())
        }
        other => other,
    };
    entry_list(entries)
}

/// A list of entries: each an id and its fields.
fn entry_list(entries: redis::Value) -> Result<Vec<Entry>, String> {
    use redis::Value;
    let Value::Array(entries) = entries else { return Err("unexpected reply: entries are not a list".into()) };
    entries
        .into_iter()
        .map(|entry| {
            let (id, fields) = pair(entry)?;
            let id = text(id)?;
            let fields = match fields {
                Value::Array(flat) if flat.len() % 2 == 0 => {
                    let mut flat = flat.into_iter();
                    let mut out = Vec::with_capacity(flat.len() / 2);
                    while let (Some(name), Some(value)) = (flat.next(), flat.next()) {
                        out.push((bytes(name)?, bytes(value)?));
                    }
                    out
                }
                Value::Map(map) => {
                    map.into_iter().map(|(k, v)| Ok((bytes(k)?, bytes(v)?))).collect::<Result<_, String>>()?
                }
                Value::Nil => Vec::new(),
                other => return Err(format!("entry {id}: unexpected fields {other:?}")),
            };
            Ok((id, fields))
        })
        .collect()
}

fn pair(value: redis::Value) -> Result<(redis::Value, redis::Value), String> {
    match value {
        redis::Value::Array(v) if v.len() == 2 => {
            let mut v = v.into_iter();
            match (v.next(), v.next()) {
                (Some(a), Some(b)) => Ok((a, b)),
                _ => Err("unexpected XREAD reply: a pair expected".into()),
            }
        }
        other => Err(format!("unexpected XREAD reply: a pair expected, got {other:?}")),
    }
}

fn bytes(value: redis::Value) -> Result<Vec<u8>, String> {
    match value {
        redis::Value::BulkString(b) => Ok(b),
        redis::Value::SimpleString(s) => Ok(s.into_bytes()),
        redis::Value::Int(i) => Ok(i.to_string().into_bytes()),
        other => Err(format!("unexpected value {other:?} in an entry")),
    }
}

/// An entry id as Redis writes one: `MS-SEQ`, two decimal numbers.
fn valid_id(id: &str) -> bool {
    id.split_once('-').is_some_and(|(ms, seq)| {
        [ms, seq].iter().all(|p| !p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn text(value: redis::Value) -> Result<String, String> {
    String::from_utf8(bytes(value)?).map_err(|_| "an entry id is not UTF-8".into())
}

/// A Redis stream as a source of records.
pub struct RedisSource {
    inner: TextSource,
    shared: SharedState,
    name: String,
    address: Address,
    options: SourceOptions,
    /// The entry a resumed run started after (`0-0` for a fresh run).
    start_id: String,
    /// A group's worker: a connection and the group, to acknowledge rejected entries.
    acks: Option<(redis::Connection, String)>,
}

impl RedisSource {
    /// Connect to the stream at `input` (`redis://HOST:PORT/STREAM`) and read up to its
    /// first entry, which fixes the columns (waiting for it unless `until_end`).
    pub fn open(url: &str, mut options: SourceOptions) -> Result<Self, SourceError> {
        let shown = display_name(url);
        let input = shown.as_str();
        let schema = |reason: String| SourceError::Schema { source_name: input.to_string(), reason };
        let address = Address::parse(url).map_err(schema)?;
        if options.format.is_some_and(|f| f != TextFormat::Csv) {
            return Err(schema("--format: a Redis entry is a record of fields, not a line of text".into()));
        }
        if options.delayed.is_some() {
            return Err(schema("--delayed-labels reads files only for now".into()));
        }
        if options.follow {
            return Err(schema("--follow is for files: a Redis stream is followed unless --until-end".into()));
        }
        options.format = Some(TextFormat::Csv);
        let start = StreamPosition { stream: address.stream.clone(), last_id: "0-0".into(), header: None };
        let (inner, shared) = Self::read_from(input, &address, &options, &start, 0)?;
        let acks = match &options.group {
            Some(g) => {
                let client = redis::Client::open(address.server.as_str()).map_err(|e| schema(e.to_string()))?;
                let conn = client
                    .get_connection_with_timeout(CONNECT_TIMEOUT)
                    .map_err(|e| SourceError::Io { source_name: input.to_string(), error: io::Error::other(e) })?;
                Some((conn, g.group.clone()))
            }
            None => None,
        };
        Ok(Self { inner, shared, name: input.to_string(), address, options, start_id: start.last_id, acks })
    }

    /// A reader of the entries after `start`, laid out by its header, with the line after
    /// `line` the first entry's; and the CSV source on it.
    fn read_from(
        input: &str,
        address: &Address,
        options: &SourceOptions,
        start: &StreamPosition,
        line: u64,
    ) -> Result<(TextSource, SharedState), SourceError> {
        let schema = |reason: String| SourceError::Schema { source_name: input.to_string(), reason };
        let client = redis::Client::open(address.server.as_str()).map_err(|e| schema(e.to_string()))?;
        let io = |error| SourceError::Io { source_name: input.to_string(), error: io::Error::other(error) };
        let mut conn = client.get_connection_with_timeout(CONNECT_TIMEOUT).map_err(io)?;
        if let Some(g) = &options.group {
            // The group reads the stream from its first entry; a group that exists is kept.
            let created: redis::RedisResult<()> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&address.stream)
                .arg(&g.group)
                .arg("0")
                .arg("MKSTREAM")
                .query(&mut conn);
            if let Err(e) = created {
                if e.code() != Some("BUSYGROUP") {
                    return Err(io(e));
                }
            }
        }
        let shared = shared_state(start.header.clone());
        let fetch = RedisFetch {
            conn,
            stream: address.stream.clone(),
            last_id: start.last_id.clone(),
            follow: !options.until_end,
            group: options.group.clone().map(|options| GroupRead {
                options,
                own_pending: Some("0".into()),
                claim_cursor: "-".into(),
            }),
        };
        let reader = EntryReader { fetch, lines: Lines::new(Arc::clone(&shared), start.header.as_deref(), line) };
        let mut inner = TextSource::from_reader(input.to_string(), Box::new(reader), TextFormat::Csv, options.clone())?;
        let origin: LineNames = Arc::new(Origin(Arc::clone(&shared)));
        inner.name_lines(origin);
        Ok((inner, shared))
    }
}

impl Source for RedisSource {
    fn next_batch(&mut self) -> Result<Option<Batch>, SourceError> {
        let mut batch = self.inner.next_batch();
        let rejected = key_batch(&self.shared, &self.name, &self.inner.position(), &mut batch)?;
        // A group's rejected entries get no label to be acknowledged with: they are done
        // once in the rejects file.
        if let (Some((conn, group)), false) = (self.acks.as_mut(), rejected.is_empty()) {
            let mut cmd = redis::cmd("XACK");
            cmd.arg(&self.address.stream).arg(group.as_str());
            for id in &rejected {
                cmd.arg(id.as_ref());
            }
            let acked: redis::RedisResult<u64> = cmd.query(conn);
            acked.map_err(|e| SourceError::Io { source_name: self.name.clone(), error: io::Error::other(e) })?;
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
        // The stream's ids, not a checksum of text, tell where it stands.
        position.checksum = None;
        let shared = lock(&self.shared);
        let last_id = shared.ids.get(position.line).unwrap_or_else(|| self.start_id.clone());
        position.stream =
            Some(StreamPosition { stream: self.address.stream.clone(), last_id, header: shared.header.clone() });
        position
    }

    fn resume(&mut self, position: &SourcePosition) -> Result<(), SourceError> {
        let schema = |reason: String| SourceError::Schema { source_name: self.name.clone(), reason };
        if self.options.group.is_some() {
            return Err(schema(
                "a group's worker takes up its own pending entries when it restarts: resume it without a checkpoint"
                    .into(),
            ));
        }
        let Some(at) = &position.stream else {
            return Err(schema("the checkpoint was not taken on a Redis stream".into()));
        };
        if at.stream != self.address.stream {
            return Err(schema(format!("the checkpoint was taken on the stream {:?}", at.stream)));
        }
        if !valid_id(&at.last_id) {
            return Err(schema(format!("the checkpoint's entry id {:?} is not an entry id", at.last_id)));
        }
        let options = run_columns(&self.inner, &self.options);
        let (mut inner, shared) = Self::read_from(&self.name, &self.address, &options, at, position.line)?;
        same_columns(&self.name, &self.inner, &inner, "entry")?;
        inner.continue_after(position)?;
        (self.inner, self.shared, self.start_id) = (inner, shared, at.last_id.clone());
        Ok(())
    }

    fn sync(&mut self) -> Result<(), SourceError> {
        self.inner.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::entries::write_record;

    #[test]
    fn addresses_name_a_server_and_a_stream() {
        let a = Address::parse("redis://127.0.0.1:6379/events").expect("valid");
        assert_eq!(a, Address { server: "redis://127.0.0.1:6379".into(), stream: "events".into() });
        let a = Address::parse("REDIS://:secret@host/2/events").expect("valid");
        assert_eq!(a, Address { server: "redis://:secret@host/2".into(), stream: "events".into() });
        for bad in ["redis://host:6379", "redis://host:6379/", "redis:///events", "rediss://host/events"] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
        assert!(is_address("redis://x/y") && !is_address("events.csv") && !is_address("redis:/x"));
        assert!(valid_id("1700000000000-0") && valid_id("0-0"));
        assert_eq!(display_name("redis://:secret@host:1/events"), "redis://***@host:1/events");
        assert_eq!(display_name("redis://host:1/events"), "redis://host:1/events");
        for bad in ["1", "-1", "1-", "a-1", "1-2-3", "99999999999999999999999-0", ""] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn entries_are_laid_out_in_the_first_entrys_order() {
        use redis::Value::{Array, BulkString};
        let s = |t: &str| BulkString(t.as_bytes().to_vec());
        let reply = Array(vec![Array(vec![
            s("events"),
            Array(vec![
                Array(vec![s("1-0"), Array(vec![s("x"), s("1.5"), s("y"), s("a")])]),
                Array(vec![s("2-0"), Array(vec![s("y"), s("b"), s("x"), s("2")])]),
            ]),
        ])]);
        let entries = entries_of(reply).expect("a reply");
        assert_eq!(entries.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), ["1-0", "2-0"]);
        let header: Vec<Vec<u8>> = entries[0].1.iter().map(|(name, _)| name.clone()).collect();
        let mut out = Vec::new();
        for (_, fields) in &entries {
            write_record(&mut out, &header, fields);
        }
        let b = |t: &str| t.as_bytes().to_vec();
        write_record(&mut out, &header, &[(b("y"), b("c"))]);
        write_record(&mut out, &header, &[(b("x"), b("3")), (b("y"), b("d")), (b("z"), b("9"))]);
        assert_eq!(String::from_utf8(out).expect("text"), "1.5,a\n2,b\n,c\n3,d,9\n");
        assert_eq!(entries_of(redis::Value::Nil).expect("nil"), Vec::new());
        assert!(entries_of(redis::Value::Int(3)).is_err());
    }
}
