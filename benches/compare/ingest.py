#!/usr/bin/env python3
"""Ingest benchmark: ``eddy run`` on CSV and NDJSON files beside pandas + scikit-learn.

What it measures (wall time of the whole job, file to labels; median of ``--repeats``):

* **pandas + scikit-learn**: ``pd.read_csv(blobs.csv)``, then
  ``MiniBatchKMeans(n_clusters=8, batch_size=1024, n_init=1, random_state=0)`` with a
  ``partial_fit`` then ``predict`` on each consecutive 1024-row slice, so that every
  record gets a label as in eddy's prequential run. It runs in a fresh Python process
  per repeat (so its peak RSS is its own); the timer starts after the imports.
  Native thread pools are capped at ``--sklearn-threads`` (default 1).
* **eddy k-means**: ``eddy run blobs.csv --model 'minibatch-kmeans(n_clusters=8)'``,
  parsing on every core (eddy's default) and with ``--threads 1``.
* **eddy scaler + logistic SGD**: ``eddy run hyperplane.csv --label-column y
  --model 'scale | sgd(loss=log_loss)'``, every core and ``--threads 1``.
* **eddy NDJSON**: the same model on ``hyperplane.ndjson`` (the same rows as objects).
* ``--memory``: eddy k-means (every core) once more on ``blobs-10x.csv`` (the data rows
  of ``blobs.csv`` ten times, 10N records): its peak RSS against the N run's (the goal:
  within 10%, i.e. memory does not grow with the input).

Every eddy run is timed as a subprocess (``time.perf_counter()`` around it) under
``/usr/bin/time -f %M`` for its peak RSS. The labels of the every-core and the
``--threads 1`` runs must be byte-identical (eddy promises the same labels for any
thread count); the script prints a FAIL line and exits 1 otherwise.

It prints a Markdown table (seconds, records/s, MiB/s, peak RSS) and the ratios, all
from medians measured in this run, and writes everything to ``OUT/ingest.json``.
The input files are generated once (numpy, seeds 0 and 1) and reused while their
size matches (``OUT/meta.json``).

Run it through ``ingest.sh``, which sets up the pinned virtualenv and builds eddy::

    bash benches/compare/ingest.sh                      # 1 000 000 records, 16 features
    bash benches/compare/ingest.sh --records 200000
    bash benches/compare/ingest.sh --memory             # also the 10N memory check
    bash benches/compare/ingest.sh --no-build --eddy target/release/eddy --repeats 1
"""

from __future__ import annotations

import os
import sys

# The thread caps must be in the environment before numpy loads its BLAS/OpenMP
# runtimes, so they are read from argv by hand here, ahead of argparse.
_PARENT_ENV = dict(os.environ)  # eddy runs with the caller's environment, uncapped


