//! CSV and NDJSON sources, plain or gzip, from a file or standard input.
//!
//! Lines are read by hand rather than through the `csv` crate's reader, for
//! three things it cannot do: cap the length of a line without buffering all of
//! it, keep reading a file that grows (`--follow`, where its reader stops for
//! good at the first end of file), and resume after a bad line in skip mode.
//! Each line is then split by `csv-core`, the csv crate's own parser. One
//! record per line: a quoted field may not contain a newline.

use super::{OnError, Position, Source, SourceError, SourceOptions};
use crate::record::{Batch, LabelMap};
use ndarray::Array2;
use serde::de::DeserializeSeed as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::atomic::Ordering;
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

/// A record that failed validation: where and why.
struct Bad {
    column: Option<(usize, String)>,
    reason: String,
}

impl Bad {
    fn at(column: usize, name: &str, reason: String) -> Self {
        Self { column: Some((column + 1, name.to_string())), reason }
    }
}

/// CSV or NDJSON records as batches. See the module documentation.
pub struct TextSource {
    name: String,
    reader: Box<dyn BufRead + Send>,
    format: TextFormat,
    options: SourceOptions,
    /// CSV header (column names); empty for NDJSON.
    header: Vec<String>,
    features: Vec<String>,
    /// CSV: column index of each feature.
    feature_columns: Vec<usize>,
    label_column: Option<usize>,
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
    csv: csv_core::Reader,
    field_bytes: Vec<u8>,
    field_ends: Vec<usize>,
    row: Vec<f64>,
    /// NDJSON: the keys a record is read for (features 0..d, then the label at d),
    /// and their values in the current record.
    ndjson_keys: std::collections::HashMap<String, usize>,
    ndjson_values: Vec<Option<serde_json::Value>>,
    rejects: Option<super::RejectsFile>,
    rejected: u64,
    ended: bool,
    /// CRC-32 of every byte consumed, for checkpoints.
    checksum: crc32fast::Hasher,
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
        let rejects = options.rejects.clone().map(super::RejectsFile::new);
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
            header: Vec::new(),
            features: Vec::new(),
            feature_columns: Vec::new(),
            label_column: None,
            labels,
            line: Vec::new(),
            dropped: 0,
            line_no: 0,
            next_id: 0,
            seq: 0,
            offset: 0,
            held: false,
            pending_error: None,
            csv: csv_core::Reader::new(),
            field_bytes: Vec::new(),
            field_ends: Vec::new(),
            row: Vec::new(),
            ndjson_keys: std::collections::HashMap::new(),
            ndjson_values: Vec::new(),
            rejects,
            rejected: 0,
            ended: false,
            checksum: crc32fast::Hasher::new(),
        };
        source.resolve_columns()?;
        Ok(source)
    }

    /// Read the header (CSV) and the first record, and fix the feature columns.
    fn resolve_columns(&mut self) -> Result<(), SourceError> {
        if let Some(features) = &self.options.features {
            if let Some(label) = self.options.label_column.as_ref().filter(|l| features.contains(l)) {
                return Err(self.schema(format!("{label:?} is the label column: it cannot be in --features too")));
            }
            if let Some((_, f)) = features.iter().enumerate().find(|(i, f)| features[..*i].contains(f)) {
                return Err(self.schema(format!("{f:?} is named twice in --features")));
            }
        }
        if self.format == TextFormat::Csv {
            loop {
                match self.read_line().map_err(|e| self.io_error(e))? {
                    LineStatus::Complete if self.is_blank() => self.clear_line(),
                    LineStatus::Complete => break,
                    // No header: an empty input, which is an empty stream.
                    LineStatus::Eof => {
                        self.ended = true;
                        return Ok(());
                    }
                    LineStatus::Idle => self.wait(),
                }
            }
            if self.too_long() {
                let max = self.options.max_line_bytes;
                return Err(self.schema(format!("the header is longer than {max} bytes (--max-line-bytes)")));
            }
            strip_bom(&mut self.line);
            self.split_csv_line().map_err(|reason| self.schema(format!("header: {reason}")))?;
            self.header =
                (0..self.field_count()).map(|i| String::from_utf8_lossy(self.field(i)).trim().to_string()).collect();
            self.clear_line();
            if let Some(label) = &self.options.label_column {
                let idx = self.header.iter().position(|h| h == label);
                self.label_column =
                    Some(idx.ok_or_else(|| self.schema(format!("no column named {label:?} (the label column)")))?);
            }
            if let Some(features) = &self.options.features {
                let mut cols = Vec::new();
                for f in features {
                    let idx = self.header.iter().position(|h| h == f);
                    cols.push(idx.ok_or_else(|| self.schema(format!("no column named {f:?} (in --features)")))?);
                }
                self.feature_columns = cols;
                self.features = features.clone();
                return Ok(());
            }
        } else if let Some(features) = &self.options.features {
            self.features = features.clone();
            return Ok(());
        }
        // All numeric columns except the label, judged on the first record.
        let first = loop {
            match self.read_line().map_err(|e| self.io_error(e))? {
                LineStatus::Complete if self.is_blank() => self.clear_line(),
                LineStatus::Complete => {
                    strip_bom(&mut self.line);
                    break self.line.clone();
                }
                LineStatus::Eof => {
                    self.ended = true;
                    return Ok(());
                }
                LineStatus::Idle => self.wait(),
            }
        };
        let numeric: Vec<(usize, String)> = match self.format {
            TextFormat::Csv => {
                self.split_csv_line().map_err(|reason| self.schema(reason))?;
                (0..self.field_count().min(self.header.len()))
                    .filter(|&i| {
                        Some(i) != self.label_column && !is_id(&self.header[i]) && parse_number(self.field(i)).is_some()
                    })
                    .map(|i| (i, self.header[i].clone()))
                    .collect()
            }
            TextFormat::Ndjson => {
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(&first).map_err(|e| self.schema(format!("line {}: {e}", self.line_no)))?;
                object
                    .iter()
                    .filter(|(k, v)| {
                        Some(k.as_str()) != self.options.label_column.as_deref() && !is_id(k) && v.is_number()
                    })
                    .map(|(k, _)| (0, k.clone()))
                    .collect()
            }
        };
        if numeric.is_empty() {
            return Err(self.schema(format!("line {}: no numeric column to use as a feature", self.line_no)));
        }
        self.feature_columns = numeric.iter().map(|(i, _)| *i).collect();
        self.features = numeric.into_iter().map(|(_, n)| n).collect();
        self.held = true;
        Ok(())
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
            if complete {
                self.line_no += 1;
                trim_newline(&mut self.line);
                return Ok(LineStatus::Complete);
            }
        }
    }

    /// The limit counts a line's content, not its newline.
    fn too_long(&self) -> bool {
        self.line.len() > self.options.max_line_bytes || self.dropped > 0
    }

    /// Split `self.line` into `field_bytes`/`field_ends` with csv-core.
    fn split_csv_line(&mut self) -> Result<(), String> {
        split_csv(&mut self.csv, &self.line, &mut self.field_bytes, &mut self.field_ends)
    }

    fn field_count(&self) -> usize {
        self.field_ends.len()
    }

    fn field(&self, i: usize) -> &[u8] {
        field_of(&self.field_bytes, &self.field_ends, i)
    }

    /// Parse the record in `self.line` into `self.row` and its label id.
    fn parse_record(&mut self) -> Result<Option<i64>, Bad> {
        self.row.clear();
        match self.format {
            TextFormat::Csv => {
                self.split_csv_line().map_err(|reason| Bad { column: None, reason })?;
                if self.field_count() != self.header.len() {
                    return Err(Bad {
                        column: None,
                        reason: format!("expected {} columns, found {}", self.header.len(), self.field_count()),
                    });
                }
                for (k, &c) in self.feature_columns.iter().enumerate() {
                    let field = self.field(c);
                    match parse_number(field) {
                        Some(v) if v.is_finite() => self.row.push(v),
                        Some(v) => return Err(Bad::at(c, &self.features[k], format!("{v} is not a finite number"))),
                        None => {
                            let text = String::from_utf8_lossy(field);
                            return Err(Bad::at(c, &self.features[k], format!("{:?} is not a number", text.trim())));
                        }
                    }
                }
                match self.label_column {
                    Some(c) => {
                        // Borrowed from the line buffer: no string per record (a label that is
                        // not UTF-8 is rare enough to pay for its lossy copy).
                        let text = String::from_utf8_lossy(field_of(&self.field_bytes, &self.field_ends, c));
                        let id = match self.labels.as_mut() {
                            Some(map) if !text.trim().is_empty() => map.id(text.trim()),
                            Some(_) => Err("empty label".to_string()),
                            None => Err("no label column".to_string()),
                        };
                        id.map(Some).map_err(|reason| Bad::at(c, &self.header[c], reason))
                    }
                    None => Ok(None),
                }
            }
            TextFormat::Ndjson => {
                let d = self.features.len();
                if self.ndjson_keys.is_empty() {
                    self.ndjson_keys = self.features.iter().cloned().zip(0..).collect();
                    if let Some(label) = &self.options.label_column {
                        self.ndjson_keys.insert(label.clone(), d);
                    }
                    self.ndjson_values = vec![None; d + 1];
                }
                self.ndjson_values.iter_mut().for_each(|v| *v = None);
                let mut de = serde_json::Deserializer::from_slice(&self.line);
                Picked { keys: &self.ndjson_keys, values: &mut self.ndjson_values }
                    .deserialize(&mut de)
                    .and_then(|()| de.end())
                    .map_err(|e| Bad {
                        column: Some((e.column(), "json".into())),
                        reason: format!("invalid JSON: {e}"),
                    })?;
                for (k, f) in self.features.iter().enumerate() {
                    match &self.ndjson_values[k] {
                        Some(serde_json::Value::Number(n)) => match n.as_f64() {
                            Some(v) if v.is_finite() => self.row.push(v),
                            _ => return Err(Bad::at(k, f, format!("{n} is not a finite number"))),
                        },
                        Some(other) => return Err(Bad::at(k, f, format!("{other} is not a number"))),
                        None => return Err(Bad::at(k, f, "missing".into())),
                    }
                }
                match &self.options.label_column {
                    Some(label) => {
                        let label = label.clone();
                        let text = match self.ndjson_values[d].take() {
                            Some(serde_json::Value::String(s)) => s,
                            Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => v.to_string(),
                            Some(other) => return Err(Bad::at(d, &label, format!("{other} is not a label"))),
                            None => return Err(Bad::at(d, &label, "missing".into())),
                        };
                        self.label_id(&text).map(Some).map_err(|reason| Bad::at(d, &label, reason))
                    }
                    None => Ok(None),
                }
            }
        }
    }

    fn label_id(&mut self, text: &str) -> Result<i64, String> {
        if text.is_empty() {
            return Err("empty label".into());
        }
        self.labels.as_mut().ok_or_else(|| "no label column".to_string())?.id(text)
    }

    /// Deal with a bad record: fail, or write it to the rejects file and go on.
    fn reject(&mut self, bad: Bad, line_no: u64) -> Result<(), SourceError> {
        let position = Position { source: self.name.clone(), line: line_no, column: bad.column };
        if self.options.on_error == OnError::Fail {
            return Err(SourceError::Record { position, reason: bad.reason });
        }
        self.rejected += 1;
        if let Some(out) = self.rejects.as_mut() {
            let text = String::from_utf8_lossy(&self.line).replace(['\t', '\n', '\r'], " ");
            let column = position.column.as_ref().map(|(n, name)| format!("column {n} ({name}): ")).unwrap_or_default();
            out.write_line(&format!("{}\t{}\t{column}{}\t{text}", self.name, line_no, bad.reason))?;
        }
        Ok(())
    }

    /// Turn `self.line` into a row of the batch being built, or reject it.
    fn take_record(&mut self, data: &mut Vec<f64>, ids: &mut Vec<u64>, ys: &mut Vec<i64>) -> Result<(), SourceError> {
        let line_no = self.line_no;
        let id = self.next_id;
        self.next_id += 1;
        if self.too_long() {
            let reason = format!("line is longer than {} bytes (--max-line-bytes)", self.options.max_line_bytes);
            return self.reject(Bad { column: None, reason }, line_no);
        }
        match self.parse_record() {
            Ok(label) => {
                data.extend_from_slice(&self.row);
                ids.push(id);
                if let Some(l) = label {
                    ys.push(l);
                }
                Ok(())
            }
            Err(bad) => self.reject(bad, line_no),
        }
    }
}

