//! Promises every model keeps: `Send`, serde round trips, seeded determinism,
//! and scikit-learn's reassignment of starved k-means centres.

use eddy::model::*;
use eddy::preprocess::StandardScaler;
use eddy::source::synth::Blobs;
use eddy::{OnlineClassifier, OnlineClusterer};
use ndarray::{array, Array2};
use serde::{de::DeserializeOwned, Serialize};

fn assert_send<T: Send>() {}

#[test]
fn every_model_is_send() {
    assert_send::<SgdClassifier>();
    assert_send::<Perceptron>();
    assert_send::<PassiveAggressiveClassifier>();
    assert_send::<GaussianNb>();
    assert_send::<MultinomialNb>();
    assert_send::<MiniBatchKMeans>();
    assert_send::<StandardScaler>();
    assert_send::<Model>();
    assert_send::<Box<dyn OnlineClassifier>>();
    assert_send::<Box<dyn OnlineClusterer>>();
}

/// Train, serialise, deserialise: the copy predicts the same and keeps learning the same.
fn round_trip<M: OnlineClassifier + Serialize + DeserializeOwned>(name: &str, mut m: M, counts: bool) {
    let mut stream = Blobs::new(3, 4, 2);
    let mut batch = || {
        let (x, y) = stream.next_batch(200);
        (if counts { x.mapv(|v| (v + 15.0).max(0.0).round()) } else { x }, y)
    };
    let (x, y) = batch();
    m.partial_fit(x.view(), y.view()).expect("valid");
    let json = serde_json::to_string(&m).expect("serialises");
    let mut copy: M = serde_json::from_str(&json).expect("deserialises");
    let (x, y) = batch();
    assert_eq!(m.predict(x.view()).expect("valid"), copy.predict(x.view()).expect("valid"), "{name}");
    let a = m.learn_predict(x.view(), y.view()).expect("valid");
    let b = copy.learn_predict(x.view(), y.view()).expect("valid");
    assert_eq!(a, b, "{name}: learning after the round trip");
    assert_eq!(serde_json::to_string(&m).expect("ser"), serde_json::to_string(&copy).expect("ser"), "{name}");
}

#[test]
fn every_model_round_trips_through_serde() {
    round_trip("sgd", SgdClassifier::params().loss(Loss::Log).build().expect("valid"), false);
    round_trip("perceptron", Perceptron::params().build().expect("valid"), false);
    round_trip("pa", PassiveAggressiveClassifier::params().build().expect("valid"), false);
    round_trip("gnb", GaussianNb::params().build().expect("valid"), false);
    round_trip("mnb", MultinomialNb::params().build().expect("valid"), true);
    round_trip("scaled sgd", ClassifierModel::scaled(SgdClassifier::params().build().expect("valid")), false);

    let mut stream = Blobs::new(4, 3, 8);
    let mut km = MiniBatchKMeans::params().n_clusters(4).batch_size(100).seed(5).build().expect("valid");
    km.partial_fit(stream.next_batch(100).0.view()).expect("valid");
    let mut copy: MiniBatchKMeans = serde_json::from_str(&serde_json::to_string(&km).expect("ser")).expect("de");
    for _ in 0..30 {
        // Reassignment draws from the generator, so this also checks its state survives.
        let (x, _) = stream.next_batch(100);
        assert_eq!(km.learn_predict(x.view()).expect("valid"), copy.learn_predict(x.view()).expect("valid"));
    }
    assert_eq!(km.cluster_centers(), copy.cluster_centers());
}

#[test]
fn kmeans_is_deterministic_for_a_seed() {
    let fit = |seed: u64| {
        let mut stream = Blobs::new(6, 5, 1);
        let mut km = MiniBatchKMeans::params().n_clusters(6).seed(seed).build().expect("valid");
        for _ in 0..10 {
            km.partial_fit(stream.next_batch(300).0.view()).expect("valid");
        }
        km.cluster_centers().expect("fitted").to_owned()
    };
    assert_eq!(fit(3), fit(3));
    assert_ne!(fit(3), fit(4), "a different seed starts from different centres");
}

