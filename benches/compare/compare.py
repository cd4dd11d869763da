#!/usr/bin/env python3
"""Side-by-side comparison of eddy, scikit-learn (`partial_fit`) and River.

Generates two seeded streams (Gaussian blobs for k-means, a drifting hyperplane
for logistic regression), writes them to ``out/*.npy``, runs every system on the
same data and prints a Markdown table (also written to ``out/results.json``).

A second table runs eddy's model language (``compare_runner spec``) beside River's
``StandardScaler() | LogisticRegression()`` on the hyperplane and on two of eddy's
own generators (``synth:sea``, ``synth:hyperplane``, written to ``.npy`` by
``compare_runner synth``), and compares them prediction by prediction.

A drift section (``--no-drift`` skips it) adds two tables: eddy's recommended
drift-aware configuration (``hedge``) against River's ``StandardScaler() |
LogisticRegression()`` on every drifting generator and several seeds (prequential
accuracy, records/s), and River's drift detectors beside eddy's on streams with known
change points (delay to detection, missed changes, false alarms per 100k values,
updates/s, and whether the drift indices are the same).

A mixed-type table (``--no-mixed`` skips it, ``--only-mixed`` runs it alone) runs
River's one-hot, scaler and logistic regression pipeline beside ``eddy run`` with
``onehot | scale | sgd(...)`` on a CSV of card transactions (numeric, boolean and
categorical columns, new categories half way), and again with 5% of the values
missing and an imputer in front on both sides.

Timing: ``time.perf_counter()`` around the learning loop only. The data is
already in memory as numpy arrays; for River the rows are converted to dicts
*before* the timed loop. Final-model evaluations (ARI labels, inertia) are not
timed. The eddy runner must time the same way (see README.md).

Run it through ``run.sh``, which sets up the pinned virtualenv and builds the
eddy runner.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
OUT = HERE / "out"

N_CLUSTERS = 8
BLOB_DIM = 16
HYPER_DIM = 10

# The logistic regression table: eddy's model language beside River's
# `preprocessing.StandardScaler() | linear_model.LogisticRegression()` (River's
# defaults: SGD with a constant learning rate of 0.01 for the weights and the
# intercept, no L1 or L2 penalty, log loss).
EDDY_SPECS = {
    "river-like": "scale | sgd(loss=log_loss, learning_rate=constant, eta0=0.01, alpha=0)",
    "default": "scale | sgd(loss=log_loss)",
}
# Streams of that table: `hyperplane` is this script's (numpy); the others are
# eddy's `synth:` generators, written to .npy by `compare_runner synth` so that
# every system reads the same file.
LOGREG_STREAMS = {
    "hyperplane": None,
    "sea": "synth:sea?n={n}&seed={seed}",
    "synth-hyperplane": "synth:hyperplane?n={n}&d=10&seed={seed}",
}

# The drift tables. eddy's recommended drift-aware configuration, and River's pipeline
# written in eddy's language (the logistic regression table shows they agree) for
# reference.
DRIFT_SPECS = {
    "hedge": "hedge",
    "river-like": EDDY_SPECS["river-like"],
}
# Detectors: (eddy spec, River constructor as written, River factory). River's defaults
# throughout; KSWIN's seed only picks its random sample.
REAL_DETECTORS = [
    ("adwin", "drift.ADWIN()", lambda d, b: d.ADWIN()),
    ("page-hinkley", "drift.PageHinkley()", lambda d, b: d.PageHinkley()),
    ("kswin", "drift.KSWIN(seed=0)", lambda d, b: d.KSWIN(seed=0)),
]
BINARY_DETECTORS = [
    ("ddm", "drift.binary.DDM()", lambda d, b: b.DDM()),
    ("eddm", "drift.binary.EDDM()", lambda d, b: b.EDDM()),
    ("hddm-a", "drift.binary.HDDMA()", lambda d, b: b.HDDMA()),
    ("hddm-w", "drift.binary.HDDMW()", lambda d, b: b.HDDMW()),
    # Not a binary detector, but the usual choice on a model's errors (eddy run --drift's default).
    ("adwin", "drift.ADWIN()", lambda d, b: d.ADWIN()),
]
# River's own parity fixtures (tests/fixtures/drift, `cargo test drift_parity`) have
# every detector give River's indices exactly except KSWIN, whose sample each library
# draws with its own generator (exact only when window_size = 2 * stat_size).
EXACT_DETECTORS = {"adwin", "page-hinkley", "ddm", "eddm", "hddm-a", "hddm-w"}
# Mean of each segment of the real-valued stream (standard deviation 1).
GAUSS_MEANS = [0.0, 1.0, 0.0, 2.0, 1.0, 0.5, 0.0, -1.0, 0.0, 1.5]
# SEA's thresholds, in the order its concepts cycle (src/source/synth.rs), and the
# fixed rule whose errors the binary detectors watch: SEA's first concept, x0 + x1 <= 8.
SEA_THETAS = [8.0, 9.0, 7.0, 9.5]
SEA_RULE = 8.0


# --------------------------------------------------------------------------- data


def make_blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8 Gaussian blobs in 16-D: centres ~ U[-10, 10]^16, std 1.0.

    Cluster sizes are balanced (label = i mod 8) and the rows are shuffled.
    """
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10.0, 10.0, size=(N_CLUSTERS, BLOB_DIM))
    y = np.arange(n, dtype=np.int64) % N_CLUSTERS
    rng.shuffle(y)
    x = centres[y] + rng.normal(0.0, 1.0, size=(n, BLOB_DIM))
    return np.ascontiguousarray(x, dtype="<f8"), np.ascontiguousarray(y, dtype="<i8")


