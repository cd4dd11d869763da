//! Stages chosen at run time: trait objects that the registry builds and decodes.
//!
//! A model is a [`Chain`]: transformers (the scaler; encoders and imputers later)
//! in front of one estimator. Every stage is a boxed trait object that knows its
//! [`Entry`] in the registry, so a chain serialises as `(registry name, state)`
//! pairs and decodes through the registry: no enum of every model, and no
//! forwarding written per model. A wrapper that holds a model holds a `Chain`.

use super::registry::{self, Entry};
use super::{OnlineClassifier, OnlineClusterer};
use crate::error::ModelError;
use crate::record::Categories;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

/// What every stage has: a registry entry, parameters, serialisable state.
pub trait Stage: fmt::Debug + Send + Sync + erased_serde::Serialize + dyn_clone::DynClone {
    /// The registry entry that builds and decodes this kind of stage.
    fn entry(&self) -> &'static Entry;

    /// The stage's parameters as a JSON object, with the registry's names.
    fn params_json(&self) -> serde_json::Value;

    /// True when every number of the state is finite: values large enough to
    /// overflow the arithmetic leave infinities behind.
    fn state_is_finite(&self) -> bool;

    /// Check that a decoded state fits together (shapes agree, counts are finite and
    /// not negative, parameters obey their rules) before anything indexes into it.
    /// A file is checked as it is decoded, so a state that fails is never used.
    fn check_state(&self) -> Result<(), String>;

    /// True when the stage can take more features than it has: an encoder before it
    /// met a new category and added a column (see [`Stage::grow`]).
    fn can_grow(&self) -> bool {
        false
    }

    /// Take `n_features` features from now on, the new ones appended after the old: the
    /// stage becomes what it would be had the new features been 0 in every record so
    /// far (a linear model's new weights are 0, a scaler's new mean and variance are 0
    /// over the records seen, a centre's new coordinate is 0). A stage that has seen
    /// nothing yet has nothing to grow.
    fn grow(&mut self, n_features: usize) -> Result<(), String> {
        Err(format!("{} cannot take new features (asked for {n_features})", self.entry().name))
    }

    /// The stage as [`std::any::Any`], to recover its type where two stages meet
    /// (merging replicas).
    fn as_any(&self) -> &dyn std::any::Any;

    /// How replicas of this stage merge, or `None` when they cannot ([`super::merge`]).
    fn merge_rule(&self) -> Option<super::merge::MergeRule>;

    /// [`super::merge::Merge::fold`] with `base` and `replica` of this stage's type.
    fn fold_dyn(&mut self, base: &dyn Stage, replica: &dyn Stage, share: f64) -> Result<(), String>;
}

/// A classifier stage: [`OnlineClassifier`] plus [`Stage`].
pub trait ClassifierStage: Stage + OnlineClassifier {}
impl<T: Stage + OnlineClassifier> ClassifierStage for T {}

/// A clusterer stage: [`OnlineClusterer`] plus [`Stage`].
pub trait ClustererStage: Stage + OnlineClusterer {}
impl<T: Stage + OnlineClusterer> ClustererStage for T {}

/// A stage that changes the features on their way to the estimator.
pub trait Transformer: Stage {
    /// Features it takes, once known.
    fn n_features_in(&self) -> Option<usize>;

    /// Features it gives, once known (by default as many as it takes).
    fn n_features_out(&self) -> Option<usize> {
        self.n_features_in()
    }

    /// Rows it has learned.
    fn records_seen(&self) -> u64;

    /// Learn a batch and transform it. `row_by_row`: each row is transformed with
    /// statistics that include it and the rows before it (the prequential chain of
    /// a sequential learner); otherwise the whole batch is learned first.
    fn learn_transform(&mut self, x: ArrayView2<f64>, row_by_row: bool) -> Result<Array2<f64>, ModelError>;

    /// Transform a batch with what has been learned so far.
    fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError>;

    /// Map transformed rows back to input units, where the transform can be undone.
    fn inverse_transform(&self, z: ArrayView2<f64>) -> Option<Array2<f64>>;

    /// [`Transformer::learn_transform`] with the batch's categorical columns. An
    /// encoder turns some of `cats` into numeric columns, appended after `x`'s, and
    /// gives back the categorical columns it leaves; `None` leaves `cats` as they came
    /// (the default: a numeric transformer's).
    fn learn_transform_with(
        &mut self,
        x: ArrayView2<f64>,
        cats: &Categories,
        row_by_row: bool,
    ) -> Result<(Array2<f64>, Option<Categories>), ModelError> {
        let _ = cats;
        Ok((self.learn_transform(x, row_by_row)?, None))
    }

    /// [`Transformer::transform`] with the batch's categorical columns (see
    /// [`Transformer::learn_transform_with`]).
    fn transform_with(
        &self,
        x: ArrayView2<f64>,
        cats: &Categories,
    ) -> Result<(Array2<f64>, Option<Categories>), ModelError> {
        let _ = cats;
        Ok((self.transform(x)?, None))
    }

