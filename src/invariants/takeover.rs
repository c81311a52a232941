//! A second connection with a client id already connected takes over:
//! the broker closes the existing connection [MQTT-3.1.4-2] (3.1.1), and
//! in 5.0 first sends it DISCONNECT with reason 0x8E, Session taken over
//! [MQTT-3.1.4-3].
//!
//! What the trace proves: host A's connection was accepted (CONNACK 0)
//! before host B, on the same broker and with the same client id, sent
//! its CONNECT, and A had not closed or sent DISCONNECT by then; B's
//! CONNACK accepted it. Then A's connection must end: open at the end of
//! the run, at least two latencies and
//! [`super::qos1_at_least_once::DELIVERY_GRACE`] after B's CONNACK, is a
//! violation, and so is a packet A receives after that time. A 5.0
//! connection the broker closes within that time should have received a
//! DISCONNECT first (the reason is not judged: another reason may have
//! come first). That DISCONNECT is the reference's choice: MQTT-3.1.4-3
//! says the server "sends" it and makes only the close a MUST, so a
//! target that closes without it `differs`.
//!
//! Skipped: connections a fault could cut or delay (a partition, hold
//! or latency change of the link, a crash or restart of either end: the
//! broker may have lost sight of them, or its DISCONNECT came late), connections whose raw sends are not all whole packets, empty
//! client ids; the DISCONNECT rule also skips a close after the
//! keep-alive (1.5 times the CONNECT's, or the CONNACK's Server Keep
//! Alive) could have run out since the client last sent.

use std::collections::BTreeMap;
use std::time::Duration;

use super::connections::{Conn, EndKind};
use super::qos1_at_least_once::DELIVERY_GRACE;
use super::trace_view as view;
use super::{Run, Spec};
use crate::scenario::ClosedBy;
use crate::scenario::Force;
use crate::trace::{EventKind, Violation};
use crate::wire::LEVEL_V5;

pub const NAME: &str = "takeover";
pub const SPEC: Spec = Spec {
    v311: &["MQTT-3.1.4-2"],
    v5: &["MQTT-3.1.4-3"],
};

/// What the rule reads of one connection the broker accepted.
struct Accepted<'c, 'a> {
    conn: &'c Conn<'a>,
    client_id: &'a str,
    /// When the client sent CONNECT.
    connect_at: Duration,
    /// The CONNACK that accepted it: time and event.
    at: Duration,
    event: usize,
}

fn accepted<'c, 'a>(c: &'c Conn<'a>) -> Option<Accepted<'c, 'a>> {
    let (connect_at, ..) = c.connect?;
    let (at, event, ack) = c.connack?;
    (ack.code == 0).then_some(Accepted {
        conn: c,
        client_id: c.client_id()?,
        connect_at,
        at,
        event,
    })
}

pub fn check(run: &Run) -> Vec<Violation> {
    let conns: Vec<Accepted> = run.sessions().conns.iter().filter_map(accepted).collect();
    let slack = view::latency_max(run) * 2 + DELIVERY_GRACE;
    let end = run.scenario.duration;
    let mut out = Vec::new();
    // Only a connection with the same client id can be taken over: each
    // new one looks at those alone, in trace order.
    let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, a) in conns.iter().enumerate() {
        by_id.entry(a.client_id).or_default().push(k);
    }
    for new in &conns {
        let broker = view::broker_of(run, new.conn.client);
        let same_id = by_id.get(new.client_id).map_or(&[][..], Vec::as_slice);
        for old in same_id.iter().map(|&k| &conns[k]) {
            let c = old.conn;
            let closed = c.end.and_then(|e| match e.kind {
                EndKind::Closed(by) => Some((e.at, by, e.index)),
                // A crash of its host is a fault: skipped below.
                EndKind::Crashed => None,
            });
            let open_then = c.end.is_none_or(|e| e.at >= new.connect_at);
            if c.client == new.conn.client
                || old.client_id != new.client_id
                || old.client_id.is_empty()
                || view::broker_of(run, c.client) != broker
                || old.at >= new.connect_at
                || !open_then
                || c.disconnect.is_some()
                || c.raw
                || cut_by_fault(run, c, broker.unwrap_or_default())
            {
                continue;
            }
            let who = format!(
                "{} took over client id {:?} from {}",
                new.conn.client, new.client_id, c.client
            );
            let late = c.events.iter().copied().find(|&i| {
                let e = &run.events[i];
                matches!(e.kind, EventKind::Recv { .. }) && e.at > new.at + slack
            });
            let mut force = Force::Binding;
            let text = match closed {
                None if c.end.is_none() && new.at + slack <= end => {
                    format!("{who}, but the broker left {}'s connection open", c.client)
                }
                _ if late.is_some() => format!(
                    "{who}, but {} still received from the broker after that",
                    c.client
                ),
                Some((at, ClosedBy::Broker, _))
                    if c.level() == LEVEL_V5
                        && at <= new.at + slack
                        && c.server_disconnect.is_none()
                        && !keep_alive_ran_out(c, at) =>
                {
                    force = Force::Choice;
                    format!(
                        "{who}, but the broker closed {}'s 5.0 connection without a DISCONNECT",
                        c.client
                    )
                }
                _ => continue,
            };
            let mut events = vec![old.event, new.event];
            events.extend(late);
            events.extend(closed.map(|c| c.2));
            let mut v = super::violation(NAME, SPEC.at(c.level()), text, view::render(run, events));
            v.force = force;
            out.push(v);
        }
    }
    out
}

/// Whether a fault may have cut the connection off, or delayed what
/// reached it, while it was open: a partition, crash or restart, and also
/// a hold or a latency change (a DISCONNECT held back arrives late).
fn cut_by_fault(run: &Run, c: &Conn, broker: &str) -> bool {
    let until = c.end_at().unwrap_or(run.scenario.duration);
    run.sessions()
        .faults
        .disturbed(c.client, broker, c.start, until)
}

/// Whether the broker may have closed the connection at `at` for its
/// keep-alive: 1.5 times it had passed since the client last sent.
fn keep_alive_ran_out(c: &Conn, at: Duration) -> bool {
    let ka = c.keep_alive();
    if ka.is_zero() {
        return false;
    }
    let last = c.sends.iter().copied().filter(|s| *s <= at).max();
    last.is_none_or(|s| at >= s + ka * 3 / 2)
}
