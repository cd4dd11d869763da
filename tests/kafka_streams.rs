//! `eddy run kafka://...`: a real Kafka-protocol broker (tansu, built once by
//! tests/servers/install.sh when missing) on a loopback port of each test's own.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-kafka-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creates a temp dir");
    dir
}

fn eddy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
}

/// The broker's binary: built once by the install script (a failure fails every test).
fn tansu() -> PathBuf {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let done = INSTALLED.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/install.sh");
        let out = Command::new("bash").arg(script).arg("kafka").output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let root = std::env::var_os("EDDY_SERVERS")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/eddy/servers")))
            .ok_or("no HOME to find the broker in")?;
        Ok(root.join("bin/tansu"))
    });
    match done {
        Ok(path) => path.clone(),
        Err(e) => panic!("the tansu broker is missing and tests/servers/install.sh could not build it: {e}"),
    }
}

/// A tansu broker of the test's own (in memory), stopped when dropped.
pub struct Broker {
    child: Child,
    port: u16,
}

impl Broker {
    pub fn start() -> Self {
        let tansu = tansu();
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&tansu)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let broker = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, topic: &str) -> String {
        format!("kafka://127.0.0.1:{}/{topic}", self.port)
    }

    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let out = Command::new(tansu())
            .args(["topic", "create", "--broker", &format!("tcp://127.0.0.1:{}", self.port)])
            .args(["--partitions", &partitions.to_string(), topic])
            .output()
            .expect("tansu topic create runs");
        assert!(out.status.success(), "creating {topic}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Produce `values` to `topic`, the i-th to partition `i % partitions`, and wait for them.
    pub fn produce(&self, topic: &str, partitions: i32, values: &[String]) {
        let producer: ThreadedProducer<_> = ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .set("linger.ms", "5")
            .create()
            .expect("a producer");
        for (i, v) in values.iter().enumerate() {
            let partition = i as i32 % partitions;
            let mut record = BaseRecord::<(), str>::to(topic).payload(v.as_str()).partition(partition);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        record = r;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        }
        producer.flush(Duration::from_secs(30)).expect("the broker takes every message");
    }

    /// Every message of `topic` (all partitions, each to its end), as (key, value).
    pub fn consume_all(&self, topic: &str, partitions: i32) -> Vec<(String, String)> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .set("group.id", "tests")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()
            .expect("a consumer");
        let mut all = TopicPartitionList::new();
        for p in 0..partitions {
            all.add_partition_offset(topic, p, Offset::Beginning).expect("a partition");
        }
        consumer.assign(&all).expect("assigns");
        // Each partition to its end event (tansu's high watermarks lag).
        let mut ended = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while ended.len() < partitions as usize {
            assert!(Instant::now() < deadline, "{topic}: no end after {} messages", out.len());
            match consumer.poll(Duration::from_millis(100)) {
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                    ended.insert(p);
                }
                Some(m) => {
                    let m = m.expect("a message");
                    ended.remove(&m.partition());
                    let text = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
                    out.push((text(m.key()), text(m.payload())));
                }
                None => {}
            }
        }
        out
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Records of a curved two-class concept with a categorical column, as JSON objects.
fn records(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let a = ((i * 7919) % 1000) as f64 / 100.0;
            let b = ((i * 104_729) % 997) as f64 / 99.7;
            let color = ["red", "green", "blue"][i % 3];
            let y = u8::from((a - 5.0).powi(2) + (b - 5.0).powi(2) < 9.0 || color == "green");
            format!("{{\"a\":{a},\"b\":{b},\"color\":\"{color}\",\"y\":{y}}}")
        })
        .collect()
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "eddy failed: {stderr}");
    stderr
}

const MODEL: [&str; 6] =
    ["--label-column", "y", "--model", "onehot | scale | sgd(loss=log_loss)", "--quiet", "--batch-size"];

