#!/usr/bin/env bash
# eddy from Python beside scikit-learn's partial_fit and River's learn_one, in one run:
# the pinned virtualenv of benches/compare, eddy's package built for speed
# (`pip install ./python`, release), then benches/python_compare.py (arguments go to it).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/compare" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
EXTRA_PINS=()
# shellcheck source=compare/venv.sh
source "$HERE/venv.sh"
echo "python_compare.sh: pip install ./python (release build)" >&2
CARGO_TARGET_DIR="$ROOT/target" "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --force-reinstall --no-deps "$ROOT/python"
cd "$ROOT/benches"
exec "$VENV/bin/python" python_compare.py "$@"
