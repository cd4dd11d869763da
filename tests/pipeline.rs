//! The pipeline through the library: threads against the one-thread oracle, and the sources.

use eddy::model::registry::{build_text, Context};
use eddy::pipeline::{self, Metrics, ModelStage, PipelineOptions, Prequential};
use eddy::sink::MemorySink;
use eddy::source::{self, OnError, SourceError, SourceOptions};
use eddy::spec::Value;
use std::io::Write;
use std::path::PathBuf;

pub fn temp_file(name: &str, content: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write");
    path
}

fn stages(specs: &[&str], classes: Option<Vec<i64>>) -> (Vec<ModelStage>, Vec<MemorySink>) {
    let mut sinks = Vec::new();
    let stages = specs
        .iter()
        .map(|&spec| {
            let sink = MemorySink::default();
            sinks.push(sink.clone());
            let inherited = vec![("n_clusters", Value::Int(4)), ("batch_size", Value::Int(100))];
            let (_, model) = build_text(spec, &Context { inherited, classes: classes.clone() }).expect("valid");
            ModelStage {
                events: None,
                replica: None,
                name: model.estimator().into(),
                model,
                sink: Box::new(sink),
                labels_path: String::new(),
            }
        })
        .collect();
    (stages, sinks)
}

fn labels(sinks: &[MemorySink]) -> Vec<Vec<(u64, i64)>> {
    sinks.iter().map(|s| s.labels.lock().expect("not poisoned").clone()).collect()
}

/// Threads and the inline oracle give the same labels and the same scores.
#[test]
fn threads_match_the_inline_oracle() {
    let kinds = ["minibatch-kmeans", "gaussian-nb", "sgd"];
    for prequential in [Prequential::PerRow, Prequential::PerBatch] {
        let options = PipelineOptions { prequential, channel_capacity: 1, ..PipelineOptions::default() };
        let open = || {
            let o = SourceOptions { batch_size: 100, ..SourceOptions::default() };
            source::open("synth:blobs?n=5000&d=4&k=4&seed=3&drift=0.01", o).expect("valid spec")
        };
        let (s1, sinks1) = stages(&kinds, None);
        let threaded = pipeline::run(open(), s1, &options).expect("runs").summary;
        let (s2, sinks2) = stages(&kinds, None);
        let inline = pipeline::run_inline(open(), s2, &options).expect("runs").summary;
        assert_eq!(labels(&sinks1), labels(&sinks2));
        assert_eq!(threaded.models, inline.models);
        assert_eq!(threaded.records, 5000);
        let all = labels(&sinks1);
        assert!(all.iter().all(|l| l.len() == 5000 && l.iter().enumerate().all(|(i, (id, _))| *id == i as u64)));
    }
}

#[test]
fn per_batch_prequential_labels_the_first_batch_with_no_prediction() {
    let options = PipelineOptions { prequential: Prequential::PerBatch, ..PipelineOptions::default() };
    let o = SourceOptions { batch_size: 50, ..SourceOptions::default() };
    let src = source::open("synth:blobs?n=200&d=2&k=2&seed=1", o).expect("valid");
    let (s, sinks) = stages(&["perceptron"], None);
    pipeline::run(src, s, &options).expect("runs");
    let l = &labels(&sinks)[0];
    assert!(l[..50].iter().all(|&(_, label)| label == eddy::NO_PREDICTION));
    assert!(l[50..].iter().all(|&(_, label)| label == 0 || label == 1));
}

#[test]
fn kmeans_holds_small_first_batches_until_it_can_start() {
    // Batches of 3 rows, 4 centres: the first batch is held, then learned with the second.
    let o = SourceOptions { batch_size: 3, ..SourceOptions::default() };
    let src = source::open("synth:blobs?n=9&d=2&k=2&seed=1", o).expect("valid");
    let (s, sinks) = stages(&["minibatch-kmeans"], None);
    let outcome = pipeline::run(src, s, &PipelineOptions::default()).expect("runs");
    assert_eq!(outcome.summary.records, 9);
    let ids: Vec<u64> = labels(&sinks)[0].iter().map(|p| p.0).collect();
    assert_eq!(ids, (0..9).collect::<Vec<u64>>(), "every record labelled once, in order");

    // A stream that ends before there are 4 rows is an error naming the model and the records.
    let o = SourceOptions { batch_size: 3, ..SourceOptions::default() };
    let src = source::open("synth:blobs?n=3&d=2&k=2&seed=1", o).expect("valid");
    let (s, _) = stages(&["minibatch-kmeans"], None);
    let err = pipeline::run(src, s, &PipelineOptions::default()).expect_err("3 rows for 4 centres");
    let text = format!("{err}: {}", std::error::Error::source(&err).map(|e| e.to_string()).unwrap_or_default());
    assert!(text.contains("minibatch-kmeans: records 0..=2") && text.contains("needs at least 4"), "{text}");
}

