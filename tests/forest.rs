//! `arf`: the same labels and model on any number of threads, better than one tree and
//! than linear models where classes are not linearly separable, trees replaced after a
//! change, leaves that observe `max_features` features, refusals that change nothing.

use eddy::model::{Model, OnlineClassifier};
use ndarray::{Array1, Array2};
use ndarray_rand::rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::process::Command;

/// `n` records of XOR on features 0 and 1 of `d` in [0, 1); after record `flip_at` the
/// classes swap (an abrupt change).
fn xor(n: usize, d: usize, flip_at: usize, seed: u64) -> (Array2<f64>, Array1<i64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, d), |_| rng.r#gen::<f64>());
    let y =
        x.outer_iter().enumerate().map(|(i, r)| i64::from(((r[0] > 0.5) != (r[1] > 0.5)) != (i >= flip_at))).collect();
    (x, y)
}

fn classifier(spec: &str) -> eddy::model::ClassifierModel {
    match Model::from_spec(spec).expect("valid") {
        Model::Classifier(c) => c,
        Model::Clusterer(_) => unreachable!("a classifier spec"),
    }
}

fn accuracy(pred: &Array1<i64>, y: &Array1<i64>, range: std::ops::Range<usize>) -> f64 {
    let n = range.len();
    range.filter(|&i| pred[i] == y[i]).count() as f64 / n as f64
}

