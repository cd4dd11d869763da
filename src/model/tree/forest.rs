//! `arf`: the Adaptive Random Forest classifier (River's `ARFClassifier`): Hoeffding
//! trees that each observe a random subset of features at every leaf, learn each record
//! with a Poisson(λ) weight (online bagging), and vote weighted by their accuracy. Each
//! tree has a warning detector, whose signal starts a background tree, and a drift
//! detector, whose signal replaces the tree by its background tree (or a fresh one).
//!
//! The trees learn in parallel (see [`set_threads`]): a batch is one task per tree, each
//! walking every record in order with its own random stream, and the votes are summed in
//! tree order afterwards, so labels and model are the same whatever the thread count.

use super::codes::CategoryCodes;
use super::hoeffding::{tree_params, HoeffdingTreeParams};
use super::node::Row;
use super::vfdt::{Context, Shape, Tree};
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
use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads the forests of this process learn and predict on (0: every core).
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Let forests use `n` threads (0: every core, the default); `eddy run --threads` and
/// `eddy serve --threads` set it. Labels and models do not depend on it.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The threads forests use.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// The most trees a forest holds.
pub const MAX_MODELS: usize = 1000;

/// How many features a leaf observes (River's `max_features`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFeatures {
    /// `round(sqrt(M))` of the `M` features.
    Sqrt,
    /// `round(log2(M))`.
    Log2,
    /// This many.
    Count(u64),
    /// `int(share * M)`.
    Share(f64),
}

impl MaxFeatures {
    /// The count for `m` features, at least 1 and at most `m` (River's `_set_max_features`).
    pub fn resolve(self, m: usize) -> usize {
        let k = match self {
            Self::Sqrt => (m as f64).sqrt().round() as usize,
            Self::Log2 => (m.max(1) as f64).log2().round() as usize,
            Self::Count(k) => usize::try_from(k).unwrap_or(usize::MAX),
            Self::Share(f) => (f * m as f64) as usize,
        };
        k.clamp(1, m.max(1))
    }

    fn check(self) -> Result<(), ParamsError> {
        match self {
            Self::Count(0) => Err(ParamsError::OutOfRange { name: "max_features", rule: "at least 1", value: 0.0 }),
            Self::Share(f) if !(f > 0.0 && f <= 1.0) => {
                Err(ParamsError::OutOfRange { name: "max_features", rule: "a share in (0, 1]", value: f })
            }
            _ => Ok(()),
        }
    }
}

/// [`MaxFeatures`] in a binary file (which cannot tell a number from a name unaided).
#[derive(Serialize, Deserialize)]
enum MaxFeaturesTagged {
    Sqrt,
    Log2,
    Count(u64),
    Share(f64),
}

impl Serialize for MaxFeatures {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self, s.is_human_readable()) {
            (Self::Sqrt, true) => s.serialize_str("sqrt"),
            (Self::Log2, true) => s.serialize_str("log2"),
            (Self::Count(k), true) => s.serialize_u64(*k),
            (Self::Share(f), true) => s.serialize_f64(*f),
            (Self::Sqrt, false) => MaxFeaturesTagged::Sqrt.serialize(s),
            (Self::Log2, false) => MaxFeaturesTagged::Log2.serialize(s),
            (Self::Count(k), false) => MaxFeaturesTagged::Count(*k).serialize(s),
            (Self::Share(f), false) => MaxFeaturesTagged::Share(*f).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for MaxFeatures {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            return Ok(match MaxFeaturesTagged::deserialize(d)? {
                MaxFeaturesTagged::Sqrt => Self::Sqrt,
                MaxFeaturesTagged::Log2 => Self::Log2,
                MaxFeaturesTagged::Count(k) => Self::Count(k),
                MaxFeaturesTagged::Share(f) => Self::Share(f),
            });
        }
        let wrong = |v: &dyn std::fmt::Display| {
            serde::de::Error::custom(format!(
                "max_features must be sqrt, log2, a count >= 1 or a share in (0, 1], got {v}"
            ))
        };
        match Json::deserialize(d)? {
            Json::String(t) if t == "sqrt" => Ok(Self::Sqrt),
            Json::String(t) if t == "log2" => Ok(Self::Log2),
            Json::Number(n) => match (n.as_u64(), n.as_f64()) {
                (Some(k), _) => Ok(Self::Count(k)),
                (None, Some(f)) => Ok(Self::Share(f)),
                _ => Err(wrong(&n)),
            },
            other => Err(wrong(&other)),
        }
    }
}

