//! Packet ids are never reused while in flight, in either direction: a
//! client sends a new PUBLISH (QoS 1 or 2), SUBSCRIBE or UNSUBSCRIBE only
//! with an id it has not in flight [MQTT-2.3.1-2] [MQTT-2.2.1-3], and the
//! broker sends a new PUBLISH (QoS 1 or 2) only with an id not in flight
//! towards that client [MQTT-2.3.1-4] [MQTT-2.2.1-4].
//!
//! In flight, as the client sees it: an id it sent in a PUBLISH until the
//! PUBACK, or the PUBCOMP (a PUBREC with a reason of 0x80 or more ends the
//! flow too); in a SUBSCRIBE or UNSUBSCRIBE until its SUBACK or UNSUBACK,
//! or the end of the connection. An id the broker sent in a PUBLISH until
//! the client sends PUBACK, or PUBCOMP (or a PUBREC of 0x80 or more). The
//! client sends those acknowledgements itself, so an id it holds is one
//! the broker cannot have seen released. A new session (CONNACK session
//! present 0) releases every id. A PUBLISH with an id in flight and the
//! same topic and payload is a resend, not a reuse.
//!
//! Skipped: clients whose raw sends are not whole packets (what they sent
//! is unknown).

use std::collections::BTreeMap;

use bytes::Bytes;

use super::trace_view::{self as view, Dir};
use super::{Run, Spec};
use crate::trace::Violation;
use crate::wire::{Packet, QoS};

pub const NAME: &str = "packet-ids";
pub const SPEC: Spec = Spec {
    v311: &["MQTT-2.3.1-2", "MQTT-2.3.1-4"],
    v5: &["MQTT-2.2.1-3", "MQTT-2.2.1-4"],
};

/// What holds a packet id.
#[derive(Debug, Clone, PartialEq)]
enum Holder {
    Publish {
        topic: String,
        payload: Bytes,
    },
    /// A SUBSCRIBE or UNSUBSCRIBE: it ends with its connection.
    Request,
}

const SENT: usize = 0;
const RECEIVED: usize = 1;

/// The ids in flight in one direction, with the event that took each.
type InFlight = BTreeMap<u16, (Holder, usize)>;

pub fn check(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let mut out = Vec::new();
    for name in run.scenario.clients.keys() {
        if packets.opaque.contains(name.as_str()) {
            continue;
        }
        // Ids the client sent, and ids the broker sent it.
        let mut flight: [InFlight; 2] = Default::default();
        let mut reused = |who: &str, id: u16, earlier: usize, now: usize| {
            out.push(super::violation(
                NAME,
                SPEC.at(run.level_of(name)),
                format!("{who} reused packet id {id} with {name} while it was in flight"),
                view::render(run, [earlier, now]),
            ));
        };
        for p in packets.of(name) {
            let (mine, theirs) = match p.dir {
                Dir::Send => (SENT, RECEIVED),
                Dir::Recv => (RECEIVED, SENT),
            };
            match &p.packet {
                Packet::Connect(_) => {
                    flight[SENT].retain(|_, (h, _)| *h != Holder::Request);
                }
                packet if p.dir == Dir::Recv && view::new_session(packet) => {
                    flight = Default::default();
                }
                Packet::Publish(m) if m.qos != QoS::AtMostOnce => {
                    let holder = Holder::Publish {
                        topic: m.topic.clone(),
                        payload: m.payload.clone(),
                    };
                    match flight[mine].get(&m.packet_id) {
                        Some((h, _)) if *h == holder => {}
                        Some((_, earlier)) => {
                            let who = if p.dir == Dir::Send {
                                name.as_str()
                            } else {
                                "the broker"
                            };
                            reused(who, m.packet_id, *earlier, p.event);
                        }
                        None => {
                            flight[mine].insert(m.packet_id, (holder, p.event));
                        }
                    }
                }
                Packet::Subscribe(s) if p.dir == Dir::Send => {
                    take_request(&mut flight[SENT], s.packet_id, p.event, name, &mut reused);
                }
                Packet::Unsubscribe(u) if p.dir == Dir::Send => {
                    take_request(&mut flight[SENT], u.packet_id, p.event, name, &mut reused);
                }
                Packet::PubAck(a) | Packet::PubComp(a) => {
                    flight[theirs].remove(&a.packet_id);
                }
                Packet::PubRec(a) if a.reason >= 0x80 => {
                    flight[theirs].remove(&a.packet_id);
                }
                Packet::SubAck(a) if p.dir == Dir::Recv => {
                    flight[SENT].remove(&a.packet_id);
                }
                Packet::UnsubAck(a) if p.dir == Dir::Recv => {
                    flight[SENT].remove(&a.packet_id);
                }
                _ => {}
            }
        }
    }
    out
}

/// A SUBSCRIBE or UNSUBSCRIBE the client sends takes a new id.
fn take_request(
    sent: &mut InFlight,
    id: u16,
    event: usize,
    name: &str,
    reused: &mut impl FnMut(&str, u16, usize, usize),
) {
    match sent.get(&id) {
        Some((_, earlier)) => reused(name, id, *earlier, event),
        None => {
            sent.insert(id, (Holder::Request, event));
        }
    }
}
