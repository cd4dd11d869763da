//! The `eddy` binary and the examples, run as a user would.

use std::path::PathBuf;
use std::process::Command;

fn eddy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
}

/// Examples are built by `cargo test` next to the test binary's directory.
fn example(name: &str) -> Command {
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    Command::new(dir.join("examples").join(name))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn demo_writes_labels_and_summary_and_says_where() {
    let out = temp_dir("demo");
    let run = eddy()
        .args(["demo", "--records", "5000", "--batch-size", "256", "--out"])
        .arg(&out)
        .output()
        .expect("eddy runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("labels.sgd.csv") && stdout.contains("summary.json"), "{stdout}");
    for name in ["labels.sgd.csv", "labels.kmeans.csv"] {
        let text = std::fs::read_to_string(out.join(name)).expect("label file");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("id,label"));
        let rows: Vec<(u64, i64)> = lines
            .map(|l| {
                let (id, label) = l.split_once(',').expect("two fields");
                (id.parse().expect("id"), label.parse().expect("int64 label"))
            })
            .collect();
        assert_eq!(rows.len(), 5000, "{name}: one label per record");
        assert!(rows.iter().enumerate().all(|(i, (id, _))| *id == i as u64), "{name}: ids in order");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary")).expect("json");
    assert_eq!(summary["records"], 10_000);
    assert_eq!(summary["rejected"], 0);
    assert!(summary["records_per_second"].as_f64().expect("rate") > 0.0);
    let models = summary["models"].as_array().expect("models");
    assert_eq!(models[0]["model"], "sgd");
    assert!(models[0]["metrics"]["accuracy"].as_f64().expect("accuracy") > 0.8);
    assert!(models[0]["metrics"]["macro_f1"].as_f64().is_some());
    assert_eq!(models[1]["model"], "minibatch-kmeans");
    assert!(models[1]["metrics"]["ari"].as_f64().expect("ari") > 0.8);
    assert!(models[1]["metrics"]["inertia"].as_f64().is_some());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let run = eddy().args(["demo", "--batch-size", "0", "--out"]).arg(temp_dir("bad")).output().expect("runs");
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("--batch-size"));
    let run = eddy().args(["demo", "--records", "many"]).output().expect("runs");
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("--records"));
}

#[test]
fn example_train_each_model_learns_every_model() {
    let run = example("train_each_model").output().expect("example runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let accuracies: Vec<f64> = stdout
        .lines()
        .filter_map(|l| l.split("accuracy ").nth(1))
        .map(|rest| rest.split_whitespace().next().expect("number").parse().expect("float"))
        .collect();
    assert_eq!(accuracies.len(), 11, "{stdout}");
    assert!(accuracies.iter().all(|&a| a > 0.7), "{stdout}");
    assert!(stdout.contains("ARI 1.000"), "{stdout}");
}

#[test]
fn example_compare_runner_speaks_the_comparison_protocol() {
    let dir = temp_dir("compare");
    let mut stream = eddy::source::synth::Blobs::new(3, 4, 5);
    let (x, y) = stream.next_batch(3000);
    ndarray_npy::write_npy(dir.join("x.npy"), &x).expect("write x");
    ndarray_npy::write_npy(dir.join("y.npy"), &y).expect("write y");
    let run = example("compare_runner")
        .arg("kmeans")
        .arg(dir.join("x.npy"))
        .arg(dir.join("y.npy"))
        .args(["--batch-size", "500", "--clusters", "3", "--seed", "0"])
        .output()
        .expect("runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let line: serde_json::Value = serde_json::from_slice(&run.stdout).expect("one JSON line");
    assert_eq!(line["task"], "kmeans");
    assert_eq!(line["records"], 3000);
    assert!(line["ari"].as_f64().expect("ari") > 0.9);
    let (x, y) = eddy::source::synth::Hyperplane::new(4, 1).next_batch(2000);
    ndarray_npy::write_npy(dir.join("hx.npy"), &x).expect("write x");
    ndarray_npy::write_npy(dir.join("hy.npy"), &y).expect("write y");
    let run =
        example("compare_runner").arg("sgd").arg(dir.join("hx.npy")).arg(dir.join("hy.npy")).output().expect("runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let line: serde_json::Value = serde_json::from_slice(&run.stdout).expect("one JSON line");
    assert!(line["accuracy"].as_f64().expect("accuracy") > 0.7);
    let run = example("compare_runner").arg("nope").arg("a").arg("b").output().expect("runs");
    assert!(!run.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
