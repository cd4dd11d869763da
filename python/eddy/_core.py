"""The estimators' machinery: parameters as scikit-learn keeps them, the inputs they
were given, pickling, model files, and the classifier, clusterer, transformer and
detector APIs. The classes themselves are made from eddy's registries in
``_registry.py``."""

from __future__ import annotations

import copy
import os
import threading

import numpy as np

from . import _eddy
from ._input import Records, as_rows, cats, feature_names, key
from ._labels import Labels, as_labels
from ._spec import same, value_as_spec

#: What ``__getstate__`` writes; ``__setstate__`` refuses others.
PICKLE_VERSION = 1


class NotFittedError(ValueError, AttributeError):
    """Predicting before learning anything (scikit-learn's ``NotFittedError`` is both
    a ``ValueError`` and an ``AttributeError`` too; scikit-learn's ``check_is_fitted``
    asks ``__sklearn_is_fitted__``)."""


def _sklearn_spelling(param, value):
    """scikit-learn's spellings of eddy's values: ``penalty=None`` is ``none``, and
    ``n_init="auto"`` one seeding (what scikit-learn's ``auto`` means for k-means++)."""
    if value is None and "none" in param.get("choices", ()):
        return "none"
    if param["name"] == "n_init" and value == "auto":
        return 1
    return value


