//! What the connection and session invariants read from a trace: each
//! client's connections (from TCP connect to close or crash, with the
//! CONNECT, CONNACK and DISCONNECT on them), the network faults that can
//! hide or delay what happened on a link, and the run's timing bounds.
//!
//! Everything here is derived from the trace and the scenario, never from
//! broker notes, so it judges any target.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::broker::Config;
use crate::scenario::{ClosedBy, DurationSpec, FaultAction, Force, Scenario, SessionExpiry};
use crate::trace::{Event, EventKind, Violation, render};
use crate::wire::{ConnAck, Connect, Disconnect, LEVEL_V5, Packet};

use super::Run;

/// A session expiry interval that never ends, in seconds (0xFFFFFFFF).
pub const EXPIRY_NEVER_S: u32 = SessionExpiry::NEVER_WIRE;

/// How a connection ended, as its client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndKind {
    Closed(ClosedBy),
    /// The client's host crashed (or was restarted) while it was open.
    Crashed,
}

#[derive(Debug, Clone, Copy)]
pub struct End {
    pub at: Duration,
    pub kind: EndKind,
    /// The event that ended it.
    pub index: usize,
}

/// One TCP connection of one client, as its client saw it.
#[derive(Debug, Clone)]
pub struct Conn<'a> {
    /// The client (host) name.
    pub client: &'a str,
    pub start: Duration,
    /// The CONNECT the client sent: time, event index, packet, level.
    pub connect: Option<(Duration, usize, &'a Connect, u8)>,
    pub connack: Option<(Duration, usize, &'a ConnAck)>,
    /// The DISCONNECT the client sent.
    pub disconnect: Option<(Duration, usize, &'a Disconnect)>,
    /// The DISCONNECT the broker sent (5.0).
    pub server_disconnect: Option<(Duration, usize, &'a Disconnect)>,
    pub end: Option<End>,
    /// When the client wrote anything (packets and raw bytes), in order.
    pub sends: Vec<Duration>,
    /// Whether it wrote raw bytes (`send` steps, raw CONNECT).
    pub raw: bool,
    /// Whether a `silence` step stopped its automatic packets (acks).
    pub silenced: bool,
    /// Indices of its events in the trace, in order.
    pub events: Vec<usize>,
}

impl<'a> Conn<'a> {
    /// The protocol level of its CONNECT (4 when unknown).
    pub fn level(&self) -> u8 {
        self.connect.map_or(4, |c| c.2.protocol_level)
    }

    pub fn client_id(&self) -> Option<&'a str> {
        self.connect.map(|c| c.2.client_id.as_str())
    }

    /// Whether the broker accepted its CONNECT (CONNACK code 0).
    pub fn accepted(&self) -> bool {
        self.connack.is_some_and(|c| c.2.code == 0)
    }

    pub fn connack_at(&self) -> Option<Duration> {
        self.connack.map(|c| c.0)
    }

    pub fn end_at(&self) -> Option<Duration> {
        self.end.map(|e| e.at)
    }

    /// Whether the client ended it with a DISCONNECT that discards the
    /// will: 3.1.1's, or 5.0's with reason 0x00.
    pub fn normal_disconnect(&self) -> bool {
        self.disconnect
            .is_some_and(|d| d.2.reason.is_none_or(|r| r == 0))
    }

    /// The keep-alive the broker must enforce: 5.0's Server Keep Alive from
    /// CONNACK when present, else CONNECT's. Zero is off.
    pub fn keep_alive(&self) -> Duration {
        let from_connack = self
            .connack
            .and_then(|c| c.2.properties.server_keep_alive());
        let s = from_connack.or(self.connect.map(|c| c.2.keep_alive_s));
        Duration::from_secs(u64::from(s.unwrap_or(0)))
    }

    /// How long its session outlives it, in seconds ([`EXPIRY_NEVER_S`]
    /// for ever). 3.1.1: 0 for clean session 1; otherwise the broker's
    /// `persistent_session_expiry`, or never. 5.0: CONNACK's Session Expiry
    /// Interval when the broker set one, else CONNECT's (absent is 0), and
    /// a client DISCONNECT may change it, though not from 0.
    pub fn session_expiry_s(&self, broker: &Config) -> u32 {
        let Some((_, _, connect, level)) = self.connect else {
            return 0;
        };
        if level != LEVEL_V5 {
            if connect.clean {
                return 0;
            }
            return broker
                .persistent_session_expiry
                .map_or(EXPIRY_NEVER_S, |d| {
                    u32::try_from(d.as_secs()).unwrap_or(EXPIRY_NEVER_S)
                });
        }
        let expiry = |props: &crate::wire::Properties| props.session_expiry_interval();
        let granted = self
            .connack
            .and_then(|c| expiry(&c.2.properties))
            .or(expiry(&connect.properties))
            .unwrap_or(0);
        match self.disconnect.and_then(|d| expiry(&d.2.properties)) {
            // 5.0 section 3.14.2.2.2: from 0 to non-zero is a protocol error.
            Some(_) if granted == 0 => 0,
            Some(s) => s,
            None => granted,
        }
    }

    /// The last time the client read a packet on it: the broker was still
    /// serving it one link latency before.
    pub fn last_recv(&self, events: &[Event]) -> Option<Duration> {
        self.events
            .iter()
            .rev()
            .find(|&&i| matches!(events[i].kind, EventKind::Recv { .. }))
            .map(|&i| events[i].at)
    }
}

/// What the connection and session invariants read: the connections, the
/// faults and the timing bounds of one run. Built once per run by
/// [`Run::sessions`] and shared by the four.
pub struct Sessions<'a> {
    pub conns: Vec<Conn<'a>>,
    pub faults: Faults,
    pub timing: Timing,
}

impl<'a> Sessions<'a> {
    pub fn of(run: &Run<'a>) -> Sessions<'a> {
        Sessions {
            conns: connections(run.events),
            faults: Faults::of(run),
            timing: Timing::of(run),
        }
    }
}

/// Every connection in the trace, in the order they started.
pub fn connections(events: &[Event]) -> Vec<Conn<'_>> {
    let mut all: Vec<Conn<'_>> = Vec::new();
    // Index in `all` of each client's open connection.
    let mut open: BTreeMap<&str, usize> = BTreeMap::new();
    let open_of = |open: &BTreeMap<&str, usize>, client: &str| open.get(client).copied();
    for (index, ev) in events.iter().enumerate() {
        let at = ev.at;
        match &ev.kind {
            EventKind::Connected { client } => {
                open.insert(client, all.len());
                all.push(Conn {
                    client,
                    start: at,
                    connect: None,
                    connack: None,
                    disconnect: None,
                    server_disconnect: None,
                    end: None,
                    sends: Vec::new(),
                    raw: false,
                    silenced: false,
                    events: vec![index],
                });
            }
            EventKind::Fault {
                fault: FaultAction::Crash(h) | FaultAction::Restart(h),
            } => {
                if let Some(i) = open_of(&open, h) {
                    all[i].end = Some(End {
                        at,
                        kind: EndKind::Crashed,
                        index,
                    });
                    all[i].events.push(index);
                    open.remove(h.as_str());
                }
            }
            kind => {
                let Some(client) = kind.host() else { continue };
                let Some(i) = open_of(&open, client) else {
                    continue;
                };
                let conn = &mut all[i];
                conn.events.push(index);
                match kind {
                    EventKind::Send { packet, level, .. } => {
                        conn.sends.push(at);
                        match packet {
                            Packet::Connect(c) if conn.connect.is_none() => {
                                conn.connect = Some((at, index, c, *level));
                            }
                            Packet::Disconnect(d) if conn.disconnect.is_none() => {
                                conn.disconnect = Some((at, index, d));
                            }
                            _ => {}
                        }
                    }
                    EventKind::SendRaw { .. } => {
                        conn.sends.push(at);
                        conn.raw = true;
                    }
                    EventKind::Recv { packet, .. } => match packet {
                        Packet::ConnAck(c) if conn.connack.is_none() => {
                            conn.connack = Some((at, index, c));
                        }
                        Packet::Disconnect(d) if conn.server_disconnect.is_none() => {
                            conn.server_disconnect = Some((at, index, d));
                        }
                        _ => {}
                    },
                    EventKind::Silence { .. } => conn.silenced = true,
                    EventKind::Closed { by, .. } => {
                        conn.end = Some(End {
                            at,
                            kind: EndKind::Closed(*by),
                            index,
                        });
                        open.remove(client);
                    }
                    _ => {}
                }
            }
        }
    }
    all
}

/// What a fault does for as long as it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// A partition, a hold or a changed latency between two hosts.
    Link(String, String),
    /// A host crashed (until its restart).
    Host(String),
}

