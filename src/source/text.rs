//! CSV and NDJSON sources, plain or gzip, from a file or standard input.
//!
//! Lines are read by hand rather than through the `csv` crate's reader, for
//! three things it cannot do: cap the length of a line without buffering all of
//! it, keep reading a file that grows (`--follow`, where its reader stops for
//! good at the first end of file), and resume after a bad line in skip mode.
//! Each line is then decoded by [`super::decode`], whose rules and errors the
//! request bodies of `eddy serve` share. One record per line: a quoted field may
//! not contain a newline.

use super::chunked::{Chunked, Label, Step, CHUNK_BYTES};
use super::decode::{
    is_missing, parse_bool, parse_number, CatSink, CsvLayout, Fields, JsonDecoder, Reason, RecordError,
};
use super::feedback::{FeedbackLine, FeedbackStream};
use super::join::{Join, Joined};
use super::{OnError, Position, Source, SourceError, SourceOptions};
use crate::record::{Batch, Categories, Interner, LabelMap, Role, Roles};
use ndarray::Array2;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Text formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line; features and label by key.
    Ndjson,
}

impl TextFormat {
    /// The format a file name implies (`.csv`, `.ndjson`, `.jsonl`, optionally `.gz`).
    pub fn from_path(path: &str) -> Option<Self> {
        let lower = path.to_ascii_lowercase();
        let lower = lower.strip_suffix(".gz").unwrap_or(&lower);
        if lower.ends_with(".csv") || lower.ends_with(".txt") {
            Some(Self::Csv)
        } else if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") || lower.ends_with(".json") {
            Some(Self::Ndjson)
        } else {
            None
        }
    }
}

/// How a line ended.
enum LineStatus {
    /// A whole line is in the buffer.
    Complete,
    /// Following a file and nothing new yet.
    Idle,
    /// End of input.
    Eof,
}

/// CSV or NDJSON records as batches. See the module documentation.
pub struct TextSource {
    name: String,
    reader: Box<dyn BufRead + Send>,
    format: TextFormat,
    options: SourceOptions,
    /// Numeric features.
    features: Vec<String>,
    /// Categorical features.
    categorical: Vec<String>,
    cat_names: Arc<[String]>,
    /// Turns a line into a record's values.
    parser: RecordParser,
    labels: Option<LabelMap>,
    /// The current line (up to the limit), without its newline once complete.
    line: Vec<u8>,
    /// Bytes of the current line dropped beyond the limit.
    dropped: usize,
    line_no: u64,
    next_id: u64,
    seq: u64,
    offset: u64,
    /// `line` holds a record read while resolving columns, not yet taken.
    held: bool,
    /// An error met after some records of a batch: reported on the next call,
    /// so the records before it still reach the sinks.
    pending_error: Option<SourceError>,
    rejects: Option<super::RejectsFile>,
    rejected: u64,
    ended: bool,
    /// CRC-32 of every byte consumed, for checkpoints.
    checksum: crc32fast::Hasher,
    /// Part of a line has been consumed, not yet all of it (a growing file, or an
    /// input that failed mid-line).
    partial: bool,
    /// The offset and checksum before that line: where the records read end.
    line_start: (u64, crc32fast::Hasher),
    /// With delayed labels: the join, and where the id, the label and the features are.
    join: Option<(Join, DelayedColumns)>,
    /// With labels in a second stream (`--labels-from`): that stream.
    feedback: Option<Feedback>,
    /// The engine's id of a line, when the text stands for an engine's records.
    line_names: Option<LineNames>,
    /// Bytes before the first record (the header's).
    data_start: u64,
    /// The input may be parsed on several threads: it is a file that ends.
    chunkable: bool,
    /// Bytes per chunk when parsed on several threads.
    chunk_bytes: usize,
    /// The threads parsing the input, once started (by the first batch).
    chunked: Option<Chunked>,
}

/// What the reader of an engine's stream knows of the lines it wrote: the id of the
/// record each line was made from, and the records it could not write as they came.
pub(crate) trait LineOrigin: Send + Sync {
    /// The record id of `line` (`None` for a line that is no record, the header).
    fn name(&self, line: u64) -> Option<String>;
    /// Why the record on `line` is refused before it is read, if it is.
    fn refusal(&self, line: u64) -> Option<String>;
    /// The record on `line` was rejected (it will get no label).
    fn rejected(&self, line: u64) {
        let _ = line;
    }
}

/// A shared [`LineOrigin`].
pub(crate) type LineNames = Arc<dyn LineOrigin>;

/// The second stream of labels, as the source reads it.
struct Feedback {
    stream: FeedbackStream,
    /// CSV: the id's and the label's columns, once the header is read.
    columns: Option<(usize, usize)>,
    fields: Fields,
}

/// Where a record came from, for its errors and rejects lines.
struct Origin {
    name: String,
    line_no: u64,
    text: Vec<u8>,
    /// The id's column (from 0) and name.
    id_at: (usize, String),
}

/// Where a CSV record holds what tells an event from feedback (unused for NDJSON,
/// which is read by key).
#[derive(Debug, Clone, Default)]
struct DelayedColumns {
    id: usize,
    /// `None` when the events hold no label column (labels in a second stream).
    label: Option<usize>,
    features: Vec<usize>,
}

/// What a record holds, as far as the join cares.
struct Parts {
    id: String,
    label: Option<String>,
    has_features: bool,
    /// The id's column (from 0) and name, for errors.
    id_at: (usize, String),
}

