//! A JSON Schema of the scenario format, for editors (`mqtt-sim schema`).
//!
//! It is generated from the types serde reads a file with ([`super::raw`]):
//! the derived structs give their keys, and `deny_unknown_fields` becomes
//! `additionalProperties: false`, so an editor flags a misspelt key at any
//! depth. The value types with hand-written deserializers (durations,
//! payloads, QoS, the one-action maps of steps and faults, ...) get their
//! schemas here, each saying what its visitor accepts.
//!
//! Packet matchers (`receives`, `connack`, `recv`, `send`) are built from
//! [`crate::packet_json::shape`], the function the loader checks them
//! against: a matcher may name the fields the trace shows for its packet
//! type, under either protocol version (which one applies depends on the
//! client, a cross-reference the schema does not follow).
//!
//! What the schema leaves to `mqtt-sim validate`: cross-references (does a
//! host exist, does an option fit the protocol), the limits inside a value
//! (a duration's 24h cap and microsecond resolution, 65535s for
//! keep-alive, ranges whose ends are in order) and the host limit. So the
//! schema accepts a superset of the valid files, with one deliberate
//! exception: an empty value (`topic:` or `~`) where text is required,
//! which serde_yaml would read as the text "" or "~" (see
//! [`PlainScalarsAreText`]). `tests/schema.rs` checks every scenario and
//! docs example against it.

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};

use super::duration::{Dur, FixedDur, Secs16, Window};
use super::groups::{ClientKeys, PLACEHOLDER};
use super::payload::{Hex, MAX_FILLER_BYTES, RawPayload};
use super::raw::{
    ActionSet, RawAction, RawConnect, RawDisconnect, RawFaultAction, RawHeal, RawLatencyFault,
    RawMutant, RawOneWay, RawPartition, RawPublish, RawScenario, RawSend, RawSessionExpiry,
    RawSubscribe, RawUnsubscribe, RawUnsubscribeFilter, RawUnsubscribeItem, Timed,
};
use super::values::{
    ALL_CLIENTS, AnyKeys, Empty, Fields, HostKeys, KeyRule, MAX_HOST_NAME_LEN, OrderedMap,
    PACKET_TYPES, ProtocolValue, Qos,
};
use crate::broker::Mutant;
use crate::packet_json::properties::{self, Place};
use crate::wire::{LEVEL_V5, LEVEL_V311};

/// The schema's title, shown by editors.
const TITLE: &str = "mqtt-sim scenario";

/// The scenario format's schema (JSON Schema draft 7, which every
/// yaml-language-server release understands).
pub fn schema() -> Schema {
    let mut schema = SchemaSettings::draft07()
        .with_transform(PlainScalarsAreText)
        .into_generator()
        .into_root_schema_for::<RawScenario>();
    schema.insert("title".into(), TITLE.into());
    if let Some(defs) = schema.get_mut("definitions").and_then(Value::as_object_mut) {
        for (name, def) in operator_defs() {
            defs.insert(name.into(), def);
        }
    }
    schema
}

/// [`schema`] as pretty-printed JSON with a final newline, as
/// `mqtt-sim schema` prints it and docs/scenario.schema.json holds it.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// serde_yaml gives a string field any plain scalar as it is written, so
/// `client_id: 123` is the text "123" and `topic: true` the text "true".
/// JSON sees numbers and booleans there; so every plain `type: string`
/// (one without a pattern or a list of values, which say more) also takes
/// them. Null stays where it was, on optional fields only: an empty value
/// where text is required is a mistake the editor should show.
#[derive(Clone)]
struct PlainScalarsAreText;

impl Transform for PlainScalarsAreText {
    fn transform(&mut self, schema: &mut Schema) {
        transform_subschemas(self, schema);
        let Some(obj) = schema.as_object_mut() else {
            return;
        };
        let constrained = ["pattern", "enum", "const", "format"]
            .iter()
            .any(|k| obj.contains_key(*k));
        if constrained {
            return;
        }
        let widened = match obj.get("type") {
            Some(Value::String(t)) if t == "string" => json!(["string", "number", "boolean"]),
            Some(Value::Array(ts))
                if ts.len() == 2
                    && ts.contains(&"string".into())
                    && ts.contains(&"null".into()) =>
            {
                json!(["string", "number", "boolean", "null"])
            }
            _ => return,
        };
        obj.insert("type".into(), widened);
    }
}