    /// The categorical columns left after this stage, given those that reach it, or why
    /// the stage cannot take them (a column it encodes is not among them, say).
    fn categorical_out(&self, names: &[String]) -> Result<Vec<String>, String> {
        Ok(names.to_vec())
    }

    /// True for a stage whose output may get wider as the stream goes (an encoder
    /// that adds a column per new category): every stage after it must grow.
    fn widens(&self) -> bool {
        false
    }

    /// True for a stage that reads categorical columns (an encoder).
    fn encodes(&self) -> bool {
        false
    }

    /// A scaler's running mean, variance and divisor of each feature (scikit-learn's
    /// `mean_`, `var_`, `scale_`), once it has learned; `None` for other stages.
    fn statistics(&self) -> Option<(Array1<f64>, Array1<f64>, Array1<f64>)> {
        None
    }

    /// True for a stage that fills missing values (an imputer).
    fn fills_missing(&self) -> bool {
        false
    }

    /// Per categorical column the stage encodes: how many categories it knows, and how
    /// many values went past its bound (an `other` column's).
    fn encoded(&self) -> Vec<crate::preprocess::EncodedColumn> {
        Vec::new()
    }

    /// Values the stage filled so far, per column (an imputer's).
    fn imputed(&self) -> Option<crate::preprocess::ImputedCounts> {
        None
    }

    /// The categories the stage knows, per categorical column it reads, in the order
    /// it met them (what `/v1/model` lists).
    fn known_categories(&self) -> Vec<(String, Vec<String>)> {
        Vec::new()
    }
}

dyn_clone::clone_trait_object!(ClassifierStage);
dyn_clone::clone_trait_object!(ClustererStage);
dyn_clone::clone_trait_object!(Transformer);

/// Any stage, as the registry builds or decodes it.
pub enum AnyStage {
    /// A transformer.
    Transformer(Box<dyn Transformer>),
    /// A classifier.
    Classifier(Box<dyn ClassifierStage>),
    /// A clusterer.
    Clusterer(Box<dyn ClustererStage>),
}

impl AnyStage {
    pub(crate) fn role(&self) -> &'static str {
        match self {
            Self::Transformer(_) => "transformer",
            Self::Classifier(_) => "classifier",
            Self::Clusterer(_) => "clusterer",
        }
    }
}

/// Serialise a boxed stage as `{kind: registry name, state}`.
fn serialize_stage<S: Serializer>(entry: &Entry, state: &dyn erased_serde::Serialize, s: S) -> Result<S::Ok, S::Error> {
    let mut st = s.serialize_struct("Stage", 2)?;
    st.serialize_field("kind", entry.name)?;
    st.serialize_field("state", state)?;
    st.end()
}

impl Serialize for Box<dyn ClassifierStage> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_stage(self.entry(), self.as_ref(), s)
    }
}

impl Serialize for Box<dyn ClustererStage> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_stage(self.entry(), self.as_ref(), s)
    }
}

impl Serialize for Box<dyn Transformer> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_stage(self.entry(), self.as_ref(), s)
    }
}

thread_local! {
    /// How many stages are being decoded inside each other on this thread: wrappers
    /// nest, and a hostile file must not nest them deep enough to overflow the stack.
    static DECODE_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Stages nested deeper than this in a file are refused.
pub const MAX_NESTING: usize = 8;

struct StageVisitor;

impl<'de> Visitor<'de> for StageVisitor {
    type Value = AnyStage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stage: its registry name, then its state")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyStage, A::Error> {
        let kind: String = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let entry = registry::find(&kind).ok_or_else(|| de::Error::custom(unknown_kind(&kind)))?;
        seq.next_element_seed(StateSeed(entry))?.ok_or_else(|| de::Error::invalid_length(1, &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyStage, A::Error> {
        let mut entry = None;
        while let Some(key) = map.next_key::<String>()? {
            match (key.as_str(), entry) {
                ("kind", None) => {
                    let kind: String = map.next_value()?;
                    entry = Some(registry::find(&kind).ok_or_else(|| de::Error::custom(unknown_kind(&kind)))?);
                }
                ("state", Some(e)) => return map.next_value_seed(StateSeed(e)),
                (other, _) => return Err(de::Error::custom(format!("unexpected field {other:?} in a stage"))),
            }
        }
        Err(de::Error::missing_field("state"))
    }
}

fn unknown_kind(kind: &str) -> String {
    format!("no stage is called {kind:?} in this eddy (it knows {})", registry::names().join(", "))
}

struct StateSeed(&'static Entry);

impl<'de> DeserializeSeed<'de> for StateSeed {
    type Value = AnyStage;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<AnyStage, D::Error> {
        let depth = DECODE_DEPTH.with(|c| c.get());
        if depth >= MAX_NESTING {
            return Err(de::Error::custom(format!("stages nest deeper than {MAX_NESTING} levels")));
        }
        DECODE_DEPTH.with(|c| c.set(depth + 1));
        let mut erased = <dyn erased_serde::Deserializer>::erase(d);
        let result = (self.0.decode)(&mut erased);
        DECODE_DEPTH.with(|c| c.set(depth));
        let stage = result.map_err(de::Error::custom)?;
        let checked = match &stage {
            AnyStage::Transformer(t) => t.check_state(),
            AnyStage::Classifier(m) => m.check_state(),
            AnyStage::Clusterer(m) => m.check_state(),
        };
        checked.map_err(|why| de::Error::custom(format!("{}: inconsistent state: {why}", self.0.name)))?;
        Ok(stage)
    }
}

fn deserialize_stage<'de, D: Deserializer<'de>>(d: D) -> Result<AnyStage, D::Error> {
    d.deserialize_struct("Stage", &["kind", "state"], StageVisitor)
}

fn wrong_role<E: de::Error>(expected: &str, got: &AnyStage) -> E {
    E::custom(format!("expected a {expected} stage, found a {}", got.role()))
}

impl<'de> Deserialize<'de> for Box<dyn ClassifierStage> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match deserialize_stage(d)? {
            AnyStage::Classifier(m) => Ok(m),
            other => Err(wrong_role("classifier", &other)),
        }
    }
}

impl<'de> Deserialize<'de> for Box<dyn ClustererStage> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match deserialize_stage(d)? {
            AnyStage::Clusterer(m) => Ok(m),
            other => Err(wrong_role("clusterer", &other)),
        }
    }
}

