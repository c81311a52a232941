//! Unsubscribe: once a client has its UNSUBACK, nothing published after
//! that is delivered to it on the filters it removed [MQTT-3.10.4-2].
//!
//! What the trace proves: the broker sent UNSUBACK after it removed the
//! subscription, so a message first sent by its publisher after the client
//! received the UNSUBACK reached the broker after the removal, and must
//! not be added for delivery on that filter. Deliveries the broker had
//! already started, or messages it had already queued for the client, may
//! still arrive after the UNSUBACK ([MQTT-3.10.4-3], and 5.0 section
//! 3.10.4 lets a broker deliver what it had buffered): they were published
//! before it, so they are never judged.
//!
//! A receipt counts against a removed filter only when no filter the
//! client still holds (subscribed since, or never removed: overlapping
//! subscriptions) matches its topic, and when every publication with its
//! topic and payload on the broker was first sent after the UNSUBACK; a
//! will with the same topic and payload (published whenever its
//! connection ends) makes it unjudged. A new session (CONNACK session
//! present 0) forgets both what was held and what was removed. Skipped:
//! retained copies (RETAIN 1), clients sharing a client id with another
//! host, brokers where a client sent raw bytes that are not whole packets,
//! and UNSUBACKs with a 5.0 reason code of 0x80 or more (not removed).

use std::collections::BTreeMap;

use super::trace_view::{self as view, Dir};
use super::{Run, Spec};
use crate::trace::Violation;
use crate::wire::Packet;

pub const NAME: &str = "unsubscribe";
pub const SPEC: Spec = Spec::both(&["MQTT-3.10.4-2", "MQTT-3.10.4-3"]);

pub fn check(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let flows = &run.view().flows;
    let wills = &run.view().wills;
    let mut out = Vec::new();
    for (name, broker) in view::judged_clients(run) {
        let on_broker = |c: &str| view::broker_of(run, c) == Some(broker);
        // Filters held, and filters removed -> the UNSUBACK's event.
        let mut held: BTreeMap<String, ()> = BTreeMap::new();
        let mut removed: BTreeMap<String, usize> = BTreeMap::new();
        // UNSUBSCRIBE packet id -> its filters.
        let mut asked: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for p in packets.of(name) {
            match (p.dir, &p.packet) {
                (Dir::Recv, packet) if view::new_session(packet) => {
                    held.clear();
                    removed.clear();
                }
                (Dir::Send, Packet::Subscribe(s)) => {
                    for f in &s.filters {
                        held.insert(f.filter.clone(), ());
                        removed.remove(&f.filter);
                    }
                }
                (Dir::Send, Packet::Unsubscribe(u)) => {
                    asked.insert(u.packet_id, u.filters.clone());
                }
                (Dir::Recv, Packet::UnsubAck(a)) => {
                    let filters = asked.remove(&a.packet_id).unwrap_or_default();
                    for (i, f) in filters.into_iter().enumerate() {
                        if a.codes.get(i).is_some_and(|&c| c >= 0x80) {
                            continue;
                        }
                        held.remove(&f);
                        removed.insert(f, p.event);
                    }
                }
                (Dir::Recv, Packet::Publish(m)) if !m.retain && !m.topic.is_empty() => {
                    if held.keys().any(|f| crate::topic::matches(f, &m.topic)) {
                        continue;
                    }
                    let Some((filter, &unsuback)) = removed
                        .iter()
                        .find(|(f, _)| crate::topic::matches(f, &m.topic))
                    else {
                        continue;
                    };
                    let carriers = run.view().carrying(&m.topic, &m.payload);
                    let by_will = carriers.wills.iter().any(|&w| on_broker(wills[w].client));
                    let mut sources = carriers
                        .flows
                        .iter()
                        .map(|&i| &flows[i])
                        .filter(|f| on_broker(f.publisher));
                    let Some(source) = sources.next() else {
                        continue;
                    };
                    let all_after =
                        source.first_event > unsuback && sources.all(|f| f.first_event > unsuback);
                    if all_after && !by_will {
                        out.push(super::violation(
                            NAME,
                            SPEC.at(run.level_of(name)),
                            format!(
                                "{name} received a message on {:?} that {} published after the UNSUBACK that removed {filter:?}, and no filter it holds matches it",
                                m.topic, source.publisher
                            ),
                            view::render(run, [unsuback, source.first_event, p.event]),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    out
}
