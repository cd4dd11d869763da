//! Seeded stream generators: the same seed gives the same stream on every platform.
//!
//! - [`Blobs`]: Gaussian clusters, optionally drifting (the centres walk), and with
//!   abrupt cluster-level changes at given records: a centre that jumps
//!   (`move_at`), one that starts late (`appear_at`), one that stops (`vanish_at`).
//! - [`Hyperplane`]: a rotating hyperplane, gradual concept drift (Hulten et al., 2001).
//! - [`Sea`]: the SEA concepts, abrupt drift (Street and Kim, 2001).
//! - [`Sine`]: River's `Sine`, a curved class boundary in two features, optionally
//!   reversed every `period` rows (abrupt drift; Gama et al., 2004).
//! - [`RandomRbf`]: River's `RandomRBFDrift`, classes in weighted radial clusters whose
//!   centres may move (gradual drift).
//! - [`Mixed`]: card transactions of mixed types (numeric, categorical and boolean
//!   columns, optionally some missing values) whose 0/1 label depends mostly on the
//!   categories; from a given record, new categories appear (`new_at`).
//!
//! Generators without categorical columns leave [`Batch::cats`](crate::record::Batch::cats)
//! empty; `mixed` fills it and names its columns in
//! [`Source::categorical_names`](crate::source::Source::categorical_names).

use crate::record::Categories;
use ndarray::{Array1, Array2};
use ndarray_rand::rand::{Rng, SeedableRng};
use ndarray_rand::rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::sync::Arc;

/// A labelled batch: features and the true class (or cluster) of each row.
pub type LabelledBatch = (Array2<f64>, Array1<i64>);

/// Gaussian blobs: each row picks a centre uniformly and adds N(0, std²) noise.
///
/// Three abrupt changes can be scheduled, counted in rows from the start (all off by
/// default; off, the stream is the same as without them):
/// - [`Blobs::move_at`]: at that row centre 0 jumps to a fresh uniform position in [-10, 10]^d;
/// - [`Blobs::appear_at`]: the last centre emits no rows before that row;
/// - [`Blobs::vanish_at`]: centre 1 emits no rows from that row on.
///
/// A row picks uniformly among the centres that emit at that moment.
#[derive(Debug, Clone)]
pub struct Blobs {
    centers: Array2<f64>,
    std: f64,
    drift: f64,
    move_at: Option<u64>,
    appear_at: Option<u64>,
    vanish_at: Option<u64>,
    /// Rows generated so far: the clock of the scheduled changes.
    t: u64,
    rng: Xoshiro256PlusPlus,
}

impl Blobs {
    /// `n_centers` centres in `n_features` dimensions, uniform in [-10, 10], std 1.
    pub fn new(n_centers: usize, n_features: usize, seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let centers = Array2::from_shape_fn((n_centers.max(1), n_features), |_| rng.gen_range(-10.0..10.0));
        Self { centers, std: 1.0, drift: 0.0, move_at: None, appear_at: None, vanish_at: None, t: 0, rng }
    }

    /// Set the standard deviation of each blob.
    pub fn cluster_std(mut self, std: f64) -> Self {
        self.std = std;
        self
    }

    /// Make the centres walk: after each row every coordinate moves by N(0, drift²).
    pub fn drift(mut self, drift: f64) -> Self {
        self.drift = drift;
        self
    }

    /// At row `t` (counted from 0), centre 0 jumps to a fresh uniform position in
    /// [-10, 10]^d (drawn then, so the rows before are those of the stream without it).
    pub fn move_at(mut self, t: u64) -> Self {
        self.move_at = Some(t);
        self
    }

    /// The last centre emits no rows before row `t`. Ignored with a single centre
    /// (there would be nothing to emit; [`SynthSpec::parse`] refuses it).
    pub fn appear_at(mut self, t: u64) -> Self {
        self.appear_at = Some(t);
        self
    }

    /// Centre 1 emits no rows from row `t` on. Ignored with a single centre (there is
    /// no centre 1; [`SynthSpec::parse`] refuses it).
    pub fn vanish_at(mut self, t: u64) -> Self {
        self.vanish_at = Some(t);
        self
    }

    /// The current centres.
    pub fn centers(&self) -> &Array2<f64> {
        &self.centers
    }

    /// Rows generated so far.
    pub fn rows(&self) -> u64 {
        self.t
    }

    /// The centres that emit no row at time `t`, in increasing order (at most two,
    /// never all of them).
    fn silent(&self, k: usize) -> [Option<usize>; 2] {
        if k < 2 {
            return [None, None];
        }
        let waiting = self.appear_at.is_some_and(|a| self.t < a).then_some(k - 1);
        let gone = self.vanish_at.is_some_and(|v| self.t >= v).then_some(1);
        match (gone, waiting) {
            (Some(g), Some(w)) if g == w => [Some(g), None],
            (Some(g), Some(w)) => [Some(g.min(w)), Some(g.max(w))],
            (one, None) | (None, one) => [one, None],
        }
    }

    /// The next `n` rows.
    pub fn next_batch(&mut self, n: usize) -> LabelledBatch {
        let (k, d) = self.centers.dim();
        let mut x = Array2::zeros((n, d));
        let mut y = Array1::zeros(n);
        for (mut row, label) in x.outer_iter_mut().zip(y.iter_mut()) {
            if self.move_at == Some(self.t) {
                for v in self.centers.row_mut(0).iter_mut() {
                    *v = self.rng.gen_range(-10.0..10.0);
                }
            }
            // Off, this is the plain draw over 0..k: the same stream as before the options.
            let c = match self.silent(k) {
                [None, _] => self.rng.gen_range(0..k),
                [Some(a), b] => {
                    let mut c = self.rng.gen_range(0..k - 1 - usize::from(b.is_some()));
                    for skip in [Some(a), b].into_iter().flatten() {
                        if c >= skip {
                            c += 1;
                        }
                    }
                    c
                }
            };
            *label = c as i64;
            for (v, &center) in row.iter_mut().zip(self.centers.row(c).iter()) {
                let z: f64 = self.rng.sample(StandardNormal);
                *v = center + self.std * z;
            }
            if self.drift > 0.0 {
                for v in self.centers.iter_mut() {
                    let z: f64 = self.rng.sample(StandardNormal);
                    *v += self.drift * z;
                }
            }
            self.t = self.t.saturating_add(1);
        }
        (x, y)
    }
}

/// Rotating hyperplane: `y = [w . x > sum(w) / 2]` for `x` uniform in [0, 1]^d;
/// every weight moves by `mag_change` per row in its own direction, which
/// reverses with probability `sigma`; a share `noise` of labels is flipped.
#[derive(Debug, Clone)]
pub struct Hyperplane {
    weights: Array1<f64>,
    directions: Array1<f64>,
    mag_change: f64,
    sigma: f64,
    noise: f64,
    rng: Xoshiro256PlusPlus,
}

impl Hyperplane {
    /// `n_features` features, drift 0.001 per row, reversal 10%, noise 5%.
    pub fn new(n_features: usize, seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let weights = Array1::from_shape_fn(n_features, |_| rng.gen::<f64>());
        let directions = Array1::from_shape_fn(n_features, |_| if rng.gen::<bool>() { 1.0 } else { -1.0 });
        Self { weights, directions, mag_change: 0.001, sigma: 0.1, noise: 0.05, rng }
    }

    /// Set the drift per row.
    pub fn mag_change(mut self, m: f64) -> Self {
        self.mag_change = m;
        self
    }

    /// Set the share of flipped labels.
    pub fn noise(mut self, noise: f64) -> Self {
        self.noise = noise;
        self
    }

    /// The next `n` rows, labels 0 and 1.
    pub fn next_batch(&mut self, n: usize) -> LabelledBatch {
        let d = self.weights.len();
        let mut x = Array2::zeros((n, d));
        let mut y = Array1::zeros(n);
        for (mut row, label) in x.outer_iter_mut().zip(y.iter_mut()) {
            row.mapv_inplace(|_| self.rng.gen::<f64>());
            let threshold = self.weights.sum() / 2.0;
            let mut class = i64::from(self.weights.dot(&row) > threshold);
            if self.rng.gen::<f64>() < self.noise {
                class = 1 - class;
            }
            *label = class;
            for (w, dir) in self.weights.iter_mut().zip(self.directions.iter_mut()) {
                *w += *dir * self.mag_change;
                if self.rng.gen::<f64>() < self.sigma {
                    *dir = -*dir;
                }
            }
        }
        (x, y)
    }
}

/// SEA concepts: three features uniform in [0, 10], `y = [x0 + x1 <= theta]`,
/// with `theta` cycling through 8, 9, 7, 9.5 every `period` rows (abrupt drift).
#[derive(Debug, Clone)]
pub struct Sea {
    period: u64,
    noise: f64,
    t: u64,
    rng: Xoshiro256PlusPlus,
}

impl Sea {
    /// Concept changes every `period` rows, 10% label noise.
    pub fn new(period: u64, seed: u64) -> Self {
        Self { period: period.max(1), noise: 0.1, t: 0, rng: Xoshiro256PlusPlus::seed_from_u64(seed) }
    }

    /// Set the share of flipped labels.
    pub fn noise(mut self, noise: f64) -> Self {
        self.noise = noise;
        self
    }

    /// The next `n` rows, labels 0 and 1.
    pub fn next_batch(&mut self, n: usize) -> LabelledBatch {
        const THETA: [f64; 4] = [8.0, 9.0, 7.0, 9.5];
        let mut x = Array2::zeros((n, 3));
        let mut y = Array1::zeros(n);
        for (mut row, label) in x.outer_iter_mut().zip(y.iter_mut()) {
            row.mapv_inplace(|_| self.rng.gen_range(0.0..10.0));
            let theta = THETA[((self.t / self.period) % 4) as usize];
            let mut class = i64::from(row[0] + row[1] <= theta);
            if self.rng.gen::<f64>() < self.noise {
                class = 1 - class;
            }
            *label = class;
            self.t += 1;
        }
        (x, y)
    }
}

