//! Incremental models: the two traits every estimator implements, and the estimators.
//!
//! Every model learns from mini-batches (`partial_fit`) and labels records with an
//! `i64`. `learn_predict` is the prequential (test-then-train) step: for the
//! sequential learners it predicts each row and then learns from it, row by row,
//! so one batch of 1024 rows gives exactly the labels and the model of 1024
//! one-row steps. Mini-batch k-means keeps scikit-learn's per-batch update.
//!
//! A model that refuses a batch (wrong feature count, NaN, unknown label, ...)
//! returns a [`ModelError`] and is left unchanged: batches are validated before
//! any state is touched.

mod classes;
mod drift_retrain;
mod hedge;
mod kmeans;
mod linear;
pub mod merge;
mod naive_bayes;
pub mod registry;
pub mod stage;
pub mod tree;
pub mod tree_view;
mod validate;

pub use classes::Classes;
pub use drift_retrain::{DriftRetrain, DriftRetrainParams};
pub use hedge::{Hedge, HedgeParams, WeightedMajority};
pub(crate) use kmeans::sq_dist;
pub use kmeans::{
    KMeansInit, MiniBatchKMeans, MiniBatchKMeansParams, TimeUnit, MAX_BATCH_SIZE, MAX_CLUSTERS, MAX_N_INIT,
};
pub use linear::{
    LearningRate, Loss, PaLoss, PassiveAggressiveClassifier, PassiveAggressiveParams, Penalty, Perceptron,
    PerceptronParams, SgdClassifier, SgdClassifierParams,
};
pub use naive_bayes::{GaussianNb, GaussianNbParams, MultinomialNb, MultinomialNbParams};
pub use stage::{Chain, ClassifierModel, ClassifierStage, ClustererModel, ClustererStage, Model, Stage, Transformer};
pub use tree::{HoeffdingTreeClassifier, HoeffdingTreeParams};
pub use tree_view::{ForestView, TreesView};

use crate::error::ModelError;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
pub(crate) use validate::features as validate_features;
pub(crate) use validate::state as validate_state;

/// The label `learn_predict` gives a record when the model knows no class yet
/// (the very first records of a stream with undeclared classes).
///
/// It is reserved: declaring it as a class or passing it as a target is an error.
pub const NO_PREDICTION: i64 = i64::MIN;

/// The replacements of a forest's trees, as a run's events read them
/// ([`OnlineClassifier::replacements`]).
#[derive(Debug, Clone, Copy)]
pub struct Replacements<'a> {
    /// Records the model has learned.
    pub learned: u64,
    /// (record, tree) of the latest replacements, oldest first: `record` counts the
    /// records the model had learned before the one that replaced the tree.
    pub latest: &'a [(u64, u32)],
    /// The detector whose signal replaces a tree, in the spec language.
    pub detector: &'a str,
}

/// An online classifier: learns from labelled mini-batches, predicts `i64` classes.
///
/// Classes are either declared up front (then any other label is an error) or
/// discovered as they appear in the targets.
pub trait OnlineClassifier: Send {
    /// Learn from a labelled batch (scikit-learn's `partial_fit`).
    fn partial_fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError>;

    /// Predict the class of each row.
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError>;

    /// Class probabilities, one column per entry of [`OnlineClassifier::classes`],
    /// or `None` when the model has no probabilities (e.g. hinge loss).
    fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError>;

    /// Prequential step: predict each row with the model as it is *before* that
    /// row, then learn from it. Returns the predictions.
    fn learn_predict(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<Array1<i64>, ModelError>;

    /// The known classes, sorted ascending.
    fn classes(&self) -> &[i64];

    /// Number of features, once known.
    fn n_features(&self) -> Option<usize>;

    /// Rows learned so far.
    fn records_seen(&self) -> u64;

    /// Check a batch as `partial_fit` would, without learning from it.
    fn validate(&self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError>;

    /// True for a model that reads categorical columns and missing values itself (a
    /// tree): a chain hands it the categorical columns no encoder took, and records may
    /// have missing values when nothing stands before it.
    fn takes_categories(&self) -> bool {
        false
    }

    /// [`OnlineClassifier::learn_predict`] on records with categorical columns. By
    /// default `cats` is ignored: a chain gives a model that does not take categories
    /// none (it refuses them first).
    fn learn_predict_with_categories(
        &mut self,
        x: ArrayView2<f64>,
        cats: &crate::record::Categories,
        y: ArrayView1<i64>,
    ) -> Result<Array1<i64>, ModelError> {
        let _ = cats;
        self.learn_predict(x, y)
    }

    /// [`OnlineClassifier::predict`] on records with categorical columns (see
    /// [`OnlineClassifier::learn_predict_with_categories`]).
    fn predict_with_categories(
        &self,
        x: ArrayView2<f64>,
        cats: &crate::record::Categories,
    ) -> Result<Array1<i64>, ModelError> {
        let _ = cats;
        self.predict(x)
    }

    /// The model's structure as text, one line a node, at most `max_depth` levels deep
    /// (`eddy model show --tree`), for a model that has one (a tree); `features` names
    /// its numeric inputs, `class_names` its classes when they are named.
    fn structure(&self, features: &[String], class_names: Option<&[String]>, max_depth: u32) -> Option<String> {
        let _ = (features, class_names, max_depth);
        None
    }

    /// The model's trees, for snapshots and reports (pictures of the top levels, the
    /// shape over time, a forest's per-tree scores): `None` for a model without trees.
    fn trees(&self) -> Option<TreesView<'_>> {
        None
    }

    /// A forest's replacements of its trees, which a run signals as events: `None` for
    /// a model that replaces nothing.
    fn replacements(&self) -> Option<Replacements<'_>> {
        None
    }