#[test]
fn csv_columns_labels_and_positions() {
    let csv = b"ID,a,name,b,class\n7,1.0,x,2.0,cat\n8,2.0,y,1.0,dog\n\n9,3.0,z,0.5,cat\n";
    let path = temp_file("cols.csv", csv);
    let o = SourceOptions { label_column: Some("class".into()), ..SourceOptions::default() };
    let mut src = source::open(path.to_str().expect("utf8"), o).expect("opens");
    assert_eq!(src.feature_names(), ["a", "b"], "numeric columns except the label and the id");
    let batch = src.next_batch().expect("ok").expect("a batch");
    assert_eq!(batch.ids, vec![0, 1, 2], "the blank line is not a record");
    assert_eq!(batch.y, Some(vec![0, 1, 0]), "names get ids in order of appearance");
    assert_eq!(batch.x.row(2).to_vec(), vec![3.0, 0.5]);
    assert_eq!(src.label_map().expect("labels").names(), ["cat", "dog"]);
    assert!(src.next_batch().expect("ok").is_none());

    let bad = temp_file("bad.csv", b"a,b\n1,2\n3,oops\n5,6\n");
    let mut src = source::open(bad.to_str().expect("utf8"), SourceOptions::default()).expect("opens");
    let first = src.next_batch().expect("rows before the bad one").expect("a batch");
    assert_eq!(first.ids, vec![0], "records before the bad one still come out");
    match src.next_batch() {
        Err(SourceError::Record { position, reason }) => {
            assert_eq!(position.line, 3);
            assert_eq!(position.column, Some((2, "b".to_string())));
            assert!(position.to_string().ends_with("bad.csv:3: column 2 (b)"), "{position}");
            assert!(reason.contains("oops"), "{reason}");
        }
        other => panic!("expected a record error, got {other:?}", other = other.map(|b| b.map(|b| b.ids))),
    }
}

/// A followed file whose writer has written half a line: the records before it come
/// out, and the position after them stops at that line's start, so that a checkpoint
/// taken there resumes with the whole line rather than the rest of it.
#[test]
fn a_half_written_line_is_not_in_the_position() {
    let path = temp_file("half.csv", b"a,y\n1,x\n2,x\n3,");
    let o = SourceOptions { label_column: Some("y".into()), follow: true, threads: 1, ..SourceOptions::default() };
    let mut src = source::open(path.to_str().expect("utf8"), o).expect("opens");
    let batch = src.next_batch().expect("ok").expect("the whole lines");
    assert_eq!(batch.ids, vec![0, 1]);
    assert_eq!(batch.end_offset, 12, "after \"2,x\\n\", not after \"3,\"");
    let position = src.position();
    assert_eq!((position.offset, position.line), (12, 3));
    let mut whole = crc32fast::Hasher::new();
    whole.update(b"a,y\n1,x\n2,x\n");
    assert_eq!(position.checksum, Some(whole.finalize()), "the checksum of the bytes before the position");
}

