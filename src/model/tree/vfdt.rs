//! The Hoeffding tree itself (VFDT, River's `HoeffdingTreeClassifier`): route a record
//! to its leaf, learn it there, and split a leaf once the Hoeffding bound says its best
//! split beats the second best; keep the tree within its memory by deactivating the
//! least promising leaves. The stages (`hoeffding-tree`, later the forest's trees) own
//! a [`Tree`] and give it a [`Context`].

use super::codes::CategoryCodes;
use super::criterion::{hoeffding_bound, SplitCriterion};
use super::dist::Dist;
use super::hoeffding::{Criterion, HoeffdingTreeParams, LeafPrediction};
use super::node::{Branch, Leaf, Node, Route, Row, Test, Value, CATEGORICAL};
use super::observer::{Gaussian, Nominal, Observer, Split, SplitSearch, Suggestion};
use ndarray_rand::rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// What a tree reads besides the record: its parameters, the label of each class id,
/// and the texts of the category codes.
pub struct Context<'a> {
    /// The tree's parameters.
    pub params: &'a HoeffdingTreeParams,
    /// The label of each class id.
    pub labels: &'a [i64],
    /// The categories.
    pub codes: &'a CategoryCodes,
    /// Features each leaf draws to observe (a forest's trees); `None`: every feature.
    pub max_features: Option<usize>,
}

impl Context<'_> {
    pub(crate) fn criterion(&self) -> SplitCriterion {
        match self.params.split_criterion {
            Criterion::InfoGain => SplitCriterion::InfoGain,
            Criterion::Gini => SplitCriterion::Gini,
            Criterion::Hellinger => {
                let id = |label: i64| self.labels.iter().position(|&l| l == label).map_or(u32::MAX, |i| i as u32);
                SplitCriterion::Hellinger { negative: id(0), positive: id(1) }
            }
        }
    }

    pub(crate) fn max_depth(&self) -> u32 {
        if self.params.max_depth == 0 {
            u32::MAX
        } else {
            self.params.max_depth
        }
    }
}

/// A Hoeffding tree's nodes and bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The arena; the root is node 0 (none before the first record).
    nodes: Vec<Node>,
    n_active: u64,
    n_inactive: u64,
    growth_allowed: bool,
    weight_seen: f64,
    /// Bytes per active and per inactive leaf at the last estimate, and the ratio of the
    /// tree's bytes to the leaves' (River's size estimates).
    active_leaf_bytes: f64,
    inactive_leaf_bytes: f64,
    overhead: f64,
}

/// Counts that describe a tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Shape {
    /// Nodes.
    pub nodes: usize,
    /// Branches.
    pub branches: usize,
    /// Leaves.
    pub leaves: usize,
    /// Leaves that still observe features and may split.
    pub active_leaves: u64,
    /// Leaves deactivated (pre-pruned, at `max_depth`, or to save memory).
    pub inactive_leaves: u64,
    /// Depth of the deepest leaf (0: a single leaf).
    pub depth: u32,
}

impl Tree {
    /// A tree of these nodes (the root first), to show one kept in another shape.
    pub(crate) fn from_nodes(nodes: Vec<Node>, n_active: u64, n_inactive: u64) -> Self {
        Self { nodes, n_active, n_inactive, ..Self::new() }
    }

    /// An empty tree.
    pub fn new() -> Self {
        Self { growth_allowed: true, overhead: 1.0, ..Self::default() }
    }

    /// The nodes, the root first.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Weight learned.
    pub fn weight_seen(&self) -> f64 {
        self.weight_seen
    }

    /// Its counts.
    pub fn shape(&self) -> Shape {
        let branches = self.nodes.iter().filter(|n| matches!(n, Node::Branch(_))).count();
        Shape {
            nodes: self.nodes.len(),
            branches,
            leaves: self.nodes.len() - branches,
            active_leaves: self.n_active,
            inactive_leaves: self.n_inactive,
            depth: self.nodes.iter().map(Node::depth).max().unwrap_or(0),
        }
    }

