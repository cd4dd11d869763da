//! Categorical and missing values: encoders that grow the models behind them exactly
//! as if every category had been known from the start, the imputer's counts, and
//! mixed records from the command line.

use eddy::model::Model;
use eddy::record::Categories;
use ndarray::{Array1, Array2};
use std::path::Path;
use std::sync::Arc;

/// A stream whose categorical column `c` meets a new category at rows 60, 150 and
/// 260, with two numeric columns; the label depends mostly on the category.
fn stream(n: usize) -> (Array2<f64>, Vec<&'static str>, Array1<i64>) {
    let cats = ["a", "b", "c", "d", "e"];
    let mut x = Array2::zeros((n, 2));
    let mut c = Vec::with_capacity(n);
    let mut y = Array1::zeros(n);
    for i in 0..n {
        let known = match i {
            0..60 => 2,
            60..150 => 3,
            150..260 => 4,
            _ => 5,
        };
        let k = (i * 7 + i / 3) % known;
        // Not negative, for multinomial naive Bayes.
        let (u, v) = (((i * 37) % 101) as f64 / 50.0, ((i * 53) % 89) as f64 / 44.0);
        x[[i, 0]] = u;
        x[[i, 1]] = v;
        c.push(cats[k]);
        y[i] = i64::from((k % 2 == 0) ^ (u + v > 3.5));
    }
    (x, c, y)
}

fn categories(values: &[&str]) -> Categories {
    let names: Arc<[String]> = Arc::from(vec!["c".to_string()]);
    Categories::new(names, values.iter().map(|v| Some(Arc::from(*v))).collect(), values.len()).expect("shape")
}

/// `x` with a 0/1 column per category of `c`, in order of first appearance: what
/// `onehot` makes, had it known every category from the first record.
fn encoded_up_front(x: &Array2<f64>, c: &[&str]) -> Array2<f64> {
    let mut vocabulary: Vec<&str> = Vec::new();
    for v in c {
        if !vocabulary.contains(v) {
            vocabulary.push(v);
        }
    }
    let mut out = Array2::zeros((x.nrows(), x.ncols() + vocabulary.len()));
    out.slice_mut(ndarray::s![.., ..x.ncols()]).assign(x);
    for (i, v) in c.iter().enumerate() {
        let j = vocabulary.iter().position(|w| w == v).expect("in the vocabulary");
        out[[i, x.ncols() + j]] = 1.0;
    }
    out
}

/// Labels of `spec` learning `x`/`c`/`y` in batches of 40 (the encoder in front), and
/// of the same model without the encoder on the up-front encoding.
fn both_ways(spec: &str) -> (Vec<i64>, Vec<i64>, Model, Model) {
    let (x, c, y) = stream(320);
    let wide = encoded_up_front(&x, &c);
    let mut grown = Model::from_spec(&format!("onehot | {spec}")).expect("valid");
    let mut known = Model::from_spec(spec).expect("valid");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for start in (0..x.nrows()).step_by(40) {
        let rows = start..(start + 40).min(x.nrows());
        let xs = x.slice(ndarray::s![rows.clone(), ..]);
        let cs = categories(&c[rows.clone()]);
        let ws = wide.slice(ndarray::s![rows.clone(), ..]);
        let ys = y.slice(ndarray::s![rows.clone()]);
        match (&mut grown, &mut known) {
            (Model::Classifier(g), Model::Classifier(k)) => {
                a.extend(g.learn_predict_with(xs, &cs, ys).expect("learns"));
                b.extend(k.learn_predict_with(ws, &Categories::default(), ys).expect("learns"));
            }
            (Model::Clusterer(g), Model::Clusterer(k)) => {
                a.extend(g.learn_predict_with(xs, &cs).expect("learns"));
                b.extend(k.learn_predict_with(ws, &Categories::default()).expect("learns"));
            }
            _ => unreachable!("one spec, one role"),
        }
    }
    (a, b, grown, known)
}

