//! Session state and the [`Store`]: everything that would survive a restart
//! with `persistence: true`.
//!
//! Every connected client has a session in the store, persistent or not, so
//! routing treats online and offline sessions alike: a message is put on the
//! session's queue, and the connection, if there is one, is woken to send it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use indexmap::IndexMap;
use tokio::time::Instant;

use crate::wire::{LastWill, Properties, Property, Publish, QoS, RetainHandling};

use super::index::{Index, shared_filter};
use super::{INFLIGHT_MAX, QUEUED_MAX};

/// An application message on its way to one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Shared by every session's copy of one message: 500 offline `#`
    /// sessions and ten QoS 1 messages with 60 KB topics used to hold a
    /// copy each (+288 MB). The payload is shared the same way (`Bytes`).
    pub topic: Arc<str>,
    pub payload: Bytes,
    /// The QoS it is delivered at: already min(publish QoS, granted QoS).
    pub qos: QoS,
    /// Set only for retained messages sent because of a new subscription.
    pub retain: bool,
    /// The 5.0 PUBLISH properties forwarded with it; empty from a 3.1.1
    /// publisher, and not sent to a 3.1.1 subscriber. A Message Expiry
    /// Interval among them is the one it was published with; what is sent
    /// is the time left (see [`Expiry`]).
    pub properties: Properties,
    /// When the message expires, if it was published with a Message
    /// Expiry Interval (5.0).
    pub expiry: Option<Expiry>,
}

/// A 5.0 Message Expiry Interval and when the broker received the message,
/// on the broker's (simulated) tokio clock, never the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub received: Instant,
    pub interval_s: u32,
}

impl Expiry {
    /// The expiry of a message received now with these PUBLISH properties;
    /// `None` when they have no Message Expiry Interval.
    pub fn of(properties: &Properties) -> Option<Expiry> {
        properties.iter().find_map(|p| match p {
            Property::MessageExpiryInterval(s) => Some(Expiry {
                received: Instant::now(),
                interval_s: *s,
            }),
            _ => None,
        })
    }

    /// Whether the interval has passed at `now`.
    pub fn passed(self, now: Instant) -> bool {
        now.saturating_duration_since(self.received).as_secs() >= u64::from(self.interval_s)
    }

    /// The interval less the whole seconds the message has waited
    /// [MQTT-3.3.2-6], at least 1: a message still queued is never at 0
    /// (it would have expired), and one whose delivery started before its
    /// interval passed is still resent on a resumed session (only what was
    /// not sent yet is dropped [MQTT-3.3.2-5]).
    pub fn remaining_s(self, now: Instant) -> u32 {
        let waited = now.saturating_duration_since(self.received).as_secs();
        let waited = u32::try_from(waited).unwrap_or(u32::MAX);
        self.interval_s.saturating_sub(waited).max(1)
    }

    /// The same interval, counted again in full from now: what a restarted
    /// broker does, its clock starting anew (as for session expiry).
    pub fn restarted(self) -> Expiry {
        Expiry {
            received: Instant::now(),
            ..self
        }
    }
}

/// Where an outbound QoS 1 or 2 message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundState {
    /// PUBLISH sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published,
    /// PUBREL sent; waiting for PUBCOMP.
    Released,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub message: Message,
    pub state: OutboundState,
    /// Its PUBLISH went out on the current connection: only these count
    /// against the client's Receive Maximum, the send quota starting anew
    /// with each connection (5.0 section 4.9). A message sent on an earlier
    /// connection waits here for its resend until the quota has room.
    pub sent_here: bool,
}

/// What is sent next on a connection, taken from the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Send {
    Publish(Publish),
    PubRel(u16),
}

/// One subscription of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    pub granted: QoS,
    /// The 5.0 subscription identifier the SUBSCRIBE carried, sent back on
    /// every message this subscription delivers [MQTT-3.3.4-3].
    pub id: Option<u32>,
    /// 5.0: messages this session published are not delivered back through
    /// this subscription [MQTT-3.8.3-3].
    pub no_local: bool,
    /// 5.0: live messages keep the RETAIN flag they were published with
    /// (5.0 section 3.8.3.1).
    pub retain_as_published: bool,
    /// 5.0: when retained messages are sent for this subscription.
    pub retain_handling: RetainHandling,
    /// 5.0: a shared subscription (`$share/<group>/<filter>`, its key in
    /// [`Session::subscriptions`]). Under 3.1.1 such a filter is ordinary.
    pub shared: bool,
}

impl Subscription {
    /// A subscription with 3.1.1's options: the granted QoS alone.
    pub fn new(granted: QoS) -> Subscription {
        Subscription {
            granted,
            id: None,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::default(),
            shared: false,
        }
    }

