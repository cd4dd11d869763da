//! A tree model's trees as snapshots and reports read them ([`OnlineClassifier::trees`]):
//! borrowed from the model, so taking one copies nothing but a forest's per-tree scores.
//!
//! [`OnlineClassifier::trees`]: crate::model::OnlineClassifier::trees

use super::tree::codes::CategoryCodes;
use super::tree::forest::MemberSummary;
use super::tree::vfdt::Tree;

/// The trees of a tree model: one for `hoeffding-tree`, each member's for a forest.
#[derive(Debug, Clone)]
pub struct TreesView<'a> {
    /// The trees, in order (borrowed; the adaptive tree's main tree is a copy, its
    /// alternates aside).
    pub trees: Vec<std::borrow::Cow<'a, Tree>>,
    /// The label of each class id the trees use.
    pub labels: &'a [i64],
    /// The categorical columns and their categories, once known.
    pub codes: Option<&'a CategoryCodes>,
    /// What only a forest has; `None` for a single tree.
    pub forest: Option<ForestView<'a>>,
}

/// A forest's own state beside its trees.
#[derive(Debug, Clone)]
pub struct ForestView<'a> {
    /// Each tree's accuracy, records, shape and detector counts, in tree order.
    pub members: Vec<MemberSummary>,
    /// (record, tree) of the latest replacements, oldest first (at most
    /// [`MAX_REPLACEMENTS`](super::tree::forest::MAX_REPLACEMENTS)).
    pub replacements: &'a [(u64, u32)],
}
