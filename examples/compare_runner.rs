//! eddy's side of `benches/compare/`: runs a task on `.npy` files and prints one JSON line.
//!
//! `compare_runner kmeans X.npy Y.npy --batch-size 1024 --clusters 8 --seed 0`
//! `compare_runner sgd X.npy Y.npy --batch-size 1024 --seed 0 [--prefix N]`
//! `compare_runner spec 'scale | sgd(loss=log_loss)' X.npy Y.npy [--batch-size N] [--classes 0,1]
//!     [--prefix N] [--predictions P.npy] [--state-out S.json]`: any model of the model
//!     language, prequentially; optionally its predictions and its final state
//! `compare_runner synth 'synth:sea?n=200000&seed=0' X.npy Y.npy`: write one of eddy's
//! generated streams to `.npy` files, for the other systems to read
//! `compare_runner detect 'adwin(delta=0.002)' VALUES.npy`: a drift detector over a
//! float64 column, the indices where it signalled and its updates per second

use anyhow::{bail, Context, Result};
use eddy::drift::Signal;
use eddy::metrics::{adjusted_rand_index, ClassificationMetrics};
use eddy::model::registry;
use eddy::model::{ClassifierModel, Loss, MiniBatchKMeans, Model, SgdClassifier};
use eddy::source::{Source, SourceOptions, SynthSource, SynthSpec};
use eddy::{OnlineClassifier, OnlineClusterer, NO_PREDICTION};
use ndarray::{concatenate, s, Array1, Array2, Axis};
use ndarray_npy::{read_npy, write_npy};
use std::time::Instant;

const USAGE: &str = "usage: compare_runner kmeans|sgd X.npy Y.npy [--batch-size N] [--clusters K] [--seed S] [--prefix N]
       compare_runner spec SPEC X.npy Y.npy [--batch-size N] [--classes A,B,..] [--prefix N] [--predictions P.npy] [--state-out S.json]
       compare_runner synth 'synth:NAME?n=..&seed=..' X.npy Y.npy
       compare_runner detect DETECTOR VALUES.npy";

/// The value after `name` in `rest`, if the flag is there.
fn flag_str<'a>(rest: &'a [String], name: &str) -> Result<Option<&'a str>> {
    match rest.iter().position(|a| a == name) {
        Some(i) => Ok(Some(rest.get(i + 1).with_context(|| format!("{name} needs a value"))?.as_str())),
        None => Ok(None),
    }
}

/// A whole-number flag, or its default.
fn flag(rest: &[String], name: &str, default: u64) -> Result<u64> {
    match flag_str(rest, name)? {
        Some(v) => v.parse().with_context(|| format!("{name} {v}")),
        None => Ok(default),
    }
}

fn read_xy(x_path: &str, y_path: &str) -> Result<(Array2<f64>, Array1<i64>)> {
    let x: Array2<f64> = read_npy(x_path).with_context(|| x_path.to_string())?;
    let y: Array1<i64> = read_npy(y_path).with_context(|| y_path.to_string())?;
    if x.nrows() != y.len() {
        bail!("{x_path} has {} rows but {y_path} has {} labels", x.nrows(), y.len());
    }
    Ok((x, y))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [task, x_path, y_path, rest @ ..] if task == "kmeans" || task == "sgd" => {
            let (x, y) = read_xy(x_path, y_path)?;
            if task == "kmeans" {
                kmeans(&x, &y, rest)
            } else {
                sgd(&x, &y, rest)
            }
        }
        [task, spec, x_path, y_path, rest @ ..] if task == "spec" => {
            let (x, y) = read_xy(x_path, y_path)?;
            run_spec(spec, &x, &y, rest)
        }
        [task, spec, x_path, y_path] if task == "synth" => synth(spec, x_path, y_path),
        [task, spec, values] if task == "detect" => detect(spec, values),
        [task, ..] if !["kmeans", "sgd", "spec", "synth", "detect"].contains(&task.as_str()) => {
            bail!("unknown task {task}: kmeans, sgd, spec, synth or detect\n{USAGE}")
        }
        _ => bail!("{USAGE}"),
    }
}

