//! Every message delivered to a client matches a subscription it holds,
//! at no more than the QoS granted: the broker forwards a message to the
//! subscriptions that match its topic, at most at the highest QoS granted
//! to those ([MQTT-3.3.5-1] in 3.1.1, [MQTT-3.8.4-8] in 5.0); a `#` or `+`
//! at the start of a filter does not match a topic starting with `$`
//! [MQTT-4.7.2-1].
//!
//! Generous on purpose: a filter counts from the SUBSCRIBE the client sent
//! (the broker may act on it before the SUBACK arrives) until a new
//! session, UNSUBSCRIBE notwithstanding (deliveries started before it may
//! complete), at the highest QoS any SUBACK granted it (2 until the first
//! SUBACK). A shared subscription (`$share/group/filter`) matches as its
//! filter. 5.0 No Local: a client gets none of its own messages through a
//! subscription with No Local [MQTT-3.8.3-3]; a receipt of a message the
//! client published (one no other flow or will carries) breaks it when
//! every SUBSCRIBE of every filter matching it, in the session, had No
//! Local. Skipped: clients sharing a client id with another host (or an
//! empty or changing one), and receipts with a topic alias the connection
//! never set.

use std::collections::BTreeMap;

use super::trace_view::{self as view, Dir};
use super::{Run, Spec};
use crate::trace::Violation;
use crate::wire::Packet;

pub const NAME: &str = "delivery-matches-subscription";
pub const SPEC: Spec = Spec {
    v311: &["MQTT-4.7.2-1", "MQTT-3.3.5-1"],
    v5: &["MQTT-4.7.2-1", "MQTT-3.8.4-8", "MQTT-3.8.3-3"],
};

/// The filter a subscription matches topics with.
pub(super) fn topic_filter(filter: &str) -> &str {
    match filter.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or(rest, |(_, f)| f),
        None => filter,
    }
}

pub fn check(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let shared = &run.view().shared;
    let unique = view::unique_flows(&run.view().flows, &run.view().wills);
    let mut out = Vec::new();
    for name in run.scenario.clients.keys() {
        if shared.contains(name.as_str()) {
            continue;
        }
        // Filter -> the highest QoS granted (None before any SUBACK).
        let mut held: BTreeMap<String, Option<u8>> = BTreeMap::new();
        let mut asked: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        // Filter -> whether it may bring the client's own messages: some
        // SUBSCRIBE of it had No Local 0, or it is shared (No Local is
        // refused there).
        let mut own_ok: BTreeMap<String, bool> = BTreeMap::new();
        for p in packets.of(name) {
            match (p.dir, &p.packet) {
                (Dir::Recv, packet) if view::new_session(packet) => {
                    held.clear();
                    own_ok.clear();
                }
                (Dir::Send, Packet::Subscribe(s)) => {
                    for f in &s.filters {
                        held.entry(f.filter.clone()).or_insert(None);
                        *own_ok.entry(f.filter.clone()).or_default() |=
                            !f.no_local || view::is_shared(&f.filter);
                    }
                    asked.insert(
                        s.packet_id,
                        s.filters.iter().map(|f| f.filter.clone()).collect(),
                    );
                }
                (Dir::Recv, Packet::SubAck(a)) => {
                    let filters = asked.remove(&a.packet_id).unwrap_or_default();
                    for (f, &code) in filters.iter().zip(&a.codes) {
                        if code <= 2
                            && let Some(q) = held.get_mut(f)
                        {
                            *q = Some(q.map_or(code, |g| g.max(code)));
                        }
                    }
                }
                (Dir::Recv, Packet::Publish(m)) if !m.topic.is_empty() => {
                    let granted = held
                        .iter()
                        .filter(|(f, _)| crate::topic::matches(topic_filter(f), &m.topic))
                        .map(|(_, q)| q.unwrap_or(2))
                        .max();
                    let text = match granted {
                        None => format!(
                            "{name} received a message on {:?}, which none of its subscriptions matches",
                            m.topic
                        ),
                        Some(q) if m.qos.level() > q => format!(
                            "{name} received a message on {:?} at QoS {}, above the QoS {q} its subscriptions were granted",
                            m.topic, m.qos
                        ),
                        Some(_) if own_message(&unique, name, m, p.at) => {
                            let own_ok = own_ok
                                .iter()
                                .filter(|(f, _)| crate::topic::matches(topic_filter(f), &m.topic))
                                .any(|(_, ok)| *ok);
                            if own_ok {
                                continue;
                            }
                            format!(
                                "{name} received its own message on {:?}, though each of its subscriptions matching it has No Local",
                                m.topic
                            )
                        }
                        Some(_) => continue,
                    };
                    out.push(super::violation(
                        NAME,
                        SPEC.at(run.level_of(name)),
                        text,
                        view::render(run, [p.event]),
                    ));
                }
                _ => {}
            }
        }
    }
    out
}

/// Whether a receipt is a message `client` itself published: one no
/// other flow or will carries, first sent before the receipt.
fn own_message(
    unique: &BTreeMap<(&str, &bytes::Bytes), &view::Flow>,
    client: &str,
    m: &crate::wire::Publish,
    at: std::time::Duration,
) -> bool {
    unique
        .get(&(m.topic.as_str(), &m.payload))
        .is_some_and(|f| f.publisher == client && f.first_sent <= at)
}
