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

/// The categorical columns left after an encoder takes its own from `names`: those it
/// learned, else those its spec names, else every one; or why it cannot (`verb`: what
/// it does to them, for the message).
pub(crate) fn columns_left(
    learned: Option<Vec<String>>,
    named: &[String],
    names: &[String],
    verb: &str,
) -> Result<Vec<String>, String> {
    let wanted = match learned {
        Some(columns) => columns,
        None if !named.is_empty() => named.to_vec(),
        None if names.is_empty() => return Err(format!("the records have no categorical column to {verb}")),
        None => names.to_vec(),
    };
    if let Some(missing) = wanted.iter().find(|w| !names.contains(w)) {
        let have = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        return Err(format!("the records have no categorical column {missing:?} (categorical columns: {have})"));
    }
    Ok(names.iter().filter(|n| !wanted.contains(n)).cloned().collect())
}

/// What an encoder holds of one categorical column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EncodedColumn {
    /// The column.
    pub column: String,
    /// Categories with a column of their own.
    pub categories: usize,
    /// Values past `max_categories`, which share the `other` column.
    pub other: u64,
}

/// What a model's encoders and imputer did to the records: for summaries and reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputSummary {
    /// Values filled, per column that had any.
    #[serde(default)]
    pub imputed: std::collections::BTreeMap<String, u64>,
    /// Per one-hot encoded column: categories known, values past the bound.
    #[serde(default)]
    pub categories: Vec<EncodedColumn>,
}

impl InputSummary {
    /// What `model` (reading numeric columns `features`) holds; empty for a model
    /// without encoders or an imputer.
    pub fn of(model: &crate::model::Model, features: &[String]) -> Self {
        let (imputed, categories) = match model {
            crate::model::Model::Classifier(m) => (m.imputed(), m.encoded()),
            crate::model::Model::Clusterer(m) => (m.imputed(), m.encoded()),
        };
        let imputed = imputed
            .map(|counts| {
                let numeric = counts
                    .numeric
                    .iter()
                    .enumerate()
                    .map(|(j, &n)| (features.get(j).cloned().unwrap_or_else(|| format!("column {}", j + 1)), n));
                numeric.chain(counts.categorical).filter(|&(_, n)| n > 0).collect()
            })
            .unwrap_or_default();
        Self { imputed, categories }
    }

    /// True when there is nothing to tell.
    pub fn is_empty(&self) -> bool {
        self.imputed.is_empty() && self.categories.is_empty()
    }
}

pub(crate) use hash::HASH;
pub(crate) use impute::IMPUTE;
pub(crate) use onehot::ONEHOT;
pub(crate) use scale::SCALE;
