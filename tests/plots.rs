//! Snapshots and reports: the pictures decode and are not blank, the SVG parses,
//! and the report's numbers are the model's.

use crate::pipeline::temp_file;
use eddy::model::Model;
use eddy::pipeline::{self, ModelStage, PipelineOptions, SnapshotOptions};
use eddy::plot::{self, PlotFormat};
use eddy::report::{self, cluster_rows, silhouette, RunRecord};
use eddy::sink::MemorySink;
use eddy::snapshot::Detail;
use eddy::source::{self, SourceOptions};
use eddy::OnlineClusterer;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("eddy-plots-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// Run `kinds` on a generated stream with tracking on; snapshots into `plots` if given.
fn tracked(kinds: &[&str], plots: Option<&Path>, every: u64) -> pipeline::RunOutcome {
    tracked_input(kinds, plots, every, false)
}

/// [`tracked`], its input said to be `live` or not.
fn tracked_input(kinds: &[&str], plots: Option<&Path>, every: u64, live: bool) -> pipeline::RunOutcome {
    let o = SourceOptions { batch_size: 256, ..SourceOptions::default() };
    let src = source::open("synth:blobs?n=6000&d=4&k=3&seed=5", o).expect("valid");
    let stages = kinds
        .iter()
        .map(|&kind| ModelStage {
            events: None,
            replica: None,
            name: kind.into(),
            model: Model::from_spec(&if kind == "minibatch-kmeans" {
                format!("{kind}(n_clusters=3, batch_size=256)")
            } else {
                kind.to_string()
            })
            .expect("valid"),
            sink: Box::new(MemorySink::default()),
            labels_path: String::new(),
        })
        .collect();
    let options = PipelineOptions {
        track: true,
        snapshots: plots.map(|d| SnapshotOptions {
            dir: d.to_path_buf(),
            every_records: Some(every),
            interval: None,
            format: PlotFormat::Png,
            live,
        }),
        ..PipelineOptions::default()
    };
    pipeline::run(src, stages, &options).expect("runs")
}

/// Width, height and number of distinct colours of a PNG.
fn png_stats(path: &Path) -> (u32, u32, usize) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8();
    let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    (img.width(), img.height(), colours.len())
}

