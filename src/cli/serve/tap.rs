//! A tap on one accepted connection: it passes every byte through unchanged
//! and decodes a copy, so that `serve` can log the connection's life (its
//! CONNECT, the CONNACK it got, how it closed) without the broker knowing.
//!
//! The broker reports what it decides through notes; what a client sent is
//! on the wire only, and this is where the wire is read a second time.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use mqtt_sim::packet_json::reason;
use mqtt_sim::trace::render;
use mqtt_sim::wire::{self, Connect, LEVEL_V5, LEVEL_V311, Packet, Reader};

/// Where a tap's lines go: `serve` prefixes each with a timestamp.
pub type Log = Rc<dyn Fn(String)>;

/// Bytes handed to a [`Reader`] by hand. Its reads are pending while it is
/// empty, so a read polled once stops where the bytes run out.
#[derive(Clone, Default)]
struct Feed(Rc<RefCell<VecDeque<u8>>>);

impl AsyncRead for Feed {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut q = self.0.borrow_mut();
        if q.is_empty() {
            return Poll::Pending;
        }
        let n = q.len().min(buf.remaining());
        let (a, b) = q.as_slices();
        let from_a = n.min(a.len());
        buf.put_slice(a.get(..from_a).unwrap_or_default());
        buf.put_slice(b.get(..n - from_a).unwrap_or_default());
        q.drain(..n);
        Poll::Ready(Ok(()))
    }
}

/// The largest frame the inbound mirror decodes; larger ones are skipped
/// without being buffered (a CONNECT among them is logged by its size).
/// The tap logs only CONNECT and DISCONNECT, and decoding every frame kept
/// a second copy of each unfinished packet: with this bound the tap holds
/// at most this much per connection, whatever the broker's packet limit.
const TAP_FRAME_MAX_BYTES: usize = 64 * 1024;

/// A decoder for one direction of a connection. Its memory is bounded by
/// the [`Reader`]'s packet size limit: the feed is drained on every push.
/// With `only` set, it decodes only frames of those packet types within
/// `TAP_FRAME_MAX_BYTES` and skips the rest as their bytes pass.
struct Mirror {
    feed: Feed,
    reader: Reader<Feed>,
    only: Option<&'static [u8]>,
    /// The fixed header of the next frame, while it is incomplete.
    head: Vec<u8>,
    /// Bytes left of the current frame, and whether they are decoded.
    left: usize,
    keep: bool,
}

/// What one direction's decoder made of new bytes.
enum Decoded {
    Packet(Packet),
    /// A frame of this type and size was skipped, not decoded.
    Skipped(u8, usize),
    /// Undecodable: stop mirroring this direction; the broker decides what
    /// the connection's fate is and says so in a note.
    Failed(String),
}

impl Mirror {
    fn new(level: Option<u8>) -> Mirror {
        let feed = Feed::default();
        Mirror {
            reader: Reader::new(feed.clone(), level),
            feed,
            only: None,
            head: Vec::new(),
            left: 0,
            keep: true,
        }
    }

    /// A mirror that decodes only frames of the types `only`.
    fn only(level: Option<u8>, only: &'static [u8]) -> Mirror {
        Mirror {
            only: Some(only),
            ..Mirror::new(level)
        }
    }

    /// Every packet that the bytes so far complete.
    fn push(&mut self, bytes: &[u8]) -> Vec<Decoded> {
        let mut out = Vec::new();
        match self.only {
            None => self.feed.0.borrow_mut().extend(bytes),
            Some(only) => self.sift(bytes, only, &mut out),
        }
        self.decode(&mut out);
        out
    }

    /// Passes on to the feed the bytes of the frames to decode, and skips
    /// the others'.
    fn sift(&mut self, mut bytes: &[u8], only: &[u8], out: &mut Vec<Decoded>) {
        while !bytes.is_empty() {
            if self.left == 0 {
                // At a frame's start: its fixed header, 2 to 5 bytes.
                let (&b, rest) = bytes.split_first().unwrap_or((&0, &[]));
                self.head.push(b);
                bytes = rest;
                let (kind, len) = match wire::frame_header(&self.head) {
                    Ok(Some(h)) => h,
                    Ok(None) => continue,
                    Err(_) => {
                        // Malformed: the reader says why.
                        let head = std::mem::take(&mut self.head);
                        self.feed.0.borrow_mut().extend(head);
                        self.feed.0.borrow_mut().extend(bytes);
                        return;
                    }
                };
                let head = std::mem::take(&mut self.head);
                self.keep = only.contains(&kind) && len <= TAP_FRAME_MAX_BYTES;
                self.left = len - head.len();
                if self.keep {
                    self.feed.0.borrow_mut().extend(head);
                } else {
                    // In order: the frames before it first.
                    self.decode(out);
                    out.push(Decoded::Skipped(kind, len));
                }
                continue;
            }
            let n = self.left.min(bytes.len());
            let (now, rest) = bytes.split_at(n);
            if self.keep {
                self.feed.0.borrow_mut().extend(now);
            }
            self.left -= n;
            bytes = rest;
        }
    }

