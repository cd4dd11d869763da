//! The shared core of the Hoeffding trees (issue 14): split criteria and the Hoeffding
//! bound, with River 0.26.1's formulas (`river/tree/split_criterion/`,
//! `river/tree/hoeffding_tree.py`), so that the trees built on them can split where River's do.
//! See `docs/design/issue-14-trees.md` for the plan; the stages come next.

mod criterion;

pub use criterion::{hoeffding_bound, SplitCriterion};
