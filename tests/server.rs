//! `eddy serve`, started as a real process on a loopback port and called over HTTP(S).

use eddy::model::Model;
use eddy::model_file::{self, Key, Keys};
use eddy::OnlineClassifier;
use ndarray::{array, Array2};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const SENSORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/sensors-sgd.eddy");
pub(crate) const BLOBS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/blobs-kmeans.eddy");
pub(crate) const READ: &str = "reader-token-0123456789";
pub(crate) const LEARN: &str = "learner-token-0123456789";
pub(crate) const ADMIN: &str = "admin-token-0123456789ab";

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A running `eddy serve`; killed when dropped.
pub(crate) struct Server {
    child: Child,
    base: String,
    port: u16,
    pub(crate) log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Start with `args` (plus `--listen 127.0.0.1:0`) and wait for its address.
    pub(crate) fn start(args: &[&str]) -> Self {
        Self::try_start(args).unwrap_or_else(|log| panic!("the service did not start:\n{log}"))
    }

    /// Start, or the service's output when it exits before listening.
    pub(crate) fn try_start(args: &[&str]) -> Result<Self, String> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_eddy"));
        command.arg("serve").args(["--listen", "127.0.0.1:0"]).args(args);
        Self::spawn(command)
    }

    /// Start `command` (an `eddy serve`, or a shell that execs one).
    fn spawn(mut command: Command) -> Result<Self, String> {
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("eddy starts");
        let stderr = child.stderr.take().expect("piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("listening on ").nth(1) {
                    let _ = tx.send(url.to_string());
                }
                sink.lock().expect("log").push(line);
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(base) => {
                let port = base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
                Ok(Self { child, base, port, log })
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                Err(log.lock().expect("log").join("\n"))
            }
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then wait for the exit.
    pub(crate) fn stop(mut self) -> (std::process::ExitStatus, String) {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill runs");
        assert!(sent.success());
        let status = self.child.wait().expect("exit status");
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().expect("log").join("\n");
        (status, log)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that reads error statuses as answers, not errors.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// An answer: status and body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub(crate) fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    answer_of(r.expect("the service answers"))
}

pub(crate) fn answer_of(mut r: ureq::http::Response<ureq::Body>) -> Answer {
    let headers = r.headers().iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    Answer { status: r.status().as_u16(), body: r.body_mut().read_to_vec().expect("a body"), headers }
}

pub(crate) fn post(agent: &ureq::Agent, url: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> Answer {
    let mut req = agent.post(url).header("Content-Type", content_type);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    answer(req.send(body))
}

pub(crate) fn get(agent: &ureq::Agent, url: &str, token: Option<&str>) -> Answer {
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    answer(req.call())
}

pub(crate) fn json_post(agent: &ureq::Agent, url: &str, token: Option<&str>, body: &Value) -> Answer {
    post(agent, url, token, "application/json", body.to_string().as_bytes())
}

pub(crate) fn load(path: &str) -> Model {
    model_file::load::<Model>(Path::new(path), "model", &Keys::default()).expect("a model file").1
}

pub(crate) fn classifier(model: &Model) -> &eddy::model::ClassifierModel {
    match model {
        Model::Classifier(m) => m,
        Model::Clusterer(_) => panic!("a classifier"),
    }
}

pub(crate) fn i64s(v: &Value) -> Vec<i64> {
    v.as_array().expect("an array").iter().map(|x| x.as_i64().expect("an integer")).collect()
}

pub(crate) fn rows() -> Array2<f64> {
    array![[21.0, 0.2, 0.4, 0.01], [68.0, 1.5, 0.8, 0.2], [95.0, 3.0, 0.95, 0.7], [30.0, 0.4, 0.5, 0.02]]
}

pub(crate) fn rows_json(x: &Array2<f64>) -> Value {
    json!(x.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>())
}

#[test]
fn predict_and_learn_give_the_library_s_answers_in_every_format() {
    let server = Server::start(&["--model", SENSORS]);
    let agent = agent();
    let mut reference = load(SENSORS);
    let x = rows();
    let expected = classifier(&reference).predict(x.view()).expect("predicts").to_vec();
    let proba = classifier(&reference).predict_proba(x.view()).expect("predicts").expect("log loss has probabilities");

    let health = get(&agent, &server.url("/healthz"), None);
    assert_eq!((health.status, health.json()["records_seen"].as_u64()), (200, Some(3000)));
    let info = get(&agent, &server.url("/v1/model"), None).json();
    assert_eq!(info["kind"], "sgd");
    assert_eq!(info["spec"], "scale | sgd(loss=log_loss)");
    assert_eq!(info["features"], json!(["temperature", "vibration", "load", "error_rate"]));
    assert_eq!(info["class_names"], json!(["ok", "warn", "fail"]));
    assert_eq!(info["classes"], json!([0, 1, 2]));

    // The same four records in every accepted form.
    let csv_plain = "21,0.2,0.4,0.01\n68,1.5,0.8,0.2\n95,3,0.95,0.7\n30,0.4,0.5,0.02\n";
    let csv_header =
        "error_rate,load,temperature,vibration\n0.01,0.4,21,0.2\n0.2,0.8,68,1.5\n0.7,0.95,95,3\n0.02,0.5,30,0.4\n";
    let ndjson = "[21,0.2,0.4,0.01]\n{\"features\":[68,1.5,0.8,0.2]}\n\n{\"temperature\":95,\"vibration\":3,\"load\":0.95,\"error_rate\":0.7}\n[30,0.4,0.5,0.02]\n";
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", rows_json(&x).to_string().into_bytes()),
        ("application/json; charset=utf-8", json!({ "features": rows_json(&x) }).to_string().into_bytes()),
        ("text/csv", csv_plain.as_bytes().to_vec()),
        ("text/csv", csv_header.as_bytes().to_vec()),
        ("application/x-ndjson", ndjson.as_bytes().to_vec()),
    ];
    for (content_type, body) in &bodies {
        let a = post(&agent, &server.url("/v1/predict"), None, content_type, body);
        assert_eq!(a.status, 200, "{content_type}: {}", a.text());
        let a = a.json();
        assert_eq!(i64s(&a["labels"]), expected, "{content_type}");
        assert_eq!(a["classes"], json!([0, 1, 2]));
        for (got, want) in a["probabilities"].as_array().expect("probabilities").iter().zip(proba.outer_iter()) {
            let got: Vec<f64> = got.as_array().expect("a row").iter().map(|p| p.as_f64().expect("a number")).collect();
            assert_eq!(got, want.to_vec(), "{content_type}: probabilities are the library's, exactly");
        }
    }

    // Learning: the prequential labels are those of learn_predict on the same model.
    let names = ["ok", "warn", "fail", "ok"];
    let ids = ndarray::arr1(&[0i64, 1, 2, 0]);
    let Model::Classifier(m) = &mut reference else { unreachable!("checked above") };
    let want = m.learn_predict(x.view(), ids.view()).expect("learns").to_vec();
    let learned =
        json_post(&agent, &server.url("/v1/learn"), None, &json!({ "features": rows_json(&x), "labels": names }));
    assert_eq!(learned.status, 200, "{}", learned.text());
    assert_eq!(i64s(&learned.json()["labels"]), want);
    assert_eq!(learned.json()["records_seen"], 3004);
    // Integer ids and CSV labels by name go the same way.
    let want = m.learn_predict(x.view(), ids.view()).expect("learns").to_vec();
    let csv_learn = "temperature,vibration,load,error_rate,label\n21,0.2,0.4,0.01,ok\n68,1.5,0.8,0.2,warn\n95,3,0.95,0.7,2\n30,0.4,0.5,0.02,0\n";
    let a = post(&agent, &server.url("/v1/learn"), None, "text/csv", csv_learn.as_bytes());
    assert_eq!((a.status, i64s(&a.json()["labels"])), (200, want));
    // The predictions now come from the model that learned.
    let expected = classifier(&reference).predict_proba(x.view()).expect("predicts").expect("probabilities");
    let a = json_post(&agent, &server.url("/v1/predict"), None, &rows_json(&x)).json();
    let first: Vec<f64> =
        a["probabilities"][0].as_array().expect("row").iter().map(|p| p.as_f64().expect("number")).collect();
    assert_eq!(first, expected.row(0).to_vec());

    let info = get(&agent, &server.url("/v1/model"), None).json();
    assert_eq!((info["records_seen"].as_u64(), info["learned_since_start"].as_u64()), (Some(3008), Some(8)));
    assert!(info["metrics"]["accuracy"].as_f64().is_some(), "{info}");

    let png = get(&agent, &server.url("/v1/snapshot.png"), None);
    assert_eq!((png.status, png.header("content-type")), (200, Some("image/png")));
    let picture = image::load_from_memory(&png.body).expect("a PNG that decodes");
    assert_eq!((picture.width(), picture.height()), (1200, 800));

    let metrics = get(&agent, &server.url("/metrics"), None);
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(text.contains("eddy_records_learned_total 8\n"), "{text}");
    assert!(text.contains("eddy_records_predicted_total 24\n"), "{text}");
    assert!(text.contains("eddy_model_records_seen 3008\n"), "{text}");
    assert!(text.contains("eddy_http_requests_total{route=\"predict\",status=\"200\"} 6\n"), "{text}");
    assert!(text.contains("eddy_http_request_duration_seconds_count{route=\"learn\"} 2\n"), "{text}");
}

#[test]
fn k_means_is_served_too() {
    let server = Server::start(&["--model", BLOBS]);
    let agent = agent();
    let mut reference = load(BLOBS);
    let x = array![[0.0, 1.0, 2.0, 3.0], [-5.0, 2.0, 8.0, 1.0], [9.0, -3.0, 0.5, 4.0]];
    let Model::Clusterer(m) = &mut reference else { panic!("a clusterer") };
    let expected = eddy::OnlineClusterer::predict(m, x.view()).expect("predicts").to_vec();
    let a = json_post(&agent, &server.url("/v1/predict"), None, &rows_json(&x));
    assert_eq!((a.status, i64s(&a.json()["labels"])), (200, expected));
    assert!(a.json().get("probabilities").is_none(), "k-means has no probabilities");
    // Learning needs no labels.
    let want = eddy::OnlineClusterer::learn_predict(m, x.view()).expect("learns").to_vec();
    let a = json_post(&agent, &server.url("/v1/learn"), None, &rows_json(&x));
    assert_eq!((a.status, i64s(&a.json()["labels"])), (200, want));
    let info = get(&agent, &server.url("/v1/model"), None).json();
    assert_eq!(info["kind"], "minibatch-kmeans");
    assert_eq!(info["metrics"]["counts"].as_array().map(Vec::len), Some(4));
    let png = get(&agent, &server.url("/v1/snapshot.png"), None);
    assert_eq!(png.status, 200);
    image::load_from_memory(&png.body).expect("a PNG that decodes");
}

/// Status and error message of a request.
pub(crate) fn refused(a: Answer) -> (u16, String) {
    let body = a.json();
    assert_eq!(body["status"].as_u64(), Some(u64::from(a.status)), "the JSON error carries the status");
    (a.status, body["error"].as_str().expect("an error message").to_string())
}

#[test]
fn every_bad_request_gets_its_status_and_a_clear_json_error() {
    let server = Server::start(&["--model", SENSORS, "--max-body", "2000", "--max-records", "10"]);
    let agent = agent();
    let predict = server.url("/v1/predict");
    let learn = server.url("/v1/learn");
    let big = "[[1,2,3,4]],".repeat(200);
    let many_csv = "1,2,3,4\n".repeat(11);
    let many_json = format!("[{}]", ["[1,2,3,4]"; 11].join(","));
    let cases: Vec<(&str, &str, &str, u16, &str)> = vec![
        (&predict, "application/json", "[[1,2,3,4]", 400, "malformed JSON"),
        (&predict, "application/json", "", 400, "empty"),
        (&predict, "application/json", "[]", 400, "no records"),
        (&predict, "application/json", "{\"features\": []}", 400, "no records"),
        (
            &predict,
            "application/x-ndjson",
            "[1,2,3,4,5,6,7,8,9]\n",
            422,
            "record 0 (line 1): expected 4 columns, found 9",
        ),
        (&predict, "application/json", "{\"features\": [[1,2,3,4]], \"extra\": 1}", 400, "unknown field"),
        (
            &predict,
            "application/json",
            "[[1,2,3,\"x\"]]",
            400,
            "record 0: column 4 (error_rate): \"x\" is not a number",
        ),
        (&predict, "application/json", "[[1,2,3,1e999]]", 400, "malformed JSON"),
        (&predict, "application/json", "\"text\"", 400, "expected an array"),
        (&predict, "text/csv", "1,2,3,4\n1,2,x,4\n", 400, "record 1 (line 2): column 3 (load): \"x\" is not a number"),
        (
            &predict,
            "text/csv",
            "1,\"2,3,4\n",
            422,
            "record 0 (line 1): expected 4 columns (or 5, the label last), found 2",
        ),
        (&predict, "application/x-ndjson", "[1,2,3,4]\n{oops\n", 400, "line 2"),
        (
            &predict,
            "application/x-ndjson",
            "{\"temperature\":1}\n",
            400,
            "record 0 (line 1): column 2 (vibration): missing",
        ),
        (&predict, "application/json", "[[1,2,3]]", 422, "record 0: expected 4 columns, found 3"),
        (&predict, "text/csv", "1,2,3,4\n1,2,3\n", 422, "record 1 (line 2): expected 4 columns, found 3"),
        (&predict, "text/csv", "1,2,nan,4\n", 422, "missing value (\"nan\")"),
        (&predict, "text/csv", "1,2,inf,4\n", 422, "record 0 (line 1): column 3 (load): inf is not a finite number"),
        (&predict, "application/xml", "<x/>", 415, "application/json"),
        (&predict, "application/json", &big, 413, "--max-body"),
        (&predict, "text/csv", &many_csv, 413, "--max-records (10)"),
        (&predict, "application/json", &many_json, 413, "--max-records"),
        (&learn, "application/json", "[[1,2,3,4]]", 422, "needs a label"),
        (
            &learn,
            "application/json",
            "{\"features\": [[1,2,3,4]], \"labels\": [\"ok\", \"fail\"]}",
            422,
            "1 records but 2 labels",
        ),
        (&learn, "application/json", "{\"features\": [[1,2,3,4]], \"labels\": [7]}", 422, "class id 7 has no name"),
        (
            &learn,
            "application/json",
            "{\"features\": [[1,2,3,4]], \"labels\": [\"bogus\"]}",
            422,
            "label \"bogus\" is not one of the model's classes (ok, warn, fail)",
        ),
        (&learn, "application/json", "{\"features\": [[1,2,3,4]], \"labels\": [1.5]}", 400, "malformed JSON"),
        (
            &learn,
            "application/x-ndjson",
            "{\"features\":[1,2,3,4],\"label\":\"ok\"}\n[1,2,3,4]\n",
            400,
            "every record has a label",
        ),
    ];
    for (url, content_type, body, status, message) in cases {
        let (got, error) = refused(post(&agent, url, None, content_type, body.as_bytes()));
        assert_eq!(got, status, "{content_type} {body:.60}: {error}");
        assert!(error.contains(message), "{content_type} {body:.60}: {error:?} should say {message:?}");
    }
    assert_eq!(refused(get(&agent, &server.url("/v2/predict"), None)), (404, "no such route: /v2/predict".into()));
    assert_eq!(refused(get(&agent, &predict, None)).0, 405);
    // A refused batch taught nothing: nothing was learned.
    let info = get(&agent, &server.url("/v1/model"), None).json();
    assert_eq!((info["records_seen"].as_u64(), info["learned_since_start"].as_u64()), (Some(3000), Some(0)));
    assert_eq!(info["class_names"], json!(["ok", "warn", "fail"]), "a refused name added no class");
    // Without --checkpoint, a checkpoint is refused, not pretended.
    assert_eq!(refused(post(&agent, &server.url("/v1/checkpoint"), None, "application/json", b"")).0, 409);
}

#[test]
fn a_request_that_outlasts_the_timeout_gets_408_and_the_service_goes_on() {
    let server = Server::start(&["--model", SENSORS, "--request-timeout", "0.5"]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connects");
    // Headers promise a body that never comes.
    write!(
        stream,
        "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[[1,"
    )
    .expect("writes");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let started = Instant::now();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("--request-timeout"), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let health = get(&agent(), &server.url("/healthz"), None);
    assert_eq!((health.status, health.json()["records_seen"].as_u64()), (200, Some(3000)));
}

pub(crate) fn tokens_file(dir: &Path, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("tokens.txt");
    std::fs::write(&path, format!("# service tokens\n{READ} read\n{LEARN} learn\n{ADMIN} admin\n")).expect("writes");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

#[test]
fn each_role_may_do_what_it_allows_and_no_more() {
    let dir = temp_dir("roles");
    let tokens = tokens_file(&dir, 0o600);
    let checkpoint = dir.join("state.eddy");
    let server = Server::start(&[
        "--model",
        SENSORS,
        "--tokens",
        tokens.to_str().expect("utf-8"),
        "--checkpoint",
        checkpoint.to_str().expect("utf-8"),
    ]);
    let agent = agent();
    let x = rows_json(&rows());
    let labelled = json!({ "features": x, "labels": [0, 1, 2, 0] });
    // Every operation the OpenAPI document lists, called as each role: the role it
    // documents is the one enforced, and every answer's status is documented.
    let doc: Value = serde_json::from_str(eddy::server::OPENAPI).expect("JSON");
    let rank = |role: &str| ["none", "read", "learn", "admin"].iter().position(|r| *r == role).expect("a role");
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("methods") {
            operations += 1;
            let needed = operation["x-eddy-role"].as_str().expect("a role");
            let documented = |status: u16| operation["responses"].get(status.to_string()).is_some();
            let call = |token: Option<&str>| match (method.as_str(), path.as_str()) {
                ("post", "/v1/predict") => json_post(&agent, &server.url(path), token, &x),
                ("post", "/v1/learn") => json_post(&agent, &server.url(path), token, &labelled),
                ("post", "/v1/feedback") => {
                    json_post(&agent, &server.url(path), token, &json!({ "ids": ["never-predicted"], "labels": [0] }))
                }
                ("post", _) => post(&agent, &server.url(path), token, "application/json", b""),
                _ => get(&agent, &server.url(path), token),
            };
            if needed == "none" {
                assert_eq!(call(None).status, 200, "{path} needs no token");
                continue;
            }
            let none = call(None);
            assert_eq!(none.header("www-authenticate"), Some("Bearer"), "{path}");
            assert_eq!(refused(none).0, 401, "{path} without a token");
            assert_eq!(refused(call(Some("not-a-token-0123456789"))).0, 401, "{path} with a wrong token");
            for (token, role) in [(READ, "read"), (LEARN, "learn"), (ADMIN, "admin")] {
                let a = call(Some(token));
                assert!(documented(a.status), "{method} {path} as {role}: {} is not documented", a.status);
                if rank(role) >= rank(needed) {
                    assert_eq!(a.status, 200, "{path} as {role}: {}", a.text());
                } else {
                    assert_eq!(refused(a).0, 403, "{path} as {role}");
                }
            }
        }
    }
    assert_eq!(operations, eddy::server::ROUTES.len());
    // A token in another scheme is no token.
    let basic = answer(agent.get(server.url("/v1/model")).header("Authorization", &format!("Basic {ADMIN}")).call());
    assert_eq!(basic.status, 401);
    // Health needs no token (load balancers probe it).
    assert_eq!(get(&agent, &server.url("/healthz"), None).status, 200);
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    for token in [READ, LEARN, ADMIN] {
        assert!(!log.contains(token), "a token was logged: {log}");
    }
}

#[test]
fn unsafe_setups_are_refused_at_start() {
    let dir = temp_dir("refusals");
    let tokens = tokens_file(&dir, 0o644);
    let err = Server::try_start(&["--model", SENSORS, "--tokens", tokens.to_str().expect("utf-8")]).err();
    assert!(err.as_deref().is_some_and(|e| e.contains("mode 644") && e.contains("chmod 600")), "{err:?}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["serve", "--model", SENSORS, "--listen", "0.0.0.0:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut text = String::new();
    child.stderr.take().expect("piped").read_to_string(&mut text).expect("reads");
    assert!(!child.wait().expect("exits").success());
    assert!(text.contains("not a loopback address") && text.contains("--insecure-listen"), "{text}");

    let corrupt = dir.join("corrupt.eddy");
    let mut bytes = std::fs::read(SENSORS).expect("reads");
    let last = bytes.len() - 40;
    bytes[last] ^= 0xff;
    std::fs::write(&corrupt, bytes).expect("writes");
    let err = Server::try_start(&["--model", corrupt.to_str().expect("utf-8")]).err();
    assert!(err.as_deref().is_some_and(|e| e.contains("corrupt") || e.contains("does not match")), "{err:?}");
}

#[test]
fn https_with_a_certificate_made_in_the_test() {
    let dir = temp_dir("tls");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("a certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("writes");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("writes");
    let server = Server::start(&[
        "--model",
        SENSORS,
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ]);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let root = ureq::tls::Certificate::from_der(certified.cert.der()).to_owned();
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![root]))).build();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).tls_config(tls).build().new_agent();
    let base = format!("https://localhost:{}", server.port);
    assert_eq!(get(&agent, &format!("{base}/healthz"), None).status, 200);
    let a = json_post(&agent, &format!("{base}/v1/predict"), None, &rows_json(&rows()));
    assert_eq!((a.status, a.json()["labels"].as_array().map(Vec::len)), (200, Some(4)));
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = agent.get(format!("http://localhost:{}/healthz", server.port)).call();
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status() != 200));
    // A client that does not trust the certificate is refused.
    let strict = ureq::Agent::config_builder().build().new_agent();
    assert!(strict.get(format!("{base}/healthz")).call().is_err());

    // A renewed certificate is taken up at SIGHUP, without a restart.
    let renewed = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("a certificate");
    std::fs::write(&cert, renewed.cert.pem()).expect("writes");
    std::fs::write(&key, renewed.signing_key.serialize_pem()).expect("writes");
    let sent = Command::new("kill").args(["-HUP", &server.child.id().to_string()]).status().expect("kill runs");
    assert!(sent.success());
    let root = ureq::tls::Certificate::from_der(renewed.cert.der()).to_owned();
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![root]))).build();
    let trusting_renewed = ureq::Agent::config_builder().tls_config(tls).build().new_agent();
    let deadline = Instant::now() + Duration::from_secs(10);
    while trusting_renewed.get(format!("{base}/healthz")).call().is_err() {
        assert!(Instant::now() < deadline, "the renewed certificate was never served");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_restart_serves_the_checkpointed_model_with_its_record_count() {
    let dir = temp_dir("restart");
    let checkpoint = dir.join("state.eddy");
    // With a signing key, the served model must be signed too: sign a copy.
    let (signed, key) = signed_sensors(&dir);
    let keys = Keys { signing: Some(Key::read(&key).expect("a key")), encryption: None };
    let args = [
        "--model",
        signed.to_str().expect("utf-8"),
        "--checkpoint",
        checkpoint.to_str().expect("utf-8"),
        "--signing-key",
        key.to_str().expect("utf-8"),
    ];
    let server = Server::start(&args);
    let agent = agent();
    let x = rows_json(&rows());
    for labels in [json!(["ok", "warn", "fail", "ok"]), json!(["fail", "fail", "warn", "ok"])] {
        let a = json_post(&agent, &server.url("/v1/learn"), None, &json!({ "features": x, "labels": labels }));
        assert_eq!(a.status, 200, "{}", a.text());
    }
    // An explicit checkpoint, then more learning that only the shutdown checkpoint holds.
    let saved = post(&agent, &server.url("/v1/checkpoint"), None, "application/json", b"").json();
    assert_eq!((saved["records_seen"].as_u64(), saved["signed"].as_bool()), (Some(3008), Some(true)));
    let a = json_post(&agent, &server.url("/v1/learn"), None, &json!({ "features": x, "labels": [2, 2, 2, 2] }));
    assert_eq!(a.status, 200);
    let before = json_post(&agent, &server.url("/v1/predict"), None, &x).json();
    let scores = get(&agent, &server.url("/v1/model"), None).json()["metrics"].clone();
    assert!(scores["accuracy"].as_f64().is_some(), "{scores}");
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    assert!(log.contains("checkpoint") && log.contains("3012 records"), "{log}");

    // The checkpoint is signed: it loads with the key and is refused without it.
    let (header, _): (_, Model) = model_file::load(&checkpoint, "model", &keys).expect("verifies");
    assert_eq!((header.records_seen, header.classes.as_deref().map(<[String]>::len)), (3012, Some(3)));
    assert!(model_file::load::<Model>(&checkpoint, "model", &Keys::default()).is_err());

    let server = Server::start(&args);
    let info = get(&agent, &server.url("/v1/model"), None).json();
    assert_eq!((info["records_seen"].as_u64(), info["learned_since_start"].as_u64()), (Some(3012), Some(0)));
    let after = json_post(&agent, &server.url("/v1/predict"), None, &x).json();
    assert_eq!(after, before, "the restarted service predicts as the stopped one did");
    assert_eq!(info["metrics"], scores, "the prequential scores go on from where they were");
    let log = server.log.lock().expect("log").join("\n");
    assert!(log.contains("state.eddy"), "says it serves the checkpoint: {log}");
}

#[test]
fn thousands_of_random_and_truncated_bodies_leave_it_answering_with_nothing_lost() {
    let server = Server::start(&["--model", SENSORS, "--max-records", "50"]);
    let base = server.url("");
    let valid: Vec<(&str, String)> = vec![
        (
            "application/json",
            json!({ "features": rows_json(&rows()), "labels": ["ok", "warn", "fail", "ok"] }).to_string(),
        ),
        ("text/csv", "21,0.2,0.4,0.01,ok\n68,1.5,0.8,0.2,warn\n95,3,0.95,0.7,fail\n".to_string()),
        (
            "application/x-ndjson",
            "{\"features\":[1,2,3,4],\"label\":0}\n{\"features\":[5,6,7,8],\"label\":\"warn\"}\n".to_string(),
        ),
        ("application/json", rows_json(&rows()).to_string()),
    ];
    let types = ["application/json", "text/csv", "application/x-ndjson", "text/plain", "application/octet-stream"];
    // Four clients at once, each with its own seed; each counts the records its
    // successful learn calls carried.
    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            let valid = valid.clone();
            let base = base.clone();
            std::thread::spawn(move || {
                let agent = agent();
                let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(w);
                let (mut learned, mut uncertain) = (0u64, 0u64);
                let mut statuses = std::collections::BTreeMap::new();
                for _ in 0..750 {
                    let (mut content_type, body) = valid[(rng.next_u32() as usize) % valid.len()].clone();
                    let mut body = body.into_bytes();
                    match rng.next_u32() % 5 {
                        0 => body.truncate((rng.next_u32() as usize) % (body.len() + 1)),
                        1 => {
                            for _ in 0..1 + rng.next_u32() % 4 {
                                let i = (rng.next_u32() as usize) % body.len();
                                body[i] = rng.next_u32() as u8;
                            }
                        }
                        2 => {
                            body = (0..rng.next_u32() % 300).map(|_| rng.next_u32() as u8).collect();
                        }
                        3 => content_type = types[(rng.next_u32() as usize) % types.len()],
                        _ => {}
                    }
                    let path = if rng.next_u32() % 2 == 0 { "/v1/learn" } else { "/v1/predict" };
                    let sent = agent.post(format!("{base}{path}")).header("Content-Type", content_type).send(&body[..]);
                    let a = match sent {
                        Ok(r) => answer_of(r),
                        // A connection lost on the way (seen once on a saturated machine):
                        // a learn call's batch (4 records at most) may or may not have been
                        // learned, and the check below allows for exactly that.
                        Err(_) => {
                            *statuses.entry(0).or_insert(0u32) += 1;
                            if path == "/v1/learn" {
                                uncertain += 4;
                            }
                            continue;
                        }
                    };
                    *statuses.entry(a.status).or_insert(0u32) += 1;
                    assert!(matches!(a.status, 200 | 400 | 413 | 415 | 422), "{path}: {} {}", a.status, a.text());
                    if a.status != 200 {
                        refused(a);
                    } else if path == "/v1/learn" {
                        learned += a.json()["labels"].as_array().expect("labels").len() as u64;
                    }
                }
                (learned, uncertain, statuses)
            })
        })
        .collect();
    // Meanwhile, raw garbage on sockets of its own: bad request lines, truncated
    // headers, bodies shorter than promised, then a hang-up.
    let garbage: [&[u8]; 5] = [
        b"GARBAGE\r\n\r\n",
        b"POST /v1/learn HTTP/1.1\r\nContent-Length: 50\r\n\r\n[[1,2",
        b"POST /v1/learn HTTP/1.1\r\nHost",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        b"GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    ];
    for round in 0..200 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", server.port)) {
            let _ = s.write_all(garbage[round % garbage.len()]);
        }
    }
    let (mut learned, mut uncertain) = (0, 0);
    let mut statuses = std::collections::BTreeMap::new();
    for w in workers {
        let (n, u, s) = w.join().expect("a client thread");
        learned += n;
        uncertain += u;
        for (k, v) in s {
            *statuses.entry(k).or_insert(0) += v;
        }
    }
    assert!(statuses.get(&200).copied().unwrap_or(0) > 300, "enough calls succeeded to mean something: {statuses:?}");
    assert!(statuses.keys().filter(|&&k| k != 0).count() >= 4, "the bodies were bad in several ways: {statuses:?}");
    let agent = agent();
    let health = get(&agent, &server.url("/healthz"), None);
    assert_eq!(health.status, 200);
    // Every record of every successful learn call was learned once; no other was (but
    // those of a call whose connection was lost, which may or may not have been).
    let seen = health.json()["records_seen"].as_u64().expect("a count") - 3000;
    assert!(learned <= seen && seen <= learned + uncertain, "{seen} learned, {learned} answered: {statuses:?}");
}

