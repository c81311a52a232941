//! The scripted client: runs a client's steps against its broker, pings when
//! `ping: auto`, reconnects like mqtt.js's `reconnectPeriod`, acknowledges
//! what it receives, and records everything it sends and receives.
//!
//! One client is one task with one `select!` loop: the connection's reader
//! first, then a single timer for whatever is due next (a ping, a ping
//! timeout, a reconnect, the next step). Keeping it to one task means there
//! is no ordering between tasks to reason about.

mod session;

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};

use crate::scenario::{
    Ack, Action, ClientSpec, ClosedBy, ConnectOptions, ConnectOverrides, Ping, Protocol, Step,
    Subscription, Will,
};
use crate::trace::{EventKind, Recorder};
use crate::wire::{
    self, Connect, Disconnect, LEVEL_V5, LEVEL_V311, LastWill, Packet, Properties, Property,
    Publish, QoS, Reader, RetainHandling, Subscribe, SubscribeFilter, Unsubscribe, Writer,
};
use session::Session;

/// The default of the client option `connect_timeout`: how long a connect
/// may take, TCP and CONNACK, before it counts as failed (mqtt.js's
/// `connectTimeout`). A connect to a crashed host never answers otherwise,
/// nor does a CONNACK lost to a partition.
pub const CONNECT_TIMEOUT: Duration = crate::scenario::CONNECT_TIMEOUT_DEFAULT;

/// Opens a byte stream to a broker host: turmoil TCP in simulation, tokio
/// TCP in a live run.
pub trait Connector {
    type Stream: AsyncRead + AsyncWrite + Unpin + 'static;
    fn connect(&self, broker: &str) -> impl Future<Output = io::Result<Self::Stream>>;
}

/// Connects over turmoil's simulated TCP to the broker's well-known port.
pub struct SimConnector;

impl Connector for SimConnector {
    type Stream = turmoil::net::TcpStream;
    async fn connect(&self, broker: &str) -> io::Result<Self::Stream> {
        turmoil::net::TcpStream::connect((broker, crate::broker::PORT)).await
    }
}

struct Conn<S> {
    reader: Reader<ReadHalf<S>>,
    writer: Writer<WriteHalf<S>>,
    /// The protocol level this connection speaks.
    level: u8,
    /// CONNACK with code 0 received.
    up: bool,
    /// When the client last wrote a packet, for `ping: auto`.
    last_send: Duration,
    /// When the unanswered PINGREQ was sent.
    ping_sent: Option<Duration>,
    /// When TCP was established: CONNACK is due within `CONNECT_TIMEOUT`.
    opened: Duration,
    /// The keep-alive in force: the client's own, or the Server Keep Alive
    /// of a 5.0 CONNACK, which replaces it [MQTT-3.2.2-21].
    keep_alive: Duration,
    /// The broker's Receive Maximum from a 5.0 CONNACK: how many QoS 1 and
    /// 2 PUBLISH packets may await acknowledgement at once [MQTT-3.3.4-7].
    receive_maximum: usize,
    /// The broker's Maximum Packet Size from a 5.0 CONNACK, in bytes: the
    /// client sends nothing larger [MQTT-3.2.2-15].
    maximum_packet_size: Option<usize>,
    /// The reason code of the DISCONNECT the broker sent, if it sent one.
    disconnect_reason: Option<u8>,
    /// Topic aliases the broker set on this connection (5.0): alias ->
    /// topic. They end with the connection [MQTT-3.3.2-7].
    aliases: BTreeMap<u16, String>,
}

/// The Receive Maximum a broker has when its CONNACK gives none
/// (5.0 section 3.2.2.3.3).
const RECEIVE_MAXIMUM_DEFAULT: usize = 65_535;

/// What the next step is waiting for, besides its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Nothing,
    /// A connect step is in progress: it finishes on CONNACK or failure.
    Connack,
    /// A `wait: true` step finishes when `ack` with packet id `id` arrives,
    /// and fails when the connection is lost first.
    Flow {
        line: usize,
        step: &'static str,
        ack: &'static str,
        id: u16,
    },
}

/// A client host: its script and its state.
pub struct Client<C: Connector> {
    name: String,
    spec: ClientSpec,
    connector: C,
    rec: Recorder,
    rng: ChaCha8Rng,
    conn: Option<Conn<C::Stream>>,
    session: Session,
    /// The options of the latest connect; a reconnect reuses them.
    options: ConnectOptions,
    /// A `disconnect` step ended the connection: no reconnect follows.
    graceful: bool,
    reconnect_at: Option<Duration>,
    silenced: bool,
    next_step: usize,
    /// The drawn `at` of the next step, drawn once when it becomes current.
    next_step_at: Option<Duration>,
    waiting: Waiting,
    /// When the previous step finished: what `after` counts from.
    step_done_at: Duration,
    /// QoS 1 and 2 PUBLISH packets held back by the broker's Receive
    /// Maximum, oldest first; each goes out when an acknowledgement makes
    /// room.
    held: VecDeque<Publish>,
}

