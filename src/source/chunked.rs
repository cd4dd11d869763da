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
use std::io::{self, BufRead, Read};
use std::sync::Arc;

/// Bytes per chunk: large enough that handing one over costs nothing against parsing
/// it, small enough that a few per worker keep every core busy and memory small.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Chunks in flight per worker (read, parsed, or parsed and waiting their turn).
const IN_FLIGHT_PER_WORKER: usize = 3;

/// Bytes per line a chunk allows at least: a parsed line costs more than its bytes (a
/// refused one keeps its error), so a file of tiny lines is cut by count too (16,384
/// lines per 1 MiB chunk).
const MIN_BYTES_PER_LINE: usize = 64;

/// The most bytes asked of the reader at once: a `BufReader`'s own size, so that a
/// gzip decoder is called as by the one-thread reader (on corrupt data it drops what it
/// decoded in the failing call, and both readers then lose the same bytes).
const READ_BYTES: usize = 1 << 16;

/// A chunk of the input and, once parsed, its lines. The same few go round from the
/// splitter to a worker to the reader and back, so their buffers are allocated once.
struct Chunk {
    /// `data[..len]` are whole lines, each with its newline (the input's last line
    /// may have none); the rest of `data` is room to read into.
    data: Vec<u8>,
    len: usize,
    /// `Some(n)`: `data[..len]` is the first `max_line_bytes + 2` bytes of one
    /// over-long line, of which `n` more bytes (its newline included) were dropped.
    dropped: Option<u64>,
    /// CRC-32 of every byte the chunk stands for (by the worker; by the splitter for
    /// an over-long line, whose dropped bytes only it has seen).
    crc: crc32fast::Hasher,
    /// Each line's kind and where it ends in `data` (past its newline).
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

impl Chunk {
    fn empty() -> Self {
        Self {
            data: Vec::new(),
            len: 0,
            dropped: None,
            crc: crc32fast::Hasher::new(),
            lines: Vec::new(),
            errors: Vec::new(),
            x: Vec::new(),
            cats: Vec::new(),
            labels: Vec::new(),
            label_texts: Vec::new(),
        }
    }

    /// The bytes of input the chunk stands for.
    fn input_bytes(&self) -> u64 {
        self.len as u64 + self.dropped.unwrap_or(0)
    }

