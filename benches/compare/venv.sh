# Sourced by run.sh and ingest.sh: the pinned virtualenv they share, made or updated.
# Expects HERE (this folder); sets VENV. Extra pins (beyond the shared ones) in EXTRA_PINS.
# Pinned: the newest releases that install on Python 3.11 (numpy 2.5 needs >= 3.12).
VENV="$HERE/.venv"
PINS=(numpy==2.4.6 scipy==1.17.1 scikit-learn==1.9.1 river==0.26.1 "${EXTRA_PINS[@]}")
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "$(basename "$0"): creating virtualenv $VENV" >&2
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