#[test]
fn pictures_decode_and_are_not_blank() {
    let out = tracked(&["minibatch-kmeans", "gaussian-nb"], None, 0);
    let d = dir("render");
    for snap in &out.snapshots {
        let png = d.join(format!("{}.png", snap.model));
        plot::render(snap, &png, PlotFormat::Png).expect("renders");
        let (w, h, colours) = png_stats(&png);
        assert_eq!((w, h), (1200, 800));
        assert!(colours >= 8, "{}: only {colours} colours", snap.model);
        let timeline = d.join(format!("{}-t.png", snap.model));
        plot::render_timeline(snap, &timeline, PlotFormat::Png).expect("renders");
        assert!(png_stats(&timeline).2 >= 4);

        let svg = d.join(format!("{}.svg", snap.model));
        plot::render(snap, &svg, PlotFormat::Svg).expect("renders");
        let text = std::fs::read_to_string(&svg).expect("svg");
        let doc = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
        assert!(texts.iter().any(|t| t.contains(&snap.model)), "the title names the model: {texts:?}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&d)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files remain");
}

#[test]
fn snapshots_are_numbered_with_an_atomic_latest_and_skips_are_counted() {
    let d = dir("numbered");
    let out = tracked(&["minibatch-kmeans"], Some(&d), 2000);
    let stats = out.summary.snapshots.expect("snapshots on");
    let numbered = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .expect("dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("snapshot-"))
            .collect()
    };
    let drawn = numbered(&d);
    assert_eq!(drawn.len() as u64, stats.drawn);
    assert!(drawn.contains(&"snapshot-000001-minibatch-kmeans.png".to_string()), "{drawn:?}");
    // Due at 2000, 4000 and 6000 records, plus the final one: a finite input draws them all.
    assert_eq!((stats.drawn, stats.skipped), (4, 0), "{stats:?}");
    assert!(png_stats(&d.join("latest-minibatch-kmeans.png")).2 >= 8);

    // A snapshot due after every batch of a fast model, from a finite input: the
    // model waits for the drawing, and every one is drawn (24 batches, and the last).
    let d = dir("every-batch");
    let out = tracked(&["minibatch-kmeans"], Some(&d), 1);
    let stats = out.summary.snapshots.expect("snapshots on");
    assert_eq!((stats.drawn, stats.skipped), (25, 0), "{stats:?}");
    assert_eq!(numbered(&d).len(), 25);

    // The same from a live input: the stream does not wait once the queue is full, so
    // some are skipped, and counted.
    let d = dir("skips");
    let out = tracked_input(&["minibatch-kmeans"], Some(&d), 1, true);
    let stats = out.summary.snapshots.expect("snapshots on");
    assert!(stats.skipped > 0, "{stats:?}");
    assert_eq!(stats.drawn + stats.skipped, 25, "{stats:?}");
    assert_eq!(out.summary.records, 6000);
}

#[test]
fn report_numbers_are_the_models() {
    let out = tracked(&["minibatch-kmeans", "sgd"], None, 0);
    let snap = &out.snapshots[0];
    let Detail::Clusterer { centers, counts, .. } = &snap.detail else { panic!("k-means first") };
    let eddy::model::Model::Clusterer(model) = &out.models[0] else { panic!("a clusterer") };
    assert_eq!(centers.view(), model.cluster_centers().expect("fitted"), "the snapshot's centres are the model's");
    assert_eq!(counts, &model.counts().to_vec());
    let rows = cluster_rows(snap);
    assert_eq!(rows.iter().map(|r| r.size).sum::<u64>(), out.summary.records, "sizes add up to the records seen");
    assert!((rows.iter().map(|r| r.share).sum::<f64>() - 1.0).abs() < 1e-9);
    for r in &rows {
        assert_eq!(r.center, centers.row(r.id).to_vec());
        let (other, d) = r.nearest.expect("three clusters");
        let want = (&centers.row(r.id) - &centers.row(other)).mapv(|v| v * v).sum().sqrt();
        assert!((d - want).abs() < 1e-12);
        assert!(r.spread_max.expect("members sampled") >= r.spread_mean.expect("members sampled"));
        assert!(!r.distinctive.is_empty());
    }

    let d = dir("report");
    let record = RunRecord {
        input: "synth".into(),
        records: out.summary.records,
        rejected: 0,
        seconds: 1.0,
        snapshots: out.snapshots.clone(),
    };
    let files = report::write(&record, &d).expect("writes");
    let html = std::fs::read_to_string(&files.html).expect("html");
    assert_eq!(
        html.matches("data:image/png;base64,").count(),
        5,
        "both pictures of both models and the clusterer's history, embedded"
    );
    assert!(html.contains("<table>") && html.contains("precision"));
    let md = std::fs::read_to_string(&files.markdown).expect("md");
    for line in md.lines().filter(|l| l.starts_with("![")) {
        let file = line.rsplit_once('(').and_then(|(_, f)| f.strip_suffix(')')).expect("an image link");
        assert!(d.join(file).exists(), "{file} is beside report.md");
    }
    for r in &rows {
        assert!(md.contains(&format!("| {} | {} |", r.id, r.size)), "cluster {} size in the report", r.id);
    }
    let again = RunRecord::load(&d).expect("run.json round-trips");
    assert_eq!(again, record);
}

#[test]
fn silhouette_matches_a_hand_computed_case() {
    let x = ndarray::array![[0.0], [1.0], [10.0], [11.0]];
    // a = 1 for every point; b = 10.5, 9.5, 9.5, 10.5: s = 9.5/10.5, 8.5/9.5, 8.5/9.5, 9.5/10.5.
    let want = (2.0 * 9.5 / 10.5 + 2.0 * 8.5 / 9.5) / 4.0;
    let got = silhouette(x.view(), &[0, 0, 1, 1]).expect("two clusters");
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    assert_eq!(silhouette(x.view(), &[0, 0, 0, 0]), None, "one cluster has no silhouette");
    let worse = silhouette(x.view(), &[0, 1, 0, 1]).expect("two clusters");
    assert!(worse < 0.0, "a bad split scores below zero: {worse}");
}

#[test]
fn run_plots_report_and_eddy_report_through_the_cli() {
    let d = dir("cli");
    let csv = temp_file("report.csv", b"");
    let (x, y) = eddy::source::synth::Blobs::new(3, 3, 2).next_batch(5000);
    let mut text = String::from("a,b,c,kind\n");
    for (row, l) in x.outer_iter().zip(y.iter()) {
        text += &format!("{},{},{},k{l}\n", row[0], row[1], row[2]);
    }
    std::fs::write(&csv, text).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .current_dir(&d)
        .arg("run")
        .arg(&csv)
        .args([
            "--label-column",
            "kind",
            "--model",
            "minibatch-kmeans(n_clusters=3)",
            "--model",
            "gaussian-nb",
            "--labels-out",
            "l.csv",
            "--plots",
            "plots",
            "--snapshot-every",
            "2000",
            "--plot-format",
            "svg",
            "--report",
            "report",
            "--quiet",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(d.join("plots/latest-minibatch-kmeans.svg").exists() && d.join("plots/latest-gaussian-nb.svg").exists());
    assert!(d.join("plots/run.json").exists());
    let html = std::fs::read_to_string(d.join("report/report.html")).expect("report");
    assert!(html.contains("k0") || html.contains("k1"), "class names appear in the report");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .current_dir(&d)
        .args(["report", "plots", "--out", "again"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(d.join("again/report.md").exists() && d.join("again/minibatch-kmeans-state.png").exists());
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["report", "/nonexistent", "--out", "x"])
        .output()
        .expect("runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent"));
}

#[test]
fn one_cluster_one_class_and_a_damaged_run_json() {
    let d = dir("edges");
    // One centre; and a classifier that has seen a single class.
    let o = SourceOptions { batch_size: 64, label_column: None, ..SourceOptions::default() };
    let src = source::open("synth:blobs?n=640&d=1&k=1&seed=3", o).expect("valid");
    let stages = vec![
        ModelStage {
            events: None,
            replica: None,
            name: "km".into(),
            model: Model::from_spec("minibatch-kmeans(n_clusters=1)").expect("valid"),
            sink: Box::new(MemorySink::default()),
            labels_path: String::new(),
        },
        ModelStage {
            events: None,
            replica: None,
            name: "nb".into(),
            model: Model::from_spec("gaussian-nb").expect("valid"),
            sink: Box::new(MemorySink::default()),
            labels_path: String::new(),
        },
    ];
    let out = pipeline::run(src, stages, &PipelineOptions { track: true, ..PipelineOptions::default() }).expect("runs");
    for snap in &out.snapshots {
        let png = d.join(format!("{}.png", snap.model));
        plot::render(snap, &png, PlotFormat::Png).expect("one cluster or class still draws");
        assert!(png_stats(&png).2 >= 4, "{}", snap.model);
    }
    let record =
        RunRecord { input: "x".into(), records: 640, rejected: 0, seconds: 0.1, snapshots: out.snapshots.clone() };
    report::write(&record, &d.join("r")).expect("a report of one cluster");
    // A hand-damaged run.json is refused with a reason, not a panic.
    let mut text: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r/run.json")).expect("json")).expect("json");
    text["snapshots"][0]["sample_labels"] = serde_json::json!([0]);
    std::fs::write(d.join("r/run.json"), text.to_string()).expect("write");
    let err = RunRecord::load(&d.join("r")).expect_err("inconsistent");
    assert!(err.to_string().contains("does not fit together"), "{err}");
}

#[test]
fn bad_snapshot_options_and_an_unwritable_plots_folder() {
    let d = dir("badopts");
    let eddy = || std::process::Command::new(env!("CARGO_BIN_EXE_eddy"));
    let out = eddy()
        .current_dir(&d)
        .args([
            "run",
            "synth:blobs?n=100",
            "--model",
            "minibatch-kmeans(n_clusters=2)",
            "--labels-out",
            "l.csv",
            "--plots",
            "p",
            "--snapshot-interval",
            "1e30",
        ])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--snapshot-interval"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Pictures that cannot be written do not stop the stream: labels and summary still come.
    std::fs::write(d.join("not-a-folder"), b"").expect("write");
    let options = PipelineOptions {
        snapshots: Some(SnapshotOptions {
            dir: d.join("not-a-folder"),
            every_records: Some(100),
            interval: None,
            format: PlotFormat::Png,
            live: false,
        }),
        ..PipelineOptions::default()
    };
    let src = source::open(
        "synth:blobs?n=2000&d=2&k=2&seed=1",
        SourceOptions { batch_size: 100, ..SourceOptions::default() },
    )
    .expect("valid");
    let sink = MemorySink::default();
    let stage = ModelStage {
        events: None,
        replica: None,
        name: "km".into(),
        model: Model::from_spec("minibatch-kmeans(n_clusters=2)").expect("valid"),
        sink: Box::new(sink.clone()),
        labels_path: String::new(),
    };
    let outcome = pipeline::run(src, vec![stage], &options).expect("drawing errors do not fail the run");
    assert_eq!(sink.labels.lock().expect("lock").len(), 2000, "every record labelled");
    let stats = outcome.summary.snapshots.expect("snapshots on");
    assert_eq!(stats.drawn, 0);
    assert!(stats.skipped >= 1, "{stats:?}");
}

#[test]
fn pictures_drawn_while_the_stream_runs_name_the_classes() {
    let d = dir("midrun-names");
    let (x, y) = eddy::source::synth::Blobs::new(3, 3, 2).next_batch(5000);
    let mut text = String::from("a,b,c,kind\n");
    for (row, l) in x.outer_iter().zip(y.iter()) {
        text += &format!("{},{},{},kind-{l}\n", row[0], row[1], row[2]);
    }
    std::fs::write(d.join("in.csv"), text).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .current_dir(&d)
        .args(["run", "in.csv", "--label-column", "kind", "--model", "gaussian-nb", "--labels-out", "l.csv"])
        .args(["--plots", "plots", "--snapshot-every", "1000", "--plot-format", "svg", "--quiet"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut numbered: Vec<PathBuf> = std::fs::read_dir(d.join("plots"))
        .expect("plots")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("snapshot-")))
        .collect();
    numbered.sort();
    let first = std::fs::read_to_string(numbered.first().expect("a numbered snapshot")).expect("svg");
    // The first picture is drawn mid-stream (the first snapshot is never skipped)...
    assert!(!first.contains("after 5000 records"), "the first picture is the final one");
    assert!(first.contains("gaussian-nb after"), "a picture of the model");
    // ...and names the classes the source has met, not their ids.
    assert!(first.contains("kind-0") && first.contains("kind-1"), "class names in the mid-run picture");
}

/// `eddy` run in `d` with `args`; panics with its stderr when it fails.
fn eddy_in(d: &Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eddy")).current_dir(d).args(args).output().expect("runs");
    assert!(out.status.success(), "eddy {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn centre_text(row: ndarray::ArrayView1<f64>) -> String {
    row.iter().map(|v| format!("{v:.3}")).collect::<Vec<_>>().join(", ")
}

/// The text of an SVG picture of `snap`.
fn svg_text(snap: &eddy::snapshot::Snapshot, path: &Path) -> String {
    plot::render(snap, path, PlotFormat::Svg).expect("draws");
    std::fs::read_to_string(path).expect("svg")
}

#[test]
fn a_scaled_k_means_shows_input_units_everywhere_and_says_its_units() {
    let d = dir("scaled-units");
    eddy_in(
        &d,
        &[
            "run",
            "synth:blobs?n=4000&d=3&k=3&seed=4",
            "--model",
            "scale | minibatch-kmeans(n_clusters=3)",
            "--labels-out",
            "l.csv",
            "--save-model",
            "km.eddy",
            "--report",
            "run-report",
            "--quiet",
        ],
    );
    let (_, model) = eddy::model_file::load_model(&d.join("km.eddy"), &Default::default()).expect("loads");
    let km = model.as_clusterer().expect("k-means");
    let input = km.centers_in_input_units().expect("fitted");
    let standardised = km.cluster_centers().expect("fitted").to_owned();
    assert!((&input - &standardised).iter().any(|v| v.abs() > 0.5), "the blobs are not standardised already");

    // `eddy model show`: the state as stored, and beside it the centres in input units.
    let show = eddy_in(&d, &["model", "show", "km.eddy"]);
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    let shown: Vec<Vec<f64>> = serde_json::from_value(json["centers_in_input_units"].clone()).expect("centres");
    assert_eq!(shown, input.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>());
    let state = json["model"].to_string();
    assert!(state.contains(&standardised[[0, 0]].to_string()), "the stored state is shown as stored");

    // `eddy report model.eddy`: centres in input units, the standardised ones beside them.
    eddy_in(&d, &["report", "km.eddy", "--out", "file-report"]);
    let md = std::fs::read_to_string(d.join("file-report/report.md")).expect("report");
    for (c, row) in input.outer_iter().enumerate() {
        assert!(md.contains(&centre_text(row)), "centre {c} in input units:\n{md}");
        assert!(md.contains(&centre_text(standardised.row(c))), "centre {c} as the model keeps it:\n{md}");
    }
    assert!(md.contains("centre (input units)") && md.contains("centre (standardised units"), "{md}");
    assert!(
        md.contains("in standardised units, the units the model works in (it has `scale` in front)"),
        "the inertia's units:\n{md}"
    );

    // `eddy run --report`: the same centres, and every number with its units.
    let md = std::fs::read_to_string(d.join("run-report/report.md")).expect("report");
    for row in input.outer_iter() {
        assert!(md.contains(&centre_text(row)), "{md}");
    }
    assert!(md.contains("in standardised units, the units the model works in (it has `scale` in front)"), "{md}");
    assert!(md.contains("records, in input units: "), "the sample's inertia in input units:\n{md}");
    assert!(md.contains("spread mean / max (distance, input units)"), "{md}");
    assert!(md.contains("nearest centre (distance, input units)"), "{md}");

    // The picture projects the input space and says so; its inertia says its units.
    let record = RunRecord::load(&d.join("run-report")).expect("run.json");
    let svg = svg_text(&record.snapshots[0], &d.join("state.svg"));
    assert!(svg.contains("principal axis 1 (input units)"), "axis in input units");
    assert!(svg.contains("(standardised units)"), "the inertia's units in the picture");
}

#[test]
fn a_model_file_report_shows_what_the_file_has_and_nothing_it_lacks() {
    let d = dir("model-file-report");
    eddy_in(
        &d,
        &[
            "run",
            "synth:blobs?n=4000&d=3&k=3&seed=4",
            "--model",
            "minibatch-kmeans(n_clusters=3)",
            "--labels-out",
            "l.csv",
            "--save-model",
            "km.eddy",
            "--quiet",
        ],
    );
    eddy_in(&d, &["report", "km.eddy", "--out", "r"]);
    let (_, model) = eddy::model_file::load_model(&d.join("km.eddy"), &Default::default()).expect("loads");
    let km = model.as_clusterer().expect("k-means");
    let mean = km.inertia() / km.records_seen() as f64;
    let md = std::fs::read_to_string(d.join("r/report.md")).expect("report");
    assert!(md.contains(&format!("Mean inertia per record {mean:.4} in input units")), "{md}");
    assert!(!md.contains("Mean inertia per record -"), "{md}");
    assert!(!md.contains("last 0 records"), "{md}");
    assert!(!md.contains("0.00 s"), "{md}");
    assert!(!md.contains("timeline.png"), "no timeline picture:\n{md}");
    assert!(!d.join("r/km-timeline.png").exists());
    assert_eq!(md.matches("![").count(), 1, "the state picture only:\n{md}");
    let html = std::fs::read_to_string(d.join("r/report.html")).expect("html");
    assert_eq!(html.matches("data:image/png;base64,").count(), 1);
    assert!(png_stats(&d.join("r/km-state.png")).2 >= 8, "the centres and their sizes are drawn");

    // The picture shows the centres alone, and says so.
    let record = RunRecord::load(&d.join("r")).expect("run.json");
    let svg = svg_text(&record.snapshots[0], &d.join("state.svg"));
    assert!(!svg.contains("last 0 records") && svg.contains("centres alone"), "the picture's caption");
    // Reported again from its run.json, it is still a model file's report.
    eddy_in(&d, &["report", "r", "--out", "again"]);
    let again = std::fs::read_to_string(d.join("again/report.md")).expect("report");
    assert!(!again.contains("timeline.png") && !again.contains("0.00 s"), "{again}");
}

/// Pixels of exactly `colour` in a PNG.
fn pixels_of(path: &Path, colour: [u8; 3]) -> usize {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8();
    img.pixels().filter(|p| p.0 == colour).count()
}

/// A drift run's report: the timeline carries a mark per drift (the marks' colour is
/// there only with --drift), and the drift section lists every event of the events
/// file with the accuracy before and after it, from the run's timeline.
#[test]
fn a_drift_run_marks_its_timeline_and_reports_each_event() {
    let d = dir("drift");
    let input = "synth:sea?n=60000&period=20000&noise=0.1&seed=3";
    let run = |report: &str, drift: bool| {
        let mut args = vec!["run", input, "--label-column", "y", "--model", "gaussian-nb", "--report", report];
        let labels = format!("{report}.csv");
        args.extend(["--labels-out", &labels, "--quiet"]);
        if drift {
            args.extend(["--drift", "adwin", "--events-out", "events.ndjson"]);
        }
        eddy_in(&d, &args);
    };
    run("plain", false);
    run("drift", true);
    const MARK: [u8; 3] = [20, 20, 20];
    // (A few pixels of antialiased text may have the colour.)
    let plain = pixels_of(&d.join("plain/gaussian-nb-timeline.png"), MARK);
    assert!(plain < 100, "{plain} pixels of the marks' colour without --drift");
    let events: Vec<serde_json::Value> = std::fs::read_to_string(d.join("events.ndjson"))
        .expect("events")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let drifts = events.iter().filter(|e| e["kind"] == "drift").count();
    assert!(drifts >= 1, "SEA changes at 20,000: {events:?}");
    // A vertical mark two pixels wide over the chart's height, per drift (some may touch).
    let marked = pixels_of(&d.join("drift/gaussian-nb-timeline.png"), MARK);
    assert!(marked > plain + 300 * drifts, "{marked} mark pixels for {drifts} drifts");

    let md = std::fs::read_to_string(d.join("drift/report.md")).expect("report");
    let section = md.split("### Drift").nth(1).expect("a drift section");
    assert!(section.contains(&format!("0 warnings, {drifts} drifts")), "{section}");
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| record")).collect();
    assert_eq!(rows.len(), events.len(), "{section}");
    for (row, e) in rows.iter().zip(&events) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells[0], e["record"].to_string());
        assert_eq!((cells[1], cells[2]), ("errors", "drift"));
    }
    // Naive Bayes learns each concept anew: the accuracy after SEA's first change is
    // lower than before it, right after it (the first drift's "after" covers the
    // records to the next event).
    let first: Vec<&str> = rows[0].trim_matches('|').split('|').map(str::trim).collect();
    let (before, after): (f64, f64) = (first[4].parse().expect("a number"), first[5].parse().expect("a number"));
    assert!(before > 0.5 && after > 0.5 && before != after, "{first:?}");
    let record: eddy::report::RunRecord = RunRecord::load(&d.join("drift")).expect("run.json");
    let drift = record.snapshots[0].drift.as_ref().expect("the watch is in the snapshot");
    assert_eq!(drift.events.len(), events.len());
}

/// A clusterer's history: at each point the counts add up to the records seen, the
/// last point is the model as it ended, a walking centre is seen to move, and the
/// report draws it.
#[test]
fn a_clusterer_s_history_follows_its_centres_and_sizes() {
    let d = dir("history");
    eddy_in(
        &d,
        &[
            "run",
            "synth:blobs?n=40000&d=2&k=3&drift=0.002&seed=4",
            "--model",
            "minibatch-kmeans(n_clusters=3)",
            "--labels-out",
            "l.csv",
            "--report",
            "report",
            "--batch-size",
            "100",
            "--quiet",
        ],
    );
    let record = RunRecord::load(&d.join("report")).expect("run.json");
    let s = &record.snapshots[0];
    let history = &s.cluster_timeline;
    // 400 batches thin to at most 128 points.
    assert!((64..=128).contains(&history.len()), "{} points", history.len());
    for p in history {
        assert_eq!(p.counts.iter().sum::<u64>(), p.records, "every record goes to a cluster");
        assert_eq!(p.centers.dim(), (3, 2));
    }
    let last = history.last().expect("points");
    assert_eq!(last.records, 40_000);
    let Detail::Clusterer { centers, .. } = &s.detail else { panic!("a clusterer") };
    assert_eq!(&last.centers, centers, "the last point is the model as it ended");
    let counts: Vec<u64> = s.label_counts.values().copied().collect();
    assert_eq!(last.counts, counts);
    // Each coordinate walks with sd 0.002 per record: about 0.4 over 40,000 records,
    // so a centre moves far more than the noise of its estimate.
    let first = &history[0];
    let moved: f64 = (0..3)
        .map(|c| {
            let d2: f64 = first.centers.row(c).iter().zip(last.centers.row(c)).map(|(a, b)| (a - b) * (a - b)).sum();
            d2.sqrt()
        })
        .fold(0.0, f64::max);
    assert!(moved > 0.2, "the walking centres moved {moved}");
    let md = std::fs::read_to_string(d.join("report/report.md")).expect("report");
    assert!(md.contains("### Clusters over the run") && md.contains("minibatch-kmeans-clusters.png"), "{md}");
    let (w, h, colours) = png_stats(&d.join("report/minibatch-kmeans-clusters.png"));
    assert!(w > 0 && h > 0 && colours > 5);
}

/// A run of 3,000 records is three batches of 1,024: its timeline still has a point
/// every 64 records (classifiers and clusterers), each the score of the records
/// before it, and the scores at the end are the run's.
#[test]
fn a_small_run_s_timeline_has_a_point_every_64_records() {
    let run = |spec: &str, input: &str| {
        let o = SourceOptions { batch_size: 1024, ..SourceOptions::default() };
        let src = source::open(input, o).expect("valid");
        let stage = ModelStage {
            events: None,
            replica: None,
            name: "m".into(),
            model: Model::from_spec(spec).expect("valid"),
            sink: Box::new(MemorySink::default()),
            labels_path: String::new(),
        };
        let options = PipelineOptions { track: true, ..PipelineOptions::default() };
        pipeline::run(src, vec![stage], &options).expect("runs")
    };
    for (spec, input) in
        [("sgd", "synth:sea?n=3000&seed=3"), ("minibatch-kmeans(n_clusters=3)", "synth:blobs?n=3000&k=3&seed=3")]
    {
        let outcome = run(spec, input);
        let snap = outcome.snapshots.first().expect("tracked");
        let records: Vec<u64> = snap.timeline.iter().map(|p| p.records).collect();
        let mut want: Vec<u64> = (1..=3000 / 64).map(|i| i * 64).filter(|r| r % 1024 != 0).collect();
        want.extend([1024, 2048, 3000]);
        want.sort_unstable();
        assert_eq!(records, want, "{spec}");
        let last = snap.timeline.last().expect("points");
        match &snap.detail {
            Detail::Classifier { accuracy, .. } => assert_eq!(Some(last.overall), *accuracy),
            Detail::Clusterer { inertia, .. } => assert_eq!(Some(last.overall), *inertia),
        }
    }
}
