#!/usr/bin/env bash
# Soak test of `eddy serve` (HTTPS with tokens, --checkpoint), bounded in time:
#   - /v1/predict, 64-record JSON batches, 64 connections, for SOAK_SECONDS (default 60);
#   - beside it, /v1/learn (64 labelled records a request, 4 connections), a checkpoint
#     (POST /v1/checkpoint) every 5 s and a SIGHUP (tokens and certificate reloaded)
#     every 10 s.
# Passes when no request failed (wrk: no non-2xx answer, no socket error; every
# checkpoint answered 200; every reload logged) and the service's resident memory at
# the end is within 10% of its level after the first 10 s. wrk comes from Debian's
# packages and is installed when missing.
#   bash benches/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SOAK_SECONDS:-60}

if ! command -v wrk > /dev/null; then
    echo "installing wrk (Debian package)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y wrk > /dev/null 2>&1 || { $sudo apt-get update > /dev/null && $sudo apt-get install -y wrk > /dev/null; }
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
    jobs -p | xargs -r kill 2> /dev/null || true
    rm -rf "$tmp" || true
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2> /dev/null
token=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
printf '%s admin\n' "$token" > "$tmp/tokens"
chmod 600 "$tmp/tokens"

python3 - "$tmp" "$token" << 'EOF2'
import json, random, sys
random.seed(1)
rows = [[round(random.uniform(15, 95), 2), round(random.uniform(0, 4), 3), round(random.uniform(0.2, 1), 3),
         round(random.uniform(0, 0.8), 3)] for _ in range(64)]
labels = [random.choice(["ok", "warn", "fail"]) for _ in rows]
for name, body in (("predict", rows), ("learn", {"features": rows, "labels": labels})):
    with open(f"{sys.argv[1]}/{name}.lua", "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        f.write(f'wrk.headers["Authorization"] = "Bearer {sys.argv[2]}"\n')
        f.write("wrk.body = [==[" + json.dumps(body) + "]==]\n")
EOF2

"$eddy" serve --model models/sensors-sgd.eddy --listen 127.0.0.1:0 --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" \
    --tokens "$tmp/tokens" --checkpoint "$tmp/state.eddy" --checkpoint-interval 0 2> "$tmp/serve.log" &
server=$!
for _ in $(seq 100); do
    grep -q "listening on" "$tmp/serve.log" && break
    sleep 0.1
done
base=$(sed -n 's/.*listening on //p' "$tmp/serve.log")
[ -n "$base" ] || { cat "$tmp/serve.log" >&2; exit 1; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }

echo "eddy serve over HTTPS with tokens and --checkpoint, $seconds s, $(nproc) CPUs shared by server and wrk"
start_rss=$(rss)
wrk -t1 -c4 -d"${seconds}s" --latency -s "$tmp/learn.lua" "$base/v1/learn" > "$tmp/learn.txt" &
learner=$!
wrk -t2 -c64 -d"${seconds}s" --latency -s "$tmp/predict.lua" "$base/v1/predict" > "$tmp/predict.txt" &
predictor=$!
checkpoints=0 failed_checkpoints=0 hangups=0 rss10="" peak=0
for t in $(seq 1 "$seconds"); do
    sleep 1
    now=$(rss)
    [ "$now" -gt "$peak" ] && peak=$now
    [ "$t" -eq 10 ] && rss10=$now
    if [ $((t % 5)) -eq 0 ]; then
        code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" -X POST \
            -H "Authorization: Bearer $token" "$base/v1/checkpoint")
        checkpoints=$((checkpoints + 1))
        [ "$code" = 200 ] || failed_checkpoints=$((failed_checkpoints + 1))
    fi
    if [ $((t % 10)) -eq 0 ]; then
        kill -HUP "$server"
        hangups=$((hangups + 1))
    fi
done
wait "$predictor" "$learner"
end_rss=$(rss)
reloads=$(grep -c "certificate loaded" "$tmp/serve.log" || true)

report() {
    local name=$1 file=$2
    local rps p50 p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' "$file")
    p50=$(awk '$1 == "50%" {print $2}' "$file")
    p99=$(awk '$1 == "99%" {print $2}' "$file")
    errors=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$file")
    printf '  %-8s %10s req/s  p50 %8s  p99 %8s  errors %s\n' "$name" "$rps" "$p50" "$p99" "$errors"
    [ "$errors" -eq 0 ] || { cat "$file" >&2; return 1; }
}
status=0
report predict "$tmp/predict.txt" || status=1
report learn "$tmp/learn.txt" || status=1
echo "  checkpoints: $checkpoints, failed $failed_checkpoints; SIGHUP: $hangups, reloads logged $reloads"
growth=$(python3 -c "print(f'{($end_rss - $rss10) / $rss10 * 100:+.1f}')")
echo "  resident memory: start $((start_rss / 1024)) MiB, at 10 s $((rss10 / 1024)) MiB, peak $((peak / 1024)) MiB, end $((end_rss / 1024)) MiB ($growth% since 10 s)"
[ "$failed_checkpoints" -eq 0 ] && [ "$reloads" -eq "$hangups" ] || status=1
python3 -c "import sys; sys.exit(0 if abs($end_rss - $rss10) <= 0.10 * $rss10 else 1)" || { echo "  memory moved more than 10%" >&2; status=1; }
grep -q panicked "$tmp/serve.log" && { grep -A5 panicked "$tmp/serve.log" >&2; status=1; }
kill -TERM "$server"
wait "$server" || status=1
server=""
[ "$status" -eq 0 ] && echo "soak: passed" || echo "soak: FAILED" >&2
exit "$status"
