//! Checking expectations against the events of a run.

use std::time::Duration;

use serde_json::{Map, Value};

use super::event::{Event, EventKind};
use crate::packet_json;
use crate::scenario::{Count, Direction, Expectation, Force, Matcher};
use crate::topic;

/// How many near misses a failed expectation shows.
const CLOSEST_MAX: usize = 3;

/// The verdict on one expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The expectation's line in the scenario file.
    pub line: usize,
    /// Whether the expectation held (true for one left out).
    pub ok: bool,
    /// What was expected and what was found, in one line; for one left
    /// out, what was expected and why it was left out.
    pub text: String,
    /// When it did not hold: the events that came closest to matching,
    /// rendered.
    pub closest: Vec<String>,
    /// The expectation's force.
    pub force: Force,
    /// What it means for the run.
    pub outcome: Outcome,
}

/// What a verdict, or a broken invariant, means for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It held.
    Pass,
    /// It did not hold, and it fails the run: a binding one against any
    /// target, or any one against the reference.
    Fail,
    /// The reference's choice did not hold against another target: shown
    /// with what the target did; the run does not fail.
    Differs,
    /// Left out for this target (`only_for`/`not_for`), with the reason.
    Skip,
}

impl Outcome {
    /// Whether something that did not hold fails the run: always against
    /// the reference, and against another target when it is binding.
    pub fn of(held: bool, force: Force, reference: bool) -> Outcome {
        match (held, force, reference) {
            (true, ..) => Outcome::Pass,
            (false, Force::Binding, _) | (false, _, true) => Outcome::Fail,
            (false, Force::Choice, false) => Outcome::Differs,
        }
    }

    /// The word that starts a text report's line: `ok`, `FAIL`, `differs`
    /// or `skip`.
    pub fn status(self) -> &'static str {
        match self {
            Outcome::Pass => "ok",
            Outcome::Fail => "FAIL",
            Outcome::Differs => "differs",
            Outcome::Skip => "skip",
        }
    }

    /// `pass`, `fail`, `differs` or `skip`, as JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Differs => "differs",
            Outcome::Skip => "skip",
        }
    }
}

impl Verdict {
    /// The verdict on an expectation left out for the target, `why`.
    pub fn skip(e: &Expectation, why: &str) -> Verdict {
        Verdict {
            line: e.line,
            ok: true,
            text: format!("{}: {why}", describe(e)),
            closest: Vec::new(),
            force: e.force,
            outcome: Outcome::Skip,
        }
    }

    /// Whether it fails the run.
    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Fail
    }

    /// Gives the verdict its expectation's force, and its outcome against a
    /// target that is the reference or not.
    pub fn weighed(mut self, force: Force, reference: bool) -> Verdict {
        self.force = force;
        self.outcome = Outcome::of(self.ok, force, reference);
        self
    }
}

pub fn check(e: &Expectation, events: &[Event]) -> Verdict {
    let in_window = |at: Duration| e.within.is_none_or(|(lo, hi)| lo <= at && at <= hi);
    let matched = events
        .iter()
        .filter(|ev| in_window(ev.at) && score(e, ev) == Some(full_score(e)))
        .count();
    let ok = e.count.holds(matched);
    let wanted = match e.count {
        Count::Exactly(n) => format!("wanted {n}"),
        Count::AtLeast(n) => format!("wanted at least {n}"),
        Count::AtMost(n) => format!("wanted at most {n}"),
    };
    let text = format!("{}: {matched} matched, {wanted}", describe(e));
    let closest = if ok { Vec::new() } else { closest(e, events) };
    Verdict {
        line: e.line,
        ok,
        text,
        closest,
        force: e.force,
        outcome: Outcome::of(ok, e.force, true),
    }
}

/// The expectation in words, e.g. `observer recv PUBLISH topic="will/#" within [3.000s, 3.200s]`.
pub fn describe(e: &Expectation) -> String {
    let what = match &e.matcher {
        Matcher::Packet { direction, fields } => {
            let verb = match direction {
                Direction::Send => "send",
                Direction::Recv => "recv",
            };
            let mut fields = fields.clone();
            let ty = fields
                .shift_remove("type")
                .and_then(|t| t.as_str().map(str::to_string))
                .unwrap_or_default();
            let rest = super::render::fields_text(&fields);
            format!(
                "{verb} {ty}{}{rest}",
                if rest.is_empty() { "" } else { " " }
            )
        }
        Matcher::Closed { by: Some(by) } => format!("closed by {}", by_name(*by)),
        Matcher::Closed { by: None } => "closed".to_string(),
    };
    let window = match e.within {
        Some((lo, hi)) => format!(
            " within [{}, {}]",
            super::render::seconds(lo),
            super::render::seconds(hi)
        ),
        None => String::new(),
    };
    format!("{} {what}{window}", e.client)
}

