//! The client's side of a session: packet identifiers and the QoS 1 and 2
//! PUBLISH packets it sent that are not yet acknowledged.

use std::collections::BTreeMap;

use crate::wire::{Ack, Packet, Publish, QoS};

/// Where an outbound QoS 1 or 2 message stands.
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    /// Sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published(Publish),
    /// QoS 2: PUBREL sent, waiting for PUBCOMP.
    Released,
}

#[derive(Debug, Default)]
pub struct Session {
    last_id: u16,
    /// Keyed by packet id; a BTreeMap so that resending walks the ids in a
    /// fixed order.
    inflight: BTreeMap<u16, Stage>,
}

impl Session {
    /// A packet identifier not in use by an unacknowledged message
    /// [MQTT-2.3.1-2]; `None` when all 65,535 are in flight.
    pub fn next_id(&mut self) -> Option<u16> {
        for _ in 0..u16::MAX {
            self.last_id = self.last_id.checked_add(1).unwrap_or(1);
            if !self.inflight.contains_key(&self.last_id) {
                return Some(self.last_id);
            }
        }
        None
    }

    pub fn published(&mut self, p: &Publish) {
        if p.qos != QoS::AtMostOnce {
            self.inflight
                .insert(p.packet_id, Stage::Published(p.clone()));
        }
    }

    /// How many QoS 1 and 2 messages await acknowledgement: what the
    /// broker's Receive Maximum counts.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// PUBACK or PUBCOMP: the flow is complete.
    pub fn completed(&mut self, id: u16) {
        self.inflight.remove(&id);
    }

    /// PUBREC: from now on the message is the broker's; PUBREL follows.
    pub fn received(&mut self, id: u16) {
        if let Some(stage) = self.inflight.get_mut(&id) {
            *stage = Stage::Released;
        }
    }

    /// What to send again on a resumed session [MQTT-4.4.0-1]: PUBLISH with
    /// DUP=1 and the same packet id, or PUBREL, in packet id order.
    pub fn resend(&self) -> Vec<Packet> {
        self.inflight
            .iter()
            .map(|(id, stage)| match stage {
                Stage::Published(p) => Packet::Publish(Publish {
                    dup: true,
                    ..p.clone()
                }),
                Stage::Released => Packet::PubRel(Ack::new(*id)),
            })
            .collect()
    }

    /// A clean session starts with nothing in flight.
    pub fn clear(&mut self) {
        self.inflight.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn publish(id: u16, qos: u8) -> Publish {
        Publish {
            topic: "t".into(),
            payload: Bytes::from_static(b"x"),
            qos: QoS::try_from(qos).expect("test QoS"),
            retain: false,
            dup: false,
            packet_id: id,
            properties: Default::default(),
        }
    }

    #[test]
    fn ids_skip_those_in_flight_and_wrap_past_zero() {
        let mut s = Session::default();
        assert_eq!(s.next_id(), Some(1));
        s.published(&publish(2, 1));
        assert_eq!(s.next_id(), Some(3));
        s.last_id = u16::MAX;
        assert_eq!(s.next_id(), Some(1));
    }

    #[test]
    fn resend_marks_dup_and_keeps_ids() {
        let mut s = Session::default();
        s.published(&publish(1, 1));
        s.published(&publish(2, 2));
        s.received(2);
        s.published(&publish(3, 0));
        let again = s.resend();
        assert_eq!(
            again,
            vec![
                Packet::Publish(Publish {
                    dup: true,
                    ..publish(1, 1)
                }),
                Packet::PubRel(Ack::new(2))
            ]
        );
        s.completed(1);
        s.completed(2);
        assert!(s.resend().is_empty());
    }
}
