//! `eddy serve` with categorical and missing values: bodies with string values in every
//! format label as `eddy run` labels the same records, new categories grow the model
//! and show in `/v1/model`, missing values are refused or filled, and categories
//! survive the learn log, checkpoints and delayed labels.

use crate::server::{agent, get, json_post, post, refused, temp_dir, Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const TRANSACTIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/transactions.csv");
const HEADER: &str = "amount,age,hour,returning,country,device,merchant,fraud";
const STRICT: &str = "onehot | scale | sgd(loss=log_loss)";
const IMPUTING: &str = "impute | onehot | scale | sgd(loss=log_loss)";

/// The transactions' lines (no header): those without a missing value, and all of them.
fn lines() -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(TRANSACTIONS).expect("the example data");
    let all: Vec<String> = text.lines().skip(1).map(String::from).collect();
    let complete =
        all.iter().filter(|l| l.split(',').all(|f| !matches!(f.trim(), "" | "NA" | "NaN" | "nan"))).cloned().collect();
    (complete, all)
}

/// Complete lines of `country` (or, with `without`, of any other country).
fn of_country(lines: &[String], country: &str, without: bool) -> Vec<String> {
    lines.iter().filter(|l| (l.split(',').nth(4) == Some(country)) != without).cloned().collect()
}

fn write_csv(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{HEADER}\n{}\n", lines.join("\n"))).expect("writes");
    path
}

