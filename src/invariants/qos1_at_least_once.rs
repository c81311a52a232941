//! QoS 1 is delivered at least once to a subscriber whose session
//! survives, across any partition, hold or crash that heals.
//!
//! What the trace proves: a message whose PUBACK (reason below 0x80) the
//! publisher received was taken over by the broker [MQTT-4.5.0-1]; a
//! subscription whose SUBACK arrived before the publisher first sent it
//! was in place when the broker routed it; a subscriber that reconnects
//! with session present 1 every time has the same session, messages
//! queued included [MQTT-3.1.2-4] [MQTT-4.4.0-1]. If that subscriber is
//! connected at the end of the run, on a connection that began after the
//! last partition of its link and the last crash or restart of it or its
//! broker, and has been up for [`DELIVERY_GRACE`] plus four times the
//! longest latency, any hold of its link released that long before the
//! end, and the message was accepted that long before the end too, it must have received the message (any QoS, DUP or
//! not: at least once).
//!
//! Skipped, as not covered or not provable from the trace: subscribers
//! sharing a client id with another host (or with an empty or changing
//! one), subscribers acknowledging by hand (`ack: manual`: the in-flight
//! window may stay full), with a Maximum Packet Size (the broker drops
//! what does not fit), or silenced at the end; brokers with ACL rules
//! (a denied PUBLISH is acknowledged and dropped); grants the client later
//! changed (a new SUBSCRIBE or UNSUBSCRIBE of the filter), shared
//! subscriptions, No Local on the publisher's own messages, grants of QoS
//! 0; messages with a Message Expiry Interval; publisher and subscriber on
//! different brokers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::trace_view::{self as view, Carriers, Dir, Flow, Granted};
use super::{Run, Spec};
use crate::scenario::Ack;
use crate::trace::Violation;
use crate::wire::{Packet, QoS};

pub const NAME: &str = "qos1-at-least-once";
pub const SPEC: Spec = Spec {
    v311: &["MQTT-4.5.0-1", "MQTT-4.4.0-1", "MQTT-3.1.2-4"],
    v5: &["MQTT-4.5.0-1", "MQTT-4.4.0-1", "MQTT-3.1.2-23"],
};

/// Time a surviving session gets, beyond four one-way latencies, to
/// receive what it is owed once it is connected and the message accepted.
pub const DELIVERY_GRACE: Duration = Duration::from_millis(100);

pub fn check(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let flows = &run.view().flows;
    let shared = &run.view().shared;
    let grace = DELIVERY_GRACE + view::latency_max(run) * 4;
    let end = run.scenario.duration;
    let mut out = Vec::new();
    for (name, spec) in &run.scenario.clients {
        let Some(broker) = run.scenario.brokers.get(&spec.broker) else {
            continue;
        };
        if shared.contains(name.as_str())
            || spec.ack == Ack::Manual
            || spec.options.maximum_packet_size.is_some()
            || !broker.acl.is_empty()
        {
            continue;
        }
        let sub = view::subscriber(run, packets, name);
        let Some((since, connack)) = sub.last_accepted else {
            continue;
        };
        let undisturbed = view::last_loss(run, name, &spec.broker).is_none_or(|f| f < since)
            && view::held_until(run, name, &spec.broker)
                .is_none_or(|t| t.saturating_add(grace) <= end);
        if !sub.connected_at_end || sub.silenced_at_end || !undisturbed || since + grace > end {
            continue;
        }
        let owed = |f: &Flow, g: &Granted| {
            g.epoch == sub.epoch
                && g.qos >= 1
                && !g.changed
                && !view::is_shared(&g.filter)
                && !(g.no_local && f.publisher == name.as_str())
                && g.at < f.first_sent
                && crate::topic::matches(&g.filter, &f.topic)
        };
        // Only the flows some grant's filter matches can be owed: found by
        // topic (an exact filter is one lookup), in flow order.
        let mut candidates: BTreeSet<usize> = BTreeSet::new();
        for g in sub.granted.iter().filter(|g| g.epoch == sub.epoch) {
            let v = run.view();
            let topics: Vec<&BTreeMap<bytes::Bytes, Carriers>> = if g.filter.contains(['+', '#']) {
                v.topics()
                    .filter(|(t, _)| crate::topic::matches(&g.filter, t))
                    .map(|(_, m)| m)
                    .collect()
            } else {
                v.topic(&g.filter).into_iter().collect()
            };
            for by_payload in topics {
                candidates.extend(by_payload.values().flat_map(|c| c.flows.iter().copied()));
            }
        }
        // (topic, payload) -> the last time it received a PUBLISH of them.
        let mut last_receipt: BTreeMap<(&str, &bytes::Bytes), Duration> = BTreeMap::new();
        for p in packets.of(name) {
            if let (Dir::Recv, Packet::Publish(m)) = (p.dir, &p.packet) {
                let at = last_receipt
                    .entry((m.topic.as_str(), &m.payload))
                    .or_default();
                *at = (*at).max(p.at);
            }
        }
        for f in candidates.into_iter().filter_map(|i| flows.get(i)) {
            let Some((accepted_at, accepted_event)) = f.accepted else {
                continue;
            };
            if f.qos != QoS::AtLeastOnce
                || f.expires
                || accepted_at + grace > end
                || view::broker_of(run, f.publisher) != Some(spec.broker.as_str())
            {
                continue;
            }
            let Some(g) = sub.granted.iter().find(|g| owed(f, g)) else {
                continue;
            };
            let received = last_receipt
                .get(&(f.topic.as_str(), &f.payload))
                .is_some_and(|&at| at >= f.first_sent);
            if !received {
                out.push(super::violation(
                    NAME,
                    SPEC.at(run.level_of(name)),
                    format!(
                        "{name} never received {}'s QoS 1 message on {:?} accepted at {}, though its session (subscribed to {:?} with QoS {}) survived and it has been connected since {}",
                        f.publisher,
                        f.topic,
                        crate::trace::render::seconds(accepted_at),
                        g.filter,
                        g.qos,
                        crate::trace::render::seconds(since),
                    ),
                    view::render(run, [g.event, f.first_event, accepted_event, connack]),
                ));
            }
        }
    }
    out
}