/// One duration: a number and a unit (`250ms`, `1.5s`, `2m`, `1h`) or a
/// bare `0`, spaces around it allowed. The grammar of
/// [`super::duration::parse_duration`]; a unit test keeps them in step.
const DURATION: &str = r"\s*(0|[0-9]+(\.[0-9]+)?(ms|s|m|h))\s*";

fn fixed_duration(description: &str) -> Schema {
    json_schema!({
        "description": description,
        "anyOf": [
            { "type": "string", "pattern": format!("^{DURATION}$") },
            { "type": "integer", "const": 0 }
        ]
    })
}

impl JsonSchema for FixedDur {
    fn schema_name() -> Cow<'static, str> {
        "FixedDuration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        fixed_duration(
            "A duration such as `2s`, `250ms`, `1.5s`, `2m`, `1h`, or `0`; at most 24h, \
             in whole microseconds. No range: this value is fixed for the run.",
        )
    }
}

impl JsonSchema for super::duration::Secs32 {
    fn schema_name() -> Cow<'static, str> {
        "WireSeconds32".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        fixed_duration(
            "A duration in whole seconds such as `300s`, `48h` or `0`, at most 4294967295s \
             (the four-byte count of seconds the wire carries). No range.",
        )
    }
}

impl JsonSchema for RawSessionExpiry {
    fn schema_name() -> Cow<'static, str> {
        "SessionExpiry".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "MQTT 5.0 session expiry: a whole number of seconds written as a \
                duration (`300s`, `1h`, `0`), or `never` (0xFFFFFFFF).",
            "anyOf": [
                { "type": "string", "pattern": format!("^{DURATION}$") },
                { "type": "integer", "const": 0 },
                { "const": "never" }
            ]
        })
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration such as `2s`, `250ms`, `1.5s`, `2m`, `1h`, or `0`, \
                or a range `1s..3s` drawn from at run time; at most 24h, in whole microseconds.",
            "anyOf": [
                { "type": "string", "pattern": format!("^{DURATION}(\\.\\.{DURATION})?$") },
                { "type": "integer", "const": 0 }
            ]
        })
    }
}

impl JsonSchema for Secs16 {
    fn schema_name() -> Cow<'static, str> {
        "Seconds16".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        fixed_duration(
            "A whole number of seconds written as a duration, e.g. `60s` or `2m`, or `0`; \
             at most 65535s, the largest value the wire carries.",
        )
    }
}

impl JsonSchema for Window {
    fn schema_name() -> Cow<'static, str> {
        "Window".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A window of simulated time, two durations `[start, end]`, both included.",
            "type": "array",
            "items": g.subschema_for::<FixedDur>(),
            "minItems": 2,
            "maxItems": 2
        })
    }
}

impl JsonSchema for Hex {
    fn schema_name() -> Cow<'static, str> {
        "Hex".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Bytes as hex digits, two per byte, spaces allowed between them: `\"c0 00\"`.",
            // Digits alone are a YAML number (`hex: 1234`), which the
            // parser still reads as the text it is written as.
            "anyOf": [
                { "type": "string", "pattern": r"^\s*([0-9A-Fa-f]\s*[0-9A-Fa-f]\s*)*$" },
                { "type": "integer", "minimum": 0 }
            ]
        })
    }
}

impl JsonSchema for RawPayload {
    fn schema_name() -> Cow<'static, str> {
        "Payload".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A payload: text (a plain number or boolean is its text, nothing is \
                empty), `{hex: \"00ff\"}`, or `{size: N}` bytes of filler.",
            "anyOf": [
                { "type": ["string", "number", "boolean", "null"] },
                {
                    "type": "object",
                    "properties": { "hex": g.subschema_for::<Hex>() },
                    "required": ["hex"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "properties": {
                        "size": { "type": "integer", "minimum": 0, "maximum": MAX_FILLER_BYTES }
                    },
                    "required": ["size"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl JsonSchema for Qos {
    fn schema_name() -> Cow<'static, str> {
        "Qos".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "description": "QoS 0, 1 or 2.", "type": "integer", "minimum": 0, "maximum": 2 })
    }
}

impl JsonSchema for ProtocolValue {
    fn schema_name() -> Cow<'static, str> {
        "Protocol".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The MQTT version: 3.1.1 or 5.0 (also 5), quoted or not.",
            "anyOf": [
                { "type": "string", "pattern": r"^\s*(3\.1\.1|5\.0|5)\s*$" },
                { "type": "number", "const": 5 }
            ]
        })
    }
}

