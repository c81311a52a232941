//! What happened during a run, as seen from each client's side of the wire,
//! plus faults and broker notes.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use crate::scenario::{ClosedBy, FaultAction};
use crate::wire::Packet;

/// The most events one run records. A runaway scenario (a reconnect loop
/// with no delay, say) cannot exhaust memory; what is dropped is counted.
pub const EVENTS_MAX: usize = 1_000_000;

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
    clock: Clock,
}

impl Recorder {
    pub fn new(clock: Clock) -> Self {
        Recorder {
            events: Rc::default(),
            dropped: Rc::default(),
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
    pub fn record_at(&self, at: Duration, kind: EventKind) {
        let mut events = self.events.borrow_mut();
        if events.len() >= EVENTS_MAX {
            *self.dropped.borrow_mut() += 1;
            return;
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
