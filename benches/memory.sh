#!/usr/bin/env bash
# Peak memory and thread scaling of `eddy run`, measured with GNU time.
#
#   bash benches/memory.sh            # 1M and 10M records
#
# 1. Peak resident memory for 1M and 10M generated records (16 features, k-means
#    with 8 centres, labels to .npy): bounded channels should keep them equal.
# 2. Wall time of two models run side by side against each alone, on the same
#    stream: with two cores, two model threads should cost less than the sum.
# 3. Peak resident memory of a Hoeffding tree and a forest on a drifting stream
#    (moving RBF centroids) of 1M and 10M records: trees keep splitting, and max_size
#    (MiB per tree) bounds them by deactivating the least promising leaves.
#    `bash benches/memory.sh trees` runs only this part.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x /usr/bin/time ]]; then
    apt-get install -y time >/dev/null
fi
cargo build --release --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

measure() { # label, then eddy run arguments; prints "peak_kib seconds"
    local label=$1
    shift
    /usr/bin/time -v "${CARGO_TARGET_DIR:-target}/release/eddy" run "$@" --quiet 2>"$tmp/$label.time" >/dev/null
    local peak seconds
    peak=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/$label.time")
    seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/$label.time" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
    echo "$peak $seconds"
}

trees() {
    echo "| model | records | peak RSS (MiB) | wall (s) |"
    echo "|---|---:|---:|---:|"
    for spec in "hoeffding-tree(max_size=16)" "hoeffding-adaptive-tree" "arf(n_models=4, max_size=4)"; do
        local first=""
        for n in 1000000 10000000; do
            read -r peak seconds < <(measure "tree$n" "synth:rbf?n=$n&classes=4&speed=0.001&seed=1" --model "$spec" --labels-out "$tmp/t$n.npy")
            echo "| \`$spec\` | $n | $(awk "BEGIN {printf \"%.1f\", $peak/1024}") | $seconds |"
            if [[ -z $first ]]; then first=$peak; else last=$peak; fi
        done
        echo "| | peak(10M) / peak(1M) | $(awk "BEGIN {printf \"%.3f\", $last/$first}") | |"
    done
}
if [[ ${1:-} == trees ]]; then
    trees
    exit 0
fi

echo "| records | peak RSS (MiB) | wall (s) |"
echo "|---:|---:|---:|"
declare -A peaks
for n in 1000000 10000000; do
    read -r peak seconds < <(measure "mem$n" "synth:blobs?n=$n&d=16&k=8&seed=1" --model minibatch-kmeans --labels-out "$tmp/l$n.npy")
    peaks[$n]=$peak
    echo "| $n | $(awk "BEGIN {printf \"%.1f\", $peak/1024}") | $seconds |"
done
echo
echo "peak(10M) / peak(1M) = $(awk "BEGIN {printf \"%.3f\", ${peaks[10000000]}/${peaks[1000000]}}")"
echo

input="synth:blobs?n=2000000&d=16&k=8&seed=1"
read -r _ t_km < <(measure km "$input" --model minibatch-kmeans --labels-out "$tmp/a.npy")
read -r _ t_nb < <(measure nb "$input" --model gaussian-nb --labels-out "$tmp/b.npy")
read -r _ t_both < <(measure both "$input" --model minibatch-kmeans --model gaussian-nb --labels-out "$tmp/c.npy")
echo "| 2M records | wall (s) |"
echo "|---|---:|"
echo "| minibatch-kmeans alone | $t_km |"
echo "| gaussian-nb alone | $t_nb |"
echo "| both side by side | $t_both |"
echo
slower=$(awk "BEGIN {print ($t_km > $t_nb) ? $t_km : $t_nb}")
echo "both / slower alone = $(awk "BEGIN {printf \"%.2f\", $t_both/$slower}") (1.00: the two model threads overlap fully; $(awk "BEGIN {printf \"%.2f\", ($t_km+$t_nb)/$slower}"): not at all)"
echo
trees