impl TextSource {
    /// Open a file (`.gz` decompressed) or standard input (`-`) and read its header.
    pub fn open(input: &str, options: SourceOptions) -> Result<Self, SourceError> {
        let name = if input == "-" { "<stdin>".to_string() } else { input.to_string() };
        let io_err = |error| SourceError::Io { source_name: name.clone(), error };
        let format = match (input, TextFormat::from_path(input), options.format) {
            (_, _, Some(f)) => f,
            ("-", _, None) => TextFormat::Csv,
            (_, Some(f), None) => f,
            (_, None, None) => {
                return Err(SourceError::Schema {
                    source_name: name,
                    reason: "unknown file type: name it .csv, .ndjson or .jsonl (optionally .gz), or give --format"
                        .into(),
                })
            }
        };
        let reader: Box<dyn BufRead + Send> = if input == "-" {
            let mut stdin = BufReader::with_capacity(1 << 16, StdinChunks::spawn());
            // Wait for the first bytes (or the end) to tell gzip from text.
            let head = loop {
                match stdin.fill_buf() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && !options.quit.load(Ordering::Relaxed) => {
                        continue
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break &[][..],
                    other => break other.map_err(io_err)?,
                }
            };
            if head.starts_with(&[0x1f, 0x8b]) {
                Box::new(BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(stdin)))
            } else {
                Box::new(stdin)
            }
        } else {
            let mut file = File::open(input).map_err(io_err)?;
            let mut magic = [0u8; 2];
            let n = file.read(&mut magic).map_err(io_err)?;
            let gzip = n == 2 && magic == [0x1f, 0x8b];
            let file = File::open(input).map_err(io_err)?;
            if gzip {
                if options.follow {
                    return Err(SourceError::Schema {
                        source_name: name,
                        reason: "--follow needs an uncompressed file".into(),
                    });
                }
                Box::new(BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(file)))
            } else {
                Box::new(BufReader::with_capacity(1 << 16, file))
            }
        };
        let live = super::is_live(input, options.follow);
        let source = Self::from_reader(name, reader, format, options)?;
        Ok(if live { source } else { source.parse_on_threads() })
    }

    /// Parse the input on `SourceOptions::threads` threads (0: every core) rather than
    /// on the calling one, for an input that ends (a file, bytes in memory; not a
    /// stream whose records are wanted as they come). The batches, errors, rejects and
    /// positions are those of the one-thread reader. Delayed labels, and lines named by
    /// an engine, stay on one thread.
    pub fn parse_on_threads(mut self) -> Self {
        self.chunkable = true;
        self
    }

    /// With [`TextSource::parse_on_threads`], cut the input into chunks of about this
    /// many bytes (for tests of chunk edges; the default suits files).
    #[doc(hidden)]
    pub fn chunk_bytes(mut self, bytes: usize) -> Self {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// Hand the rest of the input to parsing threads, if it may and there are cores for them.
    fn start_threads(&mut self) {
        if !std::mem::take(&mut self.chunkable) {
            return;
        }
        let threads = match self.options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let one_at_a_time =
            self.join.is_some() || self.feedback.is_some() || self.line_names.is_some() || self.options.follow;
        if threads < 2 || one_at_a_time || self.ended {
            return;
        }
        let reader = std::mem::replace(&mut self.reader, Box::new(io::empty()));
        let widths = (self.features.len(), self.categorical.len());
        let max = self.options.max_line_bytes;
        let checksum = self.checksum.clone();
        self.chunked = Some(Chunked::spawn(reader, &self.parser, widths, max, threads, self.chunk_bytes, checksum));
    }

    /// Fill the batch from the parsing threads, line by line as the one-thread reader does.
    fn fill_from_threads(&mut self, data: &mut Rows, cap: usize) -> Result<(), SourceError> {
        while !self.ended && data.ids.len() < cap {
            if self.options.quit.load(Ordering::Relaxed) {
                self.ended = true;
                break;
            }
            let Some(chunked) = self.chunked.as_mut() else { return Ok(()) };
            let step = match chunked.step() {
                Ok(Some(step)) => step,
                Ok(None) => {
                    self.ended = true;
                    break;
                }
                Err(error) => return Err(SourceError::Io { source_name: self.name.clone(), error }),
            };
            self.line_no += 1;
            let refused = match step {
                Step::Blank { len } => {
                    self.offset += len;
                    None
                }
                Step::Record { len, x, cats, label, text } => {
                    self.offset += len;
                    let id = self.next_id;
                    self.next_id += 1;
                    let class = match label {
                        None => Ok(None),
                        Some(Label { text, verdict }) => {
                            let labels = &mut self.labels;
                            let verdict = verdict.get_or_insert_with(|| {
                                labels.as_mut().ok_or_else(|| "no label column".to_string())?.id(text)
                            });
                            verdict.clone().map(Some)
                        }
                    };
                    match class {
                        Ok(class) => {
                            data.x.extend_from_slice(x);
                            data.cats.extend_from_slice(cats);
                            data.ids.push(id);
                            if let Some(class) = class {
                                data.ys.push(class);
                            }
                            None
                        }
                        Err(reason) => Some((self.parser.label_error(reason), text.to_vec())),
                    }
                }
                Step::Bad { len, error, text } => {
                    self.offset += len;
                    self.next_id += 1;
                    Some((error, text.to_vec()))
                }
            };
            if let Some((error, text)) = refused {
                self.reject_text(error, self.line_no, &text)?;
            }
        }
        Ok(())
    }

    /// Read records of `format` from any reader (a file, a socket, bytes in memory);
    /// `name` is used in errors. `open` is this on a file or standard input.
    pub fn from_reader(
        name: String,
        reader: Box<dyn BufRead + Send>,
        format: TextFormat,
        options: SourceOptions,
    ) -> Result<Self, SourceError> {
        let rejects = options.rejects.clone().map(|path| match options.group {
            Some(_) => super::RejectsFile::appending(path),
            None => super::RejectsFile::new(path),
        });
        let labels = options.label_column.as_ref().map(|_| match (&options.classes, &options.known_classes) {
            (Some(c), _) => LabelMap::declared(c),
            (None, Some(known)) => LabelMap::resume(Some(known)),
            (None, None) => LabelMap::discover(),
        });
        let mut source = Self {
            name,
            reader,
            format,
            options,
            features: Vec::new(),
            categorical: Vec::new(),
            cat_names: Arc::from(Vec::new()),
            parser: RecordParser::new(format),
            labels,
            line: Vec::new(),
            dropped: 0,
            line_no: 0,
            next_id: 0,
            seq: 0,
            offset: 0,
            held: false,
            pending_error: None,
            rejects,
            rejected: 0,
            ended: false,
            checksum: crc32fast::Hasher::new(),
            partial: false,
            line_start: (0, crc32fast::Hasher::new()),
            join: None,
            feedback: None,
            line_names: None,
            data_start: 0,
            chunkable: false,
            chunk_bytes: CHUNK_BYTES,
            chunked: None,
        };
        if let Some(d) = &source.options.delayed {
            if source.options.label_column.is_none() {
                return Err(source.schema("--delayed-labels needs --label-column (the feedback's label)".into()));
            }
            if source.options.features.as_ref().is_some_and(|f| f.contains(&d.id_column)) {
                return Err(
                    source.schema(format!("{:?} is the id column: it cannot be in --features too", d.id_column))
                );
            }
            if source.options.label_column.as_ref() == Some(&d.id_column) {
                return Err(source.schema(format!("{:?} cannot be both the id and the label column", d.id_column)));
            }
            let join = Join::new(d).map_err(|e| source.schema(e.to_string()))?;
            source.join = Some((join, DelayedColumns::default()));
            if let Some(path) = &d.feedback {
                let stream = FeedbackStream::open(path, &source.options)?;
                source.feedback = Some(Feedback { stream, columns: None, fields: Fields::new() });
            }
        }
        source.resolve_columns()?;
        if source.format == TextFormat::Ndjson {
            let all: Vec<String> = source.features.iter().chain(&source.categorical).cloned().collect();
            let json = JsonDecoder::new(&all).categorical(&source.categorical).missing(source.options.missing);
            source.parser.json = match &source.options.label_column {
                // With delayed labels the decoder reads an event's features only: the
                // join reads the label of feedback.
                Some(label) if source.join.is_none() => json.label(label),
                _ => json,
            };
        }
        Ok(source)
    }

    /// Read the header (CSV) and the first record, and fix the feature columns: the
    /// named ones (`--features`) or every column but the label and an id, each numeric
    /// or categorical (declared with `--categorical`, or text in the first record).
    fn resolve_columns(&mut self) -> Result<(), SourceError> {
        if let Some(features) = &self.options.features {
            if let Some(label) = self.options.label_column.as_ref().filter(|l| features.contains(l)) {
                return Err(self.schema(format!("{label:?} is the label column: it cannot be in --features too")));
            }
            if let Some((_, f)) = features.iter().enumerate().find(|(i, f)| features[..*i].contains(f)) {
                return Err(self.schema(format!("{f:?} is named twice in --features")));
            }
        }
        if let Some(label) = self.options.label_column.as_ref().filter(|l| self.options.categorical.contains(l)) {
            return Err(self.schema(format!("{label:?} is the label column: it cannot be in --categorical too")));
        }
        let header = match (self.format, &self.options.columns) {
            (TextFormat::Csv, Some(columns)) => self.declared_header(columns)?,
            (TextFormat::Csv, None) => match self.read_header()? {
                Some(header) => header,
                // No header: an empty input, which is an empty stream.
                None => return Ok(()),
            },
            (TextFormat::Ndjson, Some(_)) => {
                return Err(self.schema(
                    "--columns names the columns of CSV without a header: this input is NDJSON (a Kafka topic's CSV values need --format csv)".into(),
                ))
            }
            (TextFormat::Ndjson, None) => Vec::new(),
        };
        let label_column = match (&self.options.label_column, self.format) {
            // With labels in a second stream the events need no label column.
            (Some(label), TextFormat::Csv) if self.feedback.is_some() => header.iter().position(|h| h == label),
            (Some(label), TextFormat::Csv) => Some(
                header
                    .iter()
                    .position(|h| h == label)
                    .ok_or_else(|| self.schema(format!("no column named {label:?} (the label column)")))?,
            ),
            _ => None,
        };
        if !self.read_first_record()? {
            // No record: the named features, all numeric but the declared ones.
            let names = self.options.features.clone().unwrap_or_default();
            let (cats, nums): (Vec<String>, Vec<String>) =
                names.into_iter().partition(|n| self.options.categorical.contains(n));
            self.features = nums;
            self.set_categorical(cats);
            return Ok(());
        }
        // Candidate columns: (CSV column, name, what the first record holds there).
        let candidates: Vec<(usize, String, FirstValue)> = match self.format {
            TextFormat::Csv => {
                if let Err(e) = self.parser.fields.split(&self.line) {
                    // A named feature's record that cannot be split is refused with the
                    // others; without names there is nothing to go on.
                    if self.options.features.is_none() {
                        return Err(self.schema(e.to_string()));
                    }
                    self.parser.fields.split(b"").map_err(|e| self.schema(e.to_string()))?;
                }
                let columns: Vec<usize> = match &self.options.features {
                    Some(features) => {
                        let mut cols = Vec::new();
                        for f in features {
                            let idx = header.iter().position(|h| h == f);
                            cols.push(
                                idx.ok_or_else(|| self.schema(format!("no column named {f:?} (in --features)")))?,
                            );
                        }
                        cols
                    }
                    None => (0..header.len())
                        .filter(|&i| Some(i) != label_column && !is_id(&header[i]) && !self.is_id_column(&header[i]))
                        .collect(),
                };
                columns
                    .into_iter()
                    .map(|i| {
                        let field = if i < self.parser.fields.len() { self.parser.fields.get(i) } else { b"" };
                        (i, header[i].clone(), FirstValue::of_field(field))
                    })
                    .collect()
            }
            TextFormat::Ndjson => {
                let object: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(&self.line) {
                    Ok(object) => object,
                    // A named feature's record that cannot be read is refused with the others.
                    Err(_) if self.options.features.is_some() => serde_json::Map::new(),
                    Err(e) => return Err(self.schema(format!("line {}: {e}", self.line_no))),
                };
                match &self.options.features {
                    Some(features) => features
                        .iter()
                        .map(|f| (0, f.clone(), object.get(f).map_or(FirstValue::Missing, FirstValue::of_json)))
                        .collect(),
                    None => object
                        .iter()
                        .filter(|(k, _)| {
                            Some(k.as_str()) != self.options.label_column.as_deref()
                                && !is_id(k)
                                && !self.is_id_column(k)
                        })
                        .map(|(k, v)| (0, k.clone(), FirstValue::of_json(v)))
                        .filter(|(_, _, v)| *v != FirstValue::Other)
                        .collect(),
                }
            }
        };
        if let Some(unknown) = self.options.categorical.iter().find(|c| !candidates.iter().any(|(_, n, _)| n == *c)) {
            return Err(self.schema(format!("--categorical {unknown}: not a feature column of the input")));
        }
        let (mut numeric, mut categorical) = (Vec::new(), Vec::new());
        for (column, name, first) in candidates {
            if self.options.categorical.contains(&name) || first == FirstValue::Text {
                categorical.push((column, name));
            } else {
                numeric.push((column, name));
            }
        }
        if numeric.is_empty() && categorical.is_empty() {
            return Err(self.schema(format!("line {}: no column to use as a feature", self.line_no)));
        }
        let (num_cols, num_names): (Vec<usize>, Vec<String>) = numeric.into_iter().unzip();
        let (cat_cols, cat_names): (Vec<usize>, Vec<String>) = categorical.into_iter().unzip();
        self.features = num_names;
        self.set_categorical(cat_names);
        if self.format == TextFormat::Csv {
            if let (Some((_, cols)), Some(d)) = (self.join.as_mut(), self.options.delayed.as_ref()) {
                let id = header.iter().position(|h| *h == d.id_column);
                cols.id = id.ok_or_else(|| SourceError::Schema {
                    source_name: self.name.clone(),
                    reason: format!("no column named {:?} (the id column)", d.id_column),
                })?;
                cols.label = label_column;
                cols.features = num_cols.iter().chain(&cat_cols).copied().collect();
            }
            // With delayed labels the layout reads an event's features only.
            let label_column = label_column.filter(|_| self.join.is_none());
            self.parser.layout =
                CsvLayout::new(header, num_cols, label_column).categorical(cat_cols).missing(self.options.missing);
        }
        Ok(())
    }

    /// True when `name` is the id column of delayed labels.
    fn is_id_column(&self, name: &str) -> bool {
        self.options.delayed.as_ref().is_some_and(|d| d.id_column == name)
    }

    fn set_categorical(&mut self, names: Vec<String>) {
        self.parser.interner = Interner::new(names.len());
        self.categorical = names.clone();
        self.cat_names = Arc::from(names);
    }

    /// Read up to the first record, which is held for the first batch; false at the end
    /// of input.
    fn read_first_record(&mut self) -> Result<bool, SourceError> {
        loop {
            match self.read_line().map_err(|e| self.io_error(e))? {
                LineStatus::Complete if self.is_blank() => self.clear_line(),
                LineStatus::Complete => {
                    strip_bom(&mut self.line);
                    self.held = true;
                    return Ok(true);
                }
                LineStatus::Eof => {
                    self.ended = true;
                    return Ok(false);
                }
                LineStatus::Idle => self.wait(),
            }
        }
    }

    /// Read the CSV header: the columns' names (`None` for an empty input).
    fn read_header(&mut self) -> Result<Option<Vec<String>>, SourceError> {
        loop {
            match self.read_line().map_err(|e| self.io_error(e))? {
                LineStatus::Complete if self.is_blank() => self.clear_line(),
                LineStatus::Complete => break,
                LineStatus::Eof => {
                    self.ended = true;
                    return Ok(None);
                }
                LineStatus::Idle => self.wait(),
            }
        }
        if self.too_long() {
            let max = self.options.max_line_bytes;
            return Err(self.schema(format!("the header is longer than {max} bytes (--max-line-bytes)")));
        }
        strip_bom(&mut self.line);
        self.parser.fields.split(&self.line).map_err(|e| self.schema(format!("header: {e}")))?;
        let header: Vec<String> = (0..self.parser.fields.len()).map(|i| self.parser.fields.name(i)).collect();
        self.clear_line();
        self.data_start = self.offset;
        Ok(Some(header))
    }

    /// The header of headerless CSV, as `--columns` names it.
    fn declared_header(&self, columns: &[String]) -> Result<Vec<String>, SourceError> {
        if let Some(empty) = columns.iter().position(|c| c.is_empty()) {
            return Err(self.schema(format!("--columns: column {} has no name", empty + 1)));
        }
        if let Some((_, c)) = columns.iter().enumerate().find(|(i, c)| columns[..*i].contains(c)) {
            return Err(self.schema(format!("--columns: {c:?} is named twice")));
        }
        Ok(columns.to_vec())
    }

    fn schema(&self, reason: String) -> SourceError {
        SourceError::Schema { source_name: self.name.clone(), reason }
    }

    fn io_error(&self, error: io::Error) -> SourceError {
        SourceError::Io { source_name: self.name.clone(), error }
    }

    fn wait(&self) {
        std::thread::sleep(Duration::from_millis(50));
    }

    fn clear_line(&mut self) {
        self.line.clear();
        self.dropped = 0;
    }

    fn is_blank(&self) -> bool {
        self.line.is_empty() && self.dropped == 0
    }

    /// Read up to the end of the current line, keeping at most `max_line_bytes` of it.
    fn read_line(&mut self) -> io::Result<LineStatus> {
        if !self.partial {
            self.line_start = (self.offset, self.checksum.clone());
        }
        loop {
            let available = match self.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Standard input had nothing for a while (see `StdinChunks`).
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(if self.options.quit.load(Ordering::Relaxed) {
                        LineStatus::Eof
                    } else {
                        LineStatus::Idle
                    });
                }
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if self.options.follow && !self.options.quit.load(Ordering::Relaxed) {
                    return Ok(LineStatus::Idle);
                }
                if !self.is_blank() {
                    // A last line without a newline.
                    self.partial = false;
                    self.line_no += 1;
                    trim_newline(&mut self.line);
                    return Ok(LineStatus::Complete);
                }
                return Ok(LineStatus::Eof);
            }
            let (take, complete) = match memchr::memchr(b'\n', available) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            // Keep two bytes past the limit, enough to see a "\r\n" after a line of exactly the limit.
            let room = (self.options.max_line_bytes + 2).saturating_sub(self.line.len());
            let keep = take.min(room);
            self.line.extend_from_slice(&available[..keep]);
            self.checksum.update(&available[..take]);
            self.dropped += take - keep;
            self.reader.consume(take);
            self.offset += take as u64;
            self.partial = !complete;
            if complete {
                self.line_no += 1;
                trim_newline(&mut self.line);
                return Ok(LineStatus::Complete);
            }
        }
    }

    /// Where the records read so far end: the bytes consumed, less those of a line
    /// not read to its end (a checkpoint there would skip them on resuming).
    fn settled(&self) -> (u64, &crc32fast::Hasher) {
        if self.partial {
            (self.line_start.0, &self.line_start.1)
        } else {
            (self.offset, &self.checksum)
        }
    }

    /// The limit counts a line's content, not its newline.
    fn too_long(&self) -> bool {
        self.line.len() > self.options.max_line_bytes || self.dropped > 0
    }

    /// Append the features of the record in `self.line` to `row` (left as it was when
    /// the record is refused) and give its label id.
    fn parse_record(
        &mut self,
        row: &mut Vec<f64>,
        cats: &mut Vec<Option<Arc<str>>>,
    ) -> Result<Option<i64>, RecordError> {
        let labels = &mut self.labels;
        self.parser.parse(&self.line, row, cats, |label| {
            labels.as_mut().ok_or_else(|| "no label column".to_string())?.id(&label.text())
        })
    }

    /// Deal with the bad record in `self.line`: fail, or write it to the rejects file and go on.
    fn reject(&mut self, bad: RecordError, line_no: u64) -> Result<(), SourceError> {
        let line = std::mem::take(&mut self.line);
        let result = self.reject_text(bad, line_no, &line);
        self.line = line;
        result
    }

    /// Deal with a bad record whose line is `text`.
    fn reject_text(&mut self, bad: RecordError, line_no: u64, text: &[u8]) -> Result<(), SourceError> {
        let entry = self.line_names.as_ref().and_then(|names| names.name(line_no));
        if self.options.on_error == OnError::Fail {
            let (column, reason) = bad.into_parts();
            let position = Position { source: self.name.clone(), line: line_no, entry, column };
            return Err(SourceError::Record { position, reason: reason.to_string() });
        }
        if let Some(names) = &self.line_names {
            names.rejected(line_no);
        }
        self.rejected += 1;
        if let Some(out) = self.rejects.as_mut() {
            let text = String::from_utf8_lossy(text).replace(['\t', '\n', '\r'], " ");
            let at = entry.unwrap_or_else(|| line_no.to_string());
            out.write_line(&format!("{}\t{at}\t{bad}\t{text}", self.name))?;
        }
        Ok(())
    }

    /// Name each line by the engine's id of its record, in errors and rejects.
    pub(crate) fn name_lines(&mut self, names: LineNames) {
        self.line_names = Some(names);
    }

    /// [`Self::reject`] for a record of another stream (the feedback's).
    fn reject_at(&mut self, bad: RecordError, origin: &Origin) -> Result<(), SourceError> {
        if self.options.on_error == OnError::Fail {
            let (column, reason) = bad.into_parts();
            let position = Position { source: origin.name.clone(), line: origin.line_no, entry: None, column };
            return Err(SourceError::Record { position, reason: reason.to_string() });
        }
        self.rejected += 1;
        if let Some(out) = self.rejects.as_mut() {
            let text = String::from_utf8_lossy(&origin.text).replace(['\t', '\n', '\r'], " ");
            out.write_line(&format!("{}\t{}\t{bad}\t{text}", origin.name, origin.line_no))?;
        }
        Ok(())
    }

    /// Turn `self.line` into a row of the batch being built, or reject it.
    fn take_record(&mut self, data: &mut Rows) -> Result<(), SourceError> {
        let line_no = self.line_no;
        let id = self.next_id;
        self.next_id += 1;
        if self.too_long() {
            let reason = Reason::TooLong { max_bytes: self.options.max_line_bytes };
            return self.reject(RecordError::new(reason), line_no);
        }
        if let Some(why) = self.line_names.as_ref().and_then(|origin| origin.refusal(line_no)) {
            return self.reject(RecordError::new(Reason::Entry(why)), line_no);
        }
        if self.join.is_some() {
            return self.take_delayed(data, id, line_no);
        }
        match self.parse_record(&mut data.x, &mut data.cats) {
            Ok(label) => {
                data.ids.push(id);
                if let Some(l) = label {
                    data.ys.push(l);
                }
                Ok(())
            }
            Err(bad) => self.reject(bad, line_no),
        }
    }
}

