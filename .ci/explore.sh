#!/usr/bin/env bash
# Explores the chaos scenarios over many seeds with the release build: every
# seed must pass. Too slow for `cargo test` in debug (about 0.3s of CPU per
# seed of qos1-at-least-once). SEEDS overrides the range; SHARD=K/N runs one
# shard of it, for a CI matrix.
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS="${SEEDS:-0..1000}"
shard=()
if [[ -n "${SHARD:-}" ]]; then
  shard=(--shard "$SHARD")
fi

cargo build --release --locked
for f in scenarios/chaos/qos1-at-least-once.yaml scenarios/chaos/flapping-under-partitions.yaml; do
  echo "== explore $f --seeds $SEEDS ${shard[*]}"
  ./target/release/mqtt-sim explore "$f" --seeds "$SEEDS" "${shard[@]}"
done
