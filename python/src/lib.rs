//! `eddy._eddy`: the Rust half of the Python package. It holds eddy's models and
//! transformers and moves NumPy arrays in and out; the scikit-learn and River APIs,
//! labels of any type and pandas input are the pure-Python layer's (`python/eddy/`).
//!
//! Arrays of float64 are read in place, in C or Fortran order (eddy's models take
//! strided views). Small inputs are computed holding the GIL: releasing it would mean
//! copying them first (eddy must not read memory NumPy may free or change meanwhile).
//! From [`DETACH_VALUES`] values up, the input is copied once into memory eddy owns and
//! the GIL is released while eddy computes, so other Python threads run.

use eddy::drift::{Detector, Signal};
use eddy::model::{registry, Model, Transformer};
use eddy::model_file::{self, Header, Key, Keys};
use eddy::record::Categories;
use eddy::{ModelError, OnlineClassifier, OnlineClusterer};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::Path;
use std::sync::Arc;

/// Inputs of at least this many values are copied and computed without the GIL.
const DETACH_VALUES: usize = 1 << 16;

/// What errors name as the file of bytes handed in from Python.
const FROM_PYTHON: &str = "<bytes>";

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// `x`'s values, refused when NumPy's array is not aligned for its type (a view at an
/// odd byte offset): reading it would be undefined behaviour. The Python layer aligns
/// every array it hands in.
fn aligned<T: numpy::Element, D: ndarray::Dimension>(x: &numpy::PyReadonlyArray<'_, T, D>) -> PyResult<()> {
    use numpy::{PyArrayMethods, PyUntypedArrayMethods};
    let align = std::mem::align_of::<T>();
    let strides = x.strides().iter().all(|&s| s.unsigned_abs().is_multiple_of(align));
    if !(x.data() as usize).is_multiple_of(align) || !strides {
        return Err(value_error("the array is not aligned in memory: copy it (np.require(x, requirements='A'))"));
    }
    Ok(())
}

fn view<'a>(x: &'a PyReadonlyArray2<'_, f64>) -> PyResult<ArrayView2<'a, f64>> {
    aligned(x)?;
    Ok(x.as_array())
}

/// A batch handed in from Python: its numbers (see [`view`]) and its categorical columns.
fn records<'a>(
    x: &'a PyReadonlyArray2<'_, f64>,
    cat_names: Option<Vec<String>>,
    cat_values: Option<Vec<Option<String>>>,
) -> PyResult<(ArrayView2<'a, f64>, Categories)> {
    let x = view(x)?;
    let cats = categories(cat_names, cat_values, x.nrows())?;
    Ok((x, cats))
}

/// Run `f` on `x`: in place holding the GIL when small, else on a copy without it.
fn compute<T: Send>(py: Python<'_>, x: ArrayView2<'_, f64>, f: impl FnOnce(ArrayView2<'_, f64>) -> T + Send) -> T {
    if x.len() < DETACH_VALUES {
        return f(x);
    }
    let owned = x.to_owned();
    py.detach(move || f(owned.view()))
}

/// Categorical columns handed in from Python: their names and their values row-major
/// (`None`: missing), for `rows` records; none when no names are given.
fn categories(names: Option<Vec<String>>, values: Option<Vec<Option<String>>>, rows: usize) -> PyResult<Categories> {
    let Some(names) = names.filter(|n| !n.is_empty()) else { return Ok(Categories::empty(rows)) };
    let values = values.unwrap_or_default();
    // The same text shares one allocation within a batch, as the readers share it.
    let mut seen: std::collections::HashMap<String, Arc<str>> = std::collections::HashMap::new();
    let values = values
        .into_iter()
        .map(|v| v.map(|v| seen.entry(v).or_insert_with_key(|k| Arc::from(k.as_str())).clone()))
        .collect();
    Categories::new(Arc::from(names), values, rows).map_err(value_error)
}

/// A scaler's mean, variance and divisor of each feature, as NumPy arrays.
type Statistics<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

/// A linear model's coefficients and intercepts, as NumPy arrays.
type Weights<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>);

/// A model of the model language: a classifier or a clusterer, with its transformers.
#[pyclass(module = "eddy._eddy", name = "Model")]
#[derive(Clone)]
struct PyModel {
    model: Model,
}