/// Delayed labels (see [`super::join`]).
impl TextSource {
    /// The id, the label and whether any feature is there, of the record in `self.line`.
    fn parts(&mut self) -> Result<Parts, RecordError> {
        let (d, label_name) = match (&self.options.delayed, &self.options.label_column) {
            (Some(d), Some(l)) => (d, l),
            _ => return Err(RecordError::new(Reason::Delayed("no delayed labels".into()))),
        };
        match self.format {
            TextFormat::Csv => {
                let Some((_, cols)) = self.join.as_ref() else {
                    return Err(RecordError::new(Reason::Delayed("no delayed labels".into())));
                };
                self.parser.fields.split(&self.line)?;
                let names = self.parser.layout.names();
                if self.parser.fields.len() != names.len() {
                    return Err(RecordError::new(Reason::Columns {
                        expected: names.len(),
                        found: self.parser.fields.len(),
                    }));
                }
                let text = |c: usize| {
                    std::str::from_utf8(self.parser.fields.get(c))
                        .map(|t| t.trim().to_string())
                        .map_err(|_| RecordError::at(c, &names[c], Reason::NotUtf8))
                };
                let id = text(cols.id)?;
                let label = match cols.label {
                    Some(c) => Some(text(c)?).filter(|l| !l.is_empty()),
                    None => None,
                };
                let has_features = cols.features.iter().any(|&c| !is_missing(self.parser.fields.get(c)));
                Ok(Parts { id, label, has_features, id_at: (cols.id, d.id_column.clone()) })
            }
            TextFormat::Ndjson => {
                let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&self.line)
                    .map_err(|e| RecordError::at(e.column().saturating_sub(1), "json", Reason::Json(e.to_string())))?;
                let scalar = |key: &str| -> Result<Option<String>, RecordError> {
                    match object.get(key) {
                        None | Some(serde_json::Value::Null) => Ok(None),
                        Some(serde_json::Value::String(t)) => Ok(Some(t.trim().to_string()).filter(|t| !t.is_empty())),
                        Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                            Ok(Some(v.to_string()))
                        }
                        Some(v) => {
                            Err(RecordError::at(0, key, Reason::Delayed(format!("{v} is not an id or a label"))))
                        }
                    }
                };
                let id = scalar(&d.id_column)?.unwrap_or_default();
                let label = scalar(label_name)?;
                let has_features = self.features.iter().chain(&self.categorical).any(|f| match object.get(f) {
                    None | Some(serde_json::Value::Null) => false,
                    Some(serde_json::Value::String(t)) => !is_missing(t.as_bytes()),
                    Some(_) => true,
                });
                Ok(Parts { id, label, has_features, id_at: (0, d.id_column.clone()) })
            }
        }
    }

    /// Turn `self.line` into an event's or a label's row of the batch, or reject it.
    fn take_delayed(&mut self, data: &mut Rows, record: u64, line_no: u64) -> Result<(), SourceError> {
        let parts = match self.parts() {
            Ok(parts) => parts,
            Err(bad) => return self.reject(bad, line_no),
        };
        let at = |reason: String| RecordError::at(parts.id_at.0, &parts.id_at.1, Reason::Delayed(reason));
        if let Err(reason) = Join::check_id(&parts.id) {
            return self.reject(at(reason), line_no);
        }
        let origin = Origin { name: self.name.clone(), line_no, text: self.line.clone(), id_at: parts.id_at.clone() };
        let (d, w) = (self.features.len(), self.categorical.len());
        match (&parts.label, parts.has_features) {
            (None, true) => {
                // An event: its features are read as any record's.
                if let Err(bad) = self.parse_record(&mut data.x, &mut data.cats) {
                    return self.reject(bad, line_no);
                }
                let Some((join, _)) = self.join.as_mut() else { return Ok(()) };
                let joined = join.event(&parts.id, Join::tick(record));
                if !matches!(joined, Joined::Row(Role::Event, _)) {
                    // Not kept: its row holds zeros, as other non-events' rows do.
                    data.x.truncate(data.x.len() - d);
                    data.cats.truncate(data.cats.len() - w);
                    data.x.extend(std::iter::repeat_n(0.0, d));
                    data.cats.extend(std::iter::repeat_n(None, w));
                }
                self.push_joined(data, record, joined, 0, &origin)
            }
            (Some(_), false) if self.feedback.is_some() => {
                let name = self.feedback.as_ref().map(|f| f.stream.name.clone()).unwrap_or_default();
                let reason = format!("a label without features: with --labels-from the labels come in {name}, and this input holds events only");
                self.reject(at(reason), line_no)
            }
            (Some(label), false) => {
                let column = if self.format == TextFormat::Csv {
                    self.join.as_ref().and_then(|(_, c)| c.label).unwrap_or(0)
                } else {
                    0
                };
                let label = label.clone();
                self.take_label(data, record, &parts.id, &label, column, &origin)
            }
            (Some(_), true) => {
                let reason = "features and a label: with --delayed-labels an event has no label, and its feedback only the id and the label";
                self.reject(at(reason.into()), line_no)
            }
            (None, false) => self.reject(
                at("neither features nor a label (an event has features, its feedback a label)".into()),
                line_no,
            ),
        }
    }

    /// The label of `id` (from either stream) as a feedback row, or reject it; `column`
    /// is the label's, for errors.
    fn take_label(
        &mut self,
        data: &mut Rows,
        record: u64,
        id: &str,
        label: &str,
        column: usize,
        origin: &Origin,
    ) -> Result<(), SourceError> {
        let now = Join::tick(record);
        let Some((join, _)) = self.join.as_ref() else { return Ok(()) };
        // The label is read (and may add a class) only when it will be learned.
        let class = if join.waits(id, now) {
            match self.labels.as_mut().map(|m| m.id(label)) {
                Some(Ok(class)) => class,
                Some(Err(reason)) => {
                    let name = self.options.label_column.clone().unwrap_or_default();
                    return self.reject_at(RecordError::at(column, &name, Reason::Label(reason)), origin);
                }
                None => 0,
            }
        } else {
            0
        };
        let Some((join, _)) = self.join.as_mut() else { return Ok(()) };
        let joined = join.feedback(id, now);
        let (d, w) = (self.features.len(), self.categorical.len());
        data.x.extend(std::iter::repeat_n(0.0, d));
        data.cats.extend(std::iter::repeat_n(None, w));
        self.push_joined(data, record, joined, class, origin)
    }

    /// Add the row the join made of a record (its features or zeros already pushed), or
    /// refuse it; write its rejects line and the expiries it caused.
    fn push_joined(
        &mut self,
        data: &mut Rows,
        record: u64,
        joined: Joined,
        class: i64,
        origin: &Origin,
    ) -> Result<(), SourceError> {
        let (d, w) = (self.features.len(), self.categorical.len());
        let at = |reason: String| RecordError::at(origin.id_at.0, &origin.id_at.1, Reason::Delayed(reason));
        let (role, note) = match joined {
            Joined::Row(role, note) => (role, note),
            Joined::Refused(reason) => {
                // Nothing was kept: the row pushed goes.
                data.x.truncate(data.x.len() - d);
                data.cats.truncate(data.cats.len() - w);
                return self.reject_at(at(reason), origin);
            }
        };
        // Unknown ids and duplicate events are bad input: an error, unless skipped.
        if matches!(role, Role::Unknown | Role::Duplicate) && self.options.on_error == OnError::Fail {
            data.x.truncate(data.x.len() - d);
            data.cats.truncate(data.cats.len() - w);
            let position = Position {
                source: origin.name.clone(),
                line: origin.line_no,
                entry: None,
                column: Some((origin.id_at.0 + 1, origin.id_at.1.clone())),
            };
            return Err(SourceError::Record { position, reason: note.unwrap_or_default() });
        }
        data.ids.push(record);
        data.ys.push(class);
        data.roles.push(role);
        if let (Some(note), Some(out)) = (note, self.rejects.as_mut()) {
            let text = String::from_utf8_lossy(&origin.text).replace(['\t', '\n', '\r'], " ");
            out.write_line(&format!("{}\t{}\t{note}\t{text}", origin.name, origin.line_no))?;
        }
        let Some((join, _)) = self.join.as_mut() else { return Ok(()) };
        let (ttl, max) = join.settings();
        for e in join.take_expired() {
            if let Some(out) = self.rejects.as_mut() {
                out.write_line(&format!(
                    "{}\t{}\t{}\t{}",
                    origin.name,
                    origin.line_no,
                    Join::expiry_line(&e, ttl, max),
                    e.id.replace(['\t', '\n', '\r'], " ")
                ))?;
            }
            data.expired.push((e.arrived.record, e.reason));
        }
        Ok(())
    }

    /// Take the feedback lines read so far, in arrival order, while the batch has room;
    /// with `to_end`, wait for the rest of the feedback stream (the events have ended).
    fn take_feedback(&mut self, data: &mut Rows, cap: usize, to_end: bool) -> Result<(), SourceError> {
        while data.ids.len() < cap {
            let Some(feedback) = self.feedback.as_mut() else { return Ok(()) };
            let line = if to_end {
                match feedback.stream.wait_next(&self.options.quit)? {
                    Some(line) => line,
                    None if feedback.stream.ended() => return Ok(()),
                    None => continue,
                }
            } else {
                match feedback.stream.try_next()? {
                    Some(line) => line,
                    None => return Ok(()),
                }
            };
            self.take_feedback_line(data, line)?;
        }
        Ok(())
    }

    /// One line of the feedback stream: its CSV header, or an `{id, label}` record.
    fn take_feedback_line(&mut self, data: &mut Rows, line: FeedbackLine) -> Result<(), SourceError> {
        let (Some(d), Some(label_name), Some(feedback)) =
            (self.options.delayed.clone(), self.options.label_column.clone(), self.feedback.as_mut())
        else {
            return Ok(());
        };
        let name = feedback.stream.name.clone();
        let format = feedback.stream.format;
        if format == TextFormat::Csv && feedback.columns.is_none() {
            // The header: exactly the id and the label columns, in either order.
            let schema = |reason: String| SourceError::Schema { source_name: name.clone(), reason };
            if line.too_long {
                return Err(schema("the header is longer than --max-line-bytes".into()));
            }
            feedback.fields.split(&line.text).map_err(|e| schema(format!("header: {e}")))?;
            let header: Vec<String> = (0..feedback.fields.len()).map(|i| feedback.fields.name(i)).collect();
            let find = |c: &str| header.iter().position(|h| h == c);
            match (find(&d.id_column), find(&label_name), header.len()) {
                (Some(i), Some(l), 2) => feedback.columns = Some((i, l)),
                _ => {
                    return Err(schema(format!(
                        "the feedback's header must be the id and the label columns ({:?} and {label_name:?}), found {header:?}",
                        d.id_column
                    )))
                }
            }
            return Ok(());
        }
        let record = self.next_id;
        self.next_id += 1;
        let mut origin = Origin { name, line_no: line.line_no, text: line.text, id_at: (0, d.id_column.clone()) };
        if line.too_long {
            let reason = Reason::TooLong { max_bytes: self.options.max_line_bytes };
            return self.reject_at(RecordError::new(reason), &origin);
        }
        let parsed = match format {
            TextFormat::Csv => feedback_csv(feedback, &origin.text, &d.id_column, &label_name),
            TextFormat::Ndjson => feedback_json(&origin.text, &d.id_column, &label_name),
        };
        let (id, label, label_at) = match parsed {
            Ok(parsed) => parsed,
            Err(bad) => return self.reject_at(bad, &origin),
        };
        if format == TextFormat::Csv {
            origin.id_at.0 = feedback.columns.map_or(0, |(i, _)| i);
        }
        let at = |reason: String| RecordError::at(origin.id_at.0, &origin.id_at.1, Reason::Delayed(reason));
        if let Err(reason) = Join::check_id(&id) {
            return self.reject_at(at(reason), &origin);
        }
        let Some(label) = label else {
            return self.reject_at(RecordError::at(label_at, &label_name, Reason::EmptyLabel), &origin);
        };
        self.take_label(data, record, &id, &label, label_at, &origin)
    }
}