pub(super) fn by_name(by: crate::scenario::ClosedBy) -> &'static str {
    match by {
        crate::scenario::ClosedBy::Broker => "broker",
        crate::scenario::ClosedBy::Client => "client",
    }
}

/// Whether the event meets every condition of the expectation's matcher,
/// whatever its time: a live run uses it to measure how far outside a
/// `within` window the matching events fell.
pub fn matches(e: &Expectation, ev: &Event) -> bool {
    score(e, ev) == Some(full_score(e))
}

/// How many of the matcher's conditions the event meets, counting the kind
/// of event as one; `None` when the event is not this client's or not of a
/// comparable kind at all.
fn score(e: &Expectation, ev: &Event) -> Option<usize> {
    match (&e.matcher, &ev.kind) {
        (
            Matcher::Packet { direction, fields },
            EventKind::Send {
                client,
                packet,
                level,
            },
        ) if *direction == Direction::Send && *client == e.client => {
            Some(1 + fields_met(fields, &packet_json::packet_at(packet, *level)))
        }
        (
            Matcher::Packet { direction, fields },
            EventKind::Recv {
                client,
                packet,
                level,
                resolved_topic,
            },
        ) if *direction == Direction::Recv && *client == e.client => {
            let mut have = packet_json::packet_at(packet, *level);
            // A PUBLISH that came by topic alias matches on its topic.
            if let Some(t) = resolved_topic {
                have.insert("topic".into(), t.clone().into());
            }
            Some(1 + fields_met(fields, &have))
        }
        (
            Matcher::Closed { by },
            EventKind::Closed {
                client, by: actual, ..
            },
        ) if *client == e.client => Some(1 + usize::from(by.is_none_or(|b| b == *actual))),
        _ => None,
    }
}

fn full_score(e: &Expectation) -> usize {
    match &e.matcher {
        Matcher::Packet { fields, .. } => 1 + fields.len(),
        Matcher::Closed { .. } => 2,
    }
}

fn fields_met(want: &Map<String, Value>, have: &Map<String, Value>) -> usize {
    want.iter()
        .filter(|(k, v)| match (k.as_str(), have.get(k.as_str())) {
            ("topic", Some(Value::String(t))) => v.as_str().is_some_and(|f| topic::matches(f, t)),
            (_, Some(h)) => value_matches(v, h),
            (_, None) => false,
        })
        .count()
}

/// A nested map (a CONNECT's `will`, a SUBSCRIBE's filters) matches on the
/// fields it names, as the matcher itself does; lists match item by item.
fn value_matches(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|h| value_matches(v, h))),
        (Value::Array(w), Value::Array(h)) => {
            w.len() == h.len() && w.iter().zip(h).all(|(w, h)| value_matches(w, h))
        }
        _ => want == have,
    }
}

fn closest(e: &Expectation, events: &[Event]) -> Vec<String> {
    let mut scored: Vec<(usize, &Event)> = events
        .iter()
        .filter_map(|ev| score(e, ev).map(|s| (s, ev)))
        .collect();
    // Best score first; among equals, earliest first (the sort is stable).
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    scored
        .into_iter()
        .take(CLOSEST_MAX)
        .map(|(_, ev)| super::render::event_line(ev))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::value_matches;
    use serde_json::json;

    #[test]
    fn nested_maps_match_on_the_fields_they_name() {
        let will = json!({"topic": "w", "payload": "gone", "qos": 1, "retain": false});
        assert!(value_matches(&json!({"topic": "w"}), &will));
        assert!(!value_matches(&json!({"topic": "x"}), &will));
        assert!(!value_matches(&json!({"topic": "w", "qos": 0}), &will));
    }

    #[test]
    fn lists_match_item_by_item() {
        let filters = json!([{"filter": "a", "qos": 1}, {"filter": "b", "qos": 0}]);
        assert!(value_matches(
            &json!([{"filter": "a"}, {"qos": 0}]),
            &filters
        ));
        assert!(!value_matches(&json!([{"filter": "a"}]), &filters));
        assert!(!value_matches(
            &json!([{"filter": "b"}, {"filter": "a"}]),
            &filters
        ));
    }
}
