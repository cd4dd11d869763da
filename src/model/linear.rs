//! Linear classifiers trained by stochastic updates: SGD, Perceptron, Passive-Aggressive.
//!
//! Written on ndarray rather than taken from linfa: linfa 0.8 has no incremental
//! linear classifier except FTRL (binary, log loss only). The row update mirrors
//! scikit-learn's `_plain_sgd` (same schedules, clipping, penalty order, `t`
//! bookkeeping, one-vs-rest for more than two classes), so `partial_fit` gives
//! scikit-learn's coefficients; the parity tests under `tests/` hold us to it.
//!
//! One deliberate difference: the cumulative L1 penalty (`u`, `q` of Tsuruoka et
//! al.) is kept across calls, where scikit-learn restarts it at every
//! `partial_fit` call. That keeps the model independent of how a stream is cut
//! into batches.

use super::registry::{self, Entry, Param, Role};
use super::stage::impl_stage;
use super::{insert_zero_row, validate, Classes, OnlineClassifier, NO_PREDICTION};
use crate::error::{ModelError, ParamsError};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// scikit-learn clips the loss derivative to this magnitude.
const MAX_DLOSS: f64 = 1e12;

/// Loss of [`SgdClassifier`] (scikit-learn's `loss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Logistic regression (`log_loss`); gives probabilities.
    #[serde(rename = "log_loss", alias = "log")]
    Log,
    /// Linear SVM (`hinge`), scikit-learn's default.
    Hinge,
    /// Smoothed hinge (`modified_huber`); gives probabilities.
    ModifiedHuber,
}

/// Regularisation term (scikit-learn's `penalty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Penalty {
    /// No regularisation.
    None,
    /// Squared L2 norm (ridge), the default.
    L2,
    /// L1 norm (lasso), by cumulative truncated gradient.
    L1,
    /// `(1 - l1_ratio) * L2 + l1_ratio * L1`.
    #[serde(rename = "elasticnet")]
    ElasticNet,
}

/// Learning-rate schedule (scikit-learn's `learning_rate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearningRate {
    /// `1 / (alpha * (t0 + t - 1))` with Bottou's heuristic `t0`; the default.
    Optimal,
    /// `eta0` throughout.
    Constant,
    /// `eta0 / t^power_t`.
    #[serde(rename = "invscaling")]
    InvScaling,
    /// River's `optim.AdaGrad(lr=eta0, eps)`: each weight's step is `eta0 / sqrt(G + eps)`,
    /// `G` the sum of its squared gradients.
    #[serde(rename = "adagrad")]
    AdaGrad,
    /// River's `optim.RMSProp(lr=eta0, rho, eps)`: as AdaGrad with a running mean
    /// (`rho`) of squared gradients in place of their sum.
    #[serde(rename = "rmsprop")]
    RmsProp,
    /// River's `optim.Adam(lr=eta0, beta_1, beta_2, eps)`.
    Adam,
}

impl LearningRate {
    /// True for the adaptive step sizes (River's optimisers), which keep per-weight state.
    pub fn is_adaptive(self) -> bool {
        matches!(self, Self::AdaGrad | Self::RmsProp | Self::Adam)
    }
    fn name(self) -> &'static str {
        match self {
            Self::Optimal => "optimal",
            Self::Constant => "constant",
            Self::InvScaling => "invscaling",
            Self::AdaGrad => "adagrad",
            Self::RmsProp => "rmsprop",
            Self::Adam => "adam",
        }
    }
}

/// Settings of the adaptive step sizes, with River's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Adaptive {
    beta_1: f64,
    beta_2: f64,
    rho: f64,
    eps: f64,
    intercept_lr: f64,
}

impl Default for Adaptive {
    fn default() -> Self {
        Self { beta_1: 0.9, beta_2: 0.999, rho: 0.9, eps: 1e-8, intercept_lr: 0.01 }
    }
}

impl Adaptive {
    fn check(&self) -> Result<(), ParamsError> {
        for (name, value) in [("beta_1", self.beta_1), ("beta_2", self.beta_2), ("rho", self.rho)] {
            if !(0.0..1.0).contains(&value) {
                return Err(ParamsError::DecayRate { name, value });
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(ParamsError::Eps(self.eps));
        }
        if !(self.intercept_lr.is_finite() && self.intercept_lr >= 0.0) {
            return Err(ParamsError::InterceptLr(self.intercept_lr));
        }
        Ok(())
    }

    fn same_as(&self, other: &Self) -> bool {
        let bits = |a: &Self| {
            [a.beta_1.to_bits(), a.beta_2.to_bits(), a.rho.to_bits(), a.eps.to_bits(), a.intercept_lr.to_bits()]
        };
        bits(self) == bits(other)
    }
}

/// Per-weight state of the adaptive step sizes, one row per binary problem (as `coef`).
/// Every array is empty for scikit-learn's schedules.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Accumulators {
    /// Adam's running mean of gradients (`m`); empty for AdaGrad and RMSProp.
    mean: Array2<f64>,
    /// Adam's running mean of squared gradients (`v`), AdaGrad's sum of them or
    /// RMSProp's running mean (`g2`).
    sq: Array2<f64>,
    /// Steps each binary problem has taken (Adam's bias correction).
    steps: Array1<f64>,
}

/// Passive-Aggressive variant (scikit-learn's `loss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaLoss {
    /// PA-I: step `min(C, loss / |x|^2)`.
    Hinge,
    /// PA-II: step `loss / (|x|^2 + 1 / (2C))`.
    SquaredHinge,
}

/// How one row changes the weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Rule {
    /// A gradient step on a margin loss.
    Gradient(Margin),
    /// Passive-Aggressive I with aggressiveness C.
    Pa1(f64),
    /// Passive-Aggressive II with aggressiveness C.
    Pa2(f64),
}

/// Margin losses, as functions of the score `p` and the target `y` in {-1, +1}.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Margin {
    Log,
    /// Hinge with a threshold: 1 for SVM, 0 for the perceptron.
    Hinge(f64),
    ModifiedHuber,
}

impl Margin {
    /// d loss / d p, as in scikit-learn's `_sgd_fast`.
    fn dloss(self, p: f64, y: f64) -> f64 {
        let z = p * y;
        match self {
            Margin::Log => {
                // scikit-learn's half-binomial gradient, expit(p) - y01 with y01 in {0, 1},
                // in its overflow-safe form.
                let y01 = (y + 1.0) / 2.0;
                if p > -37.0 {
                    let e = (-p).exp();
                    ((1.0 - y01) - y01 * e) / (1.0 + e)
                } else {
                    p.exp() - y01
                }
            }
            Margin::Hinge(threshold) => {
                if z <= threshold {
                    -y
                } else {
                    0.0
                }
            }
            Margin::ModifiedHuber => {
                if z >= 1.0 {
                    0.0
                } else if z >= -1.0 {
                    -2.0 * (1.0 - z) * y
                } else {
                    -4.0 * y
                }
            }
        }
    }
}

