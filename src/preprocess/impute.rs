//! `impute`: missing values filled from running statistics, with scikit-learn's
//! `SimpleImputer` names (`strategy`, `fill_value`, `add_indicator`).
//!
//! On a stream the statistics are those of the records so far: the mean of a
//! column's values seen before, or its most frequent value (ties: the smallest, as
//! scikit-learn's), or a constant. Numeric columns take the strategy; categorical
//! columns take the most frequent category, unless the strategy is `constant`.
//! With nothing seen yet a numeric column is filled with 0 and a categorical one
//! with `fill_value` (by default `"missing_value"`, scikit-learn's).
//!
//! Learning row by row (a classifier's prequential step) fills each record from
//! the records before it; a clusterer's batch is learned first, then filled.
//! `add_indicator` appends one 0/1 column per input column (numeric, then
//! categorical), 1 where the value was missing: every column, from the start, so
//! the width never changes (scikit-learn's `MissingIndicator(features="all")`).
//!
//! The stage counts what it fills, per column, for the run's summary and report.

use crate::error::{ModelError, ParamsError};
use crate::model::registry::{self, Entry, Param, Role};
use crate::model::stage::{impl_stage, Transformer};
use crate::record::Categories;
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Distinct values a column's counts keep for `most_frequent`: past it new values
/// are not counted (a column of floats is rarely worth more), so memory stays bounded.
pub const MAX_DISTINCT: usize = 10_000;

/// More values than any stream holds: a decoded count above it is damage.
const MAX_COUNT: u64 = 1 << 53;

/// How a missing value is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImputeStrategy {
    /// The mean of the column's values so far (categorical columns: most frequent).
    Mean,
    /// The most frequent value so far.
    MostFrequent,
    /// `fill_value`.
    Constant,
}

/// Parameters of [`Imputer`], with scikit-learn's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImputerParams {
    /// How missing values are filled.
    pub strategy: ImputeStrategy,
    /// With `constant`: the value (a number for numeric columns, its text for
    /// categorical ones); unset: 0 and `"missing_value"`.
    pub fill_value: Option<FillValue>,
    /// Append a 0/1 column per input column, 1 where the value was missing.
    pub add_indicator: bool,
}

impl Default for ImputerParams {
    fn default() -> Self {
        Self { strategy: ImputeStrategy::Mean, fill_value: None, add_indicator: false }
    }
}

impl ImputerParams {
    /// Check the parameters and build an imputer that has seen nothing.
    pub fn build(self) -> Result<Imputer, ParamsError> {
        if let Some(FillValue::Number(v)) = self.fill_value.as_ref().filter(|v| !v.is_valid()) {
            return Err(ParamsError::FillValue(format!("must be finite, got {v}")));
        }
        Ok(Imputer { params: self, n_in: None, numeric: Vec::new(), categorical: Vec::new(), seen: 0 })
    }
}

/// A constant to fill with: a number or a text.
///
/// Written as a plain number or string in specs and JSON; in a model file (a binary
/// format that cannot tell the two apart unaided) as a tagged value.
#[derive(Debug, Clone, PartialEq)]
pub enum FillValue {
    /// A number (numeric columns; its text for categorical ones).
    Number(f64),
    /// A text (categorical columns; numeric ones take it only if it reads as a number).
    Text(String),
}

/// [`FillValue`] in a binary file.
#[derive(Serialize, Deserialize)]
enum FillTagged {
    Number(f64),
    Text(String),
}

impl FillValue {
    fn is_valid(&self) -> bool {
        match self {
            Self::Number(v) => v.is_finite(),
            Self::Text(_) => true,
        }
    }
}

impl fmt::Display for FillValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(v) => write!(f, "{v}"),
            Self::Text(t) => write!(f, "{t:?}"),
        }
    }
}

impl Serialize for FillValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self, s.is_human_readable()) {
            (Self::Number(v), true) => s.serialize_f64(*v),
            (Self::Text(t), true) => s.serialize_str(t),
            (Self::Number(v), false) => FillTagged::Number(*v).serialize(s),
            (Self::Text(t), false) => FillTagged::Text(t.clone()).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for FillValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            return Ok(match FillTagged::deserialize(d)? {
                FillTagged::Number(v) => Self::Number(v),
                FillTagged::Text(t) => Self::Text(t),
            });
        }
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => {
                n.as_f64().map(Self::Number).ok_or_else(|| serde::de::Error::custom("a number out of range"))
            }
            serde_json::Value::String(t) => Ok(Self::Text(t)),
            other => Err(serde::de::Error::custom(format!("fill_value must be a number or a text, got {other}"))),
        }
    }
}