    /// Where `filter` (its key) goes in the index: the inner filter and
    /// the group of a shared subscription, the filter itself otherwise.
    fn index_key<'f>(&self, filter: &'f str) -> (&'f str, Option<&'f str>) {
        match shared_filter(filter) {
            Some(Ok((group, inner))) if self.shared => (inner, Some(group)),
            _ => (filter, None),
        }
    }
}

/// A session's queue of messages not sent yet, which keeps count of their
/// bytes (topic, payload and properties) for `queued_bytes_max`.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    messages: VecDeque<Message>,
    bytes: usize,
}

/// The bytes a queued message counts for: its topic, payload and
/// properties, what grows with what clients send. Properties count too:
/// 200 QoS 1 messages with 1-byte payloads and ~500 KB of user
/// properties each used to pass a 16 MiB bound at +226 MB.
pub fn queued_size(m: &Message) -> usize {
    m.topic.len() + m.payload.len() + properties_size(&m.properties)
}

/// What `properties` hold in bytes, about as encoded: each value's bytes
/// and a few for its identifier and lengths.
fn properties_size(properties: &Properties) -> usize {
    properties
        .iter()
        .map(|p| {
            5 + match p {
                Property::UserProperty(k, v) => k.len() + v.len(),
                Property::ContentType(s)
                | Property::ResponseTopic(s)
                | Property::ReasonString(s)
                | Property::AssignedClientIdentifier(s)
                | Property::AuthenticationMethod(s)
                | Property::ResponseInformation(s)
                | Property::ServerReference(s) => s.len(),
                Property::CorrelationData(b) | Property::AuthenticationData(b) => b.len(),
                _ => 4,
            }
        })
        .sum()
}

impl Queue {
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The topic and payload bytes of the messages waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn front(&self) -> Option<&Message> {
        self.messages.front()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter()
    }

    pub fn push_back(&mut self, m: Message) {
        self.bytes += queued_size(&m);
        self.messages.push_back(m);
    }

    pub fn push_front(&mut self, m: Message) {
        self.bytes += queued_size(&m);
        self.messages.push_front(m);
    }

    pub fn pop_front(&mut self) -> Option<Message> {
        let m = self.messages.pop_front()?;
        // `bytes` counts every message waiting, this one included.
        debug_assert!(self.bytes >= queued_size(&m), "queue bytes undercounted");
        self.bytes = self.bytes.saturating_sub(queued_size(&m));
        Some(m)
    }

    pub fn retain(&mut self, keep: impl FnMut(&Message) -> bool) {
        debug_assert!(self.bytes_agree(), "queue bytes drifted from its messages");
        self.messages.retain(keep);
        self.bytes = self.messages.iter().map(queued_size).sum();
    }

    pub fn clear(&mut self) {
        self.messages.clear();
        self.bytes = 0;
    }

    /// The messages, to change what is not counted (their expiry): a
    /// caller must not change a topic or payload, or `bytes` goes wrong.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Message> {
        self.messages.iter_mut()
    }

    /// Takes out the messages `take` picks, keeping the others in order.
    pub fn take_where(&mut self, mut take: impl FnMut(&Message) -> bool) -> Vec<Message> {
        debug_assert!(self.bytes_agree(), "queue bytes drifted from its messages");
        let (taken, kept): (Vec<Message>, Vec<Message>) = std::mem::take(&mut self.messages)
            .into_iter()
            .partition(|m| take(m));
        self.messages = kept.into();
        self.bytes = self.messages.iter().map(queued_size).sum();
        taken
    }

    /// Whether the running count `bytes` is what the messages add up to:
    /// `queued_bytes_max` is judged by it. Checked where the count is
    /// recomputed anyway (`retain`, `take_where`), so it costs nothing more
    /// than they do; a caller of `iter_mut` that changed a topic or a
    /// payload would show here.
    fn bytes_agree(&self) -> bool {
        self.bytes == self.messages.iter().map(queued_size).sum::<usize>()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Session {
    /// How long the session outlives its connection.
    pub expiry: SessionExpiry,
    /// Filter -> its subscription. Bounded by `SUBSCRIPTIONS_MAX`.
    pub subscriptions: BTreeMap<String, Subscription>,
    /// Messages not sent yet, in order. Bounded by `QUEUED_MAX` messages
    /// and by the broker option `queued_bytes_max`.
    pub queue: Queue,
    /// Sent QoS 1 and 2 messages not yet completed, in the order they were
    /// first sent. Bounded by `INFLIGHT_MAX`.
    pub outbound: IndexMap<u16, Outbound>,
    /// Inbound QoS 2 packet ids whose PUBREL has not arrived: a PUBLISH
    /// resent with one of these ids is not delivered again. Bounded by the
    /// packet id space.
    pub inbound_qos2: BTreeSet<u16>,
    /// The user name of the latest connection, for access control.
    pub user: Option<String>,
    /// While no connection holds the session: when it went offline, as a
    /// number from [`Store::went_offline`], so that the least recently
    /// disconnected session is the one with the smallest.
    pub offline_since: Option<u64>,
    /// A 5.0 will waiting for its delay after the connection ended.
    pub held_will: Option<HeldWill>,
    last_packet_id: u16,
}

/// A will that waits for its will delay interval (5.0): published when
/// the delay passes or the session ends, whichever is first; dropped if a
/// connection for the client id comes first [MQTT-3.1.3-9].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldWill {
    pub will: LastWill,
    pub delay_s: u32,
}