impl JsonSchema for Empty {
    fn schema_name() -> Cow<'static, str> {
        "Empty".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "object", "additionalProperties": false })
    }
}

impl JsonSchema for RawMutant {
    fn schema_name() -> Cow<'static, str> {
        "Mutant".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
        json_schema!({
            "description": "Test only: a planted broker bug, for `mqtt-sim mutants`.",
            "type": "string",
            "enum": names
        })
    }
}

impl JsonSchema for RawUnsubscribeItem {
    fn schema_name() -> Cow<'static, str> {
        "UnsubscribeItem".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                g.subschema_for::<String>(),
                g.subschema_for::<RawUnsubscribeFilter>()
            ]
        })
    }
}

impl JsonSchema for RawPartition {
    fn schema_name() -> Cow<'static, str> {
        "Partition".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Two hosts `[a, b]` cut both ways, or one direction `{from: a, to: b}`.",
            "anyOf": [
                g.subschema_for::<Vec<String>>(),
                g.subschema_for::<RawOneWay>()
            ]
        })
    }
}

impl JsonSchema for RawHeal {
    fn schema_name() -> Cow<'static, str> {
        "Heal".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Two hosts `[a, b]`, or `all`.",
            "anyOf": [
                { "type": "string", "const": "all" },
                g.subschema_for::<Vec<String>>()
            ]
        })
    }
}

/// What the names of a map's keys must look like, as a schema.
pub trait KeySchema: KeyRule {
    fn names() -> Option<Schema>;
}

/// A host name as [`super::values::check_host_name`] spells it; a unit test
/// keeps the two in step.
const HOST_NAME: &str = "[a-z0-9_-]";

impl KeySchema for HostKeys {
    fn names() -> Option<Schema> {
        Some(json_schema!({
            "pattern": format!("^{HOST_NAME}+$"),
            "maxLength": MAX_HOST_NAME_LEN,
            "not": { "const": ALL_CLIENTS }
        }))
    }
}

impl KeySchema for ClientKeys {
    fn names() -> Option<Schema> {
        // Placeholders such as `{i}` make a client group; the length limit
        // applies to the expanded names, so it is the loader's to check.
        Some(json_schema!({
            "description": format!("A host name, or a client group's name with {PLACEHOLDER}."),
            "pattern": format!(r"^({HOST_NAME}|\{{[A-Za-z0-9_]+\}})+$"),
            "not": { "const": ALL_CLIENTS }
        }))
    }
}

impl KeySchema for AnyKeys {
    fn names() -> Option<Schema> {
        None
    }
}

impl<V: JsonSchema, K: KeySchema> JsonSchema for OrderedMap<V, K> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut s = json_schema!({
            "type": "object",
            "additionalProperties": g.subschema_for::<V>()
        });
        if let Some(names) = K::names() {
            s.insert("propertyNames".into(), names.to_value());
        }
        s
    }
}

/// The schema of each action's value, as [`ActionSet::read`] reads it.
pub trait ActionSchemas: ActionSet {
    /// `None` for a name that is not one of [`ActionSet::NAMES`].
    fn value_schema(name: &str, g: &mut SchemaGenerator) -> Option<Schema>;
}

impl ActionSchemas for RawAction {
    fn value_schema(name: &str, g: &mut SchemaGenerator) -> Option<Schema> {
        Some(match name {
            "connect" => g.subschema_for::<Option<RawConnect>>(),
            "disconnect" => g.subschema_for::<Option<RawDisconnect>>(),
            "drop" | "silence" | "resume" => g.subschema_for::<Option<Empty>>(),
            "subscribe" => g.subschema_for::<RawSubscribe>(),
            "unsubscribe" => g.subschema_for::<RawUnsubscribe>(),
            "publish" => g.subschema_for::<RawPublish>(),
            "send" => g.subschema_for::<RawSend>(),
            _ => return None,
        })
    }
}

impl ActionSchemas for RawFaultAction {
    fn value_schema(name: &str, g: &mut SchemaGenerator) -> Option<Schema> {
        Some(match name {
            "partition" => g.subschema_for::<RawPartition>(),
            "heal" => g.subschema_for::<RawHeal>(),
            "hold" | "release" => g.subschema_for::<Vec<String>>(),
            "latency" => g.subschema_for::<RawLatencyFault>(),
            "crash" | "restart" => g.subschema_for::<String>(),
            _ => return None,
        })
    }
}

