//! Checking expectations against the events of a run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Map, Value};

use super::event::{Event, EventKind};
use crate::packet_json;
use crate::scenario::{Count, Direction, Expectation, Force, Matcher, ops};
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
    check_in(e, &Indexed::of(events))
}

/// A trace read once for every expectation: each event's `first` flag and
/// each client's events. An expectation only ever matches events of its
/// own clients, so it reads theirs alone: a thousand per-member
/// expectations cost one pass over the trace, not a thousand.
pub struct Indexed<'a> {
    events: &'a [Event],
    firsts: Vec<bool>,
    by_client: BTreeMap<&'a str, Vec<usize>>,
}

impl<'a> Indexed<'a> {
    pub fn of(events: &'a [Event]) -> Indexed<'a> {
        let mut by_client: BTreeMap<&'a str, Vec<usize>> = BTreeMap::new();
        for (i, ev) in events.iter().enumerate() {
            if let Some(h) = ev.kind.host() {
                by_client.entry(h).or_default().push(i);
            }
        }
        Indexed {
            events,
            firsts: firsts(events),
            by_client,
        }
    }

    /// The events of `clients`, in trace order, with their `first` flags.
    fn of_clients(&self, clients: &[String]) -> Vec<(&'a Event, bool)> {
        let mut picked: Vec<usize> = clients
            .iter()
            .filter_map(|c| self.by_client.get(c.as_str()))
            .flatten()
            .copied()
            .collect();
        if clients.len() > 1 {
            picked.sort_unstable();
            picked.dedup();
        }
        picked
            .into_iter()
            .filter_map(|i| Some((self.events.get(i)?, *self.firsts.get(i)?)))
            .collect()
    }
}

/// [`check`] on a trace indexed once for all expectations.
pub fn check_in(e: &Expectation, trace: &Indexed) -> Verdict {
    let events = trace.of_clients(&e.clients);
    let in_window = |at: Duration| e.within.is_none_or(|(lo, hi)| lo <= at && at <= hi);
    if let Matcher::Sequence(steps) = &e.matcher {
        return sequence(e, steps, &events, in_window);
    }
    let mut hits = events
        .iter()
        .filter(|(ev, first)| in_window(ev.at) && meets(&e.matcher, &e.clients, ev, *first))
        .map(|(ev, _)| *ev);
    let shown = hits.next();
    let matched = usize::from(shown.is_some()) + hits.count();
    let ok = e.count.holds(matched);
    let wanted = match e.count {
        Count::Exactly(n) => format!("wanted {n}"),
        Count::AtLeast(n) => format!("wanted at least {n}"),
        Count::AtMost(n) => format!("wanted at most {n}"),
    };
    let mut text = format!("{}: {matched} matched, {wanted}", describe(e));
    let shown = shown.or_else(|| best(&e.matcher, &e.clients, &events));
    if let (Matcher::Packet { fields, .. }, Some(ev)) = (&e.matcher, shown) {
        for c in compared(fields, &packet_fields(ev)) {
            text.push_str("; ");
            text.push_str(&c);
        }
    }
    let closest = match ok {
        true => Vec::new(),
        false => closest(&e.matcher, &e.clients, &events),
    };
    Verdict {
        line: e.line,
        ok,
        text,
        closest,
        force: e.force,
        outcome: Outcome::of(ok, e.force, true),
    }
}

/// A `sequence` holds when its matchers match events in window in their
/// order; each step takes the earliest event after the previous step's.
fn sequence(
    e: &Expectation,
    steps: &[Matcher],
    events: &[(&Event, bool)],
    in_window: impl Fn(Duration) -> bool,
) -> Verdict {
    let mut found = 0;
    let mut rest = 0;
    for (i, (ev, first)) in events.iter().enumerate() {
        if found < steps.len() && in_window(ev.at) && meets(&steps[found], &e.clients, ev, *first) {
            found += 1;
            rest = i + 1;
        }
    }
    let ok = found == steps.len();
    let (text, closest) = match steps.get(found) {
        None => (format!("{}: found", describe(e)), Vec::new()),
        Some(missing) => (
            format!(
                "{}: found the first {found} of {}, then no {}",
                describe(e),
                steps.len(),
                describe_matcher(missing)
            ),
            closest(missing, &e.clients, &events[rest..]),
        ),
    };
    Verdict {
        line: e.line,
        ok,
        text,
        closest,
        force: e.force,
        outcome: Outcome::of(ok, e.force, true),
    }
}

/// Per event, whether it is the first packet in its direction on its
/// connection: the first sent or received since the client's last
/// `connected`. Raw bytes a client writes take the first sent place too,
/// since the broker reads them as its first packet.
fn firsts(events: &[Event]) -> Vec<bool> {
    let mut had: BTreeSet<(&str, bool)> = BTreeSet::new();
    events
        .iter()
        .map(|ev| match &ev.kind {
            EventKind::Connected { client } => {
                had.remove(&(client.as_str(), true));
                had.remove(&(client.as_str(), false));
                false
            }
            EventKind::Send { client, .. } | EventKind::SendRaw { client, .. } => {
                had.insert((client.as_str(), true))
            }
            EventKind::Recv { client, .. } => had.insert((client.as_str(), false)),
            _ => false,
        })
        .collect()
}

/// The expectation in words, e.g. `observer recv PUBLISH topic="will/#" within [3.000s, 3.200s]`.
pub fn describe(e: &Expectation) -> String {
    let window = match e.within {
        Some((lo, hi)) => format!(
            " within [{}, {}]",
            super::render::seconds(lo),
            super::render::seconds(hi)
        ),
        None => String::new(),
    };
    format!("{} {}{window}", e.client, describe_matcher(&e.matcher))
}

fn describe_matcher(m: &Matcher) -> String {
    match m {
        Matcher::Packet {
            direction,
            fields,
            first,
        } => {
            let verb = match direction {
                Direction::Send => "send",
                Direction::Recv => "recv",
            };
            let mut fields = fields.clone();
            let ty = fields
                .shift_remove("type")
                .and_then(|t| t.as_str().map(str::to_string))
                .unwrap_or_default();
            let rest = matcher_fields_text(&fields);
            let first = if *first { " first" } else { "" };
            format!(
                "{verb}{first} {ty}{}{rest}",
                if rest.is_empty() { "" } else { " " }
            )
        }
        Matcher::Closed { by: Some(by) } => format!("closed by {}", by_name(*by)),
        Matcher::Closed { by: None } => "closed".to_string(),
        Matcher::Sequence(steps) => {
            let steps: Vec<String> = steps.iter().map(describe_matcher).collect();
            format!("sequence [{}]", steps.join("; "))
        }
    }
}

/// A matcher's fields as the trace writes them, `k=v`; reason codes in hex
/// (`reason=0x8E`) as the trace has them. A `code` below 0x10 stays
/// decimal: 3.1.1 CONNACK codes are 0 to 5 and the trace says `code=5`.
fn matcher_fields_text(fields: &serde_json::Map<String, Value>) -> String {
    let hex = |k: &str, v: &Value| -> Option<String> {
        let n = u8::try_from(v.as_u64()?).ok()?;
        (k == "reason" || n >= 0x10).then(|| format!("0x{n:02X}"))
    };
    fields
        .iter()
        .map(|(k, v)| match (k.as_str(), v) {
            ("reason" | "code", v) if hex(k, v).is_some() => {
                format!("{k}={}", hex(k, v).unwrap_or_default())
            }
            ("codes", Value::Array(list)) => {
                let items: Vec<String> = list
                    .iter()
                    .map(|c| hex(k, c).unwrap_or_else(|| c.to_string()))
                    .collect();
                format!("{k}=[{}]", items.join(","))
            }
            _ => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn by_name(by: crate::scenario::ClosedBy) -> &'static str {
    match by {
        crate::scenario::ClosedBy::Broker => "broker",
        crate::scenario::ClosedBy::Client => "client",
    }
}

/// The events that meet every condition of the expectation's matcher (any
/// step of a sequence), whatever their time: a live run uses them to
/// measure how far outside a `within` window the matching events fell.
pub fn matching<'a>(e: &'a Expectation, events: &'a [Event]) -> impl Iterator<Item = &'a Event> {
    let firsts = firsts(events);
    events
        .iter()
        .zip(firsts)
        .filter(move |(ev, first)| match &e.matcher {
            Matcher::Sequence(steps) => steps.iter().any(|m| meets(m, &e.clients, ev, *first)),
            m => meets(m, &e.clients, ev, *first),
        })
        .map(|(ev, _)| ev)
}

/// Whether the event meets every condition of the matcher; `first` says
/// whether it is the first in its direction on its connection.
fn meets(m: &Matcher, clients: &[String], ev: &Event, first: bool) -> bool {
    score(m, clients, ev, first) == Some(full_score(m))
}

/// How many of the matcher's conditions the event meets, counting the kind
/// of event as one; `None` when the event is not of one of `clients` or
/// not of a comparable kind at all.
fn score(m: &Matcher, clients: &[String], ev: &Event, first: bool) -> Option<usize> {
    let ours = |c: &String| clients.contains(c);
    let packet = |fields, want_first: bool| {
        Some(1 + fields_met(fields, &packet_fields(ev)) + usize::from(want_first && first))
    };
    match (m, &ev.kind) {
        (
            Matcher::Packet {
                direction: Direction::Send,
                fields,
                first: want_first,
            },
            EventKind::Send { client, .. },
        )
        | (
            Matcher::Packet {
                direction: Direction::Recv,
                fields,
                first: want_first,
            },
            EventKind::Recv { client, .. },
        ) if ours(client) => packet(fields, *want_first),
        (
            Matcher::Closed { by },
            EventKind::Closed {
                client, by: actual, ..
            },
        ) if ours(client) => Some(1 + usize::from(by.is_none_or(|b| b == *actual))),
        _ => None,
    }
}

fn full_score(m: &Matcher) -> usize {
    match m {
        Matcher::Packet { fields, first, .. } => 1 + fields.len() + usize::from(*first),
        Matcher::Closed { .. } => 2,
        // A sequence is judged step by step, never as one event.
        Matcher::Sequence(_) => usize::MAX,
    }
}

fn fields_met(want: &Map<String, Value>, have: &Map<String, Value>) -> usize {
    want.iter()
        .filter(|(k, v)| match (k.as_str(), have.get(k.as_str())) {
            ("topic", Some(Value::String(t))) if v.is_string() => {
                v.as_str().is_some_and(|f| topic::matches(f, t))
            }
            (_, h) => value_matches(v, h),
        })
        .count()
}

/// An operator map tests the value, or its absence (`None`); a nested map
/// (a CONNECT's `will`, a SUBSCRIBE's filters, `properties`) matches on the
/// fields it names, as the matcher itself does, and an absent one as if each
/// of those fields were absent, so `{present: false}` inside it holds; lists
/// match item by item.
fn value_matches(want: &Value, have: Option<&Value>) -> bool {
    if let Some(ops) = ops::as_ops(want) {
        return ops::holds(ops, have);
    }
    match (want, have) {
        (Value::Object(w), Some(Value::Object(h))) => {
            w.iter().all(|(k, v)| value_matches(v, h.get(k)))
        }
        (Value::Object(w), None) => !w.is_empty() && w.values().all(|v| value_matches(v, None)),
        (Value::Array(w), Some(Value::Array(h))) => {
            w.len() == h.len() && w.iter().zip(h).all(|(w, h)| value_matches(w, Some(h)))
        }
        (_, Some(h)) => want == h,
        (_, None) => false,
    }
}

/// What each operator map of `want` was compared with in `have`, e.g.
/// `message_expiry_interval lt 60: got 58`, so that a verdict says what
/// the packet held and not only whether it matched.
fn compared(want: &Map<String, Value>, have: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in want {
        let h = have.get(k);
        if let Some(o) = ops::as_ops(v) {
            let got = h.map_or_else(|| "absent".to_string(), Value::to_string);
            out.push(format!("{k} {}: got {got}", ops::describe(o)));
        } else if let Value::Object(w) = v {
            let empty = Map::new();
            out.extend(compared(w, h.and_then(Value::as_object).unwrap_or(&empty)));
        }
    }
    out
}

/// The packet of a send or recv event as the matcher sees it, a PUBLISH
/// that came by topic alias with its topic; nothing for other events.
fn packet_fields(ev: &Event) -> Map<String, Value> {
    match &ev.kind {
        EventKind::Send { packet, level, .. } => packet_json::packet_at(packet, *level),
        EventKind::Recv {
            packet,
            level,
            resolved_topic,
            ..
        } => {
            let mut have = packet_json::packet_at(packet, *level);
            if let Some(t) = resolved_topic {
                have.insert("topic".into(), t.clone().into());
            }
            have
        }
        _ => Map::new(),
    }
}

/// The events of `clients` comparable with the matcher, by how many of
/// its conditions each meets.
fn scored<'a>(
    m: &'a Matcher,
    clients: &'a [String],
    events: &'a [(&'a Event, bool)],
) -> impl Iterator<Item = (usize, &'a Event)> {
    events
        .iter()
        .filter_map(move |&(ev, first)| score(m, clients, ev, first).map(|s| (s, ev)))
}

