//! `eddy run --delayed-labels`: labels that arrive later, joined by id in one stream;
//! `eddy run --labels-from FEEDBACK --id-column ID`: the same in a second stream.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("eddy-delayed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn eddy(d: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eddy")).current_dir(d).args(args).output().expect("eddy runs")
}

#[track_caller]
fn ok(out: &Output) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("summary")).expect("json")
}

fn model_json(path: &Path) -> String {
    let (_, m): (_, eddy::model::Model) =
        eddy::model_file::load(path, "model", &eddy::model_file::Keys::default()).expect("loads");
    serde_json::to_string(&m).expect("json")
}

/// Labelled records: three numeric columns and a categorical one.
pub fn records(n: usize, seed: u64) -> Vec<(Vec<f64>, &'static str, i64)> {
    let (x, y) = eddy::source::synth::Blobs::new(3, 3, seed).cluster_std(2.0).next_batch(n);
    let cities = ["paris", "lyon", "nice"];
    x.outer_iter()
        .zip(y.iter())
        .enumerate()
        .map(|(i, (row, &l))| (row.to_vec(), cities[(i * 7 + l as usize) % 4 % 3], l))
        .collect()
}

/// The records in order, each with its label: `id,a,b,c,city,kind`.
fn in_order_csv(recs: &[(Vec<f64>, &str, i64)]) -> String {
    let mut text = String::from("id,a,b,c,city,kind\n");
    for (i, (x, city, l)) in recs.iter().enumerate() {
        text += &format!("e{i},{:.5},{:.5},{:.5},{city},k{l}\n", x[0], x[1], x[2]);
    }
    text
}

/// The same records as events without labels, each label coming `lag(i)` events later
/// (in event order), `None`: never.
fn delayed_csv(recs: &[(Vec<f64>, &str, i64)], lag: impl Fn(usize) -> Option<usize>) -> String {
    let mut text = String::from("id,a,b,c,city,kind\n");
    let mut due: Vec<(usize, usize)> = Vec::new();
    for (i, (x, city, _)) in recs.iter().enumerate() {
        text += &format!("e{i},{:.5},{:.5},{:.5},{city},\n", x[0], x[1], x[2]);
        if let Some(l) = lag(i) {
            due.push((i + l, i));
        }
        due.sort();
        while due.first().is_some_and(|&(at, _)| at <= i) {
            let (_, e) = due.remove(0);
            text += &format!("e{e},,,,,k{}\n", recs[e].2);
        }
    }
    for (_, e) in due {
        text += &format!("e{e},,,,,k{}\n", recs[e].2);
    }
    text
}

fn labels(path: &Path) -> Vec<i64> {
    let text = std::fs::read_to_string(path).expect("labels");
    text.lines().skip(1).map(|l| l.split(',').nth(1).expect("id,label").parse().expect("int64")).collect()
}

const MODELS: [&str; 4] = ["--model", "onehot | scale | sgd(loss=log_loss)", "--model", "nb=onehot | gaussian-nb"];

