//! `onehot`: categorical columns into 0/1 columns, River's `OneHotEncoder` on a stream.
//!
//! Each category gets a column when it is first met, appended after every column
//! made so far, so the batch only ever widens at its end and the stages behind the
//! encoder grow as if the new column had been 0 in every earlier record (see
//! [`crate::model::Stage::grow`]). A record's prediction never changes because a
//! later record brought a new category.
//!
//! `max_categories` bounds the columns per categorical column: past it, new values
//! share one `other` column, and are counted.

use crate::error::ModelError;
use crate::model::registry::{self, Entry, Param, Role};
use crate::model::stage::{impl_stage, Transformer};
use crate::record::Categories;
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The largest `max_categories`: every category is a column of every dense batch.
pub const MAX_CATEGORIES: usize = 1 << 16;

/// Parameters of [`OneHotEncoder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OneHotParams {
    /// The categorical columns to encode; empty: every one the records have.
    pub columns: Vec<String>,
    /// Most columns per categorical column; later new values share an `other` column.
    pub max_categories: usize,
}

impl Default for OneHotParams {
    fn default() -> Self {
        Self { columns: Vec::new(), max_categories: 1000 }
    }
}

impl OneHotParams {
    /// Check the parameters and build an encoder that has seen nothing.
    pub fn build(self) -> Result<OneHotEncoder, crate::error::ParamsError> {
        if !(1..=MAX_CATEGORIES).contains(&self.max_categories) {
            return Err(crate::error::ParamsError::MaxCategories(self.max_categories));
        }
        Ok(OneHotEncoder { params: self, n_in: None, columns: Vec::new(), n_out: 0, seen: 0 })
    }
}

/// One encoded column: its categories in the order met, and where each one's 0/1
/// column is in the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ColumnParts")]
struct Column {
    name: String,
    categories: Vec<String>,
    /// Output column of each category.
    outputs: Vec<usize>,
    /// Output column of the values past the bound, once there was one.
    other: Option<usize>,
    /// Records whose value went to `other`.
    others: u64,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct ColumnParts {
    name: String,
    categories: Vec<String>,
    outputs: Vec<usize>,
    other: Option<usize>,
    others: u64,
}

impl From<ColumnParts> for Column {
    fn from(p: ColumnParts) -> Self {
        let index = p.categories.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect();
        Self { name: p.name, categories: p.categories, outputs: p.outputs, other: p.other, others: p.others, index }
    }
}

impl Column {
    fn new(name: String) -> Self {
        Self { name, categories: Vec::new(), outputs: Vec::new(), other: None, others: 0, index: HashMap::new() }
    }

    /// The output column of `value` as learning sees it: a new category takes the next
    /// column (`next`), or `other` past the bound.
    fn learn(&mut self, value: &str, max: usize, next: &mut usize) -> usize {
        if let Some(&i) = self.index.get(value) {
            return self.outputs[i];
        }
        if self.categories.len() < max {
            self.index.insert(value.to_string(), self.categories.len());
            self.categories.push(value.to_string());
            self.outputs.push(*next);
            *next += 1;
            return *next - 1;
        }
        self.others = self.others.saturating_add(1);
        *self.other.get_or_insert_with(|| {
            *next += 1;
            *next - 1
        })
    }

    /// The output column of `value` without learning: a known category's, `other` for an
    /// unknown value once the column is full, none otherwise (all zeros, as River's).
    fn find(&self, value: &str, max: usize) -> Option<usize> {
        match self.index.get(value) {
            Some(&i) => Some(self.outputs[i]),
            None if self.categories.len() >= max => self.other,
            None => None,
        }
    }
}

/// River's `OneHotEncoder` on a stream: see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneHotEncoder {
    params: OneHotParams,
    /// Numeric features in, once known: they come out first, unchanged.
    n_in: Option<usize>,
    columns: Vec<Column>,
    /// Features out (numeric in plus every 0/1 column made).
    n_out: usize,
    seen: u64,
}

/// `onehot` in the model language.
pub(crate) static ONEHOT: Entry = Entry {
    name: "onehot",
    role: Role::Transformer,
    summary: "one 0/1 column per category, added as categories appear (River's OneHotEncoder); the stages \
              behind it grow",
    params: &[
        Param::columns("columns", "the categorical columns to encode ([]: every one)"),
        Param::int(
            "max_categories",
            1,
            "most columns per categorical column; later new values share one `other` column",
        ),
    ],
    takes_counts: false,
    outputs_negative: false,
    defaults: registry::defaults_of::<OneHotParams>,
    build: registry::transformer_build!(OneHotParams),
    decode: registry::decode_transformer::<OneHotEncoder>,
};
impl_stage!(OneHotEncoder, ONEHOT, fixed_width);
/// Not mergeable: replicas number new categories in the order they meet them.
impl crate::model::merge::Merge for OneHotEncoder {}