impl<'de> Deserialize<'de> for Box<dyn Transformer> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match deserialize_stage(d)? {
            AnyStage::Transformer(m) => Ok(m),
            other => Err(wrong_role("transformer", &other)),
        }
    }
}

/// Transformers in front of one estimator (River's pipelines, scikit-learn's `Pipeline`).
///
/// The chain learns as one model: a batch the estimator refuses leaves the
/// transformers unchanged too.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "ChainParts<H>", bound(deserialize = "H: Deserialize<'de> + Head"))]
pub struct Chain<H> {
    transforms: Vec<Box<dyn Transformer>>,
    head: H,
}

/// A chain as decoded, before its stages are checked to fit together.
#[derive(Deserialize)]
struct ChainParts<H> {
    transforms: Vec<Box<dyn Transformer>>,
    head: H,
}

/// What a chain needs of its estimator to check that the stages fit together.
pub trait Head {
    /// Features the estimator takes, once known.
    fn width(&self) -> Option<usize>;
    /// The estimator as a stage.
    fn stage(&self) -> &dyn Stage;
    /// The estimator as a stage, to grow.
    fn stage_mut(&mut self) -> &mut dyn Stage;
    /// True when the estimator reads categorical columns and missing values itself
    /// (see [`OnlineClassifier::takes_categories`]).
    fn takes_categories(&self) -> bool {
        false
    }
}

impl Head for Box<dyn ClassifierStage> {
    fn width(&self) -> Option<usize> {
        self.n_features()
    }
    fn stage(&self) -> &dyn Stage {
        self.as_ref()
    }
    fn stage_mut(&mut self) -> &mut dyn Stage {
        self.as_mut()
    }
    fn takes_categories(&self) -> bool {
        self.as_ref().takes_categories()
    }
}

impl Head for Box<dyn ClustererStage> {
    fn width(&self) -> Option<usize> {
        self.n_features()
    }
    fn stage(&self) -> &dyn Stage {
        self.as_ref()
    }
    fn stage_mut(&mut self) -> &mut dyn Stage {
        self.as_mut()
    }
}

impl<H: Head> TryFrom<ChainParts<H>> for Chain<H> {
    type Error = String;
    /// Each stage takes as many features as the one before it gives, where both are known.
    fn try_from(parts: ChainParts<H>) -> Result<Self, String> {
        let mut gives: Option<usize> = None;
        let takes = parts.transforms.iter().map(|t| (t.n_features_in(), t.n_features_out()));
        for (takes, next) in takes.chain(std::iter::once((parts.head.width(), None))) {
            if let (Some(a), Some(b)) = (gives, takes) {
                if a != b {
                    return Err(format!("a stage of the chain gives {a} features to one that takes {b}"));
                }
            }
            gives = next;
        }
        Ok(Self { transforms: parts.transforms, head: parts.head })
    }
}

/// Transformers that learned a batch, and the batch they made (`None`: no transformers).
pub(crate) type Learned = (Vec<Box<dyn Transformer>>, Option<Array2<f64>>);

/// What the transformers make of a batch: its numbers (`None`: no transformers, the
/// batch as it came) and the categorical columns no encoder took.
type Made<'c> = (Option<Array2<f64>>, Cow<'c, Categories>);

/// Grow `stage` (which takes `has` features, when known) to `width`, if that is more.
fn grow_to(stage: &mut dyn Stage, has: Option<usize>, width: usize) -> Result<(), ModelError> {
    match has {
        Some(from) if width > from => stage.grow(width).map_err(|why| {
            let _ = why;
            ModelError::CannotGrow { stage: stage.entry().name, from, to: width }
        }),
        _ => Ok(()),
    }
}

