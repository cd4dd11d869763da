//! Transformers: the stages of a model in front of its estimator.
//!
//! - [`StandardScaler`] (`scale`): running standardisation.
//! - [`OneHotEncoder`] (`onehot`): categorical columns into 0/1 columns, added as
//!   categories appear (the stages behind it grow).
//! - [`HashingEncoder`] (`hash`): categorical columns hashed into a fixed number of
//!   columns (scikit-learn's `FeatureHasher`).
//! - [`Imputer`] (`impute`): missing values filled from running statistics
//!   (scikit-learn's `SimpleImputer`).
//!
//! Encoders read a batch's categorical columns ([`crate::record::Categories`]) and
//! append numeric ones after the batch's numeric columns, so a model written
//! `impute | onehot | scale | sgd` takes records as they come.

mod hash;
mod impute;
mod onehot;
mod scale;

pub use hash::{HashingEncoder, HashingParams, MAX_HASHED};
pub use impute::{FillValue, ImputeStrategy, ImputedCounts, Imputer, ImputerParams};
pub use onehot::{OneHotEncoder, OneHotParams, MAX_CATEGORIES};
pub use scale::{StandardScaler, StandardScalerParams};

/// What an encoder holds of one categorical column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EncodedColumn {
    /// The column.
    pub column: String,
    /// Categories with a column of their own.
    pub categories: usize,
    /// Values past `max_categories`, which share the `other` column.
    pub other: u64,
}

pub(crate) use hash::HASH;
pub(crate) use impute::IMPUTE;
pub(crate) use onehot::ONEHOT;
pub(crate) use scale::SCALE;
