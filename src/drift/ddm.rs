//! DDM, the drift detection method of Gama et al. (2004), as River 0.26.1 runs it.
//!
//! The input is an error indicator (1 for an error). With `p` the error rate since
//! the last reset over `n` values and `s = sqrt(p (1 - p) / n)`, once `n >
//! warm_start`: the lowest `p + s` seen gives `p_min` and `s_min`; a warning while
//! `p + s > p_min + warning_threshold * s_min`, a drift (and no warning) when `p + s >
//! p_min + drift_threshold * s_min`. The warning is recomputed at every value. The
//! next update after a drift starts afresh.

use super::{check_finite, registry_methods, Detector, Mean, Signal};
use crate::error::DriftParamsError;
use serde::{Deserialize, Serialize};

/// DDM's parameters, with River's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DdmParams {
    /// Values seen before the test starts.
    pub warm_start: u64,
    /// Standard deviations above the best `p + s` that make a warning.
    pub warning_threshold: f64,
    /// Standard deviations above the best `p + s` that make a drift.
    pub drift_threshold: f64,
}

impl Default for DdmParams {
    fn default() -> Self {
        Self { warm_start: 30, warning_threshold: 2.0, drift_threshold: 3.0 }
    }
}

impl DdmParams {
    /// Check every rule.
    pub fn check(&self) -> Result<(), DriftParamsError> {
        for (param, value) in [("warning_threshold", self.warning_threshold), ("drift_threshold", self.drift_threshold)]
        {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(DriftParamsError::OutOfRange { param, rule: "a finite number >= 0", value });
            }
        }
        Ok(())
    }

    /// Check the parameters and build a fresh detector.
    pub fn build(self) -> Result<Ddm, DriftParamsError> {
        self.check()?;
        Ok(Ddm::fresh(self))
    }
}

/// The lowest `p + s` so far, with its parts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Best {
    p: f64,
    s: f64,
    ps: f64,
}

/// The DDM detector (River's `drift.binary.DDM`): 0/1 values, warnings and drifts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ddm {
    params: DdmParams,
    /// The error rate and the number of values.
    p: Mean,
    /// `None` until the warm-up ends (River's +inf).
    best: Option<Best>,
    warning: bool,
    drift: bool,
}

impl Ddm {
    /// DDM with River's defaults.
    pub fn new() -> Self {
        Self::fresh(DdmParams::default())
    }

    fn fresh(params: DdmParams) -> Self {
        Self { params, p: Mean::default(), best: None, warning: false, drift: false }
    }

    /// The parameters.
    pub fn params(&self) -> &DdmParams {
        &self.params
    }

    /// The error rate since the last reset.
    pub fn error_rate(&self) -> f64 {
        self.p.mean
    }
}

impl Default for Ddm {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for Ddm {
    fn update(&mut self, x: f64) -> Signal {
        if self.drift {
            self.reset();
        }
        self.p.update(x);
        let (p, n) = (self.p.mean, self.p.n);
        let s = (p * (1.0 - p) / n).sqrt();
        if n > self.params.warm_start as f64 {
            let best = match self.best {
                Some(b) if p + s > b.ps => b,
                _ => Best { p, s, ps: p + s },
            };
            self.best = Some(best);
            self.warning = p + s > best.p + self.params.warning_threshold * best.s;
            if p + s > best.p + self.params.drift_threshold * best.s {
                self.drift = true;
                self.warning = false;
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

    registry_methods!(super::registry::DDM);

    fn check_state(&self) -> Result<(), String> {
        self.params.check().map_err(|e| e.to_string())?;
        self.p.check("the error rate")?;
        if let Some(b) = self.best {
            check_finite("the best error rate", &[b.p, b.s, b.ps])?;
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
    fn a_rising_error_rate_warns_then_drifts() {
        let mut d = Ddm::new();
        let mut seen = Vec::new();
        for i in 0..2000 {
            // One error in ten, then one in two from 1000 on.
            let x = f64::from(u8::from((i as u64).is_multiple_of(if i < 1000 { 10 } else { 2 })));
            let s = d.update(x);
            if s != Signal::None && seen.last() != Some(&s) {
                seen.push(s);
            }
            if s == Signal::Drift {
                assert!(i > 1000, "drift at {i}");
                break;
            }
        }
        assert_eq!(seen, [Signal::Warning, Signal::Drift]);
    }

    #[test]
    fn the_best_point_is_taken_after_the_warm_up_only() {
        let mut d = Ddm::new();
        for _ in 0..30 {
            assert_eq!(d.update(1.0), Signal::None);
        }
        assert!(d.best.is_none());
        d.update(0.0);
        let b = d.best.expect("set after warm_start values");
        assert!((b.p - 30.0 / 31.0).abs() < 1e-15, "{}", b.p);
    }
}