def _early_sklearn_threads(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--sklearn-threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--sklearn-threads="):
            return arg.split("=", 1)[1]
    return "1"


for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _early_sklearn_threads(sys.argv[1:])

import argparse  # noqa: E402
import filecmp  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
N_CLUSTERS = 8
BATCH = 1024
CHUNK_ROWS = 100_000  # rows formatted at a time, to bound the generator's memory
META_VERSION = 1
KMEANS_SPEC = f"minibatch-kmeans(n_clusters={N_CLUSTERS})"
SGD_SPEC = "scale | sgd(loss=log_loss)"
TIME_BIN = "/usr/bin/time"


# --------------------------------------------------------------------------- data


def _write_rows(path: Path, header: str, template: str, columns: list[np.ndarray]) -> None:
    """Write `template % row` per row. A %-template per row is ~5x faster than
    building lines with numpy's per-column string ufuncs, and far faster than json.dumps."""
    tmp = path.with_name(path.name + ".tmp")
    n = len(columns[0])
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        if header:
            f.write(header + "\n")
        for s in range(0, n, CHUNK_ROWS):
            rows = zip(*(c[s:s + CHUNK_ROWS].tolist() for c in columns))
            f.write("\n".join([template % r for r in rows]))
            f.write("\n")
    tmp.replace(path)  # never leave a half-written file that looks complete


def gen_blobs(n: int, d: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    centres = rng.uniform(-10.0, 10.0, size=(N_CLUSTERS, d))
    which = rng.integers(0, N_CLUSTERS, size=n)
    x = centres[which] + rng.standard_normal((n, d))
    return [x[:, j] for j in range(d)]


def gen_hyperplane(n: int, d: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    w = rng.uniform(0.0, 1.0, size=d)
    # Rounded as written, so the label is a function of the values eddy reads.
    x = np.round(rng.uniform(0.0, 1.0, size=(n, d)), 6)
    y = (x @ w > w.sum() / 2).astype(np.int64)
    return [x[:, j] for j in range(d)] + [y]


def append_10x(src: Path, dst: Path) -> None:
    """The data rows of `src` ten times under its header: 10N records, same distribution."""
    tmp = dst.with_name(dst.name + ".tmp")
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        fout.write(fin.readline())
        start = fin.tell()
        for _ in range(10):
            fin.seek(start)
            shutil.copyfileobj(fin, fout, 1 << 22)
    tmp.replace(dst)


def ensure_data(out: Path, n: int, d: int, memory: bool) -> dict[str, Path]:
    """Generate what is missing or stale; `meta.json` remembers what each file holds."""
    meta_path = out / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("version") != META_VERSION:
            meta = {}
    except (OSError, ValueError):
        meta = {}
    files = meta.setdefault("files", {})
    meta["version"] = META_VERSION

    def fresh(name: str, records: int) -> bool:
        p, m = out / name, files.get(name)
        return (p.is_file() and m is not None and m["records"] == records
                and m["features"] == d and m["bytes"] == p.stat().st_size)

    def done(name: str, records: int) -> None:
        files[name] = {"records": records, "features": d, "bytes": (out / name).stat().st_size}
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")

    feat = [f"f{j}" for j in range(d)]
    csv_tmpl = ",".join(["%.6f"] * d)
    if not fresh("blobs.csv", n):
        log(f"generating blobs.csv ({n:,} x {d}) ...")
        _write_rows(out / "blobs.csv", ",".join(feat), csv_tmpl, gen_blobs(n, d))
        done("blobs.csv", n)
        files.pop("blobs-10x.csv", None)  # built from blobs.csv
    need_csv, need_json = not fresh("hyperplane.csv", n), not fresh("hyperplane.ndjson", n)
    if need_csv or need_json:
        cols = gen_hyperplane(n, d)
        if need_csv:
            log(f"generating hyperplane.csv ({n:,} x {d} + y) ...")
            _write_rows(out / "hyperplane.csv", ",".join(feat + ["y"]), csv_tmpl + ",%d", cols)
            done("hyperplane.csv", n)
        if need_json:
            log(f"generating hyperplane.ndjson ({n:,} x {d} + y) ...")
            tmpl = "{" + ",".join(f'"{f}":%.6f' for f in feat) + ',"y":%d}'
            _write_rows(out / "hyperplane.ndjson", "", tmpl, cols)
            done("hyperplane.ndjson", n)
        del cols
    paths = {k: out / k for k in ("blobs.csv", "hyperplane.csv", "hyperplane.ndjson")}
    if memory:
        if not fresh("blobs-10x.csv", 10 * n):
            log(f"writing blobs-10x.csv ({10 * n:,} records) ...")
            append_10x(out / "blobs.csv", out / "blobs-10x.csv")
            done("blobs-10x.csv", 10 * n)
        paths["blobs-10x.csv"] = out / "blobs-10x.csv"
    return paths


# --------------------------------------------------------------------------- runs


def log(msg: str) -> None:
    print(f"ingest: {msg}", file=sys.stderr, flush=True)


def fail(msg: str) -> None:
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def timed(cmd: list[str], env: dict[str, str], what: str) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of `cmd` run under /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        full = [TIME_BIN, "-f", "%M", "-o", rss.name, *cmd]
        t0 = time.perf_counter()
        p = subprocess.run(full, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, errors="replace")
        seconds = time.perf_counter() - t0
        if p.returncode != 0:
            sys.stderr.write(p.stdout + p.stderr)
            fail(f"{what} exited with status {p.returncode}: {shlex.join(cmd)}")
        # GNU time writes "Command exited ..." lines first on failure; %M is the last.
        lines = [ln for ln in rss.read().splitlines() if ln.strip()]
    return seconds, int(lines[-1]), p.stdout


def run_sklearn(csv: Path, threads: int) -> tuple[float, int]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--sklearn-threads", str(threads),
           "--sklearn-worker", str(csv)]
    _, kib, out = timed(cmd, dict(os.environ), "pandas + scikit-learn")
    return json.loads(out.strip().splitlines()[-1])["seconds"], kib


def sklearn_worker(csv: Path, threads: int) -> None:
    """Child process: time read_csv + the partial_fit/predict loop, print JSON."""
    import pandas as pd
    from sklearn.cluster import MiniBatchKMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        t0 = time.perf_counter()
        x = pd.read_csv(csv).to_numpy()
        km = MiniBatchKMeans(n_clusters=N_CLUSTERS, batch_size=BATCH, n_init=1, random_state=0)
        labels = np.empty(len(x), dtype=np.int64)
        for s in range(0, len(x), BATCH):
            xb = x[s:s + BATCH]
            km.partial_fit(xb)
            labels[s:s + BATCH] = km.predict(xb)
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "records": int(len(labels))}))


