//! Reports of a run: `report.html` (self-contained, pictures embedded) and
//! `report.md` (pictures beside it), from the final snapshots of its models.
//!
//! Clusterers get, per cluster, its size and share, centre, spread (mean and
//! largest distance of its sampled members to the centre), nearest other
//! cluster, and the features that most set it apart from the overall mean (in
//! standard deviations); overall inertia, the silhouette of the sample, and
//! ARI when labels exist. Centres, spreads and distances are in input units
//! (behind a scaler, the centres as the model keeps them stand beside them), and
//! the inertia says the units it is in. Classifiers get accuracy, per-class
//! precision, recall and F1, and the confusion matrix. Both get their pictures.
//!
//! A report of a model file (`eddy report model.eddy`) shows what the file has
//! and nothing it lacks: no run time, sample, scores or timeline.

mod delayed;
mod drift;
mod trees;

use crate::plot::{self, PlotError, PlotFormat};
use crate::snapshot::{working_units, Detail, Snapshot};
use base64::Engine;
use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// What a report is made from; saved as `run.json` beside plots and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// What was read.
    pub input: String,
    /// Records read.
    pub records: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Wall time.
    pub seconds: f64,
    /// Each model's final state.
    pub snapshots: Vec<Snapshot>,
}

/// Why a report could not be written.
#[derive(Debug, Error)]
pub enum ReportError {
    /// Reading or writing a file failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        error: std::io::Error,
    },
    /// `run.json` is not a run record.
    #[error("{path} is not an eddy run record (run.json)")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        error: serde_json::Error,
    },
    /// `run.json`'s parts do not fit together (hand-edited or damaged).
    #[error("{path}: the snapshot of {model} does not fit together (sample, labels and features differ in size)")]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// The model whose snapshot is wrong.
        model: String,
    },
    /// A picture failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
}

impl RunRecord {
    /// Save as `dir/run.json`.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        let path = dir.join("run.json");
        let io = |error| ReportError::Io { path: path.clone(), error };
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = serde_json::to_string(self).map_err(|e| io(std::io::Error::other(e)))?;
        std::fs::write(&path, text).map_err(io)?;
        Ok(path)
    }

    /// Load `run.json` from a run directory (or the file itself).
    pub fn load(path: &Path) -> Result<Self, ReportError> {
        let file = if path.is_dir() { path.join("run.json") } else { path.to_path_buf() };
        let text = std::fs::read_to_string(&file).map_err(|error| ReportError::Io { path: file.clone(), error })?;
        let record: RunRecord =
            serde_json::from_str(&text).map_err(|error| ReportError::Format { path: file.clone(), error })?;
        for s in &record.snapshots {
            let d = s.features.len();
            let centres_fit = match &s.detail {
                Detail::Clusterer { centers, model_centers, .. } => {
                    (centers.ncols() == d || centers.nrows() == 0)
                        && model_centers.as_ref().is_none_or(|m| m.ncols() == d && m.nrows() == centers.nrows())
                }
                Detail::Classifier { .. } => true,
            };
            // A hand-edited history could ask for any number of lines to draw.
            let history_fits = s.cluster_timeline.len() <= 1024
                && s.cluster_timeline.iter().all(|p| {
                    (p.centers.ncols() == d || p.centers.ncols() == 0)
                        && p.counts.len() <= crate::snapshot::MAX_HISTORY_CLUSTERS
                        && p.counts.len() == p.centers.nrows()
                        && p.centers.iter().all(|v| v.is_finite())
                });
            let trees_fit =
                s.trees.as_ref().is_none_or(crate::snapshot::TreeSummary::fits) && s.shape_timeline.len() <= 1024;
            let consistent = history_fits
                && trees_fit
                && s.sample.ncols() == d
                && s.sample_labels.len() == s.sample.nrows()
                && s.sample_truth.as_ref().is_none_or(|t| t.len() == s.sample.nrows())
                && s.moments.mean.len() == d
                && s.moments.var.len() == d
                && centres_fit;
            if !consistent {
                return Err(ReportError::Inconsistent { path: file, model: s.model.clone() });
            }
        }
        Ok(record)
    }
}

