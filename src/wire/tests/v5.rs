//! The 5.0 codec's regression suite: hand-computed frames that must decode
//! to a given packet and encode back to the same bytes, and malformed
//! frames that must be refused with the reason code the spec gives.

use super::*;
use Property as P;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("test hex"))
        .collect()
}

/// `bytes` decodes to `packet` and `packet` encodes to `bytes`.
fn exact(bytes: &str, packet: Packet) {
    let bytes = hex(bytes);
    match decode(&bytes, LEVEL_V5) {
        Ok(p) => assert_eq!(p, packet, "decoding {bytes:02x?}"),
        Err(e) => panic!("{bytes:02x?} is refused: {e}"),
    }
    match encode(&packet, LEVEL_V5) {
        Ok(b) => assert_eq!(b.to_vec(), bytes, "encoding {packet:?}"),
        Err(e) => panic!("{packet:?} does not encode: {e}"),
    }
}

/// `bytes` decodes to `packet`, which encodes in a shorter form.
fn decodes_to(bytes: &str, packet: Packet) {
    let bytes = hex(bytes);
    match decode(&bytes, LEVEL_V5) {
        Ok(p) => assert_eq!(p, packet, "decoding {bytes:02x?}"),
        Err(e) => panic!("{bytes:02x?} is refused: {e}"),
    }
}

/// `bytes` is refused with `reason`; the message names `mentions`.
fn refused(bytes: &str, reason: u8, mentions: &str) {
    let raw = hex(bytes);
    match decode(&raw, LEVEL_V5) {
        Ok(p) => panic!("{bytes} is accepted as {p:?}"),
        Err(e) => {
            assert_eq!(e.reason_code(), Some(reason), "{bytes}: {e}");
            assert!(e.to_string().contains(mentions), "{bytes}: {e}");
        }
    }
}

fn props(list: Vec<Property>) -> Properties {
    Properties(list)
}

fn ack(packet_id: u16, reason: u8, properties: Vec<Property>) -> Ack {
    Ack {
        packet_id,
        reason,
        properties: props(properties),
    }
}

#[test]
fn connect_round_trips_byte_exact() {
    exact(
        "10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 63",
        Packet::Connect(Connect {
            protocol_name: "MQTT".into(),
            protocol_level: LEVEL_V5,
            client_id: "c".into(),
            clean: true,
            keep_alive_s: 60,
            will: None,
            username: None,
            password: None,
            properties: Properties::default(),
        }),
    );
    // Session expiry 3600 and a user property; a will with a delay of 5s
    // at QoS 1, retained; a password without a user name (legal in 5.0).
    exact(
        "10 2a 00 04 4d 51 54 54 05 6c 00 0a \
         0c 11 00 00 0e 10 26 00 01 6b 00 01 76 \
         00 01 63 \
         05 18 00 00 00 05 00 01 77 00 02 6f 66 \
         00 01 70",
        Packet::Connect(Connect {
            protocol_name: "MQTT".into(),
            protocol_level: LEVEL_V5,
            client_id: "c".into(),
            clean: false,
            keep_alive_s: 10,
            will: Some(LastWill {
                topic: "w".into(),
                payload: Bytes::from_static(b"of"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: props(vec![P::WillDelayInterval(5)]),
            }),
            username: None,
            password: Some(Bytes::from_static(b"p")),
            properties: props(vec![
                P::SessionExpiryInterval(3600),
                P::UserProperty("k".into(), "v".into()),
            ]),
        }),
    );
}

#[test]
fn connack_round_trips_byte_exact() {
    exact(
        "20 03 00 00 00",
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0,
            properties: Properties::default(),
        }),
    );
    exact(
        "20 0a 01 00 07 21 00 0a 12 00 01 61",
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: 0,
            properties: props(vec![
                P::ReceiveMaximum(10),
                P::AssignedClientIdentifier("a".into()),
            ]),
        }),
    );
}