impl Source for TextSource {
    fn next_batch(&mut self) -> Result<Option<Batch>, SourceError> {
        let d = self.features.len();
        let cap = self.options.batch_size;
        let mut data = Vec::with_capacity(cap * d);
        let mut ids = Vec::with_capacity(cap);
        let mut ys = Vec::with_capacity(if self.labels.is_some() { cap } else { 0 });
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        let result = (|| {
            if self.held {
                self.held = false;
                self.take_record(&mut data, &mut ids, &mut ys)?;
                self.clear_line();
            }
            while !self.ended && ids.len() < cap {
                if self.options.quit.load(Ordering::Relaxed) && !self.options.follow {
                    self.ended = true;
                    break;
                }
                match self.read_line().map_err(|e| self.io_error(e))? {
                    LineStatus::Complete => {
                        if !self.is_blank() {
                            self.take_record(&mut data, &mut ids, &mut ys)?;
                        }
                        self.clear_line();
                    }
                    LineStatus::Eof => self.ended = true,
                    LineStatus::Idle if !ids.is_empty() => break,
                    LineStatus::Idle => self.wait(),
                }
            }
            Ok::<(), SourceError>(())
        })();
        if let Some(out) = self.rejects.as_mut() {
            out.flush()?;
        }
        // Rows read before a bad record still go downstream, so their labels are written.
        if ids.is_empty() {
            return result.map(|()| None);
        }
        if let Err(e) = result {
            self.ended = true;
            self.pending_error = Some(e);
        }
        let x =
            Array2::from_shape_vec((ids.len(), d), data).map_err(|e| self.schema(format!("internal shape: {e}")))?;
        let batch = Batch { seq: self.seq, ids, x, y: self.labels.is_some().then_some(ys), end_offset: self.offset };
        self.seq += 1;
        Ok(Some(batch))
    }