/// How long a session outlives its connection, in seconds: the Session
/// Expiry Interval of 5.0, where 0 ends the session with the connection and
/// `u32::MAX` never expires it. 3.1.1 has only the two ends of that range:
/// clean session 1 is 0, clean session 0 is "never" (until evicted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SessionExpiry(pub u32);

impl SessionExpiry {
    pub const WITH_CONNECTION: SessionExpiry = SessionExpiry(0);
    pub const NEVER: SessionExpiry = SessionExpiry(u32::MAX);

    /// The expiry a 3.1.1 CONNECT asks for with its clean session flag;
    /// `persistent` is what clean session 0 gets (the broker option
    /// `persistent_session_expiry`, `NEVER` by default).
    pub fn from_clean_session(clean: bool, persistent: SessionExpiry) -> SessionExpiry {
        if clean {
            SessionExpiry::WITH_CONNECTION
        } else {
            persistent
        }
    }

    /// A session expiry in whole seconds, saturating below `NEVER`, so that
    /// a configured duration never turns into "never" by accident.
    pub fn from_duration(d: std::time::Duration) -> SessionExpiry {
        SessionExpiry(
            u32::try_from(d.as_secs())
                .unwrap_or(u32::MAX - 1)
                .min(u32::MAX - 1),
        )
    }

    /// How long the session lasts once offline; `None` for `NEVER`.
    pub fn finite(self) -> Option<std::time::Duration> {
        (self != SessionExpiry::NEVER).then(|| std::time::Duration::from_secs(u64::from(self.0)))
    }

    /// Whether the session is kept after its connection closes.
    pub fn outlives_connection(self) -> bool {
        self != SessionExpiry::WITH_CONNECTION
    }
}

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueFull {
    /// `QUEUED_MAX` messages are waiting.
    Messages,
    /// The message would take the queue over `queued_bytes_max` bytes.
    Bytes,
}

impl Session {
    pub fn new(expiry: SessionExpiry) -> Session {
        Session {
            expiry,
            ..Session::default()
        }
    }

    /// Queues a message, or refuses it when `QUEUED_MAX` are waiting or
    /// it would take the queue over `bytes_max` bytes of topics and
    /// payloads.
    pub fn enqueue(&mut self, message: Message, bytes_max: usize) -> Result<(), QueueFull> {
        if self.queue.len() >= QUEUED_MAX {
            return Err(QueueFull::Messages);
        }
        if self.queue.bytes().saturating_add(queued_size(&message)) > bytes_max {
            return Err(QueueFull::Bytes);
        }
        self.queue.push_back(message);
        // The two bounds just checked: a queue never holds more than
        // `QUEUED_MAX` messages or `bytes_max` bytes of them.
        debug_assert!(self.queue.len() <= QUEUED_MAX && self.queue.bytes() <= bytes_max);
        Ok(())
    }

    /// The next packet id not in flight. Ids are used round-robin so that a
    /// late acknowledgement of an old id is unlikely to meet a new message.
    fn allocate_packet_id(&mut self) -> Option<u16> {
        // Bounded: at most INFLIGHT_MAX ids are taken, so this ends early.
        for _ in 0..=u16::MAX {
            self.last_packet_id = self.last_packet_id.checked_add(1).unwrap_or(1);
            if !self.outbound.contains_key(&self.last_packet_id) {
                return Some(self.last_packet_id);
            }
        }
        None
    }

    /// Takes the queued messages whose Message Expiry Interval has passed
    /// at `now`: they are not sent [MQTT-3.3.2-5].
    pub fn expire(&mut self, now: Instant) -> Vec<Message> {
        let due = |m: &Message| m.expiry.is_some_and(|e| e.passed(now));
        if !self.queue.iter().any(due) {
            return Vec::new();
        }
        self.queue.take_where(due)
    }

    /// QoS 1 and 2 PUBLISH packets sent on this connection and not yet
    /// acknowledged: what the client's Receive Maximum bounds.
    fn in_flight_here(&self) -> usize {
        self.outbound.values().filter(|o| o.sent_here).count()
    }