/// Labels as eddy's class ids: one per row of `x`.
fn labels<'a>(y: &'a PyReadonlyArray1<'_, i64>, rows: usize) -> PyResult<ArrayView1<'a, i64>> {
    aligned(y)?;
    let y = y.as_array();
    if y.len() != rows {
        return Err(value_error(format!("{rows} rows and {} labels: give one label per row", y.len())));
    }
    Ok(y)
}

impl PyModel {
    /// The classifier, or a `TypeError` saying a clusterer has no `what`.
    fn classifier(&self, what: &str) -> PyResult<&eddy::model::ClassifierModel> {
        self.model
            .as_classifier()
            .ok_or_else(|| PyTypeError::new_err(format!("this model is a clusterer: it has no {what}")))
    }
}

#[pymethods]
impl PyModel {
    /// Build an untrained model from a spec such as `scale | sgd(loss=log_loss)`;
    /// `classes` declares a classifier's class ids up front.
    #[staticmethod]
    #[pyo3(signature = (spec, classes=None))]
    fn from_spec(spec: &str, classes: Option<Vec<i64>>) -> PyResult<Self> {
        let parsed = eddy::spec::parse(spec).map_err(value_error)?;
        let ctx = registry::Context { classes, ..registry::Context::default() };
        let model = registry::build(spec, &parsed, &ctx).map_err(value_error)?;
        Ok(Self { model })
    }

