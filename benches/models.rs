//! `partial_fit` and `predict` of every estimator on 1024-row batches with 16
//! features (`cargo bench --bench models`). linfa's incremental KMeans runs
//! beside ours as a reference.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use eddy::model::*;
use eddy::preprocess::StandardScaler;
use eddy::source::synth::Blobs;
use eddy::{OnlineClassifier, OnlineClusterer};
use linfa::prelude::*;
use linfa::traits::FitWith;
use ndarray::{Array1, Array2};
use ndarray_rand::rand::SeedableRng;
use std::hint::black_box;

const ROWS: usize = 1024;
const FEATURES: usize = 16;

/// Batches to warm a model up with, then a fresh batch (rows, labels) to measure on.
type BenchData = (Vec<(Array2<f64>, Array1<i64>)>, Array2<f64>, Array1<i64>);

fn data(counts: bool) -> BenchData {
    let mut stream = Blobs::new(8, FEATURES, 1).cluster_std(2.0);
    let mut warm: Vec<_> = (0..8).map(|_| stream.next_batch(ROWS)).collect();
    let (mut x, y) = stream.next_batch(ROWS);
    if counts {
        for (b, _) in warm.iter_mut() {
            b.mapv_inplace(|v| (v + 20.0).max(0.0).floor());
        }
        x.mapv_inplace(|v| (v + 20.0).max(0.0).floor());
    }
    (warm, x, y)
}

fn classifier<M: OnlineClassifier + Clone>(c: &mut Criterion, name: &str, model: M, counts: bool) {
    let (warm, x, y) = data(counts);
    let mut m = model;
    for (wx, wy) in &warm {
        m.partial_fit(wx.view(), wy.view()).expect("valid");
    }
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function(BenchmarkId::new("partial_fit", format!("{ROWS}x{FEATURES}")), |b| {
        b.iter_batched_ref(|| m.clone(), |m| m.partial_fit(x.view(), y.view()).expect("valid"), BatchSize::SmallInput)
    });
    g.bench_function(BenchmarkId::new("learn_predict", format!("{ROWS}x{FEATURES}")), |b| {
        b.iter_batched_ref(
            || m.clone(),
            |m| black_box(m.learn_predict(x.view(), y.view()).expect("valid")),
            BatchSize::SmallInput,
        )
    });
    g.bench_function(BenchmarkId::new("predict", format!("{ROWS}x{FEATURES}")), |b| {
        b.iter(|| black_box(m.predict(x.view()).expect("valid")))
    });
    g.finish();
}

fn classifiers(c: &mut Criterion) {
    let classes: Vec<i64> = (0..8).collect();
    classifier(c, "sgd_log", SgdClassifier::params().loss(Loss::Log).classes(&classes).build().expect("valid"), false);
    classifier(c, "sgd_hinge", SgdClassifier::params().classes(&classes).build().expect("valid"), false);
    classifier(c, "perceptron", Perceptron::params().classes(&classes).build().expect("valid"), false);
    classifier(
        c,
        "passive_aggressive",
        PassiveAggressiveClassifier::params().classes(&classes).build().expect("valid"),
        false,
    );
    classifier(c, "gaussian_nb", GaussianNb::params().classes(&classes).build().expect("valid"), false);
    classifier(c, "multinomial_nb", MultinomialNb::params().classes(&classes).build().expect("valid"), true);
    let scaled =
        ClassifierModel::scaled(SgdClassifier::params().loss(Loss::Log).classes(&classes).build().expect("valid"));
    classifier(c, "scaled_sgd_log", scaled, false);
}

fn kmeans(c: &mut Criterion) {
    let (warm, x, _) = data(false);
    let mut m = MiniBatchKMeans::params().n_clusters(8).seed(1).build().expect("valid");
    let mut linfa_model = None;
    let linfa_params = linfa_clustering::KMeans::params_with_rng(8, rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1))
        .check()
        .expect("valid");
    for (wx, _) in &warm {
        m.partial_fit(wx.view()).expect("valid");
        linfa_model = Some(match linfa_params.fit_with(linfa_model.take(), &DatasetBase::from(wx.clone())) {
            Ok(k) | Err(linfa_clustering::IncrKMeansError::NotConverged(k)) => k,
            Err(e) => panic!("{e}"),
        });
    }
    let mut g = c.benchmark_group("minibatch_kmeans");
    g.throughput(Throughput::Elements(ROWS as u64));
    let id = format!("k8_{ROWS}x{FEATURES}");
    g.bench_function(BenchmarkId::new("partial_fit", &id), |b| {
        b.iter_batched_ref(|| m.clone(), |m| m.partial_fit(x.view()).expect("valid"), BatchSize::SmallInput)
    });
    g.bench_function(BenchmarkId::new("predict", &id), |b| b.iter(|| black_box(m.predict(x.view()).expect("valid"))));
    let dataset = DatasetBase::from(x.clone());
    g.bench_function(BenchmarkId::new("linfa_fit_with", &id), |b| {
        b.iter_batched(
            || linfa_model.clone(),
            |k| black_box(linfa_params.fit_with(k, &dataset).is_ok()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    let mut scaled = ClustererModel::scaled(m.clone());
    scaled.partial_fit(x.view()).expect("valid");
    let mut s = StandardScaler::new();
    let mut g = c.benchmark_group("standard_scaler");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function(BenchmarkId::new("partial_fit", format!("{ROWS}x{FEATURES}")), |b| {
        b.iter(|| s.partial_fit(x.view()).expect("valid"))
    });
    g.bench_function(BenchmarkId::new("learn_transform", format!("{ROWS}x{FEATURES}")), |b| {
        b.iter(|| black_box(s.learn_transform(x.view()).expect("valid")))
    });
    g.bench_function(BenchmarkId::new("transform", format!("{ROWS}x{FEATURES}")), |b| {
        b.iter(|| black_box(s.transform(x.view()).expect("valid")))
    });
    g.finish();
}

fn config() -> Criterion {
    // Short runs: the machine is shared, and ratios between rows matter more than digits.
    Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1))
}

criterion_group! { name = benches; config = config(); targets = classifiers, kmeans }
criterion_main!(benches);