/// A topic read to its end gives the labels of the same records in an NDJSON file; bad
/// messages go to the rejects named by topic/partition/offset.
#[test]
fn a_topic_read_to_its_end_gives_the_labels_of_the_same_ndjson() {
    let broker = Broker::start();
    broker.create_topic("events", 1);
    let mut recs = records(3000);
    recs[10] = "{\"a\": \"hot\", \"b\": 1, \"color\": \"red\", \"y\": 0}".into();
    recs[20] = "not json".into();
    recs[30] = "{\"a\": 1,\n \"b\": 2, \"color\": \"red\", \"y\": 1}".into();
    broker.produce("events", 1, &recs);
    let dir = scratch("read");
    let mut file = std::fs::File::create(dir.join("events.ndjson")).expect("creates");
    for r in &recs {
        writeln!(file, "{}", r.replace('\n', " ")).expect("writes");
    }
    let run = |input: &str, labels: &str, rejects: &str| {
        ok(&eddy()
            .current_dir(&dir)
            .args(["run", input, "--until-end", "--labels-out", labels, "--on-error", "skip", "--rejects", rejects])
            .args(MODEL)
            .arg("100")
            .output()
            .expect("runs"))
    };
    ok(&eddy()
        .current_dir(&dir)
        .args(["run", "events.ndjson", "--labels-out", "file.csv", "--on-error", "skip", "--rejects", "file.tsv"])
        .args(MODEL)
        .arg("100")
        .output()
        .expect("runs"));
    run(&broker.url("events"), "topic.csv", "topic.tsv");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("reads");
    assert_eq!(read("topic.csv"), read("file.csv"), "the same labels as the file's");
    let rejects = read("topic.tsv");
    assert!(rejects.contains("events/0/10\t") && rejects.contains("events/0/20\t"), "{rejects}");
    assert_eq!(rejects.lines().count(), 3, "two bad messages, named: {rejects}");
}

/// Messages whose values are CSV lines (`--format csv --columns ...`) give the labels of
/// the same lines in a CSV file with a header; a line of the wrong width, and one whose
/// quoted field holds a line break, go to the rejects by topic/partition/offset.
#[test]
fn csv_values_read_as_the_lines_of_a_csv_file() {
    let broker = Broker::start();
    broker.create_topic("events", 1);
    let mut lines: Vec<String> = records(2000)
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r).expect("a record");
            format!("{},{},{},{}", v["a"], v["b"], v["color"].as_str().expect("a color"), v["y"])
        })
        .collect();
    lines[10] = "1,2,red".into();
    lines[20] = "1,2,\"re\nd\",1".into();
    broker.produce("events", 1, &lines);
    let dir = scratch("csv");
    let mut file = std::fs::File::create(dir.join("events.csv")).expect("creates");
    writeln!(file, "a,b,color,y").expect("writes");
    for (i, l) in lines.iter().enumerate() {
        // The file's version of the broken line is another bad line (two would shift the count).
        writeln!(file, "{}", if i == 20 { "1,2" } else { l }).expect("writes");
    }
    drop(file);
    let run = |input: &str, labels: &str, rejects: &str, extra: &[&str]| {
        ok(&eddy()
            .current_dir(&dir)
            .args(["run", input, "--labels-out", labels, "--on-error", "skip", "--rejects", rejects])
            .args(extra)
            .args(MODEL)
            .arg("100")
            .output()
            .expect("runs"))
    };
    run("events.csv", "file.csv", "file.tsv", &[]);
    run(
        &broker.url("events"),
        "topic.csv",
        "topic.tsv",
        &["--until-end", "--format", "csv", "--columns", "a,b,color,y"],
    );
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("reads");
    assert_eq!(read("topic.csv"), read("file.csv"), "the same labels as the file's");
    let rejects = read("topic.tsv");
    assert!(
        rejects.contains("events/0/10\t") && rejects.contains("events/0/20\tthe message holds a line break"),
        "{rejects}"
    );
    assert_eq!(rejects.lines().count(), 3, "two bad messages, named: {rejects}");
}

