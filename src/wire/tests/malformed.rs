//! Every well-formedness rule the reader enforces: each case must give
//! `Malformed` naming its rule, not a packet and not a panic.

use super::*;

const V4: Option<u8> = Some(LEVEL_V311);

/// (what, bytes, reader level, text the message must contain)
fn cases() -> Vec<(&'static str, Vec<u8>, Option<u8>, &'static str)> {
    let sub_body = |id: [u8; 2], filter: &[u8], options: u8| {
        let mut b = id.to_vec();
        b.extend(field(filter));
        b.push(options);
        b
    };
    let publish = |byte1: u8, topic: &[u8], id: Option<u16>| {
        let mut b = field(topic);
        if let Some(id) = id {
            b.extend(id.to_be_bytes());
        }
        b.extend_from_slice(b"payload");
        frame(byte1, &b)
    };
    let unsub = |id: [u8; 2], filter: &[u8]| {
        let mut b = id.to_vec();
        b.extend(field(filter));
        frame(0xa2, &b)
    };
    let will = [field(b"w"), field(b"m")].concat();
    let c = field(b"c");
    vec![
        // [MQTT-3.3.1-2]: DUP=1 on a QoS 0 PUBLISH.
        (
            "QoS 0 PUBLISH with DUP",
            publish(0x38, b"t", None),
            V4,
            "MQTT-3.3.1-2",
        ),
        // [MQTT-2.3.1-1]: packet identifier 0 in an acknowledgement.
        ("PUBACK id 0", vec![0x40, 2, 0, 0], V4, "MQTT-2.3.1-1"),
        ("PUBREC id 0", vec![0x50, 2, 0, 0], V4, "MQTT-2.3.1-1"),
        ("PUBREL id 0", vec![0x62, 2, 0, 0], V4, "MQTT-2.3.1-1"),
        ("PUBCOMP id 0", vec![0x70, 2, 0, 0], V4, "MQTT-2.3.1-1"),
        // [MQTT-4.7.3-1]: an empty topic filter in SUBSCRIBE.
        (
            "SUBSCRIBE empty filter",
            frame(0x82, &sub_body([0, 1], b"", 0)),
            V4,
            "MQTT-4.7.3-1",
        ),
        // [MQTT-2.2.2-1/2]: reserved flag bits.
        (
            "SUBSCRIBE flags 0",
            frame(0x80, &sub_body([0, 1], b"a", 0)),
            V4,
            "MQTT-2.2.2-1",
        ),
        (
            "SUBSCRIBE flags 3",
            frame(0x83, &sub_body([0, 1], b"a", 0)),
            V4,
            "MQTT-2.2.2-1",
        ),
        (
            "UNSUBSCRIBE flags 0",
            frame(0xa0, &[[0, 1].to_vec(), field(b"a")].concat()),
            V4,
            "MQTT-2.2.2-1",
        ),
        ("PUBREL flags 0", vec![0x60, 2, 0, 1], V4, "MQTT-2.2.2-1"),
        ("PUBACK flags 1", vec![0x41, 2, 0, 1], V4, "MQTT-2.2.2-1"),
        ("PUBCOMP flags 2", vec![0x72, 2, 0, 1], V4, "MQTT-2.2.2-1"),
        ("PINGREQ flags 8", vec![0xc8, 0], V4, "MQTT-2.2.2-1"),
        ("DISCONNECT flags 1", vec![0xe1, 0], V4, "MQTT-2.2.2-1"),
        ("CONNACK flags 2", vec![0x22, 2, 0, 0], V4, "MQTT-2.2.2-1"),
        (
            "CONNECT flags 1",
            {
                let mut f = connect_ok();
                f[0] = 0x11;
                f
            },
            None,
            "MQTT-2.2.2-1",
        ),
        (
            "reserved type 0",
            vec![0x00, 0],
            V4,
            "reserved packet type 0",
        ),
        (
            "reserved type 15",
            vec![0xf0, 0],
            V4,
            "reserved packet type 15",
        ),
        // [MQTT-3.3.1-4]
        (
            "PUBLISH QoS 3",
            publish(0x36, b"t", Some(1)),
            V4,
            "MQTT-3.3.1-4",
        ),
        // CONNECT flags.
        (
            "CONNECT reserved bit",
            connect_frame(b"MQTT", 4, 0b11, &c),
            None,
            "MQTT-3.1.2-3",
        ),
        (
            "will QoS without will",
            connect_frame(b"MQTT", 4, 0b0000_1010, &c),
            None,
            "MQTT-3.1.2-13",
        ),
        (
            "will retain without will",
            connect_frame(b"MQTT", 4, 0b0010_0010, &c),
            None,
            "MQTT-3.1.2-15",
        ),
        (
            "will QoS 3",
            connect_frame(b"MQTT", 4, 0b0001_1110, &[c.clone(), will.clone()].concat()),
            None,
            "MQTT-3.1.2-14",
        ),
        (
            "password without user name",
            connect_frame(b"MQTT", 4, 0b0100_0010, &[c.clone(), field(b"pw")].concat()),
            None,
            "MQTT-3.1.2-22",
        ),
        (
            "CONNECT trailing bytes",
            connect_frame(b"MQTT", 4, 0b10, &[c.clone(), vec![0]].concat()),
            None,
            "after its last field",
        ),
        (
            "CONNECT missing will",
            connect_frame(b"MQTT", 4, 0b110, &c),
            None,
            "will topic",
        ),
        // [MQTT-1.5.3-1]: ill-formed UTF-8, including an encoded surrogate.
        (
            "PUBLISH topic 0xff",
            publish(0x30, b"a\xff", None),
            V4,
            "MQTT-1.5.3-1",
        ),
        (
            "PUBLISH topic surrogate",
            publish(0x30, b"\xed\xa0\x80", None),
            V4,
            "MQTT-1.5.3-1",
        ),
        (
            "CONNECT client id overlong",
            connect_frame(b"MQTT", 4, 0b10, &field(b"\xc0\xaf")),
            None,
            "MQTT-1.5.3-1",
        ),
        (
            "CONNECT user name bad",
            connect_frame(
                b"MQTT",
                4,
                0b1000_0010,
                &[c.clone(), field(b"\xff")].concat(),
            ),
            None,
            "MQTT-1.5.3-1",
        ),
        (
            "SUBSCRIBE filter bad",
            frame(0x82, &sub_body([0, 1], b"\xfe", 0)),
            V4,
            "MQTT-1.5.3-1",
        ),
        (
            "UNSUBSCRIBE filter bad",
            unsub([0, 1], b"\x80"),
            V4,
            "MQTT-1.5.3-1",
        ),
        // [MQTT-1.5.3-2]: U+0000.
        (
            "PUBLISH topic NUL",
            publish(0x30, b"a\0b", None),
            V4,
            "MQTT-1.5.3-2",
        ),
        (
            "CONNECT client id NUL",
            connect_frame(b"MQTT", 4, 0b10, &field(b"\0")),
            None,
            "MQTT-1.5.3-2",
        ),
        (
            "will topic NUL",
            connect_frame(
                b"MQTT",
                4,
                0b110,
                &[c.clone(), field(b"w\0"), field(b"m")].concat(),
            ),
            None,
            "MQTT-1.5.3-2",
        ),
        (
            "SUBSCRIBE filter NUL",
            frame(0x82, &sub_body([0, 1], b"\0", 0)),
            V4,
            "MQTT-1.5.3-2",
        ),
        (
            "UNSUBSCRIBE filter NUL",
            unsub([0, 1], b"a\0"),
            V4,
            "MQTT-1.5.3-2",
        ),
        // [MQTT-2.3.1-1]
        (
            "SUBSCRIBE id 0",
            frame(0x82, &sub_body([0, 0], b"a", 0)),
            V4,
            "MQTT-2.3.1-1",
        ),
        ("UNSUBSCRIBE id 0", unsub([0, 0], b"a"), V4, "MQTT-2.3.1-1"),
        (
            "PUBLISH QoS 1 id 0",
            publish(0x32, b"t", Some(0)),
            V4,
            "MQTT-2.3.1-1",
        ),
        (
            "PUBLISH QoS 2 id 0",
            publish(0x34, b"t", Some(0)),
            V4,
            "MQTT-2.3.1-1",
        ),
        // [MQTT-3.8.3-3] [MQTT-3.10.3-2]
        (
            "SUBSCRIBE no filters",
            vec![0x82, 2, 0, 1],
            V4,
            "MQTT-3.8.3-3",
        ),
        (
            "UNSUBSCRIBE no filters",
            vec![0xa2, 2, 0, 1],
            V4,
            "MQTT-3.10.3-2",
        ),
        // [MQTT-3-8.3-4]
        (
            "SUBSCRIBE QoS 3",
            frame(0x82, &sub_body([0, 1], b"a", 3)),
            V4,
            "MQTT-3-8.3-4",
        ),
        (
            "SUBSCRIBE reserved bit",
            frame(0x82, &sub_body([0, 1], b"a", 0b0000_0101)),
            V4,
            "MQTT-3-8.3-4",
        ),
        (
            "SUBSCRIBE top bit",
            frame(0x82, &sub_body([0, 1], b"a", 0x80)),
            V4,
            "MQTT-3-8.3-4",
        ),
        // [MQTT-3.3.2-2] [MQTT-4.7.3-1]
        (
            "PUBLISH topic +",
            publish(0x30, b"a/+", None),
            V4,
            "MQTT-3.3.2-2",
        ),
        (
            "PUBLISH topic #",
            publish(0x32, b"#", Some(5)),
            V4,
            "MQTT-3.3.2-2",
        ),
        (
            "PUBLISH empty topic",
            publish(0x30, b"", None),
            V4,
            "MQTT-4.7.3-1",
        ),
        (
            "UNSUBSCRIBE empty filter",
            frame(0xa2, &[0, 1, 0, 0]),
            V4,
            "MQTT-4.7.3-1",
        ),
        // Remaining length.
        (
            "remaining length of 5 bytes",
            vec![0x30, 0xff, 0xff, 0xff, 0xff, 0x01],
            V4,
            "more than 4 bytes",
        ),
        (
            "5-byte length, CONNECT first",
            vec![0x10, 0x80, 0x80, 0x80, 0x80, 0x00],
            None,
            "more than 4 bytes",
        ),
        // Sizes fixed by the spec, where mqttbytes ignores the excess.
        (
            "PUBACK with 3 bytes",
            vec![0x40, 3, 0, 1, 0],
            V4,
            "remaining length 3",
        ),
        (
            "PINGREQ with a body",
            vec![0xc0, 1, 0],
            V4,
            "remaining length 1",
        ),
        (
            "DISCONNECT with a body",
            vec![0xe0, 1, 0],
            V4,
            "remaining length 1",
        ),
        (
            "UNSUBACK with 1 byte",
            vec![0xb0, 1, 0],
            V4,
            "remaining length 1",
        ),
        (
            "CONNACK reserved flags",
            vec![0x20, 2, 0x02, 0],
            V4,
            "reserved bits",
        ),
        // Fields that run past the end, caught by mqttbytes.
        (
            "SUBSCRIBE filter past end",
            vec![0x82, 5, 0, 1, 0, 9, b'a'],
            V4,
            "topic filter",
        ),
        (
            "SUBSCRIBE missing QoS",
            frame(0x82, &[[0, 1].to_vec(), field(b"a")].concat()),
            V4,
            "requested QoS",
        ),
        (
            "CONNACK return code 6",
            vec![0x20, 2, 0, 6],
            V4,
            "return code",
        ),
        (
            "SUBACK return code 3",
            vec![0x90, 3, 0, 1, 3],
            V4,
            "return code",
        ),
        (
            "PUBLISH short topic length",
            vec![0x30, 1, 0],
            V4,
            "ends before",
        ),
    ]
}

