//! `eddy run redis://...`: a real redis-server (Debian's, installed by
//! tests/servers/install.sh when missing) on a loopback port of each test's own.

use eddy::OnlineClassifier;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A fresh folder of the test's own.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-redis-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creates a temp dir");
    dir
}

fn eddy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
}

/// Install redis-server once for the whole test binary; a failure fails every test.
fn ensure_installed() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let done = INSTALLED.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/install.sh");
        let out = Command::new("bash").arg(script).arg("redis").output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    if let Err(e) = done {
        panic!("redis-server is missing and tests/servers/install.sh could not install it: {e}");
    }
}

/// A redis-server of the test's own, stopped when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    pub fn start() -> Self {
        ensure_installed();
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = server.client().get_connection() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return server;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not answer on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, stream: &str) -> String {
        format!("redis://127.0.0.1:{}/{stream}", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}", self.port)).expect("a valid url")
    }

    pub fn conn(&self) -> redis::Connection {
        self.client().get_connection().expect("connects")
    }

    /// XADD each record (field, value pairs) to `stream`; their entry ids.
    pub fn add(&self, stream: &str, records: &[Vec<(String, String)>]) -> Vec<String> {
        let mut conn = self.conn();
        let mut ids = Vec::new();
        for chunk in records.chunks(500) {
            let mut pipe = redis::pipe();
            for fields in chunk {
                let mut cmd = redis::cmd("XADD");
                cmd.arg(stream).arg("*");
                for (k, v) in fields {
                    cmd.arg(k).arg(v);
                }
                pipe.add_command(cmd);
            }
            let got: Vec<String> = pipe.query(&mut conn).expect("XADD");
            ids.extend(got);
        }
        ids
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Records of a curved two-class concept with a categorical column, as text fields.
fn records(n: usize) -> Vec<Vec<(String, String)>> {
    (0..n)
        .map(|i| {
            let a = ((i * 7919) % 1000) as f64 / 100.0;
            let b = ((i * 104_729) % 997) as f64 / 99.7;
            let color = ["red", "green", "blue"][i % 3];
            let y = u8::from((a - 5.0).powi(2) + (b - 5.0).powi(2) < 9.0 || color == "green");
            vec![
                ("a".into(), a.to_string()),
                ("b".into(), b.to_string()),
                ("color".into(), color.into()),
                ("y".into(), y.to_string()),
            ]
        })
        .collect()
}

/// Put `text` in field `column` of every `every`-th record from `at`: bad records here and there.
fn spoil(records: &mut [Vec<(String, String)>], every: usize, at: usize, column: usize, text: &str) {
    for r in records.iter_mut().skip(at).step_by(every) {
        r[column].1 = text.into();
    }
}

/// Entries of `stream` read in `group` and not yet acknowledged.
fn pending(server: &RedisServer, stream: &str, group: &str) -> i64 {
    let reply: redis::Value =
        redis::cmd("XPENDING").arg(stream).arg(group).query(&mut server.conn()).expect("XPENDING");
    match &reply {
        redis::Value::Array(summary) => match summary.first() {
            Some(redis::Value::Int(n)) => *n,
            _ => panic!("XPENDING: {reply:?}"),
        },
        _ => panic!("XPENDING: {reply:?}"),
    }
}

fn to_csv(records: &[Vec<(String, String)>], path: &Path) {
    let mut f = std::fs::File::create(path).expect("creates");
    writeln!(f, "a,b,color,y").expect("writes");
    for r in records {
        let v: Vec<&str> = r.iter().map(|(_, v)| v.as_str()).collect();
        writeln!(f, "{}", v.join(",")).expect("writes");
    }
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "eddy failed: {stderr}");
    stderr
}

#[test]
fn a_stream_read_to_its_end_gives_the_labels_of_the_same_csv() {
    let server = RedisServer::start();
    let recs = records(3000);
    server.add("events", &recs);
    let dir = scratch("same_csv");
    let csv = dir.join("events.csv");
    to_csv(&recs, &csv);
    let run = |input: &str, labels: &Path| {
        let out = eddy()
            .arg("run")
            .arg(input)
            .args(["--until-end", "--label-column", "y", "--model", "hoeffding-tree(grace_period=50)", "--quiet"])
            .arg("--labels-out")
            .arg(labels)
            .output()
            .expect("runs");
        ok(&out)
    };
    let (from_redis, from_csv) = (dir.join("redis.csv"), dir.join("file.csv"));
    run(&server.url("events"), &from_redis);
    let out = eddy()
        .arg("run")
        .arg(&csv)
        .args(["--label-column", "y", "--model", "hoeffding-tree(grace_period=50)", "--quiet", "--labels-out"])
        .arg(&from_csv)
        .output()
        .expect("runs");
    ok(&out);
    let (a, b) = (std::fs::read(&from_redis).expect("labels"), std::fs::read(&from_csv).expect("labels"));
    assert_eq!(a.iter().filter(|&&c| c == b'\n').count(), 3001, "a header and a label per entry");
    assert_eq!(a, b, "the stream's labels are the file's");
}

