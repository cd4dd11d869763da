//! Runs that start from saved models (`--model-file`), frozen runs (`--no-learn`),
//! named models side by side, and the model language on the command line.

use eddy::model::Model;
use eddy::model_file::{self, Keys};
use eddy::source::{self, SourceOptions};
use eddy::OnlineClassifier;
use std::path::{Path, PathBuf};
use std::process::Command;

fn eddy(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_eddy")).current_dir(dir).args(args).output().expect("eddy runs")
}

/// `eddy run ARGS` in `dir`.
fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    eddy(dir, &[&["run"], args].concat())
}

#[track_caller]
fn ok(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    err
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-model-runs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

const SENSORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sensors.csv");

/// Split the sensors file after `n` records: `first.csv` as it is, and `rest.csv`
/// with its columns in another order (the model matches features by name).
fn split_sensors(dir: &Path, n: usize) {
    let text = std::fs::read_to_string(SENSORS).expect("sensors");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let rows: Vec<&str> = lines.collect();
    let first: Vec<&str> = std::iter::once(header).chain(rows[..n].iter().copied()).collect();
    std::fs::write(dir.join("first.csv"), first.join("\n") + "\n").expect("write");
    // id,temperature,vibration,load,error_rate,state -> state,load,id,error_rate,temperature,vibration
    let order = [5, 3, 0, 4, 1, 2];
    let shuffle = |line: &str| {
        let f: Vec<&str> = line.split(',').collect();
        order.iter().map(|&i| f[i]).collect::<Vec<_>>().join(",")
    };
    let rest: Vec<String> = std::iter::once(header).chain(rows[n..].iter().copied()).map(shuffle).collect();
    std::fs::write(dir.join("rest.csv"), rest.join("\n") + "\n").expect("write");
}

/// The label column of a label file (ids differ between runs; labels must not).
fn labels(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).map(|l| l.split_once(',').expect("id,label").1.to_string()).collect()
}

const FEATURES: &str = "temperature,vibration,load,error_rate";

#[test]
fn a_run_continued_from_a_saved_model_ends_like_one_uninterrupted_run() {
    let dir = temp_dir("continue");
    split_sensors(&dir, 1000);
    for spec in
        ["scale | sgd(loss=log_loss, learning_rate=constant, alpha=0)", "gaussian-nb", "minibatch-kmeans(n_clusters=3)"]
    {
        let common = ["--label-column", "state", "--batch-size", "500", "--quiet"];
        let whole = run(
            &dir,
            &[&[SENSORS, "--model", spec, "--features", FEATURES, "--labels-out", "all.csv"], &common[..]].concat(),
        );
        ok(&whole);
        let first = run(
            &dir,
            &[
                &[
                    "first.csv",
                    "--model",
                    spec,
                    "--features",
                    FEATURES,
                    "--labels-out",
                    "a.csv",
                    "--save-model",
                    "m.eddy",
                ],
                &common[..],
            ]
            .concat(),
        );
        ok(&first);
        // No --features: the input is read by the model's feature names, in another column order.
        let rest = run(&dir, &[&["rest.csv", "--model-file", "m.eddy", "--labels-out", "b.csv"], &common[..]].concat());
        ok(&rest);
        let all = labels(&dir.join("all.csv"));
        assert_eq!(all.len(), 3000);
        assert_eq!(labels(&dir.join("a.csv")), all[..1000], "{spec}: the first part");
        assert_eq!(labels(&dir.join("b.csv")), all[1000..], "{spec}: continued from the saved model");
    }
}