/// What the timer branch woke up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    ConnackTimeout,
    PingTimeout,
    Ping,
    Reconnect,
    Step,
}

impl<C: Connector> Client<C> {
    pub fn new(name: &str, spec: ClientSpec, connector: C, rec: Recorder, rng: ChaCha8Rng) -> Self {
        let options = spec.options.clone();
        Client {
            name: name.to_string(),
            spec,
            connector,
            rec,
            rng,
            conn: None,
            session: Session::default(),
            options,
            graceful: false,
            reconnect_at: None,
            silenced: false,
            next_step: 0,
            next_step_at: None,
            waiting: Waiting::Nothing,
            step_done_at: Duration::ZERO,
            held: VecDeque::new(),
        }
    }

    fn record(&self, kind: EventKind) {
        self.rec.record(kind);
    }

    fn error(&self, text: impl Into<String>) {
        self.record(EventKind::Error {
            client: self.name.clone(),
            text: text.into(),
        });
    }

    /// Runs the script to the end of the simulation. Returns once there is
    /// nothing left that could ever happen: no steps, no connection, no
    /// reconnect pending.
    pub async fn run(mut self) {
        loop {
            let due = self.next_due();
            if due.is_none() && self.conn.is_none() {
                return;
            }
            let now = self.rec.now();
            let sleep_for = due.map(|(at, _)| at.saturating_sub(now));
            tokio::select! {
                biased;
                read = read_packet(&mut self.conn) => self.on_read(read).await,
                _ = sleep_or_forever(sleep_for) => {
                    if let Some((_, what)) = due {
                        self.on_due(what).await;
                    }
                }
            }
        }
    }

    /// The earliest thing the timer must wake up for.
    fn next_due(&mut self) -> Option<(Duration, Due)> {
        let mut due: Vec<(Duration, Due)> = Vec::new();
        if let Some(conn) = &self.conn {
            if !conn.up {
                due.push((conn.opened + self.spec.connect_timeout, Due::ConnackTimeout));
            }
            let ka = conn.keep_alive;
            if conn.up && self.spec.ping == Ping::Auto && !ka.is_zero() && !self.silenced {
                match conn.ping_sent {
                    Some(sent) => due.push((sent + ka, Due::PingTimeout)),
                    None => due.push((conn.last_send + ka, Due::Ping)),
                }
            }
        }
        if let Some(at) = self.reconnect_at {
            due.push((at, Due::Reconnect));
        }
        if let Some(at) = self.step_ready_at() {
            due.push((at, Due::Step));
        }
        due.into_iter().min()
    }

    /// When the next step may run, or `None` if it is blocked or there is
    /// none.
    fn step_ready_at(&mut self) -> Option<Duration> {
        let step = self.spec.steps.get(self.next_step)?;
        if self.waiting != Waiting::Nothing {
            return None;
        }
        let needs_connection = matches!(
            step.action,
            Action::Subscribe { .. }
                | Action::Unsubscribe(_)
                | Action::Publish { .. }
                | Action::Send(_)
        );
        let connected = self.conn.as_ref().is_some_and(|c| c.up);
        // With `reconnect`, a step that needs the connection waits for it.
        if needs_connection && !connected && self.will_reconnect() {
            return None;
        }
        let at = match self.next_step_at {
            Some(at) => at,
            None => {
                let at = match (&step.at, &step.after) {
                    (Some(at), _) => at.draw(&mut self.rng),
                    (None, Some(after)) => self.step_done_at + after.draw(&mut self.rng),
                    (None, None) => Duration::ZERO,
                };
                self.next_step_at = Some(at);
                at
            }
        };
        Some(at)
    }

    /// Whether the client will (again) have a connection without a step
    /// asking for one: a connection is being set up or a reconnect is due.
    fn will_reconnect(&self) -> bool {
        self.spec.reconnect.is_some()
            && !self.graceful
            && (self.conn.is_some() || self.reconnect_at.is_some())
    }

    async fn on_due(&mut self, what: Due) {
        match what {
            Due::ConnackTimeout => {
                self.error(format!(
                    "no CONNACK within {}s: connection given up",
                    self.spec.connect_timeout.as_secs_f64()
                ));
                self.lose_connection(ClosedBy::Client);
            }
            Due::PingTimeout => {
                self.error("no PINGRESP within keep-alive: connection lost");
                self.lose_connection(ClosedBy::Client);
            }
            Due::Ping => {
                if let Some(c) = &mut self.conn {
                    c.ping_sent = Some(self.rec.now());
                }
                self.send(Packet::PingReq).await;
            }
            Due::Reconnect => {
                self.reconnect_at = None;
                self.open().await;
            }
            Due::Step => {
                let step = self.spec.steps[self.next_step].clone();
                self.next_step += 1;
                self.next_step_at = None;
                self.run_step(&step).await;
                if self.waiting == Waiting::Nothing {
                    self.step_done_at = self.rec.now();
                }
            }
        }
    }
}

