//! CSV and NDJSON sources, plain or gzip, from a file or standard input.
//!
//! Lines are read by hand rather than through the `csv` crate's reader, for
//! three things it cannot do: cap the length of a line without buffering all of
//! it, keep reading a file that grows (`--follow`, where its reader stops for
//! good at the first end of file), and resume after a bad line in skip mode.
//! Each line is then decoded by [`super::decode`], whose rules and errors the
//! request bodies of `eddy serve` share. One record per line: a quoted field may
//! not contain a newline.

use super::decode::{parse_number, CsvLayout, Fields, JsonDecoder, Reason, RecordError};
use super::{OnError, Position, Source, SourceError, SourceOptions};
use crate::record::{Batch, LabelMap};
use ndarray::Array2;
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

/// CSV or NDJSON records as batches. See the module documentation.
pub struct TextSource {
    name: String,
    reader: Box<dyn BufRead + Send>,
    format: TextFormat,
    options: SourceOptions,
    features: Vec<String>,
    /// CSV: the header's columns, and which hold the features and the label.
    layout: CsvLayout,
    /// NDJSON: the keys of the features and the label.
    json: JsonDecoder,
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
    /// The current CSV line, split.
    fields: Fields,
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
        Self::from_reader(name, reader, format, options)
    }

    /// Read records of `format` from any reader (a file, a socket, bytes in memory);
    /// `name` is used in errors. `open` is this on a file or standard input.
    pub fn from_reader(
        name: String,
        reader: Box<dyn BufRead + Send>,
        format: TextFormat,
        options: SourceOptions,
    ) -> Result<Self, SourceError> {
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
            features: Vec::new(),
            layout: CsvLayout::default(),
            json: JsonDecoder::new(&[]),
            labels,
            line: Vec::new(),
            dropped: 0,
            line_no: 0,
            next_id: 0,
            seq: 0,
            offset: 0,
            held: false,
            pending_error: None,
            fields: Fields::new(),
            rejects,
            rejected: 0,
            ended: false,
            checksum: crc32fast::Hasher::new(),
        };
        source.resolve_columns()?;
        if source.format == TextFormat::Ndjson {
            source.json = match &source.options.label_column {
                Some(label) => JsonDecoder::new(&source.features).label(label),
                None => JsonDecoder::new(&source.features),
            };
        }
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
        let header = match self.format {
            TextFormat::Csv => match self.read_header()? {
                Some(header) => header,
                // No header: an empty input, which is an empty stream.
                None => return Ok(()),
            },
            TextFormat::Ndjson => Vec::new(),
        };
        let label_column = match (&self.options.label_column, self.format) {
            (Some(label), TextFormat::Csv) => Some(
                header
                    .iter()
                    .position(|h| h == label)
                    .ok_or_else(|| self.schema(format!("no column named {label:?} (the label column)")))?,
            ),
            _ => None,
        };
        let feature_columns = match (&self.options.features, self.format) {
            (Some(features), TextFormat::Csv) => {
                let mut cols = Vec::new();
                for f in features {
                    let idx = header.iter().position(|h| h == f);
                    cols.push(idx.ok_or_else(|| self.schema(format!("no column named {f:?} (in --features)")))?);
                }
                self.features = features.clone();
                cols
            }
            (Some(features), TextFormat::Ndjson) => {
                self.features = features.clone();
                Vec::new()
            }
            (None, _) => match self.detect_features(&header, label_column)? {
                Some(cols) => cols,
                None => return Ok(()),
            },
        };
        if self.format == TextFormat::Csv {
            self.layout = CsvLayout::new(header, feature_columns, label_column);
        }
        Ok(())
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
        self.fields.split(&self.line).map_err(|e| self.schema(format!("header: {e}")))?;
        let header: Vec<String> = (0..self.fields.len()).map(|i| self.fields.name(i)).collect();
        self.clear_line();
        Ok(Some(header))
    }

    /// All numeric columns except the label (and an id), judged on the first record,
    /// which is held for the first batch: their columns (CSV), `None` for an empty input.
    fn detect_features(
        &mut self,
        header: &[String],
        label_column: Option<usize>,
    ) -> Result<Option<Vec<usize>>, SourceError> {
        loop {
            match self.read_line().map_err(|e| self.io_error(e))? {
                LineStatus::Complete if self.is_blank() => self.clear_line(),
                LineStatus::Complete => {
                    strip_bom(&mut self.line);
                    break;
                }
                LineStatus::Eof => {
                    self.ended = true;
                    return Ok(None);
                }
                LineStatus::Idle => self.wait(),
            }
        }
        let numeric: Vec<(usize, String)> = match self.format {
            TextFormat::Csv => {
                self.fields.split(&self.line).map_err(|e| self.schema(e.to_string()))?;
                (0..self.fields.len().min(header.len()))
                    .filter(|&i| {
                        Some(i) != label_column && !is_id(&header[i]) && parse_number(self.fields.get(i)).is_some()
                    })
                    .map(|i| (i, header[i].clone()))
                    .collect()
            }
            TextFormat::Ndjson => {
                let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&self.line)
                    .map_err(|e| self.schema(format!("line {}: {e}", self.line_no)))?;
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
        self.held = true;
        let (columns, names) = numeric.into_iter().unzip();
        self.features = names;
        Ok(Some(columns))
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

    /// Append the features of the record in `self.line` to `row` (left as it was when
    /// the record is refused) and give its label id.
    fn parse_record(&mut self, row: &mut Vec<f64>) -> Result<Option<i64>, RecordError> {
        let labels = &mut self.labels;
        let id = |label: super::decode::RawLabel<'_>| {
            labels.as_mut().ok_or_else(|| "no label column".to_string())?.id(&label.text())
        };
        match self.format {
            TextFormat::Csv => {
                self.fields.split(&self.line)?;
                self.layout.decode(&self.fields, row, id)
            }
            TextFormat::Ndjson => {
                self.json.read(&self.line)?;
                self.json.decode(row, id)
            }
        }
    }

    /// Deal with a bad record: fail, or write it to the rejects file and go on.
    fn reject(&mut self, bad: RecordError, line_no: u64) -> Result<(), SourceError> {
        if self.options.on_error == OnError::Fail {
            let (column, reason) = bad.into_parts();
            let position = Position { source: self.name.clone(), line: line_no, column };
            return Err(SourceError::Record { position, reason: reason.to_string() });
        }
        self.rejected += 1;
        if let Some(out) = self.rejects.as_mut() {
            let text = String::from_utf8_lossy(&self.line).replace(['\t', '\n', '\r'], " ");
            out.write_line(&format!("{}\t{}\t{bad}\t{text}", self.name, line_no))?;
        }
        Ok(())
    }

    /// Turn `self.line` into a row of the batch being built, or reject it.
    fn take_record(&mut self, data: &mut Vec<f64>, ids: &mut Vec<u64>, ys: &mut Vec<i64>) -> Result<(), SourceError> {
        let line_no = self.line_no;
        let id = self.next_id;
        self.next_id += 1;
        if self.too_long() {
            let reason = Reason::TooLong { max_bytes: self.options.max_line_bytes };
            return self.reject(RecordError::new(reason), line_no);
        }
        match self.parse_record(data) {
            Ok(label) => {
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
        let batch = Batch {
            seq: self.seq,
            ids,
            x,
            y: self.labels.is_some().then_some(ys),
            end_offset: self.offset,
            ..Batch::default()
        };
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