/// A centre that never wins a row falls below `reassignment_ratio * max(count)` and is
/// moved onto a row of the data, as scikit-learn does; with the ratio at 0 it stays.
#[test]
fn starved_centre_is_reassigned_into_the_data() {
    let init: Array2<f64> = array![[0.0, 0.0], [10.0, 10.0], [1000.0, 1000.0]];
    let run = |ratio: f64| {
        let mut stream = Blobs::new(2, 2, 4).cluster_std(0.5);
        let mut km = MiniBatchKMeans::params()
            .n_clusters(3)
            .batch_size(64)
            .init(KMeansInit::Centers(init.clone()))
            .reassignment_ratio(ratio)
            .seed(1)
            .build()
            .expect("valid");
        for _ in 0..20 {
            km.partial_fit(stream.next_batch(64).0.view()).expect("valid");
        }
        km
    };
    let km = run(0.01);
    assert!(km.n_reassigned() >= 1);
    let far = km.cluster_centers().expect("fitted").row(2).to_owned();
    assert!(far.iter().all(|v| v.abs() < 50.0), "the starved centre moved into the data: {far}");
    assert!(km.counts()[2] > 0.0);
    let frozen = run(0.0);
    assert_eq!(frozen.n_reassigned(), 0);
    assert_eq!(frozen.cluster_centers().expect("fitted").row(2), init.row(2));
}

// The contracts below iterate the registry: a new stage is covered without editing them.

use crate::util::{blobs_for, every_model_spec};
use eddy::model::registry::{Kind, Role, ENTRIES};

/// Learn `model` on a batch (labels are ignored by clusterers).
fn learn(model: &mut Model, x: &Array2<f64>, y: &ndarray::Array1<i64>) -> Vec<i64> {
    match model {
        Model::Classifier(m) => m.learn_predict(x.view(), y.view()).expect("valid").to_vec(),
        Model::Clusterer(m) => m.learn_predict(x.view()).expect("valid").to_vec(),
    }
}

fn predict(model: &Model, x: &Array2<f64>) -> Vec<i64> {
    match model {
        Model::Classifier(m) => m.predict(x.view()).expect("valid").to_vec(),
        Model::Clusterer(m) => m.predict(x.view()).expect("valid").to_vec(),
    }
}

fn json(model: &Model) -> String {
    serde_json::to_string(model).expect("serialises")
}

#[test]
fn every_registered_model_round_trips_through_json_and_postcard() {
    assert_send::<Model>();
    for (spec, counts) in every_model_spec() {
        let mut model = Model::from_spec(&spec).expect("valid");
        let (x, y) = blobs_for(counts, 1, 300);
        learn(&mut model, &x, &y);
        let from_json: Model = serde_json::from_str(&json(&model)).expect("from JSON");
        let from_postcard: Model =
            postcard::from_bytes(&postcard::to_allocvec(&model).expect("to postcard")).expect("from postcard");
        let (x2, y2) = blobs_for(counts, 2, 300);
        for mut copy in [from_json, from_postcard] {
            assert_eq!(copy.spec(), model.spec(), "{spec}");
            assert_eq!(predict(&copy, &x2), predict(&model, &x2), "{spec}: predictions after the round trip");
            let mut original = model.clone();
            assert_eq!(learn(&mut copy, &x2, &y2), learn(&mut original, &x2, &y2), "{spec}: learning after it");
            assert_eq!(json(&copy), json(&original), "{spec}: state after learning");
        }
    }
}

#[test]
fn every_registered_model_is_deterministic_for_a_seed() {
    use eddy::model::registry::{build_text, Context};
    use eddy::spec::Value;
    for (spec, counts) in every_model_spec() {
        let run = || {
            let ctx = Context { inherited: vec![("random_state", Value::Int(7))], classes: None };
            let (_, mut model) = build_text(&spec, &ctx).expect("valid");
            for seed in 0..5 {
                let (x, y) = blobs_for(counts, seed, 200);
                learn(&mut model, &x, &y);
            }
            json(&model)
        };
        assert_eq!(run(), run(), "{spec}");
    }
}