/// River's `Sine` (Gama et al., 2004): two features x0, x1 uniform in [0, 1) and one of
/// four 0/1 concepts with a curved boundary, optionally switching to its reverse every
/// `period` rows (abrupt drift).
///
/// The concepts, as River writes them ([`Sine::label`]):
/// - 0 (`SINE1`): 0 if x0 >= sin(x1), else 1;
/// - 1 (reversed `SINE1`): 0 if x0 < sin(x1), else 1;
/// - 2 (`SINE2`): 0 if x0 >= 0.5 + 0.3 sin(3 pi x1), else 1;
/// - 3 (reversed `SINE2`): 0 if x0 < 0.5 + 0.3 sin(3 pi x1), else 1.
///
/// With [`Sine::period`] the concept in force alternates between the one chosen and its
/// pair (0 and 1, or 2 and 3) every `period` rows, starting with the one chosen.
/// [`Sine::irrelevant`] adds features uniform in [0, 1) after x0 and x1 that the label
/// ignores (River's `has_noise` adds two). [`Sine::noise`] flips a share of the labels,
/// drawn by a generator of its own, so the features are those of the stream without it.
#[derive(Debug, Clone)]
pub struct Sine {
    function: u8,
    period: Option<u64>,
    noise: f64,
    irrelevant: usize,
    t: u64,
    rng: Xoshiro256PlusPlus,
    noise_rng: Xoshiro256PlusPlus,
}

impl Sine {
    /// Concept `function` (0 to 3; above 3 counts as 3), no drift, no label noise, no
    /// irrelevant features.
    pub fn new(function: u8, seed: u64) -> Self {
        let rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        // A second stream, 2^128 draws away, for the flipped labels.
        let mut noise_rng = rng.clone();
        noise_rng.jump();
        Self { function: function.min(3), period: None, noise: 0.0, irrelevant: 0, t: 0, rng, noise_rng }
    }

    /// Switch to the paired concept (0 and 1, 2 and 3) every `period` rows (at least 1).
    pub fn period(mut self, period: u64) -> Self {
        self.period = Some(period.max(1));
        self
    }

    /// Set the share of flipped labels.
    pub fn noise(mut self, noise: f64) -> Self {
        self.noise = noise;
        self
    }

    /// Add `k` features uniform in [0, 1) that the label does not depend on.
    pub fn irrelevant(mut self, k: usize) -> Self {
        self.irrelevant = k;
        self
    }

    /// Features of each row: x0, x1 and the irrelevant ones.
    pub fn n_features(&self) -> usize {
        2 + self.irrelevant
    }

    /// Rows generated so far.
    pub fn rows(&self) -> u64 {
        self.t
    }

    /// The concept (0 to 3) that labels row `t` (counted from 0).
    pub fn concept_at(&self, t: u64) -> u8 {
        match self.period {
            Some(p) if (t / p) % 2 == 1 => self.function ^ 1,
            _ => self.function,
        }
    }

    /// The label concept `function` (0 to 3) gives to (x0, x1), before any noise.
    pub fn label(function: u8, x0: f64, x1: f64) -> i64 {
        let boundary = if function < 2 { x1.sin() } else { 0.5 + 0.3 * (3.0 * std::f64::consts::PI * x1).sin() };
        let zero = if function.is_multiple_of(2) { x0 >= boundary } else { x0 < boundary };
        i64::from(!zero)
    }

    /// The next `n` rows, labels 0 and 1.
    pub fn next_batch(&mut self, n: usize) -> LabelledBatch {
        let mut x = Array2::zeros((n, self.n_features()));
        let mut y = Array1::zeros(n);
        for (mut row, label) in x.outer_iter_mut().zip(y.iter_mut()) {
            row.mapv_inplace(|_| self.rng.gen::<f64>());
            let mut class = Self::label(self.concept_at(self.t), row[0], row[1]);
            if self.noise > 0.0 && self.noise_rng.gen::<f64>() < self.noise {
                class = 1 - class;
            }
            *label = class;
            self.t = self.t.saturating_add(1);
        }
        (x, y)
    }
}

/// River's `RandomRBFDrift` (MOA's `RandomRBFGeneratorDrift`): rows scattered around
/// weighted centroids, each with a class, some of which move.
///
/// From a model generator: each centroid gets a centre uniform in [0, 1)^d, a class
/// uniform in 0..classes, a standard deviation and a weight, both uniform in [0, 1). The
/// first `drift_centroids` centroids get a speed: a vector uniform in [0, 1)^d scaled to
/// length 1, drawn, as River and MOA do, from a second model generator seeded like the
/// first (so it repeats the first's draws).
///
/// Before each row every moving centroid's centre moves by its speed times
/// `change_speed`; a coordinate that leaves [0, 1] is held at the edge and that component
/// of the speed changes sign. The row then picks a centroid with probability in proportion
/// to its weight and lies at a distance N(0, 1) times its standard deviation from its
/// centre, in a direction uniform on the sphere's surface; its label is the centroid's class.
#[derive(Debug, Clone)]
pub struct RandomRbf {
    centres: Array2<f64>,
    classes: Vec<i64>,
    std: Vec<f64>,
    cdf: Vec<f64>,
    /// One row for each moving centroid (the first ones), of length 1.
    speeds: Array2<f64>,
    change_speed: f64,
    t: u64,
    rng: Xoshiro256PlusPlus,
}

impl RandomRbf {
    /// `n_centroids` centroids (at least 1) in `n_features` dimensions with `n_classes`
    /// classes (at least 1), the first `n_drift_centroids` of them (at most all) moving at
    /// `change_speed` per row.
    pub fn new(
        n_classes: usize,
        n_features: usize,
        n_centroids: usize,
        change_speed: f64,
        n_drift_centroids: usize,
        seed: u64,
    ) -> Self {
        let (k, d, classes) = (n_centroids.max(1), n_features, n_classes.max(1));
        let mut model = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut centres = Array2::zeros((k, d));
        let (mut labels, mut std, mut weights) = (Vec::with_capacity(k), Vec::with_capacity(k), Vec::with_capacity(k));
        for mut centre in centres.outer_iter_mut() {
            centre.mapv_inplace(|_| model.gen::<f64>());
            labels.push(model.gen_range(0..classes) as i64);
            std.push(model.gen::<f64>());
            weights.push(model.gen::<f64>());
        }
        // The rows' own stream, 2^128 draws away from the model's.
        let mut rng = model.clone();
        rng.jump();
        let mut again = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut speeds = Array2::zeros((n_drift_centroids.min(k), d));
        for mut speed in speeds.outer_iter_mut() {
            speed.mapv_inplace(|_| again.gen::<f64>());
            let norm = speed.dot(&speed).sqrt();
            if norm > 0.0 {
                speed /= norm;
            }
        }
        Self { centres, classes: labels, std, cdf: cumulative(weights.into_iter()), speeds, change_speed, t: 0, rng }
    }

    /// The centroids' current centres, one row each.
    pub fn centres(&self) -> &Array2<f64> {
        &self.centres
    }

    /// The centroids' classes.
    pub fn classes(&self) -> &[i64] {
        &self.classes
    }

    /// Rows generated so far.
    pub fn rows(&self) -> u64 {
        self.t
    }

    /// Move every moving centroid one step, bouncing off the edges of [0, 1]^d.
    fn step(&mut self) {
        if self.change_speed == 0.0 {
            return;
        }
        for (mut centre, mut speed) in self.centres.outer_iter_mut().zip(self.speeds.outer_iter_mut()) {
            for (c, s) in centre.iter_mut().zip(speed.iter_mut()) {
                *c += *s * self.change_speed;
                if !(0.0..=1.0).contains(c) {
                    *c = if *c > 1.0 { 1.0 } else { 0.0 };
                    *s = -*s;
                }
            }
        }
    }

    /// The next `n` rows, labels in 0..classes.
    pub fn next_batch(&mut self, n: usize) -> LabelledBatch {
        let d = self.centres.ncols();
        let mut x = Array2::zeros((n, d));
        let mut y = Array1::zeros(n);
        for (mut row, label) in x.outer_iter_mut().zip(y.iter_mut()) {
            self.step();
            let c = pick(&self.cdf, self.rng.gen());
            row.mapv_inplace(|_| self.rng.gen::<f64>() * 2.0 - 1.0);
            let length = row.dot(&row).sqrt();
            let z: f64 = self.rng.sample(StandardNormal);
            let scale = if length > 0.0 { z * self.std[c] / length } else { 0.0 };
            for (v, &centre) in row.iter_mut().zip(self.centres.row(c).iter()) {
                *v = centre + *v * scale;
            }
            *label = self.classes[c];
            self.t = self.t.saturating_add(1);
        }
        (x, y)
    }
}

/// Countries of [`Mixed`]: (value, share, effect on the log-odds of the label).
const COUNTRIES: [(&str, f64, f64); 8] = [
    ("US", 0.34, -1.2),
    ("GB", 0.14, -0.8),
    ("DE", 0.12, -1.6),
    ("FR", 0.10, -0.5),
    ("IN", 0.10, 0.8),
    ("BR", 0.08, 1.5),
    ("NG", 0.06, 2.6),
    ("JP", 0.06, -2.2),
];
/// The country that appears at `new_at`: (value, share from then on, effect).
const NEW_COUNTRY: (&str, f64, f64) = ("ZZ", 0.10, 2.5);
/// Devices of [`Mixed`]: (value, share, effect).
const DEVICES: [(&str, f64, f64); 3] = [("desktop", 0.45, -1.0), ("mobile", 0.45, 0.6), ("tablet", 0.10, 1.6)];
/// Merchants before `new_at` (`m000`..`m199`), drawn with Zipf-like weights `1 / (k + 1)^1.1`.
const MERCHANTS: usize = 200;
/// Merchants that appear at `new_at` (`m200`..`m219`), uniformly, in a share of the draws.
const NEW_MERCHANTS: usize = 20;
const NEW_MERCHANT_SHARE: f64 = 0.10;
const ZIPF_EXPONENT: f64 = 1.1;
/// Each merchant's effect is drawn once from N(0, 1.2²).
const MERCHANT_EFFECT_STD: f64 = 1.2;
/// The log-odds of a record with no effect: about 23% of the labels come out 1.
const BASE: f64 = -0.7;

