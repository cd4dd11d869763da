//! Mini-batch k-means with scikit-learn's `partial_fit` semantics.
//!
//! Written on ndarray rather than wrapping linfa-clustering 0.8.1's incremental
//! `KMeans`: linfa has no reassignment of starved centres, panics (instead of
//! returning an error) on a feature-count mismatch, and reports a NaN inertia
//! for an empty batch. The algorithm here is scikit-learn's (Sculley, 2010):
//! greedy k-means++ on the first batch (or given centres), per-centre counts
//! that set each centre's learning rate to `1 / count`, and random reassignment
//! of centres whose count falls below `reassignment_ratio * max(count)`.
//! One departure by default: the first batch is seeded `n_init` times (3) and the
//! seeding with the lowest inertia on its sample is kept, as scikit-learn's `fit`
//! does; `partial_fit` seeds once, which `n_init = 1` reproduces exactly.
//! linfa's `KMeans` is kept as a cross-check in the tests and benches.

use super::registry::{self, Entry, Param, Role};
use super::stage::impl_stage;
use super::{validate, OnlineClusterer};
use crate::error::{ModelError, ParamsError};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use ndarray_rand::rand::{seq::index, Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// The most centres a model may have: state is allocated per centre up front.
pub const MAX_CLUSTERS: usize = 1 << 20;
/// The largest batch size: the k-means++ sample is three of them.
pub const MAX_BATCH_SIZE: usize = 1 << 30;
/// The most k-means++ seedings of the first batch: each costs a pass over its sample,
/// and a file asking for 181,641 of them held a fuzzer for seconds per input.
pub const MAX_N_INIT: usize = 1000;

/// How the centres are initialised from the first batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KMeansInit {
    /// Greedy k-means++ (scikit-learn's default), seeded.
    #[serde(rename = "k-means++")]
    KMeansPlusPlus,
    /// These centres, `n_clusters x n_features`.
    Centers(Array2<f64>),
}

/// What Spark's `decay_factor` discounts: each batch, or each record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// The weights are multiplied by `decay_factor` once per batch (Spark's default).
    Batches,
    /// The weights are multiplied by `decay_factor` once per record of the batch.
    Points,
}

/// Parameters of [`MiniBatchKMeans`], with scikit-learn's names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MiniBatchKMeansParams {
    /// Number of centres (default 8).
    pub n_clusters: usize,
    /// The batch size the stream is cut into (default 1024). As in scikit-learn it
    /// paces reassignment (every `10 * n_clusters` rows) and sizes the k-means++
    /// sample (`3 * batch_size` rows of the first batch).
    pub batch_size: usize,
    /// Initialisation (default k-means++).
    pub init: KMeansInit,
    /// k-means++ seedings tried on the first batch's sample; the one with the lowest
    /// inertia on that sample is kept, as scikit-learn's `fit` does with `n_init`
    /// (default 3; 1 seeds once, as scikit-learn's `partial_fit`). Ignored with
    /// [`KMeansInit::Centers`].
    pub n_init: usize,
    /// Centres with `count < reassignment_ratio * max(count)` are moved to random
    /// rows of the batch (default 0.01; 0 disables reassignment).
    pub reassignment_ratio: f64,
    /// Seed of every random choice (default 0; scikit-learn's `random_state`).
    #[serde(rename = "random_state", alias = "seed")]
    pub seed: u64,
    /// Forgetting as Spark's `StreamingKMeans`: before a batch is merged, every
    /// centre's weight (its count) is multiplied by `decay_factor` (per batch, or
    /// raised to the batch's number of records with [`TimeUnit::Points`]), so a
    /// centre is the weighted mean `(c w d + sum) / (w d + m)`. Default 1: no
    /// forgetting, scikit-learn's counts; 0: each centre is its last batch's mean.
    pub decay_factor: f64,
    /// What `decay_factor` discounts (Spark's `timeUnit`; default batches).
    pub time_unit: TimeUnit,
    /// River's `KMeans(halflife=...)`: despite the name, a constant step. Each
    /// record moves the centre it was assigned to this share of the way towards
    /// it, `c += halflife * (x - c)`, record by record in batch order. Default 0:
    /// off, the step is scikit-learn's `1 / count`. The counts are still kept
    /// (and decayed): they pace reassignment.
    pub halflife: f64,
}

