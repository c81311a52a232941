//! One connection's task: CONNECT, then packets until the connection ends,
//! then the will and the session's fate.

use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio::time::{Instant, Sleep, sleep, timeout};

use std::collections::BTreeMap;

use crate::wire::{
    Ack, ConnAck, Connect, Disconnect, LEVEL_V5, LEVEL_V311, LastWill, Packet, Properties,
    Property, Publish, QoS, Reader, RetainHandling, SubAck, Subscribe, SubscribeFilter, UnsubAck,
    Unsubscribe, WireError, Writer, connack_code, reason,
};

use super::Mutant;
use super::accept::{
    accept, cap_session_expiry, connack_v5, in_version, keep_alive_limit, refuse,
    response_topic_error,
};
use super::expiry::will_delay_s;
use super::index::shared_filter;
use super::router::Publication;
use super::session::{
    HeldWill, Message, OutboundState, Send, Session, SessionExpiry, Subscription,
};
use super::strings;
use super::takeover::Live;
use super::takeover::{ConnShared, FinishGuard, Kick, will_on_takeover};
use super::{Broker, INFLIGHT_MAX, acl};
use crate::topic;
use std::cell::Cell;
use tokio::sync::Notify;

/// Why a connection ended; decides the will, the note and, under 5.0, the
/// server's DISCONNECT.
#[derive(Debug)]
enum End {
    /// DISCONNECT from the client, with its reason (0x00 under 3.1.1).
    Disconnect(u8),
    /// The peer closed the stream, or the transport failed.
    Lost,
    Kicked(Kick),
    KeepAlive,
    /// A protocol error, and the 5.0 reason code the server's DISCONNECT
    /// gives for it.
    Violation(String, u8),
}

impl End {
    /// A protocol error; `reason` is what 5.0 says about it.
    fn violation(reason: u8, why: impl Into<String>) -> End {
        End::Violation(why.into(), reason)
    }

    /// A packet that could not be read: the stream ended, or the peer broke
    /// the protocol (with the reason code the wire module gives).
    fn from_wire(e: WireError) -> End {
        match e {
            WireError::Io(_) | WireError::Truncated => End::Lost,
            e => {
                let reason = e.reason_code().unwrap_or(reason::MALFORMED_PACKET);
                End::Violation(e.to_string(), reason)
            }
        }
    }
}

/// How long the server's DISCONNECT may take to write before the
/// connection closes anyway: the peer may not be reading.
const FAREWELL_WAIT: Duration = Duration::from_secs(1);

/// 5.0 DISCONNECT reason codes the broker sends beyond those of
/// [`reason`] (5.0 section 3.14.2.1).
mod disconnect_code {
    pub const NORMAL: u8 = 0x00;
    pub const IMPLEMENTATION_SPECIFIC_ERROR: u8 = 0x83;
    pub const KEEP_ALIVE_TIMEOUT: u8 = 0x8d;
    pub const SESSION_TAKEN_OVER: u8 = 0x8e;
    pub const TOPIC_NAME_INVALID: u8 = 0x90;
    pub const RECEIVE_MAXIMUM_EXCEEDED: u8 = 0x93;
    pub const TOPIC_ALIAS_INVALID: u8 = 0x94;
    pub const RETAIN_NOT_SUPPORTED: u8 = 0x9a;
    pub const QOS_NOT_SUPPORTED: u8 = 0x9b;
    pub const SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: u8 = 0xa1;
    /// An implementation limit was hit (5.0 section 3.14.2.1).
    pub const QUOTA_EXCEEDED: u8 = 0x97;
}

/// SUBACK and UNSUBACK reason codes of 5.0 (sections 3.9.3, 3.11.3).
mod ack_code {
    /// Reason codes from this one up are failures (5.0 section 2.4).
    pub const FAILURE_MIN: u8 = 0x80;
    pub const UNSPECIFIED_ERROR: u8 = 0x80;
    pub const NOT_AUTHORIZED: u8 = 0x87;
    pub const TOPIC_FILTER_INVALID: u8 = 0x8f;
    pub const QUOTA_EXCEEDED: u8 = 0x97;
    pub const SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: u8 = 0x9e;
    pub const WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: u8 = 0xa2;
    pub const NO_SUBSCRIPTION_EXISTED: u8 = 0x11;
    pub const PACKET_IDENTIFIER_NOT_FOUND: u8 = 0x92;
}

/// PUBACK and PUBREC reason codes of 5.0 (sections 3.4.2.1, 3.5.2.1)
/// beyond those shared with SUBACK in [`ack_code`].
mod publish_code {
    pub const SUCCESS: u8 = 0x00;
    pub const NO_MATCHING_SUBSCRIBERS: u8 = 0x10;
    pub const PAYLOAD_FORMAT_INVALID: u8 = 0x99;
}

/// Holds one of the `connections_max` places while the connection is
/// open, and before CONNECT also one of the `connecting_max` places.
struct Slot {
    broker: Broker,
    /// Its key among the connections before CONNECT, until CONNECT came.
    connecting: Cell<Option<u64>>,
}

impl Slot {
    /// A place for a new connection, and what tells it it was closed to
    /// make room; `None` when there is none. A full table of connections
    /// before CONNECT, or a full table of connections when some are before
    /// CONNECT, closes the oldest of those: a flood of silent connections
    /// cannot lock out clients that send CONNECT.
    fn take(broker: &Broker, peer: &str) -> Option<(Slot, Rc<Notify>)> {
        let limits = &broker.config().limits;
        let mut notes = Vec::new();
        let taken = {
            let mut live = broker.inner.live.borrow_mut();
            let full = |l: &Live| {
                l.connecting.len() >= limits.connecting_max || l.count >= limits.connections_max
            };
            while full(&live) {
                let Some((_, close)) = live.connecting.pop_first() else {
                    break;
                };
                // Its place is given back now; its `Slot` knows, as its
                // key is gone from `connecting`.
                live.count = live.count.saturating_sub(1);
                close.notify_one();
                notes.push(format!(
                    "{} connections before CONNECT: closed the oldest to make room for {peer}",
                    live.connecting.len() + 1
                ));
            }
            if full(&live) {
                None
            } else {
                live.count += 1;
                live.next_connecting += 1;
                let key = live.next_connecting;
                let close = Rc::new(Notify::new());
                live.connecting.insert(key, close.clone());
                Some((key, close))
            }
        };
        for n in notes {
            broker.note(n);
        }
        let (key, close) = taken?;
        let slot = Slot {
            broker: broker.clone(),
            connecting: Cell::new(Some(key)),
        };
        Some((slot, close))
    }

