//! What a diagram shows, in simulated time and host indices, before any
//! coordinates: lifelines, messages, ping runs, fault bands, closes, notes
//! and failures. Built once from a scenario and its report; the SVG layout
//! and the Mermaid writer both read it.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::time::Duration;

use crate::packet_json::hex;
use crate::scenario::{ClosedBy, FaultAction, Scenario};
use crate::trace::{Event, EventKind, Report, render};
use crate::wire::Packet;

use super::label;

/// A run of at least this many PINGREQ/PINGRESP packets of one client, with
/// nothing else of that client in between, is drawn as one marker.
pub const PING_RUN_MIN: usize = 4;

/// The most items one diagram draws; past it, events are counted in
/// [`Diagram::omitted`] instead. A browser slows to a crawl on SVGs far
/// larger than this, and nobody reads them: `--from/--to` pick a window.
pub const ITEMS_MAX: usize = 5_000;

/// How much of raw bytes a `send` label shows, in hex characters.
const RAW_HEX_CHARS_MAX: usize = 24;

/// The part of the run a diagram shows; both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Duration,
    pub to: Duration,
}

impl Window {
    pub fn contains(&self, at: Duration) -> bool {
        self.from <= at && at <= self.to
    }
}

#[derive(Debug, Clone)]
pub struct Diagram {
    pub title: String,
    pub seed: u64,
    pub window: Window,
    pub hosts: Vec<Host>,
    /// In the order of the events they come from (so in time order), except
    /// activations, which come at their end.
    pub items: Vec<Item>,
    pub failures: Vec<Failure>,
    /// Events in the window not drawn because of [`ITEMS_MAX`].
    pub omitted: usize,
    /// Set when the harness could not complete the run.
    pub harness_error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub broker: bool,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub line: usize,
    pub text: String,
    pub closest: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Item {
    Message(Message),
    Pings(PingRun),
    Fault(FaultBand),
    Close(Close),
    Note(Note),
    Active(Active),
}

/// One packet (or raw bytes) between a client and its broker. Only the
/// client's end is traced; the other end is that time plus or minus the
/// link's latency (see the module docs of [`crate::diagram`]).
#[derive(Debug, Clone)]
pub struct Message {
    pub from: usize,
    pub to: usize,
    pub sent_at: Duration,
    pub received_at: Duration,
    pub label: String,
    /// The event's line in the text trace, for the tooltip.
    pub line: String,
    pub sent_by_client: bool,
    /// One of the events closest to a failed expectation.
    pub closest: bool,
}

#[derive(Debug, Clone)]
pub struct PingRun {
    pub client: usize,
    pub broker: usize,
    pub start: Duration,
    pub end: Duration,
    pub pingreqs: usize,
    pub pingresps: usize,
}

impl PingRun {
    pub fn packets(&self) -> usize {
        self.pingreqs + self.pingresps
    }

    /// `12 x PINGREQ/PINGRESP`, or both counts when they differ.
    pub fn label(&self) -> String {
        if self.pingreqs == self.pingresps {
            format!("{} x PINGREQ/PINGRESP", self.pingreqs)
        } else {
            format!(
                "{} x PINGREQ / {} x PINGRESP",
                self.pingreqs, self.pingresps
            )
        }
    }
}

/// A fault from the moment it took effect to its heal, release or restart,
/// or to the end of the window.
#[derive(Debug, Clone)]
pub struct FaultBand {
    pub start: Duration,
    pub end: Duration,
    /// Whether it was still in force at the end of the window.
    pub open: bool,
    pub hosts: Vec<usize>,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Close {
    pub host: usize,
    pub at: Duration,
    pub by: &'static str,
    pub closest: bool,
}

#[derive(Debug, Clone)]
pub struct Note {
    pub host: usize,
    pub at: Duration,
    pub text: String,
    /// A client-side error rather than a broker's note.
    pub error: bool,
    pub closest: bool,
}

/// A client's connection, from connect to close (or the window's edges).
#[derive(Debug, Clone)]
pub struct Active {
    pub host: usize,
    pub start: Duration,
    pub end: Duration,
}

/// Builds the diagram of `report`, a run of `scenario`, within `window`.
pub fn build(scenario: &Scenario, report: &Report, window: Window) -> Diagram {
    let hosts = order_hosts(scenario, &report.events);
    let index: BTreeMap<&str, usize> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.name.as_str(), i))
        .collect();
    let failed = failures(report);
    let closest_lines = closest_lines(&failed);
    let is_closest = |ev: &Event| {
        !closest_lines.is_empty() && closest_lines.contains(render::event_line(ev).as_str())
    };
    let collapsed = ping_runs(&report.events, window);
    let lifelines = Lifelines {
        scenario,
        hosts: &hosts,
        index: &index,
    };