#[derive(Debug, Clone)]
struct Span {
    scope: Scope,
    from: Duration,
    to: Duration,
}

/// The intervals during which faults were in effect, from the trace's
/// fault events.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    spans: Vec<Span>,
}

fn same_pair(x: &Scope, a: &str, b: &str) -> bool {
    matches!(x, Scope::Link(p, q) if (p == a && q == b) || (p == b && q == a))
}

impl Faults {
    pub fn of(run: &Run) -> Faults {
        let base = |a: &str, b: &str| base_latency(run.scenario, a, b);
        let mut open: Vec<Span> = Vec::new();
        let mut done: Vec<Span> = Vec::new();
        let close =
            |open: &mut Vec<Span>, done: &mut Vec<Span>, at, pred: &dyn Fn(&Span) -> bool| {
                let mut k = 0;
                while k < open.len() {
                    if pred(&open[k]) {
                        let mut s = open.remove(k);
                        s.to = at;
                        done.push(s);
                    } else {
                        k += 1;
                    }
                }
            };
        for ev in run.events {
            let EventKind::Fault { fault } = &ev.kind else {
                continue;
            };
            let at = ev.at;
            let link = |a: &str, b: &str| Span {
                scope: Scope::Link(a.to_string(), b.to_string()),
                from: at,
                to: Duration::MAX,
            };
            match fault {
                FaultAction::Partition { a, b, .. } | FaultAction::Hold(a, b) => {
                    open.push(link(a, b));
                }
                FaultAction::Heal(Some((a, b))) | FaultAction::Release(a, b) => {
                    close(&mut open, &mut done, at, &|s| same_pair(&s.scope, a, b));
                }
                FaultAction::Heal(None) => {
                    close(&mut open, &mut done, at, &|s| {
                        matches!(s.scope, Scope::Link(..))
                    });
                }
                FaultAction::Latency { a, b, value } => {
                    close(&mut open, &mut done, at, &|s| same_pair(&s.scope, a, b));
                    if value.max() != base(a, b) {
                        open.push(link(a, b));
                    }
                }
                FaultAction::Crash(h) => open.push(Span {
                    scope: Scope::Host(h.clone()),
                    from: at,
                    to: Duration::MAX,
                }),
                FaultAction::Restart(h) => {
                    close(&mut open, &mut done, at, &|s| {
                        s.scope == Scope::Host(h.clone())
                    });
                    // Restarting a running host crashes it first.
                    done.push(Span {
                        scope: Scope::Host(h.clone()),
                        from: at,
                        to: at,
                    });
                }
            }
        }
        done.extend(open);
        Faults { spans: done }
    }