#[test]
fn models_behind_onehot_grow_exactly_as_if_every_category_had_been_known() {
    for spec in [
        "scale | sgd(loss=log_loss)",
        "sgd(loss=hinge, penalty=elasticnet, l1_ratio=0.3)",
        "scale | sgd(loss=log_loss, learning_rate=adam, eta0=0.01)",
        "passive-aggressive",
        "gaussian-nb",
        "hedge",
        "drift-retrain(model=scale | sgd(loss=log_loss))",
        "scale | minibatch-kmeans(n_clusters=3, batch_size=40)",
    ] {
        let (grown, known, g, k) = both_ways(spec);
        assert_eq!(grown, known, "{spec}: the labels");
        // The same estimator and scaler, up to the order in which a dot product adds its terms.
        let parts = |m: &Model, skip: usize| -> Vec<f64> {
            let (head, transforms) = match m {
                Model::Classifier(c) => (serde_json::to_value(c.head()), serde_json::to_value(&c.transforms()[skip..])),
                Model::Clusterer(c) => (serde_json::to_value(c.head()), serde_json::to_value(&c.transforms()[skip..])),
            };
            let mut all = numbers(&head.expect("json"));
            all.extend(numbers(&transforms.expect("json")));
            all
        };
        let (gs, ks) = (parts(&g, 1), parts(&k, 0));
        assert_eq!(gs.len(), ks.len(), "{spec}: the same shapes");
        let worst = gs.iter().zip(&ks).map(|(a, b)| (a - b).abs() / (1.0 + b.abs())).fold(0.0, f64::max);
        assert!(worst < 1e-9, "{spec}: the grown model differs by {worst:e}");
    }
}

#[test]
fn multinomial_naive_bayes_grows_its_counts_exactly() {
    // Its smoothing adds alpha for every feature it knows, so while a category is yet
    // to come its probabilities differ from a model that knew it: only the counts match.
    let (_, _, g, k) = both_ways("multinomial-nb");
    let counts = |m: &Model, skip: usize| match m {
        Model::Classifier(c) => {
            assert!(c.transforms().len() == skip);
            numbers(&serde_json::to_value(c.head()).expect("json"))
        }
        Model::Clusterer(_) => unreachable!("a classifier"),
    };
    assert_eq!(counts(&g, 1), counts(&k, 0));
}

