"""MQTT 5.0 message expiry, with paho's MQTTv5 client.

A persistent session (session expiry 60 s) subscribes at QoS 1 and goes
offline; two messages are queued for it, one with a Message Expiry
Interval of 1 s and one of 60 s. Back after 2.5 s:
- the 1 s message has expired and is not sent [MQTT-3.3.2-5];
- the 60 s message is, with the interval minus the time it waited:
  57 or 58 s after 2.5 s, not 60 (the check allows 56 for a slow
  machine) [MQTT-3.3.2-6]."""

import time

from common import Client, done, expect_nothing, fail, prop, publish_properties

TOPIC = "real5/message-expiry/t"
ID = "real5-msg-expiry"
PAUSE_S = 2.5

first = Client(ID, clean_session=True, v5=True, session_expiry_s=60)
first.connect()
assert first.subscribe_v5(TOPIC, 1) == [1]
first.disconnect()
pub = Client("real5-msg-expiry-pub", v5=True)
pub.connect()
pub.publish(TOPIC, b"short", qos=1, properties=publish_properties(MessageExpiryInterval=1))
pub.publish(TOPIC, b"long", qos=1, properties=publish_properties(MessageExpiryInterval=60))
pub.disconnect()
time.sleep(PAUSE_S)

again = Client(ID, clean_session=False, v5=True, session_expiry_s=60)
if not again.connect():
    fail("the session was not present")
msg = again.next_message("the queued message that had not expired")
if msg.payload != b"long":
    fail(f"got {msg.payload!r} first: the message with a 1s expiry was sent after {PAUSE_S}s")
left = prop(msg, "MessageExpiryInterval")
if left is None:
    fail("the forwarded message has no Message Expiry Interval")
if not 56 <= left <= 58:
    fail(f"Message Expiry Interval {left} after waiting {PAUSE_S}s, wanted 60 - {PAUSE_S} (56..58)")
expect_nothing(again.messages, "another queued message", 1.0)
# Ends the session, so that a rerun starts clean.
again.c.disconnect()
again.c.loop_stop()
done()
