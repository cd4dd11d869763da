//! Parsing a file's lines on several threads, handed back in input order.
//!
//! One thread (the splitter) reads the input, decompressing it if need be, and cuts
//! it into chunks of whole lines; the workers parse chunks into rows with their own
//! [`RecordParser`]; the reader ([`Chunked::step`], on the source's thread) takes the
//! parsed lines back in input order. Everything that depends on the lines before
//! (line numbers, byte offsets, record ids, the class map, rejects, the checksum) is
//! done by that reader, one line at a time, exactly as the one-thread reader does it:
//! the two give the same batches, errors and positions.
//!
//! Cutting at any newline is safe because a quoted field may not hold one (one record
//! is one line). A line too long for `--max-line-bytes` is cut by the splitter as the
//! one-thread reader cuts it, so its memory stays bounded.

use super::decode::{Reason, RecordError};
use super::text::RecordParser;
use crossbeam_channel::{Receiver, Sender};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead};
use std::sync::Arc;

/// Bytes per chunk: large enough that handing one over costs nothing against parsing
/// it, small enough that a few per worker keep every core busy and memory small.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Chunks in flight per worker (read, parsed, or parsed and waiting their turn).
const IN_FLIGHT_PER_WORKER: usize = 3;

/// Lines of the input as the splitter cut them.
struct Chunk {
    /// Whole lines, each with its newline (the input's last line may have none).
    data: Vec<u8>,
    /// `Some(n)`: `data` is the first `max_line_bytes + 2` bytes of one over-long
    /// line, of which `n` more bytes (its newline included) were read and dropped.
    dropped: Option<u64>,
    /// CRC-32 of every byte the chunk stands for, dropped ones included.
    crc: crc32fast::Hasher,
}

impl Chunk {
    /// The bytes of input the chunk stands for.
    fn len(&self) -> u64 {
        self.data.len() as u64 + self.dropped.unwrap_or(0)
    }
}

/// What a line turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Nothing but a newline (or `\r\n`).
    Blank,
    /// A record, whose row is the next of the chunk's rows.
    Record,
    /// A refused record, whose error is the next of the chunk's errors.
    Bad,
}

/// A chunk's lines, parsed.
struct Parsed {
    chunk: Chunk,
    /// Each line's kind and where it ends in the chunk's data (past its newline).
    lines: Vec<(Kind, usize)>,
    errors: Vec<RecordError>,
    /// The records' numeric and categorical values, row after row.
    x: Vec<f64>,
    cats: Vec<Option<Arc<str>>>,
    /// Each record's label, as an index into `label_texts` (`u32::MAX`: none).
    labels: Vec<u32>,
    /// The chunk's distinct labels, in order of first appearance.
    label_texts: Vec<String>,
}

/// One line, as [`Chunked::step`] gives it.
#[derive(Debug)]
pub(super) enum Step<'a> {
    /// A blank line of `len` bytes.
    Blank { len: u64 },
    /// A record: its values, its label's text when it has one, and its line (for a
    /// class map that refuses the label).
    Record { len: u64, x: &'a [f64], cats: &'a [Option<Arc<str>>], label: Option<Label<'a>>, text: &'a [u8] },
    /// A refused record: why, and its text as the one-thread reader keeps it.
    Bad { len: u64, error: RecordError, text: &'a [u8] },
}

/// A record's label, and where its verdict from the class map is kept for the chunk's
/// other records of the same label.
#[derive(Debug)]
pub(super) struct Label<'a> {
    /// The label as text.
    pub text: &'a str,
    /// The class map's verdict, once asked.
    pub verdict: &'a mut Option<Result<i64, String>>,
}

/// A parsed chunk being read line by line.
struct Cursor {
    parsed: Parsed,
    line: usize,
    row: usize,
    error: usize,
    /// Where the next line starts in the chunk's data.
    at: usize,
    /// The class map's verdict on each of the chunk's labels, as it is asked.
    verdicts: Vec<Option<Result<i64, String>>>,
}

impl Cursor {
    fn done(&self) -> bool {
        self.line == self.parsed.lines.len()
    }
}

/// The reader's end of the threads: parsed chunks in input order.
pub(super) struct Chunked {
    results: Receiver<(u64, io::Result<Parsed>)>,
    /// One credit back per chunk read: the splitter cuts a chunk only with a credit.
    credits: Sender<()>,
    /// Chunks parsed ahead of their turn.
    waiting: BTreeMap<u64, io::Result<Parsed>>,
    next: u64,
    current: Option<Cursor>,
    /// The widths of a row.
    d: usize,
    w: usize,
    /// The most bytes of a line kept (see [`cut_line`]).
    keep: usize,
    /// CRC-32 of the input before the current chunk.
    before: crc32fast::Hasher,
}