    /// Decodes what the feed holds, appending to `out`.
    fn decode(&mut self, out: &mut Vec<Decoded>) {
        loop {
            // `Reader::read` is cancel-safe, so a read polled once and
            // dropped while pending loses nothing; the feed never wakes.
            let read = std::pin::pin!(self.reader.read());
            match read.poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Pending => return,
                Poll::Ready(Ok(Some(p))) => out.push(Decoded::Packet(p)),
                // The feed never ends, so the reader never sees EOF.
                Poll::Ready(Ok(None)) => return,
                Poll::Ready(Err(e)) => {
                    self.feed.0.borrow_mut().clear();
                    out.push(Decoded::Failed(e.to_string()));
                    return;
                }
            }
        }
    }
}

/// The packet types the tap decodes from the client: CONNECT (1) and
/// DISCONNECT (14); every other frame is skipped as it passes.
const INBOUND_LOGGED: &[u8] = &[1, 14];

/// A stream with a tap; what it saw is logged as it happens and, for the
/// close, when the broker drops it.
pub struct Tapped<S> {
    inner: S,
    peer: String,
    log: Log,
    client_id: Option<String>,
    /// `None` once the inbound bytes can no longer be decoded.
    inbound: Option<Mirror>,
    /// `None` once CONNACK has been seen: nothing after it is logged.
    outbound: Option<Mirror>,
    /// The client's protocol level, once its CONNECT was seen.
    level: u8,
    disconnect_seen: bool,
    eof_seen: bool,
    error: Option<String>,
}

impl<S> Tapped<S> {
    pub fn new(inner: S, peer: String, log: Log) -> Tapped<S> {
        Tapped {
            inner,
            peer,
            log,
            client_id: None,
            inbound: Some(Mirror::only(None, INBOUND_LOGGED)),
            outbound: Some(Mirror::new(Some(LEVEL_V311))),
            level: LEVEL_V311,
            disconnect_seen: false,
            eof_seen: false,
            error: None,
        }
    }

    fn who(&self) -> String {
        // An empty id is the broker's to assign, and its note names it.
        match &self.client_id {
            Some(id) if !id.is_empty() => format!("{} {id:?}", self.peer),
            _ => self.peer.clone(),
        }
    }

    fn line(&self, text: String) {
        (self.log)(format!("[{}] {text}", self.who()));
    }

    fn saw_inbound(&mut self, bytes: &[u8]) {
        let Some(m) = &mut self.inbound else { return };
        let decoded = m.push(bytes);
        for d in decoded {
            match d {
                Decoded::Packet(Packet::Connect(c)) => {
                    self.client_id = Some(c.client_id.clone());
                    self.line(describe_connect(&c));
                    // The broker answers in the client's level.
                    self.level = c.protocol_level;
                    if self.outbound.is_some() {
                        self.outbound = Some(Mirror::new(Some(c.protocol_level)));
                    }
                }
                Decoded::Packet(Packet::Disconnect(d)) => {
                    self.disconnect_seen = true;
                    match d.reason {
                        Some(r) if r != 0 => self.line(format!("DISCONNECT reason {r:#04x}")),
                        _ => self.line("DISCONNECT".to_string()),
                    }
                }
                Decoded::Packet(_) => {}
                Decoded::Skipped(1, len) => {
                    // The level and the client id are unknown without it.
                    self.inbound = None;
                    self.line(format!(
                        "CONNECT of {len} bytes, too large for the log: the client's packets are not logged"
                    ));
                }
                Decoded::Skipped(..) => {}
                Decoded::Failed(why) => {
                    self.inbound = None;
                    self.line(format!("cannot decode the client's packets: {why}"));
                }
            }
        }
    }

