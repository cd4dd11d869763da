//! `hash`: categorical columns hashed into a fixed number of columns, with
//! scikit-learn's `FeatureHasher` semantics (see [`crate::hashing`]).
//!
//! A record's value `v` of column `c` adds ±1 at the column MurmurHash3 gives
//! `"c=v"`, so the same records give the same columns as scikit-learn's
//! `FeatureHasher(n_features, alternate_sign=...).transform([{"c": "v", ...}])`.
//! Nothing is learned: no vocabulary, a width fixed up front, so unlike `onehot` it
//! never grows, and memory stays the same whatever the number of categories.
//! The hashed columns come after the batch's numeric columns.

use crate::error::{ModelError, ParamsError};
use crate::hashing::{FeatureHasher, HashValue};
use crate::model::registry::{self, Entry, Param, Role};
use crate::model::stage::{impl_stage, Transformer};
use crate::record::Categories;
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// The largest `n_features`: batches are dense, so every hashed column costs 8 bytes
/// per record of a batch.
pub const MAX_HASHED: usize = 1 << 16;

/// Most numeric features a decoded state may say it takes (a bound for hostile files).
const MAX_FEATURES_IN: usize = 1 << 24;

/// Parameters of [`HashingEncoder`], with scikit-learn's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HashingParams {
    /// The categorical columns to hash; empty: every one the records have.
    pub columns: Vec<String>,
    /// Columns to hash into (scikit-learn's default, 2**20, is for sparse matrices;
    /// eddy's batches are dense, so its default is 2**10).
    pub n_features: usize,
    /// Negate the value of a key whose hash is negative, so collisions tend to cancel.
    pub alternate_sign: bool,
}

impl Default for HashingParams {
    fn default() -> Self {
        Self { columns: Vec::new(), n_features: 1 << 10, alternate_sign: true }
    }
}

impl HashingParams {
    /// Check the parameters and build the stage.
    pub fn build(self) -> Result<HashingEncoder, ParamsError> {
        if !(1..=MAX_HASHED).contains(&self.n_features) {
            return Err(ParamsError::HashedFeatures(self.n_features));
        }
        Ok(HashingEncoder { params: self, n_in: None, columns: Vec::new(), seen: 0 })
    }
}

/// scikit-learn's `FeatureHasher` as a stage: see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HashingEncoder {
    params: HashingParams,
    /// Numeric features in, once known: they come out first, unchanged.
    n_in: Option<usize>,
    /// The columns hashed, fixed by the first batch.
    columns: Vec<String>,
    seen: u64,
}

/// `hash` in the model language.
pub(crate) static HASH: Entry = Entry {
    name: "hash",
    role: Role::Transformer,
    summary: "categorical columns hashed into n_features columns (scikit-learn's FeatureHasher): no vocabulary, \
              fixed width",
    params: &[
        Param::columns("columns", "the categorical columns to hash ([]: every one)"),
        Param::int("n_features", 1, "columns to hash into (at most 2**16)"),
        Param::bool("alternate_sign", "negate the value of keys whose hash is negative"),
    ],
    takes_counts: false,
    outputs_negative: true,
    defaults: registry::defaults_of::<HashingParams>,
    build: registry::transformer_build!(HashingParams),
    decode: registry::decode_transformer::<HashingEncoder>,
};
impl_stage!(HashingEncoder, HASH, fixed_width);

/// Exact: hashing learns nothing but which columns it hashes, fixed by the first batch.
impl crate::model::merge::Merge for HashingEncoder {
    fn merge_rule(&self) -> Option<crate::model::merge::MergeRule> {
        Some(crate::model::merge::MergeRule::Stateless)
    }

    fn fold(&mut self, base: &Self, replica: &Self, _share: f64) -> Result<(), String> {
        if self.n_in.is_none() {
            (self.n_in, self.columns) = (replica.n_in, replica.columns.clone());
        } else if replica.n_in.is_some() && (replica.n_in, &replica.columns) != (self.n_in, &self.columns) {
            return Err("replicas hash different columns".into());
        }
        self.seen += replica.seen.saturating_sub(base.seen);
        Ok(())
    }
}

impl HashingEncoder {
    /// The parameters.
    pub fn get_params(&self) -> &HashingParams {
        &self.params
    }

    pub(crate) fn state_is_finite(&self) -> bool {
        true
    }

    pub(crate) fn check_state(&self) -> Result<(), String> {
        use crate::model::validate_state::ensure;
        self.params.clone().build().map_err(|e| format!("its parameters: {e}"))?;
        if !self.params.columns.is_empty() && self.n_in.is_some() {
            ensure(self.columns == self.params.columns, || "columns differ from the parameters".into())?;
        }
        ensure(self.n_in.is_some() || self.columns.is_empty(), || "columns before any record".into())?;
        ensure(self.n_in.is_none_or(|d| d <= MAX_FEATURES_IN), || "more numeric features than any record".into())?;
        ensure(self.seen <= 1 << 53, || "a count past any stream".into())
    }

    fn hasher(&self) -> Result<FeatureHasher, ModelError> {
        FeatureHasher::new(self.params.n_features, self.params.alternate_sign)
            .map_err(|e| ModelError::Categorical(format!("hash: {e}")))
    }

    fn positions(&self, columns: &[String], cats: &Categories) -> Result<Vec<usize>, ModelError> {
        columns
            .iter()
            .map(|c| {
                cats.column(c).ok_or_else(|| {
                    ModelError::Categorical(format!(
                        "hash: the records have no categorical column {c:?} (they have: {})",
                        cats.names().join(", ")
                    ))
                })
            })
            .collect()
    }

