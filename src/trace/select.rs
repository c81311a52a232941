//! Traces of many clients, made readable: a [`Selection`] of clients
//! narrows a report to what concerns them (`run --client`, `diagram
//! --client`), and [`summary`] condenses a whole run into counts
//! (`run --summary`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::event::{Event, EventKind};
use super::render::seconds;
use super::{Outcome, Report};
use crate::packet_json;
use crate::scenario::groups::matches;
use crate::scenario::write;
use crate::scenario::{FaultAction, Scenario};

/// Most clients a diagram draws when none are chosen: beyond this a chart
/// is a wall of lifelines. `diagram --client` chooses others.
pub const DIAGRAM_CLIENTS_MAX: usize = 32;

/// Most passing expectations a summary lists one by one; failed ones are
/// always listed.
const SUMMARY_FAILED_MAX: usize = 20;

/// A set of clients of one scenario, chosen by name. A pattern is a client
/// name, a glob with `*` (`device-1*`), or a client group's name
/// (`device-{i}`, every member).
#[derive(Debug, Clone)]
pub struct Selection {
    /// Host names, in the scenario's order.
    pub clients: Vec<String>,
    /// Their client ids, to find the broker notes that concern them.
    client_ids: Vec<String>,
}

impl Selection {
    /// The clients matching any of `patterns`. A pattern that matches no
    /// client is an error that names the clients there are.
    pub fn new(scenario: &Scenario, patterns: &[String]) -> Result<Selection, String> {
        for p in patterns {
            if !scenario.clients.keys().any(|c| matches(p, c)) {
                let names: Vec<&str> = scenario.clients.keys().map(String::as_str).collect();
                let shown = names
                    .iter()
                    .take(10)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ");
                let more = names.len().saturating_sub(10);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                return Err(format!(
                    "--client {p} matches no client; the clients are {shown}{more}"
                ));
            }
        }
        Ok(Self::of(scenario, |c| {
            patterns.iter().any(|p| matches(p, c))
        }))
    }

    /// The first `n` clients in file order.
    pub fn first(scenario: &Scenario, n: usize) -> Selection {
        let keep: Vec<&String> = scenario.clients.keys().take(n).collect();
        Self::of(scenario, |c| keep.iter().any(|k| *k == c))
    }

    fn of(scenario: &Scenario, pick: impl Fn(&str) -> bool) -> Selection {
        let (clients, client_ids) = scenario
            .clients
            .iter()
            .filter(|(name, _)| pick(name))
            .map(|(name, c)| (name.clone(), c.options.client_id.clone()))
            .unzip();
        Selection {
            clients,
            client_ids,
        }
    }

    fn has(&self, host: &str) -> bool {
        self.clients.iter().any(|c| c == host)
    }

    /// Whether a broker's note names a selected client id as a word.
    fn concerns(&self, note: &str) -> bool {
        note.split(|c: char| c.is_whitespace() || ",;()\"'".contains(c))
            .map(|w| w.trim_end_matches(':'))
            .any(|w| self.client_ids.iter().any(|id| id == w))
    }

    /// The scenario with only the selected clients (and every broker).
    pub fn scenario(&self, scenario: &Scenario) -> Scenario {
        let mut s = scenario.clone();
        s.clients.retain(|name, _| self.has(name));
        s
    }

    /// The report narrowed to the selection: the selected clients' events;
    /// the faults that touch a selected client or no client at all; the
    /// broker notes that name a selected client's id; the verdicts on the
    /// selected clients, and every failed verdict and broken invariant, so
    /// that the end line stays true.
    pub fn report(&self, scenario: &Scenario, report: &Report) -> Report {
        let is_client = |h: &str| scenario.clients.contains_key(h);
        let mut out = report.clone();
        out.events.retain(|e| match &e.kind {
            EventKind::Fault { fault } => {
                let hosts = fault_hosts(fault);
                hosts.iter().any(|h| self.has(h)) || !hosts.iter().any(|h| is_client(h))
            }
            EventKind::Note { text, .. } => self.concerns(text),
            other => other.host().is_some_and(|h| self.has(h)),
        });
        // One verdict per expectation, in order (`skip` for one left out
        // for the target).
        out.verdicts = scenario
            .expect
            .iter()
            .zip(&report.verdicts)
            .filter(|(e, v)| v.outcome == Outcome::Fail || e.clients.iter().any(|c| self.has(c)))
            .map(|(_, v)| v.clone())
            .collect();
        out
    }
}