/// Refuse categorical columns that no transformer encoded.
fn all_encoded(left: &Categories, head: &'static str) -> Result<(), ModelError> {
    if left.is_empty() {
        Ok(())
    } else {
        Err(ModelError::Unencoded { columns: left.names().to_vec(), stage: head })
    }
}

/// The estimator learns `z` (or `x` when there are no transformers): first, if the
/// batch is wider than it (an encoder met a new category), a grown copy of it, which
/// replaces it only if it accepts the batch, so a refused batch changes nothing.
fn learn_head<H: Head + Clone, T>(
    head: &mut H,
    width: usize,
    widened: bool,
    learn: impl FnOnce(&mut H) -> Result<T, ModelError>,
) -> Result<T, ModelError> {
    let has = head.width();
    match has {
        Some(from) if widened && width > from => {
            let mut grown = head.clone();
            grow_to(grown.stage_mut(), has, width)?;
            let out = learn(&mut grown)?;
            *head = grown;
            Ok(out)
        }
        _ => learn(head),
    }
}

/// A classifier chain.
pub type ClassifierModel = Chain<Box<dyn ClassifierStage>>;
/// A clusterer chain.
pub type ClustererModel = Chain<Box<dyn ClustererStage>>;

impl<H> Chain<H> {
    /// `head` with nothing in front.
    pub fn new(head: H) -> Self {
        Self { transforms: Vec::new(), head }
    }

    /// `transforms` in front of `head`, first to last.
    pub fn with_transforms(transforms: Vec<Box<dyn Transformer>>, head: H) -> Self {
        Self { transforms, head }
    }

    /// The transformers, first to last.
    pub fn transforms(&self) -> &[Box<dyn Transformer>] {
        &self.transforms
    }

    /// The estimator.
    pub fn head(&self) -> &H {
        &self.head
    }

    /// The transformers and the estimator, to change in place (merging replicas).
    pub(crate) fn parts_mut(&mut self) -> (&mut [Box<dyn Transformer>], &mut H) {
        (&mut self.transforms, &mut self.head)
    }

    /// The batch as the estimator sees it, without learning. Categorical columns left
    /// over are refused unless the estimator `takes` them.
    fn transform<'c>(
        &self,
        x: ArrayView2<f64>,
        cats: &'c Categories,
        head: &'static str,
        takes: bool,
    ) -> Result<Made<'c>, ModelError> {
        let mut out: Option<Array2<f64>> = None;
        let mut left = Cow::Borrowed(cats);
        for t in &self.transforms {
            let input = match &out {
                Some(a) => a.view(),
                None => x.view(),
            };
            let (z, rest) = t.transform_with(input, &left)?;
            if let Some(rest) = rest {
                left = Cow::Owned(rest);
            }
            out = Some(z);
        }
        if !takes {
            all_encoded(&left, head)?;
        }
        Ok((out, left))
    }

    /// Learn `x` into copies of the transformers; the caller keeps them if the
    /// estimator accepts the transformed batch. A transformer given more features than
    /// it had (an encoder before it met a new category) grows first.
    fn learn_transform<'c>(
        &self,
        x: ArrayView2<f64>,
        cats: &'c Categories,
        row_by_row: bool,
        head: &'static str,
        takes: bool,
    ) -> Result<(Vec<Box<dyn Transformer>>, Made<'c>), ModelError> {
        let mut next = self.transforms.clone();
        let mut out: Option<Array2<f64>> = None;
        let mut left = Cow::Borrowed(cats);
        // Only a stage behind an encoder grows: a raw batch of the wrong width is refused.
        let mut widened = false;
        for t in &mut next {
            let input = match &out {
                Some(a) => a.view(),
                None => x.view(),
            };
            if widened {
                let has = t.n_features_in();
                grow_to(t.as_mut(), has, input.ncols())?;
            }
            widened |= t.widens();
            let (z, rest) = t.learn_transform_with(input, &left, row_by_row)?;
            if let Some(rest) = rest {
                left = Cow::Owned(rest);
            }
            out = Some(z);
        }
        if !takes {
            all_encoded(&left, head)?;
        }
        Ok((next, (out, left)))
    }

    /// True when an encoder of the chain may widen the batch.
    fn widens(&self) -> bool {
        self.transforms.iter().any(|t| t.widens())
    }

    /// Each categorical column the encoders read, with the categories they know.
    pub fn known_categories(&self) -> Vec<(String, Vec<String>)> {
        self.transforms.iter().flat_map(|t| t.known_categories()).collect()
    }

    /// Per categorical column the encoders read: the categories known and the values past the bound.
    pub fn encoded(&self) -> Vec<crate::preprocess::EncodedColumn> {
        self.transforms.iter().flat_map(|t| t.encoded()).collect()
    }

    /// Values the imputer filled, per column: numeric columns by position, categorical ones by name.
    pub fn imputed(&self) -> Option<crate::preprocess::ImputedCounts> {
        self.transforms.iter().find_map(|t| t.imputed())
    }

    fn grow_transforms(&mut self, n_features: usize) -> Result<(), String> {
        for t in &mut self.transforms {
            if t.n_features_in().is_some_and(|n| n < n_features) {
                t.grow(n_features)?;
            }
        }
        Ok(())
    }

    fn transforms_finite(&self) -> bool {
        self.transforms.iter().all(|t| t.state_is_finite())
    }

    fn spec_of(&self, head: &dyn Stage) -> String {
        let mut parts: Vec<String> = self.transforms.iter().map(|t| registry::stage_spec(t.as_ref())).collect();
        parts.push(registry::stage_spec(head));
        parts.join(" | ")
    }
}

