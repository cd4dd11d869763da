//! The learn log: every batch learned since the last checkpoint, on disk before
//! its answer is sent.
//!
//! With it, a learn call that was answered 200 survives a SIGKILL or a power cut:
//! at start, the batches after the checkpoint are learned again, through the same
//! step, so the model comes back bit for bit.
//!
//! The batches learned together are written as one frame and synced with one fsync
//! (group commit): a frame is a small model-file envelope (digest; signature and
//! encryption with the service's keys, so the log can't be used to slip data into a
//! signed model) behind its length. Entries carry the record count they start at:
//! after a crash between writing a checkpoint and emptying the log, entries the
//! checkpoint holds are skipped, never learned twice.
//!
//! Only the last frame can have been cut short by a crash, since every frame
//! before it was synced; and none of its batches was answered. So a last frame
//! that is short, damaged or followed only by zeros (what a power cut can leave)
//! is cut off. A frame that fails its signature or decryption is never cut: the
//! log is refused instead (another key, or tampering).
//!
//! Entries keep the batch's categorical values (frames of kind [`KIND`]). Frames of
//! [`LEGACY_KIND`], written before records had them, are still read, as batches
//! without categorical values (which a model with categorical columns refuses).

use super::ServerError;
use crate::model_file::{self, Header, Keys, ModelFileError};
use crate::record::{Batch, LabelMap};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The body kind of a log frame.
pub const KIND: &str = "learn-batches-2";

/// The body kind of a log frame written before batches had categorical values.
pub const LEGACY_KIND: &str = "learn-batches";

/// A learned batch, as logged.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    /// Records the model had learned before this batch.
    pub first: u64,
    /// The records.
    pub x: Array2<f64>,
    /// Their categorical values, row-major (`None`: missing); none without categorical columns.
    pub cats: Vec<Option<String>>,
    /// Their class ids (or true cluster ids), when they had labels.
    pub y: Option<Vec<i64>>,
    /// The label map after this batch, when the batch changed it (a new name, or
    /// the first label deciding between integers and names).
    pub labels: Option<LabelMap>,
}

/// An entry of a [`LEGACY_KIND`] frame.
#[derive(Deserialize)]
struct LegacyEntry {
    first: u64,
    x: Array2<f64>,
    y: Option<Vec<i64>>,
    labels: Option<LabelMap>,
}

impl From<LegacyEntry> for Entry {
    fn from(e: LegacyEntry) -> Self {
        Self { first: e.first, x: e.x, cats: Vec::new(), y: e.y, labels: e.labels }
    }
}

/// The most records one logged batch may hold: more than any request may carry.
const MAX_ENTRY_ROWS: usize = 1 << 24;

impl Entry {
    /// Check a decoded entry before it is used: its sizes are declared by the file,
    /// and a matrix of 2^40 rows of nothing decodes to no data at all.
    fn check(&self, n_features: usize, n_categorical: usize) -> Result<(), String> {
        let (rows, cols) = self.x.dim();
        if cols != n_features {
            return Err(format!("an entry of {cols} features, the model has {n_features}"));
        }
        if rows > MAX_ENTRY_ROWS {
            return Err(format!("an entry of {rows} records, more than the {MAX_ENTRY_ROWS} a batch may hold"));
        }
        // Within MAX_ENTRY_ROWS rows, so the product cannot overflow for any sane width;
        // checked all the same, the width coming from a header.
        if rows.checked_mul(n_categorical) != Some(self.cats.len()) {
            return Err(format!(
                "an entry of {} categorical values for {rows} records, the model has {n_categorical} categorical columns",
                self.cats.len()
            ));
        }
        if self.y.as_ref().is_some_and(|y| y.len() != rows) {
            return Err("an entry whose labels and records differ in number".into());
        }
        Ok(())
    }
}

/// An entry to write: the batch is shared with the learner, not copied.
#[derive(Serialize)]
struct EntryRef<'a> {
    first: u64,
    x: &'a Array2<f64>,
    cats: CatsRef<'a>,
    y: Option<&'a [i64]>,
    labels: Option<&'a LabelMap>,
}

/// A batch's categorical values, written as [`Entry::cats`] reads them.
struct CatsRef<'a>(&'a [Option<Arc<str>>]);

impl Serialize for CatsRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(Option::as_deref))
    }
}