#[test]
fn labels_and_model_are_the_same_on_one_or_three_threads() {
    let dir = std::env::temp_dir().join(format!("eddy-forest-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let run = |threads: &str| -> (Vec<u8>, String) {
        let (labels, model) = (dir.join(format!("l{threads}.csv")), dir.join(format!("m{threads}.eddy")));
        let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["run", "synth:rbf?n=6000&d=5&speed=0.001&seed=3", "--model", "arf(n_models=5)", "--seed", "7"])
            .args(["--threads", threads, "--batch-size", "700", "--quiet"])
            .args(["--labels-out", labels.to_str().expect("utf-8"), "--save-model", model.to_str().expect("utf-8")])
            .output()
            .expect("eddy runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (_, m) = eddy::model_file::load_model(&model, &eddy::model_file::Keys::default()).expect("loads");
        (std::fs::read(labels).expect("labels"), serde_json::to_string(&m).expect("json"))
    };
    let (one, three) = (run("1"), run("3"));
    assert!(one.0 == three.0, "the labels differ between 1 and 3 threads");
    assert!(one.1 == three.1, "the models differ between 1 and 3 threads");
    assert!(one.1.contains("\"seed\":7"), "the run's --seed is the forest's seed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_forest_beats_a_tree_and_a_linear_model_on_xor_and_recovers_from_a_change() {
    let (x, y) = xor(40_000, 4, 20_000, 1);
    let mut forest = classifier("arf(n_models=5, seed=1)");
    let pred = forest.learn_predict(x.view(), y.view()).expect("learns");
    let before = accuracy(&pred, &y, 15_000..20_000);
    let after = accuracy(&pred, &y, 35_000..40_000);
    assert!(before > 0.93, "before the change: {before}");
    assert!(after > 0.9, "trees replaced after the change: {after}");
    let mut linear = classifier("scale | sgd(loss=log_loss)");
    let lin = linear.learn_predict(x.view(), y.view()).expect("learns");
    assert!(accuracy(&lin, &y, 15_000..20_000) < 0.65, "a linear model cannot learn XOR");
    let json = serde_json::to_value(&forest).expect("json");
    let replacements = json["head"]["state"]["replacements"].as_array().expect("replacements").clone();
    // ADWIN signals falling errors too (trees learning), as in River: replacements come
    // early as well, but the change must bring some soon after it.
    let soon_after =
        replacements.iter().filter(|r| (20_000..24_000).contains(&r[0].as_u64().expect("a record"))).count();
    assert!(soon_after >= 3, "trees replaced after the change: {replacements:?}");
}

#[test]
fn each_leaf_observes_max_features_features() {
    let (x, y) = xor(3000, 9, usize::MAX, 2);
    for (spec, m) in
        [("arf(n_models=3)", 3), ("arf(n_models=3, max_features=5)", 5), ("arf(n_models=3, max_features=0.25)", 2)]
    {
        let mut forest = classifier(spec);
        forest.learn_predict(x.view(), y.view()).expect("learns");
        let json = serde_json::to_value(&forest).expect("json");
        let mut leaves = 0;
        for member in json["head"]["state"]["members"].as_array().expect("members") {
            for node in member["tree"]["nodes"].as_array().expect("nodes") {
                if let Some(subset) = node["Leaf"]["subset"].as_array() {
                    assert_eq!(subset.len(), m, "{spec}: {subset:?}");
                    leaves += 1;
                }
            }
        }
        assert!(leaves >= 3, "{spec}: the leaves drew their features");
    }
}

#[test]
fn predicting_changes_nothing_and_a_refused_batch_neither() {
    let (x, y) = xor(2000, 3, usize::MAX, 3);
    let mut forest = classifier("arf(n_models=4, seed=2)");
    forest.learn_predict(x.view(), y.view()).expect("learns");
    let before = serde_json::to_string(&forest).expect("json");
    let p1 = forest.predict(x.view()).expect("predicts");
    let proba = forest.predict_proba(x.view()).expect("predicts").expect("probabilities");
    for row in proba.outer_iter() {
        assert!((row.sum() - 1.0).abs() < 1e-9, "probabilities sum to 1: {row}");
    }
    let mut bad = x.slice(ndarray::s![..5, ..]).to_owned();
    bad[[4, 0]] = f64::INFINITY;
    assert!(forest.learn_predict(bad.view(), y.slice(ndarray::s![..5])).is_err());
    assert_eq!(serde_json::to_string(&forest).expect("json"), before);
    assert_eq!(forest.predict(x.view()).expect("predicts"), p1);
}

#[test]
fn forest_specs_read_and_refuse_as_river_s_parameters() {
    let spec =
        classifier("arf(n_models=3, max_features=log2, lambda_value=1, drift_detector=adwin(delta=0.01))").spec();
    assert_eq!(spec, "arf(n_models=3, max_features=log2, lambda_value=1, drift_detector=adwin(delta=0.01))");
    assert_eq!(classifier(&spec).spec(), spec, "the spec reads back");
    for bad in [
        "arf(n_models=0)",
        "arf(max_features=0)",
        "arf(max_features=1.5)",
        "arf(max_features=cube)",
        "arf(lambda_value=0)",
    ] {
        assert!(Model::from_spec(bad).is_err(), "{bad} is refused");
    }
}

#[test]
fn each_replaced_tree_is_an_event_at_the_record_that_replaced_it() {
    let dir = std::env::temp_dir().join(format!("eddy-forest-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let (x, y) = xor(30_000, 4, 15_000, 4);
    let mut csv = String::from("a,b,c,d,y\n");
    for (row, label) in x.outer_iter().zip(&y) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
        csv.push_str(&format!("{},{label}\n", cells.join(",")));
    }
    let input = dir.join("xor.csv");
    std::fs::write(&input, csv).expect("written");
    let path = |name: &str| dir.join(name).to_str().expect("utf-8").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["run", &path("xor.csv"), "--label-column", "y", "--model", "arf(n_models=5, seed=1)"])
        .args(["--batch-size", "700", "--events-out", &path("events.ndjson"), "--labels-out", &path("l.csv")])
        .args(["--save-model", &path("m.eddy"), "--summary-json", &path("s.json")])
        .output()
        .expect("eddy runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("events.ndjson"))
        .expect("events")
        .lines()
        .map(|l| serde_json::from_str(l).expect("an event per line"))
        .collect();
    // The model remembers (record, tree) of each replacement, counting the records it
    // learned: every record here, in input order, so the events say the same.
    let (_, model) =
        eddy::model_file::load_model(&dir.join("m.eddy"), &eddy::model_file::Keys::default()).expect("the model loads");
    let json = serde_json::to_value(&model).expect("json");
    let remembered: Vec<(u64, u64)> = json["classifier"]["head"]["state"]["replacements"]
        .as_array()
        .expect("replacements")
        .iter()
        .map(|r| (r[0].as_u64().expect("a record"), r[1].as_u64().expect("a tree")))
        .collect();
    let signalled: Vec<(u64, u64)> = events
        .iter()
        .map(|e| {
            assert_eq!((e["kind"].as_str(), e["watched"].as_str()), (Some("replaced"), Some("trees")), "{e}");
            assert_eq!(e["detector"], "adwin(delta=0.001)", "{e}");
            (e["record"].as_u64().expect("a record"), e["tree"].as_u64().expect("a tree"))
        })
        .collect();
    assert!(signalled.iter().filter(|(r, _)| (15_000..19_000).contains(r)).count() >= 3, "{signalled:?}");
    assert_eq!(signalled, remembered);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("summary")).expect("json");
    assert_eq!(summary["models"][0]["drift"]["replacements"].as_u64(), Some(events.len() as u64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{} trees replaced (tree ", events.len())), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
