//! End-to-end throughput (`cargo bench --bench pipeline`): the threaded pipeline
//! against the bare model loop on the same generated stream, from `.npy` and from
//! CSV, and the CSV parser alone. Rows per second are in criterion's `thrpt`;
//! CSV bytes per second in the `csv_parse` group.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eddy::model::{MiniBatchKMeans, Model};
use eddy::pipeline::{self, ModelStage, PipelineOptions, SnapshotOptions};
use eddy::plot::PlotFormat;
use eddy::sink::LabelSink;
use eddy::source::{self, synth::Blobs, SourceOptions};
use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;

const RECORDS: u64 = 400_000;
const BATCH: usize = 1024;

/// Counts labels and drops them: measures everything but writing.
struct Discard(u64);

impl LabelSink for Discard {
    fn write(&mut self, _ids: &[u64], labels: &[i64]) -> std::io::Result<()> {
        self.0 += labels.len() as u64;
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn sync(&mut self) -> std::io::Result<u64> {
        Ok(self.0)
    }
}

fn kmeans_spec() -> String {
    format!("minibatch-kmeans(n_clusters=8, batch_size={BATCH}, random_state=1)")
}

fn run(input: &str, specs: &[String], label_column: Option<&str>) -> u64 {
    let options =
        SourceOptions { batch_size: BATCH, label_column: label_column.map(String::from), ..SourceOptions::default() };
    let source = source::open(input, options).expect("input opens");
    let stages = specs
        .iter()
        .map(|s| ModelStage {
            events: None,
            replica: None,
            name: s.clone(),
            model: Model::from_spec(s).expect("valid"),
            sink: Box::new(Discard(0)),
            labels_path: String::new(),
        })
        .collect();
    pipeline::run(source, stages, &PipelineOptions::default()).expect("runs").summary.records
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("eddy-bench-{name}"))
}

