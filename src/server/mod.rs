//! `eddy serve`: a model behind an HTTP API that labels records and keeps learning.
//!
//! ```text
//!              ┌── predict, model, snapshot, metrics: read the live model (ArcSwap) ──┐
//! connection ──┤                                                                      ├──▶ answer
//!  (TLS, auth) └── learn, checkpoint: a bounded queue ──▶ learner thread ── publish ──┘
//! ```
//!
//! One thread learns, in arrival order, through the pipeline's own
//! predict-then-learn step; it publishes an immutable copy of the model after
//! every batch, so predictions never wait for learning. The queue is bounded:
//! when the learner falls behind, learn requests wait for room instead of
//! piling up in memory.
//!
//! Connections go through our own accept loop (hyper-util): TLS (rustls) when
//! a certificate is given, a limit on open connections, a time limit on the TLS
//! handshake and on reading request headers, and a graceful stop on SIGTERM or
//! Ctrl-C that finishes the requests under way and then saves a checkpoint.

mod auth;
pub mod body;
pub mod feedback;
mod follow;
mod http;
mod learn_log;
mod learner;
mod listen;
mod metrics;

pub use auth::{Role, Tokens, MIN_TOKEN_LEN};
pub use http::{OPENAPI, ROUTES};
pub use learner::{CategoricalColumn, DriftCounts, ModelInfo, Saved};

use crate::model::Model;
use crate::model_file::{self, Header, Keys, ModelFileError};
use crate::pipeline::Prequential;
use arc_swap::ArcSwap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The model file to serve (verified before it is used).
    pub model: PathBuf,
    /// Where to listen, e.g. `127.0.0.1:8080` (port 0: any free port).
    pub listen: String,
    /// TLS certificate chain and private key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Allow listening beyond loopback without TLS and tokens.
    pub insecure_listen: bool,
    /// The tokens file; without one, every call is allowed (loopback only).
    pub tokens: Option<PathBuf>,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Most records in one request.
    pub max_records: usize,
    /// Longest a request body may take to arrive; also the longest a response may
    /// stall unread before its connection is closed.
    pub request_timeout: Duration,
    /// Most connections open at once; more are closed at once.
    pub max_connections: usize,
    /// The checkpoint file: written by `POST /v1/checkpoint`, periodically and at
    /// shutdown, and loaded instead of `model` at start when it exists.
    pub checkpoint: Option<PathBuf>,
    /// Checkpoint this often (when something was learned).
    pub checkpoint_interval: Option<Duration>,
    /// Keys to verify the model and to sign/encrypt checkpoints.
    pub keys: Keys,
    /// When learned records are labelled.
    pub prequential: Prequential,
    /// Records in the rolling accuracy window.
    pub window: usize,
    /// Watch a classifier's prequential error with this drift detector (`--drift`):
    /// events in `GET /v1/events`, counts in `/v1/model` and `/metrics`.
    pub drift: Option<Box<dyn crate::drift::Detector>>,
    /// Watch a clusterer's clusters (`--cluster-events`): moved, vanished and appeared
    /// events beside the detector's.
    pub cluster_events: Option<crate::drift::ClusterWatchParams>,
    /// Most distinct classes (or true labels, for a clusterer) the model may come to know.
    pub max_classes: usize,
    /// Most records predicted with ids that wait for their labels (`--max-pending`);
    /// when full, the oldest expires to make room.
    pub max_pending: usize,
    /// How long a record predicted with an id waits for its label (`--label-ttl`), in
    /// records predicted with ids or in milliseconds; `None`: until the store is full.
    pub label_ttl: Option<crate::pipeline::pending::Ttl>,
    /// Serve a group's shared model from its model stream (`redis://...`) instead of
    /// `model`, swapping in each new version as the workers publish it; learning is
    /// refused (the workers learn).
    pub follow: Option<String>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            model: PathBuf::new(),
            listen: "127.0.0.1:8080".into(),
            tls: None,
            insecure_listen: false,
            tokens: None,
            max_body: 8 << 20,
            max_records: 100_000,
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            checkpoint: None,
            checkpoint_interval: Some(Duration::from_secs(60)),
            keys: Keys::default(),
            prequential: Prequential::PerRow,
            window: 10_000,
            max_classes: 1000,
            drift: None,
            cluster_events: None,
            max_pending: 100_000,
            label_ttl: None,
            follow: None,
        }
    }
}