impl Default for MiniBatchKMeansParams {
    fn default() -> Self {
        Self {
            n_clusters: 8,
            batch_size: 1024,
            init: KMeansInit::KMeansPlusPlus,
            n_init: 3,
            reassignment_ratio: 0.01,
            seed: 0,
            decay_factor: 1.0,
            time_unit: TimeUnit::Batches,
            halflife: 0.0,
        }
    }
}

impl MiniBatchKMeansParams {
    /// Set the number of centres.
    pub fn n_clusters(mut self, k: usize) -> Self {
        self.n_clusters = k;
        self
    }
    /// Set the batch size.
    pub fn batch_size(mut self, b: usize) -> Self {
        self.batch_size = b;
        self
    }
    /// Set the initialisation.
    pub fn init(mut self, init: KMeansInit) -> Self {
        self.init = init;
        self
    }
    /// Set the number of k-means++ seedings tried on the first batch.
    pub fn n_init(mut self, n: usize) -> Self {
        self.n_init = n;
        self
    }
    /// Set the reassignment ratio.
    pub fn reassignment_ratio(mut self, r: f64) -> Self {
        self.reassignment_ratio = r;
        self
    }
    /// Set the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Set Spark's decay factor (1: no forgetting).
    pub fn decay_factor(mut self, a: f64) -> Self {
        self.decay_factor = a;
        self
    }
    /// Set what the decay factor discounts.
    pub fn time_unit(mut self, unit: TimeUnit) -> Self {
        self.time_unit = unit;
        self
    }
    /// Set River's constant step towards each record (0: scikit-learn's `1 / count`).
    pub fn halflife(mut self, step: f64) -> Self {
        self.halflife = step;
        self
    }
    /// Check the parameters and build an untrained model.
    pub fn build(self) -> Result<MiniBatchKMeans, ParamsError> {
        if self.n_clusters == 0 || self.n_clusters > MAX_CLUSTERS {
            return Err(ParamsError::NClusters);
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return Err(ParamsError::BatchSize);
        }
        if self.n_init == 0 || self.n_init > MAX_N_INIT {
            return Err(ParamsError::NInit);
        }
        // Above 1 even the largest centre counts as starved and nothing is left to reset counts from.
        if !(0.0..=1.0).contains(&self.reassignment_ratio) {
            return Err(ParamsError::ReassignmentRatio(self.reassignment_ratio));
        }
        if !(0.0..=1.0).contains(&self.decay_factor) {
            return Err(ParamsError::DecayFactor(self.decay_factor));
        }
        if !(0.0..=1.0).contains(&self.halflife) {
            return Err(ParamsError::KMeansStep(self.halflife));
        }
        if let KMeansInit::Centers(c) = &self.init {
            if c.nrows() != self.n_clusters || c.ncols() == 0 || c.iter().any(|v| !v.is_finite()) {
                return Err(ParamsError::InitShape { n_clusters: self.n_clusters, rows: c.nrows(), cols: c.ncols() });
            }
        }
        let k = self.n_clusters;
        Ok(MiniBatchKMeans {
            rng: Xoshiro256PlusPlus::seed_from_u64(self.seed),
            params: self,
            centers: None,
            counts: Array1::zeros(k),
            batch_size: 0,
            n_since_last_reassign: 0,
            n_steps: 0,
            seen: 0,
            inertia: 0.0,
            batch_inertia: 0.0,
            n_reassigned: 0,
            row_inertia: Vec::new(),
        })
    }
}