    /// CONNECT arrived: the place before CONNECT is free. False when the
    /// connection was closed to make room meanwhile.
    fn connected(&self) -> bool {
        let Some(key) = self.connecting.get() else {
            return true;
        };
        let mut live = self.broker.inner.live.borrow_mut();
        let kept = live.connecting.remove(&key).is_some();
        if kept {
            self.connecting.set(None);
        }
        kept
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut live = self.broker.inner.live.borrow_mut();
        // A connection closed to make room gave its place back then, and
        // its key went from `connecting`.
        let counted = match self.connecting.get() {
            Some(key) => live.connecting.remove(&key).is_some(),
            None => true,
        };
        if counted {
            // Each slot counted one place when taken; giving back more
            // places than were taken would let the broker pass
            // `connections_max`.
            debug_assert!(live.count > 0, "a connection slot given back twice");
            live.count = live.count.saturating_sub(1);
        }
    }
}

pub(super) async fn run<S>(broker: Broker, stream: S, peer: String)
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let Some((slot, close)) = Slot::take(&broker, &peer) else {
        broker.note(format!(
            "connection limit of {} reached: closed {peer}",
            broker.config().limits.connections_max
        ));
        return;
    };
    let (r, w) = tokio::io::split(stream);
    let mut reader = Reader::new(r, None);
    let packet_max = usize::try_from(broker.config().maximum_packet_size).unwrap_or(usize::MAX);
    reader.set_packet_size_max(packet_max);
    reader.set_budget(broker.inner.unfinished.clone());
    let mut writer = Writer::new(w, LEVEL_V311);
    let connect = tokio::select! {
        biased;
        _ = close.notified() => None,
        c = read_connect(&broker, &mut reader, &mut writer, &peer) => c,
    };
    let Some((connect, level)) = connect else {
        return;
    };
    if !slot.connected() {
        return;
    }
    // 5.0: how many topic aliases the client accepts from the broker
    // [MQTT-3.1.2-26], [MQTT-3.1.2-27].
    let client_alias_max = connect
        .properties
        .topic_alias_maximum()
        .filter(|_| level == LEVEL_V5)
        .unwrap_or(0);
    let Some(accepted) = accept(&broker, &mut writer, connect, &peer).await else {
        return;
    };
    let mut factor = broker.config().keep_alive_factor;
    if broker.mutant(Mutant::KeepAliveFactorOne) {
        factor = 1.0;
    }
    let mut keep_alive = keep_alive_limit(accepted.keep_alive_s, factor);
    if broker.mutant(Mutant::NoKeepAlive) {
        keep_alive = None;
    }
    let client_id = accepted.client_id.clone();
    let conn = Conn {
        broker: broker.clone(),
        client_id: accepted.client_id,
        level: accepted.level,
        shared: accepted.shared,
        _finish: accepted.finish,
        reader,
        writer,
        keep_alive,
        deadline: None,
        will: accepted.will,
        session_expiry: accepted.session_expiry,
        connack_properties: accepted.connack_properties,
        inflight_max: accepted.inflight_max,
        client_packet_max: accepted.client_packet_max,
        aliases: BTreeMap::new(),
        client_alias_max,
        out_aliases: BTreeMap::new(),
    };
    let linger = conn.serve(accepted.session_present).await;
    // The connection is closed: it no longer holds a place.
    drop(slot);
    if let Some(offline_since) = linger {
        broker.linger(client_id, offline_since).await;
    }
}

/// Reads the CONNECT, within `connect_wait`, and its protocol level;
/// `None` when there is none to accept: the stream ended, the first packet
/// was something else, or the CONNECT could not be read or has a control
/// character (each noted, and refused with a CONNACK where the version has
/// a code for it). The writer is set to the client's level.
async fn read_connect<S>(
    broker: &Broker,
    reader: &mut Reader<ReadHalf<S>>,
    writer: &mut Writer<WriteHalf<S>>,
    peer: &str,
) -> Option<(Connect, u8)>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let wait = broker.config().limits.connect_wait;
    let read = timeout(wait, reader.read()).await;
    // The level is known as soon as CONNECT's first fields were read, even
    // if the rest of it fails: a refusal is said in the client's version.
    let level = reader.level().unwrap_or(LEVEL_V311);
    writer.set_level(level);
    let connect = match read {
        Err(_) => {
            broker.note(format!(
                "no CONNECT from {peer} within {}s: closed",
                wait.as_secs_f64()
            ));
            return None;
        }
        Ok(Ok(None)) | Ok(Err(WireError::Io(_))) | Ok(Err(WireError::Truncated)) => return None,
        Ok(Ok(Some(Packet::Connect(c)))) => c,
        Ok(Ok(Some(p))) => {
            broker.note(format!(
                "protocol violation by {peer}: first packet is {}, not CONNECT",
                p.type_name()
            ));
            return None;
        }
        Ok(Err(WireError::UnacceptableProtocol { name, level })) => {
            if name == "MQTT" {
                let why = format!("unsupported protocol level {level}");
                // A level above 5 is a client newer than this broker: it
                // reads 5.0's CONNACK (0x84) sooner than 3.1.1's (0x01).
                let code = if level > LEVEL_V5 {
                    writer.set_level(LEVEL_V5);
                    in_version(LEVEL_V5, connack_code::UNACCEPTABLE_PROTOCOL_VERSION)
                } else {
                    connack_code::UNACCEPTABLE_PROTOCOL_VERSION
                };
                refuse(broker, writer, peer, code, &why).await;
            } else {
                // [MQTT-3.1.2-1]: not this protocol at all; no CONNACK.
                broker.note(format!("refused {peer}: protocol name {name:?}"));
            }
            return None;
        }
        Ok(Err(e)) => {
            // 5.0 answers a CONNECT it cannot read with its reason
            // (0x81, 0x82, 0x95); 3.1.1 has no code for it and closes.
            match e.reason_code().filter(|_| level == LEVEL_V5) {
                Some(code) => refuse(broker, writer, peer, code, &e.to_string()).await,
                None => broker.note(format!("protocol violation by {peer}: {e}")),
            }
            return None;
        }
    };
    if broker.config().strict_strings
        && let Some(why) = strings::control_character(&Packet::Connect(connect.clone()))
    {
        if level == LEVEL_V5 {
            // 5.0 section 1.5.4 lets the receiver treat it as malformed.
            let code = if strings::has_control(&connect.client_id) {
                in_version(LEVEL_V5, connack_code::IDENTIFIER_REJECTED)
            } else {
                connack_v5::MALFORMED_PACKET
            };
            refuse(broker, writer, peer, code, &why).await;
        } else {
            broker.note(format!("protocol violation by {peer}: {why}"));
        }
        return None;
    }
    Some((connect, level))
}

type Deadline = Option<Pin<Box<Sleep>>>;

/// Resolves when the keep-alive deadline passes; never when there is none.
async fn expired(deadline: &mut Deadline) {
    match deadline {
        Some(d) => d.as_mut().await,
        None => std::future::pending().await,
    }
}

