#!/usr/bin/env bash
# Writes the pictures and captures of every tutorial scenario into this
# folder: an SVG chart, an HTML page, a Mermaid diagram and a pcap each.
# tests/tutorial_artefacts.rs fails when a committed file differs from what
# this script would write, so run it after a change that alters a trace.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --bin mqtt-sim
for f in scenarios/tutorial/*.yaml; do
    stem=$(basename "$f" .yaml)
    for ext in svg html md; do
        target/debug/mqtt-sim diagram "$f" -o "docs/tutorial/$stem.$ext"
    done
    target/debug/mqtt-sim pcap "$f" -o "docs/tutorial/$stem.pcap" >/dev/null
done
