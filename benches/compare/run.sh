#!/usr/bin/env bash
# Side-by-side comparison: eddy vs scikit-learn (partial_fit) vs River.
# Usage: bash benches/compare/run.sh [--records N] [--river-records N] [--no-eddy] ...
# All arguments are forwarded to compare.py (see `compare.py --help`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
EXTRA_PINS=()
# shellcheck source=venv.sh
source "$HERE/venv.sh"

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