struct Conn<S> {
    broker: Broker,
    client_id: String,
    /// The client's protocol level: 4 (3.1.1) or 5 (5.0).
    level: u8,
    shared: Rc<ConnShared>,
    /// Dropped last, after the will and the session were dealt with, so a
    /// connection taking over sees the final state.
    _finish: FinishGuard,
    reader: Reader<ReadHalf<S>>,
    writer: Writer<WriteHalf<S>>,
    keep_alive: Option<Duration>,
    deadline: Deadline,
    will: Option<LastWill>,
    session_expiry: SessionExpiry,
    /// Sent with the CONNACK, then empty.
    connack_properties: Properties,
    /// QoS 1 and 2 messages in flight to the client at most.
    inflight_max: usize,
    /// The client's maximum packet size (5.0).
    client_packet_max: Option<u32>,
    /// Inbound topic aliases of this connection (5.0) [MQTT-3.3.2-7].
    aliases: BTreeMap<u16, String>,
    /// The client's Topic Alias Maximum (5.0): the broker sends aliases 1
    /// to this; 0 sends none.
    client_alias_max: u16,
    /// Outbound topic aliases of this connection: topic -> alias, given to
    /// the first `client_alias_max` distinct topics sent, never reassigned.
    out_aliases: BTreeMap<String, u16>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + 'static> Conn<S> {
    /// Serves the connection to its end. Returns the offline number of a
    /// session that something waits for (a finite expiry, a held will):
    /// the caller lingers on it once the connection's place is free.
    async fn serve(mut self, session_present: bool) -> Option<u64> {
        let end = self.exchange(session_present).await;
        self.farewell(&end).await;
        self.finish(end)
    }

    fn v5(&self) -> bool {
        self.level == LEVEL_V5
    }

    /// Under 5.0 the server says why it closes (5.0 section 4.13): 0x8E
    /// on a takeover [MQTT-3.1.4-3], 0x8D on keep-alive expiry (the spec
    /// allows it; the close is still "as if the network had failed"), and
    /// the reason of a protocol error. 3.1.1 closes without a word.
    ///
    /// The DISCONNECT carries the why as a Reason String, unless that would
    /// exceed the client's maximum packet size. Besides saying why, it
    /// makes paho-mqtt (2.1) read the reason code: paho ignores the reason
    /// of a DISCONNECT whose remaining length is under 3, which the spec
    /// allows when there are no properties.
    async fn farewell(&mut self, end: &End) {
        if !self.v5() {
            return;
        }
        let (code, why) = match end {
            End::Kicked(_) if self.broker.mutant(Mutant::NoTakeoverDisconnect) => return,
            End::Kicked(_) => (disconnect_code::SESSION_TAKEN_OVER, "session taken over"),
            End::KeepAlive => (disconnect_code::KEEP_ALIVE_TIMEOUT, "keep alive timeout"),
            End::Violation(_, code) => (*code, "protocol error"),
            End::Disconnect(_) | End::Lost => return,
        };
        self.broker.note(format!(
            "sent DISCONNECT 0x{code:02X} to {} ({why})",
            self.client_id
        ));
        let detail = match end {
            End::Violation(text, _) => text.as_str(),
            _ => why,
        };
        let mut disconnect = Disconnect {
            reason: Some(code),
            properties: vec![Property::ReasonString(detail.to_string())].into(),
        };
        let size = crate::wire::encode(&Packet::Disconnect(disconnect.clone()), self.level)
            .map_or(usize::MAX, |b| b.len());
        let fits = self
            .client_packet_max
            .is_none_or(|max| u64::try_from(size).is_ok_and(|s| s <= u64::from(max)));
        if !fits {
            disconnect.properties = Properties::default();
        }
        let packet = Packet::Disconnect(disconnect);
        // Closing follows either way; a failed or slow write changes nothing.
        let _ = timeout(FAREWELL_WAIT, self.writer.write(&packet)).await;
        self.drain().await;
    }

    /// After the server's DISCONNECT: shuts the write side, then reads and
    /// discards what the client still sends, for at most `farewell_drain`
    /// or until it closes. Closing a socket with unread input makes TCP
    /// send a reset, and a reset can destroy the DISCONNECT before the
    /// client has read it. Zero (simulation's default) closes at once.
    async fn drain(&mut self) {
        let wait = self.broker.config().limits.farewell_drain;
        if wait.is_zero() {
            return;
        }
        let _ = timeout(wait, async {
            let _ = self.writer.shutdown().await;
            while let Ok(Some(_)) = self.reader.read().await {}
        })
        .await;
    }

    /// QoS 1 and 2 messages the broker may have unacknowledged towards the
    /// client: its Receive Maximum, at most `INFLIGHT_MAX` [MQTT-3.3.4-9].
    fn inflight_max(&self) -> usize {
        if self.broker.mutant(Mutant::ReceiveMaximumIgnored) {
            return INFLIGHT_MAX;
        }
        self.inflight_max
    }

    /// One note per queued message whose expiry interval passed before it
    /// could be sent.
    fn note_expired(&self, expired: &[Message], now: Instant) {
        for m in expired {
            let s = m.expiry.map_or(0, |e| e.interval_s);
            let waited = m
                .expiry
                .map_or(0, |e| now.saturating_duration_since(e.received).as_secs());
            self.broker.note(format!(
                "message to {} for {} expired after {s}s (waited {waited}s)",
                m.topic, self.client_id
            ));
        }
    }

    fn restart_deadline(&mut self) {
        self.deadline = self.keep_alive.map(|d| Box::pin(sleep(d)));
    }

    /// Runs `f` on this connection's session. The session exists while the
    /// connection does; `None` would mean a bug, and the caller closes.
    fn with_session<T>(&self, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        let mut store = self.broker.inner.store.borrow_mut();
        store.sessions.get_mut(&self.client_id).map(f)
    }

    async fn exchange(&mut self, session_present: bool) -> End {
        let mut connack = ConnAck {
            session_present: session_present
                && !self.broker.mutant(Mutant::SessionPresentAlwaysFalse),
            code: connack_code::ACCEPTED,
            properties: std::mem::take(&mut self.connack_properties),
        };
        // The CONNACK too must fit the client's Maximum Packet Size
        // [MQTT-3.1.2-24]: its properties are all optional, so they go
        // first; a client that cannot take even the bare CONNACK is closed.
        if !self.fits(&Packet::ConnAck(connack.clone())) {
            connack.properties = Properties::default();
            self.broker.note(format!(
                "CONNACK properties not sent to {}: over its maximum packet size",
                self.client_id
            ));
            if !self.fits(&Packet::ConnAck(connack.clone())) {
                return End::violation(
                    disconnect_code::IMPLEMENTATION_SPECIFIC_ERROR,
                    "maximum packet size too small for a CONNACK",
                );
            }
        }
        let mut first = vec![Packet::ConnAck(connack)];
        if session_present {
            let inflight_max = self.inflight_max();
            let now = Instant::now();
            let mut resend = self
                .with_session(|s| s.resend(inflight_max, now))
                .unwrap_or_default();
            if self.broker.mutant(Mutant::RedeliverWithoutDup) {
                for s in &mut resend {
                    if let Send::Publish(p) = s {
                        p.dup = false;
                    }
                }
            }
            first.extend(self.outgoing(resend));
        }
        self.restart_deadline();
        if let Err(end) = self.send(first).await {
            return end;
        }
        loop {
            let inflight_max = self.inflight_max();
            let now = Instant::now();
            let taken = self.with_session(|s| (s.expire(now), s.take_sendable(inflight_max, now)));
            let Some((gone, sendable)) = taken else {
                return End::violation(reason::PROTOCOL_ERROR, "session vanished");
            };
            self.note_expired(&gone, now);
            let packets = self.outgoing(sendable);
            if let Err(end) = self.send(packets).await {
                return end;
            }
            let read = tokio::select! {
                biased;
                kick = self.shared.kicked() => return End::Kicked(kick),
                _ = expired(&mut self.deadline) => return End::KeepAlive,
                read = self.reader.read() => read,
                _ = self.shared.wake.notified() => continue,
            };
            let packet = match read {
                Ok(Some(p)) => p,
                Ok(None) => return End::Lost,
                Err(e) => return End::from_wire(e),
            };
            self.restart_deadline();
            let replies = match self.on_packet(packet) {
                Ok(replies) => replies,
                Err(end) => return end,
            };
            if let Err(end) = self.send(replies).await {
                return end;
            }
        }
    }

