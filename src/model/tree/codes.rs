//! Category codes: each categorical column's values numbered in the order the model met
//! them, held once per model and shared by its trees. A file keeps the texts, so codes
//! mean the same after a checkpoint.

use super::node::{MISSING, UNSEEN};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The most categories a column keeps; later new values count as missing (the sources
/// intern as many per column).
pub const MAX_CODES: usize = 65_536;

/// One column's categories.
#[derive(Debug, Clone, Default)]
struct Column {
    name: String,
    values: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u32>,
}

/// The categories of every categorical column.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(try_from = "Vec<(String, Vec<String>)>", into = "Vec<(String, Vec<String>)>")]
pub struct CategoryCodes {
    columns: Vec<Column>,
}

impl PartialEq for CategoryCodes {
    fn eq(&self, other: &Self) -> bool {
        self.columns.len() == other.columns.len()
            && self.columns.iter().zip(&other.columns).all(|(a, b)| a.name == b.name && a.values == b.values)
    }
}

impl CategoryCodes {
    /// No categories yet for the columns `names`.
    pub fn new(names: &[String]) -> Self {
        Self { columns: names.iter().map(|n| Column { name: n.clone(), ..Column::default() }).collect() }
    }

    /// The columns' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// Columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True with no categorical column.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Categories known in column `j`.
    pub fn count(&self, j: usize) -> usize {
        self.columns.get(j).map_or(0, |c| c.values.len())
    }

    /// The code of `text` in column `j`, numbering it when new ([`MISSING`] for `None`,
    /// or once the column holds [`MAX_CODES`]).
    pub fn code_or_insert(&mut self, j: usize, text: Option<&Arc<str>>) -> u32 {
        let (Some(text), Some(col)) = (text, self.columns.get_mut(j)) else { return MISSING };
        if let Some(&c) = col.index.get(text) {
            return c;
        }
        if col.values.len() >= MAX_CODES {
            return MISSING;
        }
        let c = col.values.len() as u32;
        col.values.push(Arc::clone(text));
        col.index.insert(Arc::clone(text), c);
        c
    }

    /// The code of `text` in column `j` without numbering it ([`UNSEEN`] when unknown).
    pub fn code(&self, j: usize, text: Option<&Arc<str>>) -> u32 {
        let (Some(text), Some(col)) = (text, self.columns.get(j)) else { return MISSING };
        col.index.get(text).copied().unwrap_or(UNSEEN)
    }

    /// The text of `code` in column `j` (empty when unknown).
    pub fn text(&self, j: usize, code: u32) -> &str {
        self.columns.get(j).and_then(|c| c.values.get(code as usize)).map_or("", |t| t)
    }
}

impl From<CategoryCodes> for Vec<(String, Vec<String>)> {
    fn from(codes: CategoryCodes) -> Self {
        codes.columns.into_iter().map(|c| (c.name, c.values.iter().map(|v| v.to_string()).collect())).collect()
    }
}

impl TryFrom<Vec<(String, Vec<String>)>> for CategoryCodes {
    type Error = String;
    /// Each column's values distinct and at most [`MAX_CODES`].
    fn try_from(columns: Vec<(String, Vec<String>)>) -> Result<Self, String> {
        let mut out = Vec::with_capacity(columns.len());
        for (name, values) in columns {
            if values.len() > MAX_CODES {
                return Err(format!("column {name:?} holds {} categories, more than {MAX_CODES}", values.len()));
            }
            let mut col = Column { name, ..Column::default() };
            for v in values {
                let v: Arc<str> = Arc::from(v);
                if col.index.insert(Arc::clone(&v), col.values.len() as u32).is_some() {
                    return Err(format!("column {:?} lists category {v:?} twice", col.name));
                }
                col.values.push(v);
            }
            out.push(col);
        }
        Ok(Self { columns: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_first_sight_and_survive_a_round_trip() {
        let mut codes = CategoryCodes::new(&["city".into()]);
        let (paris, rome): (Arc<str>, Arc<str>) = (Arc::from("paris"), Arc::from("rome"));
        assert_eq!(codes.code_or_insert(0, Some(&rome)), 0);
        assert_eq!(codes.code_or_insert(0, Some(&paris)), 1);
        assert_eq!(codes.code_or_insert(0, Some(&rome)), 0);
        assert_eq!(codes.code_or_insert(0, None), MISSING);
        assert_eq!(codes.code(0, Some(&Arc::from("oslo"))), UNSEEN);
        let json = serde_json::to_string(&codes).expect("serialises");
        let back: CategoryCodes = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, codes);
        assert_eq!(back.text(0, 1), "paris");
        assert!(serde_json::from_str::<CategoryCodes>(r#"[["c", ["a", "a"]]]"#).is_err(), "a value twice");
    }
}