impl<C: Connector> Client<C> {
    async fn run_step(&mut self, step: &Step) {
        let connected = self.conn.as_ref().is_some_and(|c| c.up);
        match &step.action {
            Action::Connect(overrides) => self.connect_step(step, overrides).await,
            Action::Disconnect { reason, properties } => {
                self.disconnect_step(step, *reason, properties).await
            }
            Action::Drop => {
                if self.conn.is_none() {
                    self.error(format!("line {}: drop: not connected", step.line));
                    return;
                }
                self.close(ClosedBy::Client).await;
                self.schedule_reconnect();
            }
            Action::Silence => {
                self.silenced = true;
                self.record(EventKind::Silence {
                    client: self.name.clone(),
                });
            }
            Action::Resume => {
                self.silenced = false;
                self.record(EventKind::Resume {
                    client: self.name.clone(),
                });
            }
            _ if !connected => {
                self.error(format!(
                    "line {}: {}: not connected",
                    step.line,
                    step.action.name()
                ));
            }
            Action::Subscribe {
                filters,
                properties,
            } => {
                let Some(packet_id) = self.packet_id(step) else {
                    return;
                };
                self.wait_for(step, "SUBACK", packet_id);
                self.send(Packet::Subscribe(Subscribe {
                    packet_id,
                    filters: filters.iter().map(wire_filter).collect(),
                    properties: properties.clone(),
                }))
                .await;
            }
            Action::Unsubscribe(filters) => {
                let Some(packet_id) = self.packet_id(step) else {
                    return;
                };
                self.wait_for(step, "UNSUBACK", packet_id);
                self.send(Packet::Unsubscribe(Unsubscribe {
                    packet_id,
                    filters: filters.clone(),
                    properties: Properties::default(),
                }))
                .await;
            }
            Action::Publish {
                topic,
                payload,
                qos,
                retain,
                properties,
            } => {
                let publish = Publish {
                    topic: topic.clone(),
                    payload: payload.clone(),
                    qos: scenario_qos(*qos),
                    retain: *retain,
                    dup: false,
                    packet_id: 0,
                    properties: properties.clone(),
                };
                self.publish_step(step, publish).await;
            }
            Action::Send(bytes) => self.send_raw(bytes.clone()).await,
        }
    }

    /// A `connect` step: the client's options with the step's overrides;
    /// it waits for the CONNACK.
    async fn connect_step(&mut self, step: &Step, overrides: &ConnectOverrides) {
        if self.conn.is_some() {
            self.error(format!("line {}: connect: already connected", step.line));
            return;
        }
        self.options = self.spec.options.with(overrides);
        self.graceful = false;
        self.reconnect_at = None;
        self.waiting = Waiting::Connack;
        self.open().await;
    }

    /// A `disconnect` step: DISCONNECT, then close; no reconnect follows.
    async fn disconnect_step(&mut self, step: &Step, reason: Option<u8>, properties: &Properties) {
        if self.conn.is_none() {
            self.error(format!("line {}: disconnect: not connected", step.line));
            return;
        }
        self.graceful = true;
        self.reconnect_at = None;
        // 5.0 always has a reason code; 0x00 when the file gives none.
        let v5 = self.options.protocol == Protocol::V5;
        self.send(Packet::Disconnect(Disconnect {
            reason: reason.or(v5.then_some(0)),
            properties: properties.clone(),
        }))
        .await;
        self.close(ClosedBy::Client).await;
    }

    /// A `publish` step: a QoS 1 or 2 message takes a packet id and waits
    /// for its flow to complete, and is held while the broker's Receive
    /// Maximum leaves no room; QoS 0 goes out at once.
    async fn publish_step(&mut self, step: &Step, mut publish: Publish) {
        let awaited = match publish.qos {
            QoS::AtMostOnce => {
                // A QoS 0 flow is complete once written.
                self.send(Packet::Publish(publish)).await;
                return;
            }
            QoS::AtLeastOnce => "PUBACK",
            QoS::ExactlyOnce => "PUBCOMP",
        };
        let Some(packet_id) = self.packet_id(step) else {
            return;
        };
        publish.packet_id = packet_id;
        self.wait_for(step, awaited, packet_id);
        if self.held.is_empty() && self.room_in_flight() {
            self.session.published(&publish);
            self.send(Packet::Publish(publish)).await;
        } else {
            self.hold(publish);
        }
    }

