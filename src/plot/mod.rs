//! Pictures of a model's live state, drawn headless with plotters.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (the `dejavu` crate
//! through plotters' `ab_glyph` backend), so no window system or installed
//! fonts are needed. Files are written to a temporary name and renamed, so a
//! viewer never sees half a picture.

mod clusters;
mod layout;
mod trees;

use crate::snapshot::{working_units, Detail, Snapshot};
use linfa_linalg::eigh::Eigh;
use ndarray::{Array1, Array2, Axis};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use thiserror::Error;

/// Picture formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlotFormat {
    /// PNG (the default).
    #[default]
    Png,
    /// SVG.
    Svg,
}

impl PlotFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            PlotFormat::Png => "png",
            PlotFormat::Svg => "svg",
        }
    }
}

/// Why a picture could not be drawn.
#[derive(Debug, Error)]
pub enum PlotError {
    /// Drawing failed.
    #[error("drawing {path}: {reason}")]
    Draw {
        /// The picture.
        path: PathBuf,
        /// What plotters said.
        reason: String,
    },
    /// Writing or renaming failed.
    #[error("writing {path}")]
    Io {
        /// The picture.
        path: PathBuf,
        /// What the OS said.
        #[source]
        error: std::io::Error,
    },
}

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 800;

/// Register the embedded font once; plotters looks fonts up by family name.
fn fonts() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded DejaVu font could not be loaded".to_string())?;
            plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold())
                .map_err(|_| "the embedded DejaVu bold font could not be loaded".to_string())
        })
        .clone()
}

fn encode_png(path: &Path, pixels: &[u8]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    encode_png_into(std::io::BufWriter::new(file), pixels)
}

fn encode_png_into(out: impl std::io::Write, pixels: &[u8]) -> Result<(), String> {
    use image::ImageEncoder;
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Sub,
    );
    encoder.write_image(pixels, WIDTH, HEIGHT, image::ColorType::Rgb8).map_err(|e| e.to_string())
}

/// Draw `snapshot` as a PNG in memory (what the HTTP service answers with).
pub fn render_png(snapshot: &Snapshot) -> Result<Vec<u8>, PlotError> {
    let draw_err = |reason: String| PlotError::Draw { path: PathBuf::from("<memory>"), reason };
    fonts().map_err(draw_err)?;
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        State.paint(&root, snapshot).and_then(|()| root.present().map_err(|e| e.to_string())).map_err(draw_err)?;
    }
    let mut png = Vec::new();
    encode_png_into(&mut png, &pixels).map_err(draw_err)?;
    Ok(png)
}

/// What to draw: the state picture or the timeline.
trait Painter {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: &Snapshot) -> Result<(), String>;
}

struct State;

impl Painter for State {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: &Snapshot) -> Result<(), String> {
        draw(root, s)
    }
}

struct History;

impl Painter for History {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: &Snapshot) -> Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        match &s.detail {
            Detail::Clusterer { transforms, .. } => timeline_chart(
                root,
                s,
                &format!("{}: inertia per record over the run", s.model),
                &format!("squared distance to the assigned centre ({})", working_units(transforms)),
                ("mean since the start", "mean over the batch"),
                None,
            ),
            Detail::Classifier { .. } => timeline_chart(
                root,
                s,
                &format!("{}: prequential accuracy over the run", s.model),
                "accuracy",
                ("since the start", "rolling window"),
                Some(accuracy_range(s)),
            ),
        }
    }
}

/// Draw `snapshot` into `path` (written under a temporary name, then renamed).
pub fn render(snapshot: &Snapshot, path: &Path, format: PlotFormat) -> Result<(), PlotError> {
    render_with(snapshot, path, format, &State)
}

/// Draw the run's history (accuracy, or inertia for clusterers) into `path`.
pub fn render_timeline(snapshot: &Snapshot, path: &Path, format: PlotFormat) -> Result<(), PlotError> {
    render_with(snapshot, path, format, &History)
}

/// Draw a clusterer's history (each cluster's share of the records and how far its
/// centre moved) into `path`.
pub fn render_cluster_timeline(snapshot: &Snapshot, path: &Path, format: PlotFormat) -> Result<(), PlotError> {
    render_with(snapshot, path, format, &clusters::ClusterHistory)
}

/// Draw a tree model's (first) tree, its top levels node by node, and its shape over the
/// run (leaves, active leaves, depth) into `path`. An error for a snapshot without trees.
pub fn render_tree(snapshot: &Snapshot, path: &Path, format: PlotFormat) -> Result<(), PlotError> {
    render_with(snapshot, path, format, &trees::TreePicture)
}

/// Draw a forest's trees (each one's accuracy, the features most used for splits, the
/// replacements over the run) into `path`. An error for a snapshot without a forest.
pub fn render_forest(snapshot: &Snapshot, path: &Path, format: PlotFormat) -> Result<(), PlotError> {
    render_with(snapshot, path, format, &trees::ForestPicture)
}

