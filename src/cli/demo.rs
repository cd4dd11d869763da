//! `eddy demo`: the main job on generated streams, no input needed.

use super::run::{print_summary, quit_on_signal, write_summary};
use crate::model::registry::{self, Context as SpecContext};
use crate::pipeline::{self, ModelStage, PipelineOptions, RunSummary, SnapshotOptions, SnapshotStats};
use crate::plot::PlotFormat;
use crate::report::{self, RunRecord};
use crate::sink;
use crate::source::{self, SourceOptions};
use crate::spec::Value;
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

/// The demo's classifier: eddy's recommended drift-aware configuration, a Hedge vote
/// over logistic and hinge SGD at several constant steps (see `eddy model list`).
const CLASSIFIER: &str = "hedge";
/// The demo's clusterer: mini-batch k-means that halves the weight of the past every
/// batch (Spark's decay), so that it follows blobs that appear and vanish.
const CLUSTERER: &str = "minibatch-kmeans(n_clusters=8, decay_factor=0.5)";
/// The demo's model of records as they come: missing values filled, categories one-hot
/// encoded (new ones grow the model), then a scaled logistic regression.
const MIXED: &str = "impute | onehot | scale | sgd(loss=log_loss)";

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
            live: false,
        }),
        // Drift is watched on both streams: the classifier's errors and the clusterer's
        // distances (ADWIN), and the clusterer's clusters.
        drift: Some(crate::drift::build_text("adwin")?),
        cluster_events: Some(crate::drift::ClusterWatchParams::default()),
        ..PipelineOptions::default()
    };
    let (n, seed) = (config.records, config.seed);

    // SEA: a binary concept that changes abruptly at a quarter, half and three quarters
    // of the stream, through the drift-aware classifier, test-then-train.
    let inherited = vec![
        ("batch_size", Value::Int(config.batch_size.try_into().unwrap_or(i64::MAX))),
        ("random_state", Value::Int(seed.try_into().unwrap_or(i64::MAX))),
        ("seed", Value::Int(seed.try_into().unwrap_or(i64::MAX))),
    ];
    // Declared classes: before the first record the model predicts class 0, as scikit-learn would.
    let ctx = SpecContext { inherited: inherited.clone(), classes: Some(vec![0, 1]) };
    let drifting = format!("synth:sea?n={n}&period={}&seed={seed}", (n / 4).max(1));
    let first = one_run(config, &drifting, CLASSIFIER, &ctx, &options, &quit, false)?;

    // Blobs in 16 dimensions through mini-batch k-means that forgets: one blob stops at a
    // third of the stream (its centre is reseated), a new one appears at two thirds (a
    // centre moves to it).
    let clusters = SpecContext { inherited: inherited.clone(), classes: None };
    let blobs = format!("synth:blobs?n={n}&d=16&k=8&seed={}&vanish_at={}&appear_at={}", seed + 1, n / 3, 2 * n / 3);
    let second = one_run(config, &blobs, CLUSTERER, &clusters, &options, &quit, false)?;

    // Card transactions: numbers, categories and booleans, 5% of the values missing, a
    // new country and new merchants from half way.
    let mixed = format!("synth:mixed?n={n}&missing=0.05&new_at={}&seed={}", n / 2, seed + 2);
    let third = one_run(config, &mixed, MIXED, &ctx, &options, &quit, true)?;

    let (first, first_snapshots) = first;
    let (second, second_snapshots) = second;
    let (third, third_snapshots) = third;
    let seconds = first.seconds + second.seconds + third.seconds;
    let records = first.records + second.records + third.records;
    let summary = RunSummary {
        records,
        rejected: 0,
        seconds,
        records_per_second: records as f64 / seconds.max(1e-9),
        interrupted: first.interrupted || second.interrupted || third.interrupted,
        models: first.models.into_iter().chain(second.models).chain(third.models).collect(),
        classes: None,
        snapshots: match (first.snapshots, second.snapshots, third.snapshots) {
            (Some(a), Some(b), Some(c)) => {
                Some(SnapshotStats { drawn: a.drawn + b.drawn + c.drawn, skipped: a.skipped + b.skipped + c.skipped })
            }
            _ => None,
        },
    };
    let record = RunRecord {
        input: format!("{drifting}, {blobs} and {mixed}"),
        records,
        rejected: 0,
        seconds,
        snapshots: first_snapshots.into_iter().chain(second_snapshots).chain(third_snapshots).collect(),
    };
    record.save(&plots)?;
    let report = report::write(&record, &config.out.join("report"))?;
    let summary_path = config.out.join("summary.json");
    write_summary(&summary_path, &summary)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "eddy demo: SEA, whose concept changes every quarter ({CLASSIFIER}), blobs, one vanishing and one \
         appearing ({CLUSTERER}), and card transactions with categories and missing values ({MIXED}); ADWIN \
         watches the errors and distances, and every cluster is watched"
    )?;
    print_summary(&mut out, &summary)?;
    writeln!(out, "  summary: {}", summary_path.display())?;
    writeln!(out, "  events:  {}/events.<model>.ndjson", config.out.display())?;
    writeln!(out, "  plots:   {}/latest-<model>.png (and numbered snapshots)", plots.display())?;
    writeln!(out, "  report:  {}", report.html.display())?;
    writeln!(out, "           {}", report.markdown.display())?;
    Ok(ExitCode::SUCCESS)
}

fn one_run(
    config: &DemoConfig,
    input: &str,
    spec: &str,
    ctx: &SpecContext,
    options: &PipelineOptions,
    quit: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    missing: bool,
) -> Result<(RunSummary, Vec<crate::snapshot::Snapshot>)> {
    let source_options =
        SourceOptions { batch_size: config.batch_size, quit: quit.clone(), missing, ..SourceOptions::default() };
    let source = source::open(input, source_options)?;
    let (label, model) = registry::build_text(spec, ctx)?;
    // The same naming rule as `eddy run`: the model's label, or its estimator's name.
    let name = label.unwrap_or_else(|| model.estimator().to_string());
    let path = config.out.join(format!("labels.{name}.csv")).display().to_string();
    let events = config.out.join(format!("events.{name}.ndjson")).display().to_string();
    let sink = sink::create(&path, &name).with_context(|| format!("creating {path}"))?;
    let stage = ModelStage {
        events: Some(sink::EventsFile::create(&events).with_context(|| format!("creating {events}"))?),
        replica: None,
        name,
        model,
        sink,
        labels_path: path,
    };
    let outcome = pipeline::run(source, vec![stage], options)?;
    Ok((outcome.summary, outcome.snapshots))
}
