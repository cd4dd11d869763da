"""Model files: a model saved in Python is eddy's own signed file (the command line and
`eddy serve` read it), and a file the command line wrote loads in Python."""

import json
import os
import re
import subprocess
import time
import urllib.request

import numpy as np
import pytest

import eddy

from conftest import run_cli, stream, write_csv

KEY = bytes(range(32))


def test_a_signed_model_needs_its_key_and_refuses_damage(tmp_path):
    X, y = stream(n=500)
    est = eddy.GaussianNB().partial_fit(X, y)
    path = tmp_path / "nb.eddy"
    est.save(path, signing_key=KEY)
    loaded = eddy.load(path, signing_key=KEY)
    assert isinstance(loaded, eddy.GaussianNB)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.classes_.tolist() == est.classes_.tolist()
    with pytest.raises(ValueError, match="signed"):
        eddy.load(path)
    with pytest.raises(ValueError, match="signature"):
        eddy.load(path, signing_key=bytes(32))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    (tmp_path / "bad.eddy").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt|signature"):
        eddy.load(tmp_path / "bad.eddy", signing_key=KEY)
    (tmp_path / "short.eddy").write_bytes(bytes(data[:40]))
    with pytest.raises(ValueError, match="truncated|not an eddy"):
        eddy.load(tmp_path / "short.eddy", signing_key=KEY)


def test_an_encrypted_model_needs_its_key(tmp_path):
    X, y = stream(n=300)
    path = tmp_path / "m.eddy"
    eddy.Model("scale | sgd").fit(X, y).save(path, encryption_key=KEY.hex())
    with pytest.raises(ValueError, match="encrypted"):
        eddy.load(path)
    assert eddy.load(path, encryption_key=KEY.hex()).spec() == "scale | sgd"


def test_a_model_saved_in_python_is_served_by_eddy_serve(tmp_path, eddy_bin):
    X, y = stream(n=1000)
    est = eddy.Model("scale | sgd(loss=log_loss)").fit(X, y)
    path = tmp_path / "served.eddy"
    key = tmp_path / "signing.key"
    key.write_bytes(KEY)
    est.save(path, signing_key=KEY)
    server = subprocess.Popen(
        [eddy_bin, "serve", "--model", str(path), "--signing-key", str(key), "--listen", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        address = None
        deadline = time.time() + 60
        while address is None and time.time() < deadline:
            line = server.stderr.readline()
            found = re.search(r"listening on (http://\S+)", line)
            address = found and found.group(1)
        assert address, "eddy serve did not start"
        request = urllib.request.Request(
            f"{address}/v1/predict",
            data=json.dumps(X[:50].tolist()).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    finally:
        server.terminate()
        server.wait(timeout=30)
    want = [est._labels.ids[v] for v in est.predict(X[:50])]
    assert answer["labels"] == want
    # The service answers in the model's class order (ids), Python in classes_ order.
    columns = [est.classes_.tolist().index(est._labels.labels[i]) for i in answer["classes"]]
    np.testing.assert_allclose(answer["probabilities"], est.predict_proba(X[:50])[:, columns], rtol=0, atol=1e-12)


def test_a_model_saved_by_the_command_line_loads_in_python(tmp_path, eddy_bin):
    X, y = stream(n=2000)
    data = tmp_path / "data.csv"
    write_csv(data, X, y)
    model = tmp_path / "nb.eddy"
    run_cli(eddy_bin, "run", str(data), "--model", "gaussian-nb", "--label-column", "label",
            "--labels-out", str(tmp_path / "l.csv"), "--save-model", str(model), "--quiet")
    loaded = eddy.load(model)
    assert isinstance(loaded, eddy.GaussianNB)
    assert loaded.n_features_in_ == 4
    assert sorted(loaded.classes_.tolist()) == ["a", "b", "c"]
    # The command line's labels of a frozen model are Python's predictions.
    out = tmp_path / "frozen.csv"
    run_cli(eddy_bin, "run", str(data), "--model-file", str(model), "--no-learn", "--label-column", "label",
            "--labels-out", str(out), "--quiet")
    cli = np.loadtxt(out, delimiter=",", skiprows=1, dtype=np.int64)[:, 1]
    ours = [loaded._labels.ids[v] for v in loaded.predict(X)]
    np.testing.assert_array_equal(ours, cli)
    # And it goes on learning in Python.
    loaded.partial_fit(X[:10], y[:10])
    assert loaded._fitted().records_seen == 2010


def test_keys_are_bytes_hex_or_a_key_file(tmp_path):
    est = eddy.GaussianNB().partial_fit([[0.0], [1.0]], [0, 1])
    key_file = tmp_path / "k"
    key_file.write_text(KEY.hex() + "\n")
    for key in (KEY, KEY.hex(), str(key_file), key_file):
        est.save(tmp_path / "m.eddy", signing_key=key)
        assert eddy.load(tmp_path / "m.eddy", signing_key=KEY).classes_.tolist() == [0, 1]
    with pytest.raises(ValueError, match="32 bytes"):
        est.save(tmp_path / "m.eddy", signing_key=b"short")