/// The forest's own parameters (River's names and defaults); its trees' are a
/// [`HoeffdingTreeParams`] with River's forest defaults ([`tree_defaults`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArfParams {
    /// Trees.
    pub n_models: usize,
    /// Features each leaf observes.
    pub max_features: MaxFeatures,
    /// λ of the Poisson weight each tree gives a record.
    pub lambda_value: f64,
    /// Every tree votes alike (otherwise by its accuracy).
    pub disable_weighted_vote: bool,
    /// The detector whose signal replaces a tree, in the spec language.
    pub drift_detector: String,
    /// The detector whose signal starts a background tree.
    pub warning_detector: String,
    /// A detector's signal counts only when the tree's error estimate rose (MOA's
    /// `ADWINChangeDetector`, the ARF paper's rule); River's ARF counts falls too, and
    /// so replaces trees that are still getting better. Detectors without an estimate
    /// (all but ADWIN) count every signal: the DDM family only signals rises.
    pub rising_only: bool,
    /// Seed of the Poisson weights and the feature draws (default: the run's --seed).
    pub seed: u64,
}

impl Default for ArfParams {
    fn default() -> Self {
        Self {
            n_models: 10,
            max_features: MaxFeatures::Sqrt,
            lambda_value: 6.0,
            disable_weighted_vote: false,
            drift_detector: "adwin(delta=0.001)".into(),
            warning_detector: "adwin(delta=0.01)".into(),
            rising_only: true,
            seed: 0,
        }
    }
}

/// River's defaults for a forest's trees: `grace_period=50`, `delta=0.01`,
/// `memory_estimate_period=2_000_000`, the rest as a lone tree's.
pub fn tree_defaults() -> HoeffdingTreeParams {
    HoeffdingTreeParams { grace_period: 50, delta: 0.01, memory_estimate_period: 2_000_000, ..Default::default() }
}

impl ArfParams {
    /// Check the parameters and build an untrained forest of trees with `tree` parameters.
    pub fn build(self, tree: HoeffdingTreeParams) -> Result<Arf, BuildError> {
        tree.check()?;
        self.max_features.check()?;
        if !(1..=MAX_MODELS).contains(&self.n_models) {
            return Err(ParamsError::OutOfRange {
                name: "n_models",
                rule: "from 1 to 1000",
                value: self.n_models as f64,
            }
            .into());
        }
        if !(self.lambda_value.is_finite() && self.lambda_value > 0.0 && self.lambda_value <= 100.0) {
            return Err(ParamsError::OutOfRange {
                name: "lambda_value",
                rule: "in (0, 100]",
                value: self.lambda_value,
            }
            .into());
        }
        let detector = |spec: &str| crate::drift::build_text(spec).map_err(|e| BuildError::Nested(e.message));
        let (drift, warning) = (detector(&self.drift_detector)?, detector(&self.warning_detector)?);
        let classes = Classes::declared_or_discover(tree.classes.as_deref()).map_err(BuildError::Params)?;
        let members =
            (0..self.n_models).map(|i| Member::new(slot_rng(self.seed, i), drift.clone(), warning.clone())).collect();
        Ok(Arf {
            params: self,
            tree,
            classes,
            labels: Vec::new(),
            n_features: None,
            codes: None,
            max_features: None,
            members,
            replacements: Vec::new(),
            seen: 0,
        })
    }
}

/// Tree `i`'s random stream: its own, so that trees can learn on any thread.
fn slot_rng(seed: u64, i: usize) -> Xoshiro256PlusPlus {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for _ in 0..i {
        rng.long_jump();
    }
    rng
}

/// Knuth's Poisson draw, as River's `utils.random.poisson`.
fn poisson(lambda: f64, rng: &mut Xoshiro256PlusPlus) -> u32 {
    let limit = (-lambda).exp();
    let (mut k, mut p) = (0u32, 1.0f64);
    while p > limit {
        k += 1;
        p *= rng.gen::<f64>();
    }
    k.saturating_sub(1)
}

