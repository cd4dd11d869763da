"""The estimators' machinery: parameters as scikit-learn keeps them, specs, labels of
any type, input checks, and model files. The classes themselves are made from eddy's
registry in ``_registry.py``."""

from __future__ import annotations

import json
import os

import numpy as np

from . import _eddy

#: The label eddy gives a record when the model knows no class yet.
NO_PREDICTION = np.iinfo(np.int64).min
#: What ``__getstate__`` writes; ``__setstate__`` refuses others.
PICKLE_VERSION = 1


class NotFittedError(ValueError, AttributeError):
    """Predicting before learning anything (scikit-learn's ``NotFittedError`` is
    both a ``ValueError`` and an ``AttributeError`` too)."""


# --------------------------------------------------------------------------- specs


def _is_name(text: str) -> bool:
    return bool(text) and all(c.isalnum() or c in "_-." for c in text) and not text[0].isdigit()


def _quote(text: str) -> str:
    return text if _is_name(text) else json.dumps(text)


def _number(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"a number, not {value!r}")
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"a finite number, not {value!r}")
    return repr(value)


def value_as_spec(kind: str, value) -> str:
    """A parameter's Python value as the model language writes it."""
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"True or False, not {value!r}")
        return "true" if value else "false"
    if kind in ("float", "int"):
        return _number(value)
    if kind in ("model", "detector"):
        return value.spec() if hasattr(value, "spec") and callable(value.spec) else str(value)
    if kind in ("models", "columns") and isinstance(value, str) and value.startswith("["):
        return value  # already in the model language (as a loaded model's spec gives it)
    if kind == "models":
        return "[" + ", ".join(value_as_spec("model", v) for v in value) + "]"
    if kind == "columns":
        if isinstance(value, str):
            value = [value]
        return "[" + ", ".join(_quote(str(v)) for v in value) + "]"
    if kind == "scalar":
        return json.dumps(value) if isinstance(value, str) else _number(value)
    if kind == "count_or_share":
        return value if isinstance(value, str) else _number(value)
    return str(value)  # a choice


# --------------------------------------------------------------------------- input


def _feature_names(X):
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = [str(c) for c in columns]
    return names if all(isinstance(c, str) for c in columns) else None


def as_rows(X, what="X") -> np.ndarray:
    """``X`` as a 2-D float64 array, read in place when it already is one (C or
    Fortran order); pandas frames and other types converted once."""
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
        X = X.to_numpy(dtype=np.float64)
    try:
        rows = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be numeric: {e}") from None
    if rows.ndim != 2:
        raise ValueError(
            f"Expected a 2D array for {what}, got a {rows.ndim}D array instead: reshape it with "
            "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single record"
        )
    if not (rows.flags.c_contiguous or rows.flags.f_contiguous):
        rows = np.ascontiguousarray(rows)
    return rows


def _cats(names, values):
    """Categorical columns as the extension takes them: text, or None where missing."""
    if not names:
        return {}
    return {"cat_names": list(names), "cat_values": [None if _missing(v) else str(v) for v in values]}


def _missing(v) -> bool:
    if v is None:
        return True
    try:
        return bool(v != v)  # NaN, and pandas' NA and NaT
    except (TypeError, ValueError):
        return False


def _record_of(x):
    """A River record: a dict of feature name to value."""
    if not isinstance(x, dict):
        raise TypeError(f"x is a dict of feature name to value, not {type(x).__name__}")
    return x


def _key(key):
    """A key as eddy takes it: 32 bytes, 64 hexadecimal digits, or a key file's path."""
    if key is None:
        return None
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    if isinstance(key, str) and len(key.strip()) == 64:
        return key.strip().encode()
    if isinstance(key, (str, os.PathLike)):
        with open(key, "rb") as f:
            return f.read()
    raise TypeError(f"a key is bytes, a hexadecimal str or a key file's path, not {type(key).__name__}")


# --------------------------------------------------------------------------- labels


