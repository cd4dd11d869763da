//! `eddy run`: arguments, the configuration built from them, and the run.

use crate::endpoint::{Endpoint, Engine};
use crate::model::registry::{self, Context as SpecContext};
use crate::model::Model;
use crate::model_file::{Key, Keys};
use crate::pipeline::{self, Metrics, ModelStage, PipelineOptions, Prequential, RunSummary, SnapshotOptions};
use crate::plot::PlotFormat;
use crate::report::{self, RunRecord};
use crate::sink;
use crate::source::{self, OnError, SourceOptions, TextFormat};
use crate::spec::Value;
use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Options of `eddy run`.
#[derive(Debug, Clone, Parser)]
pub struct RunArgs {
    /// The input: a .csv/.ndjson/.jsonl file (optionally .gz), a .npy matrix, `-` for
    /// standard input, a Redis stream (`redis://HOST:PORT/STREAM`: each entry a record,
    /// its fields the columns; followed until Ctrl-C unless --until-end), a Kafka topic
    /// (`kafka://HOST:PORT/TOPIC`: each message's JSON value a record; likewise followed),
    /// or a generator such as `synth:blobs?n=100000&d=16&k=8&seed=1`
    /// (`synth:blobs?n=&d=&k=&std=&drift=&move_at=&appear_at=&vanish_at=&seed=`: at record
    /// `move_at` centre 0 jumps, the last centre starts at `appear_at`, centre 1 stops at
    /// `vanish_at`; also `synth:hyperplane?n=&d=&mag=&noise=&seed=`, `synth:sea?n=&period=&noise=&seed=`,
    /// and `synth:mixed?n=&missing=&new_at=&seed=`: transactions with numeric, boolean and
    /// categorical columns, a share `missing` of values missing (the model needs `impute`),
    /// a new country and new merchants from record `new_at`).
    pub input: String,
    /// A model in the model language, e.g. 'scale | sgd(loss=log_loss, eta0=0.01,
    /// learning_rate=constant)' or 'minibatch-kmeans(n_clusters=3)'; `eddy model list`
    /// shows every model and parameter. Repeat to run several side by side, each on its
    /// own thread; 'NAME=spec' names one (label files and the summary use the name).
    #[arg(long = "model", required_unless_present = "model_files")]
    pub models: Vec<String>,
    /// Start from a saved model (repeatable, and combinable with --model): it goes on
    /// learning from this input (or only labels it, with --no-learn). Named after the
    /// file's stem. Its features are matched by name.
    #[arg(long = "model-file")]
    pub model_files: Vec<PathBuf>,
    /// Label with the models frozen: predict only, learn nothing (metrics are still
    /// computed when there is a label column).
    #[arg(long)]
    pub no_learn: bool,
    /// Where the labels go: .csv (id,label), .ndjson, .npy (int64, shape (n, 1)), `-`
    /// (CSV on standard output), a Redis stream `redis://HOST:PORT/STREAM` (an entry
    /// per record and model: id, model, label) or a Kafka topic `kafka://HOST:PORT/TOPIC`
    /// (a message per record and model, keyed by the record's id, its value
    /// {"id", "model", "label"}). With several models: <stem>.<model>.<ext> (a stream or
    /// topic is shared).
    #[arg(long)]
    pub labels_out: String,
    /// Write the run's summary here as JSON.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    /// The column with the class (classifiers need it; clusterers use it for ARI).
    #[arg(long)]
    pub label_column: Option<String>,
    /// Feature columns, comma-separated (default: every column but the label and an `id` column).
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// Categorical columns, comma-separated: read as text for an encoder of the model
    /// (`onehot | ...`, `hash | ...`). Columns holding text are categorical anyway.
    #[arg(long, value_delimiter = ',', value_name = "COLS")]
    pub categorical: Vec<String>,
    /// The models' settings.
    #[command(flatten)]
    pub model: ModelFlags,
    /// per-row: predict each record, then learn it (default); per-batch: predict the
    /// whole batch, then learn it (scikit-learn's partial_fit loop).
    #[arg(long, value_enum, default_value_t = PrequentialArg::PerRow)]
    pub prequential: PrequentialArg,
    /// fail: stop at the first bad record (default); skip: write it to --rejects and go on.
    #[arg(long, value_enum, default_value_t = OnErrorArg::Fail)]
    pub on_error: OnErrorArg,
    /// With --on-error skip: where rejected records go, with the reason (tab-separated).
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Longest accepted line, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_line_bytes: usize,
    /// Keep reading the file as it grows (like tail -f) until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    /// A Redis stream input: stop at the end of what the stream holds, instead of
    /// waiting for new entries until Ctrl-C or SIGTERM.
    #[arg(long)]
    pub until_end: bool,
    /// A Redis stream or Kafka topic input, read as a worker of this consumer group: the
    /// engine shares the records among the group's workers. Redis: each entry is
    /// acknowledged with its labels (--labels-out on a stream of the same server). Kafka:
    /// offsets are committed once the labels are acknowledged (--labels-out on a topic).
    /// Needs --worker and one --model.
    #[arg(long, requires = "worker")]
    pub group: Option<String>,
    /// This worker's name in --group: a worker restarted under its name takes up its own
    /// unacknowledged entries first.
    #[arg(long, requires = "group")]
    pub worker: Option<String>,
    /// With --group: claim another worker's entries once they have waited this many
    /// milliseconds unacknowledged (its worker died).
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    pub claim_idle: u64,
    /// With --group: share one model among the workers. Every N records a worker
    /// publishes what it learned to the model stream and takes up the merged model
    /// (default 10000; 0: each worker keeps its own model). Models that cannot be
    /// merged (trees, forests) stay one per worker, and the run says so.
    #[arg(long, requires = "group", value_name = "N")]
    pub sync_every: Option<u64>,
    /// With --group: also publish once this many seconds passed since the last sync, at
    /// the next batch learned, however few records came (a slow stream).
    #[arg(long, requires = "group", value_name = "SECONDS")]
    pub sync_interval: Option<f64>,
    /// With --group: the stream or topic the shared model's updates go to (default
    /// `<input stream>:<group>:model` on the input's Redis server, the topic
    /// `<input topic>.<group>.model` on Kafka).
    #[arg(long, requires = "group", value_name = "URL")]
    pub model_stream: Option<String>,
    /// Format of standard input (files are known by their extension), or of a Kafka
    /// topic's message values (NDJSON unless `--format csv`, which needs --columns).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// CSV without a header line: the names of its columns, comma-separated, and every
    /// line is a record (a Kafka topic's CSV values, a headerless file or standard input).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub columns: Option<Vec<String>>,
    /// With a .npy input: a .npy of int64 labels, one per row. With a CSV or NDJSON
    /// input and --id-column: labels that arrive later in a second stream, FEEDBACK
    /// (.csv or .ndjson, optionally .gz; '-' for standard input, CSV unless --format),
    /// whose records hold only the id and the label (--label-column). Every label read
    /// so far is joined before each event is read; with --follow both files are
    /// followed. Not reproducible (it depends on when labels arrive), so no
    /// --checkpoint or --resume: for that, merge the labels into the input and use
    /// --delayed-labels.
    #[arg(long, value_name = "FILE")]
    pub labels_from: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Run every stage on the calling thread (same labels; for debugging). Not with
    /// --group, whose labels are settled by the sink's own thread.
    #[arg(long, conflicts_with = "group")]
    pub inline: bool,
    /// Threads that parse a file and that a forest's trees learn on (0: every core; 1:
    /// one parser). Labels, models, errors and checkpoints are the same for any count.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Draw snapshots of every model into this folder while the stream runs:
    /// snapshot-NNNNNN-<model>.png and latest-<model>.png (replaced atomically), and run.json at the end.
    #[arg(long)]
    pub plots: Option<PathBuf>,
    /// With --plots: draw every this many records (default 100000 when no interval is given).
    #[arg(long)]
    pub snapshot_every: Option<u64>,
    /// With --plots: draw every this many seconds.
    #[arg(long)]
    pub snapshot_interval: Option<f64>,
    /// Picture format of the snapshots.
    #[arg(long, value_enum, default_value_t = PlotFormatArg::Png)]
    pub plot_format: PlotFormatArg,
    /// Write report.html (self-contained) and report.md with their pictures into this folder at the end.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Save the trained model here at the end (with several models: <stem>.<model>.eddy).
    #[arg(long)]
    pub save_model: Option<PathBuf>,
    /// Sign saved models with this key (32 bytes, or 64 hex digits); also EDDY_SIGNING_KEY_FILE.
    #[arg(long, env = "EDDY_SIGNING_KEY_FILE", hide_env_values = true)]
    pub signing_key: Option<PathBuf>,
    /// Encrypt saved models with this key (32 bytes, or 64 hex digits); also EDDY_ENCRYPTION_KEY_FILE.
    #[arg(long, env = "EDDY_ENCRYPTION_KEY_FILE", hide_env_values = true)]
    pub encryption_key: Option<PathBuf>,
    /// Write checkpoints (every model's state, scores and the input position, with every
    /// label before it durably written) into this folder while the stream runs.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// With --checkpoint: every this many records.
    #[arg(long, default_value_t = 100_000)]
    pub checkpoint_every: u64,
    /// With --checkpoint: also every this many seconds.
    #[arg(long)]
    pub checkpoint_interval: Option<f64>,
    /// With --checkpoint: keep the newest this many.
    #[arg(long, default_value_t = 2)]
    pub keep_checkpoints: usize,
    /// Watch each model with this drift detector, e.g. 'adwin' or
    /// 'ddm(drift_threshold=2.5)' (`eddy drift --help` lists them): a classifier's
    /// prequential error (1 for a wrong label), a clusterer's distance of each record to
    /// its centre over the running mean (a detector of real values: adwin, page-hinkley,
    /// kswin). Warnings and drifts are counted and listed in the summary, marked in the
    /// pictures and the report, and written to --events-out.
    #[arg(long, value_name = "DETECTOR")]
    pub drift: Option<String>,
    /// With --drift: also watch these input columns (feature names, comma-separated),
    /// each with its own copy of the detector.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub watch: Vec<String>,
    /// Watch each clusterer's clusters, window by window: a centre that moves more than
    /// `moved` times its spread, a cluster whose share of the records falls under
    /// `vanished`, a cluster without records that captures a new mass of them. Alone it
    /// is 'clusters(window=10000, moved=3, vanished=0.01, appeared=auto)'; give a spec to
    /// change any of them, after an equals sign (--cluster-events='clusters(window=5000)').
    /// Counted in the summary, marked in the report's cluster history,
    /// written to --events-out.
    #[arg(long, value_name = "SPEC", num_args = 0..=1, require_equals = true, default_missing_value = "clusters")]
    pub cluster_events: Option<String>,
    /// With --drift, --cluster-events or a forest: one NDJSON event per warning, drift,
    /// cluster event or replaced tree (record, model, watched, column, detector, kind,
    /// mean_before, mean_after: the watched level around it; cluster, share_before,
    /// share_after, distance, spread for cluster events; tree for a forest's replaced
    /// tree). With several models: <stem>.<model>.<ext>.
    #[arg(long)]
    pub events_out: Option<String>,
    /// Continue from the newest valid checkpoint in --checkpoint DIR (the one before it if
    /// it does not verify): cut the label files back to it, restore the models and scores,
    /// read the input past it, and go on. Without a checkpoint, start from the beginning.
    #[arg(long)]
    pub resume: bool,
    /// The column holding each record's id, for delayed labels (with --delayed-labels,
    /// or --labels-from for a second stream). It is never a feature.
    #[arg(long, value_name = "COLUMN")]
    pub id_column: Option<String>,
    /// Labels that arrive later, in the same stream: a record with features and no
    /// label is an event (labelled now), a later record with only its id and a label is
    /// its feedback (the model learns the event then). Needs --id-column and
    /// --label-column; classifiers only.
    #[arg(long)]
    pub delayed_labels: bool,
    /// With --delayed-labels: events that may wait for their labels at once; a new
    /// event past it expires the oldest.
    #[arg(long, default_value_t = 100_000)]
    pub max_pending: usize,
    /// With --delayed-labels: how long an event waits for its label, in records (5000)
    /// or seconds (3600s; then a resumed run is not byte-identical: time is the clock's).
    #[arg(long, value_name = "N|Ns")]
    pub label_ttl: Option<String>,
}