/// The state shared by every linear classifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LinearCore {
    rule: Rule,
    penalty: Penalty,
    alpha: f64,
    l1_ratio: f64,
    schedule: LearningRate,
    eta0: f64,
    power_t: f64,
    fit_intercept: bool,
    /// `t0` of the optimal schedule, fixed by `alpha` and the loss.
    optimal_init: f64,
    /// Settings of the adaptive step sizes.
    adaptive: Adaptive,
    classes: Classes,
    n_features: Option<usize>,
    /// One row per binary problem: one for two classes (positive = `classes[1]`),
    /// one per class (one-vs-rest) for three or more, none below two.
    coef: Array2<f64>,
    intercept: Array1<f64>,
    /// scikit-learn's `t_`: 1 + rows learned with at least two classes known.
    t: f64,
    /// Cumulative L1 penalty per unit weight so far (`u`).
    l1_u: f64,
    /// L1 penalty actually applied to each weight (`q`).
    l1_q: Array2<f64>,
    /// Per-weight state of the adaptive step sizes.
    acc: Accumulators,
    seen: u64,
}

impl LinearCore {
    /// Check a decoded core against the core its parameters build (`fresh`).
    fn check_state(&self, fresh: &LinearCore) -> Result<(), String> {
        use super::validate::state::{ensure, finite, shape};
        let same_settings = self.rule == fresh.rule
            && self.penalty == fresh.penalty
            && self.alpha.to_bits() == fresh.alpha.to_bits()
            && self.l1_ratio.to_bits() == fresh.l1_ratio.to_bits()
            && self.schedule == fresh.schedule
            && self.eta0.to_bits() == fresh.eta0.to_bits()
            && self.power_t.to_bits() == fresh.power_t.to_bits()
            && self.fit_intercept == fresh.fit_intercept
            && self.optimal_init.to_bits() == fresh.optimal_init.to_bits()
            && self.adaptive.same_as(&fresh.adaptive);
        ensure(same_settings, || "the learning settings differ from the parameters".into())?;
        self.classes.check_state()?;
        ensure(self.classes.is_fixed() == fresh.classes.is_fixed(), || {
            "declared classes differ from the parameters".into()
        })?;
        if fresh.classes.is_fixed() {
            ensure(self.classes == fresh.classes, || "declared classes differ from the parameters".into())?;
        }
        let m = Self::n_models(self.classes.len());
        match self.n_features {
            Some(d) => {
                ensure(d >= 1, || "zero features".into())?;
                shape("coef", &self.coef, &[m, d])?;
                shape("l1 penalties", &self.l1_q, &[m, d])?;
                shape("intercept", &self.intercept, &[m])?;
            }
            None => {
                shape("coef", &self.coef, &[0, 0])?;
                shape("l1 penalties", &self.l1_q, &[0, 0])?;
                shape("intercept", &self.intercept, &[0])?;
            }
        }
        let (mean_shape, sq_shape, steps_shape) = self.acc_shapes();
        shape("gradient means", &self.acc.mean, &mean_shape)?;
        shape("squared gradients", &self.acc.sq, &sq_shape)?;
        shape("adaptive steps", &self.acc.steps, &[steps_shape])?;
        finite("coef", &self.coef)?;
        finite("intercept", &self.intercept)?;
        finite("l1 penalties", &self.l1_q)?;
        finite("gradient means", &self.acc.mean)?;
        super::validate::state::counts("squared gradients", &self.acc.sq)?;
        super::validate::state::counts("adaptive steps", &self.acc.steps)?;
        ensure(self.t.is_finite() && self.t >= 1.0, || format!("t is {}, expected a number >= 1", self.t))?;
        ensure(self.l1_u.is_finite() && self.l1_u >= 0.0, || format!("the l1 total is {}", self.l1_u))
    }

    /// New features get weight 0, which is where learning would have left them had
    /// they been 0 all along: their gradient is 0, and no penalty moves a 0 weight.
    fn grow_features(&mut self, n_features: usize) -> Result<(), String> {
        let Some(d) = self.n_features else { return Ok(()) };
        if n_features < d {
            return Err(format!("cannot shrink from {d} to {n_features} features"));
        }
        self.coef = super::grow_columns(&self.coef, n_features);
        self.l1_q = super::grow_columns(&self.l1_q, n_features);
        self.acc.mean = super::grow_columns(&self.acc.mean, n_features);
        self.acc.sq = super::grow_columns(&self.acc.sq, n_features);
        self.n_features = Some(n_features);
        Ok(())
    }

    fn state_is_finite(&self) -> bool {
        crate::moments::all_finite(&self.coef)
            && crate::moments::all_finite(&self.intercept)
            && self.t.is_finite()
            && crate::moments::all_finite(&self.acc.mean)
            && crate::moments::all_finite(&self.acc.sq)
    }

