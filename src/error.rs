//! Typed errors for the library.
//!
//! Model errors name the row and column of the offending value (relative to
//! the batch that was passed in); the stream layer adds file and line.

use thiserror::Error;

/// A parameter that failed validation in `Params::check`.
///
/// One variant per rule, so a caller can match on exactly what was wrong.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// `alpha` (regularisation or smoothing) must be finite and not negative.
    #[error("alpha must be finite and >= 0, got {0}")]
    Alpha(f64),
    /// `l1_ratio` must lie in [0, 1].
    #[error("l1_ratio must be in [0, 1], got {0}")]
    L1Ratio(f64),
    /// `eta0` must be finite and > 0 for the `constant` and `invscaling` schedules.
    #[error("eta0 must be finite and > 0 for the {schedule} schedule, got {value}")]
    Eta0 {
        /// The learning-rate schedule that needs `eta0`.
        schedule: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// The `optimal` schedule divides by `alpha`, so it needs `alpha > 0`.
    #[error("the optimal learning rate needs alpha > 0")]
    OptimalNeedsAlpha,
    /// `power_t` must be finite.
    #[error("power_t must be finite, got {0}")]
    PowerT(f64),
    /// Passive-Aggressive's aggressiveness `C` must be finite and > 0.
    #[error("C must be finite and > 0, got {0}")]
    C(f64),
    /// `var_smoothing` must be finite and not negative.
    #[error("var_smoothing must be finite and >= 0, got {0}")]
    VarSmoothing(f64),
    /// `n_clusters` must be at least 1 and at most [`crate::model::MAX_CLUSTERS`].
    #[error("n_clusters must be between 1 and {}", crate::model::MAX_CLUSTERS)]
    NClusters,
    /// `batch_size` must be at least 1 and at most [`crate::model::MAX_BATCH_SIZE`].
    #[error("batch_size must be between 1 and {}", crate::model::MAX_BATCH_SIZE)]
    BatchSize,
    /// `n_init` (k-means++ seedings tried) must be from 1 to [`crate::model::MAX_N_INIT`].
    #[error("n_init must be from 1 to {}", crate::model::MAX_N_INIT)]
    NInit,
    /// `reassignment_ratio` must lie in [0, 1].
    #[error("reassignment_ratio must be in [0, 1], got {0}")]
    ReassignmentRatio(f64),
    /// Spark's `decay_factor` must lie in [0, 1].
    #[error("decay_factor must be in [0, 1], got {0}")]
    DecayFactor(f64),
    /// k-means' `halflife` (River's constant step towards each record) must lie in [0, 1].
    #[error("halflife must be in [0, 1] (a step towards each record), got {0}")]
    KMeansStep(f64),
    /// A `halflife` in records must be finite and >= 0 (0: no forgetting).
    #[error("halflife must be a finite number of records >= 0, got {0}")]
    Halflife(f64),
    /// An adaptive step size's decay rate (`beta_1`, `beta_2`, `rho`) must lie in [0, 1).
    #[error("{name} must be in [0, 1), got {value}")]
    DecayRate {
        /// The parameter.
        name: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// An adaptive step size's `eps` must be finite and > 0.
    #[error("eps must be finite and > 0, got {0}")]
    Eps(f64),
    /// `intercept_lr` must be finite and >= 0.
    #[error("intercept_lr must be finite and >= 0, got {0}")]
    InterceptLr(f64),
    /// A user-given initial centre array has the wrong shape or non-finite values.
    #[error("init centres must be a finite {n_clusters} x n_features array, got {rows} x {cols}")]
    InitShape {
        /// Expected number of rows.
        n_clusters: usize,
        /// Rows given.
        rows: usize,
        /// Columns given.
        cols: usize,
    },
    /// Declared classes must not repeat.
    #[error("class {0} is declared twice")]
    DuplicateClass(i64),
    /// [`crate::NO_PREDICTION`] is reserved and cannot be a class.
    #[error("label {0} is reserved for 'no prediction yet' and cannot be a class")]
    ReservedClass(i64),
    /// A window length must be at least 1.
    #[error("window must be between 1 and {}", crate::metrics::MAX_WINDOW)]
    Window,
    /// `max_categories` must be from 1 to [`crate::preprocess::MAX_CATEGORIES`].
    #[error("max_categories must be from 1 to {max}, got {0}", max = crate::preprocess::MAX_CATEGORIES)]
    MaxCategories(usize),
    /// A hashing stage's `n_features` must be from 1 to [`crate::preprocess::MAX_HASHED`].
    #[error(
        "n_features must be from 1 to {max} (2**16: eddy's batches are dense, a column per hashed feature), got {0}",
        max = crate::preprocess::MAX_HASHED
    )]
    HashedFeatures(usize),
    /// A parameter outside its range (the trees' parameters).
    #[error("{name} must be {rule}, got {value}")]
    OutOfRange {
        /// The parameter.
        name: &'static str,
        /// The values it takes.
        rule: &'static str,
        /// The value given.
        value: f64,
    },
    /// A fill value that cannot fill the columns it is for.
    #[error("fill_value {0}")]
    FillValue(String),
}