    /// Bytes the tree holds (what `max_size` bounds).
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .nodes
                .iter()
                .map(|n| match n {
                    Node::Leaf(l) => l.bytes(),
                    Node::Branch(b) => b.bytes(),
                })
                .sum::<usize>()
    }

    /// The leaf `row` reaches when predicting: a record without the tested feature, or
    /// with a category a multiway branch has no child for, takes the most common path.
    pub fn leaf_of(&self, row: &Row<'_>) -> Option<&Leaf> {
        match self.nodes.get(self.reach(row)?.0)? {
            Node::Leaf(l) => Some(l),
            Node::Branch(_) => None,
        }
    }

    /// The index of the leaf `row` reaches when predicting, and the worst detour taken.
    fn reach(&self, row: &Row<'_>) -> Option<(usize, Detour)> {
        let (mut at, mut detour) = (0usize, Detour::None);
        loop {
            match self.nodes.get(at)? {
                Node::Leaf(_) => return Some((at, detour)),
                Node::Branch(b) => {
                    let child = match b.test.route(row) {
                        Route::Child(i) => i,
                        Route::Missing => {
                            detour = detour.max(Detour::Missing);
                            self.most_common_child(b)
                        }
                        Route::Unseen(_) => {
                            detour = Detour::Unseen;
                            self.most_common_child(b)
                        }
                    };
                    at = *b.children.get(child)? as usize;
                }
            }
        }
    }

    /// The class probabilities of `row` into `out` as `(class id, p)` (River's leaf
    /// `prediction`); `scratch` is reused between calls so that predicting allocates nothing.
    pub fn predict_into(&self, row: &Row<'_>, ctx: &Context<'_>, out: &mut Vec<(u32, f64)>) {
        out.clear();
        let Some(leaf) = self.leaf_of(row) else { return };
        leaf_prediction(leaf, row, ctx, out);
    }

    /// [`Self::predict_into`], and what learning the same record next needs of it: the
    /// leaf it reaches, and naive Bayes' class there when the prediction computed it.
    pub fn predict_visit(&self, row: &Row<'_>, ctx: &Context<'_>, out: &mut Vec<(u32, f64)>) -> Visit {
        out.clear();
        let mut visit = Visit { leaf: None, clean: true, nb: NbaTally::On };
        let Some((at, detour)) = self.reach(row) else { return visit };
        let Some(Node::Leaf(l)) = self.nodes.get(at) else { return visit };
        if leaf_prediction(l, row, ctx, out) {
            visit.nb = NbaTally::Predicted(first_max(out));
        }
        visit.clean = detour == Detour::None;
        // Past an unseen category, learning grows a leaf for it: not this one.
        visit.leaf = (detour != Detour::Unseen).then_some(at);
        visit
    }

    /// Learn the record [`Self::predict_visit`] just predicted, nothing changed since.
    pub fn learn_visited(
        &mut self,
        visit: Visit,
        row: &Row<'_>,
        learning: (u32, f64),
        ctx: &Context<'_>,
        scratch: &mut Vec<(u32, f64)>,
        rng: Option<&mut Xoshiro256PlusPlus>,
    ) {
        let (class, w) = learning;
        match visit.leaf {
            Some(at) if matches!(self.nodes.get(at), Some(Node::Leaf(_))) => {
                self.weight_seen += w;
                self.learn_at(at, visit.clean, row, (class, w), ctx, scratch, rng, visit.nb);
            }
            _ => self.learn(row, class, w, ctx, scratch, rng),
        }
    }

    /// Learn `row` of class `class` with weight `w`; `rng` draws the features a new leaf
    /// observes when `ctx.max_features` asks for a subset.
    pub fn learn(
        &mut self,
        row: &Row<'_>,
        class: u32,
        w: f64,
        ctx: &Context<'_>,
        scratch: &mut Vec<(u32, f64)>,
        rng: Option<&mut Xoshiro256PlusPlus>,
    ) {
        self.weight_seen += w;
        if self.nodes.is_empty() {
            self.nodes.push(Node::Leaf(Leaf::new(Dist::new(), 0)));
            self.n_active = 1;
        }
        // A record that takes a detour (a missing value, a new category) is learned but
        // starts no split attempt, as in River.
        let mut clean = true;
        let mut at = 0usize;
        while let Node::Branch(b) = &self.nodes[at] {
            match b.test.route(row) {
                Route::Child(i) => at = b.children[i] as usize,
                Route::Missing => {
                    clean = false;
                    at = b.children[self.most_common_child(b)] as usize;
                }
                Route::Unseen(code) => {
                    clean = false;
                    let depth = b.depth.saturating_add(1);
                    let leaf = self.nodes.len() as u32;
                    self.nodes.push(Node::Leaf(Leaf::new(Dist::new(), depth)));
                    self.n_active += 1;
                    if let Node::Branch(Branch { test: Test::Multi { codes, .. }, children, .. }) = &mut self.nodes[at]
                    {
                        codes.push(code);
                        children.push(leaf);
                    }
                    at = leaf as usize;
                }
            }
        }
        self.learn_at(at, clean, row, (class, w), ctx, scratch, rng, NbaTally::On);
    }

    /// Learn `row` at leaf `at` it was routed to (`clean`: by no detour), then attempt a
    /// split and check the memory as due.
    #[allow(clippy::too_many_arguments)]
    fn learn_at(
        &mut self,
        at: usize,
        clean: bool,
        row: &Row<'_>,
        (class, w): (u32, f64),
        ctx: &Context<'_>,
        scratch: &mut Vec<(u32, f64)>,
        rng: Option<&mut Xoshiro256PlusPlus>,
        nb: NbaTally,
    ) {
        let max_depth = ctx.max_depth();
        let Node::Leaf(leaf) = &mut self.nodes[at] else { unreachable!("callers give a leaf's index") };
        let tally = if ctx.params.leaf_prediction == LeafPrediction::Nba { nb } else { NbaTally::Off };
        learn_leaf(leaf, row, class, w, ctx, scratch, rng, tally);
        if clean && self.growth_allowed && leaf.is_active() {
            if leaf.depth >= max_depth {
                leaf.observers = None;
                self.n_active -= 1;
                self.n_inactive += 1;
            } else {
                let total = leaf.stats.total();
                if total - leaf.last_attempt >= ctx.params.grace_period as f64 {
                    self.attempt_split(at, ctx);
                    if let Node::Leaf(leaf) = &mut self.nodes[at] {
                        leaf.last_attempt = total;
                    }
                }
            }
        }
        let period = ctx.params.memory_estimate_period as f64;
        if period > 0.0 && self.weight_seen % period == 0.0 {
            self.estimate_size(ctx);
        }
    }

    /// The child of `b` whose subtree learned the most weight (the first of equals; of
    /// two, the right one only when strictly heavier), River's `most_common_path`.
    fn most_common_child(&self, b: &Branch) -> usize {
        let weights = b.children.iter().map(|&c| self.subtree_weight(c as usize));
        if b.children.len() == 2 {
            let w: Vec<f64> = weights.collect();
            return usize::from(w[0] < w[1]);
        }
        let mut best = (0, f64::NEG_INFINITY);
        for (i, w) in weights.enumerate() {
            if w > best.1 {
                best = (i, w);
            }
        }
        best.0
    }

    /// Nodes in the subtree under node `at`, itself included.
    pub fn subtree_size(&self, at: usize) -> usize {
        let mut n = 0;
        let mut stack = vec![at];
        while let Some(i) = stack.pop() {
            n += 1;
            if let Some(Node::Branch(b)) = self.nodes.get(i) {
                stack.extend(b.children.iter().map(|&c| c as usize));
            }
        }
        n
    }

    /// The weight the leaves under node `at` learned, summed as River's recursive
    /// `total_weight` sums it (each branch its children in order), without recursion: a
    /// deep tree from a file must not overflow the stack.
    pub fn subtree_weight(&self, at: usize) -> f64 {
        // (node, next child to add, the sum of the children added so far)
        let mut stack: Vec<(usize, usize, f64)> = vec![(at, 0, 0.0)];
        loop {
            let Some(&mut (node, ref mut next, sum)) = stack.last_mut() else { return 0.0 };
            let done = match self.nodes.get(node) {
                Some(Node::Branch(b)) if *next < b.children.len() => {
                    let child = b.children[*next] as usize;
                    *next += 1;
                    stack.push((child, 0, 0.0));
                    continue;
                }
                Some(Node::Branch(_)) => sum,
                Some(Node::Leaf(l)) => l.stats.total(),
                None => 0.0,
            };
            stack.pop();
            match stack.last_mut() {
                Some(parent) => parent.2 += done,
                None => return done,
            }
        }
    }

    fn attempt_split(&mut self, at: usize, ctx: &Context<'_>) {
        let Node::Leaf(leaf) = &mut self.nodes[at] else { return };
        let depth = leaf.depth;
        match decide_split(leaf, ctx) {
            Decision::Keep => return,
            Decision::Deactivate => {
                leaf.observers = None;
                self.n_inactive += 1;
                self.n_active -= 1;
            }
            Decision::Split { test, children } => {
                let stats = leaf.stats.clone();
                let first = self.nodes.len() as u32;
                let n = children.len() as u32;
                let child_depth = depth.saturating_add(1);
                for child in children {
                    self.nodes.push(Node::Leaf(Leaf::new(child, child_depth)));
                }
                self.nodes[at] = Node::Branch(Branch { test, children: (first..first + n).collect(), depth, stats });
                self.n_active = self.n_active - 1 + u64::from(n);
            }
        }
        self.enforce_size_limit(ctx);
    }

    /// River's `_estimate_model_size`: measure the leaves, and enforce the limit when the
    /// tree holds more than `max_size`.
    fn estimate_size(&mut self, ctx: &Context<'_>) {
        let (mut active, mut inactive) = (0usize, 0usize);
        for n in &self.nodes {
            if let Node::Leaf(l) = n {
                if l.is_active() {
                    active += l.bytes();
                } else {
                    inactive += l.bytes();
                }
            }
        }
        if active > 0 && self.n_active > 0 {
            self.active_leaf_bytes = active as f64 / self.n_active as f64;
        }
        if inactive > 0 && self.n_inactive > 0 {
            self.inactive_leaf_bytes = inactive as f64 / self.n_inactive as f64;
        }
        let actual = self.bytes() as f64;
        let estimated =
            self.n_active as f64 * self.active_leaf_bytes + self.n_inactive as f64 * self.inactive_leaf_bytes;
        if estimated > 0.0 {
            self.overhead = actual / estimated;
        }
        if actual > ctx.params.max_size * 1_048_576.0 {
            self.enforce_size_limit(ctx);
        }
    }

    /// River's `_enforce_size_limit`: keep the most promising leaves active, as many as the
    /// size estimates allow; reactivate the others' betters below `max_depth`.
    fn enforce_size_limit(&mut self, ctx: &Context<'_>) {
        let max_bytes = ctx.params.max_size * 1_048_576.0;
        let size = self.overhead * (self.active_leaf_bytes + self.n_inactive as f64 * self.inactive_leaf_bytes);
        if (self.n_inactive > 0 || size > max_bytes) && ctx.params.stop_mem_management {
            self.growth_allowed = false;
            return;
        }
        // When every leaf may be active, the cut below keeps them all (the estimate is
        // linear in the active count, so both ends fitting means every count fits), and
        // only inactive leaves above max_depth change: skip River's sort of every leaf,
        // which after each split of a big tree cost a sixth of a forest's time.
        let n_leaves = (self.n_active + self.n_inactive) as f64;
        let fits = |active: f64| {
            (active * self.active_leaf_bytes + (n_leaves - active) * self.inactive_leaf_bytes) * self.overhead
                <= max_bytes
        };
        if fits(1.0) && fits(n_leaves) {
            if self.n_inactive > 0 {
                let max_depth = ctx.max_depth();
                for node in &mut self.nodes {
                    if let Node::Leaf(l) = node {
                        if !l.is_active() && l.depth < max_depth {
                            l.observers = Some(Vec::new());
                            self.n_active += 1;
                            self.n_inactive -= 1;
                        }
                    }
                }
            }
            return;
        }
        let mut leaves: Vec<(f64, usize)> = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n {
                Node::Leaf(l) => Some((promise(&l.stats), i)),
                Node::Branch(_) => None,
            })
            .collect();
        leaves.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = leaves.len();
        let mut max_active = 0;
        while max_active < n {
            max_active += 1;
            let bytes = (max_active as f64 * self.active_leaf_bytes
                + (n - max_active) as f64 * self.inactive_leaf_bytes)
                * self.overhead;
            if bytes > max_bytes {
                max_active -= 1;
                break;
            }
        }
        let cutoff = n - max_active;
        let max_depth = ctx.max_depth();
        for (k, &(_, i)) in leaves.iter().enumerate() {
            let Node::Leaf(l) = &mut self.nodes[i] else { continue };
            if k < cutoff && l.is_active() {
                l.observers = None;
                self.n_active -= 1;
                self.n_inactive += 1;
            } else if k >= cutoff && !l.is_active() && l.depth < max_depth {
                l.observers = Some(Vec::new());
                self.n_active += 1;
                self.n_inactive -= 1;
            }
        }
    }

    /// Check a decoded tree: node 0 is the root of a tree over every node (each other node
    /// the child of exactly one branch, one level deeper), tests name features of their
    /// kind and known categories, counts add up.
    pub fn check(&self, n_classes: usize, n_numeric: usize, codes: &CategoryCodes) -> Result<(), String> {
        let n = self.nodes.len();
        let mut parent = vec![false; n];
        let (mut active, mut inactive) = (0u64, 0u64);
        let feature = |f: u32| -> Result<Option<usize>, String> {
            if f & CATEGORICAL != 0 {
                let j = (f & !CATEGORICAL) as usize;
                if j >= codes.len() {
                    return Err(format!("a node reads categorical column {j} of {}", codes.len()));
                }
                Ok(Some(codes.count(j)))
            } else if (f as usize) < n_numeric {
                Ok(None)
            } else {
                Err(format!("a node reads feature {f} of {n_numeric}"))
            }
        };
        for node in &self.nodes {
            match node {
                Node::Leaf(l) => {
                    l.stats.check(n_classes)?;
                    for &f in l.subset.iter().flatten().chain(&l.disabled) {
                        feature(f)?;
                    }
                    if !(l.last_attempt.is_finite() && l.mc_correct.is_finite() && l.nb_correct.is_finite()) {
                        return Err("a leaf's counters are not finite".into());
                    }
                    match &l.observers {
                        Some(obs) => {
                            active += 1;
                            for (i, (f, o)) in obs.iter().enumerate() {
                                o.check(n_classes, feature(*f)?)?;
                                if obs[..i].iter().any(|(g, _)| g == f) {
                                    return Err("a leaf observes a feature twice".into());
                                }
                            }
                        }
                        None => inactive += 1,
                    }
                }
                Node::Branch(b) => {
                    b.stats.check(n_classes)?;
                    let kind = feature(b.test.feature())?;
                    let arity_ok = match &b.test {
                        Test::Le { threshold, .. } => kind.is_none() && threshold.is_finite() && b.children.len() == 2,
                        Test::Eq { code, .. } => kind.is_some_and(|k| (*code as usize) < k) && b.children.len() == 2,
                        Test::Multi { codes: cs, .. } => {
                            kind.is_some_and(|k| cs.iter().all(|&c| (c as usize) < k))
                                && cs.len() == b.children.len()
                                && !cs.is_empty()
                                && cs.iter().enumerate().all(|(i, c)| !cs[..i].contains(c))
                        }
                    };
                    if !arity_ok {
                        return Err("a branch's test does not fit its feature or its children".into());
                    }
                    for &c in &b.children {
                        let c = c as usize;
                        if c == 0 || c >= n || std::mem::replace(&mut parent[c], true) {
                            return Err(format!("node {c} is not a proper child"));
                        }
                        if self.nodes[c].depth() != b.depth.saturating_add(1) {
                            return Err(format!("node {c} is not one level below its parent"));
                        }
                    }
                }
            }
        }
        if n > 0 && (self.nodes[0].depth() != 0 || parent.iter().skip(1).any(|p| !p)) {
            return Err("the nodes do not form one tree rooted at node 0".into());
        }
        if (active, inactive) != (self.n_active, self.n_inactive) {
            return Err("the counts of active and inactive leaves do not match the leaves".into());
        }
        let finite = [self.weight_seen, self.active_leaf_bytes, self.inactive_leaf_bytes, self.overhead];
        if finite.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err("the tree's counters are not finite".into());
        }
        Ok(())
    }
}

