"""Every estimator's labels from Python are the command line's on the same stream,
bit for bit: the same model, the same prequential step, the same class numbering."""

import numpy as np
import pytest

import eddy

from conftest import run_cli, stream, write_csv

CLASSIFIERS = [
    eddy.SGDClassifier(),
    eddy.SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.01),
    eddy.Perceptron(),
    eddy.PassiveAggressiveClassifier(C=0.5),
    eddy.GaussianNB(),
    eddy.HoeffdingTreeClassifier(grace_period=50),
    eddy.HoeffdingAdaptiveTreeClassifier(grace_period=50),
    eddy.ARFClassifier(n_models=3),
    eddy.DriftRetrainingClassifier(),
    eddy.HedgeClassifier(),
    eddy.Model("scale | sgd(loss=log_loss)"),
]


def cli_labels(eddy_bin, tmp_path, X, y, spec, batch=1024):
    data = tmp_path / "data.csv"
    write_csv(data, X, y)
    out = tmp_path / "labels.csv"
    args = [str(data), "--model", spec, "--labels-out", str(out), "--batch-size", str(batch), "--quiet"]
    if y is not None:
        args += ["--label-column", "label"]
    run_cli(eddy_bin, "run", *args)
    return np.loadtxt(out, delimiter=",", skiprows=1, dtype=np.int64)[:, 1]


def python_ids(est, X, y, batch=1024):
    """Python's labels in batches, as eddy's class ids (numbered as first seen)."""
    out = []
    for start in range(0, len(X), batch):
        rows = X[start : start + batch]
        if y is None:
            out.append(np.asarray(est.learn_predict(rows), dtype=np.int64))
        else:
            labels = est.learn_predict(rows, y[start : start + batch])
            ids = [eddy.NO_PREDICTION if v is None else est._labels.ids[v] for v in labels]
            out.append(np.asarray(ids, dtype=np.int64))
    return np.concatenate(out)


@pytest.mark.parametrize("est", CLASSIFIERS, ids=lambda e: e.spec())
def test_classifier_labels_equal_the_command_line(est, eddy_bin, tmp_path):
    X, y = stream()
    want = cli_labels(eddy_bin, tmp_path, X, y, est.spec())
    got = python_ids(est, X, y)
    np.testing.assert_array_equal(got, want)
    # Not a stream of one answer: the model learned something.
    assert (got == np.asarray([est._labels.ids[v] for v in y])).mean() > 0.5


def test_multinomial_nb_on_counts_equals_the_command_line(eddy_bin, tmp_path):
    X, y = stream(counts=True)
    est = eddy.MultinomialNB(alpha=0.5)
    np.testing.assert_array_equal(python_ids(est, X, y), cli_labels(eddy_bin, tmp_path, X, y, est.spec()))


@pytest.mark.parametrize("batch", [1024, 100])
def test_kmeans_centres_equal_the_command_line(batch, eddy_bin, tmp_path):
    X, _ = stream()
    est = eddy.MiniBatchKMeans(n_clusters=3, batch_size=batch)
    got = python_ids(est, X, None, batch)
    want = cli_labels(eddy_bin, tmp_path, X, None, est.spec(), batch)
    np.testing.assert_array_equal(got, want)
    assert len(set(got.tolist())) == 3
