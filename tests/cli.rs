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
    assert!(stdout.contains("labels.hedge.csv") && stdout.contains("summary.json"), "{stdout}");
    for name in ["labels.hedge.csv", "labels.minibatch-kmeans.csv", "labels.sgd.csv"] {
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
    assert_eq!(summary["records"], 15_000);
    assert_eq!(summary["rejected"], 0);
    assert!(summary["records_per_second"].as_f64().expect("rate") > 0.0);
    let models = summary["models"].as_array().expect("models");
    assert_eq!(models[0]["model"], "hedge");
    assert!(models[0]["metrics"]["accuracy"].as_f64().expect("accuracy") > 0.8);
    assert!(models[0]["metrics"]["macro_f1"].as_f64().is_some());
    assert_eq!(models[1]["model"], "minibatch-kmeans");
    assert!(models[1]["metrics"]["ari"].as_f64().expect("ari") > 0.8);
    assert!(models[1]["metrics"]["inertia"].as_f64().is_some());
    // Records as they come: categories one-hot encoded, missing values filled and counted.
    assert_eq!(models[2]["model"], "sgd");
    assert!(models[2]["metrics"]["accuracy"].as_f64().expect("accuracy") > 0.7, "{}", models[2]);
    let filled: u64 = models[2]["imputed"].as_object().expect("imputed").values().filter_map(|v| v.as_u64()).sum();
    assert!(filled > 1000, "5% of 5000 records' 7 values: {filled}");
    assert_eq!(models[2]["categories"][0]["column"], "country");
    // Both models are watched for drift; their events files are where the demo says.
    assert_eq!(models[0]["drift"]["detector"], "adwin");
    assert_eq!(models[1]["drift"]["clusters"], "clusters");
    assert!(stdout.contains("events.<model>.ndjson"), "{stdout}");
    for name in ["events.hedge.ndjson", "events.minibatch-kmeans.ndjson"] {
        let text = std::fs::read_to_string(out.join(name)).expect("events file");
        assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "{name}: {text}");
    }
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
    // Any model spec, prequentially, with its predictions and final state written out.
    let run = example("compare_runner")
        .args(["spec", "scale | sgd(loss=log_loss, learning_rate=constant, eta0=0.01, alpha=0)"])
        .arg(dir.join("hx.npy"))
        .arg(dir.join("hy.npy"))
        .args(["--classes", "0,1", "--prefix", "500", "--predictions"])
        .arg(dir.join("p.npy"))
        .arg("--state-out")
        .arg(dir.join("state.json"))
        .output()
        .expect("runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let line: serde_json::Value = serde_json::from_slice(&run.stdout).expect("one JSON line");
    assert_eq!(line["task"], "spec");
    assert_eq!(line["kind"], "classifier");
    assert_eq!(line["records"], 2000);
    assert_eq!(line["no_prediction"], 0);
    assert!(line["accuracy"].as_f64().expect("accuracy") > 0.7);
    assert!(line["accuracy_on_prefix"].as_f64().is_some());
    let predicted: ndarray::Array1<i64> = ndarray_npy::read_npy(dir.join("p.npy")).expect("predictions");
    assert_eq!(predicted.len(), 2000);
    assert!(predicted.iter().all(|&p| p == 0 || p == 1));
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).expect("state")).expect("state is JSON");
    assert!(state.get("classifier").is_some(), "{state}");
    // One of eddy's generators, written for the other systems to read.
    let run = example("compare_runner")
        .args(["synth", "synth:sea?n=300&seed=1"])
        .arg(dir.join("sx.npy"))
        .arg(dir.join("sy.npy"))
        .output()
        .expect("runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let sx: ndarray::Array2<f64> = ndarray_npy::read_npy(dir.join("sx.npy")).expect("x");
    let sy: ndarray::Array1<i64> = ndarray_npy::read_npy(dir.join("sy.npy")).expect("y");
    assert_eq!((sx.dim(), sy.len()), ((300, 3), 300));
    let run = example("compare_runner").arg("spec").arg("not a model").arg("a").arg("b").output().expect("runs");
    assert!(!run.status.success());
    let run = example("compare_runner").arg("nope").arg("a").arg("b").output().expect("runs");
    assert!(!run.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `eddy run` with `args`, in `dir`.
fn run_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    eddy().current_dir(dir).arg("run").args(args).arg("--quiet").output().expect("eddy runs")
}

fn csv_labels(path: &std::path::Path) -> Vec<(u64, i64)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,label"));
    lines
        .map(|l| {
            let (a, b) = l.split_once(',').expect("id,label");
            (a.parse().expect("id"), b.parse().expect("label"))
        })
        .collect()
}

