#!/usr/bin/env bash
# Load test of `eddy serve` on loopback with wrk (a real HTTP load generator, from
# Debian's packages; installed here when missing):
#   - /v1/predict, 64-record JSON batches, 64 connections, for LOAD_SECONDS (default 10);
#   - at the same time, /v1/learn, 64 labelled records a request, 4 connections.
# Two phases: in memory, and with --checkpoint (learned batches fsynced before the
# answer). Prints requests/s, p50/p99 latency and errors for each, and checks that every
# learn request wrk saw answered was learned exactly once.
#   bash benches/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${LOAD_SECONDS:-10}

if ! command -v wrk > /dev/null; then
    echo "installing wrk (Debian package)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y wrk > /dev/null 2>&1 || { $sudo apt-get update > /dev/null && $sudo apt-get install -y wrk > /dev/null; }
fi
cargo build --release --quiet
tmp=$(mktemp -d)
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2> /dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# 64 records of the sensors model's 4 features; labels for learning.
python3 - "$tmp" << 'EOF'
import json, random, sys
random.seed(1)
rows = [[round(random.uniform(15, 95), 2), round(random.uniform(0, 4), 3), round(random.uniform(0.2, 1), 3),
         round(random.uniform(0, 0.8), 3)] for _ in range(64)]
labels = [random.choice(["ok", "warn", "fail"]) for _ in rows]
for name, body in (("predict", rows), ("learn", {"features": rows, "labels": labels})):
    with open(f"{sys.argv[1]}/{name}.lua", "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        f.write("wrk.body = [==[" + json.dumps(body) + "]==]\n")
EOF

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

records_seen() {
    curl -s "$1/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["records_seen"])'
}

# One phase: start a service with the extra flags, load it, check, stop it.
phase() {
    local name=$1
    shift
    rm -f "$tmp"/state.eddy*
    "${CARGO_TARGET_DIR:-target}/release/eddy" serve --model models/sensors-sgd.eddy --listen 127.0.0.1:0 "$@" 2> "$tmp/serve.log" &
    server=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$tmp/serve.log" && break
        sleep 0.1
    done
    local base
    base=$(sed -n 's/.*listening on //p' "$tmp/serve.log")
    [ -n "$base" ] || { cat "$tmp/serve.log" >&2; exit 1; }
    local before after
    before=$(records_seen "$base")
    wrk -t1 -c4 -d"${seconds}s" --latency -s "$tmp/learn.lua" "$base/v1/learn" > "$tmp/learn.txt" &
    local learner=$!
    wrk -t2 -c64 -d"${seconds}s" --latency -s "$tmp/predict.lua" "$base/v1/predict" > "$tmp/predict.txt"
    wait "$learner"
    after=$(records_seen "$base")
    kill "$server"
    wait "$server" || true
    server=""
    echo "$name:"
    report predict "$tmp/predict.txt"
    report learn "$tmp/learn.txt"
    local answered learned
    answered=$(awk '/requests in/ {print $1}' "$tmp/learn.txt")
    learned=$((after - before))
    echo "  learned $learned records in $answered answered learn requests (64 each: $((answered * 64)))"
    # wrk stops without waiting for the answers under way: up to 4 more requests may have been learned.
    [ "$learned" -ge $((answered * 64)) ] && [ "$learned" -le $(((answered + 4) * 64)) ]
}

echo "eddy serve on loopback, $seconds s a phase, $(nproc) CPUs shared by server and wrk;"
echo "predict: 64 records a request, 64 connections; learn: 64 labelled records a request, 4 connections"
phase "in memory (no --checkpoint)"
phase "durable (--checkpoint: every learned batch is fsynced to the learn log before its answer)" --checkpoint "$tmp/state.eddy"
