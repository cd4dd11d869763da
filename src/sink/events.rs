//! The drift events of a run (`--events-out`): one NDJSON object per warning or drift.
//!
//! Written by the model's own stage, in record order, and synced at checkpoints like
//! the labels: a resumed run cuts the file back to its length at the checkpoint.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// An events file being written.
pub struct EventsFile {
    out: BufWriter<File>,
    path: String,
}

impl EventsFile {
    /// Start `path` (replacing it).
    pub fn create(path: &str) -> io::Result<Self> {
        Ok(Self { out: BufWriter::new(File::create(Path::new(path))?), path: path.to_string() })
    }

    /// Go on with `path`, cut back to `len` bytes (its length at a checkpoint).
    pub fn reopen(path: &str, len: u64) -> io::Result<Self> {
        let mut file = std::fs::OpenOptions::new().write(true).open(Path::new(path))?;
        file.set_len(len)?;
        io::Seek::seek(&mut file, io::SeekFrom::End(0))?;
        Ok(Self { out: BufWriter::new(file), path: path.to_string() })
    }

    /// Its path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Write one event as a line of JSON.
    pub fn write<T: serde::Serialize>(&mut self, event: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")?;
        // Events are rare and someone may be tailing the file: make each visible.
        self.out.flush()
    }

    /// Flush, sync, and return the file's length.
    pub fn sync(&mut self) -> io::Result<u64> {
        super::Durable::durable(&mut self.out)
    }

    /// Flush at the end.
    pub fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
