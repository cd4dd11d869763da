#!/usr/bin/env bash
# Trees and forests: eddy vs MOA vs River on the same streams (issue 14).
# Usage: bash benches/compare/trees/run.sh [--build] [trees.py options...]
#   --build   cargo build --release --bin eddy first (otherwise the existing target/release/eddy is used)
# Every other argument goes to trees.py (see `trees.py --help`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
CACHE="$HERE/.cache"

# The pins of benches/compare/run.sh (the newest that install on Python 3.11); its venv is reused when present.
PINS=(numpy==2.4.6 scipy==1.17.1 river==0.26.1)
MOA_WHEEL=capymoa==0.15.1

if [[ -x "$HERE/../.venv/bin/python" ]]; then
    VENV="$HERE/../.venv"
else
    VENV="$HERE/.venv"
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "run.sh: creating virtualenv $VENV" >&2
        python3 -m venv "$VENV"
    fi
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"

build=0
need_moa=1
moa_jar_given=0
args=()
for arg in "$@"; do
    case "$arg" in
        --build) build=1 ;;
        --no-moa) need_moa=0; args+=("$arg") ;;
        --moa-jar|--moa-jar=*) moa_jar_given=1; args+=("$arg") ;;
        *) args+=("$arg") ;;
    esac
done

# MOA: the jar shipped inside the capymoa wheel (PyPI), extracted once into .cache/.
if [[ "$need_moa" == 1 && "$moa_jar_given" == 0 && ! -f "$CACHE/moa.jar" ]]; then
    echo "run.sh: fetching MOA from the $MOA_WHEEL wheel into $CACHE" >&2
    mkdir -p "$CACHE/wheel"
    "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps "$MOA_WHEEL" -d "$CACHE/wheel"
    "$VENV/bin/python" - "$CACHE" <<'PY'
import glob, shutil, sys, zipfile
cache = sys.argv[1]
whl = glob.glob(f"{cache}/wheel/capymoa-*.whl")[0]
with zipfile.ZipFile(whl) as z, z.open("capymoa/jar/moa.jar") as src, open(f"{cache}/moa.jar.part", "wb") as dst:
    shutil.copyfileobj(src, dst)
shutil.move(f"{cache}/moa.jar.part", f"{cache}/moa.jar")
shutil.rmtree(f"{cache}/wheel")
PY
fi

if [[ "$build" == 1 ]]; then
    echo "run.sh: cargo build --release --bin eddy" >&2
    (cd "$ROOT" && cargo build --release --bin eddy)
fi

exec "$VENV/bin/python" "$HERE/trees.py" ${args[@]+"${args[@]}"}
