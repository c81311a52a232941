//! The broker marks what it sends again: a QoS 1 or 2 PUBLISH sent again
//! to a client (same session, same packet id, topic and payload, not yet
//! acknowledged), typically after a reconnect with session present 1
//! [MQTT-4.4.0-1], has DUP 1 [MQTT-3.3.1-1].
//!
//! A PUBLISH the client received stays unacknowledged, from the client's
//! side, until it sends PUBACK, PUBCOMP, or PUBREC with a reason of 0x80
//! or more; a new session (CONNACK session present 0) forgets them all. A
//! later PUBLISH with the same packet id, topic and payload while it is
//! unacknowledged is the same message sent again, and needs DUP 1.
//!
//! Skipped: clients sharing a client id with another host (or an empty or
//! changing one), whose session another host may have acknowledged;
//! clients whose raw sends are not whole packets (their acknowledgements
//! are unknown); receipts with a topic alias the connection never set.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::trace_view::{self as view, Dir};
use super::{Run, Spec};
use crate::trace::Violation;
use crate::wire::{Packet, QoS};

pub const NAME: &str = "dup-on-resend";
pub const SPEC: Spec = Spec::both(&["MQTT-3.3.1-1", "MQTT-4.4.0-1"]);

pub fn check(run: &Run) -> Vec<Violation> {
    let v = run.view();
    let mut out = Vec::new();
    for name in run.scenario.clients.keys() {
        let name = name.as_str();
        if v.shared.contains(name) || v.packets.opaque.contains(name) {
            continue;
        }
        // Packet id -> topic, payload and the event of the first send.
        let mut unacked: BTreeMap<u16, (&str, &Bytes, usize)> = BTreeMap::new();
        for p in v.packets.of(name) {
            match (p.dir, &p.packet) {
                (Dir::Recv, packet) if view::new_session(packet) => unacked.clear(),
                (Dir::Recv, Packet::Publish(m))
                    if m.qos != QoS::AtMostOnce && !m.topic.is_empty() =>
                {
                    match unacked.get(&m.packet_id) {
                        Some(&(topic, payload, first))
                            if topic == m.topic && *payload == m.payload && !m.dup =>
                        {
                            out.push(super::violation(
                                NAME,
                                SPEC.at(run.level_of(name)),
                                format!(
                                    "the broker sent {name} its unacknowledged message on {:?} (packet id {}) again with DUP 0",
                                    m.topic, m.packet_id
                                ),
                                view::render(run, [first, p.event]),
                            ));
                        }
                        Some(_) => {}
                        None => {
                            unacked.insert(m.packet_id, (&m.topic, &m.payload, p.event));
                        }
                    }
                }
                _ => {
                    if let Some(id) = view::released_by_client(p) {
                        unacked.remove(&id);
                    }
                }
            }
        }
    }
    out
}
