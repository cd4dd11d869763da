//! `hoeffding-adaptive-tree`: River's `HoeffdingAdaptiveTreeClassifier` (HAT). Every node
//! watches its error with a drift detector (ADWIN); when a branch's error rises, an
//! alternate tree starts beside it and takes its place once it is significantly better
//! (or is dropped once significantly worse). Leaves may bootstrap (Poisson(1) weights).
//!
//! River's quirks are kept, because they decide where the tree splits and what it
//! predicts: an alternate is a leaf, and when it splits its split takes the place of the
//! subtree it grew beside (uncounted as a switch); a subtree switched out at the root
//! still learns the record that switched it; the active and inactive leaf counts are
//! River's running counters, which drift from the leaves there are.

use super::codes::CategoryCodes;
use super::dist::Dist;
use super::hoeffding::{self, tree_params, HoeffdingTreeParams};
use super::node::{Branch, Leaf, Node, Route, Row, Test, CATEGORICAL};
use super::show;
use super::vfdt::{self, Context, Decision, Shape};
use crate::drift::{Detector, Signal};
use crate::error::{ModelError, ParamsError};
use crate::model::registry::{self, AnyStage, BuildError, Entry, Param, Role};
use crate::model::stage::impl_stage;
use crate::model::{Classes, OnlineClassifier, NO_PREDICTION};
use crate::record::Categories;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use ndarray_rand::rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The adaptive tree's own parameters (River's names and defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdaptiveParams {
    /// Leaves learn each record with a Poisson(1) weight (a weight of 0 counts as 1).
    pub bootstrap_sampling: bool,
    /// Errors both a subtree and its alternate need before they are compared.
    pub drift_window_threshold: u64,
    /// The detector every node watches its error with, in the spec language.
    pub drift_detector: String,
    /// Significance of the test that switches or drops an alternate tree.
    pub switch_significance: f64,
    /// Seed of the bootstrap weights (default: the run's --seed).
    pub seed: u64,
    /// MOA's rule for a rising error: a node's error is its detector's estimate (ADWIN's
    /// window mean), and a drift starts an alternate only if that estimate did not fall.
    /// River's rule (`false`) compares a running mean before and after one record, and
    /// so also starts alternates, which may replace grown subtrees, when the error falls.
    pub rising_only: bool,
}

impl Default for AdaptiveParams {
    fn default() -> Self {
        Self {
            bootstrap_sampling: true,
            drift_window_threshold: 300,
            drift_detector: "adwin".into(),
            switch_significance: 0.05,
            seed: 0,
            rising_only: false,
        }
    }
}

/// A node's error: a drift detector on it and its running mean.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Watch {
    detector: Box<dyn Detector>,
    n: f64,
    mean: f64,
    /// [`AdaptiveParams::rising_only`], fixed when the node is made.
    #[serde(default)]
    rising_only: bool,
}

impl Watch {
    fn new(detector: &(dyn Detector + 'static), rising_only: bool) -> Self {
        Self { detector: dyn_clone::clone_box(detector), n: 0.0, mean: 0.0, rising_only }
    }

    fn rate(&self) -> f64 {
        if self.n <= 0.0 {
            return 0.0;
        }
        match self.detector.estimation() {
            Some(estimate) if self.rising_only => estimate,
            _ => self.mean,
        }
    }

    /// Learn one error (0 or 1); true when the detector signals a rise at a branch.
    fn update(&mut self, error: f64, leaf: bool) -> bool {
        if self.rising_only {
            return self.update_rising_only(error) && !leaf;
        }
        // River: a fall, judged on the mean before and after this one record, resets
        // the mean and is ignored.
        let old = self.rate();
        let drift = self.detector.update(error) == Signal::Drift;
        self.n += 1.0;
        self.mean += (error - self.mean) / self.n;
        if drift && old > self.rate() {
            (self.n, self.mean) = (0.0, 0.0);
            return false;
        }
        if drift && !leaf {
            (self.n, self.mean) = (0.0, 0.0);
        }
        drift && !leaf
    }

    /// MOA's rule: a drift is a rise when the detector's estimate did not fall across
    /// the cut. The count restarts at every drift because the detector (River's ADWIN)
    /// restarts its window at the next value, so `n` stays the window's width.
    fn update_rising_only(&mut self, error: f64) -> bool {
        let before = self.detector.estimation();
        let drift = self.detector.update(error) == Signal::Drift;
        self.n += 1.0;
        self.mean += (error - self.mean) / self.n;
        if !drift {
            return false;
        }
        let rose = match (before, self.detector.estimation()) {
            (Some(before), Some(after)) => after >= before,
            _ => true,
        };
        (self.n, self.mean) = (0.0, 0.0);
        rose
    }
}

/// A node of the adaptive tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum AdaNode {
    Leaf { leaf: Leaf, watch: Watch },
    Branch { branch: Branch, watch: Watch, alternate: Option<u32> },
}

/// River's tree-level counters of the adaptive tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdaptiveCounts {
    /// Alternate trees started.
    pub alternates: u64,
    /// Alternate trees dropped.
    pub pruned: u64,
    /// Alternate trees switched in.
    pub switched: u64,
    /// River's running count of active leaves.
    pub active: i64,
    /// River's running count of inactive leaves.
    pub inactive: i64,
}

/// The adaptive tree's nodes: an arena whose root may move (a switch replaces it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AdaTree {
    nodes: Vec<AdaNode>,
    root: u32,
    counts: AdaptiveCounts,
    weight_seen: f64,
    /// What the last measurement found (River's size estimates).
    #[serde(default)]
    sizes: LeafSizes,
}

/// River's estimates of an active and an inactive leaf's bytes, and of the tree's bytes
/// beyond its leaves (as a factor), taken every `memory_estimate_period` records: the
/// limit `max_size` is checked against them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct LeafSizes {
    active: f64,
    inactive: f64,
    overhead: f64,
}

impl Default for LeafSizes {
    fn default() -> Self {
        Self { active: 0.0, inactive: 0.0, overhead: 1.0 }
    }
}

