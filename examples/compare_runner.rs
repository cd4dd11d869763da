//! eddy's side of `benches/compare/`: runs a task on `.npy` files and prints one JSON line.
//!
//! `compare_runner kmeans X.npy Y.npy --batch-size 1024 --clusters 8 --seed 0`
//! `compare_runner sgd X.npy Y.npy --batch-size 1024 --seed 0 [--prefix N]`

use anyhow::{bail, Context, Result};
use eddy::metrics::{adjusted_rand_index, ClassificationMetrics};
use eddy::model::ClassifierModel;
use eddy::model::{Loss, MiniBatchKMeans, SgdClassifier};
use eddy::OnlineClassifier;
use ndarray::{s, Array1, Array2};
use ndarray_npy::read_npy;
use std::time::Instant;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [task, x_path, y_path, rest @ ..] = args.as_slice() else {
        bail!("usage: compare_runner kmeans|sgd X.npy Y.npy [--batch-size N] [--clusters K] [--seed S]");
    };
    let flag = |name: &str, default: u64| -> Result<u64> {
        match rest.iter().position(|a| a == name) {
            Some(i) => rest.get(i + 1).context("flag value")?.parse().context(name.to_string()),
            None => Ok(default),
        }
    };
    let batch = flag("--batch-size", 1024)? as usize;
    let seed = flag("--seed", 0)?;
    let x: Array2<f64> = read_npy(x_path).with_context(|| x_path.clone())?;
    let y: Array1<i64> = read_npy(y_path).with_context(|| y_path.clone())?;
    let n = x.nrows();
    match task.as_str() {
        "kmeans" => {
            let k = flag("--clusters", 8)? as usize;
            let mut km = MiniBatchKMeans::params().n_clusters(k).batch_size(batch).seed(seed).build()?;
            let start = Instant::now();
            for lo in (0..n).step_by(batch) {
                km.partial_fit(x.slice(s![lo..(lo + batch).min(n), ..]))?;
            }
            let seconds = start.elapsed().as_secs_f64();
            let labels = km.predict(x.view())?;
            let centers = km.cluster_centers().context("no centres")?;
            let inertia: f64 = x
                .outer_iter()
                .zip(labels.iter())
                .map(|(r, &l)| (&r - &centers.row(l as usize)).mapv(|v| v * v).sum())
                .sum::<f64>()
                / n as f64;
            let ari =
                adjusted_rand_index(y.as_slice().context("contiguous")?, labels.as_slice().context("contiguous")?);
            println!(
                "{}",
                serde_json::json!({"task": "kmeans", "records": n, "seconds": seconds,
                    "records_per_second": n as f64 / seconds, "ari": ari, "inertia": inertia})
            );
        }
        "sgd" => {
            let mut model = ClassifierModel::scaled(SgdClassifier::params().loss(Loss::Log).classes(&[0, 1]).build()?);
            let mut metrics = ClassificationMetrics::new(1000)?;
            // Accuracy on the first `--prefix` records too, to compare with River's shorter run.
            let prefix = flag("--prefix", 0)? as usize;
            let mut prefix_metrics = ClassificationMetrics::new(1000)?;
            let start = Instant::now();
            for lo in (0..n).step_by(batch) {
                let hi = (lo + batch).min(n);
                let yb = y.slice(s![lo..hi]);
                let predicted = model.learn_predict(x.slice(s![lo..hi, ..]), yb)?;
                let (truth, predicted) =
                    (yb.as_slice().context("contiguous")?, predicted.as_slice().context("contiguous")?);
                metrics.update(truth, predicted);
                let take = prefix.saturating_sub(lo).min(truth.len());
                prefix_metrics.update(&truth[..take], &predicted[..take]);
            }
            let seconds = start.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({"task": "sgd", "records": n, "seconds": seconds,
                    "records_per_second": n as f64 / seconds, "accuracy": metrics.accuracy(),
                    "accuracy_on_river_prefix": prefix_metrics.accuracy()})
            );
        }
        other => bail!("unknown task {other}: kmeans or sgd"),
    }
    Ok(())
}
