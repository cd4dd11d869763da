//! `eddy demo`: the main job on generated streams, no input needed.

use crate::metrics::{ClassificationMetrics, ClusteringMetrics};
use crate::model::{Loss, MiniBatchKMeans, SgdClassifier};
use crate::preprocess::Scaled;
use crate::source::synth::Blobs;
use crate::OnlineClassifier;
use anyhow::{Context, Result};
use serde_json::json;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Output directory.
    pub out: PathBuf,
    /// Records per stream.
    pub records: usize,
    /// Rows per batch.
    pub batch_size: usize,
    /// Seed of streams and models.
    pub seed: u64,
}

/// Writes `id,label` lines, one per record, ids counting from 0.
struct LabelWriter {
    out: BufWriter<File>,
    next_id: u64,
}

impl LabelWriter {
    fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "id,label")?;
        Ok(Self { out, next_id: 0 })
    }

    fn write(&mut self, labels: &[i64]) -> Result<()> {
        for &l in labels {
            writeln!(self.out, "{},{}", self.next_id, l)?;
            self.next_id += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

/// Run both demo streams and write labels and `summary.json` into `config.out`.
pub fn run(config: &DemoConfig) -> Result<()> {
    anyhow::ensure!(config.batch_size > 0, "--batch-size must be at least 1");
    std::fs::create_dir_all(&config.out).with_context(|| format!("creating {}", config.out.display()))?;
    let start = Instant::now();

    // A drifting multi-class stream through a scaler and logistic SGD, test-then-train.
    let classifier_labels = config.out.join("labels.sgd.csv");
    const CLASSES: [i64; 5] = [0, 1, 2, 3, 4];
    let mut stream = Blobs::new(CLASSES.len(), 8, config.seed).cluster_std(2.5).drift(0.001);
    // Declared classes: before the first row the model predicts class 0, as scikit-learn would.
    let mut model = Scaled::new(SgdClassifier::params().loss(Loss::Log).classes(&CLASSES).build()?);
    let mut scores = ClassificationMetrics::new(10_000)?;
    let mut writer = LabelWriter::create(&classifier_labels)?;
    for n in batch_sizes(config.records, config.batch_size) {
        let (x, y) = stream.next_batch(n);
        let predicted = model.learn_predict(x.view(), y.view())?;
        scores.update(slice(&y)?, slice(&predicted)?);
        writer.write(slice(&predicted)?)?;
    }
    writer.finish()?;

    // A blob stream through mini-batch k-means.
    let kmeans_labels = config.out.join("labels.kmeans.csv");
    let mut stream = Blobs::new(8, 16, config.seed + 1);
    let mut km = MiniBatchKMeans::params().n_clusters(8).batch_size(config.batch_size).seed(config.seed).build()?;
    let mut clustering = ClusteringMetrics::new();
    let mut writer = LabelWriter::create(&kmeans_labels)?;
    for n in batch_sizes(config.records, config.batch_size) {
        let (x, y) = stream.next_batch(n);
        let assigned = km.learn_predict(x.view())?;
        clustering.update(km.batch_inertia(), slice(&assigned)?, Some(slice(&y)?));
        writer.write(slice(&assigned)?)?;
    }
    writer.finish()?;

    let seconds = start.elapsed().as_secs_f64();
    let records = 2 * config.records;
    let summary = json!({
        "records": records,
        "rejected": 0,
        "seconds": seconds,
        "records_per_second": records as f64 / seconds.max(1e-9),
        "models": [
            {
                "model": "sgd",
                "labels": classifier_labels,
                "metrics": {
                    "accuracy": scores.accuracy(),
                    "rolling_accuracy": scores.rolling_accuracy(),
                    "macro_f1": scores.macro_f1(),
                },
            },
            {
                "model": "minibatch-kmeans",
                "labels": kmeans_labels,
                "metrics": {
                    "inertia": clustering.mean_inertia(),
                    "ari": clustering.ari(),
                    "counts": km.counts().to_vec(),
                },
            },
        ],
    });
    let summary_path = config.out.join("summary.json");
    std::fs::write(&summary_path, serde_json::to_string_pretty(&summary)?)
        .with_context(|| format!("writing {}", summary_path.display()))?;

    println!("eddy demo: {records} records in {seconds:.2} s ({:.0} records/s)", records as f64 / seconds.max(1e-9));
    println!(
        "  sgd (scaler + log loss) on a drifting 5-class stream: prequential accuracy {:.4}, macro F1 {:.4}",
        scores.accuracy().unwrap_or(0.0),
        scores.macro_f1().unwrap_or(0.0)
    );
    println!(
        "  mini-batch k-means (k = 8) on blobs: mean inertia {:.3}, ARI {:.4}",
        clustering.mean_inertia().unwrap_or(0.0),
        clustering.ari().unwrap_or(0.0)
    );
    println!("  labels:  {}", classifier_labels.display());
    println!("           {}", kmeans_labels.display());
    println!("  summary: {}", summary_path.display());
    Ok(())
}

/// Batch sizes that add up to `total`.
fn batch_sizes(total: usize, batch: usize) -> impl Iterator<Item = usize> {
    (0..total).step_by(batch).map(move |start| batch.min(total - start))
}

fn slice<T>(a: &ndarray::Array1<T>) -> Result<&[T]> {
    a.as_slice().context("labels are contiguous")
}
