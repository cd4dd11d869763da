//! What one sync of a group's shared model costs: publishes `N` updates of naive Bayes
//! (two features, two classes, 5,000 records learned between updates) to a model
//! stream or topic, each followed by the fold of the log as a worker does, and prints
//! the mean milliseconds per sync and the bytes per update, then folds the whole log as a
//! starting worker does (the cost of one update folded). `benches/scale.sh` runs it.
//!
//! `cargo run --release --example sync_cost -- redis://127.0.0.1:6379/cost 40`

use eddy::model::{Model, OnlineClassifier};
use eddy::model_file::Keys;
use eddy::sync::{open_log, SharedModel};
use ndarray::{Array1, Array2};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: sync_cost LOG_URL [UPDATES]")?;
    let updates: u64 = args.next().map_or(Ok(40), |n| n.parse())?;
    let features = vec!["a".to_string(), "b".to_string()];
    let mut shared = SharedModel::open(open_log(&url)?, Model::from_spec("gaussian-nb")?, features, Keys::default())?;
    let (mut seconds, mut bytes) = (0.0, 0);
    for u in 0..updates {
        let mut model = shared.model().clone();
        let Model::Classifier(classifier) = &mut model else { return Err("naive Bayes is a classifier".into()) };
        let x = Array2::from_shape_fn((5000, 2), |(i, j)| ((i * 7 + j * 13 + u as usize) % 100) as f64 / 10.0);
        let y = Array1::from_shape_fn(5000, |i| (i % 2) as i64);
        classifier.partial_fit(x.view(), y.view())?;
        let start = Instant::now();
        bytes += shared.publish("cost", &model, 5000)?;
        seconds += start.elapsed().as_secs_f64();
    }
    let (folded, skipped) = shared.counts();
    // A worker that starts reads and folds the whole log: the cost of a fold, each.
    let start = Instant::now();
    let follower = SharedModel::follow(open_log(&url)?, Keys::default())?.ok_or("the log is empty")?;
    let fold = start.elapsed().as_secs_f64() / follower.counts().0.max(1) as f64;
    println!(
        "{updates} syncs: {:.2} ms each, {} bytes an update ({folded} folded, {skipped} skipped); \
         {:.3} ms an update folded from the log's start",
        seconds * 1000.0 / updates as f64,
        bytes / updates.max(1) as usize,
        fold * 1000.0
    );
    Ok(())
}
