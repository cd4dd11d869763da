//! Forgetting and adaptive step sizes (#12): Spark's decay and River's step for
//! mini-batch k-means, exponentially weighted statistics (`halflife`) for the scaler
//! and Gaussian naive Bayes, and River's AdaGrad, RMSProp and Adam for SGD.
//! Every one is off by default, so the defaults stay scikit-learn's bit for bit.

use crate::util::{f64s, labels};
use eddy::model::registry::{build_text, Context};
use eddy::model::*;
use eddy::preprocess::StandardScaler;
use eddy::source::synth::Blobs;
use eddy::{ModelError, OnlineClassifier};
use ndarray::{array, s, Array1, Array2, ArrayView2, Axis};
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand_distr::StandardNormal;
use ndarray_rand::RandomExt;
use rand_xoshiro::Xoshiro256PlusPlus;

#[track_caller]
fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol * want.abs().max(1.0), "{what}: got {got}, want {want}");
}

#[track_caller]
fn all_close(what: &str, got: ArrayView2<f64>, want: ArrayView2<f64>, tol: f64) {
    assert_eq!(got.dim(), want.dim(), "{what}: shape");
    for (g, w) in got.iter().zip(want.iter()) {
        close(what, *g, *w, tol);
    }
}

/// `n` rows around `centre`, standard deviation `std`.
fn blob(rng: &mut Xoshiro256PlusPlus, centre: [f64; 2], std: f64, n: usize) -> Array2<f64> {
    let mut x = Array2::<f64>::random_using((n, 2), StandardNormal, rng) * std;
    x.column_mut(0).mapv_inplace(|v| v + centre[0]);
    x.column_mut(1).mapv_inplace(|v| v + centre[1]);
    x
}

fn stack(parts: &[Array2<f64>]) -> Array2<f64> {
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    ndarray::concatenate(Axis(0), &views).expect("same width")
}

