//! Models chosen at run time: concrete enums (not trait objects) so that a
//! running model serialises with plain serde, for checkpoints and model files.

use super::*;
use crate::error::ParamsError;
use crate::preprocess::Scaled;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The estimators the command line offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// [`MiniBatchKMeans`].
    MinibatchKmeans,
    /// [`SgdClassifier`].
    Sgd,
    /// [`Perceptron`].
    Perceptron,
    /// [`PassiveAggressiveClassifier`].
    PassiveAggressive,
    /// [`GaussianNb`].
    GaussianNb,
    /// [`MultinomialNb`].
    MultinomialNb,
}

impl ModelKind {
    /// Every kind, in the order the help lists them.
    pub const ALL: [ModelKind; 6] = [
        Self::MinibatchKmeans,
        Self::Sgd,
        Self::Perceptron,
        Self::PassiveAggressive,
        Self::GaussianNb,
        Self::MultinomialNb,
    ];

    /// The command-line name, e.g. `minibatch-kmeans`.
    pub fn name(self) -> &'static str {
        match self {
            Self::MinibatchKmeans => "minibatch-kmeans",
            Self::Sgd => "sgd",
            Self::Perceptron => "perceptron",
            Self::PassiveAggressive => "passive-aggressive",
            Self::GaussianNb => "gaussian-nb",
            Self::MultinomialNb => "multinomial-nb",
        }
    }

    /// True for the clusterers.
    pub fn is_clusterer(self) -> bool {
        self == Self::MinibatchKmeans
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
            format!("unknown model {s:?}: one of {}", names.join(", "))
        })
    }
}

/// Everything needed to build a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Which estimator.
    pub kind: ModelKind,
    /// Centres, for k-means.
    pub clusters: usize,
    /// Rows per batch (k-means paces reassignment by it).
    pub batch_size: usize,
    /// Loss, for SGD.
    pub loss: Loss,
    /// Put a running standard scaler in front.
    pub scale: bool,
    /// Seed of every random choice.
    pub seed: u64,
    /// Declared class ids, if any.
    pub classes: Option<Vec<i64>>,
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self {
            kind: ModelKind::Sgd,
            clusters: 8,
            batch_size: 1024,
            loss: Loss::Hinge,
            scale: false,
            seed: 0,
            classes: None,
        }
    }
}

impl ModelSpec {
    /// Build the untrained model.
    pub fn build(&self) -> Result<Model, ParamsError> {
        if self.scale && self.kind == ModelKind::MultinomialNb {
            return Err(ParamsError::ScaledCounts);
        }
        let classes = self.classes.as_deref();
        let classifier = match self.kind {
            ModelKind::MinibatchKmeans => {
                let km = MiniBatchKMeans::params()
                    .n_clusters(self.clusters)
                    .batch_size(self.batch_size)
                    .seed(self.seed)
                    .build()?;
                let model = ClustererModel::MiniBatchKMeans(km);
                return Ok(Model::Clusterer(if self.scale {
                    ClustererModel::Scaled(Box::new(Scaled::new(model)))
                } else {
                    model
                }));
            }
            ModelKind::Sgd => {
                let p = SgdClassifier::params().loss(self.loss);
                ClassifierModel::Sgd(
                    match classes {
                        Some(c) => p.classes(c),
                        None => p,
                    }
                    .build()?,
                )
            }
            ModelKind::Perceptron => {
                let p = Perceptron::params();
                ClassifierModel::Perceptron(
                    match classes {
                        Some(c) => p.classes(c),
                        None => p,
                    }
                    .build()?,
                )
            }
            ModelKind::PassiveAggressive => {
                let p = PassiveAggressiveClassifier::params();
                ClassifierModel::PassiveAggressive(
                    match classes {
                        Some(c) => p.classes(c),
                        None => p,
                    }
                    .build()?,
                )
            }
            ModelKind::GaussianNb => {
                let p = GaussianNb::params();
                ClassifierModel::GaussianNb(
                    match classes {
                        Some(c) => p.classes(c),
                        None => p,
                    }
                    .build()?,
                )
            }
            ModelKind::MultinomialNb => {
                let p = MultinomialNb::params();
                ClassifierModel::MultinomialNb(
                    match classes {
                        Some(c) => p.classes(c),
                        None => p,
                    }
                    .build()?,
                )
            }
        };
        Ok(Model::Classifier(if self.scale {
            ClassifierModel::Scaled(Box::new(Scaled::new(classifier)))
        } else {
            classifier
        }))
    }
}

