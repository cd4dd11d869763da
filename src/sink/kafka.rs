//! Labels to a Kafka topic: `--labels-out kafka://HOST:PORT/TOPIC` produces one message
//! per record and model, keyed by the record's id (`topic/partition/offset` when the
//! input is a Kafka topic, the entry id of a Redis stream, the record's index
//! otherwise), its value `{"id": ..., "model": ..., "label": ...}`, so consumers join the
//! labels to the records. Several models share the topic, told apart by `model`.
//!
//! Delivery is at least once: a message is counted when the broker has acknowledged it
//! (a checkpoint waits for every acknowledgement), and a resumed run produces again the
//! labels written after the checkpoint. A consumer keeps the last label per key and
//! model.

use super::LabelSink;
use crate::source::kafka::Address;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a flush may wait for the broker's acknowledgements.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Keeps the first delivery failure, so the next flush reports it.
#[derive(Clone, Default)]
struct Deliveries(Arc<Mutex<Option<String>>>);

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            let mut first = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            first.get_or_insert_with(|| error.to_string());
        }
    }
}

/// A model's labels, produced to a Kafka topic.
pub struct KafkaSink {
    producer: ThreadedProducer<Deliveries>,
    deliveries: Deliveries,
    topic: String,
    model: String,
    /// Labels produced by this run (and the runs it resumes).
    written: u64,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl KafkaSink {
    /// Produce `model`'s labels to the topic at `url`.
    pub fn create(url: &str, model: &str) -> io::Result<Self> {
        let address =
            Address::parse(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {e}")))?;
        let deliveries = Deliveries::default();
        let producer: ThreadedProducer<Deliveries> = ClientConfig::new()
            .set("bootstrap.servers", &address.brokers)
            // One request in flight: a retried batch cannot overtake the next, so labels
            // stay in record order within a partition (retries may still repeat one: at least once).
            .set("max.in.flight.requests.per.connection", "1")
            .set("linger.ms", "5")
            .create_with_context(deliveries.clone())
            .map_err(other)?;
        Ok(Self { producer, deliveries, topic: address.topic, model: model.to_string(), written: 0 })
    }

    /// Go on producing after a checkpoint that had counted `written` labels: the labels
    /// after it come again (at least once).
    pub fn reopen(url: &str, model: &str, written: u64) -> io::Result<Self> {
        Ok(Self { written, ..Self::create(url, model)? })
    }

    fn check_deliveries(&self) -> io::Result<()> {
        let first = self.deliveries.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        match first {
            Some(e) => Err(other(format!("topic {}: a label was not delivered: {e}", self.topic))),
            None => Ok(()),
        }
    }
}

impl LabelSink for KafkaSink {
    fn write(&mut self, ids: &[u64], labels: &[i64]) -> io::Result<()> {
        self.write_keyed(ids, None, labels)
    }

    fn write_keyed(&mut self, ids: &[u64], keys: Option<&[Arc<str>]>, labels: &[i64]) -> io::Result<()> {
        self.check_deliveries()?;
        let model = serde_json::to_string(&self.model).map_err(other)?;
        let mut number = itoa::Buffer::new();
        for (i, (&id, &label)) in ids.iter().zip(labels).enumerate() {
            let key = match keys.and_then(|k| k.get(i)) {
                Some(key) => key.to_string(),
                None => number.format(id).to_string(),
            };
            let value =
                format!("{{\"id\":{},\"model\":{model},\"label\":{label}}}", serde_json::Value::from(key.as_str()));
            let mut record = BaseRecord::to(&self.topic).key(key.as_str()).payload(value.as_str());
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    // The local queue is full: wait for the broker to take some.
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                        r,
                    )) => {
                        record = r;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err((e, _)) => return Err(other(format!("topic {}: {e}", self.topic))),
                }
            }
        }
        self.written += ids.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.producer.flush(FLUSH_TIMEOUT).map_err(other)?;
        self.check_deliveries()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.check_deliveries()
    }

    /// Waits until the broker has every label written so far.
    fn sync(&mut self) -> io::Result<u64> {
        self.producer.flush(FLUSH_TIMEOUT).map_err(other)?;
        self.check_deliveries()?;
        Ok(self.written)
    }
}
