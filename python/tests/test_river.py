"""River's per-record API: the same labels as the batch step, and River's own
learners side by side on one stream for the models both have."""

import numpy as np
import pytest
from river import naive_bayes, preprocessing, linear_model, optim

import eddy

from conftest import stream


def as_dicts(X):
    return [{f"x{j}": float(v) for j, v in enumerate(row)} for row in X]


@pytest.mark.parametrize("make", [eddy.GaussianNB, eddy.HoeffdingTreeClassifier, lambda: eddy.SGDClassifier(loss="log_loss")])
def test_predict_one_then_learn_one_is_the_prequential_step(make):
    # (Behind a scaler they part: learn_predict scales a record with statistics that
    # include it, predict_one with those before it; see the README.)
    X, y = stream(n=800)
    one, batch = make(), make()
    got = []
    for x, label in zip(as_dicts(X), y):
        got.append(one.predict_one(x))
        one.learn_one(x, label)
    want = batch.learn_predict(X, y)
    assert got == want.tolist()
    probabilities = one.predict_proba_one(as_dicts(X[:1])[0])
    assert set(probabilities) <= {"a", "b", "c"} and abs(sum(probabilities.values()) - 1.0) < 1e-9


def test_gaussian_nb_labels_as_river_s_on_the_same_records():
    X, y = stream(n=2000)
    ours, theirs = eddy.GaussianNB(var_smoothing=0.0), naive_bayes.GaussianNB()
    agree = 0
    for x, label in zip(as_dicts(X), y):
        a, b = ours.predict_one(x), theirs.predict_one(x)
        agree += a == b
        ours.learn_one(x, label)
        theirs.learn_one(x, label)
    # Same model, same data: they part only where River's variance estimate differs
    # in the first records of a class.
    assert agree / len(X) > 0.97


def test_a_scaler_learns_and_transforms_one_record_at_a_time():
    X, _ = stream(n=300)
    ours, theirs = eddy.StandardScaler(), preprocessing.StandardScaler()
    for x in as_dicts(X):
        ours.learn_one(x)
        theirs.learn_one(x)
    x = as_dicts(X[:1])[0]
    a, b = ours.transform_one(x), theirs.transform_one(x)
    assert a.keys() == b.keys()
    assert all(abs(a[k] - b[k]) < 1e-9 for k in a)


def test_a_clusterer_learns_one_record_at_a_time():
    X, _ = stream(n=200)
    km = eddy.MiniBatchKMeans(n_clusters=3)
    records = as_dicts(X)
    # k-means++ seeds 3 centres from its first mini-batch: the first records wait for it.
    for x in records[:2]:
        km.learn_one(x)
        assert km.predict_one(x) is None
    km.learn_one(records[2])
    assert km.predict_one(records[0]) in {0, 1, 2}
    for x in records[3:]:
        km.learn_one(x)
    assert km._fitted().records_seen == 200
    assert {km.predict_one(x) for x in records} == {0, 1, 2}
