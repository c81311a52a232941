//! MQTT 5.0 properties in the trace's and the scenario file's own form: a
//! map keyed by the spec's property names in snake_case, with the values on
//! the wire (intervals in seconds, binary data as `{hex: ...}`). Properties
//! that may repeat are lists: `user_properties` is a list of `[name, value]`
//! pairs, and a PUBLISH's `subscription_identifier` is a list.
//!
//! One table ([`TABLE`]) says which property may stand where (5.0 section
//! 2.2.2.2); the trace's shapes, the matcher check and the scenario parser
//! all read it, so they cannot disagree.

use bytes::Bytes;
use serde_json::{Map, Value, json};

pub use crate::wire::{Place, SUBSCRIPTION_ID_MAX};
use crate::wire::{Properties, Property, property_allowed};

/// The trace's and the scenario file's words for a place.
impl Place {
    /// The place's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Place::Connect => "CONNECT",
            Place::Will => "the will",
            Place::ConnAck => "CONNACK",
            Place::Publish => "PUBLISH",
            Place::Ack => "PUBACK, PUBREC, PUBREL and PUBCOMP",
            Place::Subscribe => "SUBSCRIBE",
            Place::SubAck => "SUBACK",
            Place::Unsubscribe => "UNSUBSCRIBE",
            Place::UnsubAck => "UNSUBACK",
            Place::Disconnect => "DISCONNECT",
            Place::Auth => "AUTH",
        }
    }
}

/// What kind of value a property has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A byte that is 0 or 1.
    Flag,
    U16,
    /// A two-byte integer where 0 is a Protocol Error.
    NonZeroU16,
    U32,
    /// A four-byte integer where 0 is a Protocol Error.
    NonZeroU32,
    /// A variable byte integer from 1 to [`SUBSCRIPTION_ID_MAX`].
    SubscriptionId,
    Text,
    Binary,
    /// A list of name and value pairs.
    Pairs,
}

use Place::*;

/// Every property: its name and kind, and its identifier byte, by which
/// [`property_allowed`] says where the spec allows it.
const TABLE: &[(&str, Kind, u8)] = &[
    ("payload_format_indicator", Kind::Flag, 0x01),
    ("message_expiry_interval", Kind::U32, 0x02),
    ("content_type", Kind::Text, 0x03),
    ("response_topic", Kind::Text, 0x08),
    ("correlation_data", Kind::Binary, 0x09),
    ("subscription_identifier", Kind::SubscriptionId, 0x0b),
    ("session_expiry_interval", Kind::U32, 0x11),
    ("assigned_client_identifier", Kind::Text, 0x12),
    ("server_keep_alive", Kind::U16, 0x13),
    ("authentication_method", Kind::Text, 0x15),
    ("authentication_data", Kind::Binary, 0x16),
    ("request_problem_information", Kind::Flag, 0x17),
    ("will_delay_interval", Kind::U32, 0x18),
    ("request_response_information", Kind::Flag, 0x19),
    ("response_information", Kind::Text, 0x1a),
    ("server_reference", Kind::Text, 0x1c),
    ("reason_string", Kind::Text, 0x1f),
    ("receive_maximum", Kind::NonZeroU16, 0x21),
    ("topic_alias_maximum", Kind::U16, 0x22),
    ("topic_alias", Kind::NonZeroU16, 0x23),
    ("maximum_qos", Kind::Flag, 0x24),
    ("retain_available", Kind::Flag, 0x25),
    ("user_properties", Kind::Pairs, 0x26),
    ("maximum_packet_size", Kind::NonZeroU32, 0x27),
    ("wildcard_subscription_available", Kind::Flag, 0x28),
    ("subscription_identifiers_available", Kind::Flag, 0x29),
    ("shared_subscription_available", Kind::Flag, 0x2a),
];

