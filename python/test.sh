#!/usr/bin/env bash
# The Python package's tests, as CI runs them: a pinned virtualenv (made when missing),
# the package installed from this checkout with `pip install ./python` (maturin comes
# from PyPI as pip's build dependency; the debug profile and ../target are shared with
# cargo so nothing is compiled twice), eddy's binary for the tests that compare with the
# command line and `eddy serve`, then pytest. Arguments go to pytest.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="$HERE/.venv"
PINS=(numpy==2.4.6 scipy==1.17.1 scikit-learn==1.9.1 river==0.26.1 pandas==3.1.1 flask==3.1.3 pytest==9.2.0)
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "python/test.sh: creating virtualenv $VENV" >&2
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --quiet --bin eddy)
MATURIN_PEP517_ARGS="--profile dev" "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --force-reinstall --no-deps "$HERE"
export EDDY_BIN="$CARGO_TARGET_DIR/debug/eddy"
cd "$HERE"
# pytest itself, not `python -m pytest`: the source folder must not shadow the installed
# package (it has no compiled module).
exec "$VENV/bin/pytest" -q tests "$@"
