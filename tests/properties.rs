//! Invariants checked on random inputs (proptest).

use eddy::metrics::{adjusted_rand_index, ClassificationMetrics};
use eddy::model::*;
use eddy::preprocess::StandardScaler;
use eddy::{OnlineClassifier, OnlineClusterer};
use ndarray::{Array1, Array2, Axis};
use proptest::prelude::*;

/// A random batch: `rows x cols` finite values and labels drawn from `classes`.
fn batch(max_rows: usize, cols: usize, classes: Vec<i64>) -> impl Strategy<Value = (Array2<f64>, Array1<i64>)> {
    (1..max_rows).prop_flat_map(move |rows| {
        let classes = classes.clone();
        (
            proptest::collection::vec(-50.0f64..50.0, rows * cols),
            proptest::collection::vec(proptest::sample::select(classes), rows),
        )
            .prop_map(move |(v, y)| (Array2::from_shape_vec((rows, cols), v).expect("sized"), Array1::from(y)))
    })
}

fn classifiers(classes: &[i64]) -> Vec<(&'static str, Box<dyn OnlineClassifier>)> {
    vec![
        ("sgd", Box::new(SgdClassifier::params().loss(Loss::Log).classes(classes).build().expect("valid"))),
        ("perceptron", Box::new(Perceptron::params().classes(classes).build().expect("valid"))),
        ("pa", Box::new(PassiveAggressiveClassifier::params().classes(classes).build().expect("valid"))),
        ("gnb", Box::new(GaussianNb::params().classes(classes).build().expect("valid"))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn predictions_are_declared_classes((x, y) in batch(60, 3, vec![-4, 2, 9, 17])) {
        for (name, mut m) in classifiers(&[-4, 2, 9, 17]) {
            let pre = m.learn_predict(x.view(), y.view()).expect("valid");
            let post = m.predict(x.view()).expect("valid");
            for l in pre.iter().chain(post.iter()) {
                prop_assert!([-4, 2, 9, 17].contains(l), "{} predicted {}", name, l);
            }
            if let Some(p) = m.predict_proba(x.view()).expect("valid") {
                for row in p.outer_iter() {
                    prop_assert!((row.sum() - 1.0).abs() < 1e-9, "{} probabilities sum to {}", name, row.sum());
                }
            }
        }
        let mut mnb = MultinomialNb::params().classes(&[-4, 2, 9, 17]).build().expect("valid");
        let counts = x.mapv(f64::abs);
        let pre = mnb.learn_predict(counts.view(), y.view()).expect("valid");
        prop_assert!(pre.iter().all(|l| [-4, 2, 9, 17].contains(l)));
    }

    #[test]
    fn discovered_classes_are_the_only_predictions((x, y) in batch(60, 3, vec![-4, 2, 9, 17])) {
        let models: Vec<Box<dyn OnlineClassifier>> = vec![
            Box::new(SgdClassifier::params().loss(Loss::Log).build().expect("valid")),
            Box::new(SgdClassifier::params().loss(Loss::Hinge).build().expect("valid")),
            Box::new(SgdClassifier::params().loss(Loss::ModifiedHuber).build().expect("valid")),
            Box::new(Perceptron::params().build().expect("valid")),
            Box::new(PassiveAggressiveClassifier::params().build().expect("valid")),
            Box::new(GaussianNb::params().build().expect("valid")),
        ];
        let seen: std::collections::BTreeSet<i64> = y.iter().copied().collect();
        for mut m in models {
            let pre = m.learn_predict(x.view(), y.view()).expect("valid");
            // The first row is predicted before any class is known.
            prop_assert_eq!(pre[0], eddy::NO_PREDICTION);
            prop_assert!(pre.iter().skip(1).all(|l| seen.contains(l)));
            prop_assert!(m.predict(x.view()).expect("valid").iter().all(|l| seen.contains(l)));
            prop_assert_eq!(m.classes().to_vec(), seen.iter().copied().collect::<Vec<_>>());
        }
        let mut mnb = MultinomialNb::params().build().expect("valid");
        let counts = x.mapv(f64::abs);
        mnb.learn_predict(counts.view(), y.view()).expect("valid");
        prop_assert!(mnb.predict(counts.view()).expect("valid").iter().all(|l| seen.contains(l)));
        let p = mnb.predict_proba(counts.view()).expect("valid").expect("proba");
        prop_assert!(p.outer_iter().all(|r| (r.sum() - 1.0).abs() < 1e-9));
    }

    #[test]
    fn learn_transform_uses_the_statistics_that_include_each_row((x, _) in batch(40, 3, vec![0])) {
        let mut seq = StandardScaler::new();
        let z = seq.learn_transform(x.view()).expect("valid");
        for i in 0..x.nrows() {
            // Row i is standardised exactly as a scaler that saw rows 0..=i would do it.
            let mut upto = StandardScaler::new();
            upto.partial_fit(x.slice(ndarray::s![..=i, ..])).expect("valid");
            let want = upto.transform(x.slice(ndarray::s![i..=i, ..])).expect("valid");
            for (a, b) in z.row(i).iter().zip(want.iter()) {
                prop_assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "row {}: {} vs {}", i, a, b);
            }
        }
        prop_assert_eq!(seq.n_samples_seen(), x.nrows() as u64);
    }

    #[test]
    fn scaler_output_has_mean_zero_and_variance_one(
        parts in proptest::collection::vec(batch(30, 4, vec![0]), 1..5)
    ) {
        let mut s = StandardScaler::new();
        for (x, _) in &parts {
            s.partial_fit(x.view()).expect("valid");
        }
        let all: Vec<_> = parts.iter().map(|(x, _)| x.view()).collect();
        let all = ndarray::concatenate(Axis(0), &all).expect("same width");
        let z = s.transform(all.view()).expect("valid");
        for (j, col) in z.axis_iter(Axis(1)).enumerate() {
            prop_assert!(col.mean().unwrap_or(0.0).abs() < 1e-9);
            let raw_var = all.column(j).var(0.0);
            let expected = if raw_var > 1e-12 { 1.0 } else { 0.0 };
            prop_assert!((col.var(0.0) - expected).abs() < 1e-6, "var {}", col.var(0.0));
        }
    }

    #[test]
    fn naive_bayes_two_halves_equal_one_pass((x, y) in batch(80, 3, vec![0, 1, 2]), cut in 0usize..80) {
        let cut = cut.min(x.nrows());
        let (x1, x2) = x.view().split_at(Axis(0), cut);
        let (y1, y2) = y.view().split_at(Axis(0), cut);
        let mut halves = GaussianNb::params().build().expect("valid");
        halves.partial_fit(x1, y1).expect("valid");
        halves.partial_fit(x2, y2).expect("valid");
        let mut whole = GaussianNb::params().build().expect("valid");
        whole.partial_fit(x.view(), y.view()).expect("valid");
        prop_assert_eq!(halves.class_count(), whole.class_count());
        for (a, b) in halves.theta().iter().zip(whole.theta().iter()).chain(halves.var().iter().zip(whole.var().iter())) {
            prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{} vs {}", a, b);
        }
        let counts = x.mapv(|v| v.abs().floor());
        let (c1, c2) = counts.view().split_at(Axis(0), cut);
        let mut mh = MultinomialNb::params().build().expect("valid");
        mh.partial_fit(c1, y1).expect("valid");
        mh.partial_fit(c2, y2).expect("valid");
        let mut mw = MultinomialNb::params().build().expect("valid");
        mw.partial_fit(counts.view(), y.view()).expect("valid");
        prop_assert_eq!(mh.feature_count(), mw.feature_count());
        prop_assert_eq!(mh.class_count(), mw.class_count());
    }

    #[test]
    fn kmeans_counts_add_up_to_records_seen(
        parts in proptest::collection::vec(batch(40, 2, vec![0]), 1..6),
        k in 1usize..5,
        seed in 0u64..1000,
    ) {
        let mut km = MiniBatchKMeans::params().n_clusters(k).reassignment_ratio(0.0).seed(seed).build().expect("valid");
        let mut seen = 0;
        for (x, _) in &parts {
            match km.learn_predict(x.view()) {
                Ok(labels) => {
                    seen += x.nrows();
                    prop_assert!(labels.iter().all(|&l| (0..k as i64).contains(&l)));
                }
                Err(eddy::ModelError::NotEnoughSamples { .. }) => prop_assert!(x.nrows() < k && seen == 0),
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
        }
        prop_assert_eq!(km.counts().sum(), seen as f64);
        prop_assert_eq!(OnlineClusterer::records_seen(&km), seen as u64);
    }

    #[test]
    fn metrics_do_not_depend_on_how_the_stream_is_cut(
        pairs in proptest::collection::vec((0i64..4, 0i64..4), 1..200),
        cut in 1usize..50,
    ) {
        let (t, p): (Vec<i64>, Vec<i64>) = pairs.into_iter().unzip();
        let mut whole = ClassificationMetrics::new(25).expect("valid");
        whole.update(&t, &p);
        let mut pieces = ClassificationMetrics::new(25).expect("valid");
        for (tc, pc) in t.chunks(cut).zip(p.chunks(cut)) {
            pieces.update(tc, pc);
        }
        prop_assert_eq!(whole, pieces);
    }

    #[test]
    fn ari_ignores_label_names_and_is_symmetric(
        pairs in proptest::collection::vec((0i64..4, 0i64..4), 2..100),
    ) {
        let (t, p): (Vec<i64>, Vec<i64>) = pairs.into_iter().unzip();
        let renamed: Vec<i64> = p.iter().map(|l| 100 - 7 * l).collect();
        let a = adjusted_rand_index(&t, &p);
        prop_assert!((a - adjusted_rand_index(&t, &renamed)).abs() < 1e-12);
        prop_assert!((a - adjusted_rand_index(&p, &t)).abs() < 1e-12);
        prop_assert!((adjusted_rand_index(&t, &t) - 1.0).abs() < 1e-12);
    }
}

/// A CSV field as writers and typos make them: numbers in several spellings, the
/// non-finite ones, quoted and blank fields, text.
#[cfg(feature = "server")]
fn csv_field() -> impl Strategy<Value = String> {
    prop_oneof![
        (-1e6f64..1e6).prop_map(|v| v.to_string()),
        (-1e6f64..1e6).prop_map(|v| format!(" {v:e} ")),
        (-1000i64..1000).prop_map(|v| format!("\"{v}\"")),
        proptest::sample::select(vec!["NaN", "inf", "-inf", "", " ", "1,5", "\"1,5\"", "0x10", "1e999", "-0"])
            .prop_map(String::from),
        "[a-z .+-]{1,4}",
    ]
}

/// A JSON value under a key: numbers, and what is not one.
#[cfg(feature = "server")]
fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-1e6f64..1e6).prop_map(|v| serde_json::json!(v).to_string()),
        (-1000i64..1000).prop_map(|v| v.to_string()),
        proptest::sample::select(vec!["null", "true", "\"\"", "\"7\"", "[1]", "{}", "1e999", "18446744073709551616"])
            .prop_map(String::from),
        "[a-z]{1,4}".prop_map(|s| format!("\"{s}\"")),
    ]
}