    /// The shapes of the adaptive state (gradient means, squared gradients, steps)
    /// for the weights as they are.
    fn acc_shapes(&self) -> ([usize; 2], [usize; 2], usize) {
        let (m, d) = self.coef.dim();
        match self.schedule {
            LearningRate::Adam => ([m, d], [m, d], m),
            LearningRate::AdaGrad | LearningRate::RmsProp => ([0, 0], [m, d], m),
            LearningRate::Optimal | LearningRate::Constant | LearningRate::InvScaling => ([0, 0], [0, 0], 0),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        rule: Rule,
        penalty: Penalty,
        alpha: f64,
        l1_ratio: f64,
        schedule: LearningRate,
        eta0: f64,
        power_t: f64,
        fit_intercept: bool,
        adaptive: Adaptive,
        classes: Option<&[i64]>,
    ) -> Result<Self, ParamsError> {
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(ParamsError::Alpha(alpha));
        }
        if !(0.0..=1.0).contains(&l1_ratio) {
            return Err(ParamsError::L1Ratio(l1_ratio));
        }
        if !power_t.is_finite() {
            return Err(ParamsError::PowerT(power_t));
        }
        let mut optimal_init = 0.0;
        if let Rule::Gradient(margin) = rule {
            match schedule {
                LearningRate::Optimal => {
                    if alpha <= 0.0 {
                        return Err(ParamsError::OptimalNeedsAlpha);
                    }
                    // Bottou's heuristic, as scikit-learn: eta at t = 1 is typw / max(1, dloss).
                    let typw = (1.0 / alpha.sqrt()).sqrt();
                    let initial_eta0 = typw / margin.dloss(-typw, 1.0).max(1.0);
                    optimal_init = 1.0 / (initial_eta0 * alpha);
                }
                LearningRate::Constant
                | LearningRate::InvScaling
                | LearningRate::AdaGrad
                | LearningRate::RmsProp
                | LearningRate::Adam => {
                    if !(eta0.is_finite() && eta0 > 0.0) {
                        return Err(ParamsError::Eta0 { schedule: schedule.name(), value: eta0 });
                    }
                }
            }
        }
        adaptive.check()?;
        let classes = Classes::declared_or_discover(classes)?;
        // As scikit-learn: l1_ratio only mixes for elastic net; L2 is all L2, L1 all L1.
        let l1_ratio = match penalty {
            Penalty::L2 | Penalty::None => 0.0,
            Penalty::L1 => 1.0,
            Penalty::ElasticNet => l1_ratio,
        };
        Ok(Self {
            rule,
            penalty,
            alpha,
            l1_ratio,
            schedule,
            eta0,
            power_t,
            fit_intercept,
            optimal_init,
            adaptive,
            classes,
            n_features: None,
            coef: Array2::zeros((0, 0)),
            intercept: Array1::zeros(0),
            t: 1.0,
            l1_u: 0.0,
            l1_q: Array2::zeros((0, 0)),
            acc: Accumulators::default(),
            seen: 0,
        })
    }

    fn n_models(n_classes: usize) -> usize {
        match n_classes {
            0 | 1 => 0,
            2 => 1,
            n => n,
        }
    }

    fn validate(&self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        validate::label_count(x, y)?;
        validate::features(x, self.n_features)?;
        self.classes.check(y)
    }

    /// Allocate the weights once the feature count is known.
    fn ensure_features(&mut self, d: usize) {
        if self.n_features.is_none() {
            self.n_features = Some(d);
            let m = Self::n_models(self.classes.len());
            self.coef = Array2::zeros((m, d));
            self.intercept = Array1::zeros(m);
            self.l1_q = Array2::zeros((m, d));
            let (mean, sq, steps) = self.acc_shapes();
            self.acc = Accumulators { mean: Array2::zeros(mean), sq: Array2::zeros(sq), steps: Array1::zeros(steps) };
        }
    }

    /// Fold what `replica` learned since `base` (see [`super::merge::Merge::fold`]):
    /// the three are first brought to the same classes (the union) and features, as
    /// learning would grow them; then each weight moves by `share` of the replica's change
    /// (parameter mixing), and the step counters add up, as if one model had taken
    /// every replica's rows.
    fn fold(&mut self, base: &LinearCore, replica: &LinearCore, share: f64) -> Result<(), String> {
        let Some(d) = replica.n_features else { return Ok(()) };
        if self.n_features.is_some_and(|n| n != d) || base.n_features.is_some_and(|n| n != d) {
            return Err("replicas with different features".into());
        }
        let union = super::merge::union_classes(
            &super::merge::union_classes(self.classes.as_slice(), base.classes.as_slice()),
            replica.classes.as_slice(),
        );
        let (mut base, mut replica) = (base.clone(), replica.clone());
        for core in [&mut *self, &mut base, &mut replica] {
            core.ensure_features(d);
            for &label in &union {
                let (at, inserted) = core.classes.index_or_insert(label);
                if inserted {
                    core.grow(at);
                }
            }
        }
        let mix = |shared: &mut Array2<f64>, after: &Array2<f64>, before: &Array2<f64>| {
            if shared.dim() == after.dim() && after.dim() == before.dim() {
                shared.scaled_add(share, &(after - before));
            }
        };
        mix(&mut self.coef, &replica.coef, &base.coef);
        mix(&mut self.l1_q, &replica.l1_q, &base.l1_q);
        mix(&mut self.acc.mean, &replica.acc.mean, &base.acc.mean);
        mix(&mut self.acc.sq, &replica.acc.sq, &base.acc.sq);
        self.intercept.scaled_add(share, &(&replica.intercept - &base.intercept));
        if self.acc.steps.len() == replica.acc.steps.len() && base.acc.steps.len() == replica.acc.steps.len() {
            self.acc.steps += &(&replica.acc.steps - &base.acc.steps);
        }
        self.t += replica.t - base.t;
        self.l1_u += replica.l1_u - base.l1_u;
        self.seen += replica.seen.saturating_sub(base.seen);
        Ok(())
    }

    /// Grow the weights after a new class was inserted at `at`.
    fn grow(&mut self, at: usize) {
        let n_new = self.classes.len();
        let d = self.n_features.unwrap_or(0);
        self.coef = grow_rows(&self.coef, n_new, at, d, -1.0);
        self.l1_q = grow_rows(&self.l1_q, n_new, at, d, -1.0);
        self.intercept =
            grow_rows(&self.intercept.view().insert_axis(Axis(1)).to_owned(), n_new, at, 1, -1.0).column(0).to_owned();
        // The adaptive state follows its weights: a negated problem has negated
        // gradients (the same squares), and a new class starts from nothing.
        let (mean, sq, steps) = self.acc_shapes();
        if mean[0] > 0 {
            self.acc.mean = grow_rows(&self.acc.mean, n_new, at, d, -1.0);
        }
        if sq[0] > 0 {
            self.acc.sq = grow_rows(&self.acc.sq, n_new, at, d, 1.0);
        }
        if steps > 0 {
            self.acc.steps = grow_rows(&self.acc.steps.view().insert_axis(Axis(1)).to_owned(), n_new, at, 1, 1.0)
                .column(0)
                .to_owned();
        }
    }

    fn eta(&self) -> f64 {
        match self.schedule {
            LearningRate::Optimal => 1.0 / (self.alpha * (self.optimal_init + self.t - 1.0)),
            LearningRate::Constant => self.eta0,
            LearningRate::InvScaling => self.eta0 / self.t.powf(self.power_t),
            // The base rate; the adaptive steps scale it per weight.
            LearningRate::AdaGrad | LearningRate::RmsProp | LearningRate::Adam => self.eta0,
        }
    }

    /// Scores of one row into `scores` (one per binary problem).
    fn scores(&self, x: ArrayView1<f64>, scores: &mut Vec<f64>) {
        scores.clear();
        for (w, b) in self.coef.outer_iter().zip(self.intercept.iter()) {
            scores.push(w.dot(&x) + b);
        }
    }