#[test]
fn publish_round_trips_byte_exact() {
    exact(
        "32 13 00 03 61 2f 62 00 01 09 01 01 26 00 01 6b 00 01 76 68 69",
        Packet::Publish(Publish {
            topic: "a/b".into(),
            payload: Bytes::from_static(b"hi"),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
            packet_id: 1,
            properties: props(vec![
                P::PayloadFormatIndicator(1),
                P::UserProperty("k".into(), "v".into()),
            ]),
        }),
    );
    // QoS 0 has no packet id; an empty topic stands with a Topic Alias; a
    // remaining length of two bytes (206 = ce 01).
    let payload = "00 ".repeat(200);
    exact(
        &format!("31 ce 01 00 00 03 23 00 07 {payload}"),
        Packet::Publish(Publish {
            topic: String::new(),
            payload: Bytes::from(vec![0u8; 200]),
            qos: QoS::AtMostOnce,
            retain: true,
            dup: false,
            packet_id: 0,
            properties: props(vec![P::TopicAlias(7)]),
        }),
    );
}

#[test]
fn acks_round_trip_byte_exact_in_their_shortest_form() {
    exact("40 02 00 01", Packet::PubAck(Ack::new(1)));
    exact("40 03 00 01 10", Packet::PubAck(ack(1, 0x10, vec![])));
    exact(
        "40 07 00 01 10 03 1f 00 00",
        Packet::PubAck(ack(1, 0x10, vec![P::ReasonString(String::new())])),
    );
    exact("50 03 00 02 80", Packet::PubRec(ack(2, 0x80, vec![])));
    exact("62 02 00 05", Packet::PubRel(Ack::new(5)));
    exact("70 03 00 05 92", Packet::PubComp(ack(5, 0x92, vec![])));
    // The long forms of success decode to the same packet.
    decodes_to("40 03 00 01 00", Packet::PubAck(Ack::new(1)));
    decodes_to("40 04 00 01 00 00", Packet::PubAck(Ack::new(1)));
}

#[test]
fn subscribe_and_unsubscribe_round_trip_byte_exact() {
    exact(
        "82 0b 00 0a 02 0b 05 00 03 61 2f 2b 2d",
        Packet::Subscribe(Subscribe {
            packet_id: 10,
            filters: vec![SubscribeFilter {
                filter: "a/+".into(),
                qos: QoS::AtLeastOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::DoNotSend,
            }],
            properties: props(vec![P::SubscriptionIdentifier(5)]),
        }),
    );
    exact(
        "90 05 00 0a 00 01 80",
        Packet::SubAck(SubAck {
            packet_id: 10,
            codes: vec![0x01, 0x80],
            properties: Properties::default(),
        }),
    );
    exact(
        "a2 06 00 0b 00 00 01 23",
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 11,
            filters: vec!["#".into()],
            properties: Properties::default(),
        }),
    );
    exact(
        "b0 05 00 0b 00 00 11",
        Packet::UnsubAck(UnsubAck {
            packet_id: 11,
            codes: vec![0x00, 0x11],
            properties: Properties::default(),
        }),
    );
}

#[test]
fn ping_disconnect_and_auth_round_trip_byte_exact() {
    exact("c0 00", Packet::PingReq);
    exact("d0 00", Packet::PingResp);
    let disconnect = |reason, list| {
        Packet::Disconnect(Disconnect {
            reason: Some(reason),
            properties: props(list),
        })
    };
    exact("e0 00", disconnect(0x00, vec![]));
    // What a 5.0 broker sends the old connection on a takeover.
    exact("e0 01 8e", disconnect(0x8e, vec![]));
    exact(
        "e0 07 00 05 11 00 00 00 00",
        disconnect(0x00, vec![P::SessionExpiryInterval(0)]),
    );
    exact("f0 00", Packet::Auth(Auth::default()));
    exact(
        "f0 0b 18 09 15 00 06 53 43 52 41 4d 31",
        Packet::Auth(Auth {
            reason: 0x18,
            properties: props(vec![P::AuthenticationMethod("SCRAM1".into())]),
        }),
    );
}

#[test]
fn every_sample_round_trips() {
    for p in fuzz::samples_v5() {
        let bytes = encode(&p, LEVEL_V5).expect("samples encode");
        match decode(&bytes, LEVEL_V5) {
            Ok(q) => assert_eq!(q, p),
            Err(e) => panic!("{p:?} encoded as {bytes:02x?} is refused: {e}"),
        }
    }
}