/// A Hoeffding adaptive tree classifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoeffdingAdaptiveTree {
    params: AdaptiveParams,
    tree_params: HoeffdingTreeParams,
    classes: Classes,
    labels: Vec<i64>,
    n_features: Option<usize>,
    codes: Option<CategoryCodes>,
    detector: Box<dyn Detector>,
    tree: AdaTree,
    rng: Xoshiro256PlusPlus,
    seen: u64,
}

impl AdaptiveParams {
    /// Check the parameters and build an untrained tree with `tree` parameters.
    pub fn build(self, tree: HoeffdingTreeParams) -> Result<HoeffdingAdaptiveTree, BuildError> {
        tree.check()?;
        if !(self.switch_significance > 0.0 && self.switch_significance < 1.0) {
            return Err(ParamsError::OutOfRange {
                name: "switch_significance",
                rule: "in (0, 1)",
                value: self.switch_significance,
            }
            .into());
        }
        let detector = crate::drift::build_text(&self.drift_detector).map_err(|e| BuildError::Nested(e.message))?;
        let classes = Classes::declared_or_discover(tree.classes.as_deref()).map_err(BuildError::Params)?;
        Ok(HoeffdingAdaptiveTree {
            rng: Xoshiro256PlusPlus::seed_from_u64(self.seed),
            params: self,
            tree_params: tree,
            classes,
            labels: Vec::new(),
            n_features: None,
            codes: None,
            detector,
            tree: AdaTree::default(),
            seen: 0,
        })
    }
}

/// The registry entry of `hoeffding-adaptive-tree`.
pub(crate) static HOEFFDING_ADAPTIVE_TREE: Entry = Entry {
    name: "hoeffding-adaptive-tree",
    role: Role::Classifier,
    summary: "Hoeffding adaptive tree (River's HoeffdingAdaptiveTreeClassifier): a Hoeffding tree whose nodes watch \
              their error with ADWIN and grow alternate subtrees that replace them after a change",
    params: tree_params!(
        Param::bool("bootstrap_sampling", "leaves learn each record with a Poisson(1) weight"),
        Param::int("drift_window_threshold", 0, "errors a subtree and its alternate need before they are compared"),
        Param::detector("drift_detector", "the detector every node watches its error with"),
        Param {
            name: "switch_significance",
            kind: registry::Kind::Float { min: 0.0, min_open: true, max: 1.0, max_open: true },
            doc: "significance of the test that switches or drops an alternate tree",
        },
        Param::int("seed", 0, "seed of the bootstrap weights (default: the run's --seed)"),
        Param::bool(
            "rising_only",
            "MOA's rule: a node's error is ADWIN's window mean, and only a drift where it did not fall starts an \
             alternate",
        ),
    ),
    takes_counts: false,
    outputs_negative: false,
    defaults: || hoeffding::joined_defaults::<AdaptiveParams>(&HoeffdingTreeParams::default()),
    build: |json, ctx| {
        let (own, tree) = hoeffding::split_params::<AdaptiveParams>(json, ctx)?;
        Ok(AnyStage::Classifier(Box::new(own.build(tree)?)))
    },
    decode: registry::decode_classifier::<HoeffdingAdaptiveTree>,
};

/// Knuth's Poisson(1) draw (River's `poisson(rate=1)`).
fn poisson_one(rng: &mut Xoshiro256PlusPlus) -> u32 {
    let limit = (-1.0f64).exp();
    let (mut k, mut p) = (0u32, 1.0f64);
    while p > limit {
        k += 1;
        p *= rng.gen::<f64>();
    }
    k.saturating_sub(1)
}

/// What a learning step needs besides the tree.
struct Step<'a, 'r> {
    ctx: &'a Context<'a>,
    row: &'a Row<'r>,
    class: u32,
    params: &'a AdaptiveParams,
    detector: &'a (dyn Detector + 'static),
    scratch: &'a mut Vec<(u32, f64)>,
    rng: &'a mut Xoshiro256PlusPlus,
}

impl AdaTree {
    fn leaf(&self, at: u32) -> Option<&Leaf> {
        match self.nodes.get(at as usize)? {
            AdaNode::Leaf { leaf, .. } => Some(leaf),
            AdaNode::Branch { .. } => None,
        }
    }

    /// The weight the leaves under `at` learned (main subtrees only), summed as River sums it.
    fn weight(&self, at: u32) -> f64 {
        let mut stack: Vec<(u32, usize, f64)> = vec![(at, 0, 0.0)];
        loop {
            let Some(&mut (node, ref mut next, sum)) = stack.last_mut() else { return 0.0 };
            let done = match self.nodes.get(node as usize) {
                Some(AdaNode::Branch { branch, .. }) if *next < branch.children.len() => {
                    let child = branch.children[*next];
                    *next += 1;
                    stack.push((child, 0, 0.0));
                    continue;
                }
                Some(AdaNode::Branch { .. }) => sum,
                Some(AdaNode::Leaf { leaf, .. }) => leaf.stats.total(),
                None => 0.0,
            };
            stack.pop();
            match stack.last_mut() {
                Some(parent) => parent.2 += done,
                None => return done,
            }
        }
    }

    fn most_common(&self, b: &Branch) -> usize {
        let w: Vec<f64> = b.children.iter().map(|&c| self.weight(c)).collect();
        if w.len() == 2 {
            return usize::from(w[0] < w[1]);
        }
        let mut best = (0, f64::NEG_INFINITY);
        for (i, &v) in w.iter().enumerate() {
            if v > best.1 {
                best = (i, v);
            }
        }
        best.0
    }

    /// The main leaf `row` reaches from `at` (missing values and unseen categories take
    /// the most common path), and the alternates met on the way.
    fn walk(&self, mut at: u32, row: &Row<'_>, alternates: &mut Vec<u32>) -> u32 {
        loop {
            match self.nodes.get(at as usize) {
                Some(AdaNode::Branch { branch, alternate, .. }) => {
                    alternates.extend(alternate);
                    let i = match branch.test.route(row) {
                        Route::Child(i) => i,
                        Route::Missing | Route::Unseen(_) => self.most_common(branch),
                    };
                    match branch.children.get(i) {
                        Some(&c) => at = c,
                        None => return at,
                    }
                }
                _ => return at,
            }
        }
    }