/// What `eddy run` makes of `content` (features `a, b, c`, label `label`): the
/// record's features, or the column and reason of its refusal.
#[cfg(feature = "server")]
fn run_reads(name: &str, content: &str) -> Result<Vec<f64>, String> {
    use eddy::source::{self, SourceError, SourceOptions};
    let path = std::env::temp_dir().join(format!("eddy-properties-{}-{name}", std::process::id()));
    std::fs::write(&path, content).expect("write");
    let options = SourceOptions {
        features: Some(vec!["a".into(), "b".into(), "c".into()]),
        label_column: Some("label".into()),
        ..SourceOptions::default()
    };
    let mut src = source::open(path.to_str().expect("utf-8"), options).expect("opens");
    // The first record (all numbers) fixes the columns' kinds; the record under test is the second.
    let read = match src.next_batch().map(|b| b.filter(|b| b.len() == 2)) {
        Ok(Some(batch)) => Ok(batch.x.row(1).to_vec()),
        Ok(None) => match src.next_batch() {
            Err(SourceError::Record { position, reason }) => {
                let column = position.column.map(|(n, name)| format!("column {n} ({name}): ")).unwrap_or_default();
                Err(format!("{column}{reason}"))
            }
            other => panic!("{content}: {other:?}", other = other.map(|b| b.map(|b| b.ids))),
        },
        Err(SourceError::Record { position, reason }) => {
            let column = position.column.map(|(n, name)| format!("column {n} ({name}): ")).unwrap_or_default();
            Err(format!("{column}{reason}"))
        }
        other => panic!("{content}: {other:?}", other = other.map(|b| b.map(|b| b.ids))),
    };
    let _ = std::fs::remove_file(&path);
    read
}

