//! Control characters in a packet's strings. MQTT 3.1.1 section 1.5.3 says
//! strings SHOULD NOT hold U+0001..U+001F or U+007F..U+009F and that a
//! receiver MAY close the connection on them; the reference broker takes
//! the strict reading, so a client that sends them finds out. The broker
//! option `strict_strings: false` accepts them. (U+0000 is a wire error
//! everywhere [MQTT-1.5.3-2].)

use crate::wire::Packet;

fn is_control(c: char) -> bool {
    matches!(c, '\u{1}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Whether `s` holds a control character.
pub(super) fn has_control(s: &str) -> bool {
    s.chars().any(is_control)
}

/// The first string of `p` that holds a control character, described for
/// the broker's note; `None` when there is none.
pub(super) fn control_character(p: &Packet) -> Option<String> {
    let mut strings: Vec<(&str, &str)> = Vec::new();
    match p {
        Packet::Connect(c) => {
            strings.push(("client identifier", &c.client_id));
            if let Some(w) = &c.will {
                strings.push(("will topic", &w.topic));
            }
            if let Some(u) = &c.username {
                strings.push(("user name", u));
            }
        }
        Packet::Publish(p) => strings.push(("topic name", &p.topic)),
        Packet::Subscribe(s) => {
            strings.extend(
                s.filters
                    .iter()
                    .map(|f| ("topic filter", f.filter.as_str())),
            );
        }
        Packet::Unsubscribe(u) => {
            strings.extend(u.filters.iter().map(|f| ("topic filter", f.as_str())));
        }
        _ => {}
    }
    strings.into_iter().find_map(|(what, s)| {
        s.chars().find(|c| is_control(*c)).map(|c| {
            format!(
                "{} {what} holds control character U+{:04X} (MQTT 3.1.1 section 1.5.3)",
                p.type_name(),
                u32::from(c)
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Publish, QoS, Unsubscribe};

    fn publish(topic: &str) -> Packet {
        Packet::Publish(Publish {
            topic: topic.into(),
            payload: "\u{1}\u{7f}".into(),
            qos: QoS::AtMostOnce,
            retain: false,
            dup: false,
            packet_id: 0,
            properties: Default::default(),
        })
    }

    #[test]
    fn both_ranges_are_found_and_their_edges_are_not_passed() {
        assert!(control_character(&publish("a\u{1}")).is_some());
        assert!(control_character(&publish("a\u{1f}")).is_some());
        assert!(control_character(&publish("a\u{7f}")).is_some());
        let e = control_character(&publish("a\u{9f}"));
        assert_eq!(
            e.as_deref(),
            Some("PUBLISH topic name holds control character U+009F (MQTT 3.1.1 section 1.5.3)")
        );
        assert_eq!(control_character(&publish("a/ b~\u{a0}é")), None);
        // The payload is binary, not a string.
        assert_eq!(control_character(&publish("t")), None);
        let u = Packet::Unsubscribe(Unsubscribe {
            packet_id: 1,
            filters: vec!["ok".into(), "x\u{7}".into()],
            properties: Default::default(),
        });
        assert!(control_character(&u).is_some());
    }
}
