//! Ordering: a publisher's messages reach each subscriber in the order the
//! broker received them, per topic and QoS ([MQTT-4.6.0-6] in 3.1.1,
//! [MQTT-4.6.0-5] in 5.0; every topic is ordered by default).
//!
//! What the trace proves about the order the broker received two messages
//! `a` and `b` of one publisher in: `a` first when the broker accepted `a`
//! (PUBACK or PUBREC) before `b` was first sent, or when both were first
//! sent on the same connection, `a` before `b`, and `a` was never resent
//! (one TCP connection delivers in order; a resend could reach the broker
//! after `b`). A subscriber that received both must have received `a`
//! first; duplicates (QoS 1 redeliveries) are judged by their first
//! receipt.
//!
//! A receipt is tied to a publication by topic and payload; receipts whose
//! topic and payload were published more than once on the broker, or by a
//! will, are not judged. Skipped: retained copies (RETAIN 1), subscribers
//! whose topic matches more than one of their filters (each subscription
//! may deliver its own copy, in its own order) or a shared subscription,
//! clients sharing a client id with another host, and brokers where a
//! client sent raw bytes that are not whole packets.

use std::collections::BTreeMap;

use super::trace_view::{self as view, Dir, Flow};
use super::{Run, Spec};
use crate::trace::Violation;
use crate::wire::Packet;

pub const NAME: &str = "ordering";
pub const SPEC: Spec = Spec {
    v311: &["MQTT-4.6.0-6"],
    v5: &["MQTT-4.6.0-5", "MQTT-4.6.0-6"],
};

/// Whether the broker certainly received `a` before `b`: accepted before
/// `b` was sent, or one stream and no resend of `a`.
fn before(a: &Flow, b: &Flow) -> bool {
    let accepted_first = a.accepted.is_some_and(|(_, e)| e < b.first_event);
    let same_stream = a.connection == b.connection && a.sends == 1 && a.first_event < b.first_event;
    accepted_first || same_stream
}

/// One subscriber's first receipts (flow index -> event) read for order:
/// for each flow `a`, the first flow `b` of the same publisher, topic and
/// QoS that the broker certainly received after `a` but the subscriber got
/// first, as `(a, got_a, b, got_b)`. Shared with the bridge's ordering.
pub(super) fn overtaken(
    first: &BTreeMap<usize, usize>,
    flows: &[Flow],
) -> Vec<(usize, usize, usize, usize)> {
    let mut out = Vec::new();
    for (&a, &got_a) in first {
        let fa = &flows[a];
        let later = first.iter().find(|&(&b, &got_b)| {
            let fb = &flows[b];
            fb.publisher == fa.publisher
                && fb.topic == fa.topic
                && fb.qos == fa.qos
                && got_b < got_a
                && before(fa, fb)
        });
        if let Some((&b, &got_b)) = later {
            out.push((a, got_a, b, got_b));
        }
    }
    out
}

pub fn check(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let flows = &run.view().flows;
    let wills = &run.view().wills;
    let mut out = Vec::new();
    for (name, broker) in view::judged_clients(run) {
        let on_broker = |c: &str| view::broker_of(run, c) == Some(broker);
        // Flow index -> the event of its first receipt.
        let mut first: BTreeMap<usize, usize> = BTreeMap::new();
        for p in packets.of(name) {
            let (Dir::Recv, Packet::Publish(m)) = (p.dir, &p.packet) else {
                continue;
            };
            if m.retain || m.topic.is_empty() {
                continue;
            }
            let filters = view::filters_matching(packets, name, &m.topic);
            if filters.len() != 1 || filters.iter().any(|f| view::is_shared(f)) {
                continue;
            }
            let carriers = run.view().carrying(&m.topic, &m.payload);
            let by_will = carriers.wills.iter().any(|&w| on_broker(wills[w].client));
            let mut candidates = carriers
                .flows
                .iter()
                .copied()
                .filter(|&i| on_broker(flows[i].publisher));
            if let (Some(i), None, false) = (candidates.next(), candidates.next(), by_will) {
                first.entry(i).or_insert(p.event);
            }
        }
        for (a, got_a, b, got_b) in overtaken(&first, flows) {
            let (fa, fb) = (&flows[a], &flows[b]);
            out.push(super::violation(
                NAME,
                SPEC.at(run.level_of(name)),
                format!(
                    "{name} received {}'s QoS {} messages on {:?} out of order: {} before {}, which the broker received first",
                    fa.publisher,
                    fa.qos,
                    fa.topic,
                    crate::packet_json::payload(&fb.payload),
                    crate::packet_json::payload(&fa.payload),
                ),
                view::render(run, [fa.first_event, fb.first_event, got_b, got_a]),
            ));
        }
    }
    out
}
