//! Gaussian and multinomial naive Bayes, learned incrementally.
//!
//! Written on ndarray rather than taken from linfa-bayes 0.8.1: its
//! `MultinomialNb::fit_with` prints a `dbg!` dump on every call, and neither
//! model can predict-then-learn row by row, which the prequential step needs.
//! The statistics and the joint log-likelihood follow scikit-learn.
//!
//! Deliberate difference for `GaussianNb`: scikit-learn adds `epsilon =
//! var_smoothing * max(var(batch))` computed from the *current batch* (and
//! subtracts the new epsilon, not the old, before merging), so its model
//! depends on how the stream is cut. eddy keeps the raw variances and uses
//! `var_smoothing * max(var(all rows seen))`: the same as scikit-learn for a
//! single batch, independent of batching otherwise.

use super::registry::{self, Entry, Param, Role};
use super::stage::impl_stage;
use super::{insert_zero_row, validate, Classes, OnlineClassifier, NO_PREDICTION};
use crate::error::{ModelError, ParamsError};
use crate::moments::{self, Moments};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// The decoded classes are valid and agree with the parameters' declared ones.
fn check_classes(decoded: &Classes, fresh: &Classes) -> Result<(), String> {
    decoded.check_state()?;
    if decoded.is_fixed() != fresh.is_fixed() || (fresh.is_fixed() && decoded != fresh) {
        return Err("declared classes differ from the parameters".into());
    }
    Ok(())
}

/// Parameters of [`GaussianNb`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GaussianNbParams {
    /// Share of the largest feature variance added to every variance (default 1e-9).
    pub var_smoothing: f64,
    /// Forget old records: class weights (the priors), means and variances are
    /// exponentially weighted so that a record's weight halves after `halflife` more
    /// records of the stream (decay `0.5^(1/halflife)` per record, every class at
    /// once). Default 0: off, every record weighs the same (scikit-learn's).
    pub halflife: f64,
    /// Declared classes, or `None` to discover them.
    pub classes: Option<Vec<i64>>,
}

impl Default for GaussianNbParams {
    fn default() -> Self {
        Self { var_smoothing: 1e-9, halflife: 0.0, classes: None }
    }
}

impl GaussianNbParams {
    /// Set `var_smoothing`.
    pub fn var_smoothing(mut self, v: f64) -> Self {
        self.var_smoothing = v;
        self
    }
    /// Set the halflife in records (0: no forgetting).
    pub fn halflife(mut self, records: f64) -> Self {
        self.halflife = records;
        self
    }
    /// Declare the classes up front.
    pub fn classes(mut self, classes: &[i64]) -> Self {
        self.classes = Some(classes.to_vec());
        self
    }
    /// Check the parameters and build an untrained model.
    pub fn build(self) -> Result<GaussianNb, ParamsError> {
        if !(self.var_smoothing.is_finite() && self.var_smoothing >= 0.0) {
            return Err(ParamsError::VarSmoothing(self.var_smoothing));
        }
        if !(self.halflife.is_finite() && self.halflife >= 0.0) {
            return Err(ParamsError::Halflife(self.halflife));
        }
        let classes = Classes::declared_or_discover(self.classes.as_deref())?;
        let n = classes.len();
        Ok(GaussianNb {
            params: self,
            classes,
            n_features: None,
            theta: Array2::zeros((n, 0)),
            var: Array2::zeros((n, 0)),
            class_count: Array1::zeros(n),
            all: Moments::new(0),
            seen: 0,
            epsilon: None,
            terms: ClassTerms::default(),
        })
    }
}

/// Gaussian naive Bayes (scikit-learn's `GaussianNB`), learned incrementally.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GaussianNb {
    params: GaussianNbParams,
    classes: Classes,
    n_features: Option<usize>,
    /// Per-class feature means.
    theta: Array2<f64>,
    /// Per-class population variances, without smoothing.
    var: Array2<f64>,
    class_count: Array1<f64>,
    /// Moments of all rows, for the smoothing epsilon.
    all: Moments,
    seen: u64,
    /// The smoothing, as last taken from `all` (see [`GaussianNb::epsilon`]); `None`
    /// in files from before it was kept, where it is taken from `all` when asked.
    #[serde(default)]
    epsilon: Option<f64>,
    /// The prequential step's class terms, recomputed for a class only when its
    /// statistics or the smoothing change.
    #[serde(skip)]
    terms: ClassTerms,
}