    /// `classifier` or `clusterer`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.model {
            Model::Classifier(_) => "classifier",
            Model::Clusterer(_) => "clusterer",
        }
    }

    /// The model in the model language (every parameter that differs from its default).
    fn spec(&self) -> String {
        self.model.spec()
    }

    /// Records learned so far.
    #[getter]
    fn records_seen(&self) -> u64 {
        self.model.records_seen()
    }

    /// Input features, once known.
    #[getter]
    fn n_features(&self) -> Option<usize> {
        self.model.n_features()
    }

    /// Rows a clusterer's first batch needs before it can start (0 once it has).
    #[getter]
    fn rows_to_start(&self) -> usize {
        self.model.as_clusterer().map_or(0, |m| m.rows_to_start())
    }

    /// A classifier's class ids, in its order.
    fn classes(&self) -> Vec<i64> {
        self.model.as_classifier().map(|m| m.classes().to_vec()).unwrap_or_default()
    }

    /// The prequential step: each row is labelled, then learned (`y`: a classifier's
    /// class ids; a clusterer takes none). `cat_names` and `cat_values` (row-major)
    /// are the records' categorical columns, if any.
    #[pyo3(signature = (x, y=None, cat_names=None, cat_values=None))]
    fn learn_predict<'py>(
        &mut self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        y: Option<PyReadonlyArray1<'py, i64>>,
        cat_names: Option<Vec<String>>,
        cat_values: Option<Vec<Option<String>>>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let (x, cats) = records(&x, cat_names, cat_values)?;
        let out: Result<Array1<i64>, ModelError> = match (&mut self.model, y) {
            (Model::Classifier(m), Some(y)) => {
                let y = labels(&y, x.nrows())?.to_owned();
                compute(py, x, move |x| m.learn_predict_with(x, &cats, y.view()))
            }
            (Model::Classifier(_), None) => return Err(value_error("a classifier learns from labels: give y")),
            (Model::Clusterer(m), None) => compute(py, x, move |x| m.learn_predict_with(x, &cats)),
            (Model::Clusterer(_), Some(_)) => {
                return Err(PyTypeError::new_err("this model is a clusterer: it takes no labels"))
            }
        };
        Ok(out.map_err(value_error)?.into_pyarray(py))
    }

    /// Learn the rows (scikit-learn's `partial_fit`).
    #[pyo3(signature = (x, y=None, cat_names=None, cat_values=None))]
    fn partial_fit<'py>(
        &mut self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        y: Option<PyReadonlyArray1<'py, i64>>,
        cat_names: Option<Vec<String>>,
        cat_values: Option<Vec<Option<String>>>,
    ) -> PyResult<()> {
        let (x, cats) = records(&x, cat_names, cat_values)?;
        let out = match (&mut self.model, y) {
            (Model::Classifier(m), Some(y)) => {
                let y = labels(&y, x.nrows())?.to_owned();
                compute(py, x, move |x| m.partial_fit_with(x, &cats, y.view()))
            }
            (Model::Classifier(_), None) => return Err(value_error("a classifier learns from labels: give y")),
            (Model::Clusterer(m), None) if cats.is_empty() => compute(py, x, move |x| m.partial_fit(x)),
            (Model::Clusterer(m), None) => compute(py, x, move |x| m.learn_predict_with(x, &cats).map(|_| ())),
            (Model::Clusterer(_), Some(_)) => {
                return Err(PyTypeError::new_err("this model is a clusterer: it takes no labels"))
            }
        };
        out.map_err(value_error)
    }

    /// The label of every row, without learning.
    #[pyo3(signature = (x, cat_names=None, cat_values=None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        cat_names: Option<Vec<String>>,
        cat_values: Option<Vec<Option<String>>>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let (x, cats) = records(&x, cat_names, cat_values)?;
        let model = &self.model;
        let out = compute(py, x, move |x| match model {
            Model::Classifier(m) => m.predict_with(x, &cats),
            Model::Clusterer(m) => m.predict_with(x, &cats),
        });
        Ok(out.map_err(value_error)?.into_pyarray(py))
    }

    /// Class probabilities, rows x classes in [`Self::classes`] order; `None` for a
    /// model without them.
    #[pyo3(signature = (x, cat_names=None, cat_values=None))]
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        cat_names: Option<Vec<String>>,
        cat_values: Option<Vec<Option<String>>>,
    ) -> PyResult<Option<Bound<'py, PyArray2<f64>>>> {
        let (x, cats) = records(&x, cat_names, cat_values)?;
        let m = self.classifier("class probabilities")?;
        let out: Option<Array2<f64>> = compute(py, x, move |x| m.predict_proba_with(x, &cats)).map_err(value_error)?;
        Ok(out.map(|p| p.into_pyarray(py)))
    }

    /// A linear classifier's decision scores (`rows x binary problems`, in the model's
    /// class order); `None` for other models.
    #[pyo3(signature = (x, cat_names=None, cat_values=None))]
    fn decision_function<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        cat_names: Option<Vec<String>>,
        cat_values: Option<Vec<Option<String>>>,
    ) -> PyResult<Option<Bound<'py, PyArray2<f64>>>> {
        let (x, cats) = records(&x, cat_names, cat_values)?;
        let m = self.classifier("decision scores")?;
        let out = compute(py, x, move |x| m.decision_function_with(x, &cats)).map_err(value_error)?;
        Ok(out.map(|s| s.into_pyarray(py)))
    }

    /// A linear classifier's coefficients and intercepts, when nothing stands before it.
    fn linear_weights<'py>(&self, py: Python<'py>) -> Option<Weights<'py>> {
        let (coef, intercept) = self.model.as_classifier()?.linear_weights()?;
        Some((coef.to_owned().into_pyarray(py), intercept.to_owned().into_pyarray(py)))
    }

    /// A clusterer's centres in input units (through the inverse of its transformers).
    fn cluster_centers<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray2<f64>>> {
        self.model.as_clusterer().and_then(|m| m.centers_in_input_units()).map(|c| c.into_pyarray(py))
    }

    /// The bytes of a model file, as `eddy run --save-model` writes it: `features` and
    /// `classes` name the columns and class ids in its header.
    /// `categorical` names the categorical columns records carry beside `features`.
    /// `class_values` is the classes' values as a JSON array, when they are not text.
    #[pyo3(signature = (features, classes=None, signing_key=None, encryption_key=None, categorical=None, class_values=None))]
    // Python's keyword arguments: each is optional at the call.
    #[allow(clippy::too_many_arguments)]
    fn to_bytes<'py>(
        &self,
        py: Python<'py>,
        features: Vec<String>,
        classes: Option<Vec<String>>,
        signing_key: Option<&[u8]>,
        encryption_key: Option<&[u8]>,
        categorical: Option<Vec<String>>,
        class_values: Option<&str>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if let Some(d) = self.model.n_features().filter(|&d| d != features.len()) {
            return Err(value_error(format!("the model takes {d} features and {} are named", features.len())));
        }
        let keys = keys(signing_key, encryption_key)?;
        let class_values: Option<Vec<serde_json::Value>> =
            class_values.map(serde_json::from_str).transpose().map_err(value_error)?;
        if let (Some(values), Some(names)) = (&class_values, &classes) {
            if values.len() != names.len() {
                return Err(value_error(format!("{} class names and {} class values", names.len(), values.len())));
            }
        }
        let header = Header {
            categorical: categorical.unwrap_or_default(),
            class_values,
            ..Header::for_model(&self.model, features, classes)
        };
        let bytes = model_file::encode(Path::new(FROM_PYTHON), &header, &self.model, &keys).map_err(value_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A model from a model file's bytes, verified (and decrypted) with the keys
    /// given, with its header as JSON.
    /// `path` names the bytes in errors (the file they were read from).
    #[staticmethod]
    #[pyo3(signature = (data, signing_key=None, encryption_key=None, path=None))]
    fn from_bytes(
        data: &[u8],
        signing_key: Option<&[u8]>,
        encryption_key: Option<&[u8]>,
        path: Option<std::path::PathBuf>,
    ) -> PyResult<(Self, String)> {
        let keys = keys(signing_key, encryption_key)?;
        let path = path.unwrap_or_else(|| FROM_PYTHON.into());
        let (header, model) = model_file::decode_model(&path, data, &keys).map_err(value_error)?;
        let header = serde_json::to_string(&header).map_err(value_error)?;
        Ok((Self { model }, header))
    }

    /// An independent copy.
    fn copy(&self) -> Self {
        self.clone()
    }
}