impl RunRecord {
    /// A record of a saved model alone (`eddy report model.eddy`): what the file has
    /// (centres in input units and as the model keeps them, counts, the running
    /// inertia over the records seen, classes) and nothing it lacks: no sample of
    /// records, so no spread, silhouette, scores or timeline.
    pub fn from_model(name: &str, header: &crate::model_file::Header, model: &crate::model::Model) -> Self {
        use crate::model::Model;
        use crate::snapshot::{Detail, Snapshot};
        use crate::{OnlineClassifier, OnlineClusterer};
        let d = header.n_features;
        let (detail, label_counts) = match model {
            Model::Clusterer(m) => {
                let counts = m.counts().to_vec();
                let label_counts = counts.iter().enumerate().map(|(i, &c)| (i as i64, c as u64)).collect();
                let (centers, transforms, model_centers) = Detail::clusterer_of(m, d);
                // The model's running inertia is summed over every record it learned.
                let seen = m.records_seen();
                let inertia = (seen > 0).then(|| m.inertia() / seen as f64);
                (Detail::Clusterer { centers, counts, inertia, ari: None, transforms, model_centers }, label_counts)
            }
            Model::Classifier(m) => {
                let confusion = crate::metrics::ConfusionMatrix {
                    labels: m.classes().to_vec(),
                    counts: ndarray::Array2::zeros((m.classes().len(), m.classes().len())),
                };
                (
                    Detail::Classifier {
                        accuracy: None,
                        rolling_accuracy: None,
                        macro_f1: None,
                        confusion,
                        per_class: Vec::new(),
                    },
                    BTreeMap::new(),
                )
            }
        };
        let snapshot = Snapshot {
            model: name.to_string(),
            records: header.records_seen,
            features: header.features.clone(),
            class_names: header.classes.clone(),
            moments: crate::Moments::new(d),
            sample: ndarray::Array2::zeros((0, d)),
            sample_labels: Vec::new(),
            sample_truth: None,
            timeline: Vec::new(),
            label_counts,
            cluster_timeline: Vec::new(),
            trees: crate::snapshot::TreeSummary::of(model, &header.features, header.classes.as_deref()),
            shape_timeline: Vec::new(),
            detail,
            drift: None,
            inputs: crate::preprocess::InputSummary::of(model, &header.features),
            delayed: None,
            from_model_file: true,
        };
        RunRecord {
            input: name.to_string(),
            records: header.records_seen,
            rejected: 0,
            seconds: 0.0,
            snapshots: vec![snapshot],
        }
    }

    /// True when the record is of model files alone (no run): see [`RunRecord::from_model`].
    pub fn is_model_file(&self) -> bool {
        !self.snapshots.is_empty() && self.snapshots.iter().all(|s| s.from_model_file)
    }
}

/// One cluster's line in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterRow {
    /// The cluster id (its label).
    pub id: usize,
    /// Records assigned to it over the run.
    pub size: u64,
    /// `size` over all records.
    pub share: f64,
    /// Its centre, in the input's units.
    pub center: Vec<f64>,
    /// Its centre as the model keeps it, in the units the model works in, when
    /// these are not input units (a scaler in front).
    pub model_center: Option<Vec<f64>>,
    /// Mean distance of its sampled members to the centre, in input units.
    pub spread_mean: Option<f64>,
    /// Largest distance of a sampled member to the centre, in input units.
    pub spread_max: Option<f64>,
    /// The nearest other centre and the distance to it, in input units.
    pub nearest: Option<(usize, f64)>,
    /// Up to three features furthest from the overall mean, in standard deviations.
    pub distinctive: Vec<(String, f64)>,
}

fn distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    crate::model::sq_dist(a, b).sqrt()
}