/// Draw with `painter` into a temporary file of `format`, then rename it to `path`.
fn render_with(snapshot: &Snapshot, path: &Path, format: PlotFormat, painter: &impl Painter) -> Result<(), PlotError> {
    let draw_err = |reason: String| PlotError::Draw { path: path.to_path_buf(), reason };
    fonts().map_err(draw_err)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The bitmap backend picks its encoder from the extension, so the temporary keeps it.
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", format.extension()));
    let result = match format {
        PlotFormat::Png => {
            // Draw into memory, then encode with fast compression: plotters' own PNG
            // saving uses the default deflate level, several times slower for a
            // picture this size, and snapshots must stay cheap.
            let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
            let drawn = {
                let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
                painter.paint(&root, snapshot).and_then(|()| root.present().map_err(|e| e.to_string()))
            };
            drawn.and_then(|()| encode_png(&tmp, &pixels))
        }
        PlotFormat::Svg => {
            let root = SVGBackend::new(&tmp, (WIDTH, HEIGHT)).into_drawing_area();
            painter.paint(&root, snapshot).and_then(|()| root.present().map_err(|e| e.to_string()))
        }
    };
    if let Err(reason) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(draw_err(reason));
    }
    std::fs::rename(&tmp, path).map_err(|error| PlotError::Io { path: path.to_path_buf(), error })
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &Snapshot) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let title = format!("{} after {} records", s.model, s.records);
    let root = root.titled(&title, ("sans-serif", 28).into_font().style(FontStyle::Bold)).map_err(e)?;
    match &s.detail {
        Detail::Clusterer { centers, counts, inertia, ari, transforms, .. } => {
            let (left, right) = root.split_horizontally(WIDTH * 3 / 5);
            projection(&left, s, centers, counts)?;
            // The caption has no room for units: the scores go inside the chart, above the bars.
            let mut notes = vec![format!("mean inertia {} ({})", fmt(*inertia), working_units(transforms))];
            if let Some(a) = ari {
                notes.push(format!("ARI {a:.3}"));
            }
            sizes(&right, s, "records per cluster", "cluster", &notes)?;
        }
        Detail::Classifier { confusion, .. } => {
            let (top, bottom) = root.split_vertically(HEIGHT * 9 / 20);
            accuracy(&top, s)?;
            let (left, right) = bottom.split_horizontally(WIDTH / 2);
            sizes(&left, s, "records per predicted class", "class", &[])?;
            confusion_matrix(&right, s, confusion)?;
        }
    }
    Ok(())
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}"))
}

fn class_name(s: &Snapshot, id: i64) -> String {
    s.class_names
        .as_ref()
        .and_then(|n| usize::try_from(id).ok().and_then(|i| n.get(i).cloned()))
        .unwrap_or_else(|| id.to_string())
}

/// The first two principal axes of `sample` (columns of the result), or the first
/// two features when the decomposition fails or there are fewer than two rows.
pub fn principal_axes(sample: &Array2<f64>) -> Array2<f64> {
    let d = sample.ncols();
    let mut axes = Array2::zeros((d, 2));
    for j in 0..d.min(2) {
        axes[[j, j]] = 1.0;
    }
    if sample.nrows() < 2 || d < 2 {
        return axes;
    }
    let Some(mean) = sample.mean_axis(Axis(0)) else { return axes };
    let centred = sample - &mean;
    let cov = centred.t().dot(&centred) / (sample.nrows() as f64 - 1.0);
    if let Ok((values, vectors)) = cov.eigh() {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        for (k, &i) in order.iter().take(2).enumerate() {
            axes.column_mut(k).assign(&vectors.column(i));
        }
    }
    axes
}

