"""Shared helpers: generated streams, and eddy's binary (python/test.sh builds it)."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest


def stream(n=3000, d=4, classes=("a", "b", "c"), seed=1, counts=False):
    """Records with a label that depends on them, not linearly, plus noise."""
    rng = np.random.default_rng(seed)
    if counts:
        X = rng.poisson(3.0, size=(n, d)).astype(np.float64)
    else:
        X = rng.normal(size=(n, d)) * 2.0
    score = X[:, 0] + X[:, 1] * X[:, 2] * 0.3 + rng.normal(scale=0.5, size=n)
    cut = np.quantile(score, np.linspace(0, 1, len(classes) + 1)[1:-1])
    y = np.asarray(classes, dtype=object)[np.searchsorted(cut, score)]
    return X, y


def write_csv(path: Path, X, y=None):
    """A CSV eddy reads back to the same doubles (repr is the shortest exact text)."""
    with open(path, "w") as f:
        names = [f"x{i}" for i in range(X.shape[1])]
        f.write(",".join(names + (["label"] if y is not None else [])) + "\n")
        for i, row in enumerate(X):
            cells = [repr(float(v)) for v in row] + ([str(y[i])] if y is not None else [])
            f.write(",".join(cells) + "\n")


@pytest.fixture(scope="session")
def eddy_bin():
    path = os.environ.get("EDDY_BIN")
    if not path or not Path(path).is_file():
        pytest.fail("EDDY_BIN must name eddy's binary: run the tests with python/test.sh")
    return path


def run_cli(eddy_bin, *args):
    done = subprocess.run([eddy_bin, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done
