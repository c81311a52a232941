//! One connection's task: CONNECT, then packets until the connection ends,
//! then the will and the session's fate.

use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio::time::{Sleep, sleep, timeout};

use crate::wire::{
    Ack, ConnAck, Connect, LEVEL_V311, LastWill, Packet, Properties, Publish, QoS, Reader, SubAck,
    Subscribe, UnsubAck, Unsubscribe, WireError, Writer, connack_code,
};

use super::Mutant;
use super::router::Publication;
use super::session::{Send, Session, SessionExpiry};
use super::strings;
use super::takeover::{ConnShared, FinishGuard, Kick, will_on_takeover};
use super::{Broker, CONNECT_WAIT, CONNECTIONS_MAX, SESSIONS_MAX, SUBSCRIPTIONS_MAX, acl};
use crate::topic;

/// Why a connection ended; decides the will and the note.
#[derive(Debug)]
enum End {
    Disconnect,
    /// The peer closed the stream, or the transport failed.
    Lost,
    Kicked(Kick),
    KeepAlive,
    Violation(String),
}

/// Holds one of the `CONNECTIONS_MAX` places while the connection is open.
struct Slot(Broker);

impl Slot {
    fn take(broker: &Broker) -> Option<Slot> {
        let mut live = broker.inner.live.borrow_mut();
        if live.count >= CONNECTIONS_MAX {
            return None;
        }
        live.count += 1;
        Some(Slot(broker.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut live = self.0.inner.live.borrow_mut();
        live.count = live.count.saturating_sub(1);
    }
}

pub(super) async fn run<S>(broker: Broker, stream: S, peer: String)
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let Some(_slot) = Slot::take(&broker) else {
        broker.note(format!(
            "connection limit of {CONNECTIONS_MAX} reached: closed {peer}"
        ));
        return;
    };
    let (r, w) = tokio::io::split(stream);
    let mut reader = Reader::new(r, None);
    let mut writer = Writer::new(w, LEVEL_V311);
    let connect = match timeout(CONNECT_WAIT, reader.read()).await {
        Err(_) => {
            broker.note(format!(
                "no CONNECT from {peer} within {}s: closed",
                CONNECT_WAIT.as_secs()
            ));
            return;
        }
        Ok(Ok(None)) | Ok(Err(WireError::Io(_))) | Ok(Err(WireError::Truncated)) => return,
        Ok(Ok(Some(Packet::Connect(c)))) => c,
        Ok(Ok(Some(p))) => {
            broker.note(format!(
                "protocol violation by {peer}: first packet is {}, not CONNECT",
                p.type_name()
            ));
            return;
        }
        Ok(Err(WireError::UnacceptableProtocol { name, level })) => {
            if name == "MQTT" {
                let why = format!("unsupported protocol level {level}");
                let code = connack_code::UNACCEPTABLE_PROTOCOL_VERSION;
                refuse(&broker, &mut writer, &peer, code, &why).await;
            } else {
                // [MQTT-3.1.2-1]: not this protocol at all; no CONNACK.
                broker.note(format!("refused {peer}: protocol name {name:?}"));
            }
            return;
        }
        Ok(Err(e)) => {
            broker.note(format!("protocol violation by {peer}: {e}"));
            return;
        }
    };
    if broker.config().strict_strings
        && let Some(why) = strings::control_character(&Packet::Connect(connect.clone()))
    {
        broker.note(format!("protocol violation by {peer}: {why}"));
        return;
    }
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
    let conn = Conn {
        broker,
        client_id: accepted.client_id,
        shared: accepted.shared,
        _finish: accepted.finish,
        reader,
        writer,
        keep_alive,
        deadline: None,
        will: accepted.will,
        session_expiry: accepted.session_expiry,
    };
    conn.serve(accepted.session_present).await;
}

/// Silence allowed: factor x keep-alive [MQTT-3.1.2-24]; zero disables it.
fn keep_alive_limit(keep_alive_s: u16, factor: f64) -> Option<Duration> {
    if keep_alive_s == 0 {
        return None;
    }
    let factor = if factor.is_finite() && factor > 0.0 {
        factor
    } else {
        1.5
    };
    Duration::try_from_secs_f64(f64::from(keep_alive_s) * factor).ok()
}

struct Accepted {
    client_id: String,
    session_expiry: SessionExpiry,
    keep_alive_s: u16,
    will: Option<LastWill>,
    session_present: bool,
    shared: Rc<ConnShared>,
    finish: FinishGuard,
}

/// Sends a refusing CONNACK; the caller then closes [MQTT-3.2.2-5].
async fn refuse<W: AsyncWrite + Unpin>(
    broker: &Broker,
    writer: &mut Writer<W>,
    who: &str,
    code: u8,
    why: &str,
) {
    broker.note(format!("refused {who}: {why}"));
    // The connection closes either way; a failed write changes nothing.
    let _ = writer
        .write(&Packet::ConnAck(ConnAck {
            session_present: false,
            code,
            properties: Properties::default(),
        }))
        .await;
}

/// Checks CONNECT, claims the client id (taking it over if connected) and
/// sets up the session. `None`: the connection is to be closed.
async fn accept<W: AsyncWrite + Unpin>(
    broker: &Broker,
    writer: &mut Writer<W>,
    c: Connect,
    peer: &str,
) -> Option<Accepted> {
    if c.protocol_name != "MQTT" {
        // [MQTT-3.1.2-1]: not this protocol; no CONNACK.
        broker.note(format!(
            "refused {peer}: protocol name {:?}",
            c.protocol_name
        ));
        return None;
    }
    let who = if c.client_id.is_empty() {
        peer.to_string()
    } else {
        c.client_id.clone()
    };
    if c.protocol_level != LEVEL_V311 {
        let why = format!("unsupported protocol level {}", c.protocol_level);
        refuse(
            broker,
            writer,
            &who,
            connack_code::UNACCEPTABLE_PROTOCOL_VERSION,
            &why,
        )
        .await;
        return None;
    }
    if let Some(w) = &c.will {
        let bad = match topic::validate_name(&w.topic) {
            Err(e) => Some(format!("will topic: {e}")),
            Ok(()) => None,
        };
        if let Some(why) = bad {
            broker.note(format!("protocol violation by {who}: {why}"));
            return None;
        }
    }
    if c.client_id.is_empty() && !c.clean {
        refuse(
            broker,
            writer,
            &who,
            connack_code::IDENTIFIER_REJECTED,
            "empty client id with clean session 0",
        )
        .await;
        return None;
    }
    if let Some((code, why)) = check_login(broker, &c) {
        refuse(broker, writer, &who, code, why).await;
        return None;
    }
    let client_id = if c.client_id.is_empty() {
        let id = assign_client_id(broker);
        broker.note(format!("assigned client id {id}"));
        id
    } else {
        c.client_id
    };
    let sessions_full = {
        let store = broker.inner.store.borrow();
        !store.sessions.contains_key(&client_id) && store.sessions.len() >= SESSIONS_MAX
    };
    if sessions_full {
        refuse(
            broker,
            writer,
            &client_id,
            connack_code::SERVER_UNAVAILABLE,
            "session limit reached",
        )
        .await;
        return None;
    }

    let (shared, old) = {
        let mut live = broker.inner.live.borrow_mut();
        live.next_conn_id += 1;
        let shared = Rc::new(ConnShared::new(live.next_conn_id));
        let old = live.by_client.insert(client_id.clone(), shared.clone());
        (shared, old)
    };
    let finish = FinishGuard(shared.clone());
    if let Some(old) = old
        && !broker.mutant(Mutant::NoTakeoverClose)
    {
        broker.note(format!("takeover: closing old connection of {client_id}"));
        old.kick(Kick {
            new_persistent: !c.clean,
        });
        old.finished().await;
        if shared.was_kicked().is_some() {
            // Taken over in turn while waiting: the newest CONNECT wins.
            return None;
        }
    }

    let session_present = {
        let mut store = broker.inner.store.borrow_mut();
        let existing = store.sessions.remove(&client_id);
        let discarded = existing
            .as_ref()
            .is_some_and(|s| s.expiry.outlives_connection());
        // A stored non-persistent session is left over from a connection
        // that died with the broker; it is not a session to resume.
        let mut resumed = match existing {
            Some(s) if s.expiry.outlives_connection() && !c.clean => Some(s),
            _ => None,
        };
        // Test-only planted bug; see `Mutant`.
        if broker.mutant(Mutant::DropQueueOnReconnect)
            && let Some(s) = &mut resumed
        {
            s.queue.clear();
        }
        let present = resumed.is_some();
        let mut session =
            resumed.unwrap_or(Session::new(SessionExpiry::from_clean_session(c.clean)));
        // The latest login decides what the session may receive (acl).
        session.user = c.username.clone();
        store.sessions.insert(client_id.clone(), session);
        drop(store);
        if c.clean && discarded {
            broker.note(format!("session of {client_id} discarded (clean session)"));
        }
        present
    };

    Some(Accepted {
        client_id,
        session_expiry: SessionExpiry::from_clean_session(c.clean),
        keep_alive_s: c.keep_alive_s,
        will: c.will,
        session_present,
        shared,
        finish,
    })
}

/// `None` when the login is acceptable, else the CONNACK code and why.
///
/// With `users` set a login is required: a missing user name gets 0x04 like
/// a wrong one, except that `allow_anonymous: false` answers a missing user
/// name with 0x05 whether or not `users` is set.
fn check_login(broker: &Broker, c: &Connect) -> Option<(u8, &'static str)> {
    let config = broker.config();
    let Some(user) = &c.username else {
        if !config.allow_anonymous {
            return Some((connack_code::NOT_AUTHORIZED, "no user name"));
        }
        if config.users.is_some() {
            return Some((connack_code::BAD_USERNAME_OR_PASSWORD, "no user name"));
        }
        return None;
    };
    let users = config.users.as_ref()?;
    let expected = users.get(user).map(|p| p.as_bytes());
    match (expected, c.password.as_deref()) {
        (Some(want), Some(got)) if want == got => None,
        (None, _) => Some((connack_code::BAD_USERNAME_OR_PASSWORD, "unknown user")),
        (Some(_), None) => Some((connack_code::BAD_USERNAME_OR_PASSWORD, "no password")),
        (Some(_), Some(_)) => Some((connack_code::BAD_USERNAME_OR_PASSWORD, "wrong password")),
    }
}

/// A unique client id for a zero-length one [MQTT-3.1.3-6]. A counter, not
/// randomness, so that traces are stable; skips ids that are in use.
fn assign_client_id(broker: &Broker) -> String {
    let live = broker.inner.live.borrow();
    let mut store = broker.inner.store.borrow_mut();
    loop {
        store.assigned_ids += 1;
        let id = format!("mqtt-sim-{}", store.assigned_ids);
        if !store.sessions.contains_key(&id) && !live.by_client.contains_key(&id) {
            return id;
        }
    }
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
}

impl<S: AsyncRead + AsyncWrite + Unpin + 'static> Conn<S> {
    async fn serve(mut self, session_present: bool) {
        let end = self.exchange(session_present).await;
        self.finish(end);
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
        let mut first = vec![Packet::ConnAck(ConnAck {
            session_present: session_present
                && !self.broker.mutant(Mutant::SessionPresentAlwaysFalse),
            code: connack_code::ACCEPTED,
            properties: Properties::default(),
        })];
        if session_present {
            let mut resend = self.with_session(|s| s.resend()).unwrap_or_default();
            if self.broker.mutant(Mutant::RedeliverWithoutDup) {
                for s in &mut resend {
                    if let Send::Publish(p) = s {
                        p.dup = false;
                    }
                }
            }
            first.extend(resend.into_iter().map(to_packet));
        }
        self.restart_deadline();
        if let Err(end) = self.send(first).await {
            return end;
        }
        loop {
            let Some(sendable) = self.with_session(|s| s.take_sendable()) else {
                return End::Violation("session vanished".into());
            };
            if let Err(end) = self
                .send(sendable.into_iter().map(to_packet).collect())
                .await
            {
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
                Ok(None) | Err(WireError::Io(_)) | Err(WireError::Truncated) => return End::Lost,
                Err(e) => return End::Violation(e.to_string()),
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
                    Err(e) => return Err(End::Violation(format!("cannot send {}: {e}", p.type_name()))),
                },
            }
        }
        Ok(())
    }

    /// Acts on one packet from the client; returns the replies to send.
    fn on_packet(&mut self, packet: Packet) -> Result<Vec<Packet>, End> {
        let violation = |why: String| Err(End::Violation(why));
        if self.broker.config().strict_strings
            && let Some(why) = strings::control_character(&packet)
        {
            return violation(why);
        }
        match packet {
            Packet::Connect(_) => violation("second CONNECT".into()),
            Packet::Publish(p) => self.on_publish(p),
            Packet::PubAck(Ack { packet_id: id, .. }) => {
                self.with_session(|s| s.puback(id));
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
                // after our PUBCOMP was lost [MQTT-4.3.3-2].
                self.with_session(|s| s.inbound_qos2.remove(&id));
                Ok(vec![Packet::PubComp(Ack::new(id))])
            }
            Packet::PubComp(Ack { packet_id: id, .. }) => {
                self.with_session(|s| s.pubcomp(id));
                Ok(vec![])
            }
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => self.on_unsubscribe(u),
            Packet::PingReq => Ok(vec![Packet::PingResp]),
            Packet::Disconnect(_) => Err(End::Disconnect),
            other @ (Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp
            | Packet::Auth(_)) => violation(format!("{} from a client", other.type_name())),
        }
    }

    fn on_publish(&mut self, p: Publish) -> Result<Vec<Packet>, End> {
        if let Err(e) = topic::validate_name(&p.topic) {
            return Err(End::Violation(format!("PUBLISH topic: {e}")));
        }
        if p.qos != QoS::AtMostOnce && p.packet_id == 0 {
            return Err(End::Violation("PUBLISH with packet id 0".into()));
        }
        let user = self.with_session(|s| s.user.clone()).flatten();
        let denied = !acl::allows(
            &self.broker.config().acl,
            user.as_deref(),
            acl::Action::Publish,
            &p.topic,
        );
        if denied {
            self.broker.note(format!(
                "acl: dropped publish of {} to {}",
                self.client_id, p.topic
            ));
        }
        let publication = Publication {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
        };
        match p.qos {
            QoS::AtMostOnce => {
                if !denied {
                    self.broker.route(&publication);
                }
                Ok(vec![])
            }
            QoS::AtLeastOnce => {
                if !denied {
                    self.broker.route(&publication);
                }
                Ok(vec![Packet::PubAck(Ack::new(p.packet_id))])
            }
            QoS::ExactlyOnce => {
                // Delivered once, on first receipt; a resend before PUBREL
                // only gets its PUBREC again [MQTT-4.3.3-2].
                let first = self
                    .with_session(|s| s.inbound_qos2.insert(p.packet_id))
                    .unwrap_or(false);
                let again = self.broker.mutant(Mutant::Qos2DeliveredTwice);
                if (first || again) && !denied {
                    self.broker.route(&publication);
                }
                Ok(vec![Packet::PubRec(Ack::new(p.packet_id))])
            }
        }
    }

    fn on_subscribe(&mut self, s: Subscribe) -> Result<Vec<Packet>, End> {
        if s.packet_id == 0 {
            return Err(End::Violation("SUBSCRIBE with packet id 0".into()));
        }
        if s.filters.is_empty() {
            return Err(End::Violation("SUBSCRIBE without filters".into()));
        }
        let max_qos =
            QoS::try_from(self.broker.config().max_qos.min(2)).unwrap_or(QoS::ExactlyOnce);
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut notes = Vec::new();
        let user = self.with_session(|s| s.user.clone()).flatten();
        for f in &s.filters {
            if topic::validate_filter(&f.filter).is_err() {
                codes.push(0x80);
                continue;
            }
            let acl = &self.broker.config().acl;
            if !acl::allows(acl, user.as_deref(), acl::Action::Subscribe, &f.filter) {
                notes.push(format!(
                    "acl: refused subscription of {} to {}",
                    self.client_id, f.filter
                ));
                codes.push(0x80);
                continue;
            }
            let granted = f.qos.min(max_qos);
            let added = self
                .with_session(|sess| {
                    let known = sess.subscriptions.contains_key(&f.filter);
                    if !known && sess.subscriptions.len() >= SUBSCRIPTIONS_MAX {
                        return false;
                    }
                    sess.subscriptions.insert(f.filter.clone(), granted);
                    true
                })
                .unwrap_or(false);
            if !added {
                notes.push(format!(
                    "subscription limit of {SUBSCRIPTIONS_MAX} reached for {}: refused {}",
                    self.client_id, f.filter
                ));
                codes.push(0x80);
                continue;
            }
            codes.push(granted.level());
            // Also on a repeated subscription [MQTT-3.8.4-3].
            let retained = self.broker.retained_for(&f.filter, granted);
            let full = self
                .with_session(|sess| {
                    retained
                        .into_iter()
                        .filter(|m| sess.enqueue(m.clone()).is_err())
                        .count()
                })
                .unwrap_or(0);
            if full > 0 {
                notes.push(format!(
                    "queue of {} full: dropped {full} retained messages for {}",
                    self.client_id, f.filter
                ));
            }
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

    fn on_unsubscribe(&mut self, u: Unsubscribe) -> Result<Vec<Packet>, End> {
        if u.packet_id == 0 {
            return Err(End::Violation("UNSUBSCRIBE with packet id 0".into()));
        }
        if u.filters.is_empty() {
            return Err(End::Violation("UNSUBSCRIBE without filters".into()));
        }
        self.with_session(|s| {
            for f in &u.filters {
                s.subscriptions.remove(f);
            }
        });
        Ok(vec![Packet::UnsubAck(UnsubAck::new(u.packet_id))])
    }

    /// Closes the stream, then deals with the will and the session. The
    /// finish guard drops last, releasing a connection that takes over.
    fn finish(self, end: End) {
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
        {
            let mut live = broker.inner.live.borrow_mut();
            if live
                .by_client
                .get(&client_id)
                .is_some_and(|c| c.conn_id == shared.conn_id)
            {
                live.by_client.remove(&client_id);
            }
        }
        let publish_will = match &end {
            End::Disconnect => {
                if will.is_some() {
                    broker.note(format!("will of {client_id} discarded (DISCONNECT)"));
                }
                broker.mutant(Mutant::WillOnDisconnect)
            }
            End::Lost => true,
            End::KeepAlive => {
                let s = keep_alive.map(|d| d.as_secs_f64()).unwrap_or_default();
                broker.note(format!(
                    "keep-alive expired for {client_id} after {s}s of silence"
                ));
                true
            }
            End::Violation(why) => {
                broker.note(format!("protocol violation by {client_id}: {why}"));
                true
            }
            End::Kicked(kick) => {
                let profile = broker.config().takeover_will;
                let publish =
                    will_on_takeover(profile, session_expiry.outlives_connection(), *kick);
                if !publish && will.is_some() {
                    broker.note(format!(
                        "will of {client_id} not published on takeover (takeover_will: {})",
                        profile_name(profile)
                    ));
                }
                publish
            }
        };
        if publish_will && let Some(w) = will {
            broker.note(format!("will of {client_id} published to {}", w.topic));
            broker.route(&Publication {
                topic: w.topic,
                payload: w.payload,
                qos: w.qos,
                retain: w.retain,
            });
        }
        let mut store = broker.inner.store.borrow_mut();
        if session_expiry.outlives_connection() {
            if let Some(s) = store.sessions.get_mut(&client_id) {
                s.went_offline();
            }
        } else {
            store.sessions.remove(&client_id);
        }
    }
}

fn profile_name(p: super::TakeoverWill) -> &'static str {
    match p {
        super::TakeoverWill::Spec => "spec",
        super::TakeoverWill::Mosquitto => "mosquitto",
        super::TakeoverWill::Never => "never",
    }
}

fn to_packet(s: Send) -> Packet {
    match s {
        Send::Publish(p) => Packet::Publish(p),
        Send::PubRel(id) => Packet::PubRel(Ack::new(id)),
    }
}