/// A CSV feedback record: its id, its label (`None`: empty) and the label's column.
fn feedback_csv(
    feedback: &mut Feedback,
    text: &[u8],
    id_column: &str,
    label_column: &str,
) -> Result<(String, Option<String>, usize), RecordError> {
    let (i, l) = feedback.columns.unwrap_or((0, 1));
    feedback.fields.split(text)?;
    if feedback.fields.len() != 2 {
        return Err(RecordError::new(Reason::Columns { expected: 2, found: feedback.fields.len() }));
    }
    let field = |c: usize, name: &str| {
        std::str::from_utf8(feedback.fields.get(c))
            .map(|t| t.trim().to_string())
            .map_err(|_| RecordError::at(c, name, Reason::NotUtf8))
    };
    let id = field(i, id_column)?;
    let label = Some(field(l, label_column)?).filter(|t| !t.is_empty());
    Ok((id, label, l))
}

/// An NDJSON feedback record: exactly the id and the label (a string, a number or a
/// boolean each); the label's column is 0, as JSON records have none.
fn feedback_json(
    text: &[u8],
    id_column: &str,
    label_column: &str,
) -> Result<(String, Option<String>, usize), RecordError> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(text)
        .map_err(|e| RecordError::at(e.column().saturating_sub(1), "json", Reason::Json(e.to_string())))?;
    if let Some(other) = object.keys().find(|k| *k != id_column && *k != label_column) {
        return Err(RecordError::at(
            0,
            other,
            Reason::Delayed(format!(
                "a feedback record holds only the id ({id_column:?}) and the label ({label_column:?}): {other:?} is neither"
            )),
        ));
    }
    let scalar = |key: &str| -> Result<Option<String>, RecordError> {
        match object.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(t)) => Ok(Some(t.trim().to_string()).filter(|t| !t.is_empty())),
            Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(v) => Err(RecordError::at(0, key, Reason::Delayed(format!("{v} is not an id or a label")))),
        }
    };
    Ok((scalar(id_column)?.unwrap_or_default(), scalar(label_column)?, 0))
}