    /// Whether the broker's Receive Maximum leaves room for one more QoS 1
    /// or 2 PUBLISH. Without a connection there is room: the message is
    /// kept in the session and sent on reconnect, as before 5.0.
    fn room_in_flight(&self) -> bool {
        self.conn
            .as_ref()
            .is_none_or(|c| self.session.in_flight() < c.receive_maximum)
    }

    fn hold(&mut self, publish: Publish) {
        let max = self
            .conn
            .as_ref()
            .map_or(RECEIVE_MAXIMUM_DEFAULT, |c| c.receive_maximum);
        self.record(EventKind::Held {
            client: self.name.clone(),
            text: format!(
                "PUBLISH packet_id={} held: {} QoS 1/2 messages await acknowledgement, the broker's receive_maximum is {max}",
                publish.packet_id,
                self.session.in_flight()
            ),
        });
        self.held.push_back(publish);
    }

    /// Sends held messages while the Receive Maximum has room.
    async fn release_held(&mut self) {
        while self.conn.as_ref().is_some_and(|c| c.up) && self.room_in_flight() {
            let Some(publish) = self.held.pop_front() else {
                return;
            };
            self.session.published(&publish);
            self.send(Packet::Publish(publish)).await;
        }
    }

    fn packet_id(&mut self, step: &Step) -> Option<u16> {
        let id = self.session.next_id();
        if id.is_none() {
            self.error(format!(
                "line {}: {}: all packet identifiers are in flight",
                step.line,
                step.action.name()
            ));
        }
        id
    }

    /// Opens TCP and sends CONNECT built from the current options.
    async fn open(&mut self) {
        let attempt = tokio::time::timeout(
            self.spec.connect_timeout,
            self.connector.connect(&self.spec.broker),
        )
        .await;
        let stream = match attempt {
            Ok(Ok(stream)) => stream,
            // turmoil's message is the peer's address; the kind is what a
            // reader wants ("connection refused").
            Ok(Err(e)) => return self.connect_failed(e.kind().to_string()),
            Err(_) => return self.connect_failed("timed out".to_string()),
        };
        self.record(EventKind::Connected {
            client: self.name.clone(),
        });
        let level = self.options.protocol.level();
        let (r, w) = tokio::io::split(stream);
        self.conn = Some(Conn {
            reader: Reader::new(r, Some(level)),
            writer: Writer::new(w, level),
            level,
            up: false,
            last_send: self.rec.now(),
            ping_sent: None,
            opened: self.rec.now(),
            keep_alive: self.options.keep_alive,
            receive_maximum: RECEIVE_MAXIMUM_DEFAULT,
            maximum_packet_size: None,
            disconnect_reason: None,
            aliases: BTreeMap::new(),
        });
        match self.options.raw.clone() {
            Some(bytes) => self.send_raw(bytes).await,
            None => {
                let connect = connect_packet(&self.options);
                self.send(Packet::Connect(connect)).await;
            }
        }
    }

    fn connect_failed(&mut self, error: String) {
        self.record(EventKind::ConnectFailed {
            client: self.name.clone(),
            error,
        });
        self.connect_step_done();
        self.schedule_reconnect();
    }

    fn connect_step_done(&mut self) {
        if self.waiting == Waiting::Connack {
            self.step_finished();
        }
    }

    fn step_finished(&mut self) {
        self.waiting = Waiting::Nothing;
        self.step_done_at = self.rec.now();
    }

    /// Makes the current step wait for its flow to complete, when it says
    /// `wait: true`.
    fn wait_for(&mut self, step: &Step, ack: &'static str, id: u16) {
        if step.wait {
            self.waiting = Waiting::Flow {
                line: step.line,
                step: step.action.name(),
                ack,
                id,
            };
        }
    }

    /// A waiting step whose connection is gone has failed: said in the
    /// trace, and the script goes on.
    fn flow_lost(&mut self) {
        if let Waiting::Flow {
            line, step, ack, ..
        } = self.waiting
        {
            self.error(format!(
                "line {line}: {step}: connection lost before {ack}; the step failed"
            ));
            self.step_finished();
        }
    }

    /// Whether `packet` is the one whose flow the current step waits for
    /// (a PUBLISH, SUBSCRIBE or UNSUBSCRIBE the client sends).
    fn completes_flow_of(&self, packet: &Packet) -> bool {
        let Waiting::Flow { id, .. } = self.waiting else {
            return false;
        };
        match packet {
            Packet::Publish(p) => p.packet_id == id,
            Packet::Subscribe(s) => s.packet_id == id,
            Packet::Unsubscribe(u) => u.packet_id == id,
            _ => false,
        }
    }

