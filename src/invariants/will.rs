//! `will`: a will is published exactly when a connection ends without a
//! normal DISCONNECT; in 5.0 once its delay (or the session, if shorter)
//! has run out, and never when the client id reconnects within the delay.
//!
//! Judged from what subscribers of the will topic receive. For each ended
//! connection that carried a will, the check works out a window of time in
//! which the will may reach a subscriber, and whether it must: a must
//! window with no receipt is a will not published; a receipt that fits no
//! window is a will published without cause (after a normal DISCONNECT,
//! before the delay ran out, after a reconnect within the delay, while the
//! connection was still open).
//!
//! Assumptions (each one, when it does not hold, makes the check skip;
//! docs/invariants.md lists them):
//! - The observer subscribed to the will topic on a clean connection (so
//!   no queued message from an earlier session arrives) with one filter
//!   matching it, not shared, on the will's broker, and the broker has no
//!   ACL. Only receipts of that connection after its SUBACK count, and
//!   only live ones (RETAIN 0, DUP 0).
//! - Nobody publishes the will's topic and payload by hand.
//! - A must window needs: no fault on the will client's link or the broker
//!   from CONNACK to the window's end, an observer connection that stays
//!   up, acknowledges and is not partitioned over the window, and a window
//!   that ends before the run does. Otherwise the will may or may not come.
//! - A takeover follows the broker's `takeover_will` profile.
//!
//! Force: binding (MQTT-3.1.2-8), except a will that came after its
//! window closed (a must window with no receipt in it, and a receipt no
//! window explains after the window opened): the spec gives no bound on
//! how soon after the delay or the close it comes, so that one is the
//! reference's choice (`differs` against another target).

use std::time::Duration;

use crate::broker::{Config, TakeoverWill};
use crate::profile::Behaviour;
use crate::scenario::ClosedBy;
use crate::topic;
use crate::trace::{EventKind, Violation};
use crate::wire::{LEVEL_V5, LastWill, Packet};

use super::connections::{
    Conn, EXPIRY_NEVER_S, End, EndKind, Faults, Sessions, Timing, broker_of, found_with_choices,
    rendered, secs,
};
use super::{Invariant, Run, Spec};
use crate::scenario::Force;

pub const SPEC_V311: &[&str] = &["MQTT-3.1.2-8", "MQTT-3.1.2-10", "MQTT-3.14.4-3"];
pub const SPEC_V5: &[&str] = &[
    "MQTT-3.1.2-8",
    "MQTT-3.1.2-10",
    "MQTT-3.1.3-9",
    "MQTT-3.14.4-3",
];

pub const WILL: Invariant = Invariant {
    name: "will",
    spec: Spec {
        v311: SPEC_V311,
        v5: SPEC_V5,
    },
    force: Force::Binding,
    check,
};

/// When one connection's will may reach a subscriber.
#[derive(Debug, Clone)]
struct Window {
    /// The connection (index into the connections) whose will it is.
    conn: usize,
    earliest: Duration,
    /// `None`: no upper bound.
    latest: Option<Duration>,
    must: bool,
}

