//! Seeded stream generators: the same seed gives the same stream on every platform.
//!
//! - [`Blobs`]: Gaussian clusters, optionally drifting (the centres walk).
//! - [`Hyperplane`]: a rotating hyperplane, gradual concept drift (Hulten et al., 2001).
//! - [`Sea`]: the SEA concepts, abrupt drift (Street and Kim, 2001).

use ndarray::{Array1, Array2};
use ndarray_rand::rand::{Rng, SeedableRng};
use ndarray_rand::rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

/// A labelled batch: features and the true class (or cluster) of each row.
pub type LabelledBatch = (Array2<f64>, Array1<i64>);

/// Gaussian blobs: each row picks a centre uniformly and adds N(0, std²) noise.
#[derive(Debug, Clone)]
pub struct Blobs {
    centers: Array2<f64>,
    std: f64,
    drift: f64,
    rng: Xoshiro256PlusPlus,
}

impl Blobs {
    /// `n_centers` centres in `n_features` dimensions, uniform in [-10, 10], std 1.
    pub fn new(n_centers: usize, n_features: usize, seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let centers = Array2::from_shape_fn((n_centers.max(1), n_features), |_| rng.gen_range(-10.0..10.0));
        Self { centers, std: 1.0, drift: 0.0, rng }
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

    /// The current centres.
    pub fn centers(&self) -> &Array2<f64> {
        &self.centers
    }

    /// The next `n` rows.
    pub fn next_batch(&mut self, n: usize) -> LabelledBatch {
        let (k, d) = self.centers.dim();
        let mut x = Array2::zeros((n, d));
        let mut y = Array1::zeros(n);
        for (mut row, label) in x.outer_iter_mut().zip(y.iter_mut()) {
            let c = self.rng.gen_range(0..k);
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
    /// `k` Gaussian blobs in `d` dimensions with standard deviation `std`, centres walking by `drift`.
    Blobs {
        /// Features.
        d: usize,
        /// Centres.
        k: usize,
        /// Standard deviation of each blob.
        std: f64,
        /// Drift of the centres per row.
        drift: f64,
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
                SynthKind::Blobs {
                    d,
                    k,
                    std: real(&mut params, "std", 1.0, f64::MAX)?,
                    drift: real(&mut params, "drift", 0.0, f64::MAX)?,
                }
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
            SynthKind::Blobs { d, k, std, drift } => {
                (Generator::Blobs(Blobs::new(k, d, spec.seed).cluster_std(std).drift(drift)), d)
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
        let batch = crate::record::Batch { seq: self.seq, ids, x, y: Some(y.to_vec()), end_offset: self.produced };
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
