//! Seeded stream generators: the same seed gives the same stream on every platform.
//!
//! - [`Blobs`]: Gaussian clusters, optionally drifting (the centres walk), and with
//!   abrupt cluster-level changes at given records: a centre that jumps
//!   (`move_at`), one that starts late (`appear_at`), one that stops (`vanish_at`).
//! - [`Hyperplane`]: a rotating hyperplane, gradual concept drift (Hulten et al., 2001).
//! - [`Sea`]: the SEA concepts, abrupt drift (Street and Kim, 2001).

use ndarray::{Array1, Array2};
use ndarray_rand::rand::{Rng, SeedableRng};
use ndarray_rand::rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

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

/// Which generator, and its parameters, as in `synth:blobs?n=1000000&d=16&k=8&seed=1`.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    /// `blobs`, `hyperplane` or `sea`.
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
}

impl SynthSpec {
    /// Parse `NAME?key=value&...` (the part after `synth:`).
    ///
    /// Counts (`n`, `d`, `k`, `period`, `seed`) are whole numbers, `d` and `k` at
    /// most 10 000; `noise` lies in [0, 1]; `std`, `drift` and `mag` are not negative.
    /// `blobs` also takes record numbers `move_at`, `appear_at` (needs `k >= 2`) and
    /// `vanish_at` (needs `k >= 2`); with `k = 2` both of the last two act on centre 1,
    /// so `appear_at` must come before `vanish_at`.
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
            other => return Err(format!("unknown generator {other:?}: blobs, hyperplane or sea")),
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
    quit: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

enum Generator {
    Blobs(Blobs),
    Hyperplane(Hyperplane),
    Sea(Sea),
}

impl SynthSource {
    /// A source of `spec.n` generated records in batches of `batch_size`.
    pub fn new(spec: SynthSpec, batch_size: usize, quit: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Self {
        let (generator, d) = match spec.kind {
            SynthKind::Blobs { d, k, std, drift, move_at, appear_at, vanish_at } => {
                let mut blobs = Blobs::new(k, d, spec.seed).cluster_std(std).drift(drift);
                blobs.move_at = move_at;
                blobs.appear_at = appear_at;
                blobs.vanish_at = vanish_at;
                (Generator::Blobs(blobs), d)
            }
            SynthKind::Hyperplane { d, mag, noise } => {
                (Generator::Hyperplane(Hyperplane::new(d, spec.seed).mag_change(mag).noise(noise)), d)
            }
            SynthKind::Sea { period, noise } => (Generator::Sea(Sea::new(period, spec.seed).noise(noise)), 3),
        };
        Self {
            generator,
            remaining: spec.n,
            produced: 0,
            seq: 0,
            batch_size: batch_size.max(1),
            features: (0..d).map(|i| format!("f{i}")).collect(),
            quit,
        }
    }
}

impl crate::source::Source for SynthSource {
    fn next_batch(&mut self) -> Result<Option<crate::record::Batch>, crate::source::SourceError> {
        if self.remaining == 0 || self.quit.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(None);
        }
        let n = (self.batch_size as u64).min(self.remaining) as usize;
        let (x, y) = match &mut self.generator {
            Generator::Blobs(g) => g.next_batch(n),
            Generator::Hyperplane(g) => g.next_batch(n),
            Generator::Sea(g) => g.next_batch(n),
        };
        let ids = (self.produced..self.produced + n as u64).collect();
        self.produced += n as u64;
        self.remaining -= n as u64;
        let batch = crate::record::Batch {
            seq: self.seq,
            ids,
            x,
            y: Some(y.to_vec()),
            end_offset: self.produced,
            ..Default::default()
        };
        self.seq += 1;
        Ok(Some(batch))
    }

    fn feature_names(&self) -> &[String] {
        &self.features
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
            match &mut self.generator {
                Generator::Blobs(g) => drop(g.next_batch(n)),
                Generator::Hyperplane(g) => drop(g.next_batch(n)),
                Generator::Sea(g) => drop(g.next_batch(n)),
            }
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;
    use std::sync::{atomic::AtomicBool, Arc};

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
        let quit = Arc::new(AtomicBool::new(false));
        let whole = read_all(&mut SynthSource::new(spec.clone(), 700, quit.clone()));
        let mut first = SynthSource::new(spec.clone(), 700, quit.clone());
        for _ in 0..2 {
            first.next_batch().expect("generates");
        }
        let mut resumed = SynthSource::new(spec, 700, quit);
        resumed.resume(&first.position()).expect("resumes");
        let rest: Vec<(Vec<u64>, Array2<f64>)> = read_all(&mut resumed);
        let ids: Vec<u64> = rest.iter().flat_map(|b| b.0.clone()).collect();
        assert_eq!(ids, (1400..3000).collect::<Vec<u64>>());
        let rows = |batches: &[(Vec<u64>, Array2<f64>)]| -> Vec<f64> {
            batches.iter().flat_map(|b| b.1.iter().copied()).collect()
        };
        assert_eq!(rows(&rest), rows(&whole)[1400 * 2..]);
    }
}
