//! The broker keeps to each 5.0 client's Receive Maximum: it never has
//! more QoS 1 and QoS 2 PUBLISHes out to the client, unacknowledged, than
//! the Receive Maximum the client sent in CONNECT (65535 when absent)
//! [MQTT-3.3.4-9]. A PUBLISH stays unacknowledged until the client sends
//! PUBACK, PUBCOMP, or PUBREC with a reason of 0x80 or more.
//!
//! Counted per connection, from the client's side: the PUBLISHes it
//! received on this connection whose packet ids it has not yet released
//! by one of those acknowledgements. That undercounts what the broker
//! holds (messages sent on an earlier connection and still unacknowledged
//! count against the quota too, an acknowledgement lost on the way counts
//! as sent), so a breach seen here is a breach the broker made. A PUBLISH
//! with a packet id still unacknowledged is a resend, not a new one.
//!
//! Skipped: 3.1.1 connections (no Receive Maximum), clients whose raw
//! sends are not whole packets (their acknowledgements are unknown).

use std::collections::BTreeMap;

use super::trace_view::{self as view, Dir};
use super::{Run, Spec};
use crate::trace::Violation;
use crate::wire::{LEVEL_V5, Packet, QoS};

pub const NAME: &str = "receive-maximum";
/// 5.0 only: the rule does not exist in 3.1.1.
pub const SPEC: Spec = Spec {
    v311: &[],
    v5: &["MQTT-3.3.4-9"],
};

/// The Receive Maximum of a 5.0 CONNECT without the property.
pub const RECEIVE_MAXIMUM_DEFAULT: u16 = 65_535;

pub fn check(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let mut out = Vec::new();
    for name in run.scenario.clients.keys() {
        if packets.opaque.contains(name.as_str()) {
            continue;
        }
        // The current connection's Receive Maximum (None: not 5.0), and
        // the packet ids out to the client with the event that sent each.
        let mut limit: Option<u16> = None;
        let mut out_ids: BTreeMap<u16, usize> = BTreeMap::new();
        for p in packets.of(name) {
            match (p.dir, &p.packet) {
                (Dir::Send, Packet::Connect(c)) => {
                    out_ids.clear();
                    limit = (c.protocol_level == LEVEL_V5).then(|| {
                        c.properties
                            .receive_maximum()
                            .unwrap_or(RECEIVE_MAXIMUM_DEFAULT)
                    });
                }
                (Dir::Recv, Packet::Publish(m)) if m.qos != QoS::AtMostOnce => {
                    let Some(limit) = limit else { continue };
                    if out_ids.contains_key(&m.packet_id) {
                        continue;
                    }
                    out_ids.insert(m.packet_id, p.event);
                    if out_ids.len() > usize::from(limit) {
                        // The oldest still unacknowledged, and the one too many.
                        let oldest = out_ids.values().copied().min().unwrap_or(p.event);
                        out.push(super::violation(
                            NAME,
                            SPEC.at(run.level_of(name)),
                            format!(
                                "the broker had {} QoS 1 and 2 PUBLISHes unacknowledged out to {name}, above the Receive Maximum {limit} it sent in CONNECT",
                                out_ids.len()
                            ),
                            view::render(run, [oldest, p.event]),
                        ));
                    }
                }
                _ => {
                    if let Some(id) = view::released_by_client(p) {
                        out_ids.remove(&id);
                    }
                }
            }
        }
    }
    out
}
