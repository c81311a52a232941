//! The text and JSON renderers of a [`Report`].
//!
//! Text is for people: one event per line in aligned columns, time in
//! simulated seconds with three decimals. JSON is one object per line in the
//! schema of the scenario format.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::event::{Event, EventKind};
use super::expect::by_name;
use super::{Outcome, Report};
use crate::packet_json::{self, hex, reason};
use crate::scenario::write;

/// Simulated time as seconds with three decimals.
pub fn seconds(d: Duration) -> String {
    format!("{}.{:03}s", d.as_secs(), d.subsec_millis())
}

/// `key=value` pairs, values in JSON, which quotes strings unambiguously.
pub fn fields_text(fields: &Map<String, Value>) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The detail column of an event.
fn detail(kind: &EventKind) -> String {
    match kind {
        EventKind::Connected { .. } | EventKind::Silence { .. } | EventKind::Resume { .. } => {
            String::new()
        }
        EventKind::ConnectFailed { error, .. } => error.clone(),
        EventKind::Send { packet, level, .. } => packet_text(packet, *level),
        EventKind::Recv {
            packet,
            level,
            resolved_topic,
            ..
        } => match resolved_topic {
            Some(t) => format!(
                "{} resolved_topic={}",
                packet_text(packet, *level),
                Value::from(t.as_str())
            ),
            None => packet_text(packet, *level),
        },
        EventKind::SendRaw { bytes, .. } => format!("raw {}", hex::encode(bytes)),
        EventKind::Closed { by, reason, .. } => match reason {
            None => format!("by {}", by_name(*by)),
            Some(r) => format!(
                "by {} reason={}",
                by_name(*by),
                reason::text(*r, reason::In::Disconnect)
            ),
        },
        EventKind::Error { text, .. }
        | EventKind::Held { text, .. }
        | EventKind::Note { text, .. } => text.clone(),
        EventKind::Fault { fault } => write::fault_action(fault).to_string(),
    }
}

/// A packet as the text trace shows it: its type, then its fields as
/// `key=value`. A 3.1.1 packet's return codes are named after its last
/// field; a 5.0 packet's reason codes are written in hex, each followed by
/// its name (`reason=0x8E session taken over`).
fn packet_text(packet: &crate::wire::Packet, level: u8) -> String {
    let mut fields = packet_json::packet_at(packet, level);
    let ty = fields.shift_remove("type").unwrap_or_default();
    let ty = ty.as_str().unwrap_or_default();
    if level != crate::wire::LEVEL_V311 {
        let within = reason::reason_place(packet);
        let pairs: Vec<String> = fields
            .iter()
            .map(|(k, v)| match (k.as_str(), within, v) {
                ("reason" | "code", Some(within), Value::Number(n)) => {
                    format!("{k}={}", reason_text(n, within))
                }
                ("codes", Some(within), Value::Array(codes)) => {
                    let named: Vec<String> = codes
                        .iter()
                        .filter_map(Value::as_u64)
                        .map(|c| reason::text(c as u8, within))
                        .collect();
                    format!("{k}=[{}]", named.join(", "))
                }
                _ => format!("{k}={v}"),
            })
            .collect();
        return std::iter::once(ty.to_string())
            .chain(pairs)
            .collect::<Vec<_>>()
            .join(" ");
    }
    let rest = fields_text(&fields);
    let named = code_names(packet);
    match (rest.is_empty(), named) {
        (true, _) => ty.to_string(),
        (false, None) => format!("{ty} {rest}"),
        (false, Some(named)) => format!("{ty} {rest} {named}"),
    }
}

fn reason_text(n: &serde_json::Number, within: reason::In) -> String {
    match n.as_u64().and_then(|c| u8::try_from(c).ok()) {
        Some(c) => reason::text(c, within),
        None => n.to_string(),
    }
}

/// The 3.1.1 CONNACK return codes, by value [MQTT 3.1.1 section 3.2.2.3].
const CONNACK_CODES: [&str; 6] = [
    "accepted",
    "unacceptable protocol version",
    "identifier rejected",
    "server unavailable",
    "bad user name or password",
    "not authorized",
];

