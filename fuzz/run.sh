#!/usr/bin/env bash
# Build the fuzz targets and run each for SECONDS (default 20) on a copy of its committed
# corpus plus what it finds; a crash fails the script and keeps the input under
# fuzz/artifacts/. Needs the nightly toolchain (rustup's, beside stable) and cargo-fuzz,
# which this script installs from crates.io when missing. Without nightly it fails, saying
# so: it never skips.
#   bash fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
shift || true
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz/run.sh: the nightly toolchain is missing (rustup toolchain install nightly); cargo-fuzz needs it" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
# Its own target folder: the fuzz build is instrumented and must not evict eddy's cache.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
cargo +nightly fuzz build -O
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    if [ -d "corpus/$t" ]; then
        cp -r "corpus/$t/." "$work/$t/"
    fi
    echo "== fuzz $t for ${seconds}s"
    # -timeout: an input that takes over 10 s is a hang, and a failure.
    cargo +nightly fuzz run -O "$t" "$work/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
        grep -E '^(#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss_mb|cov:|==[0-9]+==|SUMMARY|.*panicked)' | tail -4
    test "${PIPESTATUS[0]}" -eq 0
done
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