    /// Whether `p` fits the client's Maximum Packet Size, if it set one.
    fn fits(&self, p: &Packet) -> bool {
        let Some(max) = self.client_packet_max else {
            return true;
        };
        crate::wire::encode(p, self.level)
            .is_ok_and(|b| u64::try_from(b.len()).is_ok_and(|n| n <= u64::from(max)))
    }

    /// Writes packets, giving up when kicked or when the keep-alive
    /// deadline passes: a peer that does not read cannot hold us forever.
    async fn send(&mut self, packets: Vec<Packet>) -> Result<(), End> {
        for p in packets {
            tokio::select! {
                biased;
                kick = self.shared.kicked() => return Err(End::Kicked(kick)),
                _ = expired(&mut self.deadline) => return Err(End::KeepAlive),
                written = self.writer.write(&p) => match written {
                    Ok(()) => {}
                    Err(WireError::Io(_)) => return Err(End::Lost),
                    Err(e) => return Err(End::violation(
                        disconnect_code::IMPLEMENTATION_SPECIFIC_ERROR,
                        format!("cannot send {}: {e}", p.type_name()),
                    )),
                },
            }
        }
        Ok(())
    }

    /// Acts on one packet from the client; returns the replies to send.
    fn on_packet(&mut self, packet: Packet) -> Result<Vec<Packet>, End> {
        let violation = |why: String| Err(End::violation(reason::PROTOCOL_ERROR, why));
        if self.broker.config().strict_strings
            && let Some(why) = strings::control_character(&packet)
        {
            // 5.0 section 1.5.4: a receiver may treat it as malformed.
            return Err(End::violation(reason::MALFORMED_PACKET, why));
        }
        if let Some(why) = self.wrong_ack(&packet) {
            return violation(why);
        }
        match packet {
            Packet::Connect(_) => violation("second CONNECT".into()),
            Packet::Publish(p) => self.on_publish(p),
            Packet::PubAck(Ack { packet_id: id, .. }) => {
                self.with_session(|s| s.puback(id));
                Ok(vec![])
            }
            Packet::PubRec(Ack {
                packet_id: id,
                reason,
                ..
            }) if reason >= ack_code::FAILURE_MIN => {
                // 5.0: a refused QoS 2 message ends its flow here, with no
                // PUBREL, and is not sent again [MQTT-4.4.0-2].
                self.with_session(|s| s.pubrec_refused(id));
                Ok(vec![])
            }
            Packet::PubRec(Ack { packet_id: id, .. }) => {
                // PUBREL even for an unknown id, as PUBCOMP answers an
                // unknown PUBREL: the PUBREC may be a resend after our
                // PUBREL was lost, and the client's flow must be able to end.
                self.with_session(|s| s.pubrec(id));
                Ok(vec![Packet::PubRel(Ack::new(id))])
            }
            Packet::PubRel(Ack { packet_id: id, .. }) => {
                // PUBCOMP even for an unknown id: the PUBREL may be a resend
                // after our PUBCOMP was lost [MQTT-4.3.3-2]. 5.0 says so
                // with 0x92 (packet identifier not found).
                let known = self
                    .with_session(|s| s.inbound_qos2.remove(&id))
                    .unwrap_or(false);
                let mut ack = Ack::new(id);
                if self.v5() && !known {
                    ack.reason = ack_code::PACKET_IDENTIFIER_NOT_FOUND;
                }
                Ok(vec![Packet::PubComp(ack)])
            }
            Packet::PubComp(Ack { packet_id: id, .. }) => {
                self.with_session(|s| s.pubcomp(id));
                Ok(vec![])
            }
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => self.on_unsubscribe(u),
            Packet::PingReq => Ok(vec![Packet::PingResp]),
            Packet::Disconnect(d) => self.on_disconnect(d),
            other @ (Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp
            | Packet::Auth(_)) => violation(format!("{} from a client", other.type_name())),
        }
    }

    /// Why an acknowledgement does not fit the flow of the message in
    /// flight under its packet id: a QoS 1 PUBLISH is answered by PUBACK
    /// [MQTT-4.3.2-4], a QoS 2 one by PUBREC [MQTT-4.3.3-8], and PUBCOMP
    /// answers PUBREL. A PUBREC for a QoS 1 message, a PUBACK for a QoS 2
    /// one, or a PUBCOMP before PUBREC is a protocol error, and the
    /// connection is closed [MQTT-4.13.1-1] (5.0: DISCONNECT 0x82; 3.1.1
    /// closes, [MQTT-4.8.0-1]). An id with nothing in flight is not: the
    /// acknowledgement may be a late resend, and is answered as before.
    fn wrong_ack(&self, packet: &Packet) -> Option<String> {
        let (kind, id) = match packet {
            Packet::PubAck(a) => ("PUBACK", a.packet_id),
            Packet::PubRec(a) => ("PUBREC", a.packet_id),
            Packet::PubComp(a) => ("PUBCOMP", a.packet_id),
            _ => return None,
        };
        let (qos, state) = self
            .with_session(|s| s.outbound.get(&id).map(|o| (o.message.qos, o.state)))
            .flatten()?;
        let fits = match kind {
            "PUBACK" => qos == QoS::AtLeastOnce,
            "PUBREC" => qos == QoS::ExactlyOnce,
            _ => qos == QoS::ExactlyOnce && state == OutboundState::Released,
        };
        (!fits).then(|| {
            let flow = match (qos, state) {
                (QoS::ExactlyOnce, OutboundState::Released) => "a QoS 2 message awaiting PUBCOMP",
                (QoS::ExactlyOnce, _) => "a QoS 2 message awaiting PUBREC",
                _ => "a QoS 1 message",
            };
            format!("{kind} for packet id {id}, {flow}")
        })
    }