fn check(run: &Run) -> Vec<Violation> {
    let Sessions {
        conns,
        faults,
        timing,
    } = run.sessions();
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    let mut late: Vec<(String, Vec<String>)> = Vec::new();
    let mut level = 4;
    for (broker, topic_name, payload) in will_keys(run, conns) {
        if published_by_hand(run, topic_name, payload) {
            continue;
        }
        let windows: Vec<Window> = conns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                (c.accepted() || c.connack.is_none())
                    && broker_of(run.scenario, c.client).is_some_and(|(b, _)| b == broker)
                    && c.connect
                        .and_then(|x| x.2.will.as_ref())
                        .is_some_and(|w| w.topic == topic_name && w.payload.as_ref() == payload)
            })
            .filter_map(|(i, c)| window(run, conns, i, c, faults, timing))
            .collect();
        for (o, obs) in conns.iter().enumerate() {
            let Some(view) = observe(run, obs, broker, topic_name, payload, faults, timing) else {
                continue;
            };
            let own_id = obs.client_id();
            let mine: Vec<Window> = windows
                .iter()
                .filter(|w| conns[w.conn].client_id() != own_id)
                .map(|w| view.fit(w, timing))
                .filter(|w| w.latest.is_none_or(|l| l + timing.delivery() >= view.from))
                .collect();
            let receipts: Vec<(usize, Duration)> = view
                .receipts
                .iter()
                .map(|&r| (r, run.events[r].at))
                .collect();
            let (mut unmatched, mut missing) = judge(&mine, &receipts, timing);
            for (w, r) in came_late(&mut missing, &mut unmatched, &receipts) {
                let c = &conns[w.conn];
                level = c.level();
                let mut shown: Vec<usize> = c.end.map(|e| vec![e.index]).unwrap_or_default();
                shown.push(r);
                late.push((
                    format!(
                        "the will of {} on {topic_name} was due by {} and {} received it at {}",
                        c.client,
                        crate::trace::render::seconds(w.latest.unwrap_or_default()),
                        obs.client,
                        crate::trace::render::seconds(run.events[r].at)
                    ),
                    rendered(run.events, &shown),
                ));
            }
            for r in unmatched {
                let ev = &run.events[r];
                level = obs.level();
                let mut shown = vec![r];
                shown.extend(
                    windows
                        .iter()
                        .filter_map(|w| conns[w.conn].end.map(|e| e.index))
                        .filter(|&i| i < r),
                );
                shown.sort();
                found.push((
                    format!(
                        "{} received the will on {topic_name} at {} that no connection's end \
                         explains (after a normal DISCONNECT, before its delay, after a \
                         reconnect within it, or while it was open)",
                        obs.client,
                        crate::trace::render::seconds(ev.at)
                    ),
                    rendered(run.events, &shown),
                ));
            }
            for w in missing {
                let c = &conns[w.conn];
                level = c.level();
                let mut shown: Vec<usize> = c.end.map(|e| vec![e.index]).unwrap_or_default();
                shown.extend(obs.events.first());
                shown.sort();
                found.push((
                    format!(
                        "the will of {} on {topic_name} was due by {} but {} never received it \
                         (connection {o} subscribed)",
                        c.client,
                        crate::trace::render::seconds(w.latest.unwrap_or_default()),
                        obs.client
                    ),
                    rendered(run.events, &shown),
                ));
            }
        }
    }
    // The spec says when a will may go out, not how soon after: a will
    // that came after the reference's bound is its choice.
    let spec = Spec {
        v311: SPEC_V311,
        v5: SPEC_V5,
    }
    .at(level);
    found_with_choices(WILL.name, spec, found, late)
}

/// Pairs each must window with no receipt with a receipt no window
/// explains that came after the window opened: the will came, only later
/// than the bound. Both leave their lists; the pairs are returned.
fn came_late<'w>(
    missing: &mut Vec<&'w Window>,
    unmatched: &mut Vec<usize>,
    receipts: &[(usize, Duration)],
) -> Vec<(&'w Window, usize)> {
    let at = |r: usize| receipts.iter().find(|x| x.0 == r).map(|x| x.1);
    let mut pairs = Vec::new();
    missing.retain(|w| {
        let Some(k) = unmatched
            .iter()
            .position(|&r| at(r).is_some_and(|t| t >= w.earliest))
        else {
            return true;
        };
        pairs.push((*w, unmatched.remove(k)));
        false
    });
    pairs
}

