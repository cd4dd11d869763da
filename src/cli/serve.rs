//! `eddy serve`: flags → [`ServeOptions`].

use super::run::PrequentialArg;
use crate::model_file::{Key, Keys};
use crate::server::{self, ServeOptions};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `eddy serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The model file to serve (made by `eddy run --save-model`); verified before use.
    #[arg(long, required_unless_present = "follow_model")]
    pub model: Option<PathBuf>,
    /// Serve a group's shared model from its model stream (`redis://HOST:PORT/STREAM`, by
    /// default `<input stream>:<group>:model`; or `kafka://HOST:PORT/<topic>.<group>.model`)
    /// instead of a file, swapping in each
    /// version the workers publish; learning calls are refused (the workers learn).
    #[arg(long, value_name = "URL", conflicts_with_all = ["model", "checkpoint"])]
    pub follow_model: Option<String>,
    /// Threads a forest's trees learn and predict on (0: every core). Answers and models
    /// are the same for any count.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Address to listen on (port 0: any free port). Beyond loopback it needs
    /// --tls-cert/--tls-key and --tokens, or --insecure-listen.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// TLS certificate chain (PEM): serve HTTPS.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow a non-loopback address without TLS or tokens.
    #[arg(long)]
    pub insecure_listen: bool,
    /// Bearer tokens: one `TOKEN ROLE` pair a line, role read, learn or admin. The
    /// file must not be accessible to group or others (chmod 600).
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 8 << 20)]
    pub max_body: usize,
    /// Most records in one request.
    #[arg(long, default_value_t = 100_000)]
    pub max_records: usize,
    /// Longest a request may take, in seconds (answered 408 after).
    #[arg(long, default_value_t = 30.0)]
    pub request_timeout: f64,
    /// Most connections open at once; more are closed at once.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Checkpoint file: written by POST /v1/checkpoint, every --checkpoint-interval
    /// and at shutdown; when it exists at start, it is served instead of --model.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// With --checkpoint: seconds between periodic checkpoints (0: none).
    #[arg(long, default_value_t = 60.0)]
    pub checkpoint_interval: f64,
    /// Verify the model (and sign checkpoints) with this key; also EDDY_SIGNING_KEY_FILE.
    #[arg(long, env = "EDDY_SIGNING_KEY_FILE", hide_env_values = true)]
    pub signing_key: Option<PathBuf>,
    /// Decrypt the model (and encrypt checkpoints) with this key; also EDDY_ENCRYPTION_KEY_FILE.
    #[arg(long, env = "EDDY_ENCRYPTION_KEY_FILE", hide_env_values = true)]
    pub encryption_key: Option<PathBuf>,
    /// per-row or per-batch, as for `eddy run`.
    #[arg(long, value_enum, default_value_t = PrequentialArg::PerRow)]
    pub prequential: PrequentialArg,
    /// Records in the rolling accuracy window.
    #[arg(long, default_value_t = 10_000)]
    pub window: usize,
    /// Most distinct classes (or true labels, for k-means) learn calls may bring: each
    /// costs memory and time for good.
    #[arg(long, default_value_t = 1000)]
    pub max_classes: usize,
    /// Watch the model with this drift detector, e.g. 'adwin': a classifier's prequential
    /// error (1 for a wrong label), a clusterer's distance of each record to its centre
    /// over the running mean (adwin, page-hinkley or kswin). Events in GET /v1/events,
    /// counts in /v1/model and /metrics, its state in the checkpoint.
    #[arg(long, value_name = "DETECTOR")]
    pub drift: Option<String>,
    /// Watch a clusterer's clusters window by window, as `eddy run --cluster-events`:
    /// moved, vanished and appeared events in GET /v1/events, counts in /v1/model and
    /// /metrics. Alone it is 'clusters' (every default); a spec goes after an equals sign
    /// (--cluster-events='clusters(window=5000)').
    #[arg(long, value_name = "SPEC", num_args = 0..=1, require_equals = true, default_missing_value = "clusters")]
    pub cluster_events: Option<String>,
    /// Delayed labels: most records predicted with ids (POST /v1/predict with "ids") that
    /// wait for their labels (POST /v1/feedback); when full, the oldest expires.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_pending: usize,
    /// Delayed labels: how long a record predicted with an id waits for its label, in
    /// records predicted with ids (50000) or in seconds (3600s). Without it, records
    /// wait until the store is full.
    #[arg(long, value_name = "RECORDS|SECONDSs", allow_hyphen_values = true)]
    pub label_ttl: Option<String>,
}

/// A flag in seconds, from 0 to a year (longer would overflow the clock's arithmetic).
fn seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    const YEAR: f64 = 365.0 * 24.0 * 3600.0;
    if !(0.0..=YEAR).contains(&value) {
        anyhow::bail!("--{flag}: {value} is not a number of seconds from 0 to a year");
    }
    Duration::try_from_secs_f64(value).map_err(|_| anyhow::anyhow!("--{flag}: {value} is not a number of seconds"))
}

/// Run `eddy serve`.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::model::tree::set_threads(args.threads);
    let keys = Keys {
        signing: args.signing_key.as_deref().map(Key::read).transpose()?,
        encryption: args.encryption_key.as_deref().map(Key::read).transpose()?,
    };
    let interval = seconds("checkpoint-interval", args.checkpoint_interval)?;
    let options = ServeOptions {
        model: args.model.unwrap_or_default(),
        follow: args.follow_model,
        listen: args.listen,
        tls: args.tls_cert.zip(args.tls_key),
        insecure_listen: args.insecure_listen,
        tokens: args.tokens,
        max_body: args.max_body,
        max_records: args.max_records,
        request_timeout: match seconds("request-timeout", args.request_timeout)? {
            d if d.is_zero() => anyhow::bail!("--request-timeout: 0 would refuse every body not already in"),
            d => d,
        },
        max_connections: args.max_connections,
        checkpoint: args.checkpoint,
        checkpoint_interval: (!interval.is_zero()).then_some(interval),
        keys,
        prequential: args.prequential.into(),
        window: args.window,
        max_classes: args.max_classes,
        drift: match &args.drift {
            Some(spec) => Some(crate::drift::build_text(spec).map_err(|e| anyhow::anyhow!("--drift: {e}"))?),
            None => None,
        },
        max_pending: args.max_pending,
        label_ttl: args.label_ttl.as_deref().map(server::feedback::parse_label_ttl).transpose()?,
        cluster_events: match &args.cluster_events {
            Some(spec) => Some(
                crate::drift::ClusterWatchParams::from_spec_text(spec)
                    .map_err(|e| anyhow::anyhow!("--cluster-events: {e}"))?,
            ),
            None => None,
        },
    };
    let scheme = if options.tls.is_some() { "https" } else { "http" };
    let open = options.tokens.is_none();
    server::serve(options, |addr, info| {
        eprintln!("eddy serve: listening on {scheme}://{addr}");
        if open {
            eprintln!("eddy serve: no --tokens: every call is allowed");
        }
        eprintln!("eddy serve: features {}", info.features.join(","));
        if !info.categorical.is_empty() {
            let names: Vec<&str> = info.categorical.iter().map(|c| c.name.as_str()).collect();
            let missing = if info.fills_missing { "filled" } else { "refused" };
            eprintln!("eddy serve: categorical features {} (missing values {missing})", names.join(","));
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
