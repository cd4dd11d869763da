//! Online preprocessing: a running standard scaler and the chain that puts it in
//! front of any model.

use crate::error::ModelError;
use crate::model::{validate_features, OnlineClassifier, OnlineClusterer};
use crate::moments::Moments;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

/// Standardises features with a running mean and variance (scikit-learn's
/// `StandardScaler.partial_fit`/`transform`).
///
/// A feature whose variance is zero up to rounding is scaled by 1, as in
/// scikit-learn, so it maps to 0 rather than to infinity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StandardScaler {
    moments: Option<Moments>,
}

impl StandardScaler {
    /// True when every number of the state is finite: a value so large that the
    /// arithmetic overflowed leaves an infinity or a NaN behind.
    pub(crate) fn state_is_finite(&self) -> bool {
        self.moments.as_ref().is_none_or(Moments::state_is_finite)
    }

    /// A scaler that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows seen.
    pub fn n_samples_seen(&self) -> u64 {
        self.moments.as_ref().map_or(0, |m| m.count as u64)
    }

    /// Number of features, once known.
    pub fn n_features(&self) -> Option<usize> {
        self.moments.as_ref().map(|m| m.mean.len())
    }

    /// Running mean of each feature.
    pub fn mean(&self) -> Option<ArrayView1<'_, f64>> {
        self.moments.as_ref().map(|m| m.mean.view())
    }

    /// Running population variance of each feature.
    pub fn var(&self) -> Option<ArrayView1<'_, f64>> {
        self.moments.as_ref().map(|m| m.var.view())
    }

    /// The divisor of each feature: the standard deviation, or 1 for a constant feature.
    pub fn scale(&self) -> Option<Array1<f64>> {
        let m = self.moments.as_ref()?;
        Some(m.mean.iter().zip(m.var.iter()).map(|(&mean, &var)| feature_scale(m.count, mean, var)).collect())
    }

    /// Learn a batch.
    pub fn partial_fit(&mut self, x: ArrayView2<f64>) -> Result<(), ModelError> {
        validate_features(x, self.n_features())?;
        if x.nrows() == 0 {
            return Ok(());
        }
        self.moments.get_or_insert_with(|| Moments::new(x.ncols())).update_batch(x);
        Ok(())
    }

    /// Standardise a batch with what has been learned so far.
    pub fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
        let m = self.moments.as_ref().ok_or(ModelError::NotFitted("StandardScaler"))?;
        validate_features(x, Some(m.mean.len()))?;
        let scale: Array1<f64> =
            m.mean.iter().zip(m.var.iter()).map(|(&mean, &var)| feature_scale(m.count, mean, var)).collect();
        Ok((&x - &m.mean) / &scale)
    }

    /// Learn each row and standardise it with the statistics that include it,
    /// row by row: the scaler's half of the prequential step.
    pub fn learn_transform(&mut self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
        validate_features(x, self.n_features())?;
        let mut out = Array2::zeros(x.raw_dim());
        if x.nrows() == 0 {
            return Ok(out);
        }
        let m = self.moments.get_or_insert_with(|| Moments::new(x.ncols()));
        for (row, mut o) in x.outer_iter().zip(out.outer_iter_mut()) {
            m.update_row(row);
            for (((z, &xi), &mean), &var) in o.iter_mut().zip(row.iter()).zip(m.mean.iter()).zip(m.var.iter()) {
                *z = (xi - mean) / feature_scale(m.count, mean, var);
            }
        }
        Ok(out)
    }
}

/// Standard deviation of a feature, or 1 when its variance is zero up to rounding
/// (scikit-learn's `_is_constant_feature`: below what rounding alone produces
/// for this count and mean).
fn feature_scale(n: f64, mean: f64, var: f64) -> f64 {
    let eps = f64::EPSILON;
    if var <= n * eps * var + (n * mean * eps).powi(2) {
        1.0
    } else {
        var.sqrt()
    }
}

/// A model with a running [`StandardScaler`] in front.
///
/// For classifiers the chain is sequential: each row updates the scaler, is
/// standardised with statistics that include it, and then goes through the
/// model's predict-then-learn step. For clusterers the scaler learns the whole
/// batch, then the clusterer learns the standardised batch. A batch the model
/// refuses leaves the scaler unchanged too.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scaled<M> {
    scaler: StandardScaler,
    model: M,
}

impl<M> Scaled<M> {
    /// Put a fresh scaler in front of `model`.
    pub fn new(model: M) -> Self {
        Self { scaler: StandardScaler::new(), model }
    }
    /// The scaler.
    pub fn scaler(&self) -> &StandardScaler {
        &self.scaler
    }
    /// The model (it works in standardised units).
    pub fn model(&self) -> &M {
        &self.model
    }
}

impl<M: OnlineClassifier> OnlineClassifier for Scaled<M> {
    fn partial_fit(&mut self, x: ArrayView2<f64>, y: ndarray::ArrayView1<i64>) -> Result<(), ModelError> {
        self.learn_predict(x, y).map(|_| ())
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        self.model.predict(self.scaler.transform(x)?.view())
    }
    fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
        self.model.predict_proba(self.scaler.transform(x)?.view())
    }
    fn learn_predict(&mut self, x: ArrayView2<f64>, y: ndarray::ArrayView1<i64>) -> Result<Array1<i64>, ModelError> {
        // The scaler does not depend on the model, so scaling the whole batch row by
        // row first is the same as interleaving the two per row. It is kept only if
        // the model accepts the batch.
        let mut next = self.scaler.clone();
        let z = next.learn_transform(x)?;
        let labels = self.model.learn_predict(z.view(), y)?;
        self.scaler = next;
        Ok(labels)
    }
    fn classes(&self) -> &[i64] {
        self.model.classes()
    }
    fn n_features(&self) -> Option<usize> {
        self.model.n_features()
    }
    fn records_seen(&self) -> u64 {
        self.model.records_seen()
    }
    fn validate(&self, x: ArrayView2<f64>, y: ndarray::ArrayView1<i64>) -> Result<(), ModelError> {
        self.model.validate(x, y)
    }
}

impl<M: OnlineClusterer> OnlineClusterer for Scaled<M> {
    fn partial_fit(&mut self, x: ArrayView2<f64>) -> Result<(), ModelError> {
        self.learn_predict(x).map(|_| ())
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        self.model.predict(self.scaler.transform(x)?.view())
    }
    fn learn_predict(&mut self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        let mut next = self.scaler.clone();
        next.partial_fit(x)?;
        let labels = self.model.learn_predict(next.transform(x)?.view())?;
        self.scaler = next;
        Ok(labels)
    }
    fn cluster_centers(&self) -> Option<ArrayView2<'_, f64>> {
        self.model.cluster_centers()
    }
    fn counts(&self) -> ArrayView1<'_, f64> {
        self.model.counts()
    }
    fn inertia(&self) -> f64 {
        self.model.inertia()
    }
    fn n_features(&self) -> Option<usize> {
        self.model.n_features()
    }
    fn records_seen(&self) -> u64 {
        self.model.records_seen()
    }
}
