//! The delayed-labels section of a report (`--delayed-labels`): what became of the
//! events, the accuracy on their labels, and how late the labels came.

use super::{num, Block};
use crate::snapshot::Snapshot;

/// The section's blocks, empty without delayed labels.
pub(super) fn blocks(s: &Snapshot) -> Vec<Block> {
    let Some(d) = &s.delayed else { return Vec::new() };
    let mut blocks = vec![
        Block::Heading(3, "Delayed labels".into()),
        Block::Text(format!(
            "{} events were labelled on arrival; {} were learned when their label came, with an accuracy of {} \
             (the label given on arrival against the one that came). {} expired ({} past --label-ttl, {} to make \
             room under --max-pending), {} still wait. {} labels came late, {} for unknown ids, {} duplicate events \
             were skipped.",
            d.events,
            d.learned,
            num(d.accuracy),
            d.expired,
            d.expired_ttl,
            d.expired_capacity,
            d.pending,
            d.late,
            d.unknown,
            d.duplicates
        )),
    ];
    if let Some(delay) = &d.delay {
        let exact = if delay.exact { "exact" } else { "within 0.4 %" };
        blocks.push(Block::Table(
            ["label delay", "median", "p99", "max"].iter().map(|h| h.to_string()).collect(),
            vec![
                vec![
                    "records".into(),
                    delay.records.median.to_string(),
                    delay.records.p99.to_string(),
                    delay.records.max.to_string(),
                ],
                vec![
                    "seconds".into(),
                    format!("{:.3}", delay.seconds.median),
                    format!("{:.3}", delay.seconds.p99),
                    format!("{:.3}", delay.seconds.max),
                ],
            ],
        ));
        blocks.push(Block::Text(format!("Over {} labels ({exact}).", delay.count)));
    }
    blocks
}