/// The name of a 3.1.1 CONNACK return code; `None` for codes 3.1.1 does
/// not define.
pub fn connack_return_code(code: u8) -> Option<&'static str> {
    CONNACK_CODES.get(usize::from(code)).copied()
}

/// The meaning of a CONNACK's return code or of a SUBACK's codes, in words,
/// for the text trace; it follows the codes, which are the packet's last
/// field. `None` for other packets and for codes 3.1.1 does not define.
fn code_names(packet: &crate::wire::Packet) -> Option<String> {
    use crate::wire::Packet;
    match packet {
        Packet::ConnAck(c) => connack_return_code(c.code).map(str::to_string),
        Packet::SubAck(s) => {
            let names: Option<Vec<String>> = s
                .codes
                .iter()
                .map(|c| match c {
                    0..=2 => Some(format!("granted QoS {c}")),
                    0x80 => Some("failure".to_string()),
                    _ => None,
                })
                .collect();
            names.map(|n| n.join(", "))
        }
        _ => None,
    }
}

/// What stands in the host column for events that belong to the network.
const NETWORK: &str = "network";

/// One event as a line, without column padding (used in expectation reports).
pub fn event_line(ev: &Event) -> String {
    let host = ev.kind.host().unwrap_or(NETWORK);
    format!(
        "{} {host} {} {}",
        seconds(ev.at),
        ev.kind.name(),
        detail(&ev.kind)
    )
    .trim_end()
    .to_string()
}

