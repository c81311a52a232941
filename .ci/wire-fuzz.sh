#!/usr/bin/env bash
# The codecs' fuzz run in release mode: 10^6 seeded inputs per protocol level,
# no panic, every accepted packet round-trips (examples/wire_fuzz.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked --example wire_fuzz -- 1000000
