//! A session after its connection: a will held for its delay, the
//! session's expiry, and eviction from a full session table.
//!
//! When a connection ends and its session lives on with a finite expiry or
//! a held will, the connection's task lingers on the broker's (simulated)
//! tokio clock: it wakes when the will delay or the session expiry passes,
//! whichever is first, and acts only if the session is still the one it
//! waited for (offline since the same moment; a reconnect, a takeover or an
//! eviction changes that). A restarted broker (`serve`) starts these waits
//! again, in full, for the sessions it kept.

use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use crate::wire::{LastWill, Properties, Property};

use super::router::Publication;
use super::session::{Expiry, Session};
use super::{Broker, Mutant};

/// Why a session ends while offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionEnd {
    /// Its session expiry interval passed.
    Expired(Duration),
    /// The session table was full and it was the least recently
    /// disconnected session.
    Evicted,
}

impl Broker {
    /// Waits for what is due to the offline session of `client_id`, offline
    /// since `offline_since` (see [`Session::offline_since`]), and does it.
    pub(super) async fn linger(&self, client_id: String, offline_since: u64) {
        let start = Instant::now();
        loop {
            let due = self.with_offline(&client_id, offline_since, |s| {
                let will = s.held_will.as_ref().map(|h| secs(h.delay_s));
                let expiry = s.expiry.finite();
                (will, expiry)
            });
            let Some((will, expiry)) = due else { return };
            let expiry = expiry.filter(|_| !self.mutant(Mutant::SessionExpiryIgnored));
            let Some(next) = [will, expiry].into_iter().flatten().min() else {
                return;
            };
            sleep_until(start + next).await;
            if will.is_some_and(|d| d <= next) {
                let held = self
                    .with_offline(&client_id, offline_since, |s| s.held_will.take())
                    .flatten();
                if let Some(h) = held {
                    let how = format!(" after its delay of {}s", h.delay_s);
                    self.publish_will(&client_id, h.will, &how);
                }
            }
            if expiry.is_some_and(|d| d <= next)
                && self
                    .with_offline(&client_id, offline_since, |_| ())
                    .is_some()
            {
                self.end_session(&client_id, SessionEnd::Expired(next));
                return;
            }
        }
    }

    /// Runs `f` on the session of `client_id` if it is still offline since
    /// `offline_since`; `None` if it was resumed, taken or ended meanwhile.
    fn with_offline<T>(
        &self,
        client_id: &str,
        offline_since: u64,
        f: impl FnOnce(&mut Session) -> T,
    ) -> Option<T> {
        let mut store = self.inner.store.borrow_mut();
        store
            .sessions
            .get_mut(client_id)
            .filter(|s| s.offline_since == Some(offline_since))
            .map(f)
    }

    /// Ends an offline session: it is removed, and a will it held goes out
    /// now, since the session's end comes before the will's delay
    /// [MQTT-3.1.3-9].
    pub(super) fn end_session(&self, client_id: &str, why: SessionEnd) {
        let removed = self.inner.store.borrow_mut().remove_session(client_id);
        let Some(session) = removed else { return };
        match why {
            SessionEnd::Expired(after) => self.note(format!(
                "session of {client_id} expired after {}s",
                after.as_secs()
            )),
            SessionEnd::Evicted => self.note(format!(
                "session limit of {} reached: evicted the session of {client_id}, the least recently disconnected",
                self.config().sessions_max
            )),
        }
        if let Some(h) = session.held_will {
            self.publish_will(client_id, h.will, ": its session ended");
        }
    }

    /// Publishes a will, with a note: `will of <id> published to <topic>`
    /// and `how` after it. The will properties that are PUBLISH properties
    /// go with it, in order (5.0 section 3.1.3.2, [MQTT-3.1.3-10]); the
    /// will delay does not.
    pub(super) fn publish_will(&self, client_id: &str, will: LastWill, how: &str) {
        self.note(format!(
            "will of {client_id} published to {}{how}",
            will.topic
        ));
        let properties: Properties = will
            .properties
            .iter()
            .filter(|p| !matches!(p, Property::WillDelayInterval(_)))
            .cloned()
            .collect::<Vec<_>>()
            .into();
        self.route(&Publication {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            properties,
            from: Some(client_id.to_string()),
        });
    }

    /// The offline sessions that wait for something (a finite expiry or a
    /// held will), with their offline numbers: what a restarted broker
    /// lingers on again.
    pub(super) fn waiting_sessions(&self) -> Vec<(String, u64)> {
        let store = self.inner.store.borrow();
        store
            .sessions
            .iter()
            .filter(|(_, s)| s.expiry.finite().is_some() || s.held_will.is_some())
            .filter_map(|(id, s)| s.offline_since.map(|n| (id.clone(), n)))
            .collect()
    }
}

impl Broker {
    /// The expiry of a message published now with these PUBLISH
    /// properties. Under the mutant `expiry-not-decremented` there is none:
    /// the message keeps the interval it was published with and never
    /// expires.
    pub(super) fn message_expiry(&self, properties: &Properties) -> Option<Expiry> {
        if self.mutant(Mutant::ExpiryNotDecremented) {
            return None;
        }
        Expiry::of(properties)
    }
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// The will delay interval of a 5.0 will, in seconds; 0 when absent.
pub(super) fn will_delay_s(will: &LastWill) -> u32 {
    will.properties.will_delay_interval().unwrap_or(0)
}
