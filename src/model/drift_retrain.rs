//! `drift-retrain`: River's `DriftRetrainingClassifier` around any classifier.
//!
//! Each record is labelled by the current model and learned; a drift detector is fed
//! its error (1 when the label was wrong). With `train_in_background` (the default), a
//! background model learns the records that come while the detector warns, and
//! replaces the current model when it signals a drift (a fresh model when no warning
//! came first); without it, a drift replaces the model with a fresh one. The
//! replacement learns the record that signalled, as in River. A record the model
//! cannot label yet (nothing learned) is not fed to the detector, as in River.
//!
//! The wrapper keeps an untrained copy of the model, built with the run's settings
//! (declared classes, seed), to start fresh ones from.

use super::registry::{self, AnyStage, BuildError, Context, Entry, Param, Role};
use super::stage::ClassifierModel;
use super::{OnlineClassifier, NO_PREDICTION};
use crate::drift::{Detector, Signal};
use crate::error::ModelError;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

/// Parameters of [`DriftRetrain`], with River's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriftRetrainParams {
    /// The wrapped classifier, in the model language (default `sgd`).
    pub model: String,
    /// The drift detector, in the spec language (default River's: `ddm`).
    pub detector: String,
    /// Train a background model while the detector warns (default true).
    pub train_in_background: bool,
}

impl Default for DriftRetrainParams {
    fn default() -> Self {
        Self { model: "sgd".into(), detector: "ddm".into(), train_in_background: true }
    }
}

/// River's `DriftRetrainingClassifier`. See the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriftRetrain {
    train_in_background: bool,
    /// The model that labels.
    model: ClassifierModel,
    /// Learns while the detector warns (with `train_in_background`).
    background: Option<ClassifierModel>,
    /// An untrained copy, to start fresh models from.
    fresh: ClassifierModel,
    detector: Box<dyn Detector>,
    /// Features, once known (a fresh model does not know them yet).
    n_features: Option<usize>,
    records: u64,
    warnings: u64,
    drifts: u64,
    /// Records seen when the model was last replaced.
    last_swap: Option<u64>,
}

impl DriftRetrain {
    /// Wrap `model` (untrained) with `detector`.
    pub fn new(model: ClassifierModel, detector: Box<dyn Detector>, train_in_background: bool) -> Self {
        Self {
            train_in_background,
            background: train_in_background.then(|| model.clone()),
            fresh: model.clone(),
            model,
            detector,
            n_features: None,
            records: 0,
            warnings: 0,
            drifts: 0,
            last_swap: None,
        }
    }

    /// The parameters, as the spec writes them.
    pub fn get_params(&self) -> DriftRetrainParams {
        DriftRetrainParams {
            model: self.fresh.spec(),
            detector: self.detector.spec(),
            train_in_background: self.train_in_background,
        }
    }

    /// Take more features (see [`crate::model::Stage::grow`]): the model, and the
    /// one learning in the background, grow; the fresh one has seen nothing.
    pub(crate) fn grow(&mut self, n_features: usize) -> Result<(), String> {
        self.model.grow(n_features)?;
        if let Some(background) = self.background.as_mut() {
            background.grow(n_features)?;
        }
        if self.n_features.is_some() {
            self.n_features = Some(n_features);
        }
        Ok(())
    }

    /// The model that labels now.
    pub fn model(&self) -> &ClassifierModel {
        &self.model
    }

    /// The detector.
    pub fn detector(&self) -> &dyn Detector {
        self.detector.as_ref()
    }

    /// Warnings and drifts the detector signalled.
    pub fn signals(&self) -> (u64, u64) {
        (self.warnings, self.drifts)
    }

    /// Records seen when the model was last replaced, if it was.
    pub fn last_swap(&self) -> Option<u64> {
        self.last_swap
    }