class _Labels:
    """Labels of any hashable type and eddy's int64 class ids, both ways: a new label
    gets the next id, in the order labels are first seen (as eddy's command line
    numbers the classes of a file)."""

    def __init__(self, labels=()):
        self.labels = []
        self.ids = {}
        self._table = None
        for label in labels:
            self.id_of(label)

    def id_of(self, label) -> int:
        if isinstance(label, np.generic):
            label = label.item()
        found = self.ids.get(label)
        if found is None:
            if label is None or (isinstance(label, float) and label != label):
                raise ValueError(f"a label may not be {label!r}")
            found = len(self.labels)
            self.ids[label] = found
            self.labels.append(label)
            self._table = None
        return found

    def forget_after(self, n: int):
        """Forget the labels first seen after the first ``n``."""
        for label in self.labels[n:]:
            del self.ids[label]
        del self.labels[n:]
        self._table = None

    def encode(self, y, learn=True) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D, one label per row; it has shape {y.shape}")
        try:
            # A few distinct labels per batch: map those, then index (no Python loop per row).
            distinct, first, inverse = np.unique(y, return_index=True, return_inverse=True)
        except TypeError:  # labels NumPy cannot order (mixed types): one at a time
            distinct, first, inverse = np.asarray(y.tolist() + [], dtype=object), np.arange(len(y)), np.arange(len(y))
        ids = np.empty(len(distinct), dtype=np.int64)
        # New labels are numbered in the order they first appear, as row by row.
        for k in np.argsort(first, kind="stable"):
            label = distinct[k]
            ids[k] = self.id_of(label) if learn else self.ids.get(label.item() if isinstance(label, np.generic) else label, -1)
        return ids[inverse.reshape(-1)]

    def table(self) -> np.ndarray:
        if self._table is None:
            self._table = np.asarray(self.labels) if self.labels else np.asarray([], dtype=object)
            if self._table.ndim != 1:  # labels that NumPy would nest (tuples)
                table = np.empty(len(self.labels), dtype=object)
                table[:] = self.labels
                self._table = table
        return self._table

    def decode(self, ids: np.ndarray) -> np.ndarray:
        missing = ids == NO_PREDICTION
        table = self.table()
        if not missing.any():
            return table[ids]
        # The first records of a stream with no class yet: None where there is no label.
        out = np.empty(len(ids), dtype=object)
        out[~missing] = table[ids[~missing]]
        out[missing] = None
        return out


# --------------------------------------------------------------------------- estimators