fn distance(a: ndarray::ArrayView1<f64>, b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

// ---------------------------------------------------------------- k-means: Spark's decay

fn two_centres(decay: f64, unit: TimeUnit) -> MiniBatchKMeans {
    MiniBatchKMeans::params()
        .n_clusters(2)
        .init(KMeansInit::Centers(array![[0.0, 0.0], [10.0, 10.0]]))
        .reassignment_ratio(0.0)
        .decay_factor(decay)
        .time_unit(unit)
        .build()
        .expect("valid")
}

/// Two batches worked by hand with Spark's rule: every weight is multiplied by the
/// discount, then `c' = (c w + sum) / (w + m)` and `w' = w + m` for the `m` new rows.
///
/// Centres start at (0,0) and (10,10) with weight 0.
/// Batch 1, (1,0) (3,0) | (10,12): c0 = (2,0) with w0 = 2, c1 = (10,12) with w1 = 1
/// (the weights were 0, so the discount changes nothing).
/// Batch 2, (6,0) | (10,8):
/// - batches, a = 0.5: w = (1, 0.5); c0 = ((2,0)*1 + (6,0)) / 2 = (4, 0), w0 = 2;
///   c1 = ((10,12)*0.5 + (10,8)) / 1.5 = (10, 28/3), w1 = 1.5.
/// - points, a = 0.5^2 (two rows): w = (0.5, 0.25); c0 = ((2,0)*0.5 + (6,0)) / 1.5 =
///   (14/3, 0), w0 = 1.5; c1 = ((10,12)*0.25 + (10,8)) / 1.25 = (10, 8.8), w1 = 1.25.
/// - no decay (scikit-learn): c0 = ((2,0)*2 + (6,0)) / 3 = (10/3, 0), c1 = (10, 10), w = (3, 2).
#[test]
fn kmeans_decay_follows_sparks_rule_on_a_hand_computed_case() {
    let batch1 = array![[1.0, 0.0], [3.0, 0.0], [10.0, 12.0]];
    let batch2 = array![[6.0, 0.0], [10.0, 8.0]];
    let cases = [
        (0.5, TimeUnit::Batches, array![[4.0, 0.0], [10.0, 28.0 / 3.0]], array![2.0, 1.5]),
        (0.5, TimeUnit::Points, array![[14.0 / 3.0, 0.0], [10.0, 8.8]], array![1.5, 1.25]),
        (1.0, TimeUnit::Batches, array![[10.0 / 3.0, 0.0], [10.0, 10.0]], array![3.0, 2.0]),
    ];
    for (decay, unit, centres, weights) in cases {
        let mut km = two_centres(decay, unit);
        assert_eq!(km.learn_predict(batch1.view()).expect("valid").to_vec(), vec![0, 0, 1]);
        all_close("after batch 1", km.cluster_centers().expect("fitted"), array![[2.0, 0.0], [10.0, 12.0]].view(), 0.0);
        assert_eq!(km.learn_predict(batch2.view()).expect("valid").to_vec(), vec![0, 1]);
        let what = format!("decay {decay} per {unit:?}");
        all_close(&what, km.cluster_centers().expect("fitted"), centres.view(), 1e-14);
        all_close(&what, km.counts().insert_axis(Axis(0)), weights.view().insert_axis(Axis(0)), 1e-15);
    }
}

/// Spark's `StreamingKMeansModel.update` written out as Spark writes it (the discount
/// on every weight, then `lambda = m / max(w + m, 1e-16)`, `c = (1 - lambda) c +
/// lambda / m * sum`), against eddy on a longer stream, for both time units.
#[test]
fn kmeans_decay_equals_sparks_update_on_a_stream() {
    fn spark_update(centres: &mut Array2<f64>, weights: &mut [f64], x: ArrayView2<f64>, decay: f64, points: bool) {
        let k = centres.nrows();
        let mut sums = Array2::<f64>::zeros(centres.raw_dim());
        let mut counts = vec![0.0; k];
        for row in x.outer_iter() {
            let d = |c: usize| (&row - &centres.row(c)).mapv(|v| v * v).sum();
            let best = (0..k).fold(0, |b, c| if d(c) < d(b) { c } else { b });
            sums.row_mut(best).scaled_add(1.0, &row);
            counts[best] += 1.0;
        }
        let discount = if points { decay.powf(x.nrows() as f64) } else { decay };
        weights.iter_mut().for_each(|w| *w *= discount);
        for c in 0..k {
            if counts[c] > 0.0 {
                let updated = weights[c] + counts[c];
                let lambda = counts[c] / updated.max(1e-16);
                weights[c] = updated;
                let sum = sums.row(c).to_owned();
                let mut centre = centres.row_mut(c);
                centre *= 1.0 - lambda;
                centre.scaled_add(lambda / counts[c], &sum);
            }
        }
    }
    let init = array![[-5.0, 0.0], [5.0, 0.0], [0.0, 8.0]];
    for (unit, points) in [(TimeUnit::Batches, false), (TimeUnit::Points, true)] {
        // Per record, a decay of 0.99 forgets about as fast as 0.7 per batch of 35.
        let decay = if points { 0.99 } else { 0.7 };
        let mut km = MiniBatchKMeans::params()
            .n_clusters(3)
            .init(KMeansInit::Centers(init.clone()))
            .reassignment_ratio(0.0)
            .decay_factor(decay)
            .time_unit(unit)
            .build()
            .expect("valid");
        let (mut centres, mut weights) = (init.clone(), vec![0.0; 3]);
        let mut stream = Blobs::new(3, 2, 5).cluster_std(2.0).drift(0.05);
        for batch in 0..30 {
            let (x, _) = stream.next_batch(20 + batch);
            km.partial_fit(x.view()).expect("valid");
            spark_update(&mut centres, &mut weights, x.view(), decay, points);
        }
        all_close(&format!("{unit:?} centres"), km.cluster_centers().expect("fitted"), centres.view(), 1e-9);
        let w = Array1::from(weights);
        all_close(&format!("{unit:?} weights"), km.counts().insert_axis(Axis(0)), w.view().insert_axis(Axis(0)), 1e-9);
    }
}

#[test]
fn kmeans_decay_factor_one_is_bit_identical_to_the_default() {
    for unit in [TimeUnit::Batches, TimeUnit::Points] {
        let mut default = MiniBatchKMeans::params().n_clusters(4).batch_size(200).seed(3).build().expect("valid");
        let mut one = MiniBatchKMeans::params()
            .n_clusters(4)
            .batch_size(200)
            .seed(3)
            .decay_factor(1.0)
            .time_unit(unit)
            .halflife(0.0)
            .build()
            .expect("valid");
        let mut stream = Blobs::new(4, 3, 9).cluster_std(3.0);
        for _ in 0..40 {
            let (x, _) = stream.next_batch(200);
            assert_eq!(default.learn_predict(x.view()).expect("valid"), one.learn_predict(x.view()).expect("valid"));
        }
        assert_eq!(default.cluster_centers(), one.cluster_centers(), "bit for bit");
        assert_eq!(default.counts(), one.counts());
        assert_eq!(default.inertia().to_bits(), one.inertia().to_bits());
    }
    // The defaults are not printed: existing specs and model files read the same.
    let m = Model::from_spec("minibatch-kmeans(decay_factor=1, time_unit=batches, halflife=0)").expect("valid");
    assert_eq!(m.spec(), "minibatch-kmeans");
    let m = Model::from_spec("minibatch-kmeans(decay_factor=0.9, time_unit=points)").expect("valid");
    assert_eq!(m.spec(), "minibatch-kmeans(decay_factor=0.9, time_unit=points)");
}

/// A blob moves: with Spark's decay its centre follows; scikit-learn's counts keep it
/// at the mean of everything it ever absorbed.
#[test]
fn kmeans_with_decay_follows_a_moved_blob_and_the_default_does_not() {
    let run = |decay: f64| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(21);
        let mut km = MiniBatchKMeans::params()
            .n_clusters(2)
            .init(KMeansInit::Centers(array![[0.0, 0.0], [10.0, 0.0]]))
            .decay_factor(decay)
            .build()
            .expect("valid");
        for batch in 0..60 {
            let moved = if batch < 40 { [10.0, 0.0] } else { [10.0, 8.0] };
            let x = stack(&[blob(&mut rng, [0.0, 0.0], 0.5, 50), blob(&mut rng, moved, 0.5, 50)]);
            km.partial_fit(x.view()).expect("valid");
        }
        let c = km.cluster_centers().expect("fitted").to_owned();
        (distance(c.row(1), [10.0, 8.0]), distance(c.row(0), [0.0, 0.0]))
    };
    let (moved_decay, still_decay) = run(0.8);
    let (moved_default, still_default) = run(1.0);
    assert!(moved_decay < 0.5, "with decay the centre is {moved_decay} from the moved blob");
    // 2000 rows at (10, 0), then 1000 at (10, 8): the mean is (10, 2.67), 5.3 away.
    assert!(moved_default > 4.5, "without decay the centre is {moved_default} from the moved blob");
    assert!(still_decay < 0.3 && still_default < 0.3, "the blob that stayed keeps its centre");
}