    /// Decision scores of a linear model, `rows x binary problems` (one column for two
    /// classes, whose positive class is `classes()[1]`; one per class for more); `None`
    /// for a model without them (scikit-learn's `decision_function`).
    fn decision_function(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
        let _ = x;
        Ok(None)
    }

    /// A linear model's coefficients (a row per column of
    /// [`OnlineClassifier::decision_function`]) and intercepts; `None` for others.
    fn linear_weights(&self) -> Option<(ArrayView2<'_, f64>, ArrayView1<'_, f64>)> {
        None
    }

    /// [`OnlineClassifier::predict_proba`] on records with categorical columns (see
    /// [`OnlineClassifier::learn_predict_with_categories`]).
    fn predict_proba_with_categories(
        &self,
        x: ArrayView2<f64>,
        cats: &crate::record::Categories,
    ) -> Result<Option<Array2<f64>>, ModelError> {
        let _ = cats;
        self.predict_proba(x)
    }
}

/// An online clusterer: learns from unlabelled mini-batches, assigns each row a centre id.
pub trait OnlineClusterer: Send {
    /// Learn from a batch (scikit-learn's `partial_fit`).
    fn partial_fit(&mut self, x: ArrayView2<f64>) -> Result<(), ModelError>;

    /// The nearest centre of each row, as `0..n_clusters`.
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError>;