/// Checkpoints record each partition's offset: a run SIGKILLed at random moments and
/// resumed each time ends with the labels of an uninterrupted run, over three partitions.
#[test]
fn killed_at_random_and_resumed_equals_uninterrupted() {
    let broker = Broker::start();
    broker.create_topic("events", 3);
    broker.produce("events", 3, &records(60_000));
    let dir = scratch("resume");
    let args = |labels: &str, checkpoints: &str| -> Vec<String> {
        let mut a: Vec<String> = ["run", &broker.url("events"), "--until-end", "--labels-out", labels]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(["--checkpoint", checkpoints, "--checkpoint-every", "2000"].iter().map(|s| s.to_string()));
        a.extend(MODEL.iter().map(|s| s.to_string()));
        a.push("500".into());
        a
    };
    ok(&eddy().current_dir(&dir).args(args("whole.csv", "whole")).output().expect("runs"));
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut kills = 0;
    let mut resume = false;
    let mut resumed = 0;
    let mut attempts = 0;
    loop {
        let mut a = args("killed.csv", "killed");
        if resume {
            a.push("--resume".into());
            resumed += 1;
        }
        let mut child = eddy().current_dir(&dir).args(&a).stderr(Stdio::piped()).spawn().expect("spawns");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(150 + seed % 600));
        attempts += 1;
        if kills < 3 && attempts < 12 && child.try_wait().expect("waits").is_none() {
            Command::new("kill").args(["-KILL", &child.id().to_string()]).status().expect("kill");
            let _ = child.wait();
            // Killed before its first checkpoint, a run starts over: not a kill that counts.
            resume = dir.join("killed").read_dir().is_ok_and(|mut d| d.next().is_some());
            kills += u32::from(resume);
            continue;
        }
        ok(&child.wait_with_output().expect("waits"));
        break;
    }
    let read = |f: &str| std::fs::read(dir.join(f)).expect("reads");
    assert!(kills > 0 && resumed > 0, "killed {kills} times, resumed {resumed} times from a checkpoint");
    assert_eq!(
        read("whole.csv").iter().filter(|&&b| b == b'\n').count(),
        60_001,
        "every record of the three partitions"
    );
    let (killed, whole) = (read("killed.csv"), read("whole.csv"));
    if killed != whole {
        let (k, w) = (String::from_utf8_lossy(&killed), String::from_utf8_lossy(&whole));
        let first = k.lines().zip(w.lines()).position(|(a, b)| a != b);
        panic!(
            "resumed after {kills} kills: {} lines, uninterrupted {}; first difference at line {first:?}",
            k.lines().count(),
            w.lines().count()
        );
    }
}

/// Labels to a topic: one message per record, keyed by the record's topic/partition/offset.
#[test]
fn labels_go_to_a_topic_keyed_by_the_records_offsets() {
    let broker = Broker::start();
    broker.create_topic("events", 2);
    broker.create_topic("labels", 1);
    broker.produce("events", 2, &records(2000));
    let dir = scratch("labels");
    ok(&eddy()
        .current_dir(&dir)
        .args(["run", &broker.url("events"), "--until-end", "--labels-out", &broker.url("labels")])
        .args(MODEL)
        .arg("100")
        .output()
        .expect("runs"));
    let labels = broker.consume_all("labels", 1);
    assert_eq!(labels.len(), 2000);
    let mut keys: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 2000, "one label per record");
    for (key, value) in &labels {
        let v: serde_json::Value = serde_json::from_str(value).expect("JSON");
        assert_eq!(v["id"], key.as_str());
        assert_eq!(v["model"], "sgd");
        assert!(v["label"].is_i64());
        assert!(key.starts_with("events/0/") || key.starts_with("events/1/"), "{key}");
    }
}