    fn learn_row(&mut self, row: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<i64, ModelError> {
        let label = self.model.learn_predict(row, y)?[0];
        self.records = self.records.saturating_add(1);
        if label == NO_PREDICTION {
            return Ok(label);
        }
        let error = if label == y[0] { 0.0 } else { 1.0 };
        match self.detector.update(error) {
            Signal::None => {}
            Signal::Warning => {
                self.warnings = self.warnings.saturating_add(1);
                if let Some(background) = self.background.as_mut() {
                    background.partial_fit(row, y)?;
                }
            }
            Signal::Drift => {
                self.drifts = self.drifts.saturating_add(1);
                self.last_swap = Some(self.records);
                let next = match self.background.as_mut() {
                    Some(background) => std::mem::replace(background, self.fresh.clone()),
                    None => self.fresh.clone(),
                };
                self.model = next;
                // The replacement learns the record that signalled, as River's does.
                self.model.partial_fit(row, y)?;
            }
        }
        Ok(label)
    }

    pub(crate) fn check_state(&self) -> Result<(), String> {
        use super::validate::state::ensure;
        ensure(self.background.is_some() == self.train_in_background, || {
            "a background model without train_in_background, or none with it".into()
        })?;
        ensure(self.fresh.records_seen() == 0, || "the untrained copy has learned records".into())?;
        let widths = [Some(&self.model), self.background.as_ref(), Some(&self.fresh)];
        for m in widths.into_iter().flatten() {
            let width = m.n_features();
            ensure(width.is_none() || width == self.n_features, || {
                format!("a wrapped model takes {width:?} features, the wrapper {:?}", self.n_features)
            })?;
        }
        ensure(self.n_features != Some(0), || "zero features".into())?;
        ensure(self.drifts <= self.records && self.warnings <= self.records, || "more signals than records".into())?;
        ensure(self.last_swap.is_none_or(|at| at <= self.records), || "a swap after the last record".into())
    }

    pub(crate) fn state_is_finite(&self) -> bool {
        self.model.state_is_finite() && self.background.as_ref().is_none_or(ClassifierModel::state_is_finite)
    }
}

impl OnlineClassifier for DriftRetrain {
    fn partial_fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        self.learn_predict(x, y).map(drop)
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        self.model.predict(x)
    }

    fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
        self.model.predict_proba(x)
    }

    /// Row by row: the detector must see each error before the next record is learned,
    /// so that a swap happens at the record that signalled.
    fn learn_predict(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<Array1<i64>, ModelError> {
        self.validate(x, y)?;
        let mut labels = Array1::from_elem(x.nrows(), NO_PREDICTION);
        for i in 0..x.nrows() {
            labels[i] = self.learn_row(x.slice(s![i..=i, ..]), y.slice(s![i..=i]))?;
        }
        if x.nrows() > 0 {
            self.n_features = Some(x.ncols());
        }
        Ok(labels)
    }

    fn classes(&self) -> &[i64] {
        self.model.classes()
    }

    fn n_features(&self) -> Option<usize> {
        self.n_features
    }

    fn records_seen(&self) -> u64 {
        self.records
    }

    fn validate(&self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        super::validate::features(x, self.n_features)?;
        self.model.validate(x, y)
    }
}

const PARAMS: &[Param] = &[
    Param::model("model", Role::Classifier, "the classifier to watch and retrain (any chain)"),
    Param::detector("detector", "watches the model's errors (1 per wrong label); warnings start the background model"),
    Param::bool("train_in_background", "learn a background model while the detector warns, and swap it in at a drift"),
];

fn build(json: serde_json::Value, ctx: &Context) -> Result<AnyStage, BuildError> {
    let p: DriftRetrainParams = registry::params_from(json)?;
    let invalid = |what: &str, e: crate::spec::SpecError| BuildError::Nested(format!("{what}: {}", e.message));
    let model = match registry::build_text(&p.model, ctx).map_err(|e| invalid("model", e))?.1 {
        super::Model::Classifier(m) => m,
        super::Model::Clusterer(_) => {
            return Err(BuildError::Nested("model: a clusterer: it must be a classifier".into()))
        }
    };
    let detector = crate::drift::build_text(&p.detector).map_err(|e| invalid("detector", e))?;
    Ok(AnyStage::Classifier(Box::new(DriftRetrain::new(model, detector, p.train_in_background))))
}

/// The registry's entry for `drift-retrain`.
pub static DRIFT_RETRAIN: Entry = Entry {
    name: "drift-retrain",
    role: Role::Classifier,
    summary: "retrains a classifier when a drift detector fires on its errors (River's DriftRetrainingClassifier)",
    params: PARAMS,
    takes_counts: false,
    outputs_negative: false,
    defaults: registry::defaults_of::<DriftRetrainParams>,
    build,
    decode: registry::decode_classifier::<DriftRetrain>,
};
super::stage::impl_stage!(DriftRetrain, DRIFT_RETRAIN);
/// Not mergeable: replicas would restart at different drifts.
impl super::merge::Merge for DriftRetrain {}
