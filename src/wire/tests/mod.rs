//! Tests of the wire module. Helpers shared by the test files live here.

mod candidates;
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

/// One of every 3.1.1 packet type, and the variants of each that change
/// its bytes.
pub(super) fn sample_packets() -> Vec<Packet> {
    fuzz::samples_v4()
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
