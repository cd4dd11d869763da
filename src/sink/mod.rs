//! Where labels go: one int64 label per record, in input order.
//!
//! Formats, chosen by the extension of the path:
//! - `.csv` (and `-`, standard output): a header `id,label`, then one line per
//!   record, `id` being the record's index in the input.
//! - `.ndjson` / `.jsonl`: one `{"id": ID, "label": LABEL}` object per line.
//! - `.npy`: a NumPy int64 array of shape `(records, 1)`, in input order, that
//!   `numpy.load` reads; ids are implicit (skipped records leave no row).
//!
//! - `redis://HOST:PORT/STREAM`: one entry per record and model (see [`RedisSink`]).
//! - `kafka://HOST:PORT/TOPIC`: one message per record and model (see `KafkaSink`).
//!
//! A record the model could not yet label (it knew no class yet) is written as
//! [`crate::model::NO_PREDICTION`], i64::MIN (-9223372036854775808): integer labels may be
//! negative, so no smaller sentinel is safe. Declaring the classes (`--classes`)
//! avoids it: a model then predicts from the first record on.

mod acking;
mod events;
#[cfg(feature = "kafka")]
mod kafka;
mod redis;

use crate::endpoint::{Endpoint, Engine, FileKind};
pub use acking::Acking;
pub use events::EventsFile;
#[cfg(feature = "kafka")]
pub use kafka::KafkaSink;
use npyz::WriterBuilder;
pub use redis::RedisSink;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Receives the labels of each batch, in order.
pub trait LabelSink: Send {
    /// Write the labels of records `ids`.
    fn write(&mut self, ids: &[u64], labels: &[i64]) -> io::Result<()>;
    /// Write the labels of records `ids`, whose ids in their engine (Redis entry ids)
    /// are `keys` when the source has them; sinks that key nothing write as `write`.
    fn write_keyed(&mut self, ids: &[u64], keys: Option<&[Arc<str>]>, labels: &[i64]) -> io::Result<()> {
        let _ = keys;
        self.write(ids, labels)
    }
    /// Flush everything; called once at the end, also after an error upstream.
    fn finish(&mut self) -> io::Result<()>;
    /// Make what was written so far visible (called when the stream goes quiet).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Make what was written so far durable (flushed and synced to disk) and return
    /// the length of the output in its own unit (bytes of a file; labels in memory).
    /// Checkpoints record it, so a resumed run can cut the output back to it.
    fn sync(&mut self) -> io::Result<u64>;
}

/// A destination that can make what it was given durable and say how long it is.
pub trait Durable: Write + Send {
    /// Flush, sync, and return the length written.
    fn durable(&mut self) -> io::Result<u64>;
}

impl Durable for BufWriter<File> {
    fn durable(&mut self) -> io::Result<u64> {
        self.flush()?;
        self.get_ref().sync_data()?;
        Ok(self.get_ref().metadata()?.len())
    }
}

impl Durable for BufWriter<io::Stdout> {
    /// Standard output cannot be synced or cut back: its length is not tracked.
    fn durable(&mut self) -> io::Result<u64> {
        self.flush()?;
        Ok(0)
    }
}

/// Labels as text lines: `id,label` under a header (CSV) or `{"id":…,"label":…}` (NDJSON).
pub struct LineSink<W: Durable> {
    out: W,
    ndjson: bool,
}

impl<W: Durable> LineSink<W> {
    /// CSV lines to `out`, after writing the header.
    pub fn csv(mut out: W) -> io::Result<Self> {
        writeln!(out, "id,label")?;
        Ok(Self { out, ndjson: false })
    }

    /// NDJSON lines to `out`.
    pub fn ndjson(out: W) -> Self {
        Self { out, ndjson: true }
    }

    /// Go on writing to `out`, which already holds what a checkpoint counted.
    fn resumed(out: W, ndjson: bool) -> Self {
        Self { out, ndjson }
    }
}

