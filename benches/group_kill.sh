#!/usr/bin/env bash
# A group of three workers labels GROUP_RECORDS records (default 1,000,000) on Redis
# Streams and on Kafka (tansu, four partitions) while one worker is SIGKILLed twice at
# random moments and restarted under its name; then every label of the labels stream
# or topic is counted (examples/labels_check.rs): labels, distinct record ids, and the
# most labels one record got. Redis promises exactly one label a record; Kafka at least
# one, keyed by topic/partition/offset. Release builds, servers on loopback ports
# (tests/servers/install.sh installs them when missing), all in one run.
#   bash benches/group_kill.sh
set -euo pipefail
cd "$(dirname "$0")/.."
records=${GROUP_RECORDS:-1000000}
seed=11
examples=labels_check
# shellcheck source=benches/group_servers.sh
source benches/group_servers.sh
python3 - "$tmp/events.ndjson" << 'PY' | redis-cli -p "$redis_port" --pipe > /dev/null
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    args = ["XADD", "events", "*", "a", str(r["a"]), "b", str(r["b"]), "y", str(r["y"])]
    sys.stdout.write(f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args))
PY
for topic in events labels events.g.model; do
    partitions=1
    [ "$topic" = events ] && partitions=4
    "$tansu" topic create --broker "tcp://127.0.0.1:$kafka_port" --partitions "$partitions" "$topic" > /dev/null
done
target/release/examples/kafka_produce "127.0.0.1:$kafka_port" events < "$tmp/events.ndjson" > /dev/null

# One group on `engine`, w1 killed twice at random moments and restarted: prints its line.
group() {
    local engine=$1 input labels
    case "$engine" in
        redis) input="redis://127.0.0.1:$redis_port/events" labels="redis://127.0.0.1:$redis_port/labels" ;;
        kafka) input="kafka://127.0.0.1:$kafka_port/events" labels="kafka://127.0.0.1:$kafka_port/labels" ;;
    esac
    worker() {
        "$eddy" run "$input" --until-end --group g --worker "$1" --sync-every 10000 --claim-idle 5000 \
            --features a,b --label-column y --model gaussian-nb --labels-out "$labels" \
            > /dev/null 2>> "$tmp/$engine.$1.err" &
    }
    local start end w1 w2 w3 kills=0
    start=$(date +%s.%N)
    worker w1
    w1=$!
    worker w2
    w2=$!
    worker w3
    w3=$!
    for _ in 1 2; do
        sleep "$(python3 -c 'import random; print(round(random.uniform(1.0, 4.0), 2))')"
        if kill -KILL "$w1" 2> /dev/null; then
            kills=$((kills + 1))
            wait "$w1" 2> /dev/null || true
            worker w1
            w1=$!
        fi
    done
    for p in "$w1" "$w2" "$w3"; do wait "$p" || { cat "$tmp/$engine".*.err >&2; return 1; }; done
    end=$(date +%s.%N)
    printf '%-6s %d records, 3 workers, w1 killed %d times: %.1f s; ' "$engine" "$records" "$kills" \
        "$(echo "$end - $start" | bc)"
    target/release/examples/labels_check "$labels"
}

echo "records: $records; naive Bayes shared every 10000 records; $(nproc) cores"
group redis
group kafka