/// Card transactions of mixed types, labelled 1 (fraud) or 0.
///
/// Numeric columns ([`Mixed::NUMERIC`], the batch's `x`): `amount` = e^(3.5 + N(0, 1))
/// rounded to cents, `age` = 40 + 13 N(0, 1) rounded and held to [18, 90], `hour` uniform in
/// 0..=23, `returning` 1 (60%) or 0. Categorical columns ([`Mixed::CATEGORICAL`]): `country`
/// (8 values, 34% `US` down to 6%), `device` (`desktop`, `mobile`, `tablet`) and `merchant`
/// (`m000`..`m199`, Zipf-like: `m000` about 17% of the records, most merchants rare).
///
/// The label is 1 with probability sigmoid(s), where s adds to a base of -0.7 an effect per
/// country (-2.2 to +2.6), per device (-1.0 to +1.6) and per merchant (drawn from N(0, 1.2²)),
/// 0.8 per unit of ln(amount), -0.03 per year of age, +0.9 at night (hours 0-5) and -0.8 for
/// a returning customer (about 23% of the labels come out 1). A linear model therefore needs
/// the categories (one-hot encoded) to do well: without them it does no better than always
/// predicting 0.
///
/// - [`Mixed::new_at`]: from that record on, a new country `ZZ` (effect +2.5) takes 1
///   record in 10, and 20 new merchants `m200`..`m219` take 1 merchant draw in 10. The
///   records before it are those of the stream without it.
/// - [`Mixed::missing`]: each feature value (never the label) is missing with that
///   probability: NaN in `x`, `None` in the categories. The label is drawn from the
///   complete values, and the mask by a generator of its own, so the values left are those
///   of the stream without missing values.
#[derive(Debug, Clone)]
pub struct Mixed {
    country_cdf: Vec<f64>,
    device_cdf: Vec<f64>,
    merchant_cdf: Vec<f64>,
    merchant_effect: Vec<f64>,
    /// The text of every category, made once: a record holds clones of these.
    countries: Vec<Arc<str>>,
    devices: Vec<Arc<str>>,
    merchants: Vec<Arc<str>>,
    names: Arc<[String]>,
    missing: f64,
    new_at: Option<u64>,
    t: u64,
    rng: Xoshiro256PlusPlus,
    mask_rng: Xoshiro256PlusPlus,
}

/// A batch of [`Mixed`]: numeric features, categorical features and 0/1 labels.
pub type MixedBatch = (Array2<f64>, Categories, Array1<i64>);

/// Running sums of `weights`, scaled to end at 1.
fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut sums: Vec<f64> = weights
        .scan(0.0, |acc, w| {
            *acc += w;
            Some(*acc)
        })
        .collect();
    let total = sums.last().copied().unwrap_or(1.0);
    sums.iter_mut().for_each(|s| *s /= total);
    sums
}

/// The index drawn by a uniform `u` in [0, 1) from running sums `cdf`.
fn pick(cdf: &[f64], u: f64) -> usize {
    cdf.partition_point(|&c| c <= u).min(cdf.len().saturating_sub(1))
}

impl Mixed {
    /// Names of the numeric columns, in the order of `x`.
    pub const NUMERIC: [&'static str; 4] = ["amount", "age", "hour", "returning"];
    /// Names of the categorical columns, in the order of the categories.
    pub const CATEGORICAL: [&'static str; 3] = ["country", "device", "merchant"];

    /// The stream of `seed`, with no missing values and no new categories.
    pub fn new(seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        // A second stream, 2^128 draws away, for the missing-value mask.
        let mut mask_rng = rng.clone();
        mask_rng.jump();
        let merchant_effect = (0..MERCHANTS + NEW_MERCHANTS)
            .map(|_| MERCHANT_EFFECT_STD * rng.sample::<f64, _>(StandardNormal))
            .collect();
        Self {
            country_cdf: cumulative(COUNTRIES.iter().map(|c| c.1)),
            device_cdf: cumulative(DEVICES.iter().map(|d| d.1)),
            merchant_cdf: cumulative((0..MERCHANTS).map(|k| ((k + 1) as f64).powf(-ZIPF_EXPONENT))),
            merchant_effect,
            countries: COUNTRIES.iter().map(|c| c.0).chain([NEW_COUNTRY.0]).map(Arc::from).collect(),
            devices: DEVICES.iter().map(|d| Arc::from(d.0)).collect(),
            merchants: (0..MERCHANTS + NEW_MERCHANTS).map(|k| Arc::from(format!("m{k:03}"))).collect(),
            names: Self::CATEGORICAL.iter().map(|s| s.to_string()).collect(),
            missing: 0.0,
            new_at: None,
            t: 0,
            rng,
            mask_rng,
        }
    }

    /// Leave each feature value out with probability `share` (in [0, 1); NaN or `None`).
    pub fn missing(mut self, share: f64) -> Self {
        self.missing = share;
        self
    }

    /// From record `t` (counted from 0), the new country and merchants appear.
    pub fn new_at(mut self, t: u64) -> Self {
        self.new_at = Some(t);
        self
    }

    /// Records generated so far.
    pub fn rows(&self) -> u64 {
        self.t
    }

    /// The next `n` records.
    pub fn next_batch(&mut self, n: usize) -> MixedBatch {
        let mut x = Array2::zeros((n, Self::NUMERIC.len()));
        let mut y = Array1::zeros(n);
        let mut cats = Vec::with_capacity(n * Self::CATEGORICAL.len());
        for (mut row, label) in x.outer_iter_mut().zip(y.iter_mut()) {
            let mut country = pick(&self.country_cdf, self.rng.gen());
            let device = pick(&self.device_cdf, self.rng.gen());
            let mut merchant = pick(&self.merchant_cdf, self.rng.gen());
            // Drawn only from `new_at` on, so the records before it are the same without it.
            if self.new_at.is_some_and(|at| self.t >= at) {
                if self.rng.gen::<f64>() < NEW_COUNTRY.1 {
                    country = COUNTRIES.len();
                }
                if self.rng.gen::<f64>() < NEW_MERCHANT_SHARE {
                    merchant = MERCHANTS + self.rng.gen_range(0..NEW_MERCHANTS);
                }
            }
            let z: f64 = self.rng.sample(StandardNormal);
            let amount = ((3.5 + z).exp() * 100.0).round().max(1.0) / 100.0;
            let z: f64 = self.rng.sample(StandardNormal);
            let age = (40.0 + 13.0 * z).round().clamp(18.0, 90.0);
            let hour = f64::from(self.rng.gen_range(0u8..24));
            let returning = f64::from(u8::from(self.rng.gen::<f64>() < 0.6));
            let country_effect = COUNTRIES.get(country).map_or(NEW_COUNTRY.2, |c| c.2);
            let score =
                BASE + country_effect + DEVICES[device].2 + self.merchant_effect[merchant] + 0.8 * (amount.ln() - 3.5)
                    - 0.03 * (age - 40.0)
                    + if hour < 6.0 { 0.9 } else { 0.0 }
                    - 0.8 * returning;
            *label = i64::from(self.rng.gen::<f64>() < 1.0 / (1.0 + (-score).exp()));
            for (v, value) in row.iter_mut().zip([amount, age, hour, returning]) {
                *v = if self.is_missing() { f64::NAN } else { value };
            }
            let values = [&self.countries[country], &self.devices[device], &self.merchants[merchant]].map(Arc::clone);
            for value in values {
                cats.push(if self.is_missing() { None } else { Some(value) });
            }
            self.t = self.t.saturating_add(1);
        }
        // Invariant: the loop pushed exactly CATEGORICAL.len() values for each of the n rows.
        let cats = Categories::new(Arc::clone(&self.names), cats, n).expect("one value per row and column");
        (x, cats, y)
    }

    /// Whether the next feature value is left out (draws only when values can be).
    fn is_missing(&mut self) -> bool {
        self.missing > 0.0 && self.mask_rng.gen::<f64>() < self.missing
    }
}

/// Which generator, and its parameters, as in `synth:blobs?n=1000000&d=16&k=8&seed=1`.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    /// `blobs`, `hyperplane`, `sea`, `sine`, `rbf` or `mixed`.
    pub kind: SynthKind,
    /// Records to generate.
    pub n: u64,
    /// Seed.
    pub seed: u64,
}

/// A generator and its own parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum SynthKind {
    /// `k` Gaussian blobs in `d` dimensions with standard deviation `std`, centres walking by `drift`,
    /// with optional abrupt changes (see [`Blobs`]).
    Blobs {
        /// Features.
        d: usize,
        /// Centres.
        k: usize,
        /// Standard deviation of each blob.
        std: f64,
        /// Drift of the centres per row.
        drift: f64,
        /// The record at which centre 0 jumps to a fresh position ([`Blobs::move_at`]).
        move_at: Option<u64>,
        /// The record before which the last centre emits nothing ([`Blobs::appear_at`]).
        appear_at: Option<u64>,
        /// The record from which centre 1 emits nothing ([`Blobs::vanish_at`]).
        vanish_at: Option<u64>,
    },
    /// Rotating hyperplane with `d` features, drift `mag` per row, label noise `noise`.
    Hyperplane {
        /// Features.
        d: usize,
        /// Drift per row.
        mag: f64,
        /// Share of flipped labels.
        noise: f64,
    },
    /// SEA concepts, switching every `period` rows, label noise `noise`.
    Sea {
        /// Rows per concept.
        period: u64,
        /// Share of flipped labels.
        noise: f64,
    },
    /// River's `Sine` ([`Sine`]): concept `function`, reversed every `period` rows,
    /// label noise `noise`, `irrelevant` features the label ignores.
    Sine {
        /// The concept, 0 to 3 ([`Sine::label`]).
        function: u8,
        /// Rows before switching to the paired concept ([`Sine::period`]); `None`: never.
        period: Option<u64>,
        /// Share of flipped labels.
        noise: f64,
        /// Features uniform in [0, 1) after x0 and x1 that the label ignores.
        irrelevant: usize,
    },
    /// River's `RandomRBFDrift` ([`RandomRbf`]): `centroids` weighted centroids in `d`
    /// dimensions with `classes` classes, the first `drift_centroids` moving at `speed`.
    Rbf {
        /// Classes (River's `n_classes`).
        classes: usize,
        /// Features (`n_features`).
        d: usize,
        /// Centroids (`n_centroids`).
        centroids: usize,
        /// Distance a moving centroid travels per row (`change_speed`).
        speed: f64,
        /// Moving centroids, at most `centroids` (`n_drift_centroids`).
        drift_centroids: usize,
    },
    /// Transactions of mixed types ([`Mixed`]), a share `missing` of the feature values
    /// missing, new categories from record `new_at`.
    Mixed {
        /// Share of missing feature values, in [0, 1).
        missing: f64,
        /// The record from which the new country and merchants appear ([`Mixed::new_at`]).
        new_at: Option<u64>,
    },
}

