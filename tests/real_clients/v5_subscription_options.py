"""MQTT 5.0 subscription options, with paho's MQTTv5 client.

- No Local: a client's own message is not sent back to it on a No Local
  subscription [MQTT-3.8.3-3]; another client's message is.
- Retain As Published: forwarding keeps the RETAIN flag of the received
  PUBLISH when the option is 1 [MQTT-3.3.1-13] and clears it when it is 0
  [MQTT-3.3.1-12].
- Retain Handling: 0 sends the retained message on every SUBSCRIBE
  [MQTT-3.3.1-9]; 1 only when the subscription is new [MQTT-3.3.1-10];
  2 never [MQTT-3.3.1-11]."""

from common import Client, done, expect_nothing, fail

QUIET_S = 1.0


def connected(client_id):
    c = Client(client_id, v5=True)
    c.connect()
    return c


# No Local.
topic = "real5/options/no-local"
own = connected("real5-nl-own")
other = connected("real5-nl-other")
assert own.subscribe_v5(topic, 1, no_local=True) == [1]
assert other.subscribe_v5(topic, 1) == [1]
own.publish(topic, b"from own", qos=1)
msg = other.next_message("own's message at the other subscriber")
assert msg.payload == b"from own", msg.payload
other.publish(topic, b"from other", qos=1)
msg = own.next_message("the other client's message at the No Local subscriber")
if msg.payload != b"from other":
    fail(f"No Local: the subscriber got {msg.payload!r}: its own message came back")
expect_nothing(own.messages, "a message at the No Local subscriber", QUIET_S)
msg = other.next_message("the other client's own message (No Local 0)")
assert msg.payload == b"from other", msg.payload

# Retain As Published, on a live retained PUBLISH.
topic = "real5/options/rap"
keep = connected("real5-rap-1")
clear = connected("real5-rap-0")
assert keep.subscribe_v5(topic, 1, retain_as_published=True) == [1]
assert clear.subscribe_v5(topic, 1, retain_as_published=False) == [1]
pub = connected("real5-rap-pub")
pub.publish(topic, b"live retained", qos=1, retain=True)
msg = keep.next_message("the live retained message, Retain As Published 1")
assert msg.payload == b"live retained", msg.payload
if not msg.retain:
    fail("Retain As Published 1: the RETAIN flag was cleared")
msg = clear.next_message("the live retained message, Retain As Published 0")
if msg.retain:
    fail("Retain As Published 0: the RETAIN flag was kept")
pub.publish(topic, b"live plain", qos=1, retain=False)
msg = keep.next_message("a live message without RETAIN, Retain As Published 1")
if msg.retain:
    fail("Retain As Published 1: RETAIN set on a message published without it")
clear.next_message("a live message without RETAIN, Retain As Published 0")
pub.publish(topic, b"", qos=1, retain=True)  # deletes the retained message
keep.disconnect()
clear.disconnect()

# Retain Handling.
topic = "real5/options/rh"
pub.publish(topic, b"kept", qos=1, retain=True)
sub = connected("real5-rh")
assert sub.subscribe_v5(topic, 1, retain_handling=0) == [1]
msg = sub.next_message("the retained message, Retain Handling 0")
assert msg.payload == b"kept" and msg.retain, (msg.payload, msg.retain)
assert sub.subscribe_v5(topic, 1, retain_handling=0) == [1]
msg = sub.next_message("the retained message again, Retain Handling 0 on an existing subscription")
assert msg.payload == b"kept" and msg.retain, (msg.payload, msg.retain)
assert sub.subscribe_v5(topic, 1, retain_handling=1) == [1]
expect_nothing(sub.messages, "Retain Handling 1, existing subscription: a retained message", QUIET_S)
sub2 = connected("real5-rh-new")
assert sub2.subscribe_v5(topic, 1, retain_handling=1) == [1]
msg = sub2.next_message("the retained message, Retain Handling 1 on a new subscription")
assert msg.payload == b"kept" and msg.retain, (msg.payload, msg.retain)
sub3 = connected("real5-rh-never")
assert sub3.subscribe_v5(topic, 1, retain_handling=2) == [1]
expect_nothing(sub3.messages, "Retain Handling 2: a retained message", QUIET_S)
pub.publish(topic, b"", qos=1, retain=True)
msg = sub3.next_message("a live message after Retain Handling 2")
assert msg.payload == b"", msg.payload
for c in (own, other, pub, sub, sub2, sub3):
    c.disconnect()
done()