/// `minibatch-kmeans` in the model language.
pub(crate) static MINIBATCH_KMEANS: Entry = Entry {
    name: "minibatch-kmeans",
    role: Role::Clusterer,
    summary: "mini-batch k-means with k-means++ seeding and reassignment (scikit-learn's MiniBatchKMeans)",
    params: &[
        Param::int("n_clusters", 1, "number of centres"),
        Param::int(
            "batch_size",
            1,
            "rows per batch: paces reassignment and sizes the k-means++ sample (default: the run's --batch-size)",
        ),
        Param::choice("init", &["k-means++"], "how the first batch seeds the centres"),
        Param::int(
            "n_init",
            1,
            "k-means++ seedings tried on the first batch (at most 1000); the one with the lowest inertia is kept (1: scikit-learn's partial_fit)",
        ),
        Param::float(
            "reassignment_ratio",
            0.0,
            false,
            1.0,
            "centres with fewer than this share of the largest count (decayed weight) move to random rows",
        ),
        Param::int("random_state", 0, "seed of every random choice (default: the run's --seed)"),
        Param::float(
            "decay_factor",
            0.0,
            false,
            1.0,
            "Spark's forgetting: each centre's weight is multiplied by this before a batch is merged (1: none)",
        ),
        Param::choice("time_unit", &["batches", "points"], "what decay_factor discounts: each batch, or each record"),
        Param::float(
            "halflife",
            0.0,
            false,
            1.0,
            "River's halflife, a constant step: each record moves its centre this share of the way to it (0: off)",
        ),
    ],
    takes_counts: false,
    outputs_negative: false,
    defaults: registry::defaults_of::<MiniBatchKMeansParams>,
    build: |json, _| {
        let p: MiniBatchKMeansParams = registry::params_from(json)?;
        Ok(registry::AnyStage::Clusterer(Box::new(p.build()?)))
    },
    decode: registry::decode_clusterer::<MiniBatchKMeans>,
};
impl_stage!(MiniBatchKMeans, MINIBATCH_KMEANS);

/// Count-weighted: a centre is the mean of the records assigned to it, so its count
/// times it is their sum, and the replicas' new sums and counts are added (Spark's
/// `StreamingKMeans` merge). With forgetting (`decay_factor`, `halflife`) a centre is
/// no such mean, so it does not merge.
impl super::merge::Merge for MiniBatchKMeans {
    fn merge_rule(&self) -> Option<super::merge::MergeRule> {
        (self.params.decay_factor == 1.0 && self.params.halflife == 0.0)
            .then_some(super::merge::MergeRule::CountWeighted)
    }

    fn fold(&mut self, base: &Self, replica: &Self, _share: f64) -> Result<(), String> {
        let Some(after) = &replica.centers else { return Ok(()) };
        let Some(shared) = &mut self.centers else {
            // The first replica to start gives the centres the others build on.
            (self.centers, self.counts, self.batch_size) =
                (Some(after.clone()), replica.counts.clone(), replica.batch_size);
            self.seen += replica.seen.saturating_sub(base.seen);
            return Ok(());
        };
        if shared.dim() != after.dim() {
            return Err("replicas with different numbers of centres or features".into());
        }
        let add = |shared: &mut Array2<f64>, counts: &mut Array1<f64>, k: usize, sum: Array1<f64>, n: f64| {
            let total = counts[k] + n;
            if total > 0.0 {
                let mut row = shared.row_mut(k);
                row *= counts[k];
                row += &sum;
                row /= total;
                counts[k] = total;
            }
        };
        match &base.centers {
            Some(before) => {
                for k in 0..after.nrows() {
                    let (n_after, n_before) = (replica.counts[k], base.counts[k]);
                    if n_after < n_before {
                        // Reassigned in the replica (moved to a record, count reset): its new place.
                        shared.row_mut(k).assign(&after.row(k));
                        self.counts[k] = n_after;
                        continue;
                    }
                    let sum = &after.row(k) * n_after - &before.row(k) * n_before;
                    add(shared, &mut self.counts, k, sum, n_after - n_before);
                }
            }
            None => {
                // The replica started its own centres: each joins the nearest shared one.
                for j in 0..after.nrows() {
                    let n = replica.counts[j];
                    if n <= 0.0 {
                        continue;
                    }
                    let row = after.row(j);
                    let nearest = (0..shared.nrows())
                        .map(|k| (k, (&shared.row(k) - &row).mapv(|v| v * v).sum()))
                        .min_by(|a, b| a.1.total_cmp(&b.1))
                        .map_or(0, |(k, _)| k);
                    add(shared, &mut self.counts, nearest, &row * n, n);
                }
            }
        }
        self.seen += replica.seen.saturating_sub(base.seen);
        Ok(())
    }
}

