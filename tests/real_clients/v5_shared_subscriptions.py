"""MQTT 5.0 shared subscriptions, with paho's MQTTv5 client.

Two members of `$share/workers/...` [MQTT-4.8.2-1], one member of a second
group and one ordinary subscriber; ten QoS 1 messages:
- each message reaches exactly one member of each group (section 4.8.2),
  so the two members together get all ten, none twice;
- the choice is round robin: the two members alternate, so one gets the
  even messages and the other the odd ones;
- the lone member of the other group and the ordinary subscriber get all
  ten, in order.
(Retained messages and shared subscriptions: v5_shared_retained.py.)"""

import queue

from common import Client, done, fail

TOPIC = "real5/shared/jobs"
COUNT = 10
QUIET_S = 1.0


def connected(client_id):
    c = Client(client_id, v5=True)
    c.connect()
    return c


def drain(client):
    """Every payload that arrives until nothing has for QUIET_S."""
    got = []
    while True:
        try:
            got.append(client.messages.get(timeout=QUIET_S).payload.decode())
        except queue.Empty:
            return got


pub = connected("real5-shared-pub")
members = [connected("real5-shared-a"), connected("real5-shared-b")]
for m in members:
    assert m.subscribe_v5(f"$share/workers/{TOPIC}", 1) == [1]
lone = connected("real5-shared-lone")
assert lone.subscribe_v5(f"$share/lone/{TOPIC}", 1) == [1]
plain = connected("real5-shared-plain")
assert plain.subscribe_v5(TOPIC, 1) == [1]

sent = [str(i) for i in range(COUNT)]
for s in sent:
    pub.publish(TOPIC, s.encode(), qos=1)
got = [drain(m) for m in members]
everyone = sorted(got[0] + got[1], key=int)
if everyone != sent:
    fail(f"the group got {everyone} ({got[0]} and {got[1]}), wanted each of {sent} once")
for g in got:
    if len(g) != COUNT // 2 or len({int(x) % 2 for x in g}) != 1:
        fail(f"not round robin: one member got {got[0]}, the other {got[1]}")
if drain(lone) != sent:
    fail("the lone member of the second group did not get every message once, in order")
if drain(plain) != sent:
    fail("the ordinary subscriber did not get every message once, in order")
for c in (pub, *members, lone, plain):
    c.disconnect()
done()