fn blob_csv(dir: &std::path::Path, name: &str, n: usize) -> PathBuf {
    let (x, y) = eddy::source::synth::Blobs::new(3, 2, 9).next_batch(n);
    let mut text = String::from("f0,f1,class\n");
    for (row, label) in x.outer_iter().zip(y.iter()) {
        text += &format!("{},{},c{label}\n", row[0], row[1]);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn run_csv_with_a_classifier_and_a_clusterer_side_by_side() {
    let dir = temp_dir("run-two");
    blob_csv(&dir, "data.csv", 3000);
    let out = run_in(
        &dir,
        &[
            "data.csv",
            "--model",
            "gaussian-nb",
            "--model",
            "minibatch-kmeans(n_clusters=3)",
            "--label-column",
            "class",
            "--labels-out",
            "out/labels.csv",
            "--summary-json",
            "summary.json",
            "--batch-size",
            "256",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let nb = csv_labels(&dir.join("out/labels.gaussian-nb.csv"));
    let km = csv_labels(&dir.join("out/labels.minibatch-kmeans.csv"));
    assert_eq!((nb.len(), km.len()), (3000, 3000));
    assert!(nb.iter().enumerate().all(|(i, (id, _))| *id == i as u64));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("summary")).expect("json");
    assert_eq!(summary["records"], 3000);
    assert_eq!(summary["rejected"], 0);
    assert_eq!(summary["classes"].as_array().expect("class names").len(), 3);
    assert_eq!(summary["models"][0]["model"], "gaussian-nb");
    assert!(summary["models"][0]["metrics"]["accuracy"].as_f64().expect("accuracy") > 0.9);
    assert!(summary["models"][1]["metrics"]["ari"].as_f64().expect("ari") > 0.9);
    assert!(summary["models"][1]["labels"].as_str().expect("path").ends_with("labels.minibatch-kmeans.csv"));
    let table = String::from_utf8_lossy(&out.stderr);
    assert!(table.contains("3000 records, 0 rejected") && table.contains("class ids: 0="), "{table}");
}

/// CSV without a header reads by `--columns`: the labels of the same file with one; a
/// bad line is named by its line number (no header line before it); wrong uses are refused.
#[test]
fn headerless_csv_reads_by_its_declared_columns() {
    let dir = temp_dir("columns");
    let text = std::fs::read_to_string(blob_csv(&dir, "with.csv", 500)).expect("reads");
    let mut body: Vec<&str> = text.lines().skip(1).collect();
    body[9] = "1.0,2.0";
    std::fs::write(dir.join("with.csv"), format!("f0,f1,class\n{}\n", body.join("\n"))).expect("writes");
    std::fs::write(dir.join("without.csv"), format!("{}\n", body.join("\n"))).expect("writes");
    let common = ["--model", "gaussian-nb", "--label-column", "class", "--on-error", "skip"];
    let run = |input: &str, labels: &str, rejects: &str, extra: &[&str]| {
        let mut args = vec![input, "--labels-out", labels, "--rejects", rejects];
        args.extend(common);
        args.extend(extra);
        let out = run_in(&dir, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run("with.csv", "with.labels.csv", "with.tsv", &[]);
    run("without.csv", "without.labels.csv", "without.tsv", &["--columns", "f0,f1,class"]);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("reads");
    assert_eq!(read("without.labels.csv"), read("with.labels.csv"));
    assert_eq!(csv_labels(&dir.join("without.labels.csv")).len(), 499, "the short line rejected");
    assert!(read("without.tsv").contains("without.csv\t10\t"), "{}", read("without.tsv"));
    assert!(read("with.tsv").contains("with.csv\t11\t"), "{}", read("with.tsv"));
    for (input, extra, says) in [
        ("without.csv", vec!["--columns", "f0,f0,class"], "is named twice"),
        ("without.csv", vec!["--columns", "f0,,class"], "has no name"),
        ("synth:blobs", vec!["--columns", "a,b"], "names its own"),
    ] {
        let mut args = vec![input, "--model", "gaussian-nb", "--label-column", "class", "--labels-out", "x.csv"];
        args.extend(extra);
        let out = run_in(&dir, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(says), "{input}: {stderr}");
    }
}

#[test]
fn every_label_format_and_standard_output() {
    let dir = temp_dir("formats");
    blob_csv(&dir, "data.csv", 500);
    let base = ["data.csv", "--model", "perceptron", "--label-column", "class"];
    let ok = |args: &[&str]| {
        let out = run_in(&dir, &[&base[..], args].concat());
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    };
    ok(&["--labels-out", "l.ndjson"]);
    let text = std::fs::read_to_string(dir.join("l.ndjson")).expect("ndjson");
    let rows: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(rows.len(), 500);
    assert_eq!(rows[7]["id"], 7);
    ok(&["--labels-out", "l.npy"]);
    let labels: ndarray::Array2<i64> = ndarray_npy::read_npy(dir.join("l.npy")).expect("numpy int64 array");
    assert_eq!(labels.dim(), (500, 1));
    assert!(!dir.join("l.npy.part").exists());
    let out = ok(&["--labels-out", "-"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 501, "a header and one line per record on standard output");
    // The same run to CSV gives the same labels as the .npy.
    ok(&["--labels-out", "l.csv"]);
    let from_csv: Vec<i64> = csv_labels(&dir.join("l.csv")).iter().map(|p| p.1).collect();
    assert_eq!(labels.column(0).to_vec(), from_csv);
}

#[test]
fn standard_input_ndjson_and_npy_inputs() {
    let dir = temp_dir("stdin");
    let mut child = eddy()
        .current_dir(&dir)
        .args([
            "run",
            "-",
            "--format",
            "ndjson",
            "--model",
            "sgd",
            "--label-column",
            "y",
            "--labels-out",
            "l.csv",
            "--quiet",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        for i in 0..100 {
            writeln!(
                stdin,
                "{{\"a\": {}, \"b\": {}, \"y\": \"{}\"}}",
                i % 7,
                i % 3,
                if i % 7 > 3 { "hi" } else { "lo" }
            )
            .expect("write");
        }
    }
    assert!(child.wait().expect("waits").success());
    assert_eq!(csv_labels(&dir.join("l.csv")).len(), 100);

    let (x, y) = eddy::source::synth::Blobs::new(2, 3, 4).next_batch(400);
    ndarray_npy::write_npy(dir.join("x.npy"), &x).expect("x");
    ndarray_npy::write_npy(dir.join("y.npy"), &y).expect("y");
    let out = run_in(
        &dir,
        &[
            "x.npy",
            "--labels-from",
            "y.npy",
            "--model",
            "gaussian-nb",
            "--labels-out",
            "n.csv",
            "--summary-json",
            "s.json",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("s")).expect("json");
    assert!(summary["models"][0]["metrics"]["accuracy"].as_f64().expect("accuracy") > 0.95);
    let out = run_in(
        &dir,
        &[
            "synth:sea?n=3000&seed=2",
            "--model",
            "scale | sgd(loss=log_loss)",
            "--prequential",
            "per-batch",
            "--labels-out",
            "sea.csv",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sea = csv_labels(&dir.join("sea.csv"));
    assert!(
        sea[..1024].iter().all(|&(_, l)| l == eddy::NO_PREDICTION),
        "per-batch: nothing is predicted before the first batch is learned"
    );
}

#[test]
fn a_bad_record_fails_with_file_line_and_column_after_flushing_the_labels_before_it() {
    let dir = temp_dir("fail");
    let mut text = String::from("a,b,label\n");
    for i in 0..50 {
        text += &format!("{i},{},x\n", i * 2);
    }
    text += "7,seven,x\n8,9,x\n";
    std::fs::write(dir.join("bad.csv"), text).expect("write");
    let out = run_in(
        &dir,
        &[
            "bad.csv",
            "--model",
            "gaussian-nb",
            "--label-column",
            "label",
            "--labels-out",
            "l.csv",
            "--batch-size",
            "16",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv:52: column 2 (b): \"seven\" is not a number"), "{err}");
    assert_eq!(csv_labels(&dir.join("l.csv")).len(), 50, "every record before the bad one is labelled");

    let cases: [(&str, &str); 5] = [
        ("1,2\n", "expected 3 columns, found 2"),
        ("1,NaN,x\n", "missing value (\"NaN\")"),
        ("1,inf,x\n", "not a finite number"),
        ("1,2,zzz\n", "not one of the declared classes"),
        (&"1".repeat(300), "longer than 64 bytes"),
    ];
    for (i, (line, message)) in cases.iter().enumerate() {
        let name = format!("case{i}.csv");
        std::fs::write(dir.join(&name), format!("a,b,label\n1,2,x\n{line},2,x\n")).expect("write");
        let out = run_in(
            &dir,
            &[
                &name,
                "--model",
                "perceptron",
                "--label-column",
                "label",
                "--classes",
                "x,y",
                "--max-line-bytes",
                "64",
                "--labels-out",
                "c.csv",
            ],
        );
        assert!(!out.status.success(), "{line}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("{name}:3")) && err.contains(message), "{line}: {err}");
    }
}

#[test]
fn skip_mode_writes_rejects_and_counts_them() {
    let dir = temp_dir("skip");
    std::fs::write(dir.join("d.csv"), "a,b,label\n1,2,x\n1,oops,x\n3,4,y\n5\n6,7,x\n").expect("write");
    let out = run_in(
        &dir,
        &[
            "d.csv",
            "--model",
            "perceptron",
            "--label-column",
            "label",
            "--labels-out",
            "l.csv",
            "--on-error",
            "skip",
            "--rejects",
            "rejects.tsv",
            "--summary-json",
            "s.json",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ids: Vec<u64> = csv_labels(&dir.join("l.csv")).iter().map(|p| p.0).collect();
    assert_eq!(ids, vec![0, 2, 4]);
    let rejects = std::fs::read_to_string(dir.join("rejects.tsv")).expect("rejects");
    assert_eq!(rejects.lines().count(), 3, "{rejects}");
    assert!(rejects.contains("d.csv\t3\tcolumn 2 (b): \"oops\" is not a number\t1,oops,x"), "{rejects}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("s")).expect("json");
    assert_eq!(summary["rejected"], 2);
    assert_eq!(summary["records"], 3);
}

#[test]
fn empty_input_gives_an_empty_label_file_and_zero_records() {
    let dir = temp_dir("empty");
    for content in ["", "a,b,label\n"] {
        std::fs::write(dir.join("e.csv"), content).expect("write");
        let out = run_in(
            &dir,
            &[
                "e.csv",
                "--model",
                "sgd",
                "--label-column",
                "label",
                "--labels-out",
                "l.csv",
                "--summary-json",
                "s.json",
            ],
        );
        assert!(out.status.success(), "{content:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read_to_string(dir.join("l.csv")).expect("labels"), "id,label\n");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("s")).expect("json");
        assert_eq!(summary["records"], 0);
    }
}

#[test]
fn wrong_options_are_refused_with_a_reason() {
    let dir = temp_dir("options");
    blob_csv(&dir, "d.csv", 10);
    let cases: [(&[&str], &str); 8] = [
        (&["d.csv", "--model", "sgd", "--labels-out", "l.csv"], "needs --label-column"),
        (
            &["d.csv", "--model", "sgd", "--model", "sgd", "--label-column", "class", "--labels-out", "l.csv"],
            "two models are called sgd: name each",
        ),
        (&["d.csv", "--model", "svm", "--labels-out", "l.csv"], "unknown model"),
        (
            &["d.csv", "--model", "perceptron", "--label-column", "class", "--labels-out", "l.csv", "--rejects", "r"],
            "--on-error skip",
        ),
        (
            &["d.csv", "--model", "perceptron", "--label-column", "nope", "--labels-out", "l.csv"],
            "no column named \"nope\"",
        ),
        (&["d.csv", "--model", "scale | multinomial-nb", "--label-column", "class", "--labels-out", "l.csv"], "counts"),
        (
            &[
                "d.csv",
                "--model",
                "perceptron",
                "--label-column",
                "class",
                "--features",
                "f0,class",
                "--labels-out",
                "l.csv",
            ],
            "\"class\" is the label column: it cannot be in --features too",
        ),
        (
            &[
                "d.csv",
                "--model",
                "perceptron",
                "--label-column",
                "class",
                "--features",
                "f0,f0",
                "--labels-out",
                "l.csv",
            ],
            "\"f0\" is named twice in --features",
        ),
    ];
    for (args, message) in cases {
        let out = run_in(&dir, args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let help = eddy().args(["run", "--help"]).output().expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in ["--model", "--labels-out", "--follow", "--on-error", "--prequential", "Examples:"] {
        assert!(help.contains(flag), "help lacks {flag}");
    }
}

/// `--follow` keeps reading a growing file; Ctrl-C (or SIGTERM) drains, flushes and summarises.
#[test]
fn follow_labels_appended_records_until_interrupted() {
    for signal in ["-INT", "-TERM"] {
        let dir = temp_dir(&format!("follow{signal}"));
        let path = dir.join("grow.csv");
        std::fs::write(&path, "a,b,label\n1,2,x\n").expect("write");
        let mut child = eddy()
            .current_dir(&dir)
            .args([
                "run",
                "grow.csv",
                "--follow",
                "--model",
                "gaussian-nb",
                "--label-column",
                "label",
                "--labels-out",
                "l.csv",
                "--summary-json",
                "s.json",
                "--quiet",
            ])
            .spawn()
            .expect("spawns");
        std::thread::sleep(std::time::Duration::from_millis(300));
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("append");
            for i in 0..20 {
                writeln!(f, "{i},{},{}", i * 3, if i % 2 == 0 { "x" } else { "y" }).expect("write");
            }
            write!(f, "5,5,").expect("a line still being written");
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("append");
            writeln!(f, "x").expect("finish the line");
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let status = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill");
        assert!(status.success());
        let exit = child.wait().expect("waits");
        assert!(exit.success(), "{signal}: {exit:?}");
        let labels = csv_labels(&dir.join("l.csv"));
        assert_eq!(labels.len(), 22, "{signal}: every appended record is labelled");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("s")).expect("json");
        assert_eq!(summary["records"], 22);
        assert_eq!(summary["interrupted"], true);
    }
}

/// `--features`, `--seed`, `--inline` and gzip through the CLI: the one-thread run and the
/// threaded run give the same labels, and the seed decides k-means' start.
#[test]
fn inline_threads_seed_features_and_gzip() {
    use std::io::Write;
    let dir = temp_dir("inline");
    let csv = std::fs::read(blob_csv(&dir, "d.csv", 2000)).expect("csv");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&csv).expect("gzip");
    std::fs::write(dir.join("d.csv.gz"), gz.finish().expect("gzip")).expect("write");
    let run = |args: &[&str], out: &str| {
        let common = [
            "d.csv.gz",
            "--features",
            "f1",
            "--model",
            "minibatch-kmeans(n_clusters=3)",
            "--batch-size",
            "100",
            "--labels-out",
            out,
        ];
        let o = run_in(&dir, &[&common[..], args].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        csv_labels(&dir.join(out))
    };
    let threaded = run(&["--seed", "5"], "a.csv");
    let inline = run(&["--seed", "5", "--inline"], "b.csv");
    assert_eq!(threaded, inline);
    assert_eq!(threaded.len(), 2000);
    let seeds: Vec<Vec<(u64, i64)>> = (0..4).map(|s| run(&["--seed", &s.to_string()], &format!("s{s}.csv"))).collect();
    assert!(seeds.iter().any(|l| *l != seeds[0]), "different seeds start k-means differently");
}

#[test]
fn integer_labels_keep_their_values_and_names_get_ids() {
    let dir = temp_dir("intlabels");
    let mut text = String::from("a,b,y\n");
    for i in 0..400 {
        let (y, a) = if i % 2 == 0 { (-1, 0.0) } else { (7, 5.0) };
        text += &format!("{},{},{y}\n", a + (i % 5) as f64 * 0.1, i % 3);
    }
    std::fs::write(dir.join("ints.csv"), text).expect("write");
    let out = run_in(
        &dir,
        &[
            "ints.csv",
            "--model",
            "gaussian-nb",
            "--label-column",
            "y",
            "--labels-out",
            "l.csv",
            "--summary-json",
            "s.json",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let labels: std::collections::BTreeSet<i64> = csv_labels(&dir.join("l.csv")).iter().skip(1).map(|p| p.1).collect();
    assert_eq!(labels, [-1, 7].into_iter().collect(), "integer labels are written as themselves");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("s")).expect("json");
    assert!(summary.get("classes").is_none(), "no name table for integer labels");
    let out = run_in(
        &dir,
        &["ints.csv", "--model", "gaussian-nb", "--label-column", "y", "--classes", "7,-1", "--labels-out", "d.csv"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(csv_labels(&dir.join("d.csv")).iter().all(|p| p.1 == 7 || p.1 == -1), "declared: no sentinel either");
}

#[test]
fn outputs_never_overwrite_inputs_and_their_folders_are_made_first() {
    let dir = temp_dir("overwrite");
    blob_csv(&dir, "d.csv", 50);
    let before = std::fs::read(dir.join("d.csv")).expect("csv");
    for flag in ["--labels-out", "--summary-json"] {
        let mut args = vec!["d.csv", "--model", "minibatch-kmeans(n_clusters=2)"];
        if flag == "--labels-out" {
            args.extend(["--labels-out", "./d.csv"]);
        } else {
            args.extend(["--labels-out", "l.csv", "--summary-json", "d.csv"]);
        }
        let out = run_in(&dir, &args);
        assert!(!out.status.success(), "{flag}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("is an input"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(dir.join("d.csv")).expect("csv"), before, "{flag}: the input is untouched");
    }
    let out = run_in(
        &dir,
        &[
            "d.csv",
            "--model",
            "minibatch-kmeans(n_clusters=2)",
            "--label-column",
            "class",
            "--labels-out",
            "a/l.csv",
            "--summary-json",
            "b/c/s.json",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("b/c/s.json").exists());
}

#[test]
fn a_model_error_names_the_record_and_a_followed_run_stops_on_it() {
    let dir = temp_dir("modelerr");
    let mut text = String::from("a,b,y\n");
    for i in 0..30 {
        text += &format!("{},{},x\n", i, if i == 12 { -3 } else { i });
    }
    std::fs::write(dir.join("neg.csv"), text).expect("write");
    let out = run_in(&dir, &["neg.csv", "--model", "multinomial-nb", "--label-column", "y", "--labels-out", "l.csv"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("model multinomial-nb: record 12") && err.contains("negative"), "{err}");
    // The same with --follow must end by itself, not wait for more input.
    let mut child = eddy()
        .current_dir(&dir)
        .args([
            "run",
            "neg.csv",
            "--follow",
            "--model",
            "multinomial-nb",
            "--label-column",
            "y",
            "--labels-out",
            "f.csv",
            "--quiet",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("a failed --follow run kept waiting for input");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!status.success());
}

#[test]
fn npy_bad_rows_fail_after_the_rows_before_or_are_skipped() {
    let dir = temp_dir("npybad");
    let (mut x, mut y) = eddy::source::synth::Blobs::new(2, 3, 4).next_batch(3000);
    x[[1500, 2]] = f64::NAN;
    y[2500] = 9;
    ndarray_npy::write_npy(dir.join("x.npy"), &x).expect("x");
    ndarray_npy::write_npy(dir.join("y.npy"), &y).expect("y");
    let out = run_in(
        &dir,
        &["x.npy", "--labels-from", "y.npy", "--classes", "0,1", "--model", "gaussian-nb", "--labels-out", "l.csv"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("x.npy:1501: column 3 (f2)"), "{err}");
    assert_eq!(csv_labels(&dir.join("l.csv")).len(), 1500, "every row before the bad one is labelled");
    let out = run_in(
        &dir,
        &[
            "x.npy",
            "--labels-from",
            "y.npy",
            "--classes",
            "0,1",
            "--model",
            "gaussian-nb",
            "--labels-out",
            "s.csv",
            "--on-error",
            "skip",
            "--rejects",
            "r.tsv",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(csv_labels(&dir.join("s.csv")).len(), 2998);
    let rejects = std::fs::read_to_string(dir.join("r.tsv")).expect("rejects");
    assert!(
        rejects.contains("1501\tcolumn 3 (f2)") && rejects.contains("label 9 is not one of the declared classes"),
        "{rejects}"
    );
}

#[test]
fn a_byte_order_mark_and_bad_generator_parameters() {
    let dir = temp_dir("bom");
    std::fs::write(dir.join("bom.csv"), "\u{feff}a,b,y\n1,2,x\n3,4,y\n").expect("write");
    let out = run_in(
        &dir,
        &["bom.csv", "--features", "a,b", "--model", "perceptron", "--label-column", "y", "--labels-out", "l.csv"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for spec in
        ["synth:blobs?d=0", "synth:blobs?k=2.5", "synth:sea?noise=1.5", "synth:blobs?n=5&n=6", "synth:blobs?d=1e12"]
    {
        let out = run_in(&dir, &[spec, "--model", "minibatch-kmeans", "--labels-out", "l.csv"]);
        assert!(!out.status.success(), "{spec}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("synth:"),
            "{spec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run_in(
        &dir,
        &["synth:blobs?n=10", "--model", "minibatch-kmeans", "--batch-size", "100000000000", "--labels-out", "l.csv"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--batch-size"));
}

#[test]
fn example_cluster_report_writes_a_report() {
    let dir = temp_dir("example-report");
    let run = example("cluster_report").arg(dir.join("r")).output().expect("example runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let sizes: u64 = stdout
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(sizes, 100_000, "{stdout}");
    assert!(dir.join("r/report.html").exists() && dir.join("r/minibatch-kmeans-state.png").exists());
}

/// A piped stream that goes quiet gets its labels at once, not after a full batch,
/// and Ctrl-C ends the run while the pipe is still open.
#[test]
fn a_quiet_pipe_is_labelled_live_and_interruptible() {
    use std::io::Write;
    let dir = temp_dir("pipe");
    let mut child = eddy()
        .current_dir(&dir)
        .args([
            "run",
            "-",
            "--model",
            "perceptron",
            "--label-column",
            "y",
            "--labels-out",
            "l.csv",
            "--summary-json",
            "s.json",
            "--quiet",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "a,b,y").expect("write");
    for i in 0..10 {
        writeln!(stdin, "{i},{},{}", i % 3, if i % 2 == 0 { "x" } else { "y" }).expect("write");
    }
    stdin.flush().expect("flush");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let lines = std::fs::read_to_string(dir.join("l.csv")).map(|t| t.lines().count()).unwrap_or(0);
        if lines == 11 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the 10 records were not labelled while the pipe stayed open");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let started = std::time::Instant::now();
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    let status = child.wait().expect("waits");
    assert!(status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "Ctrl-C took {:?}", started.elapsed());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("s")).expect("json");
    assert_eq!(summary["records"], 10);
    drop(stdin);
}

/// The shipped models load, and the embedding example labels records with one.
#[test]
fn shipped_models_load_and_the_embedding_example_uses_one() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let run = example("embed_model").arg(root.join("models/sensors-sgd.eddy")).output().expect("example runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    for state in ["(ok)", "(warn)", "(fail)"] {
        assert!(stdout.contains(state), "{state} in {stdout}");
    }
    let keys = eddy::model_file::Keys::default();
    let (header, model): (_, eddy::model::Model) =
        eddy::model_file::load(&root.join("models/blobs-kmeans.eddy"), "model", &keys).expect("loads");
    assert_eq!(header.n_features, 4);
    let eddy::model::Model::Clusterer(km) = model else { panic!("k-means") };
    let (x, truth) = eddy::source::synth::Blobs::new(4, 4, 7).next_batch(2000);
    use eddy::OnlineClusterer;
    let labels = km.predict(x.view()).expect("valid");
    let ari = eddy::metrics::adjusted_rand_index(
        truth.as_slice().expect("contiguous"),
        labels.as_slice().expect("contiguous"),
    );
    assert!(ari > 0.99, "the saved centres still find the blobs: ARI {ari}");
}

#[test]
fn a_run_whose_values_overflow_a_model_stops_with_an_error_naming_them() {
    let dir = temp_dir("overflow");
    std::fs::write(dir.join("big.csv"), "a,b,y\n1,2,0\n3,4,1\n1e308,1e308,0\n5,6,1\n").expect("write");
    for (model, records) in [
        ("sgd", "records 2..=3"),
        ("gaussian-nb", "records 2..=3"),
        ("minibatch-kmeans(n_clusters=2)", "records 2..=3"),
    ] {
        let out = run_in(
            &dir,
            &["big.csv", "--model", model, "--batch-size", "2", "--label-column", "y", "--labels-out", "l.csv"],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{model}: {err}");
        let name = model.split('(').next().unwrap_or(model);
        assert!(err.contains(&format!("model {name}: {records}")) && err.contains("overflowed"), "{model}: {err}");
    }
}

#[test]
fn ndjson_values_under_unused_keys_are_held_to_the_same_rules() {
    let dir = temp_dir("ndjson-unused");
    let lines = [
        r#"{"a":1,"b":2,"y":"x"}"#,
        r#"{"a":1,"b":2,"y":"x","z":1e400}"#,
        r#"{"a":1,"b":2,"y":"x","z":"\ud800"}"#,
        r#"{"a":3,"b":4,"y":"w","z":[1,2,{"q":null}]}"#,
    ];
    std::fs::write(dir.join("in.ndjson"), lines.join("\n") + "\n").expect("write");
    let out = run_in(
        &dir,
        &["in.ndjson", "--features", "a,b", "--label-column", "y", "--model", "perceptron", "--labels-out", "l.csv"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in.ndjson:2") && err.contains("invalid JSON"), "{err}");
    let out = run_in(
        &dir,
        &[
            "in.ndjson",
            "--features",
            "a,b",
            "--label-column",
            "y",
            "--model",
            "perceptron",
            "--labels-out",
            "l.csv",
            "--on-error",
            "skip",
            "--rejects",
            "r.tsv",
            "--summary-json",
            "s.json",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("summary")).expect("json");
    assert_eq!((summary["records"].as_u64(), summary["rejected"].as_u64()), (Some(2), Some(2)));
}
