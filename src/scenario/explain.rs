//! Turns an error's prose into structure: the list of what would have been
//! accepted (`Error::expected`) and, for a misspelt name, the nearest
//! accepted one (`Error::help`).
//!
//! Messages come from two places that both write "…, expected one of a, b":
//! serde's derived `deny_unknown_fields` errors, whose wording we cannot
//! change, and this module's own visitors and validation, which follow the
//! same wording. Reading the list back out of the text in one place keeps
//! every error site a single `format!`.

use crate::error::Error;

/// Where a list of accepted values starts in a message.
const SEPARATORS: [&str; 2] = [", expected ", "; expected "];

/// How far (in edits) a misspelling may be from an accepted name for the
/// name to be suggested; longer names tolerate more.
fn edits_max(word: &str) -> usize {
    (word.chars().count() / 3).max(1)
}

/// serde's names for the types it expected, in the words of the format.
const TYPE_WORDS: [(&str, &str); 13] = [
    ("`u64`", "a whole number, 0 or more"),
    ("`usize`", "a whole number, 0 or more"),
    ("`u32`", "a whole number from 0 to 4294967295"),
    ("`u16`", "a whole number from 0 to 65535"),
    ("`u8`", "a whole number from 0 to 255"),
    ("`f64`", "a number"),
    ("u64", "a whole number, 0 or more"),
    ("usize", "a whole number, 0 or more"),
    ("u32", "a whole number from 0 to 4294967295"),
    ("u16", "a whole number from 0 to 65535"),
    ("u8", "a whole number from 0 to 255"),
    ("a sequence", "a list (`[a, b]`, or one `- item` per line)"),
    ("a boolean", "`true` or `false`"),
];

/// Fields whose range is narrower than their type's: what to say instead
/// of [`TYPE_WORDS`] when serde refuses a value of them.
const FIELD_WORDS: [(&str, &str); 1] = [(
    "receive_maximum",
    "a whole number from 1 to 65535 (0 is a protocol error)",
)];

/// serde's words for a number out of its type's range, said plainly:
/// "integer `70000` as u128" (a number too large for any type), "integer
/// `-1`" where a count is wanted, "invalid value: integer `70000`".
fn plain_numbers(message: &str) -> String {
    let mut m = message.to_string();
    for (prefix, what) in [
        ("invalid type: integer `", "too large"),
        ("invalid value: integer `", "out of range"),
    ] {
        let Some(start) = m.find(prefix) else {
            continue;
        };
        let digits = start + prefix.len();
        let Some(len) = m.get(digits..).and_then(|r| r.find('`')) else {
            continue;
        };
        let number = m.get(digits..digits + len).unwrap_or_default().to_string();
        let mut end = digits + len + 1;
        if m.get(end..).is_some_and(|r| r.starts_with(" as u128")) {
            end += " as u128".len();
        }
        let huge = m.get(..end).is_some_and(|h| h.ends_with(" as u128"));
        // serde says "invalid type" for a negative number where an
        // unsigned one is wanted, and for a number where something else is
        // (a duration): only the first is about the number's range.
        let unsigned = ["u64", "usize", "u32", "u16", "u8"].iter().any(|t| {
            m.ends_with(&format!("expected {t}")) || m.ends_with(&format!("expected `{t}`"))
        });
        let said = match (number.starts_with('-'), what) {
            (true, _) if unsigned || what == "out of range" => format!("`{number}` is negative"),
            (false, "too large") if huge => format!("`{number}` is too large"),
            (false, "out of range") => format!("`{number}` is out of range"),
            _ => continue,
        };
        m.replace_range(start..end, &said);
    }
    m
}

pub(crate) fn explain(mut e: Error) -> Error {
    e.message = plain_numbers(&e.message);
    // serde names our types: the top level, or a section written as a
    // list or a scalar where a map belongs.
    if let Some(head) = e.message.strip_suffix("expected struct RawScenario") {
        e.message = format!(
            "{head}expected a map of the scenario's keys (`name`, `duration`, `brokers`, `clients`, ...): a scenario file is one YAML map"
        );
    } else if let Some(i) = e.message.rfind("expected struct Raw") {
        e.message.replace_range(i.., "expected a map");
    }
    let field = e.message.split_once(": ").map(|(p, _)| p).unwrap_or("");
    let words = FIELD_WORDS
        .iter()
        .find(|(f, _)| field.rsplit('.').next() == Some(*f))
        .map(|(_, w)| *w);
    for (serde, ours) in TYPE_WORDS {
        if let Some(head) = e.message.strip_suffix(&format!("expected {serde}")) {
            e.message = format!("{head}expected {}", words.unwrap_or(ours));
            break;
        }
    }
    if e.expected.is_empty()
        && let Some((head, items)) = split_expected(&e.message)
    {
        e.message = head;
        e.expected = items;
    }
    if e.help.is_none() {
        e.help = step_key_inside(&e.message).or_else(|| suggestion(&e.message, &e.expected));
    }
    e
}