/// The whole report as text: the events in aligned columns, then the
/// expectations' verdicts, then the end line.
pub fn text(report: &Report) -> String {
    let time_w = seconds(report.end).len();
    let host_w = report
        .events
        .iter()
        .map(|e| e.kind.host().unwrap_or(NETWORK).len())
        .max()
        .unwrap_or(0);
    let name_w = report
        .events
        .iter()
        .map(|e| e.kind.name().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for ev in &report.events {
        let host = ev.kind.host().unwrap_or(NETWORK);
        let line = format!(
            "{:>time_w$}  {host:<host_w$}  {:<name_w$}  {}",
            seconds(ev.at),
            ev.kind.name(),
            detail(&ev.kind)
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if report.dropped > 0 {
        let _ = writeln!(
            out,
            "({} more events dropped over the limit)",
            report.dropped
        );
    }
    if let Some(err) = &report.harness_error {
        let _ = writeln!(out, "harness error: {err}");
    }
    if !report.verdicts.is_empty() || !report.violations.is_empty() {
        out.push('\n');
    }
    for v in &report.verdicts {
        let status = v.outcome.status();
        let _ = writeln!(out, "{status:<4}  line {}: {}", v.line, v.text);
        for c in &v.closest {
            let _ = writeln!(out, "    closest: {c}");
        }
    }
    out.push_str(&violations_text(&report.violations));
    let _ = writeln!(
        out,
        "\nend {} seed {}: {}",
        seconds(report.end),
        report.seed,
        if report.ok() { "ok" } else { "FAILED" }
    );
    out
}

/// Broken invariants as the text report shows them, like failed
/// expectations: the invariant and its spec ids, what was broken, then
/// the events that break it. A choice that differs says `differs`.
pub fn violations_text(violations: &[super::Violation]) -> String {
    let mut out = String::new();
    for v in violations {
        let _ = writeln!(
            out,
            "{}  invariant {} [{}]: {}",
            v.outcome.status(),
            v.invariant,
            v.spec_ids.join(", "),
            v.text
        );
        for e in &v.events {
            let _ = writeln!(out, "    event: {e}");
        }
    }
    out
}

/// The whole report as JSON lines.
pub fn json_lines(report: &Report) -> String {
    let mut out = String::new();
    for ev in &report.events {
        let _ = writeln!(out, "{}", event_json(ev));
    }
    if let Some(err) = &report.harness_error {
        let _ = writeln!(out, "{}", json!({"event": "harness_error", "text": err}));
    }
    for v in &report.verdicts {
        let _ = writeln!(
            out,
            "{}",
            json!({"event": "expect", "line": v.line, "ok": v.outcome != Outcome::Fail, "text": v.text, "closest": v.closest, "force": v.force.name(), "verdict": v.outcome.name()})
        );
    }
    for v in &report.violations {
        let _ = writeln!(
            out,
            "{}",
            json!({"event": "invariant", "name": v.invariant, "spec": v.spec_ids, "text": v.text, "events": v.events, "force": v.force.name(), "verdict": v.outcome.name()})
        );
    }
    let _ = writeln!(
        out,
        "{}",
        json!({"event": "end", "at_ms": report.end.as_millis() as u64, "seed": report.seed, "ok": report.ok(), "dropped": report.dropped})
    );
    out
}

fn event_json(ev: &Event) -> Value {
    let mut m = Map::new();
    m.insert("at_ms".into(), (ev.at.as_millis() as u64).into());
    let host_key = if matches!(ev.kind, EventKind::Note { .. }) {
        "host"
    } else {
        "client"
    };
    if let Some(h) = ev.kind.host() {
        m.insert(host_key.into(), h.into());
    }
    m.insert("event".into(), ev.kind.name().into());
    match &ev.kind {
        EventKind::Connected { .. } | EventKind::Silence { .. } | EventKind::Resume { .. } => {}
        EventKind::ConnectFailed { error, .. } => {
            m.insert("error".into(), error.clone().into());
        }
        EventKind::Send { packet, level, .. } | EventKind::Recv { packet, level, .. } => {
            m.insert(
                "packet".into(),
                Value::Object(packet_json::packet_at(packet, *level)),
            );
            if let EventKind::Recv {
                resolved_topic: Some(t),
                ..
            } = &ev.kind
            {
                m.insert("resolved_topic".into(), t.clone().into());
            }
        }
        EventKind::SendRaw { bytes, .. } => {
            m.insert("raw".into(), hex::encode(bytes).into());
        }
        EventKind::Closed { by, reason, .. } => {
            m.insert("by".into(), by_name(*by).into());
            if let Some(r) = reason {
                m.insert("reason".into(), (*r).into());
            }
        }
        EventKind::Error { text, .. }
        | EventKind::Held { text, .. }
        | EventKind::Note { text, .. } => {
            m.insert("text".into(), text.clone().into());
        }
        EventKind::Fault { fault } => {
            m.insert("fault".into(), write::fault_action(fault));
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ConnAck, Packet, SubAck};

    #[test]
    fn return_codes_are_named() {
        let connack = |code| {
            Packet::ConnAck(ConnAck {
                session_present: false,
                code,
                properties: Default::default(),
            })
        };
        assert_eq!(code_names(&connack(0)).as_deref(), Some("accepted"));
        assert_eq!(
            code_names(&connack(4)).as_deref(),
            Some("bad user name or password")
        );
        assert_eq!(code_names(&connack(5)).as_deref(), Some("not authorized"));
        assert_eq!(code_names(&connack(6)), None);
        let suback = Packet::SubAck(SubAck {
            packet_id: 1,
            codes: vec![2, 0x80],
            properties: Default::default(),
        });
        assert_eq!(
            detail(&EventKind::Recv {
                client: "a".into(),
                packet: suback,
                level: crate::wire::LEVEL_V311,
                resolved_topic: None,
            }),
            "SUBACK packet_id=1 codes=[2,128] granted QoS 2, failure"
        );
    }

    #[test]
    fn silence_and_resume_are_events() {
        let ev = Event {
            at: Duration::from_millis(5),
            kind: EventKind::Silence { client: "a".into() },
        };
        assert_eq!(event_line(&ev), "0.005s a silence");
        let json = event_json(&ev);
        assert_eq!(json["event"], "silence");
        assert_eq!(json["client"], "a");
        let ev = Event {
            at: Duration::ZERO,
            kind: EventKind::Resume { client: "a".into() },
        };
        assert_eq!(event_json(&ev)["event"], "resume");
    }
}