#[test]
fn connections_over_the_limit_are_closed_and_the_service_recovers() {
    let server = Server::start(&["--model", SENSORS, "--max-connections", "2"]);
    let held: Vec<TcpStream> =
        (0..2).map(|_| TcpStream::connect(("127.0.0.1", server.port)).expect("connects")).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(("127.0.0.1", server.port)).expect("the kernel accepts");
    third.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = Vec::new();
    let _ = third.read_to_end(&mut buf);
    assert!(buf.is_empty(), "over the limit, no answer: {}", String::from_utf8_lossy(&buf));
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let agent = agent();
    assert_eq!(get(&agent, &server.url("/healthz"), None).status, 200);
    let metrics = get(&agent, &server.url("/metrics"), None).text();
    assert!(metrics.contains("eddy_connections_refused_total 1\n"), "{metrics}");
}

#[test]
fn the_client_example_labels_and_teaches_through_the_service() {
    let dir = temp_dir("client");
    let tokens = tokens_file(&dir, 0o600);
    let server = Server::start(&["--model", SENSORS, "--tokens", tokens.to_str().expect("utf-8")]);
    let mut exe = std::env::current_exe().expect("test binary path");
    exe.pop();
    if exe.ends_with("deps") {
        exe.pop();
    }
    let example = exe.join("examples").join("service_client");
    let run = Command::new(&example).arg(&server.base).arg(LEARN).output().expect("the example runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        stdout.contains("serving \"scale | sgd(loss=log_loss)\"") && stdout.contains("records seen 3003"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().filter(|l| l.starts_with("predict ")).count(), 3, "{stdout}");
    // With a read-only token, learning is refused and the example says why.
    let run = Command::new(&example).arg(&server.base).arg(READ).output().expect("the example runs");
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("403"), "{}", String::from_utf8_lossy(&run.stderr));
}

