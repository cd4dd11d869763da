//! Where records come from: CSV and NDJSON files (gzip or not, or standard
//! input), NumPy `.npy` matrices, seeded generators and Redis streams.
//!
//! Every source reads in batches and validates every record: a malformed
//! number, a wrong column count, NaN or infinity, an undeclared label or an
//! over-long line is an error naming the file, line and column. With
//! [`OnError::Skip`] the record is written to the rejects file with the reason
//! and counted instead.
//!
//! The rules for one CSV or JSON record are in [`decode`], which `eddy serve`'s
//! request bodies share: a record refused by one is refused by the other, in the
//! same words.

mod chunked;
pub mod decode;
mod entries;
pub mod feedback;
pub mod join;
#[cfg(feature = "kafka")]
pub mod kafka;
mod npy;
pub mod redis;
pub mod synth;
mod text;

use crate::endpoint::{Endpoint, Engine, FileKind};
use crate::record::{Batch, LabelMap, SourcePosition};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use thiserror::Error;

pub use npy::{read_header as read_npy_header, NpyHeader, NpyInput, NpySource};
pub use synth::{SynthSource, SynthSpec};
pub use text::{TextFormat, TextSource};

/// A stream of batches.
pub trait Source: Send {
    /// The next batch of at most the configured size; `None` at the end of input.
    fn next_batch(&mut self) -> Result<Option<Batch>, SourceError>;

    /// Names of the numeric feature columns (the batches' `x`), in order.
    fn feature_names(&self) -> &[String];

    /// Names of the categorical feature columns (the batches' `cats`), in order.
    fn categorical_names(&self) -> &[String] {
        &[]
    }

    /// The class map, when the input has a label column.
    fn label_map(&self) -> Option<&LabelMap>;

    /// True when batches carry labels.
    fn has_labels(&self) -> bool;

    /// Records rejected so far (with [`OnError::Skip`]).
    fn rejected(&self) -> u64;

    /// Where the source stands after the last batch it returned.
    fn position(&self) -> SourcePosition;

    /// Continue from `position` (taken from this same input): read past what it
    /// covers and restore the counters and the class map. Called right after opening.
    fn resume(&mut self, position: &SourcePosition) -> Result<(), SourceError>;

    /// Make what the source wrote beside the stream (the rejects file) durable: a
    /// checkpoint at [`Source::position`] is about to count on it.
    fn sync(&mut self) -> Result<(), SourceError> {
        Ok(())
    }

    /// How records are marked done in their engine once their labels are durable, when
    /// the engine keeps that apart from the labels (a Kafka group's committed offsets).
    fn acknowledger(&self) -> Option<Arc<dyn Acknowledge>> {
        None
    }
}

/// Marks records done in their engine: a worker of a group that dies afterwards hands
/// them to nobody again. Called only for records whose labels are durable.
pub trait Acknowledge: Send + Sync {
    /// The records with these engine keys (as batches carry them) are done.
    fn acknowledge(&self, keys: &[Arc<str>]) -> Result<(), String>;
}

/// What to do with a bad record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop with an error naming the record (the default).
    #[default]
    Fail,
    /// Write it to the rejects file with the reason, count it, and go on.
    Skip,
}

/// How to read the input.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// Records per batch.
    pub batch_size: usize,
    /// Feature columns by name; `None` means every numeric column except the label.
    pub features: Option<Vec<String>>,
    /// The label column, if any.
    pub label_column: Option<String>,
    /// Declared class names; others are refused.
    pub classes: Option<Vec<String>>,
    /// Class names a saved model already knows, in id order: they keep their ids and
    /// a new name gets the next id (ignored when `classes` is declared).
    pub known_classes: Option<Vec<String>>,
    /// Fail or skip on a bad record.
    pub on_error: OnError,
    /// Where skipped records go (`line<TAB>reason<TAB>text`).
    pub rejects: Option<PathBuf>,
    /// Longest accepted line, in bytes.
    pub max_line_bytes: usize,
    /// Keep reading a file that grows, until `quit` is set.
    pub follow: bool,
    /// Format of standard input (files are told by their extension), or of a Kafka
    /// topic's message values (NDJSON unless CSV).
    pub format: Option<TextFormat>,
    /// The columns of CSV that comes without a header line (a Kafka topic's CSV values,
    /// a headerless file): every line is a record.
    pub columns: Option<Vec<String>>,
    /// A `.npy` of int64 labels to go with a `.npy` of features.
    pub labels_from: Option<PathBuf>,
    /// Columns declared categorical (`--categorical`); string columns are found anyway.
    pub categorical: Vec<String>,
    /// Missing values (an empty field, `null`, `NA`, `NaN`, `nan`) are let through, as
    /// NaN (numeric) or `None` (categorical), for an imputer of the model to fill;
    /// otherwise a record with one is a bad record.
    pub missing: bool,
    /// Set by Ctrl-C or SIGTERM: the source ends the stream early.
    pub quit: Arc<AtomicBool>,
    /// Join delayed labels to their events by id (`--id-column ID --delayed-labels`;
    /// CSV and NDJSON inputs).
    pub delayed: Option<join::DelayedOptions>,
    /// Engines (`redis://`): stop at the end of what the stream holds when it is read,
    /// instead of waiting for new records.
    pub until_end: bool,
    /// Read a Redis stream or a Kafka topic as a worker of a consumer group (`--group`,
    /// `--worker`).
    pub group: Option<GroupOptions>,
    /// Threads that parse a file (0: every core; 1: the calling thread only). The
    /// records, errors and positions are the same for any count.
    pub threads: usize,
}

