"""MQTT 5.0 request/response, with paho's MQTTv5 client: the Response
Topic [MQTT-3.3.2-15] and the Correlation Data [MQTT-3.3.2-16] reach the
subscriber unaltered, and the responder's answer, published to that
Response Topic with the same Correlation Data, reaches the requester with
it."""

from common import Client, done, fail, prop, publish_properties

REQUESTS = "real5/rr/requests"
REPLIES = "real5/rr/replies/real5-rr-requester"
# Not UTF-8 on purpose: Correlation Data is binary.
CORRELATION = b"\x00\xffreq-1\x80"

requester = Client("real5-rr-requester", v5=True)
requester.connect()
assert requester.subscribe_v5(REPLIES, 1) == [1]
responder = Client("real5-rr-responder", v5=True)
responder.connect()
assert responder.subscribe_v5(REQUESTS, 1) == [1]

requester.publish(REQUESTS, b"what time is it", qos=1,
                  properties=publish_properties(ResponseTopic=REPLIES,
                                                CorrelationData=CORRELATION))
req = responder.next_message("the request")
if prop(req, "ResponseTopic") != REPLIES:
    fail(f"Response Topic {prop(req, 'ResponseTopic')!r}, wanted {REPLIES!r}")
if prop(req, "CorrelationData") != CORRELATION:
    fail(f"Correlation Data {prop(req, 'CorrelationData')!r}, wanted {CORRELATION!r}")

responder.publish(prop(req, "ResponseTopic"), b"noon", qos=1,
                  properties=publish_properties(CorrelationData=prop(req, "CorrelationData")))
reply = requester.next_message("the response")
assert reply.topic == REPLIES and reply.payload == b"noon", (reply.topic, reply.payload)
if prop(reply, "CorrelationData") != CORRELATION:
    fail(f"response: Correlation Data {prop(reply, 'CorrelationData')!r}, wanted {CORRELATION!r}")
if prop(reply, "ResponseTopic") is not None:
    fail(f"response: a Response Topic appeared: {prop(reply, 'ResponseTopic')!r}")
requester.disconnect()
responder.disconnect()
done()