    let mut latency = Latencies::new(scenario);
    let mut faults = OpenFaults::default();
    let mut connected: BTreeMap<usize, Duration> = BTreeMap::new();
    let mut items = Vec::new();
    let mut omitted = 0;
    for (i, ev) in report.events.iter().enumerate() {
        if let EventKind::Fault { fault } = &ev.kind {
            latency.apply(fault);
            faults.apply(ev.at, fault, &index, window, &mut items);
            continue;
        }
        let Some(host) = ev.kind.host().and_then(|h| index.get(h).copied()) else {
            continue;
        };
        match &ev.kind {
            EventKind::Connected { .. } => {
                connected.insert(host, ev.at);
            }
            EventKind::Closed { .. } => {
                if let Some(start) = connected.remove(&host) {
                    push_active(&mut items, host, start, ev.at, window);
                }
            }
            _ => {}
        }
        if !window.contains(ev.at) {
            continue;
        }
        if items.len() >= ITEMS_MAX {
            if !matches!(collapsed.get(&i), Some(Collapse::Inside)) {
                omitted += 1;
            }
            continue;
        }
        match collapsed.get(&i) {
            Some(Collapse::Start(run)) => {
                items.extend(lifelines.pings(run).map(Item::Pings));
                continue;
            }
            Some(Collapse::Inside) => continue,
            None => {}
        }
        items.extend(event_item(ev, host, is_closest(ev), &lifelines, &latency));
    }
    for (host, start) in connected {
        push_active(&mut items, host, start, window.to, window);
    }
    faults.close_all(window, &mut items);
    Diagram {
        title: scenario.name.clone(),
        seed: report.seed,
        window,
        hosts,
        items,
        failures: failed,
        omitted,
        harness_error: report.harness_error.clone(),
    }
}

/// The expectations that failed.
fn failures(report: &Report) -> Vec<Failure> {
    report
        .verdicts
        .iter()
        .filter(|v| v.failed())
        .map(|v| Failure {
            line: v.line,
            text: v.text.clone(),
            closest: v.closest.clone(),
        })
        .collect()
}

/// The trace lines of the events closest to the failures.
fn closest_lines(failed: &[Failure]) -> BTreeSet<&str> {
    failed
        .iter()
        .flat_map(|f| f.closest.iter().map(String::as_str))
        .collect()
}

/// The lifelines by name, and the broker a client's packets go to.
struct Lifelines<'a> {
    scenario: &'a Scenario,
    hosts: &'a [Host],
    index: &'a BTreeMap<&'a str, usize>,
}

impl Lifelines<'_> {
    /// The lifeline of `client`'s broker, or the first broker's for a
    /// client the scenario does not name.
    fn broker_of(&self, client: &str) -> Option<usize> {
        let broker = self.scenario.clients.get(client).map(|c| c.broker.as_str());
        broker
            .and_then(|b| self.index.get(b).copied())
            .or_else(|| self.hosts.iter().position(|h| h.broker))
    }

    fn name_of(&self, i: usize) -> &str {
        self.hosts.get(i).map_or("", |h| h.name.as_str())
    }

    /// The marker of a collapsed ping run, between its client and broker.
    fn pings(&self, run: &Run) -> Option<PingRun> {
        let (Some(broker), Some(client)) = (
            self.broker_of(&run.client),
            self.index.get(run.client.as_str()),
        ) else {
            return None;
        };
        Some(PingRun {
            client: *client,
            broker,
            start: run.start,
            end: run.end,
            pingreqs: run.pingreqs,
            pingresps: run.pingresps,
        })
    }
}

/// What one event in the window draws on `host`'s lifeline, if anything.
fn event_item(
    ev: &Event,
    host: usize,
    closest: bool,
    lifelines: &Lifelines,
    latency: &Latencies,
) -> Option<Item> {
    let note = |text: String, error: bool| {
        Some(Item::Note(Note {
            host,
            at: ev.at,
            text,
            error,
            closest,
        }))
    };
    match &ev.kind {
        EventKind::Send { .. } | EventKind::SendRaw { .. } | EventKind::Recv { .. } => {
            message(ev, host, closest, lifelines, latency).map(Item::Message)
        }
        EventKind::Closed { by, .. } => Some(Item::Close(Close {
            host,
            at: ev.at,
            by: match by {
                ClosedBy::Broker => "broker",
                ClosedBy::Client => "client",
            },
            closest,
        })),
        EventKind::Note { text, .. } => note(text.clone(), false),
        EventKind::Held { text, .. } => note(format!("held: {text}"), false),
        EventKind::Error { text, .. } => note(format!("error: {text}"), true),
        EventKind::ConnectFailed { error, .. } => note(format!("connect failed: {error}"), true),
        EventKind::Silence { .. } => note("silence".to_string(), false),
        EventKind::Resume { .. } => note("resume".to_string(), false),
        EventKind::Connected { .. } | EventKind::Fault { .. } => None,
    }
}

