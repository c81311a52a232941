#!/usr/bin/env bash
# Real clients this project did not write, against `mqtt-sim serve`:
# Debian's mosquitto-clients and the paho-mqtt Python client, in MQTT 3.1.1
# and MQTT 5.0.
#
# Installs both (apt-get, pip), builds the binary, starts the broker on a
# free loopback port, runs the tests, and stops the broker by its PID.
# Every wait has a timeout. Ends with "N passed, N failed"; exits non-zero
# if any test failed or the setup did not work.
#
# Each install is skipped when its client is already there (paho at the
# pinned version); SKIP_INSTALL=1 skips both.
#
# REAL_CLIENTS_BROKER=mosquitto runs the paho MQTT 5.0 publish/subscribe
# checks (V5_PUBSUB below: subscription options and identifiers, shared
# subscriptions, topic aliases, message expiry, request/response) against
# mosquitto (/usr/sbin/mosquitto, or MOSQUITTO=PATH) instead of
# `mqtt-sim serve`, to prove that the checks themselves are right: a check
# that fails there is wrong, unless mosquitto deviates from the spec, which
# MOSQUITTO_DEVIATES lists and docs/brokers/mosquitto.md explains. Nothing
# is built then, and the checks of serve's own log and options are not run.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

PAHO_VERSION=2.1.0
WAIT_S=10
BROKER=${REAL_CLIENTS_BROKER:-serve}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
# The paho MQTT 5.0 publish/subscribe checks (tests/real_clients/NAME.py).
V5_PUBSUB="v5_subscription_options v5_subscription_identifiers v5_shared_subscriptions
    v5_shared_retained v5_topic_alias v5_message_expiry v5_request_response"
# Checks that fail against mosquitto 2.0.11 because it deviates from the
# spec (docs/brokers/mosquitto.md): reported, not counted as failures.
MOSQUITTO_DEVIATES="v5_shared_retained"
WORK=$(mktemp -d)
SERVER_PID=
LOGIN_PID=
KA_PID=
passed=0
failed=0

die() {
    echo "real-clients: $*" >&2
    exit 1
}

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}