impl Chunked {
    /// Read `reader` on a splitter thread and parse it on `workers` threads.
    pub(super) fn spawn(
        reader: Box<dyn BufRead + Send>,
        parser: &RecordParser,
        widths: (usize, usize),
        max_line_bytes: usize,
        workers: usize,
        chunk_bytes: usize,
        checksum: crc32fast::Hasher,
    ) -> Self {
        let workers = workers.max(1);
        let in_flight = workers * IN_FLIGHT_PER_WORKER;
        let (credits, credit_rx) = crossbeam_channel::bounded(in_flight);
        for _ in 0..in_flight {
            // Cannot fail: the channel has room for exactly these and its receiver is held.
            let _ = credits.send(());
        }
        let (work_tx, work_rx) = crossbeam_channel::bounded::<(u64, Chunk)>(in_flight);
        let (result_tx, results) = crossbeam_channel::unbounded();
        for _ in 0..workers {
            let (work_rx, result_tx, mut parser) = (work_rx.clone(), result_tx.clone(), parser.clone());
            // A worker ends when the splitter has ended and the work is done, or when
            // the reader is gone.
            std::thread::spawn(move || {
                for (seq, chunk) in work_rx {
                    let parsed = parse(chunk, &mut parser, max_line_bytes);
                    if result_tx.send((seq, Ok(parsed))).is_err() {
                        return;
                    }
                }
            });
        }
        let chunk_bytes = chunk_bytes.max(1);
        std::thread::spawn(move || split(reader, chunk_bytes, max_line_bytes, &credit_rx, &work_tx, &result_tx));
        Self {
            results,
            credits,
            waiting: BTreeMap::new(),
            next: 0,
            current: None,
            d: widths.0,
            w: widths.1,
            keep: max_line_bytes.saturating_add(2),
            before: checksum,
        }
    }

    /// The next line, `None` at the end of the input.
    pub(super) fn step(&mut self) -> io::Result<Option<Step<'_>>> {
        while self.current.as_ref().is_none_or(Cursor::done) {
            if let Some(done) = self.current.take() {
                self.before.combine(&done.parsed.chunk.crc);
                // The splitter may cut another chunk; it has ended if this fails.
                let _ = self.credits.send(());
            }
            let parsed = loop {
                if let Some(parsed) = self.waiting.remove(&self.next) {
                    break parsed;
                }
                match self.results.recv() {
                    Ok((seq, parsed)) => {
                        self.waiting.insert(seq, parsed);
                    }
                    // Every chunk was handed over: the end of the input.
                    Err(_) => return Ok(None),
                }
            };
            self.next += 1;
            let parsed = parsed?;
            let verdicts = vec![None; parsed.label_texts.len()];
            self.current = Some(Cursor { parsed, line: 0, row: 0, error: 0, at: 0, verdicts });
        }
        let (d, w) = (self.d, self.w);
        let Some(cursor) = self.current.as_mut() else { return Ok(None) };
        let (kind, end) = cursor.parsed.lines[cursor.line];
        let start = cursor.at;
        cursor.line += 1;
        cursor.at = end;
        let chunk = &cursor.parsed.chunk;
        let len = match chunk.dropped {
            Some(_) => chunk.len(),
            None => (end - start) as u64,
        };
        Ok(Some(match kind {
            Kind::Blank => Step::Blank { len },
            Kind::Record => {
                let r = cursor.row;
                cursor.row += 1;
                let p = &cursor.parsed;
                let label = match p.labels.get(r) {
                    Some(&k) if k != u32::MAX => {
                        let k = k as usize;
                        Some(Label { text: &p.label_texts[k], verdict: &mut cursor.verdicts[k] })
                    }
                    _ => None,
                };
                let (text, _) = cut_line(&p.chunk.data[start..end], self.keep);
                Step::Record { len, x: &p.x[r * d..(r + 1) * d], cats: &p.cats[r * w..(r + 1) * w], label, text }
            }
            Kind::Bad => {
                let error = cursor.parsed.errors[cursor.error].clone();
                cursor.error += 1;
                let (text, _) = cut_line(&chunk.data[start..end], self.keep);
                Step::Bad { len, error, text }
            }
        }))
    }

    /// The CRC-32 of the input up to the next line.
    pub(super) fn checksum(&self) -> crc32fast::Hasher {
        let mut hasher = self.before.clone();
        if let Some(cursor) = &self.current {
            if cursor.done() {
                hasher.combine(&cursor.parsed.chunk.crc);
            } else {
                hasher.update(&cursor.parsed.chunk.data[..cursor.at]);
            }
        }
        hasher
    }
}

/// A line (with its newline) as the one-thread reader keeps it: at most `keep` bytes,
/// without the newline; and whether bytes were dropped.
fn cut_line(raw: &[u8], keep: usize) -> (&[u8], bool) {
    let dropped = raw.len() > keep;
    let mut line = &raw[..raw.len().min(keep)];
    if let Some(rest) = line.strip_suffix(b"\n") {
        line = rest;
    }
    if let Some(rest) = line.strip_suffix(b"\r") {
        line = rest;
    }
    (line, dropped)
}