/// Labels that all come, in event order, within the TTL: the same final models as an
/// in-order run (the same records learned in the same order); with each label right after
/// its event, also the same labels and accuracy.
#[test]
fn every_label_in_time_learns_what_an_in_order_run_learns() {
    let d = dir("same");
    let recs = records(3000, 4);
    std::fs::write(d.join("order.csv"), in_order_csv(&recs)).expect("write");
    // Each block of 40 events gets its labels, in event order, after the next block's first.
    std::fs::write(d.join("late.csv"), delayed_csv(&recs, |i| Some((i / 40 + 1) * 40 - i))).expect("write");
    std::fs::write(d.join("next.csv"), delayed_csv(&recs, |_| Some(0))).expect("write");
    let run = |input: &str, out: &str, delayed: bool, extra: &[&str]| {
        let mut args = vec!["run", input, "--label-column", "kind", "--batch-size", "97", "--quiet"];
        args.extend(MODELS);
        let (labels, model, summary) = (format!("{out}.csv"), format!("{out}.eddy"), format!("{out}.json"));
        args.extend(["--labels-out", &labels, "--save-model", &model, "--summary-json", &summary]);
        if delayed {
            args.extend(["--id-column", "id", "--delayed-labels", "--label-ttl", "100", "--max-pending", "50"]);
        }
        args.extend(extra);
        ok(&eddy(&d, &args));
    };
    run("order.csv", "order", false, &[]);
    run("late.csv", "late", true, &[]);
    run("next.csv", "next", true, &[]);
    // The threads label as the single-threaded oracle does.
    run("late.csv", "inline", true, &["--inline"]);
    for m in ["sgd", "nb"] {
        let order = model_json(&d.join(format!("order.{m}.eddy")));
        assert_eq!(order, model_json(&d.join(format!("late.{m}.eddy"))), "{m}: labels up to 80 records late");
        assert_eq!(order, model_json(&d.join(format!("next.{m}.eddy"))), "{m}: labels right after their events");
        assert_eq!(labels(&d.join(format!("order.{m}.csv"))), labels(&d.join(format!("next.{m}.csv"))), "{m}");
        assert_eq!(labels(&d.join(format!("late.{m}.csv"))).len(), 3000, "{m}: one label per event");
        let read = |f: &str| std::fs::read(d.join(f)).expect("labels");
        assert!(read(&format!("late.{m}.csv")) == read(&format!("inline.{m}.csv")), "{m}: threads = inline");
    }
    let (order, late, next) = (json(&d.join("order.json")), json(&d.join("late.json")), json(&d.join("next.json")));
    assert_eq!(late["records"], 6000, "events and labels");
    assert_eq!(next["models"][0]["metrics"]["accuracy"], order["models"][0]["metrics"]["accuracy"]);
    let inline = json(&d.join("inline.json"));
    assert_eq!(inline["models"][1]["metrics"], late["models"][1]["metrics"]);
    let dl = &late["models"][0]["delayed"];
    assert_eq!(
        (dl["events"].as_u64(), dl["learned"].as_u64(), dl["pending"].as_u64()),
        (Some(3000), Some(3000), Some(0))
    );
    assert_eq!((dl["expired"].as_u64(), dl["unknown"].as_u64(), dl["late"].as_u64()), (Some(0), Some(0), Some(0)));
    assert_eq!(dl["accuracy"], late["models"][0]["metrics"]["accuracy"], "accuracy on delayed labels");
    // Event 40 (record 40) is followed by the 40 labels of block 0, its block's 40 events
    // and event 80: its label is record 121.
    assert_eq!(dl["delay"]["count"], 3000);
    assert_eq!(dl["delay"]["records"]["max"], 81);
    assert_eq!(next["models"][1]["delayed"]["delay"]["records"]["max"], 1, "right after: one record later");
}

