"""A small Flask application that embeds an eddy model: for when you want your own web
app around a model (your routes, your auth, your other endpoints) rather than
``eddy serve``, which is the ready-made service (HTTPS, tokens, checkpoints, metrics,
learning on its own thread).

    pip install ./python flask
    EDDY_MODEL='scale | sgd(loss=log_loss)' flask --app examples/flask_app.py run

    curl -s localhost:5000/learn -H 'Content-Type: application/json' \\
         -d '{"features": [[0.1, 2.0], [3.0, 0.5]], "labels": ["ok", "fail"]}'
    curl -s localhost:5000/predict -H 'Content-Type: application/json' -d '[[0.2, 1.9]]'

``EDDY_MODEL_FILE`` loads a saved model instead (``EDDY_SIGNING_KEY``: its key file).
"""

from __future__ import annotations

import os
import threading

from flask import Flask, jsonify, request

import eddy


def create_app(model: eddy.Estimator | None = None) -> Flask:
    """The application around ``model`` (by default from the environment)."""
    if model is None:
        path = os.environ.get("EDDY_MODEL_FILE")
        model = (
            eddy.load(path, signing_key=os.environ.get("EDDY_SIGNING_KEY"))
            if path
            else eddy.Model(os.environ.get("EDDY_MODEL", "scale | sgd(loss=log_loss)"))
        )
    app = Flask(__name__)
    # Flask serves requests on several threads; one model learns one batch at a time.
    lock = threading.Lock()

    def bad_request(message: str, status: int = 422):
        return jsonify({"error": message, "status": status}), status

    @app.post("/predict")
    def predict():
        rows = request.get_json(silent=True)
        if not isinstance(rows, list):
            return bad_request("the body is a JSON array of records (arrays of numbers)", 400)
        try:
            with lock:
                labels = model.predict(rows)
                proba = model.predict_proba(rows) if hasattr(model, "classes_") else None
        except eddy.NotFittedError as e:
            return bad_request(str(e), 409)
        except (ValueError, TypeError, AttributeError) as e:
            return bad_request(str(e))
        answer = {"labels": labels.tolist()}
        if proba is not None:
            answer["probabilities"] = proba.tolist()
            answer["classes"] = model.classes_.tolist()
        return jsonify(answer)

    @app.post("/learn")
    def learn():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or "features" not in body:
            return bad_request('the body is {"features": [[...], ...], "labels": [...]}', 400)
        try:
            with lock:
                if model._estimator_type == "classifier":
                    labels = model.learn_predict(body["features"], body.get("labels", []))
                else:
                    labels = model.learn_predict(body["features"])
                seen = model._fitted().records_seen
        except (ValueError, TypeError) as e:
            return bad_request(str(e))
        return jsonify({"labels": [None if v is None else v for v in labels.tolist()], "records_seen": seen})

    return app


if __name__ == "__main__":
    create_app().run()
