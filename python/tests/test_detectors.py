"""Drift detectors with River's API, against River's own detectors on one stream."""

import pickle

import numpy as np
import pytest
from river import drift

import eddy


def shifted(n=4000, at=2000, seed=3):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0.0, 1.0, at), rng.normal(3.0, 1.0, n - at)])


def errors(n=4000, at=2000, seed=3):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.random(at) < 0.1, rng.random(n - at) < 0.5]).astype(np.float64)


@pytest.mark.parametrize(
    "ours, theirs, values",
    [
        (eddy.ADWIN(), drift.ADWIN(), shifted),
        (eddy.PageHinkley(), drift.PageHinkley(), shifted),
        (eddy.DDM(), drift.binary.DDM(), errors),
        (eddy.EDDM(), drift.binary.EDDM(), errors),
        (eddy.HDDMA(), drift.binary.HDDMA(), errors),
        (eddy.HDDMW(), drift.binary.HDDMW(), errors),
    ],
    ids=lambda v: type(v).__name__ if not callable(v) or isinstance(v, eddy.Estimator) else "",
)
def test_drifts_where_river_does(ours, theirs, values):
    xs = values()
    ours_at, theirs_at = [], []
    for i, x in enumerate(xs):
        ours.update(x)
        theirs.update(x)
        if ours.drift_detected:
            ours_at.append(i)
        if theirs.drift_detected:
            theirs_at.append(i)
    assert ours_at == theirs_at
    assert any(i >= 2000 for i in ours_at), "the change at 2000 is found"


def test_kswin_finds_the_change_and_update_many_agrees_with_update():
    xs = shifted()
    one = eddy.KSWIN(seed=1)
    found = []
    for i, x in enumerate(xs):
        if one.update(x).drift_detected:
            found.append(i)
    many = eddy.KSWIN(seed=1).update_many(xs)
    assert [i for i, s in many if s == "drift"] == found
    assert any(2000 <= i < 2200 for i in found)


def test_detectors_pickle_and_refuse_bad_values():
    adwin = eddy.ADWIN(delta=0.01)
    for x in shifted()[:1500]:
        adwin.update(x)
    copy = pickle.loads(pickle.dumps(adwin))
    assert copy.spec() == "adwin(delta=0.01)" and copy.estimation == adwin.estimation
    rest = shifted()[1500:]
    assert copy.update_many(rest) == adwin.update_many(rest)
    with pytest.raises(ValueError, match="finite"):
        adwin.update(float("nan"))
    with pytest.raises(ValueError, match="0 or 1"):
        eddy.DDM().update(0.5)
    with pytest.raises(ValueError, match="delta"):
        eddy.ADWIN(delta=2.0).update(1.0)


def test_a_detector_drives_a_drift_retraining_classifier():
    model = eddy.DriftRetrainingClassifier(detector=eddy.DDM(drift_threshold=2.5))
    assert model.spec() == "drift-retrain(detector=ddm(drift_threshold=2.5))"
    model.partial_fit([[0.0], [1.0]], [0, 1])
    assert model.predict([[0.0]]).tolist() in ([0], [1])
