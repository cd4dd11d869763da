//! Hoeffding trees (issue 14): `hoeffding-tree` (VFDT, River's `HoeffdingTreeClassifier`),
//! `hoeffding-adaptive-tree` (River's `HoeffdingAdaptiveTreeClassifier`) and `arf` (River's
//! `ARFClassifier`), on one core.
//!
//! - [`criterion`]: split merits and the Hoeffding bound; [`dist`]: class weights in
//!   River's dict order;
//! - [`observer`]: per-feature statistics at a leaf (Gaussian per class for numbers,
//!   counts per class for categories) and the splits they suggest;
//! - [`node`]: the arena's leaves and branches, and a record as the tree reads it;
//! - [`vfdt`]: learning, splitting and the memory bound; [`codes`]: category codes;
//! - [`hoeffding`]: the tree stage; [`adaptive`]: the adaptive tree stage; [`forest`]: the
//!   Adaptive Random Forest stage; [`show`]: a tree as text.
//!
//! See `docs/design/issue-14-trees.md` for the River and MOA facts these follow.

pub mod adaptive;
pub mod codes;
pub mod criterion;
pub mod dist;
pub mod forest;
pub mod hoeffding;
pub mod node;
pub mod observer;
pub mod show;
pub mod vfdt;

pub use adaptive::{AdaptiveParams, HoeffdingAdaptiveTree};
pub use criterion::{hoeffding_bound, SplitCriterion};
pub use forest::{set_threads, Arf, ArfParams, MaxFeatures};
pub use hoeffding::{Criterion, HoeffdingTreeClassifier, HoeffdingTreeParams, LeafPrediction};
