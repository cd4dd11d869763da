//! HDDM_A, the drift detection method based on Hoeffding's bounds with moving
//! averages (Frías-Blanco et al., 2014), as River 0.26.1 runs it.
//!
//! The input is an error indicator (1 for an error). `z` is the mean of every value
//! since the last reset; `x_min` (`x_max`) is `z` as it stood at the cut point, the
//! value where `mean + Hoeffding bound` was lowest (`mean - bound` highest). The mean
//! has risen when `z - x_min >= sqrt(m / 2 ln(2 / confidence))` with `m = (n_z -
//! n_x) / n_x / n_z`: a drift at `drift_confidence`, else a warning at
//! `warning_confidence`. With `two_sided_test` a fall against `x_max` counts too.
//! The next update after a drift starts afresh.

use super::{registry_methods, Detector, Mean, Signal};
use crate::error::DriftParamsError;
use serde::{Deserialize, Serialize};

/// HDDM_A's parameters, with River's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HddmAParams {
    /// Confidence of the drift test, in (0, 1).
    pub drift_confidence: f64,
    /// Confidence of the warning test, in (0, 1).
    pub warning_confidence: f64,
    /// Also look for a fall of the error rate.
    pub two_sided_test: bool,
}

impl Default for HddmAParams {
    fn default() -> Self {
        Self { drift_confidence: 0.001, warning_confidence: 0.005, two_sided_test: false }
    }
}

/// Both confidences lie in (0, 1).
pub(super) fn check_confidences(drift: f64, warning: f64) -> Result<(), DriftParamsError> {
    for (param, value) in [("drift_confidence", drift), ("warning_confidence", warning)] {
        if !(value > 0.0 && value < 1.0) {
            return Err(DriftParamsError::OutOfRange { param, rule: "> 0 and < 1", value });
        }
    }
    Ok(())
}

impl HddmAParams {
    /// Check every rule.
    pub fn check(&self) -> Result<(), DriftParamsError> {
        check_confidences(self.drift_confidence, self.warning_confidence)
    }

    /// Check the parameters and build a fresh detector.
    pub fn build(self) -> Result<HddmA, DriftParamsError> {
        self.check()?;
        Ok(HddmA::fresh(self))
    }
}

/// The HDDM_A detector (River's `drift.binary.HDDMA`): 0/1 values, warnings and drifts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HddmA {
    params: HddmAParams,
    z: Mean,
    x_min: Mean,
    x_max: Mean,
    warning: bool,
    drift: bool,
}

impl HddmA {
    /// HDDM_A with River's defaults.
    pub fn new() -> Self {
        Self::fresh(HddmAParams::default())
    }

    fn fresh(params: HddmAParams) -> Self {
        Self {
            params,
            z: Mean::default(),
            x_min: Mean::default(),
            x_max: Mean::default(),
            warning: false,
            drift: false,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &HddmAParams {
        &self.params
    }

    fn hoeffding_bound(&self, n: f64) -> f64 {
        (1.0 / (2.0 * n) * (1.0 / self.params.drift_confidence).ln()).sqrt()
    }

    /// The bound a mean must move by since the cut point `cut` at `confidence`;
    /// `None` when no value came after the cut.
    fn bound(&self, cut: &Mean, confidence: f64) -> Option<f64> {
        if cut.n == self.z.n {
            return None;
        }
        let m = (self.z.n - cut.n) / cut.n * (1.0 / self.z.n);
        Some((m / 2.0 * (2.0 / confidence).ln()).sqrt())
    }

    /// The mean rose since the low cut point.
    fn risen(&self, confidence: f64) -> bool {
        self.bound(&self.x_min, confidence).is_some_and(|eps| self.z.mean - self.x_min.mean >= eps)
    }

    /// The mean fell since the high cut point.
    fn fallen(&self, confidence: f64) -> bool {
        self.bound(&self.x_max, confidence).is_some_and(|eps| self.x_max.mean - self.z.mean >= eps)
    }
}

impl Default for HddmA {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for HddmA {
    fn update(&mut self, x: f64) -> Signal {
        if self.drift {
            self.reset();
        }
        self.z.update(x);
        if self.x_min.n == 0.0 {
            self.x_min = self.z;
        }
        if self.x_max.n == 0.0 {
            self.x_max = self.z;
        }
        let eps_z = self.hoeffding_bound(self.z.n);
        let eps_x = self.hoeffding_bound(self.x_min.n);
        if self.x_min.mean + eps_x >= self.z.mean + eps_z {
            self.x_min = self.z;
        }
        let eps_x = self.hoeffding_bound(self.x_max.n);
        if self.x_max.mean - eps_x <= self.z.mean - eps_z {
            self.x_max = self.z;
        }
        let p = self.params;
        if self.risen(p.drift_confidence) {
            (self.warning, self.drift) = (false, true);
        } else if self.risen(p.warning_confidence) {
            (self.warning, self.drift) = (true, false);
        } else {
            (self.warning, self.drift) = (false, false);
        }
        if p.two_sided_test {
            if self.fallen(p.drift_confidence) {
                self.drift = true;
            } else if self.fallen(p.warning_confidence) {
                self.warning = true;
            }
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

    registry_methods!(super::registry::HDDM_A);

    fn check_state(&self) -> Result<(), String> {
        self.params.check().map_err(|e| e.to_string())?;
        self.z.check("the mean")?;
        self.x_min.check("the low cut point")?;
        self.x_max.check("the high cut point")?;
        if self.x_min.n > self.z.n || self.x_max.n > self.z.n {
            return Err("a cut point has seen more values than the mean".into());
        }
        Ok(())
    }

    fn recent_window(&self) -> usize {
        30
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate_stream(n: usize, change: usize, before: u64, after: u64) -> impl Iterator<Item = f64> {
        (0..n).map(move |i| {
            let every = if i < change { before } else { after };
            f64::from(u8::from((i as u64).is_multiple_of(every)))
        })
    }

    #[test]
    fn a_rising_error_rate_is_a_drift() {
        let mut d = HddmA::new();
        let at = rate_stream(4000, 2000, 10, 2).position(|x| d.update(x) == Signal::Drift);
        let at = at.expect("found");
        assert!((2000..2300).contains(&at), "{at}");
    }

    #[test]
    fn a_falling_rate_needs_the_two_sided_test() {
        let mut one = HddmA::new();
        assert_eq!(rate_stream(4000, 2000, 2, 10).position(|x| one.update(x) == Signal::Drift), None);
        let mut two = HddmAParams { two_sided_test: true, ..Default::default() }.build().expect("valid");
        assert!(rate_stream(4000, 2000, 2, 10).position(|x| two.update(x) == Signal::Drift).is_some());
    }
}
