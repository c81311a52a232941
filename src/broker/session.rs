//! Session state and the [`Store`]: everything that would survive a restart
//! with `persistence: true`.
//!
//! Every connected client has a session in the store, persistent or not, so
//! routing treats online and offline sessions alike: a message is put on the
//! session's queue, and the connection, if there is one, is woken to send it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use indexmap::IndexMap;

use crate::wire::{Properties, Publish, QoS};

use super::{INFLIGHT_MAX, QUEUED_MAX};

/// An application message on its way to one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Bytes,
    /// The QoS it is delivered at: already min(publish QoS, granted QoS).
    pub qos: QoS,
    /// Set only for retained messages sent because of a new subscription.
    pub retain: bool,
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
}

/// What is sent next on a connection, taken from the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Send {
    Publish(Publish),
    PubRel(u16),
}

#[derive(Debug, Clone, Default)]
pub struct Session {
    /// How long the session outlives its connection.
    pub expiry: SessionExpiry,
    /// Filter -> granted QoS. Bounded by `SUBSCRIPTIONS_MAX`.
    pub subscriptions: BTreeMap<String, QoS>,
    /// Messages not sent yet, in order. Bounded by `QUEUED_MAX`.
    pub queue: VecDeque<Message>,
    /// Sent QoS 1 and 2 messages not yet completed, in the order they were
    /// first sent. Bounded by `INFLIGHT_MAX`.
    pub outbound: IndexMap<u16, Outbound>,
    /// Inbound QoS 2 packet ids whose PUBREL has not arrived: a PUBLISH
    /// resent with one of these ids is not delivered again. Bounded by the
    /// packet id space.
    pub inbound_qos2: BTreeSet<u16>,
    /// The user name of the latest connection, for access control.
    pub user: Option<String>,
    last_packet_id: u16,
}

/// How long a session outlives its connection, in seconds: the Session
/// Expiry Interval of 5.0, where 0 ends the session with the connection and
/// `u32::MAX` never expires it. 3.1.1 has only the two ends of that range:
/// clean session 1 is 0, clean session 0 is "never" (until evicted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionExpiry(pub u32);

impl SessionExpiry {
    pub const WITH_CONNECTION: SessionExpiry = SessionExpiry(0);
    pub const NEVER: SessionExpiry = SessionExpiry(u32::MAX);

    /// The expiry a 3.1.1 CONNECT asks for with its clean session flag.
    pub fn from_clean_session(clean: bool) -> SessionExpiry {
        if clean {
            SessionExpiry::WITH_CONNECTION
        } else {
            SessionExpiry::NEVER
        }
    }

    /// Whether the session is kept after its connection closes.
    pub fn outlives_connection(self) -> bool {
        self != SessionExpiry::WITH_CONNECTION
    }
}

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

impl Session {
    pub fn new(expiry: SessionExpiry) -> Session {
        Session {
            expiry,
            ..Session::default()
        }
    }

