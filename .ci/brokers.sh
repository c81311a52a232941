#!/usr/bin/env bash
# Runs every scenario against one real broker over real TCP, in real time,
# as its profile (profiles/<name>.yaml) says, and checks that the scenarios
# that fail are exactly the profile's `expected_failures`.
#
#   bash .ci/brokers.sh mosquitto|aedes|amqtt|rumqttd
#
# Installs the broker when it is missing: mosquitto with apt-get, aedes with
# npm (into .ci/brokers/, where .ci/brokers/aedes.js finds it), amqtt with
# pip, rumqttd with cargo install. The run is `mqtt-sim report scenarios
# --target-profile NAME --lanes LANES --baseline NAME`: LANES lanes at once,
# each with a broker of its own that its scenarios share (the harness probes
# it, cleans it and checks it is clean between scenarios, and starts a
# fresh one for a scenario that crashes or restarts the broker). Scenarios
# of a protocol the profile does not speak are skipped with the reason.
#
# Needs: bash, cargo. Exit code: 0 when every result is as expected.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=${1:?usage: .ci/brokers.sh mosquitto|aedes|amqtt|rumqttd|rumqttd-v5 [--install-only]}
LANES=${BROKER_LANES:-4}
# The scenario directory (MQTT_SIM_SCENARIOS): `scenarios` here, or the
# suite an installed mqtt-sim wrote out (docs/ci.md's recipe).
SCENARIOS=${MQTT_SIM_SCENARIOS:-scenarios}
TOLERANCE=${BROKER_TOLERANCE:-300ms}
AEDES_VERSION=1.2.0
AMQTT_VERSION=0.12.1
RUMQTTD_VERSION=0.20.0

T0=$SECONDS
say() { echo "-- [$NAME] $1 ($((SECONDS - T0)) s)"; }

sudo_if_needed() { if [ "$(id -u)" != 0 ]; then sudo "$@"; else "$@"; fi; }

install_broker() {
    case "$NAME" in
        mosquitto)
            if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
                sudo_if_needed apt-get update
                DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y mosquitto
            fi
            # The profile runs `mosquitto`; Debian puts it in /usr/sbin.
            case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac
            ;;
        aedes)
            if ! command -v node >/dev/null; then
                sudo_if_needed apt-get update
                DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y nodejs npm
            fi
            if [ ! -f .ci/brokers/node_modules/aedes/package.json ] ||
                ! grep -q "\"version\": \"$AEDES_VERSION\"" .ci/brokers/node_modules/aedes/package.json; then
                npm install --no-audit --no-fund --prefix .ci/brokers "aedes@$AEDES_VERSION"
            fi
            ;;
        amqtt)
            if ! command -v amqtt >/dev/null; then
                python3 -m pip install "amqtt==$AMQTT_VERSION"
            fi
            ;;
        rumqttd | rumqttd-v5)
            if ! command -v rumqttd >/dev/null; then
                # Not --locked: its lock file pins metrics 0.22.1, which
                # current rustc refuses.
                cargo install rumqttd --version "$RUMQTTD_VERSION"
            fi
            ;;
        *)
            echo "unknown broker $NAME (mosquitto, aedes, amqtt, rumqttd, rumqttd-v5)" >&2
            exit 2
            ;;
    esac
}
install_broker
say "installed"
if [ "${2:-}" = "--install-only" ]; then exit 0; fi

# What `cargo test` builds, so that after it nothing is built twice
# (MQTT_SIM_BIN names a binary already built instead).
BIN=${MQTT_SIM_BIN:-}
if [ -z "$BIN" ]; then
    cargo test --locked --no-run
    BIN=target/debug/mqtt-sim
fi
say "built"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
"$BIN" report "$SCENARIOS" --target-profile "$NAME" --lanes "$LANES" \
    --baseline "$NAME" --tolerance "$TOLERANCE" -o "$out/report.md" \
    2>"$out/log" || status=$?
grep -vE '^\[' "$out/log" || true
# The failures in full, for whoever reads the CI log.
if [ "$status" != 0 ] && [ -f "$out/report.md" ]; then
    sed -n '/^## Failures/,$p' "$out/report.md"
fi
say "ran"
counts=$(grep -E "^$NAME: [0-9]+ passed" "$out/log" | tail -1 || true)
echo "$counts"
p=$(echo "$counts" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
f=$(echo "$counts" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
echo "${p:-0} passed, ${f:-0} failed"
exit $status
