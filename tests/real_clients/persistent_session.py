"""A persistent session (clean session 0) keeps its subscription while the
client is offline, queues a QoS 1 message for it, and delivers it after the
reconnect, whose CONNACK says session present 1."""

from common import Client, done

ID = "real-persistent"
TOPIC = "real/persistent/t"

# Start from no session at all, whatever an earlier run left.
fresh = Client(ID, clean_session=True)
fresh.connect()
fresh.disconnect()

first = Client(ID, clean_session=False)
present = first.connect()
assert present is False, "a new persistent session must not be present"
codes = first.subscribe(TOPIC, 1)
assert codes == [1], f"SUBACK {codes}, wanted [1]"
first.disconnect()

publisher = Client("real-persistent-pub")
publisher.connect()
publisher.publish(TOPIC, b"while-offline", qos=1)
publisher.disconnect()

# A new client object: nothing of the first survives on the client side,
# so what arrives comes from the broker's session alone.
again = Client(ID, clean_session=False)
present = again.connect()
assert present is True, "CONNACK session present must be 1 for a resumed session"
msg = again.next_message("queued QoS 1 message after the reconnect")
assert msg.topic == TOPIC, msg.topic
assert msg.payload == b"while-offline", msg.payload
assert msg.qos == 1, f"delivered at QoS {msg.qos}, wanted 1"
again.disconnect()

# Leave no session behind for the next run.
clean = Client(ID, clean_session=True)
clean.connect()
clean.disconnect()
done()
