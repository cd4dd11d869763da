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
            "minibatch-kmeans",
            "--clusters",
            "3",
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