impl GaussianNb {
    /// Check a decoded state: the parameters obey their rules and the statistics fit them.
    pub(crate) fn check_state(&self) -> Result<(), String> {
        use super::validate::state::{counts, ensure, finite, shape};
        let fresh = self.params.clone().build().map_err(|e| format!("its parameters: {e}"))?;
        check_classes(&self.classes, &fresh.classes)?;
        let (k, d) = (self.classes.len(), self.n_features.unwrap_or(0));
        ensure(self.n_features != Some(0), || "zero features".into())?;
        shape("theta", &self.theta, &[k, d])?;
        shape("var", &self.var, &[k, d])?;
        shape("class counts", &self.class_count, &[k])?;
        shape("overall mean", &self.all.mean, &[d])?;
        shape("overall variance", &self.all.var, &[d])?;
        finite("theta", &self.theta)?;
        counts("var", &self.var)?;
        counts("class counts", &self.class_count)?;
        finite("overall mean", &self.all.mean)?;
        counts("overall variance", &self.all.var)?;
        ensure(self.all.count.is_finite() && self.all.count >= 0.0, || format!("the row count is {}", self.all.count))?;
        ensure(self.epsilon.is_none_or(|e| e.is_finite() && e >= 0.0), || {
            format!("the smoothing is {:?}", self.epsilon)
        })
    }

    /// Take more features (see [`crate::model::Stage::grow`]): each class's new means
    /// and variances are 0, as are the overall ones, which leaves the smoothing (a
    /// share of the largest variance) as it was.
    pub(crate) fn grow(&mut self, n_features: usize) -> Result<(), String> {
        let Some(d) = self.n_features else { return Ok(()) };
        if n_features < d {
            return Err(format!("cannot shrink from {d} to {n_features} features"));
        }
        self.theta = super::grow_columns(&self.theta, n_features);
        self.var = super::grow_columns(&self.var, n_features);
        self.all.mean = super::grow_vector(&self.all.mean, n_features);
        self.all.var = super::grow_vector(&self.all.var, n_features);
        self.n_features = Some(n_features);
        self.terms = ClassTerms::default();
        Ok(())
    }

    /// True when every number of the state is finite: a value so large that the
    /// arithmetic overflowed leaves an infinity or a NaN behind.
    pub(crate) fn state_is_finite(&self) -> bool {
        crate::moments::all_finite(&self.theta)
            && crate::moments::all_finite(&self.var)
            && crate::moments::all_finite(&self.class_count)
            && self.all.state_is_finite()
    }

    /// Default parameters (scikit-learn's).
    pub fn params() -> GaussianNbParams {
        GaussianNbParams::default()
    }