    /// Forget the lines, keep the buffers.
    fn clear(&mut self) {
        self.len = 0;
        self.dropped = None;
        self.crc = crc32fast::Hasher::new();
        self.lines.clear();
        self.errors.clear();
        self.x.clear();
        self.cats.clear();
        self.labels.clear();
        self.label_texts.clear();
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
    chunk: Chunk,
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
        self.line == self.chunk.lines.len()
    }
}

/// The reader's end of the threads: parsed chunks in input order.
pub(super) struct Chunked {
    results: Receiver<(u64, io::Result<Chunk>)>,
    /// Chunks read go back to the splitter through here, to be filled again.
    pool: Sender<Chunk>,
    /// Chunks parsed ahead of their turn.
    waiting: BTreeMap<u64, io::Result<Chunk>>,
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
        let (pool, pool_rx) = crossbeam_channel::unbounded();
        for _ in 0..in_flight {
            // Cannot fail: the receiver is held just above.
            let _ = pool.send(Chunk::empty());
        }
        let (work_tx, work_rx) = crossbeam_channel::bounded::<(u64, Chunk)>(in_flight);
        let (result_tx, results) = crossbeam_channel::unbounded();
        let mut started = 0;
        let mut failure = None;
        for i in 0..workers {
            let (work_rx, result_tx, mut parser) = (work_rx.clone(), result_tx.clone(), parser.clone());
            // A worker ends when the splitter has ended and the work is done, or when
            // the reader is gone.
            let spawned = std::thread::Builder::new().name(format!("eddy-parse-{i}")).spawn(move || {
                let mut index = HashMap::new();
                for (seq, mut chunk) in work_rx {
                    let unanswered = Unanswered { seq, results: &result_tx };
                    parse(&mut chunk, &mut parser, &mut index, max_line_bytes);
                    std::mem::forget(unanswered);
                    if result_tx.send((seq, Ok(chunk))).is_err() {
                        return;
                    }
                }
            });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => failure = Some(e),
            }
        }
        if let (0, Some(e)) = (started, failure) {
            // No worker: the reader sees this error in place of the input.
            let (tx, rx) = crossbeam_channel::unbounded();
            let _ = tx.send((0, Err(e)));
            return Self::new(rx, pool, widths, max_line_bytes, checksum);
        }
        let chunk_bytes = chunk_bytes.max(1);
        let splitter = std::thread::Builder::new().name("eddy-split".into()).spawn(move || {
            split(reader, chunk_bytes, max_line_bytes, &pool_rx, &work_tx, &result_tx);
        });
        if let Err(e) = splitter {
            // No splitter: the reader sees this error in place of the input.
            let (tx, rx) = crossbeam_channel::unbounded();
            let _ = tx.send((0, Err(e)));
            return Self::new(rx, pool, widths, max_line_bytes, checksum);
        }
        Self::new(results, pool, widths, max_line_bytes, checksum)
    }

    fn new(
        results: Receiver<(u64, io::Result<Chunk>)>,
        pool: Sender<Chunk>,
        widths: (usize, usize),
        max_line_bytes: usize,
        checksum: crc32fast::Hasher,
    ) -> Self {
        Self {
            results,
            pool,
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
                self.before.combine(&done.chunk.crc);
                let mut chunk = done.chunk;
                chunk.clear();
                // The splitter may fill it again; it has ended if this fails.
                let _ = self.pool.send(chunk);
            }
            let chunk = loop {
                if let Some(chunk) = self.waiting.remove(&self.next) {
                    break chunk;
                }
                match self.results.recv() {
                    Ok((seq, chunk)) => {
                        self.waiting.insert(seq, chunk);
                    }
                    // Every chunk was handed over: the end of the input.
                    Err(_) => return Ok(None),
                }
            };
            self.next += 1;
            let chunk = chunk?;
            let verdicts = vec![None; chunk.label_texts.len()];
            self.current = Some(Cursor { chunk, line: 0, row: 0, error: 0, at: 0, verdicts });
        }
        let (d, w, keep) = (self.d, self.w, self.keep);
        let Some(cursor) = self.current.as_mut() else { return Ok(None) };
        let (kind, end) = cursor.chunk.lines[cursor.line];
        let start = cursor.at;
        cursor.line += 1;
        cursor.at = end;
        let chunk = &cursor.chunk;
        let len = match chunk.dropped {
            Some(_) => chunk.input_bytes(),
            None => (end - start) as u64,
        };
        let (text, _) = cut_line(&chunk.data[start..end], keep);
        Ok(Some(match kind {
            Kind::Blank => Step::Blank { len },
            Kind::Record => {
                let r = cursor.row;
                cursor.row += 1;
                let label = match chunk.labels.get(r) {
                    Some(&k) if k != u32::MAX => {
                        let k = k as usize;
                        Some(Label { text: &chunk.label_texts[k], verdict: &mut cursor.verdicts[k] })
                    }
                    _ => None,
                };
                Step::Record {
                    len,
                    x: &chunk.x[r * d..(r + 1) * d],
                    cats: &chunk.cats[r * w..(r + 1) * w],
                    label,
                    text,
                }
            }
            Kind::Bad => {
                let error = chunk.errors[cursor.error].clone();
                cursor.error += 1;
                Step::Bad { len, error, text }
            }
        }))
    }

    /// The CRC-32 of the input up to the next line.
    pub(super) fn checksum(&self) -> crc32fast::Hasher {
        let mut hasher = self.before.clone();
        if let Some(cursor) = &self.current {
            if cursor.done() {
                hasher.combine(&cursor.chunk.crc);
            } else {
                hasher.update(&cursor.chunk.data[..cursor.at]);
            }
        }
        hasher
    }
}

/// A chunk a worker took and has not answered for: if the worker panics while parsing
/// it, the reader gets an error in its place rather than waiting for it forever.
struct Unanswered<'a> {
    seq: u64,
    results: &'a Sender<(u64, io::Result<Chunk>)>,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        let error = io::Error::other("a parsing thread failed (a bug in eddy: please report it)");
        let _ = self.results.send((self.seq, Err(error)));
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

/// Parse a chunk's lines; `index` is the worker's map of label texts, reused.
fn parse(chunk: &mut Chunk, parser: &mut RecordParser, index: &mut HashMap<String, u32>, max_line_bytes: usize) {
    index.clear();
    let keep = max_line_bytes.saturating_add(2);
    let data = &chunk.data[..chunk.len];
    if chunk.dropped.is_none() {
        chunk.crc.update(data);
    }
    let mut start = 0;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i + 1);
        let (line, cut) = cut_line(&data[start..end], keep);
        let dropped = cut || chunk.dropped.is_some();
        let kind = if line.is_empty() && !dropped {
            Kind::Blank
        } else if dropped || line.len() > max_line_bytes {
            chunk.errors.push(RecordError::new(Reason::TooLong { max_bytes: max_line_bytes }));
            Kind::Bad
        } else {
            let texts = &mut chunk.label_texts;
            let label = parser.parse(line, &mut chunk.x, &mut chunk.cats, |raw| {
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
                    chunk.labels.push(label.unwrap_or(u32::MAX));
                    Kind::Record
                }
                Err(error) => {
                    chunk.errors.push(error);
                    Kind::Bad
                }
            }
        };
        chunk.lines.push((kind, end));
        start = end;
    }
}