    /// Only the first packet the broker sends is of interest: CONNACK.
    fn saw_outbound(&mut self, bytes: &[u8]) {
        let Some(m) = &mut self.outbound else { return };
        let first = m.push(bytes).into_iter().next();
        let Some(first) = first else { return };
        self.outbound = None;
        if let Decoded::Packet(Packet::ConnAck(a)) = first {
            let code = if self.level == LEVEL_V5 {
                let name = reason::name(a.code, reason::In::ConnAck);
                format!("{:#04x} ({})", a.code, name.unwrap_or("other code"))
            } else {
                let name = render::connack_return_code(a.code);
                format!("{} ({})", a.code, name.unwrap_or("unknown code"))
            };
            self.line(format!(
                "CONNACK {code}, session present {}",
                u8::from(a.session_present)
            ));
        }
    }

    fn failed(&mut self, e: &io::Error) {
        if self.error.is_none() {
            self.error = Some(e.to_string());
        }
    }
}

/// Why the connection closed, as far as the wire tells; the broker's notes
/// say the rest (keep-alive expiry, takeover, protocol violation).
fn close_reason(disconnect: bool, eof: bool, error: Option<&str>) -> String {
    match (disconnect, eof, error) {
        (true, _, _) => "closed after the client's DISCONNECT".to_string(),
        (false, _, Some(e)) => format!("closed: {e}"),
        (false, true, None) => "closed by the client without DISCONNECT".to_string(),
        (false, false, None) => "closed by the broker".to_string(),
    }
}

fn describe_connect(c: &Connect) -> String {
    let mut s = format!(
        "CONNECT client id {:?}, clean session {}, keep alive {}s",
        c.client_id,
        u8::from(c.clean),
        c.keep_alive_s
    );
    if c.protocol_level != LEVEL_V311 {
        s.push_str(&format!(", protocol level {}", c.protocol_level));
    }
    if let Some(w) = &c.will {
        s.push_str(&format!(
            ", will to {} (QoS {}{})",
            w.topic,
            w.qos,
            if w.retain { ", retained" } else { "" }
        ));
    }
    if let Some(u) = &c.username {
        s.push_str(&format!(", user {u:?}"));
    }
    s
}