impl<H: Head> Chain<H> {
    /// Check that records with the categorical columns `names` suit the chain: every
    /// encoder finds the columns it reads, and none is left over for an estimator that
    /// takes numbers only.
    pub fn check_categorical(&self, names: &[String]) -> Result<(), String> {
        let mut left = names.to_vec();
        for t in &self.transforms {
            left = t.categorical_out(&left).map_err(|why| format!("{}: {why}", t.entry().name))?;
        }
        if left.is_empty() || self.head.takes_categories() {
            Ok(())
        } else {
            Err(format!(
                "categorical columns {} reach {}, which takes numbers: encode them first (e.g. `onehot | ...` \
                 or `hash | ...`), or leave them out with --features",
                left.join(", "),
                self.head.stage().entry().name
            ))
        }
    }

    /// True when records may have missing values: the first stage fills them, or the
    /// estimator alone reads them (a tree).
    pub fn fills_missing(&self) -> bool {
        match self.transforms.first() {
            Some(t) => t.fills_missing(),
            None => self.head.takes_categories(),
        }
    }
}

impl ClassifierModel {
    /// `model` behind a fresh running standard scaler: `scale | model`.
    pub fn scaled(model: impl ClassifierStage + 'static) -> Self {
        Self::with_transforms(vec![Box::new(crate::preprocess::StandardScaler::new())], Box::new(model))
    }
    /// The model in the model language, e.g. `scale | sgd(loss=log_loss)`: every
    /// parameter that differs from its default.
    pub fn spec(&self) -> String {
        self.spec_of(self.head.as_ref())
    }
    /// True when every number of the state is finite.
    pub fn state_is_finite(&self) -> bool {
        self.transforms_finite() && self.head.state_is_finite()
    }

    /// Refuse missing values (NaN) that nothing fills: a tree reads them, but not behind
    /// a transformer, whose output it would be (every other estimator refuses them itself).
    fn refuse_missing(&self, x: ArrayView2<f64>) -> Result<(), ModelError> {
        if self.transforms.is_empty() || !self.head.takes_categories() || self.fills_missing() {
            return Ok(());
        }
        super::validate::features(x, None).or_else(|e| match e {
            ModelError::NoFeatures => Ok(()),
            other => Err(other),
        })
    }

