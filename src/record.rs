//! What flows between the stages: batches of records, and the map from class
//! names in the input to the int64 ids the models and sinks use.

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A stamped batch of records: the unit every channel carries.
#[derive(Debug, Clone, PartialEq)]
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
    /// Bytes of input consumed once this batch was read (0 where not meaningful).
    pub end_offset: u64,
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

/// Class names in the input ↔ int64 ids.
///
/// Declared classes (`--classes a,b,c`) get ids 0, 1, 2 in that order and any
/// other name is refused; otherwise names get ids in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelMap {
    names: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, i64>,
    fixed: bool,
}

impl LabelMap {
    /// Learn names as they appear.
    pub fn discover() -> Self {
        Self::default()
    }

    /// Only these names, with ids in this order.
    pub fn declared(names: &[String]) -> Self {
        let mut map = Self { fixed: true, ..Self::default() };
        for n in names {
            if !map.index.contains_key(n) {
                map.index.insert(n.clone(), map.names.len() as i64);
                map.names.push(n.clone());
            }
        }
        map
    }

    /// The id of `name`, assigning a new one when classes are discovered; `None`
    /// for a name outside the declared classes.
    pub fn id(&mut self, name: &str) -> Option<i64> {
        if let Some(&id) = self.index.get(name) {
            return Some(id);
        }
        if self.fixed {
            return None;
        }
        let id = self.names.len() as i64;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), id);
        Some(id)
    }

    /// Declared ids, when classes are declared.
    pub fn declared_ids(&self) -> Option<Vec<i64>> {
        self.fixed.then(|| (0..self.names.len() as i64).collect())
    }

    /// The names, indexed by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// True when no name is known.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