/// A small stream with every outcome, counted and listed exactly; with --on-error fail,
/// the unknown id is a positioned error.
#[test]
fn expired_late_unknown_and_duplicate_ids_are_counted_and_listed() {
    let d = dir("counts");
    // TTL 3 records, 2 pending at most.
    let text = "id,a,b,kind\n\
                e1,1.0,2.0,\n\
                e2,1.5,2.5,\n\
                e1,,,x\n\
                e3,0.5,0.1,\n\
                e4,0.7,0.2,\n\
                e2,,,y\n\
                zz,,,x\n\
                e4,,,y\n\
                e5,3.0,1.0,\n\
                e5,3.1,1.1,\n";
    std::fs::write(d.join("in.csv"), text).expect("write");
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "run",
            "in.csv",
            "--id-column",
            "id",
            "--delayed-labels",
            "--label-column",
            "kind",
            "--label-ttl",
            "3",
            "--max-pending",
            "2",
            "--model",
            "scale | sgd",
            "--labels-out",
            "l.csv",
            "--summary-json",
            "s.json",
            "--quiet",
        ];
        a.extend(extra);
        a
    };
    ok(&eddy(&d, &args(&["--on-error", "skip", "--rejects", "rejects.tsv"])));
    let s = json(&d.join("s.json"));
    let dl = &s["models"][0]["delayed"];
    let count = |k: &str| dl[k].as_u64().unwrap_or_else(|| panic!("{k}: {dl}"));
    assert_eq!(
        ["events", "learned", "pending", "expired_ttl", "expired_capacity", "late", "unknown", "duplicates"].map(count),
        [5, 2, 1, 1, 1, 1, 1, 1],
        "{dl}"
    );
    assert_eq!(dl["delay"]["records"]["max"], 3, "e4: from record 4 to record 7");
    assert_eq!(s["rejected"], 0, "the records were read: their ids are what is wrong");
    let l = std::fs::read_to_string(d.join("l.csv")).expect("labels");
    let ids: Vec<&str> = l.lines().skip(1).map(|l| l.split(',').next().expect("id")).collect();
    assert_eq!(ids, ["0", "1", "3", "4", "8"], "one line per event, by record id");
    let rejects = std::fs::read_to_string(d.join("rejects.tsv")).expect("rejects");
    let reasons: Vec<(&str, &str)> = rejects
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[1], f[2])
        })
        .collect();
    assert_eq!(reasons.len(), 5, "{rejects}");
    let expect = [
        ("6", "expired (capacity): the event of id \"e2\" (record 1): 2 events were waiting"),
        ("7", "late: the label of id \"e2\" came after its event (record 1) expired (capacity)"),
        ("8", "unknown id \"zz\": no event with this id waits for a label"),
        ("9", "expired (ttl): the event of id \"e3\" (record 3): no label within 3 records"),
        ("11", "id \"e5\" is already waiting for its label (its event is record 8)"),
    ];
    for ((line, reason), (want_line, want)) in reasons.iter().zip(expect) {
        assert_eq!(*line, want_line, "{reason}");
        assert!(reason.starts_with(want), "{reason:?} should start with {want:?}");
    }
    let out = eddy(&d, &args(&[]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in.csv:8: column 1 (id): unknown id \"zz\": no event with this id waits for a label"),
        "{err}"
    );
    // The labels before it are written.
    assert_eq!(std::fs::read_to_string(d.join("l.csv")).expect("labels").lines().count(), 5);
}

