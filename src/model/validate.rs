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
    // A contiguous batch that is all finite (the usual case) is checked in one pass
    // without early exits, which the compiler vectorises; the loop below finds where.
    if x.as_slice().is_some_and(|all| all.iter().fold(true, |ok, v| ok & v.is_finite())) {
        return Ok(());
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

/// Checks of a model's state after it was decoded from a file: the state must fit
/// together before any method indexes into it. Each returns what is inconsistent.
pub(crate) mod state {
    use ndarray::{ArrayBase, Data, Dimension};

    /// `what` has shape `want`.
    pub(crate) fn shape<S: Data, D: Dimension>(what: &str, a: &ArrayBase<S, D>, want: &[usize]) -> Result<(), String> {
        if a.shape() != want {
            return Err(format!("{what} has shape {:?}, expected {want:?}", a.shape()));
        }
        Ok(())
    }

    /// Every value of `what` is finite.
    pub(crate) fn finite<S: Data<Elem = f64>, D: Dimension>(what: &str, a: &ArrayBase<S, D>) -> Result<(), String> {
        match a.iter().find(|v| !v.is_finite()) {
            Some(v) => Err(format!("{what} holds {v}, not a finite number")),
            None => Ok(()),
        }
    }

    /// Every value of `what` is finite and not negative.
    pub(crate) fn counts<S: Data<Elem = f64>, D: Dimension>(what: &str, a: &ArrayBase<S, D>) -> Result<(), String> {
        finite(what, a)?;
        match a.iter().find(|v| **v < 0.0) {
            Some(v) => Err(format!("{what} holds {v}, but it counts")),
            None => Ok(()),
        }
    }

    /// `ok`, or `message`.
    pub(crate) fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
        if ok {
            Ok(())
        } else {
            Err(message())
        }
    }
}
