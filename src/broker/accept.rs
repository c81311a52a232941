//! CONNECT accepted or refused: the checks, the client id, a takeover, the
//! session, and what 5.0 negotiates in CONNACK. The reply is in the
//! client's protocol level; 3.1.1 behaviour is what it always was.

use std::rc::Rc;
use std::time::Duration;

use tokio::io::AsyncWrite;

use crate::topic;
use crate::wire::{
    ConnAck, Connect, LEVEL_V5, LEVEL_V311, LastWill, Packet, Properties, Property, QoS, Writer,
    connack_code,
};

use super::Mutant;
use super::expiry::SessionEnd;
use super::session::{Session, SessionExpiry};
use super::takeover::{ConnShared, FinishGuard, Kick};
use super::{Broker, INFLIGHT_MAX};

/// CONNACK reason codes of 5.0 that have no 3.1.1 return code.
pub(super) mod connack_v5 {
    pub const MALFORMED_PACKET: u8 = 0x81;
    pub const PROTOCOL_ERROR: u8 = 0x82;
    pub const BAD_AUTHENTICATION_METHOD: u8 = 0x8c;
    pub const TOPIC_NAME_INVALID: u8 = 0x90;
    pub const QUOTA_EXCEEDED: u8 = 0x97;
    pub const RETAIN_NOT_SUPPORTED: u8 = 0x9a;
    pub const QOS_NOT_SUPPORTED: u8 = 0x9b;
}

/// The 5.0 reason code for a 3.1.1 return code, when the client speaks 5.0
/// (5.0 section 3.2.2.2); the 3.1.1 code otherwise.
pub(super) fn in_version(level: u8, v311: u8) -> u8 {
    if level != LEVEL_V5 {
        return v311;
    }
    match v311 {
        connack_code::UNACCEPTABLE_PROTOCOL_VERSION => 0x84,
        connack_code::IDENTIFIER_REJECTED => 0x85,
        // The one use of 0x03 here is a full session table: quota exceeded.
        connack_code::SERVER_UNAVAILABLE => 0x97,
        connack_code::BAD_USERNAME_OR_PASSWORD => 0x86,
        connack_code::NOT_AUTHORIZED => 0x87,
        other => other,
    }
}

/// What a CONNECT settled, for the connection that goes on.
pub(super) struct Accepted {
    pub client_id: String,
    pub level: u8,
    pub session_expiry: SessionExpiry,
    /// The keep-alive in force, in seconds: the client's, or the server
    /// keep alive that replaced it (5.0).
    pub keep_alive_s: u16,
    pub will: Option<LastWill>,
    pub session_present: bool,
    /// The properties of the accepting CONNACK (empty under 3.1.1).
    pub connack_properties: Properties,
    /// QoS 1 and 2 messages in flight to the client at most: its receive
    /// maximum, within `INFLIGHT_MAX`.
    pub inflight_max: usize,
    /// The client's maximum packet size (5.0); `None` means no limit.
    pub client_packet_max: Option<u32>,
    pub shared: Rc<ConnShared>,
    pub finish: FinishGuard,
}

