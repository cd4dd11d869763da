"""Conventions that scikit-learn's tools and River users rely on, each a defect once."""

import pickle
import threading

import numpy as np
import pytest

import eddy

from conftest import stream


def test_classes_are_sorted_and_probabilities_follow_them():
    X, _ = stream(n=600)
    y = (X[:, 0] > 0).astype(int)
    y[0] = 1  # first seen: 1, then 0
    model = eddy.SGDClassifier(loss="log_loss").fit(X, y)
    assert model.classes_.tolist() == [0, 1]
    proba = model.predict_proba(X)
    assert (model.classes_[proba.argmax(axis=1)] == model.predict(X)).all()


def test_a_misaligned_array_is_copied_not_read_as_it_is():
    buffer = np.frombuffer(bytearray(1601), np.float64, offset=1, count=200).reshape(100, 2)
    assert not buffer.flags.aligned
    model = eddy.GaussianNB().partial_fit(buffer, ["a", "b"] * 50)
    assert model._fitted().records_seen == 100
    with pytest.raises(ValueError, match="aligned"):
        eddy._eddy.Model.from_spec("gaussian-nb").predict(buffer)


def test_threads_may_learn_and_predict_with_one_model():
    X, y = stream(n=20_000)
    model = eddy.SGDClassifier().fit(X[:1000], y[:1000])
    errors = []

    def learn():
        try:
            for start in range(1000, 20_000, 1000):
                model.partial_fit(X[start : start + 1000], y[start : start + 1000])
        except Exception as e:  # noqa: BLE001 - the test reports any
            errors.append(e)

    def predict():
        try:
            for _ in range(40):
                model.predict(X[:500])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=learn)] + [threading.Thread(target=predict) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and model._fitted().records_seen == 20_000


def test_labels_of_several_types_stay_themselves():
    X = np.arange(8.0).reshape(4, 2)
    model = eddy.GaussianNB().partial_fit(X, [1, "a", 1, "a"])
    assert set(model.classes_.tolist()) == {1, "a"}
    assert model.score(X, [1, "a", 1, "a"]) >= 0.5


@pytest.mark.parametrize("labels", [["1", "2"], [1.5, 2.5], [True, False], [3, 4]])
def test_saved_labels_come_back_with_their_type(labels, tmp_path):
    X = np.arange(8.0).reshape(4, 2)
    y = labels * 2
    model = eddy.GaussianNB().partial_fit(X, y)
    model.save(tmp_path / "m.eddy")
    loaded = eddy.load(tmp_path / "m.eddy")
    assert loaded.classes_.tolist() == model.classes_.tolist()
    assert [type(v) for v in loaded.classes_.tolist()] == [type(v) for v in model.classes_.tolist()]
    assert loaded.score(X, y) == model.score(X, y)


def test_labels_that_would_read_the_same_in_a_file_are_refused(tmp_path):
    model = eddy.GaussianNB().partial_fit(np.arange(4.0).reshape(2, 2), [1, "1"])
    with pytest.raises(ValueError, match="same names"):
        model.save(tmp_path / "m.eddy")


def test_a_refused_first_batch_sets_no_fitted_attribute():
    model = eddy.SGDClassifier()
    with pytest.raises(ValueError):
        model.partial_fit([[1.0, float("nan"), 3.0]], ["a"])
    assert not hasattr(model, "n_features_in_")
    model.partial_fit([[1.0, 2.0]], ["a"])
    assert model.n_features_in_ == 2
    with pytest.raises(ValueError, match="arrays without feature names"):
        model.learn_one({"a": 1.0, "b": 2.0, "c": 3.0}, "a")
    assert model.n_features_in_ == 2


def test_a_transformer_refuses_a_batch_before_learning_it():
    pd = pytest.importorskip("pandas")
    scaler = eddy.StandardScaler()
    with pytest.raises(ValueError, match="not encoded"):
        scaler.partial_fit(pd.DataFrame({"a": [1.0, 2.0, 3.0], "c": ["x", "y", "x"]}))
    assert "_model" not in scaler.__dict__ or scaler._model.records_seen == 0
    assert scaler.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0]})).transform(pd.DataFrame({"a": [2.0]})).tolist() == [[0.0]]


def test_records_with_integer_keys():
    model = eddy.GaussianNB()
    for row, label in zip(np.arange(20.0).reshape(10, 2), "ab" * 5):
        model.learn_one(dict(enumerate(row)), label)
    assert model.predict_one({0: 0.0, 1: 1.0}) in ("a", "b")
    assert isinstance(model.predict_one({0: 0.0, 1: 1.0}), str)


def test_parameters_cannot_smuggle_spec_text_and_odd_names_are_quoted():
    with pytest.raises(ValueError, match="loss must be"):
        eddy.SGDClassifier(loss="log_loss, eta0=5, learning_rate=constant").spec()
    encoder = eddy.OneHotEncoder(columns=["é", "-a", 'say "hi"', "tab\tx"])
    assert eddy.Model(encoder.spec() + " | sgd").spec().startswith("onehot(columns=[")


def test_list_defaults_are_not_shared():
    a = eddy.OneHotEncoder()
    a.columns.append("zz")
    assert eddy.OneHotEncoder().columns == []