/// One tree of the forest with its background tree, detectors, accuracy and random stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Member {
    tree: Tree,
    background: Option<Tree>,
    warning: Box<dyn Detector>,
    drift: Box<dyn Detector>,
    /// Records it predicted right and records it predicted since it was (re)started.
    correct: f64,
    total: f64,
    rng: Xoshiro256PlusPlus,
    warnings: u64,
    drifts: u64,
}

/// What a tree's task reports of a batch: its weighted votes (`rows × classes`) and the
/// records at which it was replaced.
#[derive(Default)]
struct TaskOut {
    votes: Vec<f64>,
    replaced: Vec<usize>,
}

/// A batch as every tree reads it: numbers and category codes, row-major.
struct Rows<'a> {
    num: &'a [f64],
    cat: &'a [u32],
    d: usize,
    c: usize,
}

impl Rows<'_> {
    fn row(&self, r: usize) -> Row<'_> {
        Row { num: &self.num[r * self.d..(r + 1) * self.d], cat: &self.cat[r * self.c..(r + 1) * self.c] }
    }
}

impl Member {
    fn new(rng: Xoshiro256PlusPlus, drift: Box<dyn Detector>, warning: Box<dyn Detector>) -> Self {
        Self {
            tree: Tree::new(),
            background: None,
            warning,
            drift,
            correct: 0.0,
            total: 0.0,
            rng,
            warnings: 0,
            drifts: 0,
        }
    }

    fn accuracy(&self) -> f64 {
        if self.total > 0.0 {
            self.correct / self.total
        } else {
            0.0
        }
    }

    /// Vote on each record of `rows` without learning.
    fn vote(&self, rows: &Rows<'_>, n: usize, ctx: &Context<'_>, forest: &ArfParams, k: usize, out: &mut TaskOut) {
        out.votes.clear();
        out.votes.resize(n * k, 0.0);
        let weight = if !forest.disable_weighted_vote && self.accuracy() > 0.0 { self.accuracy() } else { 1.0 };
        let mut proba = Vec::new();
        for r in 0..n {
            self.tree.predict_into(&rows.row(r), ctx, &mut proba);
            for &(c, p) in &proba {
                out.votes[r * k + c as usize] = p * weight;
            }
        }
    }

    /// Vote on and learn each record of `rows`, in order; `known[r]`: the class ids known
    /// before record `r`, by label.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        rows: &Rows<'_>,
        y: &[u32],
        known: &[&Known],
        ctx: &Context<'_>,
        forest: &ArfParams,
        k: usize,
        out: &mut TaskOut,
    ) {
        let n = known.len();
        out.votes.clear();
        out.votes.resize(n * k, 0.0);
        out.replaced.clear();
        let mut proba = Vec::new();
        for r in 0..n {
            let row = rows.row(r);
            let visit = self.tree.predict_visit(&row, ctx, &mut proba);
            let weight = if !forest.disable_weighted_vote && self.accuracy() > 0.0 { self.accuracy() } else { 1.0 };
            for &(c, p) in &proba {
                out.votes[r * k + c as usize] = p * weight;
            }
            let class = y[r];
            let predicted = (!self.tree.nodes().is_empty()).then(|| first_max(known[r], &proba)).flatten();
            let wrong = predicted != Some(class);
            self.total += 1.0;
            if !wrong {
                self.correct += 1.0;
            }
            let w = poisson(forest.lambda_value, &mut self.rng);
            if w == 0 {
                continue;
            }
            if let Some(b) = &mut self.background {
                b.learn(&row, class, f64::from(w), ctx, &mut proba, Some(&mut self.rng));
            }
            self.tree.learn_visited(visit, &row, (class, f64::from(w)), ctx, &mut proba, Some(&mut self.rng));
            let error = f64::from(u8::from(wrong));
            if signalled(self.warning.as_mut(), error, forest.rising_only) {
                self.background = Some(Tree::new());
                self.warning.reset();
                self.warnings = self.warnings.saturating_add(1);
            }
            if signalled(self.drift.as_mut(), error, forest.rising_only) {
                match self.background.take() {
                    Some(b) => {
                        self.tree = b;
                        self.warning.reset();
                    }
                    None => self.tree = Tree::new(),
                }
                self.drift.reset();
                self.correct = 0.0;
                self.total = 0.0;
                self.drifts = self.drifts.saturating_add(1);
                out.replaced.push(r);
            }
        }
    }
}

