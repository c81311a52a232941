//! Small value types of the format, each checked inside its own visitor so
//! that serde_yaml attaches the value's own line and column to the error.

use std::fmt;
use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::model::Protocol;

/// Longest host name. Host names become turmoil host names and appear in
/// every trace line, so they stay short.
pub const MAX_HOST_NAME_LEN: usize = 63;

/// The word that stands for every client host in a list of hosts.
pub const ALL_CLIENTS: &str = "clients";

/// Checks a host name's spelling (not whether the host exists).
pub fn check_host_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a host name cannot be empty".to_string());
    }
    if name.len() > MAX_HOST_NAME_LEN {
        return Err(format!(
            "host name `{name}` is longer than {MAX_HOST_NAME_LEN} characters"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "invalid host name `{name}`: use lowercase letters, digits, `-` and `_`"
        ));
    }
    if name == ALL_CLIENTS {
        return Err(format!(
            "`{ALL_CLIENTS}` cannot be a host name: it stands for every client host"
        ));
    }
    Ok(())
}

/// QoS 0, 1 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Qos(pub u8);

impl<'de> Deserialize<'de> for Qos {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Qos;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a QoS: 0, 1 or 2")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Qos, E> {
                match u8::try_from(v) {
                    Ok(q) if q <= 2 => Ok(Qos(q)),
                    _ => Err(E::custom(format!("invalid QoS {v}, expected 0, 1 or 2"))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Qos, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom(format!("invalid QoS {v}, expected 0, 1 or 2"))),
                }
            }
        }
        d.deserialize_u64(V)
    }
}

/// `protocol`: YAML reads `5.0` as a float and `3.1.1` as a string;
/// serde_yaml gives both to `visit_str` as written, so both forms work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolValue(pub Protocol);

impl<'de> Deserialize<'de> for ProtocolValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ProtocolValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a protocol version: 3.1.1 or 5.0")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ProtocolValue, E> {
                match v.trim() {
                    "3.1.1" => Ok(ProtocolValue(Protocol::V311)),
                    "5.0" | "5" => Ok(ProtocolValue(Protocol::V5)),
                    other => Err(E::custom(format!(
                        "unknown protocol `{other}`, expected 3.1.1 or 5.0"
                    ))),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ProtocolValue, E> {
                if v == 5.0 {
                    Ok(ProtocolValue(Protocol::V5))
                } else {
                    Err(E::custom(format!(
                        "unknown protocol `{v}`, expected 3.1.1 or 5.0"
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ProtocolValue, E> {
                self.visit_f64(v as f64)
            }
        }
        d.deserialize_str(V)
    }
}

/// Which names a map's keys must have.
pub trait KeyRule {
    const WHAT: &'static str;
    fn check(key: &str) -> Result<(), String>;
}

/// Keys are host names.
#[derive(Debug, Clone)]
pub struct HostKeys;
impl KeyRule for HostKeys {
    const WHAT: &'static str = "host";
    fn check(key: &str) -> Result<(), String> {
        check_host_name(key)
    }
}

/// Keys are any string.
#[derive(Debug, Clone)]
pub struct AnyKeys;
impl KeyRule for AnyKeys {
    const WHAT: &'static str = "key";
    fn check(_key: &str) -> Result<(), String> {
        Ok(())
    }
}

/// A YAML map read in file order, with duplicate keys and misspelled keys
/// reported at the key itself.
#[derive(Debug, Clone)]
pub struct OrderedMap<V, K = AnyKeys> {
    pub entries: IndexMap<String, V>,
    rule: PhantomData<K>,
}

impl<V, K> Default for OrderedMap<V, K> {
    fn default() -> Self {
        OrderedMap {
            entries: IndexMap::new(),
            rule: PhantomData,
        }
    }
}

struct KeySeed<'a, V, K> {
    seen: &'a IndexMap<String, V>,
    rule: PhantomData<K>,
}

impl<'de, V, K: KeyRule> DeserializeSeed<'de> for KeySeed<'_, V, K> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl<V, K: KeyRule> Visitor<'_> for KeySeed<'_, V, K> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} name", K::WHAT)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        K::check(v).map_err(E::custom)?;
        if self.seen.contains_key(v) {
            return Err(E::custom(format!("duplicate {} `{v}`", K::WHAT)));
        }
        Ok(v.to_string())
    }
}

impl<'de, V: Deserialize<'de>, K: KeyRule> Deserialize<'de> for OrderedMap<V, K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<V, K>(PhantomData<(V, K)>);
        impl<'de, V: Deserialize<'de>, K: KeyRule> Visitor<'de> for Vis<V, K> {
            type Value = OrderedMap<V, K>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a map from {} names to their options", K::WHAT)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = OrderedMap::<V, K>::default();
                while let Some(key) = map.next_key_seed(KeySeed::<V, K> {
                    seen: &out.entries,
                    rule: PhantomData,
                })? {
                    let value = map.next_value::<V>()?;
                    out.entries.insert(key, value);
                }
                Ok(out)
            }
        }
        d.deserialize_map(Vis(PhantomData))
    }
}

/// For an option whose explicit `null` differs from its absence: with
/// `#[serde(default, deserialize_with = "present")]`, an absent key is
/// `None` and `key: ~` is `Some(None)`.
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// An action that takes no options: `drop: {}` or `drop:`.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// The packet type names a `recv`/`send` matcher may name: MQTT 3.1.1's 14
/// and 5.0's AUTH.
pub const PACKET_TYPES: [&str; 15] = [
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

struct PacketType(String);

impl<'de> Deserialize<'de> for PacketType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PacketType;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an MQTT packet type such as PUBLISH")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PacketType, E> {
                if PACKET_TYPES.contains(&v) {
                    Ok(PacketType(v.to_string()))
                } else {
                    Err(E::custom(format!(
                        "unknown packet type `{v}`, expected one of {}",
                        PACKET_TYPES.join(", ")
                    )))
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// A matcher's fields, as JSON. `type` is checked against
/// [`PACKET_TYPES`]; `topic` and `payload` are always strings (a plain
/// `payload: 42` matches the text "42"); everything else keeps its YAML
/// type, so `reason: 0x8E` is the number 142.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub serde_json::Map<String, serde_json::Value>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of packet fields, e.g. {topic: t/1, qos: 1}")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Fields, E> {
                Ok(Fields::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = match key.as_str() {
                        "type" => serde_json::Value::String(map.next_value::<PacketType>()?.0),
                        "topic" => serde_json::Value::String(map.next_value::<String>()?),
                        "payload" => serde_json::Value::String(map.next_value::<MatcherText>()?.0),
                        _ => map.next_value::<serde_json::Value>()?,
                    };
                    if out.contains_key(&key) {
                        return Err(de::Error::custom(format!("duplicate field `{key}`")));
                    }
                    out.insert(key, value);
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A matcher payload: a string, or a plain scalar taken as its text.
struct MatcherText(String);

impl<'de> Deserialize<'de> for MatcherText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MatcherText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a payload as text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MatcherText, E> {
                Ok(MatcherText(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}
