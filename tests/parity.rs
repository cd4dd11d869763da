//! Parity with scikit-learn: the same data in the same mini-batches through
//! `partial_fit`, compared with the fixtures made by `tests/fixtures/generate.sh`.

use crate::util::{arr1, arr2, assert_close, batches, fixture, labels, stacked};
use eddy::model::*;
use eddy::preprocess::StandardScaler;
use ndarray::{Array1, Array2, ArrayView2};
use serde_json::Value;

/// The linear models share no trait for their coefficients; this gives them one here.
trait Linear: eddy::OnlineClassifier {
    fn coef_(&self) -> Array2<f64>;
    fn intercept_(&self) -> Array1<f64>;
    fn t_(&self) -> f64;
    fn decision(&self, x: ArrayView2<f64>) -> Array2<f64>;
}

macro_rules! linear {
    ($t:ty) => {
        impl Linear for $t {
            fn coef_(&self) -> Array2<f64> {
                self.coef().to_owned()
            }
            fn intercept_(&self) -> Array1<f64> {
                self.intercept().to_owned()
            }
            fn t_(&self) -> f64 {
                self.t()
            }
            fn decision(&self, x: ArrayView2<f64>) -> Array2<f64> {
                self.decision_function(x).expect("valid test rows")
            }
        }
    };
}
linear!(SgdClassifier);
linear!(Perceptron);
linear!(PassiveAggressiveClassifier);

fn build_linear(case: &Value) -> Box<dyn Linear> {
    let p = &case["params"];
    let classes = labels(&case["classes"]).to_vec();
    let get = |k: &str, d: f64| p[k].as_f64().unwrap_or(d);
    match case["estimator"].as_str().expect("estimator") {
        "SGDClassifier" => {
            let loss = match p["loss"].as_str().expect("loss") {
                "log_loss" => Loss::Log,
                "hinge" => Loss::Hinge,
                "modified_huber" => Loss::ModifiedHuber,
                other => panic!("loss {other}"),
            };
            let penalty = match p["penalty"].as_str() {
                Some("l2") => Penalty::L2,
                Some("l1") => Penalty::L1,
                Some("elasticnet") => Penalty::ElasticNet,
                _ => Penalty::None,
            };
            let schedule = match p["learning_rate"].as_str().expect("learning_rate") {
                "optimal" => LearningRate::Optimal,
                "constant" => LearningRate::Constant,
                "invscaling" => LearningRate::InvScaling,
                other => panic!("learning_rate {other}"),
            };
            Box::new(
                SgdClassifier::params()
                    .loss(loss)
                    .penalty(penalty)
                    .alpha(get("alpha", 1e-4))
                    .l1_ratio(get("l1_ratio", 0.15))
                    .learning_rate(schedule)
                    .eta0(get("eta0", 0.0))
                    .power_t(get("power_t", 0.5))
                    .classes(&classes)
                    .build()
                    .expect("fixture params are valid"),
            )
        }
        "Perceptron" => Box::new(Perceptron::params().classes(&classes).build().expect("valid")),
        "PassiveAggressiveClassifier" => {
            let loss = if p["loss"] == "squared_hinge" { PaLoss::SquaredHinge } else { PaLoss::Hinge };
            Box::new(
                PassiveAggressiveClassifier::params()
                    .c(get("C", 1.0))
                    .loss(loss)
                    .classes(&classes)
                    .build()
                    .expect("valid"),
            )
        }
        other => panic!("estimator {other}"),
    }
}