#[test]
fn bad_entries_go_to_the_rejects_named_by_their_entry_id() {
    let server = RedisServer::start();
    let mut recs = records(200);
    recs[10][0].1 = "not-a-number".into(); // a bad number
    recs[15][2].1 = "re\nd".into(); // a line break in a value: refused, and no later entry shifts
    recs[20].remove(1); // a missing field: a missing value, which the tree takes
    recs[30].push(("extra".into(), "1".into())); // a field the first entry did not have
    let ids = server.add("events", &recs);
    let dir = scratch("rejects");
    let rejects = dir.join("rejects.tsv");
    let out = eddy()
        .arg("run")
        .arg(server.url("events"))
        .args(["--until-end", "--label-column", "y", "--model", "hoeffding-tree", "--quiet", "--on-error", "skip"])
        .arg("--rejects")
        .arg(&rejects)
        .arg("--labels-out")
        .arg(dir.join("l.csv"))
        .output()
        .expect("runs");
    ok(&out);
    let text = std::fs::read_to_string(&rejects).expect("rejects written");
    let named: Vec<&str> = text.lines().skip(1).map(|l| l.split('\t').nth(1).expect("a position")).collect();
    assert_eq!(named, [&ids[10], &ids[15], &ids[30]], "{text}");
    assert!(text.contains("field \"color\" holds a line break"), "{text}");
    assert!(text.lines().all(|l| l.starts_with(&server.url("events")) || l.starts_with("source")), "{text}");
    let labels = std::fs::read_to_string(dir.join("l.csv")).expect("labels");
    assert_eq!(labels.lines().count(), 1 + 197);

    // Without --on-error skip, the first bad entry stops the run, named.
    let out = eddy()
        .arg("run")
        .arg(server.url("events"))
        .args(["--until-end", "--label-column", "y", "--model", "hoeffding-tree", "--quiet", "--labels-out"])
        .arg(dir.join("l2.csv"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("entry {}: column 1 (a)", ids[10])), "{stderr}");
}

#[test]
fn a_followed_stream_labels_new_entries_until_sigterm() {
    let server = RedisServer::start();
    let recs = records(600);
    server.add("events", &recs[..100]);
    let dir = scratch("follow");
    let labels = dir.join("l.csv");
    let summary = dir.join("s.json");
    let mut child = eddy()
        .arg("run")
        .arg(server.url("events"))
        .args(["--label-column", "y", "--model", "hoeffding-tree", "--quiet", "--batch-size", "64", "--labels-out"])
        .arg(&labels)
        .arg("--summary-json")
        .arg(&summary)
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let lines = || std::fs::read_to_string(&labels).map(|t| t.lines().count()).unwrap_or(0);
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while lines() < n {
            assert!(Instant::now() < deadline, "{} of {n} lines labelled", lines());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(101);
    server.add("events", &recs[100..]);
    wait_for(601);
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    let status = child.wait().expect("exits");
    assert!(status.success(), "a stop on SIGTERM is a clean end");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).expect("summary")).expect("json");
    assert_eq!(s["records"], 600, "{s}");
}

