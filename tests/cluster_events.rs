//! Cluster-level drift: a [`ClusterWatch`] fed each batch a real `minibatch-kmeans`
//! learned from [`Blobs`] names the cluster whose centre moved, whose records
//! vanished, and which captured a new mass, and says nothing on a stationary stream.
//!
//! Blobs are in 8 dimensions with standard deviation 0.5: centres uniform in
//! [-10, 10]^8 are about 23 apart, so every cluster is one blob (checked) and a
//! cluster's spread is about 1.4. Which cluster takes a changed blob's records is
//! the model's choice (the nearest centre), so the tests read it from the labels.

use eddy::drift::{ClusterEvent, ClusterEventKind, ClusterWatch, ClusterWatchParams};
use eddy::model::Model;
use eddy::source::synth::Blobs;
use eddy::OnlineClusterer;
use std::collections::HashMap;

const BATCH: usize = 1000;
/// The default window.
const WINDOW: u64 = 10_000;
const SEEDS: std::ops::Range<u64> = 0..5;

/// What a run saw: the watch's events, and the cluster that took most of each blob's
/// rows in every batch (`None` when the blob emitted nothing).
struct Run {
    events: Vec<ClusterEvent>,
    owners: Vec<Vec<Option<i64>>>,
    windows: u64,
}

impl Run {
    /// The cluster that took most of `blob`'s rows in the batch holding `record`.
    fn owner(&self, blob: usize, record: u64) -> i64 {
        self.owners[(record / BATCH as u64) as usize][blob].unwrap_or_else(|| panic!("blob {blob} at {record}"))
    }

    fn of(&self, cluster: i64) -> Vec<(ClusterEventKind, u64)> {
        self.events.iter().filter(|e| e.cluster == cluster).map(|e| (e.kind, e.record)).collect()
    }

    fn before(&self, record: u64) -> Vec<&ClusterEvent> {
        self.events.iter().filter(|e| e.record < record).collect()
    }
}

/// Blobs 8-d, std 0.5, well apart.
fn blobs(k: usize, seed: u64) -> Blobs {
    let b = Blobs::new(k, 8, seed).cluster_std(0.5);
    let c = b.centers();
    for i in 0..k {
        for j in 0..i {
            let d = (&c.row(i) - &c.row(j)).mapv(|v| v * v).sum().sqrt();
            assert!(d > 10.0, "seed {seed}: blobs {i} and {j} are only {d:.1} apart");
        }
    }
    b
}

/// Learn `n` records of `blobs` with `model`, feeding the watch (default parameters)
/// after every batch as the pipeline will: ids, rows, labels and the centres after learning.
fn run(mut blobs: Blobs, k: usize, model: &str, n: usize) -> Run {
    let Model::Clusterer(mut model) = Model::from_spec(model).expect("a valid model") else { panic!("a clusterer") };
    let mut watch = ClusterWatch::new(ClusterWatchParams::default()).expect("defaults are valid");
    let (mut events, mut owners) = (Vec::new(), Vec::new());
    for b in 0..(n / BATCH) as u64 {
        let (x, y) = blobs.next_batch(BATCH);
        let labels = model.learn_predict(x.view()).expect("learns");
        let labels = labels.as_slice().expect("contiguous");
        let mut votes: Vec<HashMap<i64, usize>> = vec![HashMap::new(); k];
        for (&l, &t) in labels.iter().zip(y.iter()) {
            *votes[t as usize].entry(l).or_default() += 1;
        }
        owners.push(votes.into_iter().map(|v| v.into_iter().max_by_key(|&(l, c)| (c, -l)).map(|(l, _)| l)).collect());
        let ids: Vec<u64> = (b * BATCH as u64..(b + 1) * BATCH as u64).collect();
        let centres = model.centers_in_input_units().expect("centres");
        events.extend(watch.observe(&ids, x.view(), labels, centres.view()).expect("a consistent batch"));
    }
    Run { events, owners, windows: watch.windows() }
}

/// With well-separated blobs and as many centres, the shares, spreads and centres of
/// every window are those of the one before: no event, for either k-means (with and
/// without forgetting) and every seed.
#[test]
fn stationary_blobs_give_no_event() {
    for model in ["minibatch-kmeans(n_clusters=3)", "minibatch-kmeans(n_clusters=3, decay_factor=0.5)"] {
        for seed in SEEDS {
            let r = run(blobs(3, seed), 3, model, 60_000);
            assert_eq!(r.windows, 6, "{model}, seed {seed}");
            assert!(r.events.is_empty(), "{model}, seed {seed}: {:?}", r.events);
        }
    }
}

