//! `session-present`: CONNACK's Session Present agrees with the session's
//! history.
//!
//! For each accepted CONNECT:
//! - Clean session (3.1.1) or Clean Start (5.0) 1: Session Present is 0.
//! - Otherwise, with a previous accepted connection for the same client id
//!   on the same broker: Session Present is 1 when that connection's
//!   session outlived it and has not expired by the new CONNECT, 0 when it
//!   did not or has. A 3.1.1 session outlives its connection with clean
//!   session 0 (for the broker's `persistent_session_expiry`, or for ever);
//!   a 5.0 session for its Session Expiry Interval (CONNACK's when the
//!   broker set one, else CONNECT's, or the client's DISCONNECT's, though
//!   not from 0). A session still connected (a takeover) is present when
//!   it was persistent.
//!
//! Skipped (the history is not known from the trace): no previous
//! connection for the client id in this run (a live broker keeps sessions
//! across runs); a previous CONNECT whose CONNACK never arrived or was a
//! refusal; an empty client id; an expiry that ends within the slack of
//! the new CONNECT; a broker crash or restart, or any fault on either
//! client's link, between the two; a broker whose session table could
//! fill up (`sessions_max` at most the number of client ids that connect
//! to it), since eviction legitimately ends a session.

use std::collections::{BTreeMap, BTreeSet};

use crate::trace::Violation;
use crate::trace::render::seconds;

use super::connections::{
    Conn, EXPIRY_NEVER_S, Faults, Sessions, Timing, broker_of, found_violations, rendered, secs,
};
use super::{Invariant, Run, Spec};
use crate::scenario::Force;

pub const SPEC_V311: &[&str] = &["MQTT-3.2.2-1", "MQTT-3.2.2-2", "MQTT-3.1.2-4"];
pub const SPEC_V5: &[&str] = &["MQTT-3.2.2-2", "MQTT-3.2.2-3"];

pub const SESSION_PRESENT: Invariant = Invariant {
    name: "session-present",
    spec: Spec {
        v311: SPEC_V311,
        v5: SPEC_V5,
    },
    force: Force::Binding,
    check,
};

fn check(run: &Run) -> Vec<Violation> {
    let Sessions {
        conns,
        faults,
        timing,
    } = run.sessions();
    let mut found = Vec::new();
    let mut level = 4;
    let history = History::of(run, conns);
    for (i, c) in conns.iter().enumerate() {
        let (Some((_, connack_index, connack)), Some((connect_at, connect_index, ..))) =
            (c.connack, c.connect)
        else {
            continue;
        };
        if connack.code != 0 {
            continue;
        }
        let Some(expected) = expected(run, conns, &history, i, faults, timing) else {
            continue;
        };
        if connack.session_present != expected.present {
            level = c.level();
            let mut shown = expected.shown;
            shown.extend([connect_index, connack_index]);
            found.push((
                format!(
                    "{}'s CONNACK at {} says session present {} but {} (CONNECT at {})",
                    c.client,
                    seconds(c.connack_at().unwrap_or_default()),
                    u8::from(connack.session_present),
                    expected.why,
                    seconds(connect_at)
                ),
                rendered(run.events, &shown),
            ));
        }
    }
    found_violations(
        SESSION_PRESENT.name,
        Spec {
            v311: SPEC_V311,
            v5: SPEC_V5,
        }
        .at(level),
        found,
    )
}

struct Expected {
    present: bool,
    why: String,
    /// Events of the history that decided it.
    shown: Vec<usize>,
}

/// What Session Present must be for connection `i`, or `None` when the
/// trace cannot say.
fn expected(
    run: &Run,
    conns: &[Conn],
    history: &History,
    i: usize,
    faults: &Faults,
    timing: &Timing,
) -> Option<Expected> {
    let c = &conns[i];
    let (connect_at, _, connect, _) = c.connect?;
    if connect.clean {
        return Some(Expected {
            present: false,
            why: "the CONNECT asked for a clean session".to_string(),
            shown: Vec::new(),
        });
    }
    let id = connect.client_id.as_str();
    let (broker, config) = broker_of(run.scenario, c.client)?;
    if id.is_empty() || history.could_evict(broker, config.sessions_max) {
        return None;
    }
    // The latest earlier CONNECT for the id on this broker.
    let prev = &conns[*history.prev.get(i)?.as_ref()?];
    if !prev.accepted() {
        return None;
    }
    let since = prev.connack_at()?;
    let until = c.connack_at()?;
    if faults.disturbed(prev.client, broker, since, until)
        || faults.disturbed(c.client, broker, since, until)
    {
        return None;
    }
    let expiry = prev.session_expiry_s(config);
    let shown = prev
        .connect
        .map(|x| x.1)
        .into_iter()
        .chain(prev.end.map(|e| e.index))
        .collect();
    let Some(end) = prev.end_at().filter(|&e| e <= connect_at) else {
        // Still connected: a takeover continues a persistent session.
        return (expiry > 0).then(|| Expected {
            present: true,
            why: format!("{} still held a persistent session for the id", prev.client),
            shown,
        });
    };
    if expiry == 0 {
        return Some(Expected {
            present: false,
            why: format!(
                "the session of {}'s previous connection ended with it at {}",
                prev.client,
                seconds(end)
            ),
            shown,
        });
    }
    let gap = connect_at.saturating_sub(end);
    if expiry == EXPIRY_NEVER_S || gap + timing.slack() < secs(expiry) {
        return Some(Expected {
            present: true,
            why: format!(
                "{}'s previous connection left a session at {} that lasts {}",
                prev.client,
                seconds(end),
                if expiry == EXPIRY_NEVER_S {
                    "for ever".to_string()
                } else {
                    format!("{expiry}s")
                }
            ),
            shown,
        });
    }
    if gap > secs(expiry) + timing.slack() {
        return Some(Expected {
            present: false,
            why: format!(
                "the session {}'s previous connection left at {} expired after {expiry}s",
                prev.client,
                seconds(end)
            ),
            shown,
        });
    }
    None
}

/// What every connection's judgement reads of the others, found in one
/// pass over the connections: per broker, how many sessions its clients
/// could ask for, and per connection, the latest earlier one with the same
/// client id on the same broker.
struct History<'a> {
    /// Per broker: distinct non-empty client ids, plus one per CONNECT
    /// with an empty id (each of those may get a session of its own).
    sessions: BTreeMap<&'a str, usize>,
    /// Per connection (by index): the latest earlier connection whose
    /// CONNECT carried the same client id, on the same broker.
    prev: Vec<Option<usize>>,
}

impl<'a> History<'a> {
    fn of(run: &Run<'a>, conns: &[Conn<'a>]) -> History<'a> {
        let mut ids: BTreeSet<(&str, &str)> = BTreeSet::new();
        let mut sessions: BTreeMap<&str, usize> = BTreeMap::new();
        let mut last: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        let mut prev = Vec::with_capacity(conns.len());
        for (i, c) in conns.iter().enumerate() {
            let (Some((broker, _)), Some(id)) = (broker_of(run.scenario, c.client), c.client_id())
            else {
                prev.push(None);
                continue;
            };
            if id.is_empty() || ids.insert((broker, id)) {
                *sessions.entry(broker).or_default() += 1;
            }
            prev.push(last.insert((broker, id), i));
        }
        History { sessions, prev }
    }

    /// Whether the broker's session table could fill up, so that a
    /// session may have been evicted.
    fn could_evict(&self, broker: &str, sessions_max: usize) -> bool {
        self.sessions.get(broker).copied().unwrap_or(0) >= sessions_max
    }
}