impl<S> Drop for Tapped<S> {
    fn drop(&mut self) {
        let reason = close_reason(self.disconnect_seen, self.eof_seen, self.error.as_deref());
        self.line(reason);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tapped<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) => {
                let new = buf.filled().get(before..).unwrap_or_default();
                if new.is_empty() && buf.remaining() > 0 {
                    this.eof_seen = true;
                } else {
                    let new = new.to_vec();
                    this.saw_inbound(&new);
                }
            }
            Poll::Ready(Err(e)) => this.failed(e),
            Poll::Pending => {}
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tapped<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        match &polled {
            Poll::Ready(Ok(n)) => this.saw_outbound(buf.get(..*n).unwrap_or_default()),
            Poll::Ready(Err(e)) => this.failed(e),
            Poll::Pending => {}
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use mqtt_sim::wire::{ConnAck, Disconnect, LEVEL_V5, encode};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn connect(id: &str) -> Packet {
        Packet::Connect(Connect {
            protocol_name: "MQTT".into(),
            protocol_level: LEVEL_V311,
            client_id: id.into(),
            clean: true,
            keep_alive_s: 30,
            will: None,
            username: None,
            password: None,
            properties: Default::default(),
        })
    }

    fn collecting() -> (Log, Rc<RefCell<Vec<String>>>) {
        let lines = Rc::new(RefCell::new(Vec::new()));
        let sink = lines.clone();
        (Rc::new(move |l| sink.borrow_mut().push(l)), lines)
    }

    #[test]
    fn a_packet_split_across_pushes_is_decoded_once_whole() {
        let bytes = encode(&connect("dev-1"), LEVEL_V311).unwrap();
        let mut m = Mirror::new(None);
        let (head, tail) = bytes.split_at(5);
        assert!(m.push(head).is_empty());
        let got = m.push(tail);
        assert!(
            matches!(got.as_slice(), [Decoded::Packet(Packet::Connect(c))] if c.client_id == "dev-1")
        );
        assert!(m.feed.0.borrow().is_empty());
    }

    #[test]
    fn frames_not_logged_are_skipped_without_being_buffered() {
        let mut m = Mirror::only(None, INBOUND_LOGGED);
        let connect = encode(&connect("dev-1"), LEVEL_V311).unwrap();
        // A PUBLISH announcing 1 MiB, of which most arrives.
        let mut publish = vec![0x30, 0x80, 0x80, 0x40, 0x00, 0x01, b't'];
        publish.resize(900_000, b'x');
        let mut bytes = connect.to_vec();
        bytes.extend_from_slice(&publish);
        let got = m.push(&bytes);
        assert!(matches!(
            got.as_slice(),
            [
                Decoded::Packet(Packet::Connect(_)),
                Decoded::Skipped(3, 1_048_580)
            ]
        ));
        assert!(m.feed.0.borrow().capacity() < TAP_FRAME_MAX_BYTES);
        // The rest of it, then a DISCONNECT: still seen.
        let mut rest = vec![b'x'; 1_048_580 - 900_000];
        rest.extend_from_slice(&[0xe0, 0x00]);
        let got = m.push(&rest);
        assert!(matches!(
            got.as_slice(),
            [Decoded::Packet(Packet::Disconnect(_))]
        ));
    }

    #[test]
    fn garbage_stops_the_mirror_and_leaves_nothing_buffered() {
        let mut m = Mirror::new(None);
        let got = m.push(&[0xf0, 0x00]);
        assert!(matches!(got.as_slice(), [Decoded::Failed(_)]));
        assert!(m.feed.0.borrow().is_empty());
    }

    /// The lines logged for a client that sends `connect` and DISCONNECT
    /// with `reason` at `level`, and gets CONNACK with `code`.
    async fn logged(level: u8, reason: Option<u8>, code: u8) -> Vec<String> {
        let (log, lines) = collecting();
        let (client, server) = tokio::io::duplex(1024);
        let mut tapped = Tapped::new(server, "peer:1".into(), log);
        let (mut cr, mut cw) = tokio::io::split(client);
        let Packet::Connect(mut c) = connect("dev-1") else {
            unreachable!()
        };
        c.protocol_level = level;
        let mut out = encode(&Packet::Connect(c), level).unwrap().to_vec();
        let disconnect = Disconnect {
            reason,
            properties: Default::default(),
        };
        out.extend_from_slice(&encode(&Packet::Disconnect(disconnect), level).unwrap());
        cw.write_all(&out).await.unwrap();
        let mut buf = vec![0u8; out.len()];
        tapped.read_exact(&mut buf).await.unwrap();
        let ack = Packet::ConnAck(ConnAck {
            session_present: code == 0,
            code,
            properties: Default::default(),
        });
        let ack = encode(&ack, level).unwrap();
        tapped.write_all(&ack).await.unwrap();
        let mut back = vec![0u8; ack.len()];
        cr.read_exact(&mut back).await.unwrap();
        drop(tapped);
        lines.borrow().clone()
    }

    #[tokio::test]
    async fn logs_connect_connack_and_a_graceful_close() {
        assert_eq!(
            logged(LEVEL_V311, None, 0).await,
            vec![
                "[peer:1 \"dev-1\"] CONNECT client id \"dev-1\", clean session 1, keep alive 30s",
                "[peer:1 \"dev-1\"] DISCONNECT",
                "[peer:1 \"dev-1\"] CONNACK 0 (accepted), session present 1",
                "[peer:1 \"dev-1\"] closed after the client's DISCONNECT",
            ]
        );
    }

    #[tokio::test]
    async fn logs_the_version_and_the_reasons_of_5_0() {
        assert_eq!(
            logged(LEVEL_V5, Some(0x04), 0x86).await,
            vec![
                "[peer:1 \"dev-1\"] CONNECT client id \"dev-1\", clean session 1, keep alive 30s, protocol level 5",
                "[peer:1 \"dev-1\"] DISCONNECT reason 0x04",
                "[peer:1 \"dev-1\"] CONNACK 0x86 (bad user name or password), session present 0",
                "[peer:1 \"dev-1\"] closed after the client's DISCONNECT",
            ]
        );
    }

    #[tokio::test]
    async fn an_eof_without_disconnect_is_the_clients_close() {
        let (log, lines) = collecting();
        let (client, server) = tokio::io::duplex(64);
        let mut tapped = Tapped::new(server, "peer:2".into(), log);
        drop(client);
        let mut buf = [0u8; 8];
        assert_eq!(tapped.read(&mut buf).await.unwrap(), 0);
        drop(tapped);
        assert_eq!(
            *lines.borrow(),
            vec!["[peer:2] closed by the client without DISCONNECT"]
        );
    }

    #[test]
    fn without_eof_or_disconnect_the_broker_closed() {
        assert_eq!(close_reason(false, false, None), "closed by the broker");
        assert_eq!(close_reason(false, true, Some("reset")), "closed: reset");
    }
}