/// A blob disappears. Its centre's weight decays; once it is below
/// `reassignment_ratio` times the largest (decayed) weight, the centre is starved and
/// moves to a row of the data. Without decay its count stays a third of the rows
/// and it is never reassigned.
#[test]
fn kmeans_reassigns_a_centre_whose_decayed_weight_starves() {
    let run = |decay: f64| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        let mut km = MiniBatchKMeans::params()
            .n_clusters(3)
            .init(KMeansInit::Centers(array![[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]))
            .decay_factor(decay)
            .seed(2)
            .build()
            .expect("valid");
        for batch in 0..60 {
            let mut parts = vec![blob(&mut rng, [0.0, 0.0], 0.5, 40), blob(&mut rng, [10.0, 0.0], 0.5, 40)];
            if batch < 20 {
                parts.push(blob(&mut rng, [0.0, 10.0], 0.5, 40));
            }
            km.partial_fit(stack(&parts).view()).expect("valid");
        }
        km
    };
    let decayed = run(0.7);
    assert!(decayed.n_reassigned() >= 1, "the starved centre was reassigned");
    let c = decayed.cluster_centers().expect("fitted");
    let nearest_blob = [[0.0, 0.0], [10.0, 0.0]].iter().map(|&b| distance(c.row(2), b)).fold(f64::INFINITY, f64::min);
    assert!(nearest_blob < 3.0, "it moved into the data: {}", c.row(2));
    assert!(decayed.counts().iter().all(|w| w.is_finite() && *w >= 0.0));
    let kept = run(1.0);
    assert_eq!(kept.n_reassigned(), 0);
    assert!(distance(kept.cluster_centers().expect("fitted").row(2), [0.0, 10.0]) < 0.3);
}

/// River's `KMeans(halflife=h)`: each record moves its centre `h` of the way to it.
/// Centres (0,0), (10,10), h = 0.5, batch (2,0) (4,0) (10,12):
/// c0 = (0,0) -> (1,0) -> (1 + 0.5 * 3, 0) = (2.5, 0); c1 = (10,10) -> (10, 11).
#[test]
fn kmeans_halflife_is_rivers_constant_step_towards_each_record() {
    let mut km = MiniBatchKMeans::params()
        .n_clusters(2)
        .init(KMeansInit::Centers(array![[0.0, 0.0], [10.0, 10.0]]))
        .reassignment_ratio(0.0)
        .halflife(0.5)
        .build()
        .expect("valid");
    km.partial_fit(array![[2.0, 0.0], [4.0, 0.0], [10.0, 12.0]].view()).expect("valid");
    assert_eq!(km.cluster_centers().expect("fitted"), array![[2.5, 0.0], [10.0, 11.0]]);
    assert_eq!(km.counts(), array![2.0, 1.0], "the counts are kept, for reassignment");

    // One row at a time it is River's learn_predict_one from the same centres.
    let init = array![[-3.0, 0.0], [3.0, 0.0], [0.0, 5.0]];
    let mut km = MiniBatchKMeans::params()
        .n_clusters(3)
        .init(KMeansInit::Centers(init.clone()))
        .reassignment_ratio(0.0)
        .halflife(0.1)
        .build()
        .expect("valid");
    let mut river = init;
    let (x, _) = Blobs::new(3, 2, 8).cluster_std(1.5).next_batch(300);
    // The first batch needs a row per centre: its three rows are assigned to the
    // initial centres, then move them in order. After it, one row at a time.
    let first = x.slice(s![..3, ..]);
    let assigned: Vec<usize> = first
        .outer_iter()
        .map(|row| {
            let d = |c: usize| (&row - &river.row(c)).mapv(|v| v * v).sum();
            (0..3).fold(0, |b, c| if d(c) < d(b) { c } else { b })
        })
        .collect();
    for (row, &c) in first.outer_iter().zip(&assigned) {
        river.row_mut(c).zip_mut_with(&row, |ci, &xi| *ci += 0.1 * (xi - *ci));
    }
    let labels = km.learn_predict(first).expect("valid");
    assert_eq!(labels.to_vec(), assigned.iter().map(|&c| c as i64).collect::<Vec<_>>());
    for row in x.slice(s![3.., ..]).outer_iter() {
        let d = |c: usize| (&row - &river.row(c)).mapv(|v| v * v).sum();
        let closest = (0..3).fold(0, |b, c| if d(c) < d(b) { c } else { b });
        let mut centre = river.row_mut(closest);
        centre.zip_mut_with(&row, |c, &xi| *c += 0.1 * (xi - *c));
        let label = km.learn_predict(row.insert_axis(Axis(0))).expect("valid");
        assert_eq!(label[0], closest as i64);
    }
    all_close("River's centres", km.cluster_centers().expect("fitted"), river.view(), 1e-12);
}

