//! HDDM_W, the drift detection method based on McDiarmid's bounds with weighted
//! (exponentially weighted) moving averages (Frías-Blanco et al., 2014), as River
//! 0.26.1 runs it.
//!
//! The input is an error indicator (1 for an error). `total` is the EWMA of every
//! value (weight `lambda_val`) with its independent bound condition `ibc`. The cut
//! point for a rise is where `ewma + sqrt(ibc ln(1/drift_confidence) / 2)` was
//! lowest; `s1` is `total` as it stood there and `s2` the EWMA of the values since.
//! The mean has risen when `s2 - s1 > sqrt((ibc1 + ibc2) ln(1/confidence) / 2)`: a
//! drift at `drift_confidence`, else a warning at `warning_confidence`. With
//! `two_sided_test` a fall (cut point where `ewma - bound` was highest) counts too.
//! The next update after a drift starts afresh.

use super::hddm_a::check_confidences;
use super::{check_finite, registry_methods, Detector, Signal};
use crate::error::DriftParamsError;
use serde::{Deserialize, Serialize};

/// HDDM_W's parameters, with River's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HddmWParams {
    /// Confidence of the drift test, in (0, 1).
    pub drift_confidence: f64,
    /// Confidence of the warning test, in (0, 1).
    pub warning_confidence: f64,
    /// Weight of the newest value in the moving averages, in (0, 1].
    pub lambda_val: f64,
    /// Also look for a fall of the error rate.
    pub two_sided_test: bool,
}

impl Default for HddmWParams {
    fn default() -> Self {
        Self { drift_confidence: 0.001, warning_confidence: 0.005, lambda_val: 0.05, two_sided_test: false }
    }
}

impl HddmWParams {
    /// Check every rule.
    pub fn check(&self) -> Result<(), DriftParamsError> {
        check_confidences(self.drift_confidence, self.warning_confidence)?;
        if !(self.lambda_val > 0.0 && self.lambda_val <= 1.0) {
            return Err(DriftParamsError::OutOfRange {
                param: "lambda_val",
                rule: "> 0 and <= 1",
                value: self.lambda_val,
            });
        }
        Ok(())
    }

    /// Check the parameters and build a fresh detector.
    pub fn build(self) -> Result<HddmW, DriftParamsError> {
        self.check()?;
        Ok(HddmW::fresh(self))
    }
}

/// River's `SampleInfo`: an EWMA and its independent bound condition.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Sample {
    ewma: f64,
    /// Has seen a value (River's EWMean takes its first value as the mean).
    init: bool,
    ibc: f64,
}

impl Sample {
    const EMPTY: Self = Self { ewma: 0.0, init: false, ibc: 1.0 };

    fn update(&mut self, x: f64, lambda: f64) {
        self.ewma = if self.init { lambda * x + (1.0 - lambda) * self.ewma } else { x };
        self.init = true;
        self.ibc = lambda * lambda + (1.0 - lambda) * (1.0 - lambda) * self.ibc;
    }
}

/// The HDDM_W detector (River's `drift.binary.HDDMW`): 0/1 values, warnings and drifts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HddmW {
    params: HddmWParams,
    total: Sample,
    s1_incr: Sample,
    s2_incr: Sample,
    s1_decr: Sample,
    s2_decr: Sample,
    /// Lowest `ewma + bound`; `None` before the first value (River's +inf).
    incr_cutpoint: Option<f64>,
    /// Highest `ewma - bound`; `None` before the first value (River's -inf).
    decr_cutpoint: Option<f64>,
    warning: bool,
    drift: bool,
}

impl HddmW {
    /// HDDM_W with River's defaults.
    pub fn new() -> Self {
        Self::fresh(HddmWParams::default())
    }

