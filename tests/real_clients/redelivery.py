"""A QoS 1 message that a persistent session received but did not
acknowledge is sent again after the reconnect, with DUP 1 and the same
packet id [MQTT-4.4.0-1]."""

import paho.mqtt.client as mqtt

from common import Client, done

ID = "real-redelivery"
TOPIC = "real/redelivery/t"

fresh = Client(ID, clean_session=True)
fresh.connect()
fresh.disconnect()

# manual_ack: paho withholds PUBACK until told, and it is never told.
first = Client(ID, clean_session=False)
first.c.manual_ack_set(True)
first.connect()
assert first.subscribe(TOPIC, 1) == [1]

publisher = Client("real-redelivery-pub")
publisher.connect()
publisher.publish(TOPIC, b"ack me", qos=1)
publisher.disconnect()

msg = first.next_message("the first delivery")
assert msg.payload == b"ack me" and msg.qos == 1 and not msg.dup, (msg.payload, msg.qos, msg.dup)
first_mid = msg.mid
first.disconnect()

again = Client(ID, clean_session=False)
present = again.connect()
assert present is True, "CONNACK session present must be 1"
msg = again.next_message("the redelivery after the reconnect")
assert msg.payload == b"ack me", msg.payload
assert msg.dup, "a redelivered PUBLISH must have DUP 1"
assert msg.mid == first_mid, f"packet id {msg.mid}, wanted the same {first_mid}"
again.disconnect()

clean = Client(ID, clean_session=True)
clean.connect()
clean.disconnect()
done()