fn check_linear(name: &str) {
    let case = fixture(name);
    let e = &case["expected"];
    let mut model = build_linear(&case);
    for (x, y) in batches(&case) {
        model.partial_fit(x.view(), y.expect("labelled").view()).expect("valid batch");
    }
    assert_close("coef", &model.coef_(), &arr2(&e["coef"]));
    assert_close("intercept", &model.intercept_(), &arr1(&e["intercept"]));
    assert_eq!(model.t_(), e["t"].as_f64().expect("t"), "t_");
    let x_test = arr2(&case["x_test"]);
    let decision = model.decision(x_test.view());
    let expected_decision: Vec<f64> = match e["decision_function"][0].is_array() {
        true => arr2(&e["decision_function"]).iter().copied().collect(),
        false => arr1(&e["decision_function"]).to_vec(),
    };
    assert_close("decision_function", &decision, &expected_decision);
    assert_eq!(model.predict(x_test.view()).expect("valid"), labels(&e["predict"]), "predict");
    match (model.predict_proba(x_test.view()).expect("valid"), e["predict_proba"].is_null()) {
        (Some(p), false) => assert_close("predict_proba", &p, &arr2(&e["predict_proba"])),
        (None, true) => {}
        (got, _) => panic!("predict_proba presence differs: eddy {:?}", got.is_some()),
    }
    // Prequential: scikit-learn one row at a time (predict, then partial_fit) against
    // eddy's learn_predict over the whole stream in one call.
    if !e["prequential"].is_null() {
        let mut fresh = build_linear(&case);
        let (x, y) = stacked(&case);
        let got = fresh.learn_predict(x.view(), y.view()).expect("valid");
        let want = e["prequential"].as_array().expect("prequential");
        for (i, (g, w)) in got.iter().zip(want.iter()).enumerate().skip(1) {
            assert_eq!(Some(*g), w.as_i64(), "prequential label of row {i}");
        }
        // Before any data, declared classes and zero weights give the first class, as scikit-learn would.
        assert_eq!(got[0], fresh.classes()[0]);
        assert_close("prequential coef", &fresh.coef_(), &arr2(&e["prequential_coef"]));
        assert_close("prequential intercept", &fresh.intercept_(), &arr1(&e["prequential_intercept"]));
    }
}

macro_rules! linear_cases {
    ($($name:ident),*) => {$(
        #[test]
        fn $name() {
            check_linear(stringify!($name));
        }
    )*};
}

linear_cases!(
    sgd_log_binary,
    sgd_log_multiclass,
    sgd_hinge_multiclass,
    sgd_hinge_binary_pm1,
    sgd_modified_huber_multiclass,
    sgd_l1,
    sgd_elasticnet,
    sgd_constant,
    sgd_invscaling,
    sgd_alpha_big,
    perceptron_multiclass,
    perceptron_binary,
    pa1_multiclass,
    pa2_multiclass,
    pa1_binary
);

/// scikit-learn restarts its cumulative L1 penalty at every `partial_fit` call;
/// eddy keeps it, so cutting the stream differently does not change the model.
#[test]
fn sgd_l1_is_independent_of_batching_unlike_scikit_learn() {
    let case = fixture("sgd_l1");
    let (x, y) = stacked(&case);
    let mut whole = build_linear(&case);
    whole.partial_fit(x.view(), y.view()).expect("valid");
    let mut pieces = build_linear(&case);
    for start in (0..x.nrows()).step_by(17) {
        let end = (start + 17).min(x.nrows());
        pieces.partial_fit(x.slice(ndarray::s![start..end, ..]), y.slice(ndarray::s![start..end])).expect("valid");
    }
    assert_eq!(whole.coef_(), pieces.coef_());
    assert_eq!(whole.intercept_(), pieces.intercept_());
}

fn gnb(case: &Value) -> GaussianNb {
    let mut m = GaussianNb::params()
        .var_smoothing(case["params"]["var_smoothing"].as_f64().expect("var_smoothing"))
        .classes(&labels(&case["classes"]).to_vec())
        .build()
        .expect("valid");
    for (x, y) in batches(case) {
        m.partial_fit(x.view(), y.expect("labelled").view()).expect("valid");
    }
    m
}

#[test]
fn gnb_one_batch() {
    let case = fixture("gnb_one_batch");
    let e = &case["expected"];
    let m = gnb(&case);
    assert_close("theta", m.theta(), &arr2(&e["theta"]));
    assert_close("var", &m.var(), &arr2(&e["var"]));
    assert_close("class_count", m.class_count(), &arr1(&e["class_count"]));
    assert_close("epsilon", [&m.epsilon()], [&e["epsilon"].as_f64().expect("epsilon")]);
    let x = arr2(&case["x_test"]);
    assert_eq!(m.predict(x.view()).expect("valid"), labels(&e["predict"]));
    assert_close(
        "predict_proba",
        &m.predict_proba(x.view()).expect("valid").expect("has proba"),
        &arr2(&e["predict_proba"]),
    );
    assert_close(
        "joint log-likelihood",
        &m.joint_log_likelihood(x.view()).expect("valid"),
        &arr2(&e["predict_joint_log_proba"]),
    );
}