/// The wills of accepted connections by (broker, topic, payload), in the
/// order first seen: a will is judged by what it carries, whichever of the
/// connections that set it published it.
fn will_keys<'r, 'a>(run: &'r Run<'a>, conns: &'r [Conn<'a>]) -> Vec<(&'r str, &'r str, &'r [u8])> {
    let mut keys: Vec<(&str, &str, &[u8])> = Vec::new();
    for c in conns {
        let (Some((_, _, connect, _)), Some((broker, _))) =
            (c.connect, broker_of(run.scenario, c.client))
        else {
            continue;
        };
        if let Some(w) = &connect.will
            && c.accepted()
        {
            let key = (broker, w.topic.as_str(), w.payload.as_ref());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// Whether any client published this topic and payload itself: then a
/// receipt does not say whether it was the will.
fn published_by_hand(run: &Run, topic_name: &str, payload: &[u8]) -> bool {
    run.events.iter().any(|e| {
        matches!(&e.kind, EventKind::Send { packet: Packet::Publish(p), .. }
            if p.topic == topic_name && p.payload.as_ref() == payload)
    })
}

/// Another connection's CONNECT for the same client id sent in `[from,
/// to]`: a takeover, or a reconnect.
fn connect_for<'a>(
    conns: &'a [Conn<'a>],
    me: usize,
    from: Duration,
    to: Duration,
) -> Option<&'a Conn<'a>> {
    let id = conns[me].client_id()?;
    conns.iter().enumerate().find_map(|(i, c)| {
        let (at, ..) = c.connect?;
        (i != me && c.client_id() == Some(id) && at >= from && at <= to).then_some(c)
    })
}

/// Whether the connection was silent long enough that the broker may have
/// closed it for keep-alive before `until`.
fn keep_alive_may_close(c: &Conn, until: Duration, timing: &Timing) -> bool {
    let ka = c.keep_alive();
    if ka.is_zero() {
        return false;
    }
    let limit = (ka * 3 / 2).saturating_sub(timing.slack());
    let mut last = c.start;
    for &s in c.sends.iter().chain(std::iter::once(&until)) {
        if s.min(until).saturating_sub(last) >= limit {
            return true;
        }
        last = s;
    }
    false
}

/// The window of connection `i`'s will, or `None` when it must not be
/// published at all.
fn window(
    run: &Run,
    conns: &[Conn],
    i: usize,
    c: &Conn,
    faults: &Faults,
    timing: &Timing,
) -> Option<Window> {
    let (broker, config) = broker_of(run.scenario, c.client)?;
    let (_, _, connect, level) = c.connect?;
    let will = connect.will.as_ref()?;
    let delay = will_delay(run, c, config, level, will);
    let Some(connack_at) = c.connack_at() else {
        // No CONNACK reached the client. When a fault was on the link, the
        // broker may have accepted the connection and lost only its
        // CONNACK; that connection's end (a keep-alive expiry the client
        // never sees) may then publish the will.
        let (connect_at, ..) = c.connect?;
        let until = c.end_at().unwrap_or(timing.end);
        return faults
            .disturbed(c.client, broker, connect_at, until)
            .then_some(Window {
                conn: i,
                earliest: connect_at + delay,
                latest: None,
                must: false,
            });
    };
    // The broker served the connection until at least one latency before
    // the client last read from it.
    let served_until = c
        .last_recv(run.events)
        .unwrap_or(connack_at)
        .saturating_sub(timing.latency);
    let case = Case {
        run,
        conns,
        i,
        c,
        faults,
        timing,
        broker,
        config,
        delay,
        connack_at,
        served_until,
    };
    let Some(end) = c.end else {
        // Open to the end of the run: no will, unless a fault or silence
        // may have ended it on the broker's side unseen.
        return if faults.disturbed(c.client, broker, connack_at, timing.end)
            || keep_alive_may_close(c, timing.end, timing)
        {
            case.optional(served_until + delay)
        } else {
            None
        };
    };
    if c.normal_disconnect() {
        let (at, ..) = c.disconnect?;
        let seen = at + timing.delivery();
        return if faults.disturbed(c.client, broker, connack_at, seen)
            || connect_for(conns, i, connack_at, seen).is_some()
            || keep_alive_may_close(c, at, timing)
        {
            case.optional(served_until + delay)
        } else {
            None
        };
    }
    // A takeover: the broker closed it for a CONNECT with the same id.
    if end.kind == EndKind::Closed(ClosedBy::Broker)
        && let Some(new) = connect_for(conns, i, connack_at, end.at)
    {
        return case.takeover(end, new);
    }
    case.other_end(end)
}

/// 5.0: the will waits for its delay or the session's end, whichever comes
/// first (MQTT-3.1.2-8); where the target's profile lists
/// `will-delay-outlasts-ended-session`, a session that ends with the
/// connection (expiry 0) does not cut the delay short. 3.1.1 has no delay.
fn will_delay(run: &Run, c: &Conn, config: &Config, level: u8, will: &LastWill) -> Duration {
    if level != LEVEL_V5 {
        return Duration::ZERO;
    }
    let d = will.properties.will_delay_interval().unwrap_or(0);
    let e = c.session_expiry_s(config);
    if e == EXPIRY_NEVER_S || (e == 0 && run.deviates(Behaviour::WillDelayOutlastsEndedSession)) {
        secs(d)
    } else {
        secs(d.min(e))
    }
}

/// What every case of [`window`] knows about a connection that got its
/// CONNACK and carried a will.
struct Case<'r, 'a> {
    run: &'r Run<'a>,
    conns: &'r [Conn<'r>],
    i: usize,
    c: &'r Conn<'r>,
    faults: &'r Faults,
    timing: &'r Timing,
    broker: &'r str,
    config: &'r Config,
    delay: Duration,
    connack_at: Duration,
    served_until: Duration,
}