    /// Per-class feature means (scikit-learn's `theta_`).
    pub fn theta(&self) -> ArrayView2<'_, f64> {
        self.theta.view()
    }

    /// Per-class variances including the smoothing epsilon (scikit-learn's `var_`).
    pub fn var(&self) -> Array2<f64> {
        &self.var + self.epsilon()
    }

    /// Rows seen per class (with a `halflife`, their exponentially decayed weights).
    pub fn class_count(&self) -> ArrayView1<'_, f64> {
        self.class_count.view()
    }

    /// The smoothing added to every variance: `var_smoothing` times the largest
    /// variance of all rows seen, taken after every `partial_fit` and, while learning
    /// row by row, after rows 1, 2, 4, ..., 512 and every 1,024th (so that a row does
    /// not recompute every class's terms; the variance of all rows moves slowly).
    pub fn epsilon(&self) -> f64 {
        self.epsilon.unwrap_or_else(|| self.current_epsilon())
    }

    /// The smoothing the variance of all rows seen gives now.
    fn current_epsilon(&self) -> f64 {
        self.params.var_smoothing * self.all.var.iter().copied().fold(0.0, f64::max)
    }

    /// Take the smoothing from the rows seen, and forget the terms made of the old.
    fn refresh_epsilon(&mut self) {
        self.epsilon = Some(self.current_epsilon());
        self.terms = ClassTerms::default();
    }

    /// Joint log-likelihood of each row and class, `rows x classes`.
    pub fn joint_log_likelihood(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
        let d = self.n_features.ok_or(ModelError::NotFitted("GaussianNb"))?;
        validate::features(x, Some(d))?;
        let cache = self.class_terms();
        let mut out = Array2::zeros((x.nrows(), self.classes.len()));
        for (row, mut o) in x.outer_iter().zip(out.outer_iter_mut()) {
            // `out` is freshly allocated in standard layout, so each row is contiguous.
            if let Some(o) = o.as_slice_mut() {
                self.jll_row(row, &cache, o);
            }
        }
        Ok(out)
    }

    /// Per-class constant term and smoothed inverse variances.
    fn class_terms(&self) -> ClassTerms {
        let mut terms = ClassTerms::default();
        self.class_terms_into(&mut terms);
        terms
    }

    /// [`Self::class_terms`] into reused buffers: the prequential step calls it every row,
    /// so it runs over plain slices (the divisions vectorise) and keeps each class's
    /// `ln(count)` while its count stays the same.
    fn class_terms_into(&self, terms: &mut ClassTerms) {
        let eps = self.epsilon();
        let (k, d) = self.var.dim();
        if terms.inv_var.dim() != (k, d) || terms.eps.to_bits() != eps.to_bits() {
            *terms = ClassTerms {
                inv_var: Array2::zeros((k, d)),
                log_det: vec![0.0; k],
                fresh: vec![false; k],
                ln_count: vec![(f64::NAN, 0.0); k],
                eps,
                constant: Vec::with_capacity(k),
            };
        }
        terms.constant.clear();
        let ln_total = self.class_count.sum().ln();
        let (Some(var), Some(inv_var)) = (self.var.as_slice(), terms.inv_var.as_slice_mut()) else {
            // Both are built in standard layout; a state decoded otherwise predicts nothing.
            terms.constant.resize(k, f64::NEG_INFINITY);
            return;
        };
        for c in 0..k {
            let count = self.class_count[c];
            if count == 0.0 {
                terms.constant.push(f64::NEG_INFINITY);
                continue;
            }
            if !terms.fresh[c] {
                let (v, iv) = (&var[c * d..(c + 1) * d], &mut inv_var[c * d..(c + 1) * d]);
                for (iv, &v) in iv.iter_mut().zip(v) {
                    // Floor at the smallest normal double: a zero variance (a class of one
                    // row, no smoothing) would otherwise divide by zero; scikit-learn gives NaN there.
                    *iv = 1.0 / (v + eps).max(f64::MIN_POSITIVE);
                }
                terms.log_det[c] = sum_ln_smoothed(v, eps) + d as f64 * (2.0 * std::f64::consts::PI).ln();
                terms.fresh[c] = true;
            }
            let ln_count = match terms.ln_count[c] {
                (cached, ln) if cached == count => ln,
                _ => {
                    let ln = count.ln();
                    terms.ln_count[c] = (count, ln);
                    ln
                }
            };
            terms.constant.push(ln_count - ln_total - 0.5 * terms.log_det[c]);
        }
    }

    fn jll_row(&self, x: ArrayView1<f64>, terms: &ClassTerms, out: &mut [f64]) {
        let d = x.len();
        // Plain slices let the compiler vectorise the inner loop; the owned arrays are
        // always in standard layout, and a strided row is copied once.
        let copied;
        let x = match x.as_slice() {
            Some(s) => s,
            None => {
                copied = x.to_vec();
                &copied
            }
        };
        let (Some(theta), Some(inv_var)) = (self.theta.as_slice(), terms.inv_var.as_slice()) else {
            out.fill(f64::NEG_INFINITY);
            return;
        };
        for (c, o) in out.iter_mut().enumerate() {
            let constant = terms.constant[c];
            if constant == f64::NEG_INFINITY {
                *o = f64::NEG_INFINITY;
                continue;
            }
            let (t, v) = (&theta[c * d..(c + 1) * d], &inv_var[c * d..(c + 1) * d]);
            *o = constant - 0.5 * scaled_square_sum(x, t, v);
        }
    }

    fn check_batch(&self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        validate::label_count(x, y)?;
        validate::features(x, self.n_features)?;
        self.classes.check(y)
    }

    fn ensure_features(&mut self, d: usize) {
        if self.n_features.is_none() {
            self.n_features = Some(d);
            let n = self.classes.len();
            self.theta = Array2::zeros((n, d));
            self.var = Array2::zeros((n, d));
            self.all = Moments::new(d);
        }
    }

    /// Index of `label`, growing the per-class state when it is new.
    fn class_index(&mut self, label: i64) -> usize {
        let (i, inserted) = self.classes.index_or_insert(label);
        if inserted {
            self.theta = insert_zero_row(&self.theta, i);
            self.var = insert_zero_row(&self.var, i);
            let mut cc = self.class_count.to_vec();
            cc.insert(i, 0.0);
            self.class_count = Array1::from(cc);
        }
        i
    }

    fn step_row(&mut self, x: ArrayView1<f64>, y: i64, jll: &mut Vec<f64>) -> i64 {
        let mut terms = std::mem::take(&mut self.terms);
        self.class_terms_into(&mut terms);
        jll.resize(self.classes.len(), 0.0);
        self.jll_row(x, &terms, jll);
        self.terms = terms;
        let predicted = decide(&self.classes, jll.iter());
        self.learn_row(x, y, moments::decay_per_record(self.params.halflife));
        predicted
    }

    /// Learn one validated row. With `decay < 1` every class's weight (and the
    /// overall moments') is first multiplied by it: the exponentially weighted form.
    fn learn_row(&mut self, x: ArrayView1<f64>, y: i64, decay: f64) {
        let c = self.class_index(y);
        if decay < 1.0 {
            self.class_count.mapv_inplace(|w| w * decay);
            self.all.count *= decay;
        }
        moments::merge_row(self.class_count[c], self.theta.row_mut(c), self.var.row_mut(c), x);
        self.class_count[c] += 1.0;
        if let Some(fresh) = self.terms.fresh.get_mut(c) {
            *fresh = false;
        }
        self.all.update_row(x);
        self.seen = self.seen.saturating_add(1);
        if self.seen.is_power_of_two() && self.seen <= 1024 || self.seen.is_multiple_of(1024) {
            self.refresh_epsilon();
        }
    }
}