/// An open learn log.
#[derive(Debug)]
pub struct LearnLog {
    path: PathBuf,
    file: File,
    keys: Keys,
    features: Vec<String>,
    categorical: Vec<String>,
    /// Batches learned but not yet written.
    pending: Vec<(Arc<Batch>, Option<LabelMap>)>,
    /// Length of the log on disk.
    len: u64,
}

/// The log that goes with a checkpoint file.
pub fn path_for(checkpoint: &Path) -> PathBuf {
    let mut name = checkpoint.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".learn-log");
    checkpoint.with_file_name(name)
}

/// Errors that mean "another key", never "a write cut short".
fn is_key_error(e: &ModelFileError) -> bool {
    matches!(
        e,
        ModelFileError::BadSignature(_)
            | ModelFileError::Unsigned(_)
            | ModelFileError::NeedSigningKey(_)
            | ModelFileError::NeedEncryptionKey(_)
            | ModelFileError::WrongKey(_)
    )
}

/// The entries of one frame, of either kind.
fn decode_frame(path: &Path, frame: &[u8], keys: &Keys) -> Result<Vec<Entry>, ModelFileError> {
    match model_file::decode::<Vec<Entry>>(path, frame, KIND, keys) {
        Err(ModelFileError::Kind { found, .. }) if found == LEGACY_KIND => {
            let (_, old) = model_file::decode::<Vec<LegacyEntry>>(path, frame, LEGACY_KIND, keys)?;
            Ok(old.into_iter().map(Entry::from).collect())
        }
        other => other.map(|(_, entries)| entries),
    }
}