    /// Prequential step: the centre each row is assigned to when its batch is
    /// learned (before the centres move), then the update.
    fn learn_predict(&mut self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError>;

    /// The centres, `n_clusters x n_features`, once initialised.
    fn cluster_centers(&self) -> Option<ArrayView2<'_, f64>>;

    /// How many rows each centre has absorbed (its learning rate is `1 / count`);
    /// a reassigned centre restarts from the smallest other count.
    fn counts(&self) -> ArrayView1<'_, f64>;

    /// Running inertia: the sum over every row learned of the squared distance
    /// to the centre it was assigned to.
    fn inertia(&self) -> f64;

    /// The squared distance of each row of the last batch learned to the centre it
    /// was given, in learning order (their sum is that batch's inertia); `None` when
    /// the model does not keep them.
    fn row_inertia(&self) -> Option<&[f64]> {
        None
    }

    /// Number of features, once known.
    fn n_features(&self) -> Option<usize>;

    /// Rows learned so far.
    fn records_seen(&self) -> u64;

    /// Rows the first batch needs before the model can start (k-means seeds one
    /// centre per row); 0 once it has started, or for a model that needs none.
    fn rows_to_start(&self) -> usize {
        0
    }
}

/// A copy of `a` with a row of zeros inserted at `at`: per-class state grows
/// this way when a class is discovered.
pub(crate) fn insert_zero_row(a: &Array2<f64>, at: usize) -> Array2<f64> {
    let mut out = Array2::zeros((a.nrows() + 1, a.ncols()));
    for (i, row) in a.outer_iter().enumerate() {
        out.row_mut(if i < at { i } else { i + 1 }).assign(&row);
    }
    out
}

/// A copy of `a` with zero columns appended up to `n` columns: per-feature state
/// grows this way when an encoder adds a feature (see [`stage::Stage::grow`]).
/// An empty array (state not in use) stays empty.
pub(crate) fn grow_columns(a: &Array2<f64>, n: usize) -> Array2<f64> {
    if a.is_empty() && a.nrows() == 0 && a.ncols() == 0 {
        return a.clone();
    }
    let mut out = Array2::zeros((a.nrows(), n.max(a.ncols())));
    out.slice_mut(ndarray::s![.., ..a.ncols()]).assign(a);
    out
}

/// A copy of `a` with zeros appended up to `n` entries.
pub(crate) fn grow_vector(a: &Array1<f64>, n: usize) -> Array1<f64> {
    let mut out = Array1::zeros(n.max(a.len()));
    out.slice_mut(ndarray::s![..a.len()]).assign(a);
    out
}

/// Implements linfa's `PredictInplace` (and through it `Predict`) for an eddy model.
///
/// linfa's trait cannot return an error, so rows of an invalid batch are all
/// labelled [`NO_PREDICTION`]; call the model's own `predict` for a typed error.
macro_rules! impl_linfa_predict {
    ($model:ty, $trait:path) => {
        impl<D: ndarray::Data<Elem = f64>>
            linfa::traits::PredictInplace<ndarray::ArrayBase<D, ndarray::Ix2>, ndarray::Array1<i64>> for $model
        {
            fn predict_inplace(&self, x: &ndarray::ArrayBase<D, ndarray::Ix2>, y: &mut ndarray::Array1<i64>) {
                match <$model as $trait>::predict(self, x.view()) {
                    Ok(labels) if labels.len() == y.len() => y.assign(&labels),
                    _ => y.fill($crate::model::NO_PREDICTION),
                }
            }

            fn default_target(&self, x: &ndarray::ArrayBase<D, ndarray::Ix2>) -> ndarray::Array1<i64> {
                ndarray::Array1::zeros(x.nrows())
            }
        }
    };
}

/// Implements linfa's `FitWith` for an eddy classifier's params: a linfa
/// `Dataset` with `i64` targets trains a new model (`None`) or continues one.
macro_rules! impl_linfa_fit_with_classifier {
    ($params:ty, $model:ty) => {
        impl<'a, D, S>
            linfa::traits::FitWith<
                'a,
                ndarray::ArrayBase<D, ndarray::Ix2>,
                ndarray::ArrayBase<S, ndarray::Ix1>,
                $crate::error::ModelError,
            > for $params
        where
            D: ndarray::Data<Elem = f64> + 'a,
            S: ndarray::Data<Elem = i64> + 'a,
        {
            type ObjectIn = Option<$model>;
            type ObjectOut = $model;

            fn fit_with(
                &self,
                model: Self::ObjectIn,
                dataset: &'a linfa::DatasetBase<
                    ndarray::ArrayBase<D, ndarray::Ix2>,
                    ndarray::ArrayBase<S, ndarray::Ix1>,
                >,
            ) -> Result<Self::ObjectOut, $crate::error::ModelError> {
                let mut model = match model {
                    Some(m) => m,
                    None => self.clone().build()?,
                };
                $crate::model::OnlineClassifier::partial_fit(
                    &mut model,
                    dataset.records.view(),
                    dataset.targets.view(),
                )?;
                Ok(model)
            }
        }
    };
}

/// Makes the trait methods of a classifier callable without importing the trait,
/// and wins over linfa's `Predict::predict` when both traits are in scope.
macro_rules! inherent_classifier_methods {
    ($model:ty) => {
        impl $model {
            /// Learn from a labelled batch (scikit-learn's `partial_fit`).
            pub fn partial_fit(
                &mut self,
                x: ndarray::ArrayView2<f64>,
                y: ndarray::ArrayView1<i64>,
            ) -> Result<(), $crate::error::ModelError> {
                <Self as $crate::model::OnlineClassifier>::partial_fit(self, x, y)
            }
            /// Predict the class of each row.
            pub fn predict(
                &self,
                x: ndarray::ArrayView2<f64>,
            ) -> Result<ndarray::Array1<i64>, $crate::error::ModelError> {
                <Self as $crate::model::OnlineClassifier>::predict(self, x)
            }
            /// Prequential step: predict each row, then learn from it.
            pub fn learn_predict(
                &mut self,
                x: ndarray::ArrayView2<f64>,
                y: ndarray::ArrayView1<i64>,
            ) -> Result<ndarray::Array1<i64>, $crate::error::ModelError> {
                <Self as $crate::model::OnlineClassifier>::learn_predict(self, x, y)
            }
            /// The known classes, sorted ascending.
            pub fn classes(&self) -> &[i64] {
                <Self as $crate::model::OnlineClassifier>::classes(self)
            }
        }
        $crate::model::impl_linfa_predict!($model, $crate::model::OnlineClassifier);
    };
}

pub(crate) use {impl_linfa_fit_with_classifier, impl_linfa_predict, inherent_classifier_methods};