#[test]
fn gnb_batches_match_except_the_documented_epsilon() {
    let case = fixture("gnb_batches");
    let e = &case["expected"];
    let m = gnb(&case);
    assert_close("theta", m.theta(), &arr2(&e["theta"]));
    assert_close("class_count", m.class_count(), &arr1(&e["class_count"]));
    // With var_smoothing = 1e-9 the batch-dependent epsilon of scikit-learn is far below 1e-6 relative.
    assert_close("var", &m.var(), &arr2(&e["var"]));
    let x = arr2(&case["x_test"]);
    assert_eq!(m.predict(x.view()).expect("valid"), labels(&e["predict"]));
}

/// Documented difference: eddy's epsilon is `var_smoothing * max(variance of all rows seen)`,
/// scikit-learn's comes from the last batch. Means and counts still match exactly.
#[test]
fn gnb_big_smoothing_uses_the_variance_of_everything_seen() {
    let case = fixture("gnb_big_smoothing");
    let e = &case["expected"];
    let m = gnb(&case);
    assert_close("theta", m.theta(), &arr2(&e["theta"]));
    assert_close("class_count", m.class_count(), &arr1(&e["class_count"]));
    let (x, y) = stacked(&case);
    let var_smoothing = case["params"]["var_smoothing"].as_f64().expect("var_smoothing");
    let max_var = x.var_axis(ndarray::Axis(0), 0.0).iter().copied().fold(0.0, f64::max);
    assert_close("epsilon", [&m.epsilon()], [&(var_smoothing * max_var)]);
    for (c, &label) in m.classes().iter().enumerate() {
        let rows: Vec<usize> = (0..y.len()).filter(|&i| y[i] == label).collect();
        let xc = x.select(ndarray::Axis(0), &rows);
        let expected = xc.var_axis(ndarray::Axis(0), 0.0) + var_smoothing * max_var;
        assert_close("var", m.var().row(c), &expected);
    }
    let sklearn_var = arr2(&e["var"]);
    assert!((&m.var() - &sklearn_var).iter().any(|d| d.abs() > 1e-6), "the fixture should show the difference");
}

fn mnb(case: &Value) -> MultinomialNb {
    MultinomialNb::params()
        .alpha(case["params"]["alpha"].as_f64().expect("alpha"))
        .classes(&labels(&case["classes"]).to_vec())
        .build()
        .expect("valid")
}

fn check_mnb(name: &str) {
    let case = fixture(name);
    let e = &case["expected"];
    let mut m = mnb(&case);
    for (x, y) in batches(&case) {
        m.partial_fit(x.view(), y.expect("labelled").view()).expect("valid");
    }
    assert_close("feature_count", m.feature_count(), &arr2(&e["feature_count"]));
    assert_close("class_count", m.class_count(), &arr1(&e["class_count"]));
    assert_close("feature_log_prob", &m.feature_log_prob(), &arr2(&e["feature_log_prob"]));
    assert_close("class_log_prior", &m.class_log_prior(), &arr1(&e["class_log_prior"]));
    let x = arr2(&case["x_test"]);
    assert_eq!(m.predict(x.view()).expect("valid"), labels(&e["predict"]));
    assert_close(
        "predict_proba",
        &m.predict_proba(x.view()).expect("valid").expect("proba"),
        &arr2(&e["predict_proba"]),
    );
    let mut fresh = mnb(&case);
    let (x, y) = stacked(&case);
    let got = fresh.learn_predict(x.view(), y.view()).expect("valid");
    for (i, (g, w)) in got.iter().zip(e["prequential"].as_array().expect("prequential")).enumerate().skip(1) {
        assert_eq!(Some(*g), w.as_i64(), "prequential label of row {i}");
    }
    assert_close("prequential feature_count", fresh.feature_count(), &arr2(&e["prequential_feature_count"]));
}

#[test]
fn mnb_counts() {
    check_mnb("mnb_counts");
}

#[test]
fn mnb_alpha() {
    check_mnb("mnb_alpha");
}

