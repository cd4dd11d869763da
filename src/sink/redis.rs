//! Labels to a Redis stream: `--labels-out redis://HOST:PORT/STREAM` adds one entry per
//! record and model, `id` (the record's entry id when the input is a Redis stream, its
//! index otherwise), `model` and `label`, so that consumers can join the labels to the
//! records. Several models share the stream, told apart by `model`.
//!
//! A checkpoint counts the model's entries in the stream (earlier runs' included); a
//! resumed run deletes that model's entries after them (written after the checkpoint by the interrupted run), so every
//! record keeps exactly one label per model, in input order, as in an uninterrupted run.

use super::LabelSink;
use crate::source::redis::Address;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// Entries read at once while a resume looks for the model's entries.
const SCAN: usize = 1000;

/// Acknowledge each entry (KEYS[2], group ARGV[1]) and, only if this acknowledged it,
/// add its label (model ARGV[2]; then id, label pairs) to the labels stream (KEYS[1]).
const ACK_AND_LABEL: &str = r"
local written = 0
for i = 3, #ARGV, 2 do
  if redis.call('XACK', KEYS[2], ARGV[1], ARGV[i]) == 1 then
    redis.call('XADD', KEYS[1], '*', 'id', ARGV[i], 'model', ARGV[2], 'label', ARGV[i + 1])
    written = written + 1
  end
end
return written
";

/// A model's labels, added to a Redis stream.
pub struct RedisSink {
    conn: redis::Connection,
    stream: String,
    model: String,
    /// Entries this model has in the stream (from the start of the run).
    written: u64,
    /// A group's worker: the input stream and the group whose entries are acknowledged
    /// in the transaction that writes their labels.
    ack: Option<(String, String)>,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl RedisSink {
    /// Add `model`'s labels to the stream at `url`.
    pub fn create(url: &str, model: &str) -> io::Result<Self> {
        let address =
            Address::parse(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {e}")))?;
        let client = redis::Client::open(address.server.as_str()).map_err(other)?;
        let conn = client.get_connection_with_timeout(Duration::from_secs(5)).map_err(other)?;
        let mut sink = Self { conn, stream: address.stream, model: model.to_string(), written: 0, ack: None };
        // Labels of this model from earlier runs stay: the count (what a checkpoint
        // records) starts after them.
        sink.written = sink.model_entries()?.len() as u64;
        Ok(sink)
    }

    /// Acknowledge each record's entry of `stream` in `group` with its label, atomically
    /// (one script): an entry is either labelled and done, or neither; and an entry
    /// another worker acknowledged first (it claimed it while this one was slow) gets no
    /// second label.
    pub fn acking(mut self, stream: String, group: String) -> Self {
        self.ack = Some((stream, group));
        self
    }

    /// Take up the stream a checkpoint left: keep the model's first `written` entries
    /// and delete its later ones.
    pub fn reopen(url: &str, model: &str, written: u64) -> io::Result<Self> {
        let mut sink = Self::create(url, model)?;
        if sink.written < written {
            return Err(other(format!(
                "{}: the stream holds {} labels of model {model}, fewer than the checkpoint's {written}: was it trimmed?",
                crate::source::redis::display_name(url),
                sink.written
            )));
        }
        let extra = sink.model_entries()?.split_off(usize::try_from(written).unwrap_or(usize::MAX));
        for ids in extra.chunks(SCAN) {
            redis::cmd("XDEL").arg(&sink.stream).arg(ids).query::<u64>(&mut sink.conn).map_err(other)?;
        }
        sink.written = written;
        Ok(sink)
    }

    /// The ids of this model's entries in the stream, in order.
    fn model_entries(&mut self) -> io::Result<Vec<String>> {
        let (mut start, mut mine) = ("-".to_string(), Vec::new());
        loop {
            let reply: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                .arg(&self.stream)
                .arg(&start)
                .arg("+")
                .arg("COUNT")
                .arg(SCAN)
                .query(&mut self.conn)
                .map_err(other)?;
            let Some((last, _)) = reply.last() else { break };
            start = format!("({last}");
            let n = reply.len();
            mine.extend(
                reply
                    .into_iter()
                    .filter(|(_, f)| f.iter().any(|(k, v)| k == "model" && *v == self.model))
                    .map(|(id, _)| id),
            );
            if n < SCAN {
                break;
            }
        }
        Ok(mine)
    }
}

impl LabelSink for RedisSink {
    fn write(&mut self, ids: &[u64], labels: &[i64]) -> io::Result<()> {
        self.write_keyed(ids, None, labels)
    }

    fn write_keyed(&mut self, ids: &[u64], keys: Option<&[Arc<str>]>, labels: &[i64]) -> io::Result<()> {
        if let Some((stream, group)) = &self.ack {
            let keys = keys.ok_or_else(|| other("a group's records carry no entry ids to acknowledge"))?;
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(ACK_AND_LABEL).arg(2).arg(&self.stream).arg(stream).arg(group).arg(&self.model);
            for (key, &label) in keys.iter().zip(labels) {
                cmd.arg(key.as_ref()).arg(label);
            }
            let written: u64 = cmd.query(&mut self.conn).map_err(other)?;
            self.written += written;
            return Ok(());
        }
        let mut pipe = redis::pipe();
        let mut number = itoa::Buffer::new();
        for (i, (&id, &label)) in ids.iter().zip(labels).enumerate() {
            let key = match keys.and_then(|k| k.get(i)) {
                Some(key) => key.to_string(),
                None => number.format(id).to_string(),
            };
            pipe.cmd("XADD")
                .arg(&self.stream)
                .arg("*")
                .arg("id")
                .arg(key)
                .arg("model")
                .arg(&self.model)
                .arg("label")
                .arg(label)
                .ignore();
        }
        pipe.query::<()>(&mut self.conn).map_err(other)?;
        self.written += ids.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Entries are in the server once written: the count is the length to resume from.
    fn sync(&mut self) -> io::Result<u64> {
        Ok(self.written)
    }
}