/// A step or a fault: exactly one action key, plus `at` (and for steps
/// `after` and `wait`), nothing else.
impl<A: ActionSchemas> JsonSchema for Timed<A> {
    fn schema_name() -> Cow<'static, str> {
        let mut name = A::WHAT.to_string();
        name[..1].make_ascii_uppercase();
        name.into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut properties = Map::new();
        properties.insert("at".into(), g.subschema_for::<Dur>().to_value());
        if A::STEP_TIMING {
            properties.insert("after".into(), g.subschema_for::<Dur>().to_value());
            properties.insert("wait".into(), g.subschema_for::<bool>().to_value());
        }
        let mut one_of = Vec::new();
        for name in A::NAMES {
            // A name without a schema is caught by a unit test; here it
            // still takes any value rather than none.
            let value = A::value_schema(name, g).unwrap_or_else(|| true.into());
            properties.insert((*name).into(), value.to_value());
            one_of.push(json!({ "required": [name] }));
        }
        json_schema!({
            "description": format!(
                "A {}: a map with exactly one of {}, and an optional `at`{}.",
                A::WHAT,
                A::NAMES.join(", "),
                if A::STEP_TIMING { " or `after`, and `wait`" } else { "" }
            ),
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
            "oneOf": one_of
        })
    }
}

/// Protocol levels a matcher's fields may come from.
const LEVELS: [u8; 2] = [LEVEL_V311, LEVEL_V5];

/// The schema of a value like `sample` (a value of the trace's shape): the
/// kinds [`super::matcher`] accepts as comparable with it.
fn like(sample: &Value) -> Value {
    let plain = match sample {
        Value::Object(m) => return object_like(m, &[]),
        Value::Array(items) => match items.first() {
            Some(first) => json!({ "type": "array", "items": like(first) }),
            None => json!({ "type": "array" }),
        },
        Value::String(_) => json!({ "type": "string" }),
        Value::Number(_) => json!({ "type": "number" }),
        Value::Bool(_) => json!({ "type": "boolean" }),
        Value::Null => return json!(false),
    };
    or_operators(plain, sample)
}

/// A field's schema `plain`, or an operator map fitting its trace value
/// `sample` (see [`crate::scenario::ops`]): `present` on any field, the
/// comparisons on numbers only. Whether the field may be absent at all is
/// the loader's to check. The maps are [`operator_defs`], by reference,
/// since every field of every matcher takes one.
fn or_operators(plain: Value, sample: &Value) -> Value {
    let def = if sample.is_number() {
        "NumberOperators"
    } else {
        "Presence"
    };
    json!({ "anyOf": [plain, { "$ref": format!("#/definitions/{def}") }] })
}

/// The definitions [`or_operators`] refers to: their names and schemas.
fn operator_defs() -> [(&'static str, Value); 2] {
    let present = json!({ "type": "boolean" });
    let mut numbers = Map::new();
    numbers.insert("present".into(), present.clone());
    for op in crate::scenario::ops::COMPARISONS {
        let arg = match op {
            "between" => json!({
                "type": "array",
                "items": { "type": "number" },
                "minItems": 2,
                "maxItems": 2
            }),
            _ => json!({ "type": "number" }),
        };
        numbers.insert(op.into(), arg);
    }
    let map = |description: &str, properties: Value| {
        json!({
            "description": description,
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
            "minProperties": 1
        })
    };
    [
        (
            "Presence",
            map(
                "`present: true` (the field is there, with any value) or `false` (it is absent).",
                json!({ "present": present }),
            ),
        ),
        (
            "NumberOperators",
            map(
                "Presence and comparisons on a number: lt, le, gt, ge, ne, between [low, high] (inclusive); every one given must hold.",
                Value::Object(numbers),
            ),
        ),
    ]
}

/// `topic` and `payload` take any plain scalar as their text
/// ([`Fields`]); the other fields keep their YAML type.
const TEXT_FIELDS: [&str; 2] = ["topic", "payload"];

fn object_like(shape: &Map<String, Value>, skip: &[&str]) -> Value {
    let properties: Map<String, Value> = shape
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            let schema = match v {
                Value::String(_) if TEXT_FIELDS.contains(&k.as_str()) => {
                    or_operators(json!({ "type": ["string", "number", "boolean"] }), v)
                }
                _ => like(v),
            };
            (k.clone(), schema)
        })
        .collect();
    json!({ "type": "object", "properties": properties, "additionalProperties": false })
}

