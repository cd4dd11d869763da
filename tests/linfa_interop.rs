//! eddy's models the linfa way (Datasets, `FitWith`, `Predict`), and linfa's own
//! mini-batch k-means as a cross-check of ours.

use eddy::metrics::adjusted_rand_index;
use eddy::model::{GaussianNb, MiniBatchKMeans, SgdClassifier};
use eddy::source::synth::Blobs;
use linfa::prelude::*;
use linfa::traits::FitWith;
use linfa_clustering::{IncrKMeansError, KMeans};
use ndarray::Array1;
use ndarray_rand::rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

#[test]
fn fit_with_and_predict_on_linfa_datasets() {
    let mut stream = Blobs::new(3, 4, 9);
    let params = SgdClassifier::params().classes(&[0, 1, 2]);
    let mut model: Option<SgdClassifier> = None;
    for _ in 0..10 {
        let (x, y) = stream.next_batch(200);
        let dataset = Dataset::new(x, y);
        model = Some(params.fit_with(model.take(), &dataset).expect("valid batch"));
    }
    let model = model.expect("trained");
    let (x, y) = stream.next_batch(500);
    let predicted: Array1<i64> = Predict::predict(&model, &x);
    let accuracy = predicted.iter().zip(y.iter()).filter(|(p, t)| p == t).count() as f64 / 500.0;
    assert!(accuracy > 0.9, "accuracy {accuracy}");
    // A Dataset in, a Dataset with the predictions as targets out.
    let out = Predict::predict(&model, Dataset::new(x.clone(), y.clone()));
    assert_eq!(out.targets(), &predicted);

    let gnb = GaussianNb::params().fit_with(None, &Dataset::new(x.clone(), y.clone())).expect("valid");
    let p: Array1<i64> = Predict::predict(&gnb, &x);
    assert_eq!(p.len(), 500);
}

#[test]
fn linfa_predict_on_a_bad_batch_is_no_prediction_not_a_panic() {
    let (x, y) = Blobs::new(2, 3, 1).next_batch(50);
    let model = SgdClassifier::params().fit_with(None, &Dataset::new(x, y)).expect("valid");
    let wrong = ndarray::Array2::<f64>::zeros((4, 2));
    let p: Array1<i64> = Predict::predict(&model, &wrong);
    assert!(p.iter().all(|&l| l == eddy::NO_PREDICTION));
}

/// The same batches through linfa's incremental KMeans and ours: both recover the
/// blobs, and ours is at least as tight.
#[test]
fn cross_check_with_linfa_kmeans() {
    let mut stream = Blobs::new(6, 4, 21);
    let batches: Vec<_> = (0..40).map(|_| stream.next_batch(256)).collect();
    let ours_params = MiniBatchKMeans::params().n_clusters(6).batch_size(256).seed(3);
    let mut ours = ours_params.build().expect("valid");
    let theirs_params =
        KMeans::params_with_rng(6, Xoshiro256PlusPlus::seed_from_u64(3)).tolerance(1e-3).check().expect("valid");
    let mut theirs: Option<KMeans<f64, linfa_nn::distance::L2Dist>> = None;
    for (x, _) in &batches {
        ours.partial_fit(x.view()).expect("valid");
        theirs = Some(match theirs_params.fit_with(theirs.take(), &DatasetBase::from(x.clone())) {
            Ok(m) | Err(IncrKMeansError::NotConverged(m)) => m,
            Err(e) => panic!("linfa: {e}"),
        });
    }
    let theirs = theirs.expect("fitted");
    let (x, truth) = stream.next_batch(3000);
    let ours_labels = ours.predict(x.view()).expect("valid");
    let theirs_labels: Array1<usize> = theirs.predict(&x);
    let theirs_labels = theirs_labels.mapv(|l| l as i64);
    let inertia = |centers: ndarray::ArrayView2<f64>| -> f64 {
        x.outer_iter()
            .map(|r| centers.outer_iter().map(|c| (&r - &c).mapv(|v| v * v).sum()).fold(f64::INFINITY, f64::min))
            .sum::<f64>()
            / x.nrows() as f64
    };
    let ours_inertia = inertia(ours.cluster_centers().expect("fitted"));
    let theirs_inertia = inertia(theirs.centroids().view());
    let ours_ari =
        adjusted_rand_index(truth.as_slice().expect("contiguous"), ours_labels.as_slice().expect("contiguous"));
    let theirs_ari =
        adjusted_rand_index(truth.as_slice().expect("contiguous"), theirs_labels.as_slice().expect("contiguous"));
    println!(
        "eddy: inertia {ours_inertia:.3} ARI {ours_ari:.3}; linfa: inertia {theirs_inertia:.3} ARI {theirs_ari:.3}"
    );
    assert!(ours_ari > 0.95, "eddy ARI {ours_ari}");
    assert!(ours_inertia <= theirs_inertia * 1.02, "eddy {ours_inertia} vs linfa {theirs_inertia}");
}
