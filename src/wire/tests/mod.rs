//! Tests of the wire module. Helpers shared by the test files live here.

mod defects;
mod encoding;
mod framing;
mod malformed;
mod protocol;
mod robustness;
mod v5;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, ReadBuf};

use super::*;

/// One of every packet type, and the variants of each that change its bytes.
pub(super) fn sample_packets() -> Vec<Packet> {
    let connect = Connect {
        protocol_name: "MQTT".into(),
        protocol_level: LEVEL_V311,
        client_id: "dev-1".into(),
        clean: true,
        keep_alive_s: 30,
        will: None,
        username: None,
        password: None,
        properties: Default::default(),
    };
    vec![
        Packet::Connect(connect.clone()),
        Packet::Connect(Connect {
            clean: false,
            keep_alive_s: 0,
            client_id: String::new(),
            will: Some(LastWill {
                topic: "dev/1/status".into(),
                payload: Bytes::from_static(b"offline"),
                qos: QoS::ExactlyOnce,
                retain: true,
                properties: Default::default(),
            }),
            // Empty strings and a binary password are legal in 3.1.1 and
            // exactly what mqttbytes' v4 CONNECT loses.
            username: Some(String::new()),
            password: Some(Bytes::from_static(&[0xff, 0x00, 0xfe])),
            ..connect.clone()
        }),
        Packet::Connect(Connect {
            will: Some(LastWill {
                topic: "w".into(),
                payload: Bytes::new(),
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: Default::default(),
            }),
            username: Some("user".into()),
            ..connect
        }),
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: connack_code::ACCEPTED,
            properties: Default::default(),
        }),
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: connack_code::NOT_AUTHORIZED,
            properties: Default::default(),
        }),
        Packet::Publish(Publish {
            topic: "a/b".into(),
            payload: Bytes::from_static(b"hello"),
            qos: QoS::AtMostOnce,
            retain: false,
            dup: false,
            packet_id: 0,
            properties: Default::default(),
        }),
        Packet::Publish(Publish {
            topic: "a/\u{e9}t\u{e9}".into(),
            payload: Bytes::new(),
            qos: QoS::AtLeastOnce,
            retain: true,
            dup: true,
            packet_id: 1,
            properties: Default::default(),
        }),
        Packet::Publish(Publish {
            topic: "x".into(),
            payload: Bytes::from(vec![7u8; 300]),
            qos: QoS::ExactlyOnce,
            retain: false,
            dup: false,
            packet_id: u16::MAX,
            properties: Default::default(),
        }),
        Packet::PubAck(Ack::new(1)),
        Packet::PubRec(Ack::new(2)),
        Packet::PubRel(Ack::new(3)),
        Packet::PubComp(Ack::new(u16::MAX)),
        Packet::Subscribe(Subscribe {
            packet_id: 10,
            filters: vec![
                SubscribeFilter::new("a/+", QoS::AtMostOnce),
                SubscribeFilter::new("#", QoS::AtLeastOnce),
                SubscribeFilter::new("a/b/c", QoS::ExactlyOnce),
            ],
            properties: Default::default(),
        }),
        Packet::SubAck(SubAck {
            packet_id: 10,
            codes: vec![0, 1, 2, 0x80],
            properties: Default::default(),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 11,
            filters: vec!["a/+".into(), "#".into()],
            properties: Default::default(),
        }),
        Packet::UnsubAck(UnsubAck::new(11)),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(Disconnect {
            reason: None,
            properties: Default::default(),
        }),
    ]
}

/// Every packet read from `bytes` until the first error or the end.
pub(super) async fn read_all(bytes: &[u8], level: Option<u8>) -> (Vec<Packet>, Option<WireError>) {
    let mut reader = Reader::new(bytes, level);
    let mut packets = Vec::new();
    loop {
        match reader.read().await {
            Ok(Some(p)) => packets.push(p),
            Ok(None) => return (packets, None),
            Err(e) => return (packets, Some(e)),
        }
    }
}

/// The first read from `bytes`.
pub(super) async fn read_first(
    bytes: &[u8],
    level: Option<u8>,
) -> Result<Option<Packet>, WireError> {
    Reader::new(bytes, level).read().await
}

pub(super) fn encode_v4(p: &Packet) -> Vec<u8> {
    match encode(p, LEVEL_V311) {
        Ok(b) => b.to_vec(),
        Err(e) => panic!("{} does not encode: {e}", p.type_name()),
    }
}

/// A frame from a first byte and a body, with the remaining length computed.
pub(super) fn frame(byte1: u8, body: &[u8]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    header::write(&mut out, byte1, body.len()).expect("test bodies are small");
    out.extend_from_slice(body);
    out.to_vec()
}

/// A length-prefixed field.
pub(super) fn field(bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(bytes.len()).expect("test fields are small");
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A CONNECT frame: protocol name and level, flags, keep alive 10, then
/// the payload as given.
pub(super) fn connect_frame(name: &[u8], level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = field(name);
    body.push(level);
    body.push(flags);
    body.extend_from_slice(&[0, 10]);
    body.extend_from_slice(payload);
    frame(0x10, &body)
}

/// A valid minimal CONNECT with client id "c".
pub(super) fn connect_ok() -> Vec<u8> {
    connect_frame(b"MQTT", 4, 0b10, &field(b"c"))
}

/// Hands out its bytes one at a time, and is not ready every other poll, so
/// a reader sees the worst a network can do.
pub(super) struct Trickle {
    bytes: Vec<u8>,
    at: usize,
    ready: bool,
}

impl Trickle {
    pub(super) fn new(bytes: Vec<u8>) -> Self {
        Trickle {
            bytes,
            at: 0,
            ready: false,
        }
    }
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = false;
        if let Some(&b) = self.bytes.get(self.at) {
            buf.put_slice(&[b]);
            self.at += 1;
        }
        Poll::Ready(Ok(()))
    }
}