#[test]
fn gzip_ndjson_and_npy_sources() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"x,y\n1,2\n3,4\n").expect("write");
    let path = temp_file("data.csv.gz", &gz.finish().expect("gzip"));
    let mut src = source::open(path.to_str().expect("utf8"), SourceOptions::default()).expect("opens");
    assert_eq!(src.next_batch().expect("ok").expect("batch").x.row(1).to_vec(), vec![3.0, 4.0]);

    let nd =
        temp_file("data.ndjson", b"{\"f\": 1.5, \"g\": 2, \"label\": \"a\"}\n{\"f\": 2.5, \"g\": 3, \"label\": 7}\n");
    let o = SourceOptions { label_column: Some("label".into()), ..SourceOptions::default() };
    let mut src = source::open(nd.to_str().expect("utf8"), o).expect("opens");
    assert_eq!(src.feature_names(), ["f", "g"]);
    let b = src.next_batch().expect("ok").expect("batch");
    assert_eq!(b.y, Some(vec![0, 1]));
    assert_eq!(src.label_map().expect("labels").names(), ["a", "7"]);

    let x = ndarray::array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
    let y = ndarray::array![4i64, 5, 4];
    let xp = temp_file("x.npy", b"");
    let yp = temp_file("y.npy", b"");
    ndarray_npy::write_npy(&xp, &x).expect("write");
    ndarray_npy::write_npy(&yp, &y).expect("write");
    let o = SourceOptions { labels_from: Some(yp.clone()), batch_size: 2, ..SourceOptions::default() };
    let mut src = source::open(xp.to_str().expect("utf8"), o).expect("opens");
    let b1 = src.next_batch().expect("ok").expect("batch");
    let b2 = src.next_batch().expect("ok").expect("batch");
    assert_eq!((b1.len(), b2.len()), (2, 1));
    assert_eq!(b2.y, Some(vec![4]));
    let wrong = temp_file("y3.npy", b"");
    ndarray_npy::write_npy(&wrong, &ndarray::array![1i64, 2]).expect("write");
    let o = SourceOptions { labels_from: Some(wrong), ..SourceOptions::default() };
    assert!(matches!(source::open(xp.to_str().expect("utf8"), o), Err(SourceError::Schema { .. })));
}

#[test]
fn skip_mode_counts_and_writes_every_rejected_record() {
    let long = "9".repeat(200);
    let csv = format!("a,b,label\n1,2,x\n1,nan,x\n1,2\n1,inf,x\n{long},1,x\n1,2,zzz\n3,4,y\n");
    let path = temp_file("skip.csv", csv.as_bytes());
    let rejects = temp_file("skip.rejects.tsv", b"");
    let o = SourceOptions {
        label_column: Some("label".into()),
        classes: Some(vec!["x".into(), "y".into()]),
        on_error: OnError::Skip,
        rejects: Some(rejects.clone()),
        max_line_bytes: 100,
        ..SourceOptions::default()
    };
    let mut src = source::open(path.to_str().expect("utf8"), o).expect("opens");
    let b = src.next_batch().expect("ok").expect("batch");
    assert_eq!(b.ids, vec![0, 6], "ids keep the input position");
    assert_eq!(b.y, Some(vec![0, 1]));
    assert_eq!(src.rejected(), 5);
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[1].contains("\t3\t") && lines[1].contains("missing value (\"nan\")"), "{}", lines[1]);
    assert!(lines[2].contains("expected 3 columns, found 2"));
    assert!(lines[4].contains("longer than 100 bytes"));
    assert!(lines[5].contains("not one of the declared classes"));
}

#[test]
fn synth_specs_are_checked() {
    for bad in ["synth:nope", "synth:blobs?n=-1", "synth:blobs?k", "synth:sea?d=3"] {
        assert!(matches!(source::open(bad, SourceOptions::default()), Err(SourceError::Schema { .. })), "{bad}");
    }
}

#[test]
fn summary_metrics_are_named_per_model_kind() {
    let o = SourceOptions { batch_size: 64, ..SourceOptions::default() };
    let src = source::open("synth:blobs?n=640&d=2&k=3&seed=2", o).expect("valid");
    let (s, _) = stages(&["minibatch-kmeans", "gaussian-nb"], None);
    let outcome = pipeline::run(src, s, &PipelineOptions::default()).expect("runs");
    let (summary, models) = (outcome.summary, outcome.models);
    assert_eq!(models.len(), 2);
    assert!(matches!(summary.models[0].metrics, Metrics::Clusterer { ari: Some(_), inertia: Some(_), .. }));
    assert!(matches!(summary.models[1].metrics, Metrics::Classifier { accuracy: Some(a), .. } if a > 0.9));
    let json = serde_json::to_value(&summary).expect("serialises");
    for key in ["records", "rejected", "seconds", "records_per_second", "models"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert!(json["models"][0]["metrics"]["inertia"].is_number());
    assert!(json["models"][1]["metrics"]["macro_f1"].is_number());
}
