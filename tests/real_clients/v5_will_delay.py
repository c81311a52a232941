"""MQTT 5.0 will delay, with paho's MQTTv5 client:

- a client killed with SIGKILL has its will published only after the will
  delay interval [MQTT-3.1.2-8];
- a reconnect to the session within the delay cancels the will [MQTT-3.1.3-9];
- DISCONNECT with reason 0x04 (disconnect with will message) publishes the
  will at once; a normal DISCONNECT (0x00) discards it [MQTT-3.14.4-3],
  [MQTT-3.1.2-10]."""

import signal
import time

from common import Client, WAIT_S, done, expect_nothing, fail, spawn_will_client

watcher = Client("real5-will-watcher", v5=True)
watcher.connect()
assert watcher.subscribe("real5/will/#", 1) == [1]

# Published after the delay.
victim = spawn_will_client("real5-will-delayed", "real5/will/delayed", 2, 60)
victim.send_signal(signal.SIGKILL)
victim.wait(timeout=WAIT_S)
killed = time.monotonic()
expect_nothing(watcher.messages, "the will (delay 2s)", 1.2)
msg = watcher.next_message("the delayed will")
waited = time.monotonic() - killed
assert msg.topic == "real5/will/delayed", msg.topic
assert msg.payload == b"gone", msg.payload
if not 1.5 <= waited <= 4.0:
    fail(f"the will with delay 2s came {waited:.1f}s after the kill")

# Cancelled by a reconnect within the delay.
victim = spawn_will_client("real5-will-cancelled", "real5/will/cancelled", 3, 60)
victim.send_signal(signal.SIGKILL)
victim.wait(timeout=WAIT_S)
time.sleep(0.5)
back = Client("real5-will-cancelled", clean_session=False, v5=True, session_expiry_s=60)
if not back.connect():
    fail("the reconnect within the will delay did not find the session")
expect_nothing(watcher.messages, "a will cancelled by the reconnect", 4.0)
# A normal DISCONNECT discards the will of this connection too (it has none).
back.disconnect()

# DISCONNECT 0x04: published at once; 0x00: discarded.
leaver = Client("real5-will-0x04", will=("real5/will/0x04", b"asked for", 1), v5=True)
leaver.connect()
leaver.disconnect(reason=0x04)
msg = watcher.next_message("the will after DISCONNECT 0x04")
assert msg.topic == "real5/will/0x04", msg.topic
polite = Client("real5-will-0x00", will=("real5/will/0x00", b"never", 1), v5=True)
polite.connect()
polite.disconnect()
expect_nothing(watcher.messages, "the will after a normal DISCONNECT", 1.0)
watcher.disconnect()
done()
