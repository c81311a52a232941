//! `retained`: what a subscriber receives as retained agrees with the last
//! retained PUBLISH to the topic that the broker acknowledged; an empty
//! payload deletes it.
//!
//! Two checks, on retained messages received after a SUBSCRIBE (RETAIN 1
//! on a subscription without 5.0's Retain As Published):
//! - **Stale or invented**: the payload received must be one the topic may
//!   hold when the SUBSCRIBE reaches the broker: any retained PUBLISH to
//!   the topic (or retained will) sent before the receipt, except one that
//!   a later retained PUBLISH surely replaced: a PUBLISH sent after the
//!   first was acknowledged and itself acknowledged before the SUBSCRIBE
//!   was sent. QoS 0 publishes have no acknowledgement: they are never
//!   ruled out and never rule another out.
//! - **Missing**: when the topic surely holds a message at the SUBSCRIBE
//!   (an acknowledged non-empty retained PUBLISH, and every other retained
//!   PUBLISH or will to the topic acknowledged before it was sent), an
//!   accepted subscription matching it receives it by its SUBACK and one
//!   round trip.
//!
//! Skipped: publishes with a topic alias and no topic; the missing check
//! when the broker has `retain_available: false` or ACL rules, the message
//! has a Message Expiry Interval (5.0), the subscription has Retain
//! Handling other than 0, No Local, or is shared, the subscriber does not
//! acknowledge (manual acks, silence), or a fault touched the broker or
//! either client's link from the PUBLISH to the deadline.

use std::time::Duration;

use bytes::Bytes;

use crate::broker::Config;
use crate::topic;
use crate::trace::render::seconds;
use crate::trace::{EventKind, Violation};
use crate::wire::{Packet, Property, QoS, RetainHandling};

use super::connections::{Conn, Faults, Sessions, Timing, broker_of, found_violations, rendered};
use super::{Invariant, Run, Spec};
use crate::scenario::Force;

pub const SPEC_V311: &[&str] = &[
    "MQTT-3.3.1-5",
    "MQTT-3.3.1-6",
    "MQTT-3.3.1-10",
    "MQTT-3.3.1-11",
];
pub const SPEC_V5: &[&str] = &[
    "MQTT-3.3.1-5",
    "MQTT-3.3.1-6",
    "MQTT-3.3.1-7",
    "MQTT-3.3.1-9",
];

pub const RETAINED: Invariant = Invariant {
    name: "retained",
    spec: Spec {
        v311: SPEC_V311,
        v5: SPEC_V5,
    },
    force: Force::Binding,
    check,
};

/// One retained PUBLISH (or retained will) a client sent to a broker.
#[derive(Debug, Clone)]
struct Retained<'a> {
    client: &'a str,
    broker: &'a str,
    topic: &'a str,
    payload: Bytes,
    sent: Duration,
    index: usize,
    /// When its PUBACK or PUBREC arrived; `None` for QoS 0, wills and
    /// publishes never acknowledged.
    acked: Option<Duration>,
    expires: bool,
}

fn check(run: &Run) -> Vec<Violation> {
    let Sessions {
        conns,
        faults,
        timing,
    } = run.sessions();
    let published = retained_publishes(run, conns);
    let judge = Judge {
        run,
        published: &published,
        faults,
        timing,
    };
    let mut found = Vec::new();
    let mut level = 4;
    // Receipts already judged (overlapping subscriptions share them).
    let mut seen: Vec<usize> = Vec::new();
    for c in conns {
        let Some((broker, config)) = broker_of(run.scenario, c.client) else {
            continue;
        };
        let before = found.len();
        for sub in subscriptions(run, c) {
            judge.strays(c, &sub, broker, &mut seen, &mut found);
            judge.missing(c, &sub, broker, config, &mut found);
        }
        if found.len() > before {
            level = c.level();
        }
    }
    found_violations(
        RETAINED.name,
        Spec {
            v311: SPEC_V311,
            v5: SPEC_V5,
        }
        .at(level),
        found,
    )
}

/// One violation's text and the events it cites.
type Finding = (String, Vec<String>);

/// What the retained invariant reads for every subscription it judges.
struct Judge<'r, 'a> {
    run: &'r Run<'a>,
    published: &'r [Retained<'r>],
    faults: &'r Faults,
    timing: &'r Timing,
}