/// A key of 32 bytes, or 64 hexadecimal digits as bytes.
fn key(bytes: &[u8]) -> PyResult<Key> {
    let bad = || value_error("a key is 32 bytes, or 64 hexadecimal digits");
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Ok(Key::from_bytes(raw));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut raw = [0u8; 32];
    for (i, byte) in raw.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(Key::from_bytes(raw))
}

fn keys(signing: Option<&[u8]>, encryption: Option<&[u8]>) -> PyResult<Keys> {
    Ok(Keys { signing: signing.map(key).transpose()?, encryption: encryption.map(key).transpose()? })
}

/// One transformer alone (`scale`, `impute`, ...), for scikit-learn pipelines.
#[pyclass(module = "eddy._eddy", name = "Transformer")]
#[derive(Clone)]
struct PyTransformer {
    stage: Box<dyn Transformer>,
}

/// A transformer alone gives numbers: categorical columns it leaves would be lost.
fn refuse_left(left: &Categories) -> PyResult<()> {
    if left.is_empty() {
        return Ok(());
    }
    Err(not_encoded(left.names()))
}

fn not_encoded(names: &[String]) -> PyErr {
    value_error(format!(
        "categorical columns {} are not encoded by this transformer: encode them (onehot, hash) or leave them out",
        names.join(", ")
    ))
}

/// The body kind of a transformer's bytes.
const TRANSFORMER_KIND: &str = "transformer";

#[pymethods]
impl PyTransformer {
    /// Build one transformer from its spec, e.g. `scale(with_mean=false)`.
    #[staticmethod]
    fn from_spec(spec: &str) -> PyResult<Self> {
        Ok(Self { stage: registry::build_transformer(spec).map_err(value_error)? })
    }

    /// The transformer in the model language.
    fn spec(&self) -> String {
        registry::stage_spec(self.stage.as_ref())
    }

    /// Records learned so far.
    #[getter]
    fn records_seen(&self) -> u64 {
        self.stage.records_seen()
    }

    /// Input features, once known.
    #[getter]
    fn n_features(&self) -> Option<usize> {
        self.stage.n_features_in()
    }