    /// Whether a fault touched the link between `a` and `b`, or either
    /// host, at any moment of `[from, to]`.
    pub fn disturbed(&self, a: &str, b: &str, from: Duration, to: Duration) -> bool {
        self.disturbed_but(a, b, from, to, None)
    }

    /// [`Faults::disturbed`], leaving out the crash of `host` at `at`
    /// (the crash being judged).
    pub fn disturbed_but(
        &self,
        a: &str,
        b: &str,
        from: Duration,
        to: Duration,
        crash: Option<(&str, Duration)>,
    ) -> bool {
        self.spans.iter().any(|s| {
            let touches = match &s.scope {
                Scope::Host(h) => {
                    (h == a || h == b) && crash.is_none_or(|(c, at)| !(h == c && s.from == at))
                }
                link => same_pair(link, a, b),
            };
            touches && s.from <= to && s.to >= from
        })
    }

    /// Whether `host` crashed or restarted at any moment of `[from, to]`.
    pub fn crashed(&self, host: &str, from: Duration, to: Duration) -> bool {
        self.spans.iter().any(|s| {
            matches!(&s.scope, Scope::Host(h) if h == host) && s.from <= to && s.to >= from
        })
    }
}

/// The latency the scenario gives the link between `a` and `b`, at most.
fn base_latency(scenario: &Scenario, a: &str, b: &str) -> Duration {
    scenario
        .network
        .links
        .iter()
        .find(|l| (l.between.0 == a && l.between.1 == b) || (l.between.0 == b && l.between.1 == a))
        .map_or(scenario.network.latency, |l| l.latency)
        .max()
}