impl Case<'_, '_> {
    /// A will that may, but need not, be published from `earliest` on.
    fn optional(&self, earliest: Duration) -> Option<Window> {
        Some(Window {
            conn: self.i,
            earliest,
            latest: None,
            must: false,
        })
    }

    /// Closed by the broker for `new`, a CONNECT with the same client id:
    /// the takeover profile decides whether the will goes out.
    fn takeover(&self, end: End, new: &Conn) -> Option<Window> {
        let (c, timing, faults) = (self.c, self.timing, self.faults);
        let (new_at, ..) = new.connect?;
        let persistent = |x: &Conn| x.session_expiry_s(self.config) > 0;
        let profile = self.run.takeover_will();
        let published = self.delay.is_zero()
            && match profile.unwrap_or(self.config.takeover_will) {
                TakeoverWill::Spec => true,
                TakeoverWill::Mosquitto => !(persistent(c) && persistent(new)),
                TakeoverWill::Never => false,
            };
        let latest = end.at + timing.slack();
        if faults.disturbed(c.client, self.broker, self.connack_at, latest)
            || faults.disturbed(new.client, self.broker, new_at, latest)
        {
            return self.optional(self.served_until);
        }
        published.then_some(Window {
            conn: self.i,
            earliest: self.served_until,
            latest: Some(latest),
            must: true,
        })
    }

    /// Any other end: the broker knows of it one delivery after the client
    /// closed or crashed, or before the client saw the broker close it.
    fn other_end(&self, end: End) -> Option<Window> {
        let (c, timing, faults, broker) = (self.c, self.timing, self.faults, self.broker);
        let known_by = match end.kind {
            EndKind::Closed(ClosedBy::Broker) => end.at,
            _ => end.at + timing.delivery(),
        };
        let earliest = self.served_until + self.delay;
        let latest = known_by + self.delay + timing.slack();
        let crash = (end.kind == EndKind::Crashed).then_some((c.client, end.at));
        // (A broker that closed it first for keep-alive publishes it too, and
        // sooner: the window holds either way.)
        if faults.disturbed_but(c.client, broker, self.connack_at, latest, crash) {
            return self.optional(earliest);
        }
        if !self.delay.is_zero()
            && let Some(next) = connect_for(self.conns, self.i, end.at, Duration::MAX)
        {
            let (next_at, ..) = next.connect?;
            if faults.disturbed(next.client, broker, end.at, next_at + timing.delivery()) {
                return self.optional(earliest);
            }
            // Back before the delay ran out: the will is cancelled.
            if next_at + timing.delivery() < earliest {
                return None;
            }
            if next_at <= latest {
                return self.optional(earliest);
            }
        }
        Some(Window {
            conn: self.i,
            earliest,
            latest: Some(latest),
            must: true,
        })
    }
}

/// One observer connection's view of a will topic.
struct View {
    /// From its SUBACK to its UNSUBSCRIBE, close or the run's end.
    from: Duration,
    to: Duration,
    /// Whether it surely received whatever was published meanwhile.
    reliable: bool,
    /// Event indices of the will's live receipts, in time order.
    receipts: Vec<usize>,
}

impl View {
    /// The window as this observer can judge it: a must window only when
    /// the observer surely received all of it.
    fn fit(&self, w: &Window, timing: &Timing) -> Window {
        let inside =
            w.earliest >= self.from && w.latest.is_some_and(|l| l + timing.delivery() <= self.to);
        let mut w = w.clone();
        if !(inside && self.reliable) {
            w.must = false;
            if !self.reliable {
                w.latest = None;
            }
        }
        w
    }
}

