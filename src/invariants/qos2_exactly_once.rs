//! QoS 2 is delivered exactly once: no subscriber receives a QoS 2
//! message more often than it was published.
//!
//! What the trace proves: a subscriber receives a new QoS 2 message when a
//! PUBLISH at QoS 2 arrives with a packet id it does not hold; it holds the
//! id from that PUBLISH until the PUBREL that releases it, across
//! reconnections with session present 1 (a resend with the id held is the
//! same message, [MQTT-4.3.3-10]), and a new session holds none. A message
//! is published once per publisher flow (`trace_view::flows`: a resend of
//! a packet id the publisher has not released is the same flow, and the
//! broker must not deliver it twice) and once per CONNECT whose will it
//! is. So the new QoS 2 receipts of a topic and payload at a subscriber
//! are at most those publications times the subscriber's filters that
//! match the topic (overlapping subscriptions may each deliver a copy).
//! Retained copies (RETAIN 1) are new deliveries by design and not
//! counted.
//!
//! Skipped: clients sharing a client id with another host (or an empty or
//! changing one); brokers where a client sent raw bytes that are not whole
//! packets (its publications are unknown).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::trace_view::{self as view, Dir, Packets};
use super::{Run, Spec};
use crate::trace::Violation;
use crate::wire::{Packet, QoS};

pub const NAME: &str = "qos2-exactly-once";
/// 5.0 numbers the receiver's duty; 3.1.1 states it in one statement,
/// MQTT-4.3.3-2, whose number means another duty in 5.0, so until
/// violations carry ids per protocol the 5.0 ids are cited for both.
pub const SPEC: Spec = Spec {
    v311: &["MQTT-4.3.3-2"],
    v5: &["MQTT-4.3.3-10", "MQTT-4.3.3-12"],
};

/// A client's new QoS 2 receipts, (topic, payload) -> their events: a
/// held packet id is a resend and a retained copy no new message; a new
/// session forgets the held ids, a PUBREL releases one. Shared with the
/// bridge's exactly-once.
pub(super) fn new_receipts<'s>(
    packets: &'s Packets<'_>,
    client: &str,
) -> BTreeMap<(&'s str, &'s Bytes), Vec<usize>> {
    let mut received: BTreeMap<(&str, &Bytes), Vec<usize>> = BTreeMap::new();
    let mut held: BTreeSet<u16> = BTreeSet::new();
    for p in packets.of(client) {
        match (p.dir, &p.packet) {
            (Dir::Recv, packet) if view::new_session(packet) => held.clear(),
            (Dir::Recv, Packet::Publish(m)) if m.qos == QoS::ExactlyOnce => {
                let new = held.insert(m.packet_id);
                if !new || m.retain {
                    continue;
                }
                received
                    .entry((m.topic.as_str(), &m.payload))
                    .or_default()
                    .push(p.event);
            }
            (Dir::Recv, Packet::PubRel(a)) => {
                held.remove(&a.packet_id);
            }
            _ => {}
        }
    }
    received
}

pub fn check(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let flows = &run.view().flows;
    let wills = &run.view().wills;
    let mut out = Vec::new();
    for (name, broker) in view::judged_clients(run) {
        let on_broker = |c: &str| view::broker_of(run, c) == Some(broker);
        let received = new_receipts(packets, name);
        for ((topic, payload), events) in received {
            let carriers = run.view().carrying(topic, payload);
            let published = carriers
                .flows
                .iter()
                .map(|&i| &flows[i])
                .filter(|f| f.qos == QoS::ExactlyOnce && on_broker(f.publisher))
                .count()
                + carriers
                    .wills
                    .iter()
                    .map(|&i| &wills[i])
                    .filter(|w| w.qos == QoS::ExactlyOnce && on_broker(w.client))
                    .count();
            let copies = view::filters_matching(packets, name, topic).len().max(1);
            // Published at a lower QoS only: the broker raised the QoS,
            // which is what to say (not "published 0 times").
            let lower = flows
                .iter()
                .filter(|f| f.qos != QoS::ExactlyOnce && on_broker(f.publisher))
                .filter(|f| f.topic == topic && f.payload == payload)
                .map(|f| f.qos.level())
                .chain(
                    wills
                        .iter()
                        .filter(|w| w.qos != QoS::ExactlyOnce && on_broker(w.client))
                        .filter(|w| w.topic == topic && w.payload == payload)
                        .map(|w| w.qos.level()),
                )
                .max();
            if published == 0
                && let Some(q) = lower
            {
                out.push(super::violation(
                    NAME,
                    SPEC.at(run.level_of(name)),
                    format!(
                        "{name} received the message {topic:?} {} at QoS 2 {} times as a new message, but it was published at QoS {q} at most: the broker raised its QoS",
                        crate::packet_json::payload(payload),
                        events.len(),
                    ),
                    view::render(run, events),
                ));
                continue;
            }
            if events.len() > published * copies {
                out.push(super::violation(
                    NAME,
                    SPEC.at(run.level_of(name)),
                    format!(
                        "{name} received the QoS 2 message {topic:?} {} {} times as a new message; it was published {published} times{}",
                        crate::packet_json::payload(payload),
                        events.len(),
                        if copies > 1 {
                            format!(" and matches {copies} of its filters")
                        } else {
                            String::new()
                        }
                    ),
                    view::render(run, events),
                ));
            }
        }
    }
    out
}
