//! Checkpoints: written at positions where every label before them is durable, and
//! holding exactly the models that the recorded prefix of the stream trains.

use eddy::checkpoint;
use eddy::model_file::Keys;
use std::path::{Path, PathBuf};
use std::process::Command;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("eddy-ckpt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn run(d: &Path, n: u64, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
        .current_dir(d)
        .args([
            "run",
            &format!("synth:blobs?n={n}&d=3&k=3&seed=8"),
            "--model",
            "minibatch-kmeans(n_clusters=3)",
            "--model",
            "gaussian-nb",
            "--batch-size",
            "256",
            "--labels-out",
            "l.csv",
            "--quiet",
        ])
        .args(extra)
        .output()
        .expect("eddy runs")
}

#[test]
fn checkpoints_hold_the_models_of_their_prefix_and_durable_labels() {
    let d = dir("prefix");
    let out = run(&d, 10_000, &["--checkpoint", "ckpt", "--checkpoint-every", "1000"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let files = checkpoint::files(&d.join("ckpt")).expect("folder");
    assert_eq!(files.len(), 2, "the newest two are kept: {files:?}");
    let (header, newest) = checkpoint::load(files.last().expect("one"), &Keys::default()).expect("verifies");
    let at = newest.position.records;
    assert_eq!(header.records_seen, at);
    assert!((9000..10_000 + 256).contains(&at), "{at}");
    for m in &newest.models {
        assert_eq!(m.records, at, "{}: every record before the position was learned", m.name);
        // The label file cut at the recorded length holds exactly the labels of the prefix.
        let text = std::fs::read(d.join(&m.labels_path)).expect("labels");
        let prefix = &text[..m.labels_len as usize];
        assert_eq!(
            prefix.iter().filter(|&&b| b == b'\n').count() as u64,
            at + 1,
            "{}: header + one line per record",
            m.name
        );
        assert_eq!(*prefix.last().expect("non-empty"), b'\n', "cut at a line end");
    }
    // The checkpoint's models are exactly what a run over the first `at` records trains.
    let p = dir("prefix-run");
    let out = run(&p, at, &["--save-model", "m.eddy"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for m in &newest.models {
        let (_, model): (_, eddy::model::Model) =
            eddy::model_file::load(&p.join(format!("m.{}.eddy", m.name)), "model", &Keys::default()).expect("loads");
        assert_eq!(
            serde_json::to_string(&model).expect("json"),
            serde_json::to_string(&m.model).expect("json"),
            "{}: bit for bit",
            m.name
        );
    }
}

#[test]
fn list_verify_a_corrupt_checkpoint_and_the_inline_run() {
    let d = dir("verify");
    let out =
        run(&d, 6000, &["--checkpoint", "ckpt", "--checkpoint-every", "2000", "--keep-checkpoints", "3", "--inline"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let eddy = || Command::new(env!("CARGO_BIN_EXE_eddy"));
    let list = eddy().current_dir(&d).args(["checkpoint", "list", "ckpt"]).output().expect("runs");
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(text.matches("verified").count(), 3, "{text}");
    assert!(text.contains("minibatch-kmeans,gaussian-nb"), "{text}");
    let files = checkpoint::files(&d.join("ckpt")).expect("folder");
    let newest = files.last().expect("one");
    let mut bytes = std::fs::read(newest).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(newest, bytes).expect("write");
    let verify = eddy().current_dir(&d).args(["checkpoint", "verify", "ckpt"]).output().expect("runs");
    assert!(!verify.status.success());
    let text = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(text.matches("NOT VERIFIED").count(), 1, "{text}");
    assert!(text.contains("checksum does not match"), "{text}");
    assert!(checkpoint::load(&files[files.len() - 2], &Keys::default()).is_ok(), "the previous one still verifies");
}

/// A run killed with SIGKILL at random moments and resumed each time ends with the same
/// label file and the same models as a run never interrupted, and counts every record once.
#[test]
fn killed_at_random_and_resumed_equals_uninterrupted() {
    let d = dir("kill");
    // A CSV input, so the resume reads a real file past the checkpoint's byte offset.
    let (x, y) = eddy::source::synth::Blobs::new(3, 3, 6).cluster_std(2.0).next_batch(60_000);
    // With bad records here and there, skipped into a rejects file that must also come
    // out of the kills whole.
    let mut text = String::from("a,b,c,kind\n");
    for (i, (row, l)) in x.outer_iter().zip(y.iter()).enumerate() {
        match i {
            i if i % 997 == 5 => text += &format!("{:.5},oops,{:.5},k{l}\n", row[0], row[2]),
            i if i % 1499 == 7 => text += &format!("{:.5},{:.5},nan,k{l}\n", row[0], row[1]),
            _ => text += &format!("{:.5},{:.5},{:.5},k{l}\n", row[0], row[1], row[2]),
        }
    }
    std::fs::write(d.join("in.csv"), text).expect("write");
    let args = |out: &str| -> Vec<String> {
        [
            "run",
            "in.csv",
            "--label-column",
            "kind",
            "--model",
            "minibatch-kmeans(n_clusters=3)",
            "--model",
            "scale | sgd",
            // A wrapper with a detector: both models and the detector are checkpointed.
            "--model",
            "retrain=drift-retrain(model=scale | sgd, detector=adwin(delta=0.2))",
            // An ensemble: its members (sharing one scaler) and their losses are checkpointed.
            "--model",
            "vote=hedge",
            // A forest: its trees, background trees, detectors and random streams are checkpointed.
            "--model",
            "forest=arf(n_models=3)",
            "--batch-size",
            "500",
            "--labels-out",
            &format!("{out}/l.csv"),
            "--save-model",
            &format!("{out}/m.eddy"),
            "--summary-json",
            &format!("{out}/s.json"),
            "--checkpoint",
            &format!("{out}/ckpt"),
            "--checkpoint-every",
            "2000",
            "--on-error",
            "skip",
            "--rejects",
            &format!("{out}/rejects.tsv"),
            // A detector on every classifier's errors: its state is checkpointed and its
            // events file cut back at resume like the labels.
            "--drift",
            "adwin(delta=0.2)",
            // Columns watched beside every model, the clusterer's distances and clusters.
            "--watch",
            "a,c",
            "--cluster-events=clusters(window=3000)",
            "--events-out",
            &format!("{out}/events.ndjson"),
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let eddy = || Command::new(env!("CARGO_BIN_EXE_eddy"));
    let whole = eddy().current_dir(&d).args(args("whole")).output().expect("runs");
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));

    // Kill at pseudo-random moments (seeded: the test is repeatable), resume each time.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut kills = 0;
    let mut first = true;
    loop {
        let mut a = args("killed");
        if !first {
            a.push("--resume".into());
        }
        first = false;
        let mut child = eddy().current_dir(&d).args(&a).stderr(std::process::Stdio::null()).spawn().expect("spawns");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait_ms = 20 + seed % 120;
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        if kills < 6 && child.try_wait().expect("waits").is_none() {
            Command::new("kill").args(["-KILL", &child.id().to_string()]).status().expect("kill");
            let _ = child.wait();
            kills += 1;
            continue;
        }
        let status = child.wait().expect("waits");
        assert!(status.success(), "the resumed run failed");
        break;
    }
    assert!(kills >= 1, "at least one kill happened");
    let events = std::fs::read_to_string(d.join("whole").join("events.sgd.ndjson")).expect("events");
    assert!(events.lines().count() >= 2, "the detector fires in this run: {events}");
    for file in [
        "l.minibatch-kmeans.csv",
        "l.sgd.csv",
        "l.retrain.csv",
        "rejects.tsv",
        "events.sgd.ndjson",
        "events.retrain.ndjson",
        "l.vote.csv",
        "events.vote.ndjson",
        "l.forest.csv",
        "events.forest.ndjson",
    ] {
        let a = std::fs::read(d.join("whole").join(file)).expect("whole labels");
        let b = std::fs::read(d.join("killed").join(file)).expect("killed labels");
        assert!(a == b, "{file}: the labels differ after {kills} kills ({} vs {} bytes)", a.len(), b.len());
    }
    for model in ["minibatch-kmeans", "sgd", "retrain", "vote", "forest"] {
        let load = |run: &str| {
            let (_, m): (_, eddy::model::Model) =
                eddy::model_file::load(&d.join(run).join(format!("m.{model}.eddy")), "model", &Keys::default())
                    .expect("loads");
            serde_json::to_string(&m).expect("json")
        };
        assert_eq!(load("whole"), load("killed"), "{model}: the final model differs");
    }
    let summary = |run: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join(run).join("s.json")).expect("summary")).expect("json")
    };
    let rejected = summary("whole")["rejected"].as_u64().expect("a count");
    assert!(rejected > 60, "the input has bad records: {rejected}");
    assert_eq!(summary("killed")["records"], 60_000 - rejected, "each record counted once");
    assert_eq!(summary("killed")["rejected"], rejected, "each rejected record counted once");
    assert_eq!(
        summary("killed")["models"][1]["metrics"]["accuracy"],
        summary("whole")["models"][1]["metrics"]["accuracy"]
    );
    assert_eq!(
        summary("killed")["models"][2]["metrics"]["accuracy"],
        summary("whole")["models"][2]["metrics"]["accuracy"]
    );
    assert_eq!(
        summary("killed")["models"][3]["metrics"]["accuracy"],
        summary("whole")["models"][3]["metrics"]["accuracy"]
    );
    for m in 1..4 {
        assert_eq!(summary("killed")["models"][m]["drift"], summary("whole")["models"][m]["drift"], "model {m}");
    }
}

/// A corrupted newest checkpoint: --resume falls back to the one before and still ends
/// with the uninterrupted labels; with no valid checkpoint left, it fails clearly.
#[test]
fn a_corrupt_newest_checkpoint_falls_back_to_the_previous() {
    let d = dir("fallback");
    let base = ["--checkpoint", "ckpt", "--checkpoint-every", "1000", "--save-model", "m.eddy"];
    let out = run(&d, 5000, &base);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let whole = std::fs::read(d.join("l.gaussian-nb.csv")).expect("labels");
    let files = checkpoint::files(&d.join("ckpt")).expect("folder");
    let newest = files.last().expect("one").clone();
    let mut bytes = std::fs::read(&newest).expect("read");
    let at = bytes.len() - 40;
    bytes[at] ^= 0x01;
    std::fs::write(&newest, bytes).expect("write");
    let mut resumed = base.to_vec();
    resumed.push("--resume");
    let out = run(&d, 5000, &resumed);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("resuming from") && err.contains("checksum"), "{err}");
    assert_eq!(std::fs::read(d.join("l.gaussian-nb.csv")).expect("labels"), whole);
    // Truncate every checkpoint (flipping the same byte again would restore the first).
    for f in checkpoint::files(&d.join("ckpt")).expect("folder") {
        let b = std::fs::read(&f).expect("read");
        std::fs::write(&f, &b[..b.len() / 2]).expect("write");
    }
    let out = run(&d, 5000, &resumed);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("verifies"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Resuming a finished run that wrote .npy labels works (the labels come back out of
/// the .npy), and a resume with other settings than the checkpoint's is refused.
#[test]
fn npy_labels_resume_and_changed_settings_are_refused() {
    let d = dir("settings");
    let eddy = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_eddy"))
            .current_dir(&d)
            .args([
                "run",
                "synth:hyperplane?n=20000&seed=3",
                "--model",
                "sgd(loss=log_loss)",
                "--labels-out",
                "l.npy",
                "--checkpoint",
                "ckpt",
                "--checkpoint-every",
                "3000",
                "--quiet",
            ])
            .args(extra)
            .output()
            .expect("runs")
    };
    let first = eddy(&[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let whole = std::fs::read(d.join("l.npy")).expect("npy");
    let again = eddy(&["--resume"]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(std::fs::read(d.join("l.npy")).expect("npy"), whole, "the same .npy after resuming a finished run");
    for (extra, setting) in
        [(["--batch-size", "4096"], "--batch-size"), (["--prequential", "per-batch"], "--prequential")]
    {
        let mut args = extra.to_vec();
        args.push("--resume");
        let out = eddy(&args);
        assert!(!out.status.success(), "{setting}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(setting), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let other = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .current_dir(&d)
        .args([
            "run",
            "synth:hyperplane?n=20000&seed=4",
            "--model",
            "sgd(loss=log_loss)",
            "--labels-out",
            "l.npy",
            "--checkpoint",
            "ckpt",
            "--checkpoint-every",
            "3000",
            "--quiet",
            "--resume",
        ])
        .output()
        .expect("runs");
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("input"), "{}", String::from_utf8_lossy(&other.stderr));
}

/// Resuming onto another file at the same path is refused: the checkpoint knows a
/// checksum of the bytes it covered.
#[test]
fn another_file_at_the_same_path_is_refused() {
    let d = dir("samepath");
    let write = |seed: u64| {
        let (x, _) = eddy::source::synth::Blobs::new(2, 2, seed).next_batch(5000);
        let mut text = String::from("a,b\n");
        for row in x.outer_iter() {
            text += &format!("{:.4},{:.4}\n", row[0], row[1]);
        }
        std::fs::write(d.join("in.csv"), text).expect("write");
    };
    let eddy = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_eddy"))
            .current_dir(&d)
            .args([
                "run",
                "in.csv",
                "--model",
                "minibatch-kmeans(n_clusters=2)",
                "--labels-out",
                "l.csv",
                "--checkpoint",
                "ckpt",
                "--checkpoint-every",
                "1000",
                "--quiet",
            ])
            .args(extra)
            .output()
            .expect("runs")
    };
    write(1);
    assert!(eddy(&[]).status.success());
    assert!(eddy(&["--resume"]).status.success(), "the same file resumes");
    write(2);
    let out = eddy(&["--resume"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the same input"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A resumed run's pictures go on from the checkpoint: its timeline continues the
/// record count (the axis the drift events' record ids are on), so marks and the
/// report's "before and after" line up with the run's first part.
#[test]
fn a_resumed_timeline_goes_on_from_the_checkpoint() {
    let d = dir("timeline");
    let rows = |from: usize, to: usize| -> String {
        (from..to).map(|i| format!("{},{},{}\n", (i % 97) as f64 / 10.0, (i % 89) as f64 / 10.0, i % 2)).collect()
    };
    std::fs::write(d.join("in.csv"), format!("a,b,y\n{}", rows(0, 4000))).expect("write");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "in.csv",
            "--label-column",
            "y",
            "--model",
            "gaussian-nb",
            "--labels-out",
            "l.csv",
            "--checkpoint",
            "ck",
            "--checkpoint-every",
            "1000",
            "--batch-size",
            "500",
            "--report",
            "report",
            "--quiet",
        ];
        args.extend(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_eddy")).current_dir(&d).args(&args).output().expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[]);
    // The input grows; the resumed run reads what came after its checkpoint.
    let mut text = std::fs::read_to_string(d.join("in.csv")).expect("read");
    text += &rows(4000, 6000);
    std::fs::write(d.join("in.csv"), text).expect("write");
    run(&["--resume"]);
    let record = eddy::report::RunRecord::load(&d.join("report")).expect("run.json");
    let timeline = &record.snapshots[0].timeline;
    let first = timeline.first().expect("points").records;
    assert!(first > 4000, "the resumed part starts after the checkpoint's 4000 records, not at 0: {first}");
    assert_eq!(timeline.last().expect("points").records, 6000);
    assert_eq!(record.snapshots[0].records, 6000);
}

/// Delayed labels (`--delayed-labels`): a run killed with SIGKILL while events wait for
/// their labels, resumed each time, ends with the labels, rejects, models and delayed
/// counts of a run never interrupted (the waiting events and the join are checkpointed).
#[test]
fn killed_with_pending_labels_and_resumed_equals_uninterrupted() {
    let d = dir("kill-delayed");
    let (x, y) = eddy::source::synth::Blobs::new(3, 3, 9).cluster_std(2.0).next_batch(30_000);
    let cities = ["paris", "lyon", "nice"];
    // Labels come 0 to 96 records after their events, out of order; every 50th never comes
    // (it expires: --label-ttl 400), every 777th id is a label for no event (rejected).
    let mut text = String::from("id,a,b,c,city,kind\n");
    let mut due: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, (row, &l)) in x.outer_iter().zip(y.iter()).enumerate() {
        let city = cities[(i * 7 + l as usize) % 4 % 3];
        text += &format!("e{i},{:.5},{:.5},{:.5},{city},\n", row[0], row[1], row[2]);
        if i % 50 != 7 {
            due.entry(i + (i * 37) % 97).or_default().push(i);
        }
        if i % 777 == 3 {
            text += &format!("nobody{i},,,,,k0\n");
        }
        while let Some(entry) = due.first_entry().filter(|e| *e.key() <= i) {
            for e in entry.remove() {
                text += &format!("e{e},,,,,k{}\n", y[e]);
            }
        }
    }
    for e in due.into_values().flatten() {
        text += &format!("e{e},,,,,k{}\n", y[e]);
    }
    std::fs::write(d.join("in.csv"), text).expect("write");
    let args = |out: &str| -> Vec<String> {
        [
            "run",
            "in.csv",
            "--id-column",
            "id",
            "--delayed-labels",
            "--label-column",
            "kind",
            "--label-ttl",
            "400",
            "--max-pending",
            "5000",
            "--model",
            "onehot | scale | sgd(loss=log_loss)",
            "--model",
            "nb=onehot | gaussian-nb",
            "--batch-size",
            "300",
            "--labels-out",
            &format!("{out}/l.csv"),
            "--save-model",
            &format!("{out}/m.eddy"),
            "--summary-json",
            &format!("{out}/s.json"),
            "--checkpoint",
            &format!("{out}/ckpt"),
            "--checkpoint-every",
            "1500",
            "--on-error",
            "skip",
            "--rejects",
            &format!("{out}/rejects.tsv"),
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let eddy = || Command::new(env!("CARGO_BIN_EXE_eddy"));
    let whole = eddy().current_dir(&d).args(args("whole")).output().expect("runs");
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let (mut kills, mut first) = (0, true);
    loop {
        let mut a = args("killed");
        if !first {
            a.push("--resume".into());
        }
        first = false;
        let mut child = eddy().current_dir(&d).args(&a).stderr(std::process::Stdio::null()).spawn().expect("spawns");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(std::time::Duration::from_millis(30 + seed % 150));
        if kills < 6 && child.try_wait().expect("waits").is_none() {
            Command::new("kill").args(["-KILL", &child.id().to_string()]).status().expect("kill");
            let _ = child.wait();
            kills += 1;
            continue;
        }
        assert!(child.wait().expect("waits").success(), "the resumed run failed");
        break;
    }
    assert!(kills >= 1, "at least one kill happened");
    for file in ["l.sgd.csv", "l.nb.csv", "rejects.tsv"] {
        let a = std::fs::read(d.join("whole").join(file)).expect("whole");
        let b = std::fs::read(d.join("killed").join(file)).expect("killed");
        assert!(a == b, "{file}: differs after {kills} kills ({} vs {} bytes)", a.len(), b.len());
    }
    for model in ["sgd", "nb"] {
        let load = |run: &str| {
            let (_, m): (_, eddy::model::Model) =
                eddy::model_file::load(&d.join(run).join(format!("m.{model}.eddy")), "model", &Keys::default())
                    .expect("loads");
            serde_json::to_string(&m).expect("json")
        };
        assert_eq!(load("whole"), load("killed"), "{model}: the final model differs");
    }
    let summary = |run: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join(run).join("s.json")).expect("summary")).expect("json")
    };
    for m in 0..2 {
        let (mut a, mut b) = (summary("whole"), summary("killed"));
        // Seconds are the wall clock's: they differ between runs.
        for s in [&mut a, &mut b] {
            s["models"][m]["delayed"]["delay"]["seconds"] = serde_json::Value::Null;
        }
        assert_eq!(a["models"][m]["delayed"], b["models"][m]["delayed"], "model {m}");
        assert_eq!(a["models"][m]["metrics"], b["models"][m]["metrics"], "model {m}");
    }
    let dl = &summary("whole")["models"][0]["delayed"];
    assert_eq!(dl["events"], 30_000);
    // Every 50th label never comes: those events expire, or wait still at the end.
    let (expired, pending) = (dl["expired_ttl"].as_u64().expect("n"), dl["pending"].as_u64().expect("n"));
    assert_eq!((expired + pending, dl["learned"].as_u64()), (600, Some(29_400)), "{dl}");
    assert!(pending > 0 && expired > 590, "{dl}");
    assert_eq!(dl["unknown"].as_u64(), Some(39), "{dl}");
    assert_eq!(summary("killed")["records"], 30_000 + 29_400 + 39);
}