impl OnlineClassifier for GaussianNb {
    /// Merges each class's batch statistics at once, as scikit-learn does.
    fn partial_fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        self.check_batch(x, y)?;
        if x.nrows() == 0 {
            return Ok(());
        }
        self.ensure_features(x.ncols());
        let decay = moments::decay_per_record(self.params.halflife);
        if decay < 1.0 {
            // Each row's weight depends on its place in the stream: row by row.
            for (row, &label) in x.outer_iter().zip(y.iter()) {
                self.learn_row(row, label, decay);
            }
            self.refresh_epsilon();
            return Ok(());
        }
        let mut labels: Vec<i64> = y.to_vec();
        labels.sort_unstable();
        labels.dedup();
        for label in labels {
            let c = self.class_index(label);
            let rows: Vec<usize> = y.iter().enumerate().filter(|(_, &l)| l == label).map(|(i, _)| i).collect();
            let xc = x.select(Axis(0), &rows);
            let (mu, var) = moments::batch_mean_var(xc.view());
            let n_new = rows.len() as f64;
            moments::merge(
                self.class_count[c],
                self.theta.row_mut(c),
                self.var.row_mut(c),
                n_new,
                mu.view(),
                var.view(),
            );
            self.class_count[c] += n_new;
        }
        self.all.update_batch(x);
        self.seen = self.seen.saturating_add(x.nrows() as u64);
        self.refresh_epsilon();
        Ok(())
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        let jll = self.joint_log_likelihood(x)?;
        Ok(jll.outer_iter().map(|r| decide(&self.classes, r.iter())).collect())
    }

    fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
        Ok(Some(softmax_rows(self.joint_log_likelihood(x)?)))
    }

    fn learn_predict(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<Array1<i64>, ModelError> {
        self.check_batch(x, y)?;
        if x.nrows() == 0 {
            return Ok(Array1::zeros(0));
        }
        self.ensure_features(x.ncols());
        let mut jll = Vec::new();
        Ok(x.outer_iter().zip(y.iter()).map(|(row, &label)| self.step_row(row, label, &mut jll)).collect())
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
        self.check_batch(x, y)
    }
}

super::inherent_classifier_methods!(GaussianNb);

/// What the joint log-likelihood needs per class: computed once per batch to predict,
/// and kept between rows of the prequential step, where a row changes one class's.
#[derive(Debug, Clone, Default)]
struct ClassTerms {
    /// `ln prior - 0.5 * sum ln(2 pi var)`, or -inf for a class with no rows.
    constant: Vec<f64>,
    /// `1 / var`, classes x features.
    inv_var: Array2<f64>,
    /// Each class's `sum ln(2 pi var)`.
    log_det: Vec<f64>,
    /// Whether a class's `inv_var` and `log_det` are those of its statistics now.
    fresh: Vec<bool>,
    /// Each class's count and its `ln`, as last computed.
    ln_count: Vec<(f64, f64)>,
    /// The smoothing they were computed with.
    eps: f64,
}