/// The keys that belong to a step, beside its action, not inside it.
const STEP_KEYS: [&str; 3] = ["at", "after", "wait"];

/// "`wait` is a key of the step, ..." for "clients.a.steps[1].publish:
/// unknown field `wait`": the key was written inside the action's map.
fn step_key_inside(message: &str) -> Option<String> {
    let (path, rest) = message.split_once(": unknown field `")?;
    let key = rest.strip_suffix('`')?;
    let (steps, action) = path.rsplit_once("].")?;
    if !steps.contains(".steps[") || !STEP_KEYS.contains(&key) {
        return None;
    }
    Some(format!(
        "`{key}` is a key of the step, beside `{action}`, not inside it: `- {{{action}: {{...}}, {key}: ...}}`"
    ))
}

/// `("unknown field `x`", ["a", "b"])` from "unknown field `x`, expected
/// one of `a`, `b`", or `None` when what follows "expected" is a description
/// ("a duration such as 1s") rather than a list of names.
fn split_expected(message: &str) -> Option<(String, Vec<String>)> {
    let (i, sep) = SEPARATORS
        .iter()
        .filter_map(|sep| message.rfind(sep).map(|i| (i, *sep)))
        .max_by_key(|(i, _)| *i)?;
    let head = message.get(..i)?;
    let tail = message.get(i + sep.len()..)?;
    let list = tail.strip_prefix("one of ").unwrap_or(tail);
    let items: Vec<String> = list
        .split(", ")
        .flat_map(|p| p.split(" or "))
        .map(|p| p.trim().trim_matches('`').to_string())
        .collect();
    let names = items
        .iter()
        .all(|i| !i.is_empty() && !i.contains(char::is_whitespace) && !i.contains('`'));
    names.then(|| (head.to_string(), items))
}

/// "did you mean `filter`?" for "unknown field `filtr`" when `filter` is
/// accepted and close enough.
fn suggestion(message: &str, expected: &[String]) -> Option<String> {
    // serde_yaml puts the path first: "clients.a.steps[0]: unknown step `x`".
    let after = message.find("unknown ")?;
    let start = after + message.get(after..)?.find('`')? + 1;
    let len = message.get(start..)?.find('`')?;
    let word = message.get(start..start + len)?;
    // Guessing between short names or version numbers misleads more than
    // it helps (`b` is not a typo of `a`; `4.0` is not one of `5.0`).
    if word.chars().count() < 3 || !word.chars().any(char::is_alphabetic) {
        return None;
    }
    if let Some(name) = other_spelling(word, expected) {
        return Some(format!("did you mean `{name}`?"));
    }
    let (distance, best) = expected
        .iter()
        .map(|e| (strsim::damerau_levenshtein(word, e), e))
        .min_by_key(|(d, _)| *d)?;
    (distance > 0 && distance <= edits_max(word)).then(|| format!("did you mean `{best}`?"))
}

/// Names other MQTT libraries use (mqtt.js, Paho) for what the format
/// calls by the spec's name, after camelCase is turned into snake_case.
const OTHER_NAMES: [(&str, &str); 7] = [
    ("return_code", "code"),
    ("reason_code", "code"),
    ("reason_code", "reason"),
    ("message_id", "packet_id"),
    ("granted", "codes"),
    ("keepalive", "keep_alive"),
    ("clean", "clean_session"),
];

