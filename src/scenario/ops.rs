//! Operator maps in packet matchers: `{present: true}`, `{lt: 60, ge: 50}`,
//! `{between: [1, 5]}`. A map written where the trace shows a single value
//! (a number, text, a flag, a list) is one of these rather than a nested
//! matcher; the loader checks that its operators fit the field
//! ([`super::matcher`]), and the judge evaluates them with [`holds`].

use serde_json::{Map, Value};

/// Every key an operator map may have.
pub const OPERATORS: [&str; 7] = ["present", "lt", "le", "gt", "ge", "ne", "between"];

/// The operators that compare numbers.
pub const COMPARISONS: [&str; 6] = ["lt", "le", "gt", "ge", "ne", "between"];

/// `want` as an operator map, when it is one: a non-empty map whose keys
/// are all operators. No field of any packet is named like an operator, and
/// the loader rejects a map that mixes them, so the keys tell the two apart.
pub fn as_ops(want: &Value) -> Option<&Map<String, Value>> {
    want.as_object()
        .filter(|m| !m.is_empty() && m.keys().all(|k| OPERATORS.contains(&k.as_str())))
}

/// Whether `have` (the trace's value, `None` when the packet lacks the
/// field) meets every operator of `ops`. A comparison on a missing field
/// fails: there is nothing to compare.
pub fn holds(ops: &Map<String, Value>, have: Option<&Value>) -> bool {
    ops.iter().all(|(op, arg)| match op.as_str() {
        "present" => arg.as_bool() == Some(have.is_some()),
        _ => {
            let got = have.and_then(Value::as_f64);
            got.is_some_and(|got| compare(op, arg, got))
        }
    })
}

fn compare(op: &str, arg: &Value, got: f64) -> bool {
    if op == "between" {
        let bound = |i: usize| arg.get(i).and_then(Value::as_f64);
        return match (bound(0), bound(1)) {
            (Some(lo), Some(hi)) => lo <= got && got <= hi,
            _ => false,
        };
    }
    let Some(n) = arg.as_f64() else { return false };
    match op {
        "lt" => got < n,
        "le" => got <= n,
        "gt" => got > n,
        "ge" => got >= n,
        "ne" => got != n,
        _ => false,
    }
}

/// The operators in words, e.g. `lt 60 ge 50`, `present`, `absent`.
pub fn describe(ops: &Map<String, Value>) -> String {
    ops.iter()
        .map(|(op, arg)| match (op.as_str(), arg) {
            ("present", Value::Bool(true)) => "present".to_string(),
            ("present", _) => "absent".to_string(),
            ("between", Value::Array(b)) if b.len() == 2 => {
                format!("between {} and {}", b[0], b[1])
            }
            _ => format!("{op} {arg}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn every_key_must_hold() {
        let o = ops(json!({"lt": 60, "ge": 50}));
        assert!(holds(&o, Some(&json!(58))));
        assert!(!holds(&o, Some(&json!(60))));
        assert!(!holds(&o, Some(&json!(49))));
        assert!(!holds(&o, None));
    }

    #[test]
    fn between_is_inclusive_and_ne_excludes_one_value() {
        let b = ops(json!({"between": [1, 5]}));
        assert!(holds(&b, Some(&json!(1))) && holds(&b, Some(&json!(5))));
        assert!(!holds(&b, Some(&json!(6))));
        let ne = ops(json!({"ne": 0}));
        assert!(holds(&ne, Some(&json!(3))) && !holds(&ne, Some(&json!(0))));
    }

    #[test]
    fn presence_looks_only_at_whether_the_field_is_there() {
        let yes = ops(json!({"present": true}));
        let no = ops(json!({"present": false}));
        assert!(holds(&yes, Some(&json!("any id"))) && !holds(&yes, None));
        assert!(holds(&no, None) && !holds(&no, Some(&json!(0))));
    }
}