cleanup() {
    [[ -n "$LOGIN_PID" ]] && kill -KILL "$LOGIN_PID" 2>/dev/null
    [[ -n "$KA_PID" ]] && kill -KILL "$KA_PID" 2>/dev/null
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT

# Waits until FILE has a line matching the extended regex, at most WAIT_S.
wait_for() {
    local file=$1 pattern=$2
    for _ in $(seq $((WAIT_S * 10))); do
        grep -qE -- "$pattern" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Runs one test (a shell function), counts it, and keeps its output for
# the report when it fails.
check() {
    local name=$1
    shift
    if "$@" >"$WORK/$name.out" 2>&1; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        sed 's/^/    /' "$WORK/$name.out"
        failed=$((failed + 1))
    fi
}

# Like `check`, for a check that is expected to fail (a known deviation
# of the broker under test): its failure is shown and not counted; its
# passing is, as a failure, so that a fixed deviation gets noticed.
check_deviation() {
    local name=$1
    shift
    if "$@" >"$WORK/$name.out" 2>&1; then
        echo "FAIL $name passed, but is listed as a known deviation: update the list"
        failed=$((failed + 1))
    else
        echo "dev  $name (fails as expected, a known deviation)"
        sed 's/^/    /' "$WORK/$name.out"
    fi
}

## Setup

if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
    if ! command -v mosquitto_sub >/dev/null; then
        echo "== installing mosquitto-clients"
        apt-get update -qq >/dev/null || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto-clients >/dev/null ||
            die "apt-get install mosquitto-clients failed"
    fi
    if [[ $(python3 -c 'import paho.mqtt; print(paho.mqtt.__version__)' 2>/dev/null) != "$PAHO_VERSION" ]]; then
        echo "== installing paho-mqtt==$PAHO_VERSION"
        python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "paho-mqtt==$PAHO_VERSION" ||
            die "pip install paho-mqtt==$PAHO_VERSION failed"
    fi
fi
command -v mosquitto_sub >/dev/null || die "mosquitto_sub is not installed"
python3 -c 'import paho.mqtt' || die "paho-mqtt is not importable by python3"

if [[ "$BROKER" == mosquitto ]]; then
    [[ -x "$MOSQUITTO" ]] || die "no mosquitto at $MOSQUITTO"
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$PORT" >"$WORK/mosquitto.conf"
    echo "== starting $("$MOSQUITTO" -h | head -n1)"
    "$MOSQUITTO" -c "$WORK/mosquitto.conf" -v >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_for "$WORK/server.log" "Opening ipv4 listen socket on port $PORT" ||
        die "mosquitto did not start within ${WAIT_S}s: $(cat "$WORK/server.log")"
    echo "listening on port $PORT (pid $SERVER_PID)"
    export MQTT_HOST=127.0.0.1 MQTT_PORT=$PORT MQTT_WAIT_S=$WAIT_S
    echo "== tests"
    for t in $V5_PUBSUB; do
        if [[ " $MOSQUITTO_DEVIATES " == *" $t "* ]]; then
            check_deviation "paho-$t" timeout $((WAIT_S * 4)) python3 "tests/real_clients/$t.py"
        else
            check "paho-$t" timeout $((WAIT_S * 4)) python3 "tests/real_clients/$t.py"
        fi
    done
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "FAIL mosquitto died during the tests"; failed=$((failed + 1)); }
    if [[ $failed -gt 0 ]]; then
        echo "== mosquitto log"
        cat "$WORK/server.log"
    fi
    echo "$passed passed, $failed failed"
    [[ $failed -eq 0 ]]
    exit
fi
[[ "$BROKER" == serve ]] || die "REAL_CLIENTS_BROKER is '$BROKER': serve or mosquitto"

echo "== building mqtt-sim"
cargo build --locked --quiet || die "cargo build failed"
BIN=target/debug/mqtt-sim

echo "== starting mqtt-sim serve"
"$BIN" serve --listen 127.0.0.1:0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_for "$WORK/server.log" 'listening on 127\.0\.0\.1:[0-9]+' ||
    die "the server did not start within ${WAIT_S}s: $(cat "$WORK/server.log")"
PORT=$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$WORK/server.log" | head -n1)
echo "listening on port $PORT (pid $SERVER_PID)"
export MQTT_HOST=127.0.0.1 MQTT_PORT=$PORT MQTT_WAIT_S=$WAIT_S

## Tests with mosquitto_sub and mosquitto_pub

# Publishes three messages at QoS Q to a subscriber at QoS Q and checks
# that all three arrive in order at QoS Q, and that the QoS handshakes
# (PUBACK; PUBREC, PUBREL, PUBCOMP) ran on both sides.
qos_round_trip() {
    local q=$1 topic="real/qos$1" out="$WORK/sub$1.out"
    # Line-buffered, so that SUBACK shows while it runs.
    stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$PORT" -i "sub-qos$q" -q "$q" -t "$topic" \
        -C 3 -W "$WAIT_S" -d -F 'MSG %q %t %p' >"$out" 2>&1 &
    local sub=$!
    if ! wait_for "$out" 'received SUBACK'; then
        kill "$sub" 2>/dev/null
        echo "no SUBACK within ${WAIT_S}s:"; cat "$out"; return 1
    fi
    grep -q "Subscribed (mid: [0-9]*): $q\$" "$out" || { echo "granted QoS is not $q:"; cat "$out"; return 1; }
    local m pub_out="$WORK/pub$q.out"
    : >"$pub_out"
    for m in one two three; do
        timeout "$WAIT_S" mosquitto_pub -h 127.0.0.1 -p "$PORT" -i "pub-qos$q" -q "$q" \
            -t "$topic" -m "$m" -d >>"$pub_out" 2>&1 ||
            { echo "mosquitto_pub failed:"; cat "$pub_out"; kill "$sub" 2>/dev/null; return 1; }
    done
    if ! timeout $((WAIT_S + 5)) tail --pid="$sub" -f /dev/null; then
        kill "$sub" 2>/dev/null
        echo "mosquitto_sub did not end"; cat "$out"; return 1
    fi
    wait "$sub" || { echo "mosquitto_sub exited with $?:"; cat "$out"; return 1; }
    local got
    got=$(grep '^MSG ' "$out" | tr '\n' '|')
    [[ "$got" == "MSG $q $topic one|MSG $q $topic two|MSG $q $topic three|" ]] ||
        { echo "received: $got"; cat "$out"; return 1; }
    case $q in
    1)
        [[ $(grep -c 'received PUBACK' "$pub_out") == 3 ]] || { echo "publisher missed PUBACKs:"; cat "$pub_out"; return 1; }
        [[ $(grep -c 'sending PUBACK' "$out") == 3 ]] || { echo "subscriber sent no PUBACKs:"; cat "$out"; return 1; }
        ;;
    2)
        [[ $(grep -c 'received PUBCOMP' "$pub_out") == 3 ]] || { echo "publisher missed PUBCOMPs:"; cat "$pub_out"; return 1; }
        [[ $(grep -c 'received PUBREL' "$out") == 3 ]] || { echo "subscriber got no PUBRELs:"; cat "$out"; return 1; }
        ;;
    esac
}

