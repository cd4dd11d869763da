//! Clusters a generated stream with mini-batch k-means and writes a cluster report.
//!
//! `cargo run --release --example cluster_report -- [OUT_DIR]` (default `cluster-report/`)

use eddy::model::Model;
use eddy::pipeline::{self, ModelStage, PipelineOptions};
use eddy::report::{self, RunRecord};
use eddy::sink::MemorySink;
use eddy::source::{self, SourceOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "cluster-report".into());
    // Five drifting blobs in 6 dimensions; the labels are the true blobs, used for the ARI.
    let input = "synth:blobs?n=100000&d=6&k=5&std=1.5&drift=0.0005&seed=11";
    let source = source::open(input, SourceOptions { batch_size: 1024, ..SourceOptions::default() })?;
    let stage = ModelStage {
        events: None,
        replica: None,
        name: "minibatch-kmeans".into(),
        model: Model::from_spec("minibatch-kmeans(n_clusters=5, random_state=11)")?,
        sink: Box::new(MemorySink::default()),
        labels_path: "(memory)".into(),
    };
    // `track` keeps what the report needs: a sample of recent records, the timeline, the counts.
    let options = PipelineOptions { track: true, ..PipelineOptions::default() };
    let outcome = pipeline::run(source, vec![stage], &options)?;
    let record = RunRecord {
        input: input.into(),
        records: outcome.summary.records,
        rejected: outcome.summary.rejected,
        seconds: outcome.summary.seconds,
        snapshots: outcome.snapshots,
    };
    let files = report::write(&record, std::path::Path::new(&out))?;
    for row in report::cluster_rows(&record.snapshots[0]) {
        println!("cluster {}: {} records ({:.1}%)", row.id, row.size, 100.0 * row.share);
    }
    println!("report: {}", files.html.display());
    println!("        {}", files.markdown.display());
    Ok(())
}