/// Per-cluster figures of a clusterer's snapshot.
pub fn cluster_rows(s: &Snapshot) -> Vec<ClusterRow> {
    let Detail::Clusterer { centers, model_centers, .. } = &s.detail else { return Vec::new() };
    let total: u64 = s.label_counts.values().sum();
    (0..centers.nrows())
        .map(|c| {
            let centre = centers.row(c);
            let members: Vec<f64> = s
                .sample
                .outer_iter()
                .zip(&s.sample_labels)
                .filter(|(_, &l)| l == c as i64)
                .map(|(row, _)| distance(row, centre))
                .collect();
            let nearest = (0..centers.nrows())
                .filter(|&o| o != c)
                .map(|o| (o, distance(centre, centers.row(o))))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let mut distinctive: Vec<(String, f64)> = s
                .features
                .iter()
                .enumerate()
                .filter_map(|(j, name)| {
                    let sd = s.moments.var.get(j)?.sqrt();
                    (sd > 0.0).then(|| (name.clone(), (centre[j] - s.moments.mean[j]) / sd))
                })
                .collect();
            distinctive.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
            distinctive.truncate(3);
            let size = s.label_counts.get(&(c as i64)).copied().unwrap_or(0);
            ClusterRow {
                id: c,
                size,
                share: if total > 0 { size as f64 / total as f64 } else { 0.0 },
                center: centre.to_vec(),
                model_center: model_centers
                    .as_ref()
                    .filter(|m| m.nrows() == centers.nrows())
                    .map(|m| m.row(c).to_vec()),
                spread_mean: (!members.is_empty()).then(|| members.iter().sum::<f64>() / members.len() as f64),
                spread_max: members.iter().copied().reduce(f64::max),
                nearest,
                distinctive,
            }
        })
        .collect()
}

/// Mean squared distance of the sampled records to the centre they were given,
/// in input units (the inertia per record of the sample). `None` without a sample.
pub fn sample_inertia(s: &Snapshot) -> Option<f64> {
    let Detail::Clusterer { centers, .. } = &s.detail else { return None };
    let squared: Vec<f64> = s
        .sample
        .outer_iter()
        .zip(&s.sample_labels)
        .filter_map(|(row, &l)| {
            let c = usize::try_from(l).ok().filter(|&c| c < centers.nrows() && centers.ncols() == row.len())?;
            Some(distance(row, centers.row(c)).powi(2))
        })
        .collect();
    (!squared.is_empty()).then(|| squared.iter().sum::<f64>() / squared.len() as f64)
}

/// Mean silhouette of `sample` under `labels` (scikit-learn's `silhouette_score`;
/// a point alone in its cluster scores 0). `None` with fewer than two clusters.
pub fn silhouette(sample: ArrayView2<f64>, labels: &[i64]) -> Option<f64> {
    let mut clusters: BTreeMap<i64, usize> = BTreeMap::new();
    for &l in labels {
        *clusters.entry(l).or_insert(0) += 1;
    }
    if clusters.len() < 2 || clusters.len() >= labels.len() {
        return None;
    }
    let index: BTreeMap<i64, usize> = clusters.keys().enumerate().map(|(i, &l)| (l, i)).collect();
    let sizes: Vec<usize> = clusters.values().copied().collect();
    let mut total = 0.0;
    let mut sums = vec![0.0; sizes.len()];
    for (i, row) in sample.outer_iter().enumerate() {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for (j, other) in sample.outer_iter().enumerate() {
            if i != j {
                sums[index[&labels[j]]] += distance(row, other);
            }
        }
        let own = index[&labels[i]];
        if sizes[own] == 1 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..sizes.len()).filter(|&k| k != own).map(|k| sums[k] / sizes[k] as f64).fold(f64::INFINITY, f64::min);
        let m = a.max(b);
        if m > 0.0 {
            total += (b - a) / m;
        }
    }
    Some(total / labels.len() as f64)
}

/// A piece of a report, written out as Markdown or HTML.
enum Block {
    Heading(u8, String),
    Text(String),
    Table(Vec<String>, Vec<Vec<String>>),
    Picture(String, String),
    /// Preformatted text (a tree as `eddy model show --tree` prints it).
    Code(String),
}

/// Files a report wrote.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// `report.html`.
    pub html: PathBuf,
    /// `report.md`.
    pub markdown: PathBuf,
    /// Pictures beside them.
    pub pictures: Vec<PathBuf>,
}

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.4}"))
}

fn class_name(s: &Snapshot, id: i64) -> String {
    s.class_names
        .as_ref()
        .and_then(|n| usize::try_from(id).ok().and_then(|i| n.get(i).cloned()))
        .unwrap_or_else(|| id.to_string())
}

