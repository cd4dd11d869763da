"""The estimator classes, made from eddy's registry: one per stage of the model
language, with scikit-learn's name where scikit-learn (or River) has the model, and
every parameter an explicit keyword of ``__init__`` with eddy's default."""

from __future__ import annotations

import inspect
import json

from . import _eddy
from ._core import ClassifierMixin, ClustererMixin, DetectorMixin, Estimator, TransformerMixin

#: Python names of the stages whose peers name them so.
NAMES = {
    "scale": "StandardScaler",
    "impute": "SimpleImputer",
    "onehot": "OneHotEncoder",
    "hash": "FeatureHasher",
    "sgd": "SGDClassifier",
    "perceptron": "Perceptron",
    "passive-aggressive": "PassiveAggressiveClassifier",
    "gaussian-nb": "GaussianNB",
    "multinomial-nb": "MultinomialNB",
    "hoeffding-tree": "HoeffdingTreeClassifier",
    "hoeffding-adaptive-tree": "HoeffdingAdaptiveTreeClassifier",
    "arf": "ARFClassifier",
    "minibatch-kmeans": "MiniBatchKMeans",
    "drift-retrain": "DriftRetrainingClassifier",
    "hedge": "HedgeClassifier",
}

ROLES = {
    "classifier": ClassifierMixin,
    "clusterer": ClustererMixin,
    "transformer": TransformerMixin,
    "detector": DetectorMixin,
}


def _class_name(name: str, river: str = "") -> str:
    if river:  # a detector: River's class name (drift.binary.DDM -> DDM)
        return river.split(".")[-1]
    return NAMES.get(name) or "".join(part.capitalize() for part in name.split("-"))


def _make(entry: dict) -> type:
    params = [
        inspect.Parameter(p["name"], inspect.Parameter.KEYWORD_ONLY, default=p["default"]) for p in entry["params"]
    ]

    def __init__(self, **kwargs):
        self._init_params(kwargs)

    __init__.__signature__ = inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY), *params])
    doc = "\n".join(f"    {p['name']} (default {p['default']!r}): {p['doc']}; {p['allowed']}" for p in entry["params"])
    name = _class_name(entry["name"], entry.get("river", ""))
    return type(
        name,
        (ROLES[entry["role"]], Estimator),
        {
            "__init__": __init__,
            "__doc__": f"{entry['summary']}.\n\neddy's `{entry['name']}`. Parameters:\n{doc}",
            "__module__": "eddy",
            "_entry": entry,
        },
    )


ENTRIES = json.loads(_eddy.registry_json())
DETECTORS = json.loads(_eddy.detectors_json())
CLASSES = {_class_name(e["name"]): _make(e) for e in ENTRIES}
CLASSES.update({_class_name(e["name"], e["river"]): _make(e) for e in DETECTORS})
