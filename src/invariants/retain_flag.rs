//! The RETAIN flag of what the broker forwards says how it came: a
//! message forwarded live, to a subscription that existed before the
//! message reached the broker, has RETAIN 0 ([MQTT-3.3.1-9] in 3.1.1,
//! [MQTT-3.3.1-12] in 5.0), unless the 5.0 subscription has Retain As
//! Published, which keeps the publisher's flag [MQTT-3.3.1-13]. A 5.0
//! SUBSCRIBE with Retain Handling 2 gets no retained messages
//! [MQTT-3.3.1-11], one with Retain Handling 1 only when the subscription
//! is new [MQTT-3.3.1-10].
//!
//! Live forwarding is judged only when the trace proves it: the message
//! is one no other flow or will carries (same topic and payload); every
//! SUBSCRIBE the subscriber sent with a filter matching its topic had its
//! SUBACK back before the publisher first sent it, and no new session
//! began since; and those filters agree on Retain As Published.
//!
//! Retain Handling is judged on receipts with RETAIN 1 when every
//! subscription of the client matching the topic has Retain As Published
//! 0 (so the receipt cannot be live): some SUBSCRIBE sent before it, with
//! a matching filter, must allow retained messages: Retain Handling 0, or
//! 1 unless the same filter was provably held already (granted earlier in
//! the same session, not unsubscribed since).
//!
//! Skipped: clients sharing a client id with another host (or an empty or
//! changing one), clients whose raw sends are not whole packets, receipts
//! with a topic alias the connection never set, and the 3.1.1 rule that a
//! retained message sent for a new subscription has RETAIN 1
//! ([MQTT-3.3.1-8]): the trace cannot tell it from a live one.

use std::time::Duration;

use super::delivery_matches::topic_filter;
use super::trace_view::{self as view, Dir, Packets};
use super::{Run, Spec};
use crate::trace::Violation;
use crate::wire::{Packet, RetainHandling, SubscribeFilter};

pub const NAME: &str = "retain-flag";
pub const SPEC: Spec = Spec {
    v311: &["MQTT-3.3.1-9"],
    v5: &[
        "MQTT-3.3.1-12",
        "MQTT-3.3.1-13",
        "MQTT-3.3.1-10",
        "MQTT-3.3.1-11",
    ],
};

/// One SUBSCRIBE a client sent, and its SUBACK.
struct Request<'a> {
    id: u16,
    sent_at: Duration,
    /// The session it was sent in: how many new sessions began before.
    epoch: usize,
    filters: &'a [SubscribeFilter],
    /// The SUBACK: time, session, reason codes.
    acked: Option<(Duration, usize, &'a [u8])>,
}

/// One UNSUBSCRIBE a client sent: time and filters.
type Unsub<'a> = (Duration, &'a [String]);

/// What a client subscribed to and when its sessions began.
struct History<'a> {
    requests: Vec<Request<'a>>,
    unsubs: Vec<Unsub<'a>>,
    new_sessions: Vec<Duration>,
}

fn history<'a>(packets: &'a Packets, client: &str) -> History<'a> {
    let mut h = History {
        requests: Vec::new(),
        unsubs: Vec::new(),
        new_sessions: Vec::new(),
    };
    for p in packets.of(client) {
        match (p.dir, &p.packet) {
            (Dir::Recv, packet) if view::new_session(packet) => h.new_sessions.push(p.at),
            (Dir::Send, Packet::Subscribe(s)) => h.requests.push(Request {
                id: s.packet_id,
                sent_at: p.at,
                epoch: h.new_sessions.len(),
                filters: &s.filters,
                acked: None,
            }),
            (Dir::Send, Packet::Unsubscribe(u)) => h.unsubs.push((p.at, &u.filters)),
            (Dir::Recv, Packet::SubAck(a)) => {
                let epoch = h.new_sessions.len();
                if let Some(r) = h
                    .requests
                    .iter_mut()
                    .rev()
                    .find(|r| r.acked.is_none() && r.id == a.packet_id)
                {
                    r.acked = Some((p.at, epoch, &a.codes));
                }
            }
            _ => {}
        }
    }
    h
}