/// Feed `error` to `detector`: true when it signals a drift, and with `rising_only`
/// when its estimate of the error rose too (MOA's `ADWINChangeDetector`).
fn signalled(detector: &mut dyn Detector, error: f64, rising_only: bool) -> bool {
    let before = if rising_only { detector.estimation() } else { None };
    if detector.update(error) != Signal::Drift {
        return false;
    }
    match (before, detector.estimation()) {
        (Some(before), Some(after)) => after > before,
        _ => true,
    }
}

/// Run `task` for each member, on up to [`threads`] threads, and give back each
/// member's output in member order. Threads take the next member as they finish one:
/// trees cost unequal time (one attempts splits, one grows a background tree), and
/// fixed shares would leave a thread idle. Below a little work (rows × trees), a thread
/// costs more than it saves.
fn each_member<M: Send>(members: &mut [M], n: usize, task: impl Fn(&mut M, &mut TaskOut) + Sync) -> Vec<TaskOut> {
    let mut outs: Vec<TaskOut> = (0..members.len()).map(|_| TaskOut::default()).collect();
    let threads = threads().min(members.len()).max(1);
    if threads == 1 || n * members.len() < 64 {
        for (m, out) in members.iter_mut().zip(&mut outs) {
            task(m, out);
        }
        return outs;
    }
    let slots: Vec<std::sync::Mutex<(&mut M, &mut TaskOut)>> =
        members.iter_mut().zip(&mut outs).map(std::sync::Mutex::new).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(slot) = slots.get(i) else { break };
        // Each slot is taken once (the counter hands out each index once): never
        // contended, and a panic in a task poisons only its own slot.
        if let Ok(mut pair) = slot.lock() {
            let (m, out) = &mut *pair;
            task(m, out);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        // The calling thread works too.
        work();
    });
    drop(slots);
    outs
}

/// The members' votes summed in member order, so the floats do not depend on the threads.
fn sum_votes(outs: &[TaskOut], len: usize) -> Vec<f64> {
    let mut votes = vec![0.0; len];
    for out in outs {
        for (v, o) in votes.iter_mut().zip(&out.votes) {
            *v += o;
        }
    }
    votes
}

/// The first class of the largest probability among `known` (sorted by label), River's
/// `predict_one`; `None` when no class is known.
fn first_max(known: &[(i64, u32)], proba: &[(u32, f64)]) -> Option<u32> {
    let mut best: Option<(u32, f64)> = None;
    for &(_, id) in known {
        let p = proba.iter().find(|(c, _)| *c == id).map_or(0.0, |&(_, p)| p);
        if best.is_none_or(|(_, b)| p > b) {
            best = Some((id, p));
        }
    }
    best.map(|(id, _)| id)
}

/// The registry entry of `arf`.
pub(crate) static ARF: Entry = Entry {
    name: "arf",
    role: Role::Classifier,
    summary: "Adaptive Random Forest (River's ARFClassifier): Hoeffding trees on random feature subsets, online \
              bagging, trees replaced on drift; learns on every core (--threads)",
    params: tree_params!(
        Param::int("n_models", 1, "trees (at most 1000)"),
        Param::count_or_share("max_features", &["sqrt", "log2"], "features each leaf observes"),
        Param::float("lambda_value", 0.0, true, f64::INFINITY, "λ of the Poisson weight each tree gives a record"),
        Param::bool("disable_weighted_vote", "every tree votes alike (otherwise by its accuracy)"),
        Param::detector("drift_detector", "the detector whose signal replaces a tree"),
        Param::detector("warning_detector", "the detector whose signal starts a background tree"),
        Param::bool(
            "rising_only",
            "a signal counts only when the tree's error rose (MOA's rule; false: River's, any change)",
        ),
        Param::int("seed", 0, "seed of the Poisson weights and the feature draws (default: the run's --seed)"),
    ),
    takes_counts: false,
    outputs_negative: false,
    defaults: || super::hoeffding::joined_defaults::<ArfParams>(&tree_defaults()),
    build: |json, ctx| {
        let (own, tree) = super::hoeffding::split_params::<ArfParams>(json, ctx)?;
        Ok(AnyStage::Classifier(Box::new(own.build(tree)?)))
    },
    decode: registry::decode_classifier::<Arf>,
};