/// The distinct schemas of `type_name`'s shape over [`LEVELS`], fields in
/// `skip` left out.
fn shapes(type_name: &str, skip: &[&str]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for level in LEVELS {
        if let Some(shape) = crate::packet_json::shape(type_name, level) {
            let mut s = object_like(&shape, skip);
            // `first: true`: the first packet in its direction on its
            // connection.
            if let Some(p) = s.get_mut("properties").and_then(Value::as_object_mut) {
                p.insert("first".into(), json!({ "type": "boolean" }));
            }
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// The schemas as one: `false` for none (a type the trace never shows,
/// which the loader refuses too).
fn one_or_any_of(mut schemas: Vec<Value>) -> Value {
    match schemas.len() {
        0 => Value::Bool(false),
        1 => schemas.remove(0),
        _ => json!({ "anyOf": schemas }),
    }
}

/// A matcher that always matches `type_name` (`receives`, `connack`):
/// the type's fields without `type`; empty or `~` matches any such packet.
fn typed_matcher(type_name: &str, description: &str) -> Schema {
    let fields = one_or_any_of(shapes(type_name, &["type"]));
    json_schema!({
        "description": description,
        "anyOf": [fields, { "type": "null" }]
    })
}

/// `receives`: a PUBLISH the client receives.
pub fn receives(_: &mut SchemaGenerator) -> Schema {
    typed_matcher(
        "PUBLISH",
        "A PUBLISH the client receives, by the fields it must have.",
    )
}

/// `connack`: a CONNACK the client receives.
pub fn connack(_: &mut SchemaGenerator) -> Schema {
    typed_matcher(
        "CONNACK",
        "A CONNACK the client receives, by the fields it must have.",
    )
}

/// `recv` and `send`: any packet, by its `type` and fields.
pub fn any_packet(_: &mut SchemaGenerator) -> Schema {
    let cases: Vec<Value> = PACKET_TYPES
        .iter()
        .map(|ty| {
            json!({
                "if": { "properties": { "type": { "const": ty } } },
                "then": one_or_any_of(shapes(ty, &[]))
            })
        })
        .collect();
    json_schema!({
        "description": "A packet by its `type` and the fields it must have, as the trace shows them.",
        "type": "object",
        "properties": { "type": { "type": "string", "enum": PACKET_TYPES } },
        "required": ["type"],
        "allOf": cases
    })
}

/// A `properties:` map of one place: the spec's property names, no others.
/// Their values are checked when the scenario loads.
fn properties_of(place: Place) -> Schema {
    let names: serde_json::Map<String, Value> = properties::names(place)
        .into_iter()
        .map(|n| (n.to_string(), json!({})))
        .collect();
    json_schema!({
        "description": format!(
            "MQTT 5.0 properties of {}, by the spec's names in snake_case, with wire values.",
            place.name()
        ),
        "type": ["object", "null"],
        "properties": names,
        "additionalProperties": false
    })
}

pub fn will_properties(_: &mut SchemaGenerator) -> Schema {
    properties_of(Place::Will)
}

pub fn publish_properties(_: &mut SchemaGenerator) -> Schema {
    properties_of(Place::Publish)
}

pub fn subscribe_properties(_: &mut SchemaGenerator) -> Schema {
    properties_of(Place::Subscribe)
}

pub fn disconnect_properties(_: &mut SchemaGenerator) -> Schema {
    properties_of(Place::Disconnect)
}

/// [`Fields`] is read for the five matcher keys, each of which gives its
/// own schema with `schema_with`; this one is the plain map.
impl JsonSchema for Fields {
    fn schema_name() -> Cow<'static, str> {
        "Fields".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["object", "null"] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator(schema: Value) -> jsonschema::Validator {
        jsonschema::draft7::new(&schema).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every map of the format with named keys refuses others, as
    /// `deny_unknown_fields` does; maps keyed by names (hosts, users) give
    /// the schema of their values instead.
    #[test]
    fn every_map_with_named_keys_refuses_unknown_keys() {
        fn walk(v: &Value, path: &str, open: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    // `properties` as the schema keyword (a map of schemas),
                    // not a field named `properties` in a map of fields.
                    let keyword = matches!(m.get("properties"), Some(Value::Object(fields))
                        if fields.values().all(|f| f.is_object() || f.is_boolean()));
                    if keyword
                        && m.get("additionalProperties") != Some(&Value::Bool(false))
                        && !path.ends_with("/if")
                    {
                        open.push(path.to_string());
                    }
                    for (k, x) in m {
                        walk(x, &format!("{path}/{k}"), open);
                    }
                }
                Value::Array(items) => {
                    for (i, x) in items.iter().enumerate() {
                        walk(x, &format!("{path}/{i}"), open);
                    }
                }
                _ => {}
            }
        }
        let mut open = Vec::new();
        walk(&schema().to_value(), "", &mut open);
        // The `recv`/`send` matcher lists `type` once for all packet types;
        // each type's own fields, under `then`, are closed.
        open.retain(|p| !p.ends_with("/recv") && !p.ends_with("/send"));
        assert!(open.is_empty(), "open maps at {open:?}");
    }

    #[test]
    fn every_action_name_has_a_schema() {
        let mut g = SchemaSettings::draft07().into_generator();
        for name in RawAction::NAMES {
            assert!(RawAction::value_schema(name, &mut g).is_some(), "{name}");
        }
        for name in RawFaultAction::NAMES {
            assert!(
                RawFaultAction::value_schema(name, &mut g).is_some(),
                "{name}"
            );
        }
    }

    /// The duration pattern accepts what `parse_spec` accepts, on texts
    /// chosen around the grammar's edges (not its limits: `25h` is a
    /// well-formed duration the schema leaves to the loader).
    #[test]
    fn the_duration_pattern_follows_the_parser() {
        let v = validator(Dur::json_schema(&mut SchemaGenerator::default()).to_value());
        let fixed = validator(FixedDur::json_schema(&mut SchemaGenerator::default()).to_value());
        for text in [
            "0",
            "2s",
            "250ms",
            "1.5s",
            "2m",
            "1h",
            " 3s ",
            "1s..3s",
            "0..2s",
            "1s .. 2s",
            "2",
            "1.s",
            ".5s",
            "1.2.3s",
            "5 s",
            "2us",
            "s",
            "",
            "1s..",
            "..1s",
            "1s..2s..3s",
            "10d",
            "1e3s",
            "-1s",
        ] {
            let parsed = crate::scenario::duration::parse_spec(text);
            assert_eq!(
                v.is_valid(&json!(text)),
                parsed.is_ok(),
                "`{text}`: parser says {parsed:?}"
            );
            let one = crate::scenario::duration::parse_duration(text);
            assert_eq!(
                fixed.is_valid(&json!(text)),
                one.is_ok(),
                "`{text}`: {one:?}"
            );
        }
    }

    #[test]
    fn the_host_name_pattern_follows_the_parser() {
        let names = validator(json!({
            "type": "object",
            "propertyNames": HostKeys::names().map(Schema::to_value)
        }));
        let long = "a".repeat(MAX_HOST_NAME_LEN + 1);
        for name in [
            "broker", "c-1", "a_b", "x9", "Broker", "a.b", "a b", "", "clients", "é", &long,
        ] {
            let parsed = super::super::values::check_host_name(name);
            assert_eq!(
                names.is_valid(&json!({ name: {} })),
                parsed.is_ok(),
                "`{name}`: {parsed:?}"
            );
        }
    }

    #[test]
    fn a_recv_matcher_is_checked_against_its_packet_type() {
        // With the operator maps its fields refer to, as the root has them.
        let mut schema = any_packet(&mut SchemaGenerator::default()).to_value();
        let defs: Map<String, Value> = operator_defs()
            .into_iter()
            .map(|(name, def)| (name.to_string(), def))
            .collect();
        schema["definitions"] = Value::Object(defs);
        let v = validator(schema);
        assert!(v.is_valid(&json!({ "type": "PUBLISH", "topic": "t", "qos": 1 })));
        assert!(v.is_valid(&json!({ "type": "PUBLISH", "qos": { "ge": 1 }, "first": true })));
        assert!(!v.is_valid(&json!({ "type": "PUBLISH", "qos": { "less": 1 } })));
        assert!(v.is_valid(&json!({ "type": "DISCONNECT", "reason": 142 })));
        assert!(!v.is_valid(&json!({ "type": "PUBLISH", "reason": 142 })));
        assert!(!v.is_valid(&json!({ "type": "PUBACK", "qos": 1 })));
        assert!(!v.is_valid(&json!({ "type": "PUBLISH", "qos": "one" })));
        assert!(!v.is_valid(&json!({ "type": "FOO" })));
        assert!(!v.is_valid(&json!({ "topic": "t" })));
    }
}