/// The hosts a fault names.
fn fault_hosts(f: &FaultAction) -> Vec<&str> {
    match f {
        FaultAction::Partition { a, b, .. }
        | FaultAction::Hold(a, b)
        | FaultAction::Release(a, b)
        | FaultAction::Latency { a, b, .. }
        | FaultAction::Heal(Some((a, b))) => vec![a, b],
        FaultAction::Heal(None) => Vec::new(),
        FaultAction::Crash(h) | FaultAction::Restart(h) => vec![h],
    }
}

/// Counts by name, as `A 3, B 1`, in name order.
fn counts(map: &BTreeMap<String, usize>) -> String {
    if map.is_empty() {
        return "none".to_string();
    }
    map.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a run's events come to, counted by kind, packet type, how
/// connections closed and fault, for [`summary`].
#[derive(Default)]
struct Tally<'r> {
    kinds: BTreeMap<String, usize>,
    sent: BTreeMap<String, usize>,
    received: BTreeMap<String, usize>,
    closed: BTreeMap<String, usize>,
    faults: BTreeMap<String, usize>,
    per_client: BTreeMap<&'r str, usize>,
    first_error: Option<String>,
}

impl<'r> Tally<'r> {
    fn of(events: &'r [Event]) -> Self {
        let mut t = Tally::default();
        for e in events {
            t.count(e);
        }
        t
    }