/// An untrained `kind` model on `features` (comma-separated), made by `eddy model new` in `dir`.
fn untrained(dir: &Path, kind: &str, features: &str) -> PathBuf {
    let model = dir.join("fresh.eddy");
    let made = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["model", "new", kind, "--features", features, "--out"])
        .arg(&model)
        .output()
        .expect("eddy runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    model
}

/// Every model of the registry, served from `eddy model new SPEC`: learn and predict
/// give the library's labels for the same spec.
#[test]
fn every_registered_model_is_served_with_the_library_s_answers() {
    let dir = temp_dir("registry");
    let agent = agent();
    for (spec, counts) in crate::util::every_model_spec() {
        let file = untrained(&dir, &spec, "f0,f1,f2,f3");
        let server = Server::start(&["--model", file.to_str().expect("utf-8")]);
        let (x, y) = crate::util::blobs_for(counts, 9, 300);
        let mut reference = Model::from_spec(&spec).expect("valid");
        let learned = match &mut reference {
            Model::Classifier(m) => {
                let want = m.learn_predict(x.view(), y.view()).expect("learns").to_vec();
                let labels: Vec<i64> = y.to_vec();
                let a = json_post(
                    &agent,
                    &server.url("/v1/learn"),
                    None,
                    &json!({ "features": rows_json(&x), "labels": labels }),
                );
                (a, want)
            }
            Model::Clusterer(m) => {
                let want = eddy::OnlineClusterer::learn_predict(m, x.view()).expect("learns").to_vec();
                (json_post(&agent, &server.url("/v1/learn"), None, &rows_json(&x)), want)
            }
        };
        let (a, want) = learned;
        assert_eq!(a.status, 200, "{spec}: {}", a.text());
        assert_eq!(i64s(&a.json()["labels"]), want, "{spec}: learn");
        let (x2, _) = crate::util::blobs_for(counts, 10, 50);
        let want = match &reference {
            Model::Classifier(m) => m.predict(x2.view()).expect("predicts").to_vec(),
            Model::Clusterer(m) => eddy::OnlineClusterer::predict(m, x2.view()).expect("predicts").to_vec(),
        };
        let a = json_post(&agent, &server.url("/v1/predict"), None, &rows_json(&x2));
        assert_eq!((a.status, i64s(&a.json()["labels"])), (200, want), "{spec}: predict");
        let info = get(&agent, &server.url("/v1/model"), None).json();
        assert_eq!(info["spec"], reference.spec(), "{spec}");
        drop(server);
    }
}

