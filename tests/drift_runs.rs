//! `eddy run --drift`: a detector on each classifier's prequential error, its events in
//! a file, the summary and the terminal; the same with one thread or many.

use std::path::{Path, PathBuf};
use std::process::Command;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("eddy-drift-runs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn eddy(d: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_eddy")).current_dir(d).args(args).output().expect("eddy runs")
}

/// SEA concepts change every 25,000 records: ADWIN on Gaussian NB's errors finds the
/// first change soon after it, each event is a line of the file and in the summary, and
/// one thread gives the same events as many.
#[test]
fn a_drift_run_writes_counts_and_lists_its_events() {
    let d = dir("sea");
    let run = |tag: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "synth:sea?n=60000&period=25000&noise=0.1&seed=1",
            "--model",
            "nb=gaussian-nb",
            "--model",
            "km=minibatch-kmeans(n_clusters=2)",
            "--drift",
            "adwin",
            "--quiet",
        ];
        let (labels, events, summary) =
            (format!("{tag}/l.csv"), format!("{tag}/events.ndjson"), format!("{tag}/s.json"));
        args.extend(["--labels-out", &labels, "--events-out", &events, "--summary-json", &summary]);
        args.extend(extra);
        let out = eddy(&d, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(d.join(tag).join("events.nb.ndjson")).expect("the classifier's events");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(&summary)).expect("summary")).expect("JSON");
        (text, summary, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (events, summary, table) = run("threads", &[]);
    let lines: Vec<serde_json::Value> = events.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let first = lines.first().expect("a drift is found");
    assert_eq!(first["model"], "nb");
    assert_eq!(first["detector"], "adwin");
    assert_eq!(first["kind"], "drift");
    assert_eq!(first["watched"], "error");
    assert!(first["column"].is_null(), "{first}");
    let at = first["record"].as_u64().expect("a record id");
    assert!((25_000..28_000).contains(&at), "first drift at {at}");
    assert!(first["mean_before"].as_f64().is_some() && first["mean_after"].as_f64().is_some(), "{first}");
    let drift = &summary["models"][0]["drift"];
    assert_eq!(
        drift["drifts"].as_u64().expect("a count") + drift["warnings"].as_u64().expect("a count"),
        lines.len() as u64
    );
    assert_eq!(drift["events"].as_array().expect("listed").len(), lines.len());
    // SEA's features are uniform throughout: the clusterer's distances do not drift.
    let km = &summary["models"][1]["drift"];
    assert_eq!((km["detector"].as_str(), km["drifts"].as_u64()), (Some("adwin"), Some(0)), "{km}");
    assert_eq!(std::fs::read_to_string(d.join("threads/events.km.ndjson")).expect("the clusterer's file"), "");
    assert!(table.contains(&format!("nb: 0 warnings, {} drifts (first at records {at}", lines.len())), "{table}");
    let (inline, inline_summary, _) = run("inline", &["--inline"]);
    assert_eq!(inline, events, "one thread or many, the same events");
    assert_eq!(inline_summary["models"][0]["drift"], summary["models"][0]["drift"]);
}

