//! `hoeffding-tree`: the Hoeffding tree classifier (VFDT, River's
//! `HoeffdingTreeClassifier`, with its parameters and defaults), as a stage. It reads
//! categorical columns itself (a branch per category, or one category against the rest)
//! and takes missing values (NaN, or a missing category) as River does: they are not
//! observed, and a record without the tested value takes the branch that learned most.

use super::codes::CategoryCodes;
use super::node::Row;
use super::vfdt::{Context, Shape, Tree};
use crate::error::{ModelError, ParamsError};
use crate::model::registry::{self, Entry, Role};
use crate::model::stage::impl_stage;
use crate::model::{Classes, OnlineClassifier, NO_PREDICTION};
use crate::record::Categories;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

/// How a split is scored (River's `split_criterion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Information gain.
    InfoGain,
    /// Gini impurity.
    Gini,
    /// Hellinger distance (two classes, labels 0 and 1).
    Hellinger,
}

/// How a leaf predicts (River's `leaf_prediction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeafPrediction {
    /// The majority class.
    Mc,
    /// Naive Bayes on the leaf's observers.
    Nb,
    /// Naive Bayes where it has predicted better than the majority class so far.
    Nba,
}

/// Parameters of [`HoeffdingTreeClassifier`], River's names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HoeffdingTreeParams {
    /// Weight a leaf learns between split attempts.
    pub grace_period: u64,
    /// The deepest a leaf may be (0: no limit).
    pub max_depth: u32,
    /// How splits are scored.
    pub split_criterion: Criterion,
    /// The split decision's allowed error (the Hoeffding bound's delta).
    pub delta: f64,
    /// Below this bound, split even when the best two are tied.
    pub tau: f64,
    /// How leaves predict.
    pub leaf_prediction: LeafPrediction,
    /// Weight a leaf needs before naive Bayes predicts (`leaf_prediction=nb`).
    pub nb_threshold: f64,
    /// Candidate thresholds per numeric feature.
    pub n_splits: usize,
    /// Split categories only one against the rest.
    pub binary_split: bool,
    /// A branch needs more than this share of the weight to count.
    pub min_branch_fraction: f64,
    /// A leaf whose majority class holds more than this share does not split.
    pub max_share_to_split: f64,
    /// The most memory the tree may take, in MiB; past it the least promising leaves stop learning splits.
    pub max_size: f64,
    /// Weight between two measurements of the tree's memory.
    pub memory_estimate_period: u64,
    /// Stop growing for good once the memory limit is met.
    pub stop_mem_management: bool,
    /// Stop observing features whose splits are clearly worse (majority-class leaves).
    pub remove_poor_attrs: bool,
    /// Let "do not split" compete with the splits (pre-pruning).
    pub merit_preprune: bool,
    /// Declared classes, or `None` to discover them.
    pub classes: Option<Vec<i64>>,
}

impl Default for HoeffdingTreeParams {
    fn default() -> Self {
        Self {
            grace_period: 200,
            max_depth: 0,
            split_criterion: Criterion::InfoGain,
            delta: 1e-7,
            tau: 0.05,
            leaf_prediction: LeafPrediction::Nba,
            nb_threshold: 0.0,
            n_splits: 10,
            binary_split: false,
            min_branch_fraction: 0.01,
            max_share_to_split: 0.99,
            max_size: 100.0,
            memory_estimate_period: 1_000_000,
            stop_mem_management: false,
            remove_poor_attrs: false,
            merit_preprune: true,
            classes: None,
        }
    }
}

/// The most candidate thresholds per numeric feature.
pub const MAX_SPLITS: usize = 1000;

impl HoeffdingTreeParams {
    /// Declare the classes up front.
    pub fn classes(mut self, classes: &[i64]) -> Self {
        self.classes = Some(classes.to_vec());
        self
    }

    /// Check the parameters.
    pub fn check(&self) -> Result<(), ParamsError> {
        let out = |name, rule, value: f64| Err(ParamsError::OutOfRange { name, rule, value });
        if self.grace_period == 0 {
            return out("grace_period", "at least 1", 0.0);
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return out("delta", "in (0, 1)", self.delta);
        }
        if !(self.tau.is_finite() && self.tau >= 0.0) {
            return out("tau", "finite and >= 0", self.tau);
        }
        if !(self.nb_threshold.is_finite() && self.nb_threshold >= 0.0) {
            return out("nb_threshold", "finite and >= 0", self.nb_threshold);
        }
        if !(1..=MAX_SPLITS).contains(&self.n_splits) {
            return out("n_splits", "from 1 to 1000", self.n_splits as f64);
        }
        if !(0.0..0.5).contains(&self.min_branch_fraction) {
            return out("min_branch_fraction", "in [0, 0.5)", self.min_branch_fraction);
        }
        if !(self.max_share_to_split > 0.0 && self.max_share_to_split <= 1.0) {
            return out("max_share_to_split", "in (0, 1]", self.max_share_to_split);
        }
        if !(self.max_size.is_finite() && self.max_size > 0.0) {
            return out("max_size", "a finite number of MiB > 0", self.max_size);
        }
        if self.memory_estimate_period == 0 {
            return out("memory_estimate_period", "at least 1", 0.0);
        }
        Ok(())
    }