    /// River's `AdaLeafClassifier.prediction`: the leaf's distribution divided by
    /// `sum · error²` (unchanged when that is 0); empty for a leaf that learned nothing.
    fn leaf_votes(&self, at: u32, row: &Row<'_>, ctx: &Context<'_>, out: &mut Vec<(u32, f64)>) {
        out.clear();
        let Some(AdaNode::Leaf { leaf, watch }) = self.nodes.get(at as usize) else { return };
        if leaf.stats.is_empty() {
            return;
        }
        vfdt::leaf_prediction(leaf, row, ctx, out);
        let sum: f64 = out.iter().map(|&(_, p)| p).sum();
        let err = watch.rate();
        let factor = sum * err * err;
        if factor != 0.0 && !factor.is_nan() {
            for (_, p) in out.iter_mut() {
                *p /= factor;
            }
        }
    }

    /// Put `node` where the child `slot` of its parent was (the root when `None`).
    fn replace(&mut self, slot: Option<(u32, usize)>, node: u32) {
        match slot {
            Some((p, i)) => {
                if let Some(AdaNode::Branch { branch, .. }) = self.nodes.get_mut(p as usize) {
                    branch.children[i] = node;
                }
            }
            None => self.root = node,
        }
    }

    fn new_leaf(&mut self, stats: Dist, depth: u32, step: &Step<'_, '_>) -> u32 {
        let watch = Watch::new(step.detector, step.params.rising_only);
        self.nodes.push(AdaNode::Leaf { leaf: Leaf::new(stats, depth), watch });
        (self.nodes.len() - 1) as u32
    }

    /// Leaves in the main subtree under `at`.
    fn n_leaves(&self, at: u32) -> i64 {
        let mut n = 0;
        let mut stack = vec![at];
        while let Some(i) = stack.pop() {
            match self.nodes.get(i as usize) {
                Some(AdaNode::Branch { branch, .. }) => stack.extend(&branch.children),
                Some(AdaNode::Leaf { .. }) => n += 1,
                None => {}
            }
        }
        n
    }

    /// River's `kill_tree_children`: the counters forget the leaves under `at` and drop
    /// the alternates below it.
    fn kill_children(&mut self, at: u32) {
        let mut stack = vec![at];
        while let Some(i) = stack.pop() {
            let children = match self.nodes.get(i as usize) {
                Some(AdaNode::Branch { branch, .. }) => branch.children.clone(),
                _ => continue,
            };
            for c in children {
                match self.nodes.get_mut(c as usize) {
                    Some(AdaNode::Branch { alternate, .. }) => {
                        if alternate.take().is_some() {
                            self.counts.pruned += 1;
                        }
                        stack.push(c);
                    }
                    Some(AdaNode::Leaf { leaf, .. }) => {
                        if leaf.is_active() {
                            self.counts.active -= 1;
                        } else {
                            self.counts.inactive -= 1;
                        }
                    }
                    None => {}
                }
            }
        }
    }

    /// Learn one record from the root (River's `learn_one`).
    fn learn(&mut self, step: &mut Step<'_, '_>) {
        if self.nodes.is_empty() {
            self.new_leaf(Dist::new(), 0, step);
            self.root = 0;
            self.counts.active = 1;
        }
        let mut at = self.root;
        let mut slot: Option<(u32, usize)> = None;
        loop {
            match &self.nodes[at as usize] {
                AdaNode::Leaf { .. } => {
                    self.learn_leaf(at, slot, step);
                    return;
                }
                AdaNode::Branch { .. } => {
                    self.branch_step(at, slot, step);
                    let AdaNode::Branch { branch, .. } = &self.nodes[at as usize] else { return };
                    let (i, child) = match branch.test.route(step.row) {
                        Route::Child(i) => (i, branch.children[i]),
                        Route::Unseen(code) => {
                            let depth = branch.depth.saturating_add(1);
                            let leaf = self.new_leaf(Dist::new(), depth, step);
                            self.counts.active += 1;
                            let AdaNode::Branch { branch, .. } = &mut self.nodes[at as usize] else { return };
                            if let Test::Multi { codes, .. } = &mut branch.test {
                                codes.push(code);
                            }
                            branch.children.push(leaf);
                            (branch.children.len() - 1, leaf)
                        }
                        Route::Missing => {
                            let i = self.most_common(branch);
                            (i, branch.children[i])
                        }
                    };
                    slot = Some((at, i));
                    at = child;
                }
            }
        }
    }

    /// A branch's part of learning a record (River's `AdaBranchClassifier.learn_one`
    /// before it descends): its error, its alternate, the alternate's learning.
    fn branch_step(&mut self, at: u32, slot: Option<(u32, usize)>, step: &mut Step<'_, '_>) {
        let mut alternates = Vec::new();
        let leaf = self.walk(at, step.row, &mut alternates);
        self.leaf_votes(leaf, step.row, step.ctx, step.scratch);
        let wrong = f64::from(u8::from(vfdt::first_max(step.scratch) != Some(step.class)));
        let AdaNode::Branch { branch, watch, alternate } = &mut self.nodes[at as usize] else { return };
        branch.stats.add(step.class, 1.0);
        let rose = watch.update(wrong, false);
        let depth = branch.depth;
        if rose {
            let alt = Leaf::new(Dist::new(), depth);
            let n = self.nodes.len() as u32;
            if let AdaNode::Branch { alternate, .. } = &mut self.nodes[at as usize] {
                *alternate = Some(n);
            }
            self.nodes.push(AdaNode::Leaf { leaf: alt, watch: Watch::new(step.detector, step.params.rising_only) });
            self.counts.alternates += 1;
        } else if let Some(alt) = *alternate {
            let (n_obs, rate) = (watch.n, watch.rate());
            let (alt_n, alt_rate) = match self.nodes.get(alt as usize) {
                Some(AdaNode::Leaf { watch, .. } | AdaNode::Branch { watch, .. }) => (watch.n, watch.rate()),
                None => (0.0, 0.0),
            };
            let threshold = step.params.drift_window_threshold as f64;
            if alt_n > threshold && n_obs > threshold {
                let n = 1.0 / alt_n + 1.0 / n_obs;
                let bound = (2.0 * rate * (1.0 - rate) * (2.0 / step.params.switch_significance).ln() * n).sqrt();
                if bound < rate - alt_rate {
                    self.counts.active -= self.n_leaves(at);
                    self.counts.active += self.n_leaves(alt);
                    self.kill_children(at);
                    self.replace(slot, alt);
                    if slot.is_some() {
                        if let AdaNode::Branch { alternate, .. } = &mut self.nodes[at as usize] {
                            *alternate = None;
                        }
                    }
                    self.counts.switched += 1;
                } else if bound < alt_rate - rate {
                    if let AdaNode::Branch { alternate, .. } = &mut self.nodes[at as usize] {
                        *alternate = None;
                    }
                    self.counts.pruned += 1;
                }
            }
        }
        let alternate = match &self.nodes[at as usize] {
            AdaNode::Branch { alternate, .. } => *alternate,
            AdaNode::Leaf { .. } => None,
        };
        if let Some(alt) = alternate {
            match self.nodes[alt as usize] {
                AdaNode::Leaf { .. } => self.learn_leaf(alt, slot, step),
                // An alternate is a leaf until it splits, and its split takes the place
                // of the subtree it grew beside: a branch here only comes from a file.
                AdaNode::Branch { .. } => {}
            }
        }
    }