    /// DISCONNECT from the client. Under 5.0 it may change the session
    /// expiry, but not from 0 (5.0 section 3.14.2.2.2), and its reason
    /// decides the will: 0x00 discards it, anything else (0x04 above all)
    /// keeps it, to be published as on a lost connection [MQTT-3.14.4-3].
    fn on_disconnect(&mut self, d: Disconnect) -> Result<Vec<Packet>, End> {
        let code = d.reason.unwrap_or(disconnect_code::NORMAL);
        if code != disconnect_code::NORMAL {
            self.broker.note(format!(
                "DISCONNECT from {} with reason {code:#04x}",
                self.client_id
            ));
        }
        let asked = d.properties.session_expiry_interval().map(SessionExpiry);
        if let Some(asked) = asked {
            let from_zero = !self.session_expiry.outlives_connection()
                && asked.outlives_connection()
                && !self.broker.mutant(Mutant::SessionExpiryFromZeroAccepted);
            if from_zero {
                return Err(End::violation(
                    reason::PROTOCOL_ERROR,
                    "DISCONNECT sets a session expiry after CONNECT set 0 (5.0 section 3.14.2.2.2)",
                ));
            }
            let expiry = cap_session_expiry(&self.broker, asked);
            self.session_expiry = expiry;
            self.with_session(|s| s.expiry = expiry);
        }
        Err(End::Disconnect(code))
    }

    /// A 5.0 PUBLISH's topic: the topic alias resolved or recorded
    /// [MQTT-3.3.2-12], the maximum QoS and retain availability checked.
    /// The alias property is taken out: it belongs to this connection.
    fn publish_v5(&mut self, p: &mut Publish) -> Result<(), End> {
        let config = self.broker.config();
        if p.qos.level() > config.max_qos {
            return Err(End::violation(
                disconnect_code::QOS_NOT_SUPPORTED,
                format!(
                    "PUBLISH at QoS {} above the maximum QoS {}",
                    p.qos, config.max_qos
                ),
            ));
        }
        if p.retain && !config.retain_available {
            return Err(End::violation(
                disconnect_code::RETAIN_NOT_SUPPORTED,
                "retained PUBLISH, retain not available [MQTT-3.2.2-14]",
            ));
        }
        if let Some(why) = response_topic_error(&p.properties) {
            return Err(End::violation(reason::PROTOCOL_ERROR, why));
        }
        if p.properties
            .iter()
            .any(|p| matches!(p, Property::SubscriptionIdentifier(_)))
        {
            return Err(End::violation(
                reason::PROTOCOL_ERROR,
                "PUBLISH from a client with a subscription identifier [MQTT-3.3.4-6]",
            ));
        }
        let alias = p.properties.iter().find_map(|p| match p {
            Property::TopicAlias(a) => Some(*a),
            _ => None,
        });
        let Some(alias) = alias else { return Ok(()) };
        let max = config.topic_alias_maximum;
        if alias == 0 || alias > max {
            return Err(End::violation(
                disconnect_code::TOPIC_ALIAS_INVALID,
                format!("topic alias {alias} outside 1..={max} [MQTT-3.2.2-17]"),
            ));
        }
        if !self.broker.mutant(Mutant::PublisherAliasForwarded) {
            p.properties
                .0
                .retain(|p| !matches!(p, Property::TopicAlias(_)));
        }
        if p.topic.is_empty() {
            match self.aliases.get(&alias) {
                Some(t) => p.topic = t.clone(),
                None => {
                    return Err(End::violation(
                        reason::PROTOCOL_ERROR,
                        format!("topic alias {alias} was never set on this connection"),
                    ));
                }
            }
        } else {
            self.aliases.insert(alias, p.topic.clone());
        }
        // Only aliases 1 to our Topic Alias Maximum were accepted above,
        // so the map cannot grow past it.
        debug_assert!(self.aliases.len() <= usize::from(max));
        Ok(())
    }

    fn on_publish(&mut self, mut p: Publish) -> Result<Vec<Packet>, End> {
        if self.v5() {
            self.publish_v5(&mut p)?;
        }
        if let Err(e) = topic::validate_name(&p.topic) {
            return Err(End::violation(
                disconnect_code::TOPIC_NAME_INVALID,
                format!("PUBLISH topic: {e}"),
            ));
        }
        if let Some(why) = self.broker.too_deep(&p.topic) {
            return Err(End::violation(
                disconnect_code::QUOTA_EXCEEDED,
                format!("PUBLISH {why}"),
            ));
        }
        if p.qos != QoS::AtMostOnce && p.packet_id == 0 {
            return Err(End::violation(
                reason::PROTOCOL_ERROR,
                "PUBLISH with packet id 0",
            ));
        }
        let refused = self.refusal(&p);
        let id = p.packet_id;
        let publication = Publication {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            properties: p.properties,
            from: Some(self.client_id.clone()),
        };
        match p.qos {
            QoS::AtMostOnce => {
                self.deliver(&publication, refused);
                Ok(vec![])
            }
            QoS::AtLeastOnce => {
                let code = self.deliver(&publication, refused);
                Ok(vec![Packet::PubAck(self.publish_ack(id, code))])
            }
            QoS::ExactlyOnce => self.on_publish_qos2(id, &publication, refused),
        }
    }

    /// Why a PUBLISH is refused, if it is, with a note: the acl denies it
    /// (0x87), or, under 5.0, its payload is not the UTF-8 its payload
    /// format indicator announces (0x99).
    fn refusal(&self, p: &Publish) -> Option<u8> {
        let user = self.with_session(|s| s.user.clone()).flatten();
        let denied = !self.broker.may_publish(user.as_deref(), &p.topic);
        if denied {
            self.broker.note(format!(
                "acl: dropped publish of {} to {}",
                self.client_id, p.topic
            ));
            Some(ack_code::NOT_AUTHORIZED)
        } else if self.v5() && !payload_format_kept(p) {
            self.broker.note(format!(
                "payload of {}'s message to {} is not UTF-8 though its payload format indicator says so: dropped",
                self.client_id, p.topic
            ));
            Some(publish_code::PAYLOAD_FORMAT_INVALID)
        } else {
            None
        }
    }

