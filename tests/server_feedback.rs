//! `eddy serve` with delayed labels (issue #13): records predicted with ids wait for
//! their labels, `POST /v1/feedback` learns them; on a loopback port, as a user calls it.

use crate::server::{
    agent, get, i64s, json_post, post, refused, rows, rows_json, temp_dir, tokens_file, Server, BLOBS, LEARN, READ,
    SENSORS,
};
use serde_json::{json, Value};

/// The `pending` object of `/v1/model`.
fn pending(server: &Server) -> Value {
    get(&agent(), &server.url("/v1/model"), None).json()["pending"].clone()
}

fn records_seen(server: &Server) -> u64 {
    get(&agent(), &server.url("/v1/model"), None).json()["records_seen"].as_u64().expect("a count")
}

/// Each id's outcome, in order.
fn outcomes(answer: &Value) -> Vec<(String, String)> {
    let list = answer["outcomes"].as_array().unwrap_or_else(|| panic!("outcomes: {answer}"));
    list.iter()
        .map(|o| (o["id"].as_str().expect("an id").to_string(), o["outcome"].as_str().expect("an outcome").to_string()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn feedback_learns_the_waiting_records_exactly_as_learn_would() {
    let delayed = Server::start(&["--model", SENSORS]);
    let direct = Server::start(&["--model", SENSORS]);
    let agent = agent();
    let x = rows_json(&rows());
    // With ids the answer is the one without: the same labels and probabilities.
    let plain = json_post(&agent, &delayed.url("/v1/predict"), None, &x).json();
    let with_ids =
        json_post(&agent, &delayed.url("/v1/predict"), None, &json!({ "ids": ["a", "b", 3, "d"], "features": x }));
    assert_eq!(with_ids.status, 200, "{}", with_ids.text());
    assert_eq!(with_ids.json(), plain);
    let waiting = pending(&delayed);
    assert_eq!((waiting["pending"].as_u64(), waiting["inserted"].as_u64()), (Some(4), Some(4)));
    assert_eq!(records_seen(&delayed), 3000, "nothing learned before the labels come");

    // Labels in another order than the records came: they are learned in the labels' order.
    let labels = json!(["ok", "warn", "fail", "ok"]);
    let a =
        json_post(&agent, &delayed.url("/v1/feedback"), None, &json!({ "ids": ["d", "a", "b", 3], "labels": labels }));
    assert_eq!(a.status, 200, "{}", a.text());
    let a = a.json();
    assert_eq!(outcomes(&a), pairs(&[("d", "learned"), ("a", "learned"), ("b", "learned"), ("3", "learned")]));
    assert_eq!((a["learned"].as_u64(), a["expired"].as_u64(), a["unknown"].as_u64()), (Some(4), Some(0), Some(0)));
    assert_eq!(a["records_seen"].as_u64(), Some(3004));

    // The same records, in the same order, through /v1/learn.
    let r = rows();
    let reordered = rows_json(&ndarray::stack![ndarray::Axis(0), r.row(3), r.row(0), r.row(1), r.row(2)]);
    let b = json_post(&agent, &direct.url("/v1/learn"), None, &json!({ "features": reordered, "labels": labels }));
    assert_eq!((b.status, b.json()["records_seen"].as_u64()), (200, Some(3004)));
    let probe = json!([[21.0, 0.2, 0.4, 0.01], [50.0, 1.0, 0.7, 0.1], [95.0, 3.0, 0.95, 0.7], [0.0, 0.0, 0.0, 0.0]]);
    let after_delayed = json_post(&agent, &delayed.url("/v1/predict"), None, &probe).json();
    let after_direct = json_post(&agent, &direct.url("/v1/predict"), None, &probe).json();
    assert_eq!(after_delayed, after_direct, "the models are the same, to the last bit of their probabilities");
    assert_ne!(
        after_delayed,
        json_post(&agent, &Server::start(&["--model", SENSORS]).url("/v1/predict"), None, &probe).json()
    );
    let (info_delayed, info_direct) =
        (get(&agent, &delayed.url("/v1/model"), None).json(), get(&agent, &direct.url("/v1/model"), None).json());
    assert_eq!(info_delayed["metrics"], info_direct["metrics"], "the same prequential scores of the learn step");

    // The delayed accuracy scores the predictions made when the records came.
    let predicted = i64s(&plain["labels"]);
    let truth = [1, 2, 0, 0]; // a: warn, b: fail, 3: ok, d: ok
    let correct = predicted.iter().zip(truth).filter(|(p, t)| **p == *t).count() as u64;
    let p = pending(&delayed);
    assert_eq!(
        (p["pending"].as_u64(), p["learned"].as_u64(), p["correct"].as_u64()),
        (Some(0), Some(4), Some(correct))
    );
    assert_eq!(p["accuracy"].as_f64(), Some(correct as f64 / 4.0));
    // a, b, 3, d came as records 1 to 4 and their labels at record 4: delays 3, 2, 1, 0.
    let delay = &p["delay"];
    assert_eq!((delay["count"].as_u64(), delay["exact"].as_bool()), (Some(4), Some(true)));
    assert_eq!(delay["records"], json!({ "median": 1, "p99": 3, "max": 3 }));
    let seconds = delay["seconds"]["p99"].as_f64().expect("seconds");
    assert!((0.0..60.0).contains(&seconds), "{delay}");
    assert_eq!((p["label_ttl"].clone(), p["max_pending"].as_u64()), (Value::Null, Some(100_000)));

    let text = get(&agent, &delayed.url("/metrics"), None).text();
    for line in [
        "eddy_pending_records 0\n",
        "eddy_pending_max_records 100000\n",
        "eddy_pending_outcomes{outcome=\"learned\"} 4\n",
        "eddy_pending_outcomes{outcome=\"unknown\"} 0\n",
        "eddy_label_delay_records{quantile=\"0.5\"} 1\n",
        "eddy_label_delay_records{quantile=\"0.99\"} 3\n",
        "eddy_records_learned_total 4\n",
        "eddy_http_requests_total{route=\"feedback\",status=\"200\"} 1\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    assert!(text.contains(&format!("eddy_model_delayed_accuracy {}", correct as f64 / 4.0)), "{text}");

    // A second label for a learned record: it is over.
    let a = json_post(&agent, &delayed.url("/v1/feedback"), None, &json!({ "ids": ["a"], "labels": ["ok"] })).json();
    assert_eq!((outcomes(&a), a["records_seen"].as_u64()), (pairs(&[("a", "unknown")]), Some(3004)));
}

#[test]
fn unknown_and_expired_ids_are_answered_and_counted() {
    let agent = agent();
    let x = rows();
    let some = |from: usize, to: usize| rows_json(&x.slice(ndarray::s![from..to, ..]).to_owned());

    // A full store: the oldest record makes room.
    let full = Server::start(&["--model", SENSORS, "--max-pending", "2"]);
    for (ids, features) in [(json!(["a", "b"]), some(0, 2)), (json!(["c"]), some(2, 3))] {
        let a = json_post(&agent, &full.url("/v1/predict"), None, &json!({ "ids": ids, "features": features }));
        assert_eq!(a.status, 200, "{}", a.text());
    }
    let p = pending(&full);
    assert_eq!(
        (p["pending"].as_u64(), p["expired_capacity"].as_u64(), p["expired_ttl"].as_u64()),
        (Some(2), Some(1), Some(0))
    );
    let a = json_post(
        &agent,
        &full.url("/v1/feedback"),
        None,
        &json!({ "ids": ["a", "b", "zz"], "labels": ["ok", "ok", "ok"] }),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let a = a.json();
    assert_eq!(outcomes(&a), pairs(&[("a", "expired"), ("b", "learned"), ("zz", "unknown")]));
    assert_eq!((a["learned"].as_u64(), a["expired"].as_u64(), a["unknown"].as_u64()), (Some(1), Some(1), Some(1)));
    assert_eq!(a["records_seen"].as_u64(), Some(3001), "only b was learned");
    let p = pending(&full);
    let counts: Vec<Option<u64>> =
        ["pending", "learned", "expired", "late", "unknown"].iter().map(|k| p[*k].as_u64()).collect();
    assert_eq!(counts, [Some(1), Some(1), Some(1), Some(1), Some(1)]);
    let text = get(&agent, &full.url("/metrics"), None).text();
    assert!(text.contains("eddy_pending_outcomes{outcome=\"expired_capacity\"} 1\n"), "{text}");
    assert!(text.contains("eddy_pending_outcomes{outcome=\"late\"} 1\n"), "{text}");

    // A TTL of 2 records: a label may come until 2 more records were predicted with ids.
    let ttl = Server::start(&["--model", SENSORS, "--label-ttl", "2"]);
    for (ids, features) in [(json!(["a"]), some(0, 1)), (json!(["b", "c", "d"]), some(1, 4))] {
        let a = json_post(&agent, &ttl.url("/v1/predict"), None, &json!({ "ids": ids, "features": features }));
        assert_eq!(a.status, 200, "{}", a.text());
    }
    // a came as record 1, the labels come at record 4: too late for a, in time for d.
    let a = json_post(&agent, &ttl.url("/v1/feedback"), None, &json!({ "ids": ["a", "d"], "labels": ["ok", "fail"] }))
        .json();
    assert_eq!(outcomes(&a), pairs(&[("a", "expired"), ("d", "learned")]));
    let a = json_post(&agent, &ttl.url("/v1/feedback"), None, &json!({ "ids": ["a"], "labels": ["ok"] })).json();
    assert_eq!(outcomes(&a), pairs(&[("a", "expired")]), "a late label stays late");
    // An id that expired may come again: a new record.
    let again = json_post(&agent, &ttl.url("/v1/predict"), None, &json!({ "ids": ["a"], "features": some(0, 1) }));
    assert_eq!(again.status, 200, "{}", again.text());
    let p = pending(&ttl);
    assert_eq!(p["label_ttl"], json!({ "records": 2 }));
    let counts: Vec<Option<u64>> = ["pending", "inserted", "learned", "expired_ttl", "expired_capacity", "late"]
        .iter()
        .map(|k| p[*k].as_u64())
        .collect();
    assert_eq!(counts, [Some(3), Some(5), Some(1), Some(1), Some(0), Some(2)]);

    let seconds = Server::start(&["--model", SENSORS, "--label-ttl", "90s", "--max-pending", "7"]);
    let p = pending(&seconds);
    assert_eq!((p["label_ttl"].clone(), p["max_pending"].as_u64()), (json!({ "seconds": 90.0 }), Some(7)));
}

#[test]
fn waiting_records_survive_a_restart_with_checkpoint() {
    let dir = temp_dir("feedback-restart");
    let checkpoint = dir.join("state.eddy");
    let cp = checkpoint.to_str().expect("utf-8");
    let args = ["--model", SENSORS, "--checkpoint", cp, "--max-pending", "10", "--label-ttl", "100"];
    let agent = agent();
    let x = rows_json(&rows());
    let server = Server::start(&args);
    let a = json_post(&agent, &server.url("/v1/predict"), None, &json!({ "ids": ["a", "b", "c", "d"], "features": x }));
    assert_eq!(a.status, 200, "{}", a.text());
    let a = json_post(&agent, &server.url("/v1/feedback"), None, &json!({ "ids": ["c"], "labels": ["fail"] })).json();
    assert_eq!(outcomes(&a), pairs(&[("c", "learned")]));
    let before = pending(&server);
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    assert!(checkpoint.with_file_name("state.eddy.pending").exists());

    let server = Server::start(&args);
    let log = server.log.lock().expect("log").join("\n");
    assert!(log.contains("records waiting for their labels, taken up: 3"), "{log}");
    assert_eq!(pending(&server), before, "the counts, scores and delays go on from where they were");
    assert_eq!(records_seen(&server), 3001);
    // A record still waiting is refused again, and feedback learns the waiting ones.
    let dup = json_post(&agent, &server.url("/v1/predict"), None, &json!({ "ids": ["b"], "features": [[1, 2, 3, 4]] }));
    assert_eq!(refused(dup).0, 409);
    let a = json_post(
        &agent,
        &server.url("/v1/feedback"),
        None,
        &json!({ "ids": ["a", "b", "c"], "labels": ["ok", "warn", "ok"] }),
    );
    let a = a.json();
    assert_eq!(outcomes(&a), pairs(&[("a", "learned"), ("b", "learned"), ("c", "unknown")]));
    assert_eq!(a["records_seen"].as_u64(), Some(3003));
    // The model is the one that learned c, then a and b, through /v1/learn.
    let direct = Server::start(&["--model", SENSORS]);
    let r = rows();
    for (features, labels) in [
        (rows_json(&r.slice(ndarray::s![2..3, ..]).to_owned()), json!(["fail"])),
        (rows_json(&r.slice(ndarray::s![0..2, ..]).to_owned()), json!(["ok", "warn"])),
    ] {
        let a = json_post(&agent, &direct.url("/v1/learn"), None, &json!({ "features": features, "labels": labels }));
        assert_eq!(a.status, 200, "{}", a.text());
    }
    assert_eq!(
        json_post(&agent, &server.url("/v1/predict"), None, &x).json(),
        json_post(&agent, &direct.url("/v1/predict"), None, &x).json()
    );
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");

    // Other settings would answer otherwise: refused at start, with what to do.
    let other = ["--model", SENSORS, "--checkpoint", cp, "--max-pending", "11", "--label-ttl", "100"];
    let e = Server::try_start(&other).err().expect("refused");
    assert!(e.contains("is not this run's") && e.contains("--max-pending") && e.contains("state.eddy.pending"), "{e}");
    let server = Server::start(&args);
    assert_eq!(pending(&server)["pending"].as_u64(), Some(1), "d waits still");
}

#[test]
fn bad_bodies_are_refused_with_their_reason_and_change_nothing() {
    let server = Server::start(&["--model", SENSORS, "--max-records", "10"]);
    let agent = agent();
    let (predict, feedback) = (server.url("/v1/predict"), server.url("/v1/feedback"));
    let x = rows_json(&rows());
    let a = json_post(&agent, &predict, None, &json!({ "ids": ["a", "b", "c", "e"], "features": x }));
    assert_eq!(a.status, 200, "{}", a.text());
    let before = pending(&server);
    let long = "x".repeat(1025);
    let predicts = [
        (json!({ "ids": ["x", "y", "z"], "features": x }), 422, "4 records but 3 ids".to_string()),
        (json!({ "ids": ["x", "", "z", "w"], "features": x }), 422, "id 1 (record 1): an empty id".into()),
        (json!({ "ids": ["x", "y", long, "w"], "features": x }), 422, "id 2 (record 2): an id of 1025 bytes".into()),
        (json!({ "ids": ["x", "y", "x", "w"], "features": x }), 422, "record 2: id \"x\" is record 0's too".into()),
        (json!({ "ids": ["x", "b", "z", "w"], "features": x }), 409, "record 1: id \"b\" is already waiting".into()),
        (json!({ "ids": ["x", 1.5, "z", "w"], "features": x }), 400, "id 1: invalid type: floating point".into()),
        (json!({ "ids": ["x", null, "z", "w"], "features": x }), 400, "id 1: invalid type: null".into()),
    ];
    for (body, status, reason) in predicts {
        let (got, message) = refused(json_post(&agent, &predict, None, &body));
        assert!(got == status && message.starts_with(&reason), "{body}: {got} {message}");
    }
    let (status, message) = refused(json_post(
        &agent,
        &server.url("/v1/learn"),
        None,
        &json!({ "ids": ["q", "r", "s", "t"], "features": x, "labels": [0, 0, 0, 0] }),
    ));
    assert!(status == 400 && message.contains("\"ids\" are for POST /v1/predict"), "{message}");
    let clusterer = Server::start(&["--model", BLOBS]);
    let (status, message) = refused(json_post(
        &agent,
        &clusterer.url("/v1/predict"),
        None,
        &json!({ "ids": ["k"], "features": [[0, 1, 2, 3]] }),
    ));
    assert!(status == 422 && message.contains("a clusterer learns without labels"), "{message}");

    let feedbacks: [(&str, &[u8], u16, &str); 8] = [
        ("application/json", b"ids=a&labels=ok", 400, "malformed JSON"),
        ("text/csv", b"a,ok\n", 415, "a feedback body is JSON"),
        ("application/json", br#"{"ids": ["a", "b"], "labels": ["ok"]}"#, 422, "2 ids but 1 labels"),
        ("application/json", br#"{"ids": ["a"], "labels": [true]}"#, 400, "malformed JSON"),
        ("application/json", br#"{"ids": ["a"]}"#, 400, "malformed JSON: missing field `labels`"),
        ("application/json", br#"{"ids": ["a", "b"], "labels": ["ok", -1]}"#, 422, "record 1: "),
        (
            "application/json",
            br#"{"ids": ["a", "b", "c", "e", "f", "g", "h", "i", "j", "k", "l"], "labels": []}"#,
            413,
            "11 records or more",
        ),
        ("application/json", b"", 400, "the body is empty"),
    ];
    for (content_type, body, status, reason) in feedbacks {
        let (got, message) = refused(post(&agent, &feedback, None, content_type, body));
        assert!(got == status && message.contains(reason), "{}: {got} {message}", String::from_utf8_lossy(body));
    }
    // A class name too long, for a waiting record: refused before anything is learned.
    let name = "n".repeat(300);
    let (status, message) =
        refused(json_post(&agent, &feedback, None, &json!({ "ids": ["a", "b"], "labels": ["ok", name] })));
    assert!(status == 422 && message.contains("longer than 256 characters"), "{message}");

    let after = pending(&server);
    assert_eq!(after["duplicates"].as_u64(), Some(1), "the one refused for a waiting id is counted");
    let mut unchanged = after.clone();
    unchanged["duplicates"] = before["duplicates"].clone();
    assert_eq!(unchanged, before, "nothing else changed");
    assert_eq!(records_seen(&server), 3000);
    // And the records are still there to learn.
    let a = json_post(&agent, &feedback, None, &json!({ "ids": ["a", "b"], "labels": ["ok", "warn"] })).json();
    assert_eq!((outcomes(&a), a["records_seen"].as_u64()), (pairs(&[("a", "learned"), ("b", "learned")]), Some(3002)));
}

#[test]
fn a_read_token_may_predict_with_ids_but_not_give_labels() {
    let dir = temp_dir("feedback-roles");
    let tokens = tokens_file(&dir, 0o600);
    let server = Server::start(&["--model", SENSORS, "--tokens", tokens.to_str().expect("utf-8")]);
    let agent = agent();
    let body = json!({ "ids": ["r1"], "features": [[21.0, 0.2, 0.4, 0.01]] });
    assert_eq!(json_post(&agent, &server.url("/v1/predict"), Some(READ), &body).status, 200);
    let labels = json!({ "ids": ["r1"], "labels": ["ok"] });
    assert_eq!(refused(json_post(&agent, &server.url("/v1/feedback"), None, &labels)).0, 401);
    let (status, message) = refused(json_post(&agent, &server.url("/v1/feedback"), Some(READ), &labels));
    assert!(status == 403 && message.contains("Learn"), "{message}");
    let p = get(&agent, &server.url("/v1/model"), Some(READ)).json()["pending"].clone();
    assert_eq!((p["pending"].as_u64(), p["learned"].as_u64()), (Some(1), Some(0)), "the refusals changed nothing");
    let a = json_post(&agent, &server.url("/v1/feedback"), Some(LEARN), &labels).json();
    assert_eq!((outcomes(&a), a["records_seen"].as_u64()), (pairs(&[("r1", "learned")]), Some(3001)));
}

#[test]
fn nonsense_settings_are_refused_at_start() {
    for (flags, reason) in [
        (["--max-pending", "0"], "--max-pending must be from 1 to"),
        (["--max-pending", "many"], "invalid value 'many' for '--max-pending <N>'"),
        (["--label-ttl", "0"], "--label-ttl \"0\": must be more than 0"),
        (["--label-ttl", "soon"], "expected a number of records (50000) or of seconds (3600s"),
        (["--label-ttl", "5m"], "expected a number of records"),
        (["--label-ttl", "-1s"], "must be more than 0"),
        (["--label-ttl", "0.0001s"], "seconds must be from 0.001 to a year"),
    ] {
        let mut args = vec!["--model", SENSORS];
        args.extend(flags);
        let e = Server::try_start(&args).err().unwrap_or_else(|| panic!("{flags:?} was taken"));
        assert!(e.contains(reason), "{flags:?}: {e}");
    }
}