    /// Whether `packet` completes the flow the current step waits for.
    fn completes_flow(&self, packet: &Packet) -> bool {
        let Waiting::Flow { ack, id, .. } = self.waiting else {
            return false;
        };
        let packet_id = match packet {
            Packet::PubAck(a) | Packet::PubComp(a) => a.packet_id,
            Packet::UnsubAck(u) => u.packet_id,
            Packet::SubAck(s) => s.packet_id,
            _ => return false,
        };
        packet.type_name() == ack && packet_id == id
    }

    fn schedule_reconnect(&mut self) {
        if self.graceful {
            return;
        }
        if let Some(period) = self.spec.reconnect {
            let wait = period.draw(&mut self.rng);
            self.reconnect_at = Some(self.rec.now() + wait);
        }
    }

    /// Writes and records one packet. Nothing is written without a
    /// connection.
    async fn send(&mut self, packet: Packet) {
        let Some(conn) = &mut self.conn else { return };
        if let Some(max) = conn.maximum_packet_size {
            let size = wire::encode(&packet, conn.level).map_or(0, |b| b.len());
            if size > max {
                let what = packet.type_name();
                if let Packet::Publish(p) = &packet {
                    // Never sent, so never acknowledged: it leaves the session.
                    self.session.completed(p.packet_id);
                }
                self.error(format!(
                    "{what} not sent: it is {size} bytes, more than the broker's maximum_packet_size of {max}"
                ));
                if let Waiting::Flow { .. } = self.waiting
                    && self.completes_flow_of(&packet)
                {
                    self.step_finished();
                }
                return;
            }
        }
        let result = conn.writer.write_or_cut(&packet).await;
        conn.last_send = self.rec.now();
        let level = conn.level;
        match result {
            Ok(()) => self.record(EventKind::Send {
                client: self.name.clone(),
                packet,
                level,
            }),
            // Cut short by the broker's close (a broker closes on reading
            // the header of a packet over its maximum size): the packet
            // did go out, in part, and the close is the broker's answer to
            // it. Reporting it as not sent made the close look like one
            // after silence, a keep-alive violation.
            Err(cut) if cut.started && matches!(cut.error, wire::WireError::Io(_)) => {
                let what = packet.type_name();
                self.record(EventKind::Send {
                    client: self.name.clone(),
                    packet,
                    level,
                });
                self.error(format!(
                    "{what} of {} bytes cut off: the broker closed the connection while it was written ({})",
                    cut.size, cut.error
                ));
                self.lose_connection(ClosedBy::Broker);
            }
            // Not a `send`: the packet did not go out.
            Err(cut) => self.write_failed(packet.type_name(), cut.error),
        }
    }

    /// Writes and records raw bytes (the `send` step, `connect: {hex}`).
    async fn send_raw(&mut self, bytes: bytes::Bytes) {
        let Some(conn) = &mut self.conn else { return };
        let result = conn.writer.write_raw(&bytes).await;
        conn.last_send = self.rec.now();
        match result {
            Ok(()) => self.record(EventKind::SendRaw {
                client: self.name.clone(),
                bytes,
            }),
            Err(e) => self.write_failed("raw bytes", e),
        }
    }

    /// Like [`send`](Self::send), for what the client sends on its own
    /// (acks): a silenced client sends none of it.
    async fn send_auto(&mut self, packet: Packet) {
        if !self.silenced {
            self.send(packet).await;
        }
    }

    fn write_failed(&mut self, what: &str, e: wire::WireError) {
        self.error(format!("{what} not sent: write failed: {e}"));
        // A packet this client cannot encode is the client giving up; a
        // transport error means the other side is gone.
        let by = match e {
            wire::WireError::Io(_) => ClosedBy::Broker,
            _ => ClosedBy::Client,
        };
        self.lose_connection(by);
    }

    /// The client ends the connection itself: the stream is shut down and
    /// dropped, so the broker sees EOF.
    async fn close(&mut self, by: ClosedBy) {
        if let Some(conn) = &mut self.conn {
            let _ = conn.writer.shutdown().await;
        }
        self.closed(by);
    }

    /// The connection is gone (or given up on) without a clean shutdown.
    fn lose_connection(&mut self, by: ClosedBy) {
        self.closed(by);
        self.schedule_reconnect();
    }

    fn closed(&mut self, by: ClosedBy) {
        let reason = self.conn.take().and_then(|c| c.disconnect_reason);
        self.connect_step_done();
        self.record(EventKind::Closed {
            client: self.name.clone(),
            by,
            reason,
        });
        self.flow_lost();
    }