    /// Check the parameters and build an untrained tree.
    pub fn build(self) -> Result<HoeffdingTreeClassifier, ParamsError> {
        self.check()?;
        let classes = Classes::declared_or_discover(self.classes.as_deref())?;
        Ok(HoeffdingTreeClassifier {
            params: self,
            classes,
            labels: Vec::new(),
            n_features: None,
            codes: None,
            tree: Tree::new(),
            seen: 0,
        })
    }
}

/// The registry's parameters of a Hoeffding tree (River's names), after `$extra` (a
/// forest's own): one list for `hoeffding-tree` and the forest's trees.
macro_rules! tree_params {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
        $crate::model::registry::Param::int("grace_period", 1, "weight a leaf learns between split attempts"),
            $crate::model::registry::Param::int("max_depth", 0, "the deepest a leaf may be (0: no limit)"),
            $crate::model::registry::Param::choice("split_criterion", &["info_gain", "gini", "hellinger"], "how splits are scored"),
            $crate::model::registry::Param {
                name: "delta",
                kind: $crate::model::registry::Kind::Float { min: 0.0, min_open: true, max: 1.0, max_open: true },
                doc: "allowed error of a split decision (the Hoeffding bound's delta)",
            },
            $crate::model::registry::Param::float("tau", 0.0, false, f64::INFINITY, "below this bound, split even when the best two tie"),
            $crate::model::registry::Param::choice(
                "leaf_prediction",
                &["nba", "nb", "mc"],
                "how leaves predict: majority class, naive Bayes, or naive Bayes where it does better",
            ),
            $crate::model::registry::Param::float("nb_threshold", 0.0, false, f64::INFINITY, "weight a leaf needs before naive Bayes predicts"),
            $crate::model::registry::Param::int("n_splits", 1, "candidate thresholds per numeric feature (at most 1000)"),
            $crate::model::registry::Param::bool("binary_split", "split categories only one against the rest"),
            $crate::model::registry::Param::float_below("min_branch_fraction", 0.0, 0.5, "share of the weight a branch needs to count"),
            $crate::model::registry::Param::float("max_share_to_split", 0.0, true, 1.0, "a leaf whose majority class holds more does not split"),
            $crate::model::registry::Param::float("max_size", 0.0, true, f64::INFINITY, "most memory the tree takes, in MiB"),
            $crate::model::registry::Param::int("memory_estimate_period", 1, "weight between two measurements of the tree's memory"),
            $crate::model::registry::Param::bool("stop_mem_management", "stop growing for good once the memory limit is met"),
            $crate::model::registry::Param::bool("remove_poor_attrs", "stop observing features whose splits are clearly worse"),
            $crate::model::registry::Param::bool("merit_preprune", "let \"do not split\" compete with the splits"),
        ]
    };
}
pub(crate) use tree_params;

/// The registry entry of `hoeffding-tree`.
pub(crate) static HOEFFDING_TREE: Entry = Entry {
    name: "hoeffding-tree",
    role: Role::Classifier,
    summary: "Hoeffding tree (VFDT, River's HoeffdingTreeClassifier): splits a leaf once the Hoeffding bound shows \
              its best split; reads categorical columns and missing values itself",
    params: tree_params!(),
    takes_counts: false,
    outputs_negative: false,
    defaults: registry::defaults_of::<HoeffdingTreeParams>,
    build: registry::classifier_build!(HoeffdingTreeParams),
    decode: registry::decode_classifier::<HoeffdingTreeClassifier>,
};

/// A Hoeffding tree classifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoeffdingTreeClassifier {
    params: HoeffdingTreeParams,
    classes: Classes,
    /// The label of each class id, in the order the tree met them.
    labels: Vec<i64>,
    /// Numeric features, once known.
    n_features: Option<usize>,
    /// The categorical columns and their categories, once known.
    codes: Option<CategoryCodes>,
    tree: Tree,
    seen: u64,
}

impl HoeffdingTreeClassifier {
    /// Default parameters (River's).
    pub fn params() -> HoeffdingTreeParams {
        HoeffdingTreeParams::default()
    }

    /// The parameters.
    pub fn get_params(&self) -> &HoeffdingTreeParams {
        &self.params
    }

    /// The tree.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The tree's counts: nodes, leaves (active and not), depth.
    pub fn shape(&self) -> Shape {
        self.tree.shape()
    }