/// Mini-batch k-means (scikit-learn's `MiniBatchKMeans.partial_fit`).
///
/// ```
/// use eddy::model::MiniBatchKMeans;
/// use ndarray::array;
///
/// let mut km = MiniBatchKMeans::params().n_clusters(2).seed(7).build()?;
/// let x = array![[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]];
/// let labels = km.learn_predict(x.view())?;
/// assert_eq!(labels[0], labels[1]);
/// assert_ne!(labels[0], labels[2]);
/// assert_eq!(km.counts().sum(), 4.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MiniBatchKMeans {
    params: MiniBatchKMeansParams,
    rng: Xoshiro256PlusPlus,
    centers: Option<Array2<f64>>,
    counts: Array1<f64>,
    /// scikit-learn's `_batch_size`: fixed by the first batch.
    batch_size: usize,
    n_since_last_reassign: usize,
    n_steps: u64,
    seen: u64,
    inertia: f64,
    batch_inertia: f64,
    n_reassigned: u64,
    /// Each row's share of `batch_inertia`, for a young run's timeline; not saved
    /// (a loaded model has learned no batch in this process).
    #[serde(skip)]
    row_inertia: Vec<f64>,
}

impl MiniBatchKMeans {
    /// True when every number of the state is finite: a value so large that the
    /// arithmetic overflowed leaves an infinity or a NaN behind.
    pub(crate) fn state_is_finite(&self) -> bool {
        self.centers.as_ref().is_none_or(crate::moments::all_finite)
            && crate::moments::all_finite(&self.counts)
            && self.inertia.is_finite()
    }

    /// Take more features (see [`crate::model::Stage::grow`]): each centre's new
    /// coordinates are 0, where the records so far had them.
    pub(crate) fn grow(&mut self, n_features: usize) -> Result<(), String> {
        let Some(c) = &self.centers else { return Ok(()) };
        if n_features < c.ncols() {
            return Err(format!("cannot shrink from {} to {n_features} features", c.ncols()));
        }
        self.centers = Some(super::grow_columns(c, n_features));
        Ok(())
    }

    /// Default parameters (scikit-learn's).
    pub fn params() -> MiniBatchKMeansParams {
        MiniBatchKMeansParams::default()
    }

    /// Learn a batch and return the centre each row was assigned to before the update.
    pub fn learn_predict(&mut self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        validate::non_empty(x, "MiniBatchKMeans")?;
        validate::features(x, self.n_features())?;
        if self.centers.is_none() {
            let centers = self.initial_centers(x)?;
            self.centers = Some(centers);
            self.batch_size = self.params.batch_size.min(x.nrows());
        }
        let reassign = self.random_reassign();
        let Some(centers) = self.centers.as_mut() else {
            return Err(ModelError::NotFitted("MiniBatchKMeans"));
        };
        let (labels, inertia) = assign_into(x, centers.view(), Some(&mut self.row_inertia));
        let discount = match self.params.time_unit {
            TimeUnit::Batches => self.params.decay_factor,
            TimeUnit::Points => self.params.decay_factor.powf(x.nrows() as f64),
        };
        update_centers(x, &labels, centers, &mut self.counts, discount, self.params.halflife);
        if reassign && self.params.reassignment_ratio > 0.0 {
            let moved = reassign_starved(x, centers, &mut self.counts, self.params.reassignment_ratio, &mut self.rng);
            self.n_reassigned = self.n_reassigned.saturating_add(moved);
        }
        self.n_steps = self.n_steps.saturating_add(1);
        self.seen = self.seen.saturating_add(x.nrows() as u64);
        self.batch_inertia = inertia;
        self.inertia += inertia;
        Ok(labels.mapv(|l| l as i64))
    }

    /// Learn a batch.
    pub fn partial_fit(&mut self, x: ArrayView2<f64>) -> Result<(), ModelError> {
        self.learn_predict(x).map(|_| ())
    }