/// A classifier chosen at run time.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClassifierModel {
    /// SGD.
    Sgd(SgdClassifier),
    /// Perceptron.
    Perceptron(Perceptron),
    /// Passive-Aggressive.
    PassiveAggressive(PassiveAggressiveClassifier),
    /// Gaussian naive Bayes.
    GaussianNb(GaussianNb),
    /// Multinomial naive Bayes.
    MultinomialNb(MultinomialNb),
    /// Any of these behind a running scaler.
    Scaled(Box<Scaled<ClassifierModel>>),
}

/// A clusterer chosen at run time.
// One model per stage, moved once: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClustererModel {
    /// Mini-batch k-means.
    MiniBatchKMeans(MiniBatchKMeans),
    /// Behind a running scaler.
    Scaled(Box<Scaled<ClustererModel>>),
}

/// Forward a call to whichever model is inside.
macro_rules! each_classifier {
    ($self:expr, $m:ident => $call:expr) => {
        match $self {
            ClassifierModel::Sgd($m) => $call,
            ClassifierModel::Perceptron($m) => $call,
            ClassifierModel::PassiveAggressive($m) => $call,
            ClassifierModel::GaussianNb($m) => $call,
            ClassifierModel::MultinomialNb($m) => $call,
            ClassifierModel::Scaled($m) => $call,
        }
    };
}

impl OnlineClassifier for ClassifierModel {
    fn partial_fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        each_classifier!(self, m => OnlineClassifier::partial_fit(m.as_mut(), x, y))
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        each_classifier!(self, m => OnlineClassifier::predict(m.as_ref(), x))
    }
    fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
        each_classifier!(self, m => OnlineClassifier::predict_proba(m.as_ref(), x))
    }
    fn learn_predict(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<Array1<i64>, ModelError> {
        each_classifier!(self, m => OnlineClassifier::learn_predict(m.as_mut(), x, y))
    }
    fn classes(&self) -> &[i64] {
        each_classifier!(self, m => OnlineClassifier::classes(m.as_ref()))
    }
    fn n_features(&self) -> Option<usize> {
        each_classifier!(self, m => OnlineClassifier::n_features(m.as_ref()))
    }
    fn records_seen(&self) -> u64 {
        each_classifier!(self, m => OnlineClassifier::records_seen(m.as_ref()))
    }
    fn validate(&self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        each_classifier!(self, m => OnlineClassifier::validate(m.as_ref(), x, y))
    }
}

/// `as_ref`/`as_mut` on a model or a box of one, so the forwarding macro reads the same for both.
trait Itself {
    fn as_ref(&self) -> &Self {
        self
    }
    fn as_mut(&mut self) -> &mut Self {
        self
    }
}
impl Itself for SgdClassifier {}
impl Itself for Perceptron {}
impl Itself for PassiveAggressiveClassifier {}
impl Itself for GaussianNb {}
impl Itself for MultinomialNb {}
impl Itself for MiniBatchKMeans {}

impl ClustererModel {
    /// Rows the first batch needs (the number of centres) before the model has
    /// started; 0 once it has.
    pub fn rows_to_start(&self) -> usize {
        match self {
            Self::MiniBatchKMeans(m) if m.cluster_centers().is_none() => m.get_params().n_clusters,
            Self::MiniBatchKMeans(_) => 0,
            Self::Scaled(s) => s.model().rows_to_start(),
        }
    }
}