/// Clear errors: an unknown topic, a broker that is not there, CSV values (not yet).
#[test]
fn unknown_topics_and_brokers_are_clear_errors() {
    let broker = Broker::start();
    let dir = scratch("errors");
    let fail = |input: String, extra: &[&str]| {
        let out = eddy()
            .current_dir(&dir)
            .args(["run", &input, "--until-end", "--labels-out", "l.csv"])
            .args(extra)
            .args(MODEL)
            .arg("10")
            .output()
            .expect("runs");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = fail(broker.url("nothere"), &[]);
    assert!(e.contains("nothere"), "{e}");
    let e = fail(broker.url("bad topic"), &[]);
    assert!(e.contains("is not a topic name"), "{e}");
    let e = fail(broker.url("events"), &["--format", "csv"]);
    assert!(e.contains("name its columns with --columns"), "{e}");
}

/// Wait for `child`, killing it when it runs longer than `limit` (a hung worker fails
/// the test rather than holding it).
fn finish_within(mut child: Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("waits") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait().expect("waits");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The partition and offset a label's key (`topic/partition/offset`) names.
fn key_partition_offset(key: &str) -> (usize, usize) {
    let mut parts = key.rsplitn(3, '/');
    let offset = parts.next().and_then(|o| o.parse().ok()).expect("an offset");
    let partition = parts.next().and_then(|p| p.parse().ok()).expect("a partition");
    (partition, offset)
}

/// The next offset the group `group` committed for each partition.
fn committed(broker: &Broker, topic: &str, partitions: i32, group: &str) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set("group.id", group)
        .create()
        .expect("a consumer");
    let mut all = TopicPartitionList::new();
    for p in 0..partitions {
        all.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(all, Duration::from_secs(10)).expect("committed offsets");
    (0..partitions)
        .map(|p| match committed.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => -1,
        })
        .collect()
}

/// A broker holding `n` records in the four partitions of `events`, with a `labels`
/// topic and group `g`'s model topic.
fn group_broker(n: usize) -> (Broker, Vec<String>) {
    let broker = Broker::start();
    broker.create_topic("events", 4);
    broker.create_topic("labels", 1);
    broker.create_topic("events.g.model", 1);
    let recs = records(n);
    broker.produce("events", 4, &recs);
    (broker, recs)
}

const GROUP_MODEL: [&str; 7] = ["--features", "a,b", "--label-column", "y", "--model", "gaussian-nb", "--quiet"];

/// A worker of group `g` reading `events` to its end, its standard error to `err` in `dir`.
fn group_worker(broker: &Broker, dir: &Path, name: &str, err: &str) -> Child {
    eddy()
        .current_dir(dir)
        .args(["run", &broker.url("events"), "--until-end", "--group", "g", "--worker", name])
        .args(["--sync-every", "500", "--batch-size", "100", "--labels-out", &broker.url("labels")])
        .args(GROUP_MODEL)
        .stderr(std::fs::File::create(dir.join(err)).expect("creates"))
        .spawn()
        .expect("spawns")
}

/// Workers of a group sharing naive Bayes through a model topic: every message is
/// labelled, the group's offsets are committed to the end, and the fold of every update
/// is the model one process learns from the messages as labelled (at least once: a
/// message read again after its partition moved is learned again, as often as it is
/// labelled), up to rounding; a model log on Kafka gives its updates back in order.
#[test]
fn a_group_shares_one_model_through_a_topic() {
    use eddy::sync::ModelLog;
    let n = 20_000;
    let (broker, recs) = group_broker(n);
    let dir = scratch("share");
    let worker = |name: &str| group_worker(&broker, &dir, name, &format!("{name}.err"));
    let names = ["w1", "w2", "w3"];
    let workers: Vec<Child> = names.iter().map(|w| worker(w)).collect();
    // The workers that read enough to sync: the group assigns partitions as it sees fit.
    let mut syncing = std::collections::HashSet::new();
    for (w, name) in workers.into_iter().zip(names) {
        let out = finish_within(w, Duration::from_secs(180));
        let stderr = std::fs::read_to_string(dir.join(format!("{name}.err"))).expect("reads");
        assert!(out.success(), "{name}: {stderr}");
        assert!(stderr.contains("shared through") && stderr.contains("merge exact"), "{stderr}");
        let read: usize =
            (stderr.lines().filter(|l| l.contains(" rejected, ")).find_map(|l| l.split_once(" records, ")))
                .and_then(|(count, _)| count.parse().ok())
                .unwrap_or_else(|| panic!("{name} tells how many records it read: {stderr}"));
        if read >= 500 {
            syncing.insert(name.to_string());
        }
    }
    // The i-th message went to partition i % 4: the group committed each to its end.
    for (p, at) in committed(&broker, "events", 4, "g").into_iter().enumerate() {
        assert_eq!(at, (n / 4) as i64, "partition {p}: committed up to its end");
    }
    let labelled: Vec<String> = broker.consume_all("labels", 1).into_iter().map(|(k, _)| k).collect();
    let mut keys = labelled.clone();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), n, "every message labelled");
    eprintln!("{} messages labelled twice", labelled.len() - n);
    // One process learns the messages as often as the group labelled them.
    let mut file = std::fs::File::create(dir.join("labelled.ndjson")).expect("creates");
    for key in &labelled {
        let (partition, offset) = key_partition_offset(key);
        writeln!(file, "{}", recs[offset * 4 + partition]).expect("writes");
    }
    drop(file);
    ok(&eddy()
        .current_dir(&dir)
        .args(["run", "labelled.ndjson", "--labels-out", "one.csv", "--save-model", "one.eddy"])
        .args(GROUP_MODEL)
        .output()
        .expect("runs"));
    let log_url = broker.url("events.g.model");
    let log = eddy::sync::open_log(&log_url).expect("opens the model topic");
    let shared = eddy::sync::SharedModel::follow(log, eddy::model_file::Keys::default())
        .expect("folds the model topic")
        .expect("the topic holds updates");
    let (folded, skipped) = shared.counts();
    assert_eq!(skipped, 0, "no update skipped");
    assert!(folded >= 3 * 2, "every worker synced more than once ({folded} updates)");
    let merged = shared.model();
    assert_eq!(merged.records_seen(), labelled.len() as u64, "each label learned once");
    let worst = crate::shared_models::worst_probability_gap(&dir.join("one.eddy"), merged);
    assert!(worst < 1e-9, "merged and one-process probabilities differ by {worst}");
    let mut log = eddy::sync::kafka::KafkaLog::open(&log_url).expect("opens");
    let updates = log.read_after(None, 1 << 20).expect("reads");
    assert_eq!(updates.len() as u64, folded);
    let offsets: Vec<String> = (0..updates.len()).map(|i| i.to_string()).collect();
    assert_eq!(updates.iter().map(|u| u.id.clone()).collect::<Vec<_>>(), offsets, "updates in offset order");
    let tail = log.read_after(Some(&offsets[offsets.len() - 2]), 10).expect("reads");
    assert_eq!(tail.len(), 1, "read after an offset starts past it");
    let workers: std::collections::HashSet<String> = updates.into_iter().map(|u| u.worker).collect();
    assert!(syncing.len() >= 2, "the topic was shared: {syncing:?}");
    assert_eq!(workers, syncing, "every worker that read 500 records published");
}