impl OneHotEncoder {
    /// An encoder of every categorical column, with the default bound.
    pub fn new() -> Self {
        Self::params().build().unwrap_or_else(|_| unreachable!("the defaults are valid"))
    }

    /// Default parameters.
    pub fn params() -> OneHotParams {
        OneHotParams::default()
    }

    /// The parameters.
    pub fn get_params(&self) -> &OneHotParams {
        &self.params
    }

    /// Per encoded column, the values past `max_categories` that went to `other`.
    pub fn others(&self) -> Vec<(String, u64)> {
        self.columns.iter().map(|c| (c.name.clone(), c.others)).collect()
    }

    pub(crate) fn state_is_finite(&self) -> bool {
        true
    }

    pub(crate) fn check_state(&self) -> Result<(), String> {
        use crate::model::validate_state::ensure;
        self.params.clone().build().map_err(|e| format!("its parameters: {e}"))?;
        let Some(n_in) = self.n_in else {
            return ensure(self.columns.is_empty() && self.n_out == 0, || "columns before any record".into());
        };
        ensure(n_in <= 1 << 24, || "more numeric features than any record".into())?;
        let bound = self.columns.len().saturating_mul(self.params.max_categories + 1);
        ensure(n_in <= self.n_out && self.n_out - n_in <= bound, || format!("{} features out of {n_in}", self.n_out))?;
        ensure(self.seen <= 1 << 53, || "a count past any stream".into())?;
        let mut taken = vec![false; self.n_out];
        for c in &self.columns {
            ensure(c.categories.len() == c.outputs.len(), || format!("{}: categories and columns differ", c.name))?;
            ensure(c.categories.len() <= self.params.max_categories, || format!("{}: past max_categories", c.name))?;
            ensure(c.index.len() == c.categories.len(), || format!("{}: a category is listed twice", c.name))?;
            for &o in c.outputs.iter().chain(&c.other) {
                ensure((n_in..self.n_out).contains(&o) && !taken[o], || format!("{}: output column {o}", c.name))?;
                taken[o] = true;
            }
        }
        ensure(taken[n_in..].iter().all(|&t| t), || "an output column belongs to no category".into())?;
        let names: Vec<&String> = self.columns.iter().map(|c| &c.name).collect();
        ensure(names.iter().enumerate().all(|(i, n)| !names[..i].contains(n)), || "a column twice".into())?;
        if !self.params.columns.is_empty() {
            ensure(self.params.columns.iter().eq(names), || "columns differ from the parameters".into())?;
        }
        Ok(())
    }

    /// Where each encoded column is among `cats`' columns; on the first batch, pick them.
    fn resolve(&mut self, cats: &Categories) -> Result<Vec<usize>, ModelError> {
        if self.n_in.is_none() && self.columns.is_empty() {
            let wanted: Vec<String> =
                if self.params.columns.is_empty() { cats.names().to_vec() } else { self.params.columns.clone() };
            self.columns = wanted.into_iter().map(Column::new).collect();
            let found = self.positions(cats);
            if found.is_err() {
                self.columns.clear();
            }
            return found;
        }
        self.positions(cats)
    }

    fn positions(&self, cats: &Categories) -> Result<Vec<usize>, ModelError> {
        self.columns
            .iter()
            .map(|c| {
                cats.column(&c.name).ok_or_else(|| {
                    ModelError::Categorical(format!(
                        "onehot: the records have no categorical column {:?} (they have: {})",
                        c.name,
                        cats.names().join(", ")
                    ))
                })
            })
            .collect()
    }

    fn check_width(&self, x: &ArrayView2<f64>) -> Result<(), ModelError> {
        match self.n_in {
            Some(d) if d != x.ncols() => Err(ModelError::FeatureCount { expected: d, got: x.ncols() }),
            _ => Ok(()),
        }
    }

