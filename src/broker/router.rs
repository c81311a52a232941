//! Routing: an application message in, one copy per matching session out,
//! and the retained message store.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;

use super::Mutant;
use super::index::SHARE_PREFIX;
use super::session::{Message, QueueFull, Retained, Session, Store, Subscription};
use super::takeover::Live;
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
    /// The client id of the publisher (of the will's owner for a will),
    /// for `no_local` [MQTT-3.8.3-3].
    pub from: Option<String>,
}

/// What [`Broker::route`] did with a message: the sessions that got (or
/// would have got) a copy, and how many of those had a full queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed {
    pub matched: usize,
    pub full: usize,
}

impl Broker {
    /// Stores or clears the retained message if asked, then queues one copy
    /// for every session with a matching subscription, at min(publish QoS,
    /// highest granted QoS among its matching filters) [MQTT-3.3.5-1], and
    /// one copy for one member of each matching shared subscription (see
    /// [`Broker::share_members`]). Sessions come in client id order, the
    /// store's. The subscriptions are found in the routing index, so the
    /// cost follows the matching subscriptions, not all of them.
    /// Offline sessions get QoS 1 and 2 messages only, and only if
    /// persistent. Live forwarding sends RETAIN=0 (3.1.1 [MQTT-3.3.1-9], 5.0
    /// [MQTT-3.3.1-12]) unless a matching subscription asked for retain
    /// as published [MQTT-3.3.1-13]. `no_local` subscriptions skip their
    /// own client's messages [MQTT-3.8.3-3].
    /// Public for the router benchmark (benches/router.rs), which routes
    /// in-process without connections.
    /// Returns how many sessions matched and how many of them had no room.
    pub fn route(&self, p: &Publication) -> Routed {
        if p.retain {
            self.retain(p);
        }
        let mut matched = 0;
        let mut full = 0;
        let mut woken = Vec::new();
        let mut notes = Vec::new();
        {
            let live = self.inner.live.borrow();
            let mut store = self.inner.store.borrow_mut();
            let store = &mut *store;
            let targets = self.targets(store, &live, p, &mut notes);
            let acl = &self.config().acl;
            let bytes_max = self.config().queued_bytes_max;
            // One topic for every session's copy.
            let topic: Arc<str> = Arc::from(p.topic.as_str());
            for (client_id, (mut filters, shared)) in targets {
                // The index records the subscriptions of stored sessions
                // only (`Store` keeps the two in step): every client id it
                // names has a session, holding each filter it was found by.
                debug_assert!(
                    store.sessions.get(&client_id).is_some_and(|s| {
                        filters.iter().all(|f| s.subscriptions.contains_key(f))
                    }),
                    "the routing index names {client_id} for {filters:?}, which its session lacks"
                );
                let Some(session) = store.sessions.get_mut(&client_id) else {
                    continue;
                };
                // A wildcard subscription must not deliver what the acl
                // would have refused to subscribe to.
                if !acl::allows(acl, session.user.as_deref(), acl::Action::Read, &p.topic) {
                    continue;
                }
                let conn = live.by_client.get(&client_id);
                filters.sort();
                let own = p.from.as_deref() == Some(client_id.as_str());
                let copies = self.copies(session, &filters, &shared, own);
                if !copies.is_empty() {
                    matched += 1;
                }
                let mut no_room = false;
                for subs in copies {
                    let Some(message) = self.copy_for(p, &topic, &subs, conn.is_some(), session)
                    else {
                        continue;
                    };
                    match session.enqueue(message, bytes_max) {
                        Ok(()) => woken.extend(conn.cloned()),
                        Err(QueueFull::Messages) => {
                            no_room = true;
                            notes.push(format!(
                                "queue of {client_id} full: dropped message to {}",
                                p.topic
                            ));
                        }
                        Err(QueueFull::Bytes) => {
                            no_room = true;
                            notes.push(format!(
                                "queue of {client_id} over {bytes_max} bytes: dropped message to {}",
                                p.topic
                            ));
                        }
                    }
                }
                full += usize::from(no_room);
            }
        }
        for c in woken {
            c.wake.notify_one();
        }
        for n in notes {
            self.note(n);
        }
        Routed { matched, full }
    }