/// The event that came closest to matching, the earliest among equals.
fn best<'a>(
    m: &'a Matcher,
    clients: &'a [String],
    events: &'a [(&'a Event, bool)],
) -> Option<&'a Event> {
    scored(m, clients, events)
        .fold(None, |best: Option<(usize, &Event)>, (s, ev)| match best {
            Some((b, _)) if b >= s => best,
            _ => Some((s, ev)),
        })
        .map(|(_, ev)| ev)
}

fn closest(m: &Matcher, clients: &[String], events: &[(&Event, bool)]) -> Vec<String> {
    let mut scored: Vec<(usize, &Event)> = scored(m, clients, events).collect();
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
    use serde_json::{Value, json};

    use super::matcher_fields_text;

    fn value_matches(want: &Value, have: &Value) -> bool {
        super::value_matches(want, Some(have))
    }

    #[test]
    fn verdicts_write_reason_codes_in_hex_like_the_trace() {
        let fields = json!({"reason": 142, "packet_id": 3, "codes": [1, 128]});
        let text = matcher_fields_text(fields.as_object().unwrap_or(&Default::default()));
        assert_eq!(text, "reason=0x8E packet_id=3 codes=[1,0x80]");
        let code = json!({"code": 5});
        assert_eq!(
            matcher_fields_text(code.as_object().unwrap_or(&Default::default())),
            "code=5"
        );
    }

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