    /// Takes what may be sent now, while fewer than `inflight_max` (at most
    /// `INFLIGHT_MAX`) QoS 1 and 2 messages are in flight on this
    /// connection [MQTT-3.3.4-9]: first the resends a resumed session still
    /// owes (DUP=1), then the queue, whose QoS 1 and 2 messages move into
    /// flight. Order is kept: a QoS 0 message behind a blocked QoS 1
    /// message waits too. `now` gives each its remaining expiry interval.
    pub fn take_sendable(&mut self, inflight_max: usize, now: Instant) -> Vec<Send> {
        let inflight_max = inflight_max.clamp(1, INFLIGHT_MAX);
        let mut out = Vec::new();
        let mut in_flight = self.in_flight_here();
        let in_flight_before = in_flight;
        for (&id, o) in self.outbound.iter_mut() {
            if o.sent_here || o.state != OutboundState::Published {
                continue;
            }
            if in_flight >= inflight_max {
                // The queue waits behind the resends still owed.
                return out;
            }
            o.sent_here = true;
            in_flight += 1;
            out.push(Send::Publish(to_publish(&o.message, id, true, now)));
        }
        while let Some(head) = self.queue.front() {
            let full = in_flight >= inflight_max || self.outbound.len() >= INFLIGHT_MAX;
            if head.qos != QoS::AtMostOnce && full {
                break;
            }
            let Some(message) = self.queue.pop_front() else {
                break;
            };
            let packet_id = if message.qos != QoS::AtMostOnce {
                let Some(id) = self.allocate_packet_id() else {
                    self.queue.push_front(message);
                    break;
                };
                let replaced = self.outbound.insert(
                    id,
                    Outbound {
                        message: message.clone(),
                        state: OutboundState::Published,
                        sent_here: true,
                    },
                );
                // Packet ids in flight are unique and never 0
                // [MQTT-2.3.1-1], [MQTT-2.3.1-4]: a reused id would drop
                // the message in flight under it without a word.
                debug_assert!(id != 0 && replaced.is_none(), "packet id {id} reused");
                in_flight += 1;
                id
            } else {
                0
            };
            out.push(Send::Publish(to_publish(&message, packet_id, false, now)));
        }
        self.debug_assert_in_flight(inflight_max, in_flight_before);
        out
    }

    /// The quotas on messages in flight after `take_sendable` or `resend`:
    /// at most `INFLIGHT_MAX` per session, whatever its connections did,
    /// and nothing put in flight on this connection beyond its
    /// `inflight_max` (the client's Receive Maximum [MQTT-3.3.4-9]). A
    /// count already over it when the call began, `before` (two
    /// connections on one session, which only the `no-takeover-close`
    /// mutant allows), may stay but not grow.
    fn debug_assert_in_flight(&self, inflight_max: usize, before: usize) {
        debug_assert!(
            self.outbound.len() <= INFLIGHT_MAX,
            "{} messages in flight",
            self.outbound.len()
        );
        debug_assert!(
            self.in_flight_here() <= inflight_max.max(before),
            "{} messages in flight on this connection, over its quota of {inflight_max}",
            self.in_flight_here()
        );
    }

    /// What a resumed session sends first [MQTT-4.4.0-1], in the order
    /// first sent: the PUBREL of every QoS 2 message released, and every
    /// unacknowledged PUBLISH again, with DUP=1 and its packet id, as far
    /// as the new connection's `inflight_max` allows; the rest follow from
    /// [`take_sendable`](Self::take_sendable) as acknowledgements make room.
    pub fn resend(&mut self, inflight_max: usize, now: Instant) -> Vec<Send> {
        let inflight_max = inflight_max.clamp(1, INFLIGHT_MAX);
        let mut in_flight = 0;
        let mut out = Vec::new();
        // A PUBLISH that does not fit now waits, and so do all after it.
        for (&id, o) in self.outbound.iter_mut() {
            o.sent_here = false;
            match o.state {
                OutboundState::Released => out.push(Send::PubRel(id)),
                OutboundState::Published if in_flight < inflight_max => {
                    o.sent_here = true;
                    in_flight += 1;
                    out.push(Send::Publish(to_publish(&o.message, id, true, now)));
                }
                OutboundState::Published => {}
            }
        }
        // Every `sent_here` was cleared above: the quota starts anew.
        self.debug_assert_in_flight(inflight_max, 0);
        out
    }

    /// PUBACK: a QoS 1 delivery is complete. False if the id was not a QoS 1
    /// message in flight.
    pub fn puback(&mut self, id: u16) -> bool {
        match self.outbound.get(&id) {
            Some(o) if o.message.qos == QoS::AtLeastOnce => {
                self.outbound.shift_remove(&id);
                true
            }
            _ => false,
        }
    }

    /// PUBREC: the QoS 2 message is received; PUBREL follows. False if the
    /// id was not a QoS 2 message in flight.
    pub fn pubrec(&mut self, id: u16) -> bool {
        match self.outbound.get_mut(&id) {
            Some(o) if o.message.qos == QoS::ExactlyOnce => {
                o.state = OutboundState::Released;
                true
            }
            _ => false,
        }
    }