fn projection<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Snapshot,
    centers: &Array2<f64>,
    counts: &[f64],
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    // Without records (a model file keeps none) the centres alone set the axes.
    let basis = if s.sample.nrows() == 0 && centers.ncols() == s.sample.ncols() { centers } else { &s.sample };
    let axes = principal_axes(basis);
    let mean: Array1<f64> = basis.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(s.features.len()));
    let points = (&s.sample - &mean).dot(&axes);
    let centres = if centers.ncols() == axes.nrows() { (centers - &mean).dot(&axes) } else { Array2::zeros((0, 2)) };
    let all: Vec<(f64, f64)> =
        points.outer_iter().chain(centres.outer_iter()).map(|r| (r[0], r.get(1).copied().unwrap_or(0.0))).collect();
    let (x0, x1) = bounds(all.iter().map(|p| p.0));
    let (y0, y1) = bounds(all.iter().map(|p| p.1));
    // Head room above the data for the legend, so it covers no point.
    let y1 = y1 + (y1 - y0) * 0.45;
    let caption = if s.sample.nrows() == 0 {
        format!("the {} centres alone: a model file keeps no records", centers.nrows())
    } else {
        format!("PCA of the last {} records ({} drawn), by cluster", s.sample.nrows(), s.sample.nrows().min(1000))
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("principal axis 1 (input units)")
        .y_desc("principal axis 2 (input units)")
        .draw()
        .map_err(e)?;
    // At most 1000 points, opaque: alpha blending was the costliest part of a snapshot.
    let step = (points.nrows() / 1000).max(1);
    chart
        .draw_series(points.outer_iter().zip(&s.sample_labels).step_by(step).map(|(p, &l)| {
            let colour = Palette99::pick(l.max(0) as usize).filled();
            Circle::new((p[0], p.get(1).copied().unwrap_or(0.0)), 2, colour)
        }))
        .map_err(e)?;
    let font = TextStyle::from(("sans-serif", 16).into_font());
    let mut names = Vec::with_capacity(centres.nrows());
    for (c, p) in centres.outer_iter().enumerate() {
        let at = (p[0], p.get(1).copied().unwrap_or(0.0));
        let count = counts.get(c).copied().unwrap_or(0.0);
        chart
            .draw_series(std::iter::once(Cross::new(at, 9, BLACK.stroke_width(3))))
            .map_err(e)?
            .label(format!("centre {c}: {count:.0}"))
            .legend(move |(x, y)| Circle::new((x, y), 5, Palette99::pick(c).filled()));
        let name = format!("{c} ({count:.0})");
        let size = area.estimate_text_size(&name, &font).map_err(e)?;
        names.push((at, chart.backend_coord(&at), name, size));
    }
    // Beside each cross where no other name or cross is: close centres would print
    // their names over each other (a name with no room is in the legend).
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let room = (xs.start, ys.start, xs.len() as u32, ys.len() as u32);
    let pixels: Vec<(i32, i32)> = names.iter().map(|n| n.1).collect();
    let sizes: Vec<(u32, u32)> = names.iter().map(|n| n.3).collect();
    for ((at, _, name, _), offset) in names.into_iter().zip(layout::place_labels(&pixels, &sizes, room, 9)) {
        let Some(offset) = offset else { continue };
        chart.draw_series(std::iter::once(EmptyElement::at(at) + Text::new(name, offset, font.clone()))).map_err(e)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(e)?;
    Ok(())
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad, hi + pad)
}

/// The end of a segmented range with `n` segments: `0..n-1` gives n of them, but
/// plotters needs a range of at least one step, so one bar gets a spare segment.
fn segments(n: usize) -> usize {
    if n > 1 {
        n - 1
    } else {
        1
    }
}

fn segment_label(labels: &[String], v: &SegmentValue<usize>) -> String {
    match v {
        SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

fn sizes<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Snapshot,
    caption: &str,
    what: &str,
    notes: &[String],
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    // (name, records, colour index): clusters are named by id, all of them (empty ones
    // too), coloured like their points; classes by their names.
    let bars: Vec<(String, u64, usize)> = match &s.detail {
        Detail::Clusterer { centers, .. } => (0..centers.nrows().max(s.label_counts.len()))
            .map(|c| (c.to_string(), s.label_counts.get(&(c as i64)).copied().unwrap_or(0), c))
            .collect(),
        Detail::Classifier { .. } => {
            s.label_counts.iter().enumerate().map(|(i, (&l, &n))| (class_name(s, l), n, i + 3)).collect()
        }
    };
    // Head room above the bars: a tenth, and a line for each note.
    let top = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64 * (1.1 + 0.06 * notes.len() as f64);
    let n = bars.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((0..segments(n)).into_segmented(), 0f64..top)
        .map_err(e)?;
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_formatter(&|v| segment_label(&labels, v))
        .y_labels(layout::whole_ticks(top, 10))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_desc(what)
        .y_desc("records")
        .draw()
        .map_err(e)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let colour = Palette99::pick(b.2);
            let mut bar = Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), b.1 as f64)],
                colour.filled(),
            );
            bar.set_margin(0, 0, 6, 6);
            bar
        }))
        .map_err(e)?;
    let inside = chart.plotting_area().strip_coord_spec();
    for (k, note) in notes.iter().enumerate() {
        inside.draw(&Text::new(note.as_str(), (10, 8 + 22 * k as i32), ("sans-serif", 17).into_font())).map_err(e)?;
    }
    Ok(())
}

fn accuracy<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, s: &Snapshot) -> Result<(), String> {
    timeline_chart(
        area,
        s,
        "prequential accuracy",
        "accuracy",
        ("since the start", "rolling window"),
        Some(accuracy_range(s)),
    )
}

