//! Checks a packet matcher's fields against what the trace can show for
//! that packet type and protocol version ([`crate::packet_json::shape`]).
//!
//! A matcher compares only the fields it names, so a field the trace never
//! shows (a typo, another library's spelling such as `returnCode`) would
//! match nothing, and `count: 0` on it would pass without checking anything.
//! Such a field is a load error instead. So is a value of the wrong kind
//! (`session_present: "no"`): it could never be equal to the trace's value.

use serde_json::{Map, Value};

use super::locate::{child, item};

/// Where a matcher is wrong: the path of the offending key or value, and
/// what is wrong with it.
pub(super) struct Mismatch {
    pub path: String,
    /// Whether the error belongs at the key (an unknown field) rather than
    /// at the value (a value of the wrong kind).
    pub at_key: bool,
    pub message: String,
}

/// Checks `fields` (the matcher at `path`, `type` included) against the
/// trace's shape of that packet type under protocol `level`;
/// `protocol` names the version in messages.
pub(super) fn check(
    path: &str,
    fields: &Map<String, Value>,
    level: u8,
    protocol: &str,
) -> Result<(), Mismatch> {
    let ty = fields
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(shape) = crate::packet_json::shape(ty, level) else {
        return Err(Mismatch {
            path: child(path, "type"),
            at_key: false,
            message: format!("the trace shows no {ty} packets under MQTT {protocol}"),
        });
    };
    let what = format!("a {ty} matcher (MQTT {protocol})");
    check_map(path, fields, &shape, &what)
}

fn check_map(
    path: &str,
    want: &Map<String, Value>,
    shape: &Map<String, Value>,
    what: &str,
) -> Result<(), Mismatch> {
    for (key, value) in want {
        let p = child(path, key);
        let Some(sample) = shape.get(key) else {
            let names: Vec<String> = shape.keys().map(|k| format!("`{k}`")).collect();
            return Err(Mismatch {
                path: p,
                at_key: true,
                message: format!(
                    "unknown field `{key}` in {what}, expected one of {}",
                    names.join(", ")
                ),
            });
        };
        check_value(&p, key, value, sample, what)?;
    }
    Ok(())
}

fn check_value(
    path: &str,
    key: &str,
    want: &Value,
    sample: &Value,
    what: &str,
) -> Result<(), Mismatch> {
    match (want, sample) {
        (Value::Object(w), Value::Object(s)) => {
            check_map(path, w, s, &format!("`{key}` of {what}"))
        }
        (Value::Array(w), Value::Array(s)) => match s.first() {
            Some(s) => w
                .iter()
                .enumerate()
                .try_for_each(|(i, w)| check_value(&item(path, i), key, w, s, what)),
            None => Ok(()),
        },
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => Ok(()),
        _ => Err(Mismatch {
            path: path.to_string(),
            at_key: false,
            message: format!(
                "`{key}` is {} in the trace, so {} here can never match",
                kind(sample),
                kind(want)
            ),
        }),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "`true` or `false`",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::super::values::PACKET_TYPES;
    use crate::packet_json::shape;
    use crate::wire::{LEVEL_V5, LEVEL_V311};

    #[test]
    fn every_packet_type_of_3_1_1_has_a_shape_of_its_own_type() {
        for ty in PACKET_TYPES.iter().filter(|t| **t != "AUTH") {
            for level in [LEVEL_V311, LEVEL_V5] {
                let s = shape(ty, level).unwrap_or_else(|| panic!("no shape for {ty}"));
                assert_eq!(s.get("type").and_then(|t| t.as_str()), Some(*ty));
            }
        }
    }

    #[test]
    fn the_clean_flag_is_named_by_the_protocol() {
        let v311 = shape("CONNECT", LEVEL_V311).unwrap_or_default();
        let v5 = shape("CONNECT", LEVEL_V5).unwrap_or_default();
        assert!(v311.contains_key("clean_session") && !v311.contains_key("clean_start"));
        assert!(v5.contains_key("clean_start") && !v5.contains_key("clean_session"));
    }
}