#[test]
fn unreachable_servers_and_wrong_keys_are_clear_errors() {
    let server = RedisServer::start();
    let mut conn = server.conn();
    redis::cmd("SET").arg("plain").arg("1").query::<()>(&mut conn).expect("SET");
    let dir = scratch("errors");
    let run = |input: &str| {
        eddy()
            .arg("run")
            .arg(input)
            .args(["--until-end", "--model", "gaussian-nb", "--label-column", "y", "--quiet", "--labels-out"])
            .arg(dir.join("l.csv"))
            .output()
            .expect("runs")
    };
    let free = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
    for (input, says) in [
        (format!("redis://127.0.0.1:{free}/events"), "refused"),
        (server.url("plain"), "WRONGTYPE"),
        ("redis://127.0.0.1:1".to_string(), "no stream"),
        ("rediss://127.0.0.1:1/events".to_string(), "TLS"),
    ] {
        let out = run(&input);
        assert!(!out.status.success(), "{input}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says) && !stderr.contains("panicked"), "{input}: {stderr}");
    }
    // Labels into the input stream would come back as records.
    let out = eddy()
        .args(["run", &server.url("events"), "--until-end", "--model", "gaussian-nb", "--label-column", "y"])
        .args(["--labels-out", &server.url("events")])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the input stream"), "{out:?}");
    // A stream that does not exist is an empty stream: no records, no error.
    let out = run(&server.url("nothing-here"));
    let stderr = ok(&out);
    assert!(stderr.contains("0 records"), "{stderr}");
    // --until-end is for streams.
    let out = eddy()
        .args(["run", "x.csv", "--until-end", "--model", "gaussian-nb", "--label-column", "y", "--labels-out", "l.csv"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--until-end is for a stream input"));
}

/// A run on a stream killed with SIGKILL at random moments and resumed each time from
/// its checkpoints ends with the labels, rejects and model of a run never interrupted.
#[test]
fn killed_at_random_and_resumed_equals_uninterrupted() {
    let server = RedisServer::start();
    let mut recs = records(40_000);
    spoil(&mut recs, 997, 5, 1, "oops");
    server.add("events", &recs);
    let dir = scratch("kill");
    let args = |out: &str| -> Vec<String> {
        let mut a: Vec<String> = ["run", &server.url("events"), "--until-end", "--label-column", "y"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for s in [
            "--model",
            "onehot | scale | sgd",
            "--model",
            "forest=arf(n_models=3)",
            "--batch-size",
            "500",
            "--checkpoint-every",
            "2000",
            "--on-error",
            "skip",
            "--quiet",
        ] {
            a.push(s.into());
        }
        let at = |f: &str| dir.join(out).join(f).display().to_string();
        for (flag, f) in [
            ("--labels-out", "l.csv"),
            ("--save-model", "m.eddy"),
            ("--summary-json", "s.json"),
            ("--checkpoint", "ckpt"),
            ("--rejects", "rejects.tsv"),
        ] {
            a.push(flag.into());
            a.push(at(f));
        }
        a
    };
    let whole = eddy().args(args("whole")).output().expect("runs");
    ok(&whole);
    let kills = kill_and_resume(|| args("killed"), &dir.join("killed/ckpt"), 5, 0x2545_f491_4f6c_dd1d);
    for file in ["l.sgd.csv", "l.forest.csv", "rejects.tsv"] {
        let a = std::fs::read(dir.join("whole").join(file)).expect("the whole run's file");
        let b = std::fs::read(dir.join("killed").join(file)).expect("the killed run's file");
        assert!(a == b, "{file}: differs after {kills} kills ({} vs {} bytes)", a.len(), b.len());
    }
    for model in ["sgd", "forest"] {
        let load = |run: &str| {
            let path = dir.join(run).join(format!("m.{model}.eddy"));
            let (_, m): (_, eddy::model::Model) =
                eddy::model_file::load(&path, "model", &eddy::model_file::Keys::default()).expect("loads");
            serde_json::to_string(&m).expect("json")
        };
        assert!(load("whole") == load("killed"), "{model}: the final model differs after {kills} kills");
    }
    let summary = |run: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join(run).join("s.json")).expect("summary")).expect("json")
    };
    assert_eq!(summary("killed")["records"], summary("whole")["records"]);
    assert_eq!(summary("killed")["rejected"], 41);

    // A checkpoint taken on one stream does not resume a run on another.
    server.add("other", &recs[..10]);
    let mut a = args("killed");
    a[1] = server.url("other");
    a.push("--resume".into());
    let out = eddy().args(&a).output().expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the checkpoint was taken with input") && stderr.contains("/events"), "{stderr}");
}

/// Run eddy with `args()`, kill it with SIGKILL at seeded random moments, each after a
/// checkpoint is in `checkpoints` (so every resume reads the stream from one), and run it
/// again with --resume, until `most` kills; the last run must end well, resumed. The
/// number of kills.
fn kill_and_resume(args: impl Fn() -> Vec<String>, checkpoints: &Path, most: usize, mut seed: u64) -> usize {
    let (mut kills, mut first) = (0, true);
    loop {
        let mut a = args();
        if !first {
            a.push("--resume".into());
        }
        first = false;
        let mut child = eddy().args(&a).stderr(Stdio::piped()).spawn().expect("spawns");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::read_dir(checkpoints).map_or(0, |d| d.count()) == 0 {
            assert!(Instant::now() < deadline, "no checkpoint was written");
            std::thread::sleep(Duration::from_millis(5));
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(20 + seed % 150));
        if kills < most && child.try_wait().expect("waits").is_none() {
            Command::new("kill").args(["-KILL", &child.id().to_string()]).status().expect("kill");
            let _ = child.wait();
            kills += 1;
            continue;
        }
        let stderr = ok(&child.wait_with_output().expect("waits"));
        assert!(stderr.contains("resuming from"), "{stderr}");
        assert!(kills >= 1, "at least one kill happened");
        return kills;
    }
}

/// `(id, model, label)` of every entry of a labels stream, in order.
fn labels_in(server: &RedisServer, stream: &str) -> Vec<(String, String, i64)> {
    let entries: Vec<(String, Vec<(String, String)>)> =
        redis::cmd("XRANGE").arg(stream).arg("-").arg("+").query(&mut server.conn()).expect("XRANGE");
    entries
        .into_iter()
        .map(|(_, fields)| {
            let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone()).expect("a field");
            (get("id"), get("model"), get("label").parse().expect("an int64 label"))
        })
        .collect()
}