    async fn on_read(&mut self, read: Result<Option<Packet>, wire::WireError>) {
        let packet = match read {
            Ok(Some(p)) => p,
            Ok(None) => return self.lose_connection(ClosedBy::Broker),
            Err(e) => {
                self.error(format!("read failed: {e}"));
                // An undecodable stream cannot be resynchronised: the client
                // closes it, as the spec asks of any receiver.
                let by = match e {
                    wire::WireError::Io(_) | wire::WireError::Truncated => ClosedBy::Broker,
                    _ => ClosedBy::Client,
                };
                return self.lose_connection(by);
            }
        };
        let level = self.conn.as_ref().map_or(LEVEL_V311, |c| c.level);
        let resolved_topic = match &packet {
            Packet::Publish(p) if level == LEVEL_V5 => self.resolve_alias(p),
            _ => None,
        };
        self.record(EventKind::Recv {
            client: self.name.clone(),
            packet: packet.clone(),
            level,
            resolved_topic,
        });
        if self.completes_flow(&packet) {
            self.step_finished();
        }
        match packet {
            Packet::ConnAck(ack) => {
                self.connect_step_done();
                if ack.code != 0 {
                    return;
                }
                if let Some(c) = &mut self.conn {
                    c.up = true;
                    adopt(c, &ack.properties);
                }
                if self.options.clean {
                    self.session.clear();
                }
                for p in self.session.resend() {
                    self.send(p).await;
                }
                self.release_held().await;
            }
            Packet::Publish(p) => match (p.qos, self.spec.ack) {
                (QoS::AtLeastOnce, Ack::Auto) => {
                    self.send_auto(Packet::PubAck(wire::Ack::new(p.packet_id)))
                        .await
                }
                (QoS::ExactlyOnce, Ack::Auto) => {
                    self.send_auto(Packet::PubRec(wire::Ack::new(p.packet_id)))
                        .await
                }
                _ => {}
            },
            Packet::PubAck(a) | Packet::PubComp(a) => {
                self.session.completed(a.packet_id);
                self.release_held().await;
            }
            // A 5.0 PUBREC with a failure code ends the flow: no PUBREL
            // follows (5.0 section 4.3.3).
            Packet::PubRec(a) if a.reason >= REASON_FAILURE => {
                self.session.completed(a.packet_id);
                // A `wait: true` step waits for PUBCOMP, which never comes
                // now: the step ends here, and the trace says why.
                if let Waiting::Flow { line, step, id, .. } = self.waiting
                    && id == a.packet_id
                {
                    self.error(format!(
                        "line {line}: {step}: PUBREC refused it (reason 0x{:02X}): no PUBREL or PUBCOMP follows; the step ends here",
                        a.reason
                    ));
                    self.step_finished();
                }
                self.release_held().await;
            }
            Packet::PubRec(a) => {
                self.session.received(a.packet_id);
                self.send_auto(Packet::PubRel(wire::Ack::new(a.packet_id)))
                    .await;
            }
            // The broker closes the connection after it; the close records
            // the reason.
            Packet::Disconnect(d) => {
                if let Some(c) = &mut self.conn {
                    c.disconnect_reason = d.reason;
                }
            }
            Packet::PubRel(a) => {
                self.send_auto(Packet::PubComp(wire::Ack::new(a.packet_id)))
                    .await
            }
            Packet::PingResp => {
                if let Some(c) = &mut self.conn {
                    c.ping_sent = None;
                }
            }
            _ => {}
        }
    }
}

impl<C: Connector> Client<C> {
    /// A 5.0 PUBLISH's topic alias: one with a topic name sets it, one
    /// with an empty topic name uses it. Returns the topic an empty topic
    /// name stands for; an alias the broker never set, or one above what
    /// the client allowed, is an `error` in the trace [MQTT-3.3.2-11].
    fn resolve_alias(&mut self, p: &Publish) -> Option<String> {
        let alias = p.properties.iter().find_map(|p| match p {
            Property::TopicAlias(a) => Some(*a),
            _ => None,
        })?;
        let allowed = self.options.topic_alias_maximum.unwrap_or(0);
        if alias > allowed {
            self.error(format!(
                "topic alias {alias} from the broker, above the topic alias maximum of {allowed}"
            ));
        }
        let aliases = &mut self.conn.as_mut()?.aliases;
        if !p.topic.is_empty() {
            aliases.insert(alias, p.topic.clone());
            return None;
        }
        let topic = aliases.get(&alias).cloned();
        if topic.is_none() {
            self.error(format!(
                "topic alias {alias} from the broker was never set on this connection"
            ));
        }
        topic
    }
}

/// A `subscribe` step's subscription as the SUBSCRIBE carries it.
fn wire_filter(s: &Subscription) -> SubscribeFilter {
    SubscribeFilter {
        no_local: s.no_local,
        retain_as_published: s.retain_as_published,
        retain_handling: match s.retain_handling {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtNewSubscribe,
            // Validated to be 0, 1 or 2 at load time.
            _ => RetainHandling::DoNotSend,
        },
        ..SubscribeFilter::new(s.filter.clone(), scenario_qos(s.qos))
    }
}

