"""A second connection with the same client id takes over: the broker
closes the first [MQTT-3.1.4-2], and with the default `takeover_will: spec`
the first client's will is published."""

import queue
import time

from common import Client, WAIT_S, done, fail

ID = "real-takeover"

watcher = Client("real-takeover-watcher")
watcher.connect()
assert watcher.subscribe("real/takeover/will", 1) == [1]

disconnects = queue.Queue()
old = Client(ID, will=("real/takeover/will", b"old gone", 1))
old.c.on_disconnect = lambda c, u, flags, rc, props: disconnects.put(rc)
# No reconnect: paho would otherwise fight the new connection forever.
old.c.reconnect_delay_set(min_delay=3600, max_delay=3600)
old.connect()

new = Client(ID)
new.connect()
try:
    disconnects.get(timeout=WAIT_S)
except queue.Empty:
    fail(f"the old connection was not closed within {WAIT_S}s")
old.c.loop_stop()

msg = watcher.next_message("the old client's will")
assert msg.payload == b"old gone", msg.payload

# The new connection works.
assert new.subscribe("real/takeover/echo", 1) == [1]
new.publish("real/takeover/echo", b"still here", qos=1)
assert new.next_message("echo on the new connection").payload == b"still here"
for c in (new, watcher):
    c.disconnect()
done()
