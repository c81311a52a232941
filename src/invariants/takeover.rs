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
//! connection the broker closes within that time must have received a
//! DISCONNECT first (the reason is not judged: another reason may have
//! come first).
//!
//! Skipped: connections a fault could cut or delay (a partition, hold
//! or latency change of the link, a crash or restart of either end: the
//! broker may have lost sight of them, or its DISCONNECT came late), connections whose raw sends are not all whole packets, empty
//! client ids; the DISCONNECT rule also skips a close after the
//! keep-alive (1.5 times the CONNECT's, or the CONNACK's Server Keep
//! Alive) could have run out since the client last sent.

use std::time::Duration;

use super::Run;
use super::qos1_at_least_once::DELIVERY_GRACE;
use super::trace_view as view;
use crate::scenario::ClosedBy;
use crate::trace::{EventKind, Violation};
use crate::wire::{LEVEL_V5, Packet};

pub const NAME: &str = "takeover";
pub const SPEC_IDS: &[&str] = &["MQTT-3.1.4-2", "MQTT-3.1.4-3"];

/// One connection of one host, as its events tell it.
#[derive(Default)]
struct Conn<'a> {
    host: &'a str,
    client_id: String,
    v5: bool,
    /// The keep-alive the broker enforces, in seconds (0: none).
    keep_alive_s: u16,
    connect_at: Duration,
    /// The CONNACK that accepted it: time and event.
    accepted: Option<(Duration, usize)>,
    /// When the broker's DISCONNECT arrived.
    disconnect_recv: Option<Duration>,
    /// The client said DISCONNECT or sent raw bytes.
    client_ended_or_raw: bool,
    /// When, by whom and in which event it closed.
    closed: Option<(Duration, ClosedBy, usize)>,
    /// Every time the client sent something.
    sends: Vec<Duration>,
    /// Every packet it received: time and event.
    recvs: Vec<(Duration, usize)>,
}

fn connections<'a>(run: &Run<'a>) -> Vec<Conn<'a>> {
    let mut done = Vec::new();
    let mut open: std::collections::BTreeMap<&str, Conn<'a>> = Default::default();
    for (i, e) in run.events.iter().enumerate() {
        match &e.kind {
            EventKind::Connected { client } => {
                let conn = Conn {
                    host: client,
                    connect_at: e.at,
                    ..Conn::default()
                };
                if let Some(old) = open.insert(client, conn) {
                    done.push(old);
                }
            }
            EventKind::Send { client, packet, .. } => {
                let Some(c) = open.get_mut(client.as_str()) else {
                    continue;
                };
                c.sends.push(e.at);
                match packet {
                    Packet::Connect(p) => {
                        c.client_id = p.client_id.clone();
                        c.v5 = p.protocol_level == LEVEL_V5;
                        c.keep_alive_s = p.keep_alive_s;
                        c.connect_at = e.at;
                    }
                    Packet::Disconnect(_) => c.client_ended_or_raw = true,
                    _ => {}
                }
            }
            EventKind::SendRaw { client, .. } => {
                if let Some(c) = open.get_mut(client.as_str()) {
                    c.client_ended_or_raw = true;
                }
            }
            EventKind::Recv { client, packet, .. } => {
                let Some(c) = open.get_mut(client.as_str()) else {
                    continue;
                };
                c.recvs.push((e.at, i));
                match packet {
                    Packet::ConnAck(a) if a.code == 0 => {
                        c.accepted = Some((e.at, i));
                        if let Some(s) = a.properties.server_keep_alive() {
                            c.keep_alive_s = s;
                        }
                    }
                    Packet::Disconnect(_) => c.disconnect_recv = Some(e.at),
                    _ => {}
                }
            }
            EventKind::Closed { client, by, .. } => {
                if let Some(mut c) = open.remove(client.as_str()) {
                    c.closed = Some((e.at, *by, i));
                    done.push(c);
                }
            }
            _ => {}
        }
    }
    done.extend(open.into_values());
    done
}

pub fn check(run: &Run) -> Vec<Violation> {
    let conns = connections(run);
    let slack = view::latency_max(run) * 2 + DELIVERY_GRACE;
    let end = run.scenario.duration;
    let mut out = Vec::new();
    for new in &conns {
        let Some((accepted_at, accepted_event)) = new.accepted else {
            continue;
        };
        let broker = view::broker_of(run, new.host);
        for old in &conns {
            let Some((old_at, old_event)) = old.accepted else {
                continue;
            };
            let open_then = old.closed.as_ref().is_none_or(|c| c.0 >= new.connect_at);
            if old.host == new.host
                || old.client_id != new.client_id
                || old.client_id.is_empty()
                || view::broker_of(run, old.host) != broker
                || old_at >= new.connect_at
                || !open_then
                || old.client_ended_or_raw
                || cut_by_fault(run, old, broker.unwrap_or_default())
            {
                continue;
            }
            let who = format!(
                "{} took over client id {:?} from {}",
                new.host, new.client_id, old.host
            );
            let late = old
                .recvs
                .iter()
                .find(|(at, _)| *at > accepted_at + slack)
                .map(|r| r.1);
            let text = match &old.closed {
                None if accepted_at + slack <= end => {
                    format!("{who}, but the broker left {}'s connection open", old.host)
                }
                _ if late.is_some() => format!(
                    "{who}, but {} still received from the broker after that",
                    old.host
                ),
                Some((at, ClosedBy::Broker, _))
                    if old.v5
                        && !run.profile.no_takeover_disconnect
                        && *at <= accepted_at + slack
                        && old.disconnect_recv.is_none()
                        && !keep_alive_ran_out(old, *at) =>
                {
                    format!(
                        "{who}, but the broker closed {}'s 5.0 connection without a DISCONNECT",
                        old.host
                    )
                }
                _ => continue,
            };
            let mut events = vec![old_event, accepted_event];
            events.extend(late);
            events.extend(old.closed.as_ref().map(|c| c.2));
            out.push(super::violation(
                NAME,
                SPEC_IDS,
                text,
                view::render(run, events),
            ));
        }
    }
    out
}

/// Whether a fault may have cut the connection off, or delayed what
/// reached it, while it was open: a partition, crash or restart, and also
/// a hold or a latency change (a DISCONNECT held back arrives late).
fn cut_by_fault(run: &Run, c: &Conn, broker: &str) -> bool {
    let until = c.closed.as_ref().map_or(run.scenario.duration, |c| c.0);
    run.sessions()
        .faults
        .disturbed(c.host, broker, c.connect_at, until)
}

/// Whether the broker may have closed the connection at `at` for its
/// keep-alive: 1.5 times it had passed since the client last sent.
fn keep_alive_ran_out(c: &Conn, at: Duration) -> bool {
    if c.keep_alive_s == 0 {
        return false;
    }
    let last = c.sends.iter().copied().filter(|s| *s <= at).max();
    let limit = Duration::from_secs(u64::from(c.keep_alive_s)) * 3 / 2;
    last.is_none_or(|s| at >= s + limit)
}