    /// The nearest centre of each row.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        let centers = self.centers.as_ref().ok_or(ModelError::NotFitted("MiniBatchKMeans"))?;
        validate::features(x, Some(centers.ncols()))?;
        Ok(assign(x, centers.view()).0.mapv(|l| l as i64))
    }

    /// The centres, once initialised.
    pub fn cluster_centers(&self) -> Option<ArrayView2<'_, f64>> {
        self.centers.as_ref().map(|c| c.view())
    }

    /// Rows absorbed by each centre (its learning rate is `1 / count`). A reassigned
    /// centre's count is reset to the smallest other count, as in scikit-learn, so after
    /// a reassignment the counts no longer add up to the rows seen. With a
    /// `decay_factor` below 1 they are Spark's decayed weights.
    pub fn counts(&self) -> ArrayView1<'_, f64> {
        self.counts.view()
    }

    /// Sum of squared distances of every learned row to the centre it was assigned to.
    pub fn inertia(&self) -> f64 {
        self.inertia
    }

    /// The same sum over the last batch only.
    pub fn batch_inertia(&self) -> f64 {
        self.batch_inertia
    }

    /// Batches learned (scikit-learn's `n_steps_`).
    pub fn n_steps(&self) -> u64 {
        self.n_steps
    }

    /// Centres moved by reassignment so far.
    pub fn n_reassigned(&self) -> u64 {
        self.n_reassigned
    }

    /// The parameters the model was built with.
    pub fn get_params(&self) -> &MiniBatchKMeansParams {
        &self.params
    }

    fn initial_centers(&mut self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
        let k = self.params.n_clusters;
        if x.nrows() < k {
            return Err(ModelError::NotEnoughSamples { rows: x.nrows(), n_clusters: k });
        }
        match &self.params.init {
            KMeansInit::Centers(c) => {
                if c.ncols() != x.ncols() {
                    return Err(ModelError::FeatureCount { expected: c.ncols(), got: x.ncols() });
                }
                Ok(c.clone())
            }
            KMeansInit::KMeansPlusPlus => {
                // scikit-learn seeds from 3 * batch_size rows (3 * k if that is fewer than k),
                // drawn with replacement when the batch has more.
                let mut init_size = 3 * self.params.batch_size.min(x.nrows());
                if init_size < k {
                    init_size = 3 * k;
                }
                if init_size < x.nrows() {
                    let rows: Vec<usize> = (0..init_size).map(|_| self.rng.gen_range(0..x.nrows())).collect();
                    let sample = x.select(ndarray::Axis(0), &rows);
                    Ok(best_plusplus(sample.view(), k, self.params.n_init, &mut self.rng))
                } else {
                    Ok(best_plusplus(x, k, self.params.n_init, &mut self.rng))
                }
            }
        }
    }

    /// scikit-learn's `_random_reassign`: true every `10 * n_clusters` rows, or
    /// while some centre has absorbed nothing.
    fn random_reassign(&mut self) -> bool {
        self.n_since_last_reassign += self.batch_size;
        if self.counts.iter().any(|&c| c == 0.0) || self.n_since_last_reassign >= 10 * self.params.n_clusters {
            self.n_since_last_reassign = 0;
            return true;
        }
        false
    }
}

impl OnlineClusterer for MiniBatchKMeans {
    fn partial_fit(&mut self, x: ArrayView2<f64>) -> Result<(), ModelError> {
        MiniBatchKMeans::partial_fit(self, x)
    }
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        MiniBatchKMeans::predict(self, x)
    }
    fn learn_predict(&mut self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        MiniBatchKMeans::learn_predict(self, x)
    }
    fn cluster_centers(&self) -> Option<ArrayView2<'_, f64>> {
        MiniBatchKMeans::cluster_centers(self)
    }
    fn counts(&self) -> ArrayView1<'_, f64> {
        MiniBatchKMeans::counts(self)
    }
    fn inertia(&self) -> f64 {
        self.inertia
    }
    fn row_inertia(&self) -> Option<&[f64]> {
        Some(&self.row_inertia)
    }
    fn n_features(&self) -> Option<usize> {
        match (&self.centers, &self.params.init) {
            (Some(c), _) => Some(c.ncols()),
            (None, KMeansInit::Centers(c)) => Some(c.ncols()),
            (None, KMeansInit::KMeansPlusPlus) => None,
        }
    }
    fn records_seen(&self) -> u64 {
        self.seen
    }
    fn rows_to_start(&self) -> usize {
        if self.centers.is_none() {
            self.params.n_clusters
        } else {
            0
        }
    }
}