#[test]
fn every_registered_model_refuses_bad_batches_unchanged() {
    for (spec, counts) in every_model_spec() {
        let mut model = Model::from_spec(&spec).expect("valid");
        let (x, y) = blobs_for(counts, 1, 300);
        learn(&mut model, &x, &y);
        let before = json(&model);
        let mut nan = x.clone();
        nan[[5, 2]] = f64::NAN;
        let wide = Array2::<f64>::ones((4, x.ncols() + 1));
        for (what, bad) in [("NaN", &nan), ("a wrong width", &wide)] {
            let ys = ndarray::Array1::from_elem(bad.nrows(), y[0]);
            let refused = match &mut model {
                Model::Classifier(m) => m.learn_predict(bad.view(), ys.view()).is_err(),
                Model::Clusterer(m) => m.learn_predict(bad.view()).is_err(),
            };
            assert!(refused, "{spec} accepted {what}");
            assert!(predict_refuses(&model, bad), "{spec} predicted {what}");
            assert_eq!(json(&model), before, "{spec}: a refused batch with {what} changed the model");
        }
    }
}

fn predict_refuses(model: &Model, x: &Array2<f64>) -> bool {
    match model {
        Model::Classifier(m) => m.predict(x.view()).is_err(),
        Model::Clusterer(m) => m.predict(x.view()).is_err(),
    }
}

#[test]
fn every_registered_sequential_learner_gives_one_row_steps_in_a_batch() {
    for (spec, counts) in every_model_spec() {
        let model = Model::from_spec(&spec).expect("valid");
        // Clusterers learn per batch (scikit-learn's mini-batch update), by design.
        let Model::Classifier(model) = model else { continue };
        let (x, y) = blobs_for(counts, 3, 200);
        let mut batched = model.clone();
        let labels = batched.learn_predict(x.view(), y.view()).expect("valid").to_vec();
        let mut stepped = model;
        let mut steps = Vec::new();
        for i in 0..x.nrows() {
            let row = x.slice(ndarray::s![i..i + 1, ..]);
            steps.extend(stepped.learn_predict(row, y.slice(ndarray::s![i..i + 1])).expect("valid"));
        }
        assert_eq!(labels, steps, "{spec}: labels");
        assert_eq!(serde_json::to_string(&batched).ok(), serde_json::to_string(&stepped).ok(), "{spec}: state");
    }
}

/// A valid value other than the default, for each kind of parameter.
fn other_values(kind: Kind, default: &serde_json::Value) -> Vec<String> {
    match kind {
        Kind::Float { min, max, .. } => {
            let v = match (min.is_finite(), max.is_finite()) {
                (true, true) => (min + max) / 2.0,
                (true, false) => min + 0.5,
                (false, true) => max - 0.5,
                (false, false) => 0.25,
            };
            vec![format!("{v:?}")]
        }
        Kind::Int { min } => {
            let v =
                [min + 2, min + 1, min + 3].into_iter().find(|v| default.as_i64() != Some(*v)).expect("one differs");
            vec![v.to_string()]
        }
        Kind::Bool => vec![(!default.as_bool().expect("a bool default")).to_string()],
        Kind::Choice(choices) => choices
            .iter()
            .map(|c| c.split('|').next().expect("a name").to_string())
            .filter(|c| default.as_str() != Some(c.as_str()))
            .collect(),
    }
}

#[test]
fn every_parameter_of_every_stage_is_reachable_and_checked() {
    let mut checked = 0;
    for e in ENTRIES {
        let defaults = (e.defaults)();
        for p in e.params {
            for value in other_values(p.kind, &defaults[p.name]) {
                let stage = format!("{}({}={value})", e.name, p.name);
                let spec = if e.role == Role::Transformer { format!("{stage} | gaussian-nb") } else { stage };
                let mut model = Model::from_spec(&spec).unwrap_or_else(|err| panic!("{spec}: {err}"));
                assert!(model.spec().contains(&format!("{}={value}", p.name)), "{spec} printed as {}", model.spec());
                assert_eq!(Model::from_spec(&model.spec()).expect("reads back").spec(), model.spec());
                let (x, y) = blobs_for(e.takes_counts, 1, 100);
                learn(&mut model, &x, &y);
                checked += 1;
            }
            // Out of range or of the wrong type: one clear error naming the stage and the parameter.
            let bad = match p.kind {
                Kind::Float { min, .. } if min.is_finite() => format!("{}", min - 1.0),
                Kind::Int { min } => format!("{}", min - 1),
                _ => "\"no such value\"".into(),
            };
            let spec = format!("{}({}={bad})", e.name, p.name);
            let err = Model::from_spec(&spec).expect_err(&spec);
            assert!(err.message.starts_with(&format!("{}: {} must be", e.name, p.name)), "{spec}: {err}");
        }
    }
    assert!(checked >= ENTRIES.len(), "every stage has parameters to check");
}

