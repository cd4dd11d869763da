//! ADWIN (adaptive windowing, Bifet & Gavaldà 2007), as River 0.26.1 runs it.
//!
//! The window is kept compressed in rows of buckets: row `i` holds up to
//! `max_buckets` buckets, each summarising `2^i` values (their total and their
//! variance), oldest first. A new value enters row 0; a row that overflows merges its
//! two oldest buckets into one bucket of the next row. Every `clock` values (once the
//! window is wider than `grace_period`) every split of the window into an older part
//! W0 and a newer part W1 at a bucket boundary is tested, oldest first; when the
//! means differ by more than
//!
//! ```text
//! eps = sqrt(2 m var dd) + 2/3 dd m,   dd = ln(2 ln(width) / delta),
//! m = 1/(n0 - mwl + 1) + 1/(n1 - mwl + 1),   var = variance / width
//! ```
//!
//! (both parts at least `min_window_length` values) the oldest bucket is dropped and
//! the test starts again, until no split is found. Such an update reports a drift,
//! and the next update starts from an empty window (River's `ADWIN.update` resets
//! after a drift).
//!
//! The arithmetic is done in River's order, so the same values give the same bits.

use super::{check_finite, registry_methods, Detector, Signal, MAX_COUNT};
use crate::error::DriftParamsError;
use serde::{Deserialize, Serialize};

/// The most buckets a row may hold (`max_buckets`).
pub const MAX_BUCKETS: u64 = 1 << 16;

/// The most rows a window may have: row `i` holds buckets of `2^i` values, so 62
/// rows cover more values than a stream can bring.
const MAX_ROWS: usize = 62;

/// ADWIN's parameters, with River's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdwinParams {
    /// Significance of the cut test, in (0, 1]: smaller finds fewer, surer drifts.
    pub delta: f64,
    /// Test for a cut every this many values.
    pub clock: u64,
    /// Buckets of each size kept before two are merged.
    pub max_buckets: u64,
    /// The fewest values each part of a split may hold.
    pub min_window_length: u64,
    /// No test until the window is wider than this.
    pub grace_period: u64,
}

impl Default for AdwinParams {
    fn default() -> Self {
        Self { delta: 0.002, clock: 32, max_buckets: 5, min_window_length: 5, grace_period: 10 }
    }
}

impl AdwinParams {
    /// Check every rule.
    pub fn check(&self) -> Result<(), DriftParamsError> {
        let out = |param, rule, value: f64| Err(DriftParamsError::OutOfRange { param, rule, value });
        if !(self.delta > 0.0 && self.delta <= 1.0) {
            return out("delta", "> 0 and <= 1", self.delta);
        }
        if self.clock == 0 {
            return out("clock", ">= 1", 0.0);
        }
        if self.max_buckets == 0 || self.max_buckets > MAX_BUCKETS {
            return out("max_buckets", ">= 1 and <= 65536", self.max_buckets as f64);
        }
        if self.min_window_length == 0 {
            return out("min_window_length", ">= 1", 0.0);
        }
        Ok(())
    }

    /// Check the parameters and build a detector with an empty window.
    pub fn build(self) -> Result<Adwin, DriftParamsError> {
        self.check()?;
        Ok(Adwin::fresh(self))
    }
}

/// The ADWIN detector (River's `drift.ADWIN`): real values, drifts only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Adwin {
    params: AdwinParams,
    /// Buckets in each row; row `i`'s buckets summarise `2^i` values each.
    lens: Vec<usize>,
    /// Bucket totals, `max_buckets + 1` slots per row (one more for the merge), oldest first.
    totals: Vec<f64>,
    /// Bucket variances (sums of squared deviations), laid out as `totals`.
    variances: Vec<f64>,
    /// Sum of the values in the window.
    total: f64,
    /// Sum of squared deviations from the window's mean.
    variance: f64,
    /// Values in the window.
    width: f64,
    /// Values since the last test, below `clock`.
    tick: u64,
    /// The last update reported a drift: the next one starts afresh.
    drift: bool,
    /// What the last update dropped: total and number of values.
    dropped: (f64, f64),
}

impl Adwin {
    /// ADWIN with River's defaults.
    pub fn new() -> Self {
        Self::fresh(AdwinParams::default())
    }

