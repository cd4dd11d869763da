//! What flows between the stages: batches of records, and the map from class
//! names in the input to the int64 ids the models and sinks use.

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// A stamped batch of records: the unit every channel carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Position of the batch in the stream, from 0.
    pub seq: u64,
    /// Index of each record in the input (data records from 0; rejected records
    /// keep their index, so ids can skip).
    pub ids: Vec<u64>,
    /// Features, one row per record.
    pub x: Array2<f64>,
    /// Class ids (or true cluster ids), when the input has a label column.
    pub y: Option<Vec<i64>>,
    /// Categorical features, one row per record (none when the input has none).
    /// They travel as text, not codes: an encoder stage of the model turns them into
    /// numbers, and a tree splits on them as they are.
    pub cats: Categories,
    /// Bytes of input consumed once this batch was read (0 where not meaningful).
    pub end_offset: u64,
    /// With delayed labels (`--delayed-labels`): what each record is. `None` otherwise,
    /// so a run without them carries nothing more per record.
    pub roles: Option<Box<Roles>>,
    /// Each record's id in its engine (a Redis entry id), when the source is a stream
    /// whose records have one: label sinks key the labels by it.
    pub keys: Option<Vec<Arc<str>>>,
}

/// What the records of a batch are, with delayed labels: the source has joined each
/// label to its event (by id), so the models key their waiting events by the event's
/// record id and never see the ids' text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roles {
    /// One per record of the batch.
    pub roles: Vec<Role>,
    /// Events (by record id) that expired while the batch was read, in expiry order:
    /// no label will come for them, so the models drop what they kept.
    pub expired: Vec<(u64, crate::pipeline::pending::ExpiryReason)>,
}

/// What one record is, with delayed labels. Only events get a label line; the other
/// records' rows hold zeros (their features are not read), and `y` holds a class only
/// for feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Features without a label: labelled now, learned when its feedback comes.
    Event,
    /// The label (in `y`) of the event with record id `event`, which came `delay` late.
    Feedback {
        /// The event's record id.
        event: u64,
        /// How late.
        delay: crate::pipeline::pending::Delay,
    },
    /// A label for no waiting event (with `--on-error skip`; listed in the rejects file).
    Unknown,
    /// A label for an event that had expired (listed in the rejects file).
    Late,
    /// An event whose id was still waiting (with `--on-error skip`).
    Duplicate,
}

impl Batch {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the batch has no records.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Categorical features of a batch: the columns' names and, per record and column,
/// its value (`None`: missing). Values are shared `Arc<str>`s, interned by the source
/// ([`Interner`]), so a column of a few categories costs a pointer per record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Categories {
    names: Arc<[String]>,
    /// Row-major: record `i`, column `j` at `i * width + j`.
    values: Vec<Option<Arc<str>>>,
    rows: usize,
}

impl Categories {
    /// `rows` records of the columns `names`, values row-major.
    ///
    /// # Errors
    /// When `values` does not hold `rows × names.len()` entries.
    pub fn new(names: Arc<[String]>, values: Vec<Option<Arc<str>>>, rows: usize) -> Result<Self, String> {
        if values.len() != rows * names.len() {
            return Err(format!("{} categorical values for {rows} records of {} columns", values.len(), names.len()));
        }
        Ok(Self { names, values, rows })
    }

    /// No columns, `rows` records: what a numeric-only batch carries.
    pub fn empty(rows: usize) -> Self {
        Self { names: Arc::from(Vec::new()), values: Vec::new(), rows }
    }

