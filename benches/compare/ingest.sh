#!/usr/bin/env bash
# Ingest benchmark: `eddy run` on CSV/NDJSON files beside pandas.read_csv + scikit-learn.
# Usage: bash benches/compare/ingest.sh [--records N] [--repeats R] [--memory] [--no-build] ...
# All arguments are forwarded to ingest.py (see `ingest.py --help`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
EXTRA_PINS=(pandas==3.1.1)
# shellcheck source=venv.sh
source "$HERE/venv.sh"

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