#[test]
fn repeatable_properties_keep_their_order() {
    // Two user properties with the same name, and two Subscription
    // Identifiers in a PUBLISH: both allowed, kept in order.
    decodes_to(
        "30 16 00 01 74 12 26 00 01 6b 00 01 32 26 00 01 6b 00 01 31 0b 02 0b 01",
        Packet::Publish(Publish {
            topic: "t".into(),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            dup: false,
            packet_id: 0,
            properties: props(vec![
                P::UserProperty("k".into(), "2".into()),
                P::UserProperty("k".into(), "1".into()),
                P::SubscriptionIdentifier(2),
                P::SubscriptionIdentifier(1),
            ]),
        }),
    );
}

const MALFORMED: u8 = reason::MALFORMED_PACKET;
const PROTOCOL_ERROR: u8 = reason::PROTOCOL_ERROR;

/// Frames that break a rule: the bytes, the reason code the spec gives
/// and a word the error message must contain.
pub(super) const MALFORMED_CASES: &[(&str, u8, &str)] = &[
    // Session Expiry Interval in PUBACK: not allowed there.
    (
        "40 09 00 01 00 05 11 00 00 00 01",
        MALFORMED,
        "not allowed in PUBACK",
    ),
    // Will Delay Interval in CONNECT's own properties.
    (
        "10 12 00 04 4d 51 54 54 05 02 00 3c 05 18 00 00 00 05 00 00",
        MALFORMED,
        "Will Delay Interval is not allowed in CONNECT",
    ),
    // Receive Maximum twice in CONNACK.
    (
        "20 09 00 00 06 21 00 0a 21 00 0b",
        PROTOCOL_ERROR,
        "more than once",
    ),
    // Subscription Identifier twice in SUBSCRIBE (once is the most).
    (
        "82 0b 00 01 04 0b 01 0b 02 00 01 61 00",
        PROTOCOL_ERROR,
        "more than once",
    ),
    // An identifier that does not exist (0x04).
    ("30 06 00 01 74 02 04 00", MALFORMED, "unknown property"),
    // A property block longer than the packet.
    ("30 05 00 01 74 09 01", MALFORMED, "ends inside"),
    (
        "30 06 00 01 74 02 01 02",
        PROTOCOL_ERROR,
        "Payload Format Indicator is 2",
    ),
    (
        "82 09 00 01 02 0b 00 00 01 61 00",
        PROTOCOL_ERROR,
        "Subscription Identifier 0",
    ),
    (
        "10 10 00 04 4d 51 54 54 05 02 00 3c 03 21 00 00 00 00",
        PROTOCOL_ERROR,
        "Receive Maximum is 0",
    ),
    (
        "30 07 00 01 74 03 23 00 00",
        PROTOCOL_ERROR,
        "Topic Alias is 0",
    ),
    ("20 05 00 00 02 24 02", PROTOCOL_ERROR, "Maximum QoS is 2"),
    (
        "40 03 00 01 8e",
        MALFORMED,
        "reason code 0x8e does not exist for PUBACK",
    ),
    ("62 03 00 01 10", MALFORMED, "for PUBREL"),
    ("e0 01 05", MALFORMED, "for DISCONNECT"),
    ("f0 02 01 00", MALFORMED, "for AUTH"),
    ("20 03 00 01 00", MALFORMED, "for CONNACK"),
    ("90 04 00 01 00 03", MALFORMED, "for SUBACK"),
    ("b0 04 00 01 00 02", MALFORMED, "for UNSUBACK"),
    // U+0000 in a topic name [MQTT-1.5.4-2].
    ("30 05 00 02 61 00 00", MALFORMED, "U+0000"),
    // A UTF-16 surrogate, U+D800 as ed a0 80 [MQTT-1.5.4-1].
    ("30 06 00 03 ed a0 80 00", MALFORMED, "UTF-8"),
    // A remaining length of 0 in two bytes [MQTT-1.5.5-1].
    ("c0 80 00", MALFORMED, "MQTT-1.5.5-1"),
    // A property length of 0 in two bytes.
    ("40 05 00 01 00 80 00", MALFORMED, "MQTT-1.5.5-1"),
    // A Subscription Identifier of 1 in two bytes.
    ("30 07 00 01 74 03 0b 81 00", MALFORMED, "MQTT-1.5.5-1"),
    // Bytes after the last field.
    ("c0 01 00", MALFORMED, "after its last field"),
    ("20 04 00 00 00 00", MALFORMED, "after its last field"),
    // A 5.0 CONNACK must carry its property length.
    ("20 02 00 00", MALFORMED, "property length"),
    ("20 03 02 00 00", MALFORMED, "reserved bits"),
    // AUTH with a reason but no property length.
    ("f0 01 00", MALFORMED, "property length"),
    // SUBSCRIBE: reserved option bits, Retain Handling 3, no filters.
    ("82 07 00 01 00 00 01 61 40", MALFORMED, "MQTT-3.8.3-5"),
    (
        "82 07 00 01 00 00 01 61 30",
        PROTOCOL_ERROR,
        "Retain Handling 3",
    ),
    ("82 03 00 01 00", PROTOCOL_ERROR, "without topic filters"),
    ("a2 03 00 01 00", PROTOCOL_ERROR, "without topic filters"),
    // An empty topic name without a Topic Alias.
    ("30 03 00 00 00", PROTOCOL_ERROR, "no Topic Alias"),
    // A will property (Will Delay Interval) in PUBLISH.
    (
        "30 09 00 01 74 05 18 00 00 00 01",
        MALFORMED,
        "not allowed in PUBLISH",
    ),
    // Topic Alias among the will properties.
    (
        "10 17 00 04 4d 51 54 54 05 06 00 3c 00 00 01 63 03 23 00 01 00 01 77 00 00",
        MALFORMED,
        "not allowed in the will properties",
    ),
    // Session Expiry Interval twice in DISCONNECT.
    (
        "e0 0c 00 0a 11 00 00 00 01 11 00 00 00 02",
        PROTOCOL_ERROR,
        "more than once",
    ),
    // Request Problem Information 2.
    (
        "10 0f 00 04 4d 51 54 54 05 02 00 3c 02 17 02 00 00",
        PROTOCOL_ERROR,
        "Request Problem Information is 2",
    ),
    // PUBREL with fixed header flags 0000 [MQTT-2.1.3-1].
    ("60 02 00 01", MALFORMED, "fixed header flags"),
    // PUBLISH with both QoS bits set.
    ("36 05 00 01 74 00 01", MALFORMED, "both QoS bits"),
];

