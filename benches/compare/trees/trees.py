"""Trees and forests side by side: eddy vs MOA vs River (issue 14).

One run writes each stream once (CSV for eddy, ARFF for MOA, the same Python
values as dicts for River), runs every learner prequentially over every row
(predict the record, then learn it), and prints two Markdown tables:

1. eddy and MOA on the whole stream: accuracy and records/s.
2. River on a prefix (it is slow), beside MOA's and eddy's accuracy on that
   same prefix (MOA prints it with -f PREFIX; eddy's comes from its per-row labels).

Everything lands in out/ (streams, predictions, summaries) and out/results.json.
See README.md for the parameters and how to read the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent

LEARNERS = ("ht", "hat", "arf")
LEARNER_NAMES = {"ht": "Hoeffding tree", "hat": "Hoeffding adaptive tree", "arf": "ARF (10 trees)"}
DEFAULT_EDDY_SPECS = "ht=hoeffding-tree;hat=hoeffding-adaptive-tree;arf=arf"
ALL_STREAMS = ("rbf-moving", "sine", "sea", "bananas", "agrawal")
MOA_LEARNERS = ("ht", "hat", "arf-j1", "arf-j2")


# --------------------------------------------------------------------------- streams


def _take(dataset, n):
    return list(dataset.take(n))


def make_stream(name: str, n: int, seed: int):
    """Return (description, feature names, rows as lists, labels as ints)."""
    from river import datasets
    from river.datasets import synth

    if name == "rbf-moving":
        params = dict(seed_model=seed, seed_sample=seed, n_classes=4, n_features=10,
                      n_centroids=50, change_speed=0.001, n_drift_centroids=50)
        pairs = _take(synth.RandomRBFDrift(**params), n)
        desc = ("river.datasets.synth.RandomRBFDrift(" + ", ".join(f"{k}={v}" for k, v in params.items())
                + "): 50 Gaussian clusters in [0,1]^10, 4 classes, every centroid moving at speed 0.001 per record")
    elif name == "sine":
        params = dict(classification_function=2, seed=seed)
        pairs = _take(synth.Sine(**params), n)
        desc = ("river.datasets.synth.Sine(classification_function=2, seed=%d): x0, x1 ~ U[0,1), "
                "y = 0 iff x0 >= 0.5 + 0.3 sin(3 pi x1); no noise, no drift (a curved boundary)" % seed)
    elif name == "sea":
        seg = [n // 4 + (1 if i < n % 4 else 0) for i in range(4)]
        pairs = []
        for variant, m in enumerate(seg):
            pairs += _take(synth.SEA(variant=variant, noise=0.1, seed=seed + variant), m)
        bounds = np.cumsum(seg)[:-1].tolist()
        desc = ("river.datasets.synth.SEA(variant=v, noise=0.1, seed=%d+v) for v = 0, 1, 2, 3 in four equal segments "
                "(thresholds 8, 9, 7, 9.5): abrupt drifts at records %s" % (seed, bounds))
    elif name == "bananas":
        pairs = list(datasets.Bananas())
        desc = "river.datasets.Bananas(): 5,300 real records, 2 features, 2 classes with a curved boundary, in shipped order (whole set, --records ignored)"
    elif name == "agrawal":
        half = n // 2
        pairs = (_take(synth.Agrawal(classification_function=0, seed=seed), half)
                 + _take(synth.Agrawal(classification_function=2, seed=seed + 1), n - half))
        desc = ("river.datasets.synth.Agrawal(classification_function=0, seed=%d) then "
                "Agrawal(classification_function=2, seed=%d): 9 numeric features (elevel, car, zipcode as integer codes), "
                "abrupt drift at record %d" % (seed, seed + 1, half))
    else:
        raise SystemExit(f"unknown stream {name!r}: one of {', '.join(ALL_STREAMS)}")

    keys = list(pairs[0][0].keys())
    names = [f"f{i}" for i in range(len(keys))]
    rows = [[x[k] for k in keys] for x, _ in pairs]
    ys = [int(y) for _, y in pairs]  # bool (SEA, Bananas) or int
    source_names = {f"f{i}": str(k) for i, k in enumerate(keys)}
    return desc, names, rows, ys, source_names


def _fmt(v) -> str:
    # repr() round-trips a float exactly, so eddy, MOA and River read identical values.
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


def write_csv(path: Path, names, rows, ys):
    with path.open("w") as f:
        f.write(",".join(names) + ",y\n")
        for r, y in zip(rows, ys):
            f.write(",".join(_fmt(v) for v in r) + f",{y}\n")


def write_arff(path: Path, relation: str, names, rows, ys, classes):
    with path.open("w") as f:
        f.write(f"@relation {relation}\n\n")
        for nm in names:
            f.write(f"@attribute {nm} numeric\n")
        f.write("@attribute y {" + ",".join(str(c) for c in classes) + "}\n\n@data\n")
        for r, y in zip(rows, ys):
            f.write(",".join(_fmt(v) for v in r) + f",{y}\n")


# --------------------------------------------------------------------------- helpers


def run_timed(cmd, timeout=None, **kw):
    """Run a process; return (CompletedProcess or None on timeout, wall seconds, child CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        proc = None
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, wall, cpu


def run_java_task(cmd, timeout=None, grace=5.0):
    """Run MOA's DoTask; return (returncode or None on timeout, stdout, stderr, wall, child CPU, killed).

    MOA's ARF with -j 2 starts a thread pool it never shuts down, so the JVM does not exit after the
    task: the run ends when stderr says "Task completed in", plus `grace` seconds for the output to
    flush, and the process is then killed (by its pid). wall stops at "Task completed in"."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_lines, err_lines = [], []
    done = threading.Event()
    t_done = [None]

    def pump_out():
        for line in proc.stdout:
            out_lines.append(line)

    def pump_err():
        for line in proc.stderr:
            err_lines.append(line)
            if "Task completed in" in line and t_done[0] is None:
                t_done[0] = time.perf_counter()
                done.set()

    threads = [threading.Thread(target=pump_out, daemon=True), threading.Thread(target=pump_err, daemon=True)]
    for t in threads:
        t.start()
    killed = False
    timed_out = False
    while proc.poll() is None:
        if done.is_set():
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
                killed = True
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            break
        if timeout and time.perf_counter() - t0 > timeout:
            proc.kill()
            proc.wait()
            timed_out = True
            break
        done.wait(0.05)
    end = time.perf_counter()
    for t in threads:
        t.join(timeout=10)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    wall = (t_done[0] if t_done[0] is not None else end) - t0
    rc = None if timed_out else (0 if killed else proc.returncode)
    return rc, "".join(out_lines), "".join(err_lines), wall, cpu, killed


def acc(pred: np.ndarray, true: np.ndarray, n: int | None = None):
    if n is not None:
        pred, true = pred[:n], true[:n]
    return float((pred == true).mean()) if len(true) else float("nan")


def rate(n, seconds):
    return n / seconds if seconds and seconds > 0 else float("nan")


def loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------- MOA


def moa_learner_cli(key: str, n_features: int) -> str:
    m = max(1, int(round(math.sqrt(n_features))))  # River's max_features="sqrt": round(sqrt(M))
    # -o 0 is "Specified m (integer value)". This jar's -o takes the index (0-3) or the long label,
    # not the short names (SpecifiedM, ...): those fail with "Class named 'EvaluatePrequential'
    # is not an instance of moa.tasks.meta.MetaMainTask".
    return {
        "ht": "trees.HoeffdingTree",
        "hat": "trees.HoeffdingAdaptiveTree",
        "arf-j1": f"(meta.AdaptiveRandomForest -s 10 -o 0 -m {m} -j 1)",
        "arf-j2": f"(meta.AdaptiveRandomForest -s 10 -o 0 -m {m} -j 2)",
        "baseline": "functions.MajorityClass",
    }[key]


def run_moa(args, key, arff: Path, preds_path: Path | None, n_features: int, classes, n_rows, prefix: int | None):
    """One EvaluatePrequential run. With a prefix, MOA also prints its cumulative accuracy after
    `prefix` rows (-f prefix), so no per-row prediction file is needed (writing one costs MOA
    about 1 s of wall time per 20k rows)."""
    freq = prefix if prefix else 100_000_000
    task = (f"EvaluatePrequential -l {moa_learner_cli(key, n_features)} -s (ArffFileStream -f {arff}) "
            f"-e BasicClassificationPerformanceEvaluator -f {freq}")
    if preds_path is not None:
        task += f" -o {preds_path}"
        if preds_path.exists():
            preds_path.unlink()
    cmd = ["java", f"-Xmx{args.moa_xmx}", "-cp", str(args.moa_jar), "moa.DoTask", task]
    la = loadavg()
    rc, stdout, stderr, wall, cpu, killed = run_java_task(cmd, timeout=args.moa_timeout)
    res = {"system": "moa", "variant": key, "command": " ".join(cmd[:-1]) + f' "{task}"',
           "wall_s": wall, "process_cpu_s": cpu, "loadavg_before": la,
           "killed_after_completion": killed}
    if rc is None:
        res.update(status="timeout", detail=f"more than {args.moa_timeout} s")
        return res, None
    lines = [l for l in stdout.splitlines() if l.strip()]
    hdr_i = next((i for i, l in enumerate(lines) if "classifications correct (percent)" in l), None)
    if rc != 0 or hdr_i is None or hdr_i + 1 >= len(lines):
        errs = stderr.strip().splitlines() + stdout.strip().splitlines()
        msg = next((l for l in errs if "Exception" in l or "rror" in l), errs[-1] if errs else "no output")
        res.update(status="error", detail=msg.strip()[:300], returncode=rc)
        return res, None
    header = lines[hdr_i].split(",")
    col = {h: i for i, h in enumerate(header)}
    rows = [l.split(",") for l in lines[hdr_i + 1:]]
    last = rows[-1]
    classified = int(float(last[col["classified instances"]]))
    cpu_col = float(last[col["evaluation time (cpu seconds)"]])
    res.update(status="ok", n=classified,
               accuracy=float(last[col["classifications correct (percent)"]]) / 100.0,
               eval_cpu_s=cpu_col, rate_wall=rate(classified, wall), rate_own=rate(classified, cpu_col),
               own_clock="MOA's 'evaluation time (cpu seconds)': CPU time of the evaluation thread only "
                         "(excludes JVM start-up; with -j 2 it misses the pool threads' training work)")
    res["prefix"] = {}
    for r in rows:
        k = int(float(r[col["classified instances"]]))
        if prefix and k == prefix:
            res["prefix"][str(k)] = float(r[col["classifications correct (percent)"]]) / 100.0
    pred = None
    if preds_path is not None:
        # Per-row predictions: "predicted index,true index" (indices into the nominal class list).
        pred = np.full(n_rows, -1, dtype=np.int64)
        with preds_path.open() as f:
            for i, line in enumerate(f):
                if i >= n_rows:
                    break
                try:
                    pred[i] = classes[int(float(line.split(",", 1)[0]))]
                except (ValueError, IndexError):
                    pred[i] = -1
    return res, pred


# --------------------------------------------------------------------------- eddy


def eddy_help_flags(eddy: Path) -> str:
    try:
        return subprocess.run([str(eddy), "run", "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def run_eddy(args, learner, spec, csv_path: Path, classes, n_rows, outdir: Path, help_text: str, stream: str):
    labels = outdir / f"{stream}.{learner}.npy"
    summary = outdir / f"{stream}.{learner}.summary.json"
    cmd = [str(args.eddy), "run", str(csv_path), "--label-column", "y",
           "--classes", ",".join(str(c) for c in classes), "--seed", str(args.eddy_seed),
           "--model", spec, "--summary-json", str(summary), "--labels-out", str(labels), "--quiet"]
    threads_note = "eddy run has no --threads yet: its default"
    if args.eddy_threads and "--threads" in help_text:
        cmd += ["--threads", str(args.eddy_threads)]
        threads_note = f"--threads {args.eddy_threads}"
    cmd += args.eddy_args.split() if args.eddy_args else []
    res = {"system": "eddy", "variant": learner, "spec": spec, "command": " ".join(
        (f"'{c}'" if (" " in c or "|" in c or "(" in c) else c) for c in cmd), "threads": threads_note}
    walls, cpus, owns, las = [], [], [], []
    for _ in range(max(1, args.eddy_repeats)):
        for p in (labels, summary):
            if p.exists():
                p.unlink()
        las.append(loadavg())
        proc, wall, cpu = run_timed(cmd, timeout=args.eddy_timeout)
        if proc is None:
            res.update(status="timeout", detail=f"more than {args.eddy_timeout} s")
            return res, None
        if proc.returncode != 0:
            err = proc.stderr.strip()
            if "unknown model" in err:
                res.update(status="not built yet", detail=err.splitlines()[0][:300])
            else:
                res.update(status="error", detail=(err.splitlines() or ["exit %d" % proc.returncode])[0][:300],
                           returncode=proc.returncode)
            return res, None
        s = json.loads(summary.read_text())
        walls.append(wall)
        cpus.append(cpu)
        owns.append(s.get("seconds"))
    k = int(np.argsort(walls)[len(walls) // 2])  # the median run by wall time
    model = s["models"][0]
    raw = np.load(labels).reshape(-1)
    pred = np.array([classes[i] if 0 <= i < len(classes) else -1 for i in raw.tolist()], dtype=np.int64)
    n = int(s.get("records", len(pred)))
    res.update(status="ok", n=n, accuracy_reported=model.get("metrics", {}).get("accuracy"),
               wall_s=walls[k], process_cpu_s=cpus[k], own_s=owns[k], loadavg_before=las[k],
               runs_wall_s=walls, rate_wall=rate(n, walls[k]), rate_own=rate(n, owns[k]),
               own_clock="eddy's summary 'seconds' (its run loop: read, predict, learn, write labels)")
    return res, pred


# --------------------------------------------------------------------------- River


def river_model(learner):
    from river import forest, tree

    if learner == "ht":
        return tree.HoeffdingTreeClassifier(), "tree.HoeffdingTreeClassifier()"
    if learner == "hat":
        return tree.HoeffdingAdaptiveTreeClassifier(seed=0), "tree.HoeffdingAdaptiveTreeClassifier(seed=0)"
    return forest.ARFClassifier(seed=0), "forest.ARFClassifier(seed=0)"


def run_river(args, learner, xs, ys):
    model, desc = river_model(learner)
    limit = min(len(xs), args.river_records)
    budget = args.river_budget
    correct = 0
    n = 0
    la = loadavg()
    t0 = time.perf_counter()
    for x, y in zip(xs[:limit], ys[:limit]):
        if model.predict_one(x) == y:
            correct += 1
        model.learn_one(x, y)
        n += 1
        if n % 100 == 0 and budget and time.perf_counter() - t0 > budget:
            break
    wall = time.perf_counter() - t0
    return {"system": "river", "variant": learner, "model": desc, "status": "ok", "n": n,
            "accuracy": correct / n if n else float("nan"), "wall_s": wall, "rate_wall": rate(n, wall),
            "rate_own": rate(n, wall), "loadavg_before": la,
            "stopped_by": "budget" if n < limit else "records",
            "own_clock": "time.perf_counter() around the predict_one/learn_one loop, dicts built before"}


# --------------------------------------------------------------------------- tables


def pct(a):
    return "-" if a is None or (isinstance(a, float) and math.isnan(a)) else f"{100 * a:.2f}"


def krate(r):
    if r is None or (isinstance(r, float) and math.isnan(r)):
        return "-"
    return f"{r:,.0f}"


def cell_status(res):
    if res is None:
        return "skipped"
    if res["status"] == "not built yet":
        return "not built yet"
    return res["status"]


def tables(results, stream_info, eddy_specs):
    out = []
    by = {(r["stream"], r["system"], r["variant"]): r for r in results}
    out.append("### eddy and MOA on the whole stream (prequential, every row)\n")
    out.append("Accuracy in %. Rates in records/s. *wall*: rows / wall time of the whole process "
               "(eddy: start, CSV parsing, labels written; MOA: JVM start and ARFF parsing included). "
               "*own*: rows / eddy's own summary clock. *CPU*: rows / MOA's 'evaluation time (cpu seconds)', "
               "the evaluation thread's CPU time (with `-j 2` it leaves out the pool threads). "
               "*net*: rows / (MOA wall − wall of `functions.MajorityClass` on the same ARFF, fastest of "
               "`--moa-baseline-repeats`), MOA without its fixed costs (noisy for fast learners). "
               "eddy/MOA: ratio of the wall rates.\n")
    out.append("| stream | rows | learner | eddy spec | eddy acc | MOA acc | eddy − MOA (pts) "
               "| eddy wall | eddy own | MOA wall | MOA CPU | MOA net | eddy/MOA |")
    out.append("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s, info in stream_info.items():
        for learner in LEARNERS:
            moa_keys = ["arf-j1", "arf-j2"] if learner == "arf" else [learner]
            e = by.get((s, "eddy", learner))
            for mk in moa_keys:
                m = by.get((s, "moa", mk))
                if e is None and m is None:
                    continue
                lname = learner if learner != "arf" else f"arf (MOA -j {mk[-1]})"
                spec = f"`{eddy_specs[learner]}`" if learner in eddy_specs else "-"
                e_ok = e is not None and e["status"] == "ok"
                m_ok = m is not None and m["status"] == "ok"
                e_acc = pct(e["accuracy"]) if e_ok else cell_status(e)
                m_acc = pct(m["accuracy"]) if m_ok else cell_status(m)
                diff = f"{100 * (e['accuracy'] - m['accuracy']):+.2f}" if e_ok and m_ok else "-"
                e_w, e_o = (krate(e["rate_wall"]), krate(e["rate_own"])) if e_ok else ("-", "-")
                m_w, m_c, m_n = ((krate(m["rate_wall"]), krate(m["rate_own"]), krate(m.get("rate_net")))
                                 if m_ok else ("-", "-", "-"))
                ratio = f"{e['rate_wall'] / m['rate_wall']:.1f}x" if e_ok and m_ok else "-"
                out.append(f"| {s} | {info['n']:,} | {lname} | {spec} | {e_acc} | {m_acc} | {diff} "
                           f"| {e_w} | {e_o} | {m_w} | {m_c} | {m_n} | {ratio} |")
    out.append("")
    spread = [r for r in results if r["system"] == "eddy" and len(r.get("seed_accuracies", [])) > 1]
    if spread:
        out.append("### eddy over several seeds\n")
        out.append("Accuracy in % of each eddy learner run with consecutive `--seed`s from `--eddy-seed` "
                   "(the forest's and the bootstrapped adaptive tree's random draws change with it; "
                   "MOA's learners run with their fixed seed).\n")
        out.append("| stream | learner | seeds | eddy mean | eddy min | eddy max | MOA acc | mean − MOA (pts) |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in spread:
            a = r["seed_accuracies"]
            m = by.get((r["stream"], "moa", "arf-j1" if r["variant"] == "arf" else r["variant"]))
            m_ok = m is not None and m["status"] == "ok"
            mean = sum(a) / len(a)
            diff = f"{100 * (mean - m['accuracy']):+.2f}" if m_ok else "-"
            out.append(f"| {r['stream']} | {r['variant']} | {len(a)} | {pct(mean)} | {pct(min(a))} | {pct(max(a))} "
                       f"| {pct(m['accuracy']) if m_ok else '-'} | {diff} |")
        out.append("")
    out.append("### River on a prefix, beside MOA and eddy on the same rows\n")
    out.append("River learns the first *rows* records (capped by `--river-records` and `--river-budget`). "
               "MOA's accuracy on those rows is its cumulative accuracy printed after exactly *rows* records "
               "(`-f rows`; for arf, the `-j 1` run); eddy's is recomputed from its per-row labels. "
               "River's rate: rows / seconds of its predict_one/learn_one loop (dicts built beforehand).\n")
    seeds = max((len(r.get("seed_accuracies", [])) for r in results), default=0)
    extra = f" eddy mean of {seeds} seeds |" if seeds > 1 else ""
    out.append(f"| stream | learner | rows | River acc | River rec/s | MOA acc | eddy acc |{extra}")
    out.append("|---|---|---:|---:|---:|---:|---:|" + ("---:|" if extra else ""))
    for s in stream_info:
        for learner in LEARNERS:
            r = by.get((s, "river", learner))
            if r is None:
                continue
            mk = "arf-j1" if learner == "arf" else learner
            m = by.get((s, "moa", mk))
            e = by.get((s, "eddy", learner))
            key = str(r["n"])
            m_acc = pct(m.get("prefix", {}).get(key)) if m and m["status"] == "ok" else cell_status(m)
            e_acc = pct(e.get("prefix", {}).get(key)) if e and e["status"] == "ok" else cell_status(e)
            note = " (budget)" if r.get("stopped_by") == "budget" else ""
            mean = ""
            if extra:
                values = (e or {}).get("seed_prefix", {}).get(key)
                mean = f" {pct(sum(values) / len(values))} |" if values else " - |"
            out.append(f"| {s} | {learner} | {r['n']:,}{note} | {pct(r['accuracy'])} | {krate(r['rate_wall'])} "
                       f"| {m_acc} | {e_acc} |{mean}")
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def parse_specs(text):
    specs = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        key, sep, spec = part.partition("=")
        key = key.strip()
        if not sep or key not in LEARNERS:
            raise SystemExit(f"--eddy-specs: expected LEARNER=SPEC with LEARNER in {LEARNERS}, got {part!r}")
        specs[key] = spec.strip()
    return specs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000, help="rows of each synthetic stream (default 100000)")
    ap.add_argument("--streams", default=",".join(ALL_STREAMS), help="comma-separated, of " + ", ".join(ALL_STREAMS))
    ap.add_argument("--seed", type=int, default=42, help="seed of the River generators (default 42)")
    ap.add_argument("--river-records", type=int, default=20_000, help="prefix River learns (default 20000)")
    ap.add_argument("--river-budget", type=float, default=60.0,
                    help="seconds per River learner and stream; it stops at the first 100-row mark past it (default 60; 0 = none)")
    ap.add_argument("--river-learners", default="ht,hat,arf")
    ap.add_argument("--no-river", action="store_true")
    ap.add_argument("--moa-jar", type=Path, default=HERE / ".cache" / "moa.jar")
    ap.add_argument("--moa-xmx", default="4g")
    ap.add_argument("--moa-learners", default=",".join(MOA_LEARNERS), help="of ht, hat, arf-j1, arf-j2")
    ap.add_argument("--moa-timeout", type=float, default=3600)
    ap.add_argument("--no-moa-baseline", action="store_true",
                    help="skip the functions.MajorityClass run that measures MOA's fixed cost (JVM start, ARFF parsing)")
    ap.add_argument("--moa-preds", action="store_true",
                    help="also write MOA's per-row predictions (-o) to out/moa/ and check ARF -j 1 against -j 2 "
                         "(slows MOA by about 1 s of wall time per 20k rows)")
    ap.add_argument("--moa-baseline-repeats", type=int, default=2,
                    help="runs of the MajorityClass baseline; the fastest is kept (default 2)")
    ap.add_argument("--no-moa", action="store_true")
    ap.add_argument("--eddy", type=Path, default=ROOT / "target" / "release" / "eddy")
    ap.add_argument("--eddy-specs", default=DEFAULT_EDDY_SPECS,
                    help=f"';'-separated LEARNER=SPEC, LEARNER in ht, hat, arf (default {DEFAULT_EDDY_SPECS!r}); "
                         "e.g. 'ht=gaussian-nb' to test the plumbing")
    ap.add_argument("--eddy-threads", type=int, default=os.cpu_count() or 1,
                    help="passed as --threads if `eddy run --help` lists it (default: all cores)")
    ap.add_argument("--eddy-seed", type=int, default=0, help="eddy run --seed (default 0)")
    ap.add_argument("--eddy-seeds", type=int, default=1,
                    help="also run each eddy learner with the N-1 seeds after --eddy-seed (accuracy only) and "
                         "report the spread: bootstrapped learners (hat, arf) depend on their random draws")
    ap.add_argument("--eddy-repeats", type=int, default=1, help="run each eddy learner this many times; report the median wall time")
    ap.add_argument("--eddy-args", default="", help="more arguments for eddy run (split on spaces)")
    ap.add_argument("--eddy-timeout", type=float, default=3600)
    ap.add_argument("--no-eddy", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    args = ap.parse_args(argv)

    streams = [s.strip() for s in args.streams.split(",") if s.strip()]
    for s in streams:
        if s not in ALL_STREAMS:
            ap.error(f"unknown stream {s!r}")
    moa_keys = [] if args.no_moa else [k.strip() for k in args.moa_learners.split(",") if k.strip()]
    river_keys = [] if args.no_river else [k.strip() for k in args.river_learners.split(",") if k.strip()]
    eddy_specs = {} if args.no_eddy else parse_specs(args.eddy_specs)
    if moa_keys and not args.moa_jar.exists():
        ap.error(f"MOA jar not found: {args.moa_jar} (run.sh fetches it; or --no-moa)")
    help_text = ""
    if eddy_specs:
        if not args.eddy.exists():
            print(f"trees.py: {args.eddy} not found: eddy skipped", file=sys.stderr)
            eddy_specs = {}
        else:
            help_text = eddy_help_flags(args.eddy)

    out = args.out
    (out / "streams").mkdir(parents=True, exist_ok=True)
    (out / "moa").mkdir(exist_ok=True)
    (out / "eddy").mkdir(exist_ok=True)

    import river

    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "args": {k: str(v) for k, v in vars(args).items()},
        "python": platform.python_version(), "river": river.__version__, "numpy": np.__version__,
        "cpus": os.cpu_count(), "loadavg_start": loadavg(),
        "java": (subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines() or ["?"])[0]
        if moa_keys else None,
        "moa_jar": str(args.moa_jar) if moa_keys else None,
        "eddy": (subprocess.run([str(args.eddy), "--version"], capture_output=True, text=True).stdout.strip()
                 if eddy_specs else None),
        "eddy_has_threads_flag": "--threads" in help_text,
        "eddy_binary_mtime": (time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(args.eddy.stat().st_mtime))
                              if eddy_specs else None),
    }
    results, stream_info = [], {}

    for s in streams:
        t0 = time.perf_counter()
        desc, names, rows, ys, src = make_stream(s, args.records, args.seed)
        classes = sorted(set(ys))
        n = len(ys)
        csv_path, arff_path = out / "streams" / f"{s}.csv", out / "streams" / f"{s}.arff"
        write_csv(csv_path, names, rows, ys)
        write_arff(arff_path, s.replace("-", "_"), names, rows, ys, classes)
        true = np.asarray(ys, dtype=np.int64)
        counts = np.bincount(true - min(classes))
        stream_info[s] = {"n": n, "features": len(names), "classes": classes, "description": desc,
                          "source_feature_names": src, "majority_share": float(counts.max() / n),
                          "csv": str(csv_path), "arff": str(arff_path)}
        print(f"[{s}] {n} rows, {len(names)} features, classes {classes} (majority {counts.max() / n:.3f}), "
              f"written in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

        stream_res = []
        preds = {}
        # River first: the prefix it manages (records and budget) is where MOA reports a second accuracy.
        xs = None
        river_n = {}
        for learner in river_keys:
            if xs is None:
                xs = [dict(zip(names, r)) for r in rows[: args.river_records]]
            r = run_river(args, learner, xs, ys)
            r["stream"] = s
            river_n[learner] = r["n"]
            stream_res.append(r)
            print(f"[{s}] River {learner}: {r['n']} rows acc={pct(r['accuracy'])} {krate(r['rate_wall'])} rec/s "
                  f"(stopped by {r['stopped_by']})", file=sys.stderr)
        xs = None
        if moa_keys and not args.no_moa_baseline:
            # The fixed cost is small and noisy on a shared machine: keep the fastest of a few runs.
            runs = [run_moa(args, "baseline", arff_path, None, len(names), classes, n, None)[0]
                    for _ in range(max(1, args.moa_baseline_repeats))]
            r = min(runs, key=lambda x: x["wall_s"] if x["status"] == "ok" else math.inf)
            r["runs_wall_s"] = [x["wall_s"] for x in runs]
            r["stream"] = s
            stream_info[s]["moa_baseline"] = r
            print(f"[{s}] MOA baseline (functions.MajorityClass): {r['status']} {r['wall_s']:.2f} s wall "
                  f"{r.get('detail', '')}", file=sys.stderr)
        for k in moa_keys:
            learner = "arf" if k.startswith("arf") else k
            pp = out / "moa" / f"{s}.{k}.preds.csv" if args.moa_preds else None
            r, p = run_moa(args, k, arff_path, pp, len(names), classes, n, river_n.get(learner))
            r["stream"] = s
            base = stream_info[s].get("moa_baseline", {})
            if r["status"] == "ok" and base.get("status") == "ok" and r["wall_s"] > base["wall_s"]:
                r["rate_net"] = rate(r["n"], r["wall_s"] - base["wall_s"])
            if p is not None:
                r["accuracy_from_preds"] = acc(p, true)
                preds[("moa", k)] = p
            stream_res.append(r)
            print(f"[{s}] MOA {k}: {r['status']} acc={pct(r.get('accuracy'))} "
                  f"wall={r['wall_s']:.2f}s ({krate(r.get('rate_wall'))} rec/s) {r.get('detail', '')}", file=sys.stderr)
        if ("moa", "arf-j1") in preds and ("moa", "arf-j2") in preds:
            stream_info[s]["moa_arf_j1_j2_identical_predictions"] = bool(
                np.array_equal(preds[("moa", "arf-j1")], preds[("moa", "arf-j2")]))
        for learner, spec in eddy_specs.items():
            r, p = run_eddy(args, learner, spec, csv_path, classes, n, out / "eddy", help_text, s)
            r["stream"] = s
            if p is not None:
                r["accuracy"] = acc(p, true)
                r["prefix"] = {str(m): acc(p, true, m) for m in sorted(set(river_n.values()))}
            if p is not None and args.eddy_seeds > 1:
                accs = [r["accuracy"]]
                prefixes = {m: [v] for m, v in r["prefix"].items()}
                for k in range(1, args.eddy_seeds):
                    other = argparse.Namespace(**{**vars(args), "eddy_seed": args.eddy_seed + k, "eddy_repeats": 1})
                    rk, pk = run_eddy(other, learner, spec, csv_path, classes, n, out / "eddy", help_text,
                                      f"{s}.seed{k}")
                    if pk is not None:
                        accs.append(acc(pk, true))
                        for m in prefixes:
                            prefixes[m].append(acc(pk, true, int(m)))
                r["seed_accuracies"] = accs
                r["seed_prefix"] = prefixes
            stream_res.append(r)
            print(f"[{s}] eddy {learner} = {spec!r}: {r['status']} acc={pct(r.get('accuracy'))} "
                  f"wall={r.get('wall_s', float('nan')):.2f}s ({krate(r.get('rate_wall'))} rec/s) {r.get('detail', '')}",
                  file=sys.stderr)
        results += stream_res

    meta["loadavg_end"] = loadavg()
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    table = tables(results, stream_info, eddy_specs)
    payload = {"meta": meta, "streams": stream_info, "eddy_specs": eddy_specs,
               "moa_learners": {k: moa_learner_cli(k, 10) for k in MOA_LEARNERS} | {"note": "-m is round(sqrt(M)) per stream"},
               "results": results, "table_markdown": table}
    (out / "results.json").write_text(json.dumps(payload, indent=2, default=float))
    print(table)
    print(f"\n(load average at start {meta['loadavg_start']}, at end {meta['loadavg_end']}; {os.cpu_count()} cores; "
          f"eddy threads: {'--threads ' + str(args.eddy_threads) if meta['eddy_has_threads_flag'] else 'no --threads flag yet'}; "
          f"results in {out / 'results.json'})")


if __name__ == "__main__":
    main()