fn kmeans(x: &Array2<f64>, y: &Array1<i64>, rest: &[String]) -> Result<()> {
    let batch = flag(rest, "--batch-size", 1024)?.max(1) as usize;
    let seed = flag(rest, "--seed", 0)?;
    let k = flag(rest, "--clusters", 8)? as usize;
    let n = x.nrows();
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
    let ari = adjusted_rand_index(y.as_slice().context("contiguous")?, labels.as_slice().context("contiguous")?);
    println!(
        "{}",
        serde_json::json!({"task": "kmeans", "records": n, "seconds": seconds,
            "records_per_second": n as f64 / seconds, "ari": ari, "inertia": inertia})
    );
    Ok(())
}

fn sgd(x: &Array2<f64>, y: &Array1<i64>, rest: &[String]) -> Result<()> {
    let batch = flag(rest, "--batch-size", 1024)?.max(1) as usize;
    let n = x.nrows();
    let mut model = ClassifierModel::scaled(SgdClassifier::params().loss(Loss::Log).classes(&[0, 1]).build()?);
    let mut metrics = ClassificationMetrics::new(1000)?;
    // Accuracy on the first `--prefix` records too, to compare with River's shorter run.
    let prefix = flag(rest, "--prefix", 0)? as usize;
    let mut prefix_metrics = ClassificationMetrics::new(1000)?;
    let start = Instant::now();
    for lo in (0..n).step_by(batch) {
        let hi = (lo + batch).min(n);
        let yb = y.slice(s![lo..hi]);
        let predicted = model.learn_predict(x.slice(s![lo..hi, ..]), yb)?;
        let (truth, predicted) = (yb.as_slice().context("contiguous")?, predicted.as_slice().context("contiguous")?);
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
    Ok(())
}

/// Any model spec, prequentially: each batch goes through `learn_predict`, which
/// for a classifier predicts every row before learning it (River's
/// `predict_one` then `learn_one`).
fn run_spec(text: &str, x: &Array2<f64>, y: &Array1<i64>, rest: &[String]) -> Result<()> {
    let batch = flag(rest, "--batch-size", 1024)?.max(1) as usize;
    let prefix = flag(rest, "--prefix", 0)? as usize;
    let classes: Option<Vec<i64>> = flag_str(rest, "--classes")?
        .map(|list| {
            list.split(',').map(|c| c.trim().parse::<i64>().with_context(|| format!("--classes {list}"))).collect()
        })
        .transpose()?;
    let model = match &classes {
        None => Model::from_spec(text),
        Some(c) => registry::build_text(text, &registry::Context { classes: Some(c.clone()), ..Default::default() })
            .map(|(_, m)| m),
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let n = x.nrows();
    let spec = model.spec();
    let mut outputs: Vec<Array1<i64>> = Vec::with_capacity(n.div_ceil(batch));
    let mut model = model;
    let (seconds, kind) = match &mut model {
        Model::Classifier(m) => {
            let start = Instant::now();
            for lo in (0..n).step_by(batch) {
                let hi = (lo + batch).min(n);
                outputs.push(m.learn_predict(x.slice(s![lo..hi, ..]), y.slice(s![lo..hi]))?);
            }
            (start.elapsed().as_secs_f64(), "classifier")
        }
        Model::Clusterer(m) => {
            let start = Instant::now();
            for lo in (0..n).step_by(batch) {
                outputs.push(m.learn_predict(x.slice(s![lo..(lo + batch).min(n), ..]))?);
            }
            (start.elapsed().as_secs_f64(), "clusterer")
        }
    };
    if let Some(path) = flag_str(rest, "--state-out")? {
        // The final model as serde writes it (each stage's registry name and state).
        std::fs::write(path, serde_json::to_vec(&model)?).with_context(|| path.to_string())?;
    }
    let views: Vec<_> = outputs.iter().map(|a| a.view()).collect();
    let predicted = if views.is_empty() { Array1::zeros(0) } else { concatenate(Axis(0), &views)? };
    if let Some(path) = flag_str(rest, "--predictions")? {
        write_npy(path, &predicted).with_context(|| path.to_string())?;
    }
    let mut line = serde_json::json!({"task": "spec", "spec": spec, "kind": kind, "records": n,
        "seconds": seconds, "records_per_second": n as f64 / seconds, "classes": classes});
    if kind == "classifier" {
        // Every record counts: a NO_PREDICTION (no class known yet) is a miss.
        let correct = |upto: usize| predicted.iter().zip(y.iter()).take(upto).filter(|(p, t)| p == t).count();
        let prefix = prefix.min(n);
        line["accuracy"] = serde_json::json!(if n > 0 { correct(n) as f64 / n as f64 } else { f64::NAN });
        line["no_prediction"] = serde_json::json!(predicted.iter().filter(|&&p| p == NO_PREDICTION).count());
        if prefix > 0 {
            line["prefix"] = serde_json::json!(prefix);
            line["accuracy_on_prefix"] = serde_json::json!(correct(prefix) as f64 / prefix as f64);
        }
    } else {
        // The label each record got when it was learned, against the true ids.
        let (truth, labels) = (y.as_slice().context("contiguous")?, predicted.as_slice().context("contiguous")?);
        line["ari"] = serde_json::json!(adjusted_rand_index(truth, labels));
    }
    println!("{line}");
    Ok(())
}

/// Write `synth:...` (the stream `eddy run synth:...` reads) as `X.npy` (float64)
/// and `Y.npy` (int64).
fn synth(input: &str, x_path: &str, y_path: &str) -> Result<()> {
    let spec = SynthSpec::parse(input.strip_prefix("synth:").unwrap_or(input)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = SourceOptions { batch_size: 65_536, ..SourceOptions::default() };
    let mut source = SynthSource::new(spec, &options)?;
    if !source.categorical_names().is_empty() {
        // .npy holds numbers only: dropping the categories would change the task.
        bail!(
            "{input} has categorical columns ({}), which .npy cannot hold; read it with `eddy run {input} ...` \
             instead",
            source.categorical_names().join(", ")
        );
    }
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    while let Some(b) = source.next_batch()? {
        ys.extend(b.y.context("generated records carry labels")?);
        xs.push(b.x);
    }
    let views: Vec<_> = xs.iter().map(|a| a.view()).collect();
    let d = source.feature_names().len();
    let x = if views.is_empty() { Array2::zeros((0, d)) } else { concatenate(Axis(0), &views)? };
    write_npy(x_path, &x).with_context(|| x_path.to_string())?;
    write_npy(y_path, &Array1::from(ys)).with_context(|| y_path.to_string())?;
    println!("{}", serde_json::json!({"task": "synth", "input": input, "records": x.nrows(), "features": d}));
    Ok(())
}

/// A drift detector (the spec language of `eddy drift --detector`) over every value of
/// a float64 `.npy` column: the 0-based indices of the updates that signalled a drift
/// and a warning, and updates per second (the update loop only).
fn detect(spec: &str, values_path: &str) -> Result<()> {
    let values: Array1<f64> = read_npy(values_path).with_context(|| values_path.to_string())?;
    let mut detector = eddy::drift::build_text(spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut drifts, mut warnings) = (Vec::new(), Vec::new());
    let start = Instant::now();
    for (i, &v) in values.iter().enumerate() {
        match detector.update(v) {
            Signal::None => {}
            Signal::Warning => warnings.push(i),
            Signal::Drift => drifts.push(i),
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"task": "detect", "detector": detector.spec(), "updates": values.len(),
            "seconds": seconds, "updates_per_second": values.len() as f64 / seconds,
            "drifts": drifts, "warnings": warnings})
    );
    Ok(())
}
