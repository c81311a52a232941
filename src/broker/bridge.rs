//! A bridge: the broker connects to a remote broker as an MQTT client and
//! forwards the topics its [`Bridge`] lists, as mosquitto's `connection`
//! blocks do. docs/broker.md ("Bridges") lists the semantics and where
//! they come from.
//!
//! The local side is a session of this broker's own store, under
//! [`Bridge::local_id`]: it subscribes to every `out` and `both` topic
//! (with No Local and Retain As Published, as mosquitto's local
//! subscriptions are), so routing queues what goes out exactly as it
//! queues for a client, within the same limits (`QUEUED_MAX`,
//! `queued_bytes_max`, their notes). While the link is up the session is
//! registered as connected and woken like a connection; while it is down
//! it is offline, and keeps QoS 1 and 2 messages only with `clean_session:
//! false`. What comes in is routed with the bridge's local id as its
//! publisher, so No Local keeps it from going back out.
//!
//! The remote side is a small client on the wire codec: CONNECT, SUBSCRIBE
//! to the `in` and `both` topics, PUBLISH with the QoS 1 and 2 flows (the
//! session's packet ids and resends with DUP=1 after a reconnect), PINGREQ
//! when idle for keep-alive, and a reconnect after `reconnect`. The harness
//! supplies the way to dial and sees every packet, through [`BridgeLink`]:
//! the broker imports nothing of the simulation or the trace.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep, sleep_until, timeout};

use super::bridge_config::Bridge;
use super::router::Publication;
use super::session::{Send, SessionExpiry, Subscription};
use super::takeover::ConnShared;
use super::{Broker, INFLIGHT_MAX, Mutant};
use crate::wire::{
    Ack, Connect, Disconnect, LEVEL_V5, Packet, Properties, Property, Publish, QoS, Reader,
    Subscribe, SubscribeFilter, WireError, Writer,
};

/// Messages the 3.1.1 bridge remembers having sent out on a `both` topic,
/// to recognise the remote broker's echo (3.1.1 has no No Local); the
/// oldest is forgotten beyond this.
pub const BRIDGE_ECHOES_MAX: usize = 1_000;
/// How long the bridge waits for CONNACK, and for a write to complete,
/// when its keep-alive is 0.
pub const BRIDGE_WAIT_DEFAULT: Duration = Duration::from_secs(10);

/// A stream the harness dials for a bridge.
pub trait LinkStream: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> LinkStream for T {}

/// A dial in progress: resolves to the stream, or why there is none.
pub type Dialing = Pin<Box<dyn Future<Output = io::Result<Box<dyn LinkStream>>>>>;

