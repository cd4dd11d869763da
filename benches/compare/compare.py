#!/usr/bin/env python3
"""Side-by-side comparison of eddy, scikit-learn (`partial_fit`) and River.

Generates two seeded streams (Gaussian blobs for k-means, a drifting hyperplane
for logistic regression), writes them to ``out/*.npy``, runs every system on the
same data and prints a Markdown table (also written to ``out/results.json``).

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

    md = table(results)
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
        "results": results,
        "table_markdown": md,
    }
    (OUT / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {OUT / 'results.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