impl<W: Durable> LabelSink for LineSink<W> {
    fn write(&mut self, ids: &[u64], labels: &[i64]) -> io::Result<()> {
        if self.ndjson {
            for (&id, &label) in ids.iter().zip(labels) {
                writeln!(self.out, "{{\"id\":{id},\"label\":{label}}}")?;
            }
            return Ok(());
        }
        let mut buf = itoa::Buffer::new();
        for (&id, &label) in ids.iter().zip(labels) {
            self.out.write_all(buf.format(id).as_bytes())?;
            self.out.write_all(b",")?;
            self.out.write_all(buf.format(label).as_bytes())?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn sync(&mut self) -> io::Result<u64> {
        self.out.durable()
    }
}

/// A NumPy int64 `(n, 1)` array. Labels stream to `<path>.part` as raw int64;
/// `finish` writes the `.npy` (header by npyz, with the final length) and
/// removes the part file. (npyz's writer is not `Send`, so it cannot live in
/// the sink thread's state; it lives only inside `finish`.)
pub struct NpySink {
    path: std::path::PathBuf,
    part: std::path::PathBuf,
    raw: Option<BufWriter<File>>,
    n: u64,
}

impl NpySink {
    /// Start `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = std::path::PathBuf::from(part);
        let raw = BufWriter::with_capacity(1 << 16, File::create(&part)?);
        Ok(Self { path: path.to_path_buf(), part, raw: Some(raw), n: 0 })
    }
}

impl LabelSink for NpySink {
    fn write(&mut self, _ids: &[u64], labels: &[i64]) -> io::Result<()> {
        let raw = self.raw.as_mut().ok_or_else(|| io::Error::other("npy sink already finished"))?;
        for &label in labels {
            raw.write_all(&label.to_le_bytes())?;
        }
        self.n += labels.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let Some(raw) = self.raw.take() else { return Ok(()) };
        raw.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        let out = BufWriter::with_capacity(1 << 16, File::create(&self.path)?);
        let mut writer = npyz::WriteOptions::new().default_dtype().shape(&[self.n, 1]).writer(out).begin_nd()?;
        let mut input = io::BufReader::with_capacity(1 << 16, File::open(&self.part)?);
        let mut word = [0u8; 8];
        for _ in 0..self.n {
            io::Read::read_exact(&mut input, &mut word)?;
            writer.push(&i64::from_le_bytes(word))?;
        }
        writer.finish()?;
        std::fs::remove_file(&self.part)
    }

    /// The length of the `.part` file of raw labels.
    fn sync(&mut self) -> io::Result<u64> {
        match self.raw.as_mut() {
            Some(raw) => raw.durable(),
            None => Ok(self.n * 8),
        }
    }
}

/// Labels kept in memory, for tests and for programs that embed eddy.
#[derive(Clone, Default)]
pub struct MemorySink {
    /// `(id, label)` pairs in the order written.
    pub labels: Arc<Mutex<Vec<(u64, i64)>>>,
}

impl LabelSink for MemorySink {
    fn write(&mut self, ids: &[u64], labels: &[i64]) -> io::Result<()> {
        let mut all = self.labels.lock().map_err(|_| io::Error::other("memory sink poisoned"))?;
        all.extend(ids.iter().copied().zip(labels.iter().copied()));
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn sync(&mut self) -> io::Result<u64> {
        Ok(self.labels.lock().map_err(|_| io::Error::other("memory sink poisoned"))?.len() as u64)
    }
}

/// A sink for `path`, by extension; `-` is CSV on standard output; a `redis://` stream
/// gets `model`'s labels beside other models'.
pub fn create(path: &str, model: &str) -> io::Result<Box<dyn LabelSink>> {
    let lower = path.to_ascii_lowercase();
    let file = || File::create(Path::new(path)).map(|f| BufWriter::with_capacity(1 << 16, f));
    match Endpoint::of(path) {
        Endpoint::Stream(Engine::Redis) => return Ok(Box::new(RedisSink::create(path, model)?)),
        #[cfg(feature = "kafka")]
        Endpoint::Stream(Engine::Kafka) => return Ok(Box::new(KafkaSink::create(path, model)?)),
        #[cfg(not(feature = "kafka"))]
        Endpoint::Stream(Engine::Kafka) => return Err(without_kafka()),
        Endpoint::Stdio => return Ok(Box::new(LineSink::csv(BufWriter::new(io::stdout()))?)),
        Endpoint::File(FileKind::Npy) => return Ok(Box::new(NpySink::create(Path::new(path))?)),
        Endpoint::Synth(_) | Endpoint::File(FileKind::Text) => {}
    }
    if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
        Ok(Box::new(LineSink::ndjson(file()?)))
    } else if lower.ends_with(".csv") {
        Ok(Box::new(LineSink::csv(file()?)?))
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{path}: name the label file .csv, .ndjson, .jsonl or .npy"),
        ))
    }
}