/// A packet (or raw bytes) between `host`, a client, and its broker: only
/// the client's end is traced, the broker's is one latency away.
fn message(
    ev: &Event,
    host: usize,
    closest: bool,
    lifelines: &Lifelines,
    latency: &Latencies,
) -> Option<Message> {
    let (client, sent_by_client) = match &ev.kind {
        EventKind::Send { client, .. } | EventKind::SendRaw { client, .. } => (client, true),
        EventKind::Recv { client, .. } => (client, false),
        _ => return None,
    };
    let broker = lifelines.broker_of(client)?;
    let lat = latency.between(client, lifelines.name_of(broker));
    let label = match &ev.kind {
        EventKind::Send { packet, level, .. } | EventKind::Recv { packet, level, .. } => {
            label::packet(packet, *level)
        }
        EventKind::SendRaw { bytes, .. } => {
            format!("raw {}", label::cut(&hex::encode(bytes), RAW_HEX_CHARS_MAX))
        }
        _ => return None,
    };
    let (from, to, sent_at, received_at) = if sent_by_client {
        (host, broker, ev.at, ev.at + lat)
    } else {
        (broker, host, ev.at.saturating_sub(lat), ev.at)
    };
    Some(Message {
        from,
        to,
        sent_at,
        received_at,
        label,
        line: render::event_line(ev),
        sent_by_client,
        closest,
    })
}

fn push_active(items: &mut Vec<Item>, host: usize, start: Duration, end: Duration, w: Window) {
    if end < w.from || start > w.to {
        return;
    }
    items.push(Item::Active(Active {
        host,
        start: start.max(w.from),
        end: end.min(w.to),
    }));
}

/// Lifelines: half the clients, then the brokers, then the other half, so
/// that arrows go out to both sides of the broker and stay short.
fn order_hosts(scenario: &Scenario, events: &[Event]) -> Vec<Host> {
    let clients: Vec<&String> = scenario.clients.keys().collect();
    let (left, right) = clients.split_at(clients.len() / 2);
    let client = |n: &&String| Host {
        name: (*n).clone(),
        broker: false,
    };
    let mut hosts: Vec<Host> = left.iter().map(client).collect();
    hosts.extend(scenario.brokers.keys().map(|n| Host {
        name: n.clone(),
        broker: true,
    }));
    hosts.extend(right.iter().map(client));
    // A host the scenario does not name (a report built by hand) still gets
    // a lifeline, at the end.
    for ev in events {
        if let Some(h) = ev.kind.host()
            && !hosts.iter().any(|x| x.name == h)
        {
            hosts.push(Host {
                name: h.to_string(),
                broker: matches!(ev.kind, EventKind::Note { .. }),
            });
        }
    }
    hosts
}

/// One-way latency per link, as the scenario sets it and as `latency`
/// faults change it. The minimum of a range is used: it is the delay every
/// message has at least, and the trace does not say what was drawn.
struct Latencies {
    default: Duration,
    links: BTreeMap<(String, String), Duration>,
}

impl Latencies {
    fn new(s: &Scenario) -> Self {
        let links = s
            .network
            .links
            .iter()
            .map(|l| (pair(&l.between.0, &l.between.1), l.latency.min()))
            .collect();
        Latencies {
            default: s.network.latency.min(),
            links,
        }
    }

    fn apply(&mut self, fault: &FaultAction) {
        if let FaultAction::Latency { a, b, value } = fault {
            self.links.insert(pair(a, b), value.min());
        }
    }

    fn between(&self, a: &str, b: &str) -> Duration {
        self.links.get(&pair(a, b)).copied().unwrap_or(self.default)
    }
}

fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// Faults in force, keyed by what ends them.
#[derive(Default)]
struct OpenFaults {
    open: Vec<(FaultKey, Duration, FaultBand)>,
}

#[derive(Debug, Clone, PartialEq)]
enum FaultKey {
    Partition(String, String),
    Hold(String, String),
    Latency(String, String),
    Crash(String),
}