/// What `eddy serve` makes of `body`: the record's features, or its refusal without its position `at`.
#[cfg(feature = "server")]
fn serve_reads(format: eddy::server::body::Format, body: &str, at: &str) -> Result<Vec<f64>, String> {
    use eddy::server::body::{decode, Shape};
    let features = vec!["a".to_string(), "b".into(), "c".into()];
    match decode(format, body.as_bytes(), &Shape::new(&features, 10)) {
        Ok(records) => Ok(records.x.row(0).to_vec()),
        Err(e) => Err(e.message.strip_prefix(&format!("{at}: ")).unwrap_or(&e.message).to_string()),
    }
}

#[cfg(feature = "server")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn run_and_serve_read_a_csv_record_alike(fields in proptest::collection::vec(csv_field(), 3..6), case in 0u64..u64::MAX) {
        let record = format!("a,b,c,label\n{}\n", fields.join(","));
        let run = run_reads(&format!("{case}.csv"), &format!("a,b,c,label\n0,0,0,x\n{}\n", fields.join(",")));
        let serve = serve_reads(eddy::server::body::Format::Csv, &record, "record 0 (line 2)");
        let content = record;
        prop_assert_eq!(run, serve, "{}", content);
    }

    #[test]
    fn run_and_serve_read_a_json_object_alike(
        values in proptest::collection::vec(proptest::option::of(json_value()), 3),
        label in json_value(),
        case in 0u64..u64::MAX,
    ) {
        let mut keys: Vec<String> = ["a", "b", "c"]
            .iter()
            .zip(&values)
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("\"{k}\": {v}")))
            .collect();
        keys.insert(keys.len() / 2, format!("\"label\": {label}"));
        keys.push("\"id\": [1, {\"at\": null}]".into());
        let object = format!("{{{}}}", keys.join(", "));
        let first = r#"{"a": 0, "b": 0, "c": 0, "label": "x"}"#;
        let run = run_reads(&format!("{case}.ndjson"), &format!("{first}\n{object}\n"));
        let ndjson = serve_reads(eddy::server::body::Format::Ndjson, &format!("{object}\n"), "record 0 (line 1)");
        prop_assert_eq!(&run, &ndjson, "{}", object);
        // A JSON body is one document: its syntax errors are the body's, not a record's.
        if !run.as_ref().is_err_and(|e| e.contains("invalid JSON")) {
            let json = serve_reads(eddy::server::body::Format::Json, &format!("[{object}]"), "record 0");
            prop_assert_eq!(&run, &json, "{}", object);
        }
    }
}