/// Whether a leaf learning a record keeps adaptive naive Bayes' tally (how often the
/// majority class and naive Bayes were right), and naive Bayes' class when known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum NbaTally {
    /// No tally (mc or nb leaves).
    Off,
    /// A tally; naive Bayes is computed for it.
    On,
    /// A tally, with naive Bayes' class as the prediction just computed it.
    Predicted(Option<u32>),
}

/// A detour a record took on its way to a leaf (the worst one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Detour {
    None,
    /// A missing tested value: the most common path.
    Missing,
    /// A category a multiway branch has no child for (learning would grow one).
    Unseen,
}

/// What predicting a record found, for learning it next ([`Tree::learn_visited`]).
#[derive(Debug, Clone, Copy)]
pub struct Visit {
    /// The leaf, when learning reaches the same one (not past an unseen category).
    leaf: Option<usize>,
    /// Routed without a detour (a missing value): a split may be attempted.
    clean: bool,
    nb: NbaTally,
}

/// Learn a record at its leaf (River's `learn_one` of a leaf): with a `tally`, adaptive
/// naive Bayes first scores both predictions; then the class weights and (while active)
/// the observers learn.
#[allow(clippy::too_many_arguments)]
pub(crate) fn learn_leaf(
    leaf: &mut Leaf,
    row: &Row<'_>,
    class: u32,
    w: f64,
    ctx: &Context<'_>,
    scratch: &mut Vec<(u32, f64)>,
    rng: Option<&mut Xoshiro256PlusPlus>,
    tally: NbaTally,
) {
    if leaf.is_active() && tally != NbaTally::Off {
        if leaf.stats.is_empty() || leaf.stats.argmax() == Some(class) {
            leaf.mc_correct += w;
        }
        let nb = match tally {
            NbaTally::Predicted(nb) => nb,
            _ => {
                naive_bayes(leaf, row, scratch);
                first_max(scratch)
            }
        };
        if nb == Some(class) {
            leaf.nb_correct += w;
        }
    }
    leaf.stats.add(class, w);
    let Some(observers) = &mut leaf.observers else { return };
    if let (Some(m), Some(rng), true) = (ctx.max_features, rng, leaf.subset.as_ref().is_none_or(Vec::is_empty)) {
        leaf.subset = Some(sample_features(row, m, rng));
    }
    let subset = leaf.subset.as_deref();
    for (f, value) in row.present() {
        if leaf.disabled.contains(&f) || subset.is_some_and(|s| !s.contains(&f)) {
            continue;
        }
        let slot = match observers.iter().position(|(g, _)| *g == f) {
            Some(i) => i,
            None => {
                observers.push((
                    f,
                    match value {
                        Value::Cat(_) => Observer::Nominal(Nominal::default()),
                        _ => Observer::Gaussian(Gaussian::default()),
                    },
                ));
                observers.len() - 1
            }
        };
        match (&mut observers[slot].1, value) {
            (Observer::Gaussian(g), Value::Num(x)) => g.update(x, class, w),
            (Observer::Nominal(n), Value::Cat(c)) => n.update(c, class, w),
            _ => {}
        }
    }
}

