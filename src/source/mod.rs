//! Where records come from: CSV and NDJSON files (gzip or not, or standard
//! input), NumPy `.npy` matrices, and seeded generators.
//!
//! Every source reads in batches and validates every record: a malformed
//! number, a wrong column count, NaN or infinity, an undeclared label or an
//! over-long line is an error naming the file, line and column. With
//! [`OnError::Skip`] the record is written to the rejects file with the reason
//! and counted instead.

mod npy;
pub mod synth;
mod text;

use crate::record::{Batch, LabelMap, SourcePosition};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use thiserror::Error;

pub use npy::NpySource;
pub use synth::{SynthSource, SynthSpec};
pub use text::{TextFormat, TextSource};

/// A stream of batches.
pub trait Source: Send {
    /// The next batch of at most the configured size; `None` at the end of input.
    fn next_batch(&mut self) -> Result<Option<Batch>, SourceError>;

    /// Names of the feature columns, in order.
    fn feature_names(&self) -> &[String];

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
    /// Fail or skip on a bad record.
    pub on_error: OnError,
    /// Where skipped records go (`line<TAB>reason<TAB>text`).
    pub rejects: Option<PathBuf>,
    /// Longest accepted line, in bytes.
    pub max_line_bytes: usize,
    /// Keep reading a file that grows, until `quit` is set.
    pub follow: bool,
    /// Format of standard input (files are told by their extension).
    pub format: Option<TextFormat>,
    /// A `.npy` of int64 labels to go with a `.npy` of features.
    pub labels_from: Option<PathBuf>,
    /// Set by Ctrl-C or SIGTERM: the source ends the stream early.
    pub quit: Arc<AtomicBool>,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            batch_size: 1024,
            features: None,
            label_column: None,
            classes: None,
            on_error: OnError::Fail,
            rejects: None,
            max_line_bytes: 1 << 20,
            follow: false,
            format: None,
            labels_from: None,
            quit: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Where a record is: `file:line`, and the column when one is to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The input's name (a path, `-` for standard input).
    pub source: String,
    /// Line (text) or row (`.npy`), from 1.
    pub line: u64,
    /// Column number from 1 and its name, when known.
    pub column: Option<(usize, String)>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.line)?;
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

/// Open `input` (a path, `-`, or `synth:...`) as a source.
pub fn open(input: &str, options: SourceOptions) -> Result<Box<dyn Source>, SourceError> {
    if let Some(spec) = input.strip_prefix("synth:") {
        let spec =
            SynthSpec::parse(spec).map_err(|reason| SourceError::Schema { source_name: input.to_string(), reason })?;
        return Ok(Box::new(SynthSource::new(spec, options.batch_size, options.quit)));
    }
    let lower = input.to_ascii_lowercase();
    if lower.ends_with(".npy") {
        return Ok(Box::new(NpySource::open(input, options)?));
    }
    Ok(Box::new(TextSource::open(input, options)?))
}