impl SynthSpec {
    /// Parse `NAME?key=value&...` (the part after `synth:`).
    ///
    /// Counts (`n`, `d`, `k`, `period`, `seed` and the other counts below) are whole
    /// numbers, `d`, `k`, `irrelevant`, `classes` and `centroids` at most 10 000; `noise`
    /// lies in [0, 1]; `std`, `drift`, `mag` and `speed` are not negative.
    /// `blobs` also takes record numbers `move_at`, `appear_at` (needs `k >= 2`) and
    /// `vanish_at` (needs `k >= 2`); with `k = 2` both of the last two act on centre 1,
    /// so `appear_at` must come before `vanish_at`.
    ///
    /// `sine` ([`Sine`], River's `Sine`) takes `function` (0 to 3, default 2: the curve
    /// 0.5 + 0.3 sin(3 pi x1)), `period` (at least 1: the paired concept every `period`
    /// records; default never), `noise` (default 0) and `irrelevant` (extra ignored
    /// features, default 0). `rbf` ([`RandomRbf`], River's `RandomRBFDrift`) takes `classes`
    /// (at least 2, default 2), `d` (default 10), `centroids` (default 50), `speed` (the
    /// distance a moving centroid travels per record, default 0) and `drift_centroids` (at
    /// most `centroids`; default 50, or all the centroids when there are fewer).
    ///
    /// `mixed` ([`Mixed`]: numeric `amount`, `age`, `hour`, boolean `returning`, categorical
    /// `country`, `device`, `merchant`, a 0/1 label) takes `missing`, the share of feature
    /// values left out, in [0, 1) (default 0; more than 0 needs a model with an imputer, see
    /// [`SynthSource::new`]), and `new_at`, the record from which a new country and new
    /// merchants appear (default: never). For example
    /// `synth:mixed?n=100000&missing=0.05&new_at=50000&seed=1`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, query) = spec.split_once('?').unwrap_or((spec, ""));
        let mut params = std::collections::HashMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| format!("{pair:?}: expected key=value"))?;
            if params.insert(k.to_string(), v.to_string()).is_some() {
                return Err(format!("{k} is given twice"));
            }
        }
        let mut whole = |key: &str, default: u64, min: u64, max: u64| -> Result<u64, String> {
            match params.remove(key) {
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|x| (min..=max).contains(x))
                    .ok_or_else(|| format!("{key}={v}: expected a whole number from {min} to {max}")),
                None => Ok(default),
            }
        };
        let n = whole("n", 100_000, 0, u64::MAX)?;
        let seed = whole("seed", 0, 0, u64::MAX)?;
        const MAX_DIM: u64 = 10_000;
        let kind = match name {
            "blobs" => {
                let d = whole("d", 2, 1, MAX_DIM)? as usize;
                let k = whole("k", 3, 1, MAX_DIM)? as usize;
                let std = real(&mut params, "std", 1.0, f64::MAX)?;
                let drift = real(&mut params, "drift", 0.0, f64::MAX)?;
                let mut at = |key: &str| record_number(&mut params, key);
                let (move_at, appear_at, vanish_at) = (at("move_at")?, at("appear_at")?, at("vanish_at")?);
                for (key, given) in [("appear_at", appear_at), ("vanish_at", vanish_at)] {
                    if given.is_some() && k < 2 {
                        return Err(format!("{key} needs at least 2 blobs (k>=2), got k={k}"));
                    }
                }
                if let (Some(a), Some(v), 2) = (appear_at, vanish_at, k) {
                    if a >= v {
                        return Err(format!(
                            "with k=2, appear_at and vanish_at both act on centre 1, so appear_at ({a}) must be \
                             before vanish_at ({v}); or give k>=3"
                        ));
                    }
                }
                SynthKind::Blobs { d, k, std, drift, move_at, appear_at, vanish_at }
            }
            "hyperplane" => {
                let d = whole("d", 10, 1, MAX_DIM)? as usize;
                SynthKind::Hyperplane {
                    d,
                    mag: real(&mut params, "mag", 0.001, f64::MAX)?,
                    noise: real(&mut params, "noise", 0.05, 1.0)?,
                }
            }
            "sea" => {
                let period = whole("period", 25_000, 1, u64::MAX)?;
                SynthKind::Sea { period, noise: real(&mut params, "noise", 0.1, 1.0)? }
            }
            "sine" => {
                let function = whole("function", 2, 0, 3)? as u8;
                // 0, outside the range allowed, stands for "not given": never switch.
                let period = Some(whole("period", 0, 1, u64::MAX)?).filter(|&p| p > 0);
                let irrelevant = whole("irrelevant", 0, 0, MAX_DIM)? as usize;
                SynthKind::Sine { function, period, noise: real(&mut params, "noise", 0.0, 1.0)?, irrelevant }
            }
            "rbf" => {
                let classes = whole("classes", 2, 2, MAX_DIM)? as usize;
                let d = whole("d", 10, 1, MAX_DIM)? as usize;
                let centroids = whole("centroids", 50, 1, MAX_DIM)? as usize;
                let drift_centroids = whole("drift_centroids", 50.min(centroids as u64), 0, MAX_DIM)? as usize;
                if drift_centroids > centroids {
                    return Err(format!("drift_centroids={drift_centroids}: at most centroids ({centroids}) can move"));
                }
                let speed = real(&mut params, "speed", 0.0, f64::MAX)?;
                SynthKind::Rbf { classes, d, centroids, speed, drift_centroids }
            }
            "mixed" => {
                let missing = real(&mut params, "missing", 0.0, 1.0)?;
                if missing >= 1.0 {
                    return Err(format!("missing={missing}: expected a share from 0 up to, not including, 1"));
                }
                SynthKind::Mixed { missing, new_at: record_number(&mut params, "new_at")? }
            }
            other => return Err(format!("unknown generator {other:?}: blobs, hyperplane, sea, sine, rbf or mixed")),
        };
        if let Some(key) = params.keys().next() {
            return Err(format!("unknown parameter {key:?} for synth:{name}"));
        }
        Ok(Self { kind, n, seed })
    }
}

/// A record number (a whole number >= 0), if given.
fn record_number(params: &mut std::collections::HashMap<String, String>, key: &str) -> Result<Option<u64>, String> {
    params
        .remove(key)
        .map(|v| v.parse::<u64>().map_err(|_| format!("{key}={v}: expected a record number (a whole number >= 0)")))
        .transpose()
}

/// A real parameter in [0, max], or its default.
fn real(
    params: &mut std::collections::HashMap<String, String>,
    key: &str,
    default: f64,
    max: f64,
) -> Result<f64, String> {
    match params.remove(key) {
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && (0.0..=max).contains(x))
            .ok_or_else(|| format!("{key}={v}: expected a number from 0 to {max}")),
        None => Ok(default),
    }
}