    fn feature_names(&self) -> &[String] {
        &self.features
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
        self.next_id = position.records;
        self.rejected = position.rejected;
        super::resume_rejects(self.rejects.as_mut(), position, &self.name)?;
        if position.labels.is_some() {
            self.labels = position.labels.clone();
        }
        Ok(())
    }

    fn position(&self) -> crate::record::SourcePosition {
        crate::record::SourcePosition {
            records: self.next_id,
            offset: self.offset,
            line: self.line_no,
            rejected: self.rejected,
            labels: self.labels.clone(),
            checksum: Some(self.checksum.clone().finalize()),
            rejects_len: self.rejects.as_ref().map(super::RejectsFile::len),
        }
    }

    fn sync(&mut self) -> Result<(), SourceError> {
        self.rejects.as_mut().map_or(Ok(()), super::RejectsFile::sync)
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

/// A decimal number, surrounding spaces allowed. fast-float2 parses the bytes
/// directly (std's `parse` wants a validated `&str`: a third of the time of a
/// CSV row went to UTF-8 checks and trimming).
fn parse_number(field: &[u8]) -> Option<f64> {
    let field = field.trim_ascii();
    match fast_float2::parse_partial::<f64, _>(field) {
        Ok((value, used)) if used == field.len() && !field.is_empty() => Some(value),
        _ => None,
    }
}

/// Field `i` of a line split by [`split_csv`] (a free function, so that it borrows only
/// the split buffers and the label map can be borrowed beside it).
fn field_of<'a>(bytes: &'a [u8], ends: &[usize], i: usize) -> &'a [u8] {
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &bytes[start..ends[i]]
}

