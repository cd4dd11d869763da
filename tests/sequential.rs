//! For every sequential learner, `learn_predict` on one batch gives exactly the
//! labels and the model (bit for bit, compared through serde) of one-row steps.

use eddy::model::*;
use eddy::source::synth::Blobs;
use eddy::OnlineClassifier;
use ndarray::s;
use serde::Serialize;

fn check<M: OnlineClassifier + Serialize + Clone>(name: &str, model: M, counts: bool) {
    let (mut x, y) = Blobs::new(3, 5, 11).cluster_std(3.0).next_batch(400);
    if counts {
        x.mapv_inplace(|v| (v + 20.0).floor().max(0.0));
    }
    let mut batched = model.clone();
    let labels = batched.learn_predict(x.view(), y.view()).expect("valid");
    let mut stepped = model;
    let mut step_labels = Vec::new();
    for i in 0..x.nrows() {
        step_labels.extend(stepped.learn_predict(x.slice(s![i..i + 1, ..]), y.slice(s![i..i + 1])).expect("valid"));
    }
    assert_eq!(labels.to_vec(), step_labels, "{name}: labels");
    let a = serde_json::to_string(&batched).expect("serialises");
    let b = serde_json::to_string(&stepped).expect("serialises");
    assert_eq!(a, b, "{name}: model state");
    // The stream is learnable: the prequential labels are mostly right.
    let right = labels.iter().zip(y.iter()).filter(|(p, t)| p == t).count();
    assert!(right > x.nrows() / 2, "{name}: only {right} of {} right", x.nrows());
}

#[test]
fn sgd_every_loss_and_penalty() {
    for loss in [Loss::Log, Loss::Hinge, Loss::ModifiedHuber] {
        for penalty in [Penalty::None, Penalty::L2, Penalty::L1, Penalty::ElasticNet] {
            let m = SgdClassifier::params().loss(loss).penalty(penalty).build().expect("valid");
            check(&format!("sgd {loss:?} {penalty:?}"), m, false);
        }
    }
    let m = SgdClassifier::params().learning_rate(LearningRate::InvScaling).eta0(0.1).classes(&[0, 1, 2]).build();
    check("sgd invscaling", m.expect("valid"), false);
}

#[test]
fn perceptron_and_passive_aggressive() {
    check("perceptron", Perceptron::params().build().expect("valid"), false);
    check("pa-i", PassiveAggressiveClassifier::params().build().expect("valid"), false);
    let pa2 = PassiveAggressiveClassifier::params().loss(PaLoss::SquaredHinge).c(0.1).build();
    check("pa-ii", pa2.expect("valid"), false);
}

#[test]
fn naive_bayes() {
    check("gaussian nb", GaussianNb::params().build().expect("valid"), false);
    check("gaussian nb declared", GaussianNb::params().classes(&[0, 1, 2]).build().expect("valid"), false);
    check("multinomial nb", MultinomialNb::params().build().expect("valid"), true);
}

#[test]
fn scaler_in_front() {
    check(
        "scaled sgd",
        ClassifierModel::scaled(SgdClassifier::params().loss(Loss::Log).build().expect("valid")),
        false,
    );
    check("scaled gnb", ClassifierModel::scaled(GaussianNb::params().build().expect("valid")), false);
}

/// GaussianNb's batch `partial_fit` merges batch statistics (scikit-learn's way);
/// it agrees with the row-by-row path up to rounding.
#[test]
fn gaussian_nb_batch_merge_agrees_with_steps() {
    let (x, y) = Blobs::new(3, 4, 5).next_batch(300);
    let mut a = GaussianNb::params().build().expect("valid");
    a.partial_fit(x.view(), y.view()).expect("valid");
    let mut b = GaussianNb::params().build().expect("valid");
    b.learn_predict(x.view(), y.view()).expect("valid");
    for (p, q) in a.theta().iter().zip(b.theta().iter()).chain(a.var().iter().zip(b.var().iter())) {
        assert!((p - q).abs() <= 1e-9 * p.abs().max(1.0), "{p} vs {q}");
    }
}