/// Learn the batches of the learn log at `log` onto `model` (saved with `header`),
/// exactly as `eddy serve --checkpoint` does at start, and return the model with the
/// batches and records learned again. Every entry is checked before it is used; a
/// log that does not fit the model is refused. A torn last frame is cut off the file.
pub fn replay_learn_log(
    model: Model,
    header: &Header,
    log: &Path,
    options: &ServeOptions,
) -> Result<(Model, u64, u64), ServerError> {
    let metrics = Arc::new(metrics::Metrics::new());
    let (mut learner, _) = learner::Learner::new(model, header, options, None, metrics)?;
    let (batches, records) = learner.open_log(log, &options.keys)?;
    Ok((learner.into_model(), batches, records))
}

/// Why the service could not start (or stopped).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The shared model of `--follow-model` could not be read.
    #[error(transparent)]
    Follow(#[from] crate::sync::SyncError),
    /// Reading a file failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        error: std::io::Error,
    },
    /// The tokens file is malformed.
    #[error("{path}:{line}: {reason}")]
    Tokens {
        /// The file.
        path: PathBuf,
        /// The line (0: the whole file).
        line: usize,
        /// Why.
        reason: String,
    },
    /// The tokens file may be read by others.
    #[error("{path}: the tokens file has mode {mode:o}: group and others must have no access (chmod 600)")]
    TokensReadable {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The model or checkpoint file was refused.
    #[error(transparent)]
    ModelFile(#[from] ModelFileError),
    /// The model cannot be watched as asked (`--drift` with a detector of 0/1 errors
    /// on a clusterer, or `--cluster-events` out of range).
    #[error("--drift or --cluster-events")]
    Watch(#[source] crate::pipeline::PipelineError),
    /// The model's categorical columns (its file's header) are not all encoded by its
    /// stages: it could not take the records it would be sent.
    #[error(
        "the model cannot serve records with the categorical columns [{}]: {reason}",
        columns.join(", ")
    )]
    Categorical {
        /// The categorical columns the model file names.
        columns: Vec<String>,
        /// What the model's stages say.
        reason: String,
    },
    /// The checkpoint holds a model of other features than `--model`.
    #[error("{checkpoint}: the checkpoint's features {found:?} differ from the model's {expected:?}")]
    CheckpointMismatch {
        /// The checkpoint.
        checkpoint: PathBuf,
        /// Its features.
        found: Vec<String>,
        /// The model's.
        expected: Vec<String>,
    },
    /// The learn log cannot be replayed.
    #[error("{path}: learn log entry at byte {offset}: {reason}")]
    LearnLog {
        /// The log.
        path: PathBuf,
        /// Where the entry starts.
        offset: u64,
        /// Why.
        reason: String,
    },
    /// The address cannot be listened on.
    #[error("listening on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// Listening beyond loopback without protection.
    #[error(
        "{addr} is not a loopback address: serving beyond this machine needs --tls-cert/--tls-key and --tokens (or --insecure-listen to do without)"
    )]
    Insecure {
        /// The address.
        addr: String,
    },
    /// The TLS certificate or key is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// A setting is out of range.
    #[error("{0}")]
    Settings(String),
    /// The async runtime could not start.
    #[error("starting the runtime")]
    Runtime(#[source] std::io::Error),
}