#[test]
fn a_frozen_run_labels_with_the_library_s_predict_and_leaves_the_file_alone() {
    let dir = temp_dir("frozen");
    split_sensors(&dir, 1000);
    let spec = "scale | sgd(loss=log_loss)";
    ok(&run(
        &dir,
        &[
            "first.csv",
            "--model",
            spec,
            "--features",
            FEATURES,
            "--label-column",
            "state",
            "--labels-out",
            "a.csv",
            "--save-model",
            "m.eddy",
            "--quiet",
        ],
    ));
    let before = std::fs::read(dir.join("m.eddy")).expect("model file");
    let err = ok(&run(
        &dir,
        &[
            "rest.csv",
            "--model-file",
            "m.eddy",
            "--no-learn",
            "--label-column",
            "state",
            "--labels-out",
            "b.csv",
            "--summary-json",
            "s.json",
        ],
    ));
    assert_eq!(std::fs::read(dir.join("m.eddy")).expect("model file"), before, "the model file is not changed");
    // The library's predict on the same records, read in the model's feature order.
    let (header, model) = model_file::load_model(&dir.join("m.eddy"), &Keys::default()).expect("loads");
    let options = SourceOptions {
        features: Some(header.features.clone()),
        label_column: Some("state".into()),
        known_classes: header.classes.clone(),
        batch_size: 5000,
        ..SourceOptions::default()
    };
    let mut src = source::open(dir.join("rest.csv").to_str().expect("utf-8"), options).expect("opens");
    let batch = src.next_batch().expect("reads").expect("a batch");
    let Model::Classifier(m) = &model else { panic!("a classifier") };
    let expected: Vec<String> = m.predict(batch.x.view()).expect("predicts").iter().map(|l| l.to_string()).collect();
    assert_eq!(labels(&dir.join("b.csv")), expected);
    // Metrics are still computed: the input has a label column.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("summary")).expect("json");
    let accuracy = summary["models"][0]["metrics"]["accuracy"].as_f64().expect("an accuracy");
    let right = expected.iter().zip(batch.y.as_ref().expect("labels")).filter(|(p, t)| **p == t.to_string()).count();
    assert!((accuracy - right as f64 / 2000.0).abs() < 1e-12, "{accuracy} vs {right}/2000: {err}");
    // Without a label column a frozen classifier still labels.
    ok(&run(&dir, &["rest.csv", "--model-file", "m.eddy", "--no-learn", "--labels-out", "c.csv", "--quiet"]));
    assert_eq!(labels(&dir.join("c.csv")), expected);
}