    fn fresh(params: AdwinParams) -> Self {
        let slots = params.max_buckets as usize + 1;
        Self {
            params,
            lens: vec![0],
            totals: vec![0.0; slots],
            variances: vec![0.0; slots],
            total: 0.0,
            variance: 0.0,
            width: 0.0,
            tick: 0,
            drift: false,
            dropped: (0.0, 0.0),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &AdwinParams {
        &self.params
    }

    /// Values in the window.
    pub fn width(&self) -> f64 {
        self.width
    }

    /// Sum of the values in the window.
    pub fn total(&self) -> f64 {
        self.total
    }

    /// Sum of squared deviations from the window's mean (River's `variance`).
    pub fn variance(&self) -> f64 {
        self.variance
    }

    /// Mean of the window (River's `estimation`), 0 when it is empty.
    pub fn estimation(&self) -> f64 {
        if self.width == 0.0 {
            0.0
        } else {
            self.total / self.width
        }
    }

    fn slots(&self) -> usize {
        self.params.max_buckets as usize + 1
    }

    fn insert(&mut self, x: f64) {
        let at = self.lens[0];
        self.totals[at] = x;
        self.variances[at] = 0.0;
        self.lens[0] += 1;
        self.width += 1.0;
        let mut increment = 0.0;
        if self.width > 1.0 {
            let d = x - self.total / (self.width - 1.0);
            increment = (self.width - 1.0) * d * d / self.width;
        }
        self.variance += increment;
        self.total += x;
        self.compress();
    }

    /// Merge the two oldest buckets of every full row into the next row.
    fn compress(&mut self) {
        let slots = self.slots();
        let max = self.params.max_buckets as usize;
        let mut row = 0;
        while self.lens[row] == slots {
            let size = (1u64 << row) as f64;
            let base = row * slots;
            let (t0, t1) = (self.totals[base], self.totals[base + 1]);
            let (v0, v1) = (self.variances[base], self.variances[base + 1]);
            let (mu0, mu1) = (t0 / size, t1 / size);
            let merged_total = t0 + t1;
            let merged_variance = v0 + v1 + size * 0.5 * (mu0 - mu1) * (mu0 - mu1);
            if row + 1 == self.lens.len() {
                if row + 1 == MAX_ROWS {
                    // 2^61 values per bucket: no stream gets here; keep the row full.
                    return;
                }
                self.lens.push(0);
                self.totals.resize(self.totals.len() + slots, 0.0);
                self.variances.resize(self.variances.len() + slots, 0.0);
            }
            let next = (row + 1) * slots + self.lens[row + 1];
            self.totals[next] = merged_total;
            self.variances[next] = merged_variance;
            self.lens[row + 1] += 1;
            self.shift(row, 2);
            if self.lens[row + 1] <= max {
                break;
            }
            row += 1;
        }
    }

    /// Drop the `n` oldest buckets of `row`.
    fn shift(&mut self, row: usize, n: usize) {
        let base = row * self.slots();
        let len = self.lens[row];
        self.totals.copy_within(base + n..base + len, base);
        self.variances.copy_within(base + n..base + len, base);
        self.totals[base + len - n..base + len].fill(0.0);
        self.variances[base + len - n..base + len].fill(0.0);
        self.lens[row] = len - n;
    }

    /// Drop the oldest bucket of the window.
    fn drop_oldest(&mut self) {
        let last = self.lens.len() - 1;
        let size = (1u64 << last) as f64;
        let base = last * self.slots();
        let (u, v) = (self.totals[base], self.variances[base]);
        let mu = u / size;
        self.width -= size;
        self.total -= u;
        let mu_window = self.total / self.width;
        let decrement = v + size * self.width * (mu - mu_window) * (mu - mu_window) / (size + self.width);
        self.variance -= decrement;
        self.shift(last, 1);
        // Empty rows at the old end go (River pops one; with max_buckets=1 a row
        // below can be empty too, which River would then read past).
        while self.lens.len() > 1 && self.lens[self.lens.len() - 1] == 0 {
            self.lens.pop();
            let keep = self.lens.len() * self.slots();
            self.totals.truncate(keep);
            self.variances.truncate(keep);
        }
        self.dropped.0 += u;
        self.dropped.1 += size;
    }

    /// Every `clock` values: drop old buckets while some split's means differ.
    fn detect(&mut self) -> bool {
        self.tick += 1;
        if self.tick < self.params.clock {
            return false;
        }
        self.tick = 0;
        if self.width <= self.params.grace_period as f64 {
            return false;
        }
        let min_len = self.params.min_window_length as f64;
        let slots = self.slots();
        let mut changed = false;
        loop {
            // Constant while no bucket is dropped: computed once per pass.
            let dd = (2.0 * self.width.ln() / self.params.delta).ln();
            let var = self.variance / self.width;
            let (mut n0, mut n1, mut u0, mut u1) = (0.0, self.width, 0.0, self.total);
            let mut cut = false;
            'scan: for row in (0..self.lens.len()).rev() {
                let size = (1u64 << row) as f64;
                let len = self.lens[row];
                for k in 0..len {
                    n0 += size;
                    n1 -= size;
                    let t = self.totals[row * slots + k];
                    u0 += t;
                    u1 -= t;
                    if row == 0 && k == len - 1 {
                        break 'scan;
                    }
                    let delta_mean = u0 / n0 - u1 / n1;
                    if n1 >= min_len && n0 >= min_len {
                        let m = 1.0 / (n0 - min_len + 1.0) + 1.0 / (n1 - min_len + 1.0);
                        let eps = (2.0 * m * var * dd).sqrt() + 2.0 / 3.0 * dd * m;
                        if delta_mean.abs() > eps {
                            cut = true;
                            changed = true;
                            if self.width > 0.0 {
                                self.drop_oldest();
                                break 'scan;
                            }
                        }
                    }
                }
            }
            if !cut {
                return changed;
            }
        }
    }
}

impl Default for Adwin {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for Adwin {
    fn update(&mut self, x: f64) -> Signal {
        if self.drift {
            self.reset();
        }
        self.dropped = (0.0, 0.0);
        self.insert(x);
        self.drift = self.detect();
        if self.drift {
            Signal::Drift
        } else {
            Signal::None
        }
    }