/// `sum((x - m)^2 * iv)` in four running sums, which the compiler keeps in one
/// vector register (a single sum must add in order, one value at a time).
fn scaled_square_sum(x: &[f64], m: &[f64], iv: &[f64]) -> f64 {
    const LANES: usize = 4;
    let mut sums = [0.0f64; LANES];
    let (xs, ms, ivs) = (x.chunks_exact(LANES), m.chunks_exact(LANES), iv.chunks_exact(LANES));
    let tail: f64 = xs
        .remainder()
        .iter()
        .zip(ms.remainder())
        .zip(ivs.remainder())
        .map(|((&xi, &mi), &vi)| (xi - mi) * (xi - mi) * vi)
        .sum();
    for ((x, m), iv) in xs.zip(ms).zip(ivs) {
        for lane in 0..LANES {
            let diff = x[lane] - m[lane];
            sums[lane] += diff * diff * iv[lane];
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

/// `sum(ln max(v + eps, MIN_POSITIVE))` over `values`, with one `ln` per 128 values
/// instead of one each: mantissas (in [1, 2)) are multiplied, exponents added exactly.
/// Four running products keep four multiplications in flight. The prequential
/// GaussianNb step needs this sum for every class on every row.
fn sum_ln_smoothed(values: &[f64], eps: f64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    const LANES: usize = 4;
    let (mut total, mut exponents) = (0.0, 0i64);
    let mut products = [1.0f64; LANES];
    let factor = |a: f64, product: &mut f64, total: &mut f64, exponents: &mut i64| {
        if a.is_normal() {
            let bits = a.to_bits();
            *exponents += ((bits >> 52) & 0x7ff) as i64 - 1023;
            *product *= f64::from_bits((bits & MANTISSA) | (1023 << 52));
        } else {
            *total += a.ln();
        }
    };
    // 32 factors below 2 stay below 2^32: each lane takes 32 before its `ln`.
    for block in values.chunks(LANES * 32) {
        let mut quads = block.chunks_exact(LANES);
        for quad in &mut quads {
            for (lane, &v) in quad.iter().enumerate() {
                factor((v + eps).max(f64::MIN_POSITIVE), &mut products[lane], &mut total, &mut exponents);
            }
        }
        for &v in quads.remainder() {
            factor((v + eps).max(f64::MIN_POSITIVE), &mut products[0], &mut total, &mut exponents);
        }
        // Four products below 2^32 each multiply to below 2^128: one `ln` for the block.
        total += (products[0] * products[1] * (products[2] * products[3])).ln();
        products = [1.0; LANES];
    }
    total + exponents as f64 * std::f64::consts::LN_2
}
super::impl_linfa_fit_with_classifier!(GaussianNbParams, GaussianNb);

/// `gaussian-nb` in the model language.
pub(crate) static GAUSSIAN_NB: Entry = Entry {
    name: "gaussian-nb",
    role: Role::Classifier,
    summary: "Gaussian naive Bayes (scikit-learn's GaussianNB)",
    params: &[
        Param::float(
            "var_smoothing",
            0.0,
            false,
            f64::INFINITY,
            "share of the largest feature variance added to every variance",
        ),
        Param::float(
            "halflife",
            0.0,
            false,
            f64::INFINITY,
            "records after which a record's weight in the priors, means and variances halves (0: off)",
        ),
    ],
    takes_counts: false,
    outputs_negative: false,
    defaults: registry::defaults_of::<GaussianNbParams>,
    build: registry::classifier_build!(GaussianNbParams),
    decode: registry::decode_classifier::<GaussianNb>,
};
impl_stage!(GaussianNb, GAUSSIAN_NB);

/// Exact: each class's count, means and variances of the replica's new rows are added
/// by Chan's formula, as a batch of them would be. Forgetting weighs records by when
/// they came, which replicas do not share.
impl super::merge::Merge for GaussianNb {
    fn merge_rule(&self) -> Option<super::merge::MergeRule> {
        (self.params.halflife == 0.0).then_some(super::merge::MergeRule::Exact)
    }

    fn fold(&mut self, base: &Self, replica: &Self, _share: f64) -> Result<(), String> {
        let Some(d) = replica.n_features else { return Ok(()) };
        if self.n_features.is_some_and(|n| n != d) || base.n_features.is_some_and(|n| n != d) {
            return Err("replicas with different features".into());
        }
        self.ensure_features(d);
        let class_moments = |m: &Self, c: usize| Moments {
            count: m.class_count[c],
            mean: m.theta.row(c).to_owned(),
            var: m.var.row(c).to_owned(),
        };
        for (r, &label) in replica.classes.as_slice().iter().enumerate() {
            let after = class_moments(replica, r);
            let new = match base.classes.index_of(label).filter(|_| base.n_features.is_some()) {
                Some(b) => moments::since(&after, &class_moments(base, b)),
                None => after,
            };
            let c = self.class_index(label);
            moments::merge(
                self.class_count[c],
                self.theta.row_mut(c),
                self.var.row_mut(c),
                new.count,
                new.mean.view(),
                new.var.view(),
            );
            self.class_count[c] += new.count;
        }
        self.all.absorb(&moments::since(&replica.all, &base.all));
        self.seen += replica.seen.saturating_sub(base.seen);
        self.refresh_epsilon();
        Ok(())
    }
}

impl GaussianNb {
    /// The parameters the model was built with.
    pub fn get_params(&self) -> &GaussianNbParams {
        &self.params
    }
}

/// Parameters of [`MultinomialNb`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MultinomialNbParams {
    /// Additive (Laplace/Lidstone) smoothing (default 1).
    pub alpha: f64,
    /// Learn class priors from the counts (default true) or use uniform ones.
    pub fit_prior: bool,
    /// Declared classes, or `None` to discover them.
    pub classes: Option<Vec<i64>>,
}

impl Default for MultinomialNbParams {
    fn default() -> Self {
        Self { alpha: 1.0, fit_prior: true, classes: None }
    }
}

impl MultinomialNbParams {
    /// Set the smoothing.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }
    /// Learn priors or use uniform ones.
    pub fn fit_prior(mut self, fit_prior: bool) -> Self {
        self.fit_prior = fit_prior;
        self
    }
    /// Declare the classes up front.
    pub fn classes(mut self, classes: &[i64]) -> Self {
        self.classes = Some(classes.to_vec());
        self
    }
    /// Check the parameters and build an untrained model.
    pub fn build(self) -> Result<MultinomialNb, ParamsError> {
        // alpha = 0 would take the log of zero counts.
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(ParamsError::Alpha(self.alpha));
        }
        let classes = Classes::declared_or_discover(self.classes.as_deref())?;
        let n = classes.len();
        Ok(MultinomialNb {
            params: self,
            classes,
            n_features: None,
            feature_count: Array2::zeros((n, 0)),
            class_count: Array1::zeros(n),
            seen: 0,
        })
    }
}

/// Multinomial naive Bayes (scikit-learn's `MultinomialNB`) for count features.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MultinomialNb {
    params: MultinomialNbParams,
    classes: Classes,
    n_features: Option<usize>,
    feature_count: Array2<f64>,
    class_count: Array1<f64>,
    seen: u64,
}