/// Resuming.
impl TextSource {
    /// Take up counting where `position` left off, for a reader that itself starts
    /// after the position (an engine's stream) and gave the same header again: opening
    /// read that header and maybe the first record after the position, which is kept.
    pub(crate) fn continue_after(&mut self, position: &crate::record::SourcePosition) -> Result<(), SourceError> {
        if self.feedback.is_some() {
            return Err(self.schema("labels in a second stream (--labels-from) cannot be resumed".into()));
        }
        let header_lines = u64::from(self.data_start > 0);
        self.line_no = position.line + self.line_no.saturating_sub(header_lines);
        self.offset = position.offset + (self.offset - self.data_start);
        self.take_up(position)
    }

    /// The counters, the class map, the rejects file and the join as `position` left them.
    fn take_up(&mut self, position: &crate::record::SourcePosition) -> Result<(), SourceError> {
        self.next_id = position.records;
        self.rejected = position.rejected;
        super::resume_rejects(self.rejects.as_mut(), position, &self.name)?;
        if position.labels.is_some() {
            self.labels = position.labels.clone();
        }
        match (self.join.as_mut(), &position.delayed) {
            (Some((join, _)), Some(saved)) => join.resume(saved).map_err(|e| SourceError::Schema {
                source_name: self.name.clone(),
                reason: format!("{e} (resume with the same --max-pending and --label-ttl)"),
            })?,
            (None, None) => {}
            (Some(_), None) => {
                return Err(self.schema("the checkpoint was taken without --delayed-labels: resume without it".into()))
            }
            (None, Some(_)) => {
                return Err(self.schema("the checkpoint was taken with --delayed-labels: resume with it".into()))
            }
        }
        Ok(())
    }
}