/// Counts of values and the most frequent one so far (ties: the smallest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "CountsParts<K>", bound(deserialize = "K: Deserialize<'de> + Key"))]
struct Counts<K: Key> {
    values: Vec<(K, u64)>,
    /// Index into `values` of the most frequent.
    best: Option<usize>,
    #[serde(skip)]
    index: HashMap<K::Hashed, usize>,
}

#[derive(Deserialize)]
struct CountsParts<K> {
    values: Vec<(K, u64)>,
    best: Option<usize>,
}

impl<K: Key> From<CountsParts<K>> for Counts<K> {
    fn from(p: CountsParts<K>) -> Self {
        let index = p.values.iter().enumerate().map(|(i, (k, _))| (k.hashed(), i)).collect();
        Self { values: p.values, best: p.best, index }
    }
}

/// A value `most_frequent` counts: a number (by its bits) or a category.
trait Key: Clone + PartialOrd {
    type Hashed: std::hash::Hash + Eq + Clone;
    fn hashed(&self) -> Self::Hashed;
}

impl Key for f64 {
    type Hashed = u64;
    fn hashed(&self) -> u64 {
        // 0.0 and -0.0 are one value.
        if *self == 0.0 {
            0
        } else {
            self.to_bits()
        }
    }
}

impl Key for String {
    type Hashed = String;
    fn hashed(&self) -> String {
        self.clone()
    }
}

impl<K: Key> Default for Counts<K> {
    fn default() -> Self {
        Self { values: Vec::new(), best: None, index: HashMap::new() }
    }
}

impl<K: Key> Counts<K> {
    fn add(&mut self, key: &K) {
        let i = match self.index.get(&key.hashed()) {
            Some(&i) => i,
            None if self.values.len() < MAX_DISTINCT => {
                self.index.insert(key.hashed(), self.values.len());
                self.values.push((key.clone(), 0));
                self.values.len() - 1
            }
            None => return,
        };
        self.values[i].1 = self.values[i].1.saturating_add(1);
        let better = match self.best {
            None => true,
            Some(b) => {
                let ((bk, bc), (k, c)) = (&self.values[b], &self.values[i]);
                c > bc || (c == bc && k < bk)
            }
        };
        if better {
            self.best = Some(i);
        }
    }

    fn most_frequent(&self) -> Option<&K> {
        self.best.map(|b| &self.values[b].0)
    }

    fn check(&self) -> Result<(), String> {
        use crate::model::validate_state::ensure;
        ensure(self.values.len() <= MAX_DISTINCT, || "too many distinct values".into())?;
        ensure(self.values.iter().all(|(_, c)| *c <= MAX_COUNT), || "a count past any stream".into())?;
        ensure(self.index.len() == self.values.len(), || "a value is counted twice".into())?;
        ensure(self.best.is_none_or(|b| b < self.values.len()), || "the most frequent is not counted".into())?;
        ensure(self.best.is_some() || self.values.is_empty(), || "no most frequent".into())?;
        if let Some(b) = self.best {
            let (bk, bc) = &self.values[b];
            let beaten = self.values.iter().any(|(k, c)| c > bc || (c == bc && k < bk));
            ensure(!beaten, || "the most frequent is not the most frequent".into())?;
        }
        Ok(())
    }
}

/// What a numeric column has seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct NumericColumn {
    count: u64,
    mean: f64,
    counts: Counts<f64>,
    imputed: u64,
}

/// What a categorical column has seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct CategoricalColumn {
    name: String,
    counts: Counts<String>,
    imputed: u64,
}

/// Values an imputer filled, per column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImputedCounts {
    /// Per numeric column, in input order.
    pub numeric: Vec<u64>,
    /// Per categorical column, with its name.
    pub categorical: Vec<(String, u64)>,
}

/// scikit-learn's `SimpleImputer` on a stream: see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imputer {
    params: ImputerParams,
    n_in: Option<usize>,
    numeric: Vec<NumericColumn>,
    categorical: Vec<CategoricalColumn>,
    seen: u64,
}