/// Write `report.html`, `report.md`, their pictures and `run.json` into `out`.
///
/// A record of a model file (see [`RunRecord::from_model`]) shows what the file has
/// and nothing it lacks: no run time, sample, scores or timeline.
pub fn write(record: &RunRecord, out: &Path) -> Result<ReportFiles, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| ReportError::Io { path, error }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    record.save(out)?;
    let title = if record.is_model_file() { "eddy model file report" } else { "eddy run report" };
    let mut blocks = vec![Block::Heading(1, title.into())];
    blocks.push(Block::Text(if record.is_model_file() {
        format!(
            "Model file `{}`: {} records learned. The file keeps the model's state, not the records it \
             learned from: this report has no sample, no scores of a run and no timeline.",
            record.input, record.records
        )
    } else {
        format!(
            "Input `{}`: {} records, {} rejected, {:.2} s.",
            record.input, record.records, record.rejected, record.seconds
        )
    }));
    let mut pictures = Vec::new();
    for s in &record.snapshots {
        blocks.push(Block::Heading(2, format!("{} ({} records)", s.model, s.records)));
        let state = format!("{}-state.png", s.model);
        let timeline = format!("{}-timeline.png", s.model);
        // A classifier's picture from a model file would be all empty charts.
        let draw_state = !(s.from_model_file && matches!(s.detail, Detail::Classifier { .. }));
        if draw_state {
            plot::render(s, &out.join(&state), PlotFormat::Png)?;
            pictures.push(out.join(&state));
        }
        if !s.from_model_file {
            plot::render_timeline(s, &out.join(&timeline), PlotFormat::Png)?;
            pictures.push(out.join(&timeline));
        }
        match &s.detail {
            Detail::Clusterer { inertia, ari, counts, transforms, .. } => {
                let rows = cluster_rows(s);
                let scaled = !transforms.is_empty();
                let units = working_units(transforms);
                let why = if scaled {
                    format!(", the units the model works in (it has `{}` in front)", transforms.join(" | "))
                } else {
                    String::new()
                };
                let over = if s.from_model_file { "the model learned (its running inertia)" } else { "of the run" };
                let mut text = format!(
                    "{} clusters. Mean inertia per record {} in {units}{why}: the mean squared distance of a record \
                     to its assigned centre, over the {} records {over}.",
                    rows.len(),
                    num(*inertia),
                    s.records,
                );
                if s.from_model_file {
                    text += " No spread, silhouette or ARI: the file keeps no records.";
                } else {
                    if scaled {
                        let _ = write!(
                            text,
                            " The same over the last {} records, in input units: {}.",
                            s.sample.nrows(),
                            num(sample_inertia(s))
                        );
                    }
                    let _ = write!(
                        text,
                        " Silhouette of the last {} records (distances in input units) {}; ARI against the label column {}.",
                        s.sample.nrows(),
                        num(silhouette(s.sample.view(), &s.sample_labels)),
                        num(*ari)
                    );
                }
                blocks.push(Block::Text(text));
                let mut table = Vec::new();
                for r in &rows {
                    let mut row = vec![r.id.to_string(), r.size.to_string(), format!("{:.1}%", 100.0 * r.share)];
                    if !s.from_model_file {
                        row.push(format!("{:.0}", counts.get(r.id).copied().unwrap_or(0.0)));
                    }
                    row.push(coordinates(&r.center));
                    if scaled {
                        row.push(r.model_center.as_deref().map_or("-".into(), coordinates));
                    }
                    if !s.from_model_file {
                        row.push(format!("{} / {}", num(r.spread_mean), num(r.spread_max)));
                    }
                    row.push(r.nearest.map_or("-".into(), |(o, d)| format!("{o} at {d:.3}")));
                    if !s.from_model_file {
                        let apart: Vec<String> = r.distinctive.iter().map(|(f, z)| format!("{f} {z:+.2} sd")).collect();
                        row.push(apart.join("; "));
                    }
                    table.push(row);
                }
                let mut header = vec!["cluster".to_string()];
                if s.from_model_file {
                    header.extend(["records (model count)".into(), "share".into()]);
                } else {
                    header.extend(["records".into(), "share".into(), "model count".into()]);
                }
                header.push("centre (input units)".into());
                if scaled {
                    header.push(format!("centre ({units}, as the model keeps it)"));
                }
                if !s.from_model_file {
                    header.push("spread mean / max (distance, input units)".into());
                }
                header.push("nearest centre (distance, input units)".into());
                if !s.from_model_file {
                    header.push("sets it apart (sd of the feature)".into());
                }
                blocks.push(Block::Table(header, table));
                blocks.push(Block::Text(format!("Features: {}.", s.features.join(", "))));
            }
            Detail::Classifier { confusion, .. } if s.from_model_file => {
                let classes: Vec<String> = confusion.labels.iter().map(|&l| class_name(s, l)).collect();
                blocks.push(Block::Text(format!(
                    "Classes: {}. No accuracy, per-class scores or confusion matrix: the file keeps no records.",
                    if classes.is_empty() { "none yet".to_string() } else { classes.join(", ") }
                )));
                blocks.push(Block::Text(format!("Features: {}.", s.features.join(", "))));
            }
            Detail::Classifier { accuracy, rolling_accuracy, macro_f1, confusion, per_class } => {
                blocks.push(Block::Text(format!(
                    "Prequential accuracy {}, over the last records {}, macro F1 {}.",
                    num(*accuracy),
                    num(*rolling_accuracy),
                    num(*macro_f1)
                )));
                let rows = per_class
                    .iter()
                    .map(|c| {
                        vec![
                            class_name(s, c.label),
                            c.support.to_string(),
                            format!("{:.4}", c.precision),
                            format!("{:.4}", c.recall),
                            format!("{:.4}", c.f1),
                        ]
                    })
                    .collect();
                let header = ["class", "records", "precision", "recall", "F1"];
                blocks.push(Block::Table(header.iter().map(|h| h.to_string()).collect(), rows));
                let mut header = vec!["true \\ predicted".to_string()];
                header.extend(confusion.labels.iter().map(|&l| class_name(s, l)));
                let rows = confusion
                    .labels
                    .iter()
                    .zip(confusion.counts.outer_iter())
                    .map(|(&l, row)| {
                        std::iter::once(class_name(s, l)).chain(row.iter().map(|c| c.to_string())).collect()
                    })
                    .collect();
                blocks.push(Block::Heading(3, "Confusion matrix".into()));
                blocks.push(Block::Table(header, rows));
            }
        }
        if draw_state {
            blocks.push(Block::Picture(state, format!("{} after {} records", s.model, s.records)));
        }
        if !s.from_model_file {
            blocks.push(Block::Picture(timeline, format!("{} over the run", s.model)));
        }
        if !s.cluster_timeline.is_empty() {
            let file = format!("{}-clusters.png", s.model);
            plot::render_cluster_timeline(s, &out.join(&file), PlotFormat::Png)?;
            pictures.push(out.join(&file));
            blocks.push(Block::Heading(3, "Clusters over the run".into()));
            blocks.push(Block::Text(format!(
                "Each cluster's share of the records between one point of the history and the next, and how far \
                 its centre has moved from where it first stood (input units), at {} points over the run.",
                s.cluster_timeline.len()
            )));
            blocks.push(Block::Picture(file, format!("{}: clusters over the run", s.model)));
        }
        if let Some(t) = &s.trees {
            let mut drawn = Vec::new();
            let file = format!("{}-tree.png", s.model);
            plot::render_tree(s, &out.join(&file), PlotFormat::Png)?;
            pictures.push(out.join(&file));
            drawn.push((file, format!("{}: the top levels of its tree, and its shape over the run", s.model)));
            if t.forest.is_some() {
                let file = format!("{}-forest.png", s.model);
                plot::render_forest(s, &out.join(&file), PlotFormat::Png)?;
                pictures.push(out.join(&file));
                drawn.push((file, format!("{}: each tree's accuracy, the split features, the replacements", s.model)));
            }
            blocks.extend(trees::blocks(s, &drawn));
        }
        blocks.extend(drift::blocks(s));
        blocks.extend(input_blocks(s));
        blocks.extend(delayed::blocks(s));
    }
    let markdown = out.join("report.md");
    std::fs::write(&markdown, to_markdown(&blocks)).map_err(io(&markdown))?;
    let html = out.join("report.html");
    std::fs::write(&html, to_html(title, &blocks, out)?).map_err(io(&html))?;
    Ok(ReportFiles { html, markdown, pictures })
}