/// Blob 0 jumps at `M`. Its records go to the nearest centre, which follows them
/// (forgetting, no reassignment, so nothing else moves): that cluster reports `moved`
/// at the end of the window holding `M` (or the next), by more than 3 spreads. When
/// that is not blob 0's own cluster, blob 0's cluster is left with nothing: `vanished`.
#[test]
fn a_moved_blob_moves_the_cluster_that_takes_its_records() {
    const M: u64 = 30_000;
    let (mut followed, mut taken_over) = (0, 0);
    for seed in SEEDS {
        let r = run(
            blobs(3, seed).move_at(M),
            3,
            "minibatch-kmeans(n_clusters=3, decay_factor=0.5, reassignment_ratio=0)",
            60_000,
        );
        assert!(r.before(M).is_empty(), "seed {seed}: {:?}", r.before(M));
        let (was, taker) = (r.owner(0, M - 1), r.owner(0, M));
        let moved = r
            .events
            .iter()
            .find(|e| e.cluster == taker && e.kind == ClusterEventKind::Moved)
            .unwrap_or_else(|| panic!("seed {seed}: cluster {taker} took blob 0 but did not move: {:?}", r.events));
        assert!((M..M + 2 * WINDOW).contains(&moved.record), "seed {seed}: {moved:?}");
        let (distance, spread) = (moved.distance.expect("a distance"), moved.spread.expect("a spread"));
        assert!(distance > 3.0 * spread && (1.0..2.0).contains(&spread), "seed {seed}: {moved:?}");
        if taker == was {
            followed += 1;
        } else {
            taken_over += 1;
            assert!(r.of(was).contains(&(ClusterEventKind::Vanished, M + WINDOW - 1)), "seed {seed}: {:?}", r.events);
        }
    }
    // Both happen among the seeds.
    assert!(followed > 0 && taken_over > 0, "{followed} followed, {taken_over} taken over");
}

/// Blob 1 stops at `V`. Its cluster gets no record: `vanished` at the end of that
/// window. With forgetting its weight decays until k-means reassigns the starved
/// centre to a random row, where it captures records again: `appeared`, later.
#[test]
fn a_vanished_blob_starves_its_cluster_until_reassignment_gives_it_records() {
    const V: u64 = 30_000;
    for seed in SEEDS {
        let r = run(blobs(3, seed).vanish_at(V), 3, "minibatch-kmeans(n_clusters=3, decay_factor=0.5)", 70_000);
        assert!(r.before(V).is_empty(), "seed {seed}: {:?}", r.before(V));
        let c = r.owner(1, V - 1);
        let kinds: Vec<ClusterEventKind> = r.of(c).iter().map(|e| e.0).collect();
        assert_eq!(
            &kinds[..2],
            [ClusterEventKind::Vanished, ClusterEventKind::Appeared],
            "seed {seed}: {:?}",
            r.events
        );
        let vanished = r.events.iter().find(|e| e.cluster == c).expect("found above");
        assert_eq!(vanished.record, V + WINDOW - 1, "seed {seed}");
        assert!(vanished.share_before > 0.2 && vanished.share_after < 0.01, "seed {seed}: {vanished:?}");
    }
}

/// The stream: one blob vanishes (at `V`), a new one appears (at `A`, a window
/// later) and then one moves (at `M`), with as many centres as live blobs (2).
///
/// - Blob 1's cluster vanishes. Its starved centre (still in place: forgetting at 0.8
///   takes some 18 batches to starve it below k-means' reassignment ratio) then
///   captures a new mass, the new blob directly when it is the nearest centre,
///   otherwise the rows it is reassigned to: either way `appeared`, after `A`.
/// - The cluster that takes blob 0's records after its jump reports `moved` within two
///   windows.
#[test]
fn one_blob_vanishes_another_appears_and_one_moves() {
    const V: u64 = 30_000;
    const A: u64 = 40_000;
    const M: u64 = 70_000;
    let (mut direct, mut reassigned) = (0, 0);
    for seed in SEEDS {
        let stream = blobs(3, seed).vanish_at(V).appear_at(A).move_at(M);
        let r = run(stream, 3, "minibatch-kmeans(n_clusters=2, decay_factor=0.8)", 100_000);
        assert!(r.before(V).is_empty(), "seed {seed}: {:?}", r.before(V));
        let c = r.owner(1, V - 1);
        let of = r.of(c);
        assert_eq!(of.first(), Some(&(ClusterEventKind::Vanished, A - 1)), "seed {seed}: {:?}", r.events);
        let appeared = r.events.iter().find(|e| e.cluster == c && e.kind == ClusterEventKind::Appeared);
        let appeared = appeared.unwrap_or_else(|| panic!("seed {seed}: cluster {c} never appeared: {:?}", r.events));
        assert!(appeared.record >= A && appeared.share_before < 0.01, "seed {seed}: {appeared:?}");
        if r.owner(2, A) == c {
            direct += 1;
            assert_eq!(appeared.record, A + WINDOW - 1, "seed {seed}: {appeared:?}");
        } else {
            reassigned += 1;
        }
        let taker = r.owner(0, M);
        let moved = r.events.iter().find(|e| e.cluster == taker && e.kind == ClusterEventKind::Moved && e.record >= M);
        assert!(moved.is_some_and(|e| e.record < M + 2 * WINDOW), "seed {seed}: {:?}", r.events);
    }
    // Both ways of appearing happen among the seeds.
    assert!(direct > 0 && reassigned > 0, "{direct} direct, {reassigned} after reassignment");
}

