"""Shared helpers for the paho-mqtt tests against `mqtt-sim serve`.

Every wait has a timeout: a test that cannot get what it waits for fails
with a message saying what it was waiting for, instead of hanging.
"""

import os
import queue
import sys

import paho.mqtt.client as mqtt

HOST = os.environ.get("MQTT_HOST", "127.0.0.1")
PORT = int(os.environ["MQTT_PORT"])
WAIT_S = float(os.environ.get("MQTT_WAIT_S", "10"))


def fail(message):
    print(f"FAIL {os.path.basename(sys.argv[0])}: {message}", file=sys.stderr)
    sys.exit(1)


class Client:
    """A paho client on its own network thread whose CONNACKs, SUBACKs and
    messages land in queues that the test reads with a timeout."""

    def __init__(self, client_id, clean_session=True, will=None):
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.messages = queue.Queue()
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
        )
        if will is not None:
            topic, payload, qos = will
            self.c.will_set(topic, payload, qos=qos, retain=False)
        self.c.on_connect = lambda c, u, flags, rc, props: self.connacks.put(
            (flags.session_present, rc.value)
        )
        self.c.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put(
            [rc.value for rc in rcs]
        )
        self.c.on_message = lambda c, u, msg: self.messages.put(msg)

    def connect(self, keepalive=30):
        """Connects and returns session_present; fails unless accepted."""
        self.c.connect(HOST, PORT, keepalive=keepalive)
        self.c.loop_start()
        session_present, code = get(self.connacks, "CONNACK")
        if code != 0:
            fail(f"CONNACK code {code}, wanted 0")
        return bool(session_present)

    def subscribe(self, topic, qos):
        self.c.subscribe(topic, qos)
        return get(self.subacks, f"SUBACK for {topic}")

    def publish(self, topic, payload, qos, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=WAIT_S)
        if not info.is_published():
            fail(f"publish to {topic} at QoS {qos} not acknowledged within {WAIT_S}s")

    def next_message(self, what):
        return get(self.messages, what)

    def disconnect(self):
        self.c.disconnect()
        self.c.loop_stop()


def get(q, what):
    try:
        return q.get(timeout=WAIT_S)
    except queue.Empty:
        fail(f"no {what} within {WAIT_S}s")


def done():
    print(f"ok {os.path.basename(sys.argv[0])}")
