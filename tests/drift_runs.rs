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
    let at = first["record"].as_u64().expect("a record id");
    assert!((25_000..28_000).contains(&at), "first drift at {at}");
    assert!(first["mean_before"].as_f64().is_some() && first["mean_after"].as_f64().is_some(), "{first}");
    let drift = &summary["models"][0]["drift"];
    assert_eq!(
        drift["drifts"].as_u64().expect("a count") + drift["warnings"].as_u64().expect("a count"),
        lines.len() as u64
    );
    assert_eq!(drift["events"].as_array().expect("listed").len(), lines.len());
    assert!(summary["models"][1].get("drift").is_none(), "a clusterer has no error to watch");
    assert!(!d.join("threads/events.km.ndjson").exists());
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