    /// A scaler's running mean, variance and divisor of each feature, once learned.
    fn statistics<'py>(&self, py: Python<'py>) -> Option<Statistics<'py>> {
        let (mean, var, scale) = self.stage.statistics()?;
        Some((mean.into_pyarray(py), var.into_pyarray(py), scale.into_pyarray(py)))
    }

    /// Output columns, once known (an encoder's grow as categories appear).
    #[getter]
    fn n_features_out(&self) -> Option<usize> {
        self.stage.n_features_out()
    }

    /// Learn the rows, then transform them with what was learned (`row_by_row`: each
    /// row with the statistics up to and including it). An encoder appends a column
    /// per category of `cat_names`/`cat_values` (row-major).
    #[pyo3(signature = (x, row_by_row=false, cat_names=None, cat_values=None))]
    fn learn_transform<'py>(
        &mut self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        row_by_row: bool,
        cat_names: Option<Vec<String>>,
        cat_values: Option<Vec<Option<String>>>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (x, cats) = records(&x, cat_names, cat_values)?;
        // Refused before learning: a transformer must not learn a batch it then refuses.
        let left = self.stage.categorical_out(cats.names()).map_err(value_error)?;
        if !left.is_empty() {
            return Err(not_encoded(&left));
        }
        let stage = &mut self.stage;
        let (out, left) = compute(py, x, move |x| {
            stage.learn_transform_with(x, &cats, row_by_row).map(|(z, l)| (z, l.unwrap_or(cats)))
        })
        .map_err(value_error)?;
        refuse_left(&left)?;
        Ok(out.into_pyarray(py))
    }

    /// Transform the rows with what was learned so far.
    #[pyo3(signature = (x, cat_names=None, cat_values=None))]
    fn transform<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        cat_names: Option<Vec<String>>,
        cat_values: Option<Vec<Option<String>>>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (x, cats) = records(&x, cat_names, cat_values)?;
        let stage = &self.stage;
        let (out, left) = compute(py, x, move |x| stage.transform_with(x, &cats).map(|(z, l)| (z, l.unwrap_or(cats))))
            .map_err(value_error)?;
        refuse_left(&left)?;
        Ok(out.into_pyarray(py))
    }

    /// Transformed rows back in input units, when this transformer can be undone.
    fn inverse_transform<'py>(
        &self,
        py: Python<'py>,
        z: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Option<Bound<'py, PyArray2<f64>>>> {
        let z = view(&z)?;
        if self.stage.n_features_out().is_some_and(|d| d != z.ncols()) {
            return Err(value_error(format!(
                "{} columns; the transformer gives {:?}",
                z.ncols(),
                self.stage.n_features_out()
            )));
        }
        Ok(self.stage.inverse_transform(z).map(|a| a.into_pyarray(py)))
    }

    /// Its state as bytes (a checksummed envelope, as model files are).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let header = Header::new(TRANSFORMER_KIND, Vec::new(), None, self.stage.records_seen());
        let bytes =
            model_file::encode(Path::new(FROM_PYTHON), &header, &self.stage, &Keys::default()).map_err(value_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A transformer from [`Self::to_bytes`]'s bytes.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        let (_, stage): (Header, Box<dyn Transformer>) =
            model_file::decode(Path::new(FROM_PYTHON), data, TRANSFORMER_KIND, &Keys::default())
                .map_err(value_error)?;
        Ok(Self { stage })
    }

    /// An independent copy.
    fn copy(&self) -> Self {
        self.clone()
    }
}

/// A drift detector (`adwin`, `ddm`, ...), River's `update` one value at a time.
#[pyclass(module = "eddy._eddy", name = "Detector")]
#[derive(Clone)]
struct PyDetector {
    detector: Box<dyn Detector>,
}

/// The body kind of a detector's bytes.
const DETECTOR_KIND: &str = "detector";

#[pymethods]
impl PyDetector {
    /// Build a detector from its spec, e.g. `adwin(delta=0.01)`.
    #[staticmethod]
    fn from_spec(spec: &str) -> PyResult<Self> {
        Ok(Self { detector: eddy::drift::registry::build_text(spec).map_err(value_error)? })
    }

    /// The detector in the spec language.
    fn spec(&self) -> String {
        self.detector.spec()
    }