    /// `x`'s columns, then the hashed ones; and what is left of `cats`.
    fn encode(
        &self,
        x: ArrayView2<f64>,
        cats: &Categories,
        columns: &[String],
    ) -> Result<(Array2<f64>, Categories), ModelError> {
        if let Some(d) = self.n_in.filter(|&d| d != x.ncols()) {
            return Err(ModelError::FeatureCount { expected: d, got: x.ncols() });
        }
        let at = self.positions(columns, cats)?;
        let hasher = self.hasher()?;
        let d = x.ncols();
        let mut out = Array2::zeros((x.nrows(), d + self.params.n_features));
        out.slice_mut(ndarray::s![.., ..d]).assign(&x);
        for i in 0..x.nrows() {
            let row = cats.row(i);
            let pairs = columns
                .iter()
                .zip(&at)
                .filter_map(|(name, &j)| row[j].as_deref().map(|v| (name.as_str(), HashValue::Str(v))));
            let mut out_row = out.row_mut(i);
            hasher.hash_into(pairs, |col, value| out_row[d + col] += value);
        }
        let keep: Vec<usize> = (0..cats.width()).filter(|j| !at.contains(j)).collect();
        let rest = if keep.is_empty() { Categories::default() } else { cats.select(&keep) };
        Ok((out, rest))
    }
}

impl Transformer for HashingEncoder {
    fn n_features_in(&self) -> Option<usize> {
        self.n_in
    }
    fn n_features_out(&self) -> Option<usize> {
        self.n_in.map(|d| d.saturating_add(self.params.n_features))
    }
    fn records_seen(&self) -> u64 {
        self.seen
    }
    fn learn_transform(&mut self, x: ArrayView2<f64>, row_by_row: bool) -> Result<Array2<f64>, ModelError> {
        Ok(self.learn_transform_with(x, &Categories::default(), row_by_row)?.0)
    }
    fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
        Ok(self.transform_with(x, &Categories::default())?.0)
    }
    fn inverse_transform(&self, _z: ArrayView2<f64>) -> Option<Array2<f64>> {
        None
    }
    fn learn_transform_with(
        &mut self,
        x: ArrayView2<f64>,
        cats: &Categories,
        _row_by_row: bool,
    ) -> Result<(Array2<f64>, Option<Categories>), ModelError> {
        let columns = if self.n_in.is_some() {
            self.columns.clone()
        } else if self.params.columns.is_empty() {
            cats.names().to_vec()
        } else {
            self.params.columns.clone()
        };
        let (out, rest) = self.encode(x, cats, &columns)?;
        self.n_in = Some(x.ncols());
        self.columns = columns;
        self.seen = self.seen.saturating_add(x.nrows() as u64);
        Ok((out, Some(rest)))
    }
    fn transform_with(
        &self,
        x: ArrayView2<f64>,
        cats: &Categories,
    ) -> Result<(Array2<f64>, Option<Categories>), ModelError> {
        if self.n_in.is_none() {
            return Err(ModelError::NotFitted("hash"));
        }
        let (out, rest) = self.encode(x, cats, &self.columns)?;
        Ok((out, Some(rest)))
    }
    fn categorical_out(&self, names: &[String]) -> Result<Vec<String>, String> {
        let learned = self.n_in.map(|_| self.columns.clone());
        super::columns_left(learned, &self.params.columns, names, "hash")
    }
    fn encodes(&self) -> bool {
        true
    }
    fn known_categories(&self) -> Vec<(String, Vec<String>)> {
        self.columns.iter().map(|c| (c.clone(), Vec::new())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn records_hash_as_the_feature_hasher_does_after_the_numeric_columns() {
        let mut stage = HashingParams { n_features: 16, ..HashingParams::default() }.build().expect("valid");
        let names: Arc<[String]> = ["city", "device"].iter().map(|n| n.to_string()).collect();
        let values = vec![Some(Arc::from("paris")), Some(Arc::from("ios")), None, Some(Arc::from("ios"))];
        let cats = Categories::new(names, values, 2).expect("shape");
        let x = ndarray::array![[1.5], [2.5]];
        let (z, rest) = stage.learn_transform_with(x.view(), &cats, true).expect("hashes");
        assert!(rest.expect("given").is_empty());
        assert_eq!(z.ncols(), 17);
        assert_eq!(z.column(0), x.column(0));
        let hasher = FeatureHasher::new(16, true).expect("valid");
        let mut want = vec![0.0; 16];
        hasher.hash_into([("city", HashValue::Str("paris")), ("device", HashValue::Str("ios"))], |c, v| want[c] += v);
        assert_eq!(z.row(0).iter().skip(1).copied().collect::<Vec<_>>(), want);
        let mut want = vec![0.0; 16];
        hasher.hash_into([("device", HashValue::Str("ios"))], |c, v| want[c] += v);
        assert_eq!(z.row(1).iter().skip(1).copied().collect::<Vec<_>>(), want, "a missing value adds nothing");
        let (again, _) = stage.transform_with(x.view(), &cats).expect("hashes");
        assert_eq!(again, z, "nothing is learned");
    }

    #[test]
    fn the_width_is_bounded() {
        assert!(HashingParams { n_features: MAX_HASHED + 1, ..HashingParams::default() }.build().is_err());
        assert!(HashingParams { n_features: 0, ..HashingParams::default() }.build().is_err());
    }
}
