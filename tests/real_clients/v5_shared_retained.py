"""MQTT 5.0 shared subscriptions and retained messages, with paho's
MQTTv5 client: a retained message is not sent when a shared subscription
is made (MQTT 5.0 section 4.8.2, a rule without a statement id), while an
ordinary subscription made next gets it; the next live message reaches
the member. mosquitto 2.0.11 sends it (see
docs/brokers/mosquitto.md)."""

from common import Client, done, expect_nothing

TOPIC = "real5/shared/retained"

pub = Client("real5-shared-ret-pub", v5=True)
pub.connect()
pub.publish(TOPIC, b"kept", qos=1, retain=True)
member = Client("real5-shared-ret-member", v5=True)
member.connect()
assert member.subscribe_v5(f"$share/group/{TOPIC}", 1) == [1]
plain = Client("real5-shared-ret-plain", v5=True)
plain.connect()
assert plain.subscribe_v5(TOPIC, 1) == [1]
msg = plain.next_message("the retained message at an ordinary subscription")
assert msg.retain and msg.payload == b"kept", (msg.retain, msg.payload)
try:
    expect_nothing(member.messages, "the retained message at a shared subscription", 1.0)
finally:
    pub.publish(TOPIC, b"", qos=1, retain=True)  # deletes it, for a rerun
# The shared subscription works: the deletion, a live message, reaches
# its only member (a broker that took `$share/...` for an ordinary filter
# would pass the part above without sending anything).
msg = member.next_message("live message at the shared subscription")
assert msg.payload == b"" and not msg.retain, (msg.payload, msg.retain)
for c in (pub, member, plain):
    c.disconnect()
done()