impl OnlineClusterer for ClustererModel {
    fn partial_fit(&mut self, x: ArrayView2<f64>) -> Result<(), ModelError> {
        match self {
            Self::MiniBatchKMeans(m) => m.partial_fit(x),
            Self::Scaled(m) => OnlineClusterer::partial_fit(m.as_mut(), x),
        }
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        match self {
            Self::MiniBatchKMeans(m) => m.predict(x),
            Self::Scaled(m) => OnlineClusterer::predict(m.as_ref(), x),
        }
    }
    fn learn_predict(&mut self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        match self {
            Self::MiniBatchKMeans(m) => m.learn_predict(x),
            Self::Scaled(m) => OnlineClusterer::learn_predict(m.as_mut(), x),
        }
    }
    fn cluster_centers(&self) -> Option<ArrayView2<'_, f64>> {
        match self {
            Self::MiniBatchKMeans(m) => m.cluster_centers(),
            Self::Scaled(m) => OnlineClusterer::cluster_centers(m.as_ref()),
        }
    }
    fn counts(&self) -> ArrayView1<'_, f64> {
        match self {
            Self::MiniBatchKMeans(m) => m.counts(),
            Self::Scaled(m) => OnlineClusterer::counts(m.as_ref()),
        }
    }
    fn inertia(&self) -> f64 {
        match self {
            Self::MiniBatchKMeans(m) => m.inertia(),
            Self::Scaled(m) => OnlineClusterer::inertia(m.as_ref()),
        }
    }
    fn n_features(&self) -> Option<usize> {
        match self {
            Self::MiniBatchKMeans(m) => OnlineClusterer::n_features(m),
            Self::Scaled(m) => OnlineClusterer::n_features(m.as_ref()),
        }
    }
    fn records_seen(&self) -> u64 {
        match self {
            Self::MiniBatchKMeans(m) => OnlineClusterer::records_seen(m),
            Self::Scaled(m) => OnlineClusterer::records_seen(m.as_ref()),
        }
    }
}

/// Any model chosen at run time.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// A classifier: needs a label column.
    Classifier(ClassifierModel),
    /// A clusterer: uses a label column, if any, only to score itself.
    Clusterer(ClustererModel),
}

impl ClassifierModel {
    /// True when every number of the state is finite.
    pub fn state_is_finite(&self) -> bool {
        match self {
            Self::Sgd(m) => m.state_is_finite(),
            Self::Perceptron(m) => m.state_is_finite(),
            Self::PassiveAggressive(m) => m.state_is_finite(),
            Self::GaussianNb(m) => m.state_is_finite(),
            Self::MultinomialNb(m) => m.state_is_finite(),
            Self::Scaled(s) => s.scaler().state_is_finite() && s.model().state_is_finite(),
        }
    }

    /// The model's name as `--model` spells it, with `scaled ` in front of a scaled one.
    pub fn name(&self) -> String {
        match self {
            Self::Sgd(_) => ModelKind::Sgd.name().into(),
            Self::Perceptron(_) => ModelKind::Perceptron.name().into(),
            Self::PassiveAggressive(_) => ModelKind::PassiveAggressive.name().into(),
            Self::GaussianNb(_) => ModelKind::GaussianNb.name().into(),
            Self::MultinomialNb(_) => ModelKind::MultinomialNb.name().into(),
            Self::Scaled(s) => format!("scaled {}", s.model().name()),
        }
    }
}

impl ClustererModel {
    /// True when every number of the state is finite.
    pub fn state_is_finite(&self) -> bool {
        match self {
            Self::MiniBatchKMeans(m) => m.state_is_finite(),
            Self::Scaled(s) => s.scaler().state_is_finite() && s.model().state_is_finite(),
        }
    }

    /// The model's name as `--model` spells it, with `scaled ` in front of a scaled one.
    pub fn name(&self) -> String {
        match self {
            Self::MiniBatchKMeans(_) => ModelKind::MinibatchKmeans.name().into(),
            Self::Scaled(s) => format!("scaled {}", s.model().name()),
        }
    }
}

impl Model {
    /// The model's name as `--model` spells it, with `scaled ` in front of a scaled one.
    pub fn name(&self) -> String {
        match self {
            Self::Classifier(m) => m.name(),
            Self::Clusterer(m) => m.name(),
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
}