#[test]
fn labels_go_to_a_stream_keyed_by_the_records_entry_ids() {
    let server = RedisServer::start();
    let recs = records(1500);
    let ids = server.add("events", &recs);
    let dir = scratch("sink");
    let run = |labels: &str| {
        let out = eddy()
            .arg("run")
            .arg(server.url("events"))
            .args([
                "--until-end",
                "--label-column",
                "y",
                "--model",
                "hoeffding-tree",
                "--model",
                "nb=onehot | gaussian-nb",
            ])
            .args(["--quiet", "--labels-out", labels])
            .output()
            .expect("runs");
        ok(&out);
    };
    run(&server.url("labels"));
    run(&dir.join("l.csv").display().to_string());
    let got = labels_in(&server, "labels");
    for model in ["hoeffding-tree", "nb"] {
        let mine: Vec<&(String, String, i64)> = got.iter().filter(|(_, m, _)| m == model).collect();
        let file = std::fs::read_to_string(dir.join(format!("l.{model}.csv"))).expect("labels");
        let expected: Vec<i64> =
            file.lines().skip(1).map(|l| l.split(',').nth(1).expect("a label").parse().expect("int")).collect();
        assert_eq!(
            mine.iter().map(|(id, _, _)| id).collect::<Vec<_>>(),
            ids.iter().collect::<Vec<_>>(),
            "{model}: keyed by entry id, in order"
        );
        assert_eq!(mine.iter().map(|(_, _, l)| *l).collect::<Vec<_>>(), expected, "{model}: the file's labels");
    }
    assert_eq!(got.len(), 3000);

    // From a file, the key is the record's index.
    let csv = dir.join("events.csv");
    to_csv(&recs[..10], &csv);
    let out = eddy()
        .arg("run")
        .arg(&csv)
        .args(["--label-column", "y", "--model", "hoeffding-tree", "--quiet", "--labels-out", &server.url("from-file")])
        .output()
        .expect("runs");
    ok(&out);
    let keys: Vec<String> = labels_in(&server, "from-file").into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(keys, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
}

/// Labels written to a stream by a run killed at random and resumed: each record keeps
/// exactly one label per model, the same as an uninterrupted run's, in the same order.
#[test]
fn a_labels_stream_after_kills_and_resumes_equals_an_uninterrupted_runs() {
    let server = RedisServer::start();
    server.add("events", &records(30_000));
    let dir = scratch("sink-kill");
    let args = |run: &str| -> Vec<String> {
        let mut a: Vec<String> = vec!["run".into(), server.url("events"), "--until-end".into()];
        for s in ["--label-column", "y", "--model", "onehot | scale | sgd", "--model", "hoeffding-tree"] {
            a.push(s.into());
        }
        for s in ["--batch-size", "500", "--checkpoint-every", "2000", "--quiet", "--labels-out"] {
            a.push(s.into());
        }
        a.push(server.url(&format!("labels-{run}")));
        a.push("--checkpoint".into());
        a.push(dir.join(run).join("ckpt").display().to_string());
        a
    };
    ok(&eddy().args(args("whole")).output().expect("runs"));
    // An earlier run's labels of the same model stay, before this run's.
    let earlier: Vec<Vec<(String, String)>> = (0..100)
        .map(|i| vec![("id".into(), format!("old-{i}")), ("model".into(), "sgd".into()), ("label".into(), "7".into())])
        .collect();
    server.add("labels-killed", &earlier);
    let kills = kill_and_resume(|| args("killed"), &dir.join("killed/ckpt"), 4, 0x9e37_79b9_7f4a_7c15);
    let (whole, mut killed) = (labels_in(&server, "labels-whole"), labels_in(&server, "labels-killed"));
    assert_eq!(whole.len(), 60_000);
    assert!(killed.drain(..100).all(|(id, _, l)| id.starts_with("old-") && l == 7), "the earlier labels stay first");
    for model in ["sgd", "hoeffding-tree"] {
        let of = |all: &[(String, String, i64)]| -> Vec<(String, i64)> {
            all.iter().filter(|(_, m, _)| m == model).map(|(id, _, l)| (id.clone(), *l)).collect()
        };
        assert!(of(&whole) == of(&killed), "{model}: the labels differ after {kills} kills");
    }
}

/// Three workers of one consumer group label a stream while one of them is killed
/// twice and restarted: every entry gets exactly one label, and none stays pending.
#[test]
fn a_group_of_workers_labels_each_entry_once_through_kills() {
    let server = RedisServer::start();
    let mut recs = records(30_000);
    spoil(&mut recs, 1009, 3, 0, "bad");
    let ids = server.add("events", &recs);
    let dir = scratch("group");
    let worker = |name: &str| {
        let mut c = eddy();
        c.current_dir(&dir)
            .arg("run")
            .arg(server.url("events"))
            .args(["--until-end", "--group", "g", "--worker", name, "--claim-idle", "500", "--batch-size", "200"])
            .args(["--label-column", "y", "--model", "hoeffding-tree", "--quiet", "--on-error", "skip"])
            .arg("--rejects")
            .arg(format!("rejects.{name}.tsv"))
            .arg("--labels-out")
            .arg(server.url("labels"))
            .stderr(Stdio::piped());
        c
    };
    let others: Vec<Child> = ["w2", "w3"].iter().map(|w| worker(w).spawn().expect("spawns")).collect();
    let mut seed = 0x1234_5678_9abc_def1u64;
    for _ in 0..2 {
        let mut w1 = worker("w1").spawn().expect("spawns");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(100 + seed % 300));
        Command::new("kill").args(["-KILL", &w1.id().to_string()]).status().expect("kill");
        let _ = w1.wait();
    }
    // w1 again, to the end: it takes up its own entries, and claims nobody's (none is left).
    ok(&worker("w1").output().expect("runs"));
    for w in others {
        ok(&w.wait_with_output().expect("waits"));
    }
    // A worker that comes after the others claims what a dead one left (none here).
    ok(&worker("w4").output().expect("runs"));
    let labels = labels_in(&server, "labels");
    let mut labelled: Vec<&str> = labels.iter().map(|(id, _, _)| id.as_str()).collect();
    let n = labelled.len();
    labelled.sort_unstable();
    labelled.dedup();
    assert_eq!(labelled.len(), n, "no entry is labelled twice");
    let bad: Vec<&String> = ids.iter().enumerate().filter(|(i, _)| i % 1009 == 3).map(|(_, id)| id).collect();
    assert_eq!(n + bad.len(), ids.len(), "every good entry is labelled");
    assert_eq!(pending(&server, "events", "g"), 0, "nothing is left unacknowledged");
    let rejected: usize = ["w1", "w2", "w3", "w4"]
        .iter()
        .filter_map(|w| std::fs::read_to_string(dir.join(format!("rejects.{w}.tsv"))).ok())
        .map(|t| t.lines().count().saturating_sub(1))
        .sum();
    assert!(rejected >= bad.len(), "every bad entry is in a rejects file ({rejected} of {})", bad.len());
    assert!(!dir.join("redis:").exists(), "a stream output makes no folder");
}