    /// PUBREC with a reason of 0x80 or more (5.0): the client refused the
    /// QoS 2 message, which counts as acknowledged. The flow ends without
    /// PUBREL and the message is not sent again [MQTT-4.4.0-2]. False if
    /// the id was not a QoS 2 message awaiting PUBREC.
    pub fn pubrec_refused(&mut self, id: u16) -> bool {
        match self.outbound.get(&id) {
            Some(o) if o.message.qos == QoS::ExactlyOnce && o.state == OutboundState::Published => {
                self.outbound.shift_remove(&id);
                true
            }
            _ => false,
        }
    }

    /// PUBCOMP: a QoS 2 delivery is complete.
    pub fn pubcomp(&mut self, id: u16) -> bool {
        match self.outbound.get(&id) {
            Some(o) if o.state == OutboundState::Released => {
                self.outbound.shift_remove(&id);
                true
            }
            _ => false,
        }
    }

    /// The connection is gone: QoS 0 messages are not kept for an offline
    /// session.
    fn drop_qos0(&mut self) {
        self.queue.retain(|m| m.qos != QoS::AtMostOnce);
    }
}

/// The PUBLISH for a message, sent at `now`: its Message Expiry Interval
/// is the time it has left [MQTT-3.3.2-6].
fn to_publish(m: &Message, packet_id: u16, dup: bool, now: Instant) -> Publish {
    let mut properties = m.properties.clone();
    if let Some(e) = m.expiry {
        for p in properties.0.iter_mut() {
            if let Property::MessageExpiryInterval(s) = p {
                *s = e.remaining_s(now);
            }
        }
    }
    Publish {
        topic: m.topic.to_string(),
        payload: m.payload.clone(),
        qos: m.qos,
        retain: m.retain,
        dup: dup && m.qos != QoS::AtMostOnce,
        packet_id,
        properties,
    }
}

/// A retained message: the last PUBLISH with RETAIN=1 on its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retained {
    pub payload: Bytes,
    pub qos: QoS,
    /// The 5.0 properties it was published with.
    pub properties: Properties,
    /// When it expires, if it was published with a Message Expiry Interval:
    /// a new subscriber does not get it after that.
    pub expiry: Option<Expiry>,
}

/// The broker's durable state: sessions and retained messages.
///
/// The harness keeps it outside the host's future with
/// [`Broker::with_store`](super::Broker::with_store), so that a restarted
/// broker finds it again when `persistence` is on.
#[derive(Debug, Default)]
pub struct Store {
    /// Client id -> session. Bounded by `sessions_max`. Not public: a
    /// session goes in and out through the methods below, which keep the
    /// routing index in step ([`Store::sessions`] reads it).
    pub(super) sessions: BTreeMap<String, Session>,
    /// Topic -> retained message. Bounded by `RETAINED_MAX`.
    pub retained: BTreeMap<String, Retained>,
    /// The counter behind assigned client ids; kept here so that ids stay
    /// unique across restarts.
    pub assigned_ids: u64,
    /// The counter behind [`Session::offline_since`].
    offline_count: u64,
    /// Every session's subscriptions by filter level, for routing. Kept in
    /// step with `sessions` by the methods below: a session's subscriptions
    /// are indexed while it is stored.
    pub(super) index: Index,
    /// Shared subscriptions (group and inner filter) -> the member that
    /// got the last message, for the round robin.
    pub(super) shared_last: BTreeMap<(String, String), String>,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// Stores a session under `client_id`, its subscriptions indexed. A
    /// session stored there before is removed first.
    pub fn insert_session(&mut self, client_id: &str, session: Session) {
        self.remove_session(client_id);
        for (filter, sub) in &session.subscriptions {
            let (inner, group) = sub.index_key(filter);
            self.index.insert(inner, group, client_id);
        }
        // Routing finds subscribers through the index alone: a stored
        // subscription it lacks would never deliver.
        debug_assert_eq!(
            self.indexed(client_id, &session),
            session.subscriptions.len(),
            "subscriptions of {client_id} missing from the index"
        );
        self.sessions.insert(client_id.to_string(), session);
    }

    /// Removes a session and its subscriptions from the index, which gives
    /// back the memory they held.
    pub fn remove_session(&mut self, client_id: &str) -> Option<Session> {
        let session = self.sessions.remove(client_id)?;
        for (filter, sub) in &session.subscriptions {
            self.unindex(client_id, filter, sub);
        }
        // A subscription left in the index would route messages to a
        // session that is gone, and keep its memory.
        debug_assert_eq!(
            self.indexed(client_id, &session),
            0,
            "subscriptions of ended session {client_id} left in the index"
        );
        // With the last session goes the last subscription, and every
        // node and round robin place with it.
        debug_assert!(
            !self.sessions.is_empty() || (self.index.is_empty() && self.shared_last.is_empty()),
            "no session is stored, but the index is not empty"
        );
        Some(session)
    }

