"""scikit-learn's conventions: parameters, clone, Pipeline, pickle, labels of any type,
pandas input, classes mid-stream, and a clear exception for every bad input."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

import eddy

from conftest import stream


def test_every_parameter_is_a_keyword_with_eddy_s_default():
    est = eddy.SGDClassifier()
    params = est.get_params()
    assert params["loss"] == "hinge" and params["alpha"] == 0.0001 and params["eta0"] == 0.01
    assert est.spec() == "sgd"
    est.set_params(loss="log_loss", eta0=0.5, learning_rate="constant")
    assert est.spec() == "sgd(loss=log_loss, learning_rate=constant, eta0=0.5)"
    assert repr(est) == "SGDClassifier(loss='log_loss', learning_rate='constant', eta0=0.5)"
    with pytest.raises(ValueError, match="no parameter 'los'"):
        est.set_params(los=1)
    with pytest.raises(TypeError, match="unexpected"):
        eddy.SGDClassifier(los=1)
    # A value the model refuses is refused when the model is built, with eddy's words.
    with pytest.raises(ValueError, match="alpha"):
        eddy.SGDClassifier(alpha=-1).partial_fit([[0.0]], [1])


def test_parameters_reach_the_model():
    X, y = stream(n=500)
    a = eddy.SGDClassifier(learning_rate="constant", eta0=0.5).learn_predict(X, y)
    b = eddy.SGDClassifier(learning_rate="constant", eta0=0.001).learn_predict(X, y)
    assert (a != b).any()


def test_clone_gives_an_unfitted_twin():
    est = eddy.GaussianNB(var_smoothing=1e-6)
    X, y = stream(n=300)
    est.partial_fit(X, y)
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    with pytest.raises(eddy.NotFittedError):
        twin.predict(X)
    np.testing.assert_array_equal(twin.fit(X, y).predict(X), est.predict(X))


def test_a_pipeline_of_eddy_stages_fits_and_predicts():
    X, y = stream(n=2000)
    pipe = Pipeline([("scale", eddy.StandardScaler()), ("sgd", eddy.SGDClassifier(loss="log_loss"))])
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.6
    assert pipe.predict_proba(X[:3]).shape == (3, 3)
    assert clone(pipe).get_params()["sgd__loss"] == "log_loss"


def test_a_partial_fit_loop_with_declared_classes_orders_them_as_scikit_learn():
    X, y = stream(n=3000)
    est = eddy.SGDClassifier()
    for start in range(0, 3000, 500):
        est.partial_fit(X[start : start + 500], y[start : start + 500], classes=["c", "b", "a"])
    assert est.classes_.tolist() == ["a", "b", "c"]
    assert est.score(X, y) > 0.5


@pytest.mark.parametrize(
    "labels",
    [["spam", "ham"], [3, -7], [True, False], [2.5, 1.0]],
    ids=["str", "int", "bool", "float"],
)
def test_labels_of_any_type_come_back_as_given(labels):
    X, y = stream(n=400, classes=labels)
    est = eddy.GaussianNB().partial_fit(X, y)
    predicted = est.predict(X)
    assert set(predicted.tolist()) <= set(labels)
    assert sorted(est.classes_.tolist(), key=str) == sorted(labels, key=str)
    assert type(predicted.tolist()[0]) is type(labels[0])
    proba = est.predict_proba(X[:2])
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1.0)


def test_classes_may_appear_mid_stream():
    X, y = stream(n=1500)
    est = eddy.SGDClassifier()
    est.partial_fit(X[:500][y[:500] != "c"], y[:500][y[:500] != "c"])
    assert est.classes_.tolist() == ["b", "a"] or sorted(est.classes_.tolist()) == ["a", "b"]
    est.partial_fit(X[500:], y[500:])
    assert sorted(est.classes_.tolist()) == ["a", "b", "c"]
    assert "c" in est.predict(X).tolist()


def test_the_first_record_of_a_stream_has_no_label():
    labels = eddy.SGDClassifier().learn_predict([[1.0, 2.0], [2.0, 1.0]], ["x", "y"])
    assert labels[0] is None and labels[1] == "x"


def test_pickle_round_trips_and_goes_on_learning_the_same():
    X, y = stream(n=2000)
    for est in (eddy.SGDClassifier(loss="log_loss"), eddy.MiniBatchKMeans(n_clusters=3), eddy.StandardScaler()):
        if isinstance(est, eddy.StandardScaler):
            est.partial_fit(X[:1000])
        else:
            est.partial_fit(X[:1000], *([y[:1000]] if est._estimator_type == "classifier" else []))
        copy = pickle.loads(pickle.dumps(est))
        assert copy.get_params() == est.get_params()
        if isinstance(est, eddy.StandardScaler):
            np.testing.assert_array_equal(copy.transform(X[1000:]), est.transform(X[1000:]))
            continue
        rest = (X[1000:], y[1000:]) if est._estimator_type == "classifier" else (X[1000:],)
        np.testing.assert_array_equal(copy.learn_predict(*rest), est.learn_predict(*rest))


def test_an_unknown_pickle_version_is_refused():
    est = eddy.GaussianNB()
    state = est.__getstate__()
    state["pickle_version"] = 99
    with pytest.raises(ValueError, match="pickle version 99"):
        eddy.GaussianNB().__setstate__(state)


def test_pandas_input_keeps_its_feature_names():
    X, y = stream(n=500)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = eddy.GaussianNB().partial_fit(frame, pd.Series(y))
    assert est.feature_names_in_.tolist() == ["a", "b", "c", "d"] and est.n_features_in_ == 4
    np.testing.assert_array_equal(est.predict(frame), est.predict(X))
    with pytest.raises(ValueError, match="feature names differ"):
        est.predict(frame.rename(columns={"a": "z"}))
    # Columns are matched by name, as the command line matches a model file's features.
    np.testing.assert_array_equal(est.predict(frame[["d", "c", "b", "a"]]), est.predict(X))


def test_fortran_order_and_other_dtypes_give_the_same_labels():
    X, y = stream(n=600)
    a = eddy.SGDClassifier().learn_predict(X, y)
    b = eddy.SGDClassifier().learn_predict(np.asfortranarray(X), y)
    c = eddy.SGDClassifier().learn_predict(X.astype(np.float32).astype(np.float64), y)
    np.testing.assert_array_equal(a, b)
    assert len(c) == 600
    # Strided views are read as they are.
    wide = np.hstack([X, X])[:, ::2]
    assert eddy.SGDClassifier().learn_predict(wide, y).shape == (600,)


@pytest.mark.parametrize(
    "X, y, error, match",
    [
        ([[1.0, 2.0], [1.0]], ["a", "b"], ValueError, "numeric|sequence|inhomogeneous"),
        ([1.0, 2.0], ["a", "b"], ValueError, "2D array"),
        ([[1.0, float("nan")]], ["a"], ValueError, r"row 0, column 1"),
        ([[1.0, float("inf")]], ["a"], ValueError, r"row 0, column 1"),
        ([["x", 2.0]], ["a"], ValueError, "numeric"),
        ([[1.0, 2.0]], ["a", "b"], ValueError, "one label per row"),
        ([[1.0, 2.0]], [None], ValueError, "may not be None"),
        ([[1.0, 2.0]], [["a"]], ValueError, "1-D"),
    ],
)
def test_bad_input_raises_a_clear_exception(X, y, error, match):
    est = eddy.SGDClassifier()
    with pytest.raises(error, match=match):
        est.partial_fit(X, y)


def test_wrong_width_after_learning_names_both_widths():
    est = eddy.SGDClassifier().partial_fit([[1.0, 2.0], [2.0, 1.0]], ["a", "b"])
    with pytest.raises(ValueError, match="3 features, but SGDClassifier takes 2"):
        est.predict([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="3 features"):
        est.partial_fit([[1.0, 2.0, 3.0]], ["a"])


def test_a_clusterer_takes_no_labels_and_a_bad_spec_points_at_the_mistake():
    with pytest.raises(TypeError, match="clusterer"):
        eddy._eddy.Model.from_spec("minibatch-kmeans").learn_predict(np.zeros((3, 1)), np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"did you mean loss\?"):
        eddy.Model("scale | sgd(los=log)")
    with pytest.raises(ValueError, match="transformer"):
        eddy.Model("scale")


def test_a_model_spec_becomes_a_classifier_or_a_clusterer():
    clf = eddy.Model.from_spec("scale | gaussian-nb")
    km = eddy.Model("scale | minibatch-kmeans(n_clusters=2)")
    assert isinstance(clf, eddy.ClassifierModel) and isinstance(km, eddy.ClustererModel)
    X, y = stream(n=400)
    assert clf.fit(X, y).score(X, y) > 0.5
    km.partial_fit(X)
    assert km.cluster_centers_.shape == (2, 4) and km.score(X) < 0
    assert clone(clf).get_params() == {"spec": "scale | gaussian-nb"}


def test_a_refused_batch_leaves_the_model_and_its_labels_unchanged():
    est = eddy.SGDClassifier().partial_fit([[0.0, 1.0], [1.0, 0.0]], ["a", "b"], classes=["a", "b"])
    with pytest.raises(ValueError):
        est.partial_fit([[0.0, 1.0]], ["c"])  # not a declared class
    with pytest.raises(ValueError):
        est.partial_fit([[0.0, float("nan")]], ["d"])
    assert est.classes_.tolist() == ["a", "b"] and set(est._labels.ids) == {"a", "b"}
    assert est._fitted().records_seen == 2