    /// A QoS 2 PUBLISH: delivered on its first receipt and answered with
    /// PUBREC; under 5.0, one more than the receive maximum awaiting PUBREL
    /// closes the connection.
    fn on_publish_qos2(
        &mut self,
        id: u16,
        publication: &Publication,
        refused: Option<u8>,
    ) -> Result<Vec<Packet>, End> {
        // Under 5.0 the broker's receive maximum bounds the QoS 2
        // messages awaiting PUBREL (QoS 1 is acknowledged at once).
        let receive_maximum = usize::from(self.broker.config().receive_maximum);
        let over = self
            .with_session(|s| {
                !s.inbound_qos2.contains(&id) && s.inbound_qos2.len() >= receive_maximum
            })
            .unwrap_or(false);
        if self.v5() && over {
            return Err(End::violation(
                disconnect_code::RECEIVE_MAXIMUM_EXCEEDED,
                format!(
                    "more than the receive maximum of {receive_maximum} QoS 2 messages unacknowledged"
                ),
            ));
        }
        // Delivered once, on first receipt; a resend before PUBREL
        // only gets its PUBREC again [MQTT-4.3.3-2].
        let first = self
            .with_session(|s| s.inbound_qos2.insert(id))
            .unwrap_or(false);
        // A new id is admitted under 5.0 only while fewer than the
        // receive maximum await PUBREL (checked just above).
        debug_assert!(
            !(self.v5() && first)
                || self
                    .with_session(|s| s.inbound_qos2.len() <= receive_maximum)
                    .unwrap_or(true)
        );
        let again = self.broker.mutant(Mutant::Qos2DeliveredTwice);
        let code = if first || again {
            self.deliver(publication, refused)
        } else {
            publish_code::SUCCESS
        };
        if self.v5() && code >= ack_code::FAILURE_MIN {
            // A refusing PUBREC ends the flow: no PUBREL follows
            // (5.0 section 4.3.3), so the id is free again.
            self.with_session(|s| s.inbound_qos2.remove(&id));
        }
        Ok(vec![Packet::PubRec(self.publish_ack(id, code))])
    }

    /// Routes a PUBLISH unless it was `refused`, and returns its 5.0
    /// PUBACK or PUBREC reason code: the refusal; 0x10 when no subscription
    /// matched; 0x97 (quota exceeded) when some did but every matching
    /// session's queue was full, so no one will get it; else 0x00.
    fn deliver(&self, publication: &Publication, refused: Option<u8>) -> u8 {
        if let Some(code) = refused {
            return code;
        }
        let routed = self.broker.route(publication);
        if routed.matched == 0 {
            publish_code::NO_MATCHING_SUBSCRIBERS
        } else if routed.full == routed.matched {
            ack_code::QUOTA_EXCEEDED
        } else {
            publish_code::SUCCESS
        }
    }

    /// A PUBACK or PUBREC: with its reason code under 5.0, a plain one
    /// under 3.1.1, which has none (a refused message is acknowledged and
    /// dropped, as 3.1.1 allows).
    fn publish_ack(&self, packet_id: u16, code: u8) -> Ack {
        let mut ack = Ack::new(packet_id);
        if self.v5() {
            ack.reason = code;
        }
        ack
    }