impl Source for TextSource {
    fn next_batch(&mut self) -> Result<Option<Batch>, SourceError> {
        let d = self.features.len();
        let cap = self.options.batch_size;
        let mut data = Rows {
            x: Vec::with_capacity(cap * d),
            cats: Vec::with_capacity(cap * self.categorical.len()),
            ids: Vec::with_capacity(cap),
            ys: Vec::with_capacity(if self.labels.is_some() { cap } else { 0 }),
            roles: Vec::with_capacity(if self.join.is_some() { cap } else { 0 }),
            expired: Vec::new(),
        };
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        self.start_threads();
        let result = (|| {
            // With a second stream, every label read so far goes in before each event.
            self.take_feedback(&mut data, cap, false)?;
            if self.held && data.ids.len() < cap {
                self.held = false;
                self.take_record(&mut data)?;
                self.clear_line();
            }
            if self.chunked.is_some() {
                self.fill_from_threads(&mut data, cap)?;
            }
            while !self.ended && data.ids.len() < cap {
                if self.options.quit.load(Ordering::Relaxed) && !self.options.follow {
                    self.ended = true;
                    break;
                }
                self.take_feedback(&mut data, cap, false)?;
                if data.ids.len() >= cap {
                    break;
                }
                match self.read_line().map_err(|e| self.io_error(e))? {
                    LineStatus::Complete => {
                        if !self.is_blank() {
                            self.take_record(&mut data)?;
                        }
                        self.clear_line();
                    }
                    LineStatus::Eof => self.ended = true,
                    LineStatus::Idle if !data.ids.is_empty() => break,
                    LineStatus::Idle => self.wait(),
                }
            }
            if self.ended && !self.held {
                // The events are over: the rest of the labels, to the feedback's end.
                self.take_feedback(&mut data, cap, true)?;
            }
            Ok::<(), SourceError>(())
        })();
        if let Some(out) = self.rejects.as_mut() {
            out.flush()?;
        }
        // An error ends the input (the next call gives `None`); rows read before it
        // still go downstream, so their labels are written.
        if result.is_err() {
            self.ended = true;
            self.held = false;
        }
        if data.ids.is_empty() {
            return result.map(|()| None);
        }
        if let Err(e) = result {
            self.pending_error = Some(e);
        }
        let n = data.ids.len();
        let x = Array2::from_shape_vec((n, d), data.x).map_err(|e| self.schema(format!("internal shape: {e}")))?;
        let cats = if self.categorical.is_empty() {
            Categories::default()
        } else {
            Categories::new(Arc::clone(&self.cat_names), data.cats, n)
                .map_err(|e| self.schema(format!("internal shape: {e}")))?
        };
        let y = self.labels.is_some().then_some(data.ys);
        let roles = self.join.is_some().then(|| Box::new(Roles { roles: data.roles, expired: data.expired }));
        let batch = Batch { seq: self.seq, ids: data.ids, x, y, cats, end_offset: self.settled().0, roles, keys: None };
        self.seq += 1;
        Ok(Some(batch))
    }