/// A panic anywhere in the service (injected on purpose: a debug build with
/// `EDDY_FAULTS=1` panics on a marked record) is answered 500, its batch undone, and
/// the service goes on learning, predicting and telling the truth on /healthz.
#[test]
fn a_panic_in_the_learner_or_a_handler_is_answered_500_and_the_service_goes_on() {
    let dir = temp_dir("panics");
    let state = dir.join("state.eddy");
    let start = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_eddy"));
        command.env("EDDY_FAULTS", "1").args(["serve", "--listen", "127.0.0.1:0", "--model", SENSORS, "--checkpoint"]);
        command.arg(&state);
        Server::spawn(command).unwrap_or_else(|log| panic!("{log}"))
    };
    let server = start();
    let agent = agent();
    let learn = |server: &Server, first: f64| {
        json_post(
            &agent,
            &server.url("/v1/learn"),
            None,
            &json!({ "features": [[first, 0.6, 52.0, 1.1], [57.0, 4.2, 96.0, 8.5]], "labels": ["ok", "fail"] }),
        )
    };
    let seen = |server: &Server| get(&agent, &server.url("/healthz"), None).json()["records_seen"].as_u64();
    assert_eq!(learn(&server, 21.0).status, 200);
    assert_eq!(seen(&server), Some(3002));
    let a = learn(&server, -7777.25);
    assert_eq!(a.status, 500, "{}", a.text());
    assert!(a.text().contains("it was not learned"), "{}", a.text());
    assert_eq!(seen(&server), Some(3002), "the batch was undone");
    assert_eq!(learn(&server, 22.0).status, 200, "the learner goes on");
    assert_eq!(seen(&server), Some(3004));
    // A handler that panics: 500, and the same connection goes on being served.
    let a = json_post(&agent, &server.url("/v1/predict"), None, &json!([[-8888.25, 0.6, 52.0, 1.1]]));
    assert_eq!(a.status, 500, "{}", a.text());
    let a = json_post(&agent, &server.url("/v1/predict"), None, &json!([[21.0, 0.6, 52.0, 1.1]]));
    assert_eq!(a.status, 200, "{}", a.text());
    let health = get(&agent, &server.url("/healthz"), None);
    assert_eq!((health.status, health.json()["status"].as_str()), (200, Some("ok")));
    // After a restart, the learn log brings back exactly the acknowledged batches.
    let (status, _) = server.stop();
    assert!(status.success());
    let server = start();
    assert_eq!(seen(&server), Some(3004));
}

/// A signed copy of the sensors model in `dir`, and its key file.
fn signed_sensors(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("signing.key");
    std::fs::write(&key, "2a".repeat(32)).expect("writes");
    let keys = Keys { signing: Some(Key::read(&key).expect("a key")), encryption: None };
    let (header, model): (_, Model) = model_file::load(Path::new(SENSORS), "model", &Keys::default()).expect("loads");
    let signed = dir.join("signed.eddy");
    model_file::save(&signed, &header, &model, &keys).expect("saves");
    (signed, key)
}

