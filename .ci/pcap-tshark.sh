#!/usr/bin/env bash
# Checks `mqtt-sim pcap` against Wireshark's own dissectors: for each scenario
# (the arguments, or every file under scenarios/), it writes the pcap and
# compares what tshark decodes as MQTT -- time, client, direction, message
# type, client id -- with the packets of the trace that `mqtt-sim run
# --format json` prints. It also requires that tshark sees no bad IPv4 or TCP
# checksum and reports no warning or error.
#
# Installs tshark and jq with apt-get when they are missing. Exits non-zero
# on any mismatch, after printing what differed.
set -euo pipefail
cd "$(dirname "$0")/.."

EPOCH_S=1577836800 # the simulation's epoch, 2020-01-01T00:00:00Z
BROKER_PORT=1883

need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v jq >/dev/null 2>&1 || need+=(jq)
if ((${#need[@]})); then
    echo "== installing ${need[*]}"
    apt-get update -qq
    # wireshark-common asks whether non-root users may capture; say no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== cargo build"
cargo build --locked -q --bin mqtt-sim
bin=target/debug/mqtt-sim

if (($#)); then
    files=("$@")
else
    mapfile -t files < <(find scenarios -name '*.yaml' | sort)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The trace's packets, one line each: "at_ms client send|recv type client_id".
# Raw `send` bytes are not packets of the trace: they become "RAW at_ms
# client" lines, and every frame the client sent at that millisecond is left
# out of the comparison.
expected() {
    jq -r '
      def num: {CONNECT:1, CONNACK:2, PUBLISH:3, PUBACK:4, PUBREC:5, PUBREL:6,
                PUBCOMP:7, SUBSCRIBE:8, SUBACK:9, UNSUBSCRIBE:10, UNSUBACK:11,
                PINGREQ:12, PINGRESP:13, DISCONNECT:14, AUTH:15}[.];
      select(.event == "send" or .event == "recv")
      | if .packet then
          "\(.at_ms) \(.client) \(.event) \(.packet.type | num) \(
            if .packet.type == "CONNECT" and .packet.client_id != "" then .packet.client_id else "-" end)"
        else "RAW \(.at_ms) \(.client)" end' "$1"
}

# What tshark decodes, in the same form. The hosts legend that `mqtt-sim
# pcap` prints maps addresses to host names; the broker's side is port 1883.
decoded() {
    local sep=$'\x1f'
    tshark -r "$1" -Y mqtt -T fields -E separator=/t -E "aggregator=$sep" \
        -e frame.time_epoch -e tcp.srcport -e ip.src -e ip.dst \
        -e mqtt.msgtype -e mqtt.clientid 2>"$tmp/tshark.err" |
        awk -F'\t' -v hosts="$2" -v bridges="$3" -v epoch="$EPOCH_S" -v port="$BROKER_PORT" -v sep="$sep" '
          BEGIN {
            while ((getline line < hosts) > 0) { split(line, h, " "); name[h[1]] = h[2] }
            while ((getline line < bridges) > 0) bridge[line] = 1
          }
          {
            split($1, t, ".")
            ms = (t[1] - epoch) * 1000 + substr(t[2] "000", 1, 3)
            if ($2 == port) { client = $4; server = $3; dir = "recv" } else { client = $3; server = $4; dir = "send" }
            who = name[client]
            # A bridge dials from its broker'"'"'s host: the trace names that
            # connection "<local>-><remote>".
            if ((name[client] "->" name[server]) in bridge) who = name[client] "->" name[server]
            n = split($5, types, sep); split($6, ids, sep); k = 0
            for (i = 1; i <= n; i++) {
              id = "-"
              if (types[i] == 1) { k++; if (ids[k] != "") id = ids[k] }
              print ms " " who " " dir " " types[i] " " id
            }
          }'
}

# Leaves out the lines of raw sends (see `expected`).
without_raw() {
    awk -v raw="$1" '
      BEGIN { while ((getline line < raw) > 0) { split(line, r, " "); skip[r[2] " " r[3]] = 1 } }
      !(($1 " " $2) in skip && $3 == "send")'
}

passed=0
failed=0
for f in "${files[@]}"; do
    ok=1
    if ! "$bin" pcap "$f" -o "$tmp/out.pcap" >"$tmp/hosts" 2>"$tmp/pcap.err"; then
        echo "FAIL $f: mqtt-sim pcap failed:"
        cat "$tmp/pcap.err"
        failed=$((failed + 1))
        continue
    fi
    set +e
    "$bin" run "$f" --format json >"$tmp/trace.jsonl" 2>"$tmp/run.err"
    rc=$?
    set -e
    if ((rc > 1)); then
        echo "FAIL $f: mqtt-sim run exited $rc:"
        cat "$tmp/run.err"
        failed=$((failed + 1))
        continue
    fi
    expected "$tmp/trace.jsonl" >"$tmp/all"
    grep '^RAW ' "$tmp/all" >"$tmp/raw" || true
    grep -v '^RAW ' "$tmp/all" | without_raw "$tmp/raw" >"$tmp/expected"
    awk '$2 ~ /->/ { print $2 }' "$tmp/expected" | sort -u >"$tmp/bridges"
    if ! decoded "$tmp/out.pcap" "$tmp/hosts" "$tmp/bridges" | without_raw "$tmp/raw" >"$tmp/decoded"; then
        echo "FAIL $f: tshark failed:"
        cat "$tmp/tshark.err"
        ok=0
    fi
    if ! diff -u --label "trace (mqtt-sim run --format json)" --label "tshark" \
        "$tmp/expected" "$tmp/decoded"; then
        echo "FAIL $f: tshark decodes other MQTT packets than the trace has (diff above)"
        ok=0
    fi
    if ! [ -s "$tmp/expected" ]; then
        echo "FAIL $f: the trace has no packets to compare"
        ok=0
    fi
    # Severity above "note" (0x00400000): warnings and errors, malformed
    # packets included. Checksum status 0 is "bad". A scenario listed in
    # .ci/pcap-malformed-on-purpose.txt sends a malformed MQTT packet as its
    # subject, so there Wireshark's complaint about it is expected; its
    # checksums must still be right.
    problems='_ws.expert.severity > 0x00400000 || ip.checksum.status == 0 || tcp.checksum.status == 0'
    if grep -qxF "$f" <(grep -v '^#' .ci/pcap-malformed-on-purpose.txt | cut -d' ' -f1); then
        problems='ip.checksum.status == 0 || tcp.checksum.status == 0'
    fi
    tshark -r "$tmp/out.pcap" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
        -Y "$problems" 2>/dev/null >"$tmp/problems"
    if [ -s "$tmp/problems" ]; then
        echo "FAIL $f: tshark reports problems in these frames:"
        cat "$tmp/problems"
        ok=0
    fi
    if ((ok)); then
        echo "ok   $f ($(wc -l <"$tmp/expected") MQTT packets)"
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done

echo "pcap-tshark: $passed passed, $failed failed"
((failed == 0))