/// A generator as a [`crate::source::Source`]: labels are the true classes (or blobs).
pub struct SynthSource {
    generator: Generator,
    remaining: u64,
    produced: u64,
    seq: u64,
    batch_size: usize,
    features: Vec<String>,
    categorical: Vec<String>,
    quit: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

enum Generator {
    Blobs(Blobs),
    Hyperplane(Hyperplane),
    Sea(Sea),
    Sine(Sine),
    Rbf(RandomRbf),
    Mixed(Mixed),
}

impl Generator {
    /// The next `n` records: features, categories, labels.
    fn next_batch(&mut self, n: usize) -> MixedBatch {
        let numeric = |(x, y): LabelledBatch| (x, Categories::empty(n), y);
        match self {
            Generator::Blobs(g) => numeric(g.next_batch(n)),
            Generator::Hyperplane(g) => numeric(g.next_batch(n)),
            Generator::Sea(g) => numeric(g.next_batch(n)),
            Generator::Sine(g) => numeric(g.next_batch(n)),
            Generator::Rbf(g) => numeric(g.next_batch(n)),
            Generator::Mixed(g) => g.next_batch(n),
        }
    }
}

impl SynthSource {
    /// A source of `spec.n` generated records, in batches of `options.batch_size`, that
    /// stops early when `options.quit` is set.
    ///
    /// # Errors
    /// When the stream has missing values (`synth:mixed?missing=` above 0) and
    /// `options.missing` is not set: the model has no imputer to fill them.
    pub fn new(spec: SynthSpec, options: &crate::source::SourceOptions) -> Result<Self, crate::source::SourceError> {
        let mut categorical = Vec::new();
        let (generator, features) = match spec.kind {
            SynthKind::Blobs { d, k, std, drift, move_at, appear_at, vanish_at } => {
                let mut blobs = Blobs::new(k, d, spec.seed).cluster_std(std).drift(drift);
                blobs.move_at = move_at;
                blobs.appear_at = appear_at;
                blobs.vanish_at = vanish_at;
                (Generator::Blobs(blobs), numbered(d))
            }
            SynthKind::Hyperplane { d, mag, noise } => {
                (Generator::Hyperplane(Hyperplane::new(d, spec.seed).mag_change(mag).noise(noise)), numbered(d))
            }
            SynthKind::Sea { period, noise } => (Generator::Sea(Sea::new(period, spec.seed).noise(noise)), numbered(3)),
            SynthKind::Sine { function, period, noise, irrelevant } => {
                let mut sine = Sine::new(function, spec.seed).noise(noise).irrelevant(irrelevant);
                sine.period = period;
                let d = sine.n_features();
                (Generator::Sine(sine), numbered(d))
            }
            SynthKind::Rbf { classes, d, centroids, speed, drift_centroids } => {
                (Generator::Rbf(RandomRbf::new(classes, d, centroids, speed, drift_centroids, spec.seed)), numbered(d))
            }
            SynthKind::Mixed { missing, new_at } => {
                if missing > 0.0 && !options.missing {
                    return Err(crate::source::SourceError::Schema {
                        source_name: "synth:mixed".into(),
                        reason: format!(
                            "missing={missing} leaves feature values out, and the model has no imputer to fill \
                             them: start the model with `impute` (e.g. 'impute | onehot | scale | \
                             sgd(loss=log_loss)'), or generate with missing=0"
                        ),
                    });
                }
                let mut mixed = Mixed::new(spec.seed).missing(missing);
                mixed.new_at = new_at;
                categorical = Mixed::CATEGORICAL.iter().map(|s| s.to_string()).collect();
                (Generator::Mixed(mixed), Mixed::NUMERIC.iter().map(|s| s.to_string()).collect())
            }
        };
        Ok(Self {
            generator,
            remaining: spec.n,
            produced: 0,
            seq: 0,
            batch_size: options.batch_size.max(1),
            features,
            categorical,
            quit: std::sync::Arc::clone(&options.quit),
        })
    }
}

/// Feature names `f0`, `f1`, ... of a numeric generator.
fn numbered(d: usize) -> Vec<String> {
    (0..d).map(|i| format!("f{i}")).collect()
}

impl crate::source::Source for SynthSource {
    fn next_batch(&mut self) -> Result<Option<crate::record::Batch>, crate::source::SourceError> {
        if self.remaining == 0 || self.quit.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(None);
        }
        let n = (self.batch_size as u64).min(self.remaining) as usize;
        let (x, cats, y) = self.generator.next_batch(n);
        let ids = (self.produced..self.produced + n as u64).collect();
        self.produced += n as u64;
        self.remaining -= n as u64;
        let batch = crate::record::Batch {
            seq: self.seq,
            ids,
            x,
            y: Some(y.to_vec()),
            cats,
            end_offset: self.produced,
            roles: None,
            keys: None,
        };
        self.seq += 1;
        Ok(Some(batch))
    }

    fn feature_names(&self) -> &[String] {
        &self.features
    }

    fn categorical_names(&self) -> &[String] {
        &self.categorical
    }

    fn label_map(&self) -> Option<&crate::record::LabelMap> {
        None
    }

    fn has_labels(&self) -> bool {
        true
    }

    fn rejected(&self) -> u64 {
        0
    }

    fn resume(&mut self, position: &crate::record::SourcePosition) -> Result<(), crate::source::SourceError> {
        // Generators are deterministic: make and drop the records the checkpoint covers.
        while self.produced < position.records && self.remaining > 0 {
            let n = (position.records - self.produced).min(self.batch_size as u64).min(self.remaining) as usize;
            drop(self.generator.next_batch(n));
            self.produced += n as u64;
            self.remaining -= n as u64;
        }
        Ok(())
    }

