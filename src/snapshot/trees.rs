//! A tree model's part of a snapshot: the top levels of its (first) tree as nodes to
//! draw, its shape, the features its branches split on, the `eddy model show --tree`
//! text, and for a forest each tree's scores and the replacements; beside it the
//! [`ShapePoint`]s of its shape over the run, thinned to a bounded number.

use crate::model::tree::node::{Node, Test, CATEGORICAL};
use crate::model::tree::vfdt::{Shape, Tree};
use crate::model::{Model, TreesView};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Levels of a tree drawn in its picture (the root is level 0); deeper nodes are counted.
pub const PICTURE_LEVELS: u32 = 4;
/// Nodes drawn at most (a branch per category can be wide); past it, children are counted.
pub const MAX_DRAWN_NODES: usize = 48;
/// Levels of each tree in the report's text (`eddy model show --tree --depth`).
pub const TEXT_LEVELS: u32 = 4;
/// Levels of each tree of a forest in the report's text (a forest has many trees).
pub const FOREST_TEXT_LEVELS: u32 = 2;
/// Features listed among those most used for splits.
pub const TOP_FEATURES: usize = 15;
/// Trees of a forest a loaded `run.json` may list (each is a bar to draw).
pub const MAX_MEMBERS: usize = 4096;
/// Points kept on a shape history.
pub(crate) const SHAPE_POINTS: usize = 256;

/// A tree's counts (the model's [`Shape`], kept in snapshots).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeShape {
    /// Nodes.
    pub nodes: u64,
    /// Branches.
    pub branches: u64,
    /// Leaves.
    pub leaves: u64,
    /// Leaves that still observe features and may split.
    pub active_leaves: u64,
    /// Leaves deactivated (pre-pruned, at `max_depth`, or to save memory).
    pub inactive_leaves: u64,
    /// Depth of the deepest leaf (0: a single leaf).
    pub depth: u32,
}

impl From<Shape> for TreeShape {
    fn from(s: Shape) -> Self {
        Self {
            nodes: s.nodes as u64,
            branches: s.branches as u64,
            leaves: s.leaves as u64,
            active_leaves: s.active_leaves,
            inactive_leaves: s.inactive_leaves,
            depth: s.depth,
        }
    }
}

impl TreeShape {
    /// The counts of several trees added up; the depth is the deepest.
    fn sum(shapes: impl Iterator<Item = TreeShape>) -> Self {
        shapes.fold(Self::default(), |a, s| Self {
            nodes: a.nodes + s.nodes,
            branches: a.branches + s.branches,
            leaves: a.leaves + s.leaves,
            active_leaves: a.active_leaves + s.active_leaves,
            inactive_leaves: a.inactive_leaves + s.inactive_leaves,
            depth: a.depth.max(s.depth),
        })
    }
}

/// One point of a tree model's shape over the run (a forest's trees added up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShapePoint {
    /// Records seen.
    pub records: u64,
    /// Depth of the deepest leaf.
    pub depth: u32,
    /// Leaves.
    pub leaves: u64,
    /// Active leaves.
    pub active_leaves: u64,
}

/// A node of a tree's picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawnNode {
    /// Its parent's position in [`TreeSummary::top`] (parents come first); `None`: the root.
    pub parent: Option<usize>,
    /// The test on the edge into it (`x <= 0.5` reads `<= 0.5`), empty for the root.
    pub edge: String,
    /// Its level (the root's is 0).
    pub depth: u32,
    /// What it is.
    pub kind: DrawnKind,
}

/// A split or a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawnKind {
    /// A branch.
    Split {
        /// The feature it tests.
        feature: String,
        /// The weight its leaves learned.
        weight: f64,
        /// Nodes under it that are not drawn (0: its children are drawn).
        hidden: u64,
    },
    /// A leaf.
    Leaf {
        /// Its majority class (a label), `None` before it learned a record.
        class: Option<i64>,
        /// The weight it learned.
        weight: f64,
        /// The majority class's share of that weight.
        share: f64,
        /// True while it may split.
        active: bool,
    },
}

/// One tree of a forest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemberRow {
    /// Its accuracy since it was (re)started.
    pub accuracy: f64,
    /// Records it predicted since it was (re)started.
    pub records: f64,
    /// Its shape.
    pub shape: TreeShape,
    /// True while a background tree learns beside it.
    pub background: bool,
    /// Warnings (background trees started).
    pub warnings: u64,
    /// Replacements.
    pub drifts: u64,
}

/// What only a forest has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestSummary {
    /// Each tree, in order.
    pub members: Vec<MemberRow>,
    /// (record, tree) of the latest replacements the forest remembers, oldest first.
    pub replacements: Vec<(u64, u32)>,
}

impl ForestSummary {
    /// Replacements over the forest's life (its trees' counts added up; the list keeps
    /// the latest only).
    pub fn replacements_total(&self) -> u64 {
        self.members.iter().map(|m| m.drifts).sum()
    }
}

