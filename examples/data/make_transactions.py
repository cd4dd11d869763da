#!/usr/bin/env python3
"""Card transactions of mixed types: numeric, categorical and boolean columns, a few
missing values, and a 0/1 label (`fraud`) that depends mostly on the categories.

Writes the committed examples (run from the repository root, plain Python 3, standard
library only; the same seed gives the same files):

    python3 examples/data/make_transactions.py
    # = --rows 2500 --seed 13 --missing 0.01 --new-at 2000
    #   --csv examples/data/transactions.csv --ndjson examples/data/transactions.ndjson

The design is eddy's `synth:mixed` generator's (src/source/synth.rs: the same columns,
values, weights and effects), drawn with Python's generator, so the records are not the
ones `eddy run synth:mixed` makes. `benches/compare/compare.py` imports `generate` and
`write_csv` to write the stream that eddy and River both read.

Columns, in file order:

- `amount` (log-normal, cents), `age` (18-90), `hour` (0-23): numbers;
- `returning`: `true`/`false` (eddy reads 1/0);
- `country` (8 values, skewed), `device` (3), `merchant` (200, Zipf-like): text;
- `fraud`: the label, 0 or 1, never missing.

Missing values: each feature value is blank (CSV: an empty field; NDJSON: `null`) with
probability `--missing`, drawn by a generator of its own, so the complete values are those
of the stream without missing values. From record `--new-at` on, a new country (`ZZ`,
1 record in 10) and 20 new merchants (`m200`..`m219`, 1 merchant draw in 10) appear.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import itertools
import json
import math
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (value, share, effect on the log-odds of fraud): keep in step with src/source/synth.rs.
COUNTRIES = [("US", 0.34, -1.2), ("GB", 0.14, -0.8), ("DE", 0.12, -1.6), ("FR", 0.10, -0.5),
             ("IN", 0.10, 0.8), ("BR", 0.08, 1.5), ("NG", 0.06, 2.6), ("JP", 0.06, -2.2)]
NEW_COUNTRY = ("ZZ", 0.10, 2.5)
DEVICES = [("desktop", 0.45, -1.0), ("mobile", 0.45, 0.6), ("tablet", 0.10, 1.6)]
MERCHANTS = 200
NEW_MERCHANTS = 20
NEW_MERCHANT_SHARE = 0.10
ZIPF_EXPONENT = 1.1
MERCHANT_EFFECT_STD = 1.2
BASE = -0.7
NUMERIC = ["amount", "age", "hour", "returning"]
CATEGORICAL = ["country", "device", "merchant"]
LABEL = "fraud"
COLUMNS = NUMERIC + CATEGORICAL + [LABEL]


def cumulative(weights: list[float]) -> list[float]:
    total = sum(weights)
    return list(itertools.accumulate(w / total for w in weights))


def pick(rng: random.Random, cdf: list[float]) -> int:
    return min(bisect.bisect_right(cdf, rng.random()), len(cdf) - 1)


def generate(rows: int, seed: int, missing: float = 0.0, new_at: int | None = None):
    """Yield ``rows`` records as dicts (``None`` = missing; ``returning`` a bool)."""
    if not 0.0 <= missing < 1.0:
        raise ValueError(f"missing={missing}: expected a share in [0, 1)")
    rng = random.Random(seed)
    mask = random.Random(f"{seed}/missing")
    merchant_effect = [rng.gauss(0.0, MERCHANT_EFFECT_STD) for _ in range(MERCHANTS + NEW_MERCHANTS)]
    country_cdf = cumulative([w for _, w, _ in COUNTRIES])
    device_cdf = cumulative([w for _, w, _ in DEVICES])
    merchant_cdf = cumulative([(k + 1) ** -ZIPF_EXPONENT for k in range(MERCHANTS)])
    for t in range(rows):
        country, c_effect = COUNTRIES[pick(rng, country_cdf)][::2]
        device, d_effect = DEVICES[pick(rng, device_cdf)][::2]
        merchant = pick(rng, merchant_cdf)
        if new_at is not None and t >= new_at:
            if rng.random() < NEW_COUNTRY[1]:
                country, c_effect = NEW_COUNTRY[::2]
            if rng.random() < NEW_MERCHANT_SHARE:
                merchant = MERCHANTS + rng.randrange(NEW_MERCHANTS)
        amount = max(round(math.exp(3.5 + rng.gauss(0.0, 1.0)), 2), 0.01)
        age = min(max(round(40 + 13 * rng.gauss(0.0, 1.0)), 18), 90)
        hour = rng.randrange(24)
        returning = rng.random() < 0.6
        score = (BASE + c_effect + d_effect + merchant_effect[merchant]
                 + 0.8 * (math.log(amount) - 3.5) - 0.03 * (age - 40)
                 + (0.9 if hour < 6 else 0.0) - (0.8 if returning else 0.0))
        fraud = int(rng.random() < 1.0 / (1.0 + math.exp(-score)))
        record = {"amount": amount, "age": age, "hour": hour, "returning": returning,
                  "country": country, "device": device, "merchant": f"m{merchant:03d}"}
        if missing > 0.0:
            for key in record:
                if mask.random() < missing:
                    record[key] = None
        record[LABEL] = fraud
        yield record


def csv_field(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(records, path: Path) -> int:
    """Write ``records`` with a header; missing values as empty fields. Returns the count."""
    n = 0
    with open(path, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(COLUMNS)
        for r in records:
            out.writerow([csv_field(r[c]) for c in COLUMNS])
            n += 1
    return n


def write_ndjson(records, path: Path) -> int:
    """One JSON object per line; missing values as null, booleans as true/false."""
    n = 0
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps({c: r[c] for c in COLUMNS}, separators=(",", ":")) + "\n")
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2500)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--missing", type=float, default=0.01, help="share of feature values left blank")
    ap.add_argument("--new-at", type=int, default=2000, help="record from which new values appear")
    ap.add_argument("--csv", type=Path, default=HERE / "transactions.csv")
    ap.add_argument("--ndjson", type=Path, default=HERE / "transactions.ndjson",
                    help="the same records as NDJSON ('-' to skip)")
    args = ap.parse_args()
    n = write_csv(generate(args.rows, args.seed, args.missing, args.new_at), args.csv)
    print(f"wrote {n} records to {args.csv}")
    if str(args.ndjson) != "-":
        n = write_ndjson(generate(args.rows, args.seed, args.missing, args.new_at), args.ndjson)
        print(f"wrote {n} records to {args.ndjson}")


if __name__ == "__main__":
    main()
