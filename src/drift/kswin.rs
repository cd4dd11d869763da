//! KSWIN, the Kolmogorov-Smirnov windowing detector (Raab et al., 2020), as River
//! 0.26.1 runs it.
//!
//! The last `window_size` values are kept. Once the window is full, at every value
//! `stat_size` values drawn at random (without replacement) from the `window_size -
//! stat_size` oldest are compared with the `stat_size` newest by the two-sample
//! Kolmogorov-Smirnov test (SciPy's `ks_2samp`, exact p-value for equal sizes); a
//! p-value at most `alpha` with a statistic above 0.1 is a drift. The next update
//! after a drift starts afresh: an empty window and the generator re-seeded, as
//! River's reset does.
//!
//! River draws with Python's `random.Random(seed)`; eddy draws with its own seeded
//! generator (xoshiro256++), so the two agree on which values are drawn only when
//! every old value is drawn (`window_size = 2 * stat_size`). The test itself
//! ([`ks_2samp_equal`]) is SciPy's, bit for bit.

use super::{check_finite, registry_methods, Detector, Signal};
use crate::error::DriftParamsError;
use ndarray_rand::rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The largest `stat_size`: SciPy computes exact p-values up to 10,000 values per sample.
pub const MAX_STAT_SIZE: u64 = 10_000;

/// The largest `window_size`.
pub const MAX_WINDOW_SIZE: u64 = 1 << 20;

/// KSWIN's parameters, with River's names and defaults (River's default seed is
/// none, a fresh one every run; eddy's is 0, so runs repeat).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KswinParams {
    /// Significance of the test, in [0, 1].
    pub alpha: f64,
    /// Values kept.
    pub window_size: u64,
    /// Values in each tested sample; at most half the window.
    pub stat_size: u64,
    /// Seed of the draws.
    pub seed: u64,
}

impl Default for KswinParams {
    fn default() -> Self {
        Self { alpha: 0.005, window_size: 100, stat_size: 30, seed: 0 }
    }
}

impl KswinParams {
    /// Check every rule.
    pub fn check(&self) -> Result<(), DriftParamsError> {
        let out = |param, rule, value: f64| Err(DriftParamsError::OutOfRange { param, rule, value });
        if !(0.0..=1.0).contains(&self.alpha) {
            return out("alpha", ">= 0 and <= 1", self.alpha);
        }
        if self.stat_size == 0 || self.stat_size > MAX_STAT_SIZE {
            return out("stat_size", ">= 1 and <= 10000", self.stat_size as f64);
        }
        if self.window_size > MAX_WINDOW_SIZE {
            return out("window_size", "<= 1048576", self.window_size as f64);
        }
        if self.window_size < 2 * self.stat_size {
            return Err(DriftParamsError::KswinWindow {
                window_size: self.window_size as usize,
                stat_size: self.stat_size as usize,
            });
        }
        Ok(())
    }

    /// Check the parameters and build a fresh detector.
    pub fn build(self) -> Result<Kswin, DriftParamsError> {
        self.check()?;
        Ok(Kswin::fresh(self))
    }
}

/// The KSWIN detector (River's `drift.KSWIN`): real values, drifts only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kswin {
    params: KswinParams,
    window: VecDeque<f64>,
    rng: Xoshiro256PlusPlus,
    /// Values since the last reset.
    n: u64,
    /// The last test's p-value (0 before the first, as in River).
    p_value: f64,
    drift: bool,
    /// Buffers reused by every test.
    #[serde(skip)]
    scratch: Scratch,
}

#[derive(Debug, Clone, Default)]
struct Scratch {
    drawn: Vec<bool>,
    old: Vec<f64>,
    new: Vec<f64>,
}

impl Kswin {
    /// KSWIN with eddy's defaults (River's, with seed 0).
    pub fn new() -> Self {
        Self::fresh(KswinParams::default())
    }

