//! `hoeffding-tree` against River 0.26.1's `HoeffdingTreeClassifier`, from the committed
//! fixtures of `tests/fixtures/trees/` (made by `generate.sh` there): the same prediction
//! for every record, the same splits at the same records, the same final tree.

use eddy::model::tree::codes::CategoryCodes;
use eddy::model::tree::hoeffding::{Criterion, LeafPrediction};
use eddy::model::tree::node::{Node, Test, CATEGORICAL};
use eddy::model::tree::vfdt::Tree;
use eddy::model::tree::{AdaptiveParams, HoeffdingAdaptiveTree};
use eddy::model::{HoeffdingTreeClassifier, HoeffdingTreeParams, OnlineClassifier, NO_PREDICTION};
use eddy::record::Categories;
use ndarray::{Array1, Array2};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trees")
}

/// A fixture stream: numbers (NaN: missing), categories, labels.
struct Stream {
    x: Array2<f64>,
    cats: Categories,
    y: Array1<i64>,
}

fn read_stream(file: &str, numeric: &[String], categorical: &[String]) -> Stream {
    let text = std::fs::read_to_string(dir().join(file)).expect("the stream is committed");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect("a named column");
    let (num_at, cat_at, y_at): (Vec<usize>, Vec<usize>, usize) =
        (numeric.iter().map(|n| col(n)).collect(), categorical.iter().map(|n| col(n)).collect(), col("y"));
    let (mut nums, mut cats, mut ys) = (Vec::new(), Vec::new(), Vec::new());
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        nums.extend(num_at.iter().map(|&j| {
            if cells[j].is_empty() {
                f64::NAN
            } else {
                cells[j].parse().expect("a number")
            }
        }));
        cats.extend(cat_at.iter().map(|&j| (!cells[j].is_empty()).then(|| Arc::<str>::from(cells[j]))));
        ys.push(cells[y_at].parse::<i64>().expect("a label"));
    }
    let n = ys.len();
    Stream {
        x: Array2::from_shape_vec((n, numeric.len()), nums).expect("rectangular"),
        cats: Categories::new(Arc::from(categorical.to_vec()), cats, n).expect("rectangular"),
        y: Array1::from(ys),
    }
}

fn params(p: &Value) -> (HoeffdingTreeParams, AdaptiveParams) {
    let mut out = HoeffdingTreeParams::default();
    let mut ada = AdaptiveParams::default();
    for (k, v) in p.as_object().expect("params") {
        match k.as_str() {
            "bootstrap_sampling" => ada.bootstrap_sampling = v.as_bool().expect("bool"),
            "seed" => ada.seed = v.as_u64().expect("int"),
            "grace_period" => out.grace_period = v.as_u64().expect("int"),
            "max_depth" => out.max_depth = v.as_u64().expect("int") as u32,
            "binary_split" => out.binary_split = v.as_bool().expect("bool"),
            "merit_preprune" => out.merit_preprune = v.as_bool().expect("bool"),
            "remove_poor_attrs" => out.remove_poor_attrs = v.as_bool().expect("bool"),
            "split_criterion" => {
                out.split_criterion = match v.as_str().expect("text") {
                    "gini" => Criterion::Gini,
                    "hellinger" => Criterion::Hellinger,
                    _ => Criterion::InfoGain,
                }
            }
            "leaf_prediction" => {
                out.leaf_prediction = match v.as_str().expect("text") {
                    "mc" => LeafPrediction::Mc,
                    "nb" => LeafPrediction::Nb,
                    _ => LeafPrediction::Nba,
                }
            }
            other => panic!("a River parameter the test does not map: {other}"),
        }
    }
    (out, ada)
}

/// River's tree or adaptive tree, as the comparison reads them.
enum Learner {
    Tree(Box<HoeffdingTreeClassifier>),
    Adaptive(Box<HoeffdingAdaptiveTree>),
}

impl Learner {
    fn learn(&mut self, x: ndarray::ArrayView2<f64>, cats: &Categories, y: ndarray::ArrayView1<i64>) -> i64 {
        let p = match self {
            Self::Tree(t) => t.learn_predict_categorical(x, cats, y),
            Self::Adaptive(t) => t.learn_predict_categorical(x, cats, y),
        };
        p.expect("learns")[0]
    }

    /// River's structure log columns: nodes, branches, leaves, active and inactive leaves.
    fn counts(&self) -> Vec<i64> {
        match self {
            Self::Tree(t) => {
                let s = t.shape();
                vec![
                    s.nodes as i64,
                    s.branches as i64,
                    s.leaves as i64,
                    s.active_leaves as i64,
                    s.inactive_leaves as i64,
                ]
            }
            Self::Adaptive(t) => {
                let (s, c) = (t.shape(), t.counts());
                vec![s.nodes as i64, s.branches as i64, s.leaves as i64, c.active, c.inactive]
            }
        }
    }

