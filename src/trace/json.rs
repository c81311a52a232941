//! The JSON form of packets and faults. It is the single description of a
//! packet's fields: the JSON renderer prints it, the text renderer prints it
//! as `key=value` pairs, and expectations match against it.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::scenario::{DurationSpec, FaultAction};
use crate::wire::{
    Ack, ConnAck, Connect, Disconnect, LEVEL_V311, LastWill, Packet, Publish, QoS, SubAck,
    Subscribe, SubscribeFilter, UnsubAck, Unsubscribe,
};

/// A payload as text when it is printable UTF-8, otherwise `{"hex": ".."}`,
/// mirroring the scenario file's payload forms.
pub fn payload(bytes: &Bytes) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t') => {
            Value::String(s.to_string())
        }
        _ => json!({ "hex": hex(bytes) }),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A packet's fields, `type` first, in the spec's names in snake_case.
pub fn packet(p: &Packet) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), p.type_name().into());
    match p {
        Packet::Connect(c) => {
            if c.protocol_name != "MQTT" {
                m.insert("protocol_name".into(), c.protocol_name.clone().into());
            }
            let clean_key = if c.protocol_level == LEVEL_V311 {
                "clean_session"
            } else {
                m.insert("protocol_level".into(), c.protocol_level.into());
                "clean_start"
            };
            m.insert("client_id".into(), c.client_id.clone().into());
            m.insert(clean_key.into(), c.clean.into());
            m.insert("keep_alive".into(), c.keep_alive_s.into());
            if let Some(w) = &c.will {
                m.insert(
                    "will".into(),
                    json!({"topic": w.topic, "payload": payload(&w.payload), "qos": w.qos.level(), "retain": w.retain}),
                );
            }
            if let Some(u) = &c.username {
                m.insert("username".into(), u.clone().into());
            }
        }
        Packet::ConnAck(c) => {
            m.insert("session_present".into(), c.session_present.into());
            m.insert("code".into(), c.code.into());
        }
        Packet::Publish(p) => {
            m.insert("topic".into(), p.topic.clone().into());
            m.insert("payload".into(), payload(&p.payload));
            m.insert("qos".into(), p.qos.level().into());
            m.insert("retain".into(), p.retain.into());
            m.insert("dup".into(), p.dup.into());
            if p.qos != QoS::AtMostOnce {
                m.insert("packet_id".into(), p.packet_id.into());
            }
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            m.insert("packet_id".into(), a.packet_id.into());
        }
        Packet::UnsubAck(u) => {
            m.insert("packet_id".into(), u.packet_id.into());
        }
        Packet::Subscribe(s) => {
            m.insert("packet_id".into(), s.packet_id.into());
            let filters: Vec<Value> = s
                .filters
                .iter()
                .map(|f| json!({"filter": f.filter, "qos": f.qos.level()}))
                .collect();
            m.insert("filters".into(), filters.into());
        }
        Packet::SubAck(s) => {
            m.insert("packet_id".into(), s.packet_id.into());
            m.insert("codes".into(), s.codes.clone().into());
        }
        Packet::Unsubscribe(u) => {
            m.insert("packet_id".into(), u.packet_id.into());
            m.insert("filters".into(), u.filters.clone().into());
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) => {
            if let Some(r) = d.reason {
                m.insert("reason".into(), r.into());
            }
        }
        Packet::Auth(a) => {
            m.insert("reason".into(), a.reason.into());
        }
    }
    m
}

/// Every field the trace can show for a packet type under a protocol level,
/// with a value of the type it has there: `packet()` of the widest packet of
/// that type (every optional part present). Expectations check a matcher's
/// fields against it, so the fields a matcher may name come from `packet()`
/// itself and cannot drift from what the trace prints. `None` for a type
/// the trace cannot show.
pub fn shape(type_name: &str, level: u8) -> Option<Map<String, Value>> {
    widest(type_name, level).map(|p| packet(&p))
}

fn widest(type_name: &str, level: u8) -> Option<Packet> {
    let id = 1;
    Some(match type_name {
        "CONNECT" => Packet::Connect(Connect {
            // A name other than "MQTT" is shown, so it can be matched.
            protocol_name: "MQIsdp".into(),
            protocol_level: level,
            client_id: String::new(),
            clean: true,
            keep_alive_s: 0,
            will: Some(LastWill {
                topic: String::new(),
                payload: Bytes::new(),
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: Default::default(),
            }),
            username: Some(String::new()),
            password: Some(Bytes::new()),
            properties: Default::default(),
        }),
        "CONNACK" => Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0,
            properties: Default::default(),
        }),
        "PUBLISH" => Packet::Publish(Publish {
            topic: String::new(),
            payload: Bytes::new(),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
            packet_id: id,
            properties: Default::default(),
        }),
        "PUBACK" => Packet::PubAck(Ack::new(id)),
        "PUBREC" => Packet::PubRec(Ack::new(id)),
        "PUBREL" => Packet::PubRel(Ack::new(id)),
        "PUBCOMP" => Packet::PubComp(Ack::new(id)),
        "SUBSCRIBE" => Packet::Subscribe(Subscribe {
            packet_id: id,
            filters: vec![SubscribeFilter::new(String::new(), QoS::AtMostOnce)],
            properties: Default::default(),
        }),
        "SUBACK" => Packet::SubAck(SubAck {
            packet_id: id,
            codes: vec![0],
            properties: Default::default(),
        }),
        "UNSUBSCRIBE" => Packet::Unsubscribe(Unsubscribe {
            packet_id: id,
            filters: vec![String::new()],
            properties: Default::default(),
        }),
        "UNSUBACK" => Packet::UnsubAck(UnsubAck::new(id)),
        "PINGREQ" => Packet::PingReq,
        "PINGRESP" => Packet::PingResp,
        "DISCONNECT" => Packet::Disconnect(Disconnect {
            reason: (level != LEVEL_V311).then_some(0),
            properties: Default::default(),
        }),
        _ => return None,
    })
}

/// A duration as a scenario file would write it.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if d.subsec_millis() == 0 && ms >= 1000 {
        format!("{}s", ms / 1000)
    } else if Duration::from_millis(ms as u64) == d {
        format!("{ms}ms")
    } else {
        format!("{}us", d.as_micros())
    }
}

fn duration_spec(d: &DurationSpec) -> String {
    match d {
        DurationSpec::Fixed(d) => duration(*d),
        DurationSpec::Range(lo, hi) => format!("{}..{}", duration(*lo), duration(*hi)),
    }
}

/// A fault in the scenario file's own shape.
pub fn fault(f: &FaultAction) -> Value {
    match f {
        FaultAction::Partition {
            a,
            b,
            oneway: false,
        } => json!({ "partition": [a, b] }),
        FaultAction::Partition { a, b, oneway: true } => {
            json!({ "partition": { "from": a, "to": b } })
        }
        FaultAction::Heal(Some((a, b))) => json!({ "heal": [a, b] }),
        FaultAction::Heal(None) => json!({ "heal": "all" }),
        FaultAction::Hold(a, b) => json!({ "hold": [a, b] }),
        FaultAction::Release(a, b) => json!({ "release": [a, b] }),
        FaultAction::Latency { a, b, value } => {
            json!({ "latency": { "between": [a, b], "value": duration_spec(value) } })
        }
        FaultAction::Crash(h) => json!({ "crash": h }),
        FaultAction::Restart(h) => json!({ "restart": h }),
    }
}
