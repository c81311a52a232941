//! The broker sends a 5.0 client no Topic Alias above the Topic Alias
//! Maximum the client sent in CONNECT, and none when it sent none or 0
//! [MQTT-3.3.2-11] [MQTT-3.1.2-27]; never the alias 0 [MQTT-3.3.2-8]. An
//! alias belongs to one connection and one direction: one a publisher
//! set is not forwarded to subscribers [MQTT-3.3.2-7].
//!
//! Judged per connection, from the CONNECT the client sent on it; nothing
//! is skipped (3.1.1 PUBLISHes carry no properties).

use super::trace_view::{self as view, Dir};
use super::{Run, Spec};
use crate::trace::Violation;
use crate::wire::{Packet, Property};

pub const NAME: &str = "topic-alias";
/// 5.0 only: the rule does not exist in 3.1.1.
pub const SPEC: Spec = Spec {
    v311: &[],
    v5: &["MQTT-3.3.2-11", "MQTT-3.1.2-27", "MQTT-3.3.2-8"],
};

pub fn check(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let mut out = Vec::new();
    for name in run.scenario.clients.keys() {
        // The current connection's Topic Alias Maximum and its CONNECT.
        let mut max: Option<(u16, usize)> = None;
        for p in packets.of(name) {
            match (p.dir, &p.packet) {
                (Dir::Send, Packet::Connect(c)) => {
                    max = Some((c.properties.topic_alias_maximum().unwrap_or(0), p.event));
                }
                (Dir::Recv, Packet::Publish(m)) => {
                    let Some(alias) = m.properties.iter().find_map(|q| match q {
                        Property::TopicAlias(a) => Some(*a),
                        _ => None,
                    }) else {
                        continue;
                    };
                    let (limit, connect) = max.unwrap_or((0, p.event));
                    if alias == 0 || alias > limit {
                        out.push(super::violation(
                            NAME,
                            SPEC.at(run.level_of(name)),
                            format!(
                                "the broker sent {name} topic alias {alias}, outside the 1..={limit} its CONNECT allowed"
                            ),
                            view::render(run, [connect, p.event]),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    out
}
