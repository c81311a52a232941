"""A retained message reaches a later subscriber with retain 1; live
forwarding to an existing subscriber clears the flag."""

import queue

from common import Client, done, fail

TOPIC = "real/retained/paho"

pub = Client("real-retained-pub")
pub.connect()
pub.publish(TOPIC, b"kept", qos=1, retain=True)

late = Client("real-retained-late")
late.connect()
codes = late.subscribe(TOPIC, 1)
assert codes == [1], f"SUBACK {codes}, wanted [1]"
msg = late.next_message("retained message")
assert msg.payload == b"kept", msg.payload
assert msg.retain, "a retained message sent on subscribe must have retain 1"

pub.publish(TOPIC, b"live", qos=1, retain=True)
msg = late.next_message("live message")
assert msg.payload == b"live", msg.payload
assert not msg.retain, "live forwarding must clear the retain flag"

# An empty retained payload deletes it.
pub.publish(TOPIC, b"", qos=1, retain=True)
late.next_message("the empty retained message, forwarded live")
later = Client("real-retained-later")
later.connect()
later.subscribe(TOPIC, 1)
# The retained message would follow SUBACK at once; a second is ample.
try:
    stale = later.messages.get(timeout=1.0)
    fail(f"a deleted retained message was sent: {stale.payload!r}")
except queue.Empty:
    pass
for c in (pub, late, later):
    c.disconnect()
done()
