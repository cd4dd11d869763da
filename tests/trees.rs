//! Hoeffding trees: known concepts, splits where the Hoeffding bound allows them, limits
//! that hold, missing values and categories read natively, refusals that change nothing.

use eddy::model::tree::node::{Node, Test, CATEGORICAL};
use eddy::model::{HoeffdingTreeClassifier, HoeffdingTreeParams, Model, OnlineClassifier};
use eddy::record::Categories;
use ndarray::{Array1, Array2};
use ndarray_rand::rand::{Rng, SeedableRng};
use proptest::prelude::*;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::sync::Arc;

/// `n` records of XOR on two features in [0, 1): the class is 1 when exactly one is above 0.5.
fn xor(n: usize, seed: u64) -> (Array2<f64>, Array1<i64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 2), |_| rng.r#gen::<f64>());
    let y = x.outer_iter().map(|r| i64::from((r[0] > 0.5) != (r[1] > 0.5))).collect();
    (x, y)
}

fn tree(params: HoeffdingTreeParams) -> HoeffdingTreeClassifier {
    params.build().expect("valid parameters")
}

/// The share of records from `from` on whose prediction is their label.
fn accuracy(pred: &Array1<i64>, y: &Array1<i64>, from: usize) -> f64 {
    let right = pred.iter().zip(y).skip(from).filter(|(a, b)| a == b).count();
    right as f64 / (y.len() - from) as f64
}

#[test]
fn a_tree_learns_xor_which_no_single_feature_explains() {
    let (x, y) = xor(30_000, 1);
    let mut t = tree(HoeffdingTreeParams { grace_period: 50, ..Default::default() });
    let pred = t.learn_predict(x.view(), y.view()).expect("learns");
    let acc = accuracy(&pred, &y, 25_000);
    assert!(acc > 0.95, "accuracy on the last 5000 records: {acc}");
    assert!(t.shape().depth >= 2, "XOR needs both features: {:?}", t.shape());
    // Naive Bayes, which sees one feature at a time, cannot.
    let mut nb = Model::from_spec("gaussian-nb").expect("valid");
    let Model::Classifier(nb) = &mut nb else { unreachable!("a classifier") };
    let nb_pred = nb.learn_predict(x.view(), y.view()).expect("learns");
    let nb_acc = accuracy(&nb_pred, &y, 25_000);
    assert!(nb_acc < 0.65, "naive Bayes on XOR: {nb_acc}");
}

#[test]
fn an_informative_feature_splits_at_the_first_attempt() {
    // x0 decides the class, x1 is noise: the best merit (1 bit) beats the second by more
    // than the bound at n = 200 (0.2007), so the root splits after exactly 200 records.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let x = Array2::from_shape_fn((400, 2), |_| rng.r#gen::<f64>());
    let y: Array1<i64> = x.column(0).iter().map(|&v| i64::from(v > 0.5)).collect();
    let mut t = tree(HoeffdingTreeParams::default());
    t.partial_fit(x.slice(ndarray::s![..199, ..]), y.slice(ndarray::s![..199])).expect("learns");
    assert_eq!(t.shape().nodes, 1, "no attempt before the grace period");
    t.partial_fit(x.slice(ndarray::s![199..200, ..]), y.slice(ndarray::s![199..200])).expect("learns");
    let Node::Branch(root) = &t.tree().nodes()[0] else { panic!("the root splits at record 200") };
    let Test::Le { feature, threshold } = root.test else { panic!("a numeric test: {:?}", root.test) };
    assert_eq!(feature, 0);
    // Candidates are min + (max - min) * i / 11: the one nearest 0.5 separates best.
    assert!((threshold - 0.5).abs() < 0.1, "threshold {threshold}");
}

#[test]
fn uninformative_features_split_only_once_the_bound_is_below_tau() {
    // On XOR neither feature alone gains anything, so the best two merits stay within the
    // bound until it falls below tau: sqrt(ln(1e7) / (2n)) < 0.05 needs n > 3223.6, so the
    // first attempt that may split is the one at 3400 records (attempts every 200).
    let (x, y) = xor(3400, 3);
    let mut t = tree(HoeffdingTreeParams::default());
    t.partial_fit(x.slice(ndarray::s![..3399, ..]), y.slice(ndarray::s![..3399])).expect("learns");
    assert_eq!(t.shape().nodes, 1, "no split while the bound is above tau");
    t.partial_fit(x.slice(ndarray::s![3399.., ..]), y.slice(ndarray::s![3399..])).expect("learns");
    assert_eq!(t.shape().branches, 1, "the root splits at record 3400: {:?}", t.shape());
}

