"""Shared helpers for the paho-mqtt tests against `mqtt-sim serve`.

Every wait has a timeout: a test that cannot get what it waits for fails
with a message saying what it was waiting for, instead of hanging.
"""

import os
import queue
import subprocess
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

HOST = os.environ.get("MQTT_HOST", "127.0.0.1")
PORT = int(os.environ["MQTT_PORT"])
WAIT_S = float(os.environ.get("MQTT_WAIT_S", "10"))


def fail(message):
    print(f"FAIL {os.path.basename(sys.argv[0])}: {message}", file=sys.stderr)
    sys.exit(1)


class Client:
    """A paho client on its own network thread whose CONNACKs, SUBACKs,
    messages and DISCONNECTs land in queues that the test reads with a
    timeout.

    MQTT 3.1.1 by default. With `v5=True` it speaks MQTT 5.0: then
    `clean_session` is sent as Clean Start, `session_expiry_s` (seconds,
    None for absent) goes into the CONNECT, and `will_delay_s` into the
    will's properties. `adopt_server_keep_alive` makes it ping at the
    CONNACK's Server Keep Alive. `topic_alias_maximum` (5.0) goes into
    the CONNECT: how many topic aliases the broker may use towards it."""

    def __init__(self, client_id, clean_session=True, will=None, v5=False,
                 session_expiry_s=None, will_delay_s=None, adopt_server_keep_alive=False,
                 topic_alias_maximum=None):
        self.v5 = v5
        self.clean_session = clean_session
        self.session_expiry_s = session_expiry_s
        self.topic_alias_maximum = topic_alias_maximum
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.messages = queue.Queue()
        self.disconnects = queue.Queue()
        # The properties of the last CONNACK (None under 3.1.1).
        self.connack_properties = None
        if v5:
            # paho refuses clean_session for 5.0: Clean Start goes with connect().
            self.c = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
            )
        else:
            self.c = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=client_id,
                clean_session=clean_session,
                protocol=mqtt.MQTTv311,
            )
        if will is not None:
            topic, payload, qos = will
            props = None
            if will_delay_s is not None:
                props = Properties(PacketTypes.WILLMESSAGE)
                props.WillDelayInterval = will_delay_s
            self.c.will_set(topic, payload, qos=qos, retain=False, properties=props)

        def on_connect(c, u, flags, rc, props):
            self.connack_properties = props
            server_ka = getattr(props, "ServerKeepAlive", None)
            if adopt_server_keep_alive and server_ka is not None:
                # paho 2.1 reports the Server Keep Alive but keeps pinging
                # at its own interval, and its `keepalive` setter refuses an
                # open connection: the application adopts the value.
                c._keepalive = server_ka
            self.connacks.put((flags.session_present, rc.value))

        self.c.on_connect = on_connect
        self.c.on_disconnect = lambda c, u, flags, rc, props: self.disconnects.put(rc.value)
        self.c.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put(
            [rc.value for rc in rcs]
        )
        self.c.on_message = lambda c, u, msg: self.messages.put(msg)

    def connect(self, keepalive=30, port=PORT):
        """Connects and returns session_present; fails unless accepted."""
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            if self.session_expiry_s is not None:
                props.SessionExpiryInterval = self.session_expiry_s
            if self.topic_alias_maximum is not None:
                props.TopicAliasMaximum = self.topic_alias_maximum
            self.c.connect(HOST, port, keepalive=keepalive, clean_start=self.clean_session,
                           properties=props)
        else:
            self.c.connect(HOST, port, keepalive=keepalive)
        self.c.loop_start()
        session_present, code = get(self.connacks, "CONNACK")
        if code != 0:
            fail(f"CONNACK code {code}, wanted 0")
        return bool(session_present)

    def subscribe(self, topic, qos):
        self.c.subscribe(topic, qos)
        return get(self.subacks, f"SUBACK for {topic}")

    def subscribe_v5(self, topic, qos, no_local=False, retain_as_published=False,
                     retain_handling=0, subscription_id=None):
        """A 5.0 SUBSCRIBE with subscription options and, when given, a
        Subscription Identifier; returns the SUBACK's reason codes."""
        options = SubscribeOptions(qos=qos, noLocal=no_local,
                                   retainAsPublished=retain_as_published,
                                   retainHandling=retain_handling)
        props = None
        if subscription_id is not None:
            props = Properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = subscription_id
        self.c.subscribe(topic, options=options, properties=props)
        return get(self.subacks, f"SUBACK for {topic}")

    def publish(self, topic, payload, qos, retain=False, properties=None):
        """Publishes and waits for the handshake of QoS 1 and 2; under 5.0
        `properties` are the PUBLISH's (a paho Properties)."""
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        info.wait_for_publish(timeout=WAIT_S)
        if not info.is_published():
            fail(f"publish to {topic} at QoS {qos} not acknowledged within {WAIT_S}s")

    def next_message(self, what):
        return get(self.messages, what)

    def disconnect(self, reason=None):
        """A normal DISCONNECT; under 5.0 `reason` may be a reason code
        (0x04: disconnect with the will)."""
        if reason is None:
            self.c.disconnect()
        else:
            self.c.disconnect(reasoncode=mqtt.ReasonCode(PacketTypes.DISCONNECT, identifier=reason))
        get(self.disconnects, "the end of the connection after DISCONNECT")
        self.c.loop_stop()

    def kill(self):
        """Stops the network thread and drops the socket without DISCONNECT,
        as a crashed device would."""
        self.c.loop_stop()
        self.c.socket().close()


def publish_properties(**values):
    """A PUBLISH's properties, by paho's names (MessageExpiryInterval=60)."""
    props = Properties(PacketTypes.PUBLISH)
    for name, value in values.items():
        setattr(props, name, value)
    return props


def prop(msg, name):
    """A received message's property by paho's name, or None if absent.
    Subscription identifiers come as a list."""
    return getattr(msg.properties, name, None) if msg.properties is not None else None


def get(q, what):
    try:
        return q.get(timeout=WAIT_S)
    except queue.Empty:
        fail(f"no {what} within {WAIT_S}s")


def expect_nothing(q, what, seconds):
    """Fails if anything arrives on `q` within `seconds`."""
    try:
        got = q.get(timeout=seconds)
    except queue.Empty:
        return
    if hasattr(got, "payload"):
        got = f"{got.topic} {got.payload!r}"
    fail(f"{what} arrived within {seconds}s: {got!r}")


def spawn_will_client(*args):
    """Starts will_client.py with `args` in its own process and returns it
    once it says it is connected, so that a test can SIGKILL it."""
    here = os.path.dirname(os.path.abspath(__file__))
    victim = subprocess.Popen(
        [sys.executable, os.path.join(here, "will_client.py"), *map(str, args)],
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
    return victim


def done():
    print(f"ok {os.path.basename(sys.argv[0])}")