/// A worker restarted under its name takes up the entries it had read but not
/// acknowledged; those deleted from the stream meanwhile are done, with no label.
#[test]
fn a_restarted_worker_takes_up_its_pending_entries() {
    let server = RedisServer::start();
    let ids = server.add("events", &records(100));
    let mut conn = server.conn();
    redis::cmd("XGROUP").arg("CREATE").arg("events").arg("g").arg("0").query::<()>(&mut conn).expect("XGROUP");
    // w1 read 60 entries and died before acknowledging them; 5 of them were deleted since.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg(&["GROUP", "g", "w1", "COUNT", "60", "STREAMS", "events", ">"])
        .query(&mut conn)
        .expect("XREADGROUP");
    let deleted: Vec<&String> = ids[10..15].iter().collect();
    let _: u64 = redis::cmd("XDEL").arg("events").arg(&deleted).query(&mut conn).expect("XDEL");
    let dir = scratch("pending");
    let out = eddy()
        .current_dir(&dir)
        .arg("run")
        .arg(server.url("events"))
        .args(["--until-end", "--group", "g", "--worker", "w1", "--label-column", "y", "--model", "hoeffding-tree"])
        .args(["--quiet", "--labels-out", &server.url("labels")])
        .output()
        .expect("runs");
    ok(&out);
    let labelled: Vec<String> = labels_in(&server, "labels").into_iter().map(|(id, _, _)| id).collect();
    let expected: Vec<String> = ids.iter().filter(|id| !deleted.contains(id)).cloned().collect();
    assert_eq!(labelled, expected, "its pending entries first, then the new ones, each once");
    assert_eq!(pending(&server, "events", "g"), 0, "nothing is left unacknowledged");
}

/// The shared model of a group: the fold of its model stream, as every worker folds it
/// (the untrained model from the first update's spec), and the updates folded and skipped.
fn shared_model(server: &RedisServer, stream: &str) -> (eddy::model::Model, (u64, u64)) {
    let log = eddy::sync::redis::RedisLog::open(&server.url(stream)).expect("opens the model stream");
    let shared = eddy::sync::SharedModel::follow(Box::new(log), eddy::model_file::Keys::default())
        .expect("folds the model stream")
        .expect("the stream holds updates");
    let counts = shared.counts();
    (shared.model().clone(), counts)
}