/// Parse a chunk's lines.
fn parse(chunk: Chunk, parser: &mut RecordParser, max_line_bytes: usize) -> Parsed {
    let mut parsed = Parsed {
        lines: Vec::new(),
        errors: Vec::new(),
        x: Vec::new(),
        cats: Vec::new(),
        labels: Vec::new(),
        label_texts: Vec::new(),
        chunk: Chunk { data: Vec::new(), dropped: None, crc: crc32fast::Hasher::new() },
    };
    let mut index: HashMap<String, u32> = HashMap::new();
    let keep = max_line_bytes.saturating_add(2);
    let data = &chunk.data;
    let mut start = 0;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i + 1);
        let (line, cut) = cut_line(&data[start..end], keep);
        let dropped = cut || chunk.dropped.is_some();
        let kind = if line.is_empty() && !dropped {
            Kind::Blank
        } else if dropped || line.len() > max_line_bytes {
            parsed.errors.push(RecordError::new(Reason::TooLong { max_bytes: max_line_bytes }));
            Kind::Bad
        } else {
            let texts = &mut parsed.label_texts;
            let label = parser.parse(line, &mut parsed.x, &mut parsed.cats, |raw| {
                let text = raw.text();
                Ok(match index.get(text.as_ref()) {
                    Some(&k) => k,
                    None => {
                        let k = u32::try_from(texts.len()).unwrap_or(u32::MAX - 1);
                        index.insert(text.to_string(), k);
                        texts.push(text.into_owned());
                        k
                    }
                })
            });
            match label {
                Ok(label) => {
                    parsed.labels.push(label.unwrap_or(u32::MAX));
                    Kind::Record
                }
                Err(error) => {
                    parsed.errors.push(error);
                    Kind::Bad
                }
            }
        };
        parsed.lines.push((kind, end));
        start = end;
    }
    parsed.chunk = chunk;
    parsed
}

/// Cut the input into chunks of whole lines, each sent with a credit.
fn split(
    mut reader: Box<dyn BufRead + Send>,
    chunk_bytes: usize,
    max_line_bytes: usize,
    credits: &Receiver<()>,
    work: &Sender<(u64, Chunk)>,
    results: &Sender<(u64, io::Result<Parsed>)>,
) {
    let keep = max_line_bytes.saturating_add(2);
    let mut carry: Vec<u8> = Vec::new();
    let mut seq = 0u64;
    let mut ended = false;
    while !ended {
        if credits.recv().is_err() {
            // The reader is gone.
            return;
        }
        let mut buf = std::mem::take(&mut carry);
        buf.reserve(chunk_bytes);
        // Read until the chunk is full and holds a newline, or the input ends.
        let mut dropped: Option<(u64, crc32fast::Hasher)> = None;
        let error = loop {
            let available = match reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Some(e),
            };
            if available.is_empty() {
                ended = true;
                break None;
            }
            let n = available.len();
            if let Some((count, crc)) = dropped.as_mut() {
                // Dropping the rest of an over-long line, up to its newline.
                let take = memchr::memchr(b'\n', available).map_or(n, |i| i + 1);
                crc.update(&available[..take]);
                *count += take as u64;
                let done = take < n || available[take - 1] == b'\n';
                carry.extend_from_slice(&available[take..]);
                reader.consume(n);
                if done {
                    break None;
                }
                continue;
            }
            buf.extend_from_slice(available);
            reader.consume(n);
            if buf.len() < chunk_bytes {
                continue;
            }
            if memchr::memrchr(b'\n', &buf).is_some() {
                break None;
            }
            if buf.len() >= keep {
                // One line longer than the limit: keep what the one-thread reader
                // keeps, and drop the rest of it as it comes.
                let mut crc = crc32fast::Hasher::new();
                crc.update(&buf);
                dropped = Some(((buf.len() - keep) as u64, crc));
                buf.truncate(keep);
            }
        };
        let mut send = |chunk: Chunk| {
            let sent = work.send((seq, chunk)).is_ok();
            seq += 1;
            sent
        };
        match dropped {
            // An over-long line that an error cut short is not a line.
            Some(_) if error.is_some() => {}
            Some((count, crc)) => {
                if !send(Chunk { data: buf, dropped: Some(count), crc }) {
                    return;
                }
            }
            None => {
                let cut = if ended || error.is_some() {
                    // The end: a last line without a newline is a line (but not after an error).
                    if error.is_some() {
                        memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1)
                    } else {
                        buf.len()
                    }
                } else {
                    memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1)
                };
                carry = buf.split_off(cut);
                let mut crc = crc32fast::Hasher::new();
                crc.update(&buf);
                if !buf.is_empty() && !send(Chunk { data: buf, dropped: None, crc }) {
                    return;
                }
            }
        }
        if let Some(e) = error {
            let _ = results.send((seq, Err(e)));
            return;
        }
    }
}