    /// The sessions a message goes to, by client id, with the ordinary
    /// filters and the shared subscription keys (one member chosen per
    /// group, see [`Broker::share_members`]) that matched `p`'s topic in
    /// the routing index. A shared subscription no member can take gets a
    /// note.
    fn targets(
        &self,
        store: &mut Store,
        live: &Live,
        p: &Publication,
        notes: &mut Vec<String>,
    ) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
        let dollar_rule = !self.mutant(Mutant::HashMatchesSys);
        // Client id -> (ordinary filters, shared subscription keys).
        let mut targets: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        let mut shares: BTreeSet<(String, String)> = BTreeSet::new();
        for hit in store.index.lookup(&p.topic, dollar_rule) {
            for client_id in hit.plain {
                let entry = targets.entry(client_id.clone()).or_default();
                entry.0.push(hit.filter.clone());
            }
            for group in hit.shared.keys() {
                shares.insert((group.clone(), hit.filter.clone()));
            }
        }
        for (group, filter) in shares {
            let key = format!("{SHARE_PREFIX}{group}/{filter}");
            let members = self.share_members(store, live, p, &group, &filter, &key);
            if members.is_empty() {
                notes.push(format!(
                    "message to {} dropped for {key}: no member connected or keeping QoS {} messages",
                    p.topic,
                    p.qos.level()
                ));
            }
            for m in members {
                targets.entry(m).or_default().1.push(key.clone());
            }
        }
        targets
    }

    /// The subscriptions of one session that each get a copy: one copy
    /// for all its matching ordinary `filters` (sorted), less a `no_local`
    /// one when the message is its `own`, and one per shared subscription
    /// key it was chosen for.
    fn copies(
        &self,
        session: &Session,
        filters: &[String],
        shared: &[String],
        own: bool,
    ) -> Vec<Vec<Subscription>> {
        let mut copies = Vec::new();
        let matching: Vec<Subscription> = filters
            .iter()
            .filter_map(|f| session.subscriptions.get(f).copied())
            .filter(|s| !(own && s.no_local && !self.mutant(Mutant::NoLocalIgnored)))
            .collect();
        if !matching.is_empty() {
            copies.push(matching);
        }
        for key in shared {
            copies.extend(session.subscriptions.get(key).map(|s| vec![*s]));
        }
        copies
    }

    /// The copy of `p` that one session gets for its matching
    /// subscriptions `subs` (one message for all of them), or `None` when
    /// an offline session would not keep it.
    fn copy_for(
        &self,
        p: &Publication,
        topic: &Arc<str>,
        subs: &[Subscription],
        connected: bool,
        session: &Session,
    ) -> Option<Message> {
        let granted = subs.iter().map(|s| s.granted).max()?;
        let mut qos = p.qos.min(granted);
        if self.mutant(Mutant::NoQosDowngrade) {
            qos = p.qos;
        }
        if !connected && !keeps(session, qos) {
            return None;
        }
        let as_published = subs.iter().any(|s| s.retain_as_published)
            && !self.mutant(Mutant::RetainAsPublishedIgnored);
        Some(Message {
            topic: topic.clone(),
            payload: p.payload.clone(),
            qos,
            retain: p.retain && (as_published || self.mutant(Mutant::LiveKeepsRetain)),
            properties: with_subscription_ids(&p.properties, subs.iter().map(|s| s.id)),
            expiry: self.message_expiry(&p.properties),
        })
    }

    /// The member of shared subscription `key` that gets `p`: one member
    /// by round robin over the members in client id order, starting after
    /// the one that got the group's last message. A connected member comes
    /// first; when none is connected, an offline one whose session keeps
    /// the message (persistent, and QoS 1 or 2 for it) gets it, to be
    /// delivered when it reconnects [MQTT-4.8.2-4]. A member the acl does
    /// not let read the topic is skipped. Empty when no member can take it:
    /// the message is dropped for the group, with a note. The
    /// `SharedToEveryMember` mutant returns every member that could.
    fn share_members(
        &self,
        store: &mut Store,
        live: &Live,
        p: &Publication,
        group: &str,
        filter: &str,
        key: &str,
    ) -> Vec<String> {
        let Some(members) = store.index.members(filter, group) else {
            return Vec::new();
        };
        // Every member the index lists has this shared subscription in its
        // session (`Store` keeps the two in step).
        debug_assert!(members.iter().all(|id| {
            store
                .sessions
                .get(id)
                .and_then(|s| s.subscriptions.get(key))
                .is_some_and(|sub| sub.shared)
        }));
        let place = (group.to_string(), filter.to_string());
        let last = store.shared_last.get(&place);
        let after: Vec<&String> = match last {
            Some(l) => members
                .range::<String, _>((Bound::Excluded(l), Bound::Unbounded))
                .chain(members.range::<String, _>(..=l))
                .collect(),
            None => members.iter().collect(),
        };
        let acl = &self.config().acl;
        let can = |id: &String, connected: bool| {
            let Some(s) = store.sessions.get(id) else {
                return false;
            };
            let Some(sub) = s.subscriptions.get(key) else {
                return false;
            };
            let qos = p.qos.min(sub.granted);
            acl::allows(acl, s.user.as_deref(), acl::Action::Read, &p.topic)
                && (connected || keeps(s, qos))
        };
        let connected: Vec<&String> = after
            .iter()
            .copied()
            .filter(|id| live.by_client.contains_key(*id) && can(id, true))
            .collect();
        let chosen: Vec<String> = if self.mutant(Mutant::SharedToEveryMember) {
            after
                .iter()
                .filter(|id| can(id, live.by_client.contains_key(**id)))
                .map(|id| id.to_string())
                .collect()
        } else if let Some(first) = connected.first() {
            vec![first.to_string()]
        } else {
            after
                .iter()
                .find(|id| can(id, false))
                .map(|id| vec![id.to_string()])
                .unwrap_or_default()
        };
        if let Some(c) = chosen.last() {
            store.shared_last.insert(place, c.clone());
        }
        chosen
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
        // A new topic was admitted only below the limit just checked.
        debug_assert!(store.retained.len() <= RETAINED_MAX);
    }

    /// The retained messages a new subscription to `filter` receives, with
    /// RETAIN=1, at min(message QoS, granted QoS) [MQTT-3.3.1-6],
    /// [MQTT-3.3.1-8].
    /// `sub_id` is the subscription's 5.0 identifier, sent with each. A
    /// retained message past its Message Expiry Interval is not sent, nor
    /// one on a topic the acl does not let `user` read: a wildcard must
    /// not read retained what it may not read live.
    ///
    /// Each retained message examined takes one from `scan_left`; `None`
    /// when it runs out before the lookup ends (nothing is returned, and
    /// `scan_left` is 0). A filter without wildcards names one topic and
    /// is looked up; a wildcard filter examines only the topics that start
    /// with its levels before the first wildcard (the store is sorted by
    /// topic), all of them when it starts with one.
    pub(super) fn retained_for(
        &self,
        filter: &str,
        granted: QoS,
        sub_id: Option<u32>,
        user: Option<&str>,
        scan_left: &mut usize,
    ) -> Option<Vec<Message>> {
        let store = self.inner.store.borrow();
        let acl = &self.config().acl;
        let exact;
        let prefix = literal_prefix(filter);
        let candidates: Box<dyn Iterator<Item = (&String, &Retained)>> =
            if filter.contains(['+', '#']) {
                Box::new(
                    store
                        .retained
                        .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                        .take_while(move |(t, _)| t.starts_with(prefix)),
                )
            } else {
                exact = store.retained.get_key_value(filter);
                Box::new(exact.into_iter())
            };
        let now = Instant::now();
        let mut found = Vec::new();
        for (t, r) in candidates {
            *scan_left = scan_left.checked_sub(1)?;
            if topic::matches(filter, t)
                && r.expiry.is_none_or(|e| !e.passed(now))
                && acl::allows(acl, user, acl::Action::Read, t)
            {
                found.push(Message {
                    topic: Arc::from(t.as_str()),
                    payload: r.payload.clone(),
                    qos: r.qos.min(granted),
                    retain: true,
                    properties: with_subscription_ids(&r.properties, [sub_id]),
                    expiry: r.expiry,
                });
            }
        }
        Some(found)
    }
}

/// The part of a filter before its first wildcard level, without the
/// separator before it: every topic the filter matches starts with it
/// (`a/b/#` gives `a/b`, which also covers the parent `a/b` that `#`
/// matches [MQTT-4.7.1-2]; `+/x` gives the empty string).
fn literal_prefix(filter: &str) -> &str {
    let end = filter
        .split('/')
        .take_while(|level| !level.contains(['+', '#']))
        .map(|level| level.len() + 1)
        .sum::<usize>();
    filter.get(..end.saturating_sub(1)).unwrap_or_default()
}

/// Whether an offline session keeps a message at `qos`: QoS 1 and 2 only,
/// and only if the session outlives its connection.
fn keeps(session: &Session, qos: QoS) -> bool {
    qos != QoS::AtMostOnce && session.expiry.outlives_connection()
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