    /// The columns' names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The names, shared.
    pub fn shared_names(&self) -> &Arc<[String]> {
        &self.names
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// Number of records.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// True when there are no columns.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Record `i`'s values, one per column.
    pub fn row(&self, i: usize) -> &[Option<Arc<str>>] {
        let w = self.width();
        &self.values[i * w..(i + 1) * w]
    }

    /// Every value, row-major.
    pub fn values(&self) -> &[Option<Arc<str>>] {
        &self.values
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Only the columns `keep` (indices, in this order), with their names.
    pub fn select(&self, keep: &[usize]) -> Self {
        let names: Vec<String> = keep.iter().map(|&j| self.names[j].clone()).collect();
        let mut values = Vec::with_capacity(self.rows * keep.len());
        for i in 0..self.rows {
            let row = self.row(i);
            values.extend(keep.iter().map(|&j| row[j].clone()));
        }
        Self { names: Arc::from(names), values, rows: self.rows }
    }

    /// Rows `range` only.
    pub fn slice_rows(&self, range: std::ops::Range<usize>) -> Self {
        let w = self.width();
        let values = self.values[range.start * w..range.end * w].to_vec();
        Self { names: Arc::clone(&self.names), values, rows: range.len() }
    }

    /// `self`'s records followed by `other`'s (the same columns).
    ///
    /// # Errors
    /// When the two have other columns.
    pub fn append(&mut self, other: &Self) -> Result<(), String> {
        if self.names != other.names {
            return Err(format!("categorical columns {:?} and {:?} differ", self.names, other.names));
        }
        self.values.extend_from_slice(&other.values);
        self.rows += other.rows;
        Ok(())
    }
}

/// Most distinct values an [`Interner`] keeps per column: past it (a column of ids
/// read as categories, say), each value is its own allocation, and memory stays bounded.
pub const MAX_INTERNED: usize = 1 << 16;

/// Shares one `Arc<str>` among the records that hold the same categorical value.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    columns: Vec<HashMap<Box<str>, Arc<str>>>,
}

impl Interner {
    /// For `width` columns.
    pub fn new(width: usize) -> Self {
        Self { columns: vec![HashMap::new(); width] }
    }

    /// The shared value of `text` in column `j`.
    pub fn get(&mut self, j: usize, text: &str) -> Arc<str> {
        let Some(column) = self.columns.get_mut(j) else { return Arc::from(text) };
        if let Some(v) = column.get(text) {
            return Arc::clone(v);
        }
        let value: Arc<str> = Arc::from(text);
        if column.len() < MAX_INTERNED {
            column.insert(Box::from(text), Arc::clone(&value));
        }
        value
    }
}

/// Labels in the input ↔ the int64 ids the models and sinks use.
///
/// Integer labels are their own ids (`3` stays 3, `-1` stays -1). String labels
/// get ids 0, 1, 2, ... in order of first appearance, which the summary lists.
/// The first label decides which of the two a column holds; with declared
/// classes (`--classes`), they decide: integers if every one is an integer.
/// Declared classes refuse any other label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "LabelMapFields")]
pub struct LabelMap {
    names: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, i64>,
    fixed: bool,
    /// `Some(true)`: integer labels; `Some(false)`: names; `None`: not known yet.
    integers: Option<bool>,
    /// Declared integer classes.
    declared: Vec<i64>,
}

/// LabelMap as saved: its name index is rebuilt when it is read back.
#[derive(Deserialize)]
struct LabelMapFields {
    names: Vec<String>,
    fixed: bool,
    integers: Option<bool>,
    declared: Vec<i64>,
}

impl From<LabelMapFields> for LabelMap {
    fn from(f: LabelMapFields) -> Self {
        let index = f.names.iter().enumerate().map(|(i, n)| (n.clone(), i as i64)).collect();
        Self { names: f.names, index, fixed: f.fixed, integers: f.integers, declared: f.declared }
    }
}

impl LabelMap {
    /// Learn labels as they appear.
    pub fn discover() -> Self {
        Self::default()
    }

    /// Only these labels (integers, or names with ids in this order).
    pub fn declared(names: &[String]) -> Self {
        let ints: Option<Vec<i64>> = names.iter().map(|n| n.trim().parse::<i64>().ok()).collect();
        let mut map = Self { fixed: true, ..Self::default() };
        match ints {
            Some(values) if !values.is_empty() => {
                map.integers = Some(true);
                map.declared = values;
            }
            _ => {
                map.integers = Some(false);
                for n in names {
                    if !map.index.contains_key(n) {
                        map.index.insert(n.clone(), map.names.len() as i64);
                        map.names.push(n.clone());
                    }
                }
            }
        }
        map
    }

