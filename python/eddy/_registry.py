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

#: scikit-learn's parameters that eddy's models have no use for, so that code written
#: for scikit-learn runs: ``None`` marks one taken at any value and ignored (it is about
#: the epochs of a batch ``fit``, or threads, or copies); a reason marks one that must
#: keep scikit-learn's default, and says why otherwise.
_EPOCHS = {
    "max_iter": (1000, None),
    "tol": (1e-3, None),
    "shuffle": (True, None),
    "verbose": (0, None),
    "n_jobs": (None, None),
    "warm_start": (False, None),
    "random_state": (None, None),
    "early_stopping": (False, "eddy learns one pass, in order: there is no validation split to stop on"),
    "class_weight": (None, "eddy's linear models weigh every record the same"),
}
SKLEARN_EXTRAS = {
    "sgd": {**_EPOCHS, "average": (False, "eddy's SGD keeps no averaged weights")},
    "perceptron": _EPOCHS,
    "passive-aggressive": {**_EPOCHS, "average": (False, "eddy's Passive-Aggressive keeps no averaged weights")},
    "gaussian-nb": {"priors": (None, "eddy's Gaussian NB learns its priors from the records")},
    "multinomial-nb": {
        "class_prior": (None, "give fit_prior=False for uniform priors; others are not taken"),
        "force_alpha": (True, None),
    },
    "minibatch-kmeans": {
        "max_iter": (100, None),
        "tol": (0.0, None),
        "verbose": (0, None),
        "compute_labels": (True, None),
        "max_no_improvement": (10, None),
        "init_size": (None, None),
    },
    "scale": {"copy": (True, None)},
    "impute": {"copy": (True, None), "keep_empty_features": (False, None)},
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
    extras = [
        {"name": name, "default": default, "refuse": why}
        for name, (default, why) in SKLEARN_EXTRAS.get(entry["name"], {}).items()
        if name not in {p["name"] for p in entry["params"]}
    ]
    params = [
        inspect.Parameter(p["name"], inspect.Parameter.KEYWORD_ONLY, default=p["default"])
        for p in [*entry["params"], *extras]
    ]

    def __init__(self, **kwargs):
        self._init_params(kwargs)

    __init__.__signature__ = inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY), *params])
    doc = "\n".join(f"    {p['name']} (default {p['default']!r}): {p['doc']}; {p['allowed']}" for p in entry["params"])
    if extras:
        doc += "\n\nscikit-learn's parameters it takes for compatibility (ignored, or kept at the default):\n"
        doc += ", ".join(p["name"] for p in extras)
    name = _class_name(entry["name"], entry.get("river", ""))
    return type(
        name,
        (ROLES[entry["role"]], Estimator),
        {
            "__init__": __init__,
            "__doc__": f"{entry['summary']}.\n\neddy's `{entry['name']}`. Parameters:\n{doc}",
            "__module__": "eddy",
            "_entry": entry,
            "_extras": extras,
        },
    )


ENTRIES = json.loads(_eddy.registry_json())
DETECTORS = json.loads(_eddy.detectors_json())
CLASSES = {_class_name(e["name"]): _make(e) for e in ENTRIES}
CLASSES.update({_class_name(e["name"], e["river"]): _make(e) for e in DETECTORS})