/// What a split attempt decided (River's `_attempt_to_split`, without the tree).
pub(crate) enum Decision {
    /// Nothing yet.
    Keep,
    /// "Do not split" won: the leaf stops observing (pre-pruning).
    Deactivate,
    /// Replace the leaf by a branch with this test and children of these class weights.
    Split {
        /// The test.
        test: Test,
        /// The children's class weights.
        children: Vec<Dist>,
    },
}

/// Decide whether `leaf` splits: its best suggestion against the second best and the
/// Hoeffding bound, or the bound below `tau`. With `remove_poor_attrs` (majority-class
/// leaves), features whose best split is clearly worse stop being observed.
pub(crate) fn decide_split(leaf: &mut Leaf, ctx: &Context<'_>) -> Decision {
    let params = ctx.params;
    let criterion = ctx.criterion();
    if leaf.stats.is_pure() {
        return Decision::Keep;
    }
    let total = leaf.stats.total();
    let mut suggestions: Vec<Suggestion> = Vec::new();
    let majority = leaf.stats.max_weight();
    if majority != 0.0 && majority / total > params.max_share_to_split {
        suggestions.push(Suggestion::null());
    } else {
        if params.merit_preprune {
            suggestions.push(Suggestion::null());
        }
        let pre_term = criterion.pre_term(&leaf.stats);
        for (f, obs) in leaf.observers.iter().flatten() {
            let j = (f & !CATEGORICAL) as usize;
            let text = |code: u32| ctx.codes.text(j, code);
            let search = SplitSearch {
                criterion,
                pre: &leaf.stats,
                pre_term,
                min_branch_fraction: params.min_branch_fraction,
                binary_only: params.binary_split,
                n_splits: params.n_splits,
                labels: ctx.labels,
                text: &text,
            };
            suggestions.push(obs.best_split(*f, &search));
        }
    }
    // Stable, ascending: of equal merits the last suggested is the best (River sorts so).
    suggestions.sort_by(|a, b| a.merit.total_cmp(&b.merit));
    let mut poor: Vec<u32> = Vec::new();
    let should_split = if suggestions.len() < 2 {
        !suggestions.is_empty()
    } else {
        let eps = hoeffding_bound(criterion.range(&leaf.stats), params.delta, total);
        let best = suggestions[suggestions.len() - 1].merit;
        let second = suggestions[suggestions.len() - 2].merit;
        if params.remove_poor_attrs && params.leaf_prediction == LeafPrediction::Mc {
            poor = suggestions
                .iter()
                .filter_map(|s| s.split.as_ref().filter(|_| best - s.merit > eps).map(|(f, _)| *f))
                .collect();
        }
        best - second > eps || eps < params.tau
    };
    if let Some(obs) = &mut leaf.observers {
        obs.retain(|(f, _)| !poor.contains(f));
    }
    for f in poor {
        if !leaf.disabled.contains(&f) {
            leaf.disabled.push(f);
        }
    }
    if !should_split {
        return Decision::Keep;
    }
    let Some(best) = suggestions.pop() else { return Decision::Keep };
    match best.split {
        None => Decision::Deactivate,
        Some((feature, split)) => Decision::Split {
            test: match split {
                Split::Threshold(threshold) => Test::Le { feature, threshold },
                Split::Equal(code) => Test::Eq { feature, code },
                Split::Multi(codes) => Test::Multi { feature, codes },
            },
            children: best.children,
        },
    }
}

