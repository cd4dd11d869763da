//! EDDM, the early drift detection method of Baena-García et al. (2006), as River
//! 0.26.1 runs it.
//!
//! The input is an error indicator (1 for an error). EDDM follows the distances
//! between consecutive errors: their mean `p'` and standard deviation `s'` (sample,
//! ddof = 1). At each error after `warm_start` values, a larger `p' + 2 s'` than ever
//! becomes the reference; otherwise, once more than `warm_start` errors were seen,
//! `level = (p' + 2 s') / max` gives a drift below `beta`, a warning below `alpha`, and
//! clears the warning at or above `alpha`. The warning state holds between errors
//! (values of 0 leave it as it is), and a drift leaves it as it was: the signal is
//! then a drift. The next update after a drift starts afresh.

use super::{check_finite, registry_methods, Detector, Mean, Signal, MAX_COUNT};
use crate::error::DriftParamsError;
use serde::{Deserialize, Serialize};

/// EDDM's parameters, with River's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EddmParams {
    /// Values (and errors) seen before the test starts.
    pub warm_start: u64,
    /// Warning level, in [0, 1]: a ratio below it warns.
    pub alpha: f64,
    /// Drift level, in [0, alpha]: a ratio below it is a drift.
    pub beta: f64,
}

impl Default for EddmParams {
    fn default() -> Self {
        Self { warm_start: 30, alpha: 0.95, beta: 0.9 }
    }
}

impl EddmParams {
    /// Check every rule.
    pub fn check(&self) -> Result<(), DriftParamsError> {
        for (param, value) in [("alpha", self.alpha), ("beta", self.beta)] {
            if !(0.0..=1.0).contains(&value) {
                return Err(DriftParamsError::OutOfRange { param, rule: ">= 0 and <= 1", value });
            }
        }
        if self.alpha < self.beta {
            return Err(DriftParamsError::AlphaBelowBeta { alpha: self.alpha, beta: self.beta });
        }
        Ok(())
    }

    /// Check the parameters and build a fresh detector.
    pub fn build(self) -> Result<Eddm, DriftParamsError> {
        self.check()?;
        Ok(Eddm::fresh(self))
    }
}

/// River's `stats.Var` (ddof = 1) with unit weights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Var {
    mean: Mean,
    /// Sum of squared deviations.
    s: f64,
}

impl Var {
    fn update(&mut self, x: f64) {
        let before = self.mean.mean;
        self.mean.update(x);
        self.s += (x - before) * (x - self.mean.mean);
    }

    fn get(&self) -> f64 {
        if self.mean.n > 1.0 {
            self.s / (self.mean.n - 1.0)
        } else {
            0.0
        }
    }
}

/// The EDDM detector (River's `drift.binary.EDDM`): 0/1 values, warnings and drifts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Eddm {
    params: EddmParams,
    /// Distances between consecutive errors.
    distances: Var,
    /// Values seen.
    n: u64,
    /// The value number of the last error (0 before any).
    last_error: u64,
    /// Errors seen.
    n_errors: u64,
    /// The largest `p' + 2 s'` so far (-1 before any, as in River).
    p2s_max: f64,
    warning: bool,
    drift: bool,
}

impl Eddm {
    /// EDDM with River's defaults.
    pub fn new() -> Self {
        Self::fresh(EddmParams::default())
    }

    fn fresh(params: EddmParams) -> Self {
        Self {
            params,
            distances: Var::default(),
            n: 0,
            last_error: 0,
            n_errors: 0,
            p2s_max: -1.0,
            warning: false,
            drift: false,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &EddmParams {
        &self.params
    }
}

impl Default for Eddm {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for Eddm {
    fn update(&mut self, x: f64) -> Signal {
        if self.drift {
            self.reset();
        }
        self.n += 1;
        if x == 1.0 {
            self.n_errors += 1;
            self.distances.update((self.n - self.last_error) as f64);
            if self.n > self.params.warm_start {
                let p = self.distances.mean.mean;
                let s = self.distances.get().powf(0.5);
                let p2s = p + 2.0 * s;
                if p2s > self.p2s_max {
                    self.p2s_max = p2s;
                } else if self.n_errors > self.params.warm_start {
                    let level = p2s / self.p2s_max;
                    if level < self.params.beta {
                        self.drift = true;
                    } else {
                        self.warning = level < self.params.alpha;
                    }
                }
            }
            self.last_error = self.n;
        }
        match (self.drift, self.warning) {
            (true, _) => Signal::Drift,
            (false, true) => Signal::Warning,
            _ => Signal::None,
        }
    }

    fn reset(&mut self) {
        *self = Self::fresh(self.params);
    }

    registry_methods!(super::registry::EDDM);

    fn check_state(&self) -> Result<(), String> {
        self.params.check().map_err(|e| e.to_string())?;
        self.distances.mean.check("the mean distance")?;
        check_finite("the distances' spread", &[self.distances.s, self.p2s_max])?;
        if self.last_error > self.n || self.n_errors > self.n || self.n as f64 > MAX_COUNT {
            return Err(format!(
                "{} values, {} errors and the last at {} do not fit together",
                self.n, self.n_errors, self.last_error
            ));
        }
        Ok(())
    }

    fn recent_window(&self) -> usize {
        (self.params.warm_start as usize).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_coming_closer_together_warn_then_drift() {
        let mut d = Eddm::new();
        let mut seen = Vec::new();
        for i in 0..3000u64 {
            // An error every 20 values, then every 4 from 2000 on.
            let x = f64::from(u8::from((i + 1).is_multiple_of(if i < 2000 { 20 } else { 4 })));
            let s = d.update(x);
            if s != Signal::None && seen.last() != Some(&s) {
                seen.push(s);
            }
            if s == Signal::Drift {
                assert!(i > 2000, "drift at {i}");
                break;
            }
        }
        assert_eq!(seen.last(), Some(&Signal::Drift));
    }

    #[test]
    fn distances_have_a_sample_variance() {
        let mut v = Var::default();
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            v.update(x);
        }
        assert!((v.get() - 32.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn alpha_below_beta_is_refused() {
        let e = EddmParams { alpha: 0.8, beta: 0.9, ..Default::default() }.build().expect_err("alpha < beta");
        assert_eq!(e.to_string(), "alpha must be >= beta, got alpha=0.8 and beta=0.9");
    }
}