    /// The class the scores point at; `NO_PREDICTION` when no class is known.
    fn decide<'a>(&self, scores: impl IntoIterator<Item = &'a f64>) -> i64 {
        let classes = self.classes.as_slice();
        let mut scores = scores.into_iter();
        match classes.len() {
            0 => NO_PREDICTION,
            1 => classes[0],
            2 => classes[usize::from(scores.next().is_some_and(|&s| s > 0.0))],
            _ => classes[argmax(scores)],
        }
    }

    /// Predict then learn one validated row.
    fn step(&mut self, x: ArrayView1<f64>, y: i64, scores: &mut Vec<f64>) -> i64 {
        self.scores(x, scores);
        let predicted = self.decide(scores.iter());
        let (target, inserted) = self.classes.index_or_insert(y);
        if inserted {
            self.grow(target);
            self.scores(x, scores);
        }
        self.seen = self.seen.saturating_add(1);
        let n_models = self.coef.nrows();
        if n_models == 0 {
            // Fewer than two classes known: nothing to separate yet.
            return predicted;
        }
        if self.schedule.is_adaptive() {
            if let Rule::Gradient(margin) = self.rule {
                self.adaptive_step(margin, x, target, scores);
                self.t += 1.0;
                return predicted;
            }
        }
        let eta = self.eta();
        let sqnorm = match self.rule {
            Rule::Pa1(_) | Rule::Pa2(_) => x.dot(&x),
            Rule::Gradient(_) => 0.0,
        };
        if matches!(self.rule, Rule::Pa1(_)) && sqnorm == 0.0 {
            // scikit-learn skips an all-zero row under PA-I (the step would divide by
            // zero) but still counts it in `t_`. PA-II has no such guard.
            self.t += 1.0;
            return predicted;
        }
        let l2_scale = match self.penalty {
            Penalty::L2 | Penalty::ElasticNet => (1.0 - (1.0 - self.l1_ratio) * eta * self.alpha).max(0.0),
            Penalty::None | Penalty::L1 => 1.0,
        };
        let l1 = matches!(self.penalty, Penalty::L1 | Penalty::ElasticNet);
        if l1 {
            self.l1_u += self.l1_ratio * eta * self.alpha;
        }
        for (m, &p) in scores.iter().enumerate().take(n_models) {
            let y_m = if n_models == 1 {
                if target == 1 {
                    1.0
                } else {
                    -1.0
                }
            } else if target == m {
                1.0
            } else {
                -1.0
            };
            let update = match self.rule {
                Rule::Gradient(margin) => -eta * margin.dloss(p, y_m).clamp(-MAX_DLOSS, MAX_DLOSS),
                Rule::Pa1(c) => (c.min(hinge(p, y_m) / sqnorm)) * y_m,
                Rule::Pa2(c) => (hinge(p, y_m) / (sqnorm + 0.5 / c)) * y_m,
            };
            let mut w = self.coef.row_mut(m);
            if l2_scale != 1.0 {
                w *= l2_scale;
            }
            if update != 0.0 {
                w.scaled_add(update, &x);
                if self.fit_intercept {
                    self.intercept[m] += update;
                }
            }
            if l1 {
                apply_l1(w, self.l1_q.row_mut(m), self.l1_u);
            }
        }
        self.t += 1.0;
        predicted
    }

    /// One row's step with an adaptive step size, as River's `GLM._fit` with one of its
    /// optimisers: the intercept takes a plain step of `intercept_lr` times the loss
    /// gradient; each weight's gradient (`dloss * x_j`, plus `alpha * w_j` for the L2
    /// part of the penalty, River's `l2`) goes through AdaGrad, RMSProp or Adam with
    /// `lr = eta0`; the L1 part is the cumulative penalty, accrued at `eta0 * alpha`.
    fn adaptive_step(&mut self, margin: Margin, x: ArrayView1<f64>, target: usize, scores: &[f64]) {
        let n_models = self.coef.nrows();
        let lr = self.eta0;
        let Adaptive { beta_1, beta_2, rho, eps, intercept_lr } = self.adaptive;
        let l2 = match self.penalty {
            Penalty::L2 | Penalty::ElasticNet => (1.0 - self.l1_ratio) * self.alpha,
            Penalty::None | Penalty::L1 => 0.0,
        };
        let l1 = matches!(self.penalty, Penalty::L1 | Penalty::ElasticNet);
        if l1 {
            self.l1_u += self.l1_ratio * lr * self.alpha;
        }
        for (m, &p) in scores.iter().enumerate().take(n_models) {
            let y_m = if n_models == 1 {
                if target == 1 {
                    1.0
                } else {
                    -1.0
                }
            } else if target == m {
                1.0
            } else {
                -1.0
            };
            let dloss = margin.dloss(p, y_m).clamp(-MAX_DLOSS, MAX_DLOSS);
            if self.fit_intercept {
                self.intercept[m] -= intercept_lr * dloss;
            }
            let steps = self.acc.steps[m] + 1.0;
            self.acc.steps[m] = steps;
            let mut w = self.coef.row_mut(m);
            let mut sq = self.acc.sq.row_mut(m);
            match self.schedule {
                LearningRate::Adam => {
                    // River corrects the bias of both moments in the step size, and adds eps
                    // to sqrt(v), not to the corrected sqrt(v_hat).
                    let lr_t = lr * (1.0 - beta_2.powf(steps)).sqrt() / (1.0 - beta_1.powf(steps));
                    let mut mean = self.acc.mean.row_mut(m);
                    for ((wj, &xj), (mj, vj)) in w.iter_mut().zip(x.iter()).zip(mean.iter_mut().zip(sq.iter_mut())) {
                        let g = xj * dloss + l2 * *wj;
                        *mj = beta_1 * *mj + (1.0 - beta_1) * g;
                        *vj = beta_2 * *vj + (1.0 - beta_2) * g * g;
                        *wj -= lr_t * *mj / (vj.sqrt() + eps);
                    }
                }
                LearningRate::AdaGrad => {
                    for ((wj, &xj), gj) in w.iter_mut().zip(x.iter()).zip(sq.iter_mut()) {
                        let g = xj * dloss + l2 * *wj;
                        *gj += g * g;
                        *wj -= lr / (*gj + eps).sqrt() * g;
                    }
                }
                LearningRate::RmsProp => {
                    for ((wj, &xj), gj) in w.iter_mut().zip(x.iter()).zip(sq.iter_mut()) {
                        let g = xj * dloss + l2 * *wj;
                        *gj = rho * *gj + (1.0 - rho) * g * g;
                        *wj -= lr / (*gj + eps).sqrt() * g;
                    }
                }
                LearningRate::Optimal | LearningRate::Constant | LearningRate::InvScaling => {}
            }
            if l1 {
                apply_l1(w, self.l1_q.row_mut(m), self.l1_u);
            }
        }
    }

    fn learn_predict(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<Array1<i64>, ModelError> {
        self.validate(x, y)?;
        if x.nrows() == 0 {
            // An empty batch teaches nothing, not even the feature count.
            return Ok(Array1::zeros(0));
        }
        self.ensure_features(x.ncols());
        let mut scores = Vec::with_capacity(self.classes.len().max(1));
        let mut out = Array1::zeros(x.nrows());
        for ((row, &label), o) in x.outer_iter().zip(y.iter()).zip(out.iter_mut()) {
            *o = self.step(row, label, &mut scores);
        }
        Ok(out)
    }

    /// Decision scores, `rows x binary problems`.
    fn decision_function(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
        let Some(d) = self.n_features else {
            return Err(ModelError::NotFitted("the linear model"));
        };
        validate::features(x, Some(d))?;
        Ok(x.dot(&self.coef.t()) + &self.intercept)
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        if self.classes.is_empty() {
            return Err(ModelError::NotFitted("the linear model"));
        }
        let scores = self.decision_function(x)?;
        Ok(scores.outer_iter().map(|s| self.decide(s.iter())).collect())
    }

    /// Probabilities as scikit-learn computes them for log and modified-Huber losses.
    fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
        let margin = match self.rule {
            Rule::Gradient(m @ (Margin::Log | Margin::ModifiedHuber)) => m,
            _ => return Ok(None),
        };
        if self.classes.is_empty() {
            return Err(ModelError::NotFitted("the linear model"));
        }
        let scores = self.decision_function(x)?;
        let n_classes = self.classes.len();
        if n_classes == 1 {
            return Ok(Some(Array2::ones((x.nrows(), 1))));
        }
        let squash = |s: f64| match margin {
            Margin::Log => 1.0 / (1.0 + (-s).exp()),
            _ => (s.clamp(-1.0, 1.0) + 1.0) / 2.0,
        };
        let mut proba = Array2::zeros((x.nrows(), n_classes));
        for (s, mut p) in scores.outer_iter().zip(proba.outer_iter_mut()) {
            if n_classes == 2 {
                let pos = squash(s[0]);
                p[0] = 1.0 - pos;
                p[1] = pos;
                continue;
            }
            p.assign(&s.mapv(squash));
            let sum = p.sum();
            if sum > 0.0 {
                p /= sum;
            } else {
                // Only reachable with modified Huber, where scikit-learn falls back to uniform.
                p.fill(1.0 / n_classes as f64);
            }
        }
        Ok(Some(proba))
    }
}