#[test]
fn auth_is_a_reserved_type_in_3_1_1() {
    assert!(matches!(
        decode(&hex("f0 00"), LEVEL_V311),
        Err(WireError::Malformed(_))
    ));
}

#[test]
fn auth_with_reserved_flags_is_malformed_and_named_auth() {
    // [MQTT-3.15.1-1]; the message names AUTH, not "reserved type".
    refused("f1 00", MALFORMED, "AUTH with fixed header flags 0b0001");
}

#[test]
fn every_malformed_case_is_refused_with_its_reason_code() {
    for &(bytes, reason, mentions) in MALFORMED_CASES {
        refused(bytes, reason, mentions);
    }
}

#[tokio::test]
async fn a_packet_over_the_limit_is_packet_too_large() {
    let bytes = hex("30 0f 00 01 74 00 00 00 00 00 00 00 00 00 00 00 00");
    let mut reader = Reader::new(&bytes[..], Some(LEVEL_V5));
    reader.set_packet_size_max(10);
    match reader.read().await {
        Err(e) => assert_eq!(e.reason_code(), Some(reason::PACKET_TOO_LARGE), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_5_0_connect_is_read_with_its_properties_and_fixes_the_level() {
    let connect = fuzz::samples_v5().remove(0);
    let mut bytes = encode(&connect, LEVEL_V5).expect("encodes").to_vec();
    bytes.extend_from_slice(&hex("e0 01 04"));
    let (packets, error) = read_all(&bytes, None).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        packets,
        vec![
            connect,
            Packet::Disconnect(Disconnect {
                reason: Some(0x04),
                properties: Properties::default(),
            }),
        ]
    );
}

#[test]
fn the_fuzzer_runs_briefly_in_debug_mode() {
    for (level, samples) in [
        (LEVEL_V5, fuzz::samples_v5()),
        (LEVEL_V311, sample_packets()),
    ] {
        match fuzz::run(0x5eed_0005, 4000, level, &samples) {
            Ok(t) => {
                // Both outcomes must occur often, or the inputs test nothing.
                // 5.0 is strict: most mutations break a length or a rule.
                assert!(t.accepted > t.inputs / 50, "level {level}: {t:?}");
                assert!(t.refused > t.inputs / 4, "level {level}: {t:?}");
            }
            Err(e) => panic!("level {level}: {e}"),
        }
    }
}