# A retained message reaches a subscriber that comes after it, with the
# retain flag set; an empty retained message deletes it.
retained_mosquitto() {
    local topic=real/retained/mosquitto
    timeout "$WAIT_S" mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -r -t "$topic" -m kept ||
        { echo "mosquitto_pub failed"; return 1; }
    local got
    got=$(mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -t "$topic" -C 1 -W "$WAIT_S" -v -F '%r %t %p')
    [[ "$got" == "1 $topic kept" ]] || { echo "got '$got', wanted '1 $topic kept'"; return 1; }
    timeout "$WAIT_S" mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -r -t "$topic" -n ||
        { echo "mosquitto_pub -n failed"; return 1; }
    got=$(mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -t "$topic" -C 1 -W 1 -F '%r %t %p' 2>/dev/null)
    [[ -z "$got" ]] || { echo "deleted retained message still sent: '$got'"; return 1; }
}

# Without `users` in the config, an anonymous client is accepted.
connect_anonymous() {
    local out
    out=$(timeout "$WAIT_S" mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 0 -t real/anon -m x -d 2>&1)
    [[ "$out" == *"received CONNACK (0)"* ]] || { echo "$out"; return 1; }
}

# A second server with a config file: `users` requires a login, and a
# wrong password is refused with CONNACK 4.
login_from_config() {
    printf 'users: {alice: secret}\nmax_qos: 1\n' >"$WORK/login.yaml"
    "$BIN" serve --listen 127.0.0.1:0 --config "$WORK/login.yaml" >"$WORK/login.log" 2>&1 &
    LOGIN_PID=$!
    wait_for "$WORK/login.log" 'listening on' || { echo "no second server"; cat "$WORK/login.log"; return 1; }
    local port out
    port=$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$WORK/login.log" | head -n1)
    if out=$(timeout "$WAIT_S" mosquitto_pub -h 127.0.0.1 -p "$port" -u alice -P wrong -t real/login -m x 2>&1) ||
        [[ "$out" != *"ad user name or password"* ]]; then
        echo "wrong password: $out"; return 1
    fi
    if out=$(timeout "$WAIT_S" mosquitto_pub -h 127.0.0.1 -p "$port" -t real/login -m x 2>&1); then
        echo "no login was accepted: $out"; return 1
    fi
    timeout "$WAIT_S" mosquitto_pub -h 127.0.0.1 -p "$port" -u alice -P secret -t real/login -m x ||
        { echo "the right password was refused"; return 1; }
    # max_qos: 1 grants QoS 1 for a QoS 2 subscription.
    out=$(timeout "$WAIT_S" mosquitto_sub -h 127.0.0.1 -p "$port" -u alice -P secret -q 2 -t real/login -W 1 -d 2>&1)
    [[ "$out" == *"Subscribed (mid: 1): 1"* ]] || { echo "max_qos not applied: $out"; return 1; }
    kill -TERM "$LOGIN_PID"
    wait "$LOGIN_PID" || { echo "the second server exited with $?"; return 1; }
    LOGIN_PID=
    grep -qE 'note: refused .*: wrong password' "$WORK/login.log" || { cat "$WORK/login.log"; return 1; }
}

# A client that hangs (SIGSTOP) with keep alive 5s is closed by the broker
# after 1.5 x 5s of silence [MQTT-3.1.2-24], and its will is published.
keep_alive_expiry() {
    local will_out="$WORK/ka-will.out" victim_out="$WORK/ka-victim.out"
    stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$PORT" -i ka-watcher -q 1 -t real/ka/will \
        -C 1 -W 20 -d -F 'MSG %t %p' >"$will_out" 2>&1 &
    local watcher=$!
    wait_for "$will_out" 'received SUBACK' || { echo "watcher: no SUBACK"; kill "$watcher"; return 1; }
    stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$PORT" -i ka-victim -k 5 -t real/ka/x \
        --will-topic real/ka/will --will-payload hung --will-qos 1 -d >"$victim_out" 2>&1 &
    local victim=$!
    wait_for "$victim_out" 'received SUBACK' || { echo "victim: no SUBACK"; kill "$watcher" "$victim"; return 1; }
    kill -STOP "$victim"
    local started=$SECONDS
    if ! timeout 20 tail --pid="$watcher" -f /dev/null; then
        kill "$watcher"; kill -KILL "$victim"
        echo "no will within 20s"; cat "$will_out"; return 1
    fi
    local waited=$((SECONDS - started))
    kill -KILL "$victim"
    wait "$victim" 2>/dev/null
    grep -q '^MSG real/ka/will hung$' "$will_out" || { echo "will not received:"; cat "$will_out"; return 1; }
    grep -q 'note: keep-alive expired for ka-victim after 7.5s' "$WORK/server.log" ||
        { echo "no keep-alive note in the server log"; return 1; }
    # 7.5s after the last packet; SECONDS is whole seconds, hence the slack.
    [[ $waited -ge 6 && $waited -le 10 ]] || { echo "will after ${waited}s, wanted about 7.5s"; return 1; }
}