    /// The label of each class id the tree uses.
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// The categorical columns and their categories.
    pub fn codes(&self) -> Option<&CategoryCodes> {
        self.codes.as_ref()
    }

    fn context<'a>(&'a self, codes: &'a CategoryCodes) -> Context<'a> {
        Context { params: &self.params, labels: &self.labels, codes, max_features: None }
    }

    /// Check a batch before anything changes: widths, categorical columns, no infinities
    /// (NaN is a missing value), labels.
    fn check_batch(&self, x: ArrayView2<f64>, cats: &Categories, y: Option<ArrayView1<i64>>) -> Result<(), ModelError> {
        if let Some(y) = y {
            crate::model::validate::label_count(x, y)?;
            self.classes.check(y)?;
        }
        check_records(x, cats, self.n_features, self.codes.as_ref())
    }

    /// The class id of `label`, numbering it when new.
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

    /// The predicted label from the leaf's `(class id, p)`: River's first maximum over the
    /// sorted classes (a class the leaf does not name has 0).
    fn decide(&self, proba: &[(u32, f64)]) -> i64 {
        let mut best: Option<(i64, f64)> = None;
        for &label in self.classes.as_slice() {
            let p = self
                .labels
                .iter()
                .position(|&l| l == label)
                .and_then(|id| proba.iter().find(|(c, _)| *c as usize == id))
                .map_or(0.0, |&(_, p)| p);
            if best.is_none_or(|(_, b)| p > b) {
                best = Some((label, p));
            }
        }
        best.map_or(NO_PREDICTION, |(l, _)| l)
    }

    /// Predict `x` with its categorical columns `cats`, each row in turn with `each`.
    fn for_each_prediction(
        &self,
        x: ArrayView2<f64>,
        cats: &Categories,
        mut each: impl FnMut(usize, &[(u32, f64)]),
    ) -> Result<(), ModelError> {
        self.check_batch(x, cats, None)?;
        let empty = CategoryCodes::default();
        let codes = self.codes.as_ref().unwrap_or(&empty);
        let ctx = self.context(codes);
        let (mut num, mut cat, mut proba) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..x.nrows() {
            num.clear();
            num.extend(x.row(i).iter());
            cat.clear();
            if cats.width() > 0 {
                cat.extend(cats.row(i).iter().enumerate().map(|(j, v)| codes.code(j, v.as_ref())));
            }
            self.tree.predict_into(&Row { num: &num, cat: &cat }, &ctx, &mut proba);
            each(i, &proba);
        }
        Ok(())
    }