/// A property's name in snake_case, as the trace and scenarios write it.
pub fn key(p: &Property) -> &'static str {
    use Property as P;
    match p {
        P::PayloadFormatIndicator(_) => "payload_format_indicator",
        P::MessageExpiryInterval(_) => "message_expiry_interval",
        P::ContentType(_) => "content_type",
        P::ResponseTopic(_) => "response_topic",
        P::CorrelationData(_) => "correlation_data",
        P::SubscriptionIdentifier(_) => "subscription_identifier",
        P::SessionExpiryInterval(_) => "session_expiry_interval",
        P::AssignedClientIdentifier(_) => "assigned_client_identifier",
        P::ServerKeepAlive(_) => "server_keep_alive",
        P::AuthenticationMethod(_) => "authentication_method",
        P::AuthenticationData(_) => "authentication_data",
        P::RequestProblemInformation(_) => "request_problem_information",
        P::WillDelayInterval(_) => "will_delay_interval",
        P::RequestResponseInformation(_) => "request_response_information",
        P::ResponseInformation(_) => "response_information",
        P::ServerReference(_) => "server_reference",
        P::ReasonString(_) => "reason_string",
        P::ReceiveMaximum(_) => "receive_maximum",
        P::TopicAliasMaximum(_) => "topic_alias_maximum",
        P::TopicAlias(_) => "topic_alias",
        P::MaximumQoS(_) => "maximum_qos",
        P::RetainAvailable(_) => "retain_available",
        P::UserProperty(..) => "user_properties",
        P::MaximumPacketSize(_) => "maximum_packet_size",
        P::WildcardSubscriptionAvailable(_) => "wildcard_subscription_available",
        P::SubscriptionIdentifierAvailable(_) => "subscription_identifiers_available",
        P::SharedSubscriptionAvailable(_) => "shared_subscription_available",
    }
}

/// The properties as a map. A PUBLISH (`place` Publish) lists its
/// subscription identifiers; elsewhere there is at most one. Properties
/// that the spec forbids more than once but that came twice anyway keep
/// the last value: the codec refuses such packets, so only a packet the
/// harness built itself can show it.
pub fn to_json(props: &Properties, place: Place) -> Map<String, Value> {
    let mut m = Map::new();
    for p in props {
        let k = key(p);
        let v = value(p);
        let listed = k == "user_properties" || (k == "subscription_identifier" && place == Publish);
        if listed {
            if let Some(Value::Array(list)) = m.get_mut(k) {
                list.push(v);
            } else {
                m.insert(k.into(), Value::Array(vec![v]));
            }
        } else {
            m.insert(k.into(), v);
        }
    }
    m
}

fn value(p: &Property) -> Value {
    use Property as P;
    match p {
        P::PayloadFormatIndicator(v)
        | P::RequestProblemInformation(v)
        | P::RequestResponseInformation(v)
        | P::MaximumQoS(v)
        | P::RetainAvailable(v)
        | P::WildcardSubscriptionAvailable(v)
        | P::SubscriptionIdentifierAvailable(v)
        | P::SharedSubscriptionAvailable(v) => (*v).into(),
        P::ServerKeepAlive(v)
        | P::ReceiveMaximum(v)
        | P::TopicAliasMaximum(v)
        | P::TopicAlias(v) => (*v).into(),
        P::MessageExpiryInterval(v)
        | P::SessionExpiryInterval(v)
        | P::WillDelayInterval(v)
        | P::MaximumPacketSize(v)
        | P::SubscriptionIdentifier(v) => (*v).into(),
        P::ContentType(s)
        | P::ResponseTopic(s)
        | P::AssignedClientIdentifier(s)
        | P::AuthenticationMethod(s)
        | P::ResponseInformation(s)
        | P::ServerReference(s)
        | P::ReasonString(s) => s.clone().into(),
        P::CorrelationData(b) | P::AuthenticationData(b) => json!({"hex": super::hex::encode(b)}),
        P::UserProperty(k, v) => json!([k, v]),
    }
}

/// The names of the properties the spec allows in `place`, in table order.
pub fn names(place: Place) -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|(_, _, id)| property_allowed(*id, place))
        .map(|(name, _, _)| *name)
        .collect()
}

/// One property of every kind the spec allows in `place`, with a value of
/// its type (two subscription identifiers in PUBLISH, to show they are a
/// list): what the trace's shapes are built from.
pub fn widest(place: Place) -> Properties {
    let mut out = Properties::default();
    for (name, kind, id) in TABLE {
        if !property_allowed(*id, place) {
            continue;
        }
        let sample = match kind {
            Kind::Flag | Kind::U16 | Kind::NonZeroU16 | Kind::U32 | Kind::NonZeroU32 => json!(1),
            Kind::SubscriptionId if place == Publish => json!([1]),
            Kind::SubscriptionId => json!(1),
            Kind::Text => json!(""),
            Kind::Binary => json!({"hex": ""}),
            Kind::Pairs => json!([["", ""]]),
        };
        let mut one = Map::new();
        one.insert((*name).into(), sample);
        // The samples are valid by construction.
        if let Ok(p) = from_json(&one, place) {
            out.0.extend(p.0);
        }
    }
    out
}

