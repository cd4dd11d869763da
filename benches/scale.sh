#!/usr/bin/env bash
# Workers of a group sharing one model, on Redis Streams and on Kafka (tansu), side by
# side in one run: SCALE_RECORDS records (default 200000, two numeric features and a
# class) are put into a stream/topic, then read to the end by a group of 1, 2 and 4
# workers (`--group`, `--until-end`) learning naive Bayes shared every 5000 records
# (`--sync-every`). For each engine and group size it prints the wall time, records/s
# and the ratio to one worker, the records labelled (at least once), the prequential
# accuracy over all workers, and on Redis the model stream's updates and bytes; beside
# them, one process reading the same records from a local file, and the cost of one
# sync on each engine (examples/sync_cost.rs: milliseconds to publish an update and
# fold the log, bytes an update).
# The servers are started here on loopback ports (tests/servers/install.sh installs
# them when missing) and stopped at the end.
#   bash benches/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
records=${SCALE_RECORDS:-200000}
sync_every=5000
seed=7
examples=sync_cost
# shellcheck source=benches/group_servers.sh
source benches/group_servers.sh

# Each group size reads its own copy of the input: a group's offsets and model are its own.
python3 - "$tmp/events.ndjson" << 'EOF' | redis-cli -p "$redis_port" --pipe > /dev/null
import json, sys
def command(*args):
    out = [f"*{len(args)}\r\n"]
    for a in args:
        a = str(a).encode()
        out.append(f"${len(a)}\r\n{a.decode()}\r\n")
    return "".join(out)
lines = open(sys.argv[1]).read().splitlines()
for workers in (1, 2, 4):
    for line in lines:
        r = json.loads(line)
        sys.stdout.write(command("XADD", f"events{workers}", "*", "a", r["a"], "b", r["b"], "y", r["y"]))
EOF
for workers in 1 2 4; do
    for topic in "events$workers" "labels$workers" "events$workers.g.model"; do
        partitions=4
        [ "$topic" = "events$workers" ] || partitions=1
        "$tansu" topic create --broker "tcp://127.0.0.1:$kafka_port" --partitions "$partitions" "$topic" > /dev/null
    done
    target/release/examples/kafka_produce "127.0.0.1:$kafka_port" "events$workers" < "$tmp/events.ndjson" > /dev/null
done

# One group of `workers` on `engine`: prints its line.
group() {
    local engine=$1 workers=$2 base=$3
    local input labels
    case "$engine" in
        redis)
            input="redis://127.0.0.1:$redis_port/events$workers"
            labels="redis://127.0.0.1:$redis_port/labels$workers"
            ;;
        kafka)
            input="kafka://127.0.0.1:$kafka_port/events$workers"
            labels="kafka://127.0.0.1:$kafka_port/labels$workers"
            ;;
    esac
    local start end ws=()
    start=$(date +%s.%N)
    for w in $(seq "$workers"); do
        "$eddy" run "$input" --until-end --group g --worker "w$w" --sync-every "$sync_every" \
            --features a,b --label-column y --model gaussian-nb --labels-out "$labels" \
            > /dev/null 2> "$tmp/$engine.$workers.w$w.err" &
        ws+=($!)
    done
    for p in "${ws[@]}"; do wait "$p" || { cat "$tmp/$engine.$workers".*.err >&2; return 1; }; done
    end=$(date +%s.%N)
    python3 - "$engine" "$workers" "$start" "$end" "$base" "$records" "$tmp" << 'EOF'
import glob, re, sys, subprocess
engine, workers, start, end, base, n, tmp = sys.argv[1:]
seconds = float(end) - float(start)
labelled, correct = 0, 0.0
for path in glob.glob(f"{tmp}/{engine}.{workers}.w*.err"):
    text = open(path).read()
    m = re.search(r"^(\d+) records, ", text, re.M)
    acc = re.search(r"^  gaussian-nb\s+([0-9.]+)", text, re.M)
    if m:
        labelled += int(m.group(1))
        correct += int(m.group(1)) * float(acc.group(1)) if acc else 0.0
rate = int(n) / seconds
ratio = rate / float(base) if float(base) > 0 else 1.0
print(f"{engine:6} {workers:>2} workers  {seconds:7.2f} s  {rate:9.0f} records/s  x{ratio:4.2f}  "
      f"labelled {labelled}  accuracy {correct / max(labelled, 1):.4f}")
print(f"{rate:.0f}", file=open(f"{tmp}/{engine}.{workers}.rate", "w"))
EOF
    if [ "$engine" = redis ]; then
        echo "         model stream: $(redis-cli -p "$redis_port" XLEN "events$workers:g:model") updates, $(redis-cli -p "$redis_port" MEMORY USAGE "events$workers:g:model") bytes in Redis"
    fi
}

echo "records: $records; naive Bayes shared every $sync_every records; $(nproc) cores"
start=$(date +%s.%N)
"$eddy" run "$tmp/events.ndjson" --features a,b --label-column y --model gaussian-nb --labels-out "$tmp/file.csv" \
    > /dev/null 2> "$tmp/file.err"
end=$(date +%s.%N)
python3 - "$start" "$end" "$records" "$tmp/file.err" << 'EOF'
import re, sys
start, end, n, err = sys.argv[1:]
seconds = float(end) - float(start)
acc = re.search(r"^  gaussian-nb\s+([0-9.]+)", open(err).read(), re.M).group(1)
print(f"file    1 process  {seconds:7.2f} s  {int(n) / seconds:9.0f} records/s  (a local .ndjson, no group)  accuracy {acc}")
EOF
"$tansu" topic create --broker "tcp://127.0.0.1:$kafka_port" --partitions 1 cost > /dev/null
echo "sync on redis: $(target/release/examples/sync_cost "redis://127.0.0.1:$redis_port/cost" 40)"
echo "sync on kafka: $(target/release/examples/sync_cost "kafka://127.0.0.1:$kafka_port/cost" 40)"
for engine in redis kafka; do
    group "$engine" 1 0
    base=$(cat "$tmp/$engine.1.rate")
    group "$engine" 2 "$base"
    group "$engine" 4 "$base"
done