/// `multinomial-nb` in the model language.
pub(crate) static MULTINOMIAL_NB: Entry = Entry {
    name: "multinomial-nb",
    role: Role::Classifier,
    summary: "multinomial naive Bayes for count features (scikit-learn's MultinomialNB)",
    params: &[
        Param::float("alpha", 0.0, true, f64::INFINITY, "additive (Laplace/Lidstone) smoothing"),
        Param::bool("fit_prior", "learn class priors (true) or use uniform ones"),
    ],
    takes_counts: true,
    outputs_negative: false,
    defaults: registry::defaults_of::<MultinomialNbParams>,
    build: registry::classifier_build!(MultinomialNbParams),
    decode: registry::decode_classifier::<MultinomialNb>,
};
impl_stage!(MultinomialNb, MULTINOMIAL_NB);

/// Exact: counts are added.
impl super::merge::Merge for MultinomialNb {
    fn merge_rule(&self) -> Option<super::merge::MergeRule> {
        Some(super::merge::MergeRule::Exact)
    }

    fn fold(&mut self, base: &Self, replica: &Self, _share: f64) -> Result<(), String> {
        let Some(d) = replica.n_features else { return Ok(()) };
        if self.n_features.is_some_and(|n| n != d) || base.n_features.is_some_and(|n| n != d) {
            return Err("replicas with different features".into());
        }
        self.ensure_features(d);
        for (r, &label) in replica.classes.as_slice().iter().enumerate() {
            let (c, _) = self.class_index(label);
            let mut features = replica.feature_count.row(r).to_owned();
            let mut count = replica.class_count[r];
            if let Some(b) = base.classes.index_of(label).filter(|_| base.n_features.is_some()) {
                features -= &base.feature_count.row(b);
                count -= base.class_count[b];
            }
            self.feature_count.row_mut(c).scaled_add(1.0, &features);
            self.class_count[c] += count;
        }
        self.seen += replica.seen.saturating_sub(base.seen);
        Ok(())
    }
}

impl MultinomialNb {
    /// Check a decoded state: the parameters obey their rules and the counts fit them.
    pub(crate) fn check_state(&self) -> Result<(), String> {
        use super::validate::state::{counts, ensure, shape};
        let fresh = self.params.clone().build().map_err(|e| format!("its parameters: {e}"))?;
        check_classes(&self.classes, &fresh.classes)?;
        let (k, d) = (self.classes.len(), self.n_features.unwrap_or(0));
        ensure(self.n_features != Some(0), || "zero features".into())?;
        shape("feature counts", &self.feature_count, &[k, d])?;
        shape("class counts", &self.class_count, &[k])?;
        counts("feature counts", &self.feature_count)?;
        counts("class counts", &self.class_count)
    }

    /// Take more features (see [`crate::model::Stage::grow`]): their counts are 0.
    pub(crate) fn grow(&mut self, n_features: usize) -> Result<(), String> {
        let Some(d) = self.n_features else { return Ok(()) };
        if n_features < d {
            return Err(format!("cannot shrink from {d} to {n_features} features"));
        }
        self.feature_count = super::grow_columns(&self.feature_count, n_features);
        self.n_features = Some(n_features);
        Ok(())
    }

    /// The parameters the model was built with.
    pub fn get_params(&self) -> &MultinomialNbParams {
        &self.params
    }