    fn position(&self) -> crate::record::SourcePosition {
        crate::record::SourcePosition {
            records: self.produced,
            offset: self.produced,
            line: 0,
            rejected: 0,
            labels: None,
            checksum: None,
            rejects_len: None,
            delayed: None,
            stream: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Source, SourceOptions};

    fn digest(x: &Array2<f64>, y: &Array1<i64>) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325_u64;
        for v in x.iter().map(|v| v.to_bits()).chain(y.iter().map(|&l| l as u64)) {
            h = (h ^ v).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }

    /// The digests of the streams before `move_at`, `appear_at` and `vanish_at` existed.
    #[test]
    fn blobs_without_the_new_options_are_the_streams_they_were() {
        let (x, y) = Blobs::new(4, 3, 7).cluster_std(0.7).next_batch(500);
        assert_eq!(digest(&x, &y), 0x1aef_12a8_ec9b_4f87);
        let (x, y) = Blobs::new(3, 2, 11).drift(0.01).next_batch(300);
        assert_eq!(digest(&x, &y), 0x1324_da93_a246_3385);
        // Scheduled past the end, or before the start for appear_at, they change nothing.
        let (x, y) = Blobs::new(4, 3, 7).cluster_std(0.7).move_at(500).vanish_at(500).appear_at(0).next_batch(500);
        assert_eq!(digest(&x, &y), 0x1aef_12a8_ec9b_4f87);
    }

    #[test]
    fn move_at_makes_centre_0_jump_at_that_row_and_nothing_before() {
        let plain = Blobs::new(3, 2, 5).next_batch(400);
        let mut moving = Blobs::new(3, 2, 5).move_at(250);
        let before = moving.centers().row(0).to_owned();
        let (x, y) = moving.next_batch(400);
        assert_eq!(x.slice(ndarray::s![..250, ..]), plain.0.slice(ndarray::s![..250, ..]));
        assert_eq!(y.slice(ndarray::s![..250]), plain.1.slice(ndarray::s![..250]));
        let after = moving.centers().row(0).to_owned();
        assert!((&after - &before).iter().any(|v| v.abs() > 0.0) && after.iter().all(|v| (-10.0..10.0).contains(v)));
        for (row, &label) in x.outer_iter().zip(y.iter()).skip(250) {
            if label == 0 {
                let d = (&row - &after).mapv(|v| v * v).sum().sqrt();
                assert!(d < 6.0, "a row of blob 0 {d} from its new centre");
            }
        }
        assert_eq!(moving.rows(), 400);
    }

    #[test]
    fn appear_and_vanish_silence_their_centres() {
        let (_, y) = Blobs::new(3, 2, 1).appear_at(300).next_batch(600);
        assert!(y.iter().take(300).all(|&l| l != 2) && y.iter().skip(300).filter(|&&l| l == 2).count() > 50);
        assert!(y.iter().take(300).filter(|&&l| l == 0).count() > 100, "the others share the rows");
        let plain = Blobs::new(3, 2, 1).next_batch(600);
        let (x, y) = Blobs::new(3, 2, 1).vanish_at(200).next_batch(600);
        assert_eq!(x.slice(ndarray::s![..200, ..]), plain.0.slice(ndarray::s![..200, ..]));
        assert!(y.iter().skip(200).all(|&l| l != 1) && y.iter().skip(200).any(|&l| l == 2));
        // k = 2: centre 1 lives from appear_at to vanish_at; centre 0 always emits.
        let (_, y) = Blobs::new(2, 2, 1).appear_at(100).vanish_at(400).next_batch(600);
        let ones: Vec<usize> = (0..600).filter(|&i| y[i] == 1).collect();
        assert!(ones.iter().all(|i| (100..400).contains(i)) && ones.len() > 100);
        // Both silences at once with k = 4: centres 1 and 3 silent, 0 and 2 share the rows.
        let (_, y) = Blobs::new(4, 2, 1).appear_at(1000).vanish_at(0).next_batch(500);
        assert!(y.iter().all(|&l| l == 0 || l == 2) && y.iter().any(|&l| l == 0) && y.iter().any(|&l| l == 2));
        // A single centre has nothing to silence.
        let (_, y) = Blobs::new(1, 2, 1).appear_at(1000).vanish_at(0).next_batch(10);
        assert!(y.iter().all(|&l| l == 0));
    }

    #[test]
    fn the_spec_takes_the_new_options_and_refuses_what_cannot_be() {
        let spec = SynthSpec::parse("blobs?n=10&k=3&move_at=5&appear_at=6&vanish_at=7").expect("valid");
        assert_eq!(
            spec.kind,
            SynthKind::Blobs {
                d: 2,
                k: 3,
                std: 1.0,
                drift: 0.0,
                move_at: Some(5),
                appear_at: Some(6),
                vanish_at: Some(7)
            }
        );
        let plain = SynthSpec::parse("blobs").expect("valid");
        assert!(matches!(plain.kind, SynthKind::Blobs { move_at: None, appear_at: None, vanish_at: None, .. }));
        assert!(SynthSpec::parse("blobs?k=2&appear_at=5&vanish_at=10").is_ok());
        let err = |s: &str| SynthSpec::parse(s).expect_err(s);
        assert_eq!(err("blobs?k=1&appear_at=5"), "appear_at needs at least 2 blobs (k>=2), got k=1");
        assert_eq!(err("blobs?k=1&vanish_at=5"), "vanish_at needs at least 2 blobs (k>=2), got k=1");
        assert!(err("blobs?k=2&appear_at=10&vanish_at=10").contains("appear_at (10) must be before vanish_at (10)"));
        assert_eq!(err("blobs?move_at=-1"), "move_at=-1: expected a record number (a whole number >= 0)");
        assert_eq!(err("blobs?move_at=1&move_at=2"), "move_at is given twice");
        assert_eq!(err("sea?move_at=3"), "unknown parameter \"move_at\" for synth:sea");
    }

    fn read_all(source: &mut SynthSource) -> Vec<(Vec<u64>, Array2<f64>)> {
        std::iter::from_fn(|| source.next_batch().expect("generates")).map(|b| (b.ids, b.x)).collect()
    }

    /// `resume` regenerates and drops the records a checkpoint covers: the scheduled
    /// changes keep their places.
    #[test]
    fn resume_past_the_scheduled_changes_gives_the_same_records() {
        let spec =
            SynthSpec::parse("blobs?n=3000&k=3&seed=4&move_at=900&appear_at=1200&vanish_at=1500").expect("valid");
        let options = SourceOptions { batch_size: 700, ..SourceOptions::default() };
        let whole = read_all(&mut SynthSource::new(spec.clone(), &options).expect("opens"));
        let mut first = SynthSource::new(spec.clone(), &options).expect("opens");
        for _ in 0..2 {
            first.next_batch().expect("generates");
        }
        let mut resumed = SynthSource::new(spec, &options).expect("opens");
        resumed.resume(&first.position()).expect("resumes");
        let rest: Vec<(Vec<u64>, Array2<f64>)> = read_all(&mut resumed);
        let ids: Vec<u64> = rest.iter().flat_map(|b| b.0.clone()).collect();
        assert_eq!(ids, (1400..3000).collect::<Vec<u64>>());
        let rows = |batches: &[(Vec<u64>, Array2<f64>)]| -> Vec<f64> {
            batches.iter().flat_map(|b| b.1.iter().copied()).collect()
        };
        assert_eq!(rows(&rest), rows(&whole)[1400 * 2..]);
    }

    /// Record by record, the bits of `x`, the categories and the labels.
    fn mixed_digest((x, cats, y): &MixedBatch) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325_u64;
        let text = cats.values().iter().flat_map(|v| v.as_deref().unwrap_or("<none>").bytes().chain([0]));
        for v in x.iter().map(|v| v.to_bits()).chain(y.iter().map(|&l| l as u64)).chain(text.map(u64::from)) {
            h = (h ^ v).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }

    #[test]
    fn mixed_is_the_same_stream_for_the_same_seed() {
        let a = Mixed::new(3).missing(0.05).new_at(500).next_batch(1000);
        let b = Mixed::new(3).missing(0.05).new_at(500).next_batch(1000);
        assert_eq!(mixed_digest(&a), mixed_digest(&b));
        assert_ne!(mixed_digest(&a), mixed_digest(&Mixed::new(4).missing(0.05).new_at(500).next_batch(1000)));
        // In two batches, the same records.
        let mut g = Mixed::new(3).missing(0.05).new_at(500);
        let (first, second) = (g.next_batch(400), g.next_batch(600));
        let mut joined = first.1.clone();
        joined.append(&second.1).expect("same columns");
        assert_eq!(joined, a.1);
        assert_eq!(
            ndarray::concatenate(ndarray::Axis(0), &[first.0.view(), second.0.view()])
                .expect("same width")
                .mapv(f64::to_bits),
            a.0.mapv(f64::to_bits)
        );
        assert_eq!(g.rows(), 1000);
        // The stream as it is today: a change to the generator shows here.
        assert_eq!(mixed_digest(&Mixed::new(1).next_batch(300)), 0xf0b2_a437_e962_7d37);
    }

    #[test]
    fn mixed_columns_hold_what_the_docs_say() {
        let (x, cats, y) = Mixed::new(9).next_batch(20_000);
        assert_eq!(cats.names(), ["country", "device", "merchant"]);
        assert_eq!((x.ncols(), cats.rows(), y.len()), (4, 20_000, 20_000));
        let column = |j: usize| x.column(j).to_vec();
        assert!(column(0).iter().all(|&a| a >= 0.01 && (a * 100.0 - (a * 100.0).round()).abs() < 1e-6));
        assert!(column(1).iter().all(|&a| (18.0..=90.0).contains(&a) && a.fract() == 0.0));
        assert!(column(2).iter().all(|&h| (0.0..24.0).contains(&h) && h.fract() == 0.0));
        assert!(column(3).iter().all(|&r| r == 0.0 || r == 1.0));
        let returning = column(3).iter().sum::<f64>() / 20_000.0;
        assert!((returning - 0.6).abs() < 0.02, "{returning}");
        let share = |j: usize, value: &str| {
            (0..cats.rows()).filter(|&i| cats.row(i)[j].as_deref() == Some(value)).count() as f64 / 20_000.0
        };
        assert!((share(0, "US") - 0.34).abs() < 0.02 && (share(1, "tablet") - 0.10).abs() < 0.01);
        assert!(share(2, "m000") > 0.12 && share(2, "m000") < 0.22, "{}", share(2, "m000"));
        assert_eq!(share(0, "ZZ") + share(2, "m200"), 0.0);
        let distinct: std::collections::HashSet<&str> =
            (0..cats.rows()).filter_map(|i| cats.row(i)[2].as_deref()).collect();
        assert!(distinct.len() > 150 && distinct.len() <= 200, "{}", distinct.len());
        let positive = y.iter().sum::<i64>() as f64 / 20_000.0;
        assert!((0.2..0.35).contains(&positive), "{positive}");
        assert!(x.iter().all(|v| v.is_finite()) && cats.values().iter().all(Option::is_some));
    }

    #[test]
    fn mixed_labels_depend_on_the_country() {
        let (_, cats, y) = Mixed::new(5).next_batch(50_000);
        let rate = |country: &str| {
            let rows: Vec<usize> = (0..cats.rows()).filter(|&i| cats.row(i)[0].as_deref() == Some(country)).collect();
            rows.iter().map(|&i| y[i]).sum::<i64>() as f64 / rows.len() as f64
        };
        let (ng, br, us, jp) = (rate("NG"), rate("BR"), rate("US"), rate("JP"));
        assert!(ng > 0.55 && br > 0.4, "NG {ng}, BR {br}");
        assert!(us < 0.2 && jp < 0.12, "US {us}, JP {jp}");
        assert!(ng - jp > 0.45, "NG {ng}, JP {jp}");
    }

    #[test]
    fn mixed_leaves_out_the_share_of_values_asked_and_keeps_the_rest() {
        let full = Mixed::new(2).next_batch(20_000);
        let (x, cats, y) = Mixed::new(2).missing(0.1).next_batch(20_000);
        let nan = x.iter().filter(|v| v.is_nan()).count() as f64 / x.len() as f64;
        let none = cats.values().iter().filter(|v| v.is_none()).count() as f64 / cats.values().len() as f64;
        assert!((nan - 0.1).abs() < 0.01 && (none - 0.1).abs() < 0.01, "NaN {nan}, None {none}");
        assert_eq!(y, full.2, "labels are never missing, and drawn from the complete values");
        assert!(x.iter().zip(full.0.iter()).all(|(v, w)| v.is_nan() || v == w));
        assert!(cats.values().iter().zip(full.1.values()).all(|(v, w)| v.is_none() || v == w));
    }

    #[test]
    fn mixed_new_values_appear_at_new_at_and_not_before() {
        let plain = Mixed::new(8).next_batch(4000);
        let (x, cats, y) = Mixed::new(8).new_at(2500).next_batch(4000);
        assert_eq!(x.slice(ndarray::s![..2500, ..]), plain.0.slice(ndarray::s![..2500, ..]));
        assert_eq!(cats.slice_rows(0..2500), plain.1.slice_rows(0..2500));
        assert_eq!(y.slice(ndarray::s![..2500]), plain.2.slice(ndarray::s![..2500]));
        let new = |i: usize| {
            let row = cats.row(i);
            (row[0].as_deref() == Some("ZZ"), row[2].as_deref().is_some_and(|m| m >= "m200"))
        };
        assert!((0..2500).all(|i| new(i) == (false, false)));
        let zz = (2500..4000).filter(|&i| new(i).0).count();
        let merchants = (2500..4000).filter(|&i| new(i).1).count();
        assert!((100..200).contains(&zz) && (100..200).contains(&merchants), "ZZ {zz}, new merchants {merchants}");
    }

    #[test]
    fn the_spec_takes_mixed_and_refuses_what_cannot_be() {
        let spec = SynthSpec::parse("mixed?n=10&missing=0.05&new_at=4&seed=2").expect("valid");
        assert_eq!(spec, SynthSpec { kind: SynthKind::Mixed { missing: 0.05, new_at: Some(4) }, n: 10, seed: 2 });
        assert_eq!(SynthSpec::parse("mixed").expect("valid").kind, SynthKind::Mixed { missing: 0.0, new_at: None });
        let err = |s: &str| SynthSpec::parse(s).expect_err(s);
        assert_eq!(err("mixed?missing=1"), "missing=1: expected a share from 0 up to, not including, 1");
        assert_eq!(err("mixed?missing=-0.1"), "missing=-0.1: expected a number from 0 to 1");
        assert_eq!(err("mixed?missing=some"), "missing=some: expected a number from 0 to 1");
        assert_eq!(err("mixed?new_at=x"), "new_at=x: expected a record number (a whole number >= 0)");
        assert_eq!(err("mixed?d=3"), "unknown parameter \"d\" for synth:mixed");
        assert_eq!(err("sea?missing=0.1"), "unknown parameter \"missing\" for synth:sea");
        assert_eq!(err("mixd"), "unknown generator \"mixd\": blobs, hyperplane, sea, sine, rbf or mixed");
    }

    #[test]
    fn a_mixed_source_with_missing_values_needs_an_imputer() {
        let err = crate::source::open("synth:mixed?n=10&missing=0.05", SourceOptions::default())
            .err()
            .expect("refused without an imputer");
        assert!(matches!(err, crate::source::SourceError::Schema { .. }));
        assert!(err.to_string().contains("no imputer") && err.to_string().contains("impute |"), "{err}");
        // Without missing values, or with an imputer, it opens.
        assert!(crate::source::open("synth:mixed?n=10", SourceOptions::default()).is_ok());
        let options = SourceOptions { batch_size: 64, missing: true, ..SourceOptions::default() };
        let mut source = crate::source::open("synth:mixed?n=100&missing=0.05&seed=1", options).expect("opens");
        assert_eq!(source.feature_names(), ["amount", "age", "hour", "returning"]);
        assert_eq!(source.categorical_names(), ["country", "device", "merchant"]);
        let batch = source.next_batch().expect("generates").expect("a batch");
        assert_eq!((batch.x.nrows(), batch.cats.rows(), batch.cats.width()), (64, 64, 3));
        assert_eq!(batch.cats.names(), source.categorical_names());
        let (x, cats, y) = Mixed::new(1).missing(0.05).next_batch(64);
        assert_eq!((batch.x.mapv(f64::to_bits), batch.cats, batch.y), (x.mapv(f64::to_bits), cats, Some(y.to_vec())));
    }

    #[test]
    fn a_resumed_mixed_source_gives_the_same_records() {
        let spec = SynthSpec::parse("mixed?n=1000&new_at=300&seed=6").expect("valid");
        let options = SourceOptions { batch_size: 128, ..SourceOptions::default() };
        let mut whole = SynthSource::new(spec.clone(), &options).expect("opens");
        let batches: Vec<_> = std::iter::from_fn(|| whole.next_batch().expect("generates")).collect();
        let mut resumed = SynthSource::new(spec, &options).expect("opens");
        resumed.resume(&crate::record::SourcePosition { records: 256, ..whole.position() }).expect("resumes");
        let next = resumed.next_batch().expect("generates").expect("a batch");
        assert_eq!(next.ids[0], 256);
        assert_eq!((next.x, next.cats), (batches[2].x.clone(), batches[2].cats.clone()));
    }

    /// What `synth:mixed` is for: River's pipeline (`scale | sgd(loss=log_loss,
    /// learning_rate=constant, eta0=0.01, alpha=0)`) learns little from the numbers alone,
    /// and much more with the categories one-hot encoded beside them.
    #[test]
    fn a_linear_model_needs_the_categories_of_mixed() {
        let (x, cats, y) = Mixed::new(0).next_batch(20_000);
        // Each category gets a column, after the numbers, when first seen (River's one-hot).
        let mut seen: std::collections::HashMap<(usize, &str), usize> = Default::default();
        let mut slots = Vec::with_capacity(cats.values().len());
        for i in 0..cats.rows() {
            for (j, v) in cats.row(i).iter().enumerate() {
                let next = x.ncols() + seen.len();
                slots.push((i, *seen.entry((j, v.as_deref().unwrap_or_default())).or_insert(next)));
            }
        }
        let width = x.ncols() + seen.len();
        let mut wide = Array2::zeros((x.nrows(), width));
        wide.slice_mut(ndarray::s![.., ..x.ncols()]).assign(&x);
        for (i, j) in slots {
            wide[[i, j]] = 1.0;
        }
        let accuracy = |x: &Array2<f64>| {
            let context = crate::model::registry::Context { classes: Some(vec![0, 1]), ..Default::default() };
            let spec = "scale | sgd(loss=log_loss, learning_rate=constant, eta0=0.01, alpha=0)";
            let (_, model) = crate::model::registry::build_text(spec, &context).expect("valid spec");
            let crate::model::Model::Classifier(mut model) = model else { panic!("a classifier") };
            let predicted =
                crate::model::OnlineClassifier::learn_predict(&mut model, x.view(), y.view()).expect("learns");
            predicted.iter().zip(y.iter()).filter(|(p, t)| p == t).count() as f64 / y.len() as f64
        };
        let majority = 1.0 - y.iter().sum::<i64>() as f64 / y.len() as f64;
        let (numeric, one_hot) = (accuracy(&x), accuracy(&wide));
        assert!(numeric - majority < 0.02, "numbers alone: {numeric}, always 0: {majority}");
        assert!(one_hot - numeric > 0.03, "with the categories: {one_hot}, numbers alone: {numeric}");
    }

    /// River's SINE2 boundary, written out here apart from [`Sine::label`].
    fn sine2(x0: f64, x1: f64) -> i64 {
        if x0 >= 0.5 + 0.3 * (3.0 * std::f64::consts::PI * x1).sin() {
            0
        } else {
            1
        }
    }

    #[test]
    fn sine_and_rbf_are_the_same_streams_for_the_same_seed() {
        let sine = |seed| Sine::new(2, seed).period(300).noise(0.1).irrelevant(2).next_batch(1000);
        let rbf = |seed| RandomRbf::new(3, 4, 20, 0.01, 10, seed).next_batch(1000);
        for (a, b, c) in [(sine(5), sine(5), sine(6)), (rbf(5), rbf(5), rbf(6))] {
            assert_eq!(digest(&a.0, &a.1), digest(&b.0, &b.1));
            assert_ne!(digest(&a.0, &a.1), digest(&c.0, &c.1));
        }
        // In two batches, the same rows: the clock and the centres carry over.
        let mut g = RandomRbf::new(3, 4, 20, 0.01, 10, 5);
        let (first, second) = (g.next_batch(400), g.next_batch(600));
        let joined = ndarray::concatenate(ndarray::Axis(0), &[first.0.view(), second.0.view()]).expect("same width");
        assert_eq!(joined.mapv(f64::to_bits), rbf(5).0.mapv(f64::to_bits));
        assert_eq!(g.rows(), 1000);
        let mut g = Sine::new(2, 5).period(300).noise(0.1).irrelevant(2);
        let (first, second) = (g.next_batch(250), g.next_batch(750));
        let labels: Vec<i64> = first.1.iter().chain(second.1.iter()).copied().collect();
        assert_eq!(labels, sine(5).1.to_vec());
        assert_eq!(g.rows(), 1000);
        // The streams as they are today: a change to a generator shows here.
        let (x, y) = Sine::new(2, 1).next_batch(300);
        assert_eq!(digest(&x, &y), 0x73e1_759f_2c2d_821f);
        let (x, y) = RandomRbf::new(2, 10, 50, 0.001, 50, 1).next_batch(300);
        assert_eq!(digest(&x, &y), 0x7a8d_7c6f_67ef_135d);
    }

    #[test]
    fn sine_labels_follow_river_s_formulas() {
        // By hand: at x1 = 1/6 the SINE2 boundary is 0.5 + 0.3 sin(pi/2) = 0.8 and sin(1/6) =
        // 0.166; at x1 = 0.5 it is 0.5 + 0.3 sin(3 pi/2) = 0.2 and sin(0.5) = 0.479.
        assert_eq!([0, 1, 2, 3].map(|f| Sine::label(f, 0.81, 1.0 / 6.0)), [0, 1, 0, 1]);
        assert_eq!([0, 1, 2, 3].map(|f| Sine::label(f, 0.79, 1.0 / 6.0)), [0, 1, 1, 0]);
        assert_eq!([0, 1, 2, 3].map(|f| Sine::label(f, 0.47, 0.5)), [1, 0, 0, 1]);
        assert_eq!([0, 1, 2, 3].map(|f| Sine::label(f, 0.48, 0.5)), [0, 1, 0, 1]);
        assert_eq!([0, 1, 2, 3].map(|f| Sine::label(f, 0.19, 0.5)), [1, 0, 1, 0]);
        let (x, y) = Sine::new(2, 3).next_batch(20_000);
        assert_eq!(x.ncols(), 2);
        assert!(x.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(x.outer_iter().zip(y.iter()).all(|(r, &l)| l == sine2(r[0], r[1])));
        // P(y = 1) = integral of 0.5 + 0.3 sin(3 pi x1) over [0, 1] = 0.5 + 0.2 / pi.
        let ones = y.iter().sum::<i64>() as f64 / 20_000.0;
        assert!((ones - (0.5 + 0.2 / std::f64::consts::PI)).abs() < 0.015, "{ones}");
        let (x, y) = Sine::new(0, 3).irrelevant(3).next_batch(5000);
        assert_eq!(x.ncols(), 5);
        assert!(x.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(x.outer_iter().zip(y.iter()).all(|(r, &l)| l == i64::from(r[0] < r[1].sin())));
        let (x, y) = Sine::new(3, 3).next_batch(5000);
        assert!(x.outer_iter().zip(y.iter()).all(|(r, &l)| l == 1 - sine2(r[0], r[1])));
    }

    #[test]
    fn sine_period_switches_to_the_paired_concept_at_the_right_record() {
        let plain = Sine::new(2, 8).next_batch(1000);
        let switching = Sine::new(2, 8).period(300);
        assert_eq!((switching.concept_at(299), switching.concept_at(300), switching.concept_at(600)), (2, 3, 2));
        let (x, y) = switching.clone().next_batch(1000);
        assert_eq!(x, plain.0, "the switch changes the labels only");
        for (i, (r, &l)) in x.outer_iter().zip(y.iter()).enumerate() {
            let reversed = (300..600).contains(&i) || i >= 900;
            assert_eq!(l, if reversed { 1 - sine2(r[0], r[1]) } else { sine2(r[0], r[1]) }, "row {i}");
        }
        let differ: Vec<bool> = y.iter().zip(plain.1.iter()).map(|(a, b)| a != b).collect();
        assert!(differ[..300].iter().all(|d| !d) && differ[300..600].iter().all(|&d| d));
        assert!(differ[600..900].iter().all(|d| !d) && differ[900..].iter().all(|&d| d));
        // SINE1 pairs with its reverse; the clock runs across batches.
        let mut g = Sine::new(0, 8).period(250);
        let (x1, y1) = g.next_batch(200);
        let (x2, y2) = g.next_batch(100);
        let sine1 = |r: ndarray::ArrayView1<f64>| i64::from(r[0] < r[1].sin());
        assert!(x1.outer_iter().zip(y1.iter()).all(|(r, &l)| l == sine1(r)));
        for (i, (r, &l)) in x2.outer_iter().zip(y2.iter()).enumerate() {
            assert_eq!(l, if 200 + i >= 250 { 1 - sine1(r) } else { sine1(r) }, "row {}", 200 + i);
        }
    }

    #[test]
    fn sine_noise_flips_about_the_share_asked_and_keeps_the_features() {
        let (x, clean) = Sine::new(2, 4).next_batch(20_000);
        let (noisy_x, noisy) = Sine::new(2, 4).noise(0.2).next_batch(20_000);
        assert_eq!(noisy_x, x);
        let flipped = clean.iter().zip(noisy.iter()).filter(|(a, b)| a != b).count() as f64 / 20_000.0;
        assert!((flipped - 0.2).abs() < 0.015, "{flipped}");
    }

    #[test]
    fn rbf_labels_are_classes_drawn_in_proportion_to_the_weights() {
        let mut g = RandomRbf::new(3, 5, 12, 0.0, 12, 2);
        let (x, y) = g.next_batch(30_000);
        assert_eq!(x.dim(), (30_000, 5));
        assert!(y.iter().all(|l| (0..3).contains(l)));
        assert!(g.classes().iter().all(|l| (0..3).contains(l)));
        // The expected share of each class: the weights of its centroids over all weights.
        let weight = |c: usize| g.cdf[c] - if c == 0 { 0.0 } else { g.cdf[c - 1] };
        for class in 0..3 {
            let expected: f64 = (0..12).filter(|&c| g.classes()[c] == class).map(weight).sum();
            let share = y.iter().filter(|&&l| l == class).count() as f64 / 30_000.0;
            assert!((share - expected).abs() < 0.015, "class {class}: {share}, expected {expected}");
        }
        let two = RandomRbf::new(2, 2, 50, 0.0, 50, 3).next_batch(2000).1;
        assert!(two.iter().all(|l| (0..2).contains(l)) && two.iter().any(|&l| l == 0) && two.iter().any(|&l| l == 1));
    }

    #[test]
    fn rbf_rows_lie_around_their_centroid_at_normal_distances() {
        // One centroid: distances |N(0, 1)| * std, directions uniform so the mean is the centre.
        let mut g = RandomRbf::new(2, 3, 1, 0.0, 1, 9);
        let (centre, std) = (g.centres().row(0).to_owned(), g.std[0]);
        let (x, y) = g.next_batch(20_000);
        assert!(y.iter().all(|&l| l == g.classes()[0]));
        let distance: f64 = x.outer_iter().map(|r| (&r - &centre).mapv(|v| v * v).sum().sqrt()).sum::<f64>() / 20_000.0;
        let expected = std * (2.0 / std::f64::consts::PI).sqrt();
        assert!((distance - expected).abs() < 0.02 * std, "{distance}, expected {expected}");
        let mean = x.mean_axis(ndarray::Axis(0)).expect("rows");
        assert!((&mean - &centre).iter().all(|v| v.abs() < 0.02 * std), "{mean} {centre}");
    }

    #[test]
    fn rbf_without_speed_is_stationary() {
        let mut still = RandomRbf::new(2, 4, 10, 0.0, 10, 7);
        let start = still.centres().clone();
        let (x, y) = still.next_batch(5000);
        assert_eq!(still.centres(), &start);
        // With speed but no moving centroid, the same stream.
        let mut none_move = RandomRbf::new(2, 4, 10, 0.05, 0, 7);
        let (x2, y2) = none_move.next_batch(5000);
        assert_eq!((x2.mapv(f64::to_bits), y2), (x.mapv(f64::to_bits), y));
        assert_eq!(none_move.centres(), &start);
    }

    #[test]
    fn rbf_with_speed_moves_its_drifting_centroids_within_the_unit_cube() {
        let speed = 0.01;
        let mut g = RandomRbf::new(2, 3, 10, speed, 4, 11);
        let start = g.centres().clone();
        g.next_batch(1);
        // As in River and MOA, centroid 0's speed repeats the model's first draws: its centre's direction.
        let step = (&g.centres().row(0) - &start.row(0)).to_owned();
        let direction = &start.row(0) / start.row(0).dot(&start.row(0)).sqrt();
        assert!(step.iter().zip(direction.iter()).all(|(s, d)| (s - speed * d).abs() < 1e-12), "{step}");
        let mut edges = 0;
        let mut before = g.centres().clone();
        for _ in 0..3000 {
            g.next_batch(1);
            let now = g.centres();
            assert!(now.iter().all(|v| (0.0..=1.0).contains(v)), "{now}");
            for c in 0..10 {
                let moved = (&now.row(c) - &before.row(c)).mapv(|v| v * v).sum().sqrt();
                if c < 4 {
                    assert!(moved > 0.0 && moved <= speed + 1e-12, "centroid {c} moved {moved}");
                } else {
                    assert_eq!(moved, 0.0, "centroid {c} does not drift");
                }
            }
            edges += now.iter().filter(|&&v| v == 0.0 || v == 1.0).count();
            before = now.clone();
        }
        assert!(edges > 0, "in 3000 steps of 0.01 the centroids reach the edges and turn back");
        let travelled =
            (&g.centres().slice(ndarray::s![..4, ..]) - &start.slice(ndarray::s![..4, ..])).mapv(f64::abs).sum();
        assert!(travelled > 0.1, "{travelled}");
    }

    #[test]
    fn the_spec_takes_sine_and_rbf_and_refuses_what_cannot_be() {
        let kind = |s: &str| SynthSpec::parse(s).expect(s).kind;
        assert_eq!(kind("sine"), SynthKind::Sine { function: 2, period: None, noise: 0.0, irrelevant: 0 });
        assert_eq!(
            kind("sine?function=0&period=500&noise=0.1&irrelevant=2"),
            SynthKind::Sine { function: 0, period: Some(500), noise: 0.1, irrelevant: 2 }
        );
        assert_eq!(kind("rbf"), SynthKind::Rbf { classes: 2, d: 10, centroids: 50, speed: 0.0, drift_centroids: 50 });
        assert_eq!(
            kind("rbf?classes=4&d=3&centroids=20&speed=0.001&drift_centroids=5"),
            SynthKind::Rbf { classes: 4, d: 3, centroids: 20, speed: 0.001, drift_centroids: 5 }
        );
        // Fewer centroids than the default 50 that move: all of them move (River warns and does so).
        assert!(matches!(kind("rbf?centroids=20"), SynthKind::Rbf { drift_centroids: 20, .. }));
        let err = |s: &str| SynthSpec::parse(s).expect_err(s);
        assert_eq!(err("sine?function=7"), "function=7: expected a whole number from 0 to 3");
        assert_eq!(err("sine?period=0"), "period=0: expected a whole number from 1 to 18446744073709551615");
        assert_eq!(err("sine?noise=1.5"), "noise=1.5: expected a number from 0 to 1");
        assert_eq!(err("sine?d=3"), "unknown parameter \"d\" for synth:sine");
        assert_eq!(err("rbf?classes=1"), "classes=1: expected a whole number from 2 to 10000");
        assert_eq!(err("rbf?centroids=10&drift_centroids=11"), "drift_centroids=11: at most centroids (10) can move");
        assert_eq!(err("rbf?centroids=0"), "centroids=0: expected a whole number from 1 to 10000");
        assert_eq!(err("rbf?speed=-0.1"), format!("speed=-0.1: expected a number from 0 to {}", f64::MAX));
        assert_eq!(err("rbf?period=3"), "unknown parameter \"period\" for synth:rbf");
        assert_eq!(err("rfb"), "unknown generator \"rfb\": blobs, hyperplane, sea, sine, rbf or mixed");
    }

    #[test]
    fn sine_and_rbf_sources_resume_to_the_same_records() {
        for (input, width) in [
            ("synth:sine?n=1000&period=300&noise=0.1&irrelevant=1&seed=3", 3),
            ("synth:rbf?n=1000&d=4&classes=3&speed=0.01&drift_centroids=30&seed=3", 4),
        ] {
            let options = SourceOptions { batch_size: 128, ..SourceOptions::default() };
            let mut whole = crate::source::open(input, options.clone()).expect("opens");
            let names: Vec<String> = (0..width).map(|i| format!("f{i}")).collect();
            assert_eq!(whole.feature_names(), names);
            let batches: Vec<_> = std::iter::from_fn(|| whole.next_batch().expect("generates")).collect();
            assert_eq!(batches.iter().map(|b| b.ids.len()).sum::<usize>(), 1000);
            let spec = SynthSpec::parse(input.strip_prefix("synth:").expect("synth")).expect("valid");
            let mut resumed = SynthSource::new(spec, &options).expect("opens");
            resumed.resume(&crate::record::SourcePosition { records: 384, ..whole.position() }).expect("resumes");
            let next = resumed.next_batch().expect("generates").expect("a batch");
            assert_eq!(next.ids[0], 384, "{input}");
            assert_eq!((next.x.mapv(f64::to_bits), next.y), (batches[3].x.mapv(f64::to_bits), batches[3].y.clone()));
        }
    }
}
