//! The `eddy` command line: arguments (close to the flags, only parsed), then
//! [`run::RunConfig`], which builds the source, the models and the sinks.

mod demo;
mod drift;
mod new_model;
mod run;
#[cfg(feature = "server")]
mod serve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

pub use run::{RunArgs, RunConfig};

/// eddy: online machine learning on streams. Learns from records while they flow
/// and labels every record with an int64.
#[derive(Debug, Parser)]
#[command(name = "eddy", version, about, long_about = None)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Label a stream: learn from every record as it passes and write one int64 label per record.
    ///
    /// Examples:
    ///   eddy run data.csv --model 'scale | sgd(loss=log_loss)' --label-column class --labels-out labels.csv
    ///   eddy run data.csv.gz --model 'minibatch-kmeans(n_clusters=5)' --labels-out labels.npy
    ///   eddy run 'synth:blobs?n=1000000&d=16&k=8&seed=1' --model minibatch-kmeans --model gaussian-nb --labels-out out/labels.csv
    ///   tail -f events.ndjson | eddy run - --format ndjson --model perceptron --label-column y --labels-out -
    #[command(verbatim_doc_comment)]
    Run(Box<RunArgs>),
    /// Watch one numeric column for drift: write one JSON line per warning or drift.
    ///
    /// Detectors (ADWIN, Page-Hinkley, KSWIN, DDM, EDDM, HDDM_A, HDDM_W) follow River
    /// 0.26.1; `eddy drift --list` shows their parameters. A summary goes to standard error.
    ///
    /// Examples:
    ///   eddy drift data.csv --column latency --detector 'adwin(delta=0.002)'
    ///   eddy drift errors.ndjson --column wrong --detector ddm --detector hddm-w --events-out events.ndjson
    ///   eddy drift growing.csv --column latency --follow --events-out events.ndjson
    ///   tail -f log.csv | eddy drift - --format csv --column latency
    #[command(verbatim_doc_comment)]
    Drift(Box<drift::DriftArgs>),
    /// Write a report: report.html (self-contained) and report.md with its pictures.
    ///
    /// MODEL_OR_RUN is a run folder with run.json (written by `eddy run --plots DIR` or
    /// `--report DIR`), or a saved model file (.eddy: centres and counts, no sample).
    ///
    /// Example: eddy report plots/ --out report/
    Report {
        /// The run's folder (or its run.json), or a model file.
        #[arg(value_name = "MODEL_OR_RUN")]
        run: PathBuf,
        /// Where the report goes.
        #[arg(long)]
        out: PathBuf,
        /// The model file's signing key, if it is signed; also EDDY_SIGNING_KEY_FILE.
        #[arg(long, env = "EDDY_SIGNING_KEY_FILE", hide_env_values = true)]
        signing_key: Option<PathBuf>,
        /// The model file's encryption key, if it is encrypted; also EDDY_ENCRYPTION_KEY_FILE.
        #[arg(long, env = "EDDY_ENCRYPTION_KEY_FILE", hide_env_values = true)]
        encryption_key: Option<PathBuf>,
    },
    /// Inspect a saved model file: verify it, then print its header and state as JSON.
    ///
    /// Example: eddy model show models/blobs-kmeans.eddy
    #[command(subcommand)]
    Model(ModelCommand),
    /// List or verify the checkpoints of a folder written by `eddy run --checkpoint DIR`.
    ///
    /// Example: eddy checkpoint list ckpt/
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Serve a model over HTTP(S): predict, learn, inspect and checkpoint it.
    ///
    /// Examples:
    ///   eddy serve --model models/sensors-sgd.eddy --listen 127.0.0.1:8080
    ///   eddy serve --model m.eddy --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --tokens tokens.txt --checkpoint state.eddy
    #[cfg(feature = "server")]
    #[command(verbatim_doc_comment)]
    Serve(Box<serve::ServeArgs>),
    /// Run the main job on generated streams: a drift-aware classifier on SEA (its
    /// concept changes every quarter) and forgetting mini-batch k-means on blobs (one
    /// appears, one vanishes), both watched for drift. Writes labels, drift events,
    /// pictures, a report and a summary, and prints where.
    ///
    /// Example: eddy demo --out eddy-demo --records 200000
    Demo {
        /// Directory for the labels and the summary.
        #[arg(long, default_value = "eddy-demo")]
        out: PathBuf,
        /// Records per stream.
        #[arg(long, default_value_t = 200_000)]
        records: u64,
        /// Rows per mini-batch.
        #[arg(long, default_value_t = 1024)]
        batch_size: usize,
        /// Seed of the generated streams and of the models.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// Parse the arguments, run the subcommand, and turn the outcome into an exit code.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Run(args) => run::run(*args),
        Command::Drift(args) => drift::run(*args),
        Command::Checkpoint(cmd) => checkpoints(cmd),
        Command::Report { run, out, signing_key, encryption_key } => {
            report(&run, &out, signing_key.as_deref(), encryption_key.as_deref())
        }
        Command::Model(ModelCommand::New(args)) => new_model::new_model(*args),
        Command::Model(ModelCommand::List { name }) => match crate::model::registry::describe(name.as_deref()) {
            Ok(text) => std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())
                .map(|()| ExitCode::SUCCESS)
                .map_err(anyhow::Error::from),
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Command::Model(ModelCommand::Show { file, tree, depth, signing_key, encryption_key }) => {
            let tree = tree.then_some(depth);
            show_model(&file, tree, signing_key.as_deref(), encryption_key.as_deref())
        }
        #[cfg(feature = "server")]
        Command::Serve(args) => serve::serve(*args),
        Command::Demo { out, records, batch_size, seed } => {
            demo::run(&demo::DemoConfig { out, records, batch_size, seed })
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                // Whoever read our output has gone: not an error.
                return ExitCode::SUCCESS;
            }
            eprintln!("eddy: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `eddy checkpoint ...`.
#[derive(Debug, Subcommand)]
enum CheckpointCommand {
    /// One line per checkpoint: file, time, records, models, and whether it verifies.
    List {
        /// The checkpoint folder.
        dir: PathBuf,
        /// The signing key, if they are signed; also EDDY_SIGNING_KEY_FILE.
        #[arg(long, env = "EDDY_SIGNING_KEY_FILE", hide_env_values = true)]
        signing_key: Option<PathBuf>,
        /// The encryption key, if they are encrypted; also EDDY_ENCRYPTION_KEY_FILE.
        #[arg(long, env = "EDDY_ENCRYPTION_KEY_FILE", hide_env_values = true)]
        encryption_key: Option<PathBuf>,
    },
    /// Check every checkpoint fully; the exit code is 1 if any fails.
    Verify {
        /// The checkpoint folder.
        dir: PathBuf,
        /// The signing key, if they are signed; also EDDY_SIGNING_KEY_FILE.
        #[arg(long, env = "EDDY_SIGNING_KEY_FILE", hide_env_values = true)]
        signing_key: Option<PathBuf>,
        /// The encryption key, if they are encrypted; also EDDY_ENCRYPTION_KEY_FILE.
        #[arg(long, env = "EDDY_ENCRYPTION_KEY_FILE", hide_env_values = true)]
        encryption_key: Option<PathBuf>,
    },
}

fn checkpoints(cmd: CheckpointCommand) -> anyhow::Result<ExitCode> {
    use crate::model_file::{Key, Keys};
    let (dir, signing, encryption, verify) = match cmd {
        CheckpointCommand::List { dir, signing_key, encryption_key } => (dir, signing_key, encryption_key, false),
        CheckpointCommand::Verify { dir, signing_key, encryption_key } => (dir, signing_key, encryption_key, true),
    };
    let keys = Keys {
        signing: signing.as_deref().map(Key::read).transpose()?,
        encryption: encryption.as_deref().map(Key::read).transpose()?,
    };
    let files = crate::checkpoint::files(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    if files.is_empty() {
        anyhow::bail!("{}: no checkpoints", dir.display());
    }
    let mut bad = 0;
    for file in &files {
        match crate::checkpoint::load(file, &keys) {
            Ok((header, checkpoint)) => {
                let models: Vec<&str> = checkpoint.models.iter().map(|m| m.name.as_str()).collect();
                println!(
                    "{}  created {}  records {}  models {}  verified",
                    file.display(),
                    header.created,
                    header.records_seen,
                    models.join(",")
                );
            }
            Err(e) => {
                bad += 1;
                println!("{}  NOT VERIFIED: {e}", file.display());
            }
        }
    }
    Ok(if verify && bad > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `eddy model ...`.
#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Write an untrained model file (to serve with `eddy serve`, which learns it from scratch).
    ///
    /// Example: eddy model new 'scale | sgd(loss=log_loss)' --features temperature,load --classes ok,fail --out m.eddy
    New(Box<new_model::NewModelArgs>),
    /// List every model and stage of the model language with its parameters, defaults,
    /// allowed values and what each does (or only the one named).
    ///
    /// Example: eddy model list sgd
    List {
        /// Show only this model or stage.
        name: Option<String>,
    },
    /// Verify a model file and print it as JSON (header, then the model's state), or, with
    /// --tree, a tree's structure as text.
    ///
    /// Example: eddy model show tree.eddy --tree --depth 3
    Show {
        /// The model file.
        file: PathBuf,
        /// Print the tree as text, one line a node, instead of JSON (tree models).
        #[arg(long)]
        tree: bool,
        /// With --tree: draw at most this many levels.
        #[arg(long, default_value_t = 12, requires = "tree")]
        depth: u32,
        /// The key it was signed with (required if it is signed); also EDDY_SIGNING_KEY_FILE.
        #[arg(long, env = "EDDY_SIGNING_KEY_FILE", hide_env_values = true)]
        signing_key: Option<PathBuf>,
        /// The key it was encrypted with; also EDDY_ENCRYPTION_KEY_FILE.
        #[arg(long, env = "EDDY_ENCRYPTION_KEY_FILE", hide_env_values = true)]
        encryption_key: Option<PathBuf>,
    },
}

/// `eddy model show`: the file as JSON, or (`tree`: the levels to draw) its tree as text.
fn show_model(
    file: &std::path::Path,
    tree: Option<u32>,
    signing: Option<&std::path::Path>,
    encryption: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use crate::model_file::{self, Key, Keys};
    let keys =
        Keys { signing: signing.map(Key::read).transpose()?, encryption: encryption.map(Key::read).transpose()? };
    let (header, model) = model_file::load_model(file, &keys)?;
    if let Some(depth) = tree {
        let text = model
            .as_classifier()
            .and_then(|m| m.head().structure(&header.features, header.classes.as_deref(), depth))
            .ok_or_else(|| anyhow::anyhow!("{}: the model ({}) has no tree to show", file.display(), model.spec()))?;
        let mut out = std::io::stdout().lock();
        std::io::Write::write_all(&mut out, format!("{}\n{text}", model.spec()).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut shown = serde_json::json!({ "header": header, "model": model });
    // The state is shown as stored: behind a scaler, a clusterer keeps its centres in
    // standardised units. Beside it, the centres in the input's units.
    if let Some(m) = model.as_clusterer() {
        let centers = m.centers_in_input_units().map(|c| c.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>());
        shown["centers_in_input_units"] = serde_json::json!(centers);
    }
    // A reader that stops early (`| head`) closes the pipe: not an error (see `is_broken_pipe`).
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, serde_json::to_string_pretty(&shown)?.as_bytes())?;
    std::io::Write::write_all(&mut out, b"\n")?;
    Ok(ExitCode::SUCCESS)
}

fn report(
    run: &std::path::Path,
    out: &std::path::Path,
    signing: Option<&std::path::Path>,
    encryption: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use crate::model_file::{self, Key, Keys};
    let is_model = model_file::is_model_file(run);
    let record = if is_model {
        let keys =
            Keys { signing: signing.map(Key::read).transpose()?, encryption: encryption.map(Key::read).transpose()? };
        let (header, model) = model_file::load_model(run, &keys)?;
        let name = run.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
        let mut record = crate::report::RunRecord::from_model(&name, &header, &model);
        record.input = run.display().to_string();
        record
    } else {
        crate::report::RunRecord::load(run)?
    };
    let files = crate::report::write(&record, out)?;
    println!("report: {}", files.html.display());
    println!("        {}", files.markdown.display());
    Ok(ExitCode::SUCCESS)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
