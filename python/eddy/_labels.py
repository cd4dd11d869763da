"""Labels of any hashable type and eddy's int64 class ids, both ways."""

from __future__ import annotations

import json
import math

import numpy as np

#: The label eddy gives a record when the model knows no class yet.
NO_PREDICTION = np.iinfo(np.int64).min


def _kind(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, (float, np.floating)):
        return "float"
    if isinstance(v, (str, np.str_)):
        return "str"
    return type(v).__name__


def _objects(items) -> np.ndarray:
    """``items`` in a 1-D array as they are (no nesting of tuples, no coercion)."""
    out = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        out[i] = v
    return out


def as_labels(y) -> np.ndarray:
    """``y`` as a 1-D array; labels of several types (``[1, "a"]``) stay themselves
    rather than all becoming text, as NumPy would make them."""
    if isinstance(y, np.ndarray):
        arr = y
    elif hasattr(y, "to_numpy"):
        arr = y.to_numpy()
    else:
        items = list(y)
        if any(isinstance(v, (list, tuple, np.ndarray)) and not isinstance(v, str) for v in items):
            raise ValueError("y must be 1-D, one label per row; it has rows of labels")
        kinds = {_kind(v) for v in items}
        arr = _objects(items) if len(kinds) > 1 or kinds - {"bool", "int", "float", "str"} else np.asarray(items)
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D, one label per row; it has shape {arr.shape}")
    return arr


class Labels:
    """Labels and class ids: a new label gets the next id, in the order labels are
    first seen (as eddy's command line numbers the classes of a file)."""

    def __init__(self, labels=()):
        self.labels = []
        self.ids = {}
        self._table = None
        #: True when the classes were declared (``classes=``): no other label is learned.
        self.declared = False
        for label in labels:
            self.id_of(label)

    def id_of(self, label) -> int:
        """``label``'s id, a new one for a label first seen (unless classes were declared)."""
        if isinstance(label, np.generic):
            label = label.item()
        found = self.ids.get(label)
        if found is None:
            if self.declared:
                raise ValueError(f"label {label!r} is not one of the declared classes {self.labels}")
            if label is None or (isinstance(label, float) and not math.isfinite(label)):
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
        """Class ids of the labels ``y``; an unseen one gets a new id when ``learn``,
        else -1 (never predicted)."""
        y = as_labels(y)
        try:
            # A few distinct labels per batch: map those, then index (no Python loop per row).
            distinct, first, inverse = np.unique(y, return_index=True, return_inverse=True)
        except TypeError:  # labels NumPy cannot order (several types): one at a time
            distinct, first, inverse = y, np.arange(len(y)), np.arange(len(y))
        ids = np.empty(len(distinct), dtype=np.int64)
        # New labels are numbered in the order they first appear, as row by row.
        for k in np.argsort(first, kind="stable"):
            label = distinct[k]
            if learn:
                ids[k] = self.id_of(label)
            else:
                ids[k] = self.ids.get(label.item() if isinstance(label, np.generic) else label, -1)
        return ids[inverse.reshape(-1)]

    def table(self) -> np.ndarray:
        """Each id's label, as an array indexed by id."""
        if self._table is None:
            kinds = {_kind(v) for v in self.labels}
            plain = len(kinds) == 1 and kinds <= {"bool", "int", "float", "str"}
            self._table = np.asarray(self.labels) if plain else _objects(self.labels)
        return self._table

    def decode(self, ids: np.ndarray) -> np.ndarray:
        """The labels of class ids (None where there was no prediction)."""
        missing = ids == NO_PREDICTION
        table = self.table()
        if not missing.any():
            return table[ids]
        # The first records of a stream with no class yet: None where there is no label.
        out = np.empty(len(ids), dtype=object)
        out[~missing] = table[ids[~missing]]
        out[missing] = None
        return out

    def names(self):
        """The labels as a model file names its classes (text), refusing two that would
        read the same (``1`` and ``"1"``)."""
        names = [str(v) for v in self.labels]
        if len(set(names)) != len(names):
            raise ValueError(f"labels {self.labels} would have the same names in a model file: use one type")
        return names

    def values_json(self):
        """The labels as JSON values, so that a model file gives them back with their
        types; None when one is no JSON scalar (it comes back as its text)."""
        if not all(_kind(v) in ("bool", "int", "float", "str") for v in self.labels):
            return None
        return json.dumps([v.item() if isinstance(v, np.generic) else v for v in self.labels])