    /// True when every number of the state is finite: a value so large that the
    /// arithmetic overflowed leaves an infinity or a NaN behind.
    pub(crate) fn state_is_finite(&self) -> bool {
        crate::moments::all_finite(&self.feature_count) && crate::moments::all_finite(&self.class_count)
    }

    /// Default parameters (scikit-learn's).
    pub fn params() -> MultinomialNbParams {
        MultinomialNbParams::default()
    }

    /// Summed features per class (scikit-learn's `feature_count_`).
    pub fn feature_count(&self) -> ArrayView2<'_, f64> {
        self.feature_count.view()
    }

    /// Rows seen per class (with a `halflife`, their exponentially decayed weights).
    pub fn class_count(&self) -> ArrayView1<'_, f64> {
        self.class_count.view()
    }

    /// Smoothed log probability of each feature given each class.
    pub fn feature_log_prob(&self) -> Array2<f64> {
        let mut flp = Array2::zeros(self.feature_count.raw_dim());
        for c in 0..self.classes.len() {
            self.update_log_prob_row(c, &mut flp);
        }
        flp
    }

    /// Log prior of each class.
    pub fn class_log_prior(&self) -> Array1<f64> {
        let n = self.classes.len() as f64;
        if !self.params.fit_prior {
            return Array1::from_elem(self.classes.len(), -n.ln());
        }
        let total = self.class_count.sum().ln();
        self.class_count.mapv(|c| c.ln() - total)
    }

    fn update_log_prob_row(&self, c: usize, flp: &mut Array2<f64>) {
        let alpha = self.params.alpha;
        let fc = self.feature_count.row(c);
        let denom = (fc.sum() + alpha * fc.len() as f64).ln();
        for (o, &v) in flp.row_mut(c).iter_mut().zip(fc.iter()) {
            *o = (v + alpha).ln() - denom;
        }
    }

    /// Joint log-likelihood of each row and class, `rows x classes`.
    pub fn joint_log_likelihood(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
        let d = self.n_features.ok_or(ModelError::NotFitted("MultinomialNb"))?;
        self.check_features(x, Some(d))?;
        Ok(x.dot(&self.feature_log_prob().t()) + &self.class_log_prior())
    }

    fn check_features(&self, x: ArrayView2<f64>, d: Option<usize>) -> Result<(), ModelError> {
        validate::features(x, d)?;
        for (row, r) in x.outer_iter().enumerate() {
            if let Some((column, &value)) = r.iter().enumerate().find(|(_, &v)| v < 0.0) {
                return Err(ModelError::NegativeFeature { row, column, value, model: "MultinomialNb" });
            }
        }
        Ok(())
    }

    fn check_batch(&self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        validate::label_count(x, y)?;
        self.check_features(x, self.n_features)?;
        self.classes.check(y)
    }

    fn ensure_features(&mut self, d: usize) {
        if self.n_features.is_none() {
            self.n_features = Some(d);
            self.feature_count = Array2::zeros((self.classes.len(), d));
        }
    }

    fn class_index(&mut self, label: i64) -> (usize, bool) {
        let (i, inserted) = self.classes.index_or_insert(label);
        if inserted {
            self.feature_count = insert_zero_row(&self.feature_count, i);
            let mut cc = self.class_count.to_vec();
            cc.insert(i, 0.0);
            self.class_count = Array1::from(cc);
        }
        (i, inserted)
    }

    fn learn_row(&mut self, x: ArrayView1<f64>, c: usize) {
        self.feature_count.row_mut(c).scaled_add(1.0, &x);
        self.class_count[c] += 1.0;
        self.seen = self.seen.saturating_add(1);
    }
}

impl OnlineClassifier for MultinomialNb {
    fn partial_fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        self.check_batch(x, y)?;
        if x.nrows() == 0 {
            return Ok(());
        }
        self.ensure_features(x.ncols());
        for (row, &label) in x.outer_iter().zip(y.iter()) {
            let (c, _) = self.class_index(label);
            self.learn_row(row, c);
        }
        Ok(())
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        let jll = self.joint_log_likelihood(x)?;
        Ok(jll.outer_iter().map(|r| decide(&self.classes, r.iter())).collect())
    }

    fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
        Ok(Some(softmax_rows(self.joint_log_likelihood(x)?)))
    }

    fn learn_predict(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<Array1<i64>, ModelError> {
        self.check_batch(x, y)?;
        if x.nrows() == 0 {
            return Ok(Array1::zeros(0));
        }
        self.ensure_features(x.ncols());
        // Log probabilities are kept current row by row: only the learned class's row
        // and the priors change, so a step costs O(d + classes), not O(d * classes).
        let mut flp = self.feature_log_prob();
        let mut prior = self.class_log_prior();
        let mut jll = Vec::new();
        let mut out = Array1::zeros(x.nrows());
        for ((row, &label), o) in x.outer_iter().zip(y.iter()).zip(out.iter_mut()) {
            jll.clear();
            jll.extend(flp.outer_iter().zip(prior.iter()).map(|(f, &p)| f.dot(&row) + p));
            *o = if self.seen == 0 && self.params.fit_prior {
                cold_start(&self.classes)
            } else {
                decide(&self.classes, &jll)
            };
            let (c, inserted) = self.class_index(label);
            if inserted {
                flp = insert_zero_row(&flp, c);
                prior = self.class_log_prior();
            }
            self.learn_row(row, c);
            self.update_log_prob_row(c, &mut flp);
            if self.params.fit_prior {
                // Only the total and this class's count changed.
                let total = (self.seen as f64).ln();
                for (p, &count) in prior.iter_mut().zip(self.class_count.iter()) {
                    *p = count.ln() - total;
                }
            }
        }
        Ok(out)
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
        self.check_batch(x, y)
    }
}