#[test]
fn what_was_learned_survives_a_sigkill_exactly_once() {
    let dir = temp_dir("sigkill");
    let (model, key) = signed_sensors(&dir);
    let checkpoint = dir.join("state.eddy");
    let log = dir.join("state.eddy.learn-log");
    let args = [
        "--model",
        model.to_str().expect("utf-8"),
        "--checkpoint",
        checkpoint.to_str().expect("utf-8"),
        "--signing-key",
        key.to_str().expect("utf-8"),
        "--checkpoint-interval",
        "0",
    ];
    let mut reference = load(SENSORS);
    let Model::Classifier(m) = &mut reference else { panic!("a classifier") };
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
    let mut batch = |n: usize| {
        let x = Array2::from_shape_fn((n, 4), |(_, j)| {
            let u = f64::from(rng.next_u32()) / f64::from(u32::MAX);
            [15.0 + 80.0 * u, 4.0 * u, 40.0 + 60.0 * u, 9.0 * u][j]
        });
        let y: Vec<i64> = (0..n).map(|_| i64::from(rng.next_u32() % 3)).collect();
        (x, y)
    };
    let server = Server::start(&args);
    let client = agent();
    let mut learn = |server: &Server, m: &mut eddy::model::ClassifierModel, n: usize| {
        let (x, y) = batch(n);
        let want = m.learn_predict(x.view(), ndarray::ArrayView1::from(&y)).expect("learns").to_vec();
        let a = json_post(&client, &server.url("/v1/learn"), None, &json!({ "features": rows_json(&x), "labels": y }));
        assert_eq!((a.status, i64s(&a.json()["labels"])), (200, want), "{}", a.text());
    };
    for n in [5, 17, 64] {
        learn(&server, m, n);
    }
    let before_checkpoint = std::fs::read(&log).expect("the log holds the answered batches");
    assert!(!before_checkpoint.is_empty());
    let saved = post(&client, &server.url("/v1/checkpoint"), None, "application/json", b"").json();
    assert_eq!(saved["records_seen"].as_u64(), Some(3086));
    assert_eq!(std::fs::metadata(&log).expect("exists").len(), 0, "a checkpoint empties the log");
    for n in [3, 40, 1, 29] {
        learn(&server, m, n);
    }
    let scores = get(&client, &server.url("/v1/model"), None).json()["metrics"].clone();
    drop(server); // SIGKILL: no shutdown checkpoint.
    assert_eq!(
        model_file::read_header(&checkpoint, &Keys { signing: Some(Key::read(&key).expect("key")), encryption: None })
            .expect("verifies")
            .records_seen,
        3086
    );

    // As if the crash came between writing the checkpoint and emptying the log: its
    // old entries come first (they must be skipped); then a torn last write.
    let mut crafted = before_checkpoint.clone();
    crafted.extend(std::fs::read(&log).expect("reads"));
    let whole = crafted.clone();
    crafted.extend_from_slice(&[200, 1, 0, 0, 0, 0, 0, 0, b'E', b'D']);
    std::fs::write(&log, &crafted).expect("writes");

    let server = Server::start(&args);
    let info = get(&client, &server.url("/v1/model"), None).json();
    assert_eq!(info["records_seen"].as_u64(), Some(3086 + 73), "each answered record once: {info}");
    assert_eq!(info["metrics"], scores, "the scores too: the checkpoint's, then the log's batches");
    let probe = rows();
    let want = m.predict_proba(probe.view()).expect("predicts").expect("probabilities");
    let got = json_post(&client, &server.url("/v1/predict"), None, &rows_json(&probe)).json();
    for (g, w) in got["probabilities"].as_array().expect("rows").iter().zip(want.outer_iter()) {
        let g: Vec<f64> = g.as_array().expect("row").iter().map(|p| p.as_f64().expect("number")).collect();
        assert_eq!(g, w.to_vec(), "the model came back bit for bit");
    }
    let log_text = server.log.lock().expect("log").join("\n");
    assert!(log_text.contains("learned 73 records again (4 batches)") && log_text.contains("cut off"), "{log_text}");
    drop(server);

    // A damaged entry that is not the last, or an entry signed with another key, is refused.
    let mut damaged = whole.clone();
    damaged[30] ^= 0x40;
    std::fs::write(&log, &damaged).expect("writes");
    let err = Server::try_start(&args).err().unwrap_or_default();
    assert!(err.contains("learn log entry at byte 0"), "{err}");
}

#[test]
fn a_service_can_start_from_an_untrained_model_and_keep_what_it_learned() {
    let dir = temp_dir("fresh");
    let model = dir.join("fresh.eddy");
    // In a folder that does not exist yet: the service makes it.
    let checkpoint = dir.join("state").join("fresh.eddy");
    let new = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_eddy")).args(["model", "new"]).args(extra).output().expect("eddy runs")
    };
    let made = new(&["perceptron", "--features", "a,b", "--out", model.to_str().expect("utf-8")]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    for (bad, says) in [
        (vec!["nope", "--features", "a"], "nope"),
        (vec!["sgd", "--features", "a,,b"], "empty"),
        (vec!["scale | multinomial-nb", "--features", "a"], "counts"),
        (vec!["minibatch-kmeans(n_clusters=0)", "--features", "a"], "clusters"),
    ] {
        let out = dir.join("bad.eddy");
        let run = new(&[bad.as_slice(), &["--out", out.to_str().expect("utf-8")]].concat());
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success() && stderr.to_lowercase().contains(says), "{bad:?}: {stderr}");
        assert!(!out.exists(), "{bad:?}: no file is written");
    }

    let args = ["--model", model.to_str().expect("utf-8"), "--checkpoint", checkpoint.to_str().expect("utf-8")];
    let server = Server::start(&args);
    let client = agent();
    let x = json!([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]]);
    let a = json_post(&client, &server.url("/v1/predict"), None, &x);
    assert_eq!(refused(a).0, 409, "an untrained model cannot predict yet");
    // Class names are discovered in order of appearance, as in `eddy run`.
    let learned = json_post(
        &client,
        &server.url("/v1/learn"),
        None,
        &json!({ "features": x, "labels": ["north", "east", "north", "east"] }),
    );
    assert_eq!(learned.status, 200, "{}", learned.text());
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");

    let server = Server::start(&args);
    let info = get(&client, &server.url("/v1/model"), None).json();
    assert_eq!(info["class_names"], json!(["north", "east"]), "{info}");
    assert_eq!(info["records_seen"].as_u64(), Some(4));
    let a = json_post(&client, &server.url("/v1/predict"), None, &x);
    assert_eq!(a.status, 200, "{}", a.text());
}

#[test]
fn a_batch_that_overflows_the_model_is_refused_and_undone() {
    for model in [SENSORS, BLOBS] {
        let server = Server::start(&["--model", model]);
        let client = agent();
        let probe = json!([[21.0, 0.2, 0.4, 0.01], [0.1, 0.2, 0.3, 0.4], [5.0, 5.0, 5.0, 5.0]]);
        let before = json_post(&client, &server.url("/v1/predict"), None, &probe).json();
        let huge = json!({ "features": [[1e308, 1e308, 1e308, 1e308], [1.0, 2.0, 3.0, 4.0]], "labels": [0, 1] });
        let (status, error) = refused(json_post(&client, &server.url("/v1/learn"), None, &huge));
        assert_eq!(status, 422, "{model}: {error}");
        assert!(error.contains("overflowed"), "{model}: {error}");
        let after = json_post(&client, &server.url("/v1/predict"), None, &probe).json();
        assert_eq!(after, before, "{model}: the model is as it was");
        let info = get(&client, &server.url("/v1/model"), None).json();
        assert_eq!(info["learned_since_start"].as_u64(), Some(0), "{model}: {info}");
        // And it goes on learning.
        let fine = json!({ "features": [[21.0, 0.6, 52.0, 1.1], [57.0, 4.2, 96.0, 8.5]], "labels": [0, 2] });
        assert_eq!(json_post(&client, &server.url("/v1/learn"), None, &fine).status, 200, "{model}");
    }
}