    fn on_subscribe(&mut self, s: Subscribe) -> Result<Vec<Packet>, End> {
        if s.packet_id == 0 {
            return Err(End::violation(
                reason::PROTOCOL_ERROR,
                "SUBSCRIBE with packet id 0",
            ));
        }
        if s.filters.is_empty() {
            return Err(End::violation(
                reason::PROTOCOL_ERROR,
                "SUBSCRIBE without filters",
            ));
        }
        let sub_id = s.properties.iter().find_map(|p| match p {
            Property::SubscriptionIdentifier(id) => Some(*id),
            _ => None,
        });
        if self.v5() && sub_id.is_some() && !self.broker.config().subscription_identifiers_available
        {
            return Err(End::violation(
                disconnect_code::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
                "SUBSCRIBE with a subscription identifier, which is not available",
            ));
        }
        // A filter repeated in one SUBSCRIBE is handled once, at its last
        // occurrence, which replaces the earlier ones [MQTT-3.8.4-3]; each
        // copy still gets that one's code, one per filter [MQTT-3.8.4-6].
        // Handled each time, every copy rescanned the retained messages:
        // ~2.3 ms a copy with 10,000 retained, for one packet.
        let last: BTreeMap<&str, usize> = s
            .filters
            .iter()
            .enumerate()
            .map(|(i, f)| (f.filter.as_str(), i))
            .collect();
        let mut codes = vec![0; s.filters.len()];
        let mut notes = Vec::new();
        let user = self.with_session(|s| s.user.clone()).flatten();
        // Retained messages this packet may still examine for its wildcard
        // filters: one packet of 1,000 distinct wildcard filters examined
        // all 10,000 retained messages for each (0.9 s of the broker's one
        // thread, every other client stalled).
        let mut scan_left = self.broker.config().limits.retained_scan_max;
        for (i, f) in s.filters.iter().enumerate() {
            if last.get(f.filter.as_str()) != Some(&i) {
                continue;
            }
            match self.subscribe_filter(f, sub_id, user.as_deref(), &mut scan_left, &mut notes) {
                Ok(code) => codes[i] = code,
                Err(end) => {
                    for n in notes {
                        self.broker.note(n);
                    }
                    return Err(end);
                }
            }
        }
        for (i, f) in s.filters.iter().enumerate() {
            if let Some(&j) = last.get(f.filter.as_str())
                && j != i
            {
                codes[i] = codes[j];
            }
        }
        let repeated = s.filters.len() - last.len();
        if repeated > 0 {
            notes.push(format!(
                "SUBSCRIBE from {} repeats filters {repeated} times: each handled once",
                self.client_id
            ));
        }
        for n in notes {
            self.broker.note(n);
        }
        Ok(vec![Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            codes,
            properties: Properties::default(),
        })])
    }

    /// One filter of a SUBSCRIBE: checked, subscribed, and its retained
    /// messages queued. Returns its SUBACK code; what is worth a note goes
    /// to `notes`, said once the whole packet was handled. `Err` closes the
    /// connection (No Local on a shared subscription).
    fn subscribe_filter(
        &self,
        f: &SubscribeFilter,
        sub_id: Option<u32>,
        user: Option<&str>,
        scan_left: &mut usize,
        notes: &mut Vec<String>,
    ) -> Result<u8, End> {
        if let Some(why) = self.broker.too_deep(&f.filter) {
            // Closed, not refused in SUBACK: a client this far off is an
            // attack or a bug, and mosquitto closes too.
            return Err(End::violation(
                disconnect_code::QUOTA_EXCEEDED,
                format!("SUBSCRIBE filter: {why}"),
            ));
        }
        if topic::validate_filter(&f.filter).is_err() {
            return Ok(self.refused(ack_code::TOPIC_FILTER_INVALID));
        }
        if let Some(code) = self.unavailable_feature(&f.filter) {
            return Ok(code);
        }
        // 5.0 only: `$share/...` is an ordinary filter under 3.1.1.
        let share = shared_filter(&f.filter).filter(|_| self.v5());
        match share {
            Some(Err(e)) => {
                notes.push(format!(
                    "refused subscription of {} to {}: {e}",
                    self.client_id, f.filter
                ));
                return Ok(ack_code::TOPIC_FILTER_INVALID);
            }
            Some(Ok(_)) if f.no_local => {
                return Err(End::violation(
                    reason::PROTOCOL_ERROR,
                    format!(
                        "No Local on shared subscription {} [MQTT-3.8.3-4]",
                        f.filter
                    ),
                ));
            }
            _ => {}
        }
        let acl = &self.broker.config().acl;
        if !acl::allows(acl, user, acl::Action::Subscribe, &f.filter) {
            notes.push(format!(
                "acl: refused subscription of {} to {}",
                self.client_id, f.filter
            ));
            return Ok(self.refused(ack_code::NOT_AUTHORIZED));
        }
        let max_qos =
            QoS::try_from(self.broker.config().max_qos.min(2)).unwrap_or(QoS::ExactlyOnce);
        let granted = f.qos.min(max_qos);
        // A repeated subscription replaces the old one, its identifier
        // and options included [MQTT-3.8.4-3].
        let sub = Subscription {
            granted,
            id: sub_id,
            no_local: f.no_local,
            retain_as_published: f.retain_as_published,
            retain_handling: f.retain_handling,
            shared: matches!(share, Some(Ok(_))),
        };
        // The retained messages are looked up before the subscription is
        // made, so that a filter whose lookup would pass the packet's scan
        // budget can still be refused whole.
        let existed = self
            .with_session(|sess| sess.subscriptions.contains_key(&f.filter))
            .unwrap_or(false);
        let retained = if self.retained_wanted(&sub, existed) {
            let first = *scan_left > 0;
            match self
                .broker
                .retained_for(&f.filter, granted, sub_id, user, scan_left)
            {
                Some(r) => Some(r),
                None => {
                    // One note for the packet, not one per filter.
                    if first {
                        notes.push(format!(
                            "retained scan limit of {} per SUBSCRIBE reached for {} at {}: \
                             it and the later filters with retained messages to look at are refused",
                            self.broker.config().limits.retained_scan_max,
                            self.client_id,
                            f.filter
                        ));
                    }
                    return Ok(self.refused(ack_code::QUOTA_EXCEEDED));
                }
            }
        } else {
            None
        };
        if self.add_subscription(&f.filter, sub).is_none() {
            notes.push(format!(
                "subscription limit of {} reached for {}: refused {}",
                self.broker.config().limits.subscriptions_max,
                self.client_id,
                f.filter
            ));
            return Ok(self.refused(ack_code::QUOTA_EXCEEDED));
        }
        if let Some(retained) = retained {
            self.queue_retained(&f.filter, retained, notes);
        }
        Ok(granted.level())
    }

    /// Stores the subscription if the session has room for it (a new
    /// filter below `SUBSCRIPTIONS_MAX`; a repeated one replaces itself).
    /// Returns whether it existed before; `None` when there was no room.
    fn add_subscription(&self, filter: &str, sub: Subscription) -> Option<bool> {
        let subscriptions_max = self.broker.config().limits.subscriptions_max;
        let mut store = self.broker.inner.store.borrow_mut();
        let room = store.sessions.get(&self.client_id).map(|sess| {
            sess.subscriptions.contains_key(filter) || sess.subscriptions.len() < subscriptions_max
        });
        match room {
            Some(true) => {
                let existed = store.subscribe(&self.client_id, filter, sub).is_some();
                // Room was checked just above: a new filter only
                // below the limit, a repeated one replaces itself.
                debug_assert!(
                    store
                        .sessions
                        .get(&self.client_id)
                        .is_none_or(|sess| { sess.subscriptions.len() <= subscriptions_max })
                );
                Some(existed)
            }
            _ => None,
        }
    }

    /// Queues the retained messages found for a new subscription to
    /// `filter`; a note counts those a full queue dropped.
    fn queue_retained(&self, filter: &str, retained: Vec<Message>, notes: &mut Vec<String>) {
        let bytes_max = self.broker.config().queued_bytes_max;
        let full = self
            .with_session(|sess| {
                retained
                    .into_iter()
                    .filter(|m| sess.enqueue(m.clone(), bytes_max).is_err())
                    .count()
            })
            .unwrap_or(0);
        if full > 0 {
            notes.push(format!(
                "queue of {} full: dropped {full} retained messages for {}",
                self.client_id, filter
            ));
        }
    }

    fn on_unsubscribe(&mut self, u: Unsubscribe) -> Result<Vec<Packet>, End> {
        if u.packet_id == 0 {
            return Err(End::violation(
                reason::PROTOCOL_ERROR,
                "UNSUBSCRIBE with packet id 0",
            ));
        }
        if u.filters.is_empty() {
            return Err(End::violation(
                reason::PROTOCOL_ERROR,
                "UNSUBSCRIBE without filters",
            ));
        }
        let removed: Vec<bool> = {
            let mut store = self.broker.inner.store.borrow_mut();
            u.filters
                .iter()
                .map(|f| store.unsubscribe(&self.client_id, f).is_some())
                .collect()
        };
        let mut ack = UnsubAck::new(u.packet_id);
        if self.v5() {
            // One reason code per filter (5.0 section 3.11.3).
            ack.codes = removed
                .into_iter()
                .map(|r| {
                    if r {
                        0x00
                    } else {
                        ack_code::NO_SUBSCRIPTION_EXISTED
                    }
                })
                .collect();
        }
        Ok(vec![Packet::UnsubAck(ack)])
    }

    /// Whether a subscription just made gets the retained messages matching
    /// it: under Retain Handling 0 always, also on a repeated subscription
    /// [MQTT-3.8.4-3]; under 1 only if it did not exist before
    /// [MQTT-3.3.1-10]; under 2 never [MQTT-3.3.1-11] (5.0 ids). A shared
    /// subscription never does (5.0 section 4.8.2).
    fn retained_wanted(&self, sub: &Subscription, existed: bool) -> bool {
        if self.broker.mutant(Mutant::RetainHandlingIgnored) {
            return true;
        }
        if sub.shared {
            return false;
        }
        match sub.retain_handling {
            RetainHandling::SendAtSubscribe => true,
            RetainHandling::SendAtNewSubscribe => !existed,
            RetainHandling::DoNotSend => false,
        }
    }

    /// A SUBACK failure code: the 5.0 one, or 0x80, all 3.1.1 has.
    fn refused(&self, v5_code: u8) -> u8 {
        if self.v5() {
            v5_code
        } else {
            ack_code::UNSPECIFIED_ERROR
        }
    }

    /// The 5.0 SUBACK code for a filter that needs a feature this broker
    /// was configured without; `None` under 3.1.1, whose filters these
    /// options do not touch.
    fn unavailable_feature(&self, filter: &str) -> Option<u8> {
        let config = self.broker.config();
        if !self.v5() {
            return None;
        }
        if filter.starts_with("$share/") && !config.shared_subscription_available {
            return Some(ack_code::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED);
        }
        if filter.contains(['+', '#']) && !config.wildcard_subscription_available {
            return Some(ack_code::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED);
        }
        None
    }

    /// Closes the stream, then deals with the will and the session. The
    /// finish guard drops last, releasing a connection that takes over.
    fn finish(self, end: End) -> Option<u64> {
        let Conn {
            broker,
            client_id,
            shared,
            _finish,
            reader,
            writer,
            keep_alive,
            will,
            session_expiry,
            ..
        } = self;
        drop((reader, writer));
        super::accept::release(&broker, &client_id, &shared);
        let ending = Ending {
            broker: &broker,
            client_id: &client_id,
            session_expiry,
        };
        let publish_will = ending.will_wanted(&end, will.is_some(), keep_alive);
        let held = match will {
            Some(w) if publish_will => ending.hold_or_publish(w),
            _ => None,
        };
        let mut store = broker.inner.store.borrow_mut();
        if !session_expiry.outlives_connection() {
            store.remove_session(&client_id);
            return None;
        }
        let waits = session_expiry.finite().is_some() || held.is_some();
        if let Some(s) = store.sessions.get_mut(&client_id) {
            s.held_will = held;
        }
        let offline_since = store.went_offline(&client_id)?;
        waits.then_some(offline_since)
    }

    /// What the session hands out, as packets for this client: without
    /// properties under 3.1.1, and under 5.0 without a PUBLISH larger than
    /// the client's maximum packet size, which is dropped as if delivered
    /// [MQTT-3.1.2-25].
    fn outgoing(&mut self, sends: Vec<Send>) -> Vec<Packet> {
        let mut out = Vec::with_capacity(sends.len());
        for s in sends {
            let mut p = match s {
                Send::Publish(p) => p,
                Send::PubRel(id) => {
                    out.push(Packet::PubRel(Ack::new(id)));
                    continue;
                }
            };
            if !self.v5() {
                p.properties = Properties::default();
            }
            let topic = p.topic.clone();
            let alias = self.alias_for(&mut p);
            if let Some(max) = self.client_packet_max
                && let Some(size) = self.too_large(&p, max)
            {
                self.broker.note(format!(
                    "message to {topic} not sent to {}: {size} bytes exceed its maximum packet size of {max}",
                    self.client_id
                ));
                let id = p.packet_id;
                self.with_session(|s| s.outbound.shift_remove(&id));
                continue;
            }
            // The alias is the client's only once it was sent.
            if let Some(alias) = alias {
                self.out_aliases.insert(topic, alias);
                // One alias per topic, numbered from 1: never above the
                // client's Topic Alias Maximum [MQTT-3.3.2-11].
                debug_assert!(self.out_aliases.len() <= usize::from(self.client_alias_max));
            }
            out.push(Packet::Publish(p));
        }
        out
    }

    /// Gives a 5.0 PUBLISH a topic alias if the client accepts them: the
    /// first `client_alias_max` distinct topics each get the next alias,
    /// sent with the topic the first time, and with an empty topic after
    /// that; later topics go without one [MQTT-3.1.2-26], [MQTT-3.3.2-11].
    /// Returns a new alias, which counts once the packet is sent.
    fn alias_for(&self, p: &mut Publish) -> Option<u16> {
        if !self.v5() || self.client_alias_max == 0 {
            return None;
        }
        if let Some(&alias) = self.out_aliases.get(&p.topic) {
            p.topic = String::new();
            p.properties.push(Property::TopicAlias(alias));
            return None;
        }
        let next = u16::try_from(self.out_aliases.len() + 1).ok()?;
        if next > self.client_alias_max {
            return None;
        }
        p.properties.push(Property::TopicAlias(next));
        Some(next)
    }

    /// The encoded size of `p` if it is over `max` bytes.
    fn too_large(&self, p: &Publish, max: u32) -> Option<usize> {
        let packet = Packet::Publish(p.clone());
        let size = crate::wire::encode(&packet, self.level).map_or(0, |b| b.len());
        (u64::try_from(size).unwrap_or(u64::MAX) > u64::from(max)).then_some(size)
    }
}

