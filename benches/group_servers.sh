# Shared by benches/scale.sh and benches/group_kill.sh (sourced, from the repository's
# root): installs and builds what they need, starts redis-server and tansu on free
# loopback ports (`redis_port`, `kafka_port`, stopped at exit with the temporary folder
# `tmp`), and writes `$tmp/events.ndjson`: `records` records of two Gaussian classes,
# a little overlapping, from seed `seed`. `examples` names the extra examples to build.
bash tests/servers/install.sh redis kafka > /dev/null
# shellcheck disable=SC2086 # one word per example
cargo build --release --quiet --features kafka $(printf -- '--example %s ' kafka_produce $examples)
cargo build --release --quiet
eddy=$PWD/target/release/eddy
tansu="${EDDY_SERVERS:-$HOME/.cache/eddy/servers}/bin/tansu"
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return; sleep 0.1; done; return 1; }

python3 - "$records" "$seed" > "$tmp/events.ndjson" << 'PY'
import random, sys
random.seed(int(sys.argv[2]))
for i in range(int(sys.argv[1])):
    y = i % 2
    print('{"a":%.4f,"b":%.4f,"y":%d}' % (random.gauss(2.0 * y, 1.0), random.gauss(-1.0 * y, 1.0), y))
PY

redis_port=$(free_port)
redis-server --port "$redis_port" --save '' --appendonly no > "$tmp/redis.log" 2>&1 &
pids+=($!)
kafka_port=$(free_port)
"$tansu" broker --listener-url "tcp://127.0.0.1:$kafka_port" --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
    --storage-engine memory://tansu/ > "$tmp/tansu.log" 2>&1 &
pids+=($!)
wait_port "$redis_port"
wait_port "$kafka_port"