/// Split one CSV line into fields: field `i` is `bytes[ends[i-1]..ends[i]]`
/// (from 0 for the first). A line without quotes is split at its commas
/// directly (memchr); one with quotes goes through csv-core's state machine.
fn split_csv(
    reader: &mut csv_core::Reader,
    line: &[u8],
    bytes: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> Result<(), String> {
    if memchr::memchr(b'"', line).is_none() {
        bytes.clear();
        ends.clear();
        let mut start = 0;
        for comma in memchr::memchr_iter(b',', line).chain(std::iter::once(line.len())) {
            bytes.extend_from_slice(&line[start..comma]);
            ends.push(bytes.len());
            start = comma + 1;
        }
        return Ok(());
    }
    split_quoted(reader, line, bytes, ends)
}

fn split_quoted(
    reader: &mut csv_core::Reader,
    line: &[u8],
    bytes: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> Result<(), String> {
    // Unquoting only shrinks a field, so the line's length is enough room.
    bytes.resize(line.len() + 1, 0);
    ends.resize(line.len() + 2, 0);
    let (mut input, mut out_len, mut ends_len) = (line, 0, 0);
    let mut fed_end = false;
    loop {
        let (result, nin, nout, nend) = reader.read_record(input, &mut bytes[out_len..], &mut ends[ends_len..]);
        input = &input[nin..];
        out_len += nout;
        ends_len += nend;
        match result {
            csv_core::ReadRecordResult::InputEmpty if !fed_end => fed_end = true,
            csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
            csv_core::ReadRecordResult::InputEmpty => break,
            csv_core::ReadRecordResult::OutputFull | csv_core::ReadRecordResult::OutputEndsFull => {
                return Err("a field could not be split".into())
            }
        }
    }
    ends.truncate(ends_len);
    Ok(())
}

/// One NDJSON record: the values of the keys asked for, the others checked and dropped.
/// A `serde_json::Map` of every key and value per record cost most of the parsing time.
struct Picked<'a> {
    keys: &'a std::collections::HashMap<String, usize>,
    values: &'a mut [Option<serde_json::Value>],
}

impl<'de> serde::de::DeserializeSeed<'de> for Picked<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Picked<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(slot) = map.next_key_seed(Key(self.keys))? {
            match slot {
                Some(i) => self.values[i] = Some(map.next_value()?),
                // Read in full, not skipped: a value the records do not use is held to
                // the same rules (number range, UTF-8, nesting) as one they do.
                None => {
                    map.next_value::<serde_json::Value>()?;
                }
            }
        }
        Ok(())
    }
}