    /// Predict each record of `x` with its categorical columns `cats`.
    pub fn predict_with(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<Array1<i64>, ModelError> {
        self.refuse_missing(x)?;
        let (z, left) = self.transform(x, cats, self.head.entry().name, self.head.takes_categories())?;
        let input = z.as_ref().map_or(x.view(), |z| z.view());
        self.head.predict_with_categories(input, &left)
    }

    /// Decision scores of each record of `x` with its categorical columns `cats`, when
    /// the estimator is linear (see [`OnlineClassifier::decision_function`]).
    pub fn decision_function_with(
        &self,
        x: ArrayView2<f64>,
        cats: &Categories,
    ) -> Result<Option<Array2<f64>>, ModelError> {
        self.refuse_missing(x)?;
        let (z, _) = self.transform(x, cats, self.head.entry().name, self.head.takes_categories())?;
        self.head.decision_function(z.as_ref().map_or(x.view(), |z| z.view()))
    }

    /// Class probabilities of each record of `x` with its categorical columns `cats`
    /// (see [`OnlineClassifier::predict_proba`]).
    pub fn predict_proba_with(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<Option<Array2<f64>>, ModelError> {
        self.refuse_missing(x)?;
        let (z, left) = self.transform(x, cats, self.head.entry().name, self.head.takes_categories())?;
        let input = z.as_ref().map_or(x.view(), |z| z.view());
        self.head.predict_proba_with_categories(input, &left)
    }

    /// The prequential step (see [`OnlineClassifier::learn_predict`]) on records with
    /// categorical columns.
    pub fn learn_predict_with(
        &mut self,
        x: ArrayView2<f64>,
        cats: &Categories,
        y: ArrayView1<i64>,
    ) -> Result<Array1<i64>, ModelError> {
        // The transformers do not depend on the estimator, so transforming the whole
        // batch row by row first is the same as interleaving the two per row.
        self.refuse_missing(x)?;
        let takes = self.head.takes_categories();
        let (next, (z, left)) = self.learn_transform(x, cats, true, self.head.entry().name, takes)?;
        let input = z.as_ref().map_or(x.view(), |z| z.view());
        let widened = self.widens();
        let labels =
            learn_head(&mut self.head, input.ncols(), widened, |h| h.learn_predict_with_categories(input, &left, y))?;
        self.transforms = next;
        Ok(labels)
    }

    /// Learn records with categorical columns (scikit-learn's `partial_fit`).
    pub fn partial_fit_with(
        &mut self,
        x: ArrayView2<f64>,
        cats: &Categories,
        y: ArrayView1<i64>,
    ) -> Result<(), ModelError> {
        if self.transforms.is_empty() && cats.is_empty() {
            return self.head.partial_fit(x, y);
        }
        self.learn_predict_with(x, cats, y).map(|_| ())
    }

    /// Take `n_features` input features from now on (see [`Stage::grow`]): what a
    /// wrapper asks of the models it holds when an encoder before it widens the batch.
    pub(crate) fn grow(&mut self, n_features: usize) -> Result<(), String> {
        self.grow_transforms(n_features)?;
        if self.head.n_features().is_some_and(|n| n < n_features) {
            self.head.grow(n_features)?;
        }
        Ok(())
    }

    /// The first half of `learn_predict`, for chains whose transformers are equal (an
    /// ensemble's members): the transformers as they are after learning `x` row by
    /// row, and the batch they make (`None`: no transformers). Nothing changes yet.
    pub(crate) fn learn_front(&self, x: ArrayView2<f64>) -> Result<Learned, ModelError> {
        let none = Categories::default();
        let (next, (z, _)) = self.learn_transform(x, &none, true, self.head.entry().name, false)?;
        Ok((next, z))
    }

    /// The second half: the estimator learns `z` (the batch `front` made from `x`, or
    /// `x` itself), then the chain takes `front` as its transformers. With a `front`
    /// from [`Self::learn_front`] of a chain with equal transformers, this is
    /// `learn_predict` exactly; a refused batch leaves the chain unchanged.
    pub(crate) fn learn_predict_behind(
        &mut self,
        front: Vec<Box<dyn Transformer>>,
        z: Option<&Array2<f64>>,
        x: ArrayView2<f64>,
        y: ArrayView1<i64>,
    ) -> Result<Array1<i64>, ModelError> {
        // A member of an ensemble grows with the ensemble (see `grow`), not by itself.
        let input = z.map_or(x.view(), |z| z.view());
        let labels = learn_head(&mut self.head, input.ncols(), false, |h| h.learn_predict(input, y))?;
        self.transforms = front;
        Ok(labels)
    }
}

impl ClustererModel {
    /// `model` behind a fresh running standard scaler: `scale | model`.
    pub fn scaled(model: impl ClustererStage + 'static) -> Self {
        Self::with_transforms(vec![Box::new(crate::preprocess::StandardScaler::new())], Box::new(model))
    }
    /// The model in the model language.
    pub fn spec(&self) -> String {
        self.spec_of(self.head.as_ref())
    }
    /// True when every number of the state is finite.
    pub fn state_is_finite(&self) -> bool {
        self.transforms_finite() && self.head.state_is_finite()
    }
    /// Rows the first batch needs before the model can start (0 once it has).
    pub fn rows_to_start(&self) -> usize {
        self.head.rows_to_start()
    }
    /// The centre of each row, and the summed squared distances of the rows to
    /// their centres in the space the clusterer works in (after the transformers),
    /// without learning: a frozen model's inertia.
    pub fn predict_with_inertia(&self, x: ArrayView2<f64>) -> Result<(Array1<i64>, f64), ModelError> {
        self.predict_with_inertia_with(x, &Categories::default())
    }

    /// [`Self::predict_with_inertia`] on records with categorical columns.
    pub fn predict_with_inertia_with(
        &self,
        x: ArrayView2<f64>,
        cats: &Categories,
    ) -> Result<(Array1<i64>, f64), ModelError> {
        let (owned, _) = self.transform(x, cats, self.head.entry().name, false)?;
        let z = match &owned {
            Some(z) => z.view(),
            None => x.view(),
        };
        let labels = self.head.predict(z)?;
        let Some(centers) = self.head.cluster_centers() else { return Ok((labels, 0.0)) };
        let inertia = z
            .outer_iter()
            .zip(labels.iter())
            .filter_map(|(row, &l)| {
                let c = centers.row(usize::try_from(l).ok().filter(|&i| i < centers.nrows())?);
                Some(super::sq_dist(row.iter(), c.iter()))
            })
            .sum();
        Ok((labels, inertia))
    }

    /// The nearest centre of each record of `x` with its categorical columns `cats`.
    pub fn predict_with(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<Array1<i64>, ModelError> {
        match self.transform(x, cats, self.head.entry().name, false)?.0 {
            Some(z) => self.head.predict(z.view()),
            None => self.head.predict(x),
        }
    }

    /// The prequential step (see [`OnlineClusterer::learn_predict`]) on records with
    /// categorical columns.
    pub fn learn_predict_with(&mut self, x: ArrayView2<f64>, cats: &Categories) -> Result<Array1<i64>, ModelError> {
        let (next, (z, _)) = self.learn_transform(x, cats, false, self.head.entry().name, false)?;
        let input = z.as_ref().map_or(x.view(), |z| z.view());
        let widened = self.widens();
        let labels = learn_head(&mut self.head, input.ncols(), widened, |h| h.learn_predict(input))?;
        self.transforms = next;
        Ok(labels)
    }

    /// The centres in input units (through the inverse of every transformer), when
    /// every transformer can be undone.
    pub fn centers_in_input_units(&self) -> Option<Array2<f64>> {
        let mut c = self.head.cluster_centers()?.to_owned();
        for t in self.transforms.iter().rev() {
            c = t.inverse_transform(c.view())?;
        }
        Some(c)
    }
}

impl OnlineClassifier for ClassifierModel {
    fn partial_fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        self.partial_fit_with(x, &Categories::default(), y)
    }
    fn decision_function(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
        self.decision_function_with(x, &Categories::default())
    }
    /// The estimator's weights when nothing stands before it (else they weigh the
    /// transformed features, not the input's).
    fn linear_weights(&self) -> Option<(ArrayView2<'_, f64>, ArrayView1<'_, f64>)> {
        if self.transforms.is_empty() {
            self.head.linear_weights()
        } else {
            None
        }
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        self.predict_with(x, &Categories::default())
    }
    fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
        self.predict_proba_with(x, &Categories::default())
    }
    fn learn_predict(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<Array1<i64>, ModelError> {
        self.learn_predict_with(x, &Categories::default(), y)
    }
    fn classes(&self) -> &[i64] {
        self.head.classes()
    }
    fn n_features(&self) -> Option<usize> {
        self.transforms.first().map_or_else(|| self.head.n_features(), |t| t.n_features_in())
    }
    fn records_seen(&self) -> u64 {
        self.head.records_seen()
    }
    fn validate(&self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        if self.transforms.iter().any(|t| t.widens() || t.fills_missing()) {
            // The estimator sees another batch than `x`: learning checks it as a whole.
            return super::validate::label_count(x, y);
        }
        // The transformers keep the width and finiteness, so the raw batch is checked.
        self.head.validate(x, y)
    }
}

impl OnlineClusterer for ClustererModel {
    fn partial_fit(&mut self, x: ArrayView2<f64>) -> Result<(), ModelError> {
        if self.transforms.is_empty() {
            return self.head.partial_fit(x);
        }
        self.learn_predict(x).map(|_| ())
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        self.predict_with(x, &Categories::default())
    }
    fn learn_predict(&mut self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        self.learn_predict_with(x, &Categories::default())
    }
    fn cluster_centers(&self) -> Option<ArrayView2<'_, f64>> {
        self.head.cluster_centers()
    }
    fn counts(&self) -> ArrayView1<'_, f64> {
        self.head.counts()
    }
    fn inertia(&self) -> f64 {
        self.head.inertia()
    }
    fn row_inertia(&self) -> Option<&[f64]> {
        self.head.row_inertia()
    }
    fn n_features(&self) -> Option<usize> {
        self.transforms.first().map_or_else(|| self.head.n_features(), |t| t.n_features_in())
    }
    fn records_seen(&self) -> u64 {
        self.head.records_seen()
    }
    fn rows_to_start(&self) -> usize {
        self.head.rows_to_start()
    }
}