fn check_kmeans(name: &str) {
    let case = fixture(name);
    let e = &case["expected"];
    let p = &case["params"];
    let mut km = MiniBatchKMeans::params()
        .n_clusters(p["n_clusters"].as_u64().expect("k") as usize)
        .batch_size(p["batch_size"].as_u64().expect("batch_size") as usize)
        .init(KMeansInit::Centers(arr2(&p["init"])))
        .n_init(1)
        .reassignment_ratio(p["reassignment_ratio"].as_f64().expect("ratio"))
        .build()
        .expect("valid");
    let mut learn_labels = Vec::new();
    let mut batch_inertia = Vec::new();
    let all = batches(&case);
    for (i, (x, _)) in all.iter().enumerate() {
        learn_labels.extend(km.learn_predict(x.view()).expect("valid"));
        batch_inertia.push(km.batch_inertia());
        assert_close("centres after batch", km.cluster_centers().expect("fitted"), &arr2(&e["centers_history"][i]));
        assert_close("counts after batch", km.counts(), &arr1(&e["counts_history"][i]));
    }
    // scikit-learn's labels_ and inertia_ are the last batch against the moved centres.
    let (last, _) = all.last().expect("batches");
    assert_eq!(km.predict(last.view()).expect("valid"), labels(&e["labels_"]), "labels_");
    let centers = km.cluster_centers().expect("fitted");
    let after: f64 = km
        .predict(last.view())
        .expect("valid")
        .iter()
        .zip(last.outer_iter())
        .map(|(&l, r)| (&r - &centers.row(l as usize)).mapv(|v| v * v).sum())
        .sum();
    assert_close("inertia_", [&after], [&e["inertia_"].as_f64().expect("f64")]);
    assert_eq!(Array1::from(learn_labels), labels(&e["learn_labels"]), "labels at learning time");
    assert_close(
        "batch inertia",
        &batch_inertia,
        &e["batch_inertia"].as_array().expect("list").iter().map(|v| v.as_f64().expect("f64")).collect::<Vec<_>>(),
    );
    assert_close("centres", km.cluster_centers().expect("fitted"), &arr2(&e["cluster_centers"]));
    assert_close("counts", km.counts(), &arr1(&e["counts"]));
    assert_eq!(km.n_steps(), e["n_steps"].as_u64().expect("n_steps"));
    let x = arr2(&case["x_test"]);
    assert_eq!(km.predict(x.view()).expect("valid"), labels(&e["predict"]));
}

#[test]
fn kmeans_init() {
    check_kmeans("kmeans_init");
}

#[test]
fn kmeans_uneven() {
    check_kmeans("kmeans_uneven");
}

fn check_scaler(name: &str) {
    let case = fixture(name);
    let e = &case["expected"];
    let mut s = StandardScaler::new();
    for (x, _) in batches(&case) {
        s.partial_fit(x.view()).expect("valid");
    }
    assert_close("mean", s.mean().expect("fitted"), &arr1(&e["mean"]));
    // A constant column's variance is rounding noise in scikit-learn (5.7e-31): compare absolutely.
    for (a, b) in s.var().expect("fitted").iter().zip(arr1(&e["var"]).iter()) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-20), "var: eddy {a} vs scikit-learn {b}");
    }
    assert_close("scale", &s.scale().expect("fitted"), &arr1(&e["scale"]));
    assert_eq!(s.n_samples_seen(), e["n_samples_seen"].as_u64().expect("n"));
    let x = arr2(&case["x_test"]);
    assert_close("transform", &s.transform(x.view()).expect("valid"), &arr2(&e["transform"]));
}

#[test]
fn scaler_batches() {
    check_scaler("scaler_batches");
}

#[test]
fn scaler_constant() {
    check_scaler("scaler_constant");
}

#[test]
fn metrics_match_scikit_learn() {
    let case = fixture("metrics");
    for pair in case["expected"]["pairs"].as_array().expect("pairs") {
        let t = labels(&pair["labels_true"]).to_vec();
        let p = labels(&pair["labels_pred"]).to_vec();
        let mut m = eddy::metrics::ClassificationMetrics::new(10).expect("valid window");
        m.update(&t, &p);
        assert_close("accuracy", [&m.accuracy().expect("some")], [&pair["accuracy"].as_f64().expect("f64")]);
        assert_close("macro F1", [&m.macro_f1().expect("some")], [&pair["f1_macro"].as_f64().expect("f64")]);
        let cm = m.confusion_matrix();
        assert_eq!(cm.labels, labels(&pair["labels"]).to_vec());
        let want: Vec<f64> = arr2(&pair["confusion_matrix"]).iter().copied().collect();
        let got: Vec<f64> = cm.counts.iter().map(|&c| c as f64).collect();
        assert_eq!(got, want, "confusion matrix");
        assert_close("ARI", [&eddy::metrics::adjusted_rand_index(&t, &p)], [&pair["ari"].as_f64().expect("f64")]);
    }
}
