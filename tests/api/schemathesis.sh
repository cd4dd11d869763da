#!/usr/bin/env bash
# The service's contract, checked by a real client: schemathesis (PyPI, pinned, into a
# virtual environment made here when missing) reads `GET /openapi.json` from a live
# `eddy serve` with TLS and tokens and sends thousands of generated requests to every
# documented operation, valid and invalid. It fails on a 5xx, a status or header the
# document does not list, or an answer that does not match its schema. Generation
# repeats until SECONDS are spent (default 180).
#   bash tests/api/schemathesis.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-180}
venv=tests/api/.venv
if ! "$venv/bin/st" --version 2> /dev/null | grep -q '4.32.5'; then
    python3 -m venv "$venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --quiet schemathesis==4.32.5
fi
# EDDY_BIN: a binary already built (else the release build).
eddy=${EDDY_BIN:-}
if [ -z "$eddy" ]; then
    cargo build --release --quiet
    eddy="${CARGO_TARGET_DIR:-target}/release/eddy"
fi
tmp=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2> /dev/null || true
        wait "$server" 2> /dev/null || true
    fi
    rm -rf "$tmp" || true
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2> /dev/null
admin=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
printf '%s admin\n' "$admin" > "$tmp/tokens"
chmod 600 "$tmp/tokens"
# --max-classes far above the default: the document admits any new class name, and
# generated ones would otherwise fill the 1000 classes and leave learning refused.
"$eddy" serve --model models/sensors-sgd.eddy --listen 127.0.0.1:0 --tls-cert "$tmp/cert.pem" \
    --tls-key "$tmp/key.pem" --tokens "$tmp/tokens" --checkpoint "$tmp/state.eddy" --max-classes 100000 2> "$tmp/serve.log" &
server=$!
for _ in $(seq 100); do
    grep -q "listening on" "$tmp/serve.log" && break
    sleep 0.1
done
base=$(sed -n 's/.*listening on //p' "$tmp/serve.log")
[ -n "$base" ] || { cat "$tmp/serve.log" >&2; exit 1; }

# Every check schemathesis has, on every operation, with the admin token (roles are
# checked operation by operation in tests/server.rs).
status=0
"$venv/bin/st" --config-file tests/api/schemathesis.toml run "$base/openapi.json" --tls-verify "$tmp/cert.pem" \
    -H "Authorization: Bearer $admin" --checks all --max-examples 1000 --max-time "$seconds" \
    --workers 2 --request-timeout 30 --report junit --report-dir "$tmp/report" \
    --no-color > "$tmp/st.log" 2>&1 || status=$?
# The whole log when something failed; else its summary.
if [ "$status" -ne 0 ]; then cat "$tmp/st.log"; else sed -n '/SUMMARY/,$p' "$tmp/st.log"; fi
# Requests made: the junit report counts test cases; the service's metrics count requests.
requests=$(curl -s --cacert "$tmp/cert.pem" -H "Authorization: Bearer $admin" "$base/metrics" |
    awk '/^eddy_http_requests_total/ {n += $NF} END {print n + 0}')
fivexx=$(curl -s --cacert "$tmp/cert.pem" -H "Authorization: Bearer $admin" "$base/metrics" |
    awk '/^eddy_http_requests_total.*status="5/ {n += $NF} END {print n + 0}')
echo "schemathesis: $requests requests answered by the service, $fivexx of them 5xx; exit $status"
if grep -q "panicked" "$tmp/serve.log"; then
    grep -B2 -A5 panicked "$tmp/serve.log" >&2
    status=1
fi
[ "$fivexx" -eq 0 ] || status=1
exit "$status"