// ---------------------------------------------------------------- halflife: scaler, Gaussian NB

/// Halflife 1 record: every earlier record's weight halves at each new one.
/// Stream 1, 3, 7: weights (0.25, 0.5, 1), total 1.75;
/// mean (0.25 + 1.5 + 7) / 1.75 = 5; variance (0.25*16 + 0.5*4 + 1*4) / 1.75 = 40/7.
/// After two records: mean (0.5 + 3) / 1.5 = 7/3, variance (0.5*16/9 + 4/9) / 1.5 = 8/9,
/// so the second record is scaled to (3 - 7/3) / sqrt(8/9) = 1/sqrt(2).
#[test]
fn scaler_halflife_gives_hand_computed_weighted_moments() {
    let x = array![[1.0], [3.0], [7.0]];
    let mut rows = StandardScaler::params().halflife(1.0).build().expect("valid");
    let z = rows.learn_transform(x.view()).expect("valid");
    close("mean", rows.mean().expect("fitted")[0], 5.0, 1e-15);
    close("variance", rows.var().expect("fitted")[0], 40.0 / 7.0, 1e-15);
    close("weight", rows.weight(), 1.75, 0.0);
    assert_eq!(rows.n_samples_seen(), 3);
    close("z1", z[[0, 0]], 0.0, 0.0);
    close("z2", z[[1, 0]], std::f64::consts::FRAC_1_SQRT_2, 1e-15);
    close("z3", z[[2, 0]], 2.0 / (40.0f64 / 7.0).sqrt(), 1e-15);
    let mut batch = StandardScaler::params().halflife(1.0).build().expect("valid");
    batch.partial_fit(x.view()).expect("valid");
    assert_eq!(batch.mean(), rows.mean(), "a batch learns as its rows in order");
    assert_eq!(batch.var(), rows.var());

    // Halflife 2: after two more records a record weighs half.
    let mut two = StandardScaler::params().halflife(2.0).build().expect("valid");
    two.partial_fit(x.view()).expect("valid");
    close("weight", two.weight(), 0.5 + 0.5f64.sqrt() + 1.0, 1e-15);
}

/// Halflife 1, var_smoothing 0, rows (x, class): (0, 0) (2, 0) (10, 1) (4, 0).
/// Every row halves every class's weight, so at the end the class-0 rows weigh
/// 0.125, 0.25, 1 (total 1.375) and the class-1 row 0.5:
/// theta_0 = (0 + 0.5 + 4) / 1.375 = 36/11; var_0 = (0.125 (36/11)^2 + 0.25 (14/11)^2 +
/// (8/11)^2) / 1.375 = 200/121; theta_1 = 10, var_1 = 0; class weights (the priors'
/// numerators) 1.375 and 0.5.
#[test]
fn gaussian_nb_halflife_gives_hand_computed_weighted_statistics() {
    let x = array![[0.0], [2.0], [10.0], [4.0]];
    let y = array![0, 0, 1, 0];
    let params = GaussianNb::params().halflife(1.0).var_smoothing(0.0).classes(&[0, 1]);
    let mut rows = params.clone().build().expect("valid");
    rows.learn_predict(x.view(), y.view()).expect("valid");
    let mut batch = params.build().expect("valid");
    batch.partial_fit(x.view(), y.view()).expect("valid");
    for (what, m) in [("prequential", &rows), ("partial_fit", &batch)] {
        all_close(what, m.class_count().insert_axis(Axis(0)), array![[1.375, 0.5]].view(), 1e-15);
        all_close(what, m.theta(), array![[36.0 / 11.0], [10.0]].view(), 1e-15);
        all_close(what, m.var().view(), array![[200.0 / 121.0], [0.0]].view(), 1e-14);
    }
    let p = rows.predict_proba(array![[10.0]].view()).expect("valid").expect("has probabilities");
    assert!(p[[0, 1]] > 0.99);
    // The smoothing follows the overall variance, windowed too: weights 0.125, 0.25,
    // 0.5, 1 on 0, 2, 10, 4 give the mean 9.5 / 1.875 = 76/15 and the variance
    // 67 / 1.875 - (76/15)^2 = 2264/225.
    let mut smoothed = GaussianNb::params().halflife(1.0).var_smoothing(1.0).build().expect("valid");
    smoothed.partial_fit(x.view(), y.view()).expect("valid");
    close("epsilon", smoothed.epsilon(), 2264.0 / 225.0, 1e-14);
}

