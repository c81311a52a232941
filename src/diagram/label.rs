//! Short labels for packets, built from [`crate::trace::json::packet`], the
//! one description of a packet's fields. A label keeps the fields that tell
//! one packet from the next (ids, codes, topics, QoS) and leaves the rest
//! (clean session, payloads, keep-alive, wills) to the tooltip, which holds the full line.

use serde_json::{Map, Value};

use crate::trace::json;
use crate::wire::Packet;

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

/// `CONNACK session_present=false code=0`: the type and its key fields.
pub fn packet(p: &Packet) -> String {
    let fields = json::packet(p);
    let mut out = p.type_name().to_string();
    for key in KEY_FIELDS {
        let Some(v) = fields.get(*key) else { continue };
        if FLAGS_WHEN_TRUE.contains(key) && *v != Value::Bool(true) {
            continue;
        }
        out.push(' ');
        out.push_str(key);
        out.push('=');
        out.push_str(&cut(&value(v), VALUE_CHARS_MAX));
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
        assert_eq!(packet(&p), "CONNACK session_present=true code=2");
    }

    #[test]
    fn subscribe_shows_filters_with_qos() {
        let p = Packet::Subscribe(Subscribe {
            packet_id: 7,
            filters: vec![SubscribeFilter::new("will/#", QoS::AtLeastOnce)],
            properties: Properties::default(),
        });
        assert_eq!(packet(&p), "SUBSCRIBE packet_id=7 filters=will/#:1");
    }

    #[test]
    fn cut_marks_the_cut() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }
}