/// What `Conn::finish` decides the will by, once the connection is
/// taken apart.
struct Ending<'a> {
    broker: &'a Broker,
    client_id: &'a str,
    session_expiry: SessionExpiry,
}

impl Ending<'_> {
    /// Whether the will goes out (now or after its delay), by how the
    /// connection ended; with the note that says why it ended, or why a
    /// will stays unpublished.
    fn will_wanted(&self, end: &End, has_will: bool, keep_alive: Option<Duration>) -> bool {
        let (broker, client_id) = (self.broker, self.client_id);
        match end {
            End::Disconnect(disconnect_code::NORMAL) => {
                if has_will {
                    broker.note(format!("will of {client_id} discarded (DISCONNECT)"));
                }
                broker.mutant(Mutant::WillOnDisconnect)
            }
            // 5.0: any other reason (0x04 "with will message" above all)
            // keeps the will [MQTT-3.14.4-3].
            End::Disconnect(_) => true,
            End::Lost => true,
            End::KeepAlive => {
                let s = keep_alive.map(|d| d.as_secs_f64()).unwrap_or_default();
                broker.note(format!(
                    "keep-alive expired for {client_id} after {s}s of silence"
                ));
                true
            }
            End::Violation(why, _) => {
                broker.note(format!("protocol violation by {client_id}: {why}"));
                true
            }
            End::Kicked(kick) => {
                let profile = broker.config().takeover_will;
                let publish =
                    will_on_takeover(profile, self.session_expiry.outlives_connection(), *kick);
                if !publish && has_will {
                    broker.note(format!(
                        "will of {client_id} not published on takeover (takeover_will: {})",
                        profile_name(profile)
                    ));
                }
                publish
            }
        }
    }

    /// A 5.0 will with a delay waits in the session, if the session
    /// outlives the connection: it is returned, to be held. Without one
    /// the session's end is now, and so is the will [MQTT-3.1.3-9].
    fn hold_or_publish(&self, will: LastWill) -> Option<HeldWill> {
        let (broker, client_id) = (self.broker, self.client_id);
        let delay_s = will_delay_s(&will);
        let delayed = delay_s > 0
            && self.session_expiry.outlives_connection()
            && !broker.mutant(Mutant::WillDelayIgnored);
        if delayed {
            broker.note(format!(
                "will of {client_id} held for its delay of {delay_s}s"
            ));
            Some(HeldWill { will, delay_s })
        } else {
            broker.publish_will(client_id, will, "");
            None
        }
    }
}

/// False when a 5.0 PUBLISH says its payload is UTF-8 (Payload Format
/// Indicator 1) and it is not (5.0 section 3.3.2.3.2).
fn payload_format_kept(p: &Publish) -> bool {
    let utf8 = p
        .properties
        .iter()
        .any(|p| matches!(p, Property::PayloadFormatIndicator(1)));
    !utf8 || std::str::from_utf8(&p.payload).is_ok()
}

fn profile_name(p: super::TakeoverWill) -> &'static str {
    match p {
        super::TakeoverWill::Spec => "spec",
        super::TakeoverWill::Mosquitto => "mosquitto",
        super::TakeoverWill::Never => "never",
    }
}