/// A key, looked up without being copied: its slot, or `None` for a key not asked for.
struct Key<'a>(&'a std::collections::HashMap<String, usize>);

impl<'de> serde::de::DeserializeSeed<'de> for Key<'_> {
    type Value = Option<usize>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.get(key).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::split_csv;

    fn fields(line: &str) -> Vec<String> {
        let (mut bytes, mut ends) = (Vec::new(), Vec::new());
        split_csv(&mut csv_core::Reader::new(), line.as_bytes(), &mut bytes, &mut ends).expect("splits");
        let mut start = 0;
        ends.iter()
            .map(|&e| {
                let f = String::from_utf8_lossy(&bytes[start..e]).into_owned();
                start = e;
                f
            })
            .collect()
    }

    #[test]
    fn numbers_parse_whole_fields_only() {
        use super::parse_number;
        assert_eq!(parse_number(b" 1.5e3 "), Some(1500.0));
        assert_eq!(parse_number(b"-0.25"), Some(-0.25));
        assert_eq!(parse_number(b"1.5x"), None);
        assert_eq!(parse_number(b""), None);
        assert_eq!(parse_number(b"abc"), None);
        assert!(parse_number(b"NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_number(b"inf"), Some(f64::INFINITY));
    }

    #[test]
    fn plain_and_quoted_lines_split_alike() {
        assert_eq!(fields("1.5,,x"), ["1.5", "", "x"]);
        assert_eq!(fields("a"), ["a"]);
        assert_eq!(fields("\"a,b\",2,\"say \"\"hi\"\"\""), ["a,b", "2", "say \"hi\""]);
        assert_eq!(fields("1,\"2\""), fields("1,2"));
    }
}