    fn fresh(params: HddmWParams) -> Self {
        Self {
            params,
            total: Sample::EMPTY,
            s1_incr: Sample::EMPTY,
            s2_incr: Sample::EMPTY,
            s1_decr: Sample::EMPTY,
            s2_decr: Sample::EMPTY,
            incr_cutpoint: None,
            decr_cutpoint: None,
            warning: false,
            drift: false,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &HddmWParams {
        &self.params
    }

    fn mcdiarmid_bound(ibc: f64, confidence: f64) -> f64 {
        (ibc * (1.0 / confidence).ln() / 2.0).sqrt()
    }

    /// `later`'s EWMA exceeds `earlier`'s by the bound at `confidence`.
    fn changed(earlier: &Sample, later: &Sample, confidence: f64) -> bool {
        if !(earlier.init && later.init) {
            return false;
        }
        later.ewma - earlier.ewma > Self::mcdiarmid_bound(earlier.ibc + later.ibc, confidence)
    }

    fn update_incr(&mut self, x: f64) {
        let eps = Self::mcdiarmid_bound(self.total.ibc, self.params.drift_confidence);
        let at = self.total.ewma + eps;
        if self.incr_cutpoint.is_none_or(|cut| at < cut) {
            self.incr_cutpoint = Some(at);
            self.s1_incr = self.total;
            self.s2_incr = Sample::EMPTY;
        } else {
            self.s2_incr.update(x, self.params.lambda_val);
        }
    }

    fn update_decr(&mut self, x: f64) {
        let eps = Self::mcdiarmid_bound(self.total.ibc, self.params.drift_confidence);
        let at = self.total.ewma - eps;
        if self.decr_cutpoint.is_none_or(|cut| at > cut) {
            self.decr_cutpoint = Some(at);
            self.s1_decr = self.total;
            self.s2_decr = Sample::EMPTY;
        } else {
            self.s2_decr.update(x, self.params.lambda_val);
        }
    }
}

impl Default for HddmW {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for HddmW {
    fn update(&mut self, x: f64) -> Signal {
        if self.drift {
            self.reset();
        }
        let p = self.params;
        self.total.update(x, p.lambda_val);
        self.update_incr(x);
        if Self::changed(&self.s1_incr, &self.s2_incr, p.drift_confidence) {
            (self.warning, self.drift) = (false, true);
        } else if Self::changed(&self.s1_incr, &self.s2_incr, p.warning_confidence) {
            (self.warning, self.drift) = (true, false);
        } else {
            (self.warning, self.drift) = (false, false);
        }
        self.update_decr(x);
        if p.two_sided_test {
            if Self::changed(&self.s2_decr, &self.s1_decr, p.drift_confidence) {
                self.drift = true;
            } else if Self::changed(&self.s2_decr, &self.s1_decr, p.warning_confidence) {
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

    registry_methods!(super::registry::HDDM_W);

    fn check_state(&self) -> Result<(), String> {
        self.params.check().map_err(|e| e.to_string())?;
        for s in [&self.total, &self.s1_incr, &self.s2_incr, &self.s1_decr, &self.s2_decr] {
            check_finite("a moving average", &[s.ewma, s.ibc])?;
        }
        let cuts = [self.incr_cutpoint.unwrap_or(0.0), self.decr_cutpoint.unwrap_or(0.0)];
        check_finite("a cut point", &cuts)
    }

    fn recent_window(&self) -> usize {
        // The EWMA's effective memory: 1 / lambda values.
        (1.0 / self.params.lambda_val).ceil().min(1e6) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_moving_average_starts_at_its_first_value() {
        let mut s = Sample::EMPTY;
        let values = [1.0, 0.0, 0.0, 1.0];
        let means: Vec<f64> = values
            .iter()
            .map(|&x| {
                s.update(x, 0.05);
                s.ewma
            })
            .collect();
        // River 0.26.1's stats.EWMean(0.05) on the same values.
        assert_eq!(means, [1.0, 0.95, 0.9025, 0.9073749999999999]);
    }

    #[test]
    fn a_rising_error_rate_warns_then_drifts() {
        let mut d = HddmW::new();
        let mut seen = Vec::new();
        for i in 0..4000u64 {
            let x = f64::from(u8::from(i.is_multiple_of(if i < 2000 { 10 } else { 2 })));
            let s = d.update(x);
            if s != Signal::None && seen.last() != Some(&s) {
                seen.push(s);
            }
            if s == Signal::Drift {
                assert!(i >= 2000, "drift at {i}");
                break;
            }
        }
        assert_eq!(seen.last(), Some(&Signal::Drift));
    }
}
