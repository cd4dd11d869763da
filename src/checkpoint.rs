//! Checkpoints: each model's state, its scores and the source's position, at a
//! point where every label before it is durably written.
//!
//! How a checkpoint is taken, with nothing calling back up the pipeline: the
//! source stage marks the batch that completes every `--checkpoint-every`
//! records with its position; each model stage, after learning that batch,
//! sends its state down its sink's channel; each sink flushes and syncs its
//! labels, notes their length, and passes the state on; when every model has
//! reported, the checkpoint is written (model-file envelope, kind `checkpoint`:
//! digest, optional signature and encryption, temporary file, fsync, rename,
//! fsync of the folder) as `checkpoint-<records>.eddy`, and only the newest
//! `--keep-checkpoints` are kept.

use crate::metrics::{ClassificationMetrics, ClusteringMetrics};
use crate::model::Model;
use crate::model_file::{self, Header, Keys, ModelFileError};
use crate::record::{LabelMap, SourcePosition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The body kind of a checkpoint file.
pub const KIND: &str = "checkpoint";

/// Where and how often checkpoints are written.
#[derive(Debug, Clone)]
pub struct CheckpointOptions {
    /// The folder.
    pub dir: PathBuf,
    /// Every this many records.
    pub every_records: u64,
    /// Also (or instead) every this long.
    pub interval: Option<std::time::Duration>,
    /// How many to keep (the newest).
    pub keep: usize,
    /// Signing and encryption keys.
    pub keys: Keys,
    /// The input's feature names, for the header.
    pub features: Vec<String>,
    /// The run's settings that decide its labels (input, batch size, ...): recorded,
    /// and a resume with other values is refused.
    pub settings: Vec<(String, String)>,
}

/// One model's part of a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelCheckpoint {
    /// The model's name.
    pub name: String,
    /// Its label file.
    pub labels_path: String,
    /// The label file's durable length when the checkpoint was taken.
    pub labels_len: u64,
    /// Records the model had labelled.
    pub records: u64,
    /// The model.
    pub model: Model,
    /// Its classification scores.
    pub classification: ClassificationMetrics,
    /// Its clustering scores.
    pub clustering: ClusteringMetrics,
    /// What is watched beside it and the events listed so far (`--drift`, `--watch`).
    #[serde(default)]
    pub watches: Option<crate::pipeline::Watches>,
    /// The events file's durable length when the checkpoint was taken.
    pub events_len: u64,
    /// Its events waiting for their labels and its delayed scores (`--delayed-labels`).
    #[serde(default)]
    pub delayed: Option<crate::pipeline::delayed::Delayed>,
}

/// A checkpoint: the source's position and every model's state there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The run's settings (see [`CheckpointOptions::settings`]).
    pub settings: Vec<(String, String)>,
    /// Where the source stood.
    pub position: SourcePosition,
    /// Each model.
    pub models: Vec<ModelCheckpoint>,
}

/// Write `checkpoint` into `options.dir` and keep only the newest `options.keep`.
pub fn write(options: &CheckpointOptions, checkpoint: &Checkpoint) -> Result<PathBuf, ModelFileError> {
    let path = options.dir.join(format!("checkpoint-{:012}.eddy", checkpoint.position.records));
    let header = Header::new(
        KIND,
        options.features.clone(),
        checkpoint.position.labels.as_ref().and_then(LabelMap::class_names),
        checkpoint.position.records,
    );
    let mut checkpoint = std::borrow::Cow::Borrowed(checkpoint);
    if checkpoint.settings.is_empty() {
        checkpoint.to_mut().settings = options.settings.clone();
    }
    model_file::save(&path, &header, &*checkpoint, &options.keys)?;
    let files = files(&options.dir).map_err(|error| ModelFileError::Io { path: options.dir.clone(), error })?;
    for old in files.iter().rev().skip(options.keep.max(1)) {
        let _ = std::fs::remove_file(old);
    }
    Ok(path)
}

/// Remove temporary files that a crash in the middle of a write left in `dir`.
pub fn clean_temporaries(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// The checkpoint files of `dir`, oldest first.
pub fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.starts_with("checkpoint-") && n.ends_with(".eddy"))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Read and verify a checkpoint file.
pub fn load(path: &Path, keys: &Keys) -> Result<(Header, Checkpoint), ModelFileError> {
    let (header, checkpoint): (Header, Checkpoint) = model_file::load(path, KIND, keys)?;
    for m in &checkpoint.models {
        if let Some(d) = m.model.n_features().filter(|&d| d != header.features.len()) {
            return Err(ModelFileError::Encoding {
                path: path.to_path_buf(),
                reason: format!("model {} takes {d} features, the header names {}", m.name, header.features.len()),
            });
        }
    }
    Ok((header, checkpoint))
}
