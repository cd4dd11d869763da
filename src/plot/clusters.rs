//! A clusterer's history: each cluster's share of the records and how far its centre
//! has moved, over the run, with the cluster events marked.

use super::{bounds, Painter};
use crate::snapshot::{ClusterPoint, Snapshot};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Paints [`Snapshot::cluster_timeline`].
pub(super) struct ClusterHistory;

impl Painter for ClusterHistory {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: &Snapshot) -> Result<(), String> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let title = format!("{}: clusters over the run", s.model);
        let root = root.titled(&title, ("sans-serif", 28).into_font().style(FontStyle::Bold)).map_err(e)?;
        let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 / 2);
        let shares = shares(&s.cluster_timeline);
        lines(&top, s, &shares, "share of the records since the previous point", "share")?;
        let moved = moved(&s.cluster_timeline);
        lines(&bottom, s, &moved, "distance of each centre from where it first stood", "distance (input units)")
    }
}

/// Per cluster, its share of the records between one point and the next.
pub(crate) fn shares(points: &[ClusterPoint]) -> Vec<Vec<(f64, f64)>> {
    let k = points.iter().map(|p| p.counts.len()).max().unwrap_or(0);
    (0..k)
        .map(|c| {
            let mut previous = (0u64, 0u64);
            points
                .iter()
                .filter_map(|p| {
                    let count = p.counts.get(c).copied().unwrap_or(0);
                    let (records, before) = previous;
                    previous = (p.records, count);
                    (p.records > records)
                        .then(|| (p.records as f64, count.saturating_sub(before) as f64 / (p.records - records) as f64))
                })
                .collect()
        })
        .collect()
}

/// Per cluster, the distance of its centre from where it stood at the first point
/// that had it (points without centres are skipped).
pub(crate) fn moved(points: &[ClusterPoint]) -> Vec<Vec<(f64, f64)>> {
    let k = points.iter().map(|p| p.centers.nrows()).max().unwrap_or(0);
    (0..k)
        .map(|c| {
            let mut first: Option<Vec<f64>> = None;
            points
                .iter()
                .filter(|p| c < p.centers.nrows() && p.centers.ncols() > 0)
                .map(|p| {
                    let row = p.centers.row(c).to_vec();
                    let start = first.get_or_insert_with(|| row.clone());
                    (p.records as f64, crate::model::sq_dist(&row, start.iter()).sqrt())
                })
                .collect()
        })
        .collect()
}

/// One line per cluster, its colour as in the state picture.
fn lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Snapshot,
    series: &[Vec<(f64, f64)>],
    caption: &str,
    y_desc: &str,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let last = s.cluster_timeline.last().map_or(1, |p| p.records.max(1)) as f64;
    let (_, hi) = bounds(series.iter().flatten().map(|p| p.1));
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .margin_right(40)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..last, 0f64..hi.max(1e-6))
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("records")
        .y_desc(y_desc)
        .x_labels(super::layout::whole_ticks(last, 10))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(e)?;
    // Cluster events: a line in the cluster's colour, named at the top of the chart.
    let events = s.drift.iter().flat_map(|d| &d.events).filter(|e| e.watched == crate::pipeline::Watched::Clusters);
    for event in events {
        let Some(c) = event.cluster.and_then(|c| usize::try_from(c).ok()) else { continue };
        let x = event.record as f64;
        let colour = Palette99::pick(c);
        chart
            .draw_series(std::iter::once(PathElement::new(vec![(x, 0.0), (x, hi)], colour.stroke_width(1))))
            .map_err(e)?;
        let label = format!("{} {c}", event.kind.name());
        let style = ("sans-serif", 14).into_font().color(&BLACK);
        chart.draw_series(std::iter::once(Text::new(label, (x, hi * 0.97), style))).map_err(e)?;
    }
    for (c, points) in series.iter().enumerate() {
        let colour = Palette99::pick(c);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))
            .map_err(e)?
            .label(format!("cluster {c}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], Palette99::pick(c).stroke_width(2)));
        // A short run has a point per mini-batch, the clusterer's step: each is marked.
        if points.len() <= 32 {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled()))).map_err(e)?;
        }
    }
    if series.len() <= 16 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn point(records: u64, centers: ndarray::Array2<f64>, counts: Vec<u64>) -> ClusterPoint {
        ClusterPoint { records, centers, counts }
    }

    #[test]
    fn shares_and_moves_come_from_the_points_differences() {
        let points = [
            point(100, array![[0.0, 0.0], [5.0, 5.0]], vec![50, 50]),
            point(200, array![[3.0, 4.0], [5.0, 5.0]], vec![140, 60]),
        ];
        assert_eq!(shares(&points), vec![vec![(100.0, 0.5), (200.0, 0.9)], vec![(100.0, 0.5), (200.0, 0.1)]]);
        assert_eq!(moved(&points), vec![vec![(100.0, 0.0), (200.0, 5.0)], vec![(100.0, 0.0), (200.0, 0.0)]]);
    }
}
