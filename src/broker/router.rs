//! Routing: an application message in, one copy per matching session out,
//! and the retained message store.

use bytes::Bytes;
use tokio::time::Instant;

use super::Mutant;
use super::session::{Message, Retained, Subscription};
use super::{Broker, RETAINED_MAX, acl};
use crate::topic;
use crate::wire::{Properties, Property, QoS};

/// An application message as published: by a client or as a will.
#[derive(Debug, Clone)]
pub struct Publication {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// 5.0 properties forwarded to 5.0 subscribers (no topic alias: that
    /// belongs to one connection; routing adds each subscriber's
    /// subscription identifiers).
    pub properties: Properties,
}

/// What [`Broker::route`] did with a message: the sessions whose
/// subscriptions matched it, and how many of those had a full queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed {
    pub matched: usize,
    pub full: usize,
}

impl Broker {
    /// Stores or clears the retained message if asked, then queues one copy
    /// for every session with a matching subscription, at min(publish QoS,
    /// highest granted QoS among its matching filters) [MQTT-3.3.5-1].
    /// Offline sessions get QoS 1 and 2 messages only, and only if
    /// persistent. Live forwarding sends RETAIN=0 [MQTT-3.3.1-9].
    /// Returns how many sessions matched and how many of them had no room.
    pub(super) fn route(&self, p: &Publication) -> Routed {
        if p.retain {
            self.retain(p);
        }
        let mut matched = 0;
        let mut woken = Vec::new();
        let mut dropped = Vec::new();
        {
            let live = self.inner.live.borrow();
            let mut store = self.inner.store.borrow_mut();
            for (client_id, session) in store.sessions.iter_mut() {
                let matching: Vec<Subscription> = session
                    .subscriptions
                    .iter()
                    .filter(|(f, _)| {
                        topic::matches(f, &p.topic)
                            || (self.mutant(Mutant::HashMatchesSys)
                                && f.starts_with(['#', '+'])
                                && topic::matches(f, p.topic.replacen('$', "", 1).as_str()))
                    })
                    .map(|(_, &sub)| sub)
                    .collect();
                let Some(granted) = matching.iter().map(|s| s.granted).max() else {
                    continue;
                };
                // A wildcard subscription must not deliver what the acl
                // would have refused to subscribe to.
                let acl = &self.config().acl;
                if !acl::allows(acl, session.user.as_deref(), acl::Action::Read, &p.topic) {
                    continue;
                }
                matched += 1;
                let mut qos = p.qos.min(granted);
                if self.mutant(Mutant::NoQosDowngrade) {
                    qos = p.qos;
                }
                let conn = live.by_client.get(client_id);
                if conn.is_none()
                    && (qos == QoS::AtMostOnce || !session.expiry.outlives_connection())
                {
                    continue;
                }
                let message = Message {
                    topic: p.topic.clone(),
                    payload: p.payload.clone(),
                    qos,
                    retain: p.retain && self.mutant(Mutant::LiveKeepsRetain),
                    properties: with_subscription_ids(&p.properties, matching.iter().map(|s| s.id)),
                    expiry: self.message_expiry(&p.properties),
                };
                if session.enqueue(message).is_err() {
                    dropped.push(client_id.clone());
                } else if let Some(c) = conn {
                    woken.push(c.clone());
                }
            }
        }
        for c in woken {
            c.wake.notify_one();
        }
        let full = dropped.len();
        for id in dropped {
            self.note(format!(
                "queue of {id} full: dropped message to {}",
                p.topic
            ));
        }
        Routed { matched, full }
    }

    /// [MQTT-3.3.1-5], [MQTT-3.3.1-10], [MQTT-3.3.1-11].
    fn retain(&self, p: &Publication) {
        let mut store = self.inner.store.borrow_mut();
        if p.payload.is_empty() {
            if !self.mutant(Mutant::RetainedNeverCleared) {
                store.retained.remove(&p.topic);
            }
            return;
        }
        if store.retained.len() >= RETAINED_MAX {
            // Expired retained messages make room first.
            let now = Instant::now();
            store
                .retained
                .retain(|_, r| r.expiry.is_none_or(|e| !e.passed(now)));
        }
        if !store.retained.contains_key(&p.topic) && store.retained.len() >= RETAINED_MAX {
            drop(store);
            self.note(format!(
                "retained store full: message to {} not retained",
                p.topic
            ));
            return;
        }
        store.retained.insert(
            p.topic.clone(),
            Retained {
                payload: p.payload.clone(),
                qos: p.qos,
                properties: p.properties.clone(),
                expiry: self.message_expiry(&p.properties),
            },
        );
    }

    /// The retained messages a new subscription to `filter` receives, with
    /// RETAIN=1, at min(message QoS, granted QoS) [MQTT-3.3.1-6],
    /// [MQTT-3.3.1-8].
    /// `sub_id` is the subscription's 5.0 identifier, sent with each. A
    /// retained message past its Message Expiry Interval is not sent.
    pub(super) fn retained_for(
        &self,
        filter: &str,
        granted: QoS,
        sub_id: Option<u32>,
    ) -> Vec<Message> {
        let store = self.inner.store.borrow();
        store
            .retained
            .iter()
            .filter(|(t, r)| {
                topic::matches(filter, t) && r.expiry.is_none_or(|e| !e.passed(Instant::now()))
            })
            .map(|(t, r)| Message {
                topic: t.clone(),
                payload: r.payload.clone(),
                qos: r.qos.min(granted),
                retain: true,
                properties: with_subscription_ids(&r.properties, [sub_id]),
                expiry: r.expiry,
            })
            .collect()
    }
}

/// A message's properties for one session: those it was published with,
/// then the identifiers of the session's matching subscriptions that have
/// one, in filter order. One message goes out for all of them, so it
/// carries every identifier [MQTT-3.3.4-3], [MQTT-3.3.4-4]. A 3.1.1
/// session's subscriptions have none, so its messages stay as they were.
fn with_subscription_ids(
    published: &Properties,
    ids: impl IntoIterator<Item = Option<u32>>,
) -> Properties {
    let mut properties = published.clone();
    for id in ids.into_iter().flatten() {
        properties.push(Property::SubscriptionIdentifier(id));
    }
    properties
}
