//! `eddy drift`, run as a user would: events, errors, inputs, help and signals.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn eddy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-drift-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn drift_in(dir: &Path, args: &[&str]) -> Output {
    eddy().current_dir(dir).arg("drift").args(args).output().expect("eddy runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A latency that steps from about 20 to about 35 at record 1500 (noise of +-3, fixed
/// pattern), and an error flag whose rate steps from 1 in 20 to 1 in 3 there.
fn step_csv(path: &Path, n: usize) {
    let mut text = String::from("id,host,latency,error\n");
    for i in 0..n {
        let base = if i < 1500 { 20.0 } else { 35.0 };
        let noise = ((i * 7919) % 13) as f64 / 2.0 - 3.0;
        let error = u8::from(i.is_multiple_of(if i < 1500 { 20 } else { 3 }));
        text.push_str(&format!("{i},web{},{:.1},{error}\n", i % 3, base + noise));
    }
    std::fs::write(path, text).expect("write");
}

fn events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"))).collect()
}

#[test]
fn a_step_change_gives_a_drift_shortly_after_it_with_every_field() {
    let dir = temp_dir("step");
    step_csv(&dir.join("d.csv"), 3000);
    let o = drift_in(
        &dir,
        &["d.csv", "--column", "latency", "--detector", "adwin(delta=0.002)", "--events-out", "out/e.ndjson"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let evs = events(&dir.join("out/e.ndjson"));
    assert_eq!(evs.len(), 1, "{evs:?}");
    let line = std::fs::read_to_string(dir.join("out/e.ndjson")).expect("events");
    let at = |key: &str| line.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {line}"));
    let keys = ["record", "column", "detector", "kind", "mean_before", "mean_after"];
    assert!(keys.windows(2).all(|k| at(k[0]) < at(k[1])), "fields in order: {line}");
    let e = evs[0].as_object().expect("an object");
    assert_eq!(e.len(), keys.len(), "{line}");
    let record = e["record"].as_u64().expect("record id");
    assert!((1500..1600).contains(&record), "drift at {record}");
    assert_eq!(
        (e["column"].as_str(), e["detector"].as_str(), e["kind"].as_str()),
        (Some("latency"), Some("adwin"), Some("drift"))
    );
    let before = e["mean_before"].as_f64().expect("mean_before");
    let after = e["mean_after"].as_f64().expect("mean_after");
    assert!((before - 20.0).abs() < 1.0 && after > before, "{before} {after}");
    let err = stderr(&o);
    assert!(err.starts_with("3000 records, 1 events (0 warnings, 1 drifts)"), "{err}");
    assert!(err.contains("adwin"), "{err}");
}

#[test]
fn binary_detectors_warn_and_drift_on_a_rising_error_rate_to_standard_output() {
    let dir = temp_dir("binary");
    step_csv(&dir.join("d.csv"), 3000);
    let o = drift_in(
        &dir,
        &["d.csv", "--column", "error", "--detector", "ddm", "--detector", "hddm-a(warning_confidence=0.01)"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let evs: Vec<Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    for detector in ["ddm", "hddm-a(warning_confidence=0.01)"] {
        let first_drift = evs
            .iter()
            .find(|e| e["detector"] == detector && e["kind"] == "drift")
            .unwrap_or_else(|| panic!("{detector}: no drift in {evs:?}"));
        let at = first_drift["record"].as_u64().expect("record");
        assert!((1500..1700).contains(&at), "{detector}: first drift at {at}");
        assert!(first_drift["mean_after"].as_f64() > first_drift["mean_before"].as_f64(), "{first_drift}");
    }
    assert!(evs.iter().any(|e| e["kind"] == "warning"), "a warning before a drift: {evs:?}");
}

#[test]
fn a_bad_detector_is_refused_with_the_spec_and_a_suggestion() {
    let dir = temp_dir("bad-detector");
    step_csv(&dir.join("d.csv"), 100);
    for (spec, says) in [
        ("adwin(delt=0.1)", "--detector: adwin: unknown parameter \"delt\": did you mean delta?"),
        ("adwn", "unknown detector \"adwn\": did you mean adwin?"),
        ("eddm(alpha=0.5)", "eddm: alpha must be >= beta"),
        ("sgd", "sgd is a model, not a drift detector"),
    ] {
        let o = drift_in(&dir, &["d.csv", "--column", "latency", "--detector", spec]);
        // eddy's usage errors in a value (a bad --model too) exit with 1; clap's own with 2.
        assert_eq!(o.status.code(), Some(1), "{spec}");
        let err = stderr(&o);
        assert!(err.starts_with("eddy: error: "), "{err}");
        assert!(err.contains(says), "{spec}: {err}");
        assert!(err.contains(&format!("\n  {spec}\n")), "the spec is shown: {err}");
        assert!(o.stdout.is_empty());
    }
    let o = drift_in(&dir, &["d.csv", "--detector", "adwin"]);
    assert_eq!(o.status.code(), Some(2), "no --column: {}", stderr(&o));
}

#[test]
fn a_value_that_is_not_a_number_is_a_positioned_error_after_the_events_before_it() {
    let dir = temp_dir("not-a-number");
    step_csv(&dir.join("d.csv"), 3000);
    let mut text = std::fs::read_to_string(dir.join("d.csv")).expect("read");
    text.push_str("3000,web0,oops,0\n3001,web1,35.0,0\n");
    std::fs::write(dir.join("d.csv"), text).expect("write");
    let o = drift_in(&dir, &["d.csv", "--column", "latency", "--events-out", "e.ndjson"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim_end(), "eddy: error: d.csv:3002: column 3 (latency): \"oops\" is not a number");
    assert_eq!(events(&dir.join("e.ndjson")).len(), 1, "the drift before the bad record is written");
}

#[test]
fn a_binary_detector_refuses_other_values_naming_the_record() {
    let dir = temp_dir("not-binary");
    step_csv(&dir.join("d.csv"), 50);
    let o = drift_in(&dir, &["d.csv", "--column", "latency", "--detector", "eddm"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with(
            "eddy: error: d.csv: record 0, column \"latency\": eddm takes 0 or 1 (1 marks an error), got 17"
        ),
        "{err}"
    );
}

#[test]
fn a_missing_column_is_named() {
    let dir = temp_dir("missing");
    step_csv(&dir.join("d.csv"), 50);
    let o = drift_in(&dir, &["d.csv", "--column", "latncy"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim_end(), "eddy: error: d.csv: no column named \"latncy\" (--column)");
}

#[test]
fn standard_input_ndjson_and_npy_are_read_too() {
    let dir = temp_dir("inputs");
    let mut child = eddy()
        .args(["drift", "-", "--format", "ndjson", "--column", "v", "--detector", "page-hinkley(threshold=20)"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        for i in 0..1000 {
            writeln!(stdin, "{{\"t\": {i}, \"v\": {}}}", if i < 500 { 1.0 } else { 4.0 }).expect("write");
        }
    }
    let o = child.wait_with_output().expect("waits");
    assert!(o.status.success(), "{}", stderr(&o));
    let first: Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().expect("an event")).expect("json");
    assert_eq!(first["detector"], "page-hinkley(threshold=20)");
    assert!((500..520).contains(&first["record"].as_u64().expect("record")), "{first}");

    // A .npy matrix: columns are f0, f1, ...
    let mut data = Vec::new();
    for i in 0..2000 {
        for v in [i as f64, if i < 1000 { 0.0 } else { 1.0 }] {
            data.extend_from_slice(&f64::to_le_bytes(v));
        }
    }
    let mut header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2000, 2), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&u16::try_from(header.len()).expect("short").to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&data);
    std::fs::write(dir.join("m.npy"), bytes).expect("write");
    let o = drift_in(&dir, &["m.npy", "--column", "f1", "--events-out", "e.ndjson"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let evs = events(&dir.join("e.ndjson"));
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert!((1000..1100).contains(&evs[0]["record"].as_u64().expect("record")));
    assert_eq!((evs[0]["mean_before"].as_f64(), evs[0]["kind"].as_str()), (Some(0.0), Some("drift")));
}

#[test]
fn help_and_list_come_from_the_registry() {
    let help = eddy().args(["drift", "--help"]).output().expect("runs");
    let list = eddy().args(["drift", "--list"]).output().expect("runs");
    assert!(help.status.success() && list.status.success());
    let (help, list) = (String::from_utf8_lossy(&help.stdout), String::from_utf8_lossy(&list.stdout));
    assert_eq!(list, eddy::drift::registry::describe(None).expect("all"));
    for entry in eddy::drift::ENTRIES {
        assert!(help.contains(&format!("{} (", entry.name)), "{} in --help", entry.name);
        for p in entry.params {
            assert!(help.contains(p.name), "{}: {} in --help", entry.name, p.name);
        }
    }
    let short = eddy().args(["drift", "-h"]).output().expect("runs");
    assert!(String::from_utf8_lossy(&short.stdout).contains(&eddy::drift::registry::names().join(", ")));
}

/// Ctrl-C or SIGTERM while following a growing file: the events so far are written,
/// the summary says the run was interrupted, and the exit code is 0.
#[test]
fn a_signal_ends_a_followed_stream_cleanly() {
    for signal in ["-INT", "-TERM"] {
        let dir = temp_dir(&format!("follow{signal}"));
        let path = dir.join("grow.csv");
        step_csv(&path, 2000);
        let child = eddy()
            .current_dir(&dir)
            .args(["drift", "grow.csv", "--follow", "--column", "latency", "--events-out", "e.ndjson"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::fs::read_to_string(dir.join("e.ndjson")).map_or(true, |t| t.is_empty()) {
            assert!(std::time::Instant::now() < deadline, "{signal}: no event while following");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let status = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill");
        assert!(status.success());
        let o = child.wait_with_output().expect("waits");
        assert!(o.status.success(), "{signal}: {:?} {}", o.status, stderr(&o));
        let err = stderr(&o);
        assert!(err.starts_with("2000 records, 1 events") && err.contains("(interrupted"), "{signal}: {err}");
        assert_eq!(events(&dir.join("e.ndjson")).len(), 1);
    }
}
