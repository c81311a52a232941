//! The packet vocabulary shared by the scenario file and the trace: the
//! JSON form of packets, their 5.0 properties ([`properties`]), reason-code
//! names ([`reason`]) and hex text ([`hex`]). It is the single description
//! of a packet's fields: the JSON renderer prints it, the text renderer
//! prints it as `key=value` pairs, expectations match against it, and the
//! scenario loader checks matchers and properties against it.
//!
//! It reads only [`crate::wire`], so that both `scenario` (below the trace)
//! and `trace` can use it.

pub mod hex;
pub mod properties;
pub mod reason;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::wire::{
    Ack, Auth, ConnAck, Connect, Disconnect, LEVEL_V311, LastWill, Packet, Properties, Publish,
    QoS, SubAck, Subscribe, SubscribeFilter, UnsubAck, Unsubscribe,
};
use properties::Place;

/// A payload as text when it is printable UTF-8, otherwise `{"hex": ".."}`,
/// mirroring the scenario file's payload forms.
pub fn payload(bytes: &Bytes) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t') => {
            Value::String(s.to_string())
        }
        _ => json!({ "hex": hex::encode(bytes) }),
    }
}

/// A packet's fields as 3.1.1 shows them, for readers that want only its
/// type or its 3.1.1 fields; [`packet_at`] is the full form.
pub fn packet(p: &Packet) -> Map<String, Value> {
    packet_at(p, LEVEL_V311)
}

/// A packet's fields, `type` first, in the spec's names in snake_case, as
/// protocol `level` has them. Under 5.0 a packet adds its reason code
/// (`reason`, or `codes` on UNSUBACK), its subscription options, and its
/// `properties` when it has any; under 3.1.1 it has none of these, so 3.1.1
/// traces read as they always did.
pub fn packet_at(p: &Packet, level: u8) -> Map<String, Value> {
    let v5 = level != LEVEL_V311;
    let mut m = Map::new();
    m.insert("type".into(), p.type_name().into());
    match p {
        Packet::Connect(c) => connect_fields(&mut m, c, v5),
        Packet::ConnAck(c) => {
            m.insert("session_present".into(), c.session_present.into());
            m.insert("code".into(), c.code.into());
            props(&mut m, v5, &c.properties, Place::ConnAck);
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
            props(&mut m, v5, &p.properties, Place::Publish);
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            m.insert("packet_id".into(), a.packet_id.into());
            if v5 {
                m.insert("reason".into(), a.reason.into());
            }
            props(&mut m, v5, &a.properties, Place::Ack);
        }
        Packet::UnsubAck(u) => {
            m.insert("packet_id".into(), u.packet_id.into());
            if v5 {
                m.insert("codes".into(), u.codes.clone().into());
            }
            props(&mut m, v5, &u.properties, Place::UnsubAck);
        }
        Packet::Subscribe(s) => {
            m.insert("packet_id".into(), s.packet_id.into());
            let filters: Vec<Value> = s.filters.iter().map(|f| filter(f, v5)).collect();
            m.insert("filters".into(), filters.into());
            props(&mut m, v5, &s.properties, Place::Subscribe);
        }
        Packet::SubAck(s) => {
            m.insert("packet_id".into(), s.packet_id.into());
            m.insert("codes".into(), s.codes.clone().into());
            props(&mut m, v5, &s.properties, Place::SubAck);
        }
        Packet::Unsubscribe(u) => {
            m.insert("packet_id".into(), u.packet_id.into());
            m.insert("filters".into(), u.filters.clone().into());
            props(&mut m, v5, &u.properties, Place::Unsubscribe);
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) => {
            if let Some(r) = d.reason {
                m.insert("reason".into(), r.into());
            }
            props(&mut m, v5, &d.properties, Place::Disconnect);
        }
        Packet::Auth(a) => {
            m.insert("reason".into(), a.reason.into());
            props(&mut m, v5, &a.properties, Place::Auth);
        }
    }
    m
}

/// A CONNECT's fields: the protocol name only when it is not `MQTT`, the
/// level only past 3.1.1 (whose clean flag is `clean_session`, 5.0's
/// `clean_start`), the will with its properties under 5.0. The password
/// is never shown.
fn connect_fields(m: &mut Map<String, Value>, c: &Connect, v5: bool) {
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
        let mut will = json!({"topic": w.topic, "payload": payload(&w.payload), "qos": w.qos.level(), "retain": w.retain});
        if v5
            && !w.properties.is_empty()
            && let Some(will) = will.as_object_mut()
        {
            will.insert(
                "properties".into(),
                properties::to_json(&w.properties, Place::Will).into(),
            );
        }
        m.insert("will".into(), will);
    }
    if let Some(u) = &c.username {
        m.insert("username".into(), u.clone().into());
    }
    props(m, v5, &c.properties, Place::Connect);
}

