//! A model log on a Kafka topic: every update is one message of the topic's partition 0
//! (so the log has one order whatever the topic's partition count), its value a model
//! file's bytes, its headers `worker`, `base` and `records`. An update's position is
//! its offset.

use super::{ModelLog, SyncError, Update};
use crate::source::kafka::Address;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The partition every update goes to.
const PARTITION: i32 = 0;
/// How long a publish or a read may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The offset (or the failure) of the last update delivered.
#[derive(Clone, Default)]
struct Delivered(Arc<Mutex<Option<Result<i64, String>>>>);

impl ClientContext for Delivered {}

impl ProducerContext for Delivered {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let outcome = match result {
            Ok(message) => Ok(message.offset()),
            Err((e, _)) => Err(e.to_string()),
        };
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
    }
}

/// A Kafka topic of model updates.
pub struct KafkaLog {
    producer: ThreadedProducer<Delivered>,
    delivered: Delivered,
    consumer: BaseConsumer,
    topic: String,
    name: String,
}

impl KafkaLog {
    /// Connect to the topic at `url` (`kafka://HOST:PORT/TOPIC`).
    pub fn open(url: &str) -> Result<Self, SyncError> {
        let fail = |reason: String| SyncError::Log { log: url.to_string(), reason };
        let address = Address::parse(url).map_err(fail)?;
        let delivered = Delivered::default();
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &address.brokers)
            .set("linger.ms", "0")
            .create_with_context(delivered.clone())
            .map_err(|e| fail(e.to_string()))?;
        let consumer = ClientConfig::new()
            .set("bootstrap.servers", &address.brokers)
            .set("group.id", "eddy-model-log")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .create()
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self { producer, delivered, consumer, topic: address.topic, name: url.to_string() })
    }

    fn fail(&self, e: impl std::fmt::Display) -> SyncError {
        SyncError::Log { log: self.name.clone(), reason: e.to_string() }
    }

    /// The offset after the last update, or 0 while the topic does not exist yet.
    fn end(&self) -> Result<i64, SyncError> {
        match self.consumer.fetch_watermarks(&self.topic, PARTITION, TIMEOUT) {
            Ok((_, high)) => Ok(high),
            Err(KafkaError::MetadataFetch(
                RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic,
            )) => Ok(0),
            Err(e) => Err(self.fail(e)),
        }
    }
}

/// The text of header `key` of `message`.
fn header(message: &impl Message, key: &str) -> Option<String> {
    let headers = message.headers()?;
    headers.iter().find(|h| h.key == key).and_then(|h| h.value).map(|v| String::from_utf8_lossy(v).into_owned())
}

impl ModelLog for KafkaLog {
    fn name(&self) -> &str {
        &self.name
    }

    fn publish(&mut self, update: &Update) -> Result<String, SyncError> {
        let records = update.records.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header { key: "worker", value: Some(update.worker.as_str()) })
            .insert(Header { key: "base", value: Some(update.base.as_str()) })
            .insert(Header { key: "records", value: Some(records.as_str()) });
        let record = BaseRecord::<str, [u8]>::to(&self.topic)
            .partition(PARTITION)
            .key(update.worker.as_str())
            .payload(&update.model[..])
            .headers(headers);
        self.producer.send(record).map_err(|(e, _)| self.fail(e))?;
        self.producer.flush(TIMEOUT).map_err(|e| self.fail(e))?;
        let outcome = self.delivered.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        match outcome {
            Some(Ok(offset)) => Ok(offset.to_string()),
            Some(Err(e)) => Err(self.fail(format!("an update was not delivered: {e}"))),
            None => Err(self.fail("the broker did not acknowledge the update")),
        }
    }

    fn read_after(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<Update>, SyncError> {
        let from = match after {
            Some(id) => 1 + id.parse::<i64>().map_err(|_| self.fail(format!("{id:?} is not an offset")))?,
            None => 0,
        };
        let end = self.end()?;
        if from >= end {
            return Ok(Vec::new());
        }
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&self.topic, PARTITION, Offset::Offset(from)).map_err(|e| self.fail(e))?;
        self.consumer.assign(&list).map_err(|e| self.fail(e))?;
        let (mut updates, mut next) = (Vec::new(), from);
        let deadline = Instant::now() + TIMEOUT;
        while next < end && updates.len() < limit {
            if Instant::now() > deadline {
                return Err(self.fail(format!("offsets {next} to {end} did not come")));
            }
            let Some(message) = self.consumer.poll(Duration::from_millis(100)) else { continue };
            let message = message.map_err(|e| self.fail(e))?;
            let offset = message.offset();
            if offset < next {
                continue;
            }
            let id = offset.to_string();
            let bad =
                |reason: &str| SyncError::Update { log: self.name.clone(), id: id.clone(), reason: reason.into() };
            let text =
                |key: &str| header(&message, key).ok_or_else(|| bad(&format!("no header {key}: not a model update")));
            let records = text("records")?.parse().map_err(|_| bad("records is not a count"))?;
            let model = message.payload().ok_or_else(|| bad("no model"))?.to_vec();
            updates.push(Update { worker: text("worker")?, base: text("base")?, records, model, id: id.clone() });
            next = offset + 1;
        }
        Ok(updates)
    }
}