def make_hyperplane(
    n: int,
    seed: int,
    mag_change: float = 0.001,
    flip_prob: float = 0.1,
    noise: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """Drifting hyperplane with 10 features (after River's ``synth.Hyperplane``).

    * x_t ~ U[0, 1]^10.
    * Initial weights w ~ U[0, 1]^10; initial drift direction d_i = +-1 at random.
    * y_t = 1 if w_t . x_t > sum(w_t) / 2 else 0, then flipped with probability
      ``noise`` (5%).
    * After each record *every* weight drifts: w_i += d_i * mag_change, and then
      each d_i is reversed independently with probability ``flip_prob`` (10%).

    Differences from River (documented on purpose): River drifts only
    ``n_drift_features`` (default 2) of the weights, starts every direction at +1,
    uses ``>=`` and, because of its ``0.01 + random() <= p`` test, its effective
    noise/flip rates are 4%/9%. Here all 10 weights drift and the rates are exact.
    """
    rng = np.random.default_rng(seed)
    w0 = rng.uniform(0.0, 1.0, size=HYPER_DIM)
    d0 = rng.choice(np.array([-1.0, 1.0]), size=HYPER_DIM)
    x = rng.uniform(0.0, 1.0, size=(n, HYPER_DIM))
    flips = rng.random(size=(n, HYPER_DIM)) < flip_prob
    label_noise = rng.random(size=n) < noise

    # Direction used for the drift step after record t: reversed once for every
    # flip drawn at records < t.
    flips_before = np.cumsum(flips, axis=0, dtype=np.int64) - flips
    direction = d0 * (1.0 - 2.0 * (flips_before & 1))
    step = direction * mag_change
    # Weights seen by record t: w0 plus the drift steps of records < t.
    w = w0 + np.cumsum(step, axis=0) - step

    score = np.einsum("ij,ij->i", w, x)
    y = (score > 0.5 * w.sum(axis=1)).astype(np.int64)
    y[label_noise] ^= 1
    return np.ascontiguousarray(x, dtype="<f8"), np.ascontiguousarray(y, dtype="<i8")


def mean_inertia(x: np.ndarray, centres: np.ndarray) -> float:
    """Mean over records of the squared distance to the nearest centre."""
    best = np.full(x.shape[0], np.inf)
    for c in centres:
        d = x - c
        np.minimum(best, np.einsum("ij,ij->i", d, d), out=best)
    return float(best.mean())


# --------------------------------------------------------------------------- scikit-learn


def sklearn_kmeans(x: np.ndarray, y: np.ndarray, batch: int) -> dict:
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics import adjusted_rand_score

    model = MiniBatchKMeans(
        n_clusters=N_CLUSTERS,
        batch_size=batch,
        random_state=0,
        n_init=1,
        reassignment_ratio=0.01,
    )
    n = x.shape[0]
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        model.partial_fit(x[start : start + batch])
    seconds = time.perf_counter() - t0

    labels = model.predict(x)
    return {
        "task": "kmeans",
        "system": "sklearn",
        "records": n,
        "seconds": seconds,
        "records_per_second": n / seconds,
        "ari": float(adjusted_rand_score(y, labels)),
        "inertia": mean_inertia(x, model.cluster_centers_),
    }


def sklearn_sgd(x: np.ndarray, y: np.ndarray, batch: int, prefix: int) -> dict:
    from sklearn.linear_model import SGDClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    clf = SGDClassifier(loss="log_loss", random_state=0, shuffle=False)
    classes = np.array([0, 1])
    n = x.shape[0]
    correct = np.zeros(n, dtype=bool)

    t0 = time.perf_counter()
    for start in range(0, n, batch):
        xb = x[start : start + batch]
        yb = y[start : start + batch]
        if start > 0:  # prequential: test on the batch, then train on it
            correct[start : start + batch] = clf.predict(scaler.transform(xb)) == yb
        scaler.partial_fit(xb)
        clf.partial_fit(scaler.transform(xb), yb, classes=classes)
    seconds = time.perf_counter() - t0

    first = min(batch, n)
    scored = n - first
    prefix_scored = max(min(prefix, n) - first, 0)
    return {
        "task": "sgd",
        "system": "sklearn",
        "records": n,
        "seconds": seconds,
        "records_per_second": n / seconds,
        "accuracy": float(correct[first:].mean()) if scored else float("nan"),
        "scored_records": scored,
        # Same metric restricted to River's prefix, for an apples-to-apples look.
        "accuracy_on_river_prefix": (
            float(correct[first : first + prefix_scored].mean()) if prefix_scored else None
        ),
    }


# --------------------------------------------------------------------------- River


def to_dicts(x: np.ndarray) -> list[dict]:
    return [dict(enumerate(row)) for row in x.tolist()]


def river_kmeans(x: np.ndarray, y: np.ndarray, sigma: float) -> dict:
    from river import cluster
    from sklearn.metrics import adjusted_rand_score

    # River 0.26: KMeans(n_clusters, halflife, mu, sigma, p, seed); centres start
    # at N(mu, sigma) per coordinate. mu=0 and p=2 (Euclidean) are the defaults.
    model = cluster.KMeans(n_clusters=N_CLUSTERS, halflife=0.5, sigma=sigma, seed=0)
    rows = to_dicts(x)  # outside the timed loop

    t0 = time.perf_counter()
    for row in rows:
        model.learn_one(row)
        model.predict_one(row)
    seconds = time.perf_counter() - t0

    labels = np.fromiter((model.predict_one(r) for r in rows), dtype=np.int64, count=len(rows))
    n = x.shape[0]
    inertia = None
    centres = getattr(model, "centers", None)
    if isinstance(centres, dict) and centres:
        try:
            mat = np.array(
                [[float(centres[c][k]) for k in range(x.shape[1])] for c in sorted(centres)]
            )
            inertia = mean_inertia(x, mat)
        except Exception as exc:  # pragma: no cover - depends on River internals
            print(f"note: could not read River's KMeans centres: {exc}", file=sys.stderr)
    return {
        "task": "kmeans",
        "system": "river",
        "records": n,
        "seconds": seconds,
        "records_per_second": n / seconds,
        "ari": float(adjusted_rand_score(y, labels)),
        "inertia": inertia,
    }


def river_logreg(x: np.ndarray, y: np.ndarray) -> dict:
    from river import linear_model, preprocessing

    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    rows = to_dicts(x)  # outside the timed loop
    targets = y.tolist()
    correct = 0

    t0 = time.perf_counter()
    for row, target in zip(rows, targets):
        pred = model.predict_one(row)
        correct += pred == target
        model.learn_one(row, target)
    seconds = time.perf_counter() - t0

    n = x.shape[0]
    return {
        "task": "sgd",
        "system": "river",
        "records": n,
        "seconds": seconds,
        "records_per_second": n / seconds,
        # predict_one before any learn_one returns False (= 0), which is scored.
        "accuracy": correct / n,
        "scored_records": n,
    }


def river_logreg_stream(
    x: np.ndarray,
    y: np.ndarray,
    limit: int,
    budget: float,
    learn_during_predict: bool = False,
) -> dict:
    """River's ``StandardScaler() | LogisticRegression()`` (all defaults), prequential.

    ``predict_one`` then ``learn_one`` on each record, in one process, on at most
    ``limit`` records; the loop also stops after the chunk during which ``budget``
    seconds ran out (River is slow), and the result says how many records it saw.

    ``learn_during_predict``: run inside ``compose.learn_during_predict()``, where
    ``predict_one`` first updates the scaler with the record (and ``learn_one`` then
    does not), so the record is predicted with statistics that include it. That is
    the order eddy's chain uses; by default River predicts a record with the
    scaler's statistics of the records before it.
    """
    import contextlib

    from river import compose, linear_model, preprocessing

    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    n = min(limit, x.shape[0])
    rows = to_dicts(x[:n])  # outside the timed loop
    targets = y[:n].tolist()
    predicted: list = []
    chunk = 1000
    ctx = compose.learn_during_predict() if learn_during_predict else contextlib.nullcontext()

    with ctx:
        t0 = time.perf_counter()
        for lo in range(0, n, chunk):
            for row, target in zip(rows[lo : lo + chunk], targets[lo : lo + chunk]):
                predicted.append(model.predict_one(row))
                model.learn_one(row, target)
            if time.perf_counter() - t0 > budget:
                break
        seconds = time.perf_counter() - t0

    done = len(predicted)
    # predict_one returns False/True (False before anything is learned: p = 0.5).
    pred = np.fromiter(predicted, dtype=np.int64, count=done)
    d = x.shape[1]
    scaler, logreg = model["StandardScaler"], model["LogisticRegression"]
    state = {
        "weights": [float(logreg.weights.get(i, 0.0)) for i in range(d)],
        "intercept": float(logreg.intercept),
        "mean": [float(scaler.means.get(i, 0.0)) for i in range(d)],
        "var": [float(scaler.vars.get(i, 0.0)) for i in range(d)],
    }
    return {
        "task": "logreg",
        "system": "river-ldp" if learn_during_predict else "river",
        "model": "StandardScaler() | LogisticRegression()"
        + (" in compose.learn_during_predict()" if learn_during_predict else ""),
        "records": done,
        "seconds": seconds,
        "records_per_second": done / seconds if seconds > 0 else float("nan"),
        "accuracy": float((pred == y[:done]).mean()) if done else float("nan"),
        "stopped_by_budget": done < n,
        "final_state": state,
        "predictions": pred,
    }


# --------------------------------------------------------------------------- eddy


def default_runner() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    base = Path(target) if target else REPO_ROOT / "target"
    if not base.is_absolute():
        base = REPO_ROOT / base
    return base / "release" / "examples" / "compare_runner"


REQUIRED_KEYS = {
    "kmeans": ("records", "seconds", "records_per_second", "ari", "inertia"),
    "sgd": ("records", "seconds", "records_per_second", "accuracy"),
}


def run_eddy(runner: Path, task: str, xp: Path, yp: Path, batch: int, seed: int, timeout: float,
             prefix: int = 0):
    cmd = [str(runner), task, str(xp), str(yp), "--batch-size", str(batch)]
    if task == "kmeans":
        cmd += ["--clusters", str(N_CLUSTERS)]
    if task == "sgd" and prefix:
        cmd += ["--prefix", str(prefix)]
    cmd += ["--seed", str(seed)]
    print("eddy: " + " ".join(cmd), file=sys.stderr)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"eddy: runner timed out after {timeout:.0f}s ({task})", file=sys.stderr)
        return None
    if proc.returncode != 0:
        print(
            f"eddy: runner failed for {task} (exit {proc.returncode}):\n{proc.stderr.strip()}",
            file=sys.stderr,
        )
        return None
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if len(lines) != 1:
        print(
            f"eddy: expected exactly one JSON line on stdout for {task}, got {len(lines)}",
            file=sys.stderr,
        )
        if not lines:
            return None
    try:
        res = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        print(f"eddy: stdout is not JSON ({exc}): {lines[-1]!r}", file=sys.stderr)
        return None
    missing = [k for k in REQUIRED_KEYS[task] if k not in res]
    if res.get("task") != task or missing:
        print(f"eddy: bad JSON for {task} (task={res.get('task')!r}, missing={missing})",
              file=sys.stderr)
        return None
    res["system"] = "eddy"
    return res