/// The categorical columns the model encodes and the values its imputer filled.
fn input_blocks(s: &Snapshot) -> Vec<Block> {
    let mut blocks = Vec::new();
    if !s.inputs.categories.is_empty() {
        blocks.push(Block::Heading(3, "Categorical columns".into()));
        blocks.push(Block::Text(
            "Each category has a 0/1 column of its own, made when the category first came; values past \
             `max_categories` share an `other` column."
                .into(),
        ));
        let rows = s
            .inputs
            .categories
            .iter()
            .map(|c| vec![c.column.clone(), c.categories.to_string(), c.other.to_string()])
            .collect();
        blocks.push(Block::Table(vec!["column".into(), "categories".into(), "values in other".into()], rows));
    }
    if !s.inputs.imputed.is_empty() {
        blocks.push(Block::Heading(3, "Missing values".into()));
        let total: u64 = s.inputs.imputed.values().sum();
        blocks.push(Block::Text(format!("The imputer filled {total} missing values.")));
        let rows = s.inputs.imputed.iter().map(|(c, n)| vec![c.clone(), n.to_string()]).collect();
        blocks.push(Block::Table(vec!["column".into(), "values filled".into()], rows));
    }
    blocks
}

fn coordinates(v: &[f64]) -> String {
    v.iter().map(|v| format!("{v:.3}")).collect::<Vec<_>>().join(", ")
}