/// 16 float features (and a label column for the classifier bench), written once.
fn csv_file(features: usize, with_label: bool) -> PathBuf {
    let path = temp(&format!("{features}{}.csv", if with_label { "l" } else { "" }));
    if path.exists() {
        return path;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let names: Vec<String> = (0..features).map(|i| format!("f{i}")).collect();
    writeln!(out, "{}{}", names.join(","), if with_label { ",label" } else { "" }).expect("write");
    let mut blobs = Blobs::new(8, features, 1);
    let mut left = RECORDS as usize;
    while left > 0 {
        let (x, y) = blobs.next_batch(left.min(BATCH));
        for (row, label) in x.outer_iter().zip(y.iter()) {
            let fields: Vec<String> = row.iter().map(|v| format!("{v:.6}")).collect();
            write!(out, "{}", fields.join(",")).expect("write");
            if with_label {
                write!(out, ",{}", label % 2).expect("write");
            }
            writeln!(out).expect("write");
        }
        left -= x.nrows();
    }
    path
}

/// The same records as NDJSON objects with a string label, written once.
fn ndjson_file(features: usize) -> PathBuf {
    let path = temp(&format!("{features}l.ndjson"));
    if path.exists() {
        return path;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut blobs = Blobs::new(8, features, 1);
    let mut left = RECORDS as usize;
    while left > 0 {
        let (x, y) = blobs.next_batch(left.min(BATCH));
        for (row, label) in x.outer_iter().zip(y.iter()) {
            let fields: Vec<String> = row.iter().enumerate().map(|(i, v)| format!("\"f{i}\":{v:.6}")).collect();
            writeln!(out, "{{{},\"label\":\"k{label}\"}}", fields.join(",")).expect("write");
        }
        left -= x.nrows();
    }
    path
}

fn from_generator(c: &mut Criterion) {
    let input = format!("synth:blobs?n={RECORDS}&d=16&k=8&seed=1");
    let mut g = c.benchmark_group("kmeans_16x8_from_generator");
    g.sample_size(10).throughput(Throughput::Elements(RECORDS));
    // The bare loop: generate a batch, learn it, on one thread.
    g.bench_function("model_loop", |b| {
        b.iter(|| {
            let mut blobs = Blobs::new(8, 16, 1);
            let mut km = MiniBatchKMeans::params().n_clusters(8).batch_size(BATCH).seed(1).build().expect("valid");
            let mut left = RECORDS as usize;
            while left > 0 {
                let (x, _) = blobs.next_batch(left.min(BATCH));
                black_box(km.learn_predict(x.view()).expect("valid"));
                left -= x.nrows();
            }
        })
    });
    g.bench_function("pipeline", |b| b.iter(|| black_box(run(&input, &[kmeans_spec()], None))));
    let two = [kmeans_spec(), "gaussian-nb".to_string()];
    g.bench_function("pipeline_two_models", |b| b.iter(|| black_box(run(&input, &two, None))));
    g.finish();
}

fn from_files(c: &mut Criterion) {
    let npy = temp("16.npy");
    if !npy.exists() {
        let (x, _) = Blobs::new(8, 16, 1).next_batch(RECORDS as usize);
        ndarray_npy::write_npy(&npy, &x).expect("write npy");
    }
    let csv = csv_file(16, false);
    let csv_labelled = csv_file(10, true);
    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(10).throughput(Throughput::Elements(RECORDS));
    g.bench_function("kmeans_16x8_from_npy", |b| {
        b.iter(|| black_box(run(npy.to_str().expect("utf8"), &[kmeans_spec()], None)))
    });
    g.bench_function("kmeans_16x8_from_csv", |b| {
        b.iter(|| black_box(run(csv.to_str().expect("utf8"), &[kmeans_spec()], None)))
    });
    let sgd = "scale | sgd(loss=log_loss)".to_string();
    g.bench_function("scaler_sgd_log_10_from_csv", |b| {
        b.iter(|| black_box(run(csv_labelled.to_str().expect("utf8"), std::slice::from_ref(&sgd), Some("label"))))
    });
    g.finish();

    // Parsing alone, on every core (the default) and on the calling thread (`threads: 1`).
    let parse_all = |path: &std::path::Path, label: Option<&str>, threads: usize| {
        let options = SourceOptions {
            batch_size: BATCH,
            label_column: label.map(str::to_string),
            threads,
            ..SourceOptions::default()
        };
        let mut src = source::open(path.to_str().expect("utf8"), options).expect("opens");
        let mut n = 0;
        while let Some(batch) = src.next_batch().expect("parses") {
            n += batch.len();
        }
        n
    };
    let bytes = std::fs::metadata(&csv).expect("csv").len();
    let mut g = c.benchmark_group("csv_parse");
    g.sample_size(10).throughput(Throughput::Bytes(bytes));
    g.bench_function("16_floats", |b| b.iter(|| black_box(parse_all(&csv, None, 0))));
    g.bench_function("16_floats_one_thread", |b| b.iter(|| black_box(parse_all(&csv, None, 1))));
    g.finish();

    let ndjson = ndjson_file(16);
    let bytes = std::fs::metadata(&ndjson).expect("ndjson").len();
    let mut g = c.benchmark_group("ndjson_parse");
    g.sample_size(10).throughput(Throughput::Bytes(bytes));
    g.bench_function("16_floats_and_a_label", |b| b.iter(|| black_box(parse_all(&ndjson, Some("label"), 0))));
    g.bench_function("16_floats_and_a_label_one_thread", |b| {
        b.iter(|| black_box(parse_all(&ndjson, Some("label"), 1)))
    });
    g.finish();
}

/// The cost of drawing: the same k-means run with a snapshot every 100k records, and without.
fn snapshots(c: &mut Criterion) {
    const N: u64 = 10_000_000;
    let input = format!("synth:blobs?n={N}&d=16&k=8&seed=1");
    let dir = temp("snapshots");
    std::fs::create_dir_all(&dir).expect("dir");
    let run_with = |snapshots: Option<SnapshotOptions>, track: bool| {
        let options = SourceOptions { batch_size: BATCH, ..SourceOptions::default() };
        let source = source::open(&input, options).expect("opens");
        let stage = ModelStage {
            events: None,
            replica: None,
            name: "kmeans".into(),
            model: Model::from_spec(&kmeans_spec()).expect("valid"),
            sink: Box::new(Discard(0)),
            labels_path: String::new(),
        };
        let options = PipelineOptions { snapshots, track, ..PipelineOptions::default() };
        pipeline::run(source, vec![stage], &options).expect("runs").summary.records
    };
    let mut g = c.benchmark_group("snapshots_kmeans_16x8");
    g.sample_size(10).throughput(Throughput::Elements(N));
    g.bench_function("none", |b| b.iter(|| black_box(run_with(None, false))));
    // Keeping the state a snapshot copies, without drawing: the cost on the model thread.
    g.bench_function("tracking_only", |b| b.iter(|| black_box(run_with(None, true))));
    g.bench_function("every_100k", |b| {
        b.iter(|| {
            black_box(run_with(
                Some(SnapshotOptions {
                    dir: dir.clone(),
                    every_records: Some(100_000),
                    interval: None,
                    format: PlotFormat::Png,
                    live: false,
                }),
                false,
            ))
        })
    });
    g.finish();
}

/// The cost of checkpoints: k-means on 10M records, with a checkpoint every 100k records
/// (each fsynced and renamed) and without; and how long loading a model file takes.
fn checkpoints(c: &mut Criterion) {
    const N: u64 = 10_000_000;
    let input = format!("synth:blobs?n={N}&d=16&k=8&seed=1");
    let dir = temp("checkpoints");
    std::fs::create_dir_all(&dir).expect("dir");
    let run_with = |checkpoint: Option<eddy::checkpoint::CheckpointOptions>| {
        let source =
            source::open(&input, SourceOptions { batch_size: BATCH, ..SourceOptions::default() }).expect("opens");
        let stage = ModelStage {
            events: None,
            replica: None,
            name: "kmeans".into(),
            model: Model::from_spec(&kmeans_spec()).expect("valid"),
            sink: Box::new(Discard(0)),
            labels_path: String::new(),
        };
        let options = PipelineOptions { checkpoint, ..PipelineOptions::default() };
        pipeline::run(source, vec![stage], &options).expect("runs").summary.records
    };
    let mut g = c.benchmark_group("checkpoints_kmeans_16x8");
    g.sample_size(10).throughput(Throughput::Elements(N));
    g.bench_function("none", |b| b.iter(|| black_box(run_with(None))));
    g.bench_function("every_100k", |b| {
        b.iter(|| {
            black_box(run_with(Some(eddy::checkpoint::CheckpointOptions {
                dir: dir.clone(),
                every_records: 100_000,
                interval: None,
                keep: 2,
                keys: eddy::model_file::Keys::default(),
                features: (0..16).map(|i| format!("f{i}")).collect(),
                settings: Vec::new(),
            })))
        })
    });
    g.finish();

    // Loading (verifying and decoding) a saved k-means model.
    let mut model = Model::from_spec(&kmeans_spec()).expect("valid");
    let (x, _) = Blobs::new(8, 16, 1).next_batch(4096);
    if let eddy::model::Model::Clusterer(m) = &mut model {
        eddy::OnlineClusterer::partial_fit(m, x.view()).expect("valid");
    }
    let path = dir.join("model.eddy");
    let header = eddy::model_file::Header::for_model(&model, (0..16).map(|i| format!("f{i}")).collect(), None);
    let keys = eddy::model_file::Keys {
        signing: Some(eddy::model_file::Key::from_bytes([1; 32])),
        encryption: Some(eddy::model_file::Key::from_bytes([2; 32])),
    };
    eddy::model_file::save(&path, &header, &model, &keys).expect("saves");
    c.bench_function("model_file/load_signed_encrypted_kmeans_16x8", |b| {
        b.iter(|| black_box(eddy::model_file::load::<eddy::model::Model>(&path, "model", &keys).expect("loads")))
    });
}

criterion_group!(benches, from_generator, from_files, snapshots, checkpoints);
criterion_main!(benches);
