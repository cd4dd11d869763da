//! Trains every eddy model on a generated stream, test-then-train, and prints its scores.
//!
//! `cargo run --example train_each_model`

use eddy::metrics::{ClassificationMetrics, ClusteringMetrics};
use eddy::model::ClassifierModel;
use eddy::model::*;
use eddy::source::synth::{Blobs, Hyperplane, Sea};
use eddy::OnlineClassifier;

type Batches = Vec<(ndarray::Array2<f64>, ndarray::Array1<i64>)>;

fn prequential(
    name: &str,
    model: &mut dyn OnlineClassifier,
    batches: &Batches,
) -> eddy::metrics::ClassificationMetrics {
    let mut scores = ClassificationMetrics::new(1000).expect("window > 0");
    for (x, y) in batches {
        let predicted = model.learn_predict(x.view(), y.view()).expect("generated data is valid");
        scores.update(y.as_slice().expect("contiguous"), predicted.as_slice().expect("contiguous"));
    }
    println!(
        "{name:<28} accuracy {:.3}  last-1000 {:.3}  macro-F1 {:.3}  ({} records)",
        scores.accuracy().unwrap_or(0.0),
        scores.rolling_accuracy().unwrap_or(0.0),
        scores.macro_f1().unwrap_or(0.0),
        scores.count()
    );
    scores
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut blobs = Blobs::new(4, 6, 7).cluster_std(1.5).drift(0.002);
    let drifting: Batches = (0..50).map(|_| blobs.next_batch(512)).collect();
    let mut plane = Hyperplane::new(10, 7);
    let hyperplane: Batches = (0..50).map(|_| plane.next_batch(512)).collect();
    let mut sea = Sea::new(5000, 7);
    let sea: Batches = (0..50).map(|_| sea.next_batch(512)).collect();
    let counts: Batches = drifting.iter().map(|(x, y)| (x.mapv(|v| (v + 15.0).max(0.0).round()), y.clone())).collect();

    println!("drifting blobs (4 classes):");
    prequential("  sgd log", &mut SgdClassifier::params().loss(Loss::Log).build()?, &drifting);
    prequential("  sgd hinge", &mut SgdClassifier::params().build()?, &drifting);
    prequential("  sgd modified huber", &mut SgdClassifier::params().loss(Loss::ModifiedHuber).build()?, &drifting);
    prequential("  perceptron", &mut Perceptron::params().build()?, &drifting);
    prequential("  passive-aggressive I", &mut PassiveAggressiveClassifier::params().build()?, &drifting);
    prequential("  gaussian nb", &mut GaussianNb::params().build()?, &drifting);
    prequential("  multinomial nb (counts)", &mut MultinomialNb::params().build()?, &counts);
    println!("hyperplane (gradual drift):");
    prequential(
        "  scaler + sgd log",
        &mut ClassifierModel::scaled(SgdClassifier::params().loss(Loss::Log).build()?),
        &hyperplane,
    );
    prequential(
        "  scaler + passive-aggr. II",
        &mut ClassifierModel::scaled(PassiveAggressiveClassifier::params().loss(PaLoss::SquaredHinge).c(0.01).build()?),
        &hyperplane,
    );
    println!("SEA (abrupt drift):");
    prequential("  scaler + sgd hinge", &mut ClassifierModel::scaled(SgdClassifier::params().build()?), &sea);
    prequential("  gaussian nb", &mut GaussianNb::params().build()?, &sea);

    let mut stream = Blobs::new(8, 16, 3);
    let mut km = MiniBatchKMeans::params().n_clusters(8).seed(3).build()?;
    let mut scores = ClusteringMetrics::new();
    for _ in 0..100 {
        let (x, y) = stream.next_batch(1024);
        let labels = km.learn_predict(x.view())?;
        scores.update(
            km.batch_inertia(),
            labels.as_slice().expect("contiguous"),
            Some(y.as_slice().expect("contiguous")),
        );
    }
    println!(
        "blobs, mini-batch k-means (k = 8): mean inertia {:.3}  ARI {:.3}  counts {:?}",
        scores.mean_inertia().unwrap_or(0.0),
        scores.ari().unwrap_or(0.0),
        km.counts().to_vec()
    );
    println!("  centres moved by reassignment: {}", km.n_reassigned());
    Ok(())
}
