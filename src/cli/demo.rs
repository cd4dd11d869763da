//! `eddy demo`: the main job on generated streams, no input needed.

use super::run::{print_summary, quit_on_signal, write_summary};
use crate::model::{Loss, ModelKind, ModelSpec};
use crate::pipeline::{self, ModelStage, PipelineOptions, RunSummary, SnapshotOptions, SnapshotStats};
use crate::plot::PlotFormat;
use crate::report::{self, RunRecord};
use crate::sink;
use crate::source::{self, SourceOptions};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Output directory.
    pub out: PathBuf,
    /// Records per stream.
    pub records: u64,
    /// Rows per batch.
    pub batch_size: usize,
    /// Seed of streams and models.
    pub seed: u64,
}

/// Run both demo streams through the pipeline; write labels and `summary.json` into `config.out`.
pub fn run(config: &DemoConfig) -> Result<ExitCode> {
    anyhow::ensure!(config.batch_size > 0, "--batch-size must be at least 1");
    std::fs::create_dir_all(&config.out).with_context(|| format!("creating {}", config.out.display()))?;
    let quit = quit_on_signal();
    let plots = config.out.join("plots");
    std::fs::create_dir_all(&plots).with_context(|| format!("creating {}", plots.display()))?;
    let options = PipelineOptions {
        quit: quit.clone(),
        snapshots: Some(SnapshotOptions {
            dir: plots.clone(),
            every_records: Some((config.records / 4).max(1)),
            interval: None,
            format: PlotFormat::Png,
        }),
        ..PipelineOptions::default()
    };
    let (n, seed) = (config.records, config.seed);

    // A drifting 5-class stream through a running scaler and logistic SGD, test-then-train.
    let classifier = ModelSpec {
        kind: ModelKind::Sgd,
        loss: Loss::Log,
        scale: true,
        seed,
        batch_size: config.batch_size,
        // Declared classes: before the first record the model predicts class 0, as scikit-learn would.
        classes: Some((0..5).collect()),
        ..ModelSpec::default()
    };
    let drifting = format!("synth:blobs?n={n}&d=8&k=5&std=2.5&drift=0.001&seed={seed}");
    let first = one_run(config, &drifting, classifier, "labels.sgd.csv", &options, &quit)?;

    // Eight blobs in 16 dimensions through mini-batch k-means.
    let kmeans = ModelSpec {
        kind: ModelKind::MinibatchKmeans,
        clusters: 8,
        batch_size: config.batch_size,
        seed,
        ..ModelSpec::default()
    };
    let blobs = format!("synth:blobs?n={n}&d=16&k=8&seed={}", seed + 1);
    let second = one_run(config, &blobs, kmeans, "labels.kmeans.csv", &options, &quit)?;

    let (first, first_snapshots) = first;
    let (second, second_snapshots) = second;
    let seconds = first.seconds + second.seconds;
    let records = first.records + second.records;
    let summary = RunSummary {
        records,
        rejected: 0,
        seconds,
        records_per_second: records as f64 / seconds.max(1e-9),
        interrupted: first.interrupted || second.interrupted,
        models: first.models.into_iter().chain(second.models).collect(),
        classes: None,
        snapshots: match (first.snapshots, second.snapshots) {
            (Some(a), Some(b)) => Some(SnapshotStats { drawn: a.drawn + b.drawn, skipped: a.skipped + b.skipped }),
            _ => None,
        },
    };
    let record = RunRecord {
        input: format!("{drifting} and {blobs}"),
        records,
        rejected: 0,
        seconds,
        snapshots: first_snapshots.into_iter().chain(second_snapshots).collect(),
    };
    record.save(&plots)?;
    let report = report::write(&record, &config.out.join("report"))?;
    let summary_path = config.out.join("summary.json");
    write_summary(&summary_path, &summary)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "eddy demo: a drifting 5-class stream (scaler + logistic SGD) and 8 blobs (mini-batch k-means)")?;
    print_summary(&mut out, &summary)?;
    writeln!(out, "  summary: {}", summary_path.display())?;
    writeln!(out, "  plots:   {}/latest-<model>.png (and numbered snapshots)", plots.display())?;
    writeln!(out, "  report:  {}", report.html.display())?;
    writeln!(out, "           {}", report.markdown.display())?;
    Ok(ExitCode::SUCCESS)
}

fn one_run(
    config: &DemoConfig,
    input: &str,
    spec: ModelSpec,
    labels: &str,
    options: &PipelineOptions,
    quit: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<(RunSummary, Vec<crate::snapshot::Snapshot>)> {
    let source_options =
        SourceOptions { batch_size: config.batch_size, quit: quit.clone(), ..SourceOptions::default() };
    let source = source::open(input, source_options)?;
    let path = config.out.join(labels).display().to_string();
    let stage = ModelStage {
        name: spec.kind.name().to_string(),
        model: spec.build()?,
        sink: sink::create(&path).with_context(|| format!("creating {path}"))?,
        labels_path: path,
    };
    let outcome = pipeline::run(source, vec![stage], options)?;
    Ok((outcome.summary, outcome.snapshots))
}
