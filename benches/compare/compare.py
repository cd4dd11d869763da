#!/usr/bin/env python3
"""Side-by-side comparison of eddy, scikit-learn (`partial_fit`) and River.

Generates two seeded streams (Gaussian blobs for k-means, a drifting hyperplane
for logistic regression), writes them to ``out/*.npy``, runs every system on the
same data and prints a Markdown table (also written to ``out/results.json``).

A second table runs eddy's model language (``compare_runner spec``) beside River's
``StandardScaler() | LogisticRegression()`` on the hyperplane and on two of eddy's
own generators (``synth:sea``, ``synth:hyperplane``, written to ``.npy`` by
``compare_runner synth``), and compares them prediction by prediction.

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


def eddy_synth(runner: Path, source: str, name: str, timeout: float) -> tuple[Path, Path] | None:
    """Write eddy's generated stream ``source`` to ``out/{name}.{x,y}.npy``."""
    xp, yp = OUT / f"{name}.x.npy", OUT / f"{name}.y.npy"
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
    args = ap.parse_args(argv)
    if args.records < args.batch_size:
        ap.error("--records must be at least --batch-size")

    OUT.mkdir(parents=True, exist_ok=True)
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
    }
    (OUT / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {OUT / 'results.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