/// A worker of a consumer group: the engine shares the stream's entries among the
/// group's workers, and an entry is done once its labels are written (acknowledged with
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOptions {
    /// The group's name.
    pub group: String,
    /// This worker's name in the group (a restarted worker takes up its own pending entries).
    pub worker: String,
    /// How long another worker's entry must have been pending before this one claims it
    /// (milliseconds).
    pub claim_idle_ms: u64,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            batch_size: 1024,
            features: None,
            label_column: None,
            classes: None,
            known_classes: None,
            on_error: OnError::Fail,
            rejects: None,
            max_line_bytes: 1 << 20,
            follow: false,
            format: None,
            columns: None,
            labels_from: None,
            categorical: Vec::new(),
            missing: false,
            quit: Arc::new(AtomicBool::new(false)),
            delayed: None,
            until_end: false,
            group: None,
            threads: 0,
        }
    }
}

/// Where a record is: `file:line` (or a stream's entry id), and the column when one
/// is to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The input's name (a path, `-` for standard input, a `redis://` address).
    pub source: String,
    /// Line (text) or row (`.npy`), from 1.
    pub line: u64,
    /// The record's id in its engine (a Redis entry id), which names it instead of the line.
    pub entry: Option<String>,
    /// Column number from 1 and its name, when known.
    pub column: Option<(usize, String)>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry {
            Some(entry) => write!(f, "{}: entry {entry}", self.source)?,
            None => write!(f, "{}:{}", self.source, self.line)?,
        }
        if let Some((n, name)) = &self.column {
            write!(f, ": column {n} ({name})")?;
        }
        Ok(())
    }
}

/// Why a source stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Reading failed.
    #[error("reading {source_name}")]
    Io {
        /// The input.
        source_name: String,
        /// What the OS said.
        #[source]
        error: std::io::Error,
    },
    /// A bad record (with [`OnError::Fail`]).
    #[error("{position}: {reason}")]
    Record {
        /// Where.
        position: Position,
        /// What is wrong.
        reason: String,
    },
    /// The input does not fit the options (missing column, unknown format, ...).
    #[error("{source_name}: {reason}")]
    Schema {
        /// The input.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
}

/// True when `input` brings records as they are written, each wanted as soon as it
/// comes: standard input, a named pipe (`/dev/stdin`, anything but a regular file), a
/// followed file, a Redis or Kafka stream. Such an input keeps one parser, and its
/// snapshots are skipped rather than waited for.
pub fn is_live(input: &str, follow: bool) -> bool {
    follow
        || matches!(Endpoint::of(input), Endpoint::Stdio | Endpoint::Stream(_))
        || std::fs::metadata(input).is_ok_and(|m| !m.is_file())
}

/// Open `input` (a path, `-`, `synth:...` or `redis://...`) as a source.
pub fn open(input: &str, options: SourceOptions) -> Result<Box<dyn Source>, SourceError> {
    let endpoint = Endpoint::of(input);
    let lines_of_text =
        matches!(endpoint, Endpoint::Stdio | Endpoint::File(FileKind::Text) | Endpoint::Stream(Engine::Kafka));
    if options.columns.is_some() && !lines_of_text {
        return Err(SourceError::Schema {
            source_name: input.to_string(),
            reason: "--columns names the columns of CSV without a header: this input names its own".into(),
        });
    }
    Ok(match endpoint {
        Endpoint::Stream(Engine::Redis) => Box::new(redis::RedisSource::open(input, options)?),
        #[cfg(feature = "kafka")]
        Endpoint::Stream(Engine::Kafka) => Box::new(kafka::KafkaSource::open(input, options)?),
        #[cfg(not(feature = "kafka"))]
        Endpoint::Stream(Engine::Kafka) => {
            return Err(SourceError::Schema {
                source_name: input.to_string(),
                reason: "this eddy was built without Kafka (cargo feature \"kafka\")".into(),
            })
        }
        Endpoint::Synth(spec) => {
            let spec = SynthSpec::parse(spec)
                .map_err(|reason| SourceError::Schema { source_name: input.to_string(), reason })?;
            Box::new(SynthSource::new(spec, &options)?)
        }
        Endpoint::File(FileKind::Npy) => Box::new(NpySource::open(input, options)?),
        Endpoint::Stdio | Endpoint::File(FileKind::Text) => Box::new(TextSource::open(input, options)?),
    })
}