class Estimator:
    """What every eddy estimator shares: its parameters (``get_params``/``set_params``,
    so ``sklearn.base.clone`` works), its spec in the model language, the features it
    was given, pickling through eddy's model-file bytes, and ``save``."""

    #: The registry entry (set on each generated class).
    _entry: dict = {}

    # ---- parameters

    @classmethod
    def _param_names(cls):
        return [p["name"] for p in cls._entry["params"]]

    def get_params(self, deep=True):
        """The parameters, as given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set parameters; a learning estimator takes them at its next ``fit`` (or
        its first ``partial_fit``)."""
        names = self._param_names()
        for name, value in params.items():
            if name not in names:
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}; it has {', '.join(names)}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = {p["name"]: p["default"] for p in self._entry["params"]}
        args = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults.get(k))]
        return f"{type(self).__name__}({', '.join(args)})"

    def spec(self) -> str:
        """The estimator in eddy's model language, as ``eddy run --model`` takes it."""
        args = []
        for p in self._entry["params"]:
            value = getattr(self, p["name"])
            if not _same(value, p["default"]):
                args.append(f"{p['name']}={value_as_spec(p['kind'], value)}")
        name = self._entry["name"]
        return f"{name}({', '.join(args)})" if args else name

    def __sklearn_tags__(self):
        # Asked only by scikit-learn, so importing it here keeps it optional.
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags, TransformerTags

        kind = getattr(self, "_estimator_type", None)
        return Tags(
            estimator_type=kind,
            target_tags=TargetTags(required=kind == "classifier"),
            transformer_tags=TransformerTags() if isinstance(self, TransformerMixin) else None,
            classifier_tags=ClassifierTags() if kind == "classifier" else None,
            input_tags=InputTags(allow_nan=False),
        )

    # ---- state

    def _reset(self):
        for attr in ("_model", "_labels", "feature_names_in_", "n_features_in_", "_categorical"):
            self.__dict__.pop(attr, None)

    def _rows(self, X, learning):
        """``X`` as eddy takes it: float64 rows, and the categorical columns beside them
        as ``{"cat_names": [...], "cat_values": [...]}`` (row-major; empty when there are
        none). A pandas frame's non-numeric columns and a record's text values are
        categorical; which columns are is fixed by the first input learned."""
        if isinstance(X, dict):
            return self._record(X, learning)
        names = _feature_names(X)
        seen = self.__dict__.get("feature_names_in_")
        if seen is not None and names is not None and set(seen) != set(names):
            raise ValueError(f"the feature names differ from those seen first: {names} vs {list(seen)}")
        categorical = self.__dict__.get("_categorical")
        if names is not None and hasattr(X, "dtypes"):
            if categorical is None:
                categorical = [n for n, t in zip(names, X.dtypes) if getattr(t, "kind", "O") not in "biuf"]
            # Columns are taken by name, in the order first seen (a frame may order them otherwise).
            numeric = [n for n in (list(seen) if seen is not None else names) if n not in categorical]
            rows = as_rows(X[numeric]) if numeric else np.empty((len(X), 0))
            values = X[categorical].to_numpy(dtype=object).ravel().tolist() if categorical else []
            cats = _cats(categorical, values)
        else:
            if categorical:
                raise ValueError(
                    f"{type(self).__name__} learned categorical columns ({', '.join(categorical)}): "
                    "give a pandas DataFrame (or dict records) that has them"
                )
            rows, cats = as_rows(X), {}
        width = rows.shape[1] + len(cats.get("cat_names", []))
        known = self.__dict__.get("n_features_in_")
        if known is not None and width != known:
            raise ValueError(f"X has {width} features, but {type(self).__name__} takes {known}")
        if learning and known is None:
            self.n_features_in_ = width
            self._categorical = list(categorical or [])
            if names is not None:
                self.feature_names_in_ = np.asarray(names, dtype=object)
        return rows, cats

    def _record(self, x, learning):
        """One record given as a dict (River's way): the first record learned fixes the
        features' order and which are categorical (those with text values)."""
        names = self.__dict__.get("feature_names_in_")
        categorical = self.__dict__.get("_categorical")
        if names is None:
            names = [str(k) for k in x]
            categorical = [str(k) for k, v in x.items() if isinstance(v, str)]
            if learning:
                self.feature_names_in_ = np.asarray(names, dtype=object)
                self.n_features_in_ = len(names)
                self._categorical = categorical
        categorical = categorical or []
        numeric = [n for n in names if n not in categorical]
        try:
            row = np.fromiter((np.nan if x.get(k) is None else x[k] for k in numeric), dtype=np.float64, count=len(numeric))
        except (TypeError, ValueError) as e:
            raise ValueError(f"a numeric feature of the record is not a number: {e}") from None
        return row.reshape(1, -1), _cats(categorical, [x.get(k) for k in categorical])

    def _fitted(self):
        model = self.__dict__.get("_model")
        if model is None or model.records_seen == 0:
            raise NotFittedError(f"This {type(self).__name__} has learned nothing yet: call partial_fit or fit first")
        return model

    def _features(self):
        """The numeric features' names, as a model file's header lists them."""
        names = self.__dict__.get("feature_names_in_")
        categorical = self.__dict__.get("_categorical") or []
        if names is not None:
            return [str(n) for n in names if str(n) not in categorical]
        return [f"x{i}" for i in range(self.__dict__.get("n_features_in_", 0))]

    def __getstate__(self):
        state = {"pickle_version": PICKLE_VERSION, "eddy": _eddy.version(), "params": self.get_params()}
        model = self.__dict__.get("_model")
        if model is not None:
            state["model"] = self._model_bytes(model)
        for attr in ("_labels", "feature_names_in_", "n_features_in_", "_categorical"):
            if attr in self.__dict__:
                value = self.__dict__[attr]
                state[attr] = value.labels if attr == "_labels" else value
        return state

    def __setstate__(self, state):
        if state.get("pickle_version") != PICKLE_VERSION:
            raise ValueError(f"pickled by another eddy (pickle version {state.get('pickle_version')!r})")
        self.__dict__.update(state["params"])
        if "model" in state:
            self._model = self._model_from_bytes(state["model"])
        if "_labels" in state:
            self._labels = _Labels(state["_labels"])
        for attr in ("feature_names_in_", "n_features_in_", "_categorical"):
            if attr in state:
                setattr(self, attr, state[attr])

    def _model_bytes(self, model):
        return model.to_bytes(self._features(), self._class_names(), categorical=self.__dict__.get("_categorical"))

    def _model_from_bytes(self, data):
        return _eddy.Model.from_bytes(data)[0]

    def _class_names(self):
        return None

    def save(self, path, signing_key=None, encryption_key=None):
        """Write the model to ``path`` as an eddy model file (signed and encrypted with
        the keys given): ``eddy serve --model`` and ``eddy run --load-model`` read it,
        and so does ``eddy.load``."""
        model = self.__dict__.get("_model")
        if model is None:
            model = self._new_model()
        data = model.to_bytes(
            self._features(),
            self._class_names(),
            _key(signing_key),
            _key(encryption_key),
            categorical=self.__dict__.get("_categorical"),
        )
        tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return self

    def _new_model(self, classes=None):
        return _eddy.Model.from_spec(self.spec(), classes)