/// Reopen the label file `path` of a resumed run, cut back to `len` (its length at
/// the checkpoint), to go on appending to it.
pub fn reopen(path: &str, model: &str, len: u64) -> io::Result<Box<dyn LabelSink>> {
    let endpoint = Endpoint::of(path);
    match endpoint {
        Endpoint::Stream(Engine::Redis) => return Ok(Box::new(RedisSink::reopen(path, model, len)?)),
        #[cfg(feature = "kafka")]
        Endpoint::Stream(Engine::Kafka) => return Ok(Box::new(KafkaSink::reopen(path, model, len)?)),
        #[cfg(not(feature = "kafka"))]
        Endpoint::Stream(Engine::Kafka) => return Err(without_kafka()),
        _ => {}
    }
    let lower = path.to_ascii_lowercase();
    let cut = |p: &Path| -> io::Result<BufWriter<File>> {
        let file = std::fs::OpenOptions::new().write(true).open(p)?;
        file.set_len(len)?;
        let mut file = file;
        io::Seek::seek(&mut file, io::SeekFrom::End(0))?;
        Ok(BufWriter::with_capacity(1 << 16, file))
    };
    if endpoint == Endpoint::Stdio {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "labels on standard output cannot be resumed"));
    }
    if endpoint == Endpoint::File(FileKind::Npy) {
        let target = Path::new(path);
        let mut part = target.as_os_str().to_owned();
        part.push(".part");
        let part = std::path::PathBuf::from(part);
        if !part.exists() && target.exists() {
            // The run had finished (or was killed just after): the labels are in the
            // .npy itself; take them back out to go on from the checkpoint.
            rebuild_part(target, &part)?;
        }
        let raw = cut(&part)?;
        return Ok(Box::new(NpySink { path: target.to_path_buf(), part, raw: Some(raw), n: len / 8 }));
    }
    let out = cut(Path::new(path))?;
    if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
        Ok(Box::new(LineSink::resumed(out, true)))
    } else {
        Ok(Box::new(LineSink::resumed(out, false)))
    }
}

/// A `kafka://` output in an eddy built without the `kafka` feature.
#[cfg(not(feature = "kafka"))]
fn without_kafka() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "this eddy was built without Kafka (cargo feature \"kafka\")")
}

/// Write the raw int64 labels of a finished `.npy` label file to `part`.
fn rebuild_part(npy: &Path, part: &Path) -> io::Result<()> {
    let file = npyz::NpyFile::new(io::BufReader::new(File::open(npy)?))?;
    let labels = file
        .data::<i64>()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", npy.display())))?;
    let mut out = BufWriter::new(File::create(part)?);
    for label in labels {
        out.write_all(&label?.to_le_bytes())?;
    }
    out.flush()
}

/// `<stem>.<model>.<ext>` next to `path`: the label file of one of several models (a
/// stream is shared: its entries name their model).
pub fn path_for_model(path: &str, model: &str) -> String {
    if !Endpoint::of(path).is_file() {
        return path.to_string();
    }
    let p = Path::new(path);
    let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match p.extension() {
        Some(ext) => format!("{stem}.{model}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{model}"),
    };
    p.with_file_name(name).display().to_string()
}