/// Three workers sharing naive Bayes through the model stream: the fold of every
/// update is the model one process learns from the whole stream (up to rounding), and
/// each worker learned from the others' records too (its labels are not its own model's).
#[test]
fn a_group_shares_one_model_equal_to_one_process_model() {
    let server = RedisServer::start();
    let recs = records(20_000);
    server.add("events", &recs);
    let dir = scratch("share");
    to_csv(&recs, &dir.join("events.csv"));
    let common = ["--features", "a,b", "--label-column", "y", "--model", "gaussian-nb", "--quiet"];
    ok(&eddy()
        .current_dir(&dir)
        .args(["run", "events.csv", "--labels-out", "one.csv", "--save-model", "one.eddy"])
        .args(common)
        .output()
        .expect("runs"));
    let worker = |name: &str| {
        eddy()
            .current_dir(&dir)
            .arg("run")
            .arg(server.url("events"))
            .args(["--until-end", "--group", "g", "--worker", name, "--sync-every", "500", "--batch-size", "100"])
            .args(common)
            .arg("--labels-out")
            .arg(server.url("labels"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns")
    };
    let workers: Vec<Child> = ["w1", "w2", "w3"].iter().map(|w| worker(w)).collect();
    for w in workers {
        let stderr = ok(&w.wait_with_output().expect("waits"));
        assert!(stderr.contains("shared through") && stderr.contains("merge exact"), "{stderr}");
    }
    let (merged, (folded, skipped)) = shared_model(&server, "events:g:model");
    assert_eq!(skipped, 0, "no update skipped");
    assert!(folded >= 3 * 2, "every worker synced more than once ({folded} updates)");
    assert_eq!(merged.records_seen(), 20_000);
    let worst = crate::shared_models::worst_probability_gap(&dir.join("one.eddy"), &merged);
    assert!(worst < 1e-9, "merged and one-process probabilities differ by {worst}");
    let labels = labels_in(&server, "labels");
    assert_eq!(labels.len(), 20_000, "each entry labelled once");
    let workers: std::collections::HashSet<String> = {
        use eddy::sync::ModelLog;
        let mut log = eddy::sync::redis::RedisLog::open(&server.url("events:g:model")).expect("opens");
        log.read_after(None, 1 << 20).expect("reads").into_iter().map(|u| u.worker).collect()
    };
    assert_eq!(workers.len(), 3, "every worker published: {workers:?}");
}

/// A worker that read entries and died (it never acknowledges them): once they have
/// been idle for --claim-idle, another worker claims and labels them, each once.
#[test]
fn a_dead_workers_entries_are_claimed_by_another() {
    let server = RedisServer::start();
    let recs = records(3000);
    let ids = server.add("events", &recs);
    let mut c = server.conn();
    redis::cmd("XGROUP").arg("CREATE").arg("events").arg("g").arg("0").query::<()>(&mut c).expect("XGROUP");
    // "dead" reads the first 1000 entries and is never heard of again.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g")
        .arg("dead")
        .arg("COUNT")
        .arg(1000)
        .arg("STREAMS")
        .arg("events")
        .arg(">")
        .query(&mut c)
        .expect("XREADGROUP");
    assert_eq!(pending(&server, "events", "g"), 1000);
    std::thread::sleep(Duration::from_millis(300));
    let dir = scratch("claim");
    let stderr = ok(&eddy()
        .current_dir(&dir)
        .arg("run")
        .arg(server.url("events"))
        .args(["--until-end", "--group", "g", "--worker", "w1", "--claim-idle", "200"])
        .args(["--features", "a,b", "--label-column", "y", "--model", "gaussian-nb", "--quiet"])
        .arg("--labels-out")
        .arg(server.url("labels"))
        .output()
        .expect("runs"));
    assert!(stderr.contains("shared through"), "{stderr}");
    let mut labelled: Vec<String> = labels_in(&server, "labels").into_iter().map(|(id, _, _)| id).collect();
    labelled.sort_unstable();
    let mut all = ids.clone();
    all.sort_unstable();
    assert_eq!(labelled, all, "the dead worker's entries are labelled too, each once");
    assert_eq!(pending(&server, "events", "g"), 0);
}

/// Four clusters in the plane, labelled by cluster (a seeded generator of the test's own).
fn blobs(n: usize, mut seed: u64) -> Vec<Vec<(String, String)>> {
    let mut uniform = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let c = (uniform() * 4.0) as usize % 4;
            let (cx, cy) = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (10.0, 10.0)][c];
            // A sum of uniforms: bell-shaped noise that reaches across the gap now and then.
            let noise = |u: &mut dyn FnMut() -> f64| (0..4).map(|_| u() - 0.5).sum::<f64>() * 5.0;
            let (x, y) = (cx + noise(&mut uniform), cy + noise(&mut uniform));
            vec![("a".into(), format!("{x:.4}")), ("b".into(), format!("{y:.4}")), ("y".into(), c.to_string())]
        })
        .collect()
}