/// Why a model refused a batch. The model is left unchanged when it refuses.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The batch has a different number of features than the model.
    #[error("expected {expected} features, got {got}")]
    FeatureCount {
        /// Features the model was fitted on (or declared).
        expected: usize,
        /// Features in the batch.
        got: usize,
    },
    /// A batch with no feature columns.
    #[error("the batch has no feature columns")]
    NoFeatures,
    /// A NaN or infinite value.
    #[error("row {row}, column {column}: value {value} is not finite")]
    NonFinite {
        /// Row in the batch (0-based).
        row: usize,
        /// Column in the batch (0-based).
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// A negative value given to a model that takes counts.
    #[error("row {row}, column {column}: value {value} is negative, but {model} takes counts")]
    NegativeFeature {
        /// Row in the batch (0-based).
        row: usize,
        /// Column in the batch (0-based).
        column: usize,
        /// The offending value.
        value: f64,
        /// The model that refused it.
        model: &'static str,
    },
    /// An empty batch where the model needs rows.
    #[error("empty batch: {0} needs at least one row")]
    EmptyBatch(&'static str),
    /// Rows and labels differ in number.
    #[error("{rows} rows but {labels} labels")]
    LabelCount {
        /// Rows in `x`.
        rows: usize,
        /// Entries in `y`.
        labels: usize,
    },
    /// A label outside the declared classes.
    #[error("row {row}: label {label} is not one of the declared classes {classes:?}")]
    UnknownLabel {
        /// Row in the batch (0-based).
        row: usize,
        /// The offending label.
        label: i64,
        /// The declared classes.
        classes: Vec<i64>,
    },
    /// The reserved label [`crate::NO_PREDICTION`] was given as a target.
    #[error("row {row}: label {label} is reserved for 'no prediction yet'")]
    ReservedLabel {
        /// Row in the batch (0-based).
        row: usize,
        /// The offending label.
        label: i64,
    },
    /// Mini-batch k-means initialises from its first batch, which needs `n_clusters` rows.
    #[error("the first batch has {rows} rows, but initialising {n_clusters} centres needs at least {n_clusters}")]
    NotEnoughSamples {
        /// Rows in the first batch.
        rows: usize,
        /// Centres to initialise.
        n_clusters: usize,
    },
    /// The model has learned nothing it could predict from.
    #[error("{0} has not seen any data yet")]
    NotFitted(&'static str),
    /// Learning overflowed: finite values so large that the model's arithmetic left an
    /// infinity or a NaN in its state. Unlike the other errors, this one is found
    /// after learning: the caller keeps or restores a copy from before.
    #[error(
        "learning this batch overflowed the model's arithmetic (values too large for it?): its state is no longer finite"
    )]
    Overflow,
    /// The parameters were invalid.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// Categorical columns reached a stage that takes numbers: no stage before it encodes them.
    #[error("categorical columns {} reach {stage}, which takes numbers: encode them first (onehot or hash)", .columns.join(", "))]
    Unencoded {
        /// The columns.
        columns: Vec<String>,
        /// The stage they reached.
        stage: &'static str,
    },
    /// A categorical value an encoder refuses (a column it does not know, ...).
    #[error("{0}")]
    Categorical(String),
    /// A missing value where the model has no imputer.
    #[error("row {row}: {column} is missing, and no stage fills missing values (add impute)")]
    MissingValue {
        /// Row in the batch (0-based).
        row: usize,
        /// The column's name.
        column: String,
    },
    /// A stage was given more features than it had (an encoder met a new category) and
    /// cannot take them.
    #[error("{stage} cannot grow from {from} to {to} features")]
    CannotGrow {
        /// The stage.
        stage: &'static str,
        /// Features it had.
        from: usize,
        /// Features it was given.
        to: usize,
    },
    /// An error raised by linfa while adapting a linfa `Dataset`.
    #[error("linfa: {0}")]
    Linfa(String),
}