/// `a` (one row per binary problem) after the classes grew to `n_new` with a new
/// class at `at`, as the weights grow: zeros for a first pair; from two classes to
/// three the old row scores the old positive class and `sign` times it the old
/// negative one (the new class starts at zero); beyond, a zero row at `at`.
fn grow_rows(a: &Array2<f64>, n_new: usize, at: usize, d: usize, sign: f64) -> Array2<f64> {
    match n_new {
        0 | 1 => a.clone(),
        2 => Array2::zeros((1, d)),
        3 => {
            let w = a.row(0);
            let mut out = Array2::zeros((3, d));
            let old: Vec<usize> = (0..3).filter(|&i| i != at).collect();
            out.row_mut(old[0]).assign(&w.mapv(|v| sign * v));
            out.row_mut(old[1]).assign(&w);
            out
        }
        _ => insert_zero_row(a, at),
    }
}

fn hinge(p: f64, y: f64) -> f64 {
    (1.0 - p * y).max(0.0)
}

/// Cumulative L1 penalty (Tsuruoka, Tsujii and Ananiadou, 2009), as scikit-learn's `l1penalty`.
fn apply_l1(mut w: ndarray::ArrayViewMut1<f64>, mut q: ndarray::ArrayViewMut1<f64>, u: f64) {
    for (wj, qj) in w.iter_mut().zip(q.iter_mut()) {
        let z = *wj;
        if z > 0.0 {
            *wj = (z - (u + *qj)).max(0.0);
        } else if z < 0.0 {
            *wj = (z + (u - *qj)).min(0.0);
        }
        *qj += *wj - z;
    }
}

/// Index of the largest value, the first on ties.
fn argmax<'a>(v: impl Iterator<Item = &'a f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, &s) in v.enumerate() {
        if i == 0 || s > best.1 {
            best = (i, s);
        }
    }
    best.0
}

/// Generates the shared public surface of a linear classifier around its `core`.
macro_rules! linear_classifier {
    ($model:ident, $name:literal) => {
        impl OnlineClassifier for $model {
            fn partial_fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
                // Row by row is scikit-learn's own order (shuffle=False), so the
                // prequential path is also the training path.
                self.core.learn_predict(x, y).map(|_| ())
            }
            fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
                self.core.predict(x)
            }
            fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
                self.core.predict_proba(x)
            }
            fn learn_predict(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<Array1<i64>, ModelError> {
                self.core.learn_predict(x, y)
            }
            fn classes(&self) -> &[i64] {
                self.core.classes.as_slice()
            }
            fn n_features(&self) -> Option<usize> {
                self.core.n_features
            }
            fn records_seen(&self) -> u64 {
                self.core.seen
            }
            fn validate(&self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
                self.core.validate(x, y)
            }
            fn decision_function(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
                self.core.decision_function(x).map(Some)
            }
            fn linear_weights(&self) -> Option<(ArrayView2<'_, f64>, ArrayView1<'_, f64>)> {
                Some((self.core.coef.view(), self.core.intercept.view()))
            }
        }

        impl $model {
            /// Check a decoded state: the parameters obey their rules and the weights fit them.
            pub(crate) fn check_state(&self) -> Result<(), String> {
                let fresh = self.params.clone().build().map_err(|e| format!("its parameters: {e}"))?;
                self.core.check_state(&fresh.core)
            }
            /// True when every number of the state is finite (see [`crate::model::Model::state_is_finite`]).
            pub(crate) fn state_is_finite(&self) -> bool {
                self.core.state_is_finite()
            }
            /// Take more features (see [`crate::model::Stage::grow`]).
            pub(crate) fn grow(&mut self, n_features: usize) -> Result<(), String> {
                self.core.grow_features(n_features)
            }
            /// Coefficients, one row per binary problem (one row for two classes,
            /// positive class `classes()[1]`; one row per class for more).
            pub fn coef(&self) -> ArrayView2<'_, f64> {
                self.core.coef.view()
            }
            /// Intercepts, one per row of [`Self::coef`].
            pub fn intercept(&self) -> ArrayView1<'_, f64> {
                self.core.intercept.view()
            }
            /// scikit-learn's `t_`: one plus the number of rows learned with two or more classes known.
            pub fn t(&self) -> f64 {
                self.core.t
            }
            /// Decision scores, `rows x coef().nrows()`.
            pub fn decision_function(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
                self.core.decision_function(x)
            }
            /// Class probabilities, or `None` when the loss has none.
            pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
                self.core.predict_proba(x)
            }
        }

        super::inherent_classifier_methods!($model);
        const _: &str = $name;
    };
}