fn to_markdown(blocks: &[Block]) -> String {
    let mut md = String::new();
    for b in blocks {
        match b {
            Block::Heading(level, text) => {
                let _ = writeln!(md, "{} {text}\n", "#".repeat(*level as usize));
            }
            Block::Text(text) => {
                let _ = writeln!(md, "{text}\n");
            }
            Block::Table(header, rows) => {
                let _ = writeln!(md, "| {} |", header.join(" | "));
                let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
                for r in rows {
                    let _ = writeln!(md, "| {} |", r.join(" | ").replace('\n', " "));
                }
                md.push('\n');
            }
            Block::Picture(file, alt) => {
                let _ = writeln!(md, "![{alt}]({file})\n");
            }
            Block::Code(text) => {
                let _ = writeln!(md, "```text\n{text}\n```\n");
            }
        }
    }
    md
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn to_html(title: &str, blocks: &[Block], dir: &Path) -> Result<String, ReportError> {
    let mut html =
        format!("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n", escape(title));
    html.push_str(
        "<style>\
         body{font-family:sans-serif;max-width:1250px;margin:2em auto;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
         th{background:#f4f4f4}img{max-width:100%;border:1px solid #ddd}\
         pre{background:#f7f7f7;padding:8px;overflow-x:auto}</style></head><body>\n",
    );
    for b in blocks {
        match b {
            Block::Heading(level, text) => {
                let _ = writeln!(html, "<h{level}>{}</h{level}>", escape(text));
            }
            Block::Text(text) => {
                let _ = writeln!(html, "<p>{}</p>", escape(&text.replace('`', "")));
            }
            Block::Table(header, rows) => {
                html.push_str("<table><tr>");
                for h in header {
                    let _ = write!(html, "<th>{}</th>", escape(h));
                }
                html.push_str("</tr>\n");
                for r in rows {
                    html.push_str("<tr>");
                    for c in r {
                        let _ = write!(html, "<td>{}</td>", escape(c));
                    }
                    html.push_str("</tr>\n");
                }
                html.push_str("</table>\n");
            }
            Block::Picture(file, alt) => {
                let path = dir.join(file);
                let bytes = std::fs::read(&path).map_err(|error| ReportError::Io { path, error })?;
                let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                let _ = writeln!(html, "<p><img alt=\"{}\" src=\"data:image/png;base64,{data}\"></p>", escape(alt));
            }
            Block::Code(text) => {
                let _ = writeln!(html, "<pre>{}</pre>", escape(text));
            }
        }
    }
    html.push_str("</body></html>\n");
    Ok(html)
}
