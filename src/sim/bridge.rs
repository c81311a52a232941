//! A bridge's way out of its broker host in simulation: dialing the remote
//! broker over turmoil-net, the bridge's connection recorded in the trace
//! as the client `<local>-><remote>`, and its reconnect delays drawn from
//! the run's seed (each bridge its own stream).

use std::cell::RefCell;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use super::net::Stream;
use crate::broker::{BridgeLink, Dialing, LinkEvent, LinkStream};
use crate::scenario::{ClosedBy, DurationSpec};
use crate::trace::{EventKind, Recorder};

/// One bridge's link in one run.
pub struct SimLink {
    /// The remote broker's host name.
    pub to: String,
    /// The bridge's name in the trace, `<local>-><remote>`.
    pub name: String,
    pub rec: Recorder,
    pub rng: RefCell<ChaCha8Rng>,
}

impl BridgeLink for SimLink {
    fn dial(&self) -> Dialing {
        let to = self.to.clone();
        Box::pin(async move {
            let s = Stream::connect(&to).await?;
            Ok(Box::new(s) as Box<dyn LinkStream>)
        })
    }

    fn event(&self, e: LinkEvent<'_>) {
        let client = self.name.clone();
        let kind = match e {
            LinkEvent::Connected => EventKind::Connected { client },
            LinkEvent::ConnectFailed(error) => EventKind::ConnectFailed { client, error },
            LinkEvent::Sent(p, level) => EventKind::Send {
                client,
                packet: p.clone(),
                level,
            },
            LinkEvent::Received(p, level) => EventKind::Recv {
                client,
                packet: p.clone(),
                level,
                resolved_topic: None,
            },
            LinkEvent::Closed { by_bridge } => EventKind::Closed {
                client,
                by: if by_bridge {
                    ClosedBy::Client
                } else {
                    ClosedBy::Broker
                },
                reason: None,
            },
        };
        self.rec.record(kind);
    }

    fn reconnect_delay(&self, lo: Duration, hi: Duration) -> Duration {
        let spec = if lo == hi {
            DurationSpec::Fixed(lo)
        } else {
            DurationSpec::Range(lo, hi)
        };
        spec.draw(&mut *self.rng.borrow_mut())
    }
}