/// Every number in a JSON document, in document order (keys sorted).
fn numbers(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64().into_iter().collect(),
        serde_json::Value::Array(items) => items.iter().flat_map(numbers).collect(),
        serde_json::Value::Object(m) => m.values().flat_map(numbers).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn specs_that_cannot_grow_or_mislay_an_imputer_are_refused() {
    let err = |spec: &str| Model::from_spec(spec).expect_err(spec).message;
    assert!(err("onehot | hash | sgd").contains("hash cannot follow onehot"), "{}", err("onehot | hash | sgd"));
    assert!(err("scale | impute | sgd").contains("must come first"), "{}", err("scale | impute | sgd"));
    let nested = err("hedge(models=[onehot | sgd])");
    assert!(nested.contains("goes before hedge"), "{nested}");
    assert!(err("onehot(max_categories=0) | sgd").contains("max_categories must be"));
    assert!(err("hash(n_features=2**20) | sgd").contains("n_features must be from 1 to 65536"));
}

#[test]
fn categories_past_the_bound_share_the_other_column() {
    let Model::Classifier(mut m) = Model::from_spec("onehot(max_categories=2) | sgd").expect("valid") else {
        panic!("a classifier")
    };
    let values = ["a", "b", "c", "d", "a", "e"];
    let x = Array2::zeros((values.len(), 1));
    let y = Array1::from(vec![0, 1, 0, 1, 0, 1]);
    m.learn_predict_with(x.view(), &categories(&values), y.view()).expect("learns");
    let known = m.known_categories();
    assert_eq!(known, vec![("c".to_string(), vec!["a".to_string(), "b".to_string()])]);
    // 1 numeric + 2 categories + other.
    assert_eq!(m.head().n_features(), Some(4));
}

fn eddy(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_eddy")).current_dir(dir).args(args).output().expect("runs")
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-categorical-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn mixed_records_run_from_the_command_line_with_imputed_counts_in_the_summary() {
    let dir = temp_dir("run");
    let csv = "amount,city,member,label\n\
               10.5,paris,true,0\n\
               3.5,rome,false,1\n\
               ,paris,true,0\n\
               7.5,,false,1\n\
               1.0,rome,true,1\n\
               NA,oslo,false,0\n";
    std::fs::write(dir.join("t.csv"), csv).expect("write");
    let spec = "impute | onehot | scale | sgd(loss=log_loss)";
    let args = [
        "run",
        "t.csv",
        "--label-column",
        "label",
        "--model",
        spec,
        "--summary-json",
        "s.json",
        "--labels-out",
        "l.csv",
        "--report",
        "rep",
    ];
    let out = eddy(&dir, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).expect("summary")).expect("json");
    let model = &summary["models"][0];
    assert_eq!(summary["records"], 6);
    assert_eq!(model["imputed"], serde_json::json!({"amount": 2, "city": 1}), "{model}");
    assert_eq!(model["categories"], serde_json::json!([{"column": "city", "categories": 3, "other": 0}]), "{model}");
    let report = std::fs::read_to_string(dir.join("rep/report.md")).expect("report");
    assert!(report.contains("| amount | 2 |") && report.contains("| city | 1 |"), "{report}");
    assert!(report.contains("| city | 3 | 0 |"), "{report}");
    // Without the imputer the first missing value is a positioned error.
    let out =
        eddy(&dir, &["run", "t.csv", "--label-column", "label", "--model", "onehot | sgd", "--labels-out", "l.csv"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("t.csv:4: column 1 (amount): missing value (\"\")"), "{err}");
    // Without an encoder the categories have nowhere to go: said before anything is written.
    let out =
        eddy(&dir, &["run", "t.csv", "--label-column", "label", "--model", "impute | sgd", "--labels-out", "x.csv"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("categorical columns city reach sgd"), "{err}");
    assert!(!dir.join("x.csv").exists(), "nothing written");
    // A declared categorical column is read as text even when it holds numbers.
    std::fs::write(dir.join("z.csv"), "zip,amount,label\n75001,1,0\n00100,2,1\n75001,3,0\n").expect("write");
    let args = ["run", "z.csv", "--label-column", "label", "--categorical", "zip", "--model", "onehot | sgd"];
    let args: Vec<&str> = args.iter().copied().chain(["--summary-json", "z.json", "--labels-out", "l.csv"]).collect();
    let out = eddy(&dir, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("z.json")).expect("summary")).expect("json");
    assert_eq!(summary["models"][0]["categories"][0]["categories"], 2, "00100 and 75001");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_example_transactions_run_and_their_categories_pay() {
    let dir = temp_dir("transactions");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/transactions.csv");
    let spec_onehot =
        "encoded=impute | onehot | scale | sgd(loss=log_loss, learning_rate=constant, eta0=0.01, alpha=0)";
    let spec_plain = "plain=impute | scale | sgd(loss=log_loss, learning_rate=constant, eta0=0.01, alpha=0)";
    let args = [
        "run",
        data,
        "--label-column",
        "fraud",
        "--model",
        spec_onehot,
        "--summary-json",
        "a.json",
        "--labels-out",
        "a.csv",
    ];
    let out = eddy(&dir, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let args = [
        "run",
        data,
        "--label-column",
        "fraud",
        "--features",
        "amount,age,hour,returning",
        "--model",
        spec_plain,
        "--summary-json",
        "b.json",
        "--labels-out",
        "b.csv",
    ];
    let out = eddy(&dir, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let accuracy = |f: &str| {
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(f)).expect("summary")).expect("json");
        s["models"][0]["metrics"]["accuracy"].as_f64().expect("accuracy")
    };
    let (encoded, plain) = (accuracy("a.json"), accuracy("b.json"));
    assert!(encoded > plain + 0.03, "the categories carry the signal: {encoded} vs {plain}");
    let _ = std::fs::remove_dir_all(&dir);
}
