"""MQTT 5.0 takeover, with paho's MQTTv5 client: a second connection with
the same client id takes over, and the broker tells the first one why with
DISCONNECT reason code 0x8E (142) "session taken over" [MQTT-3.1.4-3]."""

from common import Client, done, get

ID = "real5-takeover"

old = Client(ID, v5=True)
# No reconnect: paho would otherwise fight the new connection forever.
old.c.reconnect_delay_set(min_delay=3600, max_delay=3600)
old.connect()

new = Client(ID, v5=True)
new.connect()
reason = get(old.disconnects, "the end of the old connection")
assert reason == 142, f"the old client saw reason code {reason}, wanted 142 (0x8E)"
old.c.loop_stop()

# The new connection works.
assert new.subscribe("real5/takeover/echo", 1) == [1]
new.publish("real5/takeover/echo", b"still here", qos=1)
assert new.next_message("echo on the new connection").payload == b"still here"
new.disconnect()
done()