#[tokio::test]
async fn each_malformed_packet_is_refused_with_its_rule() {
    for (what, bytes, level, rule) in cases() {
        match read_first(&bytes, level).await {
            Err(WireError::Malformed(m)) => {
                assert!(
                    m.contains(rule),
                    "{what}: message {m:?} does not name {rule:?}"
                )
            }
            other => panic!("{what}: expected Malformed naming {rule}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn malformed_packets_are_refused_one_byte_at_a_time_too() {
    for (what, bytes, level, _) in cases() {
        let mut reader = Reader::new(Trickle::new(bytes), level);
        let r = reader.read().await;
        assert!(matches!(r, Err(WireError::Malformed(_))), "{what}: {r:?}");
    }
}

#[tokio::test]
async fn the_valid_neighbours_of_the_cases_are_accepted() {
    // Guards against checks that refuse too much.
    let valid: Vec<(Vec<u8>, Option<u8>)> = vec![
        (
            frame(0x82, &[[0, 1].to_vec(), field(b"a/#"), vec![2]].concat()),
            V4,
        ),
        (vec![0x62, 2, 0, 1], V4),
        (frame(0x3b, &[field(b"a/b"), vec![0, 1]].concat()), V4),
        (
            connect_frame(
                b"MQTT",
                4,
                0b1111_0110,
                &[
                    field(b"c"),
                    field(b"w"),
                    field(b"m"),
                    field(b"u"),
                    field(b"p"),
                ]
                .concat(),
            ),
            None,
        ),
        (
            connect_frame(
                b"MQTT",
                4,
                0b1100_0000,
                &[field(b""), field(b""), field(b"")].concat(),
            ),
            None,
        ),
        // U+FEFF must be kept [MQTT-1.5.3-3].
        (frame(0x30, &field("\u{feff}t".as_bytes())), V4),
    ];
    for (bytes, level) in valid {
        let r = read_first(&bytes, level).await;
        assert!(matches!(r, Ok(Some(_))), "{bytes:02x?}: {r:?}");
    }
    let bom = read_first(&frame(0x30, &field("\u{feff}t".as_bytes())), V4).await;
    match bom {
        Ok(Some(Packet::Publish(p))) => assert_eq!(p.topic, "\u{feff}t"),
        other => panic!("{other:?}"),
    }
}