/// Parameters of [`SgdClassifier`], with scikit-learn's names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SgdClassifierParams {
    /// Loss (default hinge, as scikit-learn).
    pub loss: Loss,
    /// Penalty (default L2).
    pub penalty: Penalty,
    /// Regularisation strength (default 1e-4).
    pub alpha: f64,
    /// Elastic-net mixing (default 0.15).
    pub l1_ratio: f64,
    /// Learning-rate schedule (default optimal).
    pub learning_rate: LearningRate,
    /// Initial learning rate for constant and invscaling, and River's `lr` for
    /// adagrad, rmsprop and adam (default 0.01, scikit-learn 1.9's).
    pub eta0: f64,
    /// Exponent of invscaling (default 0.5).
    pub power_t: f64,
    /// Learn an intercept (default true).
    pub fit_intercept: bool,
    /// Adam's decay of the running mean of gradients (default 0.9, River's).
    pub beta_1: f64,
    /// Adam's decay of the running mean of squared gradients (default 0.999, River's).
    pub beta_2: f64,
    /// RMSProp's decay of the running mean of squared gradients (default 0.9, River's).
    pub rho: f64,
    /// Added to the denominators of adagrad, rmsprop and adam (default 1e-8, River's).
    pub eps: f64,
    /// With adagrad, rmsprop and adam the intercept takes plain steps of this size
    /// times the loss gradient, as River's `intercept_lr` (default 0.01, River's; 0
    /// freezes it). scikit-learn's schedules step the intercept as the weights.
    pub intercept_lr: f64,
    /// Declared classes, or `None` to discover them.
    pub classes: Option<Vec<i64>>,
}

impl Default for SgdClassifierParams {
    fn default() -> Self {
        Self {
            loss: Loss::Hinge,
            penalty: Penalty::L2,
            alpha: 1e-4,
            l1_ratio: 0.15,
            learning_rate: LearningRate::Optimal,
            eta0: 0.01,
            power_t: 0.5,
            fit_intercept: true,
            beta_1: 0.9,
            beta_2: 0.999,
            rho: 0.9,
            eps: 1e-8,
            intercept_lr: 0.01,
            classes: None,
        }
    }
}

impl SgdClassifierParams {
    /// Set the loss.
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }
    /// Set the penalty.
    pub fn penalty(mut self, penalty: Penalty) -> Self {
        self.penalty = penalty;
        self
    }
    /// Set the regularisation strength.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }
    /// Set the elastic-net mixing.
    pub fn l1_ratio(mut self, l1_ratio: f64) -> Self {
        self.l1_ratio = l1_ratio;
        self
    }
    /// Set the learning-rate schedule.
    pub fn learning_rate(mut self, learning_rate: LearningRate) -> Self {
        self.learning_rate = learning_rate;
        self
    }
    /// Set the initial learning rate.
    pub fn eta0(mut self, eta0: f64) -> Self {
        self.eta0 = eta0;
        self
    }
    /// Set the invscaling exponent.
    pub fn power_t(mut self, power_t: f64) -> Self {
        self.power_t = power_t;
        self
    }
    /// Learn an intercept or not.
    pub fn fit_intercept(mut self, fit_intercept: bool) -> Self {
        self.fit_intercept = fit_intercept;
        self
    }
    /// Set Adam's decay rates of the gradients' running mean and of their squares'.
    pub fn betas(mut self, beta_1: f64, beta_2: f64) -> Self {
        self.beta_1 = beta_1;
        self.beta_2 = beta_2;
        self
    }
    /// Set RMSProp's decay rate.
    pub fn rho(mut self, rho: f64) -> Self {
        self.rho = rho;
        self
    }
    /// Set the adaptive step sizes' `eps`.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Set the intercept's step size under the adaptive step sizes.
    pub fn intercept_lr(mut self, lr: f64) -> Self {
        self.intercept_lr = lr;
        self
    }
    /// Declare the classes up front.
    pub fn classes(mut self, classes: &[i64]) -> Self {
        self.classes = Some(classes.to_vec());
        self
    }
    /// Check the parameters and build an untrained model.
    pub fn build(self) -> Result<SgdClassifier, ParamsError> {
        let margin = match self.loss {
            Loss::Log => Margin::Log,
            Loss::Hinge => Margin::Hinge(1.0),
            Loss::ModifiedHuber => Margin::ModifiedHuber,
        };
        let core = LinearCore::new(
            Rule::Gradient(margin),
            self.penalty,
            self.alpha,
            self.l1_ratio,
            self.learning_rate,
            self.eta0,
            self.power_t,
            self.fit_intercept,
            Adaptive {
                beta_1: self.beta_1,
                beta_2: self.beta_2,
                rho: self.rho,
                eps: self.eps,
                intercept_lr: self.intercept_lr,
            },
            self.classes.as_deref(),
        )?;
        Ok(SgdClassifier { params: self, core })
    }
}

/// Linear classifier trained by SGD (scikit-learn's `SGDClassifier` with `shuffle=False`).
///
/// ```
/// use eddy::model::{Loss, SgdClassifier};
/// use ndarray::array;
///
/// let mut sgd = SgdClassifier::params().loss(Loss::Log).classes(&[0, 1]).build()?;
/// let x = array![[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]];
/// let y = array![0, 1, 0, 1];
/// let prequential = sgd.learn_predict(x.view(), y.view())?;
/// assert_eq!(prequential.len(), 4);
/// assert_eq!(sgd.predict(x.view())?.len(), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SgdClassifier {
    params: SgdClassifierParams,
    core: LinearCore,
}

