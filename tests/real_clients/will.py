"""A client killed with SIGKILL leaves no DISCONNECT: the broker must
publish its will, and a subscriber gets it."""

import signal

from common import Client, WAIT_S, done, spawn_will_client

watcher = Client("real-will-watcher")
watcher.connect()
codes = watcher.subscribe("real/will/#", 1)
assert codes == [1], f"SUBACK {codes}, wanted [1]"

victim = spawn_will_client()
assert watcher.messages.empty(), "a will arrived before the client was killed"
victim.send_signal(signal.SIGKILL)
victim.wait(timeout=WAIT_S)

msg = watcher.next_message("will message after SIGKILL")
assert msg.topic == "real/will/victim", msg.topic
assert msg.payload == b"gone", msg.payload
assert msg.qos == 1, f"will delivered at QoS {msg.qos}, wanted 1"
assert not msg.retain, "the will was not retained, so it must arrive with retain 0"
watcher.disconnect()
done()