/// An Adaptive Random Forest classifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Arf {
    params: ArfParams,
    tree: HoeffdingTreeParams,
    classes: Classes,
    /// The label of each class id, in the order the forest met them.
    labels: Vec<i64>,
    n_features: Option<usize>,
    codes: Option<CategoryCodes>,
    /// Features a leaf observes, once the features are known.
    max_features: Option<usize>,
    members: Vec<Member>,
    /// (record, tree) of each replacement, the latest [`MAX_REPLACEMENTS`].
    replacements: Vec<(u64, u32)>,
    seen: u64,
}

/// The classes known at a record: (label, class id), sorted by label.
type Known = Vec<(i64, u32)>;

/// What learning a batch gives: the summed votes (`rows × class ids`), each distinct list
/// of known classes, and per record the index of its list.
type Learned = (Vec<f64>, Vec<Known>, Vec<usize>);

/// Replacements a forest remembers (the latest).
pub const MAX_REPLACEMENTS: usize = 10_000;

/// One tree of a forest, as reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct MemberSummary {
    /// Its accuracy since it was (re)started.
    pub accuracy: f64,
    /// Records it predicted since it was (re)started.
    pub records: f64,
    /// Its shape.
    pub shape: Shape,
    /// True while a background tree learns beside it.
    pub background: bool,
    /// Warnings (background trees started).
    pub warnings: u64,
    /// Replacements.
    pub drifts: u64,
}

impl Arf {
    /// The forest's parameters and its trees'.
    pub fn get_params(&self) -> Json {
        let mut all = serde_json::to_value(&self.params).unwrap_or_default();
        if let (Json::Object(all), Json::Object(tree)) =
            (&mut all, serde_json::to_value(&self.tree).unwrap_or_default())
        {
            all.extend(tree);
        }
        all
    }

    /// Each tree, in order.
    pub fn members(&self) -> Vec<MemberSummary> {
        self.members
            .iter()
            .map(|m| MemberSummary {
                accuracy: m.accuracy(),
                records: m.total,
                shape: m.tree.shape(),
                background: m.background.is_some(),
                warnings: m.warnings,
                drifts: m.drifts,
            })
            .collect()
    }

    /// (record, tree) of the latest replacements, oldest first.
    pub fn replacements(&self) -> &[(u64, u32)] {
        &self.replacements
    }

    /// The trees, in order.
    pub fn trees(&self) -> impl Iterator<Item = &Tree> {
        self.members.iter().map(|m| &m.tree)
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
        super::hoeffding::check_records(x, cats, self.n_features, self.codes.as_ref())
    }

    /// The batch as the trees read it: numbers and category codes, row-major; `codes`
    /// numbers new categories when given (learning), else they are unseen.
    fn rows(
        x: ArrayView2<f64>,
        cats: &Categories,
        mut codes: Option<&mut CategoryCodes>,
        known: Option<&CategoryCodes>,
    ) -> (Vec<f64>, Vec<u32>) {
        let mut num = Vec::with_capacity(x.len());
        for row in x.outer_iter() {
            num.extend(row.iter());
        }
        let mut cat = Vec::with_capacity(cats.values().len());
        for i in 0..if cats.width() > 0 { cats.rows() } else { 0 } {
            for (j, v) in cats.row(i).iter().enumerate() {
                cat.push(match (&mut codes, known) {
                    (Some(c), _) => c.code_or_insert(j, v.as_ref()),
                    (None, Some(c)) => c.code(j, v.as_ref()),
                    (None, None) => super::node::UNSEEN,
                });
            }
        }
        (num, cat)
    }