impl Judge<'_, '_> {
    /// Retained messages `sub` received that its topic did not hold when
    /// it subscribed.
    fn strays(
        &self,
        c: &Conn,
        sub: &Subscription,
        broker: &str,
        seen: &mut Vec<usize>,
        found: &mut Vec<Finding>,
    ) {
        let (run, published) = (self.run, self.published);
        let of_broker = |p: &&Retained| p.broker == broker;
        for &r in &sub.receipts {
            let EventKind::Recv {
                packet: Packet::Publish(p),
                ..
            } = &run.events[r].kind
            else {
                continue;
            };
            // Topics starting with `$` are the server's own: a real
            // broker keeps retained `$SYS/...` messages no client
            // published [MQTT-4.7.2-1].
            if seen.contains(&r) || p.topic.starts_with('$') {
                continue;
            }
            seen.push(r);
            let at = run.events[r].at;
            let candidates: Vec<&Retained> = published
                .iter()
                .filter(of_broker)
                .filter(|x| x.topic == p.topic && x.sent < at)
                .filter(|x| !replaced(x, published, sub.sent))
                .collect();
            if candidates
                .iter()
                .any(|x| x.payload == p.payload && !x.payload.is_empty())
            {
                continue;
            }
            let mut shown: Vec<usize> = published
                .iter()
                .filter(of_broker)
                .filter(|x| x.topic == p.topic && x.sent < at)
                .map(|x| x.index)
                .collect();
            shown.extend([sub.index, r]);
            shown.sort();
            found.push((
                format!(
                    "{} received retained {:?} on {} at {}, which the topic did not hold \
                     when it subscribed at {}",
                    c.client,
                    String::from_utf8_lossy(&p.payload),
                    p.topic,
                    seconds(at),
                    seconds(sub.sent)
                ),
                rendered(run.events, &shown),
            ));
        }
    }

    /// Retained messages the topics matching `sub` surely held when it
    /// subscribed, which it did not receive in time.
    fn missing(
        &self,
        c: &Conn,
        sub: &Subscription,
        broker: &str,
        config: &Config,
        found: &mut Vec<Finding>,
    ) {
        let (run, published, faults, timing) = (self.run, self.published, self.faults, self.timing);
        let judged = config.retain_available
            && config.acl.is_empty()
            && !c.silenced
            && run
                .scenario
                .clients
                .get(c.client)
                .is_some_and(|s| s.ack == crate::scenario::Ack::Auto);
        if !judged || !sub.plain {
            return;
        }
        let deadline = sub.acked + timing.slack();
        if c.end_at().is_some_and(|e| e <= deadline) || timing.end < deadline {
            return;
        }
        let mut topics: Vec<&str> = published
            .iter()
            .filter(|p| p.broker == broker)
            .map(|x| x.topic)
            .filter(|t| topic::matches(sub.filter, t))
            .collect();
        topics.dedup();
        topics.sort();
        topics.dedup();
        for t in topics {
            let Some(held) = surely_held(published, broker, t, sub.sent, sub.acked) else {
                continue;
            };
            if held.expires
                || faults.disturbed(held.client, broker, held.sent, deadline)
                || faults.disturbed(c.client, broker, held.sent, deadline)
            {
                continue;
            }
            let got = sub.all_receipts.iter().any(|&r| {
                let ev = &run.events[r];
                ev.at <= deadline
                    && matches!(&ev.kind, EventKind::Recv { packet: Packet::Publish(p), .. }
                        if p.retain && p.topic == t && p.payload == held.payload)
            });
            if !got {
                found.push((
                    format!(
                        "{} subscribed to {} at {} but did not receive the retained {:?} \
                         on {t} by {}",
                        c.client,
                        sub.filter,
                        seconds(sub.sent),
                        String::from_utf8_lossy(&held.payload),
                        seconds(deadline)
                    ),
                    rendered(run.events, &[held.index, sub.index]),
                ));
            }
        }
    }
}

/// Whether a later retained PUBLISH to the same topic surely replaced `x`
/// before `before`: sent after `x` was acknowledged, acknowledged itself
/// by `before`.
fn replaced(x: &Retained, all: &[Retained], before: Duration) -> bool {
    let Some(x_acked) = x.acked else { return false };
    all.iter().any(|y| {
        y.broker == x.broker
            && y.topic == x.topic
            && y.sent > x_acked
            && y.acked.is_some_and(|a| a <= before)
    })
}

/// The retained message topic `t` surely holds when a SUBSCRIBE is sent at
/// `at` and answered by `processed_by`: the last PUBLISH acknowledged
/// before `at`, when it is not empty and every other one sent before
/// `processed_by` was acknowledged before it was sent.
fn surely_held<'p>(
    all: &'p [Retained<'p>],
    broker: &str,
    t: &str,
    at: Duration,
    processed_by: Duration,
) -> Option<&'p Retained<'p>> {
    let on: Vec<&Retained> = all
        .iter()
        .filter(|x| x.broker == broker && x.topic == t && x.sent < processed_by)
        .collect();
    let last = on
        .iter()
        .filter(|x| x.acked.is_some_and(|a| a <= at))
        .max_by_key(|x| x.acked)?;
    let settled = on
        .iter()
        .all(|y| std::ptr::eq(*y, *last) || y.acked.is_some_and(|a| a < last.sent));
    (settled && !last.payload.is_empty()).then_some(*last)
}

