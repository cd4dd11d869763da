//! The tree section of a report (tree models): the shape, the features the branches split
//! on most, a forest's trees and replacements, the pictures, and the top levels as
//! `eddy model show --tree` prints them.

use super::{num, Block};
use crate::snapshot::trees::{TreeShape, TreeSummary};
use crate::snapshot::Snapshot;

/// Replacements listed in a report's table (the picture draws them all).
pub const LISTED_REPLACEMENTS: usize = 50;

fn shape_header() -> Vec<String> {
    ["nodes", "branches", "leaves", "active leaves", "inactive leaves", "depth"].iter().map(|h| h.to_string()).collect()
}

fn shape_cells(s: &TreeShape) -> Vec<String> {
    vec![
        s.nodes.to_string(),
        s.branches.to_string(),
        s.leaves.to_string(),
        s.active_leaves.to_string(),
        s.inactive_leaves.to_string(),
        s.depth.to_string(),
    ]
}

/// The section's blocks, empty for a model without trees; `pictures` are the tree's and
/// (for a forest) the forest's picture files beside the report.
pub(super) fn blocks(s: &Snapshot, pictures: &[(String, String)]) -> Vec<Block> {
    let Some(t) = &s.trees else { return Vec::new() };
    let mut blocks = Vec::new();
    match &t.forest {
        None => {
            blocks.push(Block::Heading(3, "Tree".into()));
            blocks.push(Block::Text(format!(
                "The tree has {} nodes: {} branches and {} leaves ({} active, {} inactive); its deepest leaf is at \
                 depth {}.{}",
                t.shape.nodes,
                t.shape.branches,
                t.shape.leaves,
                t.shape.active_leaves,
                t.shape.inactive_leaves,
                t.shape.depth,
                history(s),
            )));
            blocks.push(Block::Table(shape_header(), vec![shape_cells(&t.shape)]));
        }
        Some(f) => {
            blocks.push(Block::Heading(3, "Forest".into()));
            let total = f.replacements_total();
            let mean = f.members.iter().map(|m| m.accuracy).sum::<f64>() / f.members.len().max(1) as f64;
            blocks.push(Block::Text(format!(
                "{} trees, {} nodes in all: {} branches and {} leaves ({} active, {} inactive); the deepest leaf is \
                 at depth {}. Mean accuracy of the trees since each was (re)started {}. {total} trees were replaced on \
                 drift.{}",
                f.members.len(),
                t.shape.nodes,
                t.shape.branches,
                t.shape.leaves,
                t.shape.active_leaves,
                t.shape.inactive_leaves,
                t.shape.depth,
                num(Some(mean)),
                history(s),
            )));
            let mut header = vec!["tree".to_string(), "accuracy".into(), "records".into()];
            header.extend(shape_header());
            header.extend(["warnings".into(), "replacements".into(), "background tree".into()]);
            let rows = f
                .members
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let mut row = vec![i.to_string(), format!("{:.4}", m.accuracy), format!("{:.0}", m.records)];
                    row.extend(shape_cells(&m.shape));
                    row.extend([
                        m.warnings.to_string(),
                        m.drifts.to_string(),
                        if m.background { "learning" } else { "-" }.to_string(),
                    ]);
                    row
                })
                .collect();
            blocks.push(Block::Table(header, rows));
            if !f.replacements.is_empty() {
                blocks.push(Block::Heading(4, "Replacements".into()));
                let shown = f.replacements.len().min(LISTED_REPLACEMENTS);
                let remembered = if total as usize == f.replacements.len() {
                    String::new()
                } else {
                    format!(" The forest remembers the latest {}.", f.replacements.len())
                };
                blocks.push(Block::Text(format!(
                    "The record at which each tree was replaced by its background tree (or a fresh one), the first \
                     {shown} of {} listed.{remembered}",
                    f.replacements.len()
                )));
                let rows = f.replacements.iter().take(shown).map(|(r, t)| vec![r.to_string(), t.to_string()]).collect();
                blocks.push(Block::Table(vec!["record".into(), "tree".into()], rows));
            }
        }
    }
    blocks.extend(features(t));
    for (file, alt) in pictures {
        blocks.push(Block::Picture(file.clone(), alt.clone()));
    }
    let levels = if t.forest.is_some() {
        crate::snapshot::trees::FOREST_TEXT_LEVELS
    } else {
        crate::snapshot::trees::TEXT_LEVELS
    };
    blocks.push(Block::Text(format!(
        "To depth {levels}, as `eddy model show --tree --depth {levels}` prints it (a leaf: its majority class, and \
         that class's share of the weight n the leaf learned):"
    )));
    blocks.push(Block::Code(t.text.trim_end().to_string()));
    blocks
}

/// The shape's history in a sentence, empty without one.
fn history(s: &Snapshot) -> String {
    match (s.shape_timeline.first(), s.shape_timeline.last()) {
        (Some(a), Some(b)) if s.shape_timeline.len() > 1 => format!(
            " Over the run (at {} points), the leaves went from {} to {} and the depth from {} to {}.",
            s.shape_timeline.len(),
            a.leaves,
            b.leaves,
            a.depth,
            b.depth
        ),
        _ => String::new(),
    }
}

/// The features most used for splits.
fn features(t: &TreeSummary) -> Vec<Block> {
    if t.split_features.is_empty() {
        return vec![Block::Text("No branch yet: every record still reaches the root leaf.".into())];
    }
    let over = if t.trees > 1 { format!(" over all {} trees", t.trees) } else { String::new() };
    vec![
        Block::Text(format!(
            "The features most used for splits, counted over the {} branches{over}:",
            t.shape.branches
        )),
        Block::Table(
            vec!["feature".into(), "branches".into()],
            t.split_features.iter().map(|(f, n)| vec![f.clone(), n.to_string()]).collect(),
        ),
    ]
}
