//! Bad batches get a typed error and leave the model exactly as it was.

use eddy::model::*;
use eddy::preprocess::StandardScaler;
use eddy::{ModelError, OnlineClassifier, ParamsError};
use ndarray::{array, Array1, Array2};
use serde::Serialize;

fn snapshot<M: Serialize>(m: &M) -> String {
    serde_json::to_string(m).expect("serialises")
}

/// A bad batch: what is wrong with it, the batch, and how to recognise the right error.
type BadCase = (&'static str, Array2<f64>, Array1<i64>, fn(&ModelError) -> bool);

fn good() -> (Array2<f64>, Array1<i64>) {
    (array![[1.0, 2.0], [3.0, 4.0], [5.0, 1.0]], array![0, 1, 0])
}

/// Every classifier refuses each bad batch with the right error and stays unchanged.
fn refuses<M: OnlineClassifier + Serialize>(name: &str, mut m: M) {
    let (x, y) = good();
    m.partial_fit(x.view(), y.view()).expect("a good batch");
    let before = snapshot(&m);
    let cases: Vec<BadCase> = vec![
        ("too many features", array![[1.0, 2.0, 3.0]], array![0], |e| {
            matches!(e, ModelError::FeatureCount { expected: 2, got: 3 })
        }),
        ("NaN", array![[1.0, 2.0], [f64::NAN, 1.0]], array![0, 1], |e| {
            matches!(e, ModelError::NonFinite { row: 1, column: 0, .. })
        }),
        ("infinity", array![[1.0, f64::INFINITY]], array![0], |e| {
            matches!(e, ModelError::NonFinite { row: 0, column: 1, .. })
        }),
        ("label count", array![[1.0, 2.0], [2.0, 3.0]], array![0], |e| {
            matches!(e, ModelError::LabelCount { rows: 2, labels: 1 })
        }),
        ("undeclared label", array![[1.0, 2.0], [2.0, 3.0]], array![1, 5], |e| {
            matches!(e, ModelError::UnknownLabel { row: 1, label: 5, .. })
        }),
        ("reserved label", array![[1.0, 2.0]], array![NO_PREDICTION], |e| {
            matches!(e, ModelError::ReservedLabel { row: 0, .. })
        }),
    ];
    for (what, bx, by, expected) in cases {
        let err = m.partial_fit(bx.view(), by.view()).expect_err(what);
        assert!(expected(&err), "{name}, {what}: got {err:?}");
        let err = m.learn_predict(bx.view(), by.view()).expect_err(what);
        assert!(expected(&err), "{name}, {what} (learn_predict): got {err:?}");
        assert_eq!(snapshot(&m), before, "{name}, {what}: model changed");
        assert!(!err.to_string().is_empty());
    }
    // Predicting with the wrong width is refused too.
    assert!(matches!(m.predict(array![[1.0]].view()), Err(ModelError::FeatureCount { .. })));
}

#[test]
fn every_classifier_refuses_bad_batches() {
    let c = [0, 1];
    refuses("sgd", SgdClassifier::params().classes(&c).build().expect("valid"));
    refuses("perceptron", Perceptron::params().classes(&c).build().expect("valid"));
    refuses("pa", PassiveAggressiveClassifier::params().classes(&c).build().expect("valid"));
    refuses("gnb", GaussianNb::params().classes(&c).build().expect("valid"));
    refuses("mnb", MultinomialNb::params().classes(&c).build().expect("valid"));
    refuses("scaled sgd", ClassifierModel::scaled(SgdClassifier::params().classes(&c).build().expect("valid")));
}

#[test]
fn multinomial_nb_refuses_negative_counts() {
    let mut m = MultinomialNb::params().build().expect("valid");
    let err = m.partial_fit(array![[1.0, -2.0]].view(), array![0].view()).expect_err("negative");
    assert!(matches!(err, ModelError::NegativeFeature { row: 0, column: 1, .. }), "{err:?}");
    assert_eq!(m.records_seen(), 0);
}

#[test]
fn kmeans_refuses_bad_batches() {
    let mut km = MiniBatchKMeans::params().n_clusters(3).build().expect("valid");
    let empty = Array2::<f64>::zeros((0, 2));
    assert!(matches!(km.partial_fit(empty.view()), Err(ModelError::EmptyBatch(_))));
    let err = km.partial_fit(array![[1.0, 2.0], [2.0, 1.0]].view()).expect_err("2 rows < 3 centres");
    assert!(matches!(err, ModelError::NotEnoughSamples { rows: 2, n_clusters: 3 }), "{err:?}");
    assert!(matches!(km.predict(array![[1.0, 2.0]].view()), Err(ModelError::NotFitted(_))));
    km.partial_fit(array![[1.0, 2.0], [2.0, 1.0], [9.0, 9.0]].view()).expect("valid");
    let before = snapshot(&km);
    assert!(matches!(km.partial_fit(array![[1.0, 2.0, 3.0]].view()), Err(ModelError::FeatureCount { .. })));
    assert!(matches!(km.partial_fit(array![[1.0, f64::NAN]].view()), Err(ModelError::NonFinite { .. })));
    assert!(matches!(km.partial_fit(empty.view()), Err(ModelError::EmptyBatch(_))));
    assert_eq!(snapshot(&km), before);
    let init = KMeansInit::Centers(array![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]);
    let mut given = MiniBatchKMeans::params().n_clusters(3).init(init).build().expect("valid");
    assert!(matches!(given.partial_fit(array![[1.0]].view()), Err(ModelError::FeatureCount { expected: 2, got: 1 })));
}

#[test]
fn scaled_clusterer_leaves_the_scaler_unchanged_on_refusal() {
    use eddy::OnlineClusterer;
    let mut m = ClustererModel::scaled(MiniBatchKMeans::params().n_clusters(3).build().expect("valid"));
    let err = m.partial_fit(array![[1.0, 2.0]].view()).expect_err("too few rows");
    assert!(matches!(err, ModelError::NotEnoughSamples { .. }));
    assert_eq!(m.transforms()[0].records_seen(), 0);
}

#[test]
fn scaler_refuses_bad_batches() {
    let mut s = StandardScaler::new();
    assert!(matches!(s.transform(array![[1.0]].view()), Err(ModelError::NotFitted(_))));
    s.partial_fit(array![[1.0, 2.0]].view()).expect("valid");
    assert!(matches!(s.partial_fit(array![[1.0]].view()), Err(ModelError::FeatureCount { .. })));
    assert!(matches!(s.partial_fit(array![[1.0, f64::NEG_INFINITY]].view()), Err(ModelError::NonFinite { .. })));
    assert_eq!(s.n_samples_seen(), 1);
}

#[test]
fn every_parameter_rule_is_checked() {
    use ParamsError as P;
    assert_eq!(SgdClassifier::params().alpha(-1.0).build().err(), Some(P::Alpha(-1.0)));
    assert_eq!(SgdClassifier::params().alpha(0.0).build().err(), Some(P::OptimalNeedsAlpha));
    assert_eq!(SgdClassifier::params().l1_ratio(1.5).build().err(), Some(P::L1Ratio(1.5)));
    assert!(matches!(
        SgdClassifier::params().learning_rate(LearningRate::Constant).eta0(0.0).build().err(),
        Some(P::Eta0 { schedule: "constant", .. })
    ));
    assert!(matches!(
        SgdClassifier::params().learning_rate(LearningRate::InvScaling).eta0(f64::NAN).build().err(),
        Some(P::Eta0 { schedule: "invscaling", .. })
    ));
    assert!(matches!(SgdClassifier::params().power_t(f64::INFINITY).build().err(), Some(P::PowerT(_))));
    assert_eq!(SgdClassifier::params().classes(&[1, 2, 1]).build().err(), Some(P::DuplicateClass(1)));
    assert_eq!(SgdClassifier::params().classes(&[NO_PREDICTION]).build().err(), Some(P::ReservedClass(NO_PREDICTION)));
    assert_eq!(PassiveAggressiveClassifier::params().c(0.0).build().err(), Some(P::C(0.0)));
    assert_eq!(GaussianNb::params().var_smoothing(-1.0).build().err(), Some(P::VarSmoothing(-1.0)));
    assert_eq!(MultinomialNb::params().alpha(0.0).build().err(), Some(P::Alpha(0.0)));
    assert_eq!(MiniBatchKMeans::params().n_clusters(0).build().err(), Some(P::NClusters));
    assert_eq!(MiniBatchKMeans::params().batch_size(0).build().err(), Some(P::BatchSize));
    assert_eq!(MiniBatchKMeans::params().n_init(0).build().err(), Some(P::NInit));
    assert_eq!(MiniBatchKMeans::params().reassignment_ratio(-0.1).build().err(), Some(P::ReassignmentRatio(-0.1)));
    assert_eq!(MiniBatchKMeans::params().reassignment_ratio(1.5).build().err(), Some(P::ReassignmentRatio(1.5)));
    let scaled_counts = Model::from_spec("scale | multinomial-nb").expect_err("a scaler makes counts negative");
    assert!(scaled_counts.message.contains("takes counts"), "{scaled_counts}");
    let wrong = KMeansInit::Centers(array![[0.0, 0.0]]);
    assert!(matches!(MiniBatchKMeans::params().n_clusters(2).init(wrong).build().err(), Some(P::InitShape { .. })));
    assert_eq!(eddy::metrics::ClassificationMetrics::new(0).err(), Some(P::Window));
}

#[test]
fn discovered_classes_grow_and_cold_start_is_no_prediction() {
    let mut m = SgdClassifier::params().build().expect("valid");
    let x = array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [5.0, 5.0]];
    let labels = m.learn_predict(x.view(), array![4, 4, 8, 2].view()).expect("valid");
    assert_eq!(labels[0], NO_PREDICTION, "nothing known before the first row");
    assert_eq!(labels[1], 4, "one class known: it is the prediction");
    assert_eq!(m.classes(), &[2, 4, 8]);
    assert_eq!(m.coef().nrows(), 3);
}