impl MiniBatchKMeans {
    /// Check a decoded state: the parameters obey their rules and the centres and
    /// counters fit them.
    pub(crate) fn check_state(&self) -> Result<(), String> {
        use super::validate::state::{counts, ensure, finite, shape};
        self.params.clone().build().map_err(|e| format!("its parameters: {e}"))?;
        // An all-zero xoshiro state draws zeros for ever: no seed makes it.
        let zero =
            serde_json::to_value(&self.rng).is_ok_and(|v| v["s"].as_array().is_some_and(|s| s.iter().all(|w| w == 0)));
        ensure(!zero, || "a random generator of all-zero state".into())?;
        let k = self.params.n_clusters;
        shape("counts", &self.counts, &[k])?;
        counts("counts", &self.counts)?;
        if let Some(c) = &self.centers {
            ensure(c.ncols() >= 1, || "zero features".into())?;
            shape("centres", c, &[k, c.ncols()])?;
            finite("centres", c)?;
            if let KMeansInit::Centers(given) = &self.params.init {
                ensure(given.ncols() == c.ncols(), || "the given initial centres have another width".into())?;
            }
        }
        // Both are added to on every batch: bounded, they cannot overflow.
        ensure(self.batch_size <= self.params.batch_size, || {
            format!("batch size {} above the parameter's", self.batch_size)
        })?;
        let reassign_every = k.saturating_mul(10);
        ensure(self.n_since_last_reassign <= reassign_every.saturating_add(self.batch_size), || {
            format!("{} rows since the last reassignment, more than {reassign_every} allow", self.n_since_last_reassign)
        })?;
        ensure(self.inertia.is_finite() && self.inertia >= 0.0, || format!("the inertia is {}", self.inertia))?;
        ensure(self.batch_inertia.is_finite() && self.batch_inertia >= 0.0, || {
            format!("the last batch's inertia is {}", self.batch_inertia)
        })
    }
}

super::impl_linfa_predict!(MiniBatchKMeans, super::OnlineClusterer);

impl<'a, D, T> linfa::traits::FitWith<'a, ndarray::ArrayBase<D, ndarray::Ix2>, T, ModelError> for MiniBatchKMeansParams
where
    D: ndarray::Data<Elem = f64> + 'a,
    T: 'a,
{
    type ObjectIn = Option<MiniBatchKMeans>;
    type ObjectOut = MiniBatchKMeans;

    fn fit_with(
        &self,
        model: Self::ObjectIn,
        dataset: &'a linfa::DatasetBase<ndarray::ArrayBase<D, ndarray::Ix2>, T>,
    ) -> Result<MiniBatchKMeans, ModelError> {
        let mut model = match model {
            Some(m) => m,
            None => self.clone().build()?,
        };
        model.partial_fit(dataset.records.view())?;
        Ok(model)
    }
}