/// `impute` in the model language.
pub(crate) static IMPUTE: Entry = Entry {
    name: "impute",
    role: Role::Transformer,
    summary: "fills missing values from the records so far (scikit-learn's SimpleImputer); must come first",
    params: &[
        Param::choice(
            "strategy",
            &["mean", "most_frequent", "constant"],
            "numeric columns: the running mean, the most frequent value, or fill_value; categorical columns: \
             the most frequent category, or fill_value with constant",
        ),
        Param::scalar("fill_value", "the value for constant (default 0, and \"missing_value\" for categories)"),
        Param::bool("add_indicator", "append a 0/1 column per input column, 1 where the value was missing"),
    ],
    takes_counts: false,
    outputs_negative: false,
    defaults: registry::defaults_of::<ImputerParams>,
    build: registry::transformer_build!(ImputerParams),
    decode: registry::decode_transformer::<Imputer>,
};
impl_stage!(Imputer, IMPUTE, fixed_width);
/// Not mergeable: not yet: its most-frequent counts are not folded.
impl crate::model::merge::Merge for Imputer {}

impl Imputer {
    /// An imputer with the default parameters (the running mean).
    pub fn new() -> Self {
        Self { params: ImputerParams::default(), n_in: None, numeric: Vec::new(), categorical: Vec::new(), seen: 0 }
    }

    /// The parameters.
    pub fn get_params(&self) -> &ImputerParams {
        &self.params
    }

    /// Values filled so far, per column.
    pub fn imputed(&self) -> ImputedCounts {
        ImputedCounts {
            numeric: self.numeric.iter().map(|c| c.imputed).collect(),
            categorical: self.categorical.iter().map(|c| (c.name.clone(), c.imputed)).collect(),
        }
    }

    pub(crate) fn state_is_finite(&self) -> bool {
        self.numeric.iter().all(|c| c.mean.is_finite())
    }

    pub(crate) fn check_state(&self) -> Result<(), String> {
        use crate::model::validate_state::ensure;
        self.params.clone().build().map_err(|e| format!("its parameters: {e}"))?;
        ensure(self.n_in.is_none_or(|d| d == self.numeric.len()), || "numeric columns differ in number".into())?;
        ensure(self.seen <= MAX_COUNT, || "a count past any stream".into())?;
        ensure(self.n_in.is_some() || self.categorical.is_empty(), || "columns before any record".into())?;
        for c in &self.numeric {
            ensure(c.mean.is_finite(), || format!("a mean of {}", c.mean))?;
            ensure(c.count <= MAX_COUNT && c.imputed <= MAX_COUNT, || "a count past any stream".into())?;
            ensure(c.counts.values.iter().all(|(v, _)| v.is_finite()), || "a counted value is not finite".into())?;
            c.counts.check()?;
        }
        for c in &self.categorical {
            ensure(c.imputed <= MAX_COUNT, || "a count past any stream".into())?;
            c.counts.check().map_err(|e| format!("{}: {e}", c.name))?;
        }
        Ok(())
    }