    /// A leaf learns a record (River's `AdaLeafClassifier.learn_one`), then may split into
    /// `slot`.
    fn learn_leaf(&mut self, at: u32, slot: Option<(u32, usize)>, step: &mut Step<'_, '_>) {
        let mut w = 1.0;
        if step.params.bootstrap_sampling {
            let k = poisson_one(step.rng);
            if k > 0 {
                w *= f64::from(k);
            }
        }
        self.leaf_votes(at, step.row, step.ctx, step.scratch);
        let wrong = f64::from(u8::from(vfdt::first_max(step.scratch) != Some(step.class)));
        let max_depth = step.ctx.max_depth();
        let grace = step.ctx.params.grace_period as f64;
        let AdaNode::Leaf { leaf, watch } = &mut self.nodes[at as usize] else { return };
        watch.update(wrong, true);
        // Adaptive naive Bayes bookkeeping runs whatever the leaves predict (River's
        // adaptive leaves always keep it); it changes no mc or nb prediction.
        vfdt::learn_leaf(leaf, step.row, step.class, w, step.ctx, step.scratch, None, vfdt::NbaTally::On);
        let total = leaf.stats.total();
        if total - leaf.last_attempt < grace {
            return;
        }
        if leaf.depth >= max_depth {
            leaf.observers = None;
            self.counts.inactive += 1;
            self.counts.active -= 1;
            return;
        }
        if !leaf.is_active() {
            return;
        }
        let depth = leaf.depth;
        match vfdt::decide_split(leaf, step.ctx) {
            Decision::Keep => {}
            Decision::Deactivate => {
                leaf.observers = None;
                self.counts.inactive += 1;
                self.counts.active -= 1;
                self.enforce_size_limit(step.ctx);
            }
            Decision::Split { test, children } => {
                let stats = leaf.stats.clone();
                let n = children.len() as i64;
                let ids: Vec<u32> =
                    children.into_iter().map(|c| self.new_leaf(c, depth.saturating_add(1), step)).collect();
                self.nodes.push(AdaNode::Branch {
                    branch: Branch { test, children: ids, depth, stats },
                    watch: Watch::new(step.detector, step.params.rising_only),
                    alternate: None,
                });
                let branch = (self.nodes.len() - 1) as u32;
                self.replace(slot, branch);
                self.counts.active += n - 1;
                self.enforce_size_limit(step.ctx);
            }
        }
        if let AdaNode::Leaf { leaf, .. } = &mut self.nodes[at as usize] {
            leaf.last_attempt = total;
        }
    }

    /// The leaves River's `_find_leaves` finds: the main tree's and the alternates', left to right.
    fn leaves(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut stack = vec![self.root];
        while let Some(i) = stack.pop() {
            match self.nodes.get(i as usize) {
                Some(AdaNode::Leaf { .. }) => out.push(i),
                Some(AdaNode::Branch { branch, .. }) => {
                    // Reversed, so the leftmost child (and its alternate after it) comes first.
                    for &c in branch.children.iter().rev() {
                        if let Some(AdaNode::Branch { alternate: Some(a), .. }) = self.nodes.get(c as usize) {
                            stack.push(*a);
                        }
                        stack.push(c);
                    }
                }
                None => {}
            }
        }
        out
    }

    /// Bytes a node holds, its detector's window included.
    fn node_bytes(node: &AdaNode) -> usize {
        match node {
            AdaNode::Leaf { leaf, watch } => leaf.bytes() + std::mem::size_of::<Watch>() + watch.detector.heap_bytes(),
            AdaNode::Branch { branch, watch, .. } => {
                branch.bytes() + std::mem::size_of::<Watch>() + watch.detector.heap_bytes()
            }
        }
    }

    /// River's `_estimate_model_size`: measure the leaves (alternates' too) and the whole
    /// tree, and enforce the limit when the tree holds more than `max_size`.
    fn estimate_size(&mut self, ctx: &Context<'_>) {
        let (mut active, mut inactive) = (0usize, 0usize);
        for i in self.leaves() {
            let Some(node) = self.nodes.get(i as usize) else { continue };
            match node {
                AdaNode::Leaf { leaf, .. } if leaf.is_active() => active += Self::node_bytes(node),
                _ => inactive += Self::node_bytes(node),
            }
        }
        if active > 0 && self.counts.active > 0 {
            self.sizes.active = active as f64 / self.counts.active as f64;
        }
        if inactive > 0 && self.counts.inactive > 0 {
            self.sizes.inactive = inactive as f64 / self.counts.inactive as f64;
        }
        let actual = (std::mem::size_of::<Self>() + self.nodes.iter().map(Self::node_bytes).sum::<usize>()) as f64;
        let estimated =
            self.counts.active as f64 * self.sizes.active + self.counts.inactive as f64 * self.sizes.inactive;
        if estimated > 0.0 {
            self.sizes.overhead = actual / estimated;
        }
        if actual > ctx.params.max_size * 1_048_576.0 {
            self.enforce_size_limit(ctx);
        }
    }

