//! Labels whose records are then marked done in their engine (a Kafka group's offsets
//! committed): the labels written so far are made durable first, at most once a
//! second and at every flush and at the end, so a record is never marked done before its
//! label is kept. A worker that dies between the two leaves its last records to be
//! labelled again: at least once.

use super::LabelSink;
use crate::source::Acknowledge;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often labels are made durable and their records marked done.
const EVERY: Duration = Duration::from_secs(1);

/// A sink that marks each record done once its label is durable.
pub struct Acking {
    inner: Box<dyn LabelSink>,
    acknowledge: Arc<dyn Acknowledge>,
    /// Keys of records labelled but not yet marked done.
    waiting: Vec<Arc<str>>,
    since: Instant,
}

impl Acking {
    /// Write through `inner`, and mark records done through `acknowledge`.
    pub fn new(inner: Box<dyn LabelSink>, acknowledge: Arc<dyn Acknowledge>) -> Self {
        Self { inner, acknowledge, waiting: Vec::new(), since: Instant::now() }
    }

    /// Mark done the records whose labels are durable now.
    fn settle(&mut self) -> io::Result<()> {
        if !self.waiting.is_empty() {
            self.acknowledge.acknowledge(&self.waiting).map_err(io::Error::other)?;
            self.waiting.clear();
        }
        self.since = Instant::now();
        Ok(())
    }
}

impl LabelSink for Acking {
    fn write(&mut self, _: &[u64], _: &[i64]) -> io::Result<()> {
        Err(io::Error::other("a group's records carry no keys to mark done"))
    }

    fn write_keyed(&mut self, ids: &[u64], keys: Option<&[Arc<str>]>, labels: &[i64]) -> io::Result<()> {
        let keys = keys.ok_or_else(|| io::Error::other("a group's records carry no keys to mark done"))?;
        self.inner.write_keyed(ids, Some(keys), labels)?;
        self.waiting.extend(keys.iter().take(ids.len()).cloned());
        if self.since.elapsed() >= EVERY {
            self.inner.sync()?;
            self.settle()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()?;
        self.settle()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.sync()?;
        self.settle()
    }

    fn sync(&mut self) -> io::Result<u64> {
        let len = self.inner.sync()?;
        self.settle()?;
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records what was durable when each acknowledgement came.
    #[derive(Default)]
    struct Log {
        durable: Mutex<Vec<String>>,
        acknowledged: Mutex<Vec<(String, usize)>>,
    }

    struct Sink(Arc<Log>, Vec<String>);

    impl LabelSink for Sink {
        fn write(&mut self, _: &[u64], _: &[i64]) -> io::Result<()> {
            unreachable!("keyed only")
        }
        fn write_keyed(&mut self, _: &[u64], keys: Option<&[Arc<str>]>, _: &[i64]) -> io::Result<()> {
            self.1.extend(keys.unwrap_or_default().iter().map(|k| k.to_string()));
            Ok(())
        }
        fn finish(&mut self) -> io::Result<()> {
            self.sync().map(drop)
        }
        fn sync(&mut self) -> io::Result<u64> {
            let mut durable = self.0.durable.lock().expect("not poisoned");
            durable.append(&mut self.1);
            Ok(durable.len() as u64)
        }
    }

    impl Acknowledge for Log {
        fn acknowledge(&self, keys: &[Arc<str>]) -> Result<(), String> {
            let durable = self.durable.lock().expect("not poisoned").len();
            self.acknowledged.lock().expect("not poisoned").extend(keys.iter().map(|k| (k.to_string(), durable)));
            Ok(())
        }
    }

    #[test]
    fn records_are_marked_done_only_after_their_labels_are_durable() {
        let log = Arc::new(Log::default());
        let mut sink = Acking::new(Box::new(Sink(Arc::clone(&log), Vec::new())), log.clone());
        let keys: Vec<Arc<str>> = ["t/0/0", "t/0/1", "t/1/0"].iter().map(|&k| Arc::from(k)).collect();
        sink.write_keyed(&[0, 1], Some(&keys[..2]), &[5, 6]).expect("writes");
        assert!(log.acknowledged.lock().expect("not poisoned").is_empty(), "within the second: nothing yet");
        sink.flush().expect("flushes");
        sink.write_keyed(&[2], Some(&keys[2..]), &[7]).expect("writes");
        sink.finish().expect("finishes");
        let acknowledged = log.acknowledged.lock().expect("not poisoned").clone();
        let durable = log.durable.lock().expect("not poisoned").clone();
        assert_eq!(acknowledged.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["t/0/0", "t/0/1", "t/1/0"]);
        for (key, durable_then) in &acknowledged {
            assert!(durable[..*durable_then].contains(key), "{key} was acknowledged before its label was durable");
        }
        assert!(sink.write(&[3], &[1]).is_err(), "a record without a key cannot be marked done");
    }
}
