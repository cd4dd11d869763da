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
//! Two things differ from River's code, neither in what it decides: each row is a
//! ring (merging or dropping buckets moves no data), and each split is first screened
//! without dividing: its difference of means, bounded with its rounding, against lower
//! bounds of its threshold (`eps >= sqrt(2 m var dd)` and `eps >= 2/3 dd m`,
//! cross-multiplied). River's exact test, in River's arithmetic, runs wherever the
//! screen does not rule the cut out. A test checks the two against a plain
//! transcription of River's code on many streams.

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

/// One row's ring: its oldest bucket's slot and its number of buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Row {
    head: usize,
    len: usize,
}

/// A bucket: the total of its values and their sum of squared deviations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Bucket {
    total: f64,
    variance: f64,
}

/// The ADWIN detector (River's `drift.ADWIN`): real values, drifts only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Adwin {
    params: AdwinParams,
    /// Each row's ring of buckets: where its oldest bucket is, and how many it holds.
    /// Row `i`'s buckets summarise `2^i` values each.
    rows: Vec<Row>,
    /// The buckets, `max_buckets + 1` slots per row (one more for the merge).
    buckets: Vec<Bucket>,
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
            rows: vec![Row::default()],
            buckets: vec![Bucket::default(); slots],
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

    /// The slot of bucket `k` (0 = oldest) of `row`.
    #[inline]
    fn slot(&self, row: usize, k: usize) -> usize {
        let slots = self.slots();
        let at = self.rows[row].head + k;
        row * slots + if at >= slots { at - slots } else { at }
    }

    fn insert(&mut self, x: f64) {
        let at = self.slot(0, self.rows[0].len);
        self.buckets[at] = Bucket { total: x, variance: 0.0 };
        self.rows[0].len += 1;
        self.width += 1.0;
        // River's order of operations, but the new total is stored before the variance
        // waits on two divisions: the next value's division then need not wait too.
        let before = self.total;
        self.total = before + x;
        let mut increment = 0.0;
        if self.width > 1.0 {
            let d = x - before / (self.width - 1.0);
            increment = (self.width - 1.0) * d * d / self.width;
        }
        self.variance += increment;
        if self.rows[0].len == self.slots() {
            self.compress();
        }
    }

    /// Merge the two oldest buckets of every full row into the next row.
    fn compress(&mut self) {
        let slots = self.slots();
        let max = self.params.max_buckets as usize;
        let mut row = 0;
        while self.rows[row].len == slots {
            // Dividing by a power of two is exact: River's `t / 2^row`, bit for bit.
            let scale = 1.0 / (1u64 << row) as f64;
            let size = (1u64 << row) as f64;
            let (b0, b1) = (self.buckets[self.slot(row, 0)], self.buckets[self.slot(row, 1)]);
            let (mu0, mu1) = (b0.total * scale, b1.total * scale);
            let merged = Bucket {
                total: b0.total + b1.total,
                variance: b0.variance + b1.variance + size * 0.5 * (mu0 - mu1) * (mu0 - mu1),
            };
            if row + 1 == self.rows.len() {
                if row + 1 == MAX_ROWS {
                    // 2^61 values per bucket: no stream gets here; keep the row full.
                    return;
                }
                self.rows.push(Row::default());
                self.buckets.resize(self.buckets.len() + slots, Bucket::default());
            }
            let next = self.slot(row + 1, self.rows[row + 1].len);
            self.buckets[next] = merged;
            self.rows[row + 1].len += 1;
            self.advance(row, 2);
            if self.rows[row + 1].len <= max {
                break;
            }
            row += 1;
        }
    }

    /// Forget the `n` oldest buckets of `row`.
    #[inline]
    fn advance(&mut self, row: usize, n: usize) {
        let slots = self.slots();
        let r = &mut self.rows[row];
        r.head += n;
        if r.head >= slots {
            r.head -= slots;
        }
        r.len -= n;
    }

    /// Drop the oldest bucket of the window.
    fn drop_oldest(&mut self) {
        let last = self.rows.len() - 1;
        let size = (1u64 << last) as f64;
        let Bucket { total: u, variance: v } = self.buckets[self.slot(last, 0)];
        let mu = u / size;
        self.width -= size;
        self.total -= u;
        let mu_window = self.total / self.width;
        let decrement = v + size * self.width * (mu - mu_window) * (mu - mu_window) / (size + self.width);
        self.variance -= decrement;
        self.advance(last, 1);
        // Empty rows at the old end go (River pops one; with max_buckets=1 a row
        // below can be empty too, which River would then read past).
        while self.rows.len() > 1 && self.rows[self.rows.len() - 1].len == 0 {
            self.rows.pop();
            self.buckets.truncate(self.rows.len() * self.slots());
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
        let mut changed = false;
        loop {
            // Constant while no bucket is dropped: computed once per pass.
            let dd = (2.0 * self.width.ln() / self.params.delta).ln();
            let var = self.variance / self.width;
            // The screen below needs the threshold's terms to be real and positive.
            let screen = var >= 0.0 && dd > 0.0 && (var * dd).is_finite();
            let (two_var_dd, two_thirds_dd) = (2.0 * var * dd, 2.0 / 3.0 * dd);
            let (mut n0, mut n1, mut u0, mut u1) = (0.0, self.width, 0.0, self.total);
            let mut cut = false;
            'scan: for row in (0..self.rows.len()).rev() {
                let size = (1u64 << row) as f64;
                let len = self.rows[row].len;
                for k in 0..len {
                    n0 += size;
                    n1 -= size;
                    let t = self.buckets[self.slot(row, k)].total;
                    u0 += t;
                    u1 -= t;
                    if row == 0 && k == len - 1 {
                        break 'scan;
                    }
                    if n1 < min_len || n0 < min_len {
                        continue;
                    }
                    if screen {
                        // Without dividing: |u0/n0 - u1/n1| = |u0 n1 - u1 n0| / (n0 n1) (`gap`
                        // bounds it with the rounding of both forms, 6 ulps of the products),
                        // m = (a + b) / (a b), and eps >= max(sqrt(2 m var dd), 2/3 dd m). A
                        // gap below either term (with a margin far above rounding) cannot cut.
                        let (a, b) = (n0 - min_len + 1.0, n1 - min_len + 1.0);
                        let (ab, nn) = (a * b, n0 * n1);
                        let gap = (u0 * n1 - u1 * n0).abs() + 6.7e-16 * (u0.abs() * n1 + u1.abs() * n0);
                        // The square term decides most splits (all but the newest few).
                        let square = two_var_dd * (a + b) * nn * nn;
                        if square.is_finite() && gap * gap * ab * (1.0 + 1e-9) <= square {
                            continue;
                        }
                        let linear = two_thirds_dd * (a + b) * nn;
                        if linear.is_finite() && gap * ab * (1.0 + 1e-9) <= linear {
                            continue;
                        }
                    }
                    let delta_mean = u0 / n0 - u1 / n1;
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
        let rows = self.rows.len();
        if rows == 0 || rows > MAX_ROWS {
            return Err(format!("{rows} rows of buckets: expected 1 to {MAX_ROWS}"));
        }
        if self.buckets.len() != rows * slots {
            return Err(format!("{} buckets for {rows} rows of {slots} slots", self.buckets.len()));
        }
        if let Some((i, r)) =
            self.rows.iter().enumerate().find(|(_, r)| r.head >= slots || r.len as u64 > self.params.max_buckets)
        {
            return Err(format!("row {i} starts at slot {} and holds {} buckets of {slots} slots", r.head, r.len));
        }
        if rows > 1 && self.rows[rows - 1].len == 0 {
            return Err("the oldest row of buckets is empty".into());
        }
        for b in &self.buckets {
            check_finite("a bucket", &[b.total, b.variance])?;
        }
        check_finite("the window", &[self.total, self.variance, self.width, self.dropped.0, self.dropped.1])?;
        let counted: u128 = self.rows.iter().enumerate().map(|(row, r)| (r.len as u128) << row).sum();
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

    fn estimation(&self) -> Option<f64> {
        Some(Adwin::estimation(self))
    }

    fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>() + self.buckets.capacity() * std::mem::size_of::<Bucket>()
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
        assert_eq!(a.rows, [Row { head: 2, len: 4 }, Row { head: 0, len: 1 }]);
        assert_eq!(a.buckets[6], Bucket { total: 3.0, variance: 0.5 });
        a.check_state().expect("consistent");
    }

    #[test]
    fn a_constant_stream_never_drifts_and_stays_compressed() {
        let mut a = Adwin::new();
        for _ in 0..100_000 {
            assert_eq!(a.update(1.0), Signal::None);
        }
        assert_eq!(a.width(), 100_000.0);
        assert!(a.rows.len() <= 16, "{} rows", a.rows.len());
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

    /// River's ADWIN transcribed plainly (rows that shift, every split tested in
    /// full), with the Python wrapper's reset after a drift.
    struct Reference {
        p: AdwinParams,
        rows: Vec<Vec<(f64, f64)>>,
        total: f64,
        variance: f64,
        width: f64,
        tick: u64,
        drift: bool,
    }

    impl Reference {
        fn new(p: AdwinParams) -> Self {
            Self { p, rows: vec![Vec::new()], total: 0.0, variance: 0.0, width: 0.0, tick: 0, drift: false }
        }

        fn update(&mut self, x: f64) -> bool {
            if self.drift {
                *self = Self::new(self.p);
            }
            self.rows[0].push((x, 0.0));
            self.width += 1.0;
            let mut inc = 0.0;
            if self.width > 1.0 {
                let d = x - self.total / (self.width - 1.0);
                inc = (self.width - 1.0) * d * d / self.width;
            }
            self.variance += inc;
            self.total += x;
            let max = self.p.max_buckets as usize;
            let mut i = 0;
            while self.rows[i].len() == max + 1 {
                let n1 = (1u64 << i) as f64;
                let ((t0, v0), (t1, v1)) = (self.rows[i][0], self.rows[i][1]);
                let (mu1, mu2) = (t0 / n1, t1 / n1);
                let merged = (t0 + t1, v0 + v1 + n1 * 0.5 * (mu1 - mu2) * (mu1 - mu2));
                if i + 1 == self.rows.len() {
                    self.rows.push(Vec::new());
                }
                self.rows[i + 1].push(merged);
                self.rows[i].drain(..2);
                if self.rows[i + 1].len() <= max {
                    break;
                }
                i += 1;
            }
            self.tick += 1;
            let mut change = false;
            if self.tick.is_multiple_of(self.p.clock) && self.width > self.p.grace_period as f64 {
                let mwl = self.p.min_window_length as f64;
                let mut reduce = true;
                while reduce {
                    reduce = false;
                    let (mut n0, mut n1, mut u0, mut u1) = (0.0, self.width, 0.0, self.total);
                    'outer: for idx in (0..self.rows.len()).rev() {
                        let size = (1u64 << idx) as f64;
                        let len = self.rows[idx].len();
                        for k in 0..len {
                            n0 += size;
                            n1 -= size;
                            u0 += self.rows[idx][k].0;
                            u1 -= self.rows[idx][k].0;
                            if idx == 0 && k == len - 1 {
                                break 'outer;
                            }
                            let dm = u0 / n0 - u1 / n1;
                            let dd = (2.0 * self.width.ln() / self.p.delta).ln();
                            let m = 1.0 / (n0 - mwl + 1.0) + 1.0 / (n1 - mwl + 1.0);
                            let eps = (2.0 * m * (self.variance / self.width) * dd).sqrt() + 2.0 / 3.0 * dd * m;
                            if n1 >= mwl && n0 >= mwl && dm.abs() > eps {
                                reduce = true;
                                change = true;
                                let last = self.rows.len() - 1;
                                let n = (1u64 << last) as f64;
                                let (u, v) = self.rows[last].remove(0);
                                let mu = u / n;
                                self.width -= n;
                                self.total -= u;
                                let mw = self.total / self.width;
                                self.variance -= v + n * self.width * (mu - mw) * (mu - mw) / (n + self.width);
                                while self.rows.len() > 1 && self.rows[self.rows.len() - 1].is_empty() {
                                    self.rows.pop();
                                }
                                break 'outer;
                            }
                        }
                    }
                }
            }
            self.drift = change;
            change
        }
    }

    #[test]
    fn the_same_decisions_and_bits_as_a_plain_transcription_of_rivers_code() {
        let mut state = 0x1234_5678_9ABC_DEF1_u64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut drifts = 0;
        for case in 0..24u64 {
            let p = AdwinParams {
                delta: [0.002, 0.05, 0.5, 1.0][(case % 4) as usize],
                clock: [1, 4, 32][(case % 3) as usize],
                max_buckets: [5, 1, 2, 9][(case / 4 % 4) as usize],
                min_window_length: [5, 1, 12][(case / 2 % 3) as usize],
                grace_period: [10, 0, 100][(case / 3 % 3) as usize],
            };
            let (mut fast, mut plain) = (p.build().expect("valid"), Reference::new(p));
            // Levels that jump now and then, noise of several scales, a huge offset in
            // some cases (where the screen must defer to the exact test), ties.
            let offset = if case % 5 == 0 { 1e12 } else { 0.0 };
            let (mut level, mut spread) = (0.0, 1.0);
            for i in 0..6000 {
                if uniform() < 0.002 {
                    level = (uniform() - 0.5) * 6.0;
                    spread = [0.0, 0.1, 1.0, 3.0][(uniform() * 4.0) as usize];
                }
                let x = offset + level + spread * (uniform() - 0.5);
                let x = if case % 7 == 0 { x.round() } else { x };
                let got = fast.update(x) == Signal::Drift;
                assert_eq!(got, plain.update(x), "case {case} value {i}: {p:?}");
                assert_eq!(
                    (fast.width, fast.total, fast.variance),
                    (plain.width, plain.total, plain.variance),
                    "case {case} value {i}"
                );
                drifts += usize::from(got);
            }
        }
        assert!(drifts > 100, "only {drifts} drifts: the streams test little");
    }
}