    fn tree(&self) -> Tree {
        match self {
            Self::Tree(t) => t.tree().clone(),
            Self::Adaptive(t) => t.main_tree(),
        }
    }

    fn labels(&self) -> &[i64] {
        match self {
            Self::Tree(t) => t.labels(),
            Self::Adaptive(t) => t.labels(),
        }
    }

    fn codes(&self) -> CategoryCodes {
        match self {
            Self::Tree(t) => t.codes().cloned().unwrap_or_default(),
            Self::Adaptive(t) => t.codes().cloned().unwrap_or_default(),
        }
    }

    fn records_seen(&self) -> u64 {
        match self {
            Self::Tree(t) => t.records_seen(),
            Self::Adaptive(t) => t.records_seen(),
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// The tree in pre-order as the fixture writes it: (depth, kind, feature, test, stats).
fn preorder(t: &Learner, names: &[String], n_numeric: usize) -> Vec<Value> {
    let tree = t.tree();
    let nodes = tree.nodes();
    let codes = t.codes();
    let name = |f: u32| -> String {
        if f & CATEGORICAL != 0 {
            names[n_numeric + (f & !CATEGORICAL) as usize].clone()
        } else {
            names[f as usize].clone()
        }
    };
    let stats = |d: &eddy::model::tree::dist::Dist| -> Value {
        d.iter()
            .map(|(c, w)| (t.labels()[c as usize].to_string(), Value::from(w)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let mut out = Vec::new();
    let mut stack = vec![0usize];
    while let Some(at) = stack.pop() {
        match &nodes[at] {
            Node::Leaf(l) => out.push(serde_json::json!({
                "depth": l.depth, "kind": "leaf", "active": l.is_active(), "stats": stats(&l.stats),
            })),
            Node::Branch(b) => {
                let j = |f: u32| (f & !CATEGORICAL) as usize;
                let test = match &b.test {
                    Test::Le { threshold, .. } => serde_json::json!({"op": "<=", "threshold": threshold}),
                    Test::Eq { feature, code } => {
                        serde_json::json!({"op": "==", "value": codes.text(j(*feature), *code)})
                    }
                    Test::Multi { feature, codes: cs } => serde_json::json!({
                        "op": "multiway",
                        "values": cs.iter().map(|&c| codes.text(j(*feature), c)).collect::<Vec<_>>(),
                    }),
                };
                out.push(serde_json::json!({
                    "depth": b.depth, "kind": "branch", "feature": name(b.test.feature()), "test": test,
                    "stats": stats(&b.stats),
                }));
                stack.extend(b.children.iter().rev().map(|&c| c as usize));
            }
        }
    }
    out
}

/// Compare one node: exact structure, numbers to 1e-9 relative. Returns a difference, if any.
fn node_differs(ours: &Value, river: &Value) -> Option<String> {
    for key in ["depth", "kind"] {
        if ours[key] != river[key] {
            return Some(format!("{key}: ours {} vs River {}", ours[key], river[key]));
        }
    }
    if river["kind"] == "leaf" && ours["active"] != river["active"] {
        return Some(format!("active: ours {} vs River {}", ours["active"], river["active"]));
    }
    if river["kind"] == "branch" {
        if ours["feature"] != river["feature"] {
            return Some(format!("feature: ours {} vs River {}", ours["feature"], river["feature"]));
        }
        let (a, b) = (&ours["test"], &river["test"]);
        let same = match b["op"].as_str() {
            Some("<=") => a["op"] == "<=" && close(a["threshold"].as_f64()?, b["threshold"].as_f64()?),
            _ => a == b,
        };
        if !same {
            return Some(format!("test: ours {a} vs River {b}"));
        }
    }
    let (a, b) = (ours["stats"].as_object()?, river["stats"].as_object()?);
    if a.len() != b.len()
        || b.iter()
            .any(|(k, v)| !a.get(k).is_some_and(|w| close(w.as_f64().unwrap_or(f64::NAN), v.as_f64().unwrap_or(0.0))))
    {
        return Some(format!("stats: ours {:?} vs River {:?}", a, b));
    }
    None
}

fn check(file: &str) {
    let case: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join(file)).expect("committed")).expect("JSON");
    let strings = |k: &str| -> Vec<String> {
        case[k].as_array().expect("names").iter().map(|v| v.as_str().expect("text").to_string()).collect()
    };
    let (numeric, categorical, names) = (strings("numeric"), strings("categorical"), strings("features"));
    let s = read_stream(case["stream"].as_str().expect("stream"), &numeric, &categorical);
    let (tree, ada) = params(&case["params"]);
    let mut t = if case["model"] == "HoeffdingAdaptiveTreeClassifier" {
        Learner::Adaptive(Box::new(ada.build(tree).expect("valid")))
    } else {
        Learner::Tree(Box::new(tree.build().expect("valid")))
    };
    let mut preds = Vec::with_capacity(s.y.len());
    let mut log: Vec<Vec<i64>> = Vec::new();
    let mut last: Option<Vec<i64>> = None;
    let mut counters: Vec<(usize, [u64; 3])> = Vec::new();
    for i in 0..s.y.len() {
        let r = i..i + 1;
        let cats = s.cats.slice_rows(r.clone());
        preds.push(t.learn(s.x.slice(ndarray::s![r.clone(), ..]), &cats, s.y.slice(ndarray::s![r])));
        let now = t.counts();
        if last.as_ref() != Some(&now) {
            log.push(std::iter::once(i as i64).chain(now.iter().copied()).collect());
            last = Some(now);
        }
        if let Learner::Adaptive(a) = &t {
            let c = a.counts();
            counters.push((i, [c.alternates, c.pruned, c.switched]));
        }
    }
    let river: Vec<i64> = case["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .map(|v| v.as_i64().unwrap_or(NO_PREDICTION))
        .collect();
    let differ: Vec<usize> = (0..river.len()).filter(|&i| preds[i] != river[i]).collect();
    assert!(
        differ.is_empty(),
        "{file}: {} predictions differ, first at rows {:?}",
        differ.len(),
        &differ[..differ.len().min(10)]
    );
    let river_log: Vec<Vec<i64>> = serde_json::from_value(case["structure_log"].clone()).expect("structure log");
    assert_eq!(log, river_log, "{file}: the tree changes at other records");
    let final_ = &case["final"];
    assert_eq!(t.tree().shape().depth as u64 + 1, final_["height"].as_u64().expect("height"), "{file}: height");
    if let Learner::Adaptive(a) = &t {
        let c = a.counts();
        let want = |k: &str| final_[k].as_u64().expect("a counter");
        assert_eq!(
            [c.alternates, c.pruned, c.switched],
            [want("n_alternate_trees"), want("n_pruned_alternate_trees"), want("n_switch_alternate_trees")],
            "{file}: alternate trees started, dropped, switched"
        );
        // The record at which each counter moved.
        for (k, name) in
            ["n_alternate_trees", "n_pruned_alternate_trees", "n_switch_alternate_trees"].iter().enumerate()
        {
            let rows: Vec<usize> = counters.windows(2).filter(|w| w[1].1[k] != w[0].1[k]).map(|w| w[1].0).collect();
            let river: Vec<usize> = serde_json::from_value(case["counter_rows"][name].clone()).expect("rows");
            assert_eq!(rows, river, "{file}: {name} moved at other records");
        }
    }
    let ours = preorder(&t, &names, numeric.len());
    let theirs = final_["tree"].as_array().expect("tree");
    assert_eq!(ours.len(), theirs.len(), "{file}: node count");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        if let Some(why) = node_differs(a, b) {
            panic!("{file}: node {i} (pre-order): {why}");
        }
    }
    assert_eq!(t.records_seen() as usize, river.len());
}

macro_rules! parity {
    ($($name:ident => $file:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check($file);
            }
        )*
    };
}

parity! {
    sine_defaults => "ht_sine_default.json",
    sine_grace_50 => "ht_sine_g50.json",
    sine_gini => "ht_sine_gini_g50.json",
    sine_hellinger => "ht_sine_hellinger_g50.json",
    sine_hellinger_max_depth_3 => "ht_sine_hellinger_maxdepth3_g50.json",
    sine_majority_class_leaves => "ht_sine_mc_g50.json",
    sine_naive_bayes_leaves => "ht_sine_nb_g50.json",
    sine_max_depth_2 => "ht_sine_maxdepth2_g50.json",
    sine_max_depth_3 => "ht_sine_maxdepth3_g50.json",
    sine_with_drift => "ht_sinedrift_g50.json",
    rbf_grace_50 => "ht_rbf3_g50.json",
    rbf_gini => "ht_rbf3_gini_g50.json",
    rbf_majority_class_leaves => "ht_rbf3_mc_g50.json",
    rbf_binary_split => "ht_rbf3_binary_g50.json",
    rbf_no_preprune => "ht_rbf3_nopreprune_g50.json",
    rbf_remove_poor_attrs => "ht_rbf3_removepoor_g50.json",
    rbf_remove_poor_attrs_majority_class => "ht_rbf3_removepoor_mc_g50.json",
    mixed_multiway => "ht_mixed_g50.json",
    mixed_binary_split => "ht_mixed_binary_g50.json",
    mixed_majority_class_leaves => "ht_mixed_mc_g50.json",
    adaptive_sine => "hat_sine_g50.json",
    adaptive_rbf => "hat_rbf3_g50.json",
    adaptive_sine_with_drift => "hat_sinedrift_g50.json",
    adaptive_sine_with_drift_grace_100 => "hat_sinedrift_g100.json",
}
