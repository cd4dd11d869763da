//! # eddy: online machine learning on streams
//!
//! eddy learns from records while they flow and labels every record with an
//! `i64` as it passes, the way scikit-learn's `partial_fit` estimators do, but
//! row-exact and fast.
//!
//! ## Brief overview
//!
//! Records flow one way: **source → model → sink**, with plots and reports on the side.
//! A record ([`record::Batch`]) carries numbers, categories ([`record::Categories`])
//! and, for delayed labels, its role (event or feedback).
//!
//! - [`model`]: the incremental estimators behind two traits,
//!   [`OnlineClassifier`] (`partial_fit(x, y)`, `predict`, `predict_proba`,
//!   `learn_predict`) and [`OnlineClusterer`] (`partial_fit(x)`, `predict`,
//!   `cluster_centers`, `counts`, `inertia`): [`model::SgdClassifier`],
//!   [`model::Perceptron`], [`model::PassiveAggressiveClassifier`],
//!   [`model::GaussianNb`], [`model::MultinomialNb`] and
//!   [`model::MiniBatchKMeans`].
//! - [`preprocess`]: the transformers in front of an estimator: the running
//!   [`preprocess::StandardScaler`], the encoders of categorical columns
//!   ([`preprocess::OneHotEncoder`], [`preprocess::HashingEncoder`]) and the
//!   [`preprocess::Imputer`] of missing values.
//! - [`metrics`]: prequential accuracy, rolling accuracy, confusion matrix,
//!   macro F1; inertia and adjusted Rand index.
//! - [`source::synth`]: seeded stream generators.
//! - [`drift`]: drift detectors (ADWIN, Page-Hinkley, KSWIN, DDM, EDDM, HDDM_A,
//!   HDDM_W) with River's semantics, fed one value at a time.
//! - [`hashing`]: scikit-learn's `FeatureHasher` (signed MurmurHash3 of
//!   `name=value`) for categorical and numeric features, one record at a time.
//!
//! Every model validates a batch before touching its state: a bad batch is
//! refused with a [`ModelError`] and the model is unchanged.
//!
//! ```
//! use eddy::model::{Loss, SgdClassifier};
//! use eddy::metrics::ClassificationMetrics;
//! use eddy::source::synth::Hyperplane;
//!
//! let mut stream = Hyperplane::new(10, 42);
//! let mut model = SgdClassifier::params().loss(Loss::Log).classes(&[0, 1]).build()?;
//! let mut scores = ClassificationMetrics::new(1000)?;
//! for _ in 0..20 {
//!     let (x, y) = stream.next_batch(500);
//!     // Test then train: each row is predicted before the model learns it.
//!     let predicted = model.learn_predict(x.view(), y.view())?;
//!     scores.update(y.as_slice().unwrap(), predicted.as_slice().unwrap());
//! }
//! assert!(scores.accuracy().unwrap() > 0.75);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod checkpoint;
pub mod cli;
pub mod drift;
pub mod endpoint;
pub mod error;
pub mod hashing;
pub mod metrics;
pub mod model;
pub mod model_file;
mod moments;
pub mod pipeline;
pub mod plot;
pub mod preprocess;
pub mod record;
pub mod report;
#[cfg(feature = "server")]
pub mod server;
pub mod sink;
pub mod snapshot;
pub mod source;
pub mod spec;
pub mod sync;
#[cfg(test)]
mod test_support;

pub use error::{ModelError, ParamsError};
pub use model::{OnlineClassifier, OnlineClusterer, NO_PREDICTION};
pub use moments::Moments;

/// The README's Rust examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