/// The features a forest's leaf observes: `m` of those `row` has, drawn without
/// replacement in random order (River's `rng.sample(sorted(x), k=m)`), or all of them
/// when it has fewer.
fn sample_features(row: &Row<'_>, m: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<u32> {
    let mut present: Vec<u32> = row.present().map(|(f, _)| f).collect();
    if present.len() < m {
        return present;
    }
    for i in 0..m {
        let j = i + rng.gen_range(0..present.len() - i);
        present.swap(i, j);
    }
    present.truncate(m);
    present
}

/// River's `calculate_promise`: the weight outside the majority class (a pure leaf is
/// unlikely to split).
pub(crate) fn promise(stats: &Dist) -> f64 {
    let total = stats.total();
    if total > 0.0 {
        total - stats.max_weight()
    } else {
        0.0
    }
}

/// The first class of the largest probability.
pub(crate) fn first_max(p: &[(u32, f64)]) -> Option<u32> {
    let mut best: Option<(u32, f64)> = None;
    for &(c, v) in p {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((c, v));
        }
    }
    best.map(|(c, _)| c)
}

/// A leaf's class probabilities (River's `prediction` of mc, nb and nba leaves).
/// Returns true when the prediction is naive Bayes'.
pub(crate) fn leaf_prediction(leaf: &Leaf, row: &Row<'_>, ctx: &Context<'_>, out: &mut Vec<(u32, f64)>) -> bool {
    let use_nb = leaf.is_active()
        && match ctx.params.leaf_prediction {
            LeafPrediction::Mc => false,
            LeafPrediction::Nb => leaf.stats.total() >= ctx.params.nb_threshold,
            LeafPrediction::Nba => leaf.nb_correct >= leaf.mc_correct,
        };
    if use_nb {
        naive_bayes(leaf, row, out);
        return true;
    }
    out.clear();
    let total = leaf.stats.total();
    let factor = if total == 0.0 || total.is_nan() { 1.0 } else { total };
    out.extend(leaf.stats.iter().map(|(c, w)| (c, w / factor)));
    false
}

