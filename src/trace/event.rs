//! What happened during a run, as seen from each client's side of the wire,
//! plus faults and broker notes.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use crate::scenario::{ClosedBy, FaultAction};
use crate::wire::Packet;

/// The most events one run records. A runaway scenario (a reconnect loop
/// with no delay, say) cannot exhaust memory; what is dropped is counted.
pub const EVENTS_MAX: usize = 1_000_000;

/// PUBLISH payloads at least this long are kept once per distinct content
/// in a run's trace ([`Payloads`]): every receipt of one message decodes a
/// copy of its own, and a 1 MB message fanned out to 1,000 subscribers
/// would otherwise keep 1 GB. Shorter payloads cost less than the lookup.
pub const SHARED_PAYLOAD_MIN_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Simulated time since the start of the run.
    pub at: Duration,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The client's TCP connection was established.
    Connected { client: String },
    /// The client's TCP connect attempt failed.
    ConnectFailed { client: String, error: String },
    /// A packet the client wrote, at its connection's protocol level (4 is
    /// 3.1.1, 5 is 5.0), which says how the trace shows it.
    Send {
        client: String,
        packet: Packet,
        level: u8,
    },
    /// Raw bytes the client wrote (the `send` step).
    SendRaw { client: String, bytes: Bytes },
    /// A packet the client read, at its connection's protocol level.
    Recv {
        client: String,
        packet: Packet,
        level: u8,
        /// The topic a 5.0 PUBLISH stands for when it came with an empty
        /// topic name and a topic alias the connection had set: the packet
        /// stays as on the wire, and expectations on `topic` match this.
        resolved_topic: Option<String>,
    },
    /// The client's connection ended. `reason` is the reason code of the
    /// DISCONNECT a 5.0 broker sent before it closed, when it sent one.
    Closed {
        client: String,
        by: ClosedBy,
        reason: Option<u8>,
    },
    /// A `silence` step: the client stops sending on its own.
    Silence { client: String },
    /// A `resume` step: the client sends on its own again.
    Resume { client: String },
    /// The client holds a PUBLISH back instead of sending it: the broker's
    /// Receive Maximum has as many QoS 1 and 2 messages in flight as it
    /// allows. The message goes out when an acknowledgement makes room.
    Held { client: String, text: String },
    /// Something went wrong on the client's side: a step that could not run,
    /// bytes from the broker that do not decode.
    Error { client: String, text: String },
    /// A network fault took effect. Ranges in it are already drawn.
    Fault { fault: FaultAction },
    /// Something the built-in broker decided.
    Note { host: String, text: String },
}

impl EventKind {
    /// The host the event belongs to; `None` for faults, which belong to the
    /// network.
    pub fn host(&self) -> Option<&str> {
        match self {
            EventKind::Connected { client }
            | EventKind::ConnectFailed { client, .. }
            | EventKind::Send { client, .. }
            | EventKind::SendRaw { client, .. }
            | EventKind::Recv { client, .. }
            | EventKind::Closed { client, .. }
            | EventKind::Silence { client }
            | EventKind::Resume { client }
            | EventKind::Held { client, .. }
            | EventKind::Error { client, .. } => Some(client),
            EventKind::Note { host, .. } => Some(host),
            EventKind::Fault { .. } => None,
        }
    }

    /// The event's name in both renderers.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Connected { .. } => "connected",
            EventKind::ConnectFailed { .. } => "connect_failed",
            EventKind::Send { .. } | EventKind::SendRaw { .. } => "send",
            EventKind::Recv { .. } => "recv",
            EventKind::Closed { .. } => "closed",
            EventKind::Silence { .. } => "silence",
            EventKind::Resume { .. } => "resume",
            EventKind::Held { .. } => "held",
            EventKind::Error { .. } => "error",
            EventKind::Fault { .. } => "fault",
            EventKind::Note { .. } => "note",
        }
    }
}

/// Reads the current simulated time. In simulation this is turmoil's clock;
/// it is a function so that a live run can supply real elapsed time.
pub type Clock = Rc<dyn Fn() -> Duration>;