#[test]
fn halflife_zero_is_bit_identical_to_the_default() {
    let (x, y) = Blobs::new(3, 4, 2).cluster_std(2.0).next_batch(500);
    for (default, zero) in [
        ("gaussian-nb", "gaussian-nb(halflife=0)"),
        ("scale | gaussian-nb", "scale(halflife=0) | gaussian-nb"),
        ("scale | sgd", "scale(halflife=0) | sgd"),
    ] {
        let mut a = Model::from_spec(default).expect("valid");
        let mut b = Model::from_spec(zero).expect("valid");
        assert_eq!(b.spec(), default, "the default is not printed");
        let (Model::Classifier(a), Model::Classifier(b)) = (&mut a, &mut b) else { panic!("classifiers") };
        assert_eq!(
            a.learn_predict(x.view(), y.view()).expect("valid"),
            b.learn_predict(x.view(), y.view()).expect("valid")
        );
        a.partial_fit(x.view(), y.view()).expect("valid");
        b.partial_fit(x.view(), y.view()).expect("valid");
        assert_eq!(serde_json::to_string(a).ok(), serde_json::to_string(b).ok(), "{zero}: bit for bit");
    }
}

/// The mean shifts by 5: a scaler with a halflife of 100 records follows it; one
/// without forgetting averages the two regimes.
#[test]
fn scaler_with_halflife_follows_a_shifted_mean() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let before = Array2::<f64>::random_using((5000, 2), StandardNormal, &mut rng);
    let after = Array2::<f64>::random_using((1000, 2), StandardNormal, &mut rng) + 5.0;
    let mut windowed = StandardScaler::params().halflife(100.0).build().expect("valid");
    let mut plain = StandardScaler::new();
    for m in [&mut windowed, &mut plain] {
        m.partial_fit(before.view()).expect("valid");
        m.learn_transform(after.view()).expect("valid");
    }
    let (w, p) = (windowed.mean().expect("fitted"), plain.mean().expect("fitted"));
    assert!(w.iter().all(|&m| (m - 5.0).abs() < 0.3), "windowed mean {w}");
    assert!(p.iter().all(|&m| m < 1.0), "plain mean {p}");
    assert!(windowed.var().expect("fitted").iter().all(|&v| (0.6..1.6).contains(&v)), "windowed variance near 1");
    assert!(plain.var().expect("fitted").iter().all(|&v| v > 1.5), "plain variance mixes the regimes");
}

/// The classes swap places: Gaussian NB with a halflife relearns them within a few
/// hundred records; without forgetting it keeps predicting the old places.
#[test]
fn gaussian_nb_with_halflife_follows_swapped_classes() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(8);
    let mut x = Array2::<f64>::random_using((6000, 2), StandardNormal, &mut rng);
    let y: Array1<i64> = (0..6000).map(|i| (i % 2) as i64).collect();
    for (i, mut row) in x.outer_iter_mut().enumerate() {
        let class_one = (i % 2 == 1) != (i >= 5000);
        if class_one {
            row += 3.0;
        }
    }
    let accuracy_at_the_end = |spec: &str| {
        let (_, model) = build_text(spec, &Context { inherited: vec![], classes: Some(vec![0, 1]) }).expect("valid");
        let Model::Classifier(mut m) = model else { panic!("a classifier") };
        let labels = m.learn_predict(x.view(), y.view()).expect("valid");
        let tail = labels.slice(s![5500..]);
        tail.iter().zip(y.slice(s![5500..])).filter(|(p, t)| p == t).count() as f64 / 500.0
    };
    let windowed = accuracy_at_the_end("gaussian-nb(halflife=50)");
    let plain = accuracy_at_the_end("gaussian-nb");
    assert!(windowed > 0.9, "windowed accuracy {windowed}");
    assert!(plain < 0.2, "plain accuracy {plain}");
}

// ---------------------------------------------------------------- adaptive step sizes

fn sgd(spec: &str) -> Box<dyn ClassifierStage> {
    let (_, model) = build_text(spec, &Context { inherited: vec![], classes: Some(vec![0, 1]) }).expect("valid");
    let Model::Classifier(chain) = model else { panic!("a classifier") };
    assert!(chain.transforms().is_empty());
    dyn_clone::clone_box(&**chain.head())
}

/// The weights and intercept of a binary linear model.
fn coef_and_intercept(m: &impl serde::Serialize) -> (Vec<f64>, f64) {
    let state = serde_json::to_value(m).expect("serialises");
    let core = &state["state"]["core"];
    (f64s(&core["coef"]["data"]), core["intercept"]["data"][0].as_f64().expect("intercept"))
}

fn sigmoid(p: f64) -> f64 {
    1.0 / (1.0 + (-p).exp())
}

