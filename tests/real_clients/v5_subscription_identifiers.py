"""MQTT 5.0 subscription identifiers, with paho's MQTTv5 client.

- A live message carries the identifier of the subscription it matched
  [MQTT-3.3.4-3].
- Two overlapping subscriptions of one client: either one copy with both
  identifiers [MQTT-3.3.4-4] or one copy per subscription, each with its
  own [MQTT-3.3.4-5]; either way both identifiers arrive, each once.
- A retained message sent on SUBSCRIBE carries the new subscription's
  identifier."""

from common import Client, done, expect_nothing, fail, prop

QUIET_S = 1.0


def ids(msg):
    return sorted(prop(msg, "SubscriptionIdentifier") or [])


sub = Client("real5-sid", v5=True)
sub.connect()
assert sub.subscribe_v5("real5/sid/+", 1, subscription_id=7) == [1]
assert sub.subscribe_v5("real5/sid/a", 1, subscription_id=9) == [1]
pub = Client("real5-sid-pub", v5=True)
pub.connect()

pub.publish("real5/sid/b", b"one match", qos=1)
msg = sub.next_message("a message matching one subscription")
if ids(msg) != [7]:
    fail(f"one matching subscription: identifiers {ids(msg)}, wanted [7]")

pub.publish("real5/sid/a", b"two matches", qos=1)
msg = sub.next_message("a message matching two subscriptions")
got = ids(msg)
if got == [7] or got == [9]:
    # One copy per subscription: the other copy has the other identifier.
    second = sub.next_message("the second copy of a message matching two subscriptions")
    assert second.payload == b"two matches", second.payload
    got = sorted(got + ids(second))
    if got != [7, 9]:
        fail(f"two copies: identifiers {ids(msg)} and {ids(second)}, wanted [7] and [9]")
elif got != [7, 9]:
    fail(f"one copy for two subscriptions: identifiers {got}, wanted [7, 9]")
expect_nothing(sub.messages, "another copy", QUIET_S)

# Retained: the identifier of the subscription that made it be sent.
pub.publish("real5/sid/r", b"kept", qos=1, retain=True)
late = Client("real5-sid-late", v5=True)
late.connect()
assert late.subscribe_v5("real5/sid/r", 1, subscription_id=42) == [1]
msg = late.next_message("the retained message")
assert msg.retain and msg.payload == b"kept", (msg.retain, msg.payload)
if ids(msg) != [42]:
    fail(f"retained message: identifiers {ids(msg)}, wanted [42]")
# And a subscription without an identifier gets none.
plain = Client("real5-sid-plain", v5=True)
plain.connect()
assert plain.subscribe_v5("real5/sid/r", 1) == [1]
msg = plain.next_message("the retained message, subscription without identifier")
if ids(msg):
    fail(f"a subscription without identifier got identifiers {ids(msg)}")
pub.publish("real5/sid/r", b"", qos=1, retain=True)
for c in (sub, pub, late, plain):
    c.disconnect()
done()