/// `n` records with a numeric noise column and a categorical column `color`: the class is
/// 1 exactly for "red".
fn colors(n: usize, seed: u64) -> (Array2<f64>, Categories, Array1<i64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let palette: Vec<Arc<str>> = ["red", "green", "blue", "amber"].into_iter().map(Arc::from).collect();
    let x = Array2::from_shape_fn((n, 1), |_| rng.r#gen::<f64>());
    let picks: Vec<usize> = (0..n).map(|_| rng.gen_range(0..palette.len())).collect();
    let values = picks.iter().map(|&i| Some(Arc::clone(&palette[i]))).collect();
    let cats = Categories::new(Arc::from(vec!["color".to_string()]), values, n).expect("rectangular");
    let y = picks.iter().map(|&i| i64::from(i == 0)).collect();
    (x, cats, y)
}

#[test]
fn a_category_splits_natively() {
    for binary_split in [false, true] {
        let (x, cats, y) = colors(3000, 4);
        let mut t = tree(HoeffdingTreeParams { binary_split, ..Default::default() });
        let pred = t.learn_predict_categorical(x.view(), &cats, y.view()).expect("learns");
        let Node::Branch(root) = &t.tree().nodes()[0] else { panic!("the root splits") };
        assert_eq!(root.test.feature(), CATEGORICAL, "the split reads the categorical column");
        match (&root.test, binary_split) {
            (Test::Multi { codes, .. }, false) => assert_eq!(codes.len(), 4, "a branch per color"),
            (Test::Eq { code, .. }, true) => {
                assert_eq!(t.codes().expect("learned").text(0, *code), "red", "red against the rest")
            }
            (other, _) => panic!("binary_split={binary_split}: {other:?}"),
        }
        let acc = accuracy(&pred, &y, 1000);
        assert!(acc > 0.99, "binary_split={binary_split}: {acc}");
        // A color it never learned takes the branch that learned most, and predicting it changes nothing.
        let unseen = Categories::new(Arc::from(vec!["color".to_string()]), vec![Some(Arc::from("teal"))], 1)
            .expect("one record");
        let before = serde_json::to_string(&t).expect("serialises");
        assert_eq!(t.predict_categorical(x.slice(ndarray::s![..1, ..]), &unseen).expect("predicts")[0], 0);
        assert_eq!(serde_json::to_string(&t).expect("serialises"), before);
    }
}

#[test]
fn missing_values_are_learned_and_routed() {
    let (mut x, y) = xor(20_000, 5);
    for i in (0..x.nrows()).step_by(10) {
        x[[i, i % 2]] = f64::NAN;
    }
    let mut t = tree(HoeffdingTreeParams { grace_period: 50, ..Default::default() });
    let pred = t.learn_predict(x.view(), y.view()).expect("NaN is a missing value");
    let acc = accuracy(&pred, &y, 15_000);
    assert!(acc > 0.85, "{acc}");
    assert_eq!(t.records_seen(), 20_000);
}

#[test]
fn a_refused_batch_changes_nothing() {
    let (x, y) = xor(500, 6);
    let mut t = tree(HoeffdingTreeParams { grace_period: 50, ..Default::default() });
    t.partial_fit(x.view(), y.view()).expect("learns");
    let before = serde_json::to_string(&t).expect("serialises");
    let mut bad = x.slice(ndarray::s![..10, ..]).to_owned();
    bad[[9, 1]] = f64::INFINITY;
    assert!(t.partial_fit(bad.view(), y.slice(ndarray::s![..10])).is_err(), "infinity refused");
    let wide = Array2::zeros((3, 3));
    assert!(t.partial_fit(wide.view(), Array1::zeros(3).view()).is_err(), "wrong width refused");
    let (xc, cats, yc) = colors(3, 7);
    let _ = xc;
    assert!(
        t.learn_predict_categorical(x.slice(ndarray::s![..3, ..]), &cats, yc.view()).is_err(),
        "categorical columns it never had are refused"
    );
    assert_eq!(serde_json::to_string(&t).expect("serialises"), before);
    let mut declared = tree(HoeffdingTreeParams::default().classes(&[0, 1]));
    assert!(declared.partial_fit(x.slice(ndarray::s![..2, ..]), Array1::from(vec![0, 7]).view()).is_err());
    assert_eq!(declared.records_seen(), 0);
}

#[test]
fn memory_is_bounded_by_deactivating_leaves() {
    let (x, y) = xor(40_000, 8);
    let params = HoeffdingTreeParams {
        grace_period: 50,
        tau: 0.5,
        max_size: 0.01,
        memory_estimate_period: 1000,
        ..Default::default()
    };
    let mut t = tree(params);
    t.partial_fit(x.view(), y.view()).expect("learns");
    let shape = t.shape();
    assert!(shape.inactive_leaves > 0, "{shape:?}");
    assert!(t.tree().bytes() < 3 * 10_486, "{} bytes for a 0.01 MiB limit: {shape:?}", t.tree().bytes());
}

#[test]
fn a_model_file_round_trip_keeps_every_prediction() {
    let (x, cats, y) = colors(2000, 9);
    let mut m = Model::from_spec("hoeffding-tree(grace_period=50, leaf_prediction=mc)").expect("valid");
    assert_eq!(m.spec(), "hoeffding-tree(grace_period=50, leaf_prediction=mc)");
    let Model::Classifier(c) = &mut m else { unreachable!("a classifier") };
    c.learn_predict_with(x.view(), &cats, y.view()).expect("learns");
    let bytes = postcard::to_allocvec(&m).expect("serialises");
    let back: Model = postcard::from_bytes(&bytes).expect("reads back");
    let (Model::Classifier(a), Model::Classifier(b)) = (&m, &back) else { unreachable!("classifiers") };
    assert_eq!(a.predict_with(x.view(), &cats).expect("a"), b.predict_with(x.view(), &cats).expect("b"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn predictions_are_classes_and_depth_stays_within_max_depth(
        seed in 0u64..1000,
        max_depth in 1u32..4,
        classes in 2i64..5,
        leaf in prop::sample::select(vec!["mc", "nb", "nba"]),
    ) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let x = Array2::from_shape_fn((1500, 3), |_| rng.r#gen::<f64>());
        let y: Array1<i64> = x.outer_iter().map(|r| ((r[0] * 3.0 + r[1] * 2.0) as i64) % classes * 10).collect();
        let spec = format!("hoeffding-tree(grace_period=20, tau=0.5, max_depth={max_depth}, leaf_prediction={leaf})");
        let mut m = Model::from_spec(&spec).expect("valid");
        let Model::Classifier(c) = &mut m else { unreachable!("a classifier") };
        let pred = c.learn_predict(x.view(), y.view()).expect("learns");
        let known: Vec<i64> = c.classes().to_vec();
        for p in pred.iter().skip(1) {
            prop_assert!(known.contains(p), "{p} is not among {known:?}");
        }
        let t = c.head().as_ref();
        let depth = eddy::model::registry::stage_spec(t);
        prop_assert!(depth.contains("max_depth"));
        let json = serde_json::to_value(&m).expect("serialises");
        let nodes = json["classifier"]["head"]["state"]["tree"]["nodes"].as_array().expect("nodes").clone();
        for n in nodes {
            let d = n.get("Leaf").or_else(|| n.get("Branch")).and_then(|v| v["depth"].as_u64()).expect("a depth");
            prop_assert!(d <= u64::from(max_depth), "a node at depth {d} > {max_depth}");
        }
    }
}

#[test]
fn a_run_reads_categories_and_missing_values_and_the_saved_tree_shows_as_text() {
    let dir = std::env::temp_dir().join(format!("eddy-trees-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let input = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trees/mixed.csv");
    let (labels, model) = (dir.join("labels.csv"), dir.join("tree.eddy"));
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["run", input.to_str().expect("utf-8"), "--label-column", "y"])
        .args(["--model", "hoeffding-tree(grace_period=50)", "--labels-out", labels.to_str().expect("utf-8")])
        .args(["--save-model", model.to_str().expect("utf-8")])
        .output()
        .expect("eddy runs");
    let said = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{said}");
    // River's accuracy on this stream (tests/fixtures/trees/ht_mixed_g50.json): 0.9045.
    assert!(said.contains("0.9045"), "{said}");
    let show = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["model", "show", model.to_str().expect("utf-8"), "--tree", "--depth", "1"])
        .output()
        .expect("eddy runs");
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    assert!(text.starts_with("hoeffding-tree(grace_period=50)\n18 nodes: 7 branches, 11 leaves"), "{text}");
    assert!(text.contains("root: split on color by category"), "{text}");
    assert!(text.contains("├─ color = \"green\": class 1 (94.1% of n=1251)"), "{text}");
    assert!(text.contains("nodes below not shown"), "--depth 1 cuts the deeper splits: {text}");
    // A model without a tree says so.
    let linear = dir.join("linear.eddy");
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["model", "new", "sgd", "--features", "a,b", "--out", linear.to_str().expect("utf-8")])
        .output()
        .expect("eddy runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["model", "show", linear.to_str().expect("utf-8"), "--tree"])
        .output()
        .expect("eddy runs");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("has no tree to show"));
    let _ = std::fs::remove_dir_all(&dir);
}