#[test]
fn drift_settings_are_checked_before_anything_runs() {
    let d = dir("bad");
    let out =
        eddy(&d, &["run", "synth:sea?n=100", "--model", "sgd", "--labels-out", "l.csv", "--events-out", "e.ndjson"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--events-out goes with --drift"), "{out:?}");
    let out = eddy(&d, &["run", "synth:sea?n=100", "--model", "sgd", "--labels-out", "l.csv", "--drift", "adwn"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean adwin"), "{out:?}");
    assert!(!d.join("l.csv").exists(), "nothing was written");
}

/// A CSV whose column `a` steps from 0 to 5 (plus noise) at record `at`; `b` and the
/// label are the same throughout.
fn shifting_csv(d: &Path, n: usize, at: usize) {
    let mut text = String::from("a,b,y\n");
    for i in 0..n {
        // A cheap deterministic noise in [-0.5, 0.5).
        let noise = |k: usize| ((i * 7919 + k * 104_729) % 1000) as f64 / 1000.0 - 0.5;
        let a = if i < at { 0.0 } else { 5.0 } + noise(1);
        text += &format!("{a:.4},{:.4},{}\n", noise(2), i % 2);
    }
    std::fs::write(d.join("in.csv"), text).expect("write");
}

/// `--watch a,b`: the column that steps gives a drift soon after the step, named in the
/// event; the column that stays gives none. Events of columns and of the model are
/// in one file, in record order.
#[test]
fn watched_columns_signal_their_own_drifts() {
    let d = dir("watch");
    shifting_csv(&d, 8000, 5000);
    let out = eddy(
        &d,
        &[
            "run",
            "in.csv",
            "--label-column",
            "y",
            "--model",
            "gaussian-nb",
            "--drift",
            "adwin",
            "--watch",
            "a,b",
            "--labels-out",
            "l.csv",
            "--events-out",
            "e.ndjson",
            "--summary-json",
            "s.json",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(d.join("e.ndjson")).expect("events");
    let events: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let columns: Vec<&serde_json::Value> = events.iter().filter(|e| e["watched"] == "column").collect();
    let first = columns.first().expect("column a drifts");
    assert_eq!((first["column"].as_str(), first["kind"].as_str()), (Some("a"), Some("drift")), "{first}");
    let at = first["record"].as_u64().expect("a record");
    assert!((5000..5200).contains(&at), "found at {at}");
    assert!(first["mean_before"].as_f64().is_some_and(|m| m.abs() < 0.5), "{first}");
    assert!(columns.iter().all(|e| e["column"] == "a"), "b never drifts: {text}");
    let records: Vec<u64> = events.iter().map(|e| e["record"].as_u64().expect("a record")).collect();
    assert!(records.windows(2).all(|w| w[0] <= w[1]), "in record order: {records:?}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).expect("summary")).expect("JSON");
    assert_eq!(summary["models"][0]["drift"]["columns"], serde_json::json!(["a", "b"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("watching a, b"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A clusterer's distances: a third mass of records far from both centres arrives at
/// record 4000; the distance to the assigned centre (over its running mean) jumps, and
/// ADWIN says so within a batch or two.
#[test]
fn a_clusterer_s_distances_drift_when_a_new_mass_arrives() {
    let d = dir("distance");
    let mut text = String::from("a,b\n");
    for i in 0..8000usize {
        let noise = |k: usize| ((i * 7919 + k * 104_729) % 1000) as f64 / 1000.0 - 0.5;
        let (ca, cb) = match (i >= 4000 && i % 3 == 0, i % 2) {
            (true, _) => (40.0, 40.0),
            (false, 0) => (0.0, 0.0),
            (false, _) => (10.0, 0.0),
        };
        text += &format!("{:.4},{:.4}\n", ca + noise(1), cb + noise(2));
    }
    std::fs::write(d.join("in.csv"), text).expect("write");
    let out = eddy(
        &d,
        &[
            "run",
            "in.csv",
            "--model",
            "minibatch-kmeans(n_clusters=2)",
            "--drift",
            "adwin",
            "--batch-size",
            "500",
            "--labels-out",
            "l.csv",
            "--events-out",
            "e.ndjson",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(d.join("e.ndjson")).expect("events");
    let first: serde_json::Value = serde_json::from_str(text.lines().next().expect("a drift")).expect("JSON");
    assert_eq!((first["watched"].as_str(), first["kind"].as_str()), (Some("distance"), Some("drift")), "{first}");
    let at = first["record"].as_u64().expect("a record");
    assert!((4000..5000).contains(&at), "found at {at}");
    // Over the running mean: about 1 before (by construction), far above after.
    let (before, after) =
        (first["mean_before"].as_f64().expect("a mean"), first["mean_after"].as_f64().expect("a mean"));
    assert!(before < 1.5 && after > 2.0 * before, "{first}");
}

#[test]
fn watch_settings_are_checked_before_anything_runs() {
    let d = dir("bad-watch");
    shifting_csv(&d, 100, 50);
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "in.csv", "--label-column", "y", "--labels-out", "l.csv"];
        args.extend(extra);
        let out = eddy(&d, &args);
        assert!(!out.status.success(), "{extra:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(run(&["--model", "sgd", "--watch", "a"]).contains("--watch goes with --drift"));
    let binary = run(&["--model", "minibatch-kmeans(n_clusters=2)", "--drift", "ddm"]);
    assert!(binary.contains("takes 0/1 errors") && binary.contains("use adwin, page-hinkley or kswin"), "{binary}");
    assert!(run(&["--model", "sgd", "--drift", "ddm", "--watch", "a"]).contains("--watch needs adwin"));
    let unknown = run(&["--model", "sgd", "--drift", "adwin", "--watch", "a,zz"]);
    assert!(unknown.contains("--watch zz: not a feature of the input (features: a, b)"), "{unknown}");
    assert!(!d.join("l.csv").exists(), "refused before any output");
    assert!(run(&["--model", "sgd", "--drift", "adwin", "--watch", "a,b,a"]).contains("--watch names a twice"));
    let none = run(&["--model", "sgd", "--cluster-events"]);
    assert!(none.contains("--cluster-events watches clusterers' clusters, and this run has none"), "{none}");
}