def runner_json(cmd: list[str], what: str, timeout: float) -> dict | None:
    """Run the eddy runner; its one JSON line, or None (with the reason on stderr)."""
    print("eddy: " + " ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"eddy: runner timed out after {timeout:.0f}s ({what})", file=sys.stderr)
        return None
    if proc.returncode != 0:
        print(f"eddy: runner failed for {what} (exit {proc.returncode}):\n{proc.stderr.strip()}",
              file=sys.stderr)
        return None
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    try:
        return json.loads(lines[-1]) if len(lines) == 1 else None
    except json.JSONDecodeError as exc:
        print(f"eddy: stdout is not JSON ({exc}) for {what}", file=sys.stderr)
        return None


def eddy_synth(runner: Path, source: str, name: str, timeout: float,
               folder: Path = OUT) -> tuple[Path, Path] | None:
    """Write eddy's generated stream ``source`` to ``{folder}/{name}.{x,y}.npy``."""
    xp, yp = folder / f"{name}.x.npy", folder / f"{name}.y.npy"
    res = runner_json([str(runner), "synth", source, str(xp), str(yp)], f"synth {name}", timeout)
    return (xp, yp) if res is not None and res.get("task") == "synth" else None


def eddy_linear_state(path: Path) -> dict | None:
    """Weights, intercept and scaler moments of a saved `scale | <linear model>` chain.

    Reads the runner's `--state-out` (the model as serde writes it); None when the
    layout is not the one expected (it is eddy's internal state, not a format).
    """
    try:
        chain = json.loads(path.read_text())["classifier"]
        moments = chain["transforms"][0]["state"]["moments"]
        core = chain["head"]["state"]["core"]
        return {
            "weights": [float(v) for v in core["coef"]["data"]],
            "intercept": float(core["intercept"]["data"][0]),
            "mean": [float(v) for v in moments["mean"]["data"]],
            "var": [float(v) for v in moments["var"]["data"]],
        }
    except (OSError, KeyError, IndexError, TypeError, ValueError) as exc:
        print(f"eddy: could not read the final state in {path}: {exc!r}", file=sys.stderr)
        return None


def state_gap(a: dict | None, b: dict | None) -> str:
    """Largest absolute difference between two final states (weights and intercept;
    scaler means and variances), or n/a."""
    if not a or not b:
        return "n/a"
    w = max(abs(p - q) for p, q in zip(a["weights"] + [a["intercept"]], b["weights"] + [b["intercept"]]))
    m = max(abs(p - q) for p, q in zip(a["mean"] + a["var"], b["mean"] + b["var"]))
    return f"{w:.1e} / {m:.1e}"


def eddy_spec(runner: Path, spec: str, stream: str, xp: Path, yp: Path, variant: str,
              batch: int, timeout: float) -> dict | None:
    """Run a model spec prequentially; its predictions come back as an array."""
    pp = OUT / f"{stream}.pred.{variant}.npy"
    sp = OUT / f"{stream}.state.{variant}.json"
    cmd = [str(runner), "spec", spec, str(xp), str(yp), "--batch-size", str(batch),
           "--classes", "0,1", "--predictions", str(pp), "--state-out", str(sp)]
    res = runner_json(cmd, f"spec {variant} on {stream}", timeout)
    if res is None or res.get("task") != "spec" or "accuracy" not in res:
        return None
    res["final_state"] = eddy_linear_state(sp)
    # `model` as written; the runner's `spec` leaves out parameters at their defaults.
    res.update({"task": "logreg", "system": f"eddy-{variant}", "model": spec,
                "predictions": np.load(pp)})
    return res


# --------------------------------------------------------------------------- drift


def drift_stream_files(runner: Path | None, name: str, n: int, seed: int,
                       timeout: float) -> tuple[Path, Path] | None:
    """The drifting stream ``name`` for ``seed`` as .npy files under out/drift/."""
    folder = OUT / "drift"
    folder.mkdir(parents=True, exist_ok=True)
    if LOGREG_STREAMS[name] is None:
        x, y = make_hyperplane(n, seed)
        xp, yp = folder / f"{name}.{seed}.x.npy", folder / f"{name}.{seed}.y.npy"
        np.save(xp, x)
        np.save(yp, y)
        return xp, yp
    if runner is None:
        return None
    return eddy_synth(runner, LOGREG_STREAMS[name].format(n=n, seed=seed), f"{name}.{seed}", timeout,
                      folder)


def eddy_spec_timed(runner: Path, spec: str, xp: Path, yp: Path, batch: int, repeats: int,
                    timeout: float) -> dict | None:
    """Run a spec ``repeats`` times (fresh model each time); the median records/s.

    One run of 200,000 records takes a tenth of a second, short enough for a moment of
    contention on a shared machine to halve it; River's single run lasts seconds.
    """
    rates, res = [], None
    for _ in range(max(repeats, 1)):
        cmd = [str(runner), "spec", spec, str(xp), str(yp), "--batch-size", str(batch),
               "--classes", "0,1"]
        res = runner_json(cmd, f"spec {spec!r} on {xp.name}", timeout)
        if res is None or "accuracy" not in res:
            return None
        rates.append(res["records_per_second"])
    res["records_per_second"] = float(np.median(rates))
    res["records_per_second_runs"] = rates
    return res


def drift_pipeline_rows(args, runner: Path | None, river_done: dict) -> list[dict]:
    """eddy's drift-aware configuration and River's pipeline, per stream and seed.

    ``river_done[(stream, seed)]`` holds River runs already made (the logistic
    regression table's), reused rather than repeated.
    """
    rows = []
    seeds = [int(s) for s in args.drift_seeds.split(",") if s.strip()]
    for name in LOGREG_STREAMS:
        for seed in seeds:
            files = drift_stream_files(runner, name, args.records, seed, args.runner_timeout)
            if files is None:
                print(f"drift: no data for {name} seed {seed} (the runner writes eddy's streams)",
                      file=sys.stderr)
                continue
            xp, yp = files
            row = {"stream": name, "seed": seed, "records": args.records}
            if runner is not None:
                for variant, spec in DRIFT_SPECS.items():
                    res = eddy_spec_timed(runner, spec, xp, yp, args.batch_size, args.drift_repeats,
                                          args.runner_timeout)
                    if res is not None:
                        row[f"eddy-{variant}"] = {k: res[k] for k in (
                            "spec", "records", "accuracy", "records_per_second",
                            "records_per_second_runs")}
            if not args.no_river:
                river = river_done.get((name, seed))
                if river is None:
                    x, y = np.load(xp), np.load(yp)
                    print(f"river: StandardScaler | LogisticRegression on {name}, seed {seed} "
                          f"({args.river_budget:g}s budget) ...", file=sys.stderr)
                    river = river_logreg_stream(x, y, len(y), args.river_budget)
                row["river"] = {k: river[k] for k in (
                    "records", "accuracy", "records_per_second", "stopped_by_budget")}
                if river["stopped_by_budget"]:
                    # Compare on the prefix River saw.
                    n = river["records"]
                    y = np.load(yp)[:n]
                    for variant, spec in DRIFT_SPECS.items():
                        key = f"eddy-{variant}"
                        if key in row:
                            pp = OUT / "drift" / f"{name}.{seed}.pred.{variant}.npy"
                            cmd = [str(runner), "spec", spec, str(xp), str(yp), "--batch-size",
                                   str(args.batch_size), "--classes", "0,1", "--predictions", str(pp)]
                            if runner_json(cmd, f"predictions of {variant}", args.runner_timeout):
                                row[key]["accuracy_on_river_prefix"] = float(
                                    (np.load(pp)[:n] == y).mean())
            rows.append(row)
    return rows


def drift_pipeline_table(rows: list[dict]) -> tuple[str, list[str]]:
    """The Markdown table, and a summary per stream (margins, ratios, the goal)."""
    head = ["stream", "seed", "eddy `hedge`", "eddy River-like", "River", "hedge - River (points)",
            "hedge records/s", "River-like records/s", "River records/s", "hedge / River records/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    summary: list[str] = []
    per_stream: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        h, rl, rv = r.get("eddy-hedge"), r.get("eddy-river-like"), r.get("river")

        def acc(e):
            if e is None:
                return None
            if rv and rv["stopped_by_budget"]:
                return e.get("accuracy_on_river_prefix")
            return e["accuracy"]

        ah, arl = acc(h), acc(rl)
        margin = ratio = None
        if ah is not None and rv:
            margin = (ah - rv["accuracy"]) * 100
        if h and rv and rv["records_per_second"]:
            ratio = h["records_per_second"] / rv["records_per_second"]
        if margin is not None and ratio is not None:
            per_stream.setdefault(r["stream"], []).append((margin, ratio))
        lines.append("| " + " | ".join([
            r["stream"], str(r["seed"]), fmt_float(ah), fmt_float(arl),
            fmt_float(rv["accuracy"]) if rv else "n/a",
            "n/a" if margin is None else f"{margin:+.3f}",
            fmt_int(h["records_per_second"]) if h else "n/a",
            fmt_int(rl["records_per_second"]) if rl else "n/a",
            fmt_int(rv["records_per_second"]) if rv else "n/a",
            "n/a" if ratio is None else f"{ratio:.0f}x",
        ]) + " |")
    wins = total = 0
    ratios = []
    for stream, pairs in per_stream.items():
        m = [p[0] for p in pairs]
        q = [p[1] for p in pairs]
        wins += sum(v > 0 for v in m)
        total += len(m)
        ratios += q
        summary.append(f"{stream}: hedge - River {min(m):+.3f} to {max(m):+.3f} points "
                       f"(mean {np.mean(m):+.3f}) over {len(m)} seed(s); "
                       f"records/s {min(q):.0f}x to {max(q):.0f}x River's")
    if total:
        met = wins == total and min(ratios) > 30
        summary.append(f"goal (more accurate than River on every stream and seed, at more than 30x "
                       f"its records/s): {'met' if met else 'NOT met'} ({wins}/{total} more accurate, "
                       f"lowest ratio {min(ratios):.0f}x)")
    return "\n".join(lines), summary


def gauss_steps(n_segment: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """N(mean, 1) with the mean stepping through GAUSS_MEANS every ``n_segment`` values."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(m, 1.0, n_segment) for m in GAUSS_MEANS])
    changes = [i * n_segment for i in range(1, len(GAUSS_MEANS))]
    return np.ascontiguousarray(values, dtype="<f8"), changes


def sea_rule_error_rate(theta: float) -> float:
    """Error rate of the rule x0 + x1 <= SEA_RULE on SEA's concept ``theta`` with 10% noise.

    x0 + x1 (each U[0, 10]) has P(sum <= s) = s^2 / 200 for s <= 10; the rule and the
    concept disagree on a share |F(theta) - F(rule)|, and noise flips 10% of labels.
    """
    def f(v):
        return v * v / 200.0
    return 0.1 + 0.8 * abs(f(theta) - f(SEA_RULE))


def sea_errors(xp: Path, yp: Path, period: int) -> tuple[np.ndarray, list[int], list[int]]:
    """0/1 errors of the fixed rule on SEA; the concept changes, and those where its error rises."""
    x, y = np.load(xp), np.load(yp)
    errors = ((x[:, 0] + x[:, 1] <= SEA_RULE).astype(np.int64) != y).astype("<f8")
    n = len(errors)
    changes = list(range(period, n, period))
    rate = [sea_rule_error_rate(SEA_THETAS[(c // period) % 4]) for c in [0] + changes]
    rises = [c for i, c in enumerate(changes) if rate[i + 1] > rate[i] + 0.02]
    return np.ascontiguousarray(errors), changes, rises


def detection_metrics(drifts: list[int], to_detect: list[int], changes: list[int],
                      tolerance: int, n: int) -> dict:
    """Delay, missed changes and false alarms of the drift indices ``drifts`` (of n values).

    A change in ``to_detect`` is found by the first drift in [change, change + tolerance);
    its delay is that drift's index minus the change's. A drift not within the tolerance
    after any of ``changes`` is a false alarm.
    """
    drifts = [d for d in drifts if d < n]
    delays, missed = [], 0
    for c in (c for c in to_detect if c < n):
        hit = next((d for d in drifts if c <= d < c + tolerance), None)
        if hit is None:
            missed += 1
        else:
            delays.append(hit - c)
    false = sum(1 for d in drifts if not any(c <= d < c + tolerance for c in changes))
    return {
        "drifts": len(drifts),
        "changes": len(delays) + missed,
        "detected": len(delays),
        "missed": missed,
        "mean_delay": float(np.mean(delays)) if delays else None,
        "false_alarms": false,
        "false_alarms_per_100k": false * 100_000 / n if n else None,
    }


def river_detect(factory, values: np.ndarray, binary: bool, budget: float) -> dict:
    """River's detector over ``values`` (ints for the binary ones), one update at a time."""
    from river import drift
    from river.drift import binary as rbinary

    det = factory(drift, rbinary)
    vals = [int(v) for v in values] if binary else values.tolist()  # outside the timed loop
    drifts = []
    chunk = 1000
    t0 = time.perf_counter()
    for lo in range(0, len(vals), chunk):
        for i, v in enumerate(vals[lo:lo + chunk], start=lo):
            det.update(v)
            if det.drift_detected:
                drifts.append(i)
        if time.perf_counter() - t0 > budget:
            break
    seconds = time.perf_counter() - t0
    done = min(lo + chunk, len(vals)) if vals else 0
    return {"updates": done, "seconds": seconds,
            "updates_per_second": done / seconds if seconds > 0 else float("nan"),
            "drifts": drifts}


def eddy_detect(runner: Path, spec: str, path: Path, repeats: int, timeout: float) -> dict | None:
    """eddy's detector (``compare_runner detect``), ``repeats`` times: the median updates/s."""
    rates, res = [], None
    for _ in range(max(repeats, 1)):
        res = runner_json([str(runner), "detect", spec, str(path)], f"detect {spec}", timeout)
        if res is None or res.get("task") != "detect":
            return None
        rates.append(res["updates_per_second"])
    res["updates_per_second"] = float(np.median(rates))
    return res


def detector_rows(args, runner: Path | None) -> tuple[list[dict], list[str]]:
    """Every detector on its stream, eddy's and River's, with the detection metrics."""
    folder = OUT / "drift"
    folder.mkdir(parents=True, exist_ok=True)
    streams = []
    values, changes = gauss_steps(args.detector_segment, args.seed)
    gp = folder / "gauss-steps.values.npy"
    np.save(gp, values)
    tol = max(args.detector_segment // 10, 1)
    streams.append(("gauss-steps", gp, values, changes, changes, tol, REAL_DETECTORS, False))
    notes = [f"gauss-steps: {len(values):,} values N(mean, 1), the mean stepping through "
             f"{GAUSS_MEANS} every {args.detector_segment:,}; {len(changes)} changes; "
             f"tolerance {tol:,} values"]
    period = 25_000
    sea = drift_stream_files(runner, "sea", args.records, args.seed, args.runner_timeout)
    if sea is not None:
        errors, sea_changes, rises = sea_errors(*sea, period)
        ep = folder / "sea-errors.values.npy"
        np.save(ep, errors)
        tol_sea = period * 2 // 5
        streams.append(("sea-errors", ep, errors, rises, sea_changes, tol_sea, BINARY_DETECTORS, True))
        rates = ", ".join(f"{errors[c:c + period].mean():.3f}" for c in [0] + sea_changes)
        notes.append(f"sea-errors: the 0/1 errors of the fixed rule x0 + x1 <= {SEA_RULE:g} "
                     f"(SEA's first concept) on synth:sea?n={args.records}&seed={args.seed} "
                     f"(period {period:,}): error rate per concept {rates}; the {len(rises)} rises "
                     f"(at {', '.join(f'{c:,}' for c in rises)}) are the changes to detect, and a drift "
                     f"within the tolerance ({tol_sea:,}) after any of the {len(sea_changes)} "
                     "concept changes is no false alarm")
    else:
        notes.append("sea-errors: skipped (the runner writes eddy's SEA stream)")
    rows = []
    for name, path, vals, to_detect, all_changes, tol, detectors, binary in streams:
        for spec, river_text, factory in detectors:
            row = {"stream": name, "detector": spec, "river": river_text, "values": len(vals),
                   "tolerance": tol}
            if runner is not None:
                e = eddy_detect(runner, spec, path, args.drift_repeats, args.runner_timeout)
                if e is not None:
                    row["eddy"] = e
            if not args.no_river:
                print(f"river: {river_text} on {name} ...", file=sys.stderr)
                row["river_run"] = river_detect(factory, vals, binary, args.detector_budget)
            # Both sides are scored on the values River saw (all, unless its budget ran out).
            n = row["river_run"]["updates"] if "river_run" in row else len(vals)
            row["scored_values"] = n
            for side in ("eddy", "river_run"):
                if side in row:
                    row[side]["metrics"] = detection_metrics(row[side]["drifts"], to_detect,
                                                             all_changes, tol, n)
            if "eddy" in row and "river_run" in row:
                row["same_indices"] = ([d for d in row["eddy"]["drifts"] if d < n]
                                       == row["river_run"]["drifts"])
            rows.append(row)
    return rows, notes


def detector_table(rows: list[dict]) -> str:
    head = ["stream", "eddy", "River", "values scored", "drifts eddy / River", "same indices",
            "changes found eddy / River", "mean delay eddy / River", "false alarms per 100k eddy / River",
            "eddy updates/s", "River updates/s", "eddy / River"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]

    def pair(key, fmt):
        """One value when the sides agree (or only one ran), else "eddy / River"."""
        vals = []
        for side in ("eddy", "river_run"):
            if side in r:
                m = r[side]["metrics"]
                vals.append("n/a" if m.get(key) is None else fmt(m[key]))
        return " / ".join(dict.fromkeys(vals)) if len(set(vals)) != 1 else vals[0]

    for r in rows:
        e, rv = r.get("eddy"), r.get("river_run")
        same = r.get("same_indices")
        expected = r["detector"] in EXACT_DETECTORS
        same_text = "n/a" if same is None else (
            ("yes" if same else "no") + (" (exact by the fixtures)" if expected else " (random sample)"))
        found = pair("detected", str)
        changes = (e or rv or {}).get("metrics", {}).get("changes")
        lines.append("| " + " | ".join([
            r["stream"], f"`{r['detector']}`", f"`{r['river']}`", fmt_int(r["scored_values"]),
            pair("drifts", str), same_text,
            f"{found} of {changes}" if changes is not None else "n/a",
            pair("mean_delay", lambda v: f"{v:,.0f}"),
            pair("false_alarms_per_100k", lambda v: f"{v:.1f}"),
            fmt_int(e["updates_per_second"]) if e else "n/a",
            fmt_int(rv["updates_per_second"]) if rv else "n/a",
            f"{e['updates_per_second'] / rv['updates_per_second']:.0f}x" if e and rv else "n/a",
        ]) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- mixed types

# The mixed-type table (issue 13): one-hot encoded categories, scaled, logistic regression,
# on a stream of card transactions (examples/data/make_transactions.py, the design of eddy's
# `synth:mixed`). Both systems read the same CSV file.
MIXED_SPECS = {
    "complete": "onehot | scale | sgd(loss=log_loss, learning_rate=constant, eta0=0.01, alpha=0)",
    "missing": "impute | onehot | scale | sgd(loss=log_loss, learning_rate=constant, eta0=0.01, alpha=0)",
}
MIXED_RIVER = {
    "complete": "TransformerUnion(Select(*cats) | OneHotEncoder(), Select(*nums)) | StandardScaler() "
                "| LogisticRegression()",
    "missing": "StatImputer(*[(c, stats.Mean()) for c in nums], *[(c, stats.Mode(k=-1)) for c in cats]) "
               "| the same",
    "numeric-only": "Select(*nums) | StandardScaler() | LogisticRegression()",
}
MIXED_STAGES = {"complete": ("onehot",), "missing": ("impute", "onehot")}


def load_transactions_module():
    """examples/data/make_transactions.py, imported from its path (it is not a package)."""
    import importlib.util

    path = REPO_ROOT / "examples" / "data" / "make_transactions.py"
    spec = importlib.util.spec_from_file_location("make_transactions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_transactions(path: Path, mt) -> tuple[list[dict], np.ndarray]:
    """The CSV as River's rows (missing = None; `returning` true/false = 1.0/0.0) and labels."""
    import csv

    rows, labels = [], []
    with open(path, newline="") as f:
        for rec in csv.DictReader(f):
            row = {}
            for c in mt.NUMERIC:
                v = rec[c]
                row[c] = None if v == "" else (1.0 if v == "true" else 0.0 if v == "false" else float(v))
            for c in mt.CATEGORICAL:
                row[c] = rec[c] or None
            rows.append(row)
            labels.append(int(rec[mt.LABEL]))
    return rows, np.array(labels, dtype=np.int64)


def river_mixed_model(variant: str, mt):
    from river import compose, linear_model, preprocessing, stats

    cats, nums = mt.CATEGORICAL, mt.NUMERIC
    if variant == "numeric-only":
        return compose.Select(*nums) | preprocessing.StandardScaler() | linear_model.LogisticRegression()
    # One-hot on the categories beside the numbers as they are, then the scaler on every
    # column (the one-hot ones too), then River's default logistic regression: eddy's
    # `onehot | scale | sgd(...)`, whose scaler also sees the one-hot columns.
    model = (compose.TransformerUnion(compose.Select(*cats) | preprocessing.OneHotEncoder(),
                                      compose.Select(*nums))
             | preprocessing.StandardScaler() | linear_model.LogisticRegression())
    if variant == "missing":
        # Running mean for numbers, most frequent value for categories (eddy's `impute`
        # default). Mode's default k=25 would count only the first 25 merchants seen.
        imputer = preprocessing.StatImputer(*[(c, stats.Mean()) for c in nums],
                                            *[(c, stats.Mode(k=-1)) for c in cats])
        model = imputer | model
    return model


def river_mixed(variant: str, rows: list[dict], y: np.ndarray, budget: float, mt,
                learn_during_predict: bool = False) -> dict:
    """River's pipeline, prequentially (``predict_one`` then ``learn_one``), within ``budget``."""
    import contextlib

    from river import compose

    model = river_mixed_model(variant, mt)
    targets = y.tolist()
    predicted: list = []
    chunk = 1000
    ctx = compose.learn_during_predict() if learn_during_predict else contextlib.nullcontext()
    with ctx:
        t0 = time.perf_counter()
        for lo in range(0, len(rows), chunk):
            for row, target in zip(rows[lo:lo + chunk], targets[lo:lo + chunk]):
                predicted.append(model.predict_one(row))
                model.learn_one(row, target)
            if time.perf_counter() - t0 > budget:
                break
        seconds = time.perf_counter() - t0
    done = len(predicted)
    pred = np.fromiter(predicted, dtype=np.int64, count=done)
    return {
        "system": "river-ldp" if learn_during_predict else "river",
        "model": MIXED_RIVER[variant] + (" in compose.learn_during_predict()" if learn_during_predict else ""),
        "records": done,
        "seconds": seconds,
        "records_per_second": done / seconds if seconds > 0 else float("nan"),
        "accuracy": float((pred == y[:done]).mean()) if done else float("nan"),
        "stopped_by_budget": done < len(rows),
        "predictions": pred,
    }


def default_eddy() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    base = Path(target) if target else REPO_ROOT / "target"
    if not base.is_absolute():
        base = REPO_ROOT / base
    return base / "release" / "eddy"


def eddy_missing_stages(eddy: Path, stages: tuple[str, ...], timeout: float) -> list[str] | None:
    """The stages of ``stages`` that ``eddy model list`` does not know (None: it did not run)."""
    try:
        proc = subprocess.run([str(eddy), "model", "list"], capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"eddy: `{eddy} model list` failed: {exc}", file=sys.stderr)
        return None
    if proc.returncode != 0:
        print(f"eddy: `{eddy} model list` failed:\n{proc.stderr.strip()}", file=sys.stderr)
        return None
    known = {line.split(" ", 1)[0] for line in proc.stdout.splitlines() if line and not line[0].isspace()}
    return [s for s in stages if s not in known]


def eddy_mixed(eddy: Path, variant: str, csv_path: Path, label: str, timeout: float,
               extra: list[str]) -> dict | None:
    """``eddy run`` on the CSV: accuracy and records/s from its summary, labels from its .npy."""
    pp = OUT / f"mixed.{variant}.pred.npy"
    sp = OUT / f"mixed.{variant}.summary.json"
    spec = MIXED_SPECS[variant]
    cmd = [str(eddy), "run", str(csv_path), "--label-column", label, "--classes", "0,1",
           "--model", spec, "--labels-out", str(pp), "--summary-json", str(sp), "--quiet", *extra]
    print("eddy: " + " ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"eddy: timed out after {timeout:.0f}s (mixed {variant})", file=sys.stderr)
        return None
    if proc.returncode != 0:
        print(f"eddy: `eddy run` failed for mixed {variant} (exit {proc.returncode}):\n"
              f"{proc.stderr.strip()}", file=sys.stderr)
        return None
    try:
        summary = json.loads(sp.read_text())
        metrics = summary["models"][0]["metrics"]
        pred = np.load(pp).reshape(-1).astype(np.int64)
    except (OSError, KeyError, IndexError, ValueError) as exc:
        print(f"eddy: could not read the summary {sp} or the labels {pp}: {exc!r}", file=sys.stderr)
        return None
    return {
        "system": "eddy",
        "model": spec,
        "records": summary["records"],
        "seconds": summary["seconds"],
        "records_per_second": summary["records_per_second"],
        "accuracy": metrics["accuracy"],
        "predictions": pred,
    }


def mixed_rows(args) -> tuple[list[dict], list[str], str]:
    """Write the streams, run River and eddy on them; the rows, notes and eddy's status."""
    mt = load_transactions_module()
    n = args.mixed_records
    new_at = n // 2 if args.mixed_new_at is None else args.mixed_new_at
    variants = {"complete": 0.0}
    if args.mixed_missing > 0:
        variants["missing"] = args.mixed_missing
    notes = [f"stream: examples/data/make_transactions.py's generator (the design of eddy's "
             f"synth:mixed), {n:,} records, seed {args.seed}, a new country and 20 new merchants "
             f"from record {new_at:,}; label column `{mt.LABEL}`"]
    eddy = None if args.no_eddy else (args.eddy or default_eddy())
    eddy_status = "skipped (--no-eddy)"
    if eddy is not None:
        if not eddy.is_file():
            eddy_status = f"eddy binary not found at {eddy}"
            print(f"\n*** eddy: no binary at {eddy}: build it with `cargo build --release --bin eddy` "
                  "or pass --eddy PATH. The mixed-type table shows River only.\n", file=sys.stderr)
            eddy = None
        else:
            eddy_status = "ok"
    rows = []
    for variant, missing in variants.items():
        path = OUT / f"mixed.{variant}.csv"
        mt.write_csv(mt.generate(n, args.seed, missing, new_at), path)
        records, y = read_transactions(path, mt)
        stream = f"mixed ({missing:.0%} missing)" if missing else "mixed"
        share = sum(v is None for r in records for v in r.values()) / max(len(records) * 7, 1)
        notes.append(f"{stream}: {path.relative_to(REPO_ROOT)}, {y.mean():.1%} of labels 1, "
                     f"{share:.2%} of feature values missing; always predicting 0 scores "
                     f"{1 - y.mean():.4f}")
        if eddy is not None:
            absent = eddy_missing_stages(eddy, MIXED_STAGES[variant], args.runner_timeout)
            if absent:
                eddy_status = (f"eddy at {eddy} has no {' or '.join(f'`{s}`' for s in absent)} "
                               "stage (issue 13's encoders and imputer are not in this build)")
                print(f"\n*** eddy: {eddy_status}: its mixed-type rows are not run.\n", file=sys.stderr)
            elif absent is not None:
                res = eddy_mixed(eddy, variant, path, mt.LABEL, args.runner_timeout,
                                 shlex.split(args.eddy_run_args))
                if res is None:
                    eddy_status = "eddy run failed (see stderr)"
                else:
                    rows.append({**res, "stream": stream, "variant": variant, "y": y})
        if args.no_river:
            continue
        river_variants = [(variant, False)]
        if variant == "complete":
            river_variants.append(("numeric-only", False))
            if not args.no_river_ldp:
                river_variants.append((variant, True))
        for v, ldp in river_variants:
            print(f"river: {MIXED_RIVER[v]}{' (learn_during_predict)' if ldp else ''} on {stream} "
                  f"({args.river_budget:g}s budget) ...", file=sys.stderr)
            res = river_mixed(v, records, y, args.river_budget, mt, learn_during_predict=ldp)
            if v == "numeric-only":
                res["system"] = "river-numeric-only"
            rows.append({**res, "stream": stream, "variant": variant, "y": y})
            if res["stopped_by_budget"]:
                notes.append(f"{stream}: River ({res['system']}) stopped after {res['records']:,} of "
                             f"{len(records):,} records ({args.river_budget:g}s budget)")
    return rows, notes, eddy_status


MIXED_SYSTEMS = ("eddy", "river", "river-ldp", "river-numeric-only")


def mixed_tables(rows: list[dict]) -> tuple[str, str]:
    """The side-by-side table, and eddy's predictions against River's (when eddy ran)."""
    head = ["stream", "system", "model", "records", "records/s", "prequential accuracy",
            "accuracy on River's records", "eddy/River records/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    mhead = ["stream", "records compared", "vs", "predictions that differ", "accuracy eddy",
             "accuracy River"]
    mlines = ["| " + " | ".join(mhead) + " |", "|" + "|".join(["---"] * len(mhead)) + "|"]
    for stream in dict.fromkeys(r["stream"] for r in rows):
        by = {r["system"]: r for r in rows if r["stream"] == stream}
        river = by.get("river")
        n_r = river["records"] if river else None
        for system in MIXED_SYSTEMS:
            r = by.get(system)
            if r is None:
                continue
            y = r["y"]
            on_prefix = "n/a"
            if n_r and len(r["predictions"]) >= n_r:
                on_prefix = fmt_float(float((r["predictions"][:n_r] == y[:n_r]).mean()))
            ratio = "-"
            if system == "eddy" and river and river.get("records_per_second"):
                ratio = f"{r['records_per_second'] / river['records_per_second']:.0f}x"
            lines.append("| " + " | ".join([
                stream, system, "`" + r["model"].replace("|", "\\|") + "`", fmt_int(r["records"]),
                fmt_int(r["records_per_second"]), fmt_float(r["accuracy"]), on_prefix, ratio,
            ]) + " |")
        eddy = by.get("eddy")
        for other in ("river", "river-ldp"):
            r = by.get(other)
            if eddy is None or r is None:
                continue
            n = min(len(r["predictions"]), len(eddy["predictions"]))
            pe, pr, yy = eddy["predictions"][:n], r["predictions"][:n], eddy["y"][:n]
            mlines.append("| " + " | ".join([
                stream, fmt_int(n), other, fmt_int(int((pe != pr).sum())),
                fmt_float(float((pe == yy).mean()), 6), fmt_float(float((pr == yy).mean()), 6),
            ]) + " |")
    return "\n".join(lines), "\n".join(mlines) if len(mlines) > 2 else ""


def run_mixed(args) -> dict:
    """The mixed-type section: run, print, and what goes into results.json."""
    rows, notes, status = mixed_rows(args)
    md, match_md = mixed_tables(rows)
    print()
    print("Mixed types (one-hot categories, scaled, logistic regression), prequential, one record "
          "at a time:")
    print()
    print(md)
    if match_md:
        print()
        print("eddy against River, prediction by prediction:")
        print()
        print(match_md)
    print()
    for note in notes:
        print(f"- {note}")
    print("- eddy's records/s is `eddy run`'s (the summary's): the whole run, CSV parsing "
          "included; River's covers its learning loop only (rows parsed before it).")
    print(f"- eddy (mixed types): {status}.")
    return {
        "mixed": [{k: v for k, v in r.items() if k not in ("predictions", "y")} for r in rows],
        "mixed_markdown": md,
        "mixed_match_markdown": match_md,
        "mixed_notes": notes,
        "mixed_eddy": status,
        "mixed_specs": MIXED_SPECS,
        "mixed_river": MIXED_RIVER,
    }


# --------------------------------------------------------------------------- report


def fmt_int(v) -> str:
    return "n/a" if v is None else f"{int(round(v)):,}"


def fmt_float(v, digits=4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.{digits}f}"


def rel(v, ref) -> str:
    if v is None or ref is None or ref == 0 or any(
        isinstance(z, float) and math.isnan(z) for z in (v, ref)
    ):
        return "n/a"
    return f"{(v - ref) / abs(ref) * 100:+.1f}%"


def quality(r: dict) -> str:
    if r["task"] == "kmeans":
        return f"ARI {fmt_float(r.get('ari'))}, inertia {fmt_float(r.get('inertia'), 3)}"
    return f"acc {fmt_float(r.get('accuracy'))}"


def quality_vs(r: dict, ref: dict | None) -> str:
    if ref is None:
        return "n/a"
    if r["task"] == "kmeans":
        return f"ARI {rel(r.get('ari'), ref.get('ari'))}, inertia {rel(r.get('inertia'), ref.get('inertia'))}"
    return f"acc {rel(r.get('accuracy'), ref.get('accuracy'))}"


def speedup(r: dict, eddy: dict | None) -> str:
    if eddy is None or not r.get("records_per_second"):
        return "n/a"
    return f"{eddy['records_per_second'] / r['records_per_second']:.2f}x"


def table(results: list[dict]) -> str:
    head = ["task", "system", "records", "records/s", "quality", "eddy speed-up",
            "quality vs sklearn"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for task in ("kmeans", "sgd"):
        rows = {r["system"]: r for r in results if r["task"] == task}
        ref, eddy = rows.get("sklearn"), rows.get("eddy")
        for system in ("eddy", "sklearn", "river"):
            r = rows.get(system)
            if r is None:
                continue
            lines.append("| " + " | ".join([
                task, system, fmt_int(r.get("records")), fmt_int(r.get("records_per_second")),
                quality(r), speedup(r, eddy), "-" if system == "sklearn" else quality_vs(r, ref),
            ]) + " |")
    return "\n".join(lines)


LOGREG_SYSTEMS = ("eddy-river-like", "eddy-default", "river", "river-ldp")


def logreg_table(results: list[dict], y_of: dict[str, np.ndarray]) -> tuple[str, str]:
    """The side-by-side table, and the prediction-by-prediction match table."""
    head = ["stream", "system", "model", "records", "records/s", "accuracy",
            "accuracy on River's records", "eddy/River records/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    mhead = ["stream", "records compared", "vs", "predictions that differ",
             "accuracy eddy", "accuracy River", "same to 4 d.p.",
             "final state max abs diff: weights+intercept / scaler mean+var"]
    mlines = ["| " + " | ".join(mhead) + " |", "|" + "|".join(["---"] * len(mhead)) + "|"]
    for stream in dict.fromkeys(r["stream"] for r in results if r["task"] == "logreg"):
        rows = {r["system"]: r for r in results if r["task"] == "logreg" and r["stream"] == stream}
        y = y_of[stream]
        river = rows.get("river")
        n_r = river["records"] if river else None
        for system in LOGREG_SYSTEMS:
            r = rows.get(system)
            if r is None:
                continue
            on_prefix = "n/a"
            if n_r:
                on_prefix = fmt_float(float((r["predictions"][:n_r] == y[:n_r]).mean()))
            ratio = "-"
            if system.startswith("eddy") and river and river.get("records_per_second"):
                ratio = f"{r['records_per_second'] / river['records_per_second']:.0f}x"
            lines.append("| " + " | ".join([
                stream, system, "`" + r["model"].replace("|", "\\|") + "`", fmt_int(r["records"]),
                fmt_int(r["records_per_second"]), fmt_float(r["accuracy"]), on_prefix, ratio,
            ]) + " |")
        eddy = rows.get("eddy-river-like")
        for other in ("river", "river-ldp"):
            r = rows.get(other)
            if eddy is None or r is None:
                continue
            n = min(r["records"], eddy["records"])
            pe, pr, yy = eddy["predictions"][:n], r["predictions"][:n], y[:n]
            ae, ar = float((pe == yy).mean()), float((pr == yy).mean())
            # The final states are comparable only when both learned the same records.
            same_records = r["records"] == eddy["records"]
            gap = state_gap(eddy.get("final_state"), r.get("final_state")) if same_records else "n/a"
            mlines.append("| " + " | ".join([
                stream, fmt_int(n), other, fmt_int(int((pe != pr).sum())),
                fmt_float(ae, 6), fmt_float(ar, 6), "yes" if f"{ae:.4f}" == f"{ar:.4f}" else "no",
                gap,
            ]) + " |")
    return "\n".join(lines), "\n".join(mlines)


# --------------------------------------------------------------------------- main


def versions() -> dict:
    """Versions of Python and the libraries the comparison uses."""
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name, module in (("scikit-learn", "sklearn"), ("river", "river")):
        try:
            out[name] = __import__(module).__version__
        except ImportError:  # pragma: no cover
            out[name] = None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=200_000, help="records per stream")
    ap.add_argument("--river-records", type=int, default=20_000,
                    help="River processes only the first N records (it is slow)")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0, help="seed of both generated streams")
    ap.add_argument("--river-kmeans-sigma", type=float, default=1.0,
                    help="std of River KMeans' random initial centres around mu=0 "
                         "(River's default, 1.0)")
    ap.add_argument("--sklearn-threads", type=int, default=None,
                    help="cap sklearn's native thread pools (OpenMP/BLAS) with threadpoolctl; "
                         "default: the libraries' own default (all cores)")
    ap.add_argument("--runner", type=Path, default=None,
                    help="eddy compare_runner binary (default: <repo>/target/release/"
                         "examples/compare_runner, honouring CARGO_TARGET_DIR)")
    ap.add_argument("--runner-timeout", type=float, default=1800.0)
    ap.add_argument("--no-eddy", action="store_true", help="skip the eddy runner")
    ap.add_argument("--no-river", action="store_true", help="skip River")
    ap.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    ap.add_argument("--no-logreg", action="store_true",
                    help="skip the eddy-spec vs River logistic regression table")
    ap.add_argument("--logreg-streams", default=",".join(LOGREG_STREAMS),
                    help="streams of the logistic regression table (default: %(default)s)")
    ap.add_argument("--river-logreg-records", type=int, default=None,
                    help="River's logistic regression sees at most N records per stream "
                         "(default: all of them, within --river-budget)")
    ap.add_argument("--river-budget", type=float, default=60.0,
                    help="seconds River's logistic regression may run per stream: it stops "
                         "after the 1000-record chunk in which the budget ran out (default 60)")
    ap.add_argument("--no-river-ldp", action="store_true",
                    help="skip the River run under compose.learn_during_predict()")
    ap.add_argument("--no-drift", action="store_true",
                    help="skip the drift tables (hedge vs River's pipeline; the detectors)")
    ap.add_argument("--drift-seeds", default="0,1,2",
                    help="seeds of the drifting streams in the hedge table (default: %(default)s; "
                         "River runs on each, within --river-budget)")
    ap.add_argument("--drift-repeats", type=int, default=5,
                    help="eddy runs each spec and detector this many times; the median rate counts "
                         "(default %(default)s)")
    ap.add_argument("--no-detectors", action="store_true", help="skip the detector table")
    ap.add_argument("--detector-segment", type=int, default=10_000,
                    help="values per mean of the real-valued detector stream (10 means; "
                         "default %(default)s)")
    ap.add_argument("--detector-budget", type=float, default=20.0,
                    help="seconds each River detector may run: it stops after the 1000-value chunk "
                         "in which the budget ran out, and both sides are scored on what it saw "
                         "(River's KSWIN updates about 2,000 values/s; default %(default)s)")
    ap.add_argument("--no-mixed", action="store_true", help="skip the mixed-type table")
    ap.add_argument("--only-mixed", action="store_true",
                    help="run the mixed-type table only (writes out/results-mixed.json)")
    ap.add_argument("--mixed-records", type=int, default=50_000,
                    help="records of the mixed-type streams (default %(default)s; River's one-hot "
                         "pipeline runs at about 1,000-3,000 records/s)")
    ap.add_argument("--mixed-missing", type=float, default=0.05,
                    help="share of missing feature values in the second mixed-type stream, with an "
                         "imputer on both sides (0 skips it; default %(default)s)")
    ap.add_argument("--mixed-new-at", type=int, default=None,
                    help="record from which the mixed-type streams bring a new country and new "
                         "merchants (default: half way)")
    ap.add_argument("--eddy", type=Path, default=None,
                    help="the eddy binary for the mixed-type table (default: <repo>/target/release/"
                         "eddy, honouring CARGO_TARGET_DIR)")
    ap.add_argument("--eddy-run-args", default="",
                    help="more arguments for `eddy run` in the mixed-type table, e.g. "
                         "'--categorical country,device,merchant'")
    args = ap.parse_args(argv)
    if args.records < args.batch_size:
        ap.error("--records must be at least --batch-size")
    if not 0.0 <= args.mixed_missing < 1.0:
        ap.error("--mixed-missing must be in [0, 1)")

    OUT.mkdir(parents=True, exist_ok=True)
    if args.only_mixed:
        report = {
            "config": {"mixed_records": args.mixed_records, "seed": args.seed,
                       "mixed_missing": args.mixed_missing, "mixed_new_at": args.mixed_new_at,
                       "river_budget": args.river_budget},
            "versions": versions(),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            **run_mixed(args),
        }
        (OUT / "results-mixed.json").write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {OUT / 'results-mixed.json'}", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    streams = {
        "blobs": make_blobs(args.records, args.seed),
        "hyperplane": make_hyperplane(args.records, args.seed),
    }
    paths = {}
    for name, (x, y) in streams.items():
        xp, yp = OUT / f"{name}.x.npy", OUT / f"{name}.y.npy"
        np.save(xp, x)
        np.save(yp, y)
        paths[name] = (xp, yp)
    print(f"data: {args.records:,} records per stream written to {OUT} "
          f"({time.perf_counter() - t0:.1f}s, not timed)", file=sys.stderr)

    results: list[dict] = []
    bx, by = streams["blobs"]
    hx, hy = streams["hyperplane"]
    river_n = min(args.river_records, args.records)

    if not args.no_sklearn:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.sklearn_threads):
            print("sklearn: MiniBatchKMeans.partial_fit ...", file=sys.stderr)
            results.append(sklearn_kmeans(bx, by, args.batch_size))
            print("sklearn: StandardScaler + SGDClassifier.partial_fit ...", file=sys.stderr)
            results.append(sklearn_sgd(hx, hy, args.batch_size, river_n))

    if not args.no_river:
        print(f"river: KMeans on the first {river_n:,} records ...", file=sys.stderr)
        results.append(river_kmeans(bx[:river_n], by[:river_n], args.river_kmeans_sigma))
        print(f"river: StandardScaler | LogisticRegression on the first {river_n:,} records ...",
              file=sys.stderr)
        results.append(river_logreg(hx[:river_n], hy[:river_n]))

    eddy_status = "skipped (--no-eddy)"
    runner = None
    if not args.no_eddy:
        runner = args.runner or default_runner()
        if not runner.is_file():
            eddy_status = f"runner not found at {runner}"
            print(f"\n*** eddy: runner binary not found at {runner}.\n"
                  "*** Build it with `cargo build --release --example compare_runner` "
                  "(run.sh does this) or pass --runner. Showing Python rows only.\n",
                  file=sys.stderr)
        else:
            eddy_status = "ok"
            for task, stream in (("kmeans", "blobs"), ("sgd", "hyperplane")):
                res = run_eddy(runner, task, *paths[stream], args.batch_size, args.seed,
                               args.runner_timeout, prefix=river_n)
                if res is None:
                    eddy_status = "runner error (see stderr)"
                    continue
                if res["records"] != args.records:
                    print(f"eddy: warning: runner reports {res['records']} records for "
                          f"{task}, expected {args.records}", file=sys.stderr)
                results.append(res)
            if not args.no_logreg:
                for name, source in LOGREG_STREAMS.items():
                    if source is None or name not in args.logreg_streams.split(","):
                        continue
                    got = eddy_synth(runner, source.format(n=args.records, seed=args.seed), name,
                                     args.runner_timeout)
                    if got is None:
                        eddy_status = "runner error (see stderr)"
                        continue
                    paths[name] = got

    # ---- logistic regression: eddy's model language beside River, stream by stream
    logreg_y: dict[str, np.ndarray] = {}
    logreg_notes: list[str] = []
    if not args.no_logreg:
        for name in args.logreg_streams.split(","):
            if name not in paths:
                logreg_notes.append(f"{name}: no data (its generator is eddy's; the runner is "
                                    "needed to write it)")
                continue
            lx, ly = np.load(paths[name][0]), np.load(paths[name][1])
            if not set(np.unique(ly).tolist()) <= {0, 1}:
                logreg_notes.append(f"{name}: labels are not 0/1, skipped")
                continue
            logreg_y[name] = ly
            if runner is not None and eddy_status != "skipped (--no-eddy)" and runner.is_file():
                for variant, spec in EDDY_SPECS.items():
                    res = eddy_spec(runner, spec, name, *paths[name], variant, args.batch_size,
                                    args.runner_timeout)
                    if res is None:
                        eddy_status = "runner error (see stderr)"
                        continue
                    res["stream"] = name
                    if res.get("no_prediction"):
                        logreg_notes.append(f"{name}: eddy-{variant} gave {res['no_prediction']} "
                                            "NO_PREDICTION (counted as misses)")
                    results.append(res)
            if args.no_river:
                continue
            limit = min(args.river_logreg_records or len(ly), len(ly))
            print(f"river: StandardScaler | LogisticRegression on {name} (up to {limit:,} "
                  f"records, {args.river_budget:g}s budget) ...", file=sys.stderr)
            res = river_logreg_stream(lx, ly, limit, args.river_budget)
            res["stream"] = name
            results.append(res)
            if res["stopped_by_budget"]:
                logreg_notes.append(f"{name}: River stopped after {res['records']:,} of {limit:,} "
                                    f"records ({args.river_budget:g}s budget); its accuracy "
                                    "and the match are on that prefix")
            if not args.no_river_ldp:
                print(f"river: the same in compose.learn_during_predict() on {name} "
                      f"({res['records']:,} records) ...", file=sys.stderr)
                ldp = river_logreg_stream(lx, ly, res["records"], float("inf"),
                                          learn_during_predict=True)
                ldp["stream"] = name
                results.append(ldp)

    # ---- drift: eddy's drift-aware configuration vs River's pipeline; the detectors
    drift_md = detect_md = ""
    drift_rows: list[dict] = []
    det_rows: list[dict] = []
    drift_summary: list[str] = []
    det_notes: list[str] = []
    if not args.no_drift:
        drift_runner = runner if runner is not None and runner.is_file() else None
        river_done = {}
        if args.river_logreg_records is None:
            # The logistic regression table already ran River on these streams (seed --seed).
            for r in results:
                if r["task"] == "logreg" and r["system"] == "river":
                    river_done[(r["stream"], args.seed)] = r
        drift_rows = drift_pipeline_rows(args, drift_runner, river_done)
        drift_md, drift_summary = drift_pipeline_table(drift_rows)
        if not args.no_detectors:
            det_rows, det_notes = detector_rows(args, drift_runner)
            detect_md = detector_table(det_rows)

    try:
        import sklearn
        sk_version = sklearn.__version__
    except ImportError:  # pragma: no cover
        sk_version = None
    try:
        import river
        river_version = river.__version__
    except ImportError:  # pragma: no cover
        river_version = None

    md = table([r for r in results if r["task"] != "logreg"])
    print()
    print(md)
    print()
    print(f"- sklearn: mini-batches of {args.batch_size}; River: one record at a time on the "
          f"first {river_n:,} records only; eddy: see compare_runner. Compare records/s, "
          "not totals.")
    print("- eddy speed-up = eddy records/s / that system's records/s. "
          "quality vs sklearn = (system - sklearn) / sklearn; inertia: lower is better.")
    print("- Accuracy is prequential (test, then train). sklearn scores per batch "
          "(all records after the first batch); River and eddy score row by row.")
    sk_sgd = next((r for r in results if r["task"] == "sgd" and r["system"] == "sklearn"), None)
    if sk_sgd and sk_sgd.get("accuracy_on_river_prefix") is not None and not args.no_river:
        print(f"- sklearn SGD accuracy on River's {river_n:,}-record prefix: "
              f"{sk_sgd['accuracy_on_river_prefix']:.4f} (the hyperplane drifts, so the "
              "prefix is not the whole stream).")
    ed_sgd = next((r for r in results if r["task"] == "sgd" and r["system"] == "eddy"), None)
    if ed_sgd and ed_sgd.get("accuracy_on_river_prefix") is not None and not args.no_river:
        print(f"- eddy SGD accuracy on River's {river_n:,}-record prefix: "
              f"{ed_sgd['accuracy_on_river_prefix']:.4f}.")
    print(f"- eddy: {eddy_status}.")

    logreg_md = match_md = ""
    if not args.no_logreg:
        logreg_md, match_md = logreg_table(results, logreg_y)
        print()
        print("Logistic regression, prequential (predict each record, then learn it), "
              "one record at a time:")
        print()
        print(logreg_md)
        print()
        print("eddy `" + EDDY_SPECS["river-like"] + "` against River, prediction by prediction:")
        print()
        print(match_md)
        print()
        print("- eddy declares classes 0,1 (no NO_PREDICTION cold start); River predicts False (0) "
              "before it has learned anything. Both count every record, the first one included.")
        print("- eddy/River records/s: eddy's rate over the whole stream / River's (default "
              "pipeline) rate over the records it saw. river-ldp = River inside "
              "compose.learn_during_predict(): the scaler learns a record before predicting it, "
              "eddy's order.")
        for note in logreg_notes:
            print(f"- {note}")

    if not args.no_drift:
        print()
        print("Drift-aware: eddy `hedge` (its default ensemble) and eddy's River-like spec against "
              "River's StandardScaler() | LogisticRegression(), prequential accuracy, whole streams "
              f"of {args.records:,} records:")
        print()
        print(drift_md)
        print()
        for line in drift_summary:
            print(f"- {line}")
        print(f"- eddy's records/s: the median of {args.drift_repeats} run(s); River's: one run. "
              "hedge / River = eddy hedge's records/s over River's on the same stream.")
        if detect_md:
            print()
            print("Drift detectors, River's defaults on both sides, prequentially (one update per "
                  "value); a change is found by the first drift within the tolerance after it:")
            print()
            print(detect_md)
            print()
            for note in det_notes:
                print(f"- {note}")
            print(f"- eddy's updates/s: the median of {args.drift_repeats} run(s) of `compare_runner "
                  "detect`; River's: one run, `update` then `drift_detected` per value.")

    mixed = {} if args.no_mixed else run_mixed(args)

    def strip(rows):
        return [{k: ({kk: vv for kk, vv in v.items() if kk not in ("drifts", "warnings")}
                     if isinstance(v, dict) else v) for k, v in r.items()} for r in rows]

    report = {
        "config": {
            "records": args.records,
            "river_records": river_n,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "river_kmeans_sigma": args.river_kmeans_sigma,
            "sklearn_threads": args.sklearn_threads,
            "streams": {k: [str(p) for p in v] for k, v in paths.items()},
        },
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sk_version,
            "river": river_version,
        },
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "eddy": eddy_status,
        "results": [{k: v for k, v in r.items() if k != "predictions"} for r in results],
        "table_markdown": md,
        "logreg_table_markdown": logreg_md,
        "logreg_match_markdown": match_md,
        "logreg_notes": logreg_notes,
        "eddy_specs": EDDY_SPECS,
        "drift_specs": DRIFT_SPECS,
        "drift_pipeline": drift_rows,
        "drift_pipeline_markdown": drift_md,
        "drift_pipeline_summary": drift_summary,
        # Signal indices are long: the table says whether they agree.
        "detectors": strip(det_rows),
        "detectors_markdown": detect_md,
        "detector_notes": det_notes,
        **mixed,
    }
    (OUT / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {OUT / 'results.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