/// The shared, append-only event log of one run. Every host of a simulation
/// runs on one thread, so a `RefCell` is enough.
#[derive(Clone)]
pub struct Recorder {
    events: Rc<RefCell<Vec<Event>>>,
    dropped: Rc<RefCell<usize>>,
    payloads: Rc<RefCell<Payloads>>,
    clock: Clock,
}

/// One buffer per distinct large payload of a run: a recorded PUBLISH whose
/// payload equals one seen before shares that one's buffer. Looked up by
/// length and a hash, then compared byte for byte; nothing iterates it, so
/// it cannot change the trace.
#[derive(Default)]
struct Payloads {
    seen: BTreeMap<(usize, u64), Vec<Bytes>>,
}

impl Payloads {
    fn share(&mut self, payload: &mut Bytes) {
        if payload.len() < SHARED_PAYLOAD_MIN_BYTES {
            return;
        }
        let mut h = DefaultHasher::new();
        payload.hash(&mut h);
        let same = self.seen.entry((payload.len(), h.finish())).or_default();
        match same.iter().find(|b| *b == payload) {
            Some(b) => *payload = b.clone(),
            None => same.push(payload.clone()),
        }
    }
}

impl Recorder {
    pub fn new(clock: Clock) -> Self {
        Recorder {
            events: Rc::default(),
            dropped: Rc::default(),
            payloads: Rc::default(),
            clock,
        }
    }

    pub fn now(&self) -> Duration {
        (self.clock)()
    }

    pub fn record(&self, kind: EventKind) {
        self.record_at(self.now(), kind);
    }

    /// Records with an explicit time: for the driver, which runs outside
    /// any host and so has no clock of its own.
    pub fn record_at(&self, at: Duration, mut kind: EventKind) {
        let mut events = self.events.borrow_mut();
        if events.len() >= EVENTS_MAX {
            *self.dropped.borrow_mut() += 1;
            return;
        }
        if let EventKind::Send {
            packet: Packet::Publish(m),
            ..
        }
        | EventKind::Recv {
            packet: Packet::Publish(m),
            ..
        } = &mut kind
        {
            self.payloads.borrow_mut().share(&mut m.payload);
        }
        events.push(Event { at, kind });
    }

    /// The events so far, and how many were dropped over [`EVENTS_MAX`].
    pub fn take(&self) -> (Vec<Event>, usize) {
        (
            std::mem::take(&mut *self.events.borrow_mut()),
            *self.dropped.borrow(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Properties, Publish, QoS};

    fn recv(payload: Vec<u8>) -> EventKind {
        EventKind::Recv {
            client: "c".into(),
            packet: Packet::Publish(Publish {
                topic: "t".into(),
                payload: Bytes::from(payload),
                qos: QoS::AtMostOnce,
                retain: false,
                dup: false,
                packet_id: 0,
                properties: Properties::default(),
            }),
            level: 4,
            resolved_topic: None,
        }
    }

    fn payload(e: &Event) -> &Bytes {
        match &e.kind {
            EventKind::Recv {
                packet: Packet::Publish(m),
                ..
            } => &m.payload,
            other => panic!("not a PUBLISH receipt: {other:?}"),
        }
    }

    /// Receipts of one large payload share one buffer; a different payload
    /// of the same length, and a short one, keep their own.
    #[test]
    fn equal_large_payloads_share_one_buffer_in_the_trace() {
        let r = Recorder::new(Rc::new(|| Duration::ZERO));
        let big = vec![7u8; SHARED_PAYLOAD_MIN_BYTES];
        let mut other = big.clone();
        other[0] = 8;
        r.record(recv(big.clone()));
        r.record(recv(big));
        r.record(recv(other));
        r.record(recv(vec![1, 2, 3]));
        r.record(recv(vec![1, 2, 3]));
        let (events, _) = r.take();
        let ptr = |i: usize| payload(&events[i]).as_ptr();
        assert_eq!(
            ptr(0),
            ptr(1),
            "the second receipt shares the first's buffer"
        );
        assert_ne!(ptr(0), ptr(2), "a different payload keeps its own");
        assert_eq!(payload(&events[2])[0], 8);
        assert_ne!(ptr(3), ptr(4), "short payloads are not looked up");
    }
}
