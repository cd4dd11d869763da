"""examples/flask_app.py, driven with Flask's test client."""

import importlib.util
from pathlib import Path

import numpy as np

import eddy

from conftest import stream

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask_app.py"


def load_example():
    spec = importlib.util.spec_from_file_location("flask_app", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_learn_then_predict_over_json():
    app = load_example().create_app(eddy.Model("scale | sgd(loss=log_loss)"))
    client = app.test_client()
    assert client.post("/predict", json=[[0.0, 0.0, 0.0, 0.0]]).status_code == 409
    X, y = stream(n=600)
    twin = eddy.Model("scale | sgd(loss=log_loss)")
    for start in range(0, 600, 100):
        answer = client.post("/learn", json={"features": X[start : start + 100].tolist(),
                                             "labels": y[start : start + 100].tolist()})
        assert answer.status_code == 200
        assert answer.get_json()["labels"] == twin.learn_predict(X[start : start + 100], y[start : start + 100]).tolist()
    assert answer.get_json()["records_seen"] == 600
    answer = client.post("/predict", json=X[:5].tolist()).get_json()
    assert answer["labels"] == twin.predict(X[:5]).tolist()
    np.testing.assert_allclose(answer["probabilities"], twin.predict_proba(X[:5]))
    assert sorted(answer["classes"]) == ["a", "b", "c"]


def test_bad_requests_get_an_error_and_the_model_is_unchanged():
    app = load_example().create_app(eddy.GaussianNB())
    client = app.test_client()
    X, y = stream(n=100)
    client.post("/learn", json={"features": X.tolist(), "labels": y.tolist()})
    for body in ([[1.0, 2.0]], [["x", 1, 2, 3]], [[float("nan")] * 4], "rows", {"features": 1}):
        answer = client.post("/predict", json=body)
        assert answer.status_code in (400, 422), body
        assert "error" in answer.get_json()
    answer = client.post("/learn", json={"features": [[1.0, 2.0]], "labels": ["a"]})
    assert answer.status_code == 422 and "features" in answer.get_json()["error"]
    answer = client.post("/learn", json={"features": X[:1].tolist()})
    assert answer.status_code == 422
    assert client.post("/learn", json={"features": X[:1].tolist(), "labels": ["a"]}).get_json()["records_seen"] == 101