    /// River's `_enforce_size_limit`: keep the most promising leaves active, as many as
    /// the size estimates allow under `max_size`, and reactivate the others' betters
    /// below `max_depth`. Before the first measurement every estimate is 0, so every
    /// leaf may be active.
    fn enforce_size_limit(&mut self, ctx: &Context<'_>) {
        let max_bytes = ctx.params.max_size * 1_048_576.0;
        let LeafSizes { active, inactive, overhead } = self.sizes;
        let size = overhead * (active + self.counts.inactive as f64 * inactive);
        if (self.counts.inactive > 0 || size > max_bytes) && ctx.params.stop_mem_management {
            return;
        }
        let max_depth = ctx.max_depth();
        let mut leaves: Vec<(f64, u32)> =
            self.leaves().into_iter().filter_map(|i| self.leaf(i).map(|l| (vfdt::promise(&l.stats), i))).collect();
        leaves.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = leaves.len();
        let mut max_active = 0;
        while max_active < n {
            max_active += 1;
            let bytes = (max_active as f64 * active + (n - max_active) as f64 * inactive) * overhead;
            if bytes > max_bytes {
                max_active -= 1;
                break;
            }
        }
        let cutoff = n - max_active;
        for (k, (_, i)) in leaves.into_iter().enumerate() {
            let Some(AdaNode::Leaf { leaf, .. }) = self.nodes.get_mut(i as usize) else { continue };
            if k < cutoff && leaf.is_active() {
                leaf.observers = None;
                self.counts.active -= 1;
                self.counts.inactive += 1;
            } else if k >= cutoff && !leaf.is_active() && leaf.depth < max_depth {
                leaf.observers = Some(Vec::new());
                self.counts.active += 1;
                self.counts.inactive -= 1;
            }
        }
    }

    /// Drop the nodes no longer reachable from the root (switched-out subtrees,
    /// replaced alternates), renumbering the rest in pre-order.
    fn compact(&mut self) {
        if self.nodes.is_empty() {
            return;
        }
        let mut order = Vec::new();
        let mut stack = vec![self.root];
        let mut seen = vec![false; self.nodes.len()];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i as usize], true) {
                continue;
            }
            order.push(i);
            if let AdaNode::Branch { branch, alternate, .. } = &self.nodes[i as usize] {
                stack.extend(alternate);
                stack.extend(branch.children.iter().rev());
            }
        }
        if order.len() == self.nodes.len() && self.root == 0 {
            return;
        }
        let mut new_id = vec![u32::MAX; self.nodes.len()];
        for (n, &i) in order.iter().enumerate() {
            new_id[i as usize] = n as u32;
        }
        let mut old: Vec<Option<AdaNode>> = std::mem::take(&mut self.nodes).into_iter().map(Some).collect();
        for &i in &order {
            let Some(mut node) = old[i as usize].take() else { continue };
            if let AdaNode::Branch { branch, alternate, .. } = &mut node {
                for c in &mut branch.children {
                    *c = new_id[*c as usize];
                }
                if let Some(a) = alternate {
                    *a = new_id[*a as usize];
                }
            }
            self.nodes.push(node);
        }
        self.root = 0;
    }

    /// The main tree's shape (alternates aside), with River's leaf counters.
    fn shape(&self) -> Shape {
        let (mut nodes, mut branches, mut depth) = (0, 0, 0);
        let mut stack = vec![(self.root, 0u32)];
        while let Some((i, d)) = stack.pop() {
            match self.nodes.get(i as usize) {
                Some(AdaNode::Branch { branch, .. }) => {
                    nodes += 1;
                    branches += 1;
                    stack.extend(branch.children.iter().map(|&c| (c, d + 1)));
                }
                Some(AdaNode::Leaf { .. }) => {
                    nodes += 1;
                    depth = depth.max(d);
                }
                None => {}
            }
        }
        Shape {
            nodes,
            branches,
            leaves: nodes - branches,
            active_leaves: u64::try_from(self.counts.active).unwrap_or(0),
            inactive_leaves: u64::try_from(self.counts.inactive).unwrap_or(0),
            depth,
        }
    }
}

impl HoeffdingAdaptiveTree {
    /// The parameters, the tree's and the adaptive tree's, as one JSON object.
    pub fn get_params(&self) -> Json {
        hoeffding::joined_params(&self.params, &self.tree_params)
    }

    /// River's counters: alternates started, dropped and switched in, and its running
    /// counts of active and inactive leaves.
    pub fn counts(&self) -> AdaptiveCounts {
        self.tree.counts
    }

    /// The main tree's shape (alternates aside).
    pub fn shape(&self) -> Shape {
        self.tree.shape()
    }

    /// The main tree as a plain tree (alternates aside), to show or summarise.
    pub fn main_tree(&self) -> vfdt::Tree {
        let t = &self.tree;
        if t.nodes.is_empty() {
            return vfdt::Tree::new();
        }
        // Pre-order copy with the children renumbered.
        let mut nodes: Vec<Node> = Vec::new();
        let mut stack: Vec<(u32, Option<(usize, usize)>)> = vec![(t.root, None)];
        while let Some((i, parent)) = stack.pop() {
            let id = nodes.len() as u32;
            if let Some((p, k)) = parent {
                if let Some(Node::Branch(b)) = nodes.get_mut(p) {
                    b.children[k] = id;
                }
            }
            match &t.nodes[i as usize] {
                AdaNode::Leaf { leaf, .. } => nodes.push(Node::Leaf(leaf.clone())),
                AdaNode::Branch { branch, .. } => {
                    let at = nodes.len();
                    nodes.push(Node::Branch(branch.clone()));
                    for (k, &c) in branch.children.iter().enumerate().rev() {
                        stack.push((c, Some((at, k))));
                    }
                }
            }
        }
        // The leaves there are (River's running counters drift from them).
        let active = nodes.iter().filter(|n| matches!(n, Node::Leaf(l) if l.is_active())).count() as u64;
        let leaves = nodes.iter().filter(|n| matches!(n, Node::Leaf(_))).count() as u64;
        vfdt::Tree::from_nodes(nodes, active, leaves - active)
    }

