//! Counts the labels in a labels stream or topic: how many, how many distinct record
//! ids, and the most labels one id got. `benches/group_kill.sh` runs it.
//!
//! `cargo run --release --example labels_check -- redis://127.0.0.1:6379/labels`
//! `cargo run --release --example labels_check -- kafka://127.0.0.1:9092/labels`

use std::collections::HashMap;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).ok_or("usage: labels_check LABELS_URL")?;
    let ids = if url.starts_with("redis://") { redis_ids(&url)? } else { kafka_ids(&url)? };
    let mut counts: HashMap<String, u32> = HashMap::new();
    for id in &ids {
        *counts.entry(id.clone()).or_default() += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    println!("{} labels, {} distinct ids, at most {most} for one id", ids.len(), counts.len());
    Ok(())
}

/// The `id` field of every entry of the stream.
fn redis_ids(url: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let (server, stream) = url.rsplit_once('/').ok_or("redis://HOST:PORT/STREAM")?;
    let mut con = redis::Client::open(server)?.get_connection()?;
    let (mut ids, mut from) = (Vec::new(), "-".to_string());
    loop {
        let entries: Vec<(String, Vec<(String, String)>)> =
            redis::cmd("XRANGE").arg(stream).arg(&from).arg("+").arg("COUNT").arg(10_000).query(&mut con)?;
        let Some((last, _)) = entries.last() else { return Ok(ids) };
        from = format!("({last}");
        ids.extend(
            entries.into_iter().filter_map(|(_, fields)| fields.into_iter().find(|(f, _)| f == "id")).map(|(_, v)| v),
        );
    }
}

/// The key of every message of the topic's partition 0, read until nothing came for three seconds.
fn kafka_ids(url: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let address = eddy::source::kafka::Address::parse(url)?;
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &address.brokers)
        .set("group.id", "labels-check")
        .set("enable.auto.commit", "false")
        .create()?;
    let mut list = rdkafka::TopicPartitionList::new();
    list.add_partition_offset(&address.topic, 0, rdkafka::Offset::Beginning)?;
    consumer.assign(&list)?;
    let mut ids = Vec::new();
    let mut quiet = std::time::Instant::now();
    while quiet.elapsed() < std::time::Duration::from_secs(3) {
        if let Some(message) = consumer.poll(std::time::Duration::from_millis(100)) {
            let message = message?;
            ids.push(String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned());
            quiet = std::time::Instant::now();
        }
    }
    Ok(ids)
}