/// Timing bounds of a run.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The largest one-way latency of any link at any time.
    pub latency: Duration,
    pub tick: Duration,
    /// When the run ended: the last event.
    pub end: Duration,
}

impl Timing {
    pub fn of(run: &Run) -> Timing {
        let s = run.scenario;
        let faults = run.events.iter().filter_map(|e| match &e.kind {
            EventKind::Fault {
                fault: FaultAction::Latency { value, .. },
            } => Some(value.max()),
            _ => None,
        });
        let latency = std::iter::once(s.network.latency)
            .chain(s.network.links.iter().map(|l| l.latency))
            .map(|d: DurationSpec| d.max())
            .chain(faults)
            .max()
            .unwrap_or_default();
        let latency = if run.live {
            latency + super::LIVE_LATENCY_SLACK
        } else {
            latency
        };
        Timing {
            latency,
            tick: s.network.tick(),
            end: s.duration,
        }
    }

    /// One packet across one link: the latency and a tick.
    pub fn delivery(&self) -> Duration {
        self.latency + self.tick
    }

    /// The tolerance of a bound: a round trip, and a millisecond for
    /// rounding.
    pub fn slack(&self) -> Duration {
        2 * self.delivery() + Duration::from_millis(1)
    }
}

/// The broker host a client connects to, and its options.
pub fn broker_of<'s>(scenario: &'s Scenario, client: &str) -> Option<(&'s str, &'s Config)> {
    let name = &scenario.clients.get(client)?.broker;
    let config = scenario.brokers.get(name)?;
    Some((name.as_str(), config))
}

/// One invariant's findings (text and the events it cites) as violations.
/// Not capped here: [`super::violations`] caps every invariant once, so the
/// count of the rest is the true one.
pub fn found_violations(
    name: &str,
    spec_ids: &[&str],
    found: Vec<(String, Vec<String>)>,
) -> Vec<Violation> {
    found
        .into_iter()
        .map(|(text, events)| super::violation(name, spec_ids, text, events))
        .collect()
}

/// [`found_violations`] for what breaks a MUST (`found`) and for what only
/// passes a bound the spec does not give (`choices`: how late a close or a
/// will came), the latter with the force of the reference's choice.
pub fn found_with_choices(
    name: &str,
    spec_ids: &[&str],
    found: Vec<(String, Vec<String>)>,
    choices: Vec<(String, Vec<String>)>,
) -> Vec<Violation> {
    let mut out = found_violations(name, spec_ids, found);
    let mut choices = found_violations(name, spec_ids, choices);
    choices.iter_mut().for_each(|v| v.force = Force::Choice);
    out.extend(choices);
    out
}

/// The events at `indices`, rendered as in the text trace.
pub fn rendered(events: &[Event], indices: &[usize]) -> Vec<String> {
    indices
        .iter()
        .filter_map(|&i| events.get(i))
        .map(render::event_line)
        .collect()
}

/// Seconds as a whole-second `Duration`, saturating at "never".
pub fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}