/// One filter of a SUBSCRIBE; 5.0 adds its subscription options.
fn filter(f: &SubscribeFilter, v5: bool) -> Value {
    match v5 {
        false => json!({"filter": f.filter, "qos": f.qos.level()}),
        true => json!({
            "filter": f.filter,
            "qos": f.qos.level(),
            "no_local": f.no_local,
            "retain_as_published": f.retain_as_published,
            "retain_handling": f.retain_handling as u8,
        }),
    }
}

/// Adds `properties` under 5.0 when there are any.
fn props(m: &mut Map<String, Value>, v5: bool, p: &Properties, place: Place) {
    if v5 && !p.is_empty() {
        m.insert("properties".into(), properties::to_json(p, place).into());
    }
}

/// Every field the trace can show for a packet type under a protocol level,
/// with a value of the type it has there: `packet()` of the widest packet of
/// that type (every optional part present). Expectations check a matcher's
/// fields against it, so the fields a matcher may name come from `packet()`
/// itself and cannot drift from what the trace prints. `None` for a type
/// the trace cannot show.
pub fn shape(type_name: &str, level: u8) -> Option<Map<String, Value>> {
    widest(type_name, level).map(|p| packet_at(&p, level))
}

fn widest(type_name: &str, level: u8) -> Option<Packet> {
    let id = 1;
    // Under 3.1.1 the property lists stay empty; `packet_at` shows none.
    let all = |place| match level {
        LEVEL_V311 => Properties::default(),
        _ => properties::widest(place),
    };
    let ack = |packet_id| Ack {
        packet_id,
        reason: 0,
        properties: all(Place::Ack),
    };
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
                properties: all(Place::Will),
            }),
            username: Some(String::new()),
            password: Some(Bytes::new()),
            properties: all(Place::Connect),
        }),
        "CONNACK" => Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0,
            properties: all(Place::ConnAck),
        }),
        "PUBLISH" => Packet::Publish(Publish {
            topic: String::new(),
            payload: Bytes::new(),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
            packet_id: id,
            properties: all(Place::Publish),
        }),
        "PUBACK" => Packet::PubAck(ack(id)),
        "PUBREC" => Packet::PubRec(ack(id)),
        "PUBREL" => Packet::PubRel(ack(id)),
        "PUBCOMP" => Packet::PubComp(ack(id)),
        "SUBSCRIBE" => Packet::Subscribe(Subscribe {
            packet_id: id,
            filters: vec![SubscribeFilter::new(String::new(), QoS::AtMostOnce)],
            properties: all(Place::Subscribe),
        }),
        "SUBACK" => Packet::SubAck(SubAck {
            packet_id: id,
            codes: vec![0],
            properties: all(Place::SubAck),
        }),
        "UNSUBSCRIBE" => Packet::Unsubscribe(Unsubscribe {
            packet_id: id,
            filters: vec![String::new()],
            properties: all(Place::Unsubscribe),
        }),
        "UNSUBACK" => Packet::UnsubAck(UnsubAck {
            packet_id: id,
            codes: vec![0],
            properties: all(Place::UnsubAck),
        }),
        "PINGREQ" => Packet::PingReq,
        "PINGRESP" => Packet::PingResp,
        "DISCONNECT" => Packet::Disconnect(Disconnect {
            reason: (level != LEVEL_V311).then_some(0),
            properties: all(Place::Disconnect),
        }),
        "AUTH" if level != LEVEL_V311 => Packet::Auth(Auth {
            reason: 0,
            properties: all(Place::Auth),
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{LEVEL_V5, Property};

    #[test]
    fn reason_and_properties_show_under_5_0_only() {
        let ack = Packet::PubAck(Ack {
            packet_id: 3,
            reason: 0x10,
            properties: Properties(vec![Property::ReasonString("none".into())]),
        });
        assert_eq!(
            Value::Object(packet_at(&ack, LEVEL_V5)),
            json!({"type": "PUBACK", "packet_id": 3, "reason": 16, "properties": {"reason_string": "none"}})
        );
        let ack = Packet::PubAck(Ack::new(3));
        assert_eq!(
            Value::Object(packet_at(&ack, LEVEL_V311)),
            json!({"type": "PUBACK", "packet_id": 3})
        );
        let v311 = shape("PUBLISH", LEVEL_V311).unwrap_or_default();
        let v5 = shape("PUBLISH", LEVEL_V5).unwrap_or_default();
        assert!(!v311.contains_key("properties"));
        assert_eq!(v5["properties"]["subscription_identifier"], json!([1]));
        assert!(shape("AUTH", LEVEL_V311).is_none() && shape("AUTH", LEVEL_V5).is_some());
    }
}