// linfa's `FitWith` requires `E: From<linfa::Error>`; linfa's error is not `Clone`, so keep its text.
impl From<linfa::Error> for ModelError {
    fn from(e: linfa::Error) -> Self {
        ModelError::Linfa(e.to_string())
    }
}

/// A drift detector's parameters broke one of its rules (see [`crate::drift`]).
///
/// The ranges the spec language checks (`delta` in (0, 1], `clock >= 1`, ...) are
/// checked again here, so a detector built in Rust or decoded from a file obeys them
/// too.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum DriftParamsError {
    /// A parameter outside its range.
    #[error("{param} must be {rule}, got {value}")]
    OutOfRange {
        /// The parameter's name (River's).
        param: &'static str,
        /// The range, in words.
        rule: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// EDDM's warning level `alpha` must not be below its drift level `beta`.
    #[error("alpha must be >= beta, got alpha={alpha} and beta={beta}")]
    AlphaBelowBeta {
        /// The warning level.
        alpha: f64,
        /// The drift level.
        beta: f64,
    },
    /// KSWIN draws `stat_size` values from the `window_size - stat_size` oldest ones,
    /// so the window must hold at least twice `stat_size`.
    #[error("window_size must be at least 2 * stat_size, got window_size={window_size} and stat_size={stat_size}")]
    KswinWindow {
        /// The window's length.
        window_size: usize,
        /// The length of each tested sample.
        stat_size: usize,
    },
}

/// A value a drift detector cannot take.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum DriftValueError {
    /// NaN or an infinity.
    #[error("{value} is not a finite number")]
    NotFinite {
        /// The value.
        value: f64,
    },
    /// A binary detector (DDM, EDDM, HDDM) takes 0 or 1 (1 for an error).
    #[error("{detector} takes 0 or 1 (1 marks an error), got {value}")]
    NotBinary {
        /// The detector's registry name.
        detector: &'static str,
        /// The value.
        value: f64,
    },
}

/// Why a [`crate::drift::ClusterWatch`] refused a batch. The watch is unchanged when
/// it refuses.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ClusterWatchError {
    /// The record ids, the labels and the rows differ in number.
    #[error("{rows} rows but {ids} record ids and {labels} labels")]
    Lengths {
        /// Rows of `x`.
        rows: usize,
        /// Record ids given.
        ids: usize,
        /// Labels given.
        labels: usize,
    },
    /// The clusterer gave no centre, or centres with no feature.
    #[error("no centres to watch ({k} centres of {d} features)")]
    NoCentres {
        /// Centres given.
        k: usize,
        /// Their features.
        d: usize,
    },
    /// The rows and the centres have different numbers of features.
    #[error("the rows have {x} features but the centres {centres}")]
    Width {
        /// Features of the rows.
        x: usize,
        /// Features of the centres.
        centres: usize,
    },
    /// The centres changed number or width since the first batch.
    #[error("{got_k} centres of {got_d} features, but the watch follows {k} centres of {d}")]
    Shape {
        /// Centres the watch follows (from its first batch).
        k: usize,
        /// Their features.
        d: usize,
        /// Centres given now.
        got_k: usize,
        /// Their features.
        got_d: usize,
    },
    /// A row or a centre holds NaN or an infinity.
    #[error("{what} row {row}, column {column}: {value} is not a finite number")]
    NotFinite {
        /// `"the batch's"` or `"the centres'"`.
        what: &'static str,
        /// Row (0-based) of the batch or of the centres.
        row: usize,
        /// Column (0-based).
        column: usize,
        /// The value.
        value: f64,
    },
}