/// A group of three workers over `stream` with `model`, `w1` SIGKILLed twice at random
/// moments and restarted: every entry labelled exactly once; the fold of the group's
/// model stream.
fn group_through_kills(server: &RedisServer, dir: &Path, group: &str, model: &str, n: usize) -> eddy::model::Model {
    let labels = format!("labels-{group}");
    let worker = |name: &str| {
        let mut c = eddy();
        c.current_dir(dir)
            .arg("run")
            .arg(server.url("events"))
            .args(["--until-end", "--group", group, "--worker", name, "--claim-idle", "1000"])
            .args(["--sync-every", "5000", "--batch-size", "500", "--quiet"])
            .args(["--features", "a,b", "--label-column", "y", "--model", model])
            .arg("--labels-out")
            .arg(server.url(&labels))
            .stderr(Stdio::piped());
        c
    };
    let others: Vec<Child> = ["w2", "w3"].iter().map(|w| worker(w).spawn().expect("spawns")).collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64 ^ n as u64;
    for _ in 0..2 {
        let mut w1 = worker("w1").spawn().expect("spawns");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(300 + seed % 700));
        Command::new("kill").args(["-KILL", &w1.id().to_string()]).status().expect("kill");
        let _ = w1.wait();
    }
    ok(&worker("w1").output().expect("runs"));
    for w in others {
        ok(&w.wait_with_output().expect("waits"));
    }
    // After the others: what a killed w1 left pending and nobody claimed yet (idle < 1 s).
    std::thread::sleep(Duration::from_millis(1100));
    ok(&worker("w4").output().expect("runs"));
    let mut labelled: Vec<String> = labels_in(server, &labels).into_iter().map(|(id, _, _)| id).collect();
    let total = labelled.len();
    labelled.sort_unstable();
    labelled.dedup();
    assert_eq!((labelled.len(), total), (n, n), "{group}: every entry labelled exactly once");
    assert_eq!(pending(server, "events", group), 0);
    shared_model(server, &format!("events:{group}:model")).0
}

/// The proof for Redis: groups of three workers, one killed twice, label every
/// record once, and their shared model is as good as one process's: k-means within 1%
/// of its adjusted Rand index and inertia, SGD within 1% of its accuracy. SGD takes a
/// small constant step: with the default `optimal` schedule the last weights of any run,
/// one process's too, wander by points of accuracy with the order of the records.
#[test]
fn a_group_through_kills_keeps_the_one_process_quality() {
    use eddy::OnlineClusterer;
    let n = 200_000;
    let server = RedisServer::start();
    let recs = blobs(n, 7);
    server.add("events", &recs);
    let dir = scratch("share-kills");
    {
        let mut f = std::fs::File::create(dir.join("events.csv")).expect("creates");
        writeln!(f, "a,b,y").expect("writes");
        for r in &recs {
            writeln!(f, "{},{},{}", r[0].1, r[1].1, r[2].1).expect("writes");
        }
    }
    let probe_recs = blobs(20_000, 99);
    let probe =
        ndarray::Array2::from_shape_fn((probe_recs.len(), 2), |(i, j)| probe_recs[i][j].1.parse().expect("a number"));
    let truth: Vec<i64> = probe_recs.iter().map(|r| r[2].1.parse().expect("a class")).collect();
    for (group, model) in [
        ("km", "minibatch-kmeans(n_clusters=4)"),
        ("lin", "scale | sgd(loss=log_loss, learning_rate=constant, eta0=0.001)"),
    ] {
        ok(&eddy()
            .current_dir(&dir)
            .args(["run", "events.csv", "--features", "a,b", "--label-column", "y", "--quiet", "--model", model])
            .args(["--batch-size", "500", "--labels-out", &format!("one-{group}.csv"), "--save-model"])
            .arg(format!("one-{group}.eddy"))
            .output()
            .expect("runs"));
        let (_, one) =
            eddy::model_file::load_model(&dir.join(format!("one-{group}.eddy")), &Default::default()).expect("loads");
        let merged = group_through_kills(&server, &dir, group, model, n);
        match (&one, &merged) {
            (eddy::model::Model::Clusterer(one), eddy::model::Model::Clusterer(merged)) => {
                let quality = |m: &eddy::model::ClustererModel| {
                    let (assigned, inertia) = m.predict_with_inertia(probe.view()).expect("predicts");
                    (eddy::metrics::adjusted_rand_index(&truth, assigned.as_slice().expect("contiguous")), inertia)
                };
                let ((ari1, in1), (ari2, in2)) = (quality(one), quality(merged));
                eprintln!(
                    "k-means over {n} records: ARI {ari2:.4} (one process {ari1:.4}), inertia {in2:.1} ({in1:.1})"
                );
                assert!(ari2 >= ari1 - 0.01, "k-means ARI: merged {ari2} vs one process {ari1}");
                assert!(in2 <= in1 * 1.01, "k-means inertia: merged {in2} vs one process {in1}");
                assert!(merged.cluster_centers().is_some());
            }
            (eddy::model::Model::Classifier(one), eddy::model::Model::Classifier(merged)) => {
                let accuracy = |m: &eddy::model::ClassifierModel| {
                    let p = m.predict(probe.view()).expect("predicts");
                    p.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
                };
                let (a1, a2) = (accuracy(one), accuracy(merged));
                eprintln!("SGD over {n} records: accuracy {a2:.4} (one process {a1:.4})");
                assert!(a2 >= a1 - 0.01, "SGD accuracy: merged {a2} vs one process {a1}");
            }
            _ => panic!("{model}: the merged model is not of the one-process model's kind"),
        }
    }
}