    /// Predict each record of `x` with its categorical columns.
    pub fn predict_categorical(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<Array1<i64>, ModelError> {
        let mut out = Array1::from_elem(x.nrows(), NO_PREDICTION);
        self.for_each_prediction(x, cats, |i, p| out[i] = self.decide(p))?;
        Ok(out)
    }

    /// Class probabilities of each record, one column per class (sorted).
    pub fn predict_proba_categorical(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<Array2<f64>, ModelError> {
        let k = self.classes.len();
        let mut out = Array2::zeros((x.nrows(), k));
        self.for_each_prediction(x, cats, |i, p| {
            for &(c, v) in p {
                if let Some(j) = self.labels.get(c as usize).and_then(|&l| self.classes.index_of(l)) {
                    out[[i, j]] = v;
                }
            }
        })?;
        Ok(out)
    }

    /// The prequential step on records with categorical columns: predict each, then learn it.
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
        let (mut num, mut cat, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &label) in y.iter().enumerate() {
            num.clear();
            num.extend(x.row(i).iter());
            cat.clear();
            if cats.width() > 0 {
                cat.extend(cats.row(i).iter().enumerate().map(|(j, v)| codes.code_or_insert(j, v.as_ref())));
            }
            let row = Row { num: &num, cat: &cat };
            self.tree.predict_into(&row, &self.context(&codes), &mut scratch);
            out[i] = self.decide(&scratch);
            let class = self.class_id(label);
            let ctx = Context { params: &self.params, labels: &self.labels, codes: &codes, max_features: None };
            self.tree.learn(&row, class, 1.0, &ctx, &mut scratch, None);
            self.seen = self.seen.saturating_add(1);
        }
        self.codes = Some(codes);
        Ok(out)
    }

    pub(crate) fn check_state(&self) -> Result<(), String> {
        let fresh = self.params.clone().build().map_err(|e| format!("its parameters: {e}"))?;
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
        if !self.classes.is_fixed() && self.classes.len() != self.labels.len() {
            return Err("the tree's classes and the model's differ".into());
        }
        let empty = CategoryCodes::default();
        let codes = self.codes.as_ref().unwrap_or(&empty);
        if self.n_features.is_none() && !self.tree.nodes().is_empty() {
            return Err("a tree with nodes but no features".into());
        }
        self.tree.check(self.labels.len(), self.n_features.unwrap_or(0), codes)
    }

    pub(crate) fn state_is_finite(&self) -> bool {
        // Checked as decoded; learning adds finite weights to finite sums.
        self.tree.weight_seen().is_finite()
    }

    /// Take more numeric features (an encoder before the tree met a new category): the
    /// tree observes them from now on, as River's trees meet a new key.
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

/// Every default of a stage made of its own parameters `P` and a tree's (`tree`), as one
/// JSON object (the forest's and the adaptive tree's registry defaults).
pub(crate) fn joined_defaults<P: Default + Serialize>(tree: &HoeffdingTreeParams) -> serde_json::Value {
    joined_params(&P::default(), tree)
}

/// A stage's own parameters and its trees' as one JSON object (without `classes`).
pub(crate) fn joined_params<P: Serialize>(own: &P, tree: &HoeffdingTreeParams) -> serde_json::Value {
    let mut all = serde_json::to_value(own).unwrap_or_default();
    if let (serde_json::Value::Object(all), serde_json::Value::Object(tree)) =
        (&mut all, serde_json::to_value(tree).unwrap_or_default())
    {
        all.extend(tree.into_iter().filter(|(k, _)| k != "classes"));
    }
    all
}

/// Split checked parameters into a stage's own (`P`'s fields) and its trees', which take
/// the run's declared classes.
pub(crate) fn split_params<P: Default + Serialize + serde::de::DeserializeOwned>(
    json: serde_json::Value,
    ctx: &registry::Context,
) -> Result<(P, HoeffdingTreeParams), registry::BuildError> {
    let serde_json::Value::Object(all) = json else {
        return Err(registry::BuildError::Nested("parameters must be an object".into()));
    };
    let own_keys: Vec<String> = match serde_json::to_value(P::default()) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let (own, tree): (serde_json::Map<_, _>, serde_json::Map<_, _>) =
        all.into_iter().partition(|(k, _)| own_keys.contains(k));
    let own: P = registry::params_from(serde_json::Value::Object(own))?;
    let mut tree: HoeffdingTreeParams = registry::params_from(serde_json::Value::Object(tree))?;
    tree.classes = ctx.classes.clone();
    Ok((own, tree))
}

/// Check records for a tree or forest that knows `n_features` numeric features and the
/// categorical columns of `codes` (when known): widths, column names, no infinities (NaN
/// is a missing value).
pub(crate) fn check_records(
    x: ArrayView2<f64>,
    cats: &Categories,
    n_features: Option<usize>,
    codes: Option<&CategoryCodes>,
) -> Result<(), ModelError> {
    if x.ncols() + cats.width() == 0 {
        return Err(ModelError::NoFeatures);
    }
    if let Some(d) = n_features {
        if x.ncols() != d {
            return Err(ModelError::FeatureCount { expected: d, got: x.ncols() });
        }
    }
    if cats.width() > 0 && cats.rows() != x.nrows() {
        return Err(ModelError::Categorical(format!(
            "{} records of categorical columns for {} records",
            cats.rows(),
            x.nrows()
        )));
    }
    if let Some(codes) = codes {
        if !codes.names().eq(cats.names().iter().map(String::as_str)) {
            return Err(ModelError::Categorical(format!(
                "the model learned the categorical columns [{}], the batch has [{}]",
                codes.names().collect::<Vec<_>>().join(", "),
                cats.names().join(", ")
            )));
        }
    } else if n_features.is_some() && cats.width() > 0 {
        return Err(ModelError::Categorical(format!(
            "the model learned no categorical column, the batch has [{}]",
            cats.names().join(", ")
        )));
    }
    for (row, r) in x.outer_iter().enumerate() {
        for (column, &value) in r.iter().enumerate() {
            if value.is_infinite() {
                return Err(ModelError::NonFinite { row, column, value });
            }
        }
    }
    Ok(())
}

impl OnlineClassifier for HoeffdingTreeClassifier {
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
    fn structure(&self, features: &[String], class_names: Option<&[String]>, max_depth: u32) -> Option<String> {
        let empty = CategoryCodes::default();
        let names = super::show::Names {
            numeric: features,
            codes: self.codes.as_ref().unwrap_or(&empty),
            labels: &self.labels,
            class_names,
        };
        Some(super::show::render(&self.tree, &names, max_depth))
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
        Some(crate::model::TreesView {
            trees: vec![std::borrow::Cow::Borrowed(&self.tree)],
            labels: &self.labels,
            codes: self.codes.as_ref(),
            forest: None,
        })
    }
}

impl_stage!(HoeffdingTreeClassifier, HOEFFDING_TREE);
/// Not mergeable: a tree grows its own structure.
impl crate::model::merge::Merge for HoeffdingTreeClassifier {}
