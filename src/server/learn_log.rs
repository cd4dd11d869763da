//! The learn log: every batch learned since the last checkpoint, on disk before
//! its answer is sent.
//!
//! With it, a learn call that was answered 200 survives a SIGKILL or a power cut:
//! at start, the batches after the checkpoint are learned again, through the same
//! step, so the model comes back bit for bit. Each entry is a small model-file
//! envelope (digest; signature and encryption with the service's keys, so the log
//! can't be used to slip data into a signed model) behind its length. Entries
//! carry the record count they start at: after a crash between writing a
//! checkpoint and emptying the log, entries the checkpoint holds are skipped,
//! never learned twice.
//!
//! Batches learned together are synced together (group commit): one fsync for
//! every batch waiting in the learner's queue, not one per request.

use super::ServerError;
use crate::model_file::{self, Header, Keys, ModelFileError};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The body kind of a log entry.
pub const KIND: &str = "learn-batch";

/// A learned batch, as logged.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    /// Records the model had learned before this batch.
    pub first: u64,
    /// The records.
    pub x: Array2<f64>,
    /// Their class ids (or true cluster ids), when they had labels.
    pub y: Option<Vec<i64>>,
    /// The class names after this batch, when the classes have names.
    pub names: Option<Vec<String>>,
}

/// An open learn log.
#[derive(Debug)]
pub struct LearnLog {
    path: PathBuf,
    file: File,
    keys: Keys,
    features: Vec<String>,
    /// Entries encoded but not yet written.
    pending: Vec<u8>,
    /// Length of the log on disk.
    len: u64,
}

/// The log that goes with a checkpoint file.
pub fn path_for(checkpoint: &Path) -> PathBuf {
    let mut name = checkpoint.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".learn-log");
    checkpoint.with_file_name(name)
}