    fn fresh(params: KswinParams) -> Self {
        Self {
            params,
            window: VecDeque::with_capacity(params.window_size as usize),
            rng: Xoshiro256PlusPlus::seed_from_u64(params.seed),
            n: 0,
            p_value: 0.0,
            drift: false,
            scratch: Scratch::default(),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &KswinParams {
        &self.params
    }

    /// The last test's p-value.
    pub fn p_value(&self) -> f64 {
        self.p_value
    }

    /// Draw `stat_size` of the old values (Floyd's sampling) and test them against
    /// the newest: `(statistic, p-value)`.
    fn test(&mut self) -> (f64, f64) {
        let k = self.params.stat_size as usize;
        let old = self.window.len() - k;
        let s = &mut self.scratch;
        s.drawn.clear();
        s.drawn.resize(old, false);
        for j in old - k..old {
            let t = self.rng.gen_range(0..=j);
            let pick = if s.drawn[t] { j } else { t };
            s.drawn[pick] = true;
        }
        s.old.clear();
        s.old.extend(self.window.iter().zip(&s.drawn).filter(|(_, &d)| d).map(|(&v, _)| v));
        s.new.clear();
        s.new.extend(self.window.iter().skip(old));
        ks_2samp_equal(&mut s.old, &mut s.new)
    }
}

impl Default for Kswin {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for Kswin {
    fn update(&mut self, x: f64) -> Signal {
        if self.drift {
            self.reset();
        }
        self.n = self.n.saturating_add(1);
        if self.window.len() == self.params.window_size as usize {
            self.window.pop_front();
        }
        self.window.push_back(x);
        self.drift = false;
        if self.window.len() >= self.params.window_size as usize {
            let (statistic, p_value) = self.test();
            self.p_value = p_value;
            self.drift = p_value <= self.params.alpha && statistic > 0.1;
        }
        if self.drift {
            Signal::Drift
        } else {
            Signal::None
        }
    }

    fn reset(&mut self) {
        let scratch = std::mem::take(&mut self.scratch);
        *self = Self { scratch, ..Self::fresh(self.params) };
    }

    registry_methods!(super::registry::KSWIN);

    fn check_state(&self) -> Result<(), String> {
        self.params.check().map_err(|e| e.to_string())?;
        if self.window.len() > self.params.window_size as usize {
            return Err(format!("{} values in a window of {}", self.window.len(), self.params.window_size));
        }
        if let Some(v) = self.window.iter().find(|v| !v.is_finite()) {
            return Err(format!("a value in the window is {v}, not a finite number"));
        }
        check_finite("the p-value", &[self.p_value])
    }

    fn recent_window(&self) -> usize {
        self.params.stat_size as usize
    }
}

/// SciPy's `ks_2samp(a, b)` (two-sided, method `auto`) for two samples of the same
/// size `n <= 10000`, where it computes the exact p-value: `(statistic, p-value)`.
/// Sorts both samples in place. The p-value is SciPy's arithmetic, in its order.
pub fn ks_2samp_equal(a: &mut [f64], b: &mut [f64]) -> (f64, f64) {
    let n = a.len();
    debug_assert_eq!(n, b.len());
    if n == 0 || n != b.len() {
        return (0.0, 1.0);
    }
    a.sort_unstable_by(f64::total_cmp);
    b.sort_unstable_by(f64::total_cmp);
    // The largest gap between the two empirical CDFs, in counts (SciPy's float
    // differences of counts / n, rounded back to counts, are these integers).
    let (mut i, mut j, mut h) = (0usize, 0usize, 0usize);
    while i < n && j < n {
        let v = if a[i] <= b[j] { a[i] } else { b[j] };
        while i < n && a[i] <= v {
            i += 1;
        }
        while j < n && b[j] <= v {
            j += 1;
        }
        h = h.max(i.abs_diff(j));
    }
    let statistic = h as f64 / n as f64;
    if h == 0 {
        return (statistic, 1.0);
    }
    (statistic, prob_outside_square(n, h).clamp(0.0, 1.0))
}

/// SciPy's `_compute_prob_outside_square(n, h)`: the probability that the two
/// empirical CDFs of samples of `n` values differ by at least `h / n`.
fn prob_outside_square(n: usize, h: usize) -> f64 {
    let (n, h) = (n as i64, h as i64);
    let mut p = 0.0;
    let mut k = n / h;
    while k >= 0 {
        let mut p1 = 1.0;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ks_test_of_two_small_samples_by_hand() {
        // a = 1..5, b = 4..8: the CDFs differ by 3/5 at 3; P(D >= 3/5) for n = 5.
        let (d, p) = ks_2samp_equal(&mut [5.0, 1.0, 3.0, 2.0, 4.0], &mut [8.0, 4.0, 6.0, 5.0, 7.0]);
        assert_eq!(d, 0.6);
        // 2 C(10, 2) / C(10, 5) = 90 / 252 of the paths leave the band |x - y| < 3.
        assert!((p - 0.357_142_857_142_857_1).abs() < 1e-15, "{p}");
        let (d, p) = ks_2samp_equal(&mut [1.0, 2.0], &mut [2.0, 1.0]);
        assert_eq!((d, p), (0.0, 1.0));
    }

    #[test]
    fn a_full_draw_is_the_whole_old_part() {
        let mut k = KswinParams { window_size: 60, stat_size: 30, ..Default::default() }.build().expect("valid");
        for i in 0..60 {
            k.update(f64::from(i));
        }
        let mut drawn = k.scratch.old.clone();
        drawn.sort_unstable_by(f64::total_cmp);
        assert_eq!(drawn, (0..30).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn draws_are_without_replacement_and_seeded() {
        let draws = |seed| {
            let mut k = KswinParams { seed, ..Default::default() }.build().expect("valid");
            for i in 0..100 {
                k.update(f64::from(i));
            }
            let mut drawn = k.scratch.old.clone();
            drawn.dedup();
            assert_eq!(drawn.len(), 30);
            assert!(drawn.iter().all(|&v| v < 70.0));
            drawn
        };
        assert_eq!(draws(3), draws(3));
        assert_ne!(draws(3), draws(4));
    }

    #[test]
    fn a_window_below_twice_the_sample_is_refused() {
        let e = KswinParams { window_size: 50, stat_size: 30, ..Default::default() }.build().expect_err("too small");
        assert!(e.to_string().contains("at least 2 * stat_size"), "{e}");
    }
}