/// `eddy serve --follow-model`: serves the group's shared model (the library's fold of
/// the model stream), swaps in each version the workers publish, and refuses to learn.
#[test]
fn a_service_follows_the_groups_shared_model() {
    use crate::server::{agent, get, json_post, rows_json, Server};
    let server = RedisServer::start();
    let recs = records(8000);
    server.add("events", &recs[..5000]);
    let dir = scratch("follow");
    let worker = || {
        ok(&eddy()
            .current_dir(&dir)
            .arg("run")
            .arg(server.url("events"))
            .args(["--until-end", "--group", "g", "--worker", "w1", "--sync-every", "1000", "--quiet"])
            .args(["--features", "a,b", "--label-column", "y", "--model", "gaussian-nb"])
            .arg("--labels-out")
            .arg(server.url("labels"))
            .output()
            .expect("runs"))
    };
    worker();
    let service = Server::start(&["--follow-model", &server.url("events:g:model")]);
    let client = agent();
    let records_seen = || get(&client, &service.url("/v1/model"), None).json()["records_seen"].as_u64();
    assert_eq!(records_seen(), Some(5000));
    let probe = ndarray::Array2::from_shape_fn((50, 2), |(i, j)| ((i * 13 + j * 7) % 100) as f64 / 10.0);
    let served = |client: &ureq::Agent| json_post(client, &service.url("/v1/predict"), None, &rows_json(&probe)).json();
    let expected = |stream: &str| {
        let (model, _) = shared_model(&server, stream);
        model.as_classifier().expect("a classifier").predict(probe.view()).expect("predicts").to_vec()
    };
    assert_eq!(crate::server::i64s(&served(&client)["labels"]), expected("events:g:model"));
    // The workers go on: the service swaps in the new version.
    server.add("events", &recs[5000..]);
    worker();
    let deadline = Instant::now() + Duration::from_secs(20);
    while records_seen() != Some(8000) {
        assert!(Instant::now() < deadline, "the service did not take up the new version");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(crate::server::i64s(&served(&client)["labels"]), expected("events:g:model"));
    let learn = json_post(
        &client,
        &service.url("/v1/learn"),
        None,
        &serde_json::json!({"features": [[1.0, 2.0]], "labels": [1]}),
    );
    assert_eq!(learn.status, 409, "{}", learn.text());
    assert!(learn.text().contains("follows a group's shared model"), "{}", learn.text());
    let (status, log) = service.stop();
    assert!(status.success() && log.contains("following"), "{log}");
}

/// `--sync-interval`: a worker publishes at the first batch after the interval however
/// few records came; without it, a worker whose `--sync-every` is never reached
/// publishes once, at its end. A zero interval is refused.
#[test]
fn a_sync_interval_publishes_before_the_record_count_is_reached() {
    let server = RedisServer::start();
    server.add("events", &records(3000));
    let dir = scratch("interval");
    let run = |group: &str, extra: &[&str]| {
        eddy()
            .current_dir(&dir)
            .arg("run")
            .arg(server.url("events"))
            .args(["--until-end", "--group", group, "--worker", "w1", "--sync-every", "1000000", "--batch-size", "100"])
            .args(["--features", "a,b", "--label-column", "y", "--model", "gaussian-nb", "--quiet"])
            .arg("--labels-out")
            .arg(server.url(&format!("labels-{group}")))
            .args(extra)
            .output()
            .expect("runs")
    };
    ok(&run("slow", &[]));
    ok(&run("timed", &["--sync-interval", "0.000001"]));
    let (slow, _) = shared_model(&server, "events:slow:model");
    let (timed, (folded, _)) = shared_model(&server, "events:timed:model");
    let updates = |stream: &str| -> i64 { redis::cmd("XLEN").arg(stream).query(&mut server.conn()).expect("XLEN") };
    assert_eq!(updates("events:slow:model"), 1, "one sync, at the end");
    assert!(updates("events:timed:model") >= 10, "a sync a batch or so: {}", updates("events:timed:model"));
    assert_eq!(folded as i64, updates("events:timed:model"));
    assert_eq!((slow.records_seen(), timed.records_seen()), (3000, 3000));
    let refused = run("zero", &["--sync-interval", "0"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("--sync-interval"), "{stderr}");
}
