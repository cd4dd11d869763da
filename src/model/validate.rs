//! Batch checks shared by every model, run before any state changes.

use crate::error::ModelError;
use ndarray::{ArrayView1, ArrayView2};

/// Check the feature count against what the model knows (if anything) and that
/// every value is finite.
pub(crate) fn features(x: ArrayView2<f64>, expected: Option<usize>) -> Result<(), ModelError> {
    if x.ncols() == 0 {
        return Err(ModelError::NoFeatures);
    }
    if let Some(expected) = expected {
        if x.ncols() != expected {
            return Err(ModelError::FeatureCount { expected, got: x.ncols() });
        }
    }
    for (row, r) in x.outer_iter().enumerate() {
        for (column, &value) in r.iter().enumerate() {
            if !value.is_finite() {
                return Err(ModelError::NonFinite { row, column, value });
            }
        }
    }
    Ok(())
}

/// Check that rows and labels match in number.
pub(crate) fn label_count(x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
    if x.nrows() != y.len() {
        return Err(ModelError::LabelCount { rows: x.nrows(), labels: y.len() });
    }
    Ok(())
}

/// Refuse an empty batch for models that cannot learn from one.
pub(crate) fn non_empty(x: ArrayView2<f64>, model: &'static str) -> Result<(), ModelError> {
    if x.nrows() == 0 {
        return Err(ModelError::EmptyBatch(model));
    }
    Ok(())
}