    /// The class ids known before each record (by label, sorted), numbering `y`'s new
    /// labels: each distinct list once, and per record the index of its list.
    fn known_per_row(&mut self, n: usize, y: ArrayView1<i64>) -> (Vec<Known>, Vec<usize>, Vec<u32>) {
        let sorted = |labels: &[i64]| {
            let mut k: Known = labels.iter().enumerate().map(|(i, &l)| (l, i as u32)).collect();
            k.sort_unstable();
            k
        };
        let mut lists = vec![sorted(&self.labels)];
        let mut at = Vec::with_capacity(n);
        let mut ids = Vec::with_capacity(n);
        for &label in y.iter().take(n) {
            at.push(lists.len() - 1);
            let id = match self.labels.iter().position(|&l| l == label) {
                Some(i) => i as u32,
                None => {
                    self.labels.push(label);
                    let _ = self.classes.index_or_insert(label);
                    lists.push(sorted(&self.labels));
                    (self.labels.len() - 1) as u32
                }
            };
            ids.push(id);
        }
        (lists, at, ids)
    }

    /// Every tree votes on and learns the batch; returns the summed votes (`rows × class
    /// ids`) and the classes known before each record.
    fn learn_batch(
        &mut self,
        x: ArrayView2<f64>,
        cats: &Categories,
        y: ArrayView1<i64>,
    ) -> Result<Learned, ModelError> {
        self.check_batch(x, cats, Some(y))?;
        let n = x.nrows();
        if self.n_features.is_none() {
            self.n_features = Some(x.ncols());
            self.max_features = Some(self.params.max_features.resolve(x.ncols() + cats.width()));
        }
        let codes = if cats.width() > 0 {
            Some(self.codes.get_or_insert_with(|| CategoryCodes::new(cats.names())))
        } else {
            None
        };
        let (num, cat) = Self::rows(x, cats, codes, None);
        let (lists, at, ids) = self.known_per_row(n, y);
        let known: Vec<&Known> = at.iter().map(|&i| &lists[i]).collect();
        let k = self.labels.len();
        let empty = CategoryCodes::default();
        let codes = self.codes.as_ref().unwrap_or(&empty);
        let ctx = Context { params: &self.tree, labels: &self.labels, codes, max_features: self.max_features };
        let rows = Rows { num: &num, cat: &cat, d: x.ncols(), c: cats.width() };
        let forest = &self.params;
        let outs = each_member(&mut self.members, n, |m, out| m.run(&rows, &ids, &known, &ctx, forest, k, out));
        let votes = sum_votes(&outs, n * k);
        let mut replaced: Vec<(usize, u32)> =
            outs.iter().enumerate().flat_map(|(i, o)| o.replaced.iter().map(move |&r| (r, i as u32))).collect();
        replaced.sort_unstable();
        for (r, i) in replaced {
            self.replacements.push((self.seen.saturating_add(r as u64), i));
        }
        if self.replacements.len() > MAX_REPLACEMENTS {
            let extra = self.replacements.len() - MAX_REPLACEMENTS;
            self.replacements.drain(..extra);
        }
        self.seen = self.seen.saturating_add(n as u64);
        Ok((votes, lists, at))
    }

