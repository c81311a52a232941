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
    let optional = |key: &str| OPTIONAL.contains(&(ty, key));
    check_map(path, fields, &shape, &what, &optional)
}

/// The fields outside `properties` that a packet of the type may lack, so
/// that `{present: ...}` on them can go either way. Every property may be
/// absent.
const OPTIONAL: [(&str, &str); 4] = [
    ("CONNECT", "will"),
    ("CONNECT", "username"),
    ("PUBLISH", "packet_id"),
    ("DISCONNECT", "reason"),
];

fn check_map(
    path: &str,
    want: &Map<String, Value>,
    shape: &Map<String, Value>,
    what: &str,
    optional: &dyn Fn(&str) -> bool,
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
        check_value(&p, key, value, sample, what, optional(key))?;
    }
    Ok(())
}

fn check_value(
    path: &str,
    key: &str,
    want: &Value,
    sample: &Value,
    what: &str,
    optional: bool,
) -> Result<(), Mismatch> {
    match (want, sample) {
        (Value::Object(w), Value::Object(s)) => {
            let in_properties = key == "properties";
            check_map(path, w, s, &format!("`{key}` of {what}"), &|_| {
                in_properties
            })
        }
        (Value::Object(ops), _) => check_ops(path, key, ops, sample, optional),
        (Value::Array(w), Value::Array(s)) => match s.first() {
            Some(s) => w
                .iter()
                .enumerate()
                .try_for_each(|(i, w)| check_value(&item(path, i), key, w, s, what, false)),
            None => Ok(()),
        },
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => Ok(()),
        _ => Err(Mismatch {
            path: path.to_string(),
            at_key: false,
            message: match want {
                Value::Null => format!(
                    "`{key}` is {} in the trace, so an empty value (`~`) here can never match",
                    kind(sample)
                ),
                _ => format!(
                    "`{key}` is {} in the trace, so {} here can never match",
                    kind(sample),
                    kind(want)
                ),
            },
        }),
    }
}

/// An operator map on the field `key`, whose trace value looks like
/// `sample`: known operators only, each fitting the field, each with an
/// argument of the right kind.
fn check_ops(
    path: &str,
    key: &str,
    ops: &Map<String, Value>,
    sample: &Value,
    optional: bool,
) -> Result<(), Mismatch> {
    let wrong = |op: &str, at_key: bool, message: String| Mismatch {
        path: child(path, op),
        at_key,
        message,
    };
    if ops.is_empty() {
        return Err(Mismatch {
            path: path.to_string(),
            at_key: false,
            message: format!(
                "`{key}` is {} in the trace, so an empty map here can never match",
                kind(sample)
            ),
        });
    }
    for (op, arg) in ops {
        let number = |v: &Value| v.is_number();
        let fits = match op.as_str() {
            "present" if !optional => {
                return Err(wrong(
                    op,
                    true,
                    format!("`{key}` is always in this packet, so `present` says nothing"),
                ));
            }
            "present" => arg.is_boolean(),
            "between" => arg.as_array().is_some_and(|b| {
                b.len() == 2 && b.iter().all(number) && b[0].as_f64() <= b[1].as_f64()
            }),
            o if crate::scenario::ops::COMPARISONS.contains(&o) && !sample.is_number() => {
                return Err(wrong(
                    op,
                    true,
                    format!(
                        "`{op}` compares numbers, but `{key}` is {} in the trace",
                        kind(sample)
                    ),
                ));
            }
            o if crate::scenario::ops::COMPARISONS.contains(&o) => number(arg),
            _ => {
                return Err(wrong(
                    op,
                    true,
                    format!(
                        "unknown operator `{op}` on `{key}`, expected one of {}",
                        crate::scenario::ops::OPERATORS.join(", ")
                    ),
                ));
            }
        };
        if !fits {
            let wanted = match op.as_str() {
                "present" => "`true` or `false`",
                "between" => "two numbers `[low, high]`, low first",
                _ => "a number",
            };
            return Err(wrong(op, false, format!("`{op}` takes {wanted}")));
        }
    }
    Ok(())
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