impl LearnLog {
    /// Open (or create) the log at `path` and hand every entry it holds to `apply`,
    /// in order. A last entry cut short or damaged (a write the crash interrupted, never
    /// answered) is cut off; damage before the last entry is an error.
    pub fn open(
        path: &Path,
        keys: &Keys,
        features: &[String],
        mut apply: impl FnMut(Entry) -> Result<(), String>,
    ) -> Result<Self, ServerError> {
        let io = |error| ServerError::Io { path: path.to_path_buf(), error };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = File::options().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        // One service per log: a second one would interleave its entries with ours.
        file.try_lock().map_err(|_| {
            ServerError::Settings(format!(
                "{}: another eddy serve is using this checkpoint and its learn log",
                path.display()
            ))
        })?;
        let len = file.metadata().map_err(io)?.len();
        let mut at = 0u64;
        let mut reader = std::io::BufReader::new(&mut file);
        while at < len {
            let mut size = [0u8; 8];
            let frame_len = match reader.read_exact(&mut size) {
                Ok(()) => u64::from_le_bytes(size),
                Err(_) => break,
            };
            // A length past the end of the file: the write of the last entry was cut short
            // (a corrupt length in the middle of the log shows up the same way).
            let Some(end) = at.checked_add(8).and_then(|e| e.checked_add(frame_len)).filter(|&e| e <= len) else {
                break;
            };
            let mut frame =
                vec![0u8; usize::try_from(frame_len).map_err(|_| io(std::io::ErrorKind::InvalidData.into()))?];
            reader.read_exact(&mut frame).map_err(io)?;
            let decoded: Result<(Header, Entry), ModelFileError> = model_file::decode(path, &frame, KIND, keys);
            match decoded {
                Ok((_, entry)) => apply(entry).map_err(|reason| ServerError::LearnLog {
                    path: path.to_path_buf(),
                    offset: at,
                    reason,
                })?,
                // A last entry whose digest fails was being written when the crash came;
                // a key error (a signature, a decryption) is never cut off: the entry
                // was answered, and dropping it would lose it.
                Err(ModelFileError::Corrupt(_) | ModelFileError::Truncated(_)) if end == len => break,
                Err(e) => {
                    return Err(ServerError::LearnLog { path: path.to_path_buf(), offset: at, reason: e.to_string() })
                }
            }
            at = end;
        }
        drop(reader);
        if at < len {
            eprintln!("eddy serve: {}: cut off an unfinished last entry ({} bytes)", path.display(), len - at);
            file.set_len(at).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            keys: keys.clone(),
            features: features.to_vec(),
            pending: Vec::new(),
            len: at,
        })
    }

    /// Add a learned batch; it is on disk after the next [`LearnLog::commit`].
    pub fn append(
        &mut self,
        first: u64,
        x: &Array2<f64>,
        y: Option<&[i64]>,
        names: Option<&[String]>,
    ) -> Result<(), ModelFileError> {
        #[derive(Serialize)]
        struct EntryRef<'a> {
            first: u64,
            x: &'a Array2<f64>,
            y: Option<&'a [i64]>,
            names: Option<&'a [String]>,
        }
        let header = Header {
            format_version: model_file::FORMAT_VERSION,
            kind: KIND.into(),
            eddy_version: env!("CARGO_PKG_VERSION").into(),
            features: self.features.clone(),
            n_features: self.features.len(),
            classes: names.map(<[String]>::to_vec),
            records_seen: first,
            created: model_file::now(),
        };
        let bytes = model_file::encode(&self.path, &header, &EntryRef { first, x, y, names }, &self.keys)?;
        self.pending.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.pending.extend_from_slice(&bytes);
        Ok(())
    }

    /// Write the entries added since the last commit and sync them to disk.
    pub fn commit(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(&self.pending).and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => self.len += self.pending.len() as u64,
            // Cut off whatever part was written, so the next entries don't follow a torn one.
            Err(_) => {
                let _ = self.file.set_len(self.len);
                let _ = self.file.seek(SeekFrom::Start(self.len));
            }
        }
        self.pending.clear();
        written
    }

    /// Bytes on disk.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Empty the log: a checkpoint now holds everything in it.
    pub fn clear(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        self.file.set_len(0)?;
        self.len = 0;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_file::Key;

    fn keys(byte: u8) -> Keys {
        Keys { signing: Some(Key::from_bytes([byte; 32])), encryption: None }
    }

    /// A log of two entries written with `keys`; its length.
    fn write_log(path: &Path, keys: &Keys) -> u64 {
        let features = vec!["a".to_string(), "b".to_string()];
        let mut log = LearnLog::open(path, keys, &features, |_| Ok(())).expect("opens");
        let x = ndarray::array![[1.0, 2.0], [3.0, 4.0]];
        log.append(0, &x, Some(&[0, 1]), None).expect("appends");
        log.append(2, &x, None, None).expect("appends");
        log.commit().expect("commits");
        log.len()
    }

    fn replayed(path: &Path, keys: &Keys) -> Result<Vec<u64>, ServerError> {
        let mut firsts = Vec::new();
        LearnLog::open(path, keys, &["a".into(), "b".into()], |e| {
            firsts.push(e.first);
            Ok(())
        })?;
        Ok(firsts)
    }

    #[test]
    fn torn_tails_are_cut_and_everything_else_is_kept_or_refused() {
        let dir = std::env::temp_dir().join(format!("eddy-learn-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("nested").join("state.eddy.learn-log");
        let len = write_log(&path, &keys(1));
        assert_eq!(replayed(&path, &keys(1)).expect("replays"), vec![0, 2]);

        // Another key: refused, and the log is left whole.
        let err = replayed(&path, &keys(2)).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("learn log entry at byte 0") && err.contains("signature"), "{err}");
        assert_eq!(std::fs::metadata(&path).expect("exists").len(), len);

        // Half a frame at the end (a write cut short): cut off.
        let mut bytes = std::fs::read(&path).expect("reads");
        bytes.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
        std::fs::write(&path, &bytes).expect("writes");
        assert_eq!(replayed(&path, &keys(1)).expect("replays"), vec![0, 2]);
        assert_eq!(std::fs::metadata(&path).expect("exists").len(), len);

        // A damaged last entry (its digest fails): cut off; damage before it: refused.
        let mut bytes = std::fs::read(&path).expect("reads");
        let last = bytes.len() - 40;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).expect("writes");
        assert_eq!(replayed(&path, &keys(1)).expect("replays"), vec![0]);
        let len = write_log(&path, &keys(1));
        let mut bytes = std::fs::read(&path).expect("reads");
        bytes[20] ^= 1;
        std::fs::write(&path, &bytes).expect("writes");
        assert!(replayed(&path, &keys(1)).is_err());
        assert_eq!(std::fs::metadata(&path).expect("exists").len(), len);

        // A length prefix that overflows is a torn tail, not a panic.
        std::fs::write(&path, u64::MAX.to_le_bytes()).expect("writes");
        assert_eq!(replayed(&path, &keys(1)).expect("replays"), Vec::<u64>::new());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
