#!/usr/bin/env bash
# Runs the MQTT 3.1.1 and 5.0 scenarios against Debian's mosquitto over real TCP, in
# real time, and checks that the scenarios that fail are exactly those in
# .ci/mosquitto-expected-failures.txt (see docs/brokers/mosquitto.md).
#
# A scenario run against a live broker takes its `duration` in real time, so
# the scenarios are spread over LANES lanes, each with its own mosquitto on
# its own free loopback port (scenarios reuse client ids and topics, so two
# at once on one broker would disturb each other). Between scenarios the
# harness discards the sessions and retained messages a scenario uses.
#
# Installs mosquitto with apt-get when it is missing (as root, or with sudo).
# Needs: bash, cargo. Exit code: 0 when every result is as expected.
set -euo pipefail
cd "$(dirname "$0")/.."

LANES=${MOSQUITTO_LANES:-4}
TOLERANCE=${MOSQUITTO_TOLERANCE:-300ms}
EXPECTED=.ci/mosquitto-expected-failures.txt

install_mosquitto() {
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y mosquitto
}
MOSQUITTO=$(command -v mosquitto || true)
[ -z "$MOSQUITTO" ] && [ -x /usr/sbin/mosquitto ] && MOSQUITTO=/usr/sbin/mosquitto
if [ -z "$MOSQUITTO" ]; then
    install_mosquitto
    MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
fi
echo "== $("$MOSQUITTO" -h 2>/dev/null | head -n 1 || true)"

echo "== cargo build"
# What `cargo test` builds, so that after it nothing is built twice.
cargo test --locked --no-run
BIN=target/debug/mqtt-sim

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts a mosquitto on a free loopback port; prints the port.
start_broker() {
    local lane=$1 try port pid
    for try in 1 2 3 4 5 6 7 8; do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        port_open "$port" && continue
        printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" \
            >"$work/mosquitto-$lane.conf"
        chmod 644 "$work/mosquitto-$lane.conf"
        "$MOSQUITTO" -c "$work/mosquitto-$lane.conf" >"$work/mosquitto-$lane.log" 2>&1 &
        pid=$!
        for _ in $(seq 50); do
            if port_open "$port"; then
                echo "$port $pid"
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
    done
    echo "cannot start mosquitto; its log:" >&2
    cat "$work/mosquitto-$lane.log" >&2
    return 1
}

# Every scenario, 3.1.1 and 5.0, longest first, so that the lanes end together.
mapfile -t files < <(
    for f in $(find scenarios -name '*.yaml' | sort); do
        d=$(sed -n 's/^duration: *\([0-9.]*\)\([a-z]*\).*/\1 \2/p' "$f" | head -n 1)
        ms=$(echo "$d" | awk '{v=$1; u=$2; m=(u=="ms")?1:(u=="s")?1000:(u=="m")?60000:3600000; print int(v*m)}')
        echo "$ms $f"
    done | sort -rn | awk '{print $2}'
)

ports=()
for lane in $(seq 0 $((LANES - 1))); do
    read -r port pid < <(start_broker "$lane")
    pids+=("$pid")
    ports+=("$port")
done
echo "== ${#files[@]} scenarios on $LANES mosquitto instances (ports ${ports[*]})"

mkdir -p "$work/out"
run_lane() {
    local lane=$1 port=$2 i=0 f name code
    for f in "${files[@]}"; do
        if [ $((i % LANES)) -eq "$lane" ]; then
            name=${f#scenarios/}
            name=${name%.yaml}
            code=0
            "$BIN" run "$f" --target "tcp://127.0.0.1:$port" --target-name mosquitto \
                --tolerance "$TOLERANCE" >"$work/out/${name//\//__}.txt" 2>&1 || code=$?
            if [ "$code" = 0 ] && grep -q '^skipped: ' "$work/out/${name//\//__}.txt"; then
                echo "skip $name"
            elif [ "$code" = 0 ]; then
                echo "pass $name"
            else
                echo "fail $name"
            fi
        fi
        i=$((i + 1))
    done >"$work/lane-$lane.txt"
}
lane_pids=()
for lane in $(seq 0 $((LANES - 1))); do
    run_lane "$lane" "${ports[$lane]}" &
    lane_pids+=("$!")
done
for p in "${lane_pids[@]}"; do wait "$p"; done

sort -k2 "$work"/lane-*.txt >"$work/results.txt"
{ grep -vE '^[[:space:]]*(#|$)' "$EXPECTED" || true; } | awk '{print $1}' | sort >"$work/expected.txt"
{ grep -vE '^[[:space:]]*(#|$)' "$EXPECTED" || true; } | awk '$2 == "timing" {print $1}' | sort >"$work/timing.txt"
awk '$1 == "fail" {print $2}' "$work/results.txt" | sort >"$work/failed.txt"

passed=$(grep -c '^pass ' "$work/results.txt" || true)
failed=$(grep -c '^fail ' "$work/results.txt" || true)
skipped=$(grep -c '^skip ' "$work/results.txt" || true)

status=0
while read -r name; do
    echo "UNEXPECTED FAILURE: $name"
    sed 's/^/    /' "$work/out/${name//\//__}.txt" | grep -E 'FAIL|harness error|closest' || true
    status=1
done < <(comm -23 "$work/failed.txt" "$work/expected.txt")
while read -r name; do
    if grep -qxF "$name" "$work/timing.txt"; then
        echo "expected failure passed this time (timing-dependent, see $EXPECTED): $name"
        continue
    fi
    echo "UNEXPECTED PASS OR SKIP (listed as an expected failure): $name"
    status=1
done < <(comm -13 "$work/failed.txt" "$work/expected.txt")
while read -r name; do
    echo "expected failure: $name"
done < <(comm -12 "$work/failed.txt" "$work/expected.txt")
while read -r _ name; do
    echo "skipped: $name ($(sed -n 's/^skipped: //p' "$work/out/${name//\//__}.txt"))"
done < <(grep '^skip ' "$work/results.txt" || true)

echo "$skipped skipped (a skip is not a pass)"
echo "$passed passed, $failed failed"
exit $status
