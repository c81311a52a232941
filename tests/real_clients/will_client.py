"""A client with a will that says when it is connected and then waits to be
killed: the will tests kill it with SIGKILL, as a crashed device dies.

Without arguments it is the 3.1.1 client of will.py. With
`ID TOPIC WILL_DELAY_S SESSION_EXPIRY_S` it speaks MQTT 5.0 and gives its
will that delay and its session that expiry."""

import sys
import time

from common import Client, WAIT_S

if len(sys.argv) == 5:
    client_id, topic, delay_s, expiry_s = sys.argv[1:]
    c = Client(client_id, will=(topic, b"gone", 1), v5=True,
               session_expiry_s=int(expiry_s), will_delay_s=int(delay_s))
else:
    c = Client("real-will-victim", will=("real/will/victim", b"gone", 1))
c.connect(keepalive=60)
print("connected", flush=True)
# Bounded: if nobody kills it, it ends by itself.
time.sleep(WAIT_S * 3)
sys.exit(3)