    /// The numeric fill of column `j` now.
    fn numeric_fill(&self, j: usize) -> Result<f64, ModelError> {
        let c = &self.numeric[j];
        match self.params.strategy {
            ImputeStrategy::Mean => Ok(if c.count == 0 { 0.0 } else { c.mean }),
            ImputeStrategy::MostFrequent => Ok(c.counts.most_frequent().copied().unwrap_or(0.0)),
            ImputeStrategy::Constant => match &self.params.fill_value {
                None => Ok(0.0),
                Some(FillValue::Number(v)) => Ok(*v),
                Some(FillValue::Text(t)) => t.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                    ModelError::Categorical(format!(
                        "impute: fill_value {t:?} is not a number, but numeric column {} has a missing value",
                        j + 1
                    ))
                }),
            },
        }
    }

    /// The categorical fill of column `j` now (`None`: nothing seen yet, no constant).
    fn categorical_fill(&self, j: usize) -> Arc<str> {
        let constant = || match &self.params.fill_value {
            None => Arc::from("missing_value"),
            Some(FillValue::Text(s)) => Arc::from(s.as_str()),
            Some(FillValue::Number(v)) => Arc::from(v.to_string().as_str()),
        };
        match self.params.strategy {
            ImputeStrategy::Constant => constant(),
            _ => self.categorical[j].counts.most_frequent().map_or_else(constant, |s| Arc::from(s.as_str())),
        }
    }

    fn learn_numeric(&mut self, j: usize, v: f64) {
        let c = &mut self.numeric[j];
        c.count = c.count.saturating_add(1);
        c.mean += (v - c.mean) / c.count as f64;
        if self.params.strategy == ImputeStrategy::MostFrequent {
            c.counts.add(&v);
        }
    }

    fn learn_categorical(&mut self, j: usize, v: &str) {
        if self.params.strategy != ImputeStrategy::Constant {
            self.categorical[j].counts.add(&v.to_string());
        }
    }

    /// Set up the columns on the first batch; check them on the others.
    fn start(&mut self, x: &ArrayView2<f64>, cats: &Categories) -> Result<(), ModelError> {
        match self.n_in {
            None => {
                self.n_in = Some(x.ncols());
                self.numeric = vec![NumericColumn::default(); x.ncols()];
                self.categorical =
                    cats.names().iter().map(|n| CategoricalColumn { name: n.clone(), ..Default::default() }).collect();
                Ok(())
            }
            Some(d) if d != x.ncols() => Err(ModelError::FeatureCount { expected: d, got: x.ncols() }),
            Some(_) => self.check_names(cats),
        }
    }

    fn check_names(&self, cats: &Categories) -> Result<(), ModelError> {
        if self.categorical.iter().map(|c| &c.name).eq(cats.names().iter()) {
            Ok(())
        } else {
            let had: Vec<&str> = self.categorical.iter().map(|c| c.name.as_str()).collect();
            Err(ModelError::Categorical(format!(
                "impute: the records' categorical columns are {}, not {}",
                cats.names().join(", "),
                had.join(", ")
            )))
        }
    }

    /// Fill row `i` of `x` and `cats` in place, counting what is filled in `tally` and
    /// marking the indicators.
    fn fill_row(
        &self,
        i: usize,
        x: &mut Array2<f64>,
        cats: &mut [Option<Arc<str>>],
        tally: &mut [u64],
        indicators: &mut Option<Array2<f64>>,
    ) -> Result<(), ModelError> {
        let d = self.numeric.len();
        for j in 0..d {
            if x[[i, j]].is_nan() {
                x[[i, j]] = self.numeric_fill(j)?;
                tally[j] += 1;
                if let Some(ind) = indicators.as_mut() {
                    ind[[i, j]] = 1.0;
                }
            }
        }
        for (j, value) in cats.iter_mut().enumerate() {
            if value.is_none() {
                *value = Some(self.categorical_fill(j));
                tally[d + j] += 1;
                if let Some(ind) = indicators.as_mut() {
                    ind[[i, d + j]] = 1.0;
                }
            }
        }
        Ok(())
    }

    fn learn_row(&mut self, x: ndarray::ArrayView1<f64>, cats: &[Option<Arc<str>>]) {
        for (j, &v) in x.iter().enumerate() {
            if !v.is_nan() {
                self.learn_numeric(j, v);
            }
        }
        for (j, v) in cats.iter().enumerate() {
            if let Some(v) = v {
                self.learn_categorical(j, v);
            }
        }
    }

    /// Learn and fill every row: row by row (each row filled from the rows before it),
    /// or the whole batch first.
    fn learn_fill(
        &mut self,
        x: ArrayView2<f64>,
        cats: &Categories,
        row_by_row: bool,
    ) -> Result<(Array2<f64>, Option<Categories>), ModelError> {
        let width = cats.width();
        if !row_by_row {
            for i in 0..x.nrows() {
                self.learn_row(x.row(i), cats.row(i));
            }
        }
        let mut out = x.to_owned();
        let mut values = cats.values().to_vec();
        let mut indicators = self.params.add_indicator.then(|| Array2::zeros((x.nrows(), x.ncols() + width)));
        let mut tally = vec![0u64; self.numeric.len() + width];
        for i in 0..x.nrows() {
            let row = &mut values[i * width..(i + 1) * width];
            self.fill_row(i, &mut out, row, &mut tally, &mut indicators)?;
            if row_by_row {
                self.learn_row(x.row(i), cats.row(i));
            }
        }
        self.seen = self.seen.saturating_add(x.nrows() as u64);
        let d = self.numeric.len();
        for (c, n) in self.numeric.iter_mut().zip(&tally) {
            c.imputed = c.imputed.saturating_add(*n);
        }
        for (c, n) in self.categorical.iter_mut().zip(&tally[d..]) {
            c.imputed = c.imputed.saturating_add(*n);
        }
        Ok(assemble(out, values, indicators, cats))
    }

    /// Fill every row without learning (predicting): nothing is counted.
    fn fill(&self, x: ArrayView2<f64>, cats: &Categories) -> Result<(Array2<f64>, Option<Categories>), ModelError> {
        let width = cats.width();
        let mut out = x.to_owned();
        let mut values = cats.values().to_vec();
        let mut indicators = self.params.add_indicator.then(|| Array2::zeros((x.nrows(), x.ncols() + width)));
        let mut tally = vec![0u64; self.numeric.len() + width];
        for i in 0..x.nrows() {
            let row = &mut values[i * width..(i + 1) * width];
            self.fill_row(i, &mut out, row, &mut tally, &mut indicators)?;
        }
        Ok(assemble(out, values, indicators, cats))
    }
}