/// Bad feedback lines are positioned errors (or rejects); nonsense options are refused.
#[test]
fn bad_feedback_and_bad_options_are_refused_with_a_reason() {
    let d = dir("bad");
    std::fs::write(d.join("in.ndjson"), "{\"id\":\"a\",\"x\":1.0}\n{\"id\":\"a\",\"x\":2.0,\"y\":1}\n").expect("write");
    std::fs::write(d.join("nothing.ndjson"), "{\"id\":\"a\",\"x\":1.0}\n{\"id\":\"b\"}\n").expect("write");
    std::fs::write(d.join("empty.ndjson"), "{\"id\":\"a\",\"x\":1.0}\n{\"id\":\"\",\"y\":1}\n").expect("write");
    std::fs::write(d.join("broken.ndjson"), "{\"id\":\"a\",\"x\":1.0}\n{\"id\":\"a\",\"y\":1\n").expect("write");
    let base = ["--model", "sgd", "--labels-out", "l.csv", "--quiet", "--label-column", "y"];
    let refused = |args: &[&str]| {
        let mut a = vec!["run"];
        a.extend(args);
        a.extend(base);
        let out = eddy(&d, &a);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let dl = ["--id-column", "id", "--delayed-labels"];
    let with = |input: &'static str| [&[input][..], &dl[..]].concat();
    let e = refused(&with("in.ndjson"));
    assert!(e.contains("in.ndjson:2: column 1 (id): features and a label"), "{e}");
    let e = refused(&with("nothing.ndjson"));
    assert!(e.contains("nothing.ndjson:2: column 1 (id): neither features nor a label"), "{e}");
    let e = refused(&with("empty.ndjson"));
    assert!(e.contains("empty.ndjson:2: column 1 (id): an empty id"), "{e}");
    let e = refused(&with("broken.ndjson"));
    assert!(e.contains("broken.ndjson:2: column"), "{e}");
    assert!(e.contains("EOF while parsing"), "{e}");
    let e = refused(&["in.ndjson", "--delayed-labels"]);
    assert!(e.contains("--delayed-labels needs --id-column"), "{e}");
    let e = refused(&["in.ndjson", "--id-column", "id"]);
    assert!(e.contains("--id-column goes with --delayed-labels"), "{e}");
    let e =
        refused(&["in.ndjson", "--id-column", "id", "--delayed-labels", "--model", "minibatch-kmeans(n_clusters=2)"]);
    assert!(e.contains("is a clusterer"), "{e}");
    let e = refused(&["in.ndjson", "--id-column", "id", "--delayed-labels", "--label-ttl", "0"]);
    assert!(e.contains("--label-ttl \"0\": must be more than 0"), "{e}");
    let e = refused(&["in.ndjson", "--id-column", "id", "--labels-from", "in.ndjson", "--checkpoint", "ck"]);
    assert!(e.contains("--checkpoint and --resume do not go with --labels-from"), "{e}");
    let e = refused(&["in.ndjson", "--id-column", "id", "--labels-from", "fb.txt.bz2"]);
    assert!(e.contains("fb.txt.bz2: unknown file type for --labels-from"), "{e}");
    std::fs::write(d.join("in.csv"), "tx,x,y\na,1.0,\n").expect("write");
    let e = refused(&["in.csv", "--id-column", "id", "--delayed-labels"]);
    assert!(e.contains("no column named \"id\" (the id column)"), "{e}");
    let e = refused(&["in.csv", "--id-column", "tx", "--delayed-labels", "--features", "tx,x"]);
    assert!(e.contains("\"tx\" is the id column"), "{e}");
    // With skip, the bad feedback is a rejected record like any other.
    let mut all = vec!["run"];
    all.extend(with("in.ndjson"));
    all.extend(["--on-error", "skip", "--summary-json", "s.json"]);
    all.extend(base);
    ok(&eddy(&d, &all));
    let s = json(&d.join("s.json"));
    assert_eq!((s["rejected"].as_u64(), s["models"][0]["delayed"]["pending"].as_u64()), (Some(1), Some(1)));
}

/// The committed example: 40 transactions with a categorical column, their labels 3 or
/// so events later, two of which never come (README, "Labels that arrive later").
#[test]
fn the_example_runs_as_the_readme_says() {
    let d = dir("example");
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/delayed.ndjson");
    let input = input.to_str().expect("utf-8 path");
    ok(&eddy(
        &d,
        &[
            "run",
            input,
            "--id-column",
            "tx_id",
            "--delayed-labels",
            "--label-column",
            "fraud",
            "--label-ttl",
            "20",
            "--model",
            "onehot | scale | sgd(loss=log_loss)",
            "--labels-out",
            "l.csv",
            "--summary-json",
            "s.json",
            "--report",
            "report",
            "--quiet",
        ],
    ));
    let report = std::fs::read_to_string(d.join("report/report.md")).expect("report");
    assert!(report.contains("### Delayed labels\n\n40 events were labelled on arrival; 38 were learned"), "{report}");
    assert!(report.contains("| records | 7 | 7 | 7 |"), "{report}");
    let s = json(&d.join("s.json"));
    let dl = &s["models"][0]["delayed"];
    assert_eq!((s["records"].as_u64(), dl["events"].as_u64(), dl["learned"].as_u64()), (Some(78), Some(40), Some(38)));
    assert_eq!((dl["expired_ttl"].as_u64(), dl["pending"].as_u64()), (Some(2), Some(0)));
    assert_eq!(labels(&d.join("l.csv")).len(), 40);
}

/// Append `text` to `path` in one write.
fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).expect("append");
    f.write_all(text.as_bytes()).expect("write");
}

/// Lines of a label file without its header (0 while it does not exist).
fn label_lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.lines().count().saturating_sub(1)).unwrap_or(0)
}