impl SgdClassifier {
    /// Default parameters (scikit-learn's).
    pub fn params() -> SgdClassifierParams {
        SgdClassifierParams::default()
    }
    /// The parameters the model was built with.
    pub fn get_params(&self) -> &SgdClassifierParams {
        &self.params
    }
}

linear_classifier!(SgdClassifier, "sgd");
super::impl_linfa_fit_with_classifier!(SgdClassifierParams, SgdClassifier);

/// The penalty choices, as the spec writes them.
const PENALTIES: &[&str] = &["none", "l2", "l1", "elasticnet"];

/// `sgd` in the model language.
pub(crate) static SGD: Entry = Entry {
    name: "sgd",
    role: Role::Classifier,
    summary: "linear classifier trained by stochastic gradient descent (scikit-learn's SGDClassifier)",
    params: &[
        Param::choice(
            "loss",
            &["hinge", "log_loss|log", "modified_huber"],
            "the loss: linear SVM, logistic regression, smoothed hinge",
        ),
        Param::choice("penalty", PENALTIES, "the regularisation term"),
        Param::float("alpha", 0.0, false, f64::INFINITY, "regularisation strength"),
        Param::float("l1_ratio", 0.0, false, 1.0, "elastic-net mixing: 0 is L2, 1 is L1"),
        Param::choice(
            "learning_rate",
            &["optimal", "constant", "invscaling", "adagrad", "rmsprop", "adam"],
            "the step-size schedule",
        ),
        Param::float(
            "eta0",
            0.0,
            true,
            f64::INFINITY,
            "initial step size of constant and invscaling; the lr of adagrad, rmsprop and adam",
        ),
        Param::float("power_t", f64::NEG_INFINITY, false, f64::INFINITY, "exponent of invscaling"),
        Param::bool("fit_intercept", "learn an intercept"),
        Param::float_below("beta_1", 0.0, 1.0, "adam: decay of the running mean of gradients"),
        Param::float_below("beta_2", 0.0, 1.0, "adam: decay of the running mean of squared gradients"),
        Param::float_below("rho", 0.0, 1.0, "rmsprop: decay of the running mean of squared gradients"),
        Param::float("eps", 0.0, true, f64::INFINITY, "adagrad, rmsprop, adam: added to each step's denominator"),
        Param::float(
            "intercept_lr",
            0.0,
            false,
            f64::INFINITY,
            "adagrad, rmsprop, adam: the intercept's constant step, as River's (0 freezes it)",
        ),
    ],
    takes_counts: false,
    outputs_negative: false,
    defaults: registry::defaults_of::<SgdClassifierParams>,
    build: registry::classifier_build!(SgdClassifierParams),
    decode: registry::decode_classifier::<SgdClassifier>,
};
impl_stage!(SgdClassifier, SGD);

/// Averaged: parameter mixing (see `LinearCore::fold`).
impl super::merge::Merge for SgdClassifier {
    fn merge_rule(&self) -> Option<super::merge::MergeRule> {
        Some(super::merge::MergeRule::Averaged)
    }
    fn fold(&mut self, base: &Self, replica: &Self, share: f64) -> Result<(), String> {
        self.core.fold(&base.core, &replica.core, share)
    }
}

/// Parameters of [`Perceptron`], with scikit-learn's names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PerceptronParams {
    /// Penalty (default none).
    pub penalty: Penalty,
    /// Regularisation strength (default 1e-4).
    pub alpha: f64,
    /// Elastic-net mixing (default 0.15).
    pub l1_ratio: f64,
    /// Constant learning rate (default 1).
    pub eta0: f64,
    /// Learn an intercept (default true).
    pub fit_intercept: bool,
    /// Declared classes, or `None` to discover them.
    pub classes: Option<Vec<i64>>,
}

impl Default for PerceptronParams {
    fn default() -> Self {
        Self { penalty: Penalty::None, alpha: 1e-4, l1_ratio: 0.15, eta0: 1.0, fit_intercept: true, classes: None }
    }
}

impl PerceptronParams {
    /// Set the penalty.
    pub fn penalty(mut self, penalty: Penalty) -> Self {
        self.penalty = penalty;
        self
    }
    /// Set the regularisation strength.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }
    /// Set the learning rate.
    pub fn eta0(mut self, eta0: f64) -> Self {
        self.eta0 = eta0;
        self
    }
    /// Set the elastic-net mixing.
    pub fn l1_ratio(mut self, l1_ratio: f64) -> Self {
        self.l1_ratio = l1_ratio;
        self
    }
    /// Learn an intercept or not.
    pub fn fit_intercept(mut self, fit_intercept: bool) -> Self {
        self.fit_intercept = fit_intercept;
        self
    }
    /// Declare the classes up front.
    pub fn classes(mut self, classes: &[i64]) -> Self {
        self.classes = Some(classes.to_vec());
        self
    }
    /// Check the parameters and build an untrained model.
    pub fn build(self) -> Result<Perceptron, ParamsError> {
        let core = LinearCore::new(
            Rule::Gradient(Margin::Hinge(0.0)),
            self.penalty,
            self.alpha,
            self.l1_ratio,
            LearningRate::Constant,
            self.eta0,
            0.5,
            self.fit_intercept,
            Adaptive::default(),
            self.classes.as_deref(),
        )?;
        Ok(Perceptron { params: self, core })
    }
}

/// The perceptron (scikit-learn's `Perceptron` with `shuffle=False`): SGD on the
/// hinge loss with threshold 0 and a constant learning rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Perceptron {
    params: PerceptronParams,
    core: LinearCore,
}

impl Perceptron {
    /// Default parameters (scikit-learn's).
    pub fn params() -> PerceptronParams {
        PerceptronParams::default()
    }
    /// The parameters the model was built with.
    pub fn get_params(&self) -> &PerceptronParams {
        &self.params
    }
}

linear_classifier!(Perceptron, "perceptron");
super::impl_linfa_fit_with_classifier!(PerceptronParams, Perceptron);

/// `perceptron` in the model language.
pub(crate) static PERCEPTRON: Entry = Entry {
    name: "perceptron",
    role: Role::Classifier,
    summary: "the perceptron (scikit-learn's Perceptron)",
    params: &[
        Param::choice("penalty", PENALTIES, "the regularisation term"),
        Param::float("alpha", 0.0, false, f64::INFINITY, "regularisation strength"),
        Param::float("l1_ratio", 0.0, false, 1.0, "elastic-net mixing: 0 is L2, 1 is L1"),
        Param::float("eta0", 0.0, true, f64::INFINITY, "the constant step size"),
        Param::bool("fit_intercept", "learn an intercept"),
    ],
    takes_counts: false,
    outputs_negative: false,
    defaults: registry::defaults_of::<PerceptronParams>,
    build: registry::classifier_build!(PerceptronParams),
    decode: registry::decode_classifier::<Perceptron>,
};
impl_stage!(Perceptron, PERCEPTRON);