    /// How many of `session`'s subscriptions the index records under
    /// `client_id`: all of them while it is stored, none once it is not.
    fn indexed(&self, client_id: &str, session: &Session) -> usize {
        session
            .subscriptions
            .iter()
            .filter(|(filter, sub)| self.is_indexed(client_id, filter, sub))
            .count()
    }

    fn is_indexed(&self, client_id: &str, filter: &str, sub: &Subscription) -> bool {
        let (inner, group) = sub.index_key(filter);
        self.index.contains(inner, group, client_id)
    }

    /// Whether the index records exactly the stored sessions'
    /// subscriptions (each is there, and nothing else is), holds no empty
    /// node, and keeps round robin places only for shared subscriptions
    /// that have members. The whole store is walked: for the rare moments
    /// that walk it anyway, such as a restart.
    fn index_agrees(&self) -> bool {
        let stored: usize = self.sessions.values().map(|s| s.subscriptions.len()).sum();
        let each_indexed = self
            .sessions
            .iter()
            .all(|(id, s)| self.indexed(id, s) == s.subscriptions.len());
        let places_have_members = self
            .shared_last
            .keys()
            .all(|(group, inner)| self.index.members(inner, group).is_some());
        each_indexed && self.index.len() == stored && self.index.is_pruned() && places_have_members
    }

    /// Takes one subscription out of the index, and the round robin place
    /// of a shared subscription whose last member it was.
    fn unindex(&mut self, client_id: &str, filter: &str, sub: &Subscription) {
        let (inner, group) = sub.index_key(filter);
        self.index.remove(inner, group, client_id);
        if let Some(g) = group
            && self.index.members(inner, g).is_none()
        {
            self.shared_last.remove(&(g.to_string(), inner.to_string()));
        }
    }

    /// Adds or replaces the subscription of `client_id` to `filter`;
    /// returns the one it replaced. `None` too when there is no such
    /// session.
    pub fn subscribe(
        &mut self,
        client_id: &str,
        filter: &str,
        sub: Subscription,
    ) -> Option<Subscription> {
        let session = self.sessions.get_mut(client_id)?;
        let old = session.subscriptions.insert(filter.to_string(), sub);
        if let Some(old) = old {
            self.unindex(client_id, filter, &old);
        }
        let (inner, group) = sub.index_key(filter);
        self.index.insert(inner, group, client_id);
        // The index follows the session: the new subscription is in it,
        // and a replaced one filed elsewhere (shared before, ordinary now,
        // or the reverse) is not.
        debug_assert!(self.is_indexed(client_id, filter, &sub));
        debug_assert!(old.is_none_or(|o| {
            o.index_key(filter) == sub.index_key(filter) || !self.is_indexed(client_id, filter, &o)
        }));
        old
    }

    /// Removes the subscription of `client_id` to `filter`, if it has one.
    pub fn unsubscribe(&mut self, client_id: &str, filter: &str) -> Option<Subscription> {
        let old = self
            .sessions
            .get_mut(client_id)?
            .subscriptions
            .remove(filter)?;
        self.unindex(client_id, filter, &old);
        // Routing must not find a subscription the session no longer has.
        debug_assert!(!self.is_indexed(client_id, filter, &old));
        Some(old)
    }