fn eddy(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_eddy")).args(args).output().expect("eddy runs");
    assert!(out.status.success(), "eddy {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A model of `spec` trained by `eddy run` on `lines`, saved in `dir`.
fn trained(dir: &Path, name: &str, spec: &str, lines: &[String]) -> PathBuf {
    let input = write_csv(dir, &format!("{name}-train.csv"), lines);
    let model = dir.join(format!("{name}.eddy"));
    let labels = dir.join(format!("{name}-train-labels.csv"));
    eddy(&[
        "run",
        input.to_str().expect("utf-8"),
        "--label-column",
        "fraud",
        "--model",
        spec,
        "--labels-out",
        labels.to_str().expect("utf-8"),
        "--save-model",
        model.to_str().expect("utf-8"),
    ]);
    let header = eddy::model_file::read_header(&model, &eddy::model_file::Keys::default()).expect("a model file");
    assert_eq!(header.features, ["amount", "age", "hour", "returning"]);
    assert_eq!(header.categorical, ["country", "device", "merchant"]);
    model
}

/// `eddy run`'s labels for `lines` from the model file `model`: frozen, or learning per row.
fn run_labels(dir: &Path, model: &Path, lines: &[String], learn: bool) -> Vec<i64> {
    let input = write_csv(dir, "run-input.csv", lines);
    let out = dir.join("run-labels.csv");
    let mut args = vec![
        "run",
        input.to_str().expect("utf-8"),
        "--model-file",
        model.to_str().expect("utf-8"),
        "--label-column",
        "fraud",
        "--prequential",
        "per-row",
        "--labels-out",
        out.to_str().expect("utf-8"),
    ];
    if !learn {
        args.push("--no-learn");
    }
    eddy(&args);
    let text = std::fs::read_to_string(&out).expect("labels");
    // id,label lines, after a header.
    text.lines().filter_map(|l| l.split(',').nth(1)?.trim().parse::<i64>().ok()).collect()
}

/// A CSV line as a JSON object keyed by column name (numbers as numbers, booleans as
/// booleans, text as strings, an empty field as `null`), without its label.
fn object(line: &str) -> Value {
    let names: Vec<&str> = HEADER.split(',').collect();
    let fields: Vec<&str> = line.split(',').collect();
    let mut map = serde_json::Map::new();
    for (name, field) in names.iter().zip(&fields).take(7) {
        let value = match *field {
            "" => Value::Null,
            "true" => json!(true),
            "false" => json!(false),
            f if *name == "country" || *name == "device" || *name == "merchant" => json!(f),
            f => f.parse::<f64>().map(|v| json!(v)).unwrap_or_else(|_| json!(f)),
        };
        map.insert(name.to_string(), value);
    }
    Value::Object(map)
}

/// The same record as a positional array: the numeric features, then the categorical
/// ones, in the header's order (which is this CSV's).
fn positional(line: &str) -> Value {
    let o = object(line);
    json!(HEADER.split(',').take(7).map(|n| o[n].clone()).collect::<Vec<_>>())
}

fn label(line: &str) -> i64 {
    line.rsplit(',').next().and_then(|l| l.trim().parse().ok()).expect("a 0/1 label")
}

fn labels_of(a: &Value) -> Vec<i64> {
    crate::server::i64s(&a["labels"])
}

/// Labels and probabilities of `records` from `server`.
fn predicted(server: &Server, records: &[Value]) -> (Value, Value) {
    let a = json_post(&agent(), &server.url("/v1/predict"), None, &json!(records));
    assert_eq!(a.status, 200, "{}", a.text());
    let a = a.json();
    (a["labels"].clone(), a["probabilities"].clone())
}

fn model_info(server: &Server) -> Value {
    get(&agent(), &server.url("/v1/model"), None).json()
}

fn categories_of(info: &Value, column: &str) -> Vec<String> {
    let columns = info["categorical"].as_array().expect("categorical columns");
    let c = columns.iter().find(|c| c["name"] == column).unwrap_or_else(|| panic!("{column}: {info}"));
    c["categories"].as_array().expect("a list").iter().map(|v| v.as_str().expect("text").to_string()).collect()
}

#[test]
fn string_values_predict_and_learn_as_eddy_run_labels_them_in_every_format() {
    let dir = temp_dir("cats-formats");
    let (complete, _) = lines();
    let known = of_country(&complete, "ZZ", true);
    let model = trained(&dir, "strict", STRICT, &known[..400]);
    let probe = known[400..430].to_vec();
    let frozen = run_labels(&dir, &model, &probe, false);
    let learned = run_labels(&dir, &model, &probe, true);
    assert_eq!((frozen.len(), learned.len()), (30, 30));
    // Both classes among the labels, so that a model that ignored the categories shows.
    assert!(frozen.contains(&0) && frozen.contains(&1), "{frozen:?}");

    let server = Server::start(&["--model", model.to_str().expect("utf-8")]);
    let agent = agent();
    let info = model_info(&server);
    assert_eq!(info["features"], json!(["amount", "age", "hour", "returning"]));
    assert_eq!(info["fills_missing"], json!(false));
    assert!(info.get("imputed").is_none(), "no imputer: {info}");
    let countries = categories_of(&info, "country");
    assert!(countries.contains(&"US".to_string()) && !countries.contains(&"ZZ".to_string()), "{countries:?}");
    assert_eq!(categories_of(&info, "device").len(), 3);
    assert_eq!(info["categorical"][0]["hashed"], json!(false));

    // Predictions: objects, positional arrays, NDJSON, CSV with a header in another
    // order, CSV without a header (the header's order).
    let objects: Vec<Value> = probe.iter().map(|l| object(l)).collect();
    let arrays: Vec<Value> = probe.iter().map(|l| positional(l)).collect();
    let url = server.url("/v1/predict");
    assert_eq!(labels_of(&json_post(&agent, &url, None, &json!(objects)).json()), frozen, "JSON objects");
    assert_eq!(labels_of(&json_post(&agent, &url, None, &json!(arrays)).json()), frozen, "JSON arrays");
    let ndjson: String = arrays.iter().map(|a| format!("{a}\n")).collect();
    assert_eq!(labels_of(&post(&agent, &url, None, "application/x-ndjson", ndjson.as_bytes()).json()), frozen);
    let reordered: String = std::iter::once("merchant,device,country,returning,hour,age,amount\n".to_string())
        .chain(probe.iter().map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{},{},{},{},{},{},{}\n", f[6], f[5], f[4], f[3], f[2], f[1], f[0])
        }))
        .collect();
    assert_eq!(labels_of(&post(&agent, &url, None, "text/csv", reordered.as_bytes()).json()), frozen, "CSV header");
    let bare: String = probe.iter().map(|l| format!("{}\n", &l[..l.rfind(',').expect("a label")])).collect();
    assert_eq!(labels_of(&post(&agent, &url, None, "text/csv", bare.as_bytes()).json()), frozen, "bare CSV");
    // A number in a categorical column is its text: merchant 7 is the category "7".
    let mut odd = objects[0].clone();
    odd["merchant"] = json!(7);
    assert_eq!(json_post(&agent, &url, None, &json!([odd])).status, 200);

    // Learning: the same prequential labels as `eddy run`, first half as labelled
    // objects in JSON, second half as CSV with labels.
    let half: Vec<Value> = probe[..15]
        .iter()
        .map(|l| {
            let mut o = object(l);
            o["label"] = json!(label(l));
            o
        })
        .collect();
    let first = json_post(&agent, &server.url("/v1/learn"), None, &json!(half)).json();
    let csv = format!("{HEADER}\n{}\n", probe[15..].join("\n")).replace(",fraud\n", ",label\n");
    let second = post(&agent, &server.url("/v1/learn"), None, "text/csv", csv.as_bytes()).json();
    let mut got = labels_of(&first);
    got.extend(labels_of(&second));
    assert_eq!(got, learned);
    assert_eq!(second["records_seen"], json!(430));

    // A new country arrives by /v1/learn: the model grows and /v1/model lists it.
    let zz = of_country(&complete, "ZZ", false);
    assert!(zz.len() >= 3);
    let body = format!("{}\n", zz[..3].iter().map(|l| positional(l).to_string()).collect::<Vec<_>>().join("\n"));
    let ndjson: String = zz[..3]
        .iter()
        .zip(body.lines())
        .map(|(l, a)| format!("{{\"features\": {a}, \"label\": {}}}\n", label(l)))
        .collect();
    let a = post(&agent, &server.url("/v1/learn"), None, "application/x-ndjson", ndjson.as_bytes());
    assert_eq!(a.status, 200, "{}", a.text());
    let info = model_info(&server);
    let countries = categories_of(&info, "country");
    assert_eq!(countries.last().map(String::as_str), Some("ZZ"), "{countries:?}");
    assert_eq!(info["records_seen"], json!(433));
    // And what the service learned is what `eddy run` learns from the same records.
    let mut all = probe.clone();
    all.extend(zz[..3].iter().cloned());
    let check = zz[3..].to_vec();
    let server_labels =
        labels_of(&json_post(&agent, &url, None, &json!(check.iter().map(|l| object(l)).collect::<Vec<_>>())).json());
    let after = dir.join("after.eddy");
    let input = write_csv(&dir, "after.csv", &all);
    eddy(&[
        "run",
        input.to_str().expect("utf-8"),
        "--model-file",
        model.to_str().expect("utf-8"),
        "--label-column",
        "fraud",
        "--labels-out",
        dir.join("after-labels.csv").to_str().expect("utf-8"),
        "--save-model",
        after.to_str().expect("utf-8"),
    ]);
    assert_eq!(run_labels(&dir, &after, &check, false), server_labels);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_value_is_refused_without_impute_and_filled_with_it() {
    let dir = temp_dir("cats-missing");
    let (complete, all) = lines();
    let strict = trained(&dir, "strict", STRICT, &of_country(&complete, "ZZ", true)[..300]);
    let server = Server::start(&["--model", strict.to_str().expect("utf-8")]);
    let agent = agent();
    let mut records: Vec<Value> = complete[..3].iter().map(|l| object(l)).collect();
    records[1]["country"] = Value::Null;
    let (status, message) = refused(json_post(&agent, &server.url("/v1/predict"), None, &json!(records)));
    assert_eq!(status, 422);
    assert!(message.starts_with("record 1: column 5 (country): missing value"), "{message}");
    assert!(message.contains("add impute"), "{message}");
    let csv = format!("{HEADER}\n{}\n104.9,NA,13,true,US,tablet,m001,1\n", complete[0]).replace(",fraud\n", ",label\n");
    let (status, message) = refused(post(&agent, &server.url("/v1/learn"), None, "text/csv", csv.as_bytes()));
    assert_eq!(
        (status, message.starts_with("record 1 (line 3): column 2 (age): missing value (\"NA\")")),
        (422, true),
        "{message}"
    );
    assert_eq!(model_info(&server)["records_seen"], json!(300), "nothing learned");
    drop(server);

    // With impute first, the same records are taken, and labelled as `eddy run` labels them.
    let imputing = trained(&dir, "imputing", IMPUTING, &all[..600]);
    let server = Server::start(&["--model", imputing.to_str().expect("utf-8")]);
    let info = model_info(&server);
    assert_eq!(info["fills_missing"], json!(true));
    let imputed = info["imputed"].as_object().expect("an imputer counts what it filled");
    assert!(imputed.values().any(|v| v.as_u64() > Some(0)), "{info}");
    let with_missing: Vec<String> = all[600..].iter().filter(|l| !complete.contains(l)).take(10).cloned().collect();
    assert_eq!(with_missing.len(), 10);
    let expected = run_labels(&dir, &imputing, &with_missing, false);
    let objects: Vec<Value> = with_missing.iter().map(|l| object(l)).collect();
    let a = json_post(&agent, &server.url("/v1/predict"), None, &json!(objects));
    assert_eq!(labels_of(&a.json()), expected);
    let csv =
        format!("{}\n", with_missing.iter().map(|l| &l[..l.rfind(',').expect("label")]).collect::<Vec<_>>().join("\n"));
    let a = post(&agent, &server.url("/v1/predict"), None, "text/csv", csv.as_bytes());
    assert_eq!(labels_of(&a.json()), expected, "an empty CSV field is missing too");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_model_whose_categorical_columns_are_not_encoded_is_refused_at_start() {
    let dir = temp_dir("cats-unencoded");
    let sensors = Path::new(crate::server::SENSORS);
    let keys = eddy::model_file::Keys::default();
    let (mut header, model) = eddy::model_file::load_model(sensors, &keys).expect("the shipped model");
    header.categorical = vec!["city".into()];
    let path = dir.join("numeric-with-city.eddy");
    eddy::model_file::save(&path, &header, &model, &keys).expect("saves");
    let log = Server::try_start(&["--model", path.to_str().expect("utf-8")]).err().expect("refused");
    assert!(
        log.contains("the model cannot serve records with the categorical columns [city]")
            && log.contains("encode them first"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn categories_survive_a_crash_a_checkpoint_and_delayed_labels() {
    let dir = temp_dir("cats-restart");
    let (complete, _) = lines();
    let known = of_country(&complete, "ZZ", true);
    let zz = of_country(&complete, "ZZ", false);
    let model = trained(&dir, "base", STRICT, &known[..300]);
    let state = dir.join("state.eddy");
    let args = ["--model", model.to_str().expect("utf-8"), "--checkpoint", state.to_str().expect("utf-8")];
    let agent = agent();
    let labelled = |lines: &[String]| {
        json!(lines
            .iter()
            .map(|l| {
                let mut o = object(l);
                o["label"] = json!(label(l));
                o
            })
            .collect::<Vec<_>>())
    };
    let probe: Vec<Value> = known[350..370].iter().chain(&zz[5..8]).map(|l| object(l)).collect();

    // Learn a new country, then die without a checkpoint: the learn log brings it back.
    let server = Server::start(&args);
    let a = json_post(&agent, &server.url("/v1/learn"), None, &labelled(&zz[..3]));
    assert_eq!(a.status, 200, "{}", a.text());
    let before = predicted(&server, &probe);
    drop(server); // SIGKILL
    assert!(!state.exists(), "no checkpoint was written");
    let server = Server::start(&args);
    let info = model_info(&server);
    assert_eq!(info["records_seen"], json!(303));
    assert!(categories_of(&info, "country").contains(&"ZZ".to_string()), "{info}");
    assert_eq!(predicted(&server, &probe), before, "the same model, bit for bit");

    // Delayed labels: records with ids wait with their categories, one is labelled now,
    // one after a checkpoint and a restart.
    let waiting: Vec<Value> = zz[3..5].iter().chain(&known[300..302]).map(|l| object(l)).collect();
    let a = json_post(
        &agent,
        &server.url("/v1/predict"),
        None,
        &json!({"ids": ["z3", "z4", "k0", "k1"], "features": waiting}),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let f = json_post(
        &agent,
        &server.url("/v1/feedback"),
        None,
        &json!({"ids": ["z3", "k0"], "labels": [label(&zz[3]), label(&known[300])]}),
    );
    assert_eq!((f.status, f.json()["learned"].as_u64()), (200, Some(2)), "{}", f.text());
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    let header = eddy::model_file::read_header(&state, &eddy::model_file::Keys::default()).expect("a checkpoint");
    assert_eq!(
        (header.records_seen, header.categorical.clone()),
        (305, vec!["country".to_string(), "device".into(), "merchant".into()])
    );

    let server = Server::start(&args);
    let info = model_info(&server);
    assert_eq!((info["records_seen"].as_u64(), info["pending"]["pending"].as_u64()), (Some(305), Some(2)));
    assert!(categories_of(&info, "country").contains(&"ZZ".to_string()), "{info}");
    let f = json_post(
        &agent,
        &server.url("/v1/feedback"),
        None,
        &json!({"ids": ["z4", "k1"], "labels": [label(&zz[4]), label(&known[301])]}),
    );
    assert_eq!((f.status, f.json()["learned"].as_u64()), (200, Some(2)), "{}", f.text());
    let after = predicted(&server, &probe);
    assert_ne!(after.1, before.1, "feedback taught the model");

    // A service that learned the same records in the same order by /v1/learn answers alike.
    let reference = Server::start(&["--model", model.to_str().expect("utf-8")]);
    for batch in [
        labelled(&zz[..3]),
        labelled(&[zz[3].clone(), known[300].clone()]),
        labelled(&[zz[4].clone(), known[301].clone()]),
    ] {
        assert_eq!(json_post(&agent, &reference.url("/v1/learn"), None, &batch).status, 200);
    }
    assert_eq!(model_info(&reference)["records_seen"], json!(307));
    assert_eq!(predicted(&reference, &probe), after);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Trees and forests read categories and missing values themselves: a served one labels
/// records with strings and nulls as `eddy run` does, and learns them.
#[test]
fn trees_and_forests_serve_categories_and_missing_values_as_they_come() {
    let dir = temp_dir("cats-trees");
    let (_, all) = lines();
    for (name, spec) in [("tree", "hoeffding-tree(grace_period=50)"), ("forest", "arf(n_models=3, seed=1)")] {
        let model = trained(&dir, name, spec, &all[..2000]);
        let probe = all[2000..2100].to_vec();
        assert!(probe.iter().any(|l| l.split(',').any(|f| f.is_empty())), "the probe has missing values");
        let frozen = run_labels(&dir, &model, &probe, false);
        let server = Server::start(&["--model", model.to_str().expect("utf-8"), "--threads", "2"]);
        let info = model_info(&server);
        assert_eq!(info["fills_missing"], json!(true), "{name}: {info}");
        let objects: Vec<Value> = probe.iter().map(|l| object(l)).collect();
        let (labels, probabilities) = predicted(&server, &objects);
        assert_eq!(crate::server::i64s(&labels), frozen, "{name}: the service labels as eddy run does");
        assert_eq!(probabilities.as_array().map(Vec::len), Some(100), "{name}: {probabilities}");
        let learn: Vec<Value> = objects
            .iter()
            .zip(&probe)
            .map(|(o, l)| {
                let mut o = o.clone();
                o["label"] = json!(label(l));
                o
            })
            .collect();
        let learned = json_post(&agent(), &server.url("/v1/learn"), None, &json!(learn));
        assert_eq!(learned.status, 200, "{name}: {}", learned.text());
        assert_eq!(labels_of(&learned.json()), run_labels(&dir, &model, &probe, true), "{name}: learning too");
    }
}
