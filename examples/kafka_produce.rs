//! Put records into a Kafka topic: each line of standard input (a JSON object) becomes
//! one message, spread over the topic's partitions in turn.
//!
//! ```console
//! $ cargo run --release --example kafka_produce -- 127.0.0.1:9092 readings < readings.ndjson
//! ```

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use std::io::BufRead;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(brokers), Some(topic)) = (args.next(), args.next()) else {
        return Err("usage: kafka_produce BROKERS TOPIC < lines".into());
    };
    let producer: ThreadedProducer<_> =
        ClientConfig::new().set("bootstrap.servers", &brokers).set("linger.ms", "5").create()?;
    let mut sent = 0u64;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let mut record = BaseRecord::<(), str>::to(&topic).payload(line.as_str());
        // A full local queue is waited out; any other error stops.
        while let Err((e, r)) = producer.send(record) {
            if !matches!(e, rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull))
            {
                return Err(e.into());
            }
            record = r;
            std::thread::sleep(Duration::from_millis(5));
        }
        sent += 1;
    }
    producer.flush(Duration::from_secs(30))?;
    eprintln!("{sent} messages to {topic}");
    Ok(())
}