/// The records where events were signalled, by kind: vertical marks on a timeline,
/// each kind with its colour and legend with the count of marks (a snapshot lists the
/// first events only).
fn drift_marks(s: &Snapshot) -> Vec<(Vec<f64>, RGBColor, String)> {
    use crate::pipeline::{RunEventKind as EventKind, Watched};
    let Some(d) = &s.drift else { return Vec::new() };
    type Pick = fn(&crate::pipeline::RunEvent) -> bool;
    let kinds: [(&str, RGBColor, Pick); 4] = [
        ("drift", RGBColor(20, 20, 20), |e| e.kind == EventKind::Drift && e.watched != Watched::Column),
        ("warning", RGBColor(240, 150, 0), |e| e.kind == EventKind::Warning && e.watched != Watched::Column),
        ("column drift", RGBColor(150, 60, 200), |e| e.kind == EventKind::Drift && e.watched == Watched::Column),
        ("tree replaced", RGBColor(0, 140, 120), |e| e.kind == EventKind::Replaced),
    ];
    kinds
        .into_iter()
        .filter_map(|(name, colour, pick)| {
            let marks: Vec<f64> = d.events.iter().filter(|e| pick(e)).map(|e| e.record as f64).collect();
            let label = format!("{name} ({})", marks.len());
            (!marks.is_empty()).then_some((marks, colour, label))
        })
        .collect()
}

/// From a little under the lowest accuracy seen up to 1.
fn accuracy_range(s: &Snapshot) -> (f64, f64) {
    let low = s.timeline.iter().flat_map(|p| [p.overall, p.recent]).fold(1.0, f64::min);
    ((((low - 0.05) * 20.0).floor() / 20.0).clamp(0.0, 0.95), 1.0)
}

/// The timeline of `s` as two lines.
fn timeline_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Snapshot,
    caption: &str,
    y_desc: &str,
    (overall, recent): (&str, &str),
    y_range: Option<(f64, f64)>,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let last = s.timeline.last().map_or(1, |p| p.records.max(1)) as f64;
    let (y0, y1) = y_range.unwrap_or_else(|| {
        let (lo, hi) = bounds(s.timeline.iter().flat_map(|p| [p.overall, p.recent]));
        (lo.min(0.0), hi)
    });
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .margin_right(40)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..last, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("records")
        .y_desc(y_desc)
        .x_labels(layout::whole_ticks(last, 10))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(s.timeline.iter().map(|p| (p.records as f64, p.overall)), BLUE.stroke_width(2)))
        .map_err(e)?
        .label(overall)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(s.timeline.iter().map(|p| (p.records as f64, p.recent)), RED.stroke_width(2)))
        .map_err(e)?
        .label(recent)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    for (marks, colour, label) in drift_marks(s) {
        let lines = marks.iter().map(|&r| PathElement::new(vec![(r, y0), (r, y1)], colour.stroke_width(2)));
        chart
            .draw_series(lines)
            .map_err(e)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x + 10, y - 8), (x + 10, y + 8)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(e)?;
    Ok(())
}

fn confusion_matrix<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Snapshot,
    cm: &crate::metrics::ConfusionMatrix,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let n = cm.labels.len().max(1);
    let names: Vec<String> = cm.labels.iter().map(|&l| class_name(s, l)).collect();
    let mut chart = ChartBuilder::on(area)
        .caption("confusion matrix (rows: true, columns: predicted)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((0..segments(n)).into_segmented(), (0..segments(n)).into_segmented())
        .map_err(e)?;
    // Rows are drawn top-down, so the first class is at the top.
    let flipped: Vec<String> = names.iter().rev().cloned().collect();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(n + 1)
        .y_labels(n + 1)
        .x_label_formatter(&|v| segment_label(&names, v))
        .y_label_formatter(&|v| segment_label(&flipped, v))
        .x_desc("predicted")
        .y_desc("true")
        .draw()
        .map_err(e)?;
    let max = cm.counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    for ((i, j), &count) in cm.counts.indexed_iter() {
        let y = n - 1 - i;
        let shade = 1.0 - 0.85 * (count as f64 / max);
        let colour = RGBColor((255.0 * shade) as u8, (255.0 * shade) as u8, 255);
        let cell = [
            (SegmentValue::Exact(j), SegmentValue::Exact(y)),
            (SegmentValue::Exact(j + 1), SegmentValue::Exact(y + 1)),
        ];
        chart.draw_series(std::iter::once(Rectangle::new(cell, colour.filled()))).map_err(e)?;
        let text_colour = if shade < 0.5 { WHITE } else { BLACK };
        let style = ("sans-serif", 16).into_font().color(&text_colour).pos(Pos::new(HPos::Center, VPos::Center));
        chart
            .draw_series(std::iter::once(Text::new(
                count.to_string(),
                (SegmentValue::CenterOf(j), SegmentValue::CenterOf(y)),
                style,
            )))
            .map_err(e)?;
    }
    Ok(())
}