/// The filled batch: `out` with the indicators after it, and the filled categories.
fn assemble(
    out: Array2<f64>,
    values: Vec<Option<Arc<str>>>,
    indicators: Option<Array2<f64>>,
    cats: &Categories,
) -> (Array2<f64>, Option<Categories>) {
    let out = match indicators {
        Some(ind) => ndarray::concatenate(ndarray::Axis(1), &[out.view(), ind.view()])
            .unwrap_or_else(|_| unreachable!("both have the batch's rows")),
        None => out,
    };
    let filled = (cats.width() > 0).then(|| {
        Categories::new(Arc::clone(cats.shared_names()), values, cats.rows())
            .unwrap_or_else(|_| unreachable!("the same shape as the batch's"))
    });
    (out, filled)
}

impl Default for Imputer {
    fn default() -> Self {
        Self::new()
    }
}

impl Transformer for Imputer {
    fn n_features_in(&self) -> Option<usize> {
        self.n_in
    }
    fn n_features_out(&self) -> Option<usize> {
        let indicators = if self.params.add_indicator { self.numeric.len() + self.categorical.len() } else { 0 };
        self.n_in.map(|d| d + indicators)
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
    fn inverse_transform(&self, z: ArrayView2<f64>) -> Option<Array2<f64>> {
        // Filling is not undone; the indicators are dropped.
        let d = self.n_in?;
        (z.ncols() >= d).then(|| z.slice(ndarray::s![.., ..d]).to_owned())
    }
    fn learn_transform_with(
        &mut self,
        x: ArrayView2<f64>,
        cats: &Categories,
        row_by_row: bool,
    ) -> Result<(Array2<f64>, Option<Categories>), ModelError> {
        self.start(&x, cats)?;
        self.learn_fill(x, cats, row_by_row)
    }
    fn transform_with(
        &self,
        x: ArrayView2<f64>,
        cats: &Categories,
    ) -> Result<(Array2<f64>, Option<Categories>), ModelError> {
        match self.n_in {
            None => return Err(ModelError::NotFitted("impute")),
            Some(d) if d != x.ncols() => return Err(ModelError::FeatureCount { expected: d, got: x.ncols() }),
            Some(_) => self.check_names(cats)?,
        }
        self.fill(x, cats)
    }
    fn fills_missing(&self) -> bool {
        true
    }
    fn imputed(&self) -> Option<ImputedCounts> {
        Some(Imputer::imputed(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats(rows: &[Option<&str>]) -> Categories {
        let names: Arc<[String]> = Arc::from(vec!["c".to_string()]);
        Categories::new(names, rows.iter().map(|v| v.map(Arc::from)).collect(), rows.len()).expect("shape")
    }

    fn text(c: &Categories) -> Vec<String> {
        c.values().iter().map(|v| v.as_deref().unwrap_or("-").to_string()).collect()
    }

    #[test]
    fn the_running_mean_fills_from_the_rows_before() {
        let nan = f64::NAN;
        let x = ndarray::array![[nan], [2.0], [nan], [4.0], [nan]];
        let c = cats(&[None, Some("a"), Some("b"), Some("b"), None]);
        let mut imp = Imputer::new();
        let (z, filled) = imp.learn_transform_with(x.view(), &c, true).expect("fills");
        // Nothing before: 0; then mean(2) = 2; then mean(2, 4) = 3.
        assert_eq!(z, ndarray::array![[0.0], [2.0], [2.0], [4.0], [3.0]]);
        // Nothing before: "missing_value"; then most frequent of a, b, b: b.
        assert_eq!(text(&filled.expect("categories")), ["missing_value", "a", "b", "b", "b"]);
        assert_eq!(imp.imputed(), ImputedCounts { numeric: vec![3], categorical: vec![("c".into(), 2)] });
        // A batch learned at once fills every row with the batch's statistics.
        let mut batch = Imputer::new();
        let (z, _) = batch.learn_transform_with(x.view(), &c, false).expect("fills");
        assert_eq!(z, ndarray::array![[3.0], [2.0], [3.0], [4.0], [3.0]]);
        // Predicting fills without learning or counting.
        let (p, _) = imp.transform_with(ndarray::array![[nan]].view(), &cats(&[None])).expect("fills");
        assert_eq!(p, ndarray::array![[3.0]]);
        assert_eq!(imp.imputed().numeric, [3]);
    }

    #[test]
    fn most_frequent_breaks_ties_with_the_smallest_and_constant_uses_fill_value() {
        let nan = f64::NAN;
        let x = ndarray::array![[5.0], [1.0], [5.0], [1.0], [nan]];
        let mut mf = ImputerParams { strategy: ImputeStrategy::MostFrequent, ..ImputerParams::default() }
            .build()
            .expect("valid");
        let (z, _) = mf.learn_transform_with(x.view(), &Categories::default(), true).expect("fills");
        assert_eq!(z[[4, 0]], 1.0, "5 and 1 twice each: the smaller");
        let mut constant = ImputerParams {
            strategy: ImputeStrategy::Constant,
            fill_value: Some(FillValue::Number(-1.0)),
            add_indicator: true,
        }
        .build()
        .expect("valid");
        let (z, filled) = constant
            .learn_transform_with(x.view(), &cats(&[Some("a"), None, Some("a"), None, None]), true)
            .expect("ok");
        assert_eq!(z.column(0).to_vec(), [5.0, 1.0, 5.0, 1.0, -1.0]);
        assert_eq!(z.column(1).to_vec(), [0.0, 0.0, 0.0, 0.0, 1.0], "numeric indicator");
        assert_eq!(z.column(2).to_vec(), [0.0, 1.0, 0.0, 1.0, 1.0], "categorical indicator");
        assert_eq!(text(&filled.expect("categories")), ["a", "-1", "a", "-1", "-1"]);
        let text_fill = ImputerParams {
            strategy: ImputeStrategy::Constant,
            fill_value: Some(FillValue::Text("zz".into())),
            ..Default::default()
        };
        let mut text_fill = text_fill.build().expect("valid");
        let refused = text_fill.learn_transform_with(x.view(), &Categories::default(), true);
        assert!(refused.is_err(), "a text cannot fill a numeric column");
    }

    #[test]
    fn a_state_round_trips_and_a_spoiled_one_is_refused() {
        let x = ndarray::array![[1.0], [f64::NAN], [1.0], [3.0]];
        let mut imp =
            ImputerParams { strategy: ImputeStrategy::MostFrequent, ..Default::default() }.build().expect("ok");
        imp.learn_transform_with(x.view(), &cats(&[Some("a"), Some("b"), None, Some("b")]), true).expect("fills");
        let json = serde_json::to_value(&imp).expect("serialises");
        let back: Imputer = serde_json::from_value(json.clone()).expect("reads");
        assert_eq!(back, imp);
        let constant = ImputerParams {
            strategy: ImputeStrategy::Constant,
            fill_value: Some(FillValue::Text("n/a".into())),
            ..Default::default()
        };
        let binary = postcard::to_allocvec(&constant).expect("encodes");
        assert_eq!(postcard::from_bytes::<ImputerParams>(&binary).expect("decodes"), constant, "model files");
        back.check_state().expect("consistent");
        let mut spoiled = json;
        spoiled["numeric"][0]["counts"]["best"] = serde_json::json!(1);
        let bad: Imputer = serde_json::from_value(spoiled).expect("reads");
        assert!(bad.check_state().is_err(), "3.0 is not the most frequent");
    }
}