/// A 5.0 reason code of 0x80 or more is a failure (5.0 section 2.4).
const REASON_FAILURE: u8 = 0x80;

/// Takes in what a 5.0 CONNACK tells the client about the broker: the
/// Server Keep Alive, the Receive Maximum, the Maximum Packet Size.
fn adopt<S>(c: &mut Conn<S>, properties: &Properties) {
    for p in properties {
        match p {
            Property::ServerKeepAlive(s) => c.keep_alive = Duration::from_secs(u64::from(*s)),
            Property::ReceiveMaximum(n) => c.receive_maximum = usize::from(*n),
            Property::MaximumPacketSize(n) => {
                c.maximum_packet_size = Some(usize::try_from(*n).unwrap_or(usize::MAX))
            }
            _ => {}
        }
    }
}

/// The CONNECT properties of 5.0 built from the options, in the order of
/// the spec's CONNECT section; empty under 3.1.1, which has none.
fn connect_properties(o: &ConnectOptions) -> Properties {
    let mut p = Properties::default();
    if o.protocol == Protocol::V311 {
        return p;
    }
    if let Some(e) = o.session_expiry {
        p.push(Property::SessionExpiryInterval(e.wire()));
    }
    if let Some(n) = o.receive_maximum {
        p.push(Property::ReceiveMaximum(n));
    }
    if let Some(n) = o.maximum_packet_size {
        p.push(Property::MaximumPacketSize(n));
    }
    if let Some(n) = o.topic_alias_maximum {
        p.push(Property::TopicAliasMaximum(n));
    }
    for (k, v) in &o.user_properties {
        p.push(Property::UserProperty(k.clone(), v.clone()));
    }
    p
}

/// The will properties: the Will Delay Interval when there is a delay,
/// then the others as written.
fn will_properties(w: &Will) -> Properties {
    let mut p = Properties::default();
    if !w.delay.is_zero() {
        // Whole seconds, checked at load time; a delay beyond u32 seconds
        // cannot be written in a scenario (durations stop at 24h).
        p.push(Property::WillDelayInterval(
            u32::try_from(w.delay.as_secs()).unwrap_or(u32::MAX),
        ));
    }
    p.0.extend(w.properties.iter().cloned());
    p
}

fn connect_packet(o: &ConnectOptions) -> Connect {
    Connect {
        protocol_name: "MQTT".into(),
        protocol_level: o.protocol.level(),
        client_id: o.client_id.clone(),
        clean: o.clean,
        // Validated to fit when the scenario was loaded.
        keep_alive_s: u16::try_from(o.keep_alive.as_secs()).unwrap_or(u16::MAX),
        will: o.will.as_ref().map(|w| LastWill {
            topic: w.topic.clone(),
            payload: w.payload.clone(),
            qos: scenario_qos(w.qos),
            retain: w.retain,
            properties: will_properties(w),
        }),
        username: o.username.clone(),
        password: o.password.clone().map(Into::into),
        properties: connect_properties(o),
    }
}

/// A scenario's QoS, validated to be 0, 1 or 2 when the scenario was loaded.
fn scenario_qos(level: u8) -> QoS {
    QoS::try_from(level).unwrap_or(QoS::ExactlyOnce)
}

/// Reads from the connection, or waits forever when there is none, so that
/// the branch can sit in `select!` unconditionally.
async fn read_packet<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Option<Conn<S>>,
) -> Result<Option<Packet>, wire::WireError> {
    match conn {
        Some(c) => c.reader.read().await,
        None => std::future::pending().await,
    }
}