    fn count(&mut self, e: &'r Event) {
        *self.kinds.entry(e.kind.name().to_string()).or_default() += 1;
        if let (Some(h), false) = (e.kind.host(), matches!(e.kind, EventKind::Note { .. })) {
            *self.per_client.entry(h).or_default() += 1;
        }
        let packet_type = |p| {
            packet_json::packet(p)
                .get("type")
                .and_then(|t| t.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        match &e.kind {
            EventKind::Send { packet, .. } => {
                *self.sent.entry(packet_type(packet)).or_default() += 1
            }
            EventKind::SendRaw { .. } => *self.sent.entry("raw".to_string()).or_default() += 1,
            EventKind::Recv { packet, .. } => {
                *self.received.entry(packet_type(packet)).or_default() += 1
            }
            EventKind::Closed { by, .. } => {
                *self
                    .closed
                    .entry(format!("by {}", super::expect::by_name(*by)))
                    .or_default() += 1
            }
            EventKind::Fault { fault } => {
                let name = write::fault_action(fault)
                    .as_object()
                    .and_then(|o| o.keys().next().cloned())
                    .unwrap_or_default();
                *self.faults.entry(name).or_default() += 1;
            }
            EventKind::Error { client, text } if self.first_error.is_none() => {
                self.first_error = Some(format!("{client} at {}: {text}", seconds(e.at)));
            }
            _ => {}
        }
    }

    /// The `clients` line: the busiest client and how many had no event.
    fn clients_line(&self, scenario: &Scenario) -> Option<String> {
        let silent = scenario
            .clients
            .keys()
            .filter(|c| !self.per_client.contains_key(c.as_str()))
            .count();
        let busiest = self
            .per_client
            .iter()
            .filter(|(h, _)| scenario.clients.contains_key(**h))
            .max_by_key(|(h, n)| (**n, std::cmp::Reverse(**h)));
        busiest
            .map(|(h, n)| format!("clients     busiest {h} ({n} events); {silent} with no event"))
    }
}

/// A run in a few lines: what happened, counted, instead of every event.
/// Failed expectations are listed in full, with their closest events; the
/// last line is the trace's end line.
pub fn summary(scenario: &Scenario, report: &Report) -> String {
    let tally = Tally::of(&report.events);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: {} brokers, {} clients; seed {}, {} simulated",
        scenario.name,
        scenario.brokers.len(),
        scenario.clients.len(),
        report.seed,
        seconds(report.end)
    );
    let _ = writeln!(
        s,
        "events      {} ({})",
        report.events.len(),
        counts(&tally.kinds)
    );
    let _ = writeln!(s, "sent        {}", counts(&tally.sent));
    let _ = writeln!(s, "received    {}", counts(&tally.received));
    let _ = writeln!(s, "closed      {}", counts(&tally.closed));
    let _ = writeln!(s, "faults      {}", counts(&tally.faults));
    if let Some(line) = tally.clients_line(scenario) {
        let _ = writeln!(s, "{line}");
    }
    if let Some(e) = &tally.first_error {
        let _ = writeln!(s, "first error {e}");
    }
    if report.dropped > 0 {
        let _ = writeln!(
            s,
            "dropped     {} events over the limit of {}",
            report.dropped,
            super::EVENTS_MAX
        );
    }
    verdict_lines(&mut s, report);
    let _ = writeln!(
        s,
        "end {} seed {}: {}",
        seconds(report.end),
        report.seed,
        if report.ok() { "ok" } else { "FAILED" }
    );
    s
}

/// The summary's judgement: expectations passed and failed (the failed
/// ones in full, up to [`SUMMARY_FAILED_MAX`]), broken invariants and the
/// harness error.
fn verdict_lines(s: &mut String, report: &Report) {
    let failed: Vec<_> = report.verdicts.iter().filter(|v| v.failed()).collect();
    let count = |o: Outcome| report.verdicts.iter().filter(|v| v.outcome == o).count();
    let _ = write!(
        s,
        "expect      {} passed, {} failed",
        count(Outcome::Pass),
        failed.len()
    );
    for o in [Outcome::Differs, Outcome::Skip] {
        if count(o) > 0 {
            let _ = write!(s, ", {} {}", count(o), o.name());
        }
    }
    s.push('\n');
    for v in failed.iter().take(SUMMARY_FAILED_MAX) {
        let _ = writeln!(s, "FAIL  line {}: {}", v.line, v.text);
        for c in &v.closest {
            let _ = writeln!(s, "        closest: {c}");
        }
    }
    if failed.len() > SUMMARY_FAILED_MAX {
        let _ = writeln!(
            s,
            "... and {} more failed expectations",
            failed.len() - SUMMARY_FAILED_MAX
        );
    }
    if !report.violations.is_empty() {
        let _ = writeln!(s, "invariants  {} broken", report.violations.len());
        s.push_str(&super::render::violations_text(&report.violations));
    }
    if let Some(e) = &report.harness_error {
        let _ = writeln!(s, "harness     {e}");
    }
}

/// The view of a run its scenario's `snapshot:` asks for, or the whole
/// text trace when it has none: the [`summary`] if asked, then the trace
/// narrowed to the chosen clients ([`Selection::report`]). A reviewer
/// reads a run of a thousand clients in this shape; the determinism check
/// still compares the whole traces of two runs.
pub fn snapshot(scenario: &Scenario, report: &Report) -> String {
    let Some(view) = &scenario.snapshot else {
        return super::render::text(report);
    };
    let mut s = String::new();
    if view.summary {
        s.push_str(&summary(scenario, report));
    }
    if !view.clients.is_empty() {
        // Validation made sure every pattern matches a client.
        let selection = Selection::of(scenario, |c| view.clients.iter().any(|p| matches(p, c)));
        if !s.is_empty() {
            let _ = writeln!(s, "\n== {}", selection.clients.join(", "));
        }
        s.push_str(&super::render::text(&selection.report(scenario, report)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Scenario, String> {
        crate::scenario::parse(yaml, std::path::Path::new("s.yaml")).map_err(|e| e.to_string())
    }

    const CROWD: &str = "duration: 1s\nbrokers: {broker: {}}\nclients:\n  c-{i}:\n    count: 5\n    steps: [{connect: {}}]\n";

    #[test]
    fn a_snapshot_view_must_name_clients_there_are_and_show_something() {
        let e = parse(&format!("{CROWD}snapshot:\n  clients: [d-1]\n")).unwrap_err();
        assert!(e.contains("`d-1` matches no client"), "{e}");
        let e = parse(&format!("{CROWD}snapshot: {{summary: false}}\n")).unwrap_err();
        assert!(e.contains("`snapshot` shows nothing"), "{e}");
        assert!(parse(&format!("{CROWD}snapshot: {{clients: [\"c-{{i}}\"]}}\n")).is_ok());
    }
}