/// The first two steps of each optimiser on a tiny problem, worked out with River's
/// formulas (eta0 = 0.1 is River's `lr`, intercept_lr = 0.05, no penalty):
///
/// Row 1, x = (1, 2), y = 1: the score is 0, so the loss gradient is sigmoid(0) - 1 =
/// -0.5 and g = (-0.5, -1); the intercept becomes 0 - 0.05 * -0.5 = 0.025.
/// - Adam: m = 0.1 g, v = 0.001 g^2, lr_1 = 0.1 sqrt(1 - 0.999) / (1 - 0.9); the step
///   is lr_1 m / (sqrt(v) + eps) = -0.1 per weight (Adam's first step is lr times the
///   sign): w = (0.1, 0.1).
/// - AdaGrad: G = g^2, w = 0.1 g / sqrt(G + eps) = (0.1, 0.1).
/// - RMSProp (rho 0.9): g2 = 0.1 g^2, w = 0.1 g / sqrt(g2 + eps) = (0.3162, 0.3162).
///
/// Row 2, x = (2, -1), y = 0: the score is 2 w0 - w1 + 0.025, the loss gradient
/// sigmoid(score), and g = (2, -1) times it. Adam: w = (0.06118, 0.19409);
/// AdaGrad: w = (0.00952, 0.14691); RMSProp: w = (0.02321, 0.48210).
#[test]
fn optimisers_first_two_steps_by_hand() {
    let rows = [([1.0, 2.0], 1i64), ([2.0, -1.0], 0)];
    let (lr, intercept_lr, eps) = (0.1f64, 0.05f64, 1e-8f64);
    let expected_after_two =
        [("adam", [0.06118, 0.19409]), ("adagrad", [0.00952, 0.14691]), ("rmsprop", [0.02321, 0.48210])];
    for (name, rounded) in expected_after_two {
        let mut m = sgd(&format!("sgd(loss=log_loss, alpha=0, learning_rate={name}, eta0=0.1, intercept_lr=0.05)"));
        // River's formulas, written out.
        let (mut w, mut b) = ([0.0f64; 2], 0.0f64);
        let (mut first, mut second) = ([0.0f64; 2], [0.0f64; 2]);
        for (t, (x, y)) in rows.iter().enumerate() {
            let p = w[0] * x[0] + w[1] * x[1] + b;
            let dloss = sigmoid(p) - *y as f64;
            b -= intercept_lr * dloss;
            let step = (t + 1) as f64;
            for j in 0..2 {
                let g = x[j] * dloss;
                match name {
                    "adam" => {
                        first[j] = 0.9 * first[j] + 0.1 * g;
                        second[j] = 0.999 * second[j] + 0.001 * g * g;
                        let lr_t = lr * (1.0 - 0.999f64.powf(step)).sqrt() / (1.0 - 0.9f64.powf(step));
                        w[j] -= lr_t * first[j] / (second[j].sqrt() + eps);
                    }
                    "adagrad" => {
                        second[j] += g * g;
                        w[j] -= lr / (second[j] + eps).sqrt() * g;
                    }
                    _ => {
                        second[j] = 0.9 * second[j] + 0.1 * g * g;
                        w[j] -= lr / (second[j] + eps).sqrt() * g;
                    }
                }
            }
            m.learn_predict(array![[x[0], x[1]]].view(), array![*y].view()).expect("valid");
            let (coef, intercept) = coef_and_intercept(&m);
            for j in 0..2 {
                close(&format!("{name} w{j} after row {}", t + 1), coef[j], w[j], 1e-12);
            }
            close(&format!("{name} intercept after row {}", t + 1), intercept, b, 1e-12);
            if t == 0 {
                let hand = if name == "rmsprop" { 0.1 / 0.1f64.sqrt() } else { 0.1 };
                close(&format!("{name} first step"), coef[0], hand, 1e-6);
                close(&format!("{name} first step"), coef[1], hand, 1e-6);
                close(&format!("{name} intercept"), intercept, 0.025, 1e-15);
            }
        }
        let (coef, _) = coef_and_intercept(&m);
        close(&format!("{name} w0 by hand"), coef[0], rounded[0], 1e-4);
        close(&format!("{name} w1 by hand"), coef[1], rounded[1], 1e-4);
    }
}