impl OpenFaults {
    fn apply(
        &mut self,
        at: Duration,
        fault: &FaultAction,
        index: &BTreeMap<&str, usize>,
        w: Window,
        items: &mut Vec<Item>,
    ) {
        let hosts = |names: &[&str]| -> Vec<usize> {
            names.iter().filter_map(|n| index.get(n).copied()).collect()
        };
        match fault {
            FaultAction::Partition { a, b, oneway } => {
                let arrow = if *oneway { "->" } else { "<->" };
                self.open(
                    FaultKey::Partition(a.clone(), b.clone()),
                    at,
                    hosts(&[a, b]),
                    format!("partition {a} {arrow} {b}"),
                );
            }
            FaultAction::Heal(Some((a, b))) => {
                let (x, y) = (a.clone(), b.clone());
                self.close(at, w, items, |k| {
                    *k == FaultKey::Partition(x.clone(), y.clone())
                        || *k == FaultKey::Partition(y.clone(), x.clone())
                });
            }
            FaultAction::Heal(None) => {
                self.close(at, w, items, |k| matches!(k, FaultKey::Partition(..)));
            }
            FaultAction::Hold(a, b) => self.open(
                FaultKey::Hold(a.clone(), b.clone()),
                at,
                hosts(&[a, b]),
                format!("hold {a} <-> {b}"),
            ),
            FaultAction::Release(a, b) => {
                let (x, y) = (a.clone(), b.clone());
                self.close(at, w, items, |k| {
                    *k == FaultKey::Hold(x.clone(), y.clone())
                        || *k == FaultKey::Hold(y.clone(), x.clone())
                });
            }
            FaultAction::Latency { a, b, value } => {
                let (x, y) = pair(a, b);
                let key = FaultKey::Latency(x, y);
                self.close(at, w, items, |k| *k == key);
                let value = value.text();
                self.open(
                    key,
                    at,
                    hosts(&[a, b]),
                    format!("latency {a} <-> {b} {value}"),
                );
            }
            FaultAction::Crash(h) => self.open(
                FaultKey::Crash(h.clone()),
                at,
                hosts(&[h]),
                format!("crash {h}"),
            ),
            FaultAction::Restart(h) => {
                let key = FaultKey::Crash(h.clone());
                self.close(at, w, items, |k| *k == key);
            }
        }
    }

    fn open(&mut self, key: FaultKey, at: Duration, hosts: Vec<usize>, label: String) {
        let band = FaultBand {
            start: at,
            end: at,
            open: true,
            hosts,
            label,
        };
        self.open.push((key, at, band));
    }

    fn close(
        &mut self,
        at: Duration,
        w: Window,
        items: &mut Vec<Item>,
        ends: impl Fn(&FaultKey) -> bool,
    ) {
        let (ended, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|(k, _, _)| ends(k));
        self.open = kept;
        for (_, start, band) in ended {
            push_band(items, band, start, at, false, w);
        }
    }

    fn close_all(&mut self, w: Window, items: &mut Vec<Item>) {
        for (_, start, band) in std::mem::take(&mut self.open) {
            push_band(items, band, start, w.to, true, w);
        }
    }
}

fn push_band(
    items: &mut Vec<Item>,
    mut band: FaultBand,
    start: Duration,
    end: Duration,
    open: bool,
    w: Window,
) {
    if end < w.from || start > w.to {
        return;
    }
    band.start = start.max(w.from);
    band.end = end.min(w.to);
    band.open = open || end > w.to;
    items.push(Item::Fault(band));
}

/// How an event takes part in a collapsed ping run.
enum Collapse {
    /// The run's first event, which stands for the whole run.
    Start(Run),
    Inside,
}

struct Run {
    client: String,
    start: Duration,
    end: Duration,
    pingreqs: usize,
    pingresps: usize,
}

/// Finds each client's runs of PINGREQ/PINGRESP within the window that are
/// long enough to collapse, keyed by event index.
fn ping_runs(events: &[Event], w: Window) -> BTreeMap<usize, Collapse> {
    // Per client: the indices of its current run.
    let mut current: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (i, ev) in events.iter().enumerate() {
        if !w.contains(ev.at) {
            continue;
        }
        let ping = matches!(
            &ev.kind,
            EventKind::Send {
                packet: Packet::PingReq,
                ..
            } | EventKind::Recv {
                packet: Packet::PingResp,
                ..
            }
        );
        let Some(client) = ev.kind.host() else {
            continue;
        };
        if ping {
            current.entry(client).or_default().push(i);
        } else if let Some(run) = current.remove(client) {
            collapse(events, client, &run, &mut out);
        }
    }
    for (client, run) in current {
        collapse(events, client, &run, &mut out);
    }
    out
}

fn collapse(events: &[Event], client: &str, run: &[usize], out: &mut BTreeMap<usize, Collapse>) {
    if run.len() < PING_RUN_MIN {
        return;
    }
    let (Some(&first), Some(&last)) = (run.first(), run.last()) else {
        return;
    };
    let (Some(start), Some(end)) = (events.get(first), events.get(last)) else {
        return;
    };
    let pingreqs = run
        .iter()
        .filter(|&&i| matches!(events.get(i).map(|e| &e.kind), Some(EventKind::Send { .. })))
        .count();
    out.insert(
        first,
        Collapse::Start(Run {
            client: client.to_string(),
            start: start.at,
            end: end.at,
            pingreqs,
            pingresps: run.len() - pingreqs,
        }),
    );
    for &i in run.iter().skip(1) {
        out.insert(i, Collapse::Inside);
    }
}
