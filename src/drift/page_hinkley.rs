//! The Page-Hinkley test, as River 0.26.1 runs it.
//!
//! With `mean` the running mean of every value since the last reset and
//! `dev = x - mean` (the mean including `x`):
//!
//! ```text
//! up   = alpha * up   + dev - delta      down = alpha * down + dev + delta
//! test_up = up - min(up)                 test_down = max(down) - down
//! ```
//!
//! (`max(down)` starts at -1, as in River). From `min_instances` values on, a
//! drift is `test_up > threshold` (mode `up`), `test_down > threshold` (`down`) or
//! either (`both`). The next update after a drift starts afresh.

use super::{check_finite, registry_methods, Detector, Mean, Signal};
use crate::error::DriftParamsError;
use serde::{Deserialize, Serialize};

/// Which changes of the mean Page-Hinkley looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Increases only.
    Up,
    /// Decreases only.
    Down,
    /// Both.
    Both,
}

/// Page-Hinkley's parameters, with River's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PageHinkleyParams {
    /// Values seen before the test starts.
    pub min_instances: u64,
    /// Magnitude of change the cumulative sums tolerate per value.
    pub delta: f64,
    /// A cumulative sum this far from its extreme is a drift.
    pub threshold: f64,
    /// Forgetting factor of the cumulative sums, in [0, 1].
    pub alpha: f64,
    /// Look for increases, decreases, or both.
    pub mode: Mode,
}

impl Default for PageHinkleyParams {
    fn default() -> Self {
        Self { min_instances: 30, delta: 0.005, threshold: 50.0, alpha: 1.0 - 0.0001, mode: Mode::Both }
    }
}

impl PageHinkleyParams {
    /// Check every rule.
    pub fn check(&self) -> Result<(), DriftParamsError> {
        let out = |param, rule, value: f64| Err(DriftParamsError::OutOfRange { param, rule, value });
        if !(self.delta >= 0.0 && self.delta.is_finite()) {
            return out("delta", "a finite number >= 0", self.delta);
        }
        if !(self.threshold >= 0.0 && self.threshold.is_finite()) {
            return out("threshold", "a finite number >= 0", self.threshold);
        }
        if !(0.0..=1.0).contains(&self.alpha) {
            return out("alpha", ">= 0 and <= 1", self.alpha);
        }
        Ok(())
    }

    /// Check the parameters and build a fresh detector.
    pub fn build(self) -> Result<PageHinkley, DriftParamsError> {
        self.check()?;
        Ok(PageHinkley::fresh(self))
    }
}

/// The Page-Hinkley detector (River's `drift.PageHinkley`): real values, drifts only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageHinkley {
    params: PageHinkleyParams,
    mean: Mean,
    sum_increase: f64,
    sum_decrease: f64,
    /// Smallest `sum_increase` so far; `None` before the first value (River's +inf).
    min_increase: Option<f64>,
    max_decrease: f64,
    drift: bool,
}

impl PageHinkley {
    /// Page-Hinkley with River's defaults.
    pub fn new() -> Self {
        Self::fresh(PageHinkleyParams::default())
    }

    fn fresh(params: PageHinkleyParams) -> Self {
        Self {
            params,
            mean: Mean::default(),
            sum_increase: 0.0,
            sum_decrease: 0.0,
            min_increase: None,
            max_decrease: -1.0,
            drift: false,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &PageHinkleyParams {
        &self.params
    }

    /// The two test statistics `(up - min(up), max(down) - down)` as they stand.
    pub fn statistics(&self) -> (f64, f64) {
        (self.sum_increase - self.min_increase.unwrap_or(self.sum_increase), self.max_decrease - self.sum_decrease)
    }
}

impl Default for PageHinkley {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for PageHinkley {
    fn update(&mut self, x: f64) -> Signal {
        if self.drift {
            self.reset();
        }
        self.mean.update(x);
        let dev = x - self.mean.mean;
        let p = &self.params;
        self.sum_increase = p.alpha * self.sum_increase + dev - p.delta;
        self.sum_decrease = p.alpha * self.sum_decrease + dev + p.delta;
        let min_increase = match self.min_increase {
            Some(m) if self.sum_increase >= m => m,
            _ => self.sum_increase,
        };
        self.min_increase = Some(min_increase);
        if self.sum_decrease > self.max_decrease {
            self.max_decrease = self.sum_decrease;
        }
        if self.mean.n >= p.min_instances as f64 {
            let up = self.sum_increase - min_increase > p.threshold;
            let down = self.max_decrease - self.sum_decrease > p.threshold;
            self.drift = match p.mode {
                Mode::Up => up,
                Mode::Down => down,
                Mode::Both => up || down,
            };
        }
        if self.drift {
            Signal::Drift
        } else {
            Signal::None
        }
    }

    fn reset(&mut self) {
        *self = Self::fresh(self.params);
    }

    registry_methods!(super::registry::PAGE_HINKLEY);

    fn check_state(&self) -> Result<(), String> {
        self.params.check().map_err(|e| e.to_string())?;
        self.mean.check("the mean")?;
        let min = self.min_increase.unwrap_or(0.0);
        check_finite("a cumulative sum", &[self.sum_increase, self.sum_decrease, min, self.max_decrease])
    }

    fn recent_window(&self) -> usize {
        (self.params.min_instances as usize).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Page-Hinkley by hand on 0, 0, 0, 10 with delta = 0.5, alpha = 1,
    /// threshold = 4, min_instances = 1.
    #[test]
    fn a_small_stream_by_hand() {
        let params = PageHinkleyParams { min_instances: 1, delta: 0.5, threshold: 4.0, alpha: 1.0, mode: Mode::Up };
        let mut ph = params.build().expect("valid");
        // Three zeros: mean 0, dev 0; up = -0.5, -1, -1.5 (each its own minimum), test 0.
        for _ in 0..3 {
            assert_eq!(ph.update(0.0), Signal::None);
        }
        assert_eq!(ph.statistics().0, 0.0);
        // 10: mean 2.5, dev 7.5; up = -1.5 + 7.5 - 0.5 = 5.5; test 5.5 - (-1.5) = 7 > 4.
        assert_eq!(ph.update(10.0), Signal::Drift);
        assert_eq!(ph.statistics().0, 7.0);
        // down = 0.5, 1, 1.5, 1.5 + 7.5 + 0.5 = 9.5; max(down) is 9.5: no decrease.
        assert_eq!(ph.statistics().1, 0.0);
        // The next value starts afresh.
        assert_eq!(ph.update(10.0), Signal::None);
        assert_eq!(ph.mean.n, 1.0);
    }

    #[test]
    fn mode_picks_the_direction() {
        let up = PageHinkleyParams { mode: Mode::Up, threshold: 5.0, ..Default::default() };
        let down = PageHinkleyParams { mode: Mode::Down, ..up };
        let falling: Vec<f64> = (0..400).map(|i| if i < 200 { 5.0 } else { 0.0 }).collect();
        let count = |p: PageHinkleyParams| {
            let mut d = p.build().expect("valid");
            falling.iter().filter(|&&x| d.update(x) == Signal::Drift).count()
        };
        assert_eq!(count(up), 0);
        assert!(count(down) >= 1);
    }

    #[test]
    fn warm_up_holds_the_test() {
        let mut ph = PageHinkleyParams { threshold: 0.0, ..Default::default() }.build().expect("valid");
        for i in 0..29 {
            assert_eq!(ph.update(i as f64 * 100.0), Signal::None, "value {i}");
        }
        assert_eq!(ph.update(1e6), Signal::Drift);
    }
}