    /// The label of each class id.
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// The categorical columns and their categories.
    pub fn codes(&self) -> Option<&CategoryCodes> {
        self.codes.as_ref()
    }

    fn check_batch(&self, x: ArrayView2<f64>, cats: &Categories, y: Option<ArrayView1<i64>>) -> Result<(), ModelError> {
        if let Some(y) = y {
            crate::model::validate::label_count(x, y)?;
            self.classes.check(y)?;
        }
        hoeffding::check_records(x, cats, self.n_features, self.codes.as_ref())
    }

    fn class_id(&mut self, label: i64) -> u32 {
        match self.labels.iter().position(|&l| l == label) {
            Some(i) => i as u32,
            None => {
                self.labels.push(label);
                let _ = self.classes.index_or_insert(label);
                (self.labels.len() - 1) as u32
            }
        }
    }

    /// River's `predict_proba_one`: the distributions of the main leaf and of every
    /// alternate met on the way, each divided by its error, summed and normalised; as
    /// `(class id, p)`.
    fn proba(
        &self,
        row: &Row<'_>,
        ctx: &Context<'_>,
        (scratch, found): (&mut Vec<(u32, f64)>, &mut Vec<u32>),
        out: &mut Vec<f64>,
    ) {
        out.clear();
        out.resize(self.labels.len(), 0.0);
        if self.tree.nodes.is_empty() {
            return;
        }
        // Reused buffers: predicting allocates nothing per record.
        found.clear();
        let leaf = self.tree.walk(self.tree.root, row, found);
        found.push(leaf);
        for &at in found.iter() {
            self.tree.leaf_votes(at, row, ctx, scratch);
            for &(c, p) in scratch.iter() {
                if let Some(v) = out.get_mut(c as usize) {
                    *v += p;
                }
            }
        }
        let total: f64 = out.iter().sum();
        if total != 0.0 && !total.is_nan() {
            for v in out.iter_mut() {
                *v /= total;
            }
        }
    }

    /// The first largest of `proba` over the sorted classes.
    fn decide(&self, proba: &[f64]) -> i64 {
        let mut best: Option<(i64, f64)> = None;
        for &label in self.classes.as_slice() {
            let p = self.labels.iter().position(|&l| l == label).and_then(|i| proba.get(i)).copied().unwrap_or(0.0);
            if best.is_none_or(|(_, b)| p > b) {
                best = Some((label, p));
            }
        }
        best.map_or(NO_PREDICTION, |(l, _)| l)
    }

    fn for_each(
        &self,
        x: ArrayView2<f64>,
        cats: &Categories,
        mut each: impl FnMut(usize, &[f64]),
    ) -> Result<(), ModelError> {
        self.check_batch(x, cats, None)?;
        let empty = CategoryCodes::default();
        let codes = self.codes.as_ref().unwrap_or(&empty);
        let ctx = Context { params: &self.tree_params, labels: &self.labels, codes, max_features: None };
        let (mut num, mut cat, mut scratch, mut proba) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut found = Vec::new();
        for i in 0..x.nrows() {
            num.clear();
            num.extend(x.row(i).iter());
            cat.clear();
            if cats.width() > 0 {
                cat.extend(cats.row(i).iter().enumerate().map(|(j, v)| codes.code(j, v.as_ref())));
            }
            self.proba(&Row { num: &num, cat: &cat }, &ctx, (&mut scratch, &mut found), &mut proba);
            each(i, &proba);
        }
        Ok(())
    }