/// An error answer: a status and a message, sent as JSON `{"error": ..., "status": ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the caller.
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: String) -> Self {
        Self { status, message }
    }
    /// 400: the body could not be read as the format it claims.
    pub fn bad(message: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required (Authorization: Bearer TOKEN)".into())
    }
    /// 403.
    pub fn forbidden(needed: Role) -> Self {
        Self::new(StatusCode::FORBIDDEN, format!("this token's role may not do this: it needs the {needed:?} role"))
    }
    /// 404.
    pub fn not_found(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("no such route: {path}"))
    }
    /// 405.
    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not take this method".into())
    }
    /// 409: the model cannot do this yet, or the service is not set up for it.
    pub fn conflict(message: String) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    /// 413: the body is larger than `--max-body`.
    pub fn too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than --max-body ({limit} bytes)"))
    }
    /// 413: more records than `--max-records`.
    pub fn too_many(records: usize, limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{records} records or more: a request may carry at most --max-records ({limit})"),
        )
    }
    /// 413: an NDJSON object line longer than a record needs.
    pub fn too_large_line(line: usize, limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("line {line}: an object line is longer than a record of this model needs ({limit} bytes)"),
        )
    }
    /// 415.
    pub fn unsupported(message: String) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }
    /// 422: well-formed, but not records this model takes.
    pub fn unprocessable(message: String) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    /// 408: the body took longer than `--request-timeout` to arrive.
    pub fn timeout(limit: Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body took longer than --request-timeout ({}s) to arrive", limit.as_secs_f64()),
        )
    }
    /// 503: the service is stopping.
    pub fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "the service is stopping".into())
    }
    /// 500.
    pub fn internal(message: String) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = axum::Json(serde_json::json!({ "error": self.message, "status": self.status.as_u16() }));
        if self.status == StatusCode::UNAUTHORIZED {
            (self.status, [(axum::http::header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
        } else {
            (self.status, body).into_response()
        }
    }
}

/// Load the model to serve: the checkpoint when it exists (it is this model, further
/// along), else `--model`. Both are verified (digest, and signature when a key is set).
fn load_model(options: &ServeOptions) -> Result<(Header, Model, PathBuf), ServerError> {
    let (header, model) = model_file::load_model(&options.model, &options.keys)?;
    let Some(checkpoint) = options.checkpoint.as_ref().filter(|p| p.exists()) else {
        return Ok((header, model, options.model.clone()));
    };
    let (saved, model) = model_file::load_model(checkpoint, &options.keys)?;
    if saved.features != header.features || saved.categorical != header.categorical {
        // Named as a positional record has them: the numeric features, then the categorical ones.
        let all = |h: Header| h.features.into_iter().chain(h.categorical).collect();
        return Err(ServerError::CheckpointMismatch {
            checkpoint: checkpoint.clone(),
            found: all(saved),
            expected: all(header),
        });
    }
    Ok((saved, model, checkpoint.clone()))
}

/// Resolve `listen` and refuse an unprotected address beyond loopback.
fn address(options: &ServeOptions) -> Result<SocketAddr, ServerError> {
    use std::net::ToSocketAddrs;
    let listen_err = |reason: String| ServerError::Listen { addr: options.listen.clone(), reason };
    let addr = options
        .listen
        .to_socket_addrs()
        .map_err(|e| listen_err(e.to_string()))?
        .next()
        .ok_or_else(|| listen_err("the name has no address".into()))?;
    let protected = options.tls.is_some() && options.tokens.is_some();
    if !addr.ip().is_loopback() && !protected && !options.insecure_listen {
        return Err(ServerError::Insecure { addr: options.listen.clone() });
    }
    Ok(addr)
}

/// Serve until SIGTERM or Ctrl-C; then finish the requests under way, save a
/// checkpoint (when `checkpoint` is set and something was learned) and return.
///
/// `ready` is called with the address listened on (useful with port 0).
pub fn serve(options: ServeOptions, ready: impl FnOnce(SocketAddr, &ModelInfo)) -> Result<(), ServerError> {
    if options.max_connections == 0
        || options.max_records == 0
        || options.max_body == 0
        || options.window == 0
        || options.max_classes == 0
    {
        return Err(ServerError::Settings(
            "--max-connections, --max-records, --max-body, --max-classes and --window must be at least 1".into(),
        ));
    }
    let tokens = options.tokens.as_deref().map(Tokens::load).transpose()?.map(|t| Arc::new(ArcSwap::from_pointee(t)));
    let addr = address(&options)?;
    let tls = options
        .tls
        .as_ref()
        .map(|(cert, key)| listen::tls_acceptor(cert, key))
        .transpose()?
        .map(|t| Arc::new(ArcSwap::from_pointee(t)));
    if options.follow.is_some() && options.checkpoint.is_some() {
        return Err(ServerError::Settings(
            "--follow-model keeps no --checkpoint: the shared model lives in its model stream".into(),
        ));
    }
    let (header, model, origin, shared) = match &options.follow {
        Some(url) => {
            let (header, model, shared) = follow::start(url, &options.keys)?;
            (header, model, PathBuf::from(crate::source::redis::display_name(url)), Some(shared))
        }
        None => {
            let (header, model, origin) = load_model(&options)?;
            (header, model, origin, None)
        }
    };
    eprintln!(
        "eddy serve: model {} ({}, {} features, {} records seen)",
        origin.display(),
        model.spec(),
        header.n_features,
        header.records_seen
    );
    let metrics = Arc::new(metrics::Metrics::new());
    let target = options.checkpoint.clone().map(|path| learner::CheckpointTarget { path, keys: options.keys.clone() });
    let (mut learner, live) = learner::Learner::new(model, &header, &options, target, Arc::clone(&metrics))?;
    if let Some(checkpoint) = &options.checkpoint {
        // Only when the checkpoint is what is served: the scores are of that model.
        if origin == *checkpoint && learner.restore_scores(checkpoint, &options.keys)? {
            eprintln!("eddy serve: scores of the checkpoint taken up");
        }
        let log = learn_log::path_for(checkpoint);
        let (batches, records) = learner.open_log(&log, &options.keys)?;
        if batches > 0 {
            eprintln!("eddy serve: learned {records} records again ({batches} batches) from {}", log.display());
        }
        if origin == *checkpoint {
            if let Some(n) = learner.restore_pending(checkpoint, &options.keys)? {
                eprintln!("eddy serve: records waiting for their labels, taken up: {n}");
            }
        }
    }
    let pending = learner.pending_view();
    // Room for a few batches: enough to keep the learner busy, few enough that
    // memory stays bounded when learn traffic outruns it.
    let (jobs, queue) = tokio::sync::mpsc::channel(16);
    let learner = std::thread::Builder::new()
        .name("learner".into())
        .spawn(move || learner.run(queue))
        .map_err(ServerError::Runtime)?;
    let stop_following = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let follower = shared.map(|s| follow::spawn(s, jobs.clone(), Arc::clone(&stop_following))).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(ServerError::Runtime)?;
    let state =
        http::AppState::new(Arc::clone(&live), pending, jobs.clone(), tokens.clone(), Arc::clone(&metrics), &options);
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ServerError::Listen { addr: options.listen.clone(), reason: e.to_string() })?;
        let bound = listener.local_addr().map_err(ServerError::Runtime)?;
        // The handlers go in before anyone is told where we listen: a SIGTERM or SIGHUP
        // sent right after must find them, not the default action (ending the process).
        let signals = Signals::install().map_err(ServerError::Runtime)?;
        ready(bound, &live.load().info);
        let periodic = options.checkpoint.as_ref().and(options.checkpoint_interval).map(|every| {
            let jobs = jobs.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(e) = http::checkpoint(&jobs, true).await {
                        eprintln!("eddy serve: periodic checkpoint failed: {}", e.message);
                    }
                }
            })
        });
        let reloads = tokio::spawn(reload_on_hangup(signals.hangup, options.clone(), tokens, tls.clone()));
        let limits = listen::Limits {
            max_connections: options.max_connections,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            grace: options.request_timeout,
            write_stall: options.request_timeout,
        };
        listen::accept_loop(listener, tls, http::router(state), limits, Arc::clone(&metrics), signals.stop).await;
        if let Some(task) = periodic {
            task.abort();
        }
        reloads.abort();
        if options.checkpoint.is_some() {
            match http::checkpoint(&jobs, true).await {
                Ok(Some(saved)) => {
                    eprintln!("eddy serve: checkpoint {} ({} records)", saved.path.display(), saved.records_seen)
                }
                Ok(None) => eprintln!("eddy serve: nothing learned since the last checkpoint"),
                Err(e) => eprintln!("eddy serve: the final checkpoint failed: {}", e.message),
            }
        }
        Ok::<(), ServerError>(())
    });
    stop_following.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(f) = follower {
        let _ = f.join();
    }
    drop(jobs);
    // Handlers still parked in the runtime hold senders: drop them with it, so the learner's queue closes.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let _ = learner.join();
    result
}