/// The filters of a request that match `topic`, with their SUBACK codes
/// (None before the SUBACK).
fn matching<'r>(
    r: &'r Request,
    topic: &'r str,
) -> impl Iterator<Item = (&'r SubscribeFilter, Option<u8>)> + 'r {
    r.filters
        .iter()
        .enumerate()
        .filter(move |(_, f)| crate::topic::matches(topic_filter(&f.filter), topic))
        .map(move |(i, f)| (f, r.acked.and_then(|(_, _, codes)| codes.get(i).copied())))
}

pub fn check(run: &Run) -> Vec<Violation> {
    let v = run.view();
    let unique = view::unique_flows(&v.flows, &v.wills);
    let mut out = Vec::new();
    for name in run.scenario.clients.keys() {
        let name = name.as_str();
        if v.shared.contains(name) || v.packets.opaque.contains(name) {
            continue;
        }
        let h = history(&v.packets, name);
        for p in v.packets.of(name) {
            let (Dir::Recv, Packet::Publish(m)) = (p.dir, &p.packet) else {
                continue;
            };
            if m.topic.is_empty() {
                continue;
            }
            let before: Vec<&Request> = h
                .requests
                .iter()
                .filter(|r| r.sent_at <= p.at && matching(r, &m.topic).next().is_some())
                .collect();
            let text = if let Some(flow) = unique
                .get(&(m.topic.as_str(), &m.payload))
                .filter(|f| f.first_sent <= p.at)
                && let Some(rap) = live_rap(&h, &before, &m.topic, flow.first_sent, p.at)
            {
                let want = rap && flow.retain;
                if m.retain == want {
                    continue;
                }
                let why = if rap {
                    "its Retain As Published subscription should keep the publisher's flag"
                } else {
                    "a live forward has RETAIN 0"
                };
                format!(
                    "{name} received {}'s message on {:?}, forwarded live, with RETAIN {}: {why}",
                    flow.publisher,
                    m.topic,
                    u8::from(m.retain)
                )
            } else if m.retain
                && !before.is_empty()
                && before
                    .iter()
                    .all(|r| matching(r, &m.topic).all(|(f, _)| !f.retain_as_published))
                && !before.iter().any(|r| allows_retained(&h, r, &m.topic))
            {
                format!(
                    "{name} received a retained message on {:?} though no SUBSCRIBE it sent for it allowed retained messages (Retain Handling)",
                    m.topic
                )
            } else {
                continue;
            };
            out.push(super::violation(
                NAME,
                SPEC.at(run.level_of(name)),
                text,
                view::render(run, [p.event]),
            ));
        }
    }
    out
}

/// Whether a message first sent at `sent` and received at `received`
/// provably went to subscriptions that existed before it, and then their
/// common Retain As Published.
fn live_rap(
    h: &History,
    before: &[&Request],
    topic: &str,
    sent: Duration,
    received: Duration,
) -> Option<bool> {
    let all_matching = h
        .requests
        .iter()
        .filter(|r| matching(r, topic).next().is_some());
    let mut last_ack = Duration::ZERO;
    for r in all_matching {
        let (at, _, _) = r.acked?;
        if at >= sent {
            return None;
        }
        last_ack = last_ack.max(at);
    }
    if h.new_sessions
        .iter()
        .any(|s| *s > last_ack && *s <= received)
    {
        return None;
    }
    let mut raps = before
        .iter()
        .flat_map(|r| matching(r, topic))
        .filter(|(_, code)| code.is_some_and(|c| c < 0x80))
        .map(|(f, _)| f.retain_as_published);
    let first = raps.next()?;
    raps.all(|r| r == first).then_some(first)
}

/// Whether this SUBSCRIBE may bring retained messages on `topic`.
fn allows_retained(h: &History, r: &Request, topic: &str) -> bool {
    matching(r, topic).any(|(f, _)| match f.retain_handling {
        RetainHandling::SendAtSubscribe => true,
        RetainHandling::SendAtNewSubscribe => !held_before(h, r, &f.filter),
        RetainHandling::DoNotSend => false,
    })
}

/// Whether `filter` was provably held when `r` was sent: granted by an
/// earlier SUBACK of the same session, and not unsubscribed since.
fn held_before(h: &History, r: &Request, filter: &str) -> bool {
    h.requests.iter().any(|q| {
        let Some((acked_at, epoch, codes)) = q.acked else {
            return false;
        };
        acked_at < r.sent_at
            && epoch == r.epoch
            && q.filters
                .iter()
                .zip(codes)
                .any(|(f, &c)| f.filter == filter && c < 0x80)
            && !h
                .unsubs
                .iter()
                .any(|(at, fs)| *at >= q.sent_at && fs.iter().any(|f| f == filter))
            && !h
                .new_sessions
                .iter()
                .any(|s| *s > acked_at && *s <= r.sent_at)
    })
}
