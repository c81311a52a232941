//! Which connections are open, and how one connection tells another to
//! close when a CONNECT arrives with the same client id [MQTT-3.1.4-2].
//!
//! Ordering on a takeover, which the traces rely on:
//! 1. the new connection registers itself under the client id and kicks the
//!    old one;
//! 2. the old connection closes its stream, publishes its will as the
//!    `takeover_will` profile says, lets go of its session, and signals that
//!    it is done;
//! 3. only then does the new connection look at the stored session and send
//!    its CONNACK.
//!
//! So an observer sees the old client's will before the new client's
//! CONNACK, and session-present reflects what the old connection left.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use tokio::sync::Notify;

use super::TakeoverWill;

/// What the old connection is told when it is taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kick {
    /// Whether the new connection asked for clean session 0.
    pub new_persistent: bool,
}

/// The part of a connection that other tasks reach.
#[derive(Debug, Default)]
pub struct ConnShared {
    /// Tells apart connections that used the same client id.
    pub conn_id: u64,
    kick: Cell<Option<Kick>>,
    kicked: Notify,
    /// Woken when messages were queued on the connection's session.
    pub wake: Notify,
    finished: Notify,
}

impl ConnShared {
    pub fn new(conn_id: u64) -> ConnShared {
        ConnShared {
            conn_id,
            ..ConnShared::default()
        }
    }

    pub fn kick(&self, kick: Kick) {
        self.kick.set(Some(kick));
        // notify_one keeps a permit, so a kick sent before the connection
        // waits is not lost.
        self.kicked.notify_one();
    }

    /// Resolves once the connection was kicked. Cancel-safe.
    pub async fn kicked(&self) -> Kick {
        loop {
            if let Some(k) = self.kick.get() {
                return k;
            }
            self.kicked.notified().await;
        }
    }

    pub fn was_kicked(&self) -> Option<Kick> {
        self.kick.get()
    }

    /// Resolves once the connection has finished closing (see
    /// [`FinishGuard`]).
    pub async fn finished(&self) {
        self.finished.notified().await;
    }
}

/// Signals `finished` when dropped, so that every way out of a connection
/// task, early returns included, lets a waiting successor go on.
pub struct FinishGuard(pub Rc<ConnShared>);

impl Drop for FinishGuard {
    fn drop(&mut self) {
        self.0.finished.notify_one();
    }
}

/// The open connections.
#[derive(Debug, Default)]
pub struct Live {
    /// Client id -> its current connection, once CONNECT was accepted far
    /// enough to claim the id.
    pub by_client: BTreeMap<String, Rc<ConnShared>>,
    /// Open TCP connections, with or without CONNECT. Bounded by
    /// `connections_max`.
    pub count: usize,
    pub next_conn_id: u64,
    /// Connections that have not sent CONNECT yet, oldest first, each with
    /// what closes it to make room. Bounded by `connecting_max`.
    pub connecting: BTreeMap<u64, Rc<Notify>>,
    pub next_connecting: u64,
}

/// Whether the old connection's will is published on a takeover.
pub fn will_on_takeover(profile: TakeoverWill, old_persistent: bool, kick: Kick) -> bool {
    match profile {
        TakeoverWill::Spec => true,
        TakeoverWill::Mosquitto => !(old_persistent && kick.new_persistent),
        TakeoverWill::Never => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takeover_will_profiles() {
        let p = |new_persistent| Kick { new_persistent };
        for (old, new) in [(false, false), (false, true), (true, false), (true, true)] {
            assert!(will_on_takeover(TakeoverWill::Spec, old, p(new)));
            assert!(!will_on_takeover(TakeoverWill::Never, old, p(new)));
            assert_eq!(
                will_on_takeover(TakeoverWill::Mosquitto, old, p(new)),
                !(old && new)
            );
        }
    }
}