    /// Keeps what outlives connections: persistent sessions, without their
    /// QoS 0 messages, and retained messages.
    pub(super) fn all_offline(&mut self) {
        let gone: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| !s.expiry.outlives_connection())
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.remove_session(&id);
        }
        let ids: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.offline_since.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.went_offline(&id);
        }
        // A broker starts (or restarts) on this store: whatever happened
        // before, routing must begin from an index that agrees with it.
        debug_assert!(
            self.index_agrees(),
            "the routing index disagrees with the sessions"
        );
    }

    /// The session of `client_id` has no connection any more: its QoS 0
    /// messages go, and it takes its place in the eviction order. Returns
    /// its offline number, which tells a timer set now whether the session
    /// is still the one it was set for.
    pub(super) fn went_offline(&mut self, client_id: &str) -> Option<u64> {
        self.offline_count += 1;
        let n = self.offline_count;
        let s = self.sessions.get_mut(client_id)?;
        s.drop_qos0();
        s.offline_since = Some(n);
        Some(n)
    }

    /// A restarted broker's clock starts anew: every message expiry is
    /// counted again in full from now, as session expiry and will delays
    /// are (see `expiry`).
    pub(super) fn restart_expiry_clocks(&mut self) {
        let restart = |e: &mut Option<Expiry>| *e = e.map(Expiry::restarted);
        for r in self.retained.values_mut() {
            restart(&mut r.expiry);
        }
        for s in self.sessions.values_mut() {
            s.queue.iter_mut().for_each(|m| restart(&mut m.expiry));
            s.outbound
                .values_mut()
                .for_each(|o| restart(&mut o.message.expiry));
        }
    }

    /// The session that went offline longest ago: the one a full table
    /// evicts. Connected sessions are never evicted.
    pub(super) fn least_recently_disconnected(&self) -> Option<String> {
        // Sessions holding nothing for their client (no queued or
        // in-flight message, no held will) go first, so that a flood of
        // new client ids evicts empty sessions before a victim's queued
        // QoS 1 message; among them, and then among the rest, the least
        // recently disconnected.
        let holds =
            |s: &Session| !s.queue.is_empty() || !s.outbound.is_empty() || s.held_will.is_some();
        self.sessions
            .iter()
            .filter_map(|(id, s)| s.offline_since.map(|n| ((holds(s), n), id)))
            .min()
            .map(|(_, id)| id.clone())
    }

    /// The stored sessions, by client id.
    pub fn sessions(&self) -> &BTreeMap<String, Session> {
        &self.sessions
    }

    /// The queue of one session, to empty it (the router benchmark): its
    /// messages are not in the routing index, so this cannot bypass it.
    pub fn queue_mut(&mut self, client_id: &str) -> Option<&mut Queue> {
        self.sessions.get_mut(client_id).map(|s| &mut s.queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(qos: u8) -> Message {
        Message {
            topic: "t".into(),
            payload: Bytes::from_static(b"x"),
            qos: QoS::try_from(qos).expect("test QoS"),
            retain: false,
            properties: Properties::default(),
            expiry: None,
        }
    }

    #[test]
    fn a_refused_pubrec_ends_the_flow_but_not_a_released_one() {
        let mut s = Session::new(SessionExpiry::NEVER);
        for (id, state) in [(1, OutboundState::Published), (2, OutboundState::Released)] {
            s.outbound.insert(
                id,
                Outbound {
                    message: msg(2),
                    state,
                    sent_here: true,
                },
            );
        }
        assert!(s.pubrec_refused(1));
        assert!(!s.pubrec_refused(2));
        assert_eq!(s.outbound.keys().copied().collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn packet_ids_skip_those_in_flight() {
        let mut s = Session::new(SessionExpiry::NEVER);
        s.last_packet_id = u16::MAX - 1;
        s.outbound.insert(
            1,
            Outbound {
                message: msg(1),
                state: OutboundState::Published,
                sent_here: true,
            },
        );
        s.enqueue(msg(1), usize::MAX).ok();
        s.enqueue(msg(2), usize::MAX).ok();
        let ids: Vec<u16> = s
            .take_sendable(INFLIGHT_MAX, Instant::now())
            .into_iter()
            .filter_map(|p| match p {
                Send::Publish(p) => Some(p.packet_id),
                Send::PubRel(_) => None,
            })
            .collect();
        assert_eq!(ids, vec![u16::MAX, 2]);
    }

    #[test]
    fn a_receive_maximum_bounds_inflight_below_the_broker_limit() {
        let mut s = Session::new(SessionExpiry::NEVER);
        for _ in 0..3 {
            s.enqueue(msg(1), usize::MAX).ok();
        }
        assert_eq!(s.take_sendable(2, Instant::now()).len(), 2);
        assert!(s.take_sendable(2, Instant::now()).is_empty());
        assert!(s.puback(1) && s.puback(2));
        assert_eq!(s.take_sendable(2, Instant::now()).len(), 1);
    }

    #[test]
    fn inflight_is_bounded_and_order_kept() {
        let mut s = Session::new(SessionExpiry::NEVER);
        for _ in 0..INFLIGHT_MAX + 1 {
            s.enqueue(msg(1), usize::MAX).ok();
        }
        s.enqueue(msg(0), usize::MAX).ok();
        assert_eq!(
            s.take_sendable(INFLIGHT_MAX, Instant::now()).len(),
            INFLIGHT_MAX
        );
        assert_eq!(s.queue.len(), 2);
        assert!(s.puback(1));
        assert!(!s.puback(1));
        assert_eq!(s.take_sendable(INFLIGHT_MAX, Instant::now()).len(), 2);
    }

    #[test]
    fn queue_is_bounded() {
        let mut s = Session::new(SessionExpiry::NEVER);
        for _ in 0..QUEUED_MAX {
            assert_eq!(s.enqueue(msg(1), usize::MAX), Ok(()));
        }
        assert_eq!(s.enqueue(msg(1), usize::MAX), Err(QueueFull::Messages));
    }

    #[test]
    fn the_least_recently_disconnected_session_is_found_and_connected_ones_never() {
        let mut store = Store::new();
        for id in ["a", "b", "c"] {
            store
                .sessions
                .insert(id.into(), Session::new(SessionExpiry::NEVER));
        }
        assert_eq!(store.least_recently_disconnected(), None);
        store.went_offline("c");
        store.went_offline("a");
        assert_eq!(store.least_recently_disconnected().as_deref(), Some("c"));
        if let Some(c) = store.sessions.get_mut("c") {
            c.offline_since = None;
        }
        assert_eq!(store.least_recently_disconnected().as_deref(), Some("a"));
    }

    #[test]
    fn a_resumed_session_resends_no_more_than_the_new_receive_maximum() {
        let mut s = Session::new(SessionExpiry::NEVER);
        for _ in 0..3 {
            s.enqueue(msg(1), usize::MAX).ok();
        }
        let now = Instant::now();
        assert_eq!(s.take_sendable(INFLIGHT_MAX, now).len(), 3);
        let again = s.resend(2, now);
        let ids: Vec<u16> = again
            .iter()
            .filter_map(|p| match p {
                Send::Publish(p) if p.dup => Some(p.packet_id),
                _ => None,
            })
            .collect();
        assert_eq!(ids, vec![1, 2]);
        s.enqueue(msg(1), usize::MAX).ok();
        assert!(s.take_sendable(2, now).is_empty(), "the quota is full");
        assert!(s.puback(2));
        let next = s.take_sendable(2, now);
        assert!(
            matches!(next.as_slice(), [Send::Publish(p)] if p.packet_id == 3 && p.dup),
            "the owed resend comes before the queue: {next:?}"
        );
    }

    #[test]
    fn expired_messages_leave_the_queue_and_others_carry_the_time_left() {
        let mut s = Session::new(SessionExpiry::NEVER);
        let start = Instant::now();
        for interval_s in [2, 10] {
            let mut m = msg(1);
            m.properties = vec![Property::MessageExpiryInterval(interval_s)].into();
            m.expiry = Some(Expiry {
                received: start,
                interval_s,
            });
            s.enqueue(m, usize::MAX).ok();
        }
        let later = start + std::time::Duration::from_millis(2500);
        let expired = s.expire(later);
        assert_eq!(expired.len(), 1);
        assert_eq!(
            expired.first().and_then(|m| m.expiry).map(|e| e.interval_s),
            Some(2)
        );
        let sent = s.take_sendable(INFLIGHT_MAX, later);
        let Some(Send::Publish(p)) = sent.first() else {
            panic!("{sent:?}");
        };
        assert_eq!(p.properties.0, vec![Property::MessageExpiryInterval(8)]);
    }

    #[test]
    fn resend_marks_dup_and_keeps_ids() {
        let mut s = Session::new(SessionExpiry::NEVER);
        s.enqueue(msg(1), usize::MAX).ok();
        s.enqueue(msg(2), usize::MAX).ok();
        s.take_sendable(INFLIGHT_MAX, Instant::now());
        assert!(s.pubrec(2));
        assert!(!s.pubrec(1), "PUBREC for a QoS 1 message");
        let again = s.resend(INFLIGHT_MAX, Instant::now());
        let Some(Send::Publish(p)) = again.first() else {
            panic!("{again:?}");
        };
        assert!(p.dup);
        assert_eq!(p.packet_id, 1);
        assert_eq!(again.get(1), Some(&Send::PubRel(2)));
        assert!(s.pubcomp(2));
        assert_eq!(s.outbound.len(), 1);
    }

    /// A full session table used to evict the least recently disconnected
    /// session even when it held a queued QoS 1 message and others held
    /// nothing; now empty sessions go first.
    #[test]
    fn eviction_prefers_sessions_holding_nothing() {
        let mut store = Store::new();
        let mut holding = Session::new(SessionExpiry::NEVER);
        holding.offline_since = Some(1);
        holding
            .enqueue(msg(1), usize::MAX)
            .expect("room in an empty queue");
        store.insert_session("victim", holding);
        let mut empty = Session::new(SessionExpiry::NEVER);
        empty.offline_since = Some(2);
        store.insert_session("empty", empty);
        assert_eq!(
            store.least_recently_disconnected().as_deref(),
            Some("empty")
        );
        store.remove_session("empty");
        assert_eq!(
            store.least_recently_disconnected().as_deref(),
            Some("victim")
        );
    }

    /// `queued_bytes_max` counted topic and payload only: messages with
    /// 1-byte payloads and large user properties were all queued.
    #[test]
    fn queued_bytes_count_the_properties() {
        let mut big = msg(1);
        big.properties
            .push(Property::UserProperty("k".into(), "v".repeat(10_000)));
        let mut s = Session::new(SessionExpiry::NEVER);
        assert_eq!(s.enqueue(big.clone(), 15_000), Ok(()));
        assert_eq!(s.enqueue(big, 15_000), Err(QueueFull::Bytes));
        assert!(s.queue.bytes() > 10_000);
    }
}