#[test]
fn a_client_that_never_reads_its_answers_loses_its_connection() {
    let server = Server::start(&["--model", SENSORS, "--max-connections", "1", "--request-timeout", "1"]);
    let port = server.port;
    // Predict answers of about 7 MB each (labels and three probabilities for 100,000
    // records), asked for four times on one connection that never reads.
    let body = "21,0.6,52,1.1\n".repeat(100_000);
    let request = format!(
        "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut hog = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    let mut writer = hog.try_clone().expect("clones");
    let sender = std::thread::spawn(move || {
        for _ in 0..4 {
            if writer.write_all(request.as_bytes()).is_err() {
                break;
            }
        }
    });
    // The only connection slot is taken until the server gives up on the hog.
    let started = Instant::now();
    let client = agent();
    let healthy = loop {
        if let Ok(r) = client.get(server.url("/healthz")).call() {
            break r.status().as_u16() == 200;
        }
        if started.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(healthy, "the stalled connection was never closed");
    let _ = hog.set_read_timeout(Some(Duration::from_secs(5)));
    let mut sink = Vec::new();
    let _ = hog.read_to_end(&mut sink);
    let _ = sender.join();
}

#[test]
fn classes_are_bounded_and_one_service_owns_a_checkpoint() {
    let dir = temp_dir("bounds");
    let model = untrained(&dir, "perceptron", "a,b,c,d");
    let checkpoint = dir.join("state.eddy");
    let args = [
        "--model",
        model.to_str().expect("utf-8"),
        "--max-classes",
        "3",
        "--checkpoint",
        checkpoint.to_str().expect("utf-8"),
    ];
    let server = Server::start(&args);
    let client = agent();
    let x = rows_json(&rows());
    let a = json_post(&client, &server.url("/v1/learn"), None, &json!({ "features": x, "labels": [0, 1, 2, 1] }));
    assert_eq!(a.status, 200, "{}", a.text());
    let (status, error) =
        refused(json_post(&client, &server.url("/v1/learn"), None, &json!({ "features": x, "labels": [0, 1, 2, 3] })));
    assert_eq!(status, 422);
    assert!(error.contains("4 distinct labels") && error.contains("--max-classes (3)"), "{error}");
    assert_eq!(get(&client, &server.url("/v1/model"), None).json()["classes"], json!([0, 1, 2]));

    // A second service on the same checkpoint would mix its log with the first's.
    let second = Server::try_start(&args).err().unwrap_or_default();
    assert!(second.contains("another eddy serve is using this checkpoint"), "{second}");
}

#[test]
fn labels_decide_once_and_bodies_announced_but_not_sent_hold_nothing() {
    let dir = temp_dir("decide");
    let model = untrained(&dir, "sgd", "temperature,vibration,load,error_rate");
    let server = Server::start(&["--model", model.to_str().expect("utf-8"), "--max-body", "8000000"]);
    let client = agent();
    let x = json!([[1.0, 2.0, 3.0, 4.0]]);
    // An integer first: this model's labels are integers from now on, so a name later
    // cannot be given id 5 and merge with the class learned as 5.
    let a = json_post(&client, &server.url("/v1/learn"), None, &json!({ "features": x, "labels": [5] }));
    assert_eq!(a.status, 200, "{}", a.text());
    let (status, error) =
        refused(json_post(&client, &server.url("/v1/learn"), None, &json!({ "features": x, "labels": ["a"] })));
    assert_eq!(status, 422);
    assert!(error.contains("not an integer"), "{error}");
    let long_object = format!("{{\"temperature\": 1, \"pad\": \"{}\"}}\n", "x".repeat(5000));
    let (status, error) =
        refused(post(&client, &server.url("/v1/predict"), None, "application/x-ndjson", long_object.as_bytes()));
    assert_eq!(status, 413);
    assert!(error.contains("line 1: an object line is longer"), "{error}");
    // `"labels": null` is no labels.
    let a = json_post(&client, &server.url("/v1/predict"), None, &json!({ "features": x, "labels": null }));
    assert_eq!(a.status, 200, "{}", a.text());

    // Eight clients announce 8 MB bodies and send nothing: they hold none of the
    // memory budget, so a small request is answered at once, not after the timeout.
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connects");
            s.write_all(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7999999\r\n\r\n[[1,")
                .expect("writes");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let a = json_post(&client, &server.url("/v1/predict"), None, &x);
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(started.elapsed() < Duration::from_secs(10), "a small request waited {:?}", started.elapsed());
    drop(idle);
}

#[test]
fn a_zero_request_timeout_is_refused() {
    let err = Server::try_start(&["--model", SENSORS, "--request-timeout", "0"]).err().unwrap_or_default();
    assert!(err.contains("--request-timeout"), "{err}");
}

#[test]
fn when_the_learn_log_cannot_be_written_nothing_is_acknowledged_or_learned() {
    let dir = temp_dir("efbig");
    let checkpoint = dir.join("state.eddy");
    // Files this process writes may not pass 4 KiB (ulimit -f counts 512-byte blocks),
    // and the signal that would kill it for trying is ignored: writes past the limit
    // fail with EFBIG, as on a full disk.
    let mut command = Command::new("sh");
    command.arg("-c").arg(format!(
        "trap '' XFSZ; ulimit -f 8; exec '{}' serve --listen 127.0.0.1:0 --model '{}' --checkpoint '{}'",
        env!("CARGO_BIN_EXE_eddy"),
        SENSORS,
        checkpoint.display()
    ));
    let server = Server::spawn(command).unwrap_or_else(|log| panic!("did not start:\n{log}"));
    let client = agent();
    let x = rows_json(&rows());
    let labelled = json!({ "features": x, "labels": ["ok", "warn", "fail", "ok"] });
    let (mut learned, mut refused_at) = (0u64, None);
    for call in 0..40 {
        let before = json_post(&client, &server.url("/v1/predict"), None, &x).json();
        let a = json_post(&client, &server.url("/v1/learn"), None, &labelled);
        if a.status == 200 {
            learned += 4;
            continue;
        }
        let (status, error) = refused(a);
        assert_eq!(status, 500, "{error}");
        assert!(error.contains("not learned: the learn log could not be written"), "{error}");
        let after = json_post(&client, &server.url("/v1/predict"), None, &x).json();
        assert_eq!(after, before, "the refused batch was undone");
        refused_at = Some(call);
        break;
    }
    assert!(refused_at.is_some_and(|c| c > 0), "the log filled up after some calls: {refused_at:?}");
    let info = get(&client, &server.url("/v1/model"), None).json();
    assert_eq!(info["records_seen"].as_u64(), Some(3000 + learned), "{info}");
    drop(server); // SIGKILL

    // Restarted without the limit: every acknowledged batch comes back, nothing else.
    let server = Server::start(&["--model", SENSORS, "--checkpoint", checkpoint.to_str().expect("utf-8")]);
    let info = get(&client, &server.url("/v1/model"), None).json();
    assert_eq!(info["records_seen"].as_u64(), Some(3000 + learned), "{info}");
}

#[test]
fn sighup_rotates_the_tokens_and_keeps_them_when_the_new_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("hangup");
    let tokens = tokens_file(&dir, 0o600);
    let server = Server::start(&["--model", SENSORS, "--tokens", tokens.to_str().expect("utf-8")]);
    let client = agent();
    let model = server.url("/v1/model");
    let hangup = || {
        let sent = Command::new("kill").args(["-HUP", &server.child.id().to_string()]).status().expect("kill runs");
        assert!(sent.success());
    };
    // Wait for `token` to get `status` (the reload happens on the service's own time).
    let until = |token: &str, status: u16| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while get(&client, &model, Some(token)).status != status {
            assert!(Instant::now() < deadline, "{token} never got {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!(get(&client, &model, Some(READ)).status, 200);

    // Rotate: the read token is replaced by a new one.
    let fresh = "rotated-read-token-0123456789";
    std::fs::write(&tokens, format!("{fresh} read\n{LEARN} learn\n{ADMIN} admin\n")).expect("writes");
    hangup();
    until(fresh, 200);
    assert_eq!(get(&client, &model, Some(READ)).status, 401, "the old token no longer works");

    // A file others may read is refused at reload too; the tokens in use stay.
    std::fs::write(&tokens, format!("{READ} read\n")).expect("writes");
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    hangup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log.lock().expect("log").iter().any(|l| l.contains("keeping the tokens in use")) {
        assert!(Instant::now() < deadline, "the refused reload was not reported");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get(&client, &model, Some(fresh)).status, 200);
    assert_eq!(get(&client, &model, Some(READ)).status, 401);
}

#[test]
fn a_request_refused_before_its_body_is_read_leaves_the_connection_usable() {
    let server = Server::start(&["--model", SENSORS]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connects");
    let body = "x".repeat(1000);
    // A Content-Type eddy does not read (415, answered without reading the body: hyper
    // discards it), then a second request on the same connection.
    write!(
        stream,
        "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}\
         GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("writes");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 415"), "{reply}");
    assert!(reply.contains("HTTP/1.1 200") && reply.contains("\"status\":\"ok\""), "both answered: {reply}");
}

#[test]
fn a_sigterm_right_after_listening_still_stops_gracefully() {
    for _ in 0..5 {
        let server = Server::start(&["--model", SENSORS]);
        let (status, log) = server.stop();
        assert!(status.success(), "{status:?}: {log}");
        assert!(log.contains("stopping"), "{log}");
    }
}

#[test]
fn predict_and_learn_name_the_classes_of_a_model_with_named_classes() {
    let server = Server::start(&["--model", SENSORS]);
    let agent = agent();
    let names = ["ok", "warn", "fail"];
    let named = |labels: &[i64]| -> Value { json!(labels.iter().map(|&l| names[l as usize]).collect::<Vec<_>>()) };
    let a = json_post(&agent, &server.url("/v1/predict"), None, &rows_json(&rows()));
    assert_eq!(a.status, 200, "{}", a.text());
    let a = a.json();
    let labels = i64s(&a["labels"]);
    assert_eq!(a["class_names"], named(&labels), "{a}");
    let learned = json_post(
        &agent,
        &server.url("/v1/learn"),
        None,
        &json!({ "features": rows_json(&rows()), "labels": ["ok", "warn", "fail", "ok"] }),
    );
    assert_eq!(learned.status, 200, "{}", learned.text());
    let learned = learned.json();
    assert_eq!(learned["class_names"], named(&i64s(&learned["labels"])), "{learned}");

    // A clusterer's labels are cluster ids, not classes: no names.
    let server = Server::start(&["--model", BLOBS]);
    let x = array![[0.0, 1.0, 2.0, 3.0], [-5.0, 2.0, 8.0, 1.0]];
    let a = json_post(&agent, &server.url("/v1/predict"), None, &rows_json(&x)).json();
    assert!(a.get("class_names").is_none(), "{a}");
}

/// `eddy run`'s reason for the one record of `file` (its CSV header or NDJSON), or `None` when it is read.
fn source_reason(name: &str, content: &str, features: &[&str]) -> Option<String> {
    source_reason_with(name, content, features, &[], false)
}

/// [`source_reason`] of records with the categorical columns `categorical` (among the
/// `features`), missing values let through when `missing`.
fn source_reason_with(
    name: &str,
    content: &str,
    features: &[&str],
    categorical: &[&str],
    missing: bool,
) -> Option<String> {
    use eddy::source::{self, SourceError, SourceOptions};
    // A first record of numbers fixes the columns' kinds (text would make a column
    // categorical); the record under test comes second.
    let content = match content.split_once('\n') {
        Some((header, rest)) if name.ends_with(".csv") => {
            format!("{header}\n{}x\n{rest}", "0,".repeat(features.len()))
        }
        _ => {
            let zeros: Vec<String> = features.iter().map(|f| format!("\"{f}\": 0")).collect();
            format!("{{{}, \"label\": \"x\"}}\n{content}", zeros.join(", "))
        }
    };
    let content = content.as_str();
    let path = crate::pipeline::temp_file(name, content.as_bytes());
    let options = SourceOptions {
        features: Some(features.iter().map(|f| f.to_string()).collect()),
        label_column: Some("label".into()),
        categorical: categorical.iter().map(|c| c.to_string()).collect(),
        missing,
        ..SourceOptions::default()
    };
    let mut src = source::open(path.to_str().expect("utf-8"), options).expect("opens");
    let first = src.next_batch();
    let read = match first {
        Ok(Some(batch)) if batch.len() == 1 => src.next_batch(),
        other => other,
    };
    match read {
        Ok(Some(batch)) => {
            assert_eq!(batch.len(), 2, "{content}");
            None
        }
        Err(SourceError::Record { position, reason }) => {
            assert_eq!(position.line, content.lines().count() as u64, "{content}");
            let column = position.column.map(|(n, name)| format!("column {n} ({name}): ")).unwrap_or_default();
            Some(format!("{column}{reason}"))
        }
        other => panic!("{content}: {other:?}", other = other.map(|b| b.map(|b| b.ids))),
    }
}

/// `eddy serve`'s reason for the one record of `body`, with the record's position checked and dropped.
fn service_reason(format: eddy::server::body::Format, body: &str, features: &[&str], at: &str) -> Option<String> {
    service_reason_with(format, body, features, &[], false, at)
}

/// [`service_reason`] of a model with numeric `features` and `categorical` ones, which
/// fills missing values when `missing`.
fn service_reason_with(
    format: eddy::server::body::Format,
    body: &str,
    features: &[&str],
    categorical: &[&str],
    missing: bool,
    at: &str,
) -> Option<String> {
    use eddy::server::body::{decode, Shape};
    let features: Vec<String> = features.iter().map(|f| f.to_string()).collect();
    let categorical: Vec<String> = categorical.iter().map(|f| f.to_string()).collect();
    match decode(format, body.as_bytes(), &Shape::new(&features, 10).categorical(&categorical).missing(missing)) {
        Ok(records) => {
            assert_eq!(records.x.nrows(), 1, "{body}");
            assert_eq!(records.cats.names(), categorical, "{body}");
            assert_eq!(records.cats.rows(), usize::from(!categorical.is_empty()), "{body}");
            None
        }
        Err(e) => {
            let reason = e.message.strip_prefix(&format!("{at}: ")).unwrap_or_else(|| panic!("{body}: {}", e.message));
            Some(reason.to_string())
        }
    }
}

#[test]
fn a_bad_record_gets_the_same_reason_from_eddy_run_and_from_the_service() {
    use eddy::server::body::Format;
    let csv_lines = [
        ("1,oops,x", Some("column 2 (b): \"oops\" is not a number")),
        (" ,2,x", Some("column 1 (a): missing value (\"\"): the model fills none (add impute, e.g. `impute | ...`)")),
        ("1,\"2,5\",x", Some("column 2 (b): \"2,5\" is not a number")),
        (
            "1,NaN,x",
            Some("column 2 (b): missing value (\"NaN\"): the model fills none (add impute, e.g. `impute | ...`)"),
        ),
        ("1,true,x", None),
        ("1,-inf,x", Some("column 2 (b): -inf is not a finite number")),
        ("1,2", Some("expected 3 columns, found 2")),
        ("1,2,x,4", Some("expected 3 columns, found 4")),
        ("1,2,  ", Some("column 3 (label): empty label")),
        (" 1.5e3 ,\"-2\", x ", None),
    ];
    for (i, (line, reason)) in csv_lines.iter().enumerate() {
        let content = format!("a,b,label\n{line}\n");
        let run = source_reason(&format!("same-{i}.csv"), &content, &["a", "b"]);
        assert_eq!(run.as_deref(), *reason, "eddy run: {line}");
        let serve = service_reason(Format::Csv, &content, &["a", "b"], "record 0 (line 2)");
        assert_eq!(serve, run, "eddy serve: {line}");
    }

    let objects = [
        (r#"{"a": 1, "label": "x"}"#, Some("column 2 (b): missing")),
        (r#"{"a": "1", "b": 2, "label": "x"}"#, Some("column 1 (a): \"1\" is not a number")),
        (
            r#"{"a": 1, "b": null, "label": "x"}"#,
            Some("column 2 (b): missing value (null): the model fills none (add impute, e.g. `impute | ...`)"),
        ),
        (r#"{"a": 1, "b": true, "label": "x"}"#, None),
        (r#"{"a": 1, "b": [2], "label": "x"}"#, Some("column 2 (b): an array is not a number")),
        (r#"{"a": 1, "b": {"v": 2}, "label": "x"}"#, Some("column 2 (b): an object is not a number")),
        (r#"{"a": 1, "b": 2, "label": null}"#, Some("column 3 (label): null is not a label")),
        (r#"{"a": 1, "b": 2, "label": [1]}"#, Some("column 3 (label): an array is not a label")),
        (r#"{"a": 1, "b": 2, "label": ""}"#, Some("column 3 (label): empty label")),
        // Keys that are neither a feature nor the label are read and dropped.
        (r#"{"id": "r-7", "b": 2, "label": "x", "a": 1.5, "at": [1, {"q": null}]}"#, None),
    ];
    for (i, (object, reason)) in objects.iter().enumerate() {
        let run = source_reason(&format!("same-{i}.ndjson"), &format!("{object}\n"), &["a", "b"]);
        assert_eq!(run.as_deref(), *reason, "eddy run: {object}");
        let ndjson = service_reason(Format::Ndjson, &format!("{object}\n"), &["a", "b"], "record 0 (line 1)");
        assert_eq!(ndjson, run, "eddy serve, NDJSON: {object}");
        let json = service_reason(Format::Json, &format!("[{object}]"), &["a", "b"], "record 0");
        assert_eq!(json, run, "eddy serve, JSON: {object}");
    }

    // JSON that is not JSON: the same words for an NDJSON line (a JSON body is one document).
    for (i, line) in
        [r#"{"a": 1, "b": 2, "label": "x", "z": 1e400}"#, r#"{"a": 1, "b": 2, "label": "x""#].iter().enumerate()
    {
        let run = source_reason(&format!("broken-{i}.ndjson"), &format!("{line}\n"), &["a", "b"]).expect("refused");
        assert!(run.contains("(json): invalid JSON: "), "{run}");
        let serve = service_reason(Format::Ndjson, &format!("{line}\n"), &["a", "b"], "record 0 (line 1)");
        assert_eq!(serve, Some(run), "{line}");
    }

    // A categorical column (city) beside a numeric one: by a model that fills missing
    // values, and by one that does not.
    let missing_city = |how: &str| {
        format!("column 2 (city): missing value ({how}): the model fills none (add impute, e.g. `impute | ...`)")
    };
    let csv_lines = [
        ("1,paris,x", None, None),
        ("1, 75 ,x", None, None),
        ("true,\"rome, it\",x", None, None),
        ("1,,x", Some(missing_city("\"\"")), None),
        ("1,NA,x", Some(missing_city("\"NA\"")), None),
        (
            " ,paris,x",
            Some("column 1 (a): missing value (\"\"): the model fills none (add impute, e.g. `impute | ...`)".into()),
            None,
        ),
        (
            "oops,paris,x",
            Some("column 1 (a): \"oops\" is not a number".into()),
            Some("column 1 (a): \"oops\" is not a number".into()),
        ),
        ("1,paris", Some("expected 3 columns, found 2".into()), Some("expected 3 columns, found 2".into())),
    ];
    for (i, (line, strict, filled)) in csv_lines.iter().enumerate() {
        let content = format!("a,city,label\n{line}\n");
        for (missing, reason) in [(false, strict), (true, filled)] {
            let run =
                source_reason_with(&format!("cats-{i}-{missing}.csv"), &content, &["a", "city"], &["city"], missing);
            assert_eq!(&run, reason, "eddy run (missing {missing}): {line}");
            let serve = service_reason_with(Format::Csv, &content, &["a"], &["city"], missing, "record 0 (line 2)");
            assert_eq!(serve, run, "eddy serve (missing {missing}): {line}");
        }
    }
    let objects = [
        (r#"{"a": 1, "city": "paris", "label": "x"}"#, None, None),
        (r#"{"city": 75, "a": 1, "label": "x"}"#, None, None),
        (r#"{"a": 1, "city": null, "label": "x"}"#, Some(missing_city("null")), None),
        (r#"{"a": 1, "city": "NaN", "label": "x"}"#, Some(missing_city("\"NaN\"")), None),
        (r#"{"a": 1, "label": "x"}"#, Some("column 2 (city): missing".to_string()), None),
        (
            r#"{"a": null, "city": "rome", "label": "x"}"#,
            Some("column 1 (a): missing value (null): the model fills none (add impute, e.g. `impute | ...`)".into()),
            None,
        ),
        (
            r#"{"a": 1, "city": ["rome"], "label": "x"}"#,
            Some("column 2 (city): an array is not a category".into()),
            Some("column 2 (city): an array is not a category".into()),
        ),
    ];
    for (i, (object, strict, filled)) in objects.iter().enumerate() {
        for (missing, reason) in [(false, strict), (true, filled)] {
            let run = source_reason_with(
                &format!("cats-{i}-{missing}.ndjson"),
                &format!("{object}\n"),
                &["a", "city"],
                &["city"],
                missing,
            );
            assert_eq!(&run, reason, "eddy run (missing {missing}): {object}");
            let ndjson = service_reason_with(
                Format::Ndjson,
                &format!("{object}\n"),
                &["a"],
                &["city"],
                missing,
                "record 0 (line 1)",
            );
            assert_eq!(ndjson, run, "eddy serve, NDJSON (missing {missing}): {object}");
            let json =
                service_reason_with(Format::Json, &format!("[{object}]"), &["a"], &["city"], missing, "record 0");
            assert_eq!(json, run, "eddy serve, JSON (missing {missing}): {object}");
        }
    }
}

#[test]
fn objects_keyed_by_feature_names_predict_and_learn_as_arrays_do() {
    let server = Server::start(&["--model", SENSORS]);
    let agent = agent();
    let mut reference = load(SENSORS);
    let x = rows();
    let expected = classifier(&reference).predict(x.view()).expect("predicts").to_vec();
    let names = ["temperature", "vibration", "load", "error_rate"];
    // Another key order than the model's, and an extra key, which is dropped.
    let objects = |labels: Option<&[&str]>| {
        let records: Vec<Value> = x
            .outer_iter()
            .enumerate()
            .map(|(i, r)| {
                let mut o = serde_json::Map::new();
                o.insert("id".into(), json!(format!("r{i}")));
                for j in [3, 1, 0, 2] {
                    o.insert(names[j].into(), json!(r[j]));
                }
                if let Some(labels) = labels {
                    o.insert("label".into(), json!(labels[i]));
                }
                Value::Object(o)
            })
            .collect();
        Value::Array(records)
    };
    let arrays = json_post(&agent, &server.url("/v1/predict"), None, &rows_json(&x));
    assert_eq!((arrays.status, i64s(&arrays.json()["labels"])), (200, expected.clone()), "{}", arrays.text());
    for body in [objects(None), json!({ "features": objects(None) })] {
        let a = json_post(&agent, &server.url("/v1/predict"), None, &body);
        assert_eq!(a.status, 200, "{body}: {}", a.text());
        assert_eq!(a.json(), arrays.json(), "the same answer as for arrays: {body}");
    }

    // Learning: labels beside the objects, or in them, as the library learns.
    let ids = ndarray::arr1(&[0i64, 1, 2, 0]);
    let labels = ["ok", "warn", "fail", "ok"];
    let Model::Classifier(m) = &mut reference else { unreachable!("a classifier") };
    for body in [json!({ "features": objects(None), "labels": labels }), objects(Some(&labels))] {
        let want = m.learn_predict(x.view(), ids.view()).expect("learns").to_vec();
        let a = json_post(&agent, &server.url("/v1/learn"), None, &body);
        assert_eq!((a.status, i64s(&a.json()["labels"])), (200, want), "{body}: {}", a.text());
    }
    let a = json_post(&agent, &server.url("/v1/predict"), None, &objects(None));
    let want = classifier(&reference).predict(x.view()).expect("predicts").to_vec();
    assert_eq!(i64s(&a.json()["labels"]), want, "the model that learned predicts");

    // Refusals name the record and the column, as `eddy run` does.
    let mut missing = objects(None);
    missing[2].as_object_mut().expect("an object").remove("load");
    let mut half_labelled = objects(Some(&labels));
    half_labelled[1].as_object_mut().expect("an object").remove("label");
    let cases = [
        (missing, 400, "record 2: column 3 (load): missing".to_string()),
        (
            json!([{"temperature": 1, "vibration": 2, "load": "3", "error_rate": 4}]),
            400,
            "record 0: column 3 (load): \"3\" is not a number".into(),
        ),
        (json!([[1, 2, 3, 4], {"temperature": 1}]), 400, "record 1: column 2 (vibration): missing".into()),
        (half_labelled, 400, "record 1: either every record has a label or none has".into()),
        (json!({ "features": objects(Some(&labels)), "labels": labels }), 400, "give them one way".into()),
    ];
    for (body, status, message) in cases {
        let (got, error) = refused(json_post(&agent, &server.url("/v1/learn"), None, &body));
        assert_eq!(got, status, "{body}: {error}");
        assert!(error.contains(&message), "{body}: {error:?} should say {message:?}");
    }
}

/// `--drift`: the detector watches the served model's errors; a change in them is an
/// event in `GET /v1/events`, counted in `/v1/model` and `/metrics`, and the detector
/// and its events survive a restart from the checkpoint.
#[test]
fn a_drift_detector_watches_the_served_model() {
    let dir = temp_dir("drift");
    let checkpoint = dir.join("state.eddy");
    let args = ["--model", SENSORS, "--drift", "adwin", "--checkpoint", checkpoint.to_str().expect("utf-8")];
    let server = Server::start(&args);
    let agent = agent();
    let x = rows_json(&rows());
    let predicted = i64s(&json_post(&agent, &server.url("/v1/predict"), None, &x).json()["labels"]);
    // First the model's own labels (no error), then labels that change every batch,
    // which no model can follow (mostly errors).
    for phase in 0..2 {
        for k in 0..150 {
            let labels: Vec<i64> = predicted.iter().map(|l| (l + phase * (1 + k % 2)) % 3).collect();
            let a = json_post(&agent, &server.url("/v1/learn"), None, &json!({ "features": x, "labels": labels }));
            assert_eq!(a.status, 200, "{}", a.text());
        }
    }
    let events = get(&agent, &server.url("/v1/events"), None).json();
    assert_eq!(events["detector"], "adwin");
    let list = events["events"].as_array().expect("a list");
    let first = list.iter().find(|e| e["kind"] == "drift").expect("the change is found");
    let at = first["record"].as_u64().expect("a record");
    assert!((3000 + 600..3000 + 1000).contains(&at), "the errors start at record 3600; found at {at}");
    let info = get(&agent, &server.url("/v1/model"), None).json();
    assert_eq!(info["drift"]["drifts"].as_u64(), Some(list.iter().filter(|e| e["kind"] == "drift").count() as u64));
    let metrics = get(&agent, &server.url("/metrics"), None).text();
    assert!(metrics.contains("eddy_drift_events_total{kind=\"drift\"}"), "{metrics}");
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    // Restarted from its checkpoint: the same detector state and events.
    let again = Server::start(&args);
    let after = get(&agent, &again.url("/v1/events"), None).json();
    assert_eq!(after["events"], events["events"]);
    assert_eq!(get(&agent, &again.url("/v1/model"), None).json()["drift"], info["drift"]);
}

/// `--cluster-events` on a served k-means: a blob that stops is a `vanished` event in
/// `GET /v1/events`, counted in `/v1/model` and `/metrics`, kept over a restart.
#[test]
fn served_clusters_are_watched() {
    let dir = temp_dir("cluster-events");
    let model = untrained(&dir, "minibatch-kmeans(n_clusters=4, decay_factor=0.5)", "a,b,c,d,e,f,g,h");
    let checkpoint = dir.join("state.eddy");
    std::fs::copy(&model, &checkpoint).expect("copy");
    let args = [
        "--model",
        checkpoint.to_str().expect("utf-8"),
        "--cluster-events=clusters(window=5000)",
        "--checkpoint",
        checkpoint.to_str().expect("utf-8"),
    ];
    let server = Server::start(&args);
    let agent = agent();
    let mut blobs = eddy::source::synth::Blobs::new(4, 8, 0).cluster_std(0.5).vanish_at(15_000);
    for _ in 0..30 {
        let (x, _) = blobs.next_batch(1000);
        let a = json_post(&agent, &server.url("/v1/learn"), None, &json!({ "features": rows_json(&x) }));
        assert_eq!(a.status, 200, "{}", a.text());
    }
    let events = get(&agent, &server.url("/v1/events"), None).json();
    let list = events["events"].as_array().expect("a list");
    let vanished = list.iter().find(|e| e["kind"] == "vanished").expect("blob 1's cluster vanishes");
    assert_eq!(vanished["watched"], "clusters");
    assert!((15_000..25_000).contains(&vanished["record"].as_u64().expect("a record")), "{vanished}");
    let info = get(&agent, &server.url("/v1/model"), None).json();
    assert_eq!(info["drift"]["clusters"], "clusters(window=5000)");
    assert_eq!(
        info["drift"]["cluster_events"]["vanished"].as_u64(),
        Some(list.iter().filter(|e| e["kind"] == "vanished").count() as u64)
    );
    assert!(info["drift"].get("detector").is_none(), "{info}");
    let metrics = get(&agent, &server.url("/metrics"), None).text();
    assert!(metrics.contains("eddy_drift_events_total{kind=\"vanished\"}"), "{metrics}");
    let saved = post(&agent, &server.url("/v1/checkpoint"), None, "application/json", b"{}");
    assert_eq!(saved.status, 200, "{}", saved.text());
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    let again = Server::start(&args);
    assert_eq!(get(&agent, &again.url("/v1/events"), None).json()["events"], events["events"]);
}

/// A service restarted from a checkpoint saved without `--drift`, now with it, watches:
/// the scores saved without a detector do not take the new one away.
#[test]
fn a_detector_added_at_restart_watches() {
    let dir = temp_dir("drift-added");
    let checkpoint = dir.join("state.eddy");
    std::fs::copy(SENSORS, &checkpoint).expect("copy");
    let path = checkpoint.to_str().expect("utf-8");
    let server = Server::start(&["--model", path, "--checkpoint", path]);
    let agent = agent();
    let x = rows_json(&rows());
    let labels: Vec<i64> = vec![0; rows().nrows()];
    let a = json_post(&agent, &server.url("/v1/learn"), None, &json!({ "features": x, "labels": labels }));
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(post(&agent, &server.url("/v1/checkpoint"), None, "application/json", b"").status, 200);
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    let again = Server::start(&["--model", path, "--checkpoint", path, "--drift", "adwin"]);
    let info = get(&agent, &again.url("/v1/model"), None).json();
    assert_eq!(info["drift"]["detector"], "adwin", "{info}");
    let (status, log) = again.stop();
    assert!(status.success(), "{log}");
    assert!(log.contains("scores of the checkpoint taken up"), "the scores were taken up: {log}");
}