def test_nested_parameters_and_a_detector_that_starts_afresh():
    model = eddy.DriftRetrainingClassifier(model=eddy.SGDClassifier())
    assert model.get_params()["model__loss"] == "hinge"
    model.set_params(model__loss="log_loss")
    assert "loss=log_loss" in model.spec()
    adwin = eddy.ADWIN()
    for v in np.r_[np.zeros(500), np.ones(500)]:
        adwin.update(v)
    adwin.set_params(delta=0.5)
    assert adwin.spec() == "adwin(delta=0.5)" and adwin.estimation == 0.0


def test_centres_that_cannot_be_shown_and_a_pickled_fit():
    km = eddy.MiniBatchKMeans(n_clusters=2).fit(np.random.default_rng(0).normal(size=(100, 2)))
    copy = pickle.loads(pickle.dumps(km))
    assert (copy.labels_ == km.labels_).all()
    with pytest.raises(ValueError, match="complex"):
        km.predict(np.ones((2, 2), dtype=complex))
    with pytest.raises(ValueError, match="label"):
        eddy.GaussianNB().partial_fit([[1.0]], [float("inf")])


def test_scikit_learn_s_own_parameters_run_unchanged():
    X, y = stream(n=500)
    model = eddy.SGDClassifier(random_state=0, max_iter=5, tol=None, penalty=None, n_jobs=2).fit(X, y)
    assert model.spec() == "sgd(penalty=none)" and model.get_params()["max_iter"] == 5
    assert eddy.Perceptron(max_iter=5, random_state=0).fit(X, y).score(X, y) > 0.3
    assert eddy.MiniBatchKMeans(n_clusters=3, n_init="auto").fit(X).spec() == "minibatch-kmeans(n_clusters=3, n_init=1)"
    assert eddy.StandardScaler(copy=False).fit(X).transform(X).shape == X.shape
    with pytest.raises(ValueError, match="priors"):
        eddy.GaussianNB(priors=[0.5, 0.5]).fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        eddy.SGDClassifier(early_stopping=True).fit(X, y)


def test_declared_classes_are_named_in_errors_and_kept():
    X = np.arange(8.0).reshape(4, 2)
    model = eddy.SGDClassifier().partial_fit(X, ["yes", "no"] * 2, classes=["yes", "no"])
    with pytest.raises(ValueError, match=r"'maybe' is not one of the declared classes \['no', 'yes'\]"):
        model.partial_fit(X[:1], ["maybe"])
    with pytest.raises(ValueError, match="not the same as the classes known"):
        model.partial_fit(X, ["yes", "no"] * 2, classes=["yes", "no", "maybe"])
    again = pickle.loads(pickle.dumps(model))
    with pytest.raises(ValueError, match="declared classes"):
        again.partial_fit(X[:1], ["maybe"])


def test_nothing_to_learn_is_an_error():
    with pytest.raises(ValueError, match="0 sample"):
        eddy.GaussianNB().fit(np.empty((0, 2)), [])


def test_decision_scores_and_weights_follow_classes_():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.multiclass import OneVsRestClassifier

    X, y3 = stream(n=900)
    y = (X[:, 0] > 0).astype(int)
    y[0] = 1  # first seen: 1, so sorting swaps the two classes
    model = eddy.SGDClassifier().fit(X, y)
    scores = model.decision_function(X)
    assert scores.shape == (900,)
    assert (model.classes_[(scores > 0).astype(int)] == model.predict(X)).all()
    np.testing.assert_allclose(scores, X @ model.coef_[0] + model.intercept_[0], rtol=1e-12, atol=1e-12)
    many = eddy.Perceptron().fit(X, y3)
    assert (many.classes_[many.decision_function(X).argmax(axis=1)] == many.predict(X)).all()
    assert many.coef_.shape == (3, 4)
    with pytest.raises(AttributeError):
        eddy.GaussianNB().fit(X, y).decision_function(X)
    with pytest.raises(AttributeError):
        eddy.Model("scale | sgd").fit(X, y).coef_
    assert CalibratedClassifierCV(eddy.SGDClassifier(), cv=3).fit(X, y).score(X, y) > 0.8
    assert OneVsRestClassifier(eddy.SGDClassifier()).fit(X, y3).score(X, y3) > 0.4


def test_a_scaler_s_statistics_are_scikit_learn_s():
    from sklearn.preprocessing import StandardScaler

    X, _ = stream(n=1000)
    X[:, 3] = 2.0  # a constant feature: its divisor is 1
    ours = eddy.StandardScaler()
    theirs = StandardScaler()
    for start in range(0, 1000, 250):
        ours.partial_fit(X[start : start + 250])
        theirs.partial_fit(X[start : start + 250])
    np.testing.assert_allclose(ours.mean_, theirs.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.var_, theirs.var_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.scale_, theirs.scale_, rtol=1e-10)
    assert ours.n_samples_seen_ == 1000 and eddy.StandardScaler(with_std=False).fit(X).scale_ is None
    with pytest.raises(AttributeError):
        eddy.SimpleImputer().fit(X).mean_
