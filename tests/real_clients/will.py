"""A client killed with SIGKILL leaves no DISCONNECT: the broker must
publish its will, and a subscriber gets it."""

import os
import signal
import subprocess
import sys
import threading

from common import Client, WAIT_S, done, fail

watcher = Client("real-will-watcher")
watcher.connect()
codes = watcher.subscribe("real/will/#", 1)
assert codes == [1], f"SUBACK {codes}, wanted [1]"

here = os.path.dirname(os.path.abspath(__file__))
victim = subprocess.Popen(
    [sys.executable, os.path.join(here, "will_client.py")],
    stdout=subprocess.PIPE,
    text=True,
)
line = []
reader = threading.Thread(target=lambda: line.append(victim.stdout.readline()), daemon=True)
reader.start()
reader.join(timeout=WAIT_S)
if not line or line[0].strip() != "connected":
    victim.kill()
    fail(f"the will client did not connect within {WAIT_S}s (said {line!r})")

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