#[test]
fn empty_and_zero_width_batches_teach_nothing() {
    let mut m = SgdClassifier::params().build().expect("valid");
    let empty = Array2::<f64>::zeros((0, 5));
    let none = Array1::<i64>::zeros(0);
    assert_eq!(m.learn_predict(empty.view(), none.view()).expect("empty is fine").len(), 0);
    assert_eq!(m.n_features(), None, "an empty batch must not fix the feature count");
    let zero_width = Array2::<f64>::zeros((2, 0));
    let err = m.partial_fit(zero_width.view(), array![0, 1].view()).expect_err("no features");
    assert_eq!(err, ModelError::NoFeatures);
    m.partial_fit(array![[1.0, 2.0, 3.0]].view(), array![1].view()).expect("three features is fine");
    assert_eq!(m.n_features(), Some(3));
    let mut gnb = GaussianNb::params().build().expect("valid");
    gnb.partial_fit(empty.view(), none.view()).expect("empty is fine");
    assert_eq!(gnb.n_features(), None);
    let mut s = StandardScaler::new();
    s.partial_fit(empty.view()).expect("empty is fine");
    assert_eq!(s.n_features(), None);
    assert_eq!(s.partial_fit(zero_width.view()), Err(ModelError::NoFeatures));
}

#[test]
fn scaled_classifier_keeps_its_scaler_when_the_model_refuses() {
    let mut m = ClassifierModel::scaled(SgdClassifier::params().classes(&[0, 1]).build().expect("valid"));
    m.partial_fit(array![[1.0, 2.0], [2.0, 1.0]].view(), array![0, 1].view()).expect("valid");
    let before = snapshot(&m);
    let err = m.learn_predict(array![[5.0, 5.0]].view(), array![7].view()).expect_err("undeclared label");
    assert!(matches!(err, ModelError::UnknownLabel { label: 7, .. }));
    assert_eq!(snapshot(&m), before, "the scaler must not keep a refused batch");
    assert_eq!(m.transforms()[0].records_seen(), 2);
}

#[test]
fn kmeans_with_given_centres_also_needs_k_rows_first() {
    let init = KMeansInit::Centers(array![[0.0], [1.0], [2.0]]);
    let mut km = MiniBatchKMeans::params().n_clusters(3).init(init).build().expect("valid");
    let err = km.partial_fit(array![[0.5], [1.5]].view()).expect_err("2 rows < 3 centres");
    assert!(matches!(err, ModelError::NotEnoughSamples { rows: 2, n_clusters: 3 }));
}