/// Through the command line: `--cluster-events` alone (no detector) writes the events
/// into the events file in record order, the summary counts them, the terminal names
/// them, the report tabulates them, and one thread gives what many give.
#[test]
fn cluster_events_from_the_command_line() {
    let d = std::env::temp_dir().join(format!("eddy-cluster-events-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    // Blob 1 stops at 20,000; with forgetting its centre starves, is reassigned and
    // captures records again.
    let input = "synth:blobs?n=60000&d=8&k=4&std=0.5&vanish_at=20000&seed=0";
    let run = |tag: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            input,
            "--model",
            "minibatch-kmeans(n_clusters=4, decay_factor=0.5)",
            "--cluster-events",
            "--labels-out",
            "l.csv",
            "--quiet",
        ];
        let (events, summary, report) = (format!("{tag}.ndjson"), format!("{tag}.json"), format!("{tag}-report"));
        args.extend(["--events-out", &events, "--summary-json", &summary, "--report", &report]);
        args.extend(extra);
        let out =
            std::process::Command::new(env!("CARGO_BIN_EXE_eddy")).current_dir(&d).args(&args).output().expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(d.join(&events)).expect("events");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(&summary)).expect("summary")).expect("JSON");
        (text, summary, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (text, summary, terminal) = run("threads", &[]);
    let events: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert!(events.iter().all(|e| e["watched"] == "clusters" && e["detector"] == "clusters"), "{text}");
    let vanished = events.iter().find(|e| e["kind"] == "vanished").expect("blob 1's cluster vanishes");
    let at = vanished["record"].as_u64().expect("a record");
    assert!((20_000..40_000).contains(&at), "vanished at {at}");
    assert_eq!(vanished["share_after"].as_f64(), Some(0.0), "{vanished}");
    let cluster = vanished["cluster"].as_i64().expect("a cluster");
    assert!(
        events.iter().any(|e| e["kind"] == "appeared" && e["record"].as_u64() > Some(at)),
        "a starved centre captures records again: {text}"
    );
    let records: Vec<u64> = events.iter().map(|e| e["record"].as_u64().expect("a record")).collect();
    assert!(records.windows(2).all(|w| w[0] <= w[1]), "{records:?}");
    let drift = &summary["models"][0]["drift"];
    assert!(drift.get("detector").is_none(), "no --drift: {drift}");
    let counts = &drift["cluster_events"];
    let total: u64 = ["moved", "vanished", "appeared"].iter().map(|k| counts[k].as_u64().expect("a count")).sum();
    assert_eq!(total, events.len() as u64, "{drift}");
    assert!(terminal.contains(&format!("vanished {cluster} at {at}")), "{terminal}");
    let md = std::fs::read_to_string(d.join("threads-report/report.md")).expect("report");
    let section = md.split("### Cluster events").nth(1).expect("a cluster events section");
    let rows = section.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| record")).count();
    assert_eq!(rows, events.len(), "{section}");
    assert!(d.join("threads-report/minibatch-kmeans-clusters.png").exists());
    let (inline, _, _) = run("inline", &["--inline"]);
    assert_eq!(inline, text, "one thread or many, the same events");
}

/// A classifier has no clusters: with `--cluster-events` alone it is not watched and
/// gets no events file; a bad spec is refused before anything runs.
#[test]
fn cluster_events_leave_classifiers_alone_and_check_their_spec() {
    let d = std::env::temp_dir().join(format!("eddy-cluster-events-flags-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    let eddy = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_eddy")).current_dir(&d).args(args).output().expect("runs")
    };
    let out = eddy(&[
        "run",
        "synth:blobs?n=5000&k=3&seed=1",
        "--label-column",
        "y",
        "--model",
        "gaussian-nb",
        "--model",
        "minibatch-kmeans(n_clusters=3)",
        "--cluster-events=clusters(window=1000)",
        "--labels-out",
        "l.csv",
        "--events-out",
        "e.ndjson",
        "--summary-json",
        "s.json",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(d.join("e.minibatch-kmeans.ndjson").exists() && !d.join("e.gaussian-nb.ndjson").exists());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).expect("summary")).expect("JSON");
    assert!(summary["models"][0].get("drift").is_none());
    assert_eq!(summary["models"][1]["drift"]["clusters"], "clusters(window=1000)");
    let bad = eddy(&[
        "run",
        "synth:blobs?n=100",
        "--model",
        "minibatch-kmeans",
        "--cluster-events=clusters(moved=-1)",
        "--labels-out",
        "x.csv",
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("--cluster-events") && err.contains("moved"), "{err}");
    assert!(!d.join("x.csv").exists(), "nothing was written");
    // Without `=`, the next word is not taken for the spec: it stays the input.
    let plain = eddy(&[
        "run",
        "--cluster-events",
        "synth:blobs?n=3000&k=2&seed=1",
        "--model",
        "minibatch-kmeans(n_clusters=2)",
        "--labels-out",
        "p.csv",
        "--quiet",
    ]);
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
}