/// A worker of a group SIGKILLed twice, each time once it has published, and started
/// again: its partitions go to the others or to it again, each read on from the group's
/// committed offset, so every message is labelled (the killed worker's last uncommitted
/// ones twice), every partition is committed to its end, and the shared model misses at
/// most what the killed worker had learned since its last sync.
#[test]
fn a_group_labels_every_message_through_a_twice_killed_worker() {
    use eddy::sync::ModelLog;
    let n = 60_000;
    let (broker, recs) = group_broker(n);
    let dir = scratch("group-kill");
    let worker = |name: &str, run: usize| group_worker(&broker, &dir, name, &format!("{name}-{run}.err"));
    let mut log = eddy::sync::kafka::KafkaLog::open(&broker.url("events.g.model")).expect("opens");
    let mut published_by_w1 =
        || log.read_after(None, 1 << 20).expect("reads").iter().filter(|u| u.worker == "w1").count();
    let others: Vec<(Child, &str)> = ["w2", "w3"].into_iter().map(|w| (worker(w, 0), w)).collect();
    let mut w1 = worker("w1", 0);
    for run in 1..=2 {
        // Killed once it shared something new: what it learned since is lost to the model.
        let before = published_by_w1();
        let deadline = Instant::now() + Duration::from_secs(90);
        while published_by_w1() == before {
            assert!(Instant::now() < deadline, "w1 shared nothing new in 90 s (run {run})");
            assert!(w1.try_wait().expect("waits").is_none(), "w1 ran to the end before its kill {run}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Command::new("kill").args(["-KILL", &w1.id().to_string()]).status().expect("kill");
        let _ = w1.wait();
        w1 = worker("w1", run);
    }
    for (w, name) in others.into_iter().chain([(w1, "w1")]) {
        let out = finish_within(w, Duration::from_secs(240));
        let stderr = std::fs::read_to_string(dir.join(format!("{name}-{}.err", if name == "w1" { 2 } else { 0 })))
            .expect("reads");
        assert!(out.success(), "{name}: {stderr}");
    }
    let labelled: Vec<String> = broker.consume_all("labels", 1).into_iter().map(|(k, _)| k).collect();
    let mut keys = labelled.clone();
    keys.sort_unstable();
    keys.dedup();
    let committed = committed(&broker, "events", 4, "g");
    assert_eq!(keys.len(), n, "every message labelled (committed {committed:?})");
    assert_eq!(committed, vec![(n / 4) as i64; 4], "every partition committed up to its end");
    let log = eddy::sync::open_log(&broker.url("events.g.model")).expect("opens the model topic");
    let shared = eddy::sync::SharedModel::follow(log, eddy::model_file::Keys::default())
        .expect("folds the model topic")
        .expect("the topic holds updates");
    let seen = shared.model().records_seen() as usize;
    eprintln!("{} labels for {n} messages, {seen} learned", labelled.len());
    // Each kill loses to the model what w1 learned since its last sync: under a sync
    // (500 records) and the batches in flight. Records whose offsets it had not
    // committed are labelled and learned again by the next owner: learned twice when
    // w1 had shared them, labelled twice when it had written their labels (labels are
    // flushed once a second, so a second's reading at most is learned twice, labelled once).
    assert!(seen + 2 * 1_000 >= n, "learned {seen} of {n} messages");
    assert!(seen <= labelled.len() + 2 * 5_000, "learned {seen} for {} labels", labelled.len());
    // One process over every message: the shared model is as good, to within a hair.
    let mut file = std::fs::File::create(dir.join("all.ndjson")).expect("creates");
    for r in &recs {
        writeln!(file, "{r}").expect("writes");
    }
    drop(file);
    ok(&eddy()
        .current_dir(&dir)
        .args(["run", "all.ndjson", "--labels-out", "one.csv", "--save-model", "one.eddy"])
        .args(GROUP_MODEL)
        .output()
        .expect("runs"));
    let worst = crate::shared_models::worst_probability_gap(&dir.join("one.eddy"), shared.model());
    assert!(worst < 0.01, "shared and one-process probabilities differ by {worst}");
}

/// `eddy serve --follow-model kafka://...`: serves the fold of a group's model topic and
/// swaps in each version the workers publish.
#[test]
fn a_service_follows_the_groups_model_topic() {
    use crate::server::{agent, get, json_post, rows_json, Server};
    use eddy::OnlineClassifier;
    let broker = Broker::start();
    broker.create_topic("events", 2);
    broker.create_topic("labels", 1);
    broker.create_topic("events.g.model", 1);
    let recs = records(6000);
    broker.produce("events", 2, &recs[..4000]);
    let dir = scratch("follow");
    let worker = || {
        ok(&eddy()
            .current_dir(&dir)
            .args(["run", &broker.url("events"), "--until-end", "--group", "g", "--worker", "w1"])
            .args(["--sync-every", "1000", "--labels-out", &broker.url("labels")])
            .args(["--features", "a,b", "--label-column", "y", "--model", "gaussian-nb", "--quiet"])
            .output()
            .expect("runs"))
    };
    worker();
    let model_url = broker.url("events.g.model");
    let service = Server::start(&["--follow-model", &model_url]);
    let client = agent();
    let records_seen = || get(&client, &service.url("/v1/model"), None).json()["records_seen"].as_u64();
    assert_eq!(records_seen(), Some(4000));
    let probe = ndarray::Array2::from_shape_fn((50, 2), |(i, j)| ((i * 13 + j * 7) % 100) as f64 / 10.0);
    let served = || {
        crate::server::i64s(&json_post(&client, &service.url("/v1/predict"), None, &rows_json(&probe)).json()["labels"])
    };
    let expected = || {
        let log = eddy::sync::open_log(&model_url).expect("opens the model topic");
        let shared = eddy::sync::SharedModel::follow(log, eddy::model_file::Keys::default())
            .expect("folds the model topic")
            .expect("the topic holds updates");
        shared.model().as_classifier().expect("a classifier").predict(probe.view()).expect("predicts").to_vec()
    };
    assert_eq!(served(), expected());
    // The worker goes on with the messages that came since: the service swaps them in.
    broker.produce("events", 2, &recs[4000..]);
    worker();
    let deadline = Instant::now() + Duration::from_secs(30);
    while records_seen() != Some(6000) {
        assert!(Instant::now() < deadline, "the service did not take up the new version: {:?}", records_seen());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(served(), expected());
    let (status, log) = service.stop();
    assert!(status.success() && log.contains("following"), "{log}");
}

/// A group's worker commits past rejected messages once what comes before them is
/// settled: a partition whose last message is bad is committed to its end, and the
/// message is in the rejects, named.
#[test]
fn a_groups_rejected_last_message_is_committed_past() {
    let broker = Broker::start();
    broker.create_topic("events", 2);
    broker.create_topic("labels", 1);
    let mut recs = records(2000);
    // The i-th message goes to partition i % 2: the last of partition 1 is bad.
    recs[1999] = "not json".into();
    broker.produce("events", 2, &recs);
    let dir = scratch("group-rejects");
    let worker = eddy()
        .current_dir(&dir)
        .args(["run", &broker.url("events"), "--until-end", "--group", "g", "--worker", "w1", "--sync-every", "0"])
        .args(["--labels-out", &broker.url("labels"), "--on-error", "skip", "--rejects", "rejects.tsv"])
        .args(GROUP_MODEL)
        .stderr(std::fs::File::create(dir.join("w1.err")).expect("creates"))
        .spawn()
        .expect("spawns");
    let status = finish_within(worker, Duration::from_secs(120));
    let stderr = std::fs::read_to_string(dir.join("w1.err")).expect("reads");
    assert!(status.success(), "{stderr}");
    assert_eq!(committed(&broker, "events", 2, "g"), vec![1000, 1000], "both partitions committed to their end");
    let rejects = std::fs::read_to_string(dir.join("rejects.tsv")).expect("reads");
    assert!(rejects.contains("events/1/999\t"), "{rejects}");
    assert_eq!(broker.consume_all("labels", 1).len(), 1999);
}
