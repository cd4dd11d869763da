"""What callers hand in, as the extension takes it: float64 rows, categorical columns
beside them, and keys."""

from __future__ import annotations

import os

import numpy as np


def feature_names(X):
    """A frame's column names, when they are all text."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    return [str(c) for c in columns] if all(isinstance(c, str) for c in columns) else None


def as_rows(X, what="X") -> np.ndarray:
    """``X`` as a 2-D float64 array, read in place when it already is one (C or Fortran
    order, or a strided view); other types converted once. Always aligned in memory."""
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
        X = X.to_numpy()
    arr = X if isinstance(X, np.ndarray) else None
    try:
        if arr is None:
            arr = np.asarray(X)
        if arr.dtype.kind == "c":
            raise ValueError("complex values")
        rows = np.require(arr, np.float64, ["A"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be numeric: {e}") from None
    if rows.ndim != 2:
        raise ValueError(
            f"Expected a 2D array for {what}, got a {rows.ndim}D array instead: reshape it with "
            "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single record"
        )
    return rows


def missing(v) -> bool:
    """None, NaN, and pandas' NA and NaT."""
    if v is None:
        return True
    try:
        return bool(v != v)
    except (TypeError, ValueError):
        return False


def cats(names, values):
    """Categorical columns as the extension takes them (row-major text, None where
    missing), as keyword arguments; none when there are no such columns."""
    if not names:
        return {}
    return {"cat_names": list(names), "cat_values": [None if missing(v) else str(v) for v in values]}


class Records:
    """Records given as dicts (River's way), one or several."""

    def __init__(self, records):
        for x in records:
            if not isinstance(x, dict):
                raise TypeError(f"a record is a dict of feature name to value, not {type(x).__name__}")
        self.records = list(records)


def key(value):
    """A key as eddy takes it: 32 bytes, 64 hexadecimal digits, or a key file's path."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str) and len(value.strip()) == 64:
        return value.strip().encode()
    if isinstance(value, (str, os.PathLike)):
        with open(value, "rb") as f:
            return f.read()
    raise TypeError(f"a key is bytes, a hexadecimal str or a key file's path, not {type(value).__name__}")