#[test]
fn a_model_file_refuses_an_input_without_its_features() {
    let dir = temp_dir("missing");
    split_sensors(&dir, 1000);
    ok(&run(
        &dir,
        &[
            "first.csv",
            "--model",
            "gaussian-nb",
            "--features",
            FEATURES,
            "--label-column",
            "state",
            "--labels-out",
            "a.csv",
            "--save-model",
            "m.eddy",
            "--quiet",
        ],
    ));
    let text = std::fs::read_to_string(dir.join("rest.csv")).expect("rest");
    let without_load: Vec<String> = text
        .lines()
        .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != 1).map(|(_, f)| f).collect::<Vec<_>>().join(","))
        .collect();
    std::fs::write(dir.join("no-load.csv"), without_load.join("\n") + "\n").expect("write");
    let out = run(&dir, &["no-load.csv", "--model-file", "m.eddy", "--label-column", "state", "--labels-out", "b.csv"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("\"load\""), "{err}");
    // Explicit --features that leave one out are refused, naming it.
    let out = run(
        &dir,
        &[
            "rest.csv",
            "--model-file",
            "m.eddy",
            "--features",
            "temperature,vibration,error_rate",
            "--label-column",
            "state",
            "--labels-out",
            "b.csv",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no feature named load"), "{err}");
}

#[test]
fn named_models_run_side_by_side_and_bad_specs_point_into_the_spec() {
    let dir = temp_dir("named");
    let out = run(
        &dir,
        &[
            SENSORS,
            "--features",
            FEATURES,
            "--label-column",
            "state",
            "--model",
            "fast=scale | sgd(eta0=0.1, learning_rate=constant)",
            "--model",
            "slow=scale | sgd(eta0=0.001, learning_rate=constant)",
            "--labels-out",
            "l.csv",
            "--summary-json",
            "s.json",
            "--quiet",
        ],
    );
    let err = ok(&out);
    assert!(err.contains("fast") && err.contains("slow"), "{err}");
    assert_ne!(labels(&dir.join("l.fast.csv")), labels(&dir.join("l.slow.csv")));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("summary")).expect("json");
    assert_eq!(summary["models"][0]["model"], "fast");
    assert_eq!(summary["models"][1]["model"], "slow");

    for (spec, says) in [
        ("sgd(alpha=-1)", "sgd: alpha must be a number >= 0, got -1\n  sgd(alpha=-1)\n      ^"),
        ("sgd(alhpa=1)", "did you mean alpha?"),
        ("sdg", "did you mean sgd?"),
        ("gaussian-nb(n_clusters=3)", "it is a parameter of minibatch-kmeans"),
        ("minibatch-kmeans | scale", "only the last stage"),
        ("scale | sgd(", "expected a parameter name"),
    ] {
        let out = run(&dir, &[SENSORS, "--label-column", "state", "--model", spec, "--labels-out", "x.csv"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{spec}: {err}");
        assert!(!err.contains("panicked"), "{spec}: {err}");
    }
}

#[test]
fn model_list_shows_every_registered_stage_and_its_parameters() {
    let dir = temp_dir("list");
    let out = eddy(&dir, &["model", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for e in eddy::model::registry::ENTRIES {
        assert!(text.contains(&format!("{} ({})", e.name, e.role.word())), "{} is listed", e.name);
        for p in e.params {
            assert!(text.contains(&format!("  {:<20} = ", p.name)), "{}: {}", e.name, p.name);
        }
    }
    let one = eddy(&dir, &["model", "list", "sgd"]);
    let text = String::from_utf8_lossy(&one.stdout);
    assert!(text.starts_with("sgd (classifier)") && !text.contains("minibatch-kmeans"), "{text}");
    assert!(text.contains("learning_rate        = optimal    the step-size schedule; optimal | constant | invscaling"));
    let bad = eddy(&dir, &["model", "list", "sgdd"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("did you mean sgd?"));
}

#[test]
fn every_registered_model_runs_from_the_command_line_threaded_and_inline_alike() {
    let dir = temp_dir("every");
    for (i, (spec, counts)) in crate::util::every_model_spec().into_iter().enumerate() {
        let (x, y) = crate::util::blobs_for(counts, 4, 3000);
        // An encoder gets a categorical column to encode (a noisy copy of the class).
        let encodes = spec.starts_with("onehot") || spec.starts_with("hash");
        let mut text = String::from(if encodes { "a,b,c,d,e,y\n" } else { "a,b,c,d,y\n" });
        for (r, (row, label)) in x.outer_iter().zip(y.iter()).enumerate() {
            let mut fields: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            if encodes {
                fields.push(format!("k{}", if r % 5 == 0 { r % 7 } else { *label as usize }));
            }
            text += &format!("{},{label}\n", fields.join(","));
        }
        let input = format!("in{i}.csv");
        std::fs::write(dir.join(&input), text).expect("write");
        let base = [input.as_str(), "--model", &spec, "--label-column", "y", "--batch-size", "256", "--quiet"];
        ok(&run(&dir, &[&base[..], &["--labels-out", "t.csv", "--summary-json", "s.json"]].concat()));
        ok(&run(&dir, &[&base[..], &["--labels-out", "i.csv", "--inline"]].concat()));
        assert_eq!(labels(&dir.join("t.csv")), labels(&dir.join("i.csv")), "{spec}");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("summary")).expect("json");
        let metrics = &summary["models"][0]["metrics"];
        let score = metrics["accuracy"].as_f64().or(metrics["ari"].as_f64()).expect("a score");
        // Three blobs: a classifier gets most right; k-means with its default 8 centres
        // splits them, so its ARI is lower but far from a chance labelling's 0.
        assert!(score > 0.3, "{spec}: {metrics}");
    }
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    for args in
        [vec!["model", "list"], vec!["model", "show", concat!(env!("CARGO_MANIFEST_DIR"), "/models/blobs-kmeans.eddy")]]
    {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("eddy runs");
        // Close the reading end before eddy writes (`eddy model show | head -0`).
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("eddy ends");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && !err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_clusterer_s_inertia_says_its_units() {
    let dir = temp_dir("units");
    for (spec, units) in
        [("scale | minibatch-kmeans(n_clusters=3)", "standardised"), ("minibatch-kmeans(n_clusters=3)", "input")]
    {
        let err = ok(&run(
            &dir,
            &[SENSORS, "--features", FEATURES, "--model", spec, "--labels-out", "l.csv", "--summary-json", "s.json"],
        ));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("summary")).expect("json");
        assert_eq!(summary["models"][0]["metrics"]["inertia_units"], units, "{spec}");
        assert_eq!(err.contains("inertia in standardised units"), units == "standardised", "{spec}: {err}");
    }
}