    fn reset(&mut self) {
        *self = Self::fresh(self.params);
    }

    registry_methods!(super::registry::ADWIN);

    fn check_state(&self) -> Result<(), String> {
        self.params.check().map_err(|e| e.to_string())?;
        let slots = self.slots();
        let rows = self.lens.len();
        if rows == 0 || rows > MAX_ROWS {
            return Err(format!("{rows} rows of buckets: expected 1 to {MAX_ROWS}"));
        }
        if self.totals.len() != rows * slots || self.variances.len() != rows * slots {
            return Err(format!(
                "{} totals and {} variances for {rows} rows of {slots} slots",
                self.totals.len(),
                self.variances.len()
            ));
        }
        if let Some((row, len)) = self.lens.iter().enumerate().find(|(_, &l)| l as u64 > self.params.max_buckets) {
            return Err(format!("row {row} holds {len} buckets, more than max_buckets"));
        }
        if rows > 1 && self.lens[rows - 1] == 0 {
            return Err("the oldest row of buckets is empty".into());
        }
        check_finite("a bucket", &self.totals)?;
        check_finite("a bucket's variance", &self.variances)?;
        check_finite("the window", &[self.total, self.variance, self.width, self.dropped.0, self.dropped.1])?;
        let counted: u128 = self.lens.iter().enumerate().map(|(row, &len)| (len as u128) << row).sum();
        if !(self.width <= MAX_COUNT && self.width == counted as f64) {
            return Err(format!("the window is {} wide but its buckets hold {counted} values", self.width));
        }
        if self.tick >= self.params.clock {
            return Err(format!("tick {} is not below clock {}", self.tick, self.params.clock));
        }
        Ok(())
    }

    fn recent_window(&self) -> usize {
        self.params.min_window_length as usize
    }

    fn split_means(&self) -> Option<(f64, f64)> {
        let (dropped_total, dropped_width) = self.dropped;
        (self.drift && dropped_width > 0.0 && self.width > 0.0)
            .then(|| (dropped_total / dropped_width, self.total / self.width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_and_sums_what_it_keeps() {
        let mut a = Adwin::new();
        for x in [1.0, 2.0, 3.0, 4.0, 5.0] {
            assert_eq!(a.update(x), Signal::None);
        }
        assert_eq!((a.width(), a.total(), a.variance()), (5.0, 15.0, 10.0));
        // Six buckets in row 0: the two oldest merge into one bucket of two values.
        a.update(6.0);
        assert_eq!(a.lens, [4, 1]);
        assert_eq!(a.totals[6], 3.0);
        assert_eq!(a.variances[6], 0.5);
        a.check_state().expect("consistent");
    }

    #[test]
    fn a_constant_stream_never_drifts_and_stays_compressed() {
        let mut a = Adwin::new();
        for _ in 0..100_000 {
            assert_eq!(a.update(1.0), Signal::None);
        }
        assert_eq!(a.width(), 100_000.0);
        assert!(a.lens.len() <= 16, "{} rows", a.lens.len());
        a.check_state().expect("consistent");
    }

    #[test]
    fn a_step_is_found_and_split_where_it_happened() {
        let mut a = Adwin::new();
        let mut at = None;
        for i in 0..2000 {
            let x = if i < 1000 { 0.0 } else { 1.0 };
            if a.update(x) == Signal::Drift {
                at = Some(i);
                break;
            }
        }
        let at = at.expect("a step from 0 to 1 is found");
        assert!((1000..1064).contains(&at), "found at {at}");
        // The dropped part is all zeros; the kept part may still hold zeros too, since
        // ADWIN stops dropping once no split is significant.
        let (before, after) = a.split_means().expect("a drift has means");
        assert!(before == 0.0 && after > 0.0, "{before} {after}");
        // The next value starts a fresh window.
        a.update(1.0);
        assert_eq!(a.width(), 1.0);
        assert_eq!(a.split_means(), None);
    }

    #[test]
    fn with_one_bucket_per_row_the_window_stays_consistent() {
        let params = AdwinParams { max_buckets: 1, clock: 1, grace_period: 0, min_window_length: 1, delta: 0.5 };
        let mut a = params.build().expect("valid");
        for i in 0..5000 {
            a.update(((i * 7919) % 13) as f64 + if i % 997 < 500 { 0.0 } else { 20.0 });
            a.check_state().expect("consistent");
        }
    }

    #[test]
    fn parameters_out_of_range_are_refused() {
        let p = AdwinParams::default;
        assert!(AdwinParams { delta: 0.0, ..p() }.build().is_err());
        assert!(AdwinParams { delta: 1.5, ..p() }.build().is_err());
        assert!(AdwinParams { clock: 0, ..p() }.build().is_err());
        assert!(AdwinParams { max_buckets: 0, ..p() }.build().is_err());
        assert!(AdwinParams { min_window_length: 0, ..p() }.build().is_err());
    }
}