/// The service's signal handlers, installed at once.
struct Signals {
    /// Resolves at SIGTERM or Ctrl-C.
    stop: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    /// SIGHUP, where there is one.
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
    #[cfg(not(unix))]
    hangup: (),
}

impl Signals {
    #[cfg(unix)]
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let (mut term, mut interrupt) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
        let hangup = signal(SignalKind::hangup())?;
        let stop = Box::pin(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = interrupt.recv() => {}
            }
            eprintln!("eddy serve: stopping");
        });
        Ok(Self { stop, hangup })
    }

    #[cfg(not(unix))]
    fn install() -> std::io::Result<Self> {
        let stop = Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("eddy serve: stopping");
        });
        Ok(Self { stop, hangup: () })
    }
}

/// At each SIGHUP, read the tokens file and the TLS certificate and key again: tokens
/// can be rotated and a renewed certificate taken up without a restart (and without
/// losing the connections under way). A file that fails to load is reported and the
/// old one kept.
async fn reload_on_hangup(
    #[cfg(unix)] mut hangups: tokio::signal::unix::Signal,
    #[cfg(not(unix))] _hangups: (),
    options: ServeOptions,
    tokens: Option<Arc<ArcSwap<Tokens>>>,
    tls: Option<Arc<ArcSwap<tokio_rustls::TlsAcceptor>>>,
) {
    #[cfg(unix)]
    while hangups.recv().await.is_some() {
        if let (Some(path), Some(current)) = (&options.tokens, &tokens) {
            match Tokens::load(path) {
                Ok(t) => {
                    eprintln!("eddy serve: {}: {} tokens loaded", path.display(), t.len());
                    current.store(Arc::new(t));
                }
                Err(e) => eprintln!("eddy serve: keeping the tokens in use: {e}"),
            }
        }
        if let (Some((cert, key)), Some(current)) = (&options.tls, &tls) {
            match listen::tls_acceptor(cert, key) {
                Ok(acceptor) => {
                    eprintln!("eddy serve: {}: certificate loaded", cert.display());
                    current.store(Arc::new(acceptor));
                }
                Err(e) => eprintln!("eddy serve: keeping the certificate in use: {e}"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (options, tokens, tls);
    }
}