/// Squared Euclidean distance between two points given as their coordinates: the one
/// definition k-means, the drift watches, the pictures and the report share.
pub(crate) fn sq_dist<'a, 'b>(a: impl IntoIterator<Item = &'a f64>, b: impl IntoIterator<Item = &'b f64>) -> f64 {
    a.into_iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Nearest centre of each row and the summed squared distance.
///
/// As scikit-learn: the nearest centre minimises `|c|^2 - 2 x.c` (one matrix
/// product for the whole batch; the first centre wins a tie), and the inertia
/// is the exact squared distance to it.
fn assign(x: ArrayView2<f64>, centers: ArrayView2<f64>) -> (Array1<usize>, f64) {
    assign_into(x, centers, None)
}

/// [`assign`], writing each row's squared distance into `rows` too.
fn assign_into(x: ArrayView2<f64>, centers: ArrayView2<f64>, mut rows: Option<&mut Vec<f64>>) -> (Array1<usize>, f64) {
    if let Some(rows) = rows.as_deref_mut() {
        rows.clear();
    }
    let center_norms: Vec<f64> = centers.outer_iter().map(|c| c.dot(&c)).collect();
    let dots = x.dot(&centers.t());
    let mut labels = Array1::zeros(x.nrows());
    let mut inertia = 0.0;
    for ((row, d), l) in x.outer_iter().zip(dots.outer_iter()).zip(labels.iter_mut()) {
        let mut best = f64::INFINITY;
        for (c, (&norm, &dot)) in center_norms.iter().zip(d.iter()).enumerate() {
            let score = norm - 2.0 * dot;
            if score < best {
                best = score;
                *l = c;
            }
        }
        let d = sq_dist(row, centers.row(*l));
        inertia += d;
        if let Some(rows) = rows.as_deref_mut() {
            rows.push(d);
        }
    }
    (labels, inertia)
}

/// scikit-learn's `_minibatch_update_dense`: each centre becomes the mean of
/// everything it has absorbed, so its learning rate is `batch share / count`.
///
/// With `discount < 1` it is Spark's `StreamingKMeansModel.update`: every weight is
/// first multiplied by the discount, then `c' = (c w + sum) / (w + m)` over the `m`
/// rows assigned to `c` (the same formula, so a discount of 1 is scikit-learn's
/// update bit for bit). With `step > 0` it is River's `KMeans`: each row moves its
/// centre `step` of the way towards it, in order; the weights are kept all the same.
fn update_centers(
    x: ArrayView2<f64>,
    labels: &Array1<usize>,
    centers: &mut Array2<f64>,
    counts: &mut Array1<f64>,
    discount: f64,
    step: f64,
) {
    if discount != 1.0 {
        counts.mapv_inplace(|c| c * discount);
    }
    if step > 0.0 {
        for (row, &l) in x.outer_iter().zip(labels.iter()) {
            centers.row_mut(l).zip_mut_with(&row, |c, &xi| *c += step * (xi - *c));
            counts[l] += 1.0;
        }
        return;
    }
    let k = centers.nrows();
    let mut members = vec![0.0; k];
    for &l in labels {
        members[l] += 1.0;
    }
    for c in 0..k {
        if members[c] > 0.0 {
            let mut row = centers.row_mut(c);
            row *= counts[c];
        }
    }
    for (row, &l) in x.outer_iter().zip(labels.iter()) {
        centers.row_mut(l).scaled_add(1.0, &row);
    }
    for c in 0..k {
        if members[c] > 0.0 {
            counts[c] += members[c];
            let alpha = 1.0 / counts[c];
            let mut row = centers.row_mut(c);
            row *= alpha;
        }
    }
}

/// Move starved centres to random rows of the batch, as scikit-learn's
/// `_mini_batch_step`. Returns how many moved.
fn reassign_starved(
    x: ArrayView2<f64>,
    centers: &mut Array2<f64>,
    counts: &mut Array1<f64>,
    ratio: f64,
    rng: &mut Xoshiro256PlusPlus,
) -> u64 {
    let max = counts.iter().copied().fold(0.0, f64::max);
    let mut starved: Vec<bool> = counts.iter().map(|&c| c < ratio * max).collect();
    let cap = x.nrows() / 2;
    if starved.iter().filter(|&&s| s).count() > cap {
        // Reassign at most half a batch: only the `cap` emptiest centres (stable on ties).
        let mut order: Vec<usize> = (0..counts.len()).collect();
        order.sort_by(|&a, &b| counts[a].total_cmp(&counts[b]));
        for &c in &order[cap..] {
            starved[c] = false;
        }
    }
    let targets: Vec<usize> = (0..counts.len()).filter(|&c| starved[c]).collect();
    if targets.is_empty() {
        return 0;
    }
    let rows = index::sample(rng, x.nrows(), targets.len());
    for (c, r) in targets.iter().zip(rows.iter()) {
        centers.row_mut(*c).assign(&x.row(r));
    }
    // Not zero: a fresh centre with count 0 would be reassigned again at once.
    // With ratio <= 1 the largest centre is never starved, so the floor is finite.
    let floor = (0..counts.len()).filter(|&c| !starved[c]).map(|c| counts[c]).fold(f64::INFINITY, f64::min);
    if !floor.is_finite() {
        return 0;
    }
    for &c in &targets {
        counts[c] = floor;
    }
    targets.len() as u64
}

/// The best of `n_init` k-means++ seedings of `x`: the one with the lowest inertia
/// on `x` (the first on a tie), as scikit-learn's `fit` chooses among its `n_init`
/// initialisations. The seedings draw from `rng` one after another, so `n_init = 1`
/// draws exactly what a single seeding does.
fn best_plusplus(x: ArrayView2<f64>, k: usize, n_init: usize, rng: &mut Xoshiro256PlusPlus) -> Array2<f64> {
    let mut best = kmeans_plusplus(x, k, rng);
    if n_init <= 1 {
        return best;
    }
    let mut best_inertia = assign(x, best.view()).1;
    for _ in 1..n_init {
        let centers = kmeans_plusplus(x, k, rng);
        let inertia = assign(x, centers.view()).1;
        if inertia < best_inertia {
            best = centers;
            best_inertia = inertia;
        }
    }
    best
}

/// Greedy k-means++ (Arthur and Vassilvitskii, 2007), as scikit-learn's
/// `_kmeans_plusplus`: each step draws `2 + ln k` candidates in proportion to
/// the squared distance and keeps the one that lowers the potential most.
fn kmeans_plusplus(x: ArrayView2<f64>, k: usize, rng: &mut Xoshiro256PlusPlus) -> Array2<f64> {
    let n = x.nrows();
    let trials = 2 + (k as f64).ln() as usize;
    let mut centers = Array2::zeros((k, x.ncols()));
    let first = rng.gen_range(0..n);
    centers.row_mut(0).assign(&x.row(first));
    let mut closest: Vec<f64> = x.outer_iter().map(|r| sq_dist(r, x.row(first))).collect();
    let mut potential: f64 = closest.iter().sum();
    let mut cumulative = vec![0.0; n];
    let mut candidate_dist = vec![0.0; n];
    let mut best_dist = vec![0.0; n];
    for c in 1..k {
        let mut acc = 0.0;
        for (cum, &d) in cumulative.iter_mut().zip(closest.iter()) {
            acc += d;
            *cum = acc;
        }
        let mut best: Option<(usize, f64)> = None;
        for _ in 0..trials {
            let target = rng.gen::<f64>() * potential;
            let id = cumulative.partition_point(|&v| v < target).min(n - 1);
            let mut pot = 0.0;
            for ((cd, &cl), row) in candidate_dist.iter_mut().zip(closest.iter()).zip(x.outer_iter()) {
                *cd = sq_dist(row, x.row(id)).min(cl);
                pot += *cd;
            }
            if best.is_none_or(|(_, p)| pot < p) {
                best = Some((id, pot));
                best_dist.copy_from_slice(&candidate_dist);
            }
        }
        if let Some((id, pot)) = best {
            centers.row_mut(c).assign(&x.row(id));
            potential = pot;
            closest.copy_from_slice(&best_dist);
        }
    }
    centers
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn update_is_running_mean_of_members() {
        let mut centers = array![[0.0, 0.0]];
        let mut counts = array![2.0];
        let x = array![[3.0, 3.0], [6.0, 0.0]];
        update_centers(x.view(), &array![0, 0], &mut centers, &mut counts, 1.0, 0.0);
        // (0 * 2 + 3 + 6) / 4 = 2.25 and (0 * 2 + 3 + 0) / 4 = 0.75
        assert_eq!(centers, array![[2.25, 0.75]]);
        assert_eq!(counts, array![4.0]);
    }

    #[test]
    fn starved_centre_moves_to_a_batch_row_and_takes_the_smallest_other_count() {
        let mut centers = array![[0.0], [100.0], [50.0]];
        let mut counts = array![100.0, 0.5, 40.0];
        let x = array![[1.0], [2.0], [3.0], [4.0]];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let moved = reassign_starved(x.view(), &mut centers, &mut counts, 0.01, &mut rng);
        assert_eq!(moved, 1);
        assert!(x.column(0).iter().any(|&v| v == centers[[1, 0]]));
        assert_eq!(counts, array![100.0, 40.0, 40.0]);
    }

    #[test]
    fn one_seeding_draws_as_plain_plusplus_and_more_keep_the_lowest_inertia() {
        let x = array![[0.0, 0.0], [0.2, 0.1], [5.0, 5.0], [5.1, 4.9], [9.0, 0.0], [9.2, 0.3], [4.0, 1.0]];
        for seed in 0..20 {
            let mut a = Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut b = a.clone();
            assert_eq!(best_plusplus(x.view(), 3, 1, &mut a), kmeans_plusplus(x.view(), 3, &mut b));
            assert_eq!(a, b, "n_init = 1 draws nothing more");
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let tries: Vec<f64> =
                (0..4).map(|_| assign(x.view(), kmeans_plusplus(x.view(), 3, &mut rng).view()).1).collect();
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let best = best_plusplus(x.view(), 3, 4, &mut rng);
            assert_eq!(assign(x.view(), best.view()).1, tries.iter().copied().fold(f64::INFINITY, f64::min));
        }
    }

    #[test]
    fn plusplus_picks_distinct_far_points() {
        let x = array![[0.0], [0.0], [10.0], [10.0], [20.0]];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let c = kmeans_plusplus(x.view(), 3, &mut rng);
        let mut v: Vec<f64> = c.column(0).to_vec();
        v.sort_by(f64::total_cmp);
        assert_eq!(v, vec![0.0, 10.0, 20.0]);
    }
}
