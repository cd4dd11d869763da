#!/usr/bin/env bash
# Ingest benchmark: `eddy run` on CSV/NDJSON files beside pandas.read_csv + scikit-learn.
# Usage: bash benches/compare/ingest.sh [--records N] [--repeats R] [--memory] [--no-build] ...
# All arguments are forwarded to ingest.py (see `ingest.py --help`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv"

# Same pins as run.sh (they share the virtualenv), plus pandas: the newest release
# that installs on Python 3.11 beside numpy 2.4.6.
PINS=(numpy==2.4.6 scipy==1.17.1 scikit-learn==1.9.1 river==0.26.1 pandas==3.1.1)

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "ingest.sh: creating virtualenv $VENV" >&2
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"

build=1
for arg in "$@"; do
    [[ "$arg" == "--no-build" ]] && build=0
done

if [[ "$build" == 1 ]]; then
    # A failed build is fatal: timing a stale binary would mislead.
    echo "ingest.sh: cargo build --release --bin eddy" >&2
    (cd "$ROOT" && cargo build --release --bin eddy)
fi

exec "$VENV/bin/python" "$HERE/ingest.py" "$@"