## MQTT 5.0 with mosquitto_sub and mosquitto_pub (-V mqttv5)

# PUBLISH properties reach the subscriber: user property, content type and
# message expiry [MQTT-3.3.2-17], [MQTT-3.3.2-20], [MQTT-3.3.2-6].
v5_properties_mosquitto() {
    local topic=real5/props out="$WORK/v5props.out"
    stdbuf -oL mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "$PORT" -q 1 -t "$topic" -C 1 -W "$WAIT_S" \
        -d -F 'MSG %t|%p|%P|%C|%E' >"$out" 2>&1 &
    local sub=$!
    wait_for "$out" 'received SUBACK' || { echo "no SUBACK"; cat "$out"; kill "$sub"; return 1; }
    timeout "$WAIT_S" mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "$PORT" -q 1 -t "$topic" -m hi \
        -D PUBLISH user-property site lab -D PUBLISH content-type text/plain \
        -D PUBLISH message-expiry-interval 60 || { echo "mosquitto_pub failed"; kill "$sub"; return 1; }
    wait "$sub" || { echo "mosquitto_sub exited with $?"; cat "$out"; return 1; }
    local got expiry
    got=$(grep '^MSG ' "$out")
    # The expiry left may have dropped by a second on the way.
    expiry=${got##*|}
    [[ "${got%|*}" == "MSG $topic|hi|site:lab|text/plain" && ( $expiry == 60 || $expiry == 59 ) ]] ||
        { echo "received: $got"; return 1; }
}

# A session with an expiry outlives mosquitto_sub's connection, queues a
# QoS 1 message and hands it over on the reconnect [MQTT-3.1.2-23].
v5_session_expiry_mosquitto() {
    local topic=real5/expiry/mosquitto id=real5-expiry-mosquitto
    timeout "$WAIT_S" mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "$PORT" -i "$id" -c -x 60 -q 1 \
        -t "$topic" -W 1 >/dev/null 2>&1
    timeout "$WAIT_S" mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "$PORT" -q 1 -t "$topic" -m queued ||
        { echo "mosquitto_pub failed"; return 1; }
    local got
    got=$(timeout "$WAIT_S" mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "$PORT" -i "$id" -c -x 0 -q 1 \
        -t "$topic" -C 1 -W "$WAIT_S" -F '%q %t %p')
    [[ "$got" == "1 $topic queued" ]] || { echo "got '$got', wanted '1 $topic queued'"; return 1; }
}

## A second server whose maximum keep alive is 2 s, for paho's v5 keep-alive test

start_keep_alive_server() {
    printf 'max_keep_alive: 2s\n' >"$WORK/ka.yaml"
    "$BIN" serve --listen 127.0.0.1:0 --config "$WORK/ka.yaml" >"$WORK/ka.log" 2>&1 &
    KA_PID=$!
    wait_for "$WORK/ka.log" 'listening on' || die "the keep-alive server did not start: $(cat "$WORK/ka.log")"
    MQTT_KA_PORT=$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$WORK/ka.log" | head -n1)
    export MQTT_KA_PORT MQTT_KA_S=2
}

echo "== tests"
check mosquitto-qos0 qos_round_trip 0
check mosquitto-qos1 qos_round_trip 1
check mosquitto-qos2 qos_round_trip 2
check mosquitto-retained retained_mosquitto
check mosquitto-connect connect_anonymous
check mosquitto-login-config login_from_config
check mosquitto-keep-alive-expiry keep_alive_expiry
check mosquitto-v5-properties v5_properties_mosquitto
check mosquitto-v5-session-expiry v5_session_expiry_mosquitto

## Tests with paho-mqtt (tests/real_clients/*.py)

start_keep_alive_server
for t in retained will persistent_session redelivery takeover \
    v5_session_expiry v5_will_delay v5_takeover v5_server_keep_alive; do
    check "paho-$t" timeout $((WAIT_S * 4)) python3 "tests/real_clients/$t.py"
done
kill -TERM "$KA_PID" 2>/dev/null
KA_PID=
# The reference broker uses topic aliases towards a client that allows them.
for t in $V5_PUBSUB; do
    check "paho-$t" env MQTT_BROKER_ALIASES=1 timeout $((WAIT_S * 4)) python3 "tests/real_clients/$t.py"
done

kill -0 "$SERVER_PID" 2>/dev/null || { echo "FAIL the server died during the tests"; failed=$((failed + 1)); }
stop_server
if ! grep -q 'stopping: terminated' "$WORK/server.log"; then
    echo "FAIL the server did not stop cleanly on SIGTERM"
    failed=$((failed + 1))
else
    echo "ok   clean-stop"
    passed=$((passed + 1))
fi
if [[ $failed -gt 0 ]]; then
    echo "== server log"
    cat "$WORK/server.log"
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