    fn feature_names(&self) -> &[String] {
        &self.features
    }

    fn categorical_names(&self) -> &[String] {
        &self.categorical
    }

    fn label_map(&self) -> Option<&LabelMap> {
        self.labels.as_ref()
    }

    fn has_labels(&self) -> bool {
        self.labels.is_some()
    }

    fn rejected(&self) -> u64 {
        self.rejected
    }

    fn resume(&mut self, position: &crate::record::SourcePosition) -> Result<(), SourceError> {
        if self.feedback.is_some() {
            return Err(self.schema("labels in a second stream (--labels-from) cannot be resumed".into()));
        }
        if self.chunked.is_some() {
            return Err(self.schema("a source is resumed before it is read".into()));
        }
        // Opening read the header and maybe one record; read on to the position's byte.
        self.held = false;
        self.clear_line();
        let skip = position.offset.checked_sub(self.offset).ok_or_else(|| {
            self.schema(format!("the checkpoint is at byte {}, before the start of the data", position.offset))
        })?;
        let mut hashing = HashingSink(&mut self.checksum);
        let copied = io::copy(&mut (&mut self.reader).take(skip), &mut hashing).map_err(|e| self.io_error(e))?;
        if copied != skip {
            return Err(
                self.schema(format!("the input is shorter than the checkpoint's position (byte {})", position.offset))
            );
        }
        if let Some(expected) = position.checksum {
            if self.checksum.clone().finalize() != expected {
                return Err(self.schema(format!(
                    "the first {} bytes differ from those the checkpoint was taken on: is this the same input?",
                    position.offset
                )));
            }
        }
        self.offset = position.offset;
        self.line_no = position.line;
        self.take_up(position)
    }

