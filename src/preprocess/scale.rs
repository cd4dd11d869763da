//! `scale`: the running standard scaler.

use crate::error::ModelError;
use crate::model::registry::{self, Entry, Param, Role};
use crate::model::stage::{impl_stage, Transformer};
use crate::model::validate_features;
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
    params: StandardScalerParams,
    moments: Option<Moments>,
    /// Rows learned (with a `halflife` the moments' count is a decayed weight instead).
    #[serde(default)]
    seen: u64,
}

/// Parameters of [`StandardScaler`], with scikit-learn's names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StandardScalerParams {
    /// Subtract the running mean (default true).
    pub with_mean: bool,
    /// Divide by the running standard deviation (default true).
    pub with_std: bool,
    /// Forget old records: the mean and variance are exponentially weighted so that
    /// a record's weight halves after `halflife` more records (decay `0.5^(1/halflife)`
    /// per record). Default 0: off, every record weighs the same (scikit-learn's).
    pub halflife: f64,
}

impl Default for StandardScalerParams {
    fn default() -> Self {
        Self { with_mean: true, with_std: true, halflife: 0.0 }
    }
}

impl StandardScalerParams {
    /// Set the halflife in records (0: no forgetting).
    pub fn halflife(mut self, records: f64) -> Self {
        self.halflife = records;
        self
    }
    /// Check the parameters and build a scaler that has seen nothing.
    pub fn build(self) -> Result<StandardScaler, crate::error::ParamsError> {
        if !(self.halflife.is_finite() && self.halflife >= 0.0) {
            return Err(crate::error::ParamsError::Halflife(self.halflife));
        }
        Ok(StandardScaler { params: self, moments: None, seen: 0 })
    }
}

/// `scale` in the model language.
pub(crate) static SCALE: Entry = Entry {
    name: "scale",
    role: Role::Transformer,
    summary: "running standard scaler: (x - mean) / std over every record so far (scikit-learn's StandardScaler)",
    params: &[
        Param::bool("with_mean", "subtract the running mean"),
        Param::bool("with_std", "divide by the running standard deviation"),
        Param::float(
            "halflife",
            0.0,
            false,
            f64::INFINITY,
            "records after which a record's weight in the mean and variance halves (0: off, all weigh the same)",
        ),
    ],
    takes_counts: false,
    outputs_negative: true,
    defaults: registry::defaults_of::<StandardScalerParams>,
    build: registry::transformer_build!(StandardScalerParams),
    decode: registry::decode_transformer::<StandardScaler>,
};
impl_stage!(StandardScaler, SCALE);

/// Exact: the moments of every replica's new rows are added (Chan's formula).
/// Forgetting weighs records by when they came, which replicas do not share.
impl crate::model::merge::Merge for StandardScaler {
    fn merge_rule(&self) -> Option<crate::model::merge::MergeRule> {
        (self.params.halflife == 0.0).then_some(crate::model::merge::MergeRule::Exact)
    }

    fn fold(&mut self, base: &Self, replica: &Self, _share: f64) -> Result<(), String> {
        let Some(after) = &replica.moments else { return Ok(()) };
        let new = match &base.moments {
            Some(before) => crate::moments::since(after, before),
            None => after.clone(),
        };
        match &mut self.moments {
            Some(m) if m.mean.len() != new.mean.len() => return Err("replicas with different features".into()),
            Some(m) => m.absorb(&new),
            None => self.moments = Some(new),
        }
        self.seen += replica.seen.saturating_sub(base.seen);
        Ok(())
    }
}

impl Transformer for StandardScaler {
    fn n_features_in(&self) -> Option<usize> {
        self.n_features()
    }
    fn statistics(&self) -> Option<(Array1<f64>, Array1<f64>, Array1<f64>)> {
        Some((self.mean()?.to_owned(), self.var()?.to_owned(), self.scale()?))
    }
    fn records_seen(&self) -> u64 {
        self.n_samples_seen()
    }
    fn learn_transform(&mut self, x: ArrayView2<f64>, row_by_row: bool) -> Result<Array2<f64>, ModelError> {
        if row_by_row {
            StandardScaler::learn_transform(self, x)
        } else {
            self.partial_fit(x)?;
            self.transform(x)
        }
    }
    fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
        StandardScaler::transform(self, x)
    }
    fn inverse_transform(&self, z: ArrayView2<f64>) -> Option<Array2<f64>> {
        let (mean, scale) = (self.offset()?, self.divisor()?);
        (z.ncols() == mean.len()).then(|| &z * &scale + &mean)
    }
}