/// The rejects file (`--rejects`): a header line, then one line per rejected record.
///
/// It is created on first use rather than at open, so that a resumed run can take up
/// the file as the checkpoint left it (cut back to the checkpoint's length) instead
/// of starting it over.
pub(crate) struct RejectsFile {
    path: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
    len: u64,
    /// Add to the file rather than start it over (a group's worker restarted without a
    /// checkpoint: the records it rejected before are acknowledged, and stay listed).
    append: bool,
}

impl RejectsFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, out: None, len: 0, append: false }
    }

    /// A rejects file added to: what it holds stays.
    pub(crate) fn appending(path: PathBuf) -> Self {
        Self { append: true, ..Self::new(path) }
    }

    fn io(&self, error: std::io::Error) -> SourceError {
        SourceError::Io { source_name: self.path.display().to_string(), error }
    }

    /// The writer, creating the file (with its header) on first use.
    fn out(&mut self) -> Result<&mut std::io::BufWriter<std::fs::File>, SourceError> {
        let out = match self.out.take() {
            Some(out) => out,
            None => {
                const HEADER: &str = "source\tline\treason\trecord\n";
                let file = if self.append {
                    std::fs::OpenOptions::new().create(true).append(true).open(&self.path)
                } else {
                    std::fs::File::create(&self.path)
                };
                let file = file.map_err(|e| self.io(e))?;
                let held = file.metadata().map_err(|e| self.io(e))?.len();
                let mut out = std::io::BufWriter::new(file);
                self.len = held;
                if held == 0 {
                    std::io::Write::write_all(&mut out, HEADER.as_bytes()).map_err(|e| self.io(e))?;
                    self.len = HEADER.len() as u64;
                }
                out
            }
        };
        Ok(self.out.insert(out))
    }

    /// Append one line (tabs and line breaks in it are the caller's to replace).
    pub(crate) fn write_line(&mut self, line: &str) -> Result<(), SourceError> {
        let out = self.out()?;
        let written =
            std::io::Write::write_all(out, line.as_bytes()).and_then(|()| std::io::Write::write_all(out, b"\n"));
        written.map_err(|e| self.io(e))?;
        self.len += line.len() as u64 + 1;
        Ok(())
    }

    /// Hand what was written to the OS.
    pub(crate) fn flush(&mut self) -> Result<(), SourceError> {
        let out = self.out()?;
        std::io::Write::flush(out).map_err(|e| self.io(e))
    }

    /// Flush and sync to disk: a checkpoint is about to count on it.
    pub(crate) fn sync(&mut self) -> Result<(), SourceError> {
        self.flush()?;
        let synced = self.out.as_mut().map_or(Ok(()), |out| out.get_ref().sync_data());
        synced.map_err(|e| self.io(e))
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Take up the file a checkpoint left: cut it back to `len` bytes and append after them.
    pub(crate) fn resume(&mut self, len: u64) -> Result<(), SourceError> {
        let file = std::fs::OpenOptions::new().write(true).open(&self.path).map_err(|e| self.io(e))?;
        let found = file.metadata().map_err(|e| self.io(e))?.len();
        if found < len {
            return Err(SourceError::Schema {
                source_name: self.path.display().to_string(),
                reason: format!(
                    "the rejects file has {found} bytes, fewer than the checkpoint's {len}: was it changed?"
                ),
            });
        }
        file.set_len(len).map_err(|e| self.io(e))?;
        let mut out = std::io::BufWriter::new(file);
        std::io::Seek::seek(&mut out, std::io::SeekFrom::Start(len)).map_err(|e| self.io(e))?;
        self.out = Some(out);
        self.len = len;
        Ok(())
    }
}

/// Take up the rejects file where the checkpoint left it.
pub(crate) fn resume_rejects(
    rejects: Option<&mut RejectsFile>,
    position: &crate::record::SourcePosition,
    name: &str,
) -> Result<(), SourceError> {
    match (rejects, position.rejects_len) {
        (Some(file), Some(len)) => file.resume(len),
        (Some(_), None) => Err(SourceError::Schema {
            source_name: name.to_string(),
            reason: "the checkpoint does not record the rejects file (it was taken without --rejects, or by an \
                     older eddy): resume without --rejects, or start over"
                .into(),
        }),
        (None, _) => Ok(()),
    }
}
