//! Short labels for packets, built from [`crate::packet_json::packet`], the
//! one description of a packet's fields. A label keeps the fields that tell
//! one packet from the next (ids, codes, topics, QoS) and leaves the rest
//! (clean session, payloads, keep-alive, wills) to the tooltip, which holds the full line.

use serde_json::{Map, Value};

use crate::packet_json;
use crate::packet_json::reason::{self, reason_place};
use crate::wire::{LEVEL_V311, Packet};

/// The fields a label shows, in this order; the others are left out.
const KEY_FIELDS: &[&str] = &[
    "client_id",
    "session_present",
    "code",
    "reason",
    "topic",
    "qos",
    "packet_id",
    "filters",
    "codes",
    "retain",
    "dup",
];

/// Flags shown only when set, since they are almost always false.
const FLAGS_WHEN_TRUE: &[&str] = &["retain", "dup"];

/// The longest value a label prints before cutting it short.
const VALUE_CHARS_MAX: usize = 40;

/// `CONNACK session_present=false code=0`: the type and its key fields,
/// as protocol `level` shows them. Under 5.0 reason codes are in hex with
/// their names (`DISCONNECT reason=0x8E session taken over`).
pub fn packet(p: &Packet, level: u8) -> String {
    let fields = packet_json::packet_at(p, level);
    let within = (level != LEVEL_V311).then(|| reason_place(p)).flatten();
    let mut out = p.type_name().to_string();
    for key in KEY_FIELDS {
        let Some(v) = fields.get(*key) else { continue };
        if FLAGS_WHEN_TRUE.contains(key) && *v != Value::Bool(true) {
            continue;
        }
        let text = match (*key, within, v) {
            ("reason" | "code", Some(within), Value::Number(n)) => {
                reason::text(n.as_u64().unwrap_or_default() as u8, within)
            }
            ("codes", Some(within), Value::Array(codes)) => codes
                .iter()
                .map(|c| reason::text(c.as_u64().unwrap_or_default() as u8, within))
                .collect::<Vec<_>>()
                .join(","),
            _ => value(v),
        };
        out.push(' ');
        out.push_str(key);
        out.push('=');
        out.push_str(&cut(&text, VALUE_CHARS_MAX));
    }
    out
}

/// A value as a person would write it: strings bare unless empty,
/// subscription filters as `filter:qos`, lists comma-separated.
fn value(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => "\"\"".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(item).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn item(v: &Value) -> String {
    match v {
        Value::Object(m) => filter(m).unwrap_or_else(|| v.to_string()),
        other => value(other),
    }
}

fn filter(m: &Map<String, Value>) -> Option<String> {
    let f = m.get("filter")?.as_str()?;
    let qos = m.get("qos")?;
    Some(format!("{f}:{qos}"))
}

/// Cuts `s` to at most `max` characters, marking the cut with an ellipsis.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ConnAck, Properties, QoS, Subscribe, SubscribeFilter};

    #[test]
    fn connack_shows_session_present_and_code() {
        let p = Packet::ConnAck(ConnAck {
            session_present: true,
            code: 2,
            properties: Properties::default(),
        });
        assert_eq!(
            packet(&p, LEVEL_V311),
            "CONNACK session_present=true code=2"
        );
    }

    #[test]
    fn reason_codes_of_5_0_are_named() {
        let p = Packet::Disconnect(crate::wire::Disconnect {
            reason: Some(0x8E),
            properties: Properties::default(),
        });
        assert_eq!(
            packet(&p, crate::wire::LEVEL_V5),
            "DISCONNECT reason=0x8E session taken over"
        );
    }

    #[test]
    fn subscribe_shows_filters_with_qos() {
        let p = Packet::Subscribe(Subscribe {
            packet_id: 7,
            filters: vec![SubscribeFilter::new("will/#", QoS::AtLeastOnce)],
            properties: Properties::default(),
        });
        assert_eq!(
            packet(&p, LEVEL_V311),
            "SUBSCRIBE packet_id=7 filters=will/#:1"
        );
    }

    #[test]
    fn cut_marks_the_cut() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }
}
