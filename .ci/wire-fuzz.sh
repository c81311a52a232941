#!/usr/bin/env bash
# The codecs' fuzz run in release mode: 10^6 seeded inputs per protocol level,
# no panic, every accepted packet round-trips (examples/wire_fuzz.rs); one
# input in 64 is hostile (a topic of up to 30,000 levels, a filter repeated
# up to 5,000 times, up to 5,000 user properties).
# Then `serve` under the same inputs over real TCP, one connection each
# (examples/serve_fuzz.rs): no crash, no hang, memory bounded. SERVE_INPUTS
# (default 20,000, a few seconds) sets how many; 1000000 is the figure in
# docs/broker.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked --example wire_fuzz -- 1000000
cargo build --release --locked --bin mqtt-sim --example serve_fuzz
target/release/examples/serve_fuzz target/release/mqtt-sim "${SERVE_INPUTS:-20000}"