/// The run-wide settings models inherit, shared by `eddy run` and `eddy model new`.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelFlags {
    /// Declare the classes, comma-separated: any other label is refused. Ids follow this order.
    #[arg(long, value_delimiter = ',')]
    pub classes: Option<Vec<String>>,
    /// Records per mini-batch; also the `batch_size` of models whose spec does not set it
    /// (k-means paces its reassignment of starved centres by it).
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// The `random_state` (or `seed`) of every model whose spec does not set it.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl ModelFlags {
    /// What a spec inherits from these flags, with `classes` already resolved to ids.
    pub fn context(&self, classes: Option<Vec<i64>>) -> SpecContext {
        let mut inherited = vec![("batch_size", Value::Int(i64::try_from(self.batch_size).unwrap_or(i64::MAX)))];
        if let Some(seed) = self.seed {
            let seed = Value::Int(i64::try_from(seed).unwrap_or(i64::MAX));
            // scikit-learn's name and River's.
            inherited.push(("random_state", seed.clone()));
            inherited.push(("seed", seed));
        }
        SpecContext { inherited, classes }
    }

    /// Build the model of `spec`; its name is the spec's label or its estimator's name.
    pub fn build(&self, spec: &str, classes: Option<Vec<i64>>) -> Result<(String, Model)> {
        let (label, model) =
            registry::build_text(spec, &self.context(classes)).map_err(|e| anyhow::anyhow!("--model: {e}"))?;
        Ok((label.unwrap_or_else(|| model.estimator().to_string()), model))
    }
}

