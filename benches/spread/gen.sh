#!/bin/bash
# Writes the spread-traffic cases of docs/performance.md ("Spread traffic")
# into DIR: fan-N.yaml, scenarios/scale/fan-out.yaml grown to N subscribers
# with connects spread over 0s..5s, the publish at 6s and per-member
# expectations; qos1-N.yaml and qos1-N-off.yaml, N clients connecting over
# 0s..1s that each subscribe to a topic of their own and publish one QoS 1
# message to it at 2s..3s, with and without invariants.
set -eu
dir=${1:?usage: gen.sh DIR}
mkdir -p "$dir"
fan() {
  cat <<Y
name: spread fan-out to $1
seed: 5
duration: 8s
brokers:
  broker: {}
clients:
  sub-{i}:
    count: $1
    client_id: subscriber-{i}
    steps:
      - {at: 0s..5s, connect: {}}
      - subscribe: {filter: news/#, qos: 1}
  publisher:
    steps:
      - connect: {}
      - {at: 6s, publish: {topic: news/today, payload: hello fleet, qos: 1}}
expect:
  - client: sub-{i}
    receives: {topic: news/today, payload: hello fleet, qos: 1, dup: false}
    count: 1
    within: [6s, 6.1s]
  - client: sub-{i}
    send: {type: PUBACK}
    count: 1
  - client: publisher
    recv: {type: PUBACK}
    count: 1
Y
}
qos1() {
  cat <<Y
name: $1 clients at QoS 1
seed: 1
duration: 4s
brokers:
  broker: {}
clients:
  c-{i}:
    count: $1
    steps:
      - {at: 0s..1s, connect: {}}
      - subscribe: {filter: "t/{i}", qos: 1}
      - {at: 2s..3s, publish: {topic: "t/{i}", payload: hello, qos: 1}}
expect:
  - client: c-{i}
    receives: {topic: "t/{i}", qos: 1}
    count: 1
Y
}
for n in 1000 3000 9990; do fan $n > "$dir/fan-$n.yaml"; done
for n in 1000 4000; do
  qos1 $n > "$dir/qos1-$n.yaml"
  { qos1 $n; echo "invariants: off"; } > "$dir/qos1-$n-off.yaml"
done
