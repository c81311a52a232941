"""MQTT 5.0 session expiry across a reconnect, with paho's MQTTv5 client.

- A session with an expiry outlives its connection: the reconnect with
  Clean Start 0 finds it (session present) and gets the QoS 1 message
  published while it was away [MQTT-3.1.2-23], [MQTT-3.1.2-5].
- A session whose expiry has passed is gone: session present is 0 [MQTT-3.1.2-6].
- Without a session expiry the session ends with the connection
  [MQTT-3.1.2-23]: absent means 0."""

import time

from common import Client, done, fail

TOPIC = "real5/expiry/t"


def session_present_after_reconnect(client_id, expiry_s, pause_s):
    first = Client(client_id, clean_session=True, v5=True, session_expiry_s=expiry_s)
    if first.connect():
        fail(f"{client_id}: Clean Start 1 found a session")
    assert first.subscribe(TOPIC, 1) == [1]
    first.disconnect()
    time.sleep(pause_s)
    again = Client(client_id, clean_session=False, v5=True, session_expiry_s=expiry_s)
    present = again.connect()
    return again, present


# Kept: expiry 60 s, back after 0.2 s, with the message sent meanwhile.
first = Client("real5-expiry-kept", clean_session=True, v5=True, session_expiry_s=60)
first.connect()
assert first.subscribe(TOPIC, 1) == [1]
first.disconnect()
publisher = Client("real5-expiry-pub", v5=True)
publisher.connect()
publisher.publish(TOPIC, b"while away", qos=1)
publisher.disconnect()
again = Client("real5-expiry-kept", clean_session=False, v5=True, session_expiry_s=60)
if not again.connect():
    fail("expiry 60s: the session was not present 0.2s after the disconnect")
msg = again.next_message("the message queued while the session was offline")
assert msg.payload == b"while away", msg.payload
assert msg.qos == 1, msg.qos
# Ends the kept session, so that a rerun starts clean.
again.c.disconnect()
again.c.loop_stop()

# Expired: expiry 1 s, back after 2.5 s.
client, present = session_present_after_reconnect("real5-expiry-gone", 1, 2.5)
if present:
    fail("expiry 1s: the session was still present after 2.5s")
client.disconnect()

# Absent expiry: the session ends with the connection.
client, present = session_present_after_reconnect("real5-expiry-none", None, 0.2)
if present:
    fail("no session expiry: the session outlived its connection")
client.disconnect()
done()