/// Averaged: parameter mixing (see `LinearCore::fold`).
impl super::merge::Merge for Perceptron {
    fn merge_rule(&self) -> Option<super::merge::MergeRule> {
        Some(super::merge::MergeRule::Averaged)
    }
    fn fold(&mut self, base: &Self, replica: &Self, share: f64) -> Result<(), String> {
        self.core.fold(&base.core, &replica.core, share)
    }
}

/// Parameters of [`PassiveAggressiveClassifier`], with scikit-learn's names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PassiveAggressiveParams {
    /// Aggressiveness: the largest step (PA-I) or the softness (PA-II). Default 1.
    #[serde(rename = "C")]
    pub c: f64,
    /// PA-I (hinge, the default) or PA-II (squared hinge).
    pub loss: PaLoss,
    /// Learn an intercept (default true).
    pub fit_intercept: bool,
    /// Declared classes, or `None` to discover them.
    pub classes: Option<Vec<i64>>,
}

impl Default for PassiveAggressiveParams {
    fn default() -> Self {
        Self { c: 1.0, loss: PaLoss::Hinge, fit_intercept: true, classes: None }
    }
}

impl PassiveAggressiveParams {
    /// Set `C`.
    pub fn c(mut self, c: f64) -> Self {
        self.c = c;
        self
    }
    /// Choose PA-I or PA-II.
    pub fn loss(mut self, loss: PaLoss) -> Self {
        self.loss = loss;
        self
    }
    /// Learn an intercept or not.
    pub fn fit_intercept(mut self, fit_intercept: bool) -> Self {
        self.fit_intercept = fit_intercept;
        self
    }
    /// Declare the classes up front.
    pub fn classes(mut self, classes: &[i64]) -> Self {
        self.classes = Some(classes.to_vec());
        self
    }
    /// Check the parameters and build an untrained model.
    pub fn build(self) -> Result<PassiveAggressiveClassifier, ParamsError> {
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(ParamsError::C(self.c));
        }
        let rule = match self.loss {
            PaLoss::Hinge => Rule::Pa1(self.c),
            PaLoss::SquaredHinge => Rule::Pa2(self.c),
        };
        let core = LinearCore::new(
            rule,
            Penalty::None,
            1.0,
            0.15,
            LearningRate::Constant,
            1.0,
            0.5,
            self.fit_intercept,
            Adaptive::default(),
            self.classes.as_deref(),
        )?;
        Ok(PassiveAggressiveClassifier { params: self, core })
    }
}

/// Passive-Aggressive classifier (Crammer et al., 2006), PA-I or PA-II
/// (scikit-learn's `PassiveAggressiveClassifier` with `shuffle=False`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PassiveAggressiveClassifier {
    params: PassiveAggressiveParams,
    core: LinearCore,
}

impl PassiveAggressiveClassifier {
    /// Default parameters (scikit-learn's).
    pub fn params() -> PassiveAggressiveParams {
        PassiveAggressiveParams::default()
    }
    /// The parameters the model was built with.
    pub fn get_params(&self) -> &PassiveAggressiveParams {
        &self.params
    }
}

linear_classifier!(PassiveAggressiveClassifier, "passive-aggressive");
super::impl_linfa_fit_with_classifier!(PassiveAggressiveParams, PassiveAggressiveClassifier);

/// `passive-aggressive` in the model language.
pub(crate) static PASSIVE_AGGRESSIVE: Entry = Entry {
    name: "passive-aggressive",
    role: Role::Classifier,
    summary: "Passive-Aggressive I/II (scikit-learn's PassiveAggressiveClassifier)",
    params: &[
        Param::float("C", 0.0, true, f64::INFINITY, "aggressiveness: the largest step (PA-I) or the softness (PA-II)"),
        Param::choice("loss", &["hinge", "squared_hinge"], "PA-I (hinge) or PA-II (squared_hinge)"),
        Param::bool("fit_intercept", "learn an intercept"),
    ],
    takes_counts: false,
    outputs_negative: false,
    defaults: registry::defaults_of::<PassiveAggressiveParams>,
    build: registry::classifier_build!(PassiveAggressiveParams),
    decode: registry::decode_classifier::<PassiveAggressiveClassifier>,
};
impl_stage!(PassiveAggressiveClassifier, PASSIVE_AGGRESSIVE);

/// Averaged: parameter mixing (see `LinearCore::fold`).
impl super::merge::Merge for PassiveAggressiveClassifier {
    fn merge_rule(&self) -> Option<super::merge::MergeRule> {
        Some(super::merge::MergeRule::Averaged)
    }
    fn fold(&mut self, base: &Self, replica: &Self, share: f64) -> Result<(), String> {
        self.core.fold(&base.core, &replica.core, share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn discovered_binary_becomes_one_vs_rest_with_negated_vector() {
        let mut m = SgdClassifier::params().build().expect("valid defaults");
        let x = array![[1.0, 0.0], [0.0, 1.0]];
        m.partial_fit(x.view(), array![0, 1].view()).expect("valid batch");
        let w = m.coef().row(0).to_owned();
        let b = m.intercept()[0];
        m.core.classes.index_or_insert(2);
        m.core.grow(2);
        assert_eq!(m.coef().nrows(), 3);
        assert_eq!(m.coef().row(1), w);
        assert_eq!(m.coef().row(0), w.mapv(|v| -v));
        assert_eq!(m.intercept()[0], -b);
        assert_eq!(m.coef().row(2), Array1::<f64>::zeros(2));
    }

    #[test]
    fn l1_penalty_never_crosses_zero() {
        let mut w = array![0.5, -0.5, 0.0];
        let mut q = array![0.0, 0.0, 0.0];
        apply_l1(w.view_mut(), q.view_mut(), 1.0);
        assert_eq!(w, array![0.0, 0.0, 0.0]);
        assert_eq!(q, array![-0.5, 0.5, 0.0]);
    }

    #[test]
    fn predict_before_any_data_is_not_fitted() {
        let m = SgdClassifier::params().classes(&[1, 2, 3]).build().expect("valid");
        assert!(matches!(m.predict(array![[1.0]].view()), Err(ModelError::NotFitted(_))));
    }
}