/// River 0.26.1's `LogisticRegression(optimizer=Adam|AdaGrad|RMSProp, l2, intercept_lr)`,
/// learned one record at a time (`tests/fixtures/river/generate.sh`): the same
/// prequential predictions, probabilities, weights and intercepts.
#[test]
fn optimisers_match_river() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/river/optimizers.json");
    let text = std::fs::read_to_string(path).expect("the River fixture");
    let fixture: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    for case in fixture["cases"].as_array().expect("cases") {
        let name = case["case"].as_str().expect("name");
        let x = crate::util::arr2(&case["x"]);
        let y = labels(&case["y"]);
        let river_predictions = labels(&case["predictions"]);
        let river_probabilities = f64s(&case["probabilities"]);
        let mut m = sgd(case["spec"].as_str().expect("spec"));
        let mut snapshots = case["snapshots"].as_array().expect("snapshots").iter().peekable();
        let mut worst = 0.0f64;
        for i in 0..x.nrows() {
            let row = x.slice(s![i..i + 1, ..]);
            // Before the first row River's probability is 0.5 (and it predicts False);
            // eddy's model has no width yet.
            let p = match m.predict_proba(row) {
                Err(ModelError::NotFitted(_)) if i == 0 => 0.5,
                p => p.expect("valid").expect("log loss").row(0)[1],
            };
            let label = m.learn_predict(row, y.slice(s![i..i + 1])).expect("valid")[0];
            assert_eq!(label, river_predictions[i], "{name}: row {i}'s prediction");
            let tol = 1e-9 * river_probabilities[i].abs().max(1e-3);
            assert!((p - river_probabilities[i]).abs() <= tol, "{name}: row {i}: {p} vs {}", river_probabilities[i]);
            if snapshots.peek().is_some_and(|s| s["rows"].as_u64() == Some(i as u64 + 1)) {
                let snapshot = snapshots.next().expect("peeked");
                let (coef, intercept) = coef_and_intercept(&m);
                let want = f64s(&snapshot["coef"]);
                for (g, w) in coef
                    .iter()
                    .chain([&intercept])
                    .zip(want.iter().chain([&snapshot["intercept"].as_f64().expect("b")]))
                {
                    let rel = (g - w).abs() / w.abs().max(1e-12);
                    worst = worst.max(rel);
                    assert!(rel < 1e-12, "{name} after {} rows: {g} vs River's {w}", i + 1);
                }
            }
        }
        assert!(snapshots.next().is_none(), "{name}: every snapshot compared");
        eprintln!("{name}: {} rows, predictions equal, weights within {worst:.1e} of River's", x.nrows());
    }
}

/// The accumulators are state: they survive JSON and postcard, grow with the
/// classes as the weights do (a negated problem has negated gradient means and the
/// same squares), and a decoded state with wrong shapes or negative squares is refused.
#[test]
fn optimiser_state_round_trips_grows_and_is_checked() {
    let (x, y) = Blobs::new(3, 4, 6).next_batch(300);
    for spec in ["sgd(loss=log_loss, learning_rate=adam)", "sgd(learning_rate=adagrad)", "sgd(learning_rate=rmsprop)"] {
        let mut model = Model::from_spec(spec).expect("valid");
        let Model::Classifier(m) = &mut model else { panic!("a classifier") };
        // Two classes first (one problem), then the third: binary becomes one-vs-rest.
        let two: Vec<usize> = (0..300).filter(|&i| y[i] != 2).collect();
        m.learn_predict(x.select(Axis(0), &two).view(), y.select(Axis(0), &two).view()).expect("valid");
        let before = serde_json::to_value(&model).expect("serialises");
        let Model::Classifier(m) = &mut model else { panic!("a classifier") };
        m.learn_predict(x.view(), y.view()).expect("valid");
        let state = serde_json::to_value(&model).expect("serialises");
        let acc = find(&state, "acc").expect("the accumulators");
        assert_eq!(acc["sq"]["dim"], serde_json::json!([3, 4]), "{spec}: one row per class");
        assert_eq!(acc["steps"]["dim"], serde_json::json!([3]));
        let adam = spec.contains("adam");
        assert_eq!(acc["mean"]["dim"], if adam { serde_json::json!([3, 4]) } else { serde_json::json!([0, 0]) });
        let old = find(&before, "acc").expect("the accumulators");
        assert_eq!(old["sq"]["dim"], serde_json::json!([1, 4]));

        // Round trips: JSON and postcard give the same model, which learns the same.
        let from_json: Model = serde_json::from_value(state.clone()).expect("decodes");
        let from_postcard: Model = postcard::from_bytes(&postcard::to_allocvec(&model).expect("ser")).expect("de");
        let (x2, y2) = Blobs::new(3, 4, 7).next_batch(100);
        for mut copy in [from_json, from_postcard] {
            let (Model::Classifier(a), Model::Classifier(b)) = (&mut copy, &mut model.clone()) else { panic!() };
            assert_eq!(a.learn_predict(x2.view(), y2.view()).ok(), b.learn_predict(x2.view(), y2.view()).ok());
            assert_eq!(serde_json::to_string(a).ok(), serde_json::to_string(b).ok(), "{spec}");
        }

        // Refused: a well-formed array of the wrong shape, a negative square, a negative step count.
        let refused = |change: &dyn Fn(&mut serde_json::Value)| {
            let mut bad = state.clone();
            change(find_mut(&mut bad, "acc").expect("acc"));
            serde_json::from_value::<Model>(bad).is_err()
        };
        assert!(refused(&|a| a["sq"] = serde_json::json!({"v": 1, "dim": [2, 4], "data": vec![0.0; 8]})), "{spec}");
        assert!(refused(&|a| a["steps"] = serde_json::json!({"v": 1, "dim": [2], "data": [1.0, 1.0]})), "{spec}");
        assert!(refused(&|a| a["sq"]["data"][5] = serde_json::json!(-1.0)), "{spec}: a negative square");
        assert!(refused(&|a| a["steps"]["data"][0] = serde_json::json!(-1.0)), "{spec}: a negative count");
        if adam {
            assert!(refused(&|a| a["mean"] = serde_json::json!({"v": 1, "dim": [0, 0], "data": []})), "{spec}");
        } else {
            assert!(refused(&|a| a["mean"] = serde_json::json!({"v": 1, "dim": [3, 4], "data": vec![0.0; 12]})));
        }
        let mut bad = state.clone();
        find_mut(&mut bad, "adaptive").expect("settings")["beta_2"] = serde_json::json!(0.5);
        assert!(serde_json::from_value::<Model>(bad).is_err(), "{spec}: settings that differ from the parameters");
    }
    // Binary to one-vs-rest: the old negative class's problem is the negated binary one.
    let mut m = SgdClassifier::params().loss(Loss::Log).learning_rate(LearningRate::Adam).build().expect("valid");
    m.learn_predict(array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]].view(), array![0, 1, 1].view()).expect("valid");
    let binary = serde_json::to_value(&m).expect("ser");
    m.learn_predict(array![[5.0, 5.0]].view(), array![2].view()).expect("valid");
    let three = serde_json::to_value(&m).expect("ser");
    let data = |v: &serde_json::Value, key: &str| f64s(&v["core"]["acc"][key]["data"]);
    // Before the fourth row: one problem (positive class 1) that took 2 steps (the
    // first row, with one class known, had nothing to separate).
    let (mean, sq) = (data(&binary, "mean"), data(&binary, "sq"));
    assert_eq!(data(&binary, "steps"), vec![2.0]);
    let w = f64s(&binary["core"]["coef"]["data"]);
    let b = binary["core"]["intercept"]["data"][0].as_f64().expect("intercept");
    // The fourth row, x = (5, 5) of the new class 2: class 0's problem is the negated
    // binary one (score -s, gradient means -m), class 1's the binary one (s, m), and
    // both have target -1, so their loss gradients are sigmoid(-s) and sigmoid(s).
    let score = 5.0 * w[0] + 5.0 * w[1] + b;
    let (mean3, sq3) = (data(&three, "mean"), data(&three, "sq"));
    assert_eq!(data(&three, "steps"), vec![3.0, 3.0, 1.0], "the new class counts its own steps");
    for j in 0..2 {
        for (class, sign) in [(0, -1.0), (1, 1.0)] {
            // The loss gradient times x, plus the default L2 penalty's alpha * w.
            let g = 5.0 * sigmoid(sign * score) + 1e-4 * sign * w[j];
            close("gradient mean", mean3[2 * class + j], 0.9 * sign * mean[j] + 0.1 * g, 1e-12);
            close("squared gradients", sq3[2 * class + j], 0.999 * sq[j] + 0.001 * g * g, 1e-12);
        }
        // Class 2 starts from nothing: target +1, score 0, gradient 5 (sigmoid(0) - 1).
        close("new class", mean3[4 + j], 0.1 * 5.0 * -0.5, 1e-12);
        close("new class", sq3[4 + j], 0.001 * 6.25, 1e-12);
    }
}