/// What `eddy run` makes of `content` (numeric `a, b`, categorical `city`, label `label`;
/// missing values let through when `missing`): the record's numbers (NaN written as
/// `NaN`, to compare) and categories, or the column and reason of its refusal.
#[cfg(feature = "server")]
fn run_reads_mixed(name: &str, content: &str, missing: bool) -> Result<(Vec<String>, Vec<Option<String>>), String> {
    use eddy::source::{self, SourceError, SourceOptions};
    let path = std::env::temp_dir().join(format!("eddy-properties-mixed-{}-{name}", std::process::id()));
    std::fs::write(&path, content).expect("write");
    let options = SourceOptions {
        features: Some(vec!["a".into(), "city".into(), "b".into()]),
        categorical: vec!["city".into()],
        missing,
        label_column: Some("label".into()),
        ..SourceOptions::default()
    };
    let mut src = source::open(path.to_str().expect("utf-8"), options).expect("opens");
    let refusal = |e: SourceError| match e {
        SourceError::Record { position, reason } => {
            let column = position.column.map(|(n, name)| format!("column {n} ({name}): ")).unwrap_or_default();
            format!("{column}{reason}")
        }
        other => panic!("{content}: {other:?}"),
    };
    // The first record fixes the columns' kinds; the record under test is the second.
    let read = match src.next_batch() {
        Ok(Some(batch)) if batch.len() == 2 => Ok(mixed_row(&batch.x, &batch.cats, 1)),
        Ok(_) => Err(refusal(src.next_batch().expect_err("the second record was refused"))),
        Err(e) => Err(refusal(e)),
    };
    let _ = std::fs::remove_file(&path);
    read
}