impl LearnLog {
    /// Open (or create) the log at `path` of a model of numeric `features` and
    /// `categorical` ones, and hand every entry it holds to `apply`, in order. A torn
    /// last frame is cut off (see the module's documentation).
    pub fn open(
        path: &Path,
        keys: &Keys,
        features: &[String],
        categorical: &[String],
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
        let bytes = {
            let mut b = Vec::new();
            file.read_to_end(&mut b).map_err(io)?;
            b
        };
        let refuse = |offset: usize, reason: String| ServerError::LearnLog {
            path: path.to_path_buf(),
            offset: offset as u64,
            reason,
        };
        let mut at = 0usize;
        while at < bytes.len() {
            let Some(size) = bytes.get(at..at + 8) else { break };
            let frame_len = u64::from_le_bytes(size.try_into().map_err(|_| refuse(at, "length".into()))?);
            let end = usize::try_from(frame_len).ok().and_then(|n| n.checked_add(at + 8));
            let Some(end) = end.filter(|&e| frame_len > 0 && e <= bytes.len()) else { break };
            match decode_frame(path, &bytes[at + 8..end], keys) {
                Ok(entries) => {
                    for entry in entries {
                        entry.check(features.len(), categorical.len()).map_err(|reason| refuse(at, reason))?;
                        apply(entry).map_err(|reason| refuse(at, reason))?;
                    }
                }
                Err(e) if is_key_error(&e) => return Err(refuse(at, e.to_string())),
                Err(_) if bytes[end..].iter().all(|&b| b == 0) => break,
                Err(e) => return Err(refuse(at, e.to_string())),
            }
            at = end;
        }
        if at < bytes.len() {
            eprintln!(
                "eddy serve: {}: cut off an unfinished last write ({} bytes; it was never answered)",
                path.display(),
                bytes.len() - at
            );
            file.set_len(at as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::Start(at as u64)).map_err(io)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            keys: keys.clone(),
            features: features.to_vec(),
            categorical: categorical.to_vec(),
            pending: Vec::new(),
            len: at as u64,
        })
    }

    /// Add a learned batch (and the label map, when the batch changed it); it is on
    /// disk after the next [`LearnLog::commit`].
    pub fn append(&mut self, batch: Arc<Batch>, labels: Option<LabelMap>) {
        self.pending.push((batch, labels));
    }

    /// Write the batches added since the last commit as one frame and sync it. On
    /// failure nothing of them stays in the log.
    pub fn commit(&mut self) -> Result<(), ModelFileError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let io = |error| ModelFileError::Io { path: self.path.clone(), error };
        let entries: Vec<EntryRef> = self
            .pending
            .iter()
            .map(|(batch, labels)| EntryRef {
                first: batch.ids.first().copied().unwrap_or(0),
                x: &batch.x,
                cats: CatsRef(batch.cats.values()),
                y: batch.y.as_deref(),
                labels: labels.as_ref(),
            })
            .collect();
        let mut header = Header::new(KIND, self.features.clone(), None, entries.first().map_or(0, |e| e.first));
        header.categorical = self.categorical.clone();
        let encoded = model_file::encode(&self.path, &header, &entries, &self.keys);
        self.pending.clear();
        let bytes = encoded?;
        let mut frame = Vec::with_capacity(bytes.len() + 8);
        frame.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        frame.extend_from_slice(&bytes);
        let written = self.file.write_all(&frame).and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.len += frame.len() as u64;
                Ok(())
            }
            // Cut off whatever part was written, so the next frame doesn't follow a torn one.
            Err(e) => {
                let _ = self.file.set_len(self.len);
                let _ = self.file.seek(SeekFrom::Start(self.len));
                Err(io(e))
            }
        }
    }

    /// Batches appended and not yet written.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Forget the batches appended after the first `keep` (a batch that was undone).
    pub fn truncate_pending(&mut self, keep: usize) {
        self.pending.truncate(keep);
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

    fn batch(first: u64) -> Arc<Batch> {
        let x = ndarray::array![[1.0, 2.0], [3.0, 4.0]];
        Arc::new(Batch {
            seq: 0,
            ids: vec![first, first + 1],
            x,
            y: Some(vec![0, 1]),
            end_offset: 0,
            ..Batch::default()
        })
    }

    /// Two frames (batches 0 and 2 together, then 4) written with `keys`; the log's length.
    fn write_log(path: &Path, keys: &Keys) -> u64 {
        let features = vec!["a".to_string(), "b".to_string()];
        let mut log = LearnLog::open(path, keys, &features, &[], |_| Ok(())).expect("opens");
        log.append(batch(0), None);
        log.append(batch(2), Some(LabelMap::discover()));
        log.commit().expect("commits");
        log.append(batch(4), None);
        log.commit().expect("commits");
        log.len()
    }

    fn replayed(path: &Path, keys: &Keys) -> Result<Vec<u64>, ServerError> {
        let mut firsts = Vec::new();
        LearnLog::open(path, keys, &["a".into(), "b".into()], &[], |e| {
            firsts.push(e.first);
            Ok(())
        })?;
        Ok(firsts)
    }

    fn length(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(u64::MAX)
    }

    #[test]
    fn an_entry_declaring_more_than_its_bytes_is_refused_before_use() {
        let dir = std::env::temp_dir().join(format!("eddy-log-sizes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("m.eddy.learn-log");
        let keys = Keys::default();
        // 2^40 rows of 0 columns: no data, and an id list of 8 TB at replay.
        let hostile = Entry { first: 0, x: Array2::zeros((1 << 40, 0)), cats: Vec::new(), y: None, labels: None };
        for (entry, says) in [
            (hostile, "0 features"),
            (
                Entry { first: 0, x: Array2::zeros((2, 2)), cats: Vec::new(), y: Some(vec![1]), labels: None },
                "differ in number",
            ),
            (
                Entry { first: 0, x: Array2::zeros((2, 2)), cats: vec![None], y: None, labels: None },
                "1 categorical values for 2 records",
            ),
        ] {
            let header = model_file::Header::new(KIND, vec!["a".into(), "b".into()], None, 0);
            let frame = model_file::encode(&path, &header, &vec![entry], &keys).expect("encodes");
            let mut bytes = (frame.len() as u64).to_le_bytes().to_vec();
            bytes.extend_from_slice(&frame);
            std::fs::write(&path, &bytes).expect("write");
            let mut applied = 0;
            let err = LearnLog::open(&path, &keys, &["a".into(), "b".into()], &[], |_| {
                applied += 1;
                Ok(())
            })
            .expect_err("refused");
            assert!(err.to_string().contains(says), "{err}");
            assert_eq!(applied, 0);
        }
    }

    #[test]
    fn categorical_values_are_logged_and_old_frames_are_still_read() {
        let dir = std::env::temp_dir().join(format!("eddy-log-cats-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("m.eddy.learn-log");
        let (keys, features, cities) = (keys(3), vec!["a".to_string()], vec!["city".to_string()]);
        let values = vec![Some(std::sync::Arc::from("paris")), None];
        let cats = crate::record::Categories::new(std::sync::Arc::from(cities.clone()), values, 2).expect("2 x 1");
        let batch = Batch { ids: vec![0, 1], x: ndarray::array![[1.0], [2.0]], cats, ..Batch::default() };
        let mut log = LearnLog::open(&path, &keys, &features, &cities, |_| Ok(())).expect("opens");
        log.append(Arc::new(batch), None);
        log.commit().expect("commits");
        drop(log);
        let mut read = Vec::new();
        LearnLog::open(&path, &keys, &features, &cities, |e| {
            read.push(e.cats);
            Ok(())
        })
        .expect("replays");
        assert_eq!(read, vec![vec![Some("paris".to_string()), None]]);

        // A frame written before batches had categories: read, as a batch without any.
        #[derive(Serialize)]
        struct Old {
            first: u64,
            x: Array2<f64>,
            y: Option<Vec<i64>>,
            labels: Option<LabelMap>,
        }
        let old = vec![Old { first: 0, x: ndarray::array![[1.0]], y: Some(vec![1]), labels: None }];
        let frame = model_file::encode(&path, &Header::new(LEGACY_KIND, features.clone(), None, 0), &old, &keys)
            .expect("encodes");
        let mut bytes = (frame.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(&frame);
        std::fs::write(&path, &bytes).expect("writes");
        let mut firsts = Vec::new();
        LearnLog::open(&path, &keys, &features, &[], |e| {
            firsts.push((e.first, e.x.nrows(), e.cats.len(), e.y));
            Ok(())
        })
        .expect("an old log is read");
        assert_eq!(firsts, vec![(0, 1, 0, Some(vec![1]))]);
        // The same log for a model with a categorical column: refused, with why.
        let err = LearnLog::open(&path, &keys, &features, &cities, |_| Ok(())).expect_err("no categories");
        assert!(err.to_string().contains("0 categorical values for 1 records"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn torn_tails_are_cut_and_everything_else_is_kept_or_refused() {
        let dir = std::env::temp_dir().join(format!("eddy-learn-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("nested").join("state.eddy.learn-log");
        let len = write_log(&path, &keys(1));
        assert_eq!(replayed(&path, &keys(1)).expect("replays"), vec![0, 2, 4]);
        let whole = std::fs::read(&path).expect("reads");

        // Another key: refused, and the log is left whole.
        let err = replayed(&path, &keys(2)).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("learn log entry at byte 0") && err.contains("signature"), "{err}");
        assert_eq!(length(&path), len);

        // What a crash can leave after the last synced frame: half a frame, zeros
        // (a power cut), a damaged last frame. Each is cut off.
        let mut half = whole.clone();
        half.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
        let mut zeros = whole.clone();
        zeros.extend_from_slice(&[0; 4096]);
        let mut damaged = whole.clone();
        let last = damaged.len() - 40;
        damaged[last] ^= 1;
        let mut damaged_then_zeros = damaged.clone();
        damaged_then_zeros.extend_from_slice(&[0; 100]);
        for (what, bytes, kept) in [
            ("half a frame", half, vec![0, 2, 4]),
            ("zeros", zeros, vec![0, 2, 4]),
            ("a damaged last frame", damaged, vec![0, 2]),
            ("a damaged last frame, then zeros", damaged_then_zeros, vec![0, 2]),
        ] {
            std::fs::write(&path, &bytes).expect("writes");
            assert_eq!(replayed(&path, &keys(1)).expect("replays"), kept, "{what}");
            assert!(length(&path) < bytes.len() as u64, "{what}: cut off");
        }

        // Damage before the last frame was synced and answered: refused, log left whole.
        let mut bytes = whole.clone();
        bytes[20] ^= 1;
        std::fs::write(&path, &bytes).expect("writes");
        assert!(replayed(&path, &keys(1)).is_err());
        assert_eq!(length(&path), bytes.len() as u64);

        // A length prefix that overflows is a torn tail, not a panic.
        std::fs::write(&path, u64::MAX.to_le_bytes()).expect("writes");
        assert_eq!(replayed(&path, &keys(1)).expect("replays"), Vec::<u64>::new());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