    /// Queues a message, or refuses it when `QUEUED_MAX` are waiting.
    pub fn enqueue(&mut self, message: Message) -> Result<(), QueueFull> {
        if self.queue.len() >= QUEUED_MAX {
            return Err(QueueFull);
        }
        self.queue.push_back(message);
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

    /// Takes what may be sent now from the queue, moving QoS 1 and 2
    /// messages into flight while fewer than `INFLIGHT_MAX` are. Order is
    /// kept: a QoS 0 message behind a blocked QoS 1 message waits too.
    pub fn take_sendable(&mut self) -> Vec<Send> {
        let mut out = Vec::new();
        while let Some(head) = self.queue.front() {
            if head.qos != QoS::AtMostOnce && self.outbound.len() >= INFLIGHT_MAX {
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
                self.outbound.insert(
                    id,
                    Outbound {
                        message: message.clone(),
                        state: OutboundState::Published,
                    },
                );
                id
            } else {
                0
            };
            out.push(Send::Publish(to_publish(&message, packet_id, false)));
        }
        out
    }

    /// What a resumed session sends first: every unfinished outbound message
    /// again, with DUP=1 and its packet id, or its PUBREL [MQTT-4.4.0-1].
    pub fn resend(&self) -> Vec<Send> {
        self.outbound
            .iter()
            .map(|(&id, o)| match o.state {
                OutboundState::Published => Send::Publish(to_publish(&o.message, id, true)),
                OutboundState::Released => Send::PubRel(id),
            })
            .collect()
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
    pub fn went_offline(&mut self) {
        self.queue.retain(|m| m.qos != QoS::AtMostOnce);
    }
}

fn to_publish(m: &Message, packet_id: u16, dup: bool) -> Publish {
    Publish {
        topic: m.topic.clone(),
        payload: m.payload.clone(),
        qos: m.qos,
        retain: m.retain,
        dup: dup && m.qos != QoS::AtMostOnce,
        packet_id,
        properties: Properties::default(),
    }
}

/// A retained message: the last PUBLISH with RETAIN=1 on its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retained {
    pub payload: Bytes,
    pub qos: QoS,
}

/// The broker's durable state: sessions and retained messages.
///
/// The harness keeps it outside the host's future with
/// [`Broker::with_store`](super::Broker::with_store), so that a restarted
/// broker finds it again when `persistence` is on.
#[derive(Debug, Default)]
pub struct Store {
    /// Client id -> session. Bounded by `SESSIONS_MAX`.
    pub sessions: BTreeMap<String, Session>,
    /// Topic -> retained message. Bounded by `RETAINED_MAX`.
    pub retained: BTreeMap<String, Retained>,
    /// The counter behind assigned client ids; kept here so that ids stay
    /// unique across restarts.
    pub assigned_ids: u64,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// Keeps what outlives connections: persistent sessions, without their
    /// QoS 0 messages, and retained messages.
    pub(super) fn all_offline(&mut self) {
        self.sessions.retain(|_, s| s.expiry.outlives_connection());
        for s in self.sessions.values_mut() {
            s.went_offline();
        }
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
        }
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
            },
        );
        s.enqueue(msg(1)).ok();
        s.enqueue(msg(2)).ok();
        let ids: Vec<u16> = s
            .take_sendable()
            .into_iter()
            .filter_map(|p| match p {
                Send::Publish(p) => Some(p.packet_id),
                Send::PubRel(_) => None,
            })
            .collect();
        assert_eq!(ids, vec![u16::MAX, 2]);
    }

    #[test]
    fn inflight_is_bounded_and_order_kept() {
        let mut s = Session::new(SessionExpiry::NEVER);
        for _ in 0..INFLIGHT_MAX + 1 {
            s.enqueue(msg(1)).ok();
        }
        s.enqueue(msg(0)).ok();
        assert_eq!(s.take_sendable().len(), INFLIGHT_MAX);
        assert_eq!(s.queue.len(), 2);
        assert!(s.puback(1));
        assert!(!s.puback(1));
        assert_eq!(s.take_sendable().len(), 2);
    }

    #[test]
    fn queue_is_bounded() {
        let mut s = Session::new(SessionExpiry::NEVER);
        for _ in 0..QUEUED_MAX {
            assert_eq!(s.enqueue(msg(1)), Ok(()));
        }
        assert_eq!(s.enqueue(msg(1)), Err(QueueFull));
    }

    #[test]
    fn resend_marks_dup_and_keeps_ids() {
        let mut s = Session::new(SessionExpiry::NEVER);
        s.enqueue(msg(1)).ok();
        s.enqueue(msg(2)).ok();
        s.take_sendable();
        assert!(s.pubrec(2));
        assert!(!s.pubrec(1), "PUBREC for a QoS 1 message");
        let again = s.resend();
        let Some(Send::Publish(p)) = again.first() else {
            panic!("{again:?}");
        };
        assert!(p.dup);
        assert_eq!(p.packet_id, 1);
        assert_eq!(again.get(1), Some(&Send::PubRel(2)));
        assert!(s.pubcomp(2));
        assert_eq!(s.outbound.len(), 1);
    }
}
