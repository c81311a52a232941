"""MQTT 5.0 topic aliases, both ways, with paho's MQTTv5 client.

Client to broker: the broker's CONNACK allows aliases (Topic Alias
Maximum above 0); a PUBLISH that sets alias 1 for a topic, then one with
an empty topic and alias 1, both reach the subscriber under that topic
[MQTT-3.3.2-12], and so does alias 1 mapped again to another topic. The
subscriber, which allowed no aliases, gets none: the broker never
forwards the publisher's alias [MQTT-3.1.2-27]. An alias above the
broker's maximum ends the connection with DISCONNECT 0x94 (Topic Alias
invalid).

Broker to client: a subscriber that allows 2 aliases gets messages on
three topics, several times each. Every alias it receives is 1 or 2
[MQTT-3.3.2-11], an empty topic is only sent with an alias the broker set
before on this connection, and each message resolves to the topic it was
published to. paho does not resolve incoming aliases, so this test does.
With MQTT_BROKER_ALIASES=1 (the reference broker) it also requires that
the broker used them (sending aliases is a MAY; mosquitto 2.0.11 does not)."""

import os
import socket
import struct

from common import HOST, PORT, WAIT_S, Client, done, expect_nothing, fail, prop, publish_properties

TOPIC_ALIAS_INVALID = 0x94
IN = "real5/alias/in"
OUT = "real5/alias/out"


def raw_disconnect_reason(topic, alias):
    """Connects (5.0) over a plain socket, publishes at QoS 1 with `alias`,
    and returns the reason code of the DISCONNECT that answers it, or a
    description of what came instead."""

    def string(s):
        return struct.pack("!H", len(s)) + s.encode()

    def packet(first, body):
        assert len(body) < 128
        return bytes([first, len(body)]) + body

    with socket.create_connection((HOST, PORT), timeout=WAIT_S) as s:
        # CONNECT: "MQTT", level 5, Clean Start, keep alive 30, no properties.
        s.sendall(packet(0x10, string("MQTT") + bytes([5, 0x02, 0, 30, 0]) + string("real5-alias-raw")))
        got = b""
        while len(got) < 2 or len(got) < 2 + got[1]:
            chunk = s.recv(256)
            if not chunk:
                return f"the connection closed before CONNACK ({got!r})"
            got += chunk
        if got[0] != 0x20 or got[3] != 0:
            return f"no successful CONNACK: {got!r}"
        # PUBLISH QoS 1, packet id 1, properties: Topic Alias (0x23).
        props = bytes([0x23]) + struct.pack("!H", alias)
        s.sendall(packet(0x32, string(topic) + struct.pack("!H", 1) + bytes([len(props)]) + props + b"x"))
        got = b""
        try:
            while True:
                chunk = s.recv(256)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            return f"the connection stayed open; received {got!r}"
    if len(got) >= 3 and got[0] == 0xE0:
        return got[2]
    return f"no DISCONNECT with a reason code before the close: {got!r}"


def connected(client_id, **kwargs):
    c = Client(client_id, v5=True, **kwargs)
    c.connect()
    return c


# Client to broker.
sub = connected("real5-alias-sub")
assert sub.subscribe_v5(f"{IN}/+", 1) == [1]
pub = connected("real5-alias-pub")
maximum = getattr(pub.connack_properties, "TopicAliasMaximum", 0)
if not maximum:
    fail("the broker's CONNACK allows no topic aliases (Topic Alias Maximum absent or 0)")
sends = [(f"{IN}/one", 1, f"{IN}/one"), ("", 1, f"{IN}/one"),
         (f"{IN}/two", 1, f"{IN}/two"), ("", 1, f"{IN}/two")]
for topic, alias, _ in sends:
    pub.publish(topic, b"via alias", qos=1, properties=publish_properties(TopicAlias=alias))
for _, _, wanted in sends:
    msg = sub.next_message(f"a message published to {wanted} through an alias")
    if msg.topic != wanted:
        fail(f"client alias: the subscriber got topic {msg.topic!r}, wanted {wanted!r}")
    if prop(msg, "TopicAlias") is not None:
        fail(f"the publisher's alias was forwarded to a subscriber that allowed none: "
             f"{prop(msg, 'TopicAlias')}")
pub.disconnect()
# paho 2.1 drops the reason code of a DISCONNECT without properties
# (remaining length 1 or 2, as mosquitto sends it), so this part speaks
# MQTT over a plain socket.
code = raw_disconnect_reason(f"{IN}/three", maximum + 1)
if code != TOPIC_ALIAS_INVALID:
    fail(f"alias {maximum + 1} above the maximum {maximum}: got {code}, "
         f"wanted DISCONNECT {TOPIC_ALIAS_INVALID:#x}")
expect_nothing(sub.messages, "the message with an invalid alias", 1.0)

# Broker to client.
receiver = connected("real5-alias-receiver", topic_alias_maximum=2)
assert receiver.subscribe_v5(f"{OUT}/+", 1) == [1]
pub = connected("real5-alias-pub2")
order = [f"{OUT}/{t}" for t in "aabbcabcaa"]
for i, topic in enumerate(order):
    pub.publish(topic, str(i).encode(), qos=1)
aliases = {}
used = 0
for i, wanted in enumerate(order):
    msg = receiver.next_message(f"message {i} on {wanted}")
    assert msg.payload == str(i).encode(), (msg.payload, i)
    alias = prop(msg, "TopicAlias")
    if alias is not None:
        used += 1
        if not 1 <= alias <= 2:
            fail(f"the broker sent alias {alias}, the client allowed 2")
        if msg.topic:
            aliases[alias] = msg.topic
        elif alias not in aliases:
            fail(f"message {i}: empty topic with alias {alias}, never set on this connection")
    elif not msg.topic:
        fail(f"message {i}: empty topic without an alias")
    got = msg.topic or aliases[alias]
    if got != wanted:
        fail(f"message {i}: resolves to {got!r}, wanted {wanted!r}")
if os.environ.get("MQTT_BROKER_ALIASES") == "1" and not used:
    fail("the broker sent no topic alias to a client that allowed 2")
print(f"broker to client: {used} of {len(order)} messages came with an alias")
for c in (sub, pub, receiver):
    c.disconnect()
done()