/// Cut the input into chunks of whole lines, in the pool's buffers, read straight
/// into them.
fn split(
    mut reader: Box<dyn BufRead + Send>,
    chunk_bytes: usize,
    max_line_bytes: usize,
    pool: &Receiver<Chunk>,
    work: &Sender<(u64, Chunk)>,
    results: &Sender<(u64, io::Result<Chunk>)>,
) {
    let keep = max_line_bytes.saturating_add(2);
    let max_lines = (chunk_bytes / MIN_BYTES_PER_LINE).max(1);
    // The start of a line, read after the last whole line of a chunk.
    let mut carry: Vec<u8> = Vec::new();
    let mut seq = 0u64;
    let mut ended = false;
    // After the end, what was read but left for later still goes out.
    while !ended || !carry.is_empty() {
        let Ok(mut chunk) = pool.recv() else {
            // The reader is gone.
            return;
        };
        let mut filled = carry.len();
        if chunk.data.len() < filled + chunk_bytes {
            chunk.data.resize(filled + chunk_bytes, 0);
        }
        chunk.data[..filled].copy_from_slice(&carry);
        carry.clear();
        // An over-long line being dropped: the bytes dropped so far, and their CRC-32
        // with the kept ones'.
        let mut dropped: Option<(u64, crc32fast::Hasher)> = None;
        let error = loop {
            if let Some((count, crc)) = dropped.as_mut() {
                // Read past the kept bytes, up to the line's newline.
                let room = keep + chunk_bytes.min(READ_BYTES);
                if chunk.data.len() < room {
                    chunk.data.resize(room, 0);
                }
                let n = match reader.read(&mut chunk.data[keep..room]) {
                    Ok(0) => {
                        ended = true;
                        break None;
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => break Some(e),
                };
                let read = &chunk.data[keep..keep + n];
                let newline = memchr::memchr(b'\n', read);
                let take = newline.map_or(n, |i| i + 1);
                crc.update(&read[..take]);
                *count += take as u64;
                if newline.is_some() {
                    carry.extend_from_slice(&read[take..]);
                    break None;
                }
                continue;
            }
            if filled >= chunk_bytes {
                if memchr::memrchr(b'\n', &chunk.data[..filled]).is_some() {
                    break None;
                }
                if filled >= keep {
                    // One line longer than the limit: keep what the one-thread reader
                    // keeps, and drop the rest of it as it comes.
                    let mut crc = crc32fast::Hasher::new();
                    crc.update(&chunk.data[..filled]);
                    dropped = Some(((filled - keep) as u64, crc));
                    filled = keep;
                    continue;
                }
            }
            if chunk.data.len() < filled + chunk_bytes {
                chunk.data.resize(filled + chunk_bytes, 0);
            }
            match reader.read(&mut chunk.data[filled..filled + chunk_bytes.min(READ_BYTES)]) {
                Ok(0) => {
                    ended = true;
                    break None;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        match dropped {
            // An over-long line that an error cut short is not a line.
            Some(_) if error.is_some() => {}
            Some((count, crc)) => {
                chunk.len = keep;
                chunk.dropped = Some(count);
                chunk.crc = crc;
                if work.send((seq, chunk)).is_err() {
                    return;
                }
                seq += 1;
            }
            None => {
                let whole = memchr::memrchr(b'\n', &chunk.data[..filled]).map_or(0, |i| i + 1);
                // At the end, a last line without a newline is a line (not after an error).
                let cut = if ended && error.is_none() { filled } else { whole };
                // At most `max_lines` lines; the rest waits for the next chunk (before an
                // error, all go at once: nothing comes after them).
                let cut = match memchr::memchr_iter(b'\n', &chunk.data[..cut]).nth(max_lines - 1) {
                    Some(i) if i + 1 < cut && error.is_none() => i + 1,
                    _ => cut,
                };
                carry.extend_from_slice(&chunk.data[cut..filled]);
                chunk.len = cut;
                if cut > 0 {
                    if work.send((seq, chunk)).is_err() {
                        return;
                    }
                    seq += 1;
                }
            }
        }
        if let Some(e) = error {
            let _ = results.send((seq, Err(e)));
            return;
        }
    }
}