def _same(a, b) -> bool:
    if isinstance(a, Estimator) or isinstance(b, Estimator):
        return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (bool, np.bool_)) != isinstance(b, (bool, np.bool_)):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


class ClassifierMixin:
    """scikit-learn's classifier API and River's, on an eddy classifier."""

    _estimator_type = "classifier"

    def _class_names(self):
        labels = self.__dict__.get("_labels")
        return [str(v) for v in labels.labels] if labels is not None else None

    def _model_from_bytes(self, data):
        return _eddy.Model.from_bytes(data)[0]

    def _learn(self, X, y, classes, step):
        rows, cats = self._rows(X, learning=True)
        labels = self.__dict__.get("_labels")
        if labels is None:
            # Declared classes are numbered in sorted order, as scikit-learn's classes_.
            labels = _Labels(np.unique(np.asarray(classes)).tolist() if classes is not None else ())
            self._labels = labels
        model = self.__dict__.get("_model")
        if model is None:
            model = self._new_model(list(range(len(labels.labels))) if labels.labels else None)
            self._model = model
        known = len(labels.labels)
        try:
            ids = labels.encode(y)
            if len(ids) != rows.shape[0]:
                raise ValueError(f"{rows.shape[0]} rows and {len(ids)} labels: give one label per row")
            return step(model, rows, ids, cats)
        except Exception:
            # The model refused the batch and is unchanged: so are the labels it knows.
            labels.forget_after(known)
            raise

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Learn the rows (scikit-learn's ``partial_fit``). ``classes`` may be left
        out: a new class is learned when it first appears."""
        if sample_weight is not None:
            raise ValueError("eddy's classifiers take no sample weights")
        self._learn(X, y, classes, lambda m, rows, ids, cats: m.partial_fit(rows, ids, **cats))
        return self

    def fit(self, X, y, classes=None):
        """Forget everything, then learn the rows once, in order."""
        self._reset()
        return self.partial_fit(X, y, classes)

    def learn_predict(self, X, y):
        """The prequential step: each row is labelled, then learned, row by row (the
        labels eddy's command line writes for the same stream)."""
        ids = self._learn(X, y, None, lambda m, rows, ids, cats: m.learn_predict(rows, ids, **cats))
        return self._labels.decode(ids)

    def predict(self, X):
        """The class of every row."""
        model = self._fitted()
        rows, cats = self._rows(X, learning=False)
        return self._labels.decode(model.predict(rows, **cats))

    def predict_proba(self, X):
        """Class probabilities, a column per class of ``classes_``."""
        model = self._fitted()
        rows, cats = self._rows(X, learning=False)
        proba = model.predict_proba(rows, **cats)
        if proba is None:
            raise AttributeError(f"{type(self).__name__} gives no probabilities")
        return proba

    def score(self, X, y, sample_weight=None):
        """Accuracy of ``predict`` on the rows."""
        predicted = self.predict(X)
        y = np.asarray(y)
        return float(np.average(predicted == y, weights=sample_weight))

    @property
    def classes_(self):
        model = self._fitted()
        return self._labels.table()[np.asarray(model.classes(), dtype=np.int64)]

    # ---- River

    _one = staticmethod(lambda x: _record_of(x))

    def learn_one(self, x, y):
        """Learn one record (River's ``learn_one``): ``x`` a dict of features."""
        self.partial_fit(self._one(x), [y])

    def predict_one(self, x):
        """The class of one record, or None before any class is known."""
        model = self.__dict__.get("_model")
        if model is None or model.records_seen == 0:
            return None
        return self.predict(self._one(x))[0]

    def predict_proba_one(self, x):
        """Each known class's probability for one record, as a dict."""
        model = self.__dict__.get("_model")
        if model is None or model.records_seen == 0:
            return {}
        proba = self.predict_proba(self._one(x))[0]
        return dict(zip(self.classes_.tolist(), proba.tolist()))


class ClustererMixin:
    """scikit-learn's clusterer API and River's, on an eddy clusterer."""

    _estimator_type = "clusterer"

    def _learn(self, X, step):
        rows, cats = self._rows(X, learning=True)
        model = self.__dict__.get("_model")
        if model is None:
            model = self._model = self._new_model()
        return step(model, rows, cats)

    def partial_fit(self, X, y=None, sample_weight=None):
        """Learn the rows as one mini-batch (scikit-learn's ``partial_fit``)."""
        if sample_weight is not None:
            raise ValueError("eddy's clusterers take no sample weights")
        self._learn(X, lambda m, rows, cats: m.partial_fit(rows, **cats))
        return self

    def fit(self, X, y=None):
        """Forget everything, then learn the rows as one mini-batch."""
        self._reset()
        self.partial_fit(X)
        self.labels_ = self.predict(X)
        return self

    def fit_predict(self, X, y=None):
        return self.fit(X).labels_

    def learn_predict(self, X, y=None):
        """The prequential step: the centre each row was given as it was learned."""
        return self._learn(X, lambda m, rows, cats: m.learn_predict(rows, **cats))

    def predict(self, X):
        """The nearest centre of every row."""
        model = self._fitted()
        rows, cats = self._rows(X, learning=False)
        return model.predict(rows, **cats)

    def score(self, X, y=None):
        """Minus the summed squared distances of the rows to their nearest centres
        (scikit-learn's ``KMeans.score``), in input units, of numeric records."""
        labels = self.predict(X)
        rows, _ = self._rows(X, learning=False)
        centres = self.cluster_centers_
        return -float(((rows - centres[labels]) ** 2).sum())

    @property
    def cluster_centers_(self):
        return self._fitted().cluster_centers()

    # ---- River

    _one = staticmethod(lambda x: _record_of(x))

    def learn_one(self, x):
        """Learn one record (a mini-batch of one, River's ``learn_one``)."""
        self.partial_fit(self._one(x))

    def predict_one(self, x):
        """The nearest centre of one record, or None before any."""
        model = self.__dict__.get("_model")
        if model is None or model.records_seen == 0:
            return None
        return int(self.predict(self._one(x))[0])


class TransformerMixin:
    """scikit-learn's transformer API and River's, on one eddy transformer."""

    def _new_model(self, classes=None):
        return _eddy.Transformer.from_spec(self.spec())

    def _model_bytes(self, model):
        return model.to_bytes()

    def _model_from_bytes(self, data):
        return _eddy.Transformer.from_bytes(data)

    def save(self, path, signing_key=None, encryption_key=None):
        raise TypeError("a transformer alone is no model file: put it in a chain, e.g. eddy.Model('scale | sgd')")

    def _stage(self):
        model = self.__dict__.get("_model")
        if model is None:
            model = self._model = self._new_model()
        return model

    def partial_fit(self, X, y=None):
        """Learn the rows."""
        rows, cats = self._rows(X, learning=True)
        self._stage().learn_transform(rows, **cats)
        return self

    def fit(self, X, y=None):
        """Forget everything, then learn the rows."""
        self._reset()
        return self.partial_fit(X)

    def transform(self, X):
        """The rows transformed with what was learned so far."""
        model = self._fitted()
        rows, cats = self._rows(X, learning=False)
        return model.transform(rows, **cats)

    def fit_transform(self, X, y=None):
        self.fit(X)
        return self.transform(X)

    def inverse_transform(self, X):
        out = self._fitted().inverse_transform(as_rows(X))
        if out is None:
            raise ValueError(f"{type(self).__name__} cannot be undone")
        return out

    _one = staticmethod(lambda x: _record_of(x))

    def learn_one(self, x):
        """Learn one record (River's ``learn_one``)."""
        self.partial_fit(self._one(x))

    def transform_one(self, x):
        """One record transformed, as a dict (River's ``transform_one``)."""
        row = self.transform(self._one(x))[0]
        names = self.get_feature_names_out()
        return dict(zip(names, row.tolist()))

    def get_feature_names_out(self, input_features=None):
        """The output columns' names: the numeric inputs', then any an encoder added."""
        width = self._fitted().n_features_out
        names = self._features()
        return names + [f"x{i}" for i in range(len(names), width or len(names))]


class DetectorMixin:
    """River's drift-detector API on an eddy detector: ``update(x)``, then
    ``drift_detected`` (and ``warning_detected`` for those that warn)."""

    drift_detected = False
    warning_detected = False

    def _new_model(self, classes=None):
        return _eddy.Detector.from_spec(self.spec())

    def _model_bytes(self, model):
        return model.to_bytes()

    def _model_from_bytes(self, data):
        return _eddy.Detector.from_bytes(data)

    def save(self, path, signing_key=None, encryption_key=None):
        raise TypeError("a detector is no model file: pickle it, or give it to a model (drift-retrain)")

    def _detector(self):
        detector = self.__dict__.get("_model")
        if detector is None:
            detector = self._model = self._new_model()
        return detector

    def update(self, x):
        """Take one value; ``drift_detected`` and ``warning_detected`` say what it did."""
        signal = self._detector().update(float(x))
        self.drift_detected = signal == "drift"
        self.warning_detected = signal == "warning"
        return self

    def update_many(self, xs):
        """Take many values at once: ``[(index, "warning" or "drift"), ...]``."""
        signals = self._detector().update_many(np.ascontiguousarray(xs, dtype=np.float64))
        last = len(xs) - 1
        self.drift_detected = bool(signals) and signals[-1] == (last, "drift")
        self.warning_detected = bool(signals) and signals[-1] == (last, "warning")
        return signals

    @property
    def estimation(self):
        return self._detector().estimation

    def _reset(self):
        Estimator._reset(self)
        self.drift_detected = self.warning_detected = False