/// Every retained PUBLISH and retained will in the trace.
fn retained_publishes<'a>(run: &'a Run, conns: &[Conn<'a>]) -> Vec<Retained<'a>> {
    let mut out = Vec::new();
    for c in conns {
        let Some((broker, _)) = broker_of(run.scenario, c.client) else {
            continue;
        };
        if let Some((at, index, connect, _)) = c.connect
            && let Some(w) = &connect.will
            && w.retain
        {
            out.push(Retained {
                client: c.client,
                broker,
                topic: &w.topic,
                payload: w.payload.clone(),
                sent: at,
                index,
                acked: None,
                expires: false,
            });
        }
        for (k, &i) in c.events.iter().enumerate() {
            let ev = &run.events[i];
            let EventKind::Send {
                packet: Packet::Publish(p),
                ..
            } = &ev.kind
            else {
                continue;
            };
            if !p.retain || p.topic.is_empty() || p.dup {
                continue;
            }
            let acked = (p.qos != QoS::AtMostOnce)
                .then(|| {
                    c.events[k..]
                        .iter()
                        .find_map(|&j| match &run.events[j].kind {
                            EventKind::Recv {
                                packet: Packet::PubAck(a) | Packet::PubRec(a),
                                ..
                            } if a.packet_id == p.packet_id && a.reason < 0x80 => {
                                Some(run.events[j].at)
                            }
                            _ => None,
                        })
                })
                .flatten();
            out.push(Retained {
                client: c.client,
                broker,
                topic: &p.topic,
                payload: p.payload.clone(),
                sent: ev.at,
                index: i,
                acked,
                expires: p
                    .properties
                    .iter()
                    .any(|x| matches!(x, Property::MessageExpiryInterval(_))),
            });
        }
    }
    out
}

/// One accepted subscription filter and what arrived as retained for it.
struct Subscription<'a> {
    filter: &'a str,
    /// When the SUBSCRIBE was sent, its event, and when its SUBACK came.
    sent: Duration,
    index: usize,
    acked: Duration,
    /// Retain Handling 0, no No Local, not shared: retained messages must
    /// be sent.
    plain: bool,
    /// RETAIN 1 receipts on topics this filter matches, from the SUBSCRIBE
    /// to the next SUBSCRIBE matching them, when no Retain As Published
    /// subscription makes live messages look retained.
    receipts: Vec<usize>,
    /// Every PUBLISH receipt of the connection after the SUBSCRIBE.
    all_receipts: Vec<usize>,
}

fn subscriptions<'a>(run: &'a Run, c: &Conn<'a>) -> Vec<Subscription<'a>> {
    let mut out: Vec<Subscription> = Vec::new();
    let rap: Vec<&str> = c
        .events
        .iter()
        .filter_map(|&i| match &run.events[i].kind {
            EventKind::Send {
                packet: Packet::Subscribe(s),
                ..
            } => Some(s),
            _ => None,
        })
        .flat_map(|s| s.filters.iter())
        .filter(|f| f.retain_as_published)
        .map(|f| f.filter.as_str())
        .collect();
    let subscribes: Vec<usize> = c
        .events
        .iter()
        .copied()
        .filter(|&i| {
            matches!(
                &run.events[i].kind,
                EventKind::Send {
                    packet: Packet::Subscribe(_),
                    ..
                }
            )
        })
        .collect();
    for (n, &i) in subscribes.iter().enumerate() {
        let EventKind::Send {
            packet: Packet::Subscribe(s),
            ..
        } = &run.events[i].kind
        else {
            continue;
        };
        let ack = c.events.iter().find_map(|&k| match &run.events[k].kind {
            EventKind::Recv {
                packet: Packet::SubAck(a),
                ..
            } if k > i && a.packet_id == s.packet_id => Some((run.events[k].at, a)),
            _ => None,
        });
        let Some((acked, ack)) = ack else { continue };
        let next = subscribes.get(n + 1).copied().unwrap_or(usize::MAX);
        for (f, code) in s.filters.iter().zip(&ack.codes) {
            if *code >= 0x80 || f.filter.starts_with("$share/") {
                continue;
            }
            let publishes = c.events.iter().copied().filter(|&k| {
                k > i
                    && matches!(&run.events[k].kind, EventKind::Recv { packet: Packet::Publish(p), .. }
                        if topic::matches(&f.filter, &p.topic))
            });
            let all_receipts: Vec<usize> = publishes.collect();
            let receipts = all_receipts
                .iter()
                .copied()
                .filter(|&k| {
                    k < next
                        && matches!(&run.events[k].kind, EventKind::Recv { packet: Packet::Publish(p), .. }
                            if p.retain && !p.topic.is_empty()
                                && !rap.iter().any(|r| topic::matches(r, &p.topic)))
                })
                .collect();
            out.push(Subscription {
                filter: &f.filter,
                sent: run.events[i].at,
                index: i,
                acked,
                plain: f.retain_handling == RetainHandling::SendAtSubscribe && !f.no_local,
                receipts,
                all_receipts,
            });
        }
    }
    out
}