/// Labels in a second stream, both files followed. The test appends the events block by
/// block and each block's labels (in event order) only once eddy has written the
/// block's labels, so every label is read after its event, whatever the timing: the
/// learned counts are exact and the final models are those of an in-order run (and of
/// the one-stream join). Which labels come before which event is timing, so the labels
/// given on arrival are not compared.
#[test]
fn a_second_stream_learns_what_one_stream_learns() {
    let d = dir("two");
    let (n, block) = (400, 50);
    let recs = records(n, 11);
    std::fs::write(d.join("order.csv"), in_order_csv(&recs)).expect("write");
    let run = |args: &[&str]| {
        let mut a = vec!["run", "--label-column", "kind", "--batch-size", "16", "--quiet"];
        a.extend(MODELS);
        a.extend(args);
        ok(&eddy(&d, &a));
    };
    run(&["order.csv", "--save-model", "order.eddy", "--labels-out", "order.out.csv"]);
    std::fs::write(d.join("one.csv"), delayed_csv(&recs, |i| Some((i / block + 1) * block - i))).expect("write");
    run(&[
        "one.csv",
        "--save-model",
        "one.eddy",
        "--labels-out",
        "one.out.csv",
        "--id-column",
        "id",
        "--delayed-labels",
    ]);
    let (events, feedback) = (d.join("events.csv"), d.join("feedback.csv"));
    std::fs::write(&events, "id,a,b,c,city\n").expect("write");
    std::fs::write(&feedback, "id,kind\n").expect("write");
    let mut args = vec!["run", "events.csv", "--follow", "--id-column", "id", "--labels-from", "feedback.csv"];
    args.extend(["--label-column", "kind", "--batch-size", "16", "--quiet", "--labels-out", "two.csv"]);
    args.extend(["--save-model", "two.eddy", "--summary-json", "two.json"]);
    args.extend(MODELS);
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .current_dir(&d)
        .args(&args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawns");
    // Generous: a loaded 2-core machine runs debug builds slowly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    for (k, chunk) in recs.chunks(block).enumerate() {
        let first = k * block;
        let mut text = String::new();
        for (i, (x, city, _)) in chunk.iter().enumerate() {
            text += &format!("e{},{:.5},{:.5},{:.5},{city}\n", first + i, x[0], x[1], x[2]);
        }
        append(&events, &text);
        // Every event of the block is read (and labelled) before its labels are written.
        let want = first + chunk.len();
        while ["two.sgd.csv", "two.nb.csv"].iter().any(|f| label_lines(&d.join(f)) < want) {
            if let Some(status) = child.try_wait().expect("waits") {
                panic!("eddy ended early: {status:?}");
            }
            assert!(std::time::Instant::now() < deadline, "block {k}: its events were not labelled in time");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let labels: String = chunk.iter().enumerate().map(|(i, r)| format!("e{},k{}\n", first + i, r.2)).collect();
        append(&feedback, &labels);
    }
    // Interrupted, a followed run reads both files to their end before it stops.
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("waits");
    assert!(exit.success(), "{exit:?}");
    let s = json(&d.join("two.json"));
    assert_eq!(s["records"].as_u64(), Some(2 * n as u64), "events and labels: {s}");
    for (i, m) in ["sgd", "nb"].iter().enumerate() {
        let dl = &s["models"][i]["delayed"];
        let count = |k: &str| dl[k].as_u64().unwrap_or_else(|| panic!("{k}: {dl}"));
        assert_eq!(["events", "learned", "pending", "expired", "unknown", "late"].map(count), [400, 400, 0, 0, 0, 0]);
        let order = model_json(&d.join(format!("order.{m}.eddy")));
        assert_eq!(order, model_json(&d.join(format!("one.{m}.eddy"))), "{m}: one stream");
        assert_eq!(order, model_json(&d.join(format!("two.{m}.eddy"))), "{m}: two streams");
        assert_eq!(labels(&d.join(format!("two.{m}.csv"))).len(), n, "{m}: one label per event");
    }
}

/// A label whose id waits for nothing is an error positioned in the feedback file
/// (first in its file, it is unknown whatever the timing); other bad feedback lines are
/// errors too, or, with --on-error skip, rejected and counted with their position.
#[test]
fn bad_labels_in_a_second_stream_are_positioned_in_it() {
    let d = dir("twobad");
    std::fs::write(d.join("ev.ndjson"), "{\"id\":\"a\",\"x\":1.0}\n{\"id\":\"b\",\"x\":2.0}\n").expect("write");
    // Line 1 is blank: the unknown id is on line 2.
    std::fs::write(d.join("unknown.ndjson"), "\n{\"id\":\"zz\",\"y\":\"p\"}\n{\"id\":\"a\",\"y\":\"p\"}\n")
        .expect("write");
    std::fs::write(d.join("unknown.csv"), "y,id\nq,zz\n").expect("write");
    // Two bad lines, then a good one (learned, or unknown if read before its event).
    let bad = "{\"id\":\"a\",\"y\":\n{\"id\":\"a\",\"y\":\"p\",\"x\":3}\n{\"id\":\"b\",\"y\":\"q\"}\n";
    std::fs::write(d.join("bad.ndjson"), bad).expect("write");
    std::fs::write(d.join("wide.csv"), "id,y,x\n").expect("write");
    let run = |feedback: &str, extra: &[&str]| {
        let mut a = vec!["run", "ev.ndjson", "--id-column", "id", "--labels-from", feedback, "--label-column", "y"];
        a.extend(["--model", "scale | sgd", "--labels-out", "l.csv", "--summary-json", "s.json", "--quiet"]);
        a.extend(extra);
        eddy(&d, &a)
    };
    let err = |out: Output| {
        assert!(!out.status.success(), "should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = err(run("unknown.ndjson", &[]));
    assert!(e.contains("unknown.ndjson:2: column 1 (id): unknown id \"zz\": no event with this id waits"), "{e}");
    let e = err(run("unknown.csv", &[]));
    assert!(e.contains("unknown.csv:2: column 2 (id): unknown id \"zz\""), "{e}");
    let e = err(run("bad.ndjson", &[]));
    assert!(e.contains("bad.ndjson:1: column"), "{e}");
    assert!(e.contains("EOF while parsing"), "{e}");
    let e = err(run("wide.csv", &[]));
    assert!(e.contains("wide.csv: the feedback's header must be the id and the label columns"), "{e}");
    ok(&run("bad.ndjson", &["--on-error", "skip", "--rejects", "rejects.tsv"]));
    let s = json(&d.join("s.json"));
    assert_eq!(s["rejected"].as_u64(), Some(2), "{s}");
    let dl = &s["models"][0]["delayed"];
    assert_eq!(dl["events"].as_u64(), Some(2), "{dl}");
    let (learned, unknown) = (dl["learned"].as_u64().unwrap_or(9), dl["unknown"].as_u64().unwrap_or(9));
    assert_eq!(learned + unknown, 1, "the good label: {dl}");
    let rejects = std::fs::read_to_string(d.join("rejects.tsv")).expect("rejects");
    let lines: Vec<&str> = rejects.lines().skip(1).collect();
    assert!(lines[0].starts_with("bad.ndjson\t1\tcolumn"), "{rejects}");
    assert!(lines[1].starts_with("bad.ndjson\t2\tcolumn 1 (x): a feedback record holds only the id"), "{rejects}");
}

/// A forest's replaced trees are events with delayed labels too, at the record of the
/// label whose learning replaced them: with each label right after its event, the forest
/// learns what an in-order run learns, and replaces the same trees.
#[test]
fn a_forests_replacements_are_events_with_delayed_labels() {
    let d = dir("forest-events");
    let recs = records(4000, 9);
    std::fs::write(d.join("order.csv"), in_order_csv(&recs)).expect("write");
    std::fs::write(d.join("next.csv"), delayed_csv(&recs, |_| Some(0))).expect("write");
    let run = |input: &str, out: &str, delayed: &[&str]| {
        let (labels, events) = (format!("{out}.labels.csv"), format!("{out}.events.ndjson"));
        let mut args = vec!["run", input, "--label-column", "kind", "--quiet", "--labels-out", &labels];
        args.extend(["--model", "arf(n_models=3, rising_only=false, seed=3)", "--events-out", &events]);
        args.extend(delayed);
        ok(&eddy(&d, &args));
        let text = std::fs::read_to_string(d.join(&events)).expect("events");
        text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")).collect::<Vec<_>>()
    };
    let order = run("order.csv", "order", &[]);
    let next = run("next.csv", "next", &["--id-column", "id", "--delayed-labels"]);
    assert!(!order.is_empty(), "the forest replaces trees on this stream");
    assert_eq!(order.len(), next.len());
    for (a, b) in order.iter().zip(&next) {
        assert_eq!((&a["kind"], &a["tree"]), (&b["kind"], &b["tree"]));
        // Record i of the in-order run is event 2i of the delayed one, its label 2i + 1.
        assert_eq!(b["record"].as_u64(), a["record"].as_u64().map(|r| 2 * r + 1), "{b}");
    }
}