/// What is wrong with one property of a scenario's map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadProperty {
    /// The property's name as written.
    pub key: String,
    /// Whether the name itself is wrong (unknown, or not allowed here)
    /// rather than its value.
    pub at_key: bool,
    pub message: String,
}

/// Reads a scenario's property map for `place`, in the order written. A
/// property the spec does not allow there, or a value out of its range, is
/// an error: such a packet could not be sent as the file says.
pub fn from_json(map: &Map<String, Value>, place: Place) -> Result<Properties, BadProperty> {
    let mut out = Properties::default();
    for (k, v) in map {
        let bad = |at_key: bool, message: String| BadProperty {
            key: k.clone(),
            at_key,
            message,
        };
        let Some((name, kind, id)) = TABLE.iter().find(|(n, ..)| n == k) else {
            let names: Vec<String> = TABLE
                .iter()
                .filter(|(_, _, id)| property_allowed(*id, place))
                .map(|(n, ..)| format!("`{n}`"))
                .collect();
            return Err(bad(
                true,
                format!(
                    "unknown property `{k}` in {}, expected one of {}",
                    place.name(),
                    names.join(", ")
                ),
            ));
        };
        if !property_allowed(*id, place) {
            let there: Vec<&str> = Place::ALL
                .into_iter()
                .filter(|p| property_allowed(*id, *p))
                .map(|p| p.name())
                .collect();
            return Err(bad(
                true,
                format!(
                    "property `{name}` is not allowed in {} (the spec allows it in {})",
                    place.name(),
                    there.join(", ")
                ),
            ));
        }
        let listed = *kind == Kind::Pairs || (*kind == Kind::SubscriptionId && place == Publish);
        let items: Vec<&Value> = match (listed, v) {
            (true, Value::Array(list)) if *kind == Kind::Pairs => list.iter().collect(),
            (true, Value::Array(list)) => list.iter().collect(),
            (true, one) if *kind == Kind::SubscriptionId => vec![one],
            (true, _) => {
                return Err(bad(
                    false,
                    format!("`{name}` is a list of `[name, value]` pairs, e.g. [[site, lab]]"),
                ));
            }
            (false, one) => vec![one],
        };
        for item in items {
            let p = one(name, *kind, item).map_err(|m| bad(false, m))?;
            out.push(p);
        }
    }
    Ok(out)
}

/// One property's value, checked against its kind.
fn one(name: &str, kind: Kind, v: &Value) -> Result<Property, String> {
    let number = |max: u64, min: u64| -> Result<u64, String> {
        match v.as_u64() {
            Some(n) if n >= min && n <= max => Ok(n),
            _ => Err(format!(
                "`{name}` must be a whole number from {min} to {max}, got {v}"
            )),
        }
    };
    let text = || -> Result<String, String> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("`{name}` must be text, got {v}"))
    };
    Ok(match kind {
        Kind::Flag => {
            let n = number(1, 0)? as u8;
            flag(name, n)
        }
        Kind::U16 | Kind::NonZeroU16 => {
            let min = u64::from(kind == Kind::NonZeroU16);
            let n = number(u64::from(u16::MAX), min)? as u16;
            match name {
                "server_keep_alive" => Property::ServerKeepAlive(n),
                "receive_maximum" => Property::ReceiveMaximum(n),
                "topic_alias_maximum" => Property::TopicAliasMaximum(n),
                _ => Property::TopicAlias(n),
            }
        }
        Kind::U32 | Kind::NonZeroU32 => {
            let min = u64::from(kind == Kind::NonZeroU32);
            let n = number(u64::from(u32::MAX), min)? as u32;
            match name {
                "message_expiry_interval" => Property::MessageExpiryInterval(n),
                "session_expiry_interval" => Property::SessionExpiryInterval(n),
                "will_delay_interval" => Property::WillDelayInterval(n),
                _ => Property::MaximumPacketSize(n),
            }
        }
        Kind::SubscriptionId => {
            Property::SubscriptionIdentifier(number(u64::from(SUBSCRIPTION_ID_MAX), 1)? as u32)
        }
        Kind::Text => {
            let s = text()?;
            match name {
                "content_type" => Property::ContentType(s),
                "response_topic" => Property::ResponseTopic(s),
                "assigned_client_identifier" => Property::AssignedClientIdentifier(s),
                "authentication_method" => Property::AuthenticationMethod(s),
                "response_information" => Property::ResponseInformation(s),
                "server_reference" => Property::ServerReference(s),
                _ => Property::ReasonString(s),
            }
        }
        Kind::Binary => {
            let hex = v
                .as_object()
                .filter(|m| m.len() == 1)
                .and_then(|m| m.get("hex"))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("`{name}` is binary data: write it as {{hex: \"0a0b\"}}"))?;
            let bytes = Bytes::from(super::hex::decode(hex).map_err(|e| format!("`{name}`: {e}"))?);
            match name {
                "correlation_data" => Property::CorrelationData(bytes),
                _ => Property::AuthenticationData(bytes),
            }
        }
        Kind::Pairs => match v.as_array().map(Vec::as_slice) {
            Some([Value::String(k), val]) => {
                let val = match val {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(format!("a user property's value must be text, got {val}")),
                };
                Property::UserProperty(k.clone(), val)
            }
            _ => {
                return Err(format!(
                    "each of `{name}` is a `[name, value]` pair of texts, got {v}"
                ));
            }
        },
    })
}

