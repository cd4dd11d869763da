//! The set of classes a classifier knows: declared up front or discovered.

use crate::error::{ModelError, ParamsError};
use crate::model::NO_PREDICTION;
use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

/// Sorted, distinct class labels, like scikit-learn's `classes_`.
///
/// When declared (`fixed`), a label outside the set is an error; otherwise new
/// labels are inserted as they appear, and the models grow their state at the
/// same sorted position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Classes {
    labels: Vec<i64>,
    fixed: bool,
}

impl Classes {
    /// Classes to be discovered from the targets.
    pub fn discover() -> Self {
        Self::default()
    }

    /// A declared, fixed set of classes.
    pub fn declared(labels: &[i64]) -> Result<Self, ParamsError> {
        let mut sorted = labels.to_vec();
        sorted.sort_unstable();
        for w in sorted.windows(2) {
            if w[0] == w[1] {
                return Err(ParamsError::DuplicateClass(w[0]));
            }
        }
        if sorted.contains(&NO_PREDICTION) {
            return Err(ParamsError::ReservedClass(NO_PREDICTION));
        }
        Ok(Self { labels: sorted, fixed: true })
    }

    /// Declared classes when given, otherwise classes to be discovered.
    pub fn declared_or_discover(labels: Option<&[i64]>) -> Result<Self, ParamsError> {
        labels.map_or(Ok(Self::discover()), Self::declared)
    }

    /// The classes, sorted ascending.
    pub fn as_slice(&self) -> &[i64] {
        &self.labels
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when no class is known.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// True when the classes were declared and may not grow.
    pub fn is_fixed(&self) -> bool {
        self.fixed
    }

    /// Position of `label`, if known.
    pub fn index_of(&self, label: i64) -> Option<usize> {
        self.labels.binary_search(&label).ok()
    }

    /// Position of `label`, inserting it when it is new. Returns `(index, inserted)`.
    /// Only call after [`Classes::check`] accepted the label.
    pub(crate) fn index_or_insert(&mut self, label: i64) -> (usize, bool) {
        match self.labels.binary_search(&label) {
            Ok(i) => (i, false),
            Err(i) => {
                self.labels.insert(i, label);
                (i, true)
            }
        }
    }

    /// Check a decoded set: sorted, distinct, none reserved.
    pub(crate) fn check_state(&self) -> Result<(), String> {
        if self.labels.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("the classes {:?} are not sorted and distinct", self.labels));
        }
        if self.labels.contains(&NO_PREDICTION) {
            return Err(format!("the classes hold the reserved label {NO_PREDICTION}"));
        }
        Ok(())
    }

    /// Check the targets of a batch: none reserved, none undeclared.
    pub(crate) fn check(&self, y: ArrayView1<i64>) -> Result<(), ModelError> {
        for (row, &label) in y.iter().enumerate() {
            if label == NO_PREDICTION {
                return Err(ModelError::ReservedLabel { row, label });
            }
            if self.fixed && self.index_of(label).is_none() {
                return Err(ModelError::UnknownLabel { row, label, classes: self.labels.clone() });
            }
        }
        Ok(())
    }
}