class Estimator:
    """What every eddy estimator shares: its parameters (``get_params``/``set_params``,
    so ``sklearn.base.clone`` works), its spec in the model language, the inputs it was
    given, pickling through eddy's model-file bytes, and ``save``.

    One estimator computes one call at a time (a lock): threads may share it, and use
    copies (``copy.deepcopy``) to predict in parallel."""

    #: The registry entry (set on each generated class).
    _entry: dict = {}
    #: scikit-learn's parameters it takes for compatibility (see ``SKLEARN_EXTRAS``).
    _extras: list = []

    def _init_params(self, kwargs):
        for p in [*self._entry["params"], *self._extras]:
            # A copy of a list default: appending to one estimator's must not change all.
            setattr(self, p["name"], kwargs.pop(p["name"]) if p["name"] in kwargs else copy.deepcopy(p["default"]))
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected parameters {', '.join(kwargs)}")

    # ---- parameters

    @classmethod
    def _param_names(cls):
        return [p["name"] for p in [*cls._entry["params"], *cls._extras]]

    def get_params(self, deep=True):
        """The parameters, as given to ``__init__`` (with ``deep``, a nested
        estimator's as ``name__parameter``)."""
        params = {name: getattr(self, name) for name in self._param_names()}
        if deep:
            for name, value in list(params.items()):
                if isinstance(value, Estimator):
                    params.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
        return params

    def set_params(self, **params):
        """Set parameters (``name__parameter`` reaches a nested estimator); a learning
        estimator takes them at its next ``fit`` (or its first ``partial_fit``)."""
        names = self._param_names()
        nested = {}
        for name, value in params.items():
            outer, _, inner = name.partition("__")
            if outer not in names:
                raise ValueError(f"{type(self).__name__} has no parameter {outer!r}; it has {', '.join(names)}")
            if inner:
                nested.setdefault(outer, {})[inner] = value
            else:
                setattr(self, outer, value)
        for outer, inner in nested.items():
            target = getattr(self, outer)
            if not isinstance(target, Estimator):
                raise ValueError(f"{outer} is {target!r}, not an eddy estimator: it has no {', '.join(inner)}")
            target.set_params(**inner)
        return self

    def __repr__(self):
        defaults = {p["name"]: p["default"] for p in [*self._entry["params"], *self._extras]}
        args = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items() if not same(v, defaults.get(k))]
        return f"{type(self).__name__}({', '.join(args)})"

    def spec(self) -> str:
        """The estimator in eddy's model language, as ``eddy run --model`` takes it."""
        for p in self._extras:
            if p["refuse"] and not same(getattr(self, p["name"]), p["default"]):
                raise ValueError(f"{type(self).__name__}({p['name']}={getattr(self, p['name'])!r}): {p['refuse']}")
        args = []
        for p in self._entry["params"]:
            value = _sklearn_spelling(p, getattr(self, p["name"]))
            if not same(value, p["default"]):
                args.append(f"{p['name']}={value_as_spec(p, value)}")
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

    def __sklearn_is_fitted__(self):
        model = self.__dict__.get("_model")
        return model is not None and model.records_seen > 0

    # ---- state

    def _guard(self):
        return self.__dict__.setdefault("_lock", threading.RLock())

    def _reset(self):
        for attr in ("_model", "_labels", "feature_names_in_", "n_features_in_", "_categorical", "_keys", "labels_"):
            self.__dict__.pop(attr, None)

    def _inputs(self, X, learning):
        """``X`` as eddy takes it: float64 rows and the categorical columns beside them
        (keyword arguments, none when there are no such columns), with the fitted
        attributes a first batch sets, to keep once the model has taken it. A pandas
        frame's non-numeric columns and a record's text values are categorical; which
        columns are is fixed by the first input learned."""
        if isinstance(X, dict):
            X = Records([X])
        if isinstance(X, Records):
            return self._records(X.records, learning)
        names = feature_names(X)
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
            columns = cats(categorical, values)
        else:
            if categorical:
                raise ValueError(
                    f"{type(self).__name__} learned categorical columns ({', '.join(categorical)}): "
                    "give a pandas DataFrame (or dict records) that has them"
                )
            rows, columns = as_rows(X), {}
        if learning and rows.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) while {type(self).__name__} learns: give at least one record")
        width = rows.shape[1] + len(columns.get("cat_names", []))
        known = self.__dict__.get("n_features_in_")
        if known is not None and width != known:
            raise ValueError(f"X has {width} features, but {type(self).__name__} takes {known}")
        first = {}
        if learning and known is None:
            first = {"n_features_in_": width, "_categorical": list(categorical or [])}
            if names is not None:
                first["feature_names_in_"] = np.asarray(names, dtype=object)
        return rows, columns, first

    def _records(self, records, learning):
        """Records given as dicts: the first learned fixes the features' order (its
        keys, kept as they are, so ``dict(enumerate(row))`` works) and which are
        categorical (those with text values)."""
        keys = self.__dict__.get("_keys")
        names = self.__dict__.get("feature_names_in_")
        categorical = self.__dict__.get("_categorical") or []
        first = {}
        if keys is None and names is not None:
            keys = list(names)
        if keys is None:
            if self.__dict__.get("n_features_in_") is not None:
                raise ValueError(
                    f"{type(self).__name__} learned from arrays without feature names: "
                    "give it arrays, or records from the start"
                )
            keys = list(records[0]) if records else []
            categorical = [str(k) for k, v in records[0].items() if isinstance(v, str)] if records else []
            if learning:
                first = {
                    "_keys": keys,
                    "feature_names_in_": np.asarray([str(k) for k in keys], dtype=object),
                    "n_features_in_": len(keys),
                    "_categorical": categorical,
                }
        numeric = [k for k in keys if str(k) not in categorical]
        categorical_keys = [k for k in keys if str(k) in categorical]
        rows = np.empty((len(records), len(numeric)))
        for i, x in enumerate(records):
            for j, k in enumerate(numeric):
                v = x.get(k)
                try:
                    rows[i, j] = np.nan if v is None else v
                except (TypeError, ValueError):
                    raise ValueError(f"record {i}: feature {k!r} is {v!r}, not a number") from None
        values = [x.get(k) for x in records for k in categorical_keys]
        return rows, cats([str(k) for k in categorical_keys], values), first

    def _rows(self, X):
        rows, columns, _ = self._inputs(X, learning=False)
        return rows, columns

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

    _KEPT = ("feature_names_in_", "n_features_in_", "_categorical", "_keys", "labels_")

    def __getstate__(self):
        with self._guard():
            state = {"pickle_version": PICKLE_VERSION, "eddy": _eddy.version(), "params": self.get_params(deep=False)}
            model = self.__dict__.get("_model")
            if model is not None:
                state["model"] = self._model_bytes(model)
            if "_labels" in self.__dict__:
                state["_labels"] = self._labels.labels
                state["_labels_declared"] = self._labels.declared
            for attr in self._KEPT:
                if attr in self.__dict__:
                    state[attr] = self.__dict__[attr]
            return state

    def __setstate__(self, state):
        if state.get("pickle_version") != PICKLE_VERSION:
            raise ValueError(f"pickled by another eddy (pickle version {state.get('pickle_version')!r})")
        self.__dict__.update(state["params"])
        if "model" in state:
            self._model = self._model_from_bytes(state["model"])
        if "_labels" in state:
            self._labels = Labels(state["_labels"])
            self._labels.declared = state.get("_labels_declared", False)
        for attr in self._KEPT:
            if attr in state:
                setattr(self, attr, state[attr])

    def _model_bytes(self, model):
        return model.to_bytes(self._features(), categorical=self.__dict__.get("_categorical"))

    def _model_from_bytes(self, data):
        return _eddy.Model.from_bytes(data)[0]

    def save(self, path, signing_key=None, encryption_key=None):
        """Write the model to ``path`` as an eddy model file (signed and encrypted with
        the keys given): ``eddy serve --model`` and ``eddy run --model-file`` read it,
        and so does ``eddy.load``."""
        with self._guard():
            model = self.__dict__.get("_model") or self._new_model()
            data = self._file_bytes(model, key(signing_key), key(encryption_key))
        tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return self

    def _file_bytes(self, model, signing, encryption):
        return model.to_bytes(self._features(), None, signing, encryption, categorical=self.__dict__.get("_categorical"))

    def _new_model(self, classes=None):
        return _eddy.Model.from_spec(self.spec(), classes)


