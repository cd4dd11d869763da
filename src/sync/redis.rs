//! A model log on a Redis stream: one entry per update, fields `worker`, `base`,
//! `records` and `model` (a model file's bytes). The stream's entry ids are the order
//! every worker folds in.

use super::{ModelLog, SyncError, Update};
use crate::source::redis::{display_name, Address};
use std::time::Duration;

/// Entries as XRANGE gives them: id, then field and value pairs (values are bytes).
type Entries = Vec<(String, Vec<(String, Vec<u8>)>)>;

/// A Redis stream of model updates.
pub struct RedisLog {
    conn: redis::Connection,
    stream: String,
    name: String,
}

impl RedisLog {
    /// Connect to the stream at `url` (`redis://HOST:PORT/STREAM`).
    pub fn open(url: &str) -> Result<Self, SyncError> {
        let name = display_name(url);
        let fail = |reason: String| SyncError::Log { log: name.clone(), reason };
        let address = Address::parse(url).map_err(fail)?;
        let client = redis::Client::open(address.server.as_str()).map_err(|e| fail(e.to_string()))?;
        let conn = client.get_connection_with_timeout(Duration::from_secs(5)).map_err(|e| fail(e.to_string()))?;
        Ok(Self { conn, stream: address.stream, name })
    }

    fn fail(&self, e: impl std::fmt::Display) -> SyncError {
        SyncError::Log { log: self.name.clone(), reason: e.to_string() }
    }
}

impl ModelLog for RedisLog {
    fn name(&self) -> &str {
        &self.name
    }

    fn publish(&mut self, update: &Update) -> Result<String, SyncError> {
        redis::cmd("XADD")
            .arg(&self.stream)
            .arg("*")
            .arg("worker")
            .arg(&update.worker)
            .arg("base")
            .arg(&update.base)
            .arg("records")
            .arg(update.records)
            .arg("model")
            .arg(&update.model[..])
            .query(&mut self.conn)
            .map_err(|e| self.fail(e))
    }

    fn read_after(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<Update>, SyncError> {
        let start = after.map_or_else(|| "-".to_string(), |id| format!("({id}"));
        let reply: Entries = redis::cmd("XRANGE")
            .arg(&self.stream)
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query(&mut self.conn)
            .map_err(|e| self.fail(e))?;
        reply
            .into_iter()
            .map(|(id, fields)| {
                let bad = |reason: String| SyncError::Update { log: self.name.clone(), id: id.clone(), reason };
                let text = |key: &str| -> Result<String, SyncError> {
                    let value = fields.iter().find(|(k, _)| k == key).map(|(_, v)| v);
                    let value = value.ok_or_else(|| bad(format!("no field {key}: not a model update")))?;
                    String::from_utf8(value.clone()).map_err(|_| bad(format!("field {key} is not text")))
                };
                let records = text("records")?.parse().map_err(|_| bad("records is not a count".into()))?;
                let model = fields.iter().find(|(k, _)| k == "model").map(|(_, v)| v.clone());
                let model = model.ok_or_else(|| bad("no field model: not a model update".into()))?;
                Ok(Update { worker: text("worker")?, base: text("base")?, records, model, id: id.clone() })
            })
            .collect()
    }
}