/// What happened on a bridge's connection, for the harness to record (the
/// simulation writes it into the trace as the client `<local>-><remote>`).
#[derive(Debug)]
pub enum LinkEvent<'a> {
    Connected,
    ConnectFailed(String),
    Sent(&'a Packet, u8),
    Received(&'a Packet, u8),
    /// The connection ended; `by_bridge` when the bridge closed it.
    Closed {
        by_bridge: bool,
    },
}

/// How a bridge reaches its remote broker: the harness's side of it, like
/// [`super::Listener`] for accepting.
pub trait BridgeLink {
    /// Opens a stream to the remote broker.
    fn dial(&self) -> Dialing;
    /// Sees what happened on the connection.
    fn event(&self, e: LinkEvent<'_>);
    /// The delay before the next reconnect, drawn from `lo..=hi` (the
    /// simulation draws from the run's seed).
    fn reconnect_delay(&self, lo: Duration, hi: Duration) -> Duration;
}

impl Broker {
    /// Runs this broker's bridge, if its configuration has one, forever:
    /// connect, forward, and reconnect after each loss.
    pub async fn bridge(&self, link: Rc<dyn BridgeLink>) {
        let Some(cfg) = self.config().bridge.clone() else {
            return;
        };
        let mut b = BridgeTask {
            broker: self.clone(),
            local_id: cfg.local_id(),
            keep_alive: cfg.keep_alive,
            cfg,
            link,
            echoes: VecDeque::new(),
            inflight_max: INFLIGHT_MAX,
        };
        b.set_up_session();
        loop {
            let why = b.link_once().await;
            let (lo, hi) = b.cfg.reconnect;
            let delay = b.link.reconnect_delay(lo, hi);
            b.broker.note(format!(
                "bridge {} to {}: {why}; reconnecting in {}",
                b.cfg.name,
                b.cfg.to,
                secs(delay)
            ));
            sleep(delay).await;
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

struct BridgeTask {
    broker: Broker,
    cfg: Bridge,
    local_id: String,
    link: Rc<dyn BridgeLink>,
    /// 3.1.1: (remote topic, payload) sent out on a `both` topic whose echo
    /// has not come back yet.
    echoes: VecDeque<(String, Bytes)>,
    /// This link's keep-alive: the bridge's own, or 5.0's Server Keep
    /// Alive from the CONNACK [MQTT-3.2.2-21].
    keep_alive: Duration,
    /// QoS 1 and 2 messages in flight on this link at most: `INFLIGHT_MAX`,
    /// or 5.0's Receive Maximum from the CONNACK when lower [MQTT-3.3.4-7].
    inflight_max: usize,
}

type Rd = Reader<tokio::io::ReadHalf<Box<dyn LinkStream>>>;
type Wr = Writer<tokio::io::WriteHalf<Box<dyn LinkStream>>>;

impl BridgeTask {
    fn expiry(&self) -> SessionExpiry {
        if self.cfg.clean_session {
            SessionExpiry(0)
        } else {
            SessionExpiry::NEVER
        }
    }

    /// The local session and its subscriptions, made at start and again
    /// before every connect (mosquitto re-adds them each time). A session
    /// kept from before a restart (`persistence: true`) is kept with what
    /// it holds.
    fn set_up_session(&mut self) {
        let expiry = self.expiry();
        let no_local = !self.broker.mutant(Mutant::BridgeBack);
        let mut store = self.broker.inner.store.borrow_mut();
        if !store.sessions.contains_key(&self.local_id) {
            store.insert_session(&self.local_id, super::session::Session::new(expiry));
            store.went_offline(&self.local_id);
        }
        for t in self.cfg.topics.iter().filter(|t| t.direction.outward()) {
            let qos = t
                .qos
                .min(QoS::try_from(self.broker.config().max_qos).unwrap_or(QoS::ExactlyOnce));
            let sub = Subscription {
                no_local,
                retain_as_published: true,
                ..Subscription::new(qos)
            };
            store.subscribe(&self.local_id, &t.local_filter(), sub);
        }
    }

    /// Mosquitto queues the local retained messages of every `out` topic
    /// for the bridge each time it connects.
    fn queue_retained(&self) {
        let mut messages = Vec::new();
        // The same retained-scan budget as one client's SUBSCRIBE: past
        // it, the remaining topics' retained messages are not queued, and
        // the note says so.
        let mut scan_left = self.broker.config().limits.retained_scan_max;
        for t in self.cfg.topics.iter().filter(|t| t.direction.outward()) {
            let filter = t.local_filter();
            match self
                .broker
                .retained_for(&filter, t.qos, None, None, &mut scan_left)
            {
                Some(found) => messages.extend(found),
                None => {
                    self.broker.note(format!(
                        "bridge {}: retained scan limit of {} reached at {filter}: \
                         its retained messages and the later topics' are not queued",
                        self.local_id,
                        self.broker.config().limits.retained_scan_max
                    ));
                    break;
                }
            }
        }
        let bytes_max = self.broker.config().queued_bytes_max;
        let dropped = self
            .with_session(|s| {
                messages
                    .into_iter()
                    .filter_map(|m| s.enqueue(m, bytes_max).err())
                    .count()
            })
            .unwrap_or(0);
        if dropped > 0 {
            self.broker.note(format!(
                "bridge {}: queue full: {dropped} retained messages not queued",
                self.local_id
            ));
        }
    }

    fn wait(&self) -> Duration {
        if self.keep_alive.is_zero() {
            BRIDGE_WAIT_DEFAULT
        } else {
            self.keep_alive.mul_f64(1.5)
        }
    }

    /// One life of the link: dial, CONNECT, forward until it ends. Returns
    /// why it ended, for the note.
    async fn link_once(&mut self) -> String {
        self.set_up_session();
        self.keep_alive = self.cfg.keep_alive;
        self.inflight_max = INFLIGHT_MAX;
        // A dead remote answers nothing: the dial is bounded like a write.
        let stream = match timeout(self.wait(), self.link.dial()).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                self.link.event(LinkEvent::ConnectFailed(e.to_string()));
                return format!("connect failed: {e}");
            }
            Err(_) => {
                let why = format!("no answer within {}", secs(self.wait()));
                self.link.event(LinkEvent::ConnectFailed(why.clone()));
                return format!("connect failed: {why}");
            }
        };
        self.link.event(LinkEvent::Connected);
        let level = self.cfg.level;
        let (r, w) = tokio::io::split(stream);
        let mut reader: Rd = Reader::new(r, Some(level));
        let mut writer: Wr = Writer::new(w, level);
        let connect = Packet::Connect(self.connect_packet());
        if let Err(why) = self.write(&mut writer, &connect).await {
            return why;
        }
        let connack = match timeout(self.wait(), reader.read()).await {
            Err(_) => return self.close(&mut writer, "no CONNACK in time").await,
            Ok(Ok(Some(p))) => p,
            Ok(Ok(None)) => return self.lost("closed before CONNACK"),
            Ok(Err(e)) => return self.lost(&format!("unreadable: {e}")),
        };
        self.link.event(LinkEvent::Received(&connack, level));
        match &connack {
            Packet::ConnAck(c) if c.code == 0 => {
                if let Some(s) = c.properties.server_keep_alive() {
                    self.keep_alive = Duration::from_secs(u64::from(s));
                }
                if let Some(m) = c.properties.receive_maximum() {
                    self.inflight_max = usize::from(m).clamp(1, INFLIGHT_MAX);
                }
            }
            Packet::ConnAck(c) => {
                return self
                    .close(&mut writer, &format!("CONNACK 0x{:02X}", c.code))
                    .await;
            }
            other => {
                return self
                    .close(
                        &mut writer,
                        &format!("{} before CONNACK", other.type_name()),
                    )
                    .await;
            }
        }
        let shared = self.go_online();
        let why = self.forward(&mut reader, &mut writer, &shared).await;
        self.go_offline(&shared);
        why
    }

    fn connect_packet(&self) -> Connect {
        let mut properties = Properties::default();
        if self.cfg.level == LEVEL_V5 && self.cfg.session_expiry_s != 0 {
            properties.push(Property::SessionExpiryInterval(self.cfg.session_expiry_s));
        }
        Connect {
            protocol_name: "MQTT".into(),
            protocol_level: self.cfg.level,
            client_id: self.cfg.client_id.clone(),
            clean: self.cfg.clean_session,
            keep_alive_s: u16::try_from(self.cfg.keep_alive.as_secs()).unwrap_or(u16::MAX),
            will: None,
            username: None,
            password: None,
            properties,
        }
    }

    /// The link is up: the local session is connected, so routing queues
    /// every QoS for it and wakes the bridge. A clean bridge starts its
    /// local session afresh (mosquitto deletes its messages on connect).
    fn go_online(&mut self) -> Rc<ConnShared> {
        let forget = self.cfg.clean_session || self.broker.mutant(Mutant::BridgeForgetsQueue);
        {
            let mut store = self.broker.inner.store.borrow_mut();
            if let Some(s) = store.sessions.get_mut(&self.local_id) {
                if forget {
                    s.queue.clear();
                    s.outbound.clear();
                    s.inbound_qos2.clear();
                }
                s.offline_since = None;
            }
        }
        if self.cfg.clean_session {
            self.echoes.clear();
        }
        let mut live = self.broker.inner.live.borrow_mut();
        live.next_conn_id += 1;
        live.count += 1;
        let shared = Rc::new(ConnShared::new(live.next_conn_id));
        live.by_client.insert(self.local_id.clone(), shared.clone());
        shared
    }

    fn go_offline(&mut self, shared: &Rc<ConnShared>) {
        {
            let mut live = self.broker.inner.live.borrow_mut();
            live.count = live.count.saturating_sub(1);
            if live
                .by_client
                .get(&self.local_id)
                .is_some_and(|c| c.conn_id == shared.conn_id)
            {
                live.by_client.remove(&self.local_id);
            }
        }
        let mut store = self.broker.inner.store.borrow_mut();
        store.went_offline(&self.local_id);
    }

    /// After CONNACK: resends what the session owes, subscribes on the
    /// remote, then forwards both ways until the link ends.
    async fn forward(&mut self, reader: &mut Rd, writer: &mut Wr, shared: &ConnShared) -> String {
        self.queue_retained();
        let now = Instant::now();
        let resends = self
            .with_session(|s| s.resend(self.inflight_max, now))
            .unwrap_or_default();
        for s in resends {
            if let Err(why) = self.send(writer, s).await {
                return why;
            }
        }
        if let Some(sub) = self.subscribe_packet()
            && let Err(why) = self.write(writer, &Packet::Subscribe(sub)).await
        {
            return why;
        }
        let mut last_sent = Instant::now();
        // As mosquitto's client does, a PINGREQ goes out when nothing was
        // sent, or nothing received, for keep-alive: a bridge that keeps
        // publishing into a stalled link still finds out it is dead.
        let mut last_received = last_sent;
        let mut ping_sent: Option<Instant> = None;
        loop {
            if let Err(why) = self.flush(writer, &mut last_sent).await {
                return why;
            }
            let keep_alive = self.keep_alive;
            let deadline = match ping_sent {
                Some(at) => at + self.wait(),
                None if keep_alive.is_zero() => Instant::now() + Duration::from_secs(86_400),
                None => last_sent.min(last_received) + keep_alive,
            };
            tokio::select! {
                biased;
                read = reader.read() => {
                    let packet = match read {
                        Ok(Some(p)) => p,
                        Ok(None) => return self.lost("closed by the remote broker"),
                        Err(e) => return self.lost(&format!("unreadable: {e}")),
                    };
                    self.link.event(LinkEvent::Received(&packet, self.cfg.level));
                    last_received = Instant::now();
                    if matches!(packet, Packet::PingResp) {
                        ping_sent = None;
                    }
                    match self.on_packet(packet) {
                        Ok(replies) => {
                            for r in replies {
                                if let Err(why) = self.write(writer, &r).await {
                                    return why;
                                }
                                last_sent = Instant::now();
                            }
                        }
                        Err(why) => return self.close(writer, &why).await,
                    }
                }
                _ = shared.wake.notified() => {}
                _ = shared.kicked() => {
                    return self.close(writer, "its local session was taken over").await;
                }
                _ = sleep_until(deadline) => {
                    if ping_sent.is_some() {
                        return self.close(writer, "no PINGRESP within keep-alive").await;
                    }
                    if let Err(why) = self.write(writer, &Packet::PingReq).await {
                        return why;
                    }
                    last_sent = Instant::now();
                    ping_sent = Some(last_sent);
                }
            }
        }
    }

    /// SUBSCRIBE for the `in` and `both` topics; 5.0 asks No Local and
    /// Retain As Published, as mosquitto's 5.0 bridge does.
    fn subscribe_packet(&self) -> Option<Subscribe> {
        let v5 = self.cfg.level == LEVEL_V5;
        let filters: Vec<SubscribeFilter> = self
            .cfg
            .topics
            .iter()
            .filter(|t| t.direction.inward())
            .map(|t| SubscribeFilter {
                no_local: v5,
                retain_as_published: v5,
                ..SubscribeFilter::new(t.remote_filter(), t.qos)
            })
            .collect();
        if filters.is_empty() {
            return None;
        }
        // An id no PUBLISH of the session has in flight.
        let store = self.broker.inner.store.borrow();
        let used = store.sessions.get(&self.local_id).map(|s| &s.outbound);
        let packet_id = (1..=u16::MAX)
            .rev()
            .find(|id| used.is_none_or(|o| !o.contains_key(id)))
            .unwrap_or(u16::MAX);
        Some(Subscribe {
            packet_id,
            filters,
            properties: Properties::default(),
        })
    }

    /// Sends what the local session has for the remote, within the link's
    /// in-flight limit.
    async fn flush(&mut self, writer: &mut Wr, last_sent: &mut Instant) -> Result<(), String> {
        let now = Instant::now();
        let sends = self
            .with_session(|s| s.take_sendable(self.inflight_max, now))
            .unwrap_or_default();
        for s in sends {
            self.send(writer, s).await?;
            *last_sent = Instant::now();
        }
        Ok(())
    }

    /// One packet of the session, its topic mapped to the remote's.
    async fn send(&mut self, writer: &mut Wr, s: Send) -> Result<(), String> {
        let packet = match s {
            Send::PubRel(id) => Packet::PubRel(Ack::new(id)),
            Send::Publish(mut p) => {
                let Some((remote, entry)) = self.cfg.out_topic(&p.topic) else {
                    // Only subscriptions of `out` topics queue for the
                    // bridge; a retained message of another filter cannot.
                    return Ok(());
                };
                let both = entry.direction.inward();
                p.topic = remote;
                if self.cfg.level != LEVEL_V5 {
                    p.properties = Properties::default();
                }
                if both && self.cfg.level != LEVEL_V5 && !p.dup {
                    if self.echoes.len() >= BRIDGE_ECHOES_MAX {
                        self.echoes.pop_front();
                    }
                    self.echoes.push_back((p.topic.clone(), p.payload.clone()));
                }
                Packet::Publish(p)
            }
        };
        self.write(writer, &packet).await
    }

    /// What a packet from the remote broker asks: acknowledgements of
    /// messages coming in (routed locally first), and the end of
    /// outgoing flows. `Err` closes the link.
    fn on_packet(&mut self, packet: Packet) -> Result<Vec<Packet>, String> {
        let mut out = Vec::new();
        match packet {
            Packet::Publish(p) => {
                let id = p.packet_id;
                match p.qos {
                    QoS::AtMostOnce => self.incoming(p),
                    QoS::AtLeastOnce => {
                        self.incoming(p);
                        out.push(Packet::PubAck(Ack::new(id)));
                    }
                    QoS::ExactlyOnce => {
                        // Method A: delivered on the first PUBLISH; a resend
                        // before PUBREL only gets PUBREC again.
                        let fresh = self.with_session(|s| s.inbound_qos2.insert(id));
                        if fresh == Some(true) {
                            self.incoming(p);
                        }
                        out.push(Packet::PubRec(Ack::new(id)));
                    }
                }
            }
            Packet::PubRel(a) => {
                self.with_session(|s| s.inbound_qos2.remove(&a.packet_id));
                out.push(Packet::PubComp(Ack::new(a.packet_id)));
            }
            Packet::PubAck(a) => {
                self.with_session(|s| s.puback(a.packet_id));
            }
            Packet::PubRec(a) => {
                let refused = a.reason >= 0x80;
                let known = self.with_session(|s| {
                    if refused {
                        s.pubrec_refused(a.packet_id)
                    } else {
                        s.pubrec(a.packet_id)
                    }
                });
                if !refused || known != Some(true) {
                    out.push(Packet::PubRel(Ack::new(a.packet_id)));
                }
            }
            Packet::PubComp(a) => {
                self.with_session(|s| s.pubcomp(a.packet_id));
            }
            Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {}
            Packet::Disconnect(d) => {
                return Err(match d.reason {
                    Some(r) => format!("DISCONNECT 0x{r:02X} from the remote broker"),
                    None => "DISCONNECT from the remote broker".into(),
                });
            }
            other => {
                return Err(format!(
                    "unexpected {} from the remote broker",
                    other.type_name()
                ));
            }
        }
        Ok(out)
    }

    fn with_session<T>(&self, f: impl FnOnce(&mut super::Session) -> T) -> Option<T> {
        self.broker
            .inner
            .store
            .borrow_mut()
            .sessions
            .get_mut(&self.local_id)
            .map(f)
    }

    /// A message from the remote: routed locally on its mapped topic, with
    /// the bridge as its publisher (so No Local keeps it from going back),
    /// unless it is the 3.1.1 echo of one the bridge sent out.
    fn incoming(&mut self, p: Publish) {
        let Some((local, _)) = self.cfg.in_topic(&p.topic) else {
            return;
        };
        if self.cfg.level != LEVEL_V5
            && let Some(i) = self
                .echoes
                .iter()
                .position(|(t, b)| *t == p.topic && *b == p.payload)
        {
            self.echoes.remove(i);
            return;
        }
        let mut properties = p.properties;
        properties.0.retain(|q| {
            !matches!(
                q,
                Property::TopicAlias(_) | Property::SubscriptionIdentifier(_)
            )
        });
        self.broker.route(&Publication {
            topic: local,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            properties,
            from: Some(self.local_id.clone()),
        });
    }

    async fn write(&self, writer: &mut Wr, p: &Packet) -> Result<(), String> {
        self.link.event(LinkEvent::Sent(p, self.cfg.level));
        match timeout(self.wait(), writer.write(p)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.lost(&format!("write failed: {}", wire_text(&e)))),
            Err(_) => Err(self.lost("a write blocked past keep-alive")),
        }
    }

    fn lost(&self, why: &str) -> String {
        self.link.event(LinkEvent::Closed { by_bridge: false });
        format!("link lost ({why})")
    }

    /// Closes the link from the bridge's side.
    async fn close(&self, writer: &mut Wr, why: &str) -> String {
        if matches!(why, "its local session was taken over") {
            let d = Packet::Disconnect(Disconnect::default());
            self.link.event(LinkEvent::Sent(&d, self.cfg.level));
            let _ = timeout(self.wait(), writer.write(&d)).await;
        }
        let _ = timeout(self.wait(), writer.shutdown()).await;
        self.link.event(LinkEvent::Closed { by_bridge: true });
        format!("link closed ({why})")
    }
}

fn wire_text(e: &WireError) -> String {
    e.to_string()
}
