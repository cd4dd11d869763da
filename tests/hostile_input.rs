//! Inputs made by an attacker or a corrupted disk: each is refused with a clear error,
//! quickly, without a panic or an allocation the input asked for.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A `.npy` file with this header text (version 1), then `data`.
fn npy(path: &Path, header: &str, data: &[u8]) {
    let mut h = header.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&u16::try_from(h.len()).expect("short").to_le_bytes());
    bytes.extend_from_slice(h.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).expect("write");
}

/// `eddy run FILE` on a k-means model: the error it prints, and how long it took.
fn run_on(dir: &Path, file: &str) -> (String, Duration) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .current_dir(dir)
        .args(["run", file, "--model", "minibatch-kmeans(n_clusters=2)", "--labels-out", "l.csv"])
        .output()
        .expect("eddy runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{file} was accepted");
    assert!(err.starts_with("eddy: error: ") && !err.contains("panicked"), "{err}");
    (err, start.elapsed())
}

#[test]
fn npy_headers_that_hung_or_aborted_eddy_are_refused_at_once() {
    let dir = temp_dir("npy");
    // 176 bytes of nested brackets ran npyz's parser for 14 minutes.
    let nested = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {}2{}}}", "[".repeat(40), "]".repeat(40));
    npy(&dir.join("nested.npy"), &nested, &[]);
    let (err, took) = run_on(&dir, "nested.npy");
    assert!(err.contains("not a .npy header eddy reads"), "{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // Shape (0, 10^12) asked for 24 TB of feature names.
    npy(&dir.join("wide.npy"), "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 1000000000000), }", &[]);
    let (err, _) = run_on(&dir, "wide.npy");
    assert!(err.contains("1000000000000 features"), "{err}");
    // More rows than the file holds.
    npy(&dir.join("long.npy"), "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 2), }", &[0; 16]);
    let (err, _) = run_on(&dir, "long.npy");
    assert!(err.contains("more than the file holds"), "{err}");
    // A header length beyond what is there.
    std::fs::write(dir.join("cut.npy"), b"\x93NUMPY\x02\x00\xff\xff\xff\x7f{'descr'").expect("write");
    let (err, _) = run_on(&dir, "cut.npy");
    assert!(err.contains("longer than"), "{err}");
    // A good one still reads.
    let values: Vec<u8> = [0.0f64, 0.0, 5.0, 5.0, 0.1, 0.0, 5.1, 5.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    npy(&dir.join("good.npy"), "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), }", &values);
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .current_dir(&dir)
        .args(["run", "good.npy", "--model", "minibatch-kmeans(n_clusters=2)", "--labels-out", "l.csv", "--quiet"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Classification scores as postcard lays them out (maps are sequences of pairs).
#[derive(serde::Serialize, Clone)]
struct ScoresMirror {
    n: u64,
    correct: u64,
    window: usize,
    recent: Vec<bool>,
    recent_correct: u64,
    pairs: Vec<((i64, i64), u64)>,
}

#[derive(serde::Serialize, Clone)]
struct ClusteringMirror {
    n: u64,
    inertia: f64,
    contingency: Vec<((i64, i64), u64)>,
}

#[test]
fn scores_from_a_checkpoint_that_do_not_fit_together_are_refused() {
    use eddy::metrics::{ClassificationMetrics, ClusteringMetrics};
    let decode =
        |m: &ScoresMirror| postcard::from_bytes::<ClassificationMetrics>(&postcard::to_allocvec(m).expect("encodes"));
    let good = ScoresMirror {
        n: 4,
        correct: 2,
        window: 3,
        recent: vec![false, true, false],
        recent_correct: 1,
        pairs: vec![((1, 1), 2), ((1, 2), 1), ((2, 1), 1)],
    };
    let mut reference = ClassificationMetrics::new(3).expect("valid");
    reference.update(&[1, 2, 1, 1], &[1, 1, 1, 2]);
    assert_eq!(decode(&good).expect("a valid state decodes"), reference);
    type Change = (&'static str, Box<dyn Fn(&mut ScoresMirror)>);
    let changes: Vec<Change> = vec![
        ("n = u64::MAX", Box::new(|m| m.n = u64::MAX)),
        ("window 0", Box::new(|m| m.window = 0)),
        ("recent_correct off", Box::new(|m| m.recent_correct = 0)),
        ("correct above n", Box::new(|m| m.correct = 99)),
        ("recent longer than the window", Box::new(|m| m.recent = vec![true; 5])),
        ("pairs not adding up", Box::new(|m| m.pairs[0].1 = u64::MAX)),
    ];
    for (what, change) in changes {
        let mut bad = good.clone();
        change(&mut bad);
        // postcard keeps no message; the layout is right (the good state decodes), so
        // the refusal is the check's.
        assert!(decode(&bad).is_err(), "{what}");
    }
    let decode =
        |m: &ClusteringMirror| postcard::from_bytes::<ClusteringMetrics>(&postcard::to_allocvec(m).expect("encodes"));
    let good = ClusteringMirror { n: 2, inertia: 2.0, contingency: vec![((5, 0), 1), ((6, 1), 1)] };
    let mut reference = ClusteringMetrics::new();
    reference.update(2.0, &[0, 1], Some(&[5, 6]));
    assert_eq!(decode(&good).expect("valid"), reference);
    for bad in [
        ClusteringMirror { n: 1, ..good.clone() },
        ClusteringMirror { inertia: -1.0, ..good.clone() },
        ClusteringMirror { inertia: f64::NAN, ..good.clone() },
        ClusteringMirror { contingency: vec![((5, 0), u64::MAX), ((6, 1), 1)], ..good.clone() },
    ] {
        assert!(decode(&bad).is_err());
    }
}

#[test]
fn a_header_whose_counts_disagree_with_its_lists_or_its_model_is_refused() {
    use eddy::model::Model;
    use eddy::model_file::{self, Header, Keys};
    let dir = temp_dir("header");
    let mut model = Model::from_spec("minibatch-kmeans(n_clusters=2)").expect("valid");
    if let Model::Clusterer(m) = &mut model {
        eddy::OnlineClusterer::partial_fit(m, ndarray::array![[0.0, 0.0], [5.0, 5.0], [0.1, 0.0]].view())
            .expect("learns");
    }
    let features: Vec<String> = vec!["a".into(), "b".into()];
    // 2^64-1 features claimed beside two names: `eddy report` panicked sizing by it.
    let claims = Header { n_features: usize::MAX, ..Header::for_model(&model, features.clone(), None) };
    model_file::save(&dir.join("claims.eddy"), &claims, &model, &Keys::default()).expect("saves");
    // A model of two features under a header of three.
    let wider = Header::for_model(&model, vec!["a".into(), "b".into(), "c".into()], None);
    model_file::save(&dir.join("wider.eddy"), &wider, &model, &Keys::default()).expect("saves");
    for (file, says) in [
        ("claims.eddy", "says 18446744073709551615 features and names 2"),
        ("wider.eddy", "takes 2 features, its header names 3"),
    ] {
        for args in [
            vec!["report", file, "--out", "r"],
            vec!["model", "show", file],
            vec!["run", "synth:blobs?n=10&d=2", "--model-file", file, "--labels-out", "l.csv"],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_eddy")).current_dir(&dir).args(&args).output().expect("runs");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success() && err.contains(says) && !err.contains("panicked"), "{args:?}: {err}");
        }
    }
}

#[test]
fn duplicate_keys_and_labels_that_are_not_utf8_are_positioned_errors() {
    let dir = temp_dir("dup");
    std::fs::write(dir.join("d.ndjson"), "{\"a\":1,\"b\":2,\"y\":\"p\"}\n{\"a\":1,\"b\":2,\"a\":9,\"y\":\"q\"}\n")
        .expect("write");
    let mut csv = b"a,b,y\n1,2,p\n3,4,".to_vec();
    csv.extend_from_slice(&[0xff, 0xfe, b'\n']);
    std::fs::write(dir.join("d.csv"), csv).expect("write");
    for (file, says) in [
        ("d.ndjson", "d.ndjson:2: column 16 (json): invalid JSON: key \"a\" appears twice"),
        ("d.csv", "d.csv:3: column 3 (y): not UTF-8 text"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .current_dir(&dir)
            .args([
                "run",
                file,
                "--features",
                "a,b",
                "--label-column",
                "y",
                "--model",
                "gaussian-nb",
                "--labels-out",
                "l.csv",
            ])
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{file}: {err}");
        // Skipped into the rejects file, the good record is still labelled.
        let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .current_dir(&dir)
            .args([
                "run",
                file,
                "--features",
                "a,b",
                "--label-column",
                "y",
                "--model",
                "gaussian-nb",
                "--labels-out",
                "l.csv",
            ])
            .args(["--on-error", "skip", "--rejects", "r.tsv", "--quiet"])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let rejects = std::fs::read_to_string(dir.join("r.tsv")).expect("rejects");
        assert_eq!(rejects.lines().count(), 2, "a header line and the bad record: {rejects}");
        assert_eq!(std::fs::read_to_string(dir.join("l.csv")).expect("labels").lines().count(), 2);
    }
    #[cfg(feature = "server")]
    {
        use eddy::server::body::{decode, Format, Shape};
        let features: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let shape = Shape::new(&features, 10);
        for (format, body) in
            [(Format::Ndjson, "{\"a\":1,\"b\":2,\"b\":3}\n"), (Format::Json, "[{\"a\":1,\"a\":2,\"b\":3}]")]
        {
            let Err(err) = decode(format, body.as_bytes(), &shape) else { panic!("{body} was accepted") };
            assert!(format!("{err:?}").contains("appears twice"), "{err:?}");
        }
    }
}

/// Found by the ten-minute fuzz run of `model_file`: a 90-byte k-means asking for
/// 181,641 k-means++ seedings of its first batch (seconds per use). `n_init` is bounded,
/// and a generator of all-zero state (which draws zeros for ever) is refused too.
#[test]
fn a_model_asking_for_endless_seedings_or_a_dead_generator_is_refused() {
    let err = eddy::model::Model::from_spec("minibatch-kmeans(n_init=1001)").expect_err("too many seedings");
    assert!(err.message.contains("n_init must be from 1 to 1000"), "{err}");
    let model = eddy::model::Model::from_spec("minibatch-kmeans(n_clusters=1)").expect("valid");
    let state = serde_json::to_value(&model).expect("serialises");
    let mut seedings = state.clone();
    seedings["clusterer"]["head"]["state"]["params"]["n_init"] = 181_641.into();
    let err = serde_json::from_value::<eddy::model::Model>(seedings).expect_err("refused");
    assert!(err.to_string().contains("n_init"), "{err}");
    let mut dead = state;
    dead["clusterer"]["head"]["state"]["rng"]["s"] = serde_json::json!([0, 0, 0, 0]);
    let err = serde_json::from_value::<eddy::model::Model>(dead).expect_err("refused");
    assert!(err.to_string().contains("all-zero"), "{err}");
}