/// The join of delayed labels that `args` ask for, refused when it makes no sense.
fn delayed_options(args: &RunArgs, models: &[PlannedModel]) -> Result<Option<source::join::DelayedOptions>> {
    let text_input = Endpoint::of(&args.input).is_text();
    // Labels in a second stream: --labels-from with --id-column on a text input (with a
    // .npy input, --labels-from is the labels' .npy).
    let two_streams = args.id_column.is_some() && args.labels_from.is_some() && text_input;
    if two_streams {
        if args.checkpoint.is_some() || args.resume {
            bail!(
                "--checkpoint and --resume do not go with --labels-from: two streams are not reproducible (which \
                 labels come before an event depends on when they arrive); to resume, put the feedback in the \
                 input itself and use --delayed-labels (one stream, deterministic)"
            );
        }
        if args.labels_from.as_deref() == Some(std::path::Path::new("-")) && args.input == "-" {
            bail!("--labels-from -: the input is standard input already; one of them must be a file");
        }
    } else if !args.delayed_labels {
        if args.label_ttl.is_some() || args.max_pending != 100_000 {
            bail!("--label-ttl and --max-pending go with --delayed-labels or --labels-from");
        }
        if args.id_column.is_some() {
            bail!("--id-column goes with --delayed-labels (labels that arrive later, joined by id) or --labels-from");
        }
        return Ok(None);
    }
    let Some(id_column) = args.id_column.clone() else {
        bail!("--delayed-labels needs --id-column COLUMN: the id that joins each label to its event");
    };
    if !text_input {
        bail!("--delayed-labels reads CSV or NDJSON input (events and their feedback, with ids)");
    }
    if args.label_column.is_none() {
        bail!("--delayed-labels needs --label-column: the column of the feedback's label");
    }
    if let Some(m) = models.iter().find(|m| matches!(m.model, Model::Clusterer(_))) {
        bail!("--delayed-labels: model {} is a clusterer; delayed labels are learned by classifiers only", m.name);
    }
    if args.drift.is_some() || args.plots.is_some() {
        bail!(
            "--delayed-labels does not go with --drift or --plots yet (they follow each record's label as it is made)"
        );
    }
    let ttl = args.label_ttl.as_deref().map(crate::pipeline::pending::parse_label_ttl).transpose()?;
    let max = crate::pipeline::pending::MAX_PENDING;
    if !(1..=max).contains(&args.max_pending) {
        bail!("--max-pending must be from 1 to {max}, got {}", args.max_pending);
    }
    let feedback = if two_streams { args.labels_from.clone() } else { None };
    Ok(Some(source::join::DelayedOptions { id_column, max_pending: args.max_pending, ttl, feedback }))
}

/// The delayed-labels settings as the checkpoint records them.
fn delayed_setting(d: Option<&source::join::DelayedOptions>) -> String {
    use crate::pipeline::pending::Ttl;
    d.map(|d| {
        let ttl = match d.ttl {
            None => String::new(),
            Some(Ttl::Records(n)) => n.to_string(),
            Some(Ttl::Millis(ms)) => format!("{}s", ms as f64 / 1000.0),
        };
        format!("id={} max-pending={} ttl={ttl}", d.id_column, d.max_pending)
    })
    .unwrap_or_default()
}

/// `--plot-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlotFormatArg {
    /// PNG pictures.
    Png,
    /// SVG pictures.
    Svg,
}

/// `--prequential`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrequentialArg {
    /// Predict each record, then learn it.
    PerRow,
    /// Predict the batch, then learn it.
    PerBatch,
}

impl From<PrequentialArg> for Prequential {
    fn from(arg: PrequentialArg) -> Self {
        match arg {
            PrequentialArg::PerRow => Prequential::PerRow,
            PrequentialArg::PerBatch => Prequential::PerBatch,
        }
    }
}

/// `--on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnErrorArg {
    /// Stop at the first bad record.
    Fail,
    /// Skip it, writing it to --rejects.
    Skip,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// CSV with a header.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

