//! Reports of a run: `report.html` (self-contained, pictures embedded) and
//! `report.md` (pictures beside it), from the final snapshots of its models.
//!
//! Clusterers get, per cluster, its size and share, centre, spread (mean and
//! largest distance of its sampled members to the centre), nearest other
//! cluster, and the features that most set it apart from the overall mean (in
//! standard deviations); overall inertia, the silhouette of the sample, and
//! ARI when labels exist. Classifiers get accuracy, per-class precision,
//! recall and F1, and the confusion matrix. Both get their pictures.

use crate::plot::{self, PlotError, PlotFormat};
use crate::snapshot::{Detail, Snapshot};
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
                Detail::Clusterer { centers, .. } => centers.ncols() == d || centers.nrows() == 0,
                Detail::Classifier { .. } => true,
            };
            let consistent = s.sample.ncols() == d
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
    /// A record of a saved model alone (`eddy report model.eddy`): centres, counts and
    /// classes, but no sample of records, so no spread, silhouette or timeline.
    pub fn from_model(name: &str, header: &crate::model_file::Header, model: &crate::model::Model) -> Self {
        use crate::model::Model;
        use crate::snapshot::{Detail, Snapshot};
        use crate::{OnlineClassifier, OnlineClusterer};
        let d = header.n_features;
        let (detail, label_counts) = match model {
            Model::Clusterer(m) => {
                let counts = m.counts().to_vec();
                let label_counts = counts.iter().enumerate().map(|(i, &c)| (i as i64, c as u64)).collect();
                let centers =
                    m.cluster_centers().map(|c| c.to_owned()).unwrap_or_else(|| ndarray::Array2::zeros((0, d)));
                (Detail::Clusterer { centers, counts, inertia: None, ari: None }, label_counts)
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
            detail,
        };
        RunRecord {
            input: format!("model file {name}"),
            records: header.records_seen,
            rejected: 0,
            seconds: 0.0,
            snapshots: vec![snapshot],
        }
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
    /// Mean distance of its sampled members to the centre.
    pub spread_mean: Option<f64>,
    /// Largest distance of a sampled member to the centre.
    pub spread_max: Option<f64>,
    /// The nearest other centre and the distance to it.
    pub nearest: Option<(usize, f64)>,
    /// Up to three features furthest from the overall mean, in standard deviations.
    pub distinctive: Vec<(String, f64)>,
}

fn distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt()
}

/// Per-cluster figures of a clusterer's snapshot.
pub fn cluster_rows(s: &Snapshot) -> Vec<ClusterRow> {
    let Detail::Clusterer { centers, .. } = &s.detail else { return Vec::new() };
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
                spread_mean: (!members.is_empty()).then(|| members.iter().sum::<f64>() / members.len() as f64),
                spread_max: members.iter().copied().reduce(f64::max),
                nearest,
                distinctive,
            }
        })
        .collect()
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
pub fn write(record: &RunRecord, out: &Path) -> Result<ReportFiles, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| ReportError::Io { path, error }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    record.save(out)?;
    let mut blocks = vec![
        Block::Heading(1, "eddy run report".into()),
        Block::Text(format!(
            "Input `{}`: {} records, {} rejected, {:.2} s.",
            record.input, record.records, record.rejected, record.seconds
        )),
    ];
    let mut pictures = Vec::new();
    for s in &record.snapshots {
        blocks.push(Block::Heading(2, format!("{} ({} records)", s.model, s.records)));
        let state = format!("{}-state.png", s.model);
        let timeline = format!("{}-timeline.png", s.model);
        plot::render(s, &out.join(&state), PlotFormat::Png)?;
        plot::render_timeline(s, &out.join(&timeline), PlotFormat::Png)?;
        pictures.push(out.join(&state));
        pictures.push(out.join(&timeline));
        match &s.detail {
            Detail::Clusterer { inertia, ari, counts, .. } => {
                let rows = cluster_rows(s);
                blocks.push(Block::Text(format!(
                    "{} clusters. Mean inertia per record {}; silhouette of the last {} records {}; ARI against the label column {}.",
                    rows.len(),
                    num(*inertia),
                    s.sample.nrows(),
                    num(silhouette(s.sample.view(), &s.sample_labels)),
                    num(*ari)
                )));
                let mut table = Vec::new();
                for r in &rows {
                    let centre: Vec<String> = r.center.iter().map(|v| format!("{v:.3}")).collect();
                    let apart: Vec<String> = r.distinctive.iter().map(|(f, z)| format!("{f} {z:+.2} sd")).collect();
                    table.push(vec![
                        r.id.to_string(),
                        r.size.to_string(),
                        format!("{:.1}%", 100.0 * r.share),
                        format!("{:.0}", counts.get(r.id).copied().unwrap_or(0.0)),
                        centre.join(", "),
                        format!("{} / {}", num(r.spread_mean), num(r.spread_max)),
                        r.nearest.map_or("-".into(), |(o, d)| format!("{o} at {d:.3}")),
                        apart.join("; "),
                    ]);
                }
                let header = [
                    "cluster",
                    "records",
                    "share",
                    "model count",
                    "centre",
                    "spread mean / max",
                    "nearest",
                    "sets it apart",
                ];
                blocks.push(Block::Table(header.iter().map(|h| h.to_string()).collect(), table));
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
        blocks.push(Block::Picture(state, format!("{} after {} records", s.model, s.records)));
        blocks.push(Block::Picture(timeline, format!("{} over the run", s.model)));
    }
    let markdown = out.join("report.md");
    std::fs::write(&markdown, to_markdown(&blocks)).map_err(io(&markdown))?;
    let html = out.join("report.html");
    std::fs::write(&html, to_html(&blocks, out)?).map_err(io(&html))?;
    Ok(ReportFiles { html, markdown, pictures })
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
        }
    }
    md
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn to_html(blocks: &[Block], dir: &Path) -> Result<String, ReportError> {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>eddy run report</title>\n<style>\
         body{font-family:sans-serif;max-width:1250px;margin:2em auto;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
         th{background:#f4f4f4}img{max-width:100%;border:1px solid #ddd}</style></head><body>\n",
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
        }
    }
    html.push_str("</body></html>\n");
    Ok(html)
}
