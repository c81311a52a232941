"""A client with a will that says when it is connected and then waits to be
killed: the will test kills it with SIGKILL, as a crashed device dies."""

import sys
import time

from common import Client, WAIT_S

c = Client("real-will-victim", will=("real/will/victim", b"gone", 1))
c.connect(keepalive=60)
print("connected", flush=True)
# Bounded: if nobody kills it, it ends by itself.
time.sleep(WAIT_S * 3)
sys.exit(3)