def run_eddy(eddy: Path, inp: Path, spec: str, labels: Path, threads: int | None,
             label_col: str | None) -> tuple[float, int]:
    cmd = [str(eddy), "run", str(inp), "--model", spec, "--labels-out", str(labels), "--quiet"]
    if label_col:
        cmd += ["--label-column", label_col]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    seconds, kib, _ = timed(cmd, _PARENT_ENV, f"eddy on {inp.name}")
    return seconds, kib


def count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            n += chunk.count(b"\n")
    return n


# --------------------------------------------------------------------------- report


def fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000, help="records per file (N)")
    ap.add_argument("--features", type=int, default=16, help="feature columns (D)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each; medians reported")
    ap.add_argument("--eddy", type=Path, default=None,
                    help="eddy binary (default: <repo>/target/release/eddy, "
                         "honouring CARGO_TARGET_DIR)")
    ap.add_argument("--out", type=Path, default=HERE / "out" / "ingest",
                    help="data, labels and ingest.json (default: %(default)s)")
    ap.add_argument("--sklearn-threads", type=int, default=1,
                    help="cap of scikit-learn's native thread pools (default: 1)")
    ap.add_argument("--memory", action="store_true",
                    help="also run eddy k-means on a 10x file and compare peak RSS")
    ap.add_argument("--no-build", action="store_true", help="(for ingest.sh: skip cargo build)")
    ap.add_argument("--sklearn-worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.sklearn_worker:
        sklearn_worker(args.sklearn_worker, args.sklearn_threads)
        return
    if args.records < BATCH or args.features < 1 or args.repeats < 1 or args.sklearn_threads < 1:
        ap.error(f"need --records >= {BATCH}, --features >= 1, --repeats >= 1, "
                 "--sklearn-threads >= 1")
    if args.eddy is None:
        target = os.environ.get("CARGO_TARGET_DIR")
        base = Path(target) if target else REPO_ROOT / "target"
        args.eddy = (base if base.is_absolute() else REPO_ROOT / base) / "release" / "eddy"
    eddy = args.eddy.resolve()
    if not os.access(eddy, os.X_OK):
        fail(f"no eddy binary at {eddy} (build it, or pass --eddy PATH)")
    if not os.access(TIME_BIN, os.X_OK):
        fail(f"{TIME_BIN} is missing (apt-get install time); it measures peak RSS")

    n, d, out = args.records, args.features, args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    paths = ensure_data(out, n, d, args.memory)

    # name -> (runner, input file, labels file)
    runs = {
        "pandas+sklearn": (lambda: run_sklearn(paths["blobs.csv"], args.sklearn_threads),
                           paths["blobs.csv"], None),
    }
    eddy_runs = [  # (name, input, spec, label column, labels stem)
        ("kmeans", "blobs.csv", KMEANS_SPEC, None, "labels-k"),
        ("csv-sgd", "hyperplane.csv", SGD_SPEC, "y", "labels-s"),
        ("ndjson-sgd", "hyperplane.ndjson", SGD_SPEC, "y", "labels-j"),
    ]
    for name, inp, spec, col, stem in eddy_runs:
        for threads, suffix in ((None, ""), (1, "-t1")):
            lab = out / f"{stem}{suffix}.csv"
            runs[f"eddy {name} {'every core' if threads is None else '--threads 1'}"] = (
                lambda i=paths[inp], s=spec, l=lab, t=threads, c=col: run_eddy(eddy, i, s, l, t, c),
                paths[inp], lab)

    samples: dict[str, list[tuple[float, int]]] = {k: [] for k in runs}
    for r in range(args.repeats):
        # Interleaved, so that a busy spell on the shared machine hits every run alike.
        for name, (fn, _, _) in runs.items():
            log(f"repeat {r + 1}/{args.repeats}: {name} ...")
            samples[name].append(fn())
        for name, _, _, _, stem in eddy_runs:
            a, b = out / f"{stem}.csv", out / f"{stem}-t1.csv"
            if not filecmp.cmp(a, b, shallow=False):
                fail(f"eddy {name}: labels differ between every core and --threads 1 "
                     f"({a.name} vs {b.name})")
            if (lines := count_lines(a)) != n + 1:
                fail(f"eddy {name}: {a.name} has {lines - 1} labels, expected {n}")

    if args.memory:
        log(f"memory: eddy kmeans every core on {10 * n:,} records ...")
        lab = out / "labels-k-10x.csv"
        samples["eddy kmeans every core (10N)"] = [
            run_eddy(eddy, paths["blobs-10x.csv"], KMEANS_SPEC, lab, None, None)]
        runs["eddy kmeans every core (10N)"] = (None, paths["blobs-10x.csv"], lab)
        if (lines := count_lines(lab)) != 10 * n + 1:
            fail(f"eddy kmeans (10N): {lab.name} has {lines - 1} labels, expected {10 * n}")

    # ---- numbers
    rows = {}
    for name, (_, inp, _) in runs.items():
        secs = [s for s, _ in samples[name]]
        med = statistics.median(secs)
        records = 10 * n if name.endswith("(10N)") else n
        size = inp.stat().st_size
        rows[name] = {
            "input": inp.name, "records": records, "input_bytes": size,
            "seconds": secs, "seconds_median": med,
            "records_per_second": records / med, "mib_per_second": size / 2**20 / med,
            # Peak memory is a maximum, so the largest over the repeats.
            "peak_rss_mib": max(k for _, k in samples[name]) / 1024,
        }

    def sec(name: str) -> float:
        return rows[name]["seconds_median"]

    ratios = {
        "eddy kmeans (every core) vs pandas+sklearn":
            sec("pandas+sklearn") / sec("eddy kmeans every core"),
    }
    for name, *_ in eddy_runs:
        ratios[f"eddy {name}: every core vs --threads 1"] = (
            sec(f"eddy {name} --threads 1") / sec(f"eddy {name} every core"))
    if args.memory:
        ratios["peak RSS: kmeans 10N vs N"] = (rows["eddy kmeans every core (10N)"]["peak_rss_mib"]
                                               / rows["eddy kmeans every core"]["peak_rss_mib"])

    import pandas
    import sklearn

    setup = {
        "records (N)": n, "features (D)": d, "repeats": args.repeats,
        "cores (os.cpu_count)": os.cpu_count(), "sklearn threads": args.sklearn_threads,
        "python": platform.python_version(), "numpy": np.__version__,
        "pandas": pandas.__version__, "scikit-learn": sklearn.__version__,
        "eddy": subprocess.run([str(eddy), "--version"], capture_output=True, text=True,
                               env=_PARENT_ENV).stdout.strip(),
    }

    # ---- report
    print(f"## Ingest: {n:,} records x {d} features, median of {args.repeats}\n")
    print("| run | input | seconds | records/s | MiB/s | peak RSS (MiB) |")
    print("|---|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['input']} | {r['seconds_median']:.3f} | "
              f"{fmt_rate(r['records_per_second'])} | {r['mib_per_second']:.1f} | "
              f"{r['peak_rss_mib']:.1f} |")
    print("\n| ratio (medians of this run) | value |")
    print("|---|---:|")
    print(f"| eddy kmeans (every core) vs pandas+sklearn: sklearn s / eddy s | "
          f"{ratios['eddy kmeans (every core) vs pandas+sklearn']:.2f}x |")
    for name, *_ in eddy_runs:
        print(f"| eddy {name}: every core vs --threads 1 (speed-up) | "
              f"{ratios[f'eddy {name}: every core vs --threads 1']:.2f}x |")
    if args.memory:
        v = ratios["peak RSS: kmeans 10N vs N"]
        print(f"| peak RSS of eddy kmeans, 10N vs N (goal <= 1.10) | {v:.3f}"
              f"{'' if v <= 1.10 else ' (over goal)'} |")
    print("\n| setup | |")
    print("|---|---|")
    for k, v in setup.items():
        print(f"| {k} | {v} |")
    print("\nLabels: every core and --threads 1 byte-identical for kmeans, csv-sgd, ndjson-sgd.")

    result = {"setup": setup, "runs": rows, "ratios": ratios,
              "commands": {"eddy": str(eddy), "kmeans": KMEANS_SPEC, "sgd": SGD_SPEC}}
    (out / "ingest.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {out / 'ingest.json'}")


if __name__ == "__main__":
    main()
