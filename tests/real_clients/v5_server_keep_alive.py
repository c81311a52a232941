"""MQTT 5.0 server keep alive, with paho's MQTTv5 client.

A broker whose maximum keep alive is lower than what the client asks for
says so in CONNACK (Server Keep Alive), the client must use that value
[MQTT-3.1.2-21], [MQTT-3.2.2-21], and the broker enforces it: 1.5 x the
keep alive in force [MQTT-3.1.2-22].

paho-mqtt 2.1 reports the Server Keep Alive but does not adopt it by
itself. So the test runs twice:
- paho as it is (keep alive 60 s): the broker closes it after 1.5 x the
  server's keep alive, which shows the broker enforces the value it sent;
- paho with the application adopting the value (common.Client's
  `adopt_server_keep_alive`): it stays connected through 2.5 x that time.

Needs MQTT_KA_PORT (a broker whose maximum keep alive is MQTT_KA_S)."""

import os
import time

from common import Client, done, expect_nothing, fail, get

PORT = int(os.environ["MQTT_KA_PORT"])
KA_S = int(os.environ["MQTT_KA_S"])


def connect(client_id, adopt):
    c = Client(client_id, v5=True, adopt_server_keep_alive=adopt)
    # No reconnect: a closed connection must stay closed for the test to see it.
    c.c.reconnect_delay_set(min_delay=3600, max_delay=3600)
    c.connect(keepalive=60, port=PORT)
    server_ka = getattr(c.connack_properties, "ServerKeepAlive", None)
    if server_ka != KA_S:
        fail(f"CONNACK Server Keep Alive is {server_ka}, wanted {KA_S}")
    return c


# Not adopted: closed by the broker at 1.5 x KA_S.
lazy = connect("real5-ka-not-adopted", adopt=False)
started = time.monotonic()
get(lazy.disconnects, "the broker closing a client that ignores the server keep alive")
waited = time.monotonic() - started
lazy.c.loop_stop()
if not 1.5 * KA_S - 0.5 <= waited <= 1.5 * KA_S + 1.5:
    fail(f"closed after {waited:.1f}s, wanted about {1.5 * KA_S}s (1.5 x {KA_S}s)")

# Adopted: pings in time and stays.
c = connect("real5-ka-adopted", adopt=True)
expect_nothing(c.disconnects, "a disconnect of a client that pings", KA_S * 2.5)
assert c.subscribe("real5/ka/echo", 1) == [1]
c.publish("real5/ka/echo", b"alive", qos=1)
assert c.next_message("echo after the silence").payload == b"alive"
c.disconnect()
done()