/// Row `i`'s numbers as text (NaN compares equal so) and its categories.
#[cfg(feature = "server")]
fn mixed_row(
    x: &ndarray::Array2<f64>,
    cats: &eddy::record::Categories,
    i: usize,
) -> (Vec<String>, Vec<Option<String>>) {
    let numbers = x.row(i).iter().map(|v| v.to_string()).collect();
    (numbers, cats.row(i).iter().map(|c| c.as_deref().map(String::from)).collect())
}

/// What `eddy serve` makes of `body` for the same model.
#[cfg(feature = "server")]
fn serve_reads_mixed(
    format: eddy::server::body::Format,
    body: &str,
    missing: bool,
    at: &str,
) -> Result<(Vec<String>, Vec<Option<String>>), String> {
    use eddy::server::body::{decode, Shape};
    let (features, categorical) = (vec!["a".to_string(), "b".into()], vec!["city".to_string()]);
    match decode(format, body.as_bytes(), &Shape::new(&features, 10).categorical(&categorical).missing(missing)) {
        Ok(records) => Ok(mixed_row(&records.x, &records.cats, 0)),
        Err(e) => Err(e.message.strip_prefix(&format!("{at}: ")).unwrap_or(&e.message).to_string()),
    }
}

#[cfg(feature = "server")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn run_and_serve_read_a_record_with_a_category_alike(
        fields in proptest::collection::vec(csv_field(), 3..5),
        values in proptest::collection::vec(proptest::option::of(json_value()), 3),
        missing in proptest::bool::ANY,
        case in 0u64..u64::MAX,
    ) {
        // CSV: the header names the columns, the category between the numbers.
        let record = format!("a,city,b,label\n{},x\n", fields.join(","));
        let first = "a,city,b,label\n0,paris,0,x\n";
        let run = run_reads_mixed(&format!("{case}.csv"), &format!("{first}{},x\n", fields.join(",")), missing);
        let serve = serve_reads_mixed(eddy::server::body::Format::Csv, &record, missing, "record 0 (line 2)");
        prop_assert_eq!(&run, &serve, "{}", record);

        // JSON: an object, keys in any order, some absent.
        let mut keys: Vec<String> = ["a", "city", "b"]
            .iter()
            .zip(&values)
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("\"{k}\": {v}")))
            .collect();
        keys.insert(keys.len() / 2, "\"label\": \"x\"".into());
        let object = format!("{{{}}}", keys.join(", "));
        let first = r#"{"a": 0, "city": "paris", "b": 0, "label": "x"}"#;
        let run = run_reads_mixed(&format!("{case}.ndjson"), &format!("{first}\n{object}\n"), missing);
        let ndjson = serve_reads_mixed(eddy::server::body::Format::Ndjson, &format!("{object}\n"), missing, "record 0 (line 1)");
        prop_assert_eq!(&run, &ndjson, "{}", object);
        if !run.as_ref().is_err_and(|e| e.contains("invalid JSON")) {
            let json = serve_reads_mixed(eddy::server::body::Format::Json, &format!("[{object}]"), missing, "record 0");
            prop_assert_eq!(&run, &json, "{}", object);
        }
    }
}