/// Any model built from a spec or read from a file.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// A classifier: needs a label column.
    Classifier(ClassifierModel),
    /// A clusterer: uses a label column, if any, only to score itself.
    Clusterer(ClustererModel),
}

impl Model {
    /// Build an untrained model from a spec such as `scale | sgd(loss=log_loss)`,
    /// with no run-wide settings (see [`registry::build`] for those).
    pub fn from_spec(spec: &str) -> Result<Self, crate::spec::SpecError> {
        let parsed = crate::spec::parse(spec)?;
        registry::build(spec, &parsed, &registry::Context::default())
    }

    /// A forest's replacements of its trees ([`OnlineClassifier::replacements`]).
    pub fn replacements(&self) -> Option<super::Replacements<'_>> {
        self.as_classifier().and_then(|m| m.head().replacements())
    }

    /// How replicas of this model merge (the least exact rule of its stages), or why
    /// they cannot ([`super::merge`]).
    pub fn merge_rule(&self) -> Result<super::merge::MergeRule, String> {
        match self {
            Self::Classifier(m) => m.merge_rule(),
            Self::Clusterer(m) => m.merge_rule(),
        }
    }

    /// Fold what `replica` learned since `base` into this model, weighing an averaged
    /// stage's change by `share` ([`super::merge::Merge::fold`]). The three must be
    /// the same model (same spec); on an error this model is unchanged.
    pub fn fold(&mut self, base: &Model, replica: &Model, share: f64) -> Result<(), String> {
        let mut folded = self.clone();
        match (&mut folded, base, replica) {
            (Self::Classifier(m), Self::Classifier(b), Self::Classifier(r)) => m.fold(b, r, share)?,
            (Self::Clusterer(m), Self::Clusterer(b), Self::Clusterer(r)) => m.fold(b, r, share)?,
            _ => return Err("replicas of different models (a classifier and a clusterer)".into()),
        }
        *self = folded;
        Ok(())
    }

    /// The model in the model language: every parameter that differs from its default.
    pub fn spec(&self) -> String {
        match self {
            Self::Classifier(m) => m.spec(),
            Self::Clusterer(m) => m.spec(),
        }
    }

    /// The estimator's registry name (`sgd`, `minibatch-kmeans`, ...).
    pub fn estimator(&self) -> &'static str {
        match self {
            Self::Classifier(m) => m.head.entry().name,
            Self::Clusterer(m) => m.head.entry().name,
        }
    }

    /// True when every number of the state is finite. Validation refuses NaN and
    /// infinity, but finite values large enough (1e300, say) overflow the arithmetic
    /// and leave infinities behind: a model in that state predicts nonsense for good.
    pub fn state_is_finite(&self) -> bool {
        match self {
            Self::Classifier(m) => m.state_is_finite(),
            Self::Clusterer(m) => m.state_is_finite(),
        }
    }

    /// Records learned so far.
    pub fn records_seen(&self) -> u64 {
        match self {
            Self::Classifier(m) => m.records_seen(),
            Self::Clusterer(m) => m.records_seen(),
        }
    }

    /// Number of input features, once known.
    pub fn n_features(&self) -> Option<usize> {
        match self {
            Self::Classifier(m) => m.n_features(),
            Self::Clusterer(m) => m.n_features(),
        }
    }

    /// The classifier, if this is one.
    pub fn as_classifier(&self) -> Option<&ClassifierModel> {
        match self {
            Self::Classifier(m) => Some(m),
            Self::Clusterer(_) => None,
        }
    }

    /// The clusterer, if this is one.
    pub fn as_clusterer(&self) -> Option<&ClustererModel> {
        match self {
            Self::Clusterer(m) => Some(m),
            Self::Classifier(_) => None,
        }
    }
}

