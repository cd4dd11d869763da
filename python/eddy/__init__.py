"""eddy for Python: eddy's online models with scikit-learn's and River's APIs.

    >>> import eddy
    >>> model = eddy.SGDClassifier(loss="log_loss")
    >>> model.partial_fit([[0.0, 1.0], [1.0, 0.0]], ["a", "b"]).predict([[0.0, 1.0]])
    array(['a'], dtype='<U1')

Every stage of eddy's model language is a class here, made from eddy's registry
(``eddy.SGDClassifier``, ``eddy.GaussianNB``, ``eddy.MiniBatchKMeans``,
``eddy.StandardScaler``, ``eddy.HoeffdingTreeClassifier``, ``eddy.ARFClassifier``, ...),
and ``eddy.Model`` takes any chain in the model language. Models save to the same
signed model files as the command line (``eddy.load``, ``Estimator.save``).
"""

from __future__ import annotations

import json
import os

import numpy as np

from . import _eddy
from ._core import ClassifierMixin, ClustererMixin, Estimator, NotFittedError
from ._input import key as _key
from ._labels import NO_PREDICTION, Labels as _Labels
from ._registry import CLASSES, ENTRIES

__version__ = _eddy.version()

globals().update(CLASSES)


class Model(Estimator):
    """Any model of eddy's model language, e.g.
    ``eddy.Model("scale | sgd(loss=log_loss, eta0=0.01, learning_rate=constant)")``: a
    chain of transformers ending in a classifier or a clusterer. It is made a
    ``ClassifierModel`` or a ``ClustererModel``, with the methods of its kind; a bad spec
    raises ``ValueError`` pointing at the mistake."""

    _entry = {"name": "model", "params": [{"name": "spec", "kind": "model", "default": None}]}

    def __new__(cls, spec=None):
        if cls is Model:
            if spec is None:
                raise ValueError("Model needs a spec, e.g. Model('scale | sgd')")
            kind = _eddy.Model.from_spec(str(spec)).kind
            cls = ClassifierModel if kind == "classifier" else ClustererModel
        return super().__new__(cls)

    def __init__(self, spec=None):
        # ``spec()`` is every estimator's model language, so the parameter is kept apart.
        self.spec_text = spec

    @classmethod
    def from_spec(cls, spec: str) -> "Model":
        """The model ``spec`` describes."""
        return Model(spec)

    def get_params(self, deep=True):
        """Its one parameter, ``spec``."""
        return {"spec": self.spec_text}

    def set_params(self, **params):
        """Set ``spec``; it takes effect at the next ``fit`` (or first ``partial_fit``)."""
        unknown = set(params) - {"spec"}
        if unknown:
            raise ValueError(f"Model has one parameter, spec; not {', '.join(sorted(unknown))}")
        self.spec_text = params.get("spec", self.spec_text)
        return self

    def __setstate__(self, state):
        state = dict(state)
        state["params"] = {"spec_text": state["params"]["spec"]}
        Estimator.__setstate__(self, state)

    def __repr__(self):
        return f"Model({self.spec_text!r})"

    def spec(self) -> str:
        """The model in the model language (as eddy normalises it, once built)."""
        model = self.__dict__.get("_model")
        return model.spec() if model is not None else str(self.spec_text)

    def _new_model(self, classes=None):
        return _eddy.Model.from_spec(str(self.spec_text), classes)


class ClassifierModel(ClassifierMixin, Model):
    """A ``Model`` whose spec ends with a classifier."""


class ClustererModel(ClustererMixin, Model):
    """A ``Model`` whose spec ends with a clusterer."""


def load(path, signing_key=None, encryption_key=None):
    """The model of an eddy model file (written by ``eddy run --save-model``, ``eddy
    serve`` or ``save``), verified with ``signing_key`` (required for a signed file)
    and decrypted with ``encryption_key``. A single-stage model comes back as its class
    (``eddy.SGDClassifier``, ...), a chain as ``eddy.Model``."""
    with open(path, "rb") as f:
        data = f.read()
    model, header = _eddy.Model.from_bytes(data, _key(signing_key), _key(encryption_key), os.fspath(path))
    header = json.loads(header)
    estimator = _estimator_of(model.spec())
    estimator._model = model
    features = header.get("features") or []
    categorical = header.get("categorical") or []
    if features or categorical:
        estimator.n_features_in_ = len(features) + len(categorical)
        estimator._categorical = list(categorical)
        if categorical or features != [f"x{i}" for i in range(len(features))]:
            # The header lists numeric features first; frames and records give them by name.
            estimator.feature_names_in_ = np.asarray(features + categorical, dtype=object)
    if header.get("class_values") is not None:
        estimator._labels = _Labels(header["class_values"])
    elif header.get("classes") is not None:
        estimator._labels = _Labels(_as_ints(header["classes"]))
    elif model.kind == "classifier":
        estimator._labels = _Labels(model.classes())
    return estimator


def _estimator_of(spec):
    """The estimator class of a one-stage spec with its parameters, else a ``Model``."""
    name = spec.split("(")[0].strip()
    if "|" not in spec and name in _REGISTRY_NAMES:
        estimator = CLASSES[_REGISTRY_NAMES[name]]()
        try:
            estimator.set_params(**_params_of(estimator, spec))
            if estimator.spec() == spec:
                return estimator
        except (TypeError, ValueError):
            pass
    return Model(spec)


_REGISTRY_NAMES = {e["name"]: name for name, e in ((n, c._entry) for n, c in CLASSES.items())}


def _params_of(estimator, spec):
    """The parameters a loaded single-stage model was built with: the defaults, and
    what its spec names (it names only what differs)."""
    params = {}
    inner = spec[spec.find("(") + 1 : -1] if "(" in spec else ""
    for part in _split_args(inner):
        name, _, text = part.partition("=")
        params[name.strip()] = _parse_value(text.strip())
    return params


def _split_args(text):
    depth, start, parts = 0, 0, []
    for i, c in enumerate(text):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if text.strip():
        parts.append(text[start:])
    return parts


def _parse_value(text):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.startswith('"'):
        return json.loads(text)
    return text


def _as_ints(names):
    """Class names from a file's header: whole numbers come back as ints (a model
    learned from int labels, in Python or from a CSV column), others as str."""
    try:
        ints = [int(n) for n in names]
    except ValueError:
        return list(names)
    return ints if [str(i) for i in ints] == list(names) else list(names)


__all__ = ["Model", "ClassifierModel", "ClustererModel", "Estimator", "NotFittedError", "NO_PREDICTION", "load", *CLASSES]