#[test]
fn a_stage_of_the_wrong_role_or_an_unknown_name_is_refused_when_decoded() {
    let model = Model::from_spec("scale | gaussian-nb").expect("valid");
    let text = json(&model).replace("\"gaussian-nb\"", "\"no-such-model\"");
    let err = serde_json::from_str::<Model>(&text).expect_err("unknown stage");
    assert!(err.to_string().contains("no stage is called \"no-such-model\""), "{err}");
    let text = json(&model).replacen("\"kind\":\"scale\"", "\"kind\":\"gaussian-nb\"", 1);
    assert!(serde_json::from_str::<Model>(&text).is_err(), "a classifier where a transformer belongs");
}

/// Every path to a value in a JSON document, with the value's kind.
fn leaf_paths(v: &serde_json::Value, path: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                path.push(PathStep::Key(k.clone()));
                leaf_paths(child, path, out);
                path.pop();
            }
        }
        serde_json::Value::Array(items) => {
            out.push(path.clone());
            // The first element stands for the rest: arrays of numbers are long.
            if let Some(first) = items.first() {
                path.push(PathStep::Index(0));
                leaf_paths(first, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut serde_json::Value, path: &[PathStep]) -> &'a mut serde_json::Value {
    path.iter().fold(v, |v, step| match step {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

/// A decoded state is either refused or safe to use: a model file is as trusted as
/// whoever could write it. Every field of every registered model's state is changed,
/// one at a time, in the ways a corrupt or hostile file would change it.
#[test]
fn every_one_field_change_of_a_state_is_refused_or_harmless() {
    use serde_json::json;
    type Mutation = (&'static str, Box<dyn Fn(&mut serde_json::Value)>);
    let mutations: Vec<Mutation> = vec![
        ("-1", Box::new(|v| *v = json!(-1))),
        ("0", Box::new(|v| *v = json!(0))),
        ("1e308", Box::new(|v| *v = json!(1e308))),
        ("2^62", Box::new(|v| *v = json!(1u64 << 62))),
        ("u64::MAX", Box::new(|v| *v = json!(u64::MAX))),
        ("null", Box::new(|v| *v = serde_json::Value::Null)),
        ("empty list", Box::new(|v| *v = json!([]))),
        (
            "one more",
            Box::new(|v| {
                if let Some(a) = v.as_array_mut() {
                    a.push(a.first().cloned().unwrap_or(json!(0)))
                }
            }),
        ),
        (
            "one fewer",
            Box::new(|v| {
                if let Some(a) = v.as_array_mut() {
                    a.pop();
                }
            }),
        ),
    ];
    let mut tried = 0;
    let mut refused = 0;
    for (spec, counts) in every_model_spec() {
        let mut model = Model::from_spec(&spec).expect("valid");
        let (x, y) = blobs_for(counts, 1, 300);
        learn(&mut model, &x, &y);
        let state = serde_json::to_value(&model).expect("serialises");
        let mut paths = Vec::new();
        leaf_paths(&state, &mut Vec::new(), &mut paths);
        for path in &paths {
            for (what, mutate) in &mutations {
                let mut changed = state.clone();
                mutate(at(&mut changed, path));
                if changed == state {
                    continue;
                }
                tried += 1;
                let Ok(mut decoded) = serde_json::from_value::<Model>(changed) else {
                    refused += 1;
                    continue;
                };
                let (x2, y2) = blobs_for(counts, 2, 50);
                let used = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _ = decoded.spec();
                    let _ = decoded.state_is_finite();
                    match &mut decoded {
                        Model::Classifier(m) => {
                            let _ = m.predict(x2.view());
                            let _ = m.predict_proba(x2.view());
                            let _ = m.learn_predict(x2.view(), y2.view());
                        }
                        Model::Clusterer(m) => {
                            let _ = m.predict(x2.view());
                            let _ = m.learn_predict(x2.view());
                            let _ = m.centers_in_input_units();
                        }
                    }
                }));
                assert!(used.is_ok(), "{spec}: {what} at {path:?} was accepted and then panicked");
            }
        }
    }
    assert!(tried > 100 && refused > 0, "{tried} changes tried, {refused} refused");
}