    fn position(&self) -> crate::record::SourcePosition {
        crate::record::SourcePosition {
            records: self.next_id,
            offset: self.settled().0,
            line: self.line_no,
            rejected: self.rejected,
            labels: self.labels.clone(),
            checksum: Some(match &self.chunked {
                Some(chunked) => chunked.checksum().finalize(),
                None => self.settled().1.clone().finalize(),
            }),
            rejects_len: self.rejects.as_ref().map(super::RejectsFile::len),
            delayed: self.join.as_ref().map(|(join, _)| join.state()),
            stream: None,
        }
    }

    fn sync(&mut self) -> Result<(), SourceError> {
        self.rejects.as_mut().map_or(Ok(()), super::RejectsFile::sync)
    }
}

/// A batch being read.
struct Rows {
    x: Vec<f64>,
    cats: Vec<Option<Arc<str>>>,
    ids: Vec<u64>,
    ys: Vec<i64>,
    /// With delayed labels: each row's role, and the events expired meanwhile.
    roles: Vec<Role>,
    expired: Vec<(u64, crate::pipeline::pending::ExpiryReason)>,
}

/// Turns one line into a record's values: the part of reading a record that needs
/// nothing from the lines before it, so that chunks of a file can be parsed on
/// several threads (see [`super::chunked`]), each with its own copy.
#[derive(Clone)]
pub(super) struct RecordParser {
    format: TextFormat,
    /// The current CSV line, split.
    fields: Fields,
    /// CSV: the header's columns, and which hold the features and the label.
    layout: CsvLayout,
    /// NDJSON: the keys of the features and the label.
    json: JsonDecoder,
    interner: Interner,
}

impl RecordParser {
    fn new(format: TextFormat) -> Self {
        Self {
            format,
            fields: Fields::new(),
            layout: CsvLayout::default(),
            json: JsonDecoder::new(&[]),
            interner: Interner::default(),
        }
    }

    /// Append the features of the record `line` to `row` and `cats` (left as they were
    /// when the record is refused) and give what `label` makes of its label. The label
    /// is read last, so a record with a bad value and a bad label is refused for the value.
    pub(super) fn parse<L>(
        &mut self,
        line: &[u8],
        row: &mut Vec<f64>,
        cats: &mut Vec<Option<Arc<str>>>,
        label: impl for<'a> FnOnce(super::decode::RawLabel<'a>) -> Result<L, String>,
    ) -> Result<Option<L>, RecordError> {
        let mut sink = CatSink { values: cats, interner: &mut self.interner };
        match self.format {
            TextFormat::Csv => {
                self.fields.split(line)?;
                self.layout.decode_with(&self.fields, row, &mut sink, label)
            }
            TextFormat::Ndjson => {
                self.json.read(line)?;
                self.json.decode_with(row, &mut sink, label)
            }
        }
    }

    /// The error of a record whose label `reason` refuses (a class map's verdict, which
    /// the parser leaves to the reader of the lines in order).
    pub(super) fn label_error(&self, reason: String) -> RecordError {
        match self.format {
            TextFormat::Csv => self.layout.label_error(reason),
            TextFormat::Ndjson => self.json.label_error(reason),
        }
    }
}

/// What the first record holds in a column: how a column's kind is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstValue {
    /// A number or a boolean.
    Number,
    /// Text: a categorical column.
    Text,
    /// A missing value: numeric unless declared categorical.
    Missing,
    /// An array or an object (NDJSON): not a feature.
    Other,
}

impl FirstValue {
    fn of_field(field: &[u8]) -> Self {
        if is_missing(field) {
            Self::Missing
        } else if parse_number(field).is_some() || parse_bool(field).is_some() {
            Self::Number
        } else {
            Self::Text
        }
    }

    fn of_json(value: &serde_json::Value) -> Self {
        match value {
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => Self::Number,
            serde_json::Value::Null => Self::Missing,
            serde_json::Value::String(t) if is_missing(t.as_bytes()) => Self::Missing,
            serde_json::Value::String(_) => Self::Text,
            _ => Self::Other,
        }
    }
}

/// Standard input, read on its own thread and handed over in chunks.
///
/// A read that blocks cannot be interrupted, so reading stdin directly would keep
/// a piped stream (`tail -f log | eddy run -`) from flushing a partial batch while
/// the pipe is quiet, and from noticing Ctrl-C. Here a read with nothing for
/// 100 ms returns `WouldBlock`, which the source treats as idle time.
struct StdinChunks {
    chunks: crossbeam_channel::Receiver<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
}

impl StdinChunks {
    fn spawn() -> Self {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(4);
        // The thread ends at end of input, on a read error, or when the source is gone.
        std::thread::spawn(move || {
            let mut stdin = io::stdin().lock();
            loop {
                let mut buf = vec![0u8; 1 << 16];
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(buf).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Self { chunks: rx, current: Vec::new(), at: 0 }
    }
}

impl Read for StdinChunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.current.len() {
            match self.chunks.recv_timeout(Duration::from_millis(100)) {
                Ok(chunk) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => return Err(io::ErrorKind::WouldBlock.into()),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Discards what is written to it, hashing it on the way (reading past a checkpoint).
struct HashingSink<'a>(&'a mut crc32fast::Hasher);

impl Write for HashingSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A record id column (`id`, any case): numeric, but never a feature unless named in --features.
fn is_id(name: &str) -> bool {
    name.eq_ignore_ascii_case("id")
}

/// Drop a UTF-8 byte-order mark (editors on Windows write one) from the first line.
fn strip_bom(line: &mut Vec<u8>) {
    if line.starts_with(&[0xef, 0xbb, 0xbf]) {
        line.drain(..3);
    }
}

fn trim_newline(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
}