super::inherent_classifier_methods!(MultinomialNb);
super::impl_linfa_fit_with_classifier!(MultinomialNbParams, MultinomialNb);

/// The class with the highest joint log-likelihood. Before any data: the first
/// declared class, or [`NO_PREDICTION`] when none is known.
fn decide<'a>(classes: &Classes, jll: impl IntoIterator<Item = &'a f64>) -> i64 {
    let mut best: Option<(usize, f64)> = None;
    for (i, &v) in jll.into_iter().enumerate() {
        if v > f64::NEG_INFINITY && best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    match best {
        Some((i, _)) => classes.as_slice()[i],
        None => cold_start(classes),
    }
}

fn cold_start(classes: &Classes) -> i64 {
    classes.as_slice().first().copied().unwrap_or(NO_PREDICTION)
}

/// Normalised probabilities from log-likelihoods (log-sum-exp), uniform when no class has data.
fn softmax_rows(mut jll: Array2<f64>) -> Array2<f64> {
    let n = jll.ncols() as f64;
    for mut row in jll.outer_iter_mut() {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            row.fill(1.0 / n);
            continue;
        }
        row.mapv_inplace(|v| (v - max).exp());
        let s = row.sum();
        row /= s;
    }
    jll
}

#[cfg(test)]
mod tests {
    use super::{sum_ln_smoothed, GaussianNb};
    use ndarray::{Array1, Array2};

    /// The terms kept between rows are those computed afresh: a model whose kept
    /// terms are dropped before every row (a copy through its file format) labels
    /// the stream as the one that keeps them, and ends with the same joint likelihoods.
    #[test]
    fn kept_class_terms_are_the_fresh_ones() {
        let (n, d) = (3000, 5);
        let x = Array2::from_shape_fn((n, d), |(i, j)| ((i * 7 + j * 13) % 29) as f64 * 0.37 + (i % 3) as f64);
        let y = Array1::from_shape_fn(n, |i| (i % 3) as i64 + if i % 11 == 0 { 3 } else { 0 });
        let mut kept = GaussianNb::params().build().expect("valid");
        let mut fresh = GaussianNb::params().build().expect("valid");
        let mut labels = (Vec::new(), Vec::new());
        for i in 0..n {
            let (row, label) = (x.slice(ndarray::s![i..i + 1, ..]), y.slice(ndarray::s![i..i + 1]));
            labels.0.extend(kept.learn_predict(row, label).expect("learns"));
            let text = serde_json::to_string(&fresh).expect("saves");
            fresh = serde_json::from_str(&text).expect("loads");
            labels.1.extend(fresh.learn_predict(row, label).expect("learns"));
        }
        assert_eq!(labels.0, labels.1);
        let (a, b) =
            (kept.joint_log_likelihood(x.view()).expect("jll"), fresh.joint_log_likelihood(x.view()).expect("jll"));
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
        assert_eq!(kept.epsilon().to_bits(), fresh.epsilon().to_bits());
    }

    #[test]
    fn sum_ln_matches_summed_logs() {
        // 199 values: full blocks of 128, quads and a remainder.
        let values: Vec<f64> = (1..200).map(|i| (i as f64).powf(1.7) * 1e-3 + 1e-300 * i as f64).collect();
        for eps in [0.0, 1e-9, 0.5] {
            let naive: f64 = values.iter().map(|v| (v + eps).ln()).sum();
            let fast = sum_ln_smoothed(&values, eps);
            assert!((naive - fast).abs() <= 1e-12 * naive.abs(), "{naive} vs {fast}");
        }
        // Subnormal and zero values take their own `ln` (floored at the smallest normal).
        assert_eq!(sum_ln_smoothed(&[f64::MIN_POSITIVE / 4.0], 0.0), f64::MIN_POSITIVE.ln());
        assert_eq!(sum_ln_smoothed(&[], 0.0), 0.0);
    }
}