impl StandardScaler {
    /// Check a decoded state: the running moments fit together.
    pub(crate) fn check_state(&self) -> Result<(), String> {
        use crate::model::validate_state::{counts, ensure, finite, shape};
        self.params.clone().build().map_err(|e| format!("its parameters: {e}"))?;
        let Some(m) = &self.moments else { return Ok(()) };
        let d = m.mean.len();
        ensure(d >= 1, || "zero features".into())?;
        shape("variances", &m.var, &[d])?;
        finite("means", &m.mean)?;
        counts("variances", &m.var)?;
        ensure(m.count.is_finite() && m.count >= 0.0, || format!("the row count is {}", m.count))
    }

    /// Take more features (see [`crate::model::Stage::grow`]): their mean and
    /// variance are 0 over the records seen.
    pub(crate) fn grow(&mut self, n_features: usize) -> Result<(), String> {
        let Some(m) = self.moments.as_mut() else { return Ok(()) };
        if n_features < m.mean.len() {
            return Err(format!("cannot shrink from {} to {n_features} features", m.mean.len()));
        }
        m.mean = crate::model::grow_vector(&m.mean, n_features);
        m.var = crate::model::grow_vector(&m.var, n_features);
        Ok(())
    }

    /// The parameters.
    pub fn get_params(&self) -> &StandardScalerParams {
        &self.params
    }

    /// What is subtracted from each feature: the mean, or 0 without `with_mean`.
    fn offset(&self) -> Option<Array1<f64>> {
        let m = self.moments.as_ref()?;
        Some(if self.params.with_mean { m.mean.clone() } else { Array1::zeros(m.mean.len()) })
    }

    /// What each feature is divided by: its scale, or 1 without `with_std`.
    fn divisor(&self) -> Option<Array1<f64>> {
        let m = self.moments.as_ref()?;
        Some(if self.params.with_std { self.scale()? } else { Array1::ones(m.mean.len()) })
    }

    /// True when every number of the state is finite: a value so large that the
    /// arithmetic overflowed leaves an infinity or a NaN behind.
    pub(crate) fn state_is_finite(&self) -> bool {
        self.moments.as_ref().is_none_or(Moments::state_is_finite)
    }

    /// A scaler that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scaler with these parameters (see [`StandardScalerParams::build`]).
    pub fn params() -> StandardScalerParams {
        StandardScalerParams::default()
    }

    /// Rows seen.
    pub fn n_samples_seen(&self) -> u64 {
        self.seen
    }

    /// The weight behind the mean and variance: the rows seen, or with a `halflife`
    /// their exponentially decayed total.
    pub fn weight(&self) -> f64 {
        self.moments.as_ref().map_or(0.0, |m| m.count)
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
        let decay = crate::moments::decay_per_record(self.params.halflife);
        let m = self.moments.get_or_insert_with(|| Moments::new(x.ncols()));
        if decay < 1.0 {
            for row in x.outer_iter() {
                m.update_row_decayed(row, decay);
            }
        } else {
            m.update_batch(x);
        }
        self.seen = self.seen.saturating_add(x.nrows() as u64);
        Ok(())
    }

    /// Standardise a batch with what has been learned so far.
    pub fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
        let (Some(offset), Some(divisor)) = (self.offset(), self.divisor()) else {
            return Err(ModelError::NotFitted("StandardScaler"));
        };
        validate_features(x, Some(offset.len()))?;
        Ok((&x - &offset) / &divisor)
    }

    /// Learn each row and standardise it with the statistics that include it,
    /// row by row: the scaler's half of the prequential step.
    pub fn learn_transform(&mut self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
        validate_features(x, self.n_features())?;
        let mut out = Array2::zeros(x.raw_dim());
        if x.nrows() == 0 {
            return Ok(out);
        }
        let (with_mean, with_std) = (self.params.with_mean, self.params.with_std);
        let decay = crate::moments::decay_per_record(self.params.halflife);
        self.seen = self.seen.saturating_add(x.nrows() as u64);
        let m = self.moments.get_or_insert_with(|| Moments::new(x.ncols()));
        for (row, mut o) in x.outer_iter().zip(out.outer_iter_mut()) {
            if decay < 1.0 {
                m.update_row_decayed(row, decay);
            } else {
                m.update_row(row);
            }
            for (((z, &xi), &mean), &var) in o.iter_mut().zip(row.iter()).zip(m.mean.iter()).zip(m.var.iter()) {
                let offset = if with_mean { mean } else { 0.0 };
                let divisor = if with_std { feature_scale(m.count, mean, var) } else { 1.0 };
                *z = (xi - offset) / divisor;
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
