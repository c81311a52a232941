//! The broker's side: CONNECT first, and the protocol name and level.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::*;

#[tokio::test]
async fn a_first_packet_other_than_connect_is_refused() {
    for first in [
        vec![0x30, 3, 0, 1, b't'],
        vec![0xc0, 0],
        vec![0x20, 2, 0, 0],
    ] {
        match read_first(&first, None).await {
            Err(WireError::Malformed(m)) => assert!(m.contains("MQTT-3.1.0-1"), "{m}"),
            other => panic!("{first:02x?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_first_byte_is_enough_to_refuse() {
    let (mut peer, ours) = tokio::io::duplex(64);
    peer.write_all(&[0x30]).await.expect("write");
    let mut reader = Reader::new(ours, None);
    let r = tokio::time::timeout(Duration::from_secs(5), reader.read())
        .await
        .expect("refused without waiting for more bytes");
    assert!(matches!(r, Err(WireError::Malformed(_))), "{r:?}");
    drop(peer);
}

#[tokio::test]
async fn connect_fixes_the_level() {
    let mut stream = connect_ok();
    stream.extend_from_slice(&[0xc0, 0]);
    let mut reader = Reader::new(&stream[..], None);
    assert_eq!(reader.level(), None);
    assert!(matches!(reader.read().await, Ok(Some(Packet::Connect(_)))));
    assert_eq!(reader.level(), Some(LEVEL_V311));
    assert_eq!(reader.read().await.expect("ping"), Some(Packet::PingReq));
}

#[tokio::test]
async fn a_second_connect_is_not_a_wire_error() {
    let stream = [connect_ok(), connect_ok()].concat();
    let (packets, err) = read_all(&stream, None).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(packets.len(), 2);
    assert!(packets.iter().all(|p| matches!(p, Packet::Connect(_))));
}

#[tokio::test]
async fn unacceptable_protocols_are_reported_with_name_and_level() {
    let cases: [(&[u8], u8); 6] = [
        (b"MQTT", 3),
        (b"MQTT", 6),
        (b"MQTT", 0),
        (b"MQIsdp", 3),
        (b"MQTX", 4),
        (b"", 4),
    ];
    for (name, level) in cases {
        let bytes = connect_frame(name, level, 0b10, &field(b"c"));
        for reader_level in [None, Some(LEVEL_V311)] {
            match read_first(&bytes, reader_level).await {
                Err(WireError::UnacceptableProtocol { name: n, level: l }) => {
                    assert_eq!(n.as_bytes(), name);
                    assert_eq!(l, level);
                }
                other => panic!("{name:?}/{level}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_connect_too_short_for_its_protocol_is_malformed() {
    for body in [
        vec![],
        vec![0],
        vec![0, 4, b'M', b'Q', b'T', b'T'],
        vec![0, 9, b'M'],
    ] {
        let r = read_first(&frame(0x10, &body), None).await;
        assert!(
            matches!(r, Err(WireError::Malformed(_))),
            "{body:02x?}: {r:?}"
        );
    }
    let bad_name = connect_frame(b"MQ\xffT", 4, 0b10, &field(b"c"));
    match read_first(&bad_name, None).await {
        Err(WireError::Malformed(m)) => assert!(m.contains("MQTT-1.5.3-1"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn levels_other_than_4_and_5_are_not_implemented() {
    let r = read_first(&[0xc0, 0], Some(3)).await;
    assert!(matches!(r, Err(WireError::Unsupported(_))), "{r:?}");
    assert!(matches!(
        encode(&Packet::PingReq, 3),
        Err(WireError::Unsupported(_))
    ));
}
