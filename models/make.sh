#!/usr/bin/env bash
# Rebuilds the example models in this folder (unsigned, unencrypted, deterministic but for
# the creation time in their headers):
#   bash models/make.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# EDDY_BIN: a binary already built (else the release build; the models are the same).
eddy=${EDDY_BIN:-}
if [ -z "$eddy" ]; then
    cargo build --release --quiet
    eddy="${CARGO_TARGET_DIR:-target}/release/eddy"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Mini-batch k-means, 4 centres, on 4-dimensional generated blobs.
$eddy run 'synth:blobs?n=50000&d=4&k=4&seed=7' --model 'minibatch-kmeans(n_clusters=4)' --seed 7 \
    --labels-out "$tmp/l.npy" --save-model models/blobs-kmeans.eddy --quiet
# A running scaler + logistic SGD that tells sensor states apart (examples/data/sensors.csv).
$eddy run examples/data/sensors.csv --features temperature,vibration,load,error_rate \
    --label-column state --classes ok,warn,fail --model 'scale | sgd(loss=log_loss)' \
    --labels-out "$tmp/s.csv" --save-model models/sensors-sgd.eddy --quiet
