//! Framing: round trips, split and joined reads, EOF, size limit, cancel
//! safety, and the writer.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::*;

#[tokio::test]
async fn every_packet_type_round_trips() {
    for p in sample_packets() {
        let bytes = encode_v4(&p);
        // The broker's side reads a CONNECT first; the others at level 4.
        let level = match p {
            Packet::Connect(_) => None,
            _ => Some(LEVEL_V311),
        };
        let (packets, err) = read_all(&bytes, level).await;
        assert!(err.is_none(), "{}: {err:?}", p.type_name());
        assert_eq!(packets, vec![p]);
    }
}

#[tokio::test]
async fn connect_bytes_follow_the_spec() {
    // 3.1.1 figure 3.1.2.2 layout: name, level, flags, keep alive, payload.
    let p = Packet::Connect(Connect {
        protocol_name: "MQTT".into(),
        protocol_level: 4,
        client_id: "test".into(),
        clean: true,
        keep_alive_s: 10,
        will: Some(LastWill {
            topic: "/a".into(),
            payload: Bytes::from_static(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Default::default(),
        }),
        username: Some("rust".into()),
        password: Some(Bytes::from_static(b"mq")),
        properties: Default::default(),
    });
    let mut expected = vec![
        0x10,
        39,
        0,
        4,
        b'M',
        b'Q',
        b'T',
        b'T',
        4,
        0b1100_1110,
        0,
        10,
    ];
    for f in [&b"test"[..], b"/a", b"offline", b"rust", b"mq"] {
        expected.extend(field(f));
    }
    assert_eq!(encode_v4(&p), expected);
}

#[tokio::test]
async fn many_packets_in_one_read_and_one_byte_per_read_agree() {
    let samples = sample_packets();
    let mut stream = Vec::new();
    for p in &samples {
        stream.extend(encode_v4(p));
    }
    let (joined, err) = read_all(&stream, Some(LEVEL_V311)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(joined, samples);

    let mut reader = Reader::new(Trickle::new(stream), Some(LEVEL_V311));
    let mut trickled = Vec::new();
    while let Some(p) = reader.read().await.expect("valid stream") {
        trickled.push(p);
    }
    assert_eq!(trickled, samples);
}

#[tokio::test]
async fn packets_through_a_tiny_duplex_pipe() {
    // A 3-byte pipe splits every frame across many reads, and the writer
    // blocks until the reader drains it.
    let (client, server) = tokio::io::duplex(3);
    let samples = sample_packets();
    let sent = samples.clone();
    let writer = tokio::spawn(async move {
        let mut w = Writer::new(client, LEVEL_V311);
        for p in &sent {
            w.write(p).await?;
        }
        w.shutdown().await
    });
    let mut reader = Reader::new(server, Some(LEVEL_V311));
    let mut got = Vec::new();
    while let Some(p) = reader.read().await.expect("valid stream") {
        got.push(p);
    }
    assert_eq!(got, samples);
    writer.await.expect("writer task").expect("writes");
}

#[tokio::test]
async fn clean_eof_is_none() {
    assert!(matches!(read_first(&[], Some(LEVEL_V311)).await, Ok(None)));
    assert!(matches!(read_first(&[], None).await, Ok(None)));
    let (packets, err) = read_all(&[0xd0, 0x00], Some(LEVEL_V311)).await;
    assert_eq!(packets, vec![Packet::PingResp]);
    assert!(err.is_none());
}

#[tokio::test]
async fn eof_inside_a_packet_is_truncated() {
    let publish = encode_v4(&sample_packets()[5]);
    let cuts = [1, 2, publish.len() - 1];
    for cut in cuts {
        let r = read_first(&publish[..cut], Some(LEVEL_V311)).await;
        assert!(
            matches!(r, Err(WireError::Truncated)),
            "cut at {cut}: {r:?}"
        );
    }
    // Inside a multi-byte remaining length.
    let r = read_first(&[0x30, 0x80], Some(LEVEL_V311)).await;
    assert!(matches!(r, Err(WireError::Truncated)), "{r:?}");
    // After a whole packet.
    let mut two = vec![0xc0, 0x00];
    two.extend_from_slice(&publish[..3]);
    let (packets, err) = read_all(&two, Some(LEVEL_V311)).await;
    assert_eq!(packets, vec![Packet::PingReq]);
    assert!(matches!(err, Some(WireError::Truncated)), "{err:?}");
}

#[tokio::test]
async fn too_large_is_refused_from_the_header_alone() {
    let (mut peer, ours) = tokio::io::duplex(64);
    // A PUBLISH announcing 1,000,000 bytes; only its header is ever sent,
    // and the pipe stays open, so waiting for the body would hang.
    peer.write_all(&[0x30, 0xc0, 0x84, 0x3d])
        .await
        .expect("write");
    let mut reader = Reader::new(ours, Some(LEVEL_V311));
    reader.set_packet_size_max(1000);
    let r = tokio::time::timeout(Duration::from_secs(5), reader.read())
        .await
        .expect("refused without waiting for the body");
    match r {
        Err(WireError::TooLarge { size, max }) => {
            assert_eq!(size, 1_000_004);
            assert_eq!(max, 1000);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    drop(peer);
}

#[tokio::test]
async fn the_limit_counts_the_whole_frame() {
    let p = Packet::Publish(Publish {
        topic: "t".into(),
        payload: Bytes::from(vec![1u8; 100]),
        qos: QoS::AtMostOnce,
        retain: false,
        dup: false,
        packet_id: 0,
        properties: Default::default(),
    });
    let bytes = encode_v4(&p);
    let mut at_limit = Reader::new(&bytes[..], Some(LEVEL_V311));
    at_limit.set_packet_size_max(bytes.len());
    assert_eq!(at_limit.read().await.expect("fits"), Some(p));
    let mut below = Reader::new(&bytes[..], Some(LEVEL_V311));
    below.set_packet_size_max(bytes.len() - 1);
    assert!(matches!(
        below.read().await,
        Err(WireError::TooLarge { .. })
    ));
}

#[tokio::test]
async fn read_is_cancel_safe() {
    let p = sample_packets()[7].clone();
    let bytes = encode_v4(&p);
    let (mut peer, ours) = tokio::io::duplex(1024);
    let mut reader = Reader::new(ours, Some(LEVEL_V311));
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    peer.write_all(head).await.expect("write");
    tokio::select! {
        biased;
        r = reader.read() => panic!("half a packet was read as {r:?}"),
        _ = tokio::time::sleep(Duration::from_millis(20)) => {}
    }
    // Twice, so that a cancelled read in the middle of the buffer is tested too.
    peer.write_all(&tail[..1]).await.expect("write");
    tokio::select! {
        biased;
        r = reader.read() => panic!("part of a packet was read as {r:?}"),
        _ = tokio::time::sleep(Duration::from_millis(20)) => {}
    }
    peer.write_all(&tail[1..]).await.expect("write");
    assert_eq!(reader.read().await.expect("whole packet"), Some(p));
}

#[tokio::test]
async fn writer_sends_exactly_the_encoded_frame_and_raw_bytes() {
    let (ours, mut peer) = tokio::io::duplex(1024);
    let mut writer = Writer::new(ours, LEVEL_V311);
    let p = sample_packets()[12].clone();
    writer.write(&p).await.expect("write");
    writer.write_raw(&[0xde, 0xad]).await.expect("write_raw");
    // A packet that cannot be encoded leaves nothing on the wire.
    let bad = Packet::ConnAck(ConnAck {
        session_present: false,
        code: 0x80,
        properties: Default::default(),
    });
    assert!(matches!(
        writer.write(&bad).await,
        Err(WireError::Unsupported(_))
    ));
    writer.shutdown().await.expect("shutdown");
    let mut got = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut peer, &mut got)
        .await
        .expect("read");
    let mut expected = encode_v4(&p);
    expected.extend_from_slice(&[0xde, 0xad]);
    assert_eq!(got, expected);
}

#[tokio::test]
async fn shutdown_is_clean_eof_for_the_peer() {
    let (ours, peer) = tokio::io::duplex(64);
    let mut writer = Writer::new(ours, LEVEL_V311);
    writer.write(&Packet::PingReq).await.expect("write");
    writer.shutdown().await.expect("shutdown");
    let mut reader = Reader::new(peer, Some(LEVEL_V311));
    assert_eq!(reader.read().await.expect("ping"), Some(Packet::PingReq));
    assert_eq!(reader.read().await.expect("eof"), None);
}

#[tokio::test]
async fn a_packet_larger_than_the_buffer_steps_arrives_whole() {
    // Bigger than READ_RESERVE_MAX_BYTES, so the buffer grows several times.
    let p = Packet::Publish(Publish {
        topic: "big".into(),
        payload: Bytes::from((0..200_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>()),
        qos: QoS::AtLeastOnce,
        retain: false,
        dup: false,
        packet_id: 9,
        properties: Default::default(),
    });
    let (ours, theirs) = tokio::io::duplex(1000);
    let sent = p.clone();
    let writer = tokio::spawn(async move {
        let mut w = Writer::new(theirs, LEVEL_V311);
        w.write(&sent).await?;
        w.write(&Packet::PingReq).await
    });
    let mut reader = Reader::new(ours, Some(LEVEL_V311));
    assert_eq!(reader.read().await.expect("big"), Some(p));
    assert_eq!(reader.read().await.expect("ping"), Some(Packet::PingReq));
    writer.await.expect("writer task").expect("writes");
}

/// The start of a PUBLISH announcing `frame` bytes (3.1.1, QoS 0, topic
/// `t`), `sent` bytes of it in all.
fn unfinished_publish(frame: usize, sent: usize) -> Vec<u8> {
    let mut remaining = frame - 4;
    let mut bytes = vec![0x30];
    for _ in 0..3 {
        bytes.push((remaining % 128) as u8 | if remaining >= 128 { 0x80 } else { 0 });
        remaining /= 128;
    }
    bytes.extend_from_slice(&[0, 1, b't']);
    bytes.resize(sent, b'x');
    bytes
}

#[tokio::test]
async fn room_for_an_unfinished_packet_grows_with_its_bytes_within_a_shared_budget() {
    const FRAME: usize = 1_000_000;
    let budget = ReadBudget::new(1_500_000);
    let read_part = |sent: usize| {
        let budget = budget.clone();
        async move {
            let (mut peer, ours) = tokio::io::duplex(1 << 20);
            peer.write_all(&unfinished_publish(FRAME, sent))
                .await
                .unwrap();
            let mut reader = Reader::new(ours, Some(LEVEL_V311));
            reader.set_budget(budget);
            // The rest never comes: the read waits, or fails at once.
            let r = tokio::time::timeout(Duration::from_millis(100), reader.read()).await;
            (r, reader, peer)
        }
    };
    // 100 KB of a 1 MB packet: the room made is far from the whole packet.
    let (r, small, _p1) = read_part(100_000).await;
    assert!(r.is_err(), "still waiting for the rest");
    let held = budget.held();
    assert!((100_000..300_000).contains(&held), "{held}");
    // 900 KB of it: room for the packet, not beyond it.
    let (r, big, _p2) = read_part(900_000).await;
    assert!(r.is_err(), "still waiting for the rest");
    assert!(budget.held() - held <= FRAME, "{}", budget.held());
    // A third one would pass the budget: refused, and it holds nothing.
    let (r, third, _p3) = read_part(900_000).await;
    match r {
        Ok(Err(WireError::OverBudget { max, .. })) => assert_eq!(max, 1_500_000),
        other => panic!("expected OverBudget, got {other:?}"),
    }
    // Readers dropped give their room back.
    drop((small, big, third));
    assert_eq!(budget.held(), 0);
}