    /// Predict records with categorical columns.
    pub fn predict_categorical(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<Array1<i64>, ModelError> {
        let mut out = Array1::from_elem(x.nrows(), NO_PREDICTION);
        self.for_each(x, cats, |i, p| out[i] = self.decide(p))?;
        Ok(out)
    }

    /// Class probabilities (sorted classes) of records with categorical columns.
    pub fn predict_proba_categorical(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<Array2<f64>, ModelError> {
        let mut out = Array2::zeros((x.nrows(), self.classes.len()));
        self.for_each(x, cats, |i, p| {
            for (id, &v) in p.iter().enumerate() {
                if let Some(j) = self.labels.get(id).and_then(|&l| self.classes.index_of(l)) {
                    out[[i, j]] = v;
                }
            }
        })?;
        Ok(out)
    }

    /// The prequential step on records with categorical columns.
    pub fn learn_predict_categorical(
        &mut self,
        x: ArrayView2<f64>,
        cats: &Categories,
        y: ArrayView1<i64>,
    ) -> Result<Array1<i64>, ModelError> {
        self.check_batch(x, cats, Some(y))?;
        if self.n_features.is_none() {
            self.n_features = Some(x.ncols());
        }
        let mut codes = self.codes.take().unwrap_or_else(|| CategoryCodes::new(cats.names()));
        let mut out = Array1::from_elem(x.nrows(), NO_PREDICTION);
        let (mut num, mut cat, mut scratch, mut proba) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut found = Vec::new();
        let period = self.tree_params.memory_estimate_period as f64;
        for (i, &label) in y.iter().enumerate() {
            num.clear();
            num.extend(x.row(i).iter());
            cat.clear();
            if cats.width() > 0 {
                cat.extend(cats.row(i).iter().enumerate().map(|(j, v)| codes.code_or_insert(j, v.as_ref())));
            }
            let row = Row { num: &num, cat: &cat };
            {
                let ctx =
                    Context { params: &self.tree_params, labels: &self.labels, codes: &codes, max_features: None };
                self.proba(&row, &ctx, (&mut scratch, &mut found), &mut proba);
            }
            out[i] = self.decide(&proba);
            let class = self.class_id(label);
            let ctx = Context { params: &self.tree_params, labels: &self.labels, codes: &codes, max_features: None };
            let mut step = Step {
                ctx: &ctx,
                row: &row,
                class,
                params: &self.params,
                detector: self.detector.as_ref(),
                scratch: &mut scratch,
                rng: &mut self.rng,
            };
            self.tree.weight_seen += 1.0;
            self.tree.learn(&mut step);
            self.tree.compact();
            if self.tree.weight_seen % period == 0.0 {
                self.tree.estimate_size(&ctx);
            }
            self.seen = self.seen.saturating_add(1);
        }
        self.codes = Some(codes);
        Ok(out)
    }

    pub(crate) fn check_state(&self) -> Result<(), String> {
        let fresh = self.params.clone().build(self.tree_params.clone()).map_err(|e| format!("its parameters: {e}"))?;
        self.classes.check_state()?;
        if self.classes.is_fixed() != fresh.classes.is_fixed()
            || (fresh.classes.is_fixed() && self.classes != fresh.classes)
        {
            return Err("declared classes differ from the parameters".into());
        }
        for (i, &l) in self.labels.iter().enumerate() {
            if self.classes.index_of(l).is_none() || self.labels[..i].contains(&l) {
                return Err(format!("the tree's class {l} is unknown or listed twice"));
            }
        }
        self.detector.check_state()?;
        let t = &self.tree;
        let n = t.nodes.len();
        if n == 0 {
            return Ok(());
        }
        let empty = CategoryCodes::default();
        let codes = self.codes.as_ref().unwrap_or(&empty);
        let d = self.n_features.unwrap_or(0);
        // Every node reached once from the root, through a child or an alternate link.
        let mut reached = vec![false; n];
        let mut stack = vec![(t.root, None::<u32>)];
        while let Some((i, depth)) = stack.pop() {
            let node = t.nodes.get(i as usize).ok_or_else(|| format!("node {i} does not exist"))?;
            if std::mem::replace(&mut reached[i as usize], true) {
                return Err(format!("node {i} is reached twice"));
            }
            let (own_depth, watch) = match node {
                AdaNode::Leaf { leaf, watch } => (leaf.depth, watch),
                AdaNode::Branch { branch, watch, .. } => (branch.depth, watch),
            };
            if depth.is_some_and(|want| want != own_depth) || (depth.is_none() && own_depth != 0) {
                return Err(format!("node {i} is not at the depth its place says"));
            }
            watch.detector.check_state()?;
            if !(watch.n.is_finite() && watch.n >= 0.0 && (0.0..=1.0).contains(&watch.mean)) {
                return Err("a node's error is not a rate".into());
            }
            if let AdaNode::Branch { branch, alternate, .. } = node {
                stack.extend(branch.children.iter().map(|&c| (c, Some(own_depth.saturating_add(1)))));
                stack.extend(alternate.iter().map(|&a| (a, Some(own_depth))));
                if alternate.is_some_and(|a| matches!(t.nodes.get(a as usize), Some(AdaNode::Branch { .. }))) {
                    return Err("an alternate tree is a branch".into());
                }
            }
        }
        if reached.iter().any(|r| !r) {
            return Err("nodes no one reaches".into());
        }
        for node in &t.nodes {
            match node {
                AdaNode::Leaf { leaf, .. } => check_leaf(leaf, self.labels.len(), d, codes)?,
                AdaNode::Branch { branch, .. } => check_branch(branch, self.labels.len(), d, codes, n)?,
            }
        }
        if !t.weight_seen.is_finite() {
            return Err("the weight seen is not finite".into());
        }
        let LeafSizes { active, inactive, overhead } = t.sizes;
        if ![active, inactive, overhead].iter().all(|v| v.is_finite() && *v >= 0.0) {
            return Err("the size estimates are not finite sizes".into());
        }
        Ok(())
    }

    pub(crate) fn state_is_finite(&self) -> bool {
        self.tree.weight_seen.is_finite()
    }

    pub(crate) fn grow(&mut self, n_features: usize) -> Result<(), String> {
        match self.n_features {
            Some(d) if n_features < d => Err(format!("cannot shrink from {d} to {n_features} features")),
            Some(_) => {
                self.n_features = Some(n_features);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// Check a decoded leaf as a plain tree's leaf (through a one-node tree).
fn check_leaf(leaf: &Leaf, n_classes: usize, d: usize, codes: &CategoryCodes) -> Result<(), String> {
    let active = u64::from(leaf.is_active());
    let tree = vfdt::Tree::from_nodes(vec![Node::Leaf(Leaf { depth: 0, ..leaf.clone() })], active, 1 - active);
    tree.check(n_classes, d, codes)
}

/// Check a decoded branch's test and statistics (its children are checked by the walk).
fn check_branch(b: &Branch, n_classes: usize, d: usize, codes: &CategoryCodes, n: usize) -> Result<(), String> {
    b.stats.check(n_classes)?;
    if b.children.iter().any(|&c| c as usize >= n) || b.children.is_empty() {
        return Err("a branch's children do not exist".into());
    }
    let f = b.test.feature();
    let codes_of = |f: u32| -> Option<usize> {
        (f & CATEGORICAL != 0)
            .then(|| codes.count((f & !CATEGORICAL) as usize))
            .filter(|_| ((f & !CATEGORICAL) as usize) < codes.len())
    };
    let fits = match &b.test {
        Test::Le { threshold, .. } => {
            f & CATEGORICAL == 0 && (f as usize) < d && threshold.is_finite() && b.children.len() == 2
        }
        Test::Eq { code, .. } => codes_of(f).is_some_and(|k| (*code as usize) < k) && b.children.len() == 2,
        Test::Multi { codes: cs, .. } => {
            codes_of(f).is_some_and(|k| cs.iter().all(|&c| (c as usize) < k))
                && cs.len() == b.children.len()
                && cs.iter().enumerate().all(|(i, c)| !cs[..i].contains(c))
        }
    };
    if fits {
        Ok(())
    } else {
        Err("a branch's test does not fit its feature or its children".into())
    }
}

impl OnlineClassifier for HoeffdingAdaptiveTree {
    fn partial_fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        self.learn_predict_categorical(x, &Categories::empty(x.nrows()), y).map(|_| ())
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        self.predict_categorical(x, &Categories::empty(x.nrows()))
    }
    fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
        self.predict_proba_categorical(x, &Categories::empty(x.nrows())).map(Some)
    }
    fn learn_predict(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<Array1<i64>, ModelError> {
        self.learn_predict_categorical(x, &Categories::empty(x.nrows()), y)
    }
    fn classes(&self) -> &[i64] {
        self.classes.as_slice()
    }
    fn n_features(&self) -> Option<usize> {
        self.n_features
    }
    fn records_seen(&self) -> u64 {
        self.seen
    }
    fn validate(&self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        self.check_batch(x, &Categories::empty(x.nrows()), Some(y))
    }
    fn takes_categories(&self) -> bool {
        true
    }
    fn learn_predict_with_categories(
        &mut self,
        x: ArrayView2<f64>,
        cats: &Categories,
        y: ArrayView1<i64>,
    ) -> Result<Array1<i64>, ModelError> {
        self.learn_predict_categorical(x, cats, y)
    }
    fn predict_with_categories(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<Array1<i64>, ModelError> {
        self.predict_categorical(x, cats)
    }
    fn predict_proba_with_categories(
        &self,
        x: ArrayView2<f64>,
        cats: &Categories,
    ) -> Result<Option<Array2<f64>>, ModelError> {
        self.predict_proba_categorical(x, cats).map(Some)
    }
    fn trees(&self) -> Option<crate::model::TreesView<'_>> {
        Some(self.view())
    }
    fn structure(&self, features: &[String], class_names: Option<&[String]>, max_depth: u32) -> Option<String> {
        let empty = CategoryCodes::default();
        let names = show::Names {
            numeric: features,
            codes: self.codes.as_ref().unwrap_or(&empty),
            labels: &self.labels,
            class_names,
        };
        let c = self.tree.counts;
        Some(format!(
            "alternate trees: {} started, {} switched in, {} dropped\n{}",
            c.alternates,
            c.switched,
            c.pruned,
            show::render(&self.main_tree(), &names, max_depth)
        ))
    }
}

impl HoeffdingAdaptiveTree {
    /// The main tree (alternates aside) for snapshots and reports.
    fn view(&self) -> crate::model::TreesView<'_> {
        crate::model::TreesView {
            trees: vec![std::borrow::Cow::Owned(self.main_tree())],
            labels: &self.labels,
            codes: self.codes.as_ref(),
            forest: None,
        }
    }
}

impl_stage!(HoeffdingAdaptiveTree, HOEFFDING_ADAPTIVE_TREE);
/// Not mergeable: a tree grows its own structure.
impl crate::model::merge::Merge for HoeffdingAdaptiveTree {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `errors` to a node's watch at a branch; the indices where it started an alternate.
    fn alternates_started(errors: impl Iterator<Item = f64>, rising_only: bool) -> Vec<usize> {
        let adwin = crate::drift::build_text("adwin").expect("adwin is registered");
        let mut watch = Watch::new(adwin.as_ref(), rising_only);
        errors.enumerate().filter_map(|(i, e)| watch.update(e, false).then_some(i)).collect()
    }

    /// A curved concept keeps a tree splitting; with `max_size` a measurement every 500
    /// records deactivates the least promising leaves so that the estimate fits, as River does.
    #[test]
    fn max_size_deactivates_leaves_to_fit() {
        use ndarray_rand::rand::Rng;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let n = 30_000;
        let x = Array2::from_shape_fn((n, 8), |_| rng.gen::<f64>());
        // Stripes across the first feature; the other seven are noise the leaves observe.
        let y = Array1::from_shape_fn(n, |i| (x[[i, 0]] * 12.0) as i64 % 2);
        let grow = |max_size: f64| {
            let tree = HoeffdingTreeParams {
                grace_period: 50,
                max_size,
                memory_estimate_period: 500,
                ..HoeffdingTreeParams::default()
            };
            let mut hat = AdaptiveParams { bootstrap_sampling: false, ..AdaptiveParams::default() }
                .build(tree)
                .expect("valid parameters");
            hat.learn_predict(x.view(), y.view()).expect("learns");
            hat.check_state().expect("a whole tree");
            hat.tree
        };
        // The leaves there are (River's counters drift from them), active and not.
        let leaves = |t: &AdaTree| {
            let active = t.leaves().into_iter().filter(|&i| t.leaf(i).is_some_and(Leaf::is_active)).count();
            (active, t.leaves().len() - active)
        };
        let free = grow(100.0);
        assert_eq!(leaves(&free).1, 0, "no leaf is deactivated without a limit");
        let bounded = grow(0.1);
        let (active, inactive) = leaves(&bounded);
        assert!(active > 0 && inactive > 0, "{active} active, {inactive} inactive leaves");
        assert!(active < leaves(&free).0);
        assert_eq!((bounded.counts.active, bounded.counts.inactive), (active as i64, inactive as i64));
        let LeafSizes { active: a, inactive: i, overhead } = bounded.sizes;
        let estimate = (active as f64 * a + inactive as f64 * i) * overhead;
        assert!(estimate <= 0.1 * 1_048_576.0, "{estimate} bytes estimated");
    }

    /// An error rate that falls from 1/2 to 1/32, with an error at every record where
    /// ADWIN checks for a cut (its clock is 32): River's rule reads that one record as a
    /// rise and starts alternates; MOA's rule sees the window's mean fall and starts none.
    #[test]
    fn a_falling_error_starts_no_alternate_with_rising_only() {
        let falling = || (0..4000).map(|i| f64::from(u8::from(if i < 1000 { i % 2 == 0 } else { i % 32 == 31 })));
        assert!(!alternates_started(falling(), false).is_empty(), "River's rule reacts to one record");
        assert_eq!(alternates_started(falling(), true), Vec::<usize>::new());
    }

    /// An error rate that rises from 1/10 to 1/2 with no error where ADWIN checks: MOA's
    /// rule starts an alternate at the first cut after the change; River's misses it,
    /// because the one record at the cut was right.
    #[test]
    fn a_rising_error_starts_an_alternate_with_rising_only() {
        let rising = || (0..4000).map(|i| f64::from(u8::from(if i < 2000 { i % 10 == 0 } else { i % 2 == 0 })));
        let moa = alternates_started(rising(), true);
        assert!(moa.first().is_some_and(|&i| (2000..2200).contains(&i)), "{moa:?}");
        assert_eq!(alternates_started(rising(), false), Vec::<usize>::new());
    }
}