/// The first key `key` found anywhere in `v`.
fn find<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m.get(key).or_else(|| m.values().find_map(|c| find(c, key))),
        serde_json::Value::Array(a) => a.iter().find_map(|c| find(c, key)),
        _ => None,
    }
}

fn find_mut<'a>(v: &'a mut serde_json::Value, key: &str) -> Option<&'a mut serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => {
            if m.contains_key(key) {
                return m.get_mut(key);
            }
            m.values_mut().find_map(|c| find_mut(c, key))
        }
        serde_json::Value::Array(a) => a.iter_mut().find_map(|c| find_mut(c, key)),
        _ => None,
    }
}

#[test]
fn new_parameters_are_checked_and_printed_only_when_set() {
    for (spec, message) in [
        ("sgd(learning_rate=adam, beta_1=1)", "sgd: beta_1 must be a number >= 0 and < 1, got 1"),
        ("sgd(learning_rate=adam, eps=0)", "sgd: eps must be a number > 0, got 0"),
        (
            "minibatch-kmeans(decay_factor=1.5)",
            "minibatch-kmeans: decay_factor must be a number >= 0 and <= 1, got 1.5",
        ),
        ("gaussian-nb(halflife=-1)", "gaussian-nb: halflife must be a number >= 0, got -1"),
        ("scale(halflife=-2) | sgd", "scale: halflife must be a number >= 0, got -2"),
    ] {
        let err = Model::from_spec(spec).expect_err(spec);
        assert_eq!(err.message, message, "{spec}");
    }
    assert_eq!(
        Model::from_spec("sgd(beta_1=0.9, beta_2=0.999, rho=0.9, eps=1e-8, intercept_lr=0.01)").expect("valid").spec(),
        "sgd"
    );
    let spec = "scale(halflife=500) | sgd(loss=log_loss, learning_rate=adam, eta0=0.05, beta_2=0.99)";
    assert_eq!(Model::from_spec(spec).expect("valid").spec(), spec);
    let list = eddy::model::registry::describe(Some("sgd")).expect("sgd");
    assert!(list.contains("adagrad | rmsprop | adam"), "{list}");
    assert!(list.contains("beta_1               = 0.9"), "{list}");
}