/// A tree model's state for pictures and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeSummary {
    /// The tree's shape; a forest's trees added up (the depth is the deepest).
    pub shape: TreeShape,
    /// Trees (1 for a tree).
    pub trees: u64,
    /// The top [`PICTURE_LEVELS`] levels of the (first) tree, parents first.
    pub top: Vec<DrawnNode>,
    /// The `eddy model show --tree` text: [`TEXT_LEVELS`] levels of a tree,
    /// [`FOREST_TEXT_LEVELS`] of each of a forest's.
    pub text: String,
    /// The features branches split on most, over every tree, with their counts
    /// (at most [`TOP_FEATURES`], most used first).
    pub split_features: Vec<(String, u64)>,
    /// A forest's trees and replacements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forest: Option<ForestSummary>,
}

/// How the trees name their features and categories.
struct Names<'a> {
    numeric: &'a [String],
    view: &'a TreesView<'a>,
}

impl Names<'_> {
    fn feature(&self, f: u32) -> String {
        if f & CATEGORICAL != 0 {
            let j = (f & !CATEGORICAL) as usize;
            self.view.codes.and_then(|c| c.names().nth(j)).map_or_else(|| format!("c{j}"), str::to_string)
        } else {
            self.numeric.get(f as usize).cloned().unwrap_or_else(|| format!("x{f}"))
        }
    }

    fn category(&self, f: u32, code: u32) -> String {
        let j = (f & !CATEGORICAL) as usize;
        match self.view.codes {
            Some(c) if code < c.count(j) as u32 => c.text(j, code).to_string(),
            _ => format!("#{code}"),
        }
    }

    /// The test on the edge into child `i` of a branch with `test`, without the feature.
    fn edge(&self, test: &Test, i: usize) -> String {
        match test {
            Test::Le { threshold, .. } => format!("{} {}", if i == 0 { "<=" } else { ">" }, short(*threshold)),
            Test::Eq { feature, code } => {
                format!("{} {}", if i == 0 { "=" } else { "!=" }, self.category(*feature, *code))
            }
            Test::Multi { feature, codes } => {
                codes.get(i).map_or_else(|| "= ?".into(), |&c| format!("= {}", self.category(*feature, c)))
            }
        }
    }
}

/// A threshold in 4 significant digits, trailing zeros dropped.
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = 3 - v.abs().log10().floor() as i32;
    if !(0..=8).contains(&decimals) {
        return format!("{v:.3e}");
    }
    let s = format!("{v:.*}", decimals as usize);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The top levels of `tree`, breadth first (so the upper levels are kept whole when
/// [`MAX_DRAWN_NODES`] cuts it).
fn top_levels(tree: &Tree, names: &Names<'_>) -> Vec<DrawnNode> {
    let nodes = tree.nodes();
    let mut out: Vec<DrawnNode> = Vec::new();
    // (arena position, parent in `out`, edge)
    let mut queue = std::collections::VecDeque::from([(0usize, None, String::new())]);
    if nodes.is_empty() {
        queue.clear();
    }
    let mut planned = queue.len();
    while let Some((at, parent, edge)) = queue.pop_front() {
        let Some(node) = nodes.get(at) else { continue };
        let kind = match node {
            Node::Leaf(l) => {
                let total = l.stats.total();
                DrawnKind::Leaf {
                    class: l.stats.argmax().and_then(|c| names.view.labels.get(c as usize).copied()),
                    weight: total,
                    share: if total > 0.0 { l.stats.max_weight() / total } else { 0.0 },
                    active: l.is_active(),
                }
            }
            Node::Branch(b) => {
                let drawn = b.depth + 1 < PICTURE_LEVELS && planned + b.children.len() <= MAX_DRAWN_NODES;
                if drawn {
                    let me = out.len();
                    for (i, &c) in b.children.iter().enumerate() {
                        queue.push_back((c as usize, Some(me), names.edge(&b.test, i)));
                    }
                    planned += b.children.len();
                }
                DrawnKind::Split {
                    feature: names.feature(b.test.feature()),
                    weight: tree.subtree_weight(at),
                    hidden: if drawn { 0 } else { tree.subtree_size(at).saturating_sub(1) as u64 },
                }
            }
        };
        out.push(DrawnNode { parent, edge, depth: node.depth(), kind });
    }
    out
}

/// The features every tree's branches split on, most used first.
fn split_features(view: &TreesView<'_>, names: &Names<'_>) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    for tree in &view.trees {
        for node in tree.nodes() {
            if let Node::Branch(b) = node {
                *counts.entry(b.test.feature()).or_insert(0) += 1;
            }
        }
    }
    let mut named: Vec<(String, u64)> = counts.into_iter().map(|(f, n)| (names.feature(f), n)).collect();
    named.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    named.truncate(TOP_FEATURES);
    named
}