async fn sleep_or_forever(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::rc::Rc;
    use std::task::{Context, Poll};

    use rand::SeedableRng;
    use tokio::io::ReadBuf;

    use super::*;

    /// A stream whose peer is gone: reads never complete, writes fail.
    struct Broken;

    impl AsyncRead for Broken {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Broken {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    struct ToBroken;

    impl Connector for ToBroken {
        type Stream = Broken;
        async fn connect(&self, _: &str) -> io::Result<Broken> {
            Ok(Broken)
        }
    }

    #[test]
    fn a_failed_write_is_an_error_not_a_send() {
        let yaml = "duration: 1s\nbrokers: {broker: {}}\nclients: {a: {steps: [connect: {}]}}\n";
        let scenario = crate::scenario::parse(yaml, std::path::Path::new("t.yaml")).expect("valid");
        let spec = scenario.clients["a"].clone();
        let rec = Recorder::new(Rc::new(|| Duration::ZERO));
        let client = Client::new(
            "a",
            spec,
            ToBroken,
            rec.clone(),
            ChaCha8Rng::seed_from_u64(0),
        );
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime")
            .block_on(client.run());
        let (events, _) = rec.take();
        let names: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(names, ["connected", "error", "closed"]);
        assert!(matches!(
            &events[1].kind,
            EventKind::Error { text, .. } if text.starts_with("CONNECT not sent: write failed")
        ));
    }

    /// Hands out one end of an in-memory pipe; the test plays the broker on
    /// the other end.
    struct ToPipe(std::cell::RefCell<Option<tokio::io::DuplexStream>>);

    impl Connector for ToPipe {
        type Stream = tokio::io::DuplexStream;
        async fn connect(&self, _: &str) -> io::Result<tokio::io::DuplexStream> {
            self.0
                .borrow_mut()
                .take()
                .ok_or_else(|| io::ErrorKind::ConnectionRefused.into())
        }
    }

    /// A 5.0 broker in a few lines: CONNACK with Receive Maximum 1, Maximum
    /// Packet Size 64 and Server Keep Alive 5, PUBACK for each PUBLISH,
    /// PINGRESP for each PINGREQ, and at 12s DISCONNECT 0x8E and close.
    async fn scripted_broker(stream: tokio::io::DuplexStream) {
        let (r, w) = tokio::io::split(stream);
        let mut reader = Reader::new(r, Some(LEVEL_V5));
        let mut writer = Writer::new(w, LEVEL_V5);
        let end = tokio::time::Instant::now() + Duration::from_secs(12);
        loop {
            tokio::select! {
                biased;
                read = reader.read() => {
                    let reply = match read {
                        Ok(Some(Packet::Connect(_))) => Packet::ConnAck(wire::ConnAck {
                            session_present: false,
                            code: 0,
                            properties: Properties(vec![
                                Property::ReceiveMaximum(1),
                                Property::MaximumPacketSize(64),
                                Property::ServerKeepAlive(5),
                            ]),
                        }),
                        Ok(Some(Packet::Publish(p))) if p.qos != QoS::AtMostOnce => {
                            // Answer a little later, so the second message
                            // must wait for this acknowledgement.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Packet::PubAck(wire::Ack::new(p.packet_id))
                        }
                        Ok(Some(Packet::PingReq)) => Packet::PingResp,
                        Ok(Some(_)) => continue,
                        _ => return,
                    };
                    if writer.write(&reply).await.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(end) => {
                    let bye = Packet::Disconnect(Disconnect {
                        reason: Some(0x8E),
                        properties: Properties::default(),
                    });
                    let _ = writer.write(&bye).await;
                    return;
                }
            }
        }
    }

    #[test]
    fn a_5_0_client_follows_what_the_connack_says() {
        let yaml = r#"
protocol: 5.0
duration: 20s
brokers: {broker: {}}
clients:
  a:
    keep_alive: 60s
    steps:
      - connect: {}
      - publish: {topic: t, payload: one, qos: 1}
      - publish: {topic: t, payload: two, qos: 1}
      - publish: {topic: t, payload: "far too long for the broker's maximum packet size of sixty-four bytes", qos: 0}
"#;
        let scenario = crate::scenario::parse(yaml, std::path::Path::new("t.yaml")).expect("valid");
        let spec = scenario.clients["a"].clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let (client_end, broker_end) = tokio::io::duplex(4096);
        let events = runtime.block_on(async {
            let start = tokio::time::Instant::now();
            let rec = Recorder::new(Rc::new(move || start.elapsed()));
            let client = Client::new(
                "a",
                spec,
                ToPipe(std::cell::RefCell::new(Some(client_end))),
                rec.clone(),
                ChaCha8Rng::seed_from_u64(0),
            );
            tokio::join!(client.run(), scripted_broker(broker_end));
            rec.take().0
        });
        let lines: Vec<String> = events
            .iter()
            .map(crate::trace::render::event_line)
            .collect();
        let text = lines.join("\n");
        let at = |needle: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no `{needle}` in\n{text}"))
        };
        // Receive Maximum 1: the second PUBLISH waits for the first PUBACK.
        let held = at("held PUBLISH packet_id=2 held: 1 QoS 1/2 messages");
        let first_ack = at("recv PUBACK packet_id=1 reason=0x00 success");
        let second = at(r#"send PUBLISH topic="t" payload="two""#);
        assert!(held < first_ack && first_ack < second, "{text}");
        // Maximum Packet Size 64: the long one is refused, not sent.
        at("PUBLISH not sent: it is 75 bytes, more than the broker's maximum_packet_size of 64");
        assert!(!text.contains("far too long"), "{text}");
        // Server Keep Alive 5 replaces the 60s asked for: pings at 5s and 10s.
        let pings: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("send PINGREQ"))
            .collect();
        assert_eq!(pings.len(), 2, "{text}");
        assert!(pings[0].starts_with("5.100s"), "{text}");
        // The broker's DISCONNECT and its reason end the connection.
        at("recv DISCONNECT reason=0x8E session taken over");
        at("closed by broker reason=0x8E session taken over");
    }
}