fn observe(
    run: &Run,
    obs: &Conn,
    broker: &str,
    topic_name: &str,
    payload: &[u8],
    faults: &Faults,
    timing: &Timing,
) -> Option<View> {
    let (ob, config) = broker_of(run.scenario, obs.client)?;
    if ob != broker || !config.acl.is_empty() || !obs.connect.is_some_and(|c| c.2.clean) {
        return None;
    }
    // Accepted filters of this connection matching the topic.
    let mut matching: Vec<(&str, Duration, bool)> = Vec::new();
    let mut to = obs.end_at().unwrap_or(timing.end).min(timing.end);
    for &i in &obs.events {
        let ev = &run.events[i];
        match &ev.kind {
            EventKind::Send {
                packet: Packet::Subscribe(s),
                ..
            } => {
                let acked = obs.events.iter().find_map(|&k| match &run.events[k].kind {
                    EventKind::Recv {
                        packet: Packet::SubAck(a),
                        ..
                    } if a.packet_id == s.packet_id && k > i => Some((run.events[k].at, a)),
                    _ => None,
                });
                let Some((at, ack)) = acked else { continue };
                for (f, code) in s.filters.iter().zip(&ack.codes) {
                    if *code < 0x80
                        && !f.filter.starts_with("$share/")
                        && topic::matches(&f.filter, topic_name)
                        && !matching.iter().any(|m| m.0 == f.filter)
                    {
                        matching.push((&f.filter, at, f.retain_as_published));
                    }
                }
            }
            EventKind::Send {
                packet: Packet::Unsubscribe(u),
                ..
            } if u.filters.iter().any(|f| topic::matches(f, topic_name)) => {
                to = to.min(ev.at);
            }
            _ => {}
        }
    }
    let [(_, from, rap)] = matching.as_slice() else {
        // None, or overlapping subscriptions that may each deliver a copy.
        return None;
    };
    let from = *from;
    if from > to {
        return None;
    }
    let receipts = obs
        .events
        .iter()
        .copied()
        .filter(|&i| {
            let ev = &run.events[i];
            ev.at > from
                && ev.at <= to
                && matches!(&ev.kind, EventKind::Recv { packet: Packet::Publish(p), .. }
                    if p.topic == topic_name && p.payload.as_ref() == payload
                        && (!p.retain || *rap) && !p.dup)
        })
        .collect();
    let reliable = !obs.silenced
        && run
            .scenario
            .clients
            .get(obs.client)
            .is_some_and(|c| c.ack == crate::scenario::Ack::Auto)
        && !faults.disturbed(obs.client, broker, from, to);
    Some(View {
        from,
        to,
        reliable,
        receipts,
    })
}

/// Matches receipts (event index, time) to windows: returns the receipts
/// no window explains and the must windows without a receipt in reach.
///
/// Receipts are matched greedily to windows in order of their latest
/// time, each taking the earliest receipt it can: for intervals and
/// points this finds a largest matching, so a receipt left over is left
/// over in every matching.
fn judge<'w>(
    windows: &'w [Window],
    receipts: &[(usize, Duration)],
    timing: &Timing,
) -> (Vec<usize>, Vec<&'w Window>) {
    let reach = |w: &Window, at: Duration| {
        at >= w.earliest && w.latest.is_none_or(|l| at <= l + timing.delivery())
    };
    let mut order: Vec<&Window> = windows.iter().collect();
    order.sort_by_key(|w| (w.latest.unwrap_or(Duration::MAX), w.earliest));
    let mut used = vec![false; receipts.len()];
    for w in &order {
        if let Some(k) = (0..receipts.len()).find(|&k| !used[k] && reach(w, receipts[k].1)) {
            used[k] = true;
        }
    }
    let unmatched = receipts
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(r, _)| r.0)
        .collect();
    let must: Vec<&Window> = windows.iter().filter(|w| w.must).collect();
    let missing = if must.len() > receipts.len() {
        must
    } else {
        must.into_iter()
            .filter(|w| !receipts.iter().any(|r| reach(w, r.1)))
            .collect()
    };
    (unmatched, missing)
}
