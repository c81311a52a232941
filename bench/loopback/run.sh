#!/usr/bin/env bash
# Loopback load, `mqtt-sim serve` against mosquitto, side by side in one
# run (docs/performance.md, "Loopback against mosquitto"): builds the
# release binary, raises the open-file limit for 5,000 clients, and runs
# load.py, which starts each broker on its own free loopback port and
# prints a Markdown table. Arguments go to load.py (e.g. --clients 100,1000
# or --skip-filters); the figures are also written to
# target/loopback-load.json.
#
# Bounded: loopback only, at most load.py's CLIENTS_MAX clients, each phase
# under its PHASE_TIMEOUT_S. Needs python3 (no packages) and mosquitto 2.0
# (/usr/sbin/mosquitto, or --mosquitto PATH).
set -euo pipefail
cd "$(dirname "$0")/../.."

# Two descriptors per client (its socket, the broker's) plus slack.
FILES=20000
if [[ $(ulimit -n) -lt $FILES ]]; then
    ulimit -n "$FILES" || { echo "run.sh: cannot raise ulimit -n to $FILES (hard limit $(ulimit -Hn))" >&2; exit 1; }
fi
cargo build --release --locked --quiet
exec python3 bench/loopback/load.py --serve target/release/mqtt-sim \
    --json target/loopback-load.json "$@"