    /// Every tree votes on the batch without learning: the summed votes and the classes known.
    fn vote_batch(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<(Vec<f64>, Known), ModelError> {
        self.check_batch(x, cats, None)?;
        let n = x.nrows();
        let (num, cat) = Self::rows(x, cats, None, self.codes.as_ref());
        let k = self.labels.len();
        let empty = CategoryCodes::default();
        let codes = self.codes.as_ref().unwrap_or(&empty);
        let ctx = Context { params: &self.tree, labels: &self.labels, codes, max_features: self.max_features };
        let rows = Rows { num: &num, cat: &cat, d: x.ncols(), c: cats.width() };
        let forest = &self.params;
        let mut members: Vec<&Member> = self.members.iter().collect();
        let outs = each_member(&mut members, n, |m, out| m.vote(&rows, n, &ctx, forest, k, out));
        let mut known: Vec<(i64, u32)> = self.labels.iter().enumerate().map(|(i, &l)| (l, i as u32)).collect();
        known.sort_unstable();
        Ok((sum_votes(&outs, n * k), known))
    }

    /// Each record's label from the summed votes: the first largest over the sorted
    /// classes known before it.
    fn decide(votes: &[f64], known: &[&Known], k: usize) -> Array1<i64> {
        known
            .iter()
            .enumerate()
            .map(|(r, known)| {
                let row = &votes[r * k..(r + 1) * k];
                let mut best: Option<(i64, f64)> = None;
                for &(label, id) in known.iter() {
                    let p = row.get(id as usize).copied().unwrap_or(0.0);
                    if best.is_none_or(|(_, b)| p > b) {
                        best = Some((label, p));
                    }
                }
                best.map_or(NO_PREDICTION, |(l, _)| l)
            })
            .collect()
    }

    /// The prequential step on records with categorical columns.
    pub fn learn_predict_categorical(
        &mut self,
        x: ArrayView2<f64>,
        cats: &Categories,
        y: ArrayView1<i64>,
    ) -> Result<Array1<i64>, ModelError> {
        let (votes, lists, at) = self.learn_batch(x, cats, y)?;
        let known: Vec<&Known> = at.iter().map(|&i| &lists[i]).collect();
        Ok(Self::decide(&votes, &known, self.labels.len()))
    }

    /// Predict records with categorical columns.
    pub fn predict_categorical(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<Array1<i64>, ModelError> {
        let (votes, known) = self.vote_batch(x, cats)?;
        Ok(Self::decide(&votes, &vec![&known; x.nrows()], self.labels.len()))
    }

    /// Class probabilities (sorted classes) of records with categorical columns.
    pub fn predict_proba_categorical(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<Array2<f64>, ModelError> {
        let (votes, _) = self.vote_batch(x, cats)?;
        let k = self.labels.len();
        let mut out = Array2::zeros((x.nrows(), self.classes.len()));
        for r in 0..x.nrows() {
            let row = &votes[r * k..(r + 1) * k];
            let total: f64 = row.iter().sum();
            for (id, &v) in row.iter().enumerate() {
                if let Some(j) = self.labels.get(id).and_then(|&l| self.classes.index_of(l)) {
                    out[[r, j]] = if total > 0.0 { v / total } else { 0.0 };
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn check_state(&self) -> Result<(), String> {
        let fresh = self.params.clone().build(self.tree.clone()).map_err(|e| format!("its parameters: {e}"))?;
        self.classes.check_state()?;
        if self.classes.is_fixed() != fresh.classes.is_fixed()
            || (fresh.classes.is_fixed() && self.classes != fresh.classes)
        {
            return Err("declared classes differ from the parameters".into());
        }
        for (i, &l) in self.labels.iter().enumerate() {
            if self.classes.index_of(l).is_none() || self.labels[..i].contains(&l) {
                return Err(format!("the forest's class {l} is unknown or listed twice"));
            }
        }
        if self.members.len() != self.params.n_models {
            return Err(format!("{} trees for n_models={}", self.members.len(), self.params.n_models));
        }
        let empty = CategoryCodes::default();
        let codes = self.codes.as_ref().unwrap_or(&empty);
        let d = self.n_features.unwrap_or(0);
        if self.max_features.is_some_and(|m| m == 0 || m > d + codes.len()) {
            return Err("max_features does not fit the features".into());
        }
        for m in &self.members {
            m.tree.check(self.labels.len(), d, codes)?;
            if let Some(b) = &m.background {
                b.check(self.labels.len(), d, codes)?;
            }
            m.warning.check_state()?;
            m.drift.check_state()?;
            if !(m.total.is_finite() && m.correct >= 0.0 && m.correct <= m.total) {
                return Err("a tree's accuracy counts do not fit together".into());
            }
        }
        if self.replacements.len() > MAX_REPLACEMENTS
            || self.replacements.iter().any(|&(r, i)| r >= self.seen.max(1) || i as usize >= self.members.len())
        {
            return Err("the replacements do not fit the forest".into());
        }
        Ok(())
    }

    pub(crate) fn state_is_finite(&self) -> bool {
        self.members.iter().all(|m| m.tree.weight_seen().is_finite())
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

impl OnlineClassifier for Arf {
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
    fn structure(&self, features: &[String], class_names: Option<&[String]>, max_depth: u32) -> Option<String> {
        let empty = CategoryCodes::default();
        let names = super::show::Names {
            numeric: features,
            codes: self.codes.as_ref().unwrap_or(&empty),
            labels: &self.labels,
            class_names,
        };
        let mut out = String::new();
        for (i, m) in self.members.iter().enumerate() {
            out.push_str(&format!(
                "tree {i}: accuracy {:.4} over {} records, {} replacements{}\n",
                m.accuracy(),
                m.total,
                m.drifts,
                if m.background.is_some() { ", a background tree learning" } else { "" }
            ));
            out.push_str(&super::show::render(&m.tree, &names, max_depth));
        }
        Some(out)
    }
    fn replacements(&self) -> Option<crate::model::Replacements<'_>> {
        Some(crate::model::Replacements {
            learned: self.seen,
            latest: &self.replacements,
            detector: &self.params.drift_detector,
        })
    }
    fn trees(&self) -> Option<crate::model::TreesView<'_>> {
        Some(crate::model::TreesView {
            trees: self.members.iter().map(|m| std::borrow::Cow::Borrowed(&m.tree)).collect(),
            labels: &self.labels,
            codes: self.codes.as_ref(),
            forest: Some(crate::model::ForestView { members: self.members(), replacements: &self.replacements }),
        })
    }
}

impl_stage!(Arf, ARF);
/// Not mergeable: its trees grow their own structures.
impl crate::model::merge::Merge for Arf {}

#[cfg(test)]
mod tests {
    use super::*;

    /// With `rising_only`, ADWIN's cut counts when the error rose, not when it fell.
    #[test]
    fn a_falling_error_replaces_no_tree_with_rising_only() {
        // The first signal of `errors` fed to a fresh adwin(delta=0.01), as counted
        // with and without the rule: (record of the detector's signal, counted?).
        let first = |errors: &[f64], rising_only: bool| -> Option<(usize, bool)> {
            let mut d = crate::drift::build_text("adwin(delta=0.01)").expect("a detector");
            let mut probe = d.clone();
            errors.iter().enumerate().find_map(|(i, &e)| {
                let raw = probe.update(e) == Signal::Drift;
                let counted = signalled(d.as_mut(), e, rising_only);
                raw.then_some((i, counted))
            })
        };
        let falling: Vec<f64> = (0..2000).map(|i| if i < 1000 { 1.0 } else { 0.0 }).collect();
        let rising: Vec<f64> = falling.iter().map(|e| 1.0 - e).collect();
        let (at, counted) = first(&falling, true).expect("adwin cuts a falling error");
        assert!(at >= 1000 && !counted, "a fall at {at} is not counted");
        assert_eq!(first(&falling, false).map(|(_, c)| c), Some(true), "River's rule counts it");
        let (at, counted) = first(&rising, true).expect("adwin cuts a rising error");
        assert!(at >= 1000 && counted, "a rise at {at} is counted");
    }

    #[test]
    fn max_features_resolve_as_river_does() {
        assert_eq!(MaxFeatures::Sqrt.resolve(10), 3);
        assert_eq!(MaxFeatures::Sqrt.resolve(2), 1);
        assert_eq!(MaxFeatures::Log2.resolve(10), 3);
        assert_eq!(MaxFeatures::Count(50).resolve(10), 10, "at most every feature");
        assert_eq!(MaxFeatures::Share(0.5).resolve(7), 3);
        assert_eq!(MaxFeatures::Share(0.01).resolve(7), 1, "at least one");
    }

    #[test]
    fn poisson_draws_have_the_mean_asked() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let n = 20_000;
        let mean = (0..n).map(|_| f64::from(poisson(6.0, &mut rng))).sum::<f64>() / f64::from(n);
        assert!((mean - 6.0).abs() < 0.1, "{mean}");
        let zeros = (0..n).filter(|_| poisson(1.0, &mut rng) == 0).count() as f64 / f64::from(n);
        assert!((zeros - (-1.0f64).exp()).abs() < 0.015, "P(0) = e^-1: {zeros}");
    }
}