/// River's `do_naive_bayes_prediction`: the log prior of each class at the leaf plus each
/// observed feature's log likelihood, through a log-sum-exp softmax.
pub(crate) fn naive_bayes(leaf: &Leaf, row: &Row<'_>, out: &mut Vec<(u32, f64)>) {
    out.clear();
    let total = leaf.stats.total();
    if leaf.stats.is_empty() || total == 0.0 {
        return;
    }
    let observers = leaf.observers.as_deref().unwrap_or(&[]);
    for (class, weight) in leaf.stats.iter() {
        if weight <= 0.0 {
            // River gives such a class a log vote of 0 (a probability of 1 before the softmax).
            out.push((class, 0.0));
            continue;
        }
        let mut vote = (weight / total).ln();
        for (f, obs) in observers {
            match (obs, row.get(*f)) {
                (Observer::Gaussian(g), Value::Num(x)) => {
                    let lp = g.log_likelihood(x, class);
                    if lp > f64::NEG_INFINITY {
                        vote += lp;
                    }
                }
                (Observer::Nominal(n), Value::Cat(c)) => {
                    let p = n.probability(c, class);
                    if p > 0.0 {
                        vote += p.ln();
                    }
                }
                _ => {}
            }
        }
        out.push((class, vote));
    }
    let max = out.iter().map(|&(_, v)| v).fold(f64::NEG_INFINITY, f64::max);
    let lse = max + out.iter().map(|&(_, v)| (v - max).exp()).sum::<f64>().ln();
    for (_, v) in out.iter_mut() {
        *v = (*v - lse).exp();
    }
}