/// The trees of `model`, if it has any.
fn view_of(model: &Model) -> Option<TreesView<'_>> {
    model.as_classifier().and_then(|m| m.head().trees())
}

impl TreeSummary {
    /// The summary of `model`'s trees, `None` for a model without trees. `features` names
    /// its numeric inputs, `class_names` its classes (for the text) when they are named.
    pub fn of(model: &Model, features: &[String], class_names: Option<&[String]>) -> Option<Self> {
        let view = view_of(model)?;
        let names = Names { numeric: features, view: &view };
        let levels = if view.forest.is_some() { FOREST_TEXT_LEVELS } else { TEXT_LEVELS };
        let text =
            model.as_classifier().and_then(|m| m.head().structure(features, class_names, levels)).unwrap_or_default();
        let forest = view.forest.as_ref().map(|f| ForestSummary {
            members: f
                .members
                .iter()
                .map(|m| MemberRow {
                    accuracy: m.accuracy,
                    records: m.records,
                    shape: m.shape.into(),
                    background: m.background,
                    warnings: m.warnings,
                    drifts: m.drifts,
                })
                .collect(),
            replacements: f.replacements.to_vec(),
        });
        Some(Self {
            shape: TreeShape::sum(view.trees.iter().map(|t| t.shape().into())),
            trees: view.trees.len() as u64,
            top: view.trees.first().map(|t| top_levels(t, &names)).unwrap_or_default(),
            text,
            split_features: split_features(&view, &names),
            forest,
        })
    }

    /// True when the parts fit together and stay within the bounds a run writes (a
    /// hand-edited `run.json` could ask for any number of things to draw).
    pub fn fits(&self) -> bool {
        let parents_first = self.top.iter().enumerate().all(|(i, n)| n.parent.is_none_or(|p| p < i));
        self.top.len() <= MAX_DRAWN_NODES
            && parents_first
            && self.split_features.len() <= TOP_FEATURES
            && self.forest.as_ref().is_none_or(|f| {
                f.members.len() <= MAX_MEMBERS
                    && f.replacements.len() <= crate::model::tree::forest::MAX_REPLACEMENTS
                    && f.replacements.iter().all(|&(_, t)| (t as usize) < f.members.len())
            })
    }
}

/// A tree model's shape over the run, thinned as the timeline is: one point per `stride`
/// batches, and when full every other point is dropped and the stride doubles.
#[derive(Debug, Clone)]
pub(crate) struct ShapeHistory {
    points: Vec<ShapePoint>,
    stride: u64,
    batches: u64,
}

impl Default for ShapeHistory {
    fn default() -> Self {
        Self { points: Vec::new(), stride: 1, batches: 0 }
    }
}

/// The shape of `model`'s trees now (a forest's added up), `None` without trees.
pub(crate) fn shape_point(model: &Model, records: u64) -> Option<ShapePoint> {
    let view = view_of(model)?;
    let s = TreeShape::sum(view.trees.iter().map(|t| t.shape().into()));
    Some(ShapePoint { records, depth: s.depth, leaves: s.leaves, active_leaves: s.active_leaves })
}

impl ShapeHistory {
    /// After a batch: a point of `model`'s shape at `records` when one is due.
    pub(crate) fn observe(&mut self, model: &Model, records: u64) {
        if self.batches.is_multiple_of(self.stride) {
            if let Some(p) = shape_point(model, records) {
                if self.points.len() == SHAPE_POINTS {
                    self.points = self.points.iter().step_by(2).copied().collect();
                    self.stride *= 2;
                }
                self.points.push(p);
            }
        }
        self.batches += 1;
    }

    /// The points, ending where `model` stands at `records`.
    pub(crate) fn points(&self, model: &Model, records: u64) -> Vec<ShapePoint> {
        let mut out = self.points.clone();
        if out.last().is_some_and(|p| p.records < records) {
            out.extend(shape_point(model, records));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_read_short() {
        assert_eq!(short(0.53871), "0.5387");
        assert_eq!(short(-1234.5678), "-1235");
        assert_eq!(short(12.0), "12");
        assert_eq!(short(1e-9), "1.000e-9");
    }

    #[test]
    fn a_history_stays_bounded_and_ends_at_the_model() {
        let model = Model::from_spec("hoeffding-tree").expect("valid");
        let mut h = ShapeHistory::default();
        for b in 1..=10_000u64 {
            h.observe(&model, b * 10);
        }
        assert!(h.points.len() <= SHAPE_POINTS && h.points.len() > SHAPE_POINTS / 2, "{}", h.points.len());
        let points = h.points(&model, 200_000);
        assert_eq!(points.last().map(|p| p.records), Some(200_000));
        assert!(points.windows(2).all(|w| w[0].records < w[1].records));
        let none = Model::from_spec("gaussian-nb").expect("valid");
        let mut h = ShapeHistory::default();
        h.observe(&none, 10);
        assert!(h.points(&none, 10).is_empty(), "no trees, no shape");
    }
}
