#!/usr/bin/env bash
# Side-by-side comparison: eddy vs scikit-learn (partial_fit) vs River.
# Usage: bash benches/compare/run.sh [--records N] [--river-records N] [--no-eddy] ...
# All arguments are forwarded to compare.py (see `compare.py --help`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv"

# Pinned: the newest releases that install on Python 3.11 (numpy 2.5 needs >= 3.12).
PINS=(numpy==2.4.6 scipy==1.17.1 scikit-learn==1.9.1 river==0.26.1)

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "run.sh: creating virtualenv $VENV" >&2
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"

skip_eddy=0
for arg in "$@"; do
    [[ "$arg" == "--no-eddy" ]] && skip_eddy=1
done

if [[ "$skip_eddy" == 0 ]]; then
    # The runner for the .npy tasks, and the eddy binary for the mixed-type table (CSV).
    echo "run.sh: cargo build --release --example compare_runner --bin eddy" >&2
    if ! (cd "$ROOT" && cargo build --release --example compare_runner --bin eddy); then
        echo "run.sh: WARNING: building the eddy runner failed; continuing without a fresh build" >&2
    fi
fi

exec "$VENV/bin/python" "$HERE/compare.py" "$@"
