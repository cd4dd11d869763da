//! The drift section of a report: what was watched, every listed event, and how the
//! model's score moved between one event and the next.

use super::{num, Block};
use crate::drift::ClusterEventCounts;
use crate::pipeline::{DriftSummary, RunEvent, Watched};
use crate::snapshot::{Detail, Snapshot, TimelinePoint};

/// The section's blocks, empty when nothing was watched.
pub(super) fn blocks(s: &Snapshot) -> Vec<Block> {
    let Some(d) = &s.drift else { return Vec::new() };
    let mut blocks = Vec::new();
    if let Some(detector) = &d.detector {
        blocks.extend(detector_blocks(s, d, detector));
    }
    if let (Some(spec), Some(counts)) = (&d.clusters, &d.cluster_events) {
        blocks.extend(cluster_blocks(d, spec, counts));
    }
    blocks
}

/// The detector's events (`--drift`, `--watch`).
fn detector_blocks(s: &Snapshot, d: &DriftSummary, detector: &str) -> Vec<Block> {
    // A forest's replacements are the trees section's.
    let events: Vec<&RunEvent> =
        d.events.iter().filter(|e| !matches!(e.watched, Watched::Clusters | Watched::Trees)).collect();
    let watched = match s.detail {
        Detail::Classifier { .. } => "the model's prequential errors (1 for a wrong label)",
        Detail::Clusterer { .. } => "each record's distance to its centre over the running mean",
    };
    let columns =
        if d.columns.is_empty() { String::new() } else { format!(", and the input columns {}", d.columns.join(", ")) };
    let listed = if events.len() as u64 == d.warnings.saturating_add(d.drifts) {
        String::new()
    } else {
        format!(" The first {} are listed.", events.len())
    };
    let (score, what) = match s.detail {
        Detail::Classifier { .. } => ("accuracy", "the share of records predicted right"),
        Detail::Clusterer { .. } => ("inertia", "the mean squared distance to the assigned centre"),
    };
    let mut blocks = vec![
        Block::Heading(3, "Drift".into()),
        Block::Text(format!(
            "`{detector}` watched {watched}{columns}: {} warnings, {} drifts.{listed} The {score} columns are {what} \
             from the previous event (or the start) to this one, and from this one to the next (or the end).",
            d.warnings, d.drifts
        )),
    ];
    if events.is_empty() {
        return blocks;
    }
    let mut rows = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let from = if i == 0 { 0 } else { events[i - 1].record };
        let to = events.get(i + 1).map_or(s.records, |n| n.record);
        rows.push(vec![
            e.record.to_string(),
            what_watched(e),
            e.kind.name().to_string(),
            format!("{} → {}", num(e.mean_before), num(e.mean_after)),
            num(score_between(&s.timeline, from, e.record)),
            num(score_between(&s.timeline, e.record, to)),
        ]);
    }
    let header =
        ["record", "watched", "kind", "level before → after", &format!("{score} before"), &format!("{score} after")];
    blocks.push(Block::Table(header.iter().map(|h| h.to_string()).collect(), rows));
    blocks
}

/// The cluster watch's events (`--cluster-events`).
fn cluster_blocks(d: &DriftSummary, spec: &str, c: &ClusterEventCounts) -> Vec<Block> {
    let events: Vec<&RunEvent> = d.events.iter().filter(|e| e.watched == Watched::Clusters).collect();
    let mut blocks = vec![
        Block::Heading(3, "Cluster events".into()),
        Block::Text(format!(
            "`{spec}` watched every cluster, window by window: {} moved (the centre moved more than its spread \
             allows), {} vanished (its share of the records fell near zero), {} appeared (a cluster without \
             records captured a new mass of them). Shares are of each window's records; distances and spreads \
             in input units. The history above marks them.",
            c.moved, c.vanished, c.appeared
        )),
    ];
    if events.is_empty() {
        return blocks;
    }
    let rows = events
        .iter()
        .map(|e| {
            let share = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.1}%", 100.0 * v));
            vec![
                e.record.to_string(),
                e.cluster.map_or("-".into(), |c| c.to_string()),
                e.kind.name().to_string(),
                format!("{} → {}", share(e.share_before), share(e.share_after)),
                num(e.distance),
                num(e.spread),
            ]
        })
        .collect();
    let header = ["record", "cluster", "kind", "share before → after", "moved by", "spread"];
    blocks.push(Block::Table(header.iter().map(|h| h.to_string()).collect(), rows));
    blocks
}

fn what_watched(e: &RunEvent) -> String {
    match (e.watched, &e.column) {
        (Watched::Column, Some(c)) => format!("column {c}"),
        (Watched::Column, None) => "a column".into(),
        (Watched::Error, _) => "errors".into(),
        (Watched::Distance, _) => "distances".into(),
        (Watched::Clusters, _) => "clusters".into(),
        (Watched::Trees, _) => "trees".into(),
    }
}

/// The mean score over records `from..to`, from the running mean since the start
/// (`overall`) at the timeline points nearest each end: `None` when they are the same
/// point (the interval falls between two points of the thinned timeline).
pub(super) fn score_between(timeline: &[TimelinePoint], from: u64, to: u64) -> Option<f64> {
    // The last point at or before `at`, or the start (no records, no score).
    let at = |r: u64| -> (u64, f64) {
        timeline.iter().take_while(|p| p.records <= r).last().map_or((0, 0.0), |p| (p.records, p.overall))
    };
    let (a, mean_a) = at(from);
    let (b, mean_b) = at(to);
    (b > a).then(|| (mean_b * b as f64 - mean_a * a as f64) / (b - a) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(records: u64, overall: f64) -> TimelinePoint {
        TimelinePoint { records, overall, recent: overall }
    }

    #[test]
    fn the_score_between_two_points_comes_from_the_running_means() {
        // 100 records at 0.9, then 100 at 0.5: the running mean is 0.7 at 200.
        let timeline = [point(50, 0.9), point(100, 0.9), point(150, 0.7666666666666667), point(200, 0.7)];
        let after = score_between(&timeline, 100, 200).expect("two points");
        assert!((after - 0.5).abs() < 1e-12, "{after}");
        assert_eq!(score_between(&timeline, 0, 100), Some(0.9));
        // 120 falls back to the point at 100; 130 too: one point, no score.
        assert_eq!(score_between(&timeline, 120, 130), None);
        assert_eq!(score_between(&[], 0, 100), None);
    }
}
