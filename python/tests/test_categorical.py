"""Categorical columns: a pandas frame's text columns and a record's text values reach
eddy's encoders and trees as the command line's text columns do."""

import numpy as np
import pandas as pd
import pytest

import eddy

from conftest import run_cli


def mixed(n=3000, seed=5):
    rng = np.random.default_rng(seed)
    city = rng.choice(["paris", "lyon", "nice", "lille"], size=n).astype(object)
    device = rng.choice(["mobile", "desktop", "tablet"], size=n).astype(object)
    device[rng.random(n) < 0.1] = None  # missing
    amount = rng.gamma(2.0, 50.0, size=n)
    hour = rng.integers(0, 24, size=n).astype(float)
    risk = (city == "nice") * 1.5 + (device == "mobile") * 1.0 + amount / 100 + rng.normal(size=n)
    label = np.where(risk > 2.2, "fraud", "ok")
    return pd.DataFrame({"amount": amount, "city": city, "hour": hour, "device": device, "label": label})


def write(frame, path):
    with open(path, "w") as f:
        f.write(",".join(frame.columns) + "\n")
        for row in frame.itertuples(index=False):
            f.write(",".join(cell(v) for v in row) + "\n")


def cell(v):
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return repr(v) if isinstance(v, float) else str(v)


@pytest.mark.parametrize(
    "spec",
    ["impute | onehot | scale | sgd(loss=log_loss)", "hoeffding-tree(grace_period=50)", "impute | hash(n_features=16) | gaussian-nb"],
)
def test_a_frame_with_text_columns_gets_the_command_line_s_labels(spec, eddy_bin, tmp_path):
    frame = mixed()
    write(frame, tmp_path / "mixed.csv")
    out = tmp_path / "labels.csv"
    run_cli(eddy_bin, "run", str(tmp_path / "mixed.csv"), "--model", spec, "--label-column", "label",
            "--labels-out", str(out), "--quiet")
    want = np.loadtxt(out, delimiter=",", skiprows=1, dtype=np.int64)[:, 1]
    model = eddy.Model(spec)
    X, y = frame.drop(columns="label"), frame["label"]
    got = []
    for start in range(0, len(frame), 1024):
        labels = model.learn_predict(X.iloc[start : start + 1024], y.iloc[start : start + 1024])
        got += [eddy.NO_PREDICTION if v is None else model._labels.ids[v] for v in labels]
    np.testing.assert_array_equal(got, want)
    assert model.feature_names_in_.tolist() == ["amount", "city", "hour", "device"]
    assert model._categorical == ["city", "device"]


def test_records_as_dicts_with_text_values(tmp_path):
    frame = mixed(n=1500)
    records = frame.drop(columns="label").to_dict("records")
    one = eddy.HoeffdingTreeClassifier(grace_period=50)
    got = []
    for x, label in zip(records, frame["label"]):
        got.append(one.predict_one(x))
        one.learn_one(x, label)
    batch = eddy.HoeffdingTreeClassifier(grace_period=50).learn_predict(frame.drop(columns="label"), frame["label"])
    assert got == batch.tolist()
    # Saved with its categorical columns: eddy.load gives them back.
    one.save(tmp_path / "tree.eddy")
    again = eddy.load(tmp_path / "tree.eddy")
    assert again._categorical == ["city", "device"]
    np.testing.assert_array_equal(again.predict(frame.drop(columns="label")), one.predict(frame.drop(columns="label")))


def test_an_encoder_alone_in_a_scikit_learn_pipeline():
    frame = mixed(n=2000)
    X, y = frame.drop(columns="label"), frame["label"]
    encoder = eddy.OneHotEncoder()
    wide = encoder.fit_transform(X.fillna({"device": "unknown"}))
    assert wide.shape == (2000, 2 + 4 + 4)
    assert set(np.unique(wide[:, 2:])) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="not encoded"):
        eddy.StandardScaler().fit(X)


def test_categorical_columns_need_a_frame_and_an_encoder():
    frame = mixed(n=200)
    X, y = frame.drop(columns="label"), frame["label"]
    with pytest.raises(ValueError, match="categorical|onehot|hash"):
        eddy.SGDClassifier().fit(X, y)
    model = eddy.Model("impute | onehot | sgd").fit(X, y)
    with pytest.raises(ValueError, match="DataFrame"):
        model.predict(X[["amount", "hour"]].to_numpy())