/// The newest checkpoint of `dir` that verifies; a broken newest one falls back to the
/// one before it (with a warning). `None` when there is no checkpoint at all.
fn newest_valid_checkpoint(
    dir: &std::path::Path,
    keys: &Keys,
    features: &[String],
) -> Result<Option<crate::checkpoint::Checkpoint>> {
    let files = crate::checkpoint::files(dir).with_context(|| format!("reading {}", dir.display()))?;
    if files.is_empty() {
        eprintln!("eddy: no checkpoint in {}: starting from the beginning", dir.display());
        return Ok(None);
    }
    let mut last_error = None;
    for file in files.iter().rev() {
        match crate::checkpoint::load(file, keys) {
            Ok((header, checkpoint)) => {
                crate::model_file::check_features(file, &header, features)?;
                match &last_error {
                    Some(e) => eprintln!("eddy: warning: {e}: resuming from {} instead", file.display()),
                    None => eprintln!("eddy: resuming from {} ({} records)", file.display(), header.records_seen),
                }
                return Ok(Some(checkpoint));
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(anyhow::anyhow!(
        "no checkpoint in {} verifies: {}",
        dir.display(),
        last_error.map(|e| e.to_string()).unwrap_or_default()
    ))
}

/// The largest batch: a batch is allocated whole, so a typo must not ask for terabytes.
const MAX_BATCH: usize = 1 << 22;

/// Refuse an output that is one of the inputs (it would be overwritten while being
/// read), and create the folders of every output before anything is read.
pub(crate) fn check_outputs(input: &str, labels_from: Option<&std::path::Path>, outputs: &[PathBuf]) -> Result<()> {
    let inputs: Vec<PathBuf> = [Some(std::path::Path::new(input)), labels_from]
        .into_iter()
        .flatten()
        .filter(|p| Endpoint::of(&p.to_string_lossy()).is_file())
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    for out in outputs {
        if !Endpoint::of(&out.to_string_lossy()).is_file() {
            continue;
        }
        if let Ok(canonical) = std::fs::canonicalize(out) {
            if inputs.contains(&canonical) {
                bail!("{} is an input: writing to it would destroy it", out.display());
            }
        }
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    Ok(())
}

/// Whether two addresses name the same stream or topic of the same server.
fn same_stream(a: &str, b: &str) -> bool {
    if let (Ok(a), Ok(b)) = (source::redis::Address::parse(a), source::redis::Address::parse(b)) {
        return a == b;
    }
    #[cfg(feature = "kafka")]
    if let (Ok(a), Ok(b)) = (source::kafka::Address::parse(a), source::kafka::Address::parse(b)) {
        return a == b;
    }
    false
}

/// The consumer group a worker reads in, checked against the rest of the run: its
/// labels go where each record is marked done with them (Redis: a stream of the same
/// server, in one script; Kafka: a topic, keyed by record, before the offsets' commit).
fn group_options(args: &RunArgs, models: &[PlannedModel]) -> Result<Option<source::GroupOptions>> {
    let (Some(group), Some(worker)) = (&args.group, &args.worker) else { return Ok(None) };
    match Endpoint::of(&args.input) {
        Endpoint::Stream(Engine::Redis) => {
            let input = source::redis::Address::parse(&args.input)
                .map_err(|e| anyhow::anyhow!("--group reads a Redis stream: {}: {e}", args.input))?;
            let labels = source::redis::Address::parse(&args.labels_out).map_err(|_| {
                anyhow::anyhow!("--group: --labels-out must be a stream of the same server, where each entry is acknowledged with its labels")
            })?;
            if labels.server != input.server {
                bail!("--group: --labels-out must be a stream of the input's server ({}), to acknowledge each entry with its labels in one transaction", input.server);
            }
        }
        Endpoint::Stream(Engine::Kafka) => {
            if Endpoint::of(&args.labels_out) != Endpoint::Stream(Engine::Kafka) {
                bail!("--group: --labels-out must be a Kafka topic, where each label is keyed by its record (topic/partition/offset)");
            }
        }
        _ => bail!("--group reads a Redis stream or a Kafka topic, not {}", args.input),
    }
    if models.len() != 1 {
        bail!("--group takes one --model: a record is marked done with its labels, written once");
    }
    if args.checkpoint.is_some() {
        bail!(
            "--group keeps no --checkpoint: the engine keeps each worker's place (pending entries, committed offsets)"
        );
    }
    for (what, name) in [("--group", group), ("--worker", worker)] {
        if name.is_empty() || name.len() > 256 {
            bail!("{what}: a name of 1 to 256 bytes");
        }
    }
    Ok(Some(source::GroupOptions { group: group.clone(), worker: worker.clone(), claim_idle_ms: args.claim_idle }))
}

/// A group's shared model: the model stream, and how often a worker syncs.
#[derive(Debug, Clone)]
pub struct Share {
    /// The model stream or topic.
    pub log: String,
    /// Records between syncs.
    pub every: u64,
    /// Time between syncs, when also bounded by time.
    pub interval: Option<std::time::Duration>,
}

/// Where a group's shared model goes, and how often, or `None` when each worker keeps
/// its own (no group, or `--sync-every 0`).
fn share_options(args: &RunArgs) -> Result<Option<Share>> {
    let (Some(group), every) = (&args.group, args.sync_every.unwrap_or(10_000)) else { return Ok(None) };
    if every == 0 {
        return Ok(None);
    }
    let interval = match args.sync_interval {
        None => None,
        Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Some(std::time::Duration::from_secs_f64(s)),
        Some(s) => bail!("--sync-interval {s}: seconds, more than 0 and at most a day (86400)"),
    };
    let log = match &args.model_stream {
        Some(url) => {
            if !Endpoint::of(url).is_stream() {
                bail!("--model-stream {url}: a redis:// stream or a kafka:// topic");
            }
            if [&args.input, &args.labels_out].iter().any(|s| same_stream(s, url)) {
                bail!("--model-stream {url} is the input or the labels stream: give the updates a stream of their own");
            }
            url.clone()
        }
        None => default_model_stream(&args.input, group)?,
    };
    Ok(Some(Share { log, every, interval }))
}

/// A group's model stream beside its input: `<stream>:<group>:model` on a Redis server,
/// the topic `<topic>.<group>.model` on Kafka.
fn default_model_stream(input: &str, group: &str) -> Result<String> {
    if let Ok(input) = source::redis::Address::parse(input) {
        return Ok(format!("{}/{}:{group}:model", input.server, input.stream));
    }
    #[cfg(feature = "kafka")]
    if let Ok(input) = source::kafka::Address::parse(input) {
        let url = format!("kafka://{}/{}.{group}.model", input.brokers, input.topic);
        source::kafka::Address::parse(&url).map_err(|e| {
            anyhow::anyhow!("--group {group:?} makes no topic name for the model ({e}): give --model-stream")
        })?;
        return Ok(url);
    }
    bail!("--group reads a Redis stream or a Kafka topic, not {input}")
}

/// A model a run starts with.
pub struct PlannedModel {
    /// Its name in the summary, label file names and checkpoints.
    pub name: String,
    /// The model, untrained or as saved.
    pub model: Model,
    /// Where its labels go.
    pub labels_path: String,
    /// Where its drift events go, with --drift and --events-out.
    pub events_path: Option<String>,
    /// The model file it came from, with the features and class names it records.
    pub file: Option<(PathBuf, crate::model_file::Header)>,
}

/// Everything a run needs, checked: built from [`RunArgs`].
pub struct RunConfig {
    /// The input as given.
    pub input: String,
    /// Source options.
    pub source: SourceOptions,
    /// The models, each with its name and label path.
    pub models: Vec<PlannedModel>,
    /// Pipeline options.
    pub pipeline: PipelineOptions,
    /// Where the summary goes.
    pub summary_json: Option<PathBuf>,
    /// Show a progress bar.
    pub progress: bool,
    /// One thread.
    pub inline: bool,
    /// Where the report goes.
    pub report: Option<PathBuf>,
    /// Checkpoint folder, interval and how many to keep.
    pub checkpoint: Option<(PathBuf, u64, usize)>,
    /// Checkpoint time interval.
    pub checkpoint_interval: Option<std::time::Duration>,
    /// Continue from the newest valid checkpoint.
    pub resume: bool,
    /// The input's numeric feature names, once it is open.
    pub features: Vec<String>,
    /// The input's categorical feature names, once it is open.
    pub categorical: Vec<String>,
    /// Where each model is saved, when asked.
    pub save_model: Option<PathBuf>,
    /// Keys for saved models.
    pub keys: Keys,
    /// A group's shared model: the model stream and how often to sync.
    pub share: Option<Share>,
}

impl RunConfig {
    /// `model` as one replica of the group's shared model, taken up from what its log
    /// holds; or `None`, said on standard error, when the model cannot be merged.
    fn replica(
        &self,
        name: &str,
        model: &mut Model,
        share: &Share,
        worker: &str,
    ) -> Result<Option<crate::sync::Replica>> {
        let (log, every) = (share.log.as_str(), share.every);
        let rule = match model.merge_rule() {
            Ok(rule) => rule,
            Err(why) => {
                eprintln!("eddy: model {name}: {why}: each worker of the group keeps its own model");
                return Ok(None);
            }
        };
        let shown = source::redis::display_name(log);
        let open = crate::sync::open_log(log)
            .and_then(|l| crate::sync::SharedModel::open(l, model.clone(), self.features.clone(), self.keys.clone()))
            .with_context(|| format!("taking up the shared model from {shown}"))?;
        let (folded, _) = open.counts();
        let updates = if folded == 1 { "update" } else { "updates" };
        let pace = match share.interval {
            Some(i) => format!("every {every} records or {} s", i.as_secs_f64()),
            None => format!("every {every} records"),
        };
        eprintln!("eddy: model {name} shared through {shown} {pace}, merge {rule}; {folded} {updates} taken up");
        let mut replica = crate::sync::Replica::new(open, worker.to_string(), every);
        if let Some(interval) = share.interval {
            replica = replica.every_interval(interval);
        }
        *model = replica.model().clone();
        Ok(Some(replica))
    }

    /// Check the arguments and resolve paths.
    pub fn from_args(args: RunArgs, quit: Arc<AtomicBool>) -> Result<Self> {
        if args.model.batch_size == 0 || args.model.batch_size > MAX_BATCH {
            bail!("--batch-size must be between 1 and {MAX_BATCH}");
        }
        if args.rejects.is_some() && args.on_error != OnErrorArg::Skip {
            bail!("--rejects goes with --on-error skip");
        }
        if args.plots.is_none() && (args.snapshot_every.is_some() || args.snapshot_interval.is_some()) {
            bail!("--snapshot-every and --snapshot-interval go with --plots DIR");
        }
        if args.snapshot_every == Some(0) {
            bail!("--snapshot-every must be at least 1");
        }
        let interval = match args.snapshot_interval {
            Some(secs) => match std::time::Duration::try_from_secs_f64(secs) {
                Ok(d) if secs > 0.0 => Some(d),
                _ => bail!("--snapshot-interval must be a positive number of seconds, got {secs}"),
            },
            None => None,
        };
        let snapshots = match &args.plots {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                Some(SnapshotOptions {
                    dir: dir.clone(),
                    every_records: args.snapshot_every.or(interval.is_none().then_some(100_000)),
                    interval,
                    format: match args.plot_format {
                        PlotFormatArg::Png => PlotFormat::Png,
                        PlotFormatArg::Svg => PlotFormat::Svg,
                    },
                    // Records that come as they happen: pictures must not hold them up.
                    live: crate::source::is_live(&args.input, args.follow),
                })
            }
            None => None,
        };
        let input_kind = Endpoint::of(&args.input);
        let synthetic_or_npy = !input_kind.is_text();
        let has_labels = if synthetic_or_npy {
            matches!(input_kind, Endpoint::Synth(_)) || args.labels_from.is_some()
        } else {
            args.label_column.is_some()
        };
        let classes: Option<Vec<i64>> = match (&args.model.classes, synthetic_or_npy) {
            (None, _) => None,
            // Text inputs: integer classes are their own ids, names get 0, 1, ... in order.
            (Some(names), false) => crate::record::LabelMap::declared(names).declared_ids(),
            (Some(names), true) => Some(
                names
                    .iter()
                    .map(|n| n.parse::<i64>().with_context(|| format!("--classes {n:?}: this input has int64 labels")))
                    .collect::<Result<_>>()?,
            ),
        };
        let keys = Keys {
            signing: args.signing_key.as_deref().map(Key::read).transpose()?,
            encryption: args.encryption_key.as_deref().map(Key::read).transpose()?,
        };
        let mut models: Vec<PlannedModel> = Vec::new();
        for spec in &args.models {
            let (name, model) = args.model.build(spec, classes.clone())?;
            models.push(PlannedModel { name, model, labels_path: String::new(), events_path: None, file: None });
        }
        for path in &args.model_files {
            let (header, model) = crate::model_file::load_model(path, &keys)?;
            let name = path.file_stem().map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
            models.push(PlannedModel {
                name,
                model,
                labels_path: String::new(),
                events_path: None,
                file: Some((path.clone(), header)),
            });
        }
        let mut seen = std::collections::HashSet::new();
        for PlannedModel { name, .. } in &models {
            if !seen.insert(name.clone()) {
                bail!("two models are called {name}: name each, e.g. --model 'fast=sgd(eta0=0.1)' --model 'slow=sgd(eta0=0.001)'");
            }
        }
        if args.labels_out == "-" && models.len() > 1 {
            bail!("--labels-out - (standard output) takes one model; give a file name for several");
        }
        for PlannedModel { name, model, .. } in &models {
            if matches!(model, Model::Classifier(_)) && !has_labels && !args.no_learn {
                bail!("model {name} is a classifier: it needs --label-column (or --labels-from for .npy) to learn, or --no-learn to only label");
            }
        }
        let drift = match &args.drift {
            Some(spec) => Some(crate::drift::build_text(spec).map_err(|e| anyhow::anyhow!("--drift: {e}"))?),
            None => None,
        };
        let cluster_events = match &args.cluster_events {
            Some(spec) => Some(
                crate::drift::ClusterWatchParams::from_spec_text(spec)
                    .map_err(|e| anyhow::anyhow!("--cluster-events: {e}"))?,
            ),
            None => None,
        };
        let forests = models.iter().any(|m| m.model.replacements().is_some());
        if args.events_out.is_some() && drift.is_none() && cluster_events.is_none() && !forests {
            bail!(
                "--events-out goes with --drift DETECTOR, --cluster-events or a forest (arf) model (the events are theirs)"
            );
        }
        if !args.watch.is_empty() && drift.is_none() {
            bail!("--watch goes with --drift DETECTOR (each column is watched with a copy of it)");
        }
        if let Some((_, c)) = args.watch.iter().enumerate().find(|(i, c)| args.watch[..*i].contains(c)) {
            bail!("--watch names {c} twice");
        }
        if cluster_events.is_some() && !models.iter().any(|m| matches!(m.model, Model::Clusterer(_))) {
            bail!("--cluster-events watches clusterers' clusters, and this run has none");
        }
        if let Some(d) = drift.as_ref().filter(|d| d.check_value(0.5).is_err()) {
            if let Some(m) = models.iter().find(|m| matches!(m.model, Model::Clusterer(_))) {
                bail!(
                    "--drift {}: it takes 0/1 errors, but {} is a clusterer whose distances are real values: use adwin, page-hinkley or kswin",
                    d.spec(),
                    m.name
                );
            }
            if !args.watch.is_empty() {
                bail!("--drift {}: it takes 0/1 errors; --watch needs adwin, page-hinkley or kswin", d.spec());
            }
        }
        if args.events_out.as_deref() == Some("-") {
            bail!("--events-out takes a file name");
        }
        let many = models.len() > 1;
        let each = |path: &str, name: &str| if many { sink::path_for_model(path, name) } else { path.to_string() };
        for m in &mut models {
            m.labels_path = each(&args.labels_out, &m.name);
            // Watched: every model with --drift; clusterers with --cluster-events; forests.
            let watched = args.drift.is_some()
                || (args.cluster_events.is_some() && matches!(m.model, Model::Clusterer(_)))
                || m.model.replacements().is_some();
            m.events_path = args.events_out.as_deref().filter(|_| watched).map(|p| each(p, &m.name));
        }
        let mut outputs: Vec<PathBuf> = models.iter().map(|m| PathBuf::from(&m.labels_path)).collect();
        outputs.extend(models.iter().filter_map(|m| m.events_path.as_ref().map(PathBuf::from)));
        outputs.extend(args.rejects.iter().cloned());
        outputs.extend(args.summary_json.iter().cloned());
        outputs.extend(args.save_model.iter().cloned());
        for dir in args.report.iter().chain(args.checkpoint.iter()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        if args.until_end && !Endpoint::of(&args.input).is_stream() {
            bail!("--until-end is for a stream input (redis://): a file ends by itself, and --follow waits at its end");
        }
        if same_stream(&args.input, &args.labels_out) {
            bail!("--labels-out {} is the input stream: its labels would come back as records", args.labels_out);
        }
        let group = group_options(&args, &models)?;
        let share = share_options(&args)?;
        if args.resume && args.checkpoint.is_none() {
            bail!("--resume needs --checkpoint DIR (where the checkpoints are)");
        }
        if args.resume && (args.labels_out == "-" || args.follow && args.input == "-") {
            bail!("--resume cannot continue labels on standard output or read standard input again: neither can be rewound");
        }
        if args.checkpoint.is_some() && (args.checkpoint_every == 0 || args.keep_checkpoints == 0) {
            bail!("--checkpoint-every and --keep-checkpoints must be at least 1");
        }
        let delayed = delayed_options(&args, &models)?;
        check_outputs(&args.input, args.labels_from.as_deref(), &outputs)?;
        // A saved model names its features and classes: without --features the input is
        // read by those names (so its column order does not matter), and its class
        // names keep their ids.
        let saved = models.iter().filter_map(|m| m.file.as_ref());
        let mut features = args.features;
        let mut categorical = args.categorical;
        let mut known_classes = None;
        for (path, header) in saved {
            if features.is_none() {
                features = Some(header.features.iter().chain(&header.categorical).cloned().collect());
                categorical.extend(
                    header.categorical.iter().filter(|c| !categorical.contains(c)).cloned().collect::<Vec<_>>(),
                );
            }
            if let Some(names) = &header.classes {
                match &known_classes {
                    None => known_classes = Some(names.clone()),
                    Some(k) if k != names => bail!(
                        "{}: its classes {names:?} differ from another model file's {k:?}: run them separately",
                        path.display()
                    ),
                    Some(_) => {}
                }
            }
        }
        Ok(Self {
            source: SourceOptions {
                batch_size: args.model.batch_size,
                features,
                label_column: args.label_column,
                classes: args.model.classes.clone(),
                known_classes,
                on_error: match args.on_error {
                    OnErrorArg::Fail => OnError::Fail,
                    OnErrorArg::Skip => OnError::Skip,
                },
                rejects: args.rejects,
                max_line_bytes: args.max_line_bytes,
                follow: args.follow,
                format: args.format.map(|f| match f {
                    FormatArg::Csv => TextFormat::Csv,
                    FormatArg::Ndjson => TextFormat::Ndjson,
                }),
                columns: args.columns,
                labels_from: args.labels_from,
                quit: Arc::clone(&quit),
                delayed,
                categorical,
                until_end: args.until_end,
                group: group.clone(),
                // `--inline` runs everything on the calling thread, the parsing too.
                threads: if args.inline { 1 } else { args.threads },
                // Missing values are let through only when every model fills them.
                missing: models.iter().all(|m| match &m.model {
                    Model::Classifier(c) => c.fills_missing(),
                    Model::Clusterer(c) => c.fills_missing(),
                }),
            },
            input: args.input,
            models,
            pipeline: PipelineOptions {
                prequential: if args.no_learn { Prequential::Frozen } else { args.prequential.into() },
                quit,
                snapshots,
                track: args.report.is_some(),
                drift,
                watch: args.watch,
                cluster_events,
                ..PipelineOptions::default()
            },
            summary_json: args.summary_json,
            progress: !args.quiet && std::io::stderr().is_terminal(),
            inline: args.inline,
            report: args.report,
            save_model: args.save_model,
            keys,
            share,
            features: Vec::new(),
            categorical: Vec::new(),
            checkpoint: args.checkpoint.map(|dir| (dir, args.checkpoint_every, args.keep_checkpoints)),
            resume: args.resume,
            checkpoint_interval: match args.checkpoint_interval {
                None => None,
                Some(secs) => match std::time::Duration::try_from_secs_f64(secs) {
                    Ok(d) if secs > 0.0 => Some(d),
                    _ => bail!("--checkpoint-interval must be a positive number of seconds, got {secs}"),
                },
            },
        })
    }

    /// The settings that decide the labels: a resume must have the same.
    fn settings(&self) -> Vec<(String, String)> {
        let prequential = match self.pipeline.prequential {
            Prequential::PerRow => "per-row",
            Prequential::PerBatch => "per-batch",
            Prequential::Frozen => "frozen",
        };
        vec![
            ("input".into(), self.input.clone()),
            ("--batch-size".into(), self.source.batch_size.to_string()),
            ("--prequential".into(), prequential.into()),
            ("--features".into(), self.features.join(",")),
            ("--label-column".into(), self.source.label_column.clone().unwrap_or_default()),
            ("--rejects".into(), self.source.rejects.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
            ("--drift".into(), self.pipeline.drift.as_ref().map(|d| d.spec()).unwrap_or_default()),
            ("--watch".into(), self.pipeline.watch.join(",")),
            ("--cluster-events".into(), self.pipeline.cluster_events.as_ref().map(|c| c.to_spec()).unwrap_or_default()),
            ("--delayed-labels".into(), delayed_setting(self.source.delayed.as_ref())),
        ]
    }

    /// Open the source, build the models and sinks, and run the stream.
    pub fn execute(mut self) -> Result<RunSummary> {
        let mut source = source::open(&self.input, self.source.clone())?;
        self.features = source.feature_names().to_vec();
        self.categorical = source.categorical_names().to_vec();
        // Before any output: every categorical column is encoded, by stages that find theirs.
        for m in &self.models {
            let checked = match &m.model {
                Model::Classifier(c) => c.check_categorical(&self.categorical),
                Model::Clusterer(c) => c.check_categorical(&self.categorical),
            };
            checked.map_err(|why| anyhow::anyhow!("model {}: {why}", m.name))?;
        }
        // Before any output is created or an old checkpoint removed.
        if let Some(c) = self.pipeline.watch.iter().find(|c| !self.features.contains(c)) {
            bail!("--watch {c}: not a feature of the input (features: {})", self.features.join(", "));
        }
        for m in &self.models {
            if let Some((path, header)) = &m.file {
                crate::model_file::check_features(path, header, &self.features)?;
            }
        }
        let resume = match (&self.checkpoint, self.resume) {
            (Some((dir, _, _)), true) => newest_valid_checkpoint(dir, &self.keys, &self.features)?,
            _ => None,
        };
        if let Some((dir, _, _)) = &self.checkpoint {
            crate::checkpoint::clean_temporaries(dir);
        }
        if let Some(c) = &resume {
            let now = self.settings();
            for (key, then) in &c.settings {
                let current = now.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("");
                if current != then {
                    bail!("the checkpoint was taken with {key} {then:?}, this run has {current:?}: resume with the same settings");
                }
            }
            source.resume(&c.position)?;
            self.pipeline.resume = Some(Arc::new(c.clone()));
        } else if let Some((dir, _, _)) = &self.checkpoint {
            // A fresh run: an earlier run's checkpoints must not be resumed into this one.
            for old in crate::checkpoint::files(dir).with_context(|| format!("reading {}", dir.display()))? {
                std::fs::remove_file(&old).with_context(|| format!("removing {}", old.display()))?;
            }
        }
        if let Some((dir, every, keep)) = &self.checkpoint {
            self.pipeline.checkpoint = Some(crate::checkpoint::CheckpointOptions {
                dir: dir.clone(),
                every_records: *every,
                interval: self.checkpoint_interval,
                keep: *keep,
                keys: self.keys.clone(),
                features: self.features.clone(),
                settings: self.settings(),
            });
        }
        let mut stages = Vec::new();
        for planned in &self.models {
            let (name, path) = (&planned.name, &planned.labels_path);
            let file = Some(path).filter(|p| Endpoint::of(p).is_file()).map(std::path::Path::new);
            if let Some(dir) = file.and_then(std::path::Path::parent).filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            let resumed = resume.as_ref().map(|c| {
                c.models
                    .iter()
                    .find(|m| m.name == *name && m.labels_path == *path)
                    .ok_or_else(|| anyhow::anyhow!("the checkpoint has no model {name} writing {path}: resume with the same --model and --labels-out"))
            });
            let (model, sink, events, replica) = match resumed {
                Some(found) => {
                    let m = found?;
                    let events = match &planned.events_path {
                        Some(p) => {
                            Some(sink::EventsFile::reopen(p, m.events_len).with_context(|| format!("reopening {p}"))?)
                        }
                        None => None,
                    };
                    let sink = sink::reopen(path, name, m.labels_len).with_context(|| format!("reopening {path}"))?;
                    (m.model.clone(), sink, events, None)
                }
                None => {
                    let events = match &planned.events_path {
                        Some(p) => Some(sink::EventsFile::create(p).with_context(|| format!("creating {p}"))?),
                        None => None,
                    };
                    let mut model = planned.model.clone();
                    let replica = match (&self.share, &self.source.group) {
                        (Some(share), Some(g)) => self.replica(name, &mut model, share, &g.worker)?,
                        _ => None,
                    };
                    let create = || sink::create(path, name).with_context(|| format!("creating {path}"));
                    let sink: Box<dyn sink::LabelSink> = match (&self.source.group, source.acknowledger()) {
                        // Kafka: labels made durable, then the offsets committed.
                        (Some(_), Some(acknowledge)) => Box::new(sink::Acking::new(create()?, acknowledge)),
                        // Redis: each entry acknowledged with its labels, in one script.
                        (Some(g), None) => {
                            let input = source::redis::Address::parse(&self.input).map_err(anyhow::Error::msg)?;
                            let sink =
                                sink::RedisSink::create(path, name).with_context(|| format!("creating {path}"))?;
                            Box::new(sink.acking(input.stream, g.group.clone()))
                        }
                        (None, _) => create()?,
                    };
                    (model, sink, events, replica)
                }
            };
            stages.push(ModelStage { name: name.clone(), model, sink, labels_path: path.clone(), events, replica });
        }
        let bar = self.progress.then(progress_bar);
        if let Some(bar) = &bar {
            let (records, drawing) = (bar.clone(), bar.clone());
            self.pipeline.progress = Some(Arc::new(move |n| records.inc(n)));
            self.pipeline.drawing = Some(Arc::new(move |left| {
                drawing.set_message(format!("- input read, drawing {left} snapshots"));
            }));
        }
        let outcome = if self.inline {
            pipeline::run_inline(source, stages, &self.pipeline)
        } else {
            pipeline::run(source, stages, &self.pipeline)
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let outcome = outcome?;
        if let Some(path) = &self.save_model {
            let many = outcome.models.len() > 1;
            let features = self.features.clone();
            for (planned, model) in self.models.iter().zip(&outcome.models) {
                let target = if many {
                    PathBuf::from(crate::sink::path_for_model(&path.display().to_string(), &planned.name))
                } else {
                    path.clone()
                };
                let mut header =
                    crate::model_file::Header::for_model(model, features.clone(), outcome.summary.classes.clone());
                header.categorical = self.categorical.clone();
                crate::model_file::save(&target, &header, model, &self.keys)?;
                eprintln!("model: {}", target.display());
            }
        }
        let summary = outcome.summary;
        if let Some(path) = &self.summary_json {
            write_summary(path, &summary)?;
        }
        let record = RunRecord {
            input: self.input.clone(),
            records: summary.records,
            rejected: summary.rejected,
            seconds: summary.seconds,
            snapshots: outcome.snapshots,
        };
        if let Some(opts) = &self.pipeline.snapshots {
            record.save(&opts.dir)?;
        }
        if let Some(dir) = &self.report {
            let files = report::write(&record, dir)?;
            eprintln!("report: {} and {}", files.html.display(), files.markdown.display());
        }
        Ok(summary)
    }
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {human_pos} records ({per_sec}) {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Write the summary as pretty JSON.
pub(crate) fn write_summary(path: &std::path::Path, summary: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(summary)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// The summary as a readable table.
pub(crate) fn print_summary(out: &mut dyn std::io::Write, summary: &RunSummary) -> std::io::Result<()> {
    let interrupted =
        if summary.interrupted { " (interrupted: stopped early, everything read was labelled)" } else { "" };
    writeln!(
        out,
        "{} records, {} rejected, {:.2} s, {:.0} records/s{interrupted}",
        summary.records, summary.rejected, summary.seconds, summary.records_per_second
    )?;
    let num = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    // The names' column fits the longest name (`hoeffding-adaptive-tree`), at least 18 wide.
    let w = summary.models.iter().map(|m| m.model.chars().count()).max().unwrap_or(0).max(18);
    writeln!(out, "  {:<w$} {:>9} {:>9} {:>10} {:>7}  labels", "model", "accuracy", "macro-F1", "inertia", "ARI")?;
    for m in &summary.models {
        let (acc, f1, inertia, ari) = match &m.metrics {
            Metrics::Classifier { accuracy, macro_f1, .. } => (num(*accuracy), num(*macro_f1), "-".into(), "-".into()),
            Metrics::Clusterer { inertia, ari, .. } => ("-".into(), "-".into(), num(*inertia), num(*ari)),
        };
        writeln!(out, "  {:<w$} {acc:>9} {f1:>9} {inertia:>10} {ari:>7}  {}", m.model, m.labels)?;
    }
    for m in &summary.models {
        if let Metrics::Clusterer { inertia_units: "standardised", .. } = &m.metrics {
            writeln!(out, "  {}: inertia in standardised units (it has a transformer in front)", m.model)?;
        }
    }
    for m in &summary.models {
        if let Some(d) = &m.drift {
            if let Some(detector) = &d.detector {
                let first: Vec<String> = d
                    .events
                    .iter()
                    .filter(|e| e.kind == crate::pipeline::RunEventKind::Drift)
                    .take(5)
                    .map(|e| e.record.to_string())
                    .collect();
                let at =
                    if first.is_empty() { String::new() } else { format!(" (first at records {})", first.join(", ")) };
                let columns =
                    if d.columns.is_empty() { String::new() } else { format!(", watching {}", d.columns.join(", ")) };
                writeln!(out, "  {}: {} warnings, {} drifts{at} [{detector}{columns}]", m.model, d.warnings, d.drifts)?;
            }
            if let Some(replaced) = d.replacements {
                let first: Vec<String> =
                    d.events.iter().filter_map(|e| Some(format!("tree {} at {}", e.tree?, e.record))).take(5).collect();
                let at = if first.is_empty() { String::new() } else { format!(" ({})", first.join(", ")) };
                let detector = d.events.iter().find(|e| e.tree.is_some()).map(|e| e.detector.as_str());
                let detector = detector.map(|s| format!(" [{s}]")).unwrap_or_default();
                writeln!(out, "  {}: {replaced} trees replaced{at}{detector}", m.model)?;
            }
            if let (Some(spec), Some(c)) = (&d.clusters, &d.cluster_events) {
                let first: Vec<String> = d
                    .events
                    .iter()
                    .filter_map(|e| Some(format!("{} {} at {}", e.kind.name(), e.cluster?, e.record)))
                    .take(5)
                    .collect();
                let at = if first.is_empty() { String::new() } else { format!(" ({})", first.join(", ")) };
                writeln!(
                    out,
                    "  {}: clusters moved {}, vanished {}, appeared {}{at} [{spec}]",
                    m.model, c.moved, c.vanished, c.appeared
                )?;
            }
        }
    }
    for m in &summary.models {
        if let Some(d) = &m.delayed {
            let delay = d.delay.as_ref().map_or(String::new(), |x| {
                format!("; delay median {} / p99 {} records", x.records.median, x.records.p99)
            });
            writeln!(
                out,
                "  {}: delayed labels: {} events, {} learned, {} pending, {} expired ({} ttl, {} capacity), {} late, \
                 {} unknown, {} duplicates{delay}",
                m.model,
                d.events,
                d.learned,
                d.pending,
                d.expired,
                d.expired_ttl,
                d.expired_capacity,
                d.late,
                d.unknown,
                d.duplicates
            )?;
        }
    }
    if let Some(stats) = &summary.snapshots {
        let why = if stats.skipped > 0 {
            " (a live input outran the drawing, or a picture could not be written)"
        } else {
            ""
        };
        writeln!(out, "  snapshots: {} drawn, {} skipped{why}", stats.drawn, stats.skipped)?;
    }
    if let Some(classes) = &summary.classes {
        let listed: Vec<String> = classes.iter().enumerate().map(|(i, c)| format!("{i}={c}")).collect();
        writeln!(out, "  class ids: {}", listed.join(", "))?;
    }
    Ok(())
}

/// Stop reading on Ctrl-C or SIGTERM; a second one ends the process at once.
pub(crate) fn quit_on_signal() -> Arc<AtomicBool> {
    let quit = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&quit);
    // Setting the handler fails only if one is already set (a second run in one
    // process, e.g. tests); the earlier handler then keeps working.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    quit
}

/// `eddy run`.
pub(crate) fn run(args: RunArgs) -> Result<ExitCode> {
    crate::model::tree::set_threads(args.threads);
    let config = RunConfig::from_args(args, quit_on_signal())?;
    let summary = config.execute()?;
    // Standard error: standard output may be carrying the labels.
    print_summary(&mut std::io::stderr(), &summary)?;
    Ok(ExitCode::SUCCESS)
}
