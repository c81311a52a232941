//! `keep-alive`: the broker closes a connection whose client has sent
//! nothing for 1.5 x keep-alive, within one delivery, and not before.
//! 5.0: the Server Keep Alive of CONNACK replaces the client's value.
//!
//! Judged from the client's side of the wire, on connections the broker
//! accepted with a non-zero keep-alive:
//! - **Too late**: the client sent nothing from `s` on, and its connection
//!   is still open (no close, no crash) at `s + 1.5 x keep-alive + slack`
//!   (slack: a round trip and a millisecond; the broker measures from its
//!   receipt of the last packet and its close takes a latency to arrive).
//! - **Too early**: the broker closed the connection less than 1.5 x
//!   keep-alive after the client last sent anything, and the close was for
//!   keep-alive: 5.0 DISCONNECT 0x8D; without a reason code, a close that
//!   no packet of the client caused (more than a round trip after it), no
//!   takeover (no CONNECT for the same client id meanwhile) and no raw
//!   bytes on the connection.
//!
//! Force: too early breaks the MUST of MQTT-3.1.2-24 (5.0: -22) and fails
//! any target; too late is the reference's choice (`differs` against
//! another target), since the spec gives no bound on how soon after the
//! 1.5 x keep-alive the close must come.
//!
//! Skipped: a broker whose `keep_alive_factor` is not 1.5; any stretch in
//! which a fault touched the client's link or a host at either end (a
//! partition or hold hides the close from the client, a latency change
//! moves it), and for too late, the whole connection once a fault touched
//! it; the silence before a close is counted from the last packet sent
//! before any fault (a stream that lost a segment delivers nothing more);
//! the end of a run too short to see the deadline. A silent
//! connection the client side cannot see closing (a crashed client) is
//! left to the `will` invariant, which sees its will's timing.

use std::time::Duration;

use crate::scenario::ClosedBy;
use crate::trace::Violation;
use crate::trace::render::seconds;

use super::connections::{
    Conn, EndKind, Faults, Sessions, Timing, broker_of, found_with_choices, rendered,
};
use super::{Invariant, Run, Spec};
use crate::scenario::Force;

/// The keep-alive factor of [MQTT-3.1.2-24].
pub const FACTOR_SPEC: f64 = 1.5;

/// The 5.0 reason code of a DISCONNECT for keep-alive expiry.
pub const REASON_KEEP_ALIVE_TIMEOUT: u8 = 0x8D;

pub const SPEC_V311: &[&str] = &["MQTT-3.1.2-24"];
pub const SPEC_V5: &[&str] = &["MQTT-3.1.2-22", "MQTT-3.2.2-22"];

pub const KEEP_ALIVE: Invariant = Invariant {
    name: "keep-alive",
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
    let mut late = Vec::new();
    let mut level = 4;
    for (i, c) in conns.iter().enumerate() {
        let Some((broker, config)) = broker_of(run.scenario, c.client) else {
            continue;
        };
        let ka = c.keep_alive();
        if !c.accepted() || ka.is_zero() || config.keep_alive_factor != FACTOR_SPEC {
            continue;
        }
        let limit = ka * 3 / 2;
        if let Some(text) = too_late(c, broker, limit, faults, timing) {
            level = c.level();
            late.push((
                text,
                rendered(run.events, &c.events[..1.min(c.events.len())]),
            ));
        }
        if let Some((text, shown)) = too_early(conns, i, broker, limit, faults, timing) {
            level = c.level();
            found.push((text, rendered(run.events, &shown)));
        }
    }
    // The spec says the broker must close, not how soon: the bound on
    // lateness (a round trip and a millisecond) is the reference's.
    let spec = Spec {
        v311: SPEC_V311,
        v5: SPEC_V5,
    }
    .at(level);
    found_with_choices(KEEP_ALIVE.name, spec, found, late)
}

/// A stretch of silence longer than the limit on a connection still open.
fn too_late(
    c: &Conn,
    broker: &str,
    limit: Duration,
    faults: &Faults,
    timing: &Timing,
) -> Option<String> {
    let open_until = c.end_at().unwrap_or(Duration::MAX);
    for (k, &s) in c.sends.iter().enumerate() {
        let deadline = s + limit + timing.slack();
        let next = c.sends.get(k + 1).copied().unwrap_or(Duration::MAX);
        if next <= deadline || open_until <= deadline || timing.end < deadline {
            continue;
        }
        // From the connection's start: a fault before `s` may have cut the
        // stream, so that neither `s` nor the broker's close got through.
        if faults.disturbed(c.client, broker, c.start, deadline) {
            continue;
        }
        return Some(format!(
            "{} sent nothing after {} but its connection was still open at {}: \
             keep-alive {}s allows {} of silence",
            c.client,
            seconds(s),
            seconds(deadline),
            c.keep_alive().as_secs(),
            seconds(limit)
        ));
    }
    None
}

/// A close for keep-alive before the limit.
fn too_early(
    conns: &[Conn],
    i: usize,
    broker: &str,
    limit: Duration,
    faults: &Faults,
    timing: &Timing,
) -> Option<(String, Vec<usize>)> {
    let c = &conns[i];
    let end = c.end?;
    if end.kind != EndKind::Closed(ClosedBy::Broker) {
        return None;
    }
    let closed_at = c.server_disconnect.map_or(end.at, |d| d.0);
    // The silence is measured from the last packet known to have reached
    // the broker: one sent before any fault touched the link. After a
    // partition a stream that lost a segment delivers nothing more, so
    // later sends prove nothing.
    let last = c
        .sends
        .iter()
        .copied()
        .filter(|&s| {
            s <= closed_at && !faults.disturbed(c.client, broker, c.start, s + timing.delivery())
        })
        .max()?;
    let silence = closed_at - last;
    let for_keep_alive = match c.server_disconnect.and_then(|d| d.2.reason) {
        Some(r) => r == REASON_KEEP_ALIVE_TIMEOUT,
        None => {
            let id = c.client_id();
            // A pass over every connection: asked last, when the cheap
            // conditions leave the close unexplained (a broker crash,
            // which closes the whole fleet at once, is explained by the
            // fault).
            let takeover = || {
                conns.iter().enumerate().any(|(k, x)| {
                    k != i
                        && x.client_id() == id
                        && x.connect
                            .is_some_and(|(at, ..)| at >= c.start && at <= end.at)
                })
            };
            silence > timing.slack()
                && !c.raw
                && !faults.disturbed(c.client, broker, last, end.at)
                && !takeover()
        }
    };
    if !for_keep_alive || silence >= limit {
        return None;
    }
    let last_index = c
        .events
        .iter()
        .copied()
        .rev()
        .find(|&k| k < end.index)
        .unwrap_or(end.index);
    Some((
        format!(
            "the broker closed {}'s connection at {} after {} of silence: keep-alive {}s \
             allows {}",
            c.client,
            seconds(closed_at),
            seconds(silence),
            c.keep_alive().as_secs(),
            seconds(limit)
        ),
        vec![last_index, end.index],
    ))
}