/// Sends a refusing CONNACK; the caller then closes [MQTT-3.2.2-5].
pub(super) async fn refuse<W: AsyncWrite + Unpin>(
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
pub(super) async fn accept<W: AsyncWrite + Unpin>(
    broker: &Broker,
    writer: &mut Writer<W>,
    c: Connect,
    peer: &str,
) -> Option<Accepted> {
    if !connect_acceptable(broker, writer, &c, peer).await {
        return None;
    }
    let level = c.protocol_level;
    let v5 = level == LEVEL_V5;
    let assigned = c.client_id.is_empty();
    let client_id = if assigned {
        let id = assign_client_id(broker);
        broker.note(format!("assigned client id {id}"));
        id
    } else {
        c.client_id.clone()
    };
    let (session_expiry, expiry_capped) = if v5 {
        session_expiry_v5(broker, &c.properties)
    } else {
        let persistent = broker
            .config()
            .persistent_session_expiry
            .map_or(SessionExpiry::NEVER, SessionExpiry::from_duration);
        (
            SessionExpiry::from_clean_session(c.clean, persistent),
            false,
        )
    };
    if !make_room(broker, &client_id) {
        let code = in_version(level, connack_code::SERVER_UNAVAILABLE);
        let why = "session limit reached and every session is connected";
        refuse(broker, writer, &client_id, code, why).await;
        return None;
    }
    let (shared, finish) = claim(broker, &client_id, session_expiry).await?;
    // Other connections may have stored sessions while the takeover was
    // waited for: room is made again, now that nothing awaits before the
    // session is stored, so the table never passes `sessions_max`.
    if !make_room(broker, &client_id) {
        release(broker, &client_id, &shared);
        let code = in_version(level, connack_code::SERVER_UNAVAILABLE);
        let why = "session limit reached and every session is connected";
        refuse(broker, writer, &client_id, code, why).await;
        return None;
    }
    let session_present = take_session(broker, &c, &client_id, session_expiry);
    let (keep_alive_s, server_keep_alive) = keep_alive_in_force(broker, &c);
    let mut connack_properties = Properties::default();
    if v5 {
        let mut p = connack_properties_v5(broker);
        if expiry_capped {
            p.push(Property::SessionExpiryInterval(session_expiry.0));
        }
        if assigned {
            p.push(Property::AssignedClientIdentifier(client_id.clone()));
        }
        if let Some(s) = server_keep_alive {
            p.push(Property::ServerKeepAlive(s));
        }
        connack_properties = p;
    }
    let receive_maximum = c.properties.receive_maximum().map(usize::from);
    let client_packet_max = c.properties.maximum_packet_size();
    let will = will_allowed(broker, &client_id, c.username.as_deref(), c.will);
    Some(Accepted {
        client_id,
        level,
        session_expiry,
        keep_alive_s,
        will,
        session_present,
        connack_properties,
        inflight_max: receive_maximum.unwrap_or(INFLIGHT_MAX).min(INFLIGHT_MAX),
        client_packet_max,
        shared,
        finish,
    })
}

/// The checks of a CONNECT before its client id is claimed: protocol,
/// will topic, client id, authentication and login, and a 5.0 will the
/// broker would not publish. False when it was refused (with a note, and a
/// CONNACK where the version has a code for it): the connection closes.
async fn connect_acceptable<W: AsyncWrite + Unpin>(
    broker: &Broker,
    writer: &mut Writer<W>,
    c: &Connect,
    peer: &str,
) -> bool {
    if c.protocol_name != "MQTT" {
        // [MQTT-3.1.2-1]: not this protocol; no CONNACK.
        broker.note(format!(
            "refused {peer}: protocol name {:?}",
            c.protocol_name
        ));
        return false;
    }
    let who = if c.client_id.is_empty() {
        peer.to_string()
    } else {
        c.client_id.clone()
    };
    let level = c.protocol_level;
    let v5 = level == LEVEL_V5;
    if level != LEVEL_V311 && !v5 {
        let why = format!("unsupported protocol level {level}");
        let code = connack_code::UNACCEPTABLE_PROTOCOL_VERSION;
        refuse(broker, writer, &who, code, &why).await;
        return false;
    }
    if let Some(w) = &c.will
        && let Err(e) = topic::validate_name(&w.topic)
    {
        let why = format!("will topic: {e}");
        if v5 {
            let code = connack_v5::TOPIC_NAME_INVALID;
            refuse(broker, writer, &who, code, &why).await;
        } else {
            broker.note(format!("protocol violation by {who}: {why}"));
        }
        return false;
    }
    if let Some(w) = &c.will
        && let Some(why) = broker.too_deep(&w.topic)
    {
        let why = format!("will {why}");
        if v5 {
            refuse(broker, writer, &who, connack_v5::QUOTA_EXCEEDED, &why).await;
        } else {
            broker.note(format!("refused {who}: {why}"));
        }
        return false;
    }
    // 5.0 assigns an id whatever Clean Start says [MQTT-3.1.3-6].
    if c.client_id.is_empty() && !c.clean && !v5 {
        let code = connack_code::IDENTIFIER_REJECTED;
        let why = "empty client id with clean session 0";
        refuse(broker, writer, &who, code, why).await;
        return false;
    }
    if v5 && let Some(why) = connect_protocol_error(c) {
        refuse(broker, writer, &who, connack_v5::PROTOCOL_ERROR, &why).await;
        return false;
    }
    if v5 && let Some(method) = authentication_method(&c.properties) {
        // Enhanced authentication (5.0 section 4.12) is not offered.
        let why = format!("authentication method {method:?} is not supported");
        let code = connack_v5::BAD_AUTHENTICATION_METHOD;
        refuse(broker, writer, &who, code, &why).await;
        return false;
    }
    if let Some((code, why)) = check_login(broker, c) {
        refuse(broker, writer, &who, in_version(level, code), why).await;
        return false;
    }
    if v5 && let Some((code, why)) = check_will_v5(broker, c.will.as_ref()) {
        refuse(broker, writer, &who, code, why).await;
        return false;
    }
    true
}

/// Gives `client_id` up, unless a newer connection has claimed it since.
pub(super) fn release(broker: &Broker, client_id: &str, shared: &ConnShared) {
    let mut live = broker.inner.live.borrow_mut();
    if live
        .by_client
        .get(client_id)
        .is_some_and(|c| c.conn_id == shared.conn_id)
    {
        live.by_client.remove(client_id);
    }
}

/// Registers this connection under `client_id`, and if another had it,
/// closes that one and waits until it is done with the session (see
/// `takeover`). `None` when a newer CONNECT took the id over meanwhile.
async fn claim(
    broker: &Broker,
    client_id: &str,
    session_expiry: SessionExpiry,
) -> Option<(Rc<ConnShared>, FinishGuard)> {
    let (shared, old) = {
        let mut live = broker.inner.live.borrow_mut();
        live.next_conn_id += 1;
        let shared = Rc::new(ConnShared::new(live.next_conn_id));
        let old = live.by_client.insert(client_id.to_string(), shared.clone());
        // Each claimed client id belongs to an open connection, and each
        // open connection holds one counted place (`Slot`).
        debug_assert!(live.by_client.len() <= live.count);
        (shared, old)
    };
    let finish = FinishGuard(shared.clone());
    if let Some(old) = old
        && !broker.mutant(Mutant::NoTakeoverClose)
    {
        broker.note(format!("takeover: closing old connection of {client_id}"));
        old.kick(Kick {
            new_persistent: session_expiry.outlives_connection(),
        });
        old.finished().await;
        if shared.was_kicked().is_some() {
            // Taken over in turn while waiting: the newest CONNECT wins.
            return None;
        }
    }
    Some((shared, finish))
}

/// The will, unless the acl denies its owner publishing to its topic: a
/// will is a PUBLISH the broker makes on the client's behalf, so the
/// client's publish rule applies to it (otherwise a will is a way round
/// it). The user and the acl are fixed for the connection, so checking at
/// CONNECT is checking at publication, for every way a will goes out
/// (at once, after its delay, at the session's end). The CONNECT is still
/// accepted, as a denied PUBLISH is acknowledged and dropped.
fn will_allowed(
    broker: &Broker,
    client_id: &str,
    user: Option<&str>,
    will: Option<LastWill>,
) -> Option<LastWill> {
    let w = will?;
    if broker.may_publish(user, &w.topic) {
        return Some(w);
    }
    broker.note(format!(
        "acl: will of {client_id} to {} dropped (publish denied)",
        w.topic
    ));
    None
}

/// A 5.0 CONNECT the spec calls a protocol error (CONNACK 0x82):
/// Authentication Data without an Authentication Method (5.0 section
/// 3.1.2.11.10), or a will whose Response Topic is not a valid topic name
/// or holds a wildcard [MQTT-3.3.2-14].
fn connect_protocol_error(c: &Connect) -> Option<String> {
    let data = c
        .properties
        .iter()
        .any(|p| matches!(p, Property::AuthenticationData(_)));
    if data && authentication_method(&c.properties).is_none() {
        return Some(
            "Authentication Data without an Authentication Method (5.0 section 3.1.2.11.10)".into(),
        );
    }
    let will = c.will.as_ref()?;
    response_topic_error(&will.properties).map(|e| format!("will {e}"))
}

/// Why a Response Topic among `properties` is not acceptable: not a
/// valid topic name, or with a wildcard [MQTT-3.3.2-14].
pub(super) fn response_topic_error(properties: &Properties) -> Option<String> {
    properties.iter().find_map(|p| match p {
        Property::ResponseTopic(t) => topic::validate_name(t)
            .err()
            .map(|e| format!("Response Topic {t:?}: {e} [MQTT-3.3.2-14]")),
        _ => None,
    })
}

fn authentication_method(p: &Properties) -> Option<&str> {
    p.iter().find_map(|p| match p {
        Property::AuthenticationMethod(m) => Some(m.as_str()),
        _ => None,
    })
}

/// A 5.0 will the broker would not publish as asked: above the maximum QoS
/// [MQTT-3.2.2-12], or retained where retain is not available
/// [MQTT-3.2.2-13].
fn check_will_v5(broker: &Broker, will: Option<&LastWill>) -> Option<(u8, &'static str)> {
    let w = will?;
    if w.qos.level() > broker.config().max_qos {
        return Some((
            connack_v5::QOS_NOT_SUPPORTED,
            "will QoS above the maximum QoS",
        ));
    }
    if w.retain && !broker.config().retain_available {
        return Some((
            connack_v5::RETAIN_NOT_SUPPORTED,
            "retained will, retain not available",
        ));
    }
    None
}

/// The 5.0 session expiry the CONNECT asks for (absent is 0), capped by
/// `session_expiry_max`, and whether the cap changed it.
fn session_expiry_v5(broker: &Broker, p: &Properties) -> (SessionExpiry, bool) {
    let asked = p
        .session_expiry_interval()
        .map_or(SessionExpiry::WITH_CONNECTION, SessionExpiry);
    let used = cap_session_expiry(broker, asked);
    (used, used != asked)
}

/// `asked`, at most `session_expiry_max`.
pub(super) fn cap_session_expiry(broker: &Broker, asked: SessionExpiry) -> SessionExpiry {
    match broker.config().session_expiry_max {
        Some(max) => asked.min(SessionExpiry::from_duration(max)),
        None => asked,
    }
}

/// Makes room in the session table for `client_id` if it is full: the
/// least recently disconnected session is evicted. False when every stored
/// session is connected, so none can go.
fn make_room(broker: &Broker, client_id: &str) -> bool {
    let max = broker.config().sessions_max;
    let victim = {
        let store = broker.inner.store.borrow();
        if store.sessions.contains_key(client_id) || store.sessions.len() < max {
            return true;
        }
        store.least_recently_disconnected()
    };
    match victim {
        Some(id) => {
            broker.end_session(&id, SessionEnd::Evicted);
            true
        }
        None => false,
    }
}

/// Takes the stored session for a new connection: resumed, or discarded
/// for a new one. A will held for its delay is cancelled: the client is
/// back [MQTT-3.1.3-9]. Returns session present.
fn take_session(broker: &Broker, c: &Connect, client_id: &str, expiry: SessionExpiry) -> bool {
    let v5 = c.protocol_level == LEVEL_V5;
    let mut store = broker.inner.store.borrow_mut();
    let mut existing = store.remove_session(client_id);
    let held = existing.as_mut().and_then(|s| s.held_will.take());
    let discarded = existing
        .as_ref()
        .is_some_and(|s| s.expiry.outlives_connection());
    // A session holds what its user's acl let it receive: queued and
    // in-flight messages, subscriptions. Another user must not inherit
    // them through the client id, so the session is discarded, as
    // mosquitto 2.0 does; the takeover itself stands [MQTT-3.1.4-2].
    let other_user = existing
        .as_ref()
        .is_some_and(|s| s.expiry.outlives_connection() && s.user != c.username);
    // A stored non-persistent session is left over from a connection
    // that died with the broker; it is not a session to resume.
    let mut resumed = match existing {
        Some(s) if s.expiry.outlives_connection() && !c.clean && !other_user => Some(s),
        _ => None,
    };
    // Test-only planted bug; see `Mutant`.
    if broker.mutant(Mutant::DropQueueOnReconnect)
        && let Some(s) = &mut resumed
    {
        s.queue.clear();
    }
    let present = resumed.is_some();
    let mut session = resumed.unwrap_or_else(|| Session::new(expiry));
    // The latest CONNECT decides how long the session lasts and, through
    // its login, what it may receive (acl).
    session.expiry = expiry;
    session.offline_since = None;
    session.user = c.username.clone();
    store.insert_session(client_id, session);
    drop(store);
    if c.clean && discarded {
        let flag = if v5 { "clean start" } else { "clean session" };
        broker.note(format!("session of {client_id} discarded ({flag})"));
    } else if other_user {
        broker.note(format!(
            "session of {client_id} discarded: connected as another user"
        ));
    }
    if let Some(h) = held {
        if broker.mutant(Mutant::WillDespiteReconnect) {
            broker.publish_will(client_id, h.will, "");
        } else {
            broker.note(format!(
                "will of {client_id} cancelled: reconnected within its delay"
            ));
        }
    }
    // Room was made just before, with nothing awaited since.
    debug_assert!(store_len(broker) <= broker.config().sessions_max);
    present
}

fn store_len(broker: &Broker) -> usize {
    broker.inner.store.borrow().sessions.len()
}

/// The keep-alive in force and the server keep alive to announce (5.0):
/// `max_keep_alive` replaces a keep-alive of 0 or one above it
/// [MQTT-3.2.2-21].
fn keep_alive_in_force(broker: &Broker, c: &Connect) -> (u16, Option<u16>) {
    let max = broker.config().max_keep_alive;
    if c.protocol_level != LEVEL_V5 || max.is_zero() {
        return (c.keep_alive_s, None);
    }
    let max = u16::try_from(max.as_secs()).unwrap_or(u16::MAX).max(1);
    if c.keep_alive_s != 0 && c.keep_alive_s <= max {
        return (c.keep_alive_s, None);
    }
    if broker.mutant(Mutant::ServerKeepAliveNotEnforced) {
        return (c.keep_alive_s, Some(max));
    }
    (max, Some(max))
}

/// The CONNACK properties every 5.0 client gets from this broker's
/// options. Each is sent only when it differs from what its absence means,
/// except the maximum packet size, which is always a real limit here.
fn connack_properties_v5(broker: &Broker) -> Properties {
    let c = broker.config();
    let mut p = Properties::default();
    if c.receive_maximum != u16::MAX {
        p.push(Property::ReceiveMaximum(c.receive_maximum));
    }
    if c.max_qos < QoS::ExactlyOnce.level() {
        p.push(Property::MaximumQoS(c.max_qos));
    }
    if !c.retain_available {
        p.push(Property::RetainAvailable(0));
    }
    p.push(Property::MaximumPacketSize(c.maximum_packet_size));
    if c.topic_alias_maximum > 0 {
        p.push(Property::TopicAliasMaximum(c.topic_alias_maximum));
    }
    if !c.wildcard_subscription_available {
        p.push(Property::WildcardSubscriptionAvailable(0));
    }
    if !c.subscription_identifiers_available {
        p.push(Property::SubscriptionIdentifierAvailable(0));
    }
    if !c.shared_subscription_available {
        p.push(Property::SharedSubscriptionAvailable(0));
    }
    p
}

/// `None` when the login is acceptable, else the 3.1.1 CONNACK code and why.
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
        // Compared in constant time (for a given length): how long the
        // comparison takes must not say how many leading bytes were right.
        (Some(want), Some(got)) if bool::from(subtle::ConstantTimeEq::ct_eq(want, got)) => None,
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

/// Silence allowed: factor x keep-alive [MQTT-3.1.2-24]; zero disables it.
pub(super) fn keep_alive_limit(keep_alive_s: u16, factor: f64) -> Option<Duration> {
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