    /// The map of a saved model: its class names, with ids in this order (a new
    /// name gets the next id), or, when it has none, integer labels.
    pub fn resume(names: Option<&[String]>) -> Self {
        match names {
            Some(names) => Self {
                names: names.to_vec(),
                index: names.iter().enumerate().map(|(i, n)| (n.clone(), i as i64)).collect(),
                integers: Some(false),
                ..Self::default()
            },
            None => Self { integers: Some(true), ..Self::default() },
        }
    }

    /// The id of `label`, or why it is refused.
    pub fn id(&mut self, label: &str) -> Result<i64, String> {
        let as_int = label.parse::<i64>().ok().filter(|&v| v != crate::model::NO_PREDICTION);
        let integers = *self.integers.get_or_insert(as_int.is_some());
        if integers {
            let value =
                as_int.ok_or_else(|| format!("label {label:?} is not an integer, as the column's labels are"))?;
            if self.fixed && !self.declared.contains(&value) {
                return Err(format!("label {value} is not one of the declared classes {:?}", self.declared));
            }
            return Ok(value);
        }
        if let Some(&id) = self.index.get(label) {
            return Ok(id);
        }
        if self.fixed {
            return Err(format!("label {label:?} is not one of the declared classes {:?}", self.names));
        }
        let id = self.names.len() as i64;
        self.names.push(label.to_string());
        self.index.insert(label.to_string(), id);
        Ok(id)
    }

    /// The id of a label given as an integer (not as text): on a map of names, one of
    /// the names' ids (an id past them would later go to a new name, merging two
    /// classes); on a map not yet decided, it decides for integers.
    pub fn integer(&mut self, value: i64) -> Result<i64, String> {
        if value == crate::model::NO_PREDICTION {
            return Err(format!("label {value} is reserved"));
        }
        match *self.integers.get_or_insert(true) {
            true if self.fixed && !self.declared.contains(&value) => {
                Err(format!("label {value} is not one of the declared classes {:?}", self.declared))
            }
            true => Ok(value),
            false if (0..self.names.len() as i64).contains(&value) => Ok(value),
            false => Err(format!(
                "class id {value} has no name; the classes are names ({}), or their ids 0..{}",
                self.names.join(", "),
                self.names.len()
            )),
        }
    }

    /// The declared class ids, when classes are declared.
    pub fn declared_ids(&self) -> Option<Vec<i64>> {
        match (self.fixed, self.integers) {
            (true, Some(true)) => Some(self.declared.clone()),
            (true, _) => Some((0..self.names.len() as i64).collect()),
            _ => None,
        }
    }

    /// The names, indexed by id (empty for integer labels).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The names by id, when the labels are names (what a model file's header keeps).
    pub fn class_names(&self) -> Option<Vec<String>> {
        self.has_names().then(|| self.names.clone())
    }

    /// True when the labels are names mapped to ids (not integers).
    pub fn has_names(&self) -> bool {
        self.integers == Some(false)
    }

    /// True when no label is known.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.declared.is_empty()
    }
}

/// Where a source stands after a batch: enough to continue reading from there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourcePosition {
    /// Records read so far, rejected ones included (the next record's id).
    pub records: u64,
    /// Bytes of input consumed (rows, for `.npy`; records, for generators).
    pub offset: u64,
    /// Lines read (text inputs).
    pub line: u64,
    /// Records rejected so far.
    pub rejected: u64,
    /// The class map as it stood, when the input has a label column.
    pub labels: Option<LabelMap>,
    /// CRC-32 of the input's bytes up to `offset` (text inputs): a resume onto
    /// another file at the same path is refused, not read from the wrong place.
    #[serde(default)]
    pub checksum: Option<u32>,
    /// Bytes of the rejects file written (and synced) so far, when there is one.
    #[serde(default)]
    pub rejects_len: Option<u64>,
    /// The events waiting for their labels (`--delayed-labels`), by id.
    #[serde(default)]
    pub delayed: Option<crate::source::join::JoinState>,
    /// Where a stream input (Redis) stands in its engine.
    #[serde(default)]
    pub stream: Option<crate::source::redis::StreamPosition>,
}
