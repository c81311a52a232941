//! mqttbytes 0.6's defects (docs/wire.md, "Dependencies"), each asserted still present, so that
//! an upgrade that fixes one shows up here and whoever adds v5 knows what to
//! work around. The v4 ones are paired with the proof that we work around it.

use bytes::BytesMut;
use mqttbytes::{v4, v5};

use super::*;

#[test]
fn v5_disconnect_with_remaining_length_0_fails() {
    // `e0 00` is a valid 5.0 DISCONNECT (reason 0x00, no properties).
    let mut buf = BytesMut::from(&[0xe0, 0x00][..]);
    assert_eq!(
        v5::read(&mut buf, 1024),
        Err(mqttbytes::Error::PayloadRequired)
    );
}

#[test]
fn v5_disconnect_with_reason_only_fails_after_consuming_the_frame() {
    // `e0 01 8e` is a valid 5.0 DISCONNECT (session taken over).
    let mut buf = BytesMut::from(&[0xe0, 0x01, 0x8e, 0xc0, 0x00][..]);
    let r = v5::read(&mut buf, 1024);
    assert!(
        matches!(r, Err(mqttbytes::Error::InsufficientBytes(_))),
        "{r:?}"
    );
    // The frame is gone although the error says "wait for more bytes".
    assert_eq!(&buf[..], &[0xc0, 0x00]);
}

/// mqttbytes' v5 UNSUBSCRIBE reader runs `dbg!(pkid)`, printing a line to
/// stderr on every read (in its v5 unsubscribe module). Capturing stderr in-process
/// would need fd redirection, so this test only drives that code path; run
/// it with `--nocapture` to see its `pkid = 7` line.
#[test]
fn v5_unsubscribe_read_prints_a_dbg_line() {
    // pkid 7, properties length 0, filter "a".
    let mut buf = BytesMut::from(&[0xa2, 0x06, 0x00, 0x07, 0x00, 0x00, 0x01, b'a'][..]);
    match v5::read(&mut buf, 1024) {
        Ok(v5::Packet::Unsubscribe(u)) => assert_eq!(u.pkid, 7),
        other => panic!("{other:?}"),
    }
}

/// Calls `is_error` as an inherent method when `T: std::error::Error`, and
/// falls back to the trait's `false` otherwise.
struct Probe<T>(std::marker::PhantomData<T>);
trait NotError {
    fn is_error(&self) -> bool {
        false
    }
}
impl<T> NotError for Probe<T> {}
impl<T: std::error::Error> Probe<T> {
    fn is_error(&self) -> bool {
        true
    }
}

#[test]
fn mqttbytes_error_is_not_a_std_error() {
    assert!(!Probe::<mqttbytes::Error>(std::marker::PhantomData).is_error());
    assert!(Probe::<WireError>(std::marker::PhantomData).is_error());
}

#[test]
fn write_leaves_partial_bytes_on_error() {
    let mut buf = BytesMut::new();
    let mut p = v4::Publish::new("topic", mqttbytes::QoS::AtLeastOnce, b"x".to_vec());
    p.pkid = 0;
    assert_eq!(p.write(&mut buf), Err(mqttbytes::Error::PacketIdZero));
    assert!(!buf.is_empty(), "the header and topic stay in the buffer");
}

#[test]
fn write_returns_unreliable_lengths() {
    let mut buf = BytesMut::new();
    let n = v4::Connect::new("c").write(&mut buf).expect("encodes");
    assert_ne!(
        n,
        buf.len(),
        "CONNECT returns its remaining length, not its size"
    );
}

#[test]
fn strings_over_65535_bytes_are_silently_truncated() {
    let mut buf = BytesMut::new();
    let topic = "x".repeat(65_536 + 3);
    v4::Publish::new(topic, mqttbytes::QoS::AtMostOnce, Vec::new())
        .write(&mut buf)
        .expect("encodes");
    // Remaining length takes 3 bytes here; the topic's prefix says 3.
    assert_eq!(&buf[4..6], &[0, 3]);
    let ours = encode(
        &Packet::Publish(Publish {
            topic: "x".repeat(65_536 + 3),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            dup: false,
            packet_id: 0,
            properties: Default::default(),
        }),
        LEVEL_V311,
    );
    assert!(matches!(ours, Err(WireError::Unsupported(_))));
}

#[tokio::test]
async fn decoding_is_lenient_and_we_are_not() {
    let cases: Vec<Vec<u8>> = vec![
        // SUBSCRIBE with packet id 0 and no filters.
        vec![0x82, 0x02, 0x00, 0x00],
        // PUBLISH to a topic with a wildcard.
        frame(0x30, &field(b"a/#")),
        // Reserved flag bits.
        vec![0x80, 0x02, 0x00, 0x01],
        // PINGREQ with a body.
        vec![0xc0, 0x01, 0x00],
    ];
    for bytes in cases {
        let mut buf = BytesMut::from(&bytes[..]);
        assert!(
            v4::read(&mut buf, 1024).is_ok(),
            "mqttbytes now refuses {bytes:02x?}"
        );
        let r = read_first(&bytes, Some(LEVEL_V311)).await;
        assert!(
            matches!(r, Err(WireError::Malformed(_))),
            "{bytes:02x?}: {r:?}"
        );
    }
}

#[tokio::test]
async fn v4_connect_accepts_level_5_and_loses_logins() {
    // A v4 CONNECT body at level 5.
    let level_5 = connect_frame(b"MQTT", 5, 0b10, &field(b"c"));
    let mut buf = BytesMut::from(&level_5[..]);
    match v4::read(&mut buf, 1024) {
        Ok(v4::Packet::Connect(c)) => assert_eq!(c.protocol, mqttbytes::Protocol::V5),
        other => panic!("{other:?}"),
    }
    // Ours reads level 5 as 5.0, where this body lacks its properties.
    assert!(matches!(
        read_first(&level_5, None).await,
        Err(WireError::Malformed(_))
    ));

    // An empty user name and password (legal) read as no login at all.
    let empty_login = connect_frame(
        b"MQTT",
        4,
        0b1100_0010,
        &[field(b"c"), field(b""), field(b"")].concat(),
    );
    let mut buf = BytesMut::from(&empty_login[..]);
    match v4::read(&mut buf, 1024) {
        Ok(v4::Packet::Connect(c)) => assert_eq!(c.login, None),
        other => panic!("{other:?}"),
    }
    // A binary password (legal: it is binary data) does not decode.
    let binary_password = connect_frame(
        b"MQTT",
        4,
        0b1100_0010,
        &[field(b"c"), field(b"u"), field(&[0xff])].concat(),
    );
    let mut buf = BytesMut::from(&binary_password[..]);
    assert_eq!(
        v4::read(&mut buf, 1024),
        Err(mqttbytes::Error::TopicNotUtf8)
    );
    // Ours keeps both.
    match read_first(&empty_login, None).await {
        Ok(Some(Packet::Connect(c))) => {
            assert_eq!(c.username.as_deref(), Some(""));
            assert_eq!(c.password.as_deref(), Some(&b""[..]));
        }
        other => panic!("{other:?}"),
    }
    match read_first(&binary_password, None).await {
        Ok(Some(Packet::Connect(c))) => assert_eq!(c.password.as_deref(), Some(&[0xff][..])),
        other => panic!("{other:?}"),
    }
}