    /// Take one value: `none`, `warning` or `drift`. A value the detector does not
    /// take (not finite; not 0 or 1 for a detector of errors) raises `ValueError`.
    fn update(&mut self, x: f64) -> PyResult<&'static str> {
        self.detector.check_value(x).map_err(value_error)?;
        Ok(match self.detector.update(x) {
            Signal::None => "none",
            Signal::Warning => "warning",
            Signal::Drift => "drift",
        })
    }

    /// Take many values; the index and signal of each warning and drift.
    fn update_many(&mut self, py: Python<'_>, xs: PyReadonlyArray1<'_, f64>) -> PyResult<Vec<(usize, &'static str)>> {
        aligned(&xs)?;
        let xs = xs.as_array();
        if let Some(bad) = xs.iter().find_map(|&x| self.detector.check_value(x).err()) {
            return Err(value_error(bad));
        }
        let detector = &mut self.detector;
        let xs = xs.to_owned();
        Ok(py.detach(move || {
            xs.iter()
                .enumerate()
                .filter_map(|(i, &x)| match detector.update(x) {
                    Signal::None => None,
                    Signal::Warning => Some((i, "warning")),
                    Signal::Drift => Some((i, "drift")),
                })
                .collect()
        }))
    }

    /// The detector's estimate of the watched level (ADWIN's window mean), if it keeps one.
    #[getter]
    fn estimation(&self) -> Option<f64> {
        self.detector.estimation()
    }

    /// Forget everything seen.
    fn reset(&mut self) {
        self.detector.reset();
    }

    /// Its state as bytes (a checksummed envelope, as model files are).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let header = Header::new(DETECTOR_KIND, Vec::new(), None, 0);
        let bytes = model_file::encode(Path::new(FROM_PYTHON), &header, &self.detector, &Keys::default())
            .map_err(value_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A detector from [`Self::to_bytes`]'s bytes.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        let (_, detector): (Header, Box<dyn Detector>) =
            model_file::decode(Path::new(FROM_PYTHON), data, DETECTOR_KIND, &Keys::default()).map_err(value_error)?;
        detector.check_state().map_err(value_error)?;
        Ok(Self { detector })
    }

    /// An independent copy.
    fn copy(&self) -> Self {
        self.clone()
    }
}

/// Every drift detector as JSON: name, River's class, what it takes, its parameters.
#[pyfunction]
fn detectors_json() -> String {
    let entries: Vec<serde_json::Value> = eddy::drift::registry::ENTRIES
        .iter()
        .map(|e| {
            let defaults = (e.defaults)();
            serde_json::json!({
                "name": e.name,
                "role": "detector",
                "summary": e.summary,
                "river": e.river,
                "binary": matches!(e.input, eddy::drift::Input::Binary),
                "warns": e.warns,
                "params": params_json(e.params, &defaults),
            })
        })
        .collect();
    serde_json::Value::Array(entries).to_string()
}

fn params_json(params: &[registry::Param], defaults: &serde_json::Value) -> Vec<serde_json::Value> {
    params
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name,
                "kind": kind_name(p.kind),
                "default": defaults.get(p.name).cloned().unwrap_or(serde_json::Value::Null),
                "doc": p.doc,
                "allowed": p.allowed(),
                "choices": choices(p.kind),
            })
        })
        .collect()
}

/// The names a parameter takes (`canonical|alias` spellings split), when it takes names.
fn choices(kind: registry::Kind) -> Vec<&'static str> {
    match kind {
        registry::Kind::Choice(names) | registry::Kind::CountOrShare(names) => {
            names.iter().flat_map(|n| n.split('|')).collect()
        }
        _ => Vec::new(),
    }
}

/// Every stage of the model language as JSON: name, role, summary, and each
/// parameter's name, kind, default and doc. The Python layer makes its estimator
/// classes from it, so a stage added to the registry reaches Python unedited.
#[pyfunction]
fn registry_json() -> String {
    let entries: Vec<serde_json::Value> = registry::ENTRIES
        .iter()
        .map(|e| {
            let params = params_json(e.params, &(e.defaults)());
            serde_json::json!({"name": e.name, "role": e.role.word(), "summary": e.summary, "params": params})
        })
        .collect();
    serde_json::Value::Array(entries).to_string()
}

/// How the Python layer writes a parameter's value into a spec.
fn kind_name(kind: registry::Kind) -> &'static str {
    use registry::Kind;
    match kind {
        Kind::Float { .. } => "float",
        Kind::Int { .. } => "int",
        Kind::Bool => "bool",
        Kind::Choice(_) => "choice",
        Kind::Model(_) => "model",
        Kind::Models(_) => "models",
        Kind::Detector => "detector",
        Kind::Columns => "columns",
        Kind::Scalar => "scalar",
        Kind::CountOrShare(_) => "count_or_share",
    }
}

/// The eddy version this extension was built from.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The extension module.
#[pymodule]
fn _eddy(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_class::<PyTransformer>()?;
    m.add_class::<PyDetector>()?;
    m.add_function(wrap_pyfunction!(registry_json, m)?)?;
    m.add_function(wrap_pyfunction!(detectors_json, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