fn flag(name: &str, n: u8) -> Property {
    match name {
        "payload_format_indicator" => Property::PayloadFormatIndicator(n),
        "request_problem_information" => Property::RequestProblemInformation(n),
        "request_response_information" => Property::RequestResponseInformation(n),
        "maximum_qos" => Property::MaximumQoS(n),
        "retain_available" => Property::RetainAvailable(n),
        "wildcard_subscription_available" => Property::WildcardSubscriptionAvailable(n),
        "subscription_identifiers_available" => Property::SubscriptionIdentifierAvailable(n),
        _ => Property::SharedSubscriptionAvailable(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_round_trips_through_its_map_form() {
        for place in Place::ALL {
            let props = widest(place);
            let map = to_json(&props, place);
            assert_eq!(from_json(&map, place), Ok(props.clone()), "{place:?}");
            for p in &props {
                // The name and the identifier byte name the same property.
                let entry = TABLE.iter().find(|(n, ..)| *n == key(p));
                assert_eq!(
                    entry.map(|e| e.2),
                    Some(crate::wire::property_id(p)),
                    "{}",
                    key(p)
                );
            }
        }
    }

    #[test]
    fn the_table_names_every_property_once() {
        // 27 properties in 5.0 section 2.2.2.2, user property included.
        assert_eq!(TABLE.len(), 27);
        for (i, (n, ..)) in TABLE.iter().enumerate() {
            assert!(TABLE[i + 1..].iter().all(|(m, ..)| m != n), "{n}");
        }
    }

    #[test]
    fn repeatable_properties_are_lists() {
        let props = Properties(vec![
            Property::UserProperty("a".into(), "1".into()),
            Property::SubscriptionIdentifier(3),
            Property::UserProperty("a".into(), "2".into()),
            Property::SubscriptionIdentifier(9),
        ]);
        let m = to_json(&props, Publish);
        assert_eq!(m["user_properties"], json!([["a", "1"], ["a", "2"]]));
        assert_eq!(m["subscription_identifier"], json!([3, 9]));
    }

    #[test]
    fn a_property_out_of_place_or_range_is_refused() {
        let map = |v: Value| v.as_object().cloned().unwrap_or_default();
        let e = from_json(&map(json!({"topic_alias": 3})), Subscribe).unwrap_err();
        assert!(
            e.at_key && e.message.contains("not allowed in SUBSCRIBE"),
            "{e:?}"
        );
        let e = from_json(&map(json!({"topic_alias": 0})), Publish).unwrap_err();
        assert!(!e.at_key && e.message.contains("from 1 to 65535"), "{e:?}");
        let e = from_json(&map(json!({"payload_format_indicator": 2})), Publish).unwrap_err();
        assert!(e.message.contains("from 0 to 1"), "{e:?}");
        let e = from_json(&map(json!({"correlation_data": "ab"})), Publish).unwrap_err();
        assert!(e.message.contains("{hex:"), "{e:?}");
        let e = from_json(&map(json!({"colour": 1})), Publish).unwrap_err();
        assert!(e.message.starts_with("unknown property `colour`"), "{e:?}");
    }
}
