//! A message published once goes to one member of each shared
//! subscription, not to all of them (5.0 section 4.8.2: the message is
//! sent to only one of the sessions of the group; [MQTT-4.8.2-5] and
//! [MQTT-4.8.2-6] forbid handing it to a second member once the first one
//! took or refused it).
//!
//! Judged per message that no other flow or will carries (same topic and
//! payload): of the 5.0 clients that received it with RETAIN 0, those
//! whose only subscription matching its topic is one shared subscription
//! (`$share/group/filter`, the same one) are its members; at most one may
//! receive it. A member that also holds a non-shared matching
//! subscription, or another shared one, may get it through that one and
//! is not counted. A QoS 1 message the publisher sent N times (resends
//! after a lost PUBACK are new publications) may reach N members. A
//! further member is allowed when the first one's
//! connection ended before the second got the message (plus two
//! latencies and [`super::qos1_at_least_once::DELIVERY_GRACE`]) or a
//! fault could lose its traffic: 5.0 lets the broker send a QoS 1 message
//! whose delivery broke to another member.
//!
//! Skipped: clients sharing a client id with another host (or an empty
//! or changing one), clients whose raw sends are not whole packets (their
//! subscriptions are unknown), receipts with RETAIN 1 (retained copies are
//! another rule), messages whose content repeats.

use std::collections::BTreeMap;
use std::time::Duration;

use super::delivery_matches::topic_filter;
use super::qos1_at_least_once::DELIVERY_GRACE;
use super::trace_view::{self as view, Dir, Packets};
use super::{Run, Spec};
use crate::trace::{EventKind, Violation};
use crate::wire::{Packet, QoS};

pub const NAME: &str = "shared-one-member";
/// 5.0 only: the rule does not exist in 3.1.1.
pub const SPEC: Spec = Spec {
    v311: &[],
    v5: &["MQTT-4.8.2-5", "MQTT-4.8.2-6"],
};

pub fn check(run: &Run) -> Vec<Violation> {
    let v = run.view();
    let unique = view::unique_flows(&v.flows, &v.wills);
    let slack = view::latency_max(run) * 2 + DELIVERY_GRACE;
    // (topic, payload) -> shared filter -> its members' first receipts
    // (client, time, event), in trace order.
    type Receipts<'a> = Vec<(&'a str, Duration, usize)>;
    let mut got: BTreeMap<(&str, &bytes::Bytes), BTreeMap<String, Receipts>> = BTreeMap::new();
    for p in &v.packets.list {
        let (Dir::Recv, Packet::Publish(m)) = (p.dir, &p.packet) else {
            continue;
        };
        if m.retain
            || v.shared.contains(p.client)
            || v.packets.opaque.contains(p.client)
            || !view::is_v5(run, p.client)
        {
            continue;
        }
        let Some((key, flow)) = unique.get_key_value(&(m.topic.as_str(), &m.payload)) else {
            continue;
        };
        if p.at < flow.first_sent {
            continue;
        }
        let Some(group) = only_shared_filter(&v.packets, p.client, &m.topic) else {
            continue;
        };
        let members = got.entry(*key).or_default().entry(group).or_default();
        if !members.iter().any(|(c, _, _)| *c == p.client) {
            members.push((p.client, p.at, p.event));
        }
    }
    let mut out = Vec::new();
    for ((topic, payload), groups) in got {
        // A QoS 1 PUBLISH the publisher sent again (its PUBACK lost) is a
        // new publication to the broker, which may hand each copy to
        // another member; a QoS 2 one is the same message (the broker
        // keeps its packet id until PUBREL).
        let copies = unique
            .get(&(topic, payload))
            .filter(|f| f.qos == QoS::AtLeastOnce)
            .map_or(1, |f| f.sends.max(1));
        for (group, members) in groups {
            let Some(&(first, first_at, first_event)) = members.first() else {
                continue;
            };
            let Some(&(second, _, second_event)) = members
                .iter()
                .skip(copies)
                .find(|(_, at, _)| !broke_off(run, first, first_at, *at + slack))
            else {
                continue;
            };
            out.push(super::violation(
                NAME,
                SPEC.v5,
                format!(
                    "a message on {topic:?} went to {first} and {second}, two members of {group:?}"
                ),
                view::render(run, [first_event, second_event]),
            ));
        }
    }
    out
}

/// The one shared subscription of `client` matching `topic`, when it has
/// no other matching subscription.
fn only_shared_filter(packets: &Packets, client: &str, topic: &str) -> Option<String> {
    let mut matching = view::subscribed_filters(packets, client)
        .filter(|f| crate::topic::matches(topic_filter(f), topic));
    let first = matching.next()?;
    (view::is_shared(first) && matching.all(|f| f == first)).then(|| first.to_string())
}

/// Whether `client`'s connection ended after `from` and by `until`, or a
/// fault could lose its traffic: the broker may then have handed the
/// message to another member.
fn broke_off(run: &Run, client: &str, from: Duration, until: Duration) -> bool {
    let broker = view::broker_of(run, client).unwrap_or_default();
    run.events.iter().any(|e| match &e.kind {
        EventKind::Fault { fault } => view::loses(fault, client, broker),
        EventKind::Closed { client: c, .. } | EventKind::Connected { client: c } => {
            c == client && e.at >= from && e.at <= until
        }
        _ => false,
    })
}