/// Implements [`Stage`] for a model whose parameters are `get_params()` and whose
/// registry entry is `$entry`: one that grows through its own `grow`, or, with
/// `fixed_width`, one that cannot.
macro_rules! impl_stage {
    ($model:ty, $entry:expr, fixed_width) => {
        impl $crate::model::stage::Stage for $model {
            $crate::model::stage::impl_stage!(@common $model, $entry);
        }
    };
    ($model:ty, $entry:expr) => {
        impl $crate::model::stage::Stage for $model {
            $crate::model::stage::impl_stage!(@common $model, $entry);
            fn can_grow(&self) -> bool {
                true
            }
            fn grow(&mut self, n_features: usize) -> Result<(), String> {
                <$model>::grow(self, n_features)
            }
        }
    };
    // What every stage's impl has, whether it grows or not.
    (@common $model:ty, $entry:expr) => {
        fn entry(&self) -> &'static $crate::model::registry::Entry {
            &$entry
        }
        fn params_json(&self) -> serde_json::Value {
            // Parameters are plain numbers, names and lists: they always serialise.
            serde_json::to_value(self.get_params()).unwrap_or(serde_json::Value::Null)
        }
        fn state_is_finite(&self) -> bool {
            <$model>::state_is_finite(self)
        }
        fn check_state(&self) -> Result<(), String> {
            <$model>::check_state(self)
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
        fn merge_rule(&self) -> Option<$crate::model::merge::MergeRule> {
            <$model as $crate::model::merge::Merge>::merge_rule(self)
        }
        fn fold_dyn(
            &mut self,
            base: &dyn $crate::model::stage::Stage,
            replica: &dyn $crate::model::stage::Stage,
            share: f64,
        ) -> Result<(), String> {
            $crate::model::merge::fold_as::<$model>(self, base, replica, share)
        }
    };
}
pub(crate) use impl_stage;

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn a_chain_gives_its_linear_estimator_s_scores_and_weights_only_when_alone() {
        let x = array![[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [0.5, 3.0]];
        let y = array![0, 1, 1, 0];
        let mut alone = Model::from_spec("sgd(loss=log_loss)").expect("valid");
        let mut scaled = Model::from_spec("scale | sgd(loss=log_loss)").expect("valid");
        let (Model::Classifier(alone), Model::Classifier(scaled)) = (&mut alone, &mut scaled) else {
            panic!("classifiers")
        };
        alone.partial_fit(x.view(), y.view()).expect("learns");
        scaled.partial_fit(x.view(), y.view()).expect("learns");
        let (coef, intercept) = alone.linear_weights().expect("a linear model alone");
        let scores = alone.decision_function(x.view()).expect("valid").expect("linear");
        assert_eq!(scores, x.dot(&coef.t()) + intercept);
        // Behind a scaler the scores are the scaled records', the weights not the input's.
        assert!(scaled.linear_weights().is_none());
        let scaled_scores = scaled.decision_function(x.view()).expect("valid").expect("linear");
        assert_eq!(scaled_scores.dim(), (4, 1));
        let tree = Model::from_spec("gaussian-nb").expect("valid");
        assert!(tree.as_classifier().expect("a classifier").decision_function(x.view()).expect("valid").is_none());
    }
}