    /// `x`'s columns, then a 0/1 column per output: `hot` holds, row by row, each
    /// encoded column's output (`None`: no 1 for it).
    fn encode(&self, x: ArrayView2<f64>, hot: &[Option<usize>]) -> Array2<f64> {
        let d = x.ncols();
        let mut out = Array2::zeros((x.nrows(), self.n_out.max(d)));
        out.slice_mut(ndarray::s![.., ..d]).assign(&x);
        let k = self.columns.len().max(1);
        for (i, ones) in hot.chunks(k).enumerate() {
            for &o in ones.iter().flatten() {
                out[[i, o]] = 1.0;
            }
        }
        out
    }

    /// What is left of `cats` once the encoded columns are taken out.
    fn rest(&self, cats: &Categories, taken: &[usize]) -> Categories {
        let keep: Vec<usize> = (0..cats.width()).filter(|j| !taken.contains(j)).collect();
        if keep.is_empty() {
            Categories::default()
        } else {
            cats.select(&keep)
        }
    }
}

impl Default for OneHotEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Transformer for OneHotEncoder {
    fn n_features_in(&self) -> Option<usize> {
        self.n_in
    }
    fn n_features_out(&self) -> Option<usize> {
        self.n_in.map(|_| self.n_out)
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
    /// Learning a category only gives it a column, so row by row and batch at once
    /// encode alike: the rows before a category's first record have 0 in its column.
    fn learn_transform_with(
        &mut self,
        x: ArrayView2<f64>,
        cats: &Categories,
        _row_by_row: bool,
    ) -> Result<(Array2<f64>, Option<Categories>), ModelError> {
        self.check_width(&x)?;
        let at = self.resolve(cats)?;
        let next = self;
        if next.n_in.is_none() {
            next.n_in = Some(x.ncols());
            next.n_out = x.ncols();
        }
        let max = next.params.max_categories;
        let mut n_out = next.n_out;
        // Learned first, row by row, then written: the batch's width is known only at its end.
        let mut hot = Vec::with_capacity(x.nrows() * next.columns.len());
        for i in 0..x.nrows() {
            let row = cats.row(i);
            for (c, &j) in next.columns.iter_mut().zip(&at) {
                hot.push(row[j].as_deref().map(|v| c.learn(v, max, &mut n_out)));
            }
        }
        next.n_out = n_out;
        next.seen = next.seen.saturating_add(x.nrows() as u64);
        let out = next.encode(x, &hot);
        Ok((out, Some(next.rest(cats, &at))))
    }
    fn transform_with(
        &self,
        x: ArrayView2<f64>,
        cats: &Categories,
    ) -> Result<(Array2<f64>, Option<Categories>), ModelError> {
        if self.n_in.is_none() {
            return Err(ModelError::NotFitted("onehot"));
        }
        self.check_width(&x)?;
        let at = self.positions(cats)?;
        let max = self.params.max_categories;
        let mut hot = Vec::with_capacity(x.nrows() * self.columns.len());
        for i in 0..x.nrows() {
            let row = cats.row(i);
            hot.extend(self.columns.iter().zip(&at).map(|(c, &j)| c.find(row[j].as_deref()?, max)));
        }
        Ok((self.encode(x, &hot), Some(self.rest(cats, &at))))
    }
    fn categorical_out(&self, names: &[String]) -> Result<Vec<String>, String> {
        let learned = (!self.columns.is_empty()).then(|| self.columns.iter().map(|c| c.name.clone()).collect());
        super::columns_left(learned, &self.params.columns, names, "encode")
    }
    fn widens(&self) -> bool {
        true
    }
    fn encodes(&self) -> bool {
        true
    }
    fn encoded(&self) -> Vec<super::EncodedColumn> {
        self.columns
            .iter()
            .map(|c| super::EncodedColumn { column: c.name.clone(), categories: c.categories.len(), other: c.others })
            .collect()
    }
    fn known_categories(&self) -> Vec<(String, Vec<String>)> {
        self.columns.iter().map(|c| (c.name.clone(), c.categories.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn cats(names: &[&str], rows: &[&[Option<&str>]]) -> Categories {
        let names: Arc<[String]> = names.iter().map(|n| n.to_string()).collect();
        let values = rows.iter().flat_map(|r| r.iter().map(|v| v.map(Arc::from))).collect();
        Categories::new(names, values, rows.len()).expect("shape")
    }

    #[test]
    fn categories_get_columns_in_order_of_first_appearance() {
        let mut enc = OneHotEncoder::new();
        let x = ndarray::array![[1.0], [2.0], [3.0]];
        let c = cats(
            &["city", "device"],
            &[&[Some("paris"), Some("ios")], &[Some("rome"), Some("ios")], &[Some("paris"), None]],
        );
        let (z, rest) = enc.learn_transform_with(x.view(), &c, true).expect("learns");
        // numeric, paris, ios, rome
        assert_eq!(z, ndarray::array![[1.0, 1.0, 1.0, 0.0], [2.0, 0.0, 1.0, 1.0], [3.0, 1.0, 0.0, 0.0]]);
        assert!(rest.expect("given").is_empty());
        // A new category widens at the end; a known row encodes as before.
        let c2 = cats(&["city", "device"], &[&[Some("oslo"), Some("ios")], &[Some("paris"), Some("android")]]);
        let (z2, _) = enc.learn_transform_with(ndarray::array![[4.0], [5.0]].view(), &c2, true).expect("learns");
        assert_eq!(z2, ndarray::array![[4.0, 0.0, 1.0, 0.0, 1.0, 0.0], [5.0, 1.0, 0.0, 0.0, 0.0, 1.0]]);
        // Unseen values predict as zeros, without learning.
        let (p, _) = enc
            .transform_with(ndarray::array![[6.0]].view(), &cats(&["city", "device"], &[&[Some("lima"), Some("ios")]]))
            .expect("predicts");
        assert_eq!(p, ndarray::array![[6.0, 0.0, 1.0, 0.0, 0.0, 0.0]]);
        assert_eq!(
            enc.known_categories(),
            vec![
                ("city".to_string(), vec!["paris".to_string(), "rome".into(), "oslo".into()]),
                ("device".to_string(), vec!["ios".to_string(), "android".into()])
            ]
        );
    }

    #[test]
    fn values_past_the_bound_share_one_other_column_and_are_counted() {
        let mut enc = OneHotParams { max_categories: 2, ..OneHotParams::default() }.build().expect("valid");
        let c = cats(&["m"], &[&[Some("a")], &[Some("b")], &[Some("c")], &[Some("d")], &[Some("a")]]);
        let x = Array2::<f64>::zeros((5, 0));
        let (z, _) = enc.learn_transform_with(x.view(), &c, true).expect("learns");
        assert_eq!(
            z,
            ndarray::array![[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
        );
        assert_eq!(enc.others(), vec![("m".to_string(), 2)]);
        let (p, _) =
            enc.transform_with(Array2::<f64>::zeros((1, 0)).view(), &cats(&["m"], &[&[Some("zz")]])).expect("ok");
        assert_eq!(p, ndarray::array![[0.0, 0.0, 1.0]], "an unseen value of a full column is an other");
    }

    #[test]
    fn named_columns_leave_the_others_and_missing_columns_are_refused() {
        let mut enc = OneHotParams { columns: vec!["b".into()], ..OneHotParams::default() }.build().expect("valid");
        assert_eq!(enc.categorical_out(&["a".into(), "b".into()]), Ok(vec!["a".to_string()]));
        assert!(enc.categorical_out(&["a".into()]).expect_err("no b").contains("no categorical column \"b\""));
        let c = cats(&["a", "b"], &[&[Some("x"), Some("y")]]);
        let (_, rest) = enc.learn_transform_with(Array2::<f64>::zeros((1, 1)).view(), &c, true).expect("learns");
        assert_eq!(rest.expect("given").names(), ["a".to_string()]);
        let wrong = enc.learn_transform_with(Array2::<f64>::zeros((1, 2)).view(), &c, true);
        assert!(matches!(wrong, Err(ModelError::FeatureCount { expected: 1, got: 2 })), "{wrong:?}");
    }

    #[test]
    fn a_state_round_trips_and_a_spoiled_one_is_refused() {
        let mut enc = OneHotEncoder::new();
        let c = cats(&["a"], &[&[Some("x")], &[Some("y")]]);
        enc.learn_transform_with(Array2::<f64>::zeros((2, 1)).view(), &c, true).expect("learns");
        let json = serde_json::to_value(&enc).expect("serialises");
        let back: OneHotEncoder = serde_json::from_value(json.clone()).expect("reads");
        assert_eq!(back, enc);
        back.check_state().expect("consistent");
        let mut spoiled = json.clone();
        spoiled["columns"][0]["outputs"][1] = serde_json::json!(1);
        let bad: OneHotEncoder = serde_json::from_value(spoiled).expect("reads");
        assert!(bad.check_state().is_err());
        let mut spoiled = json;
        spoiled["n_out"] = serde_json::json!(9);
        let bad: OneHotEncoder = serde_json::from_value(spoiled).expect("reads");
        assert!(bad.check_state().is_err());
    }
}