/// The accepted name that `word` stands for when written in camelCase
/// (`sessionPresent`) or in another library's words (`returnCode`).
fn other_spelling<'a>(word: &str, expected: &'a [String]) -> Option<&'a String> {
    let mut snake = String::new();
    for c in word.chars() {
        if c.is_ascii_uppercase() {
            if !snake.is_empty() {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    let accepted = |name: &str| expected.iter().find(|e| *e == name);
    if snake != word
        && let Some(e) = accepted(&snake)
    {
        return Some(e);
    }
    OTHER_NAMES
        .iter()
        .filter(|(other, _)| *other == snake)
        .find_map(|(_, ours)| accepted(ours))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn explained(message: &str) -> Error {
        explain(Error::new(ErrorKind::Scenario, message))
    }

    #[test]
    fn serde_lists_become_expected_and_a_suggestion() {
        let e = explained("unknown field `filtr`, expected one of `filter`, `filters`, `qos`");
        assert_eq!(e.message, "unknown field `filtr`");
        assert_eq!(e.expected, ["filter", "filters", "qos"]);
        assert_eq!(e.help.as_deref(), Some("did you mean `filter`?"));
    }

    #[test]
    fn two_item_and_plain_lists_are_read() {
        let e = explained("invalid QoS 3, expected 0, 1 or 2");
        assert_eq!(e.message, "invalid QoS 3");
        assert_eq!(e.expected, ["0", "1", "2"]);
        assert_eq!(e.help, None);
        let e = explained("unknown variant `brker`, expected `broker` or `client`");
        assert_eq!(e.expected, ["broker", "client"]);
        assert_eq!(e.help.as_deref(), Some("did you mean `broker`?"));
    }

    #[test]
    fn descriptions_stay_in_the_message() {
        let m = "invalid type: integer `5`, expected a duration with a unit, e.g. `250ms`";
        let e = explained(m);
        assert_eq!(e.message, m);
        assert!(e.expected.is_empty());
    }

    #[test]
    fn serde_type_names_become_words() {
        let e = explained("seed: invalid type: integer `-1`, expected u64");
        assert_eq!(
            e.message,
            "seed: `-1` is negative, expected a whole number, 0 or more"
        );
        assert!(e.expected.is_empty());
        let e = explained(
            "count: invalid type: integer `99999999999999999999999` as u128, expected usize",
        );
        assert_eq!(
            e.message,
            "count: `99999999999999999999999` is too large, expected a whole number, 0 or more"
        );
        let e =
            explained("brokers.b.receive_maximum: invalid value: integer `70000`, expected u16");
        assert_eq!(
            e.message,
            "brokers.b.receive_maximum: `70000` is out of range, expected a whole number from 1 to 65535 (0 is a protocol error)"
        );
        let e = explained(
            "brokers.b.topic_alias_maximum: invalid value: integer `70000`, expected u16",
        );
        assert!(
            e.message
                .ends_with("expected a whole number from 0 to 65535"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_step_key_inside_the_action_is_explained() {
        let e = explained(
            "clients.a.steps[1].publish: unknown field `wait`, expected one of `topic`, `qos`",
        );
        assert_eq!(
            e.help.as_deref(),
            Some(
                "`wait` is a key of the step, beside `publish`, not inside it: `- {publish: {...}, wait: ...}`"
            )
        );
        let e = explained(
            "clients.a.steps[1].publish: unknown field `qso`, expected one of `topic`, `qos`",
        );
        assert_eq!(e.help.as_deref(), Some("did you mean `qos`?"));
    }

    #[test]
    fn short_and_numeric_names_are_not_suggested() {
        let e = explained("unknown client `b` in expectation, expected `a`");
        assert_eq!(e.help, None);
        let e = explained("unknown protocol `4.0`, expected 3.1.1 or 5.0");
        assert_eq!(e.help, None);
    }

    #[test]
    fn other_libraries_spellings_are_suggested() {
        let list = "expected one of `type`, `session_present`, `code`";
        let e = explained(&format!("unknown field `sessionPresent`, {list}"));
        assert_eq!(e.help.as_deref(), Some("did you mean `session_present`?"));
        let e = explained(&format!("unknown field `returnCode`, {list}"));
        assert_eq!(e.help.as_deref(), Some("did you mean `code`?"));
        let e = explained("unknown field `messageId`, expected one of `type`, `packet_id`");
        assert_eq!(e.help.as_deref(), Some("did you mean `packet_id`?"));
    }

    #[test]
    fn distant_names_are_not_suggested() {
        let e = explained("unknown step `explode`, expected one of connect, drop");
        assert_eq!(e.help, None);
        assert_eq!(
            e.to_string(),
            "unknown step `explode`, expected `connect` or `drop`"
        );
    }
}
