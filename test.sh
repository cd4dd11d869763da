#!/usr/bin/env bash
# Every test, as the README's second command: the Rust tests (cargo test: unit, parity,
# properties, bad input, the CLI, the service, Redis and Kafka on servers the tests
# start), the service against its OpenAPI document (schemathesis), the Python package
# (pytest), and every fuzz target for a while. Each script installs what it needs when
# it is missing (servers, virtualenvs, the nightly toolchain and cargo-fuzz).
# FUZZ_SECONDS sets each fuzz target's time (default 20).
set -euo pipefail
cd "$(dirname "$0")"
cargo test
EDDY_BIN=target/debug/eddy bash tests/api/schemathesis.sh 60
bash python/test.sh
bash fuzz/run.sh "${FUZZ_SECONDS:-20}"