class ClassifierMixin:
    """scikit-learn's classifier API and River's, on an eddy classifier."""

    _estimator_type = "classifier"

    def _file_bytes(self, model, signing, encryption):
        labels = self.__dict__.get("_labels") or Labels()
        return model.to_bytes(
            self._features(),
            labels.names(),
            signing,
            encryption,
            categorical=self.__dict__.get("_categorical"),
            class_values=labels.values_json(),
        )

    def _model_bytes(self, model):
        return self._file_bytes(model, None, None)

    def _learn(self, X, y, classes, step):
        with self._guard():
            rows, columns, first = self._inputs(X, learning=True)
            labels = self.__dict__.get("_labels")
            if labels is None:
                # Declared classes are numbered in sorted order, as scikit-learn's classes_.
                labels = Labels(np.unique(as_labels(classes)).tolist() if classes is not None else ())
                labels.declared = classes is not None
                self._labels = labels
            elif classes is not None and set(as_labels(classes).tolist()) != set(labels.labels):
                raise ValueError(
                    f"classes={list(as_labels(classes).tolist())} is not the same as the classes known: {labels.labels}"
                )
            model = self.__dict__.get("_model")
            if model is None:
                model = self._new_model(list(range(len(labels.labels))) if labels.labels else None)
                self._model = model
            known = len(labels.labels)
            try:
                ids = labels.encode(y)
                if len(ids) != rows.shape[0]:
                    raise ValueError(f"{rows.shape[0]} rows and {len(ids)} labels: give one label per row")
                out = step(model, rows, ids, columns)
            except BaseException:
                # The model refused the batch and is unchanged: so are the labels it knows.
                labels.forget_after(known)
                raise
            self.__dict__.update(first)
            return out

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Learn the rows (scikit-learn's ``partial_fit``). ``classes`` may be left
        out: a new class is learned when it first appears."""
        if sample_weight is not None:
            raise ValueError("eddy's classifiers take no sample weights")
        self._learn(X, y, classes, lambda m, rows, ids, c: m.partial_fit(rows, ids, **c))
        return self

    def fit(self, X, y, classes=None):
        """Forget everything, then learn the rows once, in order."""
        with self._guard():
            self._reset()
            return self.partial_fit(X, y, classes)

    def learn_predict(self, X, y):
        """The prequential step: each row is labelled, then learned, row by row (the
        labels eddy's command line writes for the same stream)."""
        ids = self._learn(X, y, None, lambda m, rows, ids, c: m.learn_predict(rows, ids, **c))
        return self._labels.decode(ids)

    def predict(self, X):
        """The class of every row."""
        with self._guard():
            model = self._fitted()
            rows, columns = self._rows(X)
            return self._labels.decode(model.predict(rows, **columns))

    def _columns(self, model):
        """``classes_`` (sorted, as scikit-learn's, when the labels can be ordered) and,
        for each, its column in the model's probabilities."""
        labels = self._labels.table()[np.asarray(model.classes(), dtype=np.int64)]
        try:
            order = np.argsort(labels, kind="stable")
        except TypeError:  # labels of several types: the model's order
            order = np.arange(len(labels))
        return labels[order], order

    def predict_proba(self, X):
        """Class probabilities, a column per class of ``classes_``, in that order."""
        with self._guard():
            model = self._fitted()
            rows, columns = self._rows(X)
            proba = model.predict_proba(rows, **columns)
            if proba is None:
                raise AttributeError(f"{type(self).__name__} ({self.spec()}) gives no probabilities")
            return proba[:, self._columns(model)[1]]

    def _binary_flipped(self, model, order):
        # Two classes: eddy's one score is for the model's second class; scikit-learn's
        # for classes_[1]. Sorting may swap them.
        return len(order) == 2 and order[0] == 1

    def decision_function(self, X):
        """A linear model's decision scores: one per row for two classes (positive:
        ``classes_[1]``), else a column per class of ``classes_``."""
        with self._guard():
            model = self._fitted()
            rows, columns = self._rows(X)
            scores = model.decision_function(rows, **columns)
            if scores is None:
                raise AttributeError(f"{type(self).__name__} ({self.spec()}) has no decision scores")
            order = self._columns(model)[1]
            if scores.shape[1] == 1:
                return -scores[:, 0] if self._binary_flipped(model, order) else scores[:, 0]
            return scores[:, order]

    @property
    def coef_(self):
        """A linear model's coefficients, a row per column of ``decision_function``."""
        return self._weights()[0]

    @property
    def intercept_(self):
        """A linear model's intercepts."""
        return self._weights()[1]

    def _weights(self):
        with self._guard():
            model = self._fitted()
            weights = model.linear_weights()
            if weights is None:
                raise AttributeError(f"{type(self).__name__} ({self.spec()}) has no weights of its input's features")
            coef, intercept = weights
            order = self._columns(model)[1]
            if coef.shape[0] == 1:
                sign = -1.0 if self._binary_flipped(model, order) else 1.0
                return sign * coef, sign * intercept
            return coef[order], intercept[order]

    def score(self, X, y, sample_weight=None):
        """Accuracy of ``predict`` on the rows."""
        predicted = self.predict(X)
        y = as_labels(y)
        hits = np.fromiter((a == b for a, b in zip(predicted.tolist(), y.tolist())), dtype=bool, count=len(y))
        return float(np.average(hits, weights=sample_weight))

    @property
    def classes_(self):
        """The classes learned, sorted (when their type can be ordered)."""
        with self._guard():
            return self._columns(self._fitted())[0]

    # ---- River

    def learn_one(self, x, y):
        """Learn one record (River's ``learn_one``): ``x`` a dict of features."""
        self.partial_fit(Records([x]), [y])

    def predict_one(self, x):
        """The class of one record, or None before any class is known."""
        with self._guard():
            if not self.__sklearn_is_fitted__():
                return None
            return self.predict(Records([x])).tolist()[0]

    def predict_proba_one(self, x):
        """Each known class's probability for one record, as a dict."""
        with self._guard():
            if not self.__sklearn_is_fitted__():
                return {}
            proba = self.predict_proba(Records([x]))[0]
            return dict(zip(self.classes_.tolist(), proba.tolist()))


class ClustererMixin:
    """scikit-learn's clusterer API and River's, on an eddy clusterer."""

    _estimator_type = "clusterer"

    def _learn(self, X, step):
        with self._guard():
            rows, columns, first = self._inputs(X, learning=True)
            model = self.__dict__.get("_model")
            if model is None:
                model = self._model = self._new_model()
            out = step(model, rows, columns)
            self.__dict__.update(first)
            return out

    def partial_fit(self, X, y=None, sample_weight=None):
        """Learn the rows as one mini-batch (scikit-learn's ``partial_fit``)."""
        if sample_weight is not None:
            raise ValueError("eddy's clusterers take no sample weights")
        self._learn(X, lambda m, rows, c: m.partial_fit(rows, **c))
        return self

    def fit(self, X, y=None):
        """Forget everything, then learn the rows as one mini-batch."""
        with self._guard():
            self._reset()
            self.partial_fit(X)
            self.labels_ = self.predict(X)
            return self

    def fit_predict(self, X, y=None):
        """``fit``, then the centre of every row."""
        return self.fit(X).labels_

    def learn_predict(self, X, y=None):
        """The prequential step: the centre each row was given as it was learned."""
        return self._learn(X, lambda m, rows, c: m.learn_predict(rows, **c))

    def predict(self, X):
        """The nearest centre of every row."""
        with self._guard():
            model = self._fitted()
            rows, columns = self._rows(X)
            return model.predict(rows, **columns)

    def score(self, X, y=None):
        """Minus the summed squared distances of the rows to their nearest centres
        (scikit-learn's ``KMeans.score``), in input units, of numeric records."""
        labels = self.predict(X)
        rows, _ = self._rows(X)
        return -float(((rows - self.cluster_centers_[labels]) ** 2).sum())

    @property
    def cluster_centers_(self):
        """The centres in input units (through the inverse of the stages before)."""
        with self._guard():
            centres = self._fitted().cluster_centers()
        if centres is None:
            raise AttributeError(
                f"{type(self).__name__}'s centres cannot be given in input units: a stage before it cannot be undone"
            )
        return centres

    # ---- River

    def learn_one(self, x):
        """Learn one record (River's ``learn_one``). Until the model has started (k-means
        seeds its centres from its first rows) records wait, and are learned together."""
        with self._guard():
            model = self.__dict__.get("_model")
            needed = (model or self._new_model()).rows_to_start
            if needed <= 1:
                self.partial_fit(Records([x]))
                return
            waiting = self.__dict__.setdefault("_waiting", [])
            waiting.append(x)
            if len(waiting) >= needed:
                self.partial_fit(Records(waiting))
                del self._waiting

    def predict_one(self, x):
        """The nearest centre of one record, or None before any."""
        with self._guard():
            if not self.__sklearn_is_fitted__():
                return None
            return int(self.predict(Records([x]))[0])


class _Alone:
    """A stage used alone (a transformer, a detector): built from its spec by its own
    extension class, pickled through that class's bytes, and no model file."""

    #: The extension class (``_eddy.Transformer``, ``_eddy.Detector``).
    _native = None
    #: Why ``save`` refuses.
    _no_file = ""

    def _new_model(self, classes=None):
        return self._native.from_spec(self.spec())

    def _model_bytes(self, model):
        return model.to_bytes()

    def _model_from_bytes(self, data):
        return self._native.from_bytes(data)

    def _built(self):
        """The stage, built at its first use."""
        model = self.__dict__.get("_model")
        if model is None:
            model = self._model = self._new_model()
        return model

    def save(self, path, signing_key=None, encryption_key=None):
        """A stage alone has no model file (a ``TypeError`` says why)."""
        raise TypeError(self._no_file)


class TransformerMixin(_Alone):
    """scikit-learn's transformer API and River's, on one eddy transformer."""

    _native = _eddy.Transformer
    _no_file = "a transformer alone is no model file: put it in a chain, e.g. eddy.Model('scale | sgd')"

    def partial_fit(self, X, y=None):
        """Learn the rows."""
        with self._guard():
            rows, columns, first = self._inputs(X, learning=True)
            model = self.__dict__.get("_model") or self._new_model()
            model.learn_transform(rows, **columns)
            self._model = model
            self.__dict__.update(first)
            return self

    def fit(self, X, y=None):
        """Forget everything, then learn the rows."""
        with self._guard():
            self._reset()
            return self.partial_fit(X)

    def transform(self, X):
        """The rows transformed with what was learned so far."""
        with self._guard():
            model = self._fitted()
            rows, columns = self._rows(X)
            return model.transform(rows, **columns)

    def fit_transform(self, X, y=None):
        """``fit``, then ``transform`` the same rows."""
        self.fit(X)
        return self.transform(X)

    def inverse_transform(self, X):
        """Transformed rows back in input units."""
        with self._guard():
            out = self._fitted().inverse_transform(as_rows(X))
        if out is None:
            raise ValueError(f"{type(self).__name__} cannot be undone")
        return out

    def _statistics(self, which):
        with self._guard():
            stats = self._fitted().statistics()
        if stats is None:
            raise AttributeError(f"{type(self).__name__} keeps no running mean and variance")
        return stats[which]

    @property
    def mean_(self):
        """A scaler's running mean of each feature."""
        return self._statistics(0)

    @property
    def var_(self):
        """A scaler's running (population) variance of each feature."""
        return self._statistics(1)

    @property
    def scale_(self):
        """A scaler's divisor of each feature (1 for a constant one); None without ``with_std``."""
        scale = self._statistics(2)
        return scale if getattr(self, "with_std", True) else None

    @property
    def n_samples_seen_(self):
        """Records learned."""
        with self._guard():
            return self._fitted().records_seen

    def get_feature_names_out(self, input_features=None):
        """The output columns' names: the numeric inputs', then any an encoder added."""
        width = self._fitted().n_features_out
        names = self._features()
        return names + [f"x{i}" for i in range(len(names), width or len(names))]

    def learn_one(self, x):
        """Learn one record (River's ``learn_one``)."""
        self.partial_fit(Records([x]))

    def transform_one(self, x):
        """One record transformed, as a dict (River's ``transform_one``)."""
        row = self.transform(Records([x]))[0]
        return dict(zip(self.get_feature_names_out(), row.tolist()))


class DetectorMixin(_Alone):
    """River's drift-detector API on an eddy detector: ``update(x)``, then
    ``drift_detected`` (and ``warning_detected`` for those that warn)."""

    _native = _eddy.Detector
    _no_file = "a detector is no model file: pickle it, or give it to a model (drift-retrain)"
    drift_detected = False
    warning_detected = False

    def set_params(self, **params):
        """Set parameters: a detector has no ``fit``, so it starts afresh with them."""
        Estimator.set_params(self, **params)
        self._reset()
        return self

    def update(self, x):
        """Take one value; ``drift_detected`` and ``warning_detected`` say what it did."""
        with self._guard():
            signal = self._built().update(float(x))
            self.drift_detected = signal == "drift"
            self.warning_detected = signal == "warning"
            return self

    def update_many(self, xs):
        """Take many values at once: ``[(index, "warning" or "drift"), ...]``."""
        values = np.require(np.asarray(xs, dtype=np.float64).ravel(), np.float64, ["A", "C"])
        with self._guard():
            signals = self._built().update_many(values)
            last = len(values) - 1
            self.drift_detected = bool(signals) and signals[-1] == (last, "drift")
            self.warning_detected = bool(signals) and signals[-1] == (last, "warning")
            return signals

    @property
    def estimation(self):
        """The detector's estimate of the watched level (ADWIN's window mean), if it keeps one."""
        with self._guard():
            return self._built().estimation

    def _reset(self):
        Estimator._reset(self)
        self.drift_detected = self.warning_detected = False
