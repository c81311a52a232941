//! Delivery across a bridge: a message published on one broker and
//! forwarded by a bridge (`bridge:` in the scenario) to a subscriber on
//! the other. Each hop is an MQTT delivery: the publisher's broker holds
//! the message for the bridge's local session, the bridge publishes it to
//! the remote broker as a client, and the remote broker delivers it. The
//! single-broker invariants judge the remote hop already (the bridge's
//! connection is a client in the trace, `trace_view::broker_of`); these
//! judge the whole path, which is where a bridge that loses its queue, or
//! sends a message back where it came from, shows.
//!
//! - `bridge-at-least-once`: a QoS 1 or 2 message (at least QoS 1 at every
//!   hop: the publish, the bridge topic's QoS, the subscriber's grant)
//!   accepted by the publisher's broker reaches a subscriber on the other
//!   broker whose session survived, when the bridge is persistent
//!   (`clean_session: false`) or its link was never disturbed, and the
//!   bridge and the subscriber have been connected, undisturbed, since
//!   long enough before the end. As for `qos1-at-least-once`, and for the
//!   bridge's two sessions: [MQTT-3.1.2-4], [MQTT-4.4.0-1].
//! - `bridge-exactly-once`: a QoS 2 message crossing at QoS 2 is received
//!   (new, DUP 0, RETAIN 0) no more often than it was published on either
//!   broker ([MQTT-4.3.3-10], [MQTT-4.3.3-12] at each hop).
//! - `bridge-ordering`: one publisher's messages on one topic and QoS,
//!   which its broker certainly received in some order (as `ordering`
//!   reads it), reach a subscriber on the other broker in that order
//!   (first receipts): each hop keeps order ([MQTT-4.6.0-6] for each
//!   broker, [MQTT-4.6.0-1] for the bridge's resends). Receipts whose topic
//!   and payload were published more than once, on either broker, are not
//!   judged, nor subscribers with several filters matching the topic.
//! - `bridge-no-loop`: a message that came in over a bridge is not sent
//!   back over it: the bridge sends a (topic, payload) to its remote no
//!   more often than clients of its own broker published it, once it has
//!   received that message from the remote. No MQTT statement says this of
//!   a bridge (5.0's No Local, [MQTT-3.8.3-3], is the remote side's half),
//!   so it is the reference's choice: binding on the reference only.
//!
//! Skipped: chains of bridges (a flow published by a bridge), brokers with
//! ACL rules, messages with a Message Expiry Interval, publishers and
//! subscribers sharing a client id, shared subscriptions, a broker that
//! crashed or restarted without `persistence` after the message was
//! accepted (the bridge's queue on it is gone), and for messages coming
//! in, a bridge whose session on the remote was new (session present 0)
//! after the message was published or whose subscription came later.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use super::qos1_at_least_once::DELIVERY_GRACE;
use super::trace_view::{self as view, Dir, Flow};
use super::{Run, Spec};
use crate::broker::{Bridge, BridgeTopic};
use crate::scenario::FaultAction;
use crate::trace::{EventKind, Violation, render::seconds};
use crate::wire::{Packet, QoS};

pub const AT_LEAST_ONCE: &str = "bridge-at-least-once";
/// Each version's ids, cited at the level of the bridge's own connection,
/// whose session carries the messages across.
pub const AT_LEAST_ONCE_SPEC: Spec = Spec {
    v311: &["MQTT-3.1.2-4", "MQTT-4.4.0-1"],
    v5: &["MQTT-3.1.2-23", "MQTT-4.4.0-1"],
};
pub const EXACTLY_ONCE: &str = "bridge-exactly-once";
pub const EXACTLY_ONCE_SPEC: Spec = Spec {
    v311: &["MQTT-4.3.3-2"],
    v5: &["MQTT-4.3.3-10", "MQTT-4.3.3-12"],
};
pub const ORDERING: &str = "bridge-ordering";
pub const ORDERING_SPEC: Spec = Spec {
    v311: &["MQTT-4.6.0-6", "MQTT-4.6.0-1"],
    v5: &["MQTT-4.6.0-5", "MQTT-4.6.0-6", "MQTT-4.6.0-1"],
};
pub const NO_LOOP: &str = "bridge-no-loop";
pub const NO_LOOP_SPEC: Spec = Spec::both(&[]);

/// One way across one bridge: messages published on `from` reach `to`.
struct Hop<'a> {
    bridge: &'a Bridge,
    /// The broker the bridge runs on.
    local: &'a str,
    from: &'a str,
    to: &'a str,
    outward: bool,
}

impl Hop<'_> {
    /// The topic on `to` and the bridge entry for a topic on `from`.
    fn map<'b>(&'b self, topic: &str) -> Option<(String, &'b BridgeTopic)> {
        if self.outward {
            self.bridge.out_topic(topic)
        } else {
            self.bridge.in_topic(topic)
        }
    }

    fn describe(&self) -> String {
        format!(
            "the bridge {} ({} to {})",
            self.bridge.name, self.from, self.to
        )
    }
}

fn hops<'a>(run: &Run<'a>) -> Vec<Hop<'a>> {
    let mut out = Vec::new();
    for (local, spec) in &run.scenario.brokers {
        let Some(b) = &spec.bridge else { continue };
        for outward in [true, false] {
            out.push(Hop {
                bridge: b,
                local,
                from: if outward { local } else { &b.to },
                to: if outward { &b.to } else { local },
                outward,
            });
        }
    }
    out
}

/// The last crash or restart of `broker`, if it keeps nothing across one.
fn forgets_at(run: &Run, broker: &str) -> Option<Duration> {
    if run
        .scenario
        .brokers
        .get(broker)
        .is_none_or(|b| b.persistence)
    {
        return None;
    }
    run.events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Fault { fault: FaultAction::Crash(h) | FaultAction::Restart(h) } if h == broker))
        .map(|e| e.at)
        .next_back()
}

/// Whether the link between the two brokers of a bridge was ever cut.
fn link_disturbed(run: &Run, hop: &Hop) -> bool {
    let remote = hop.bridge.to.as_str();
    view::last_loss(run, hop.local, remote).is_some()
        || view::held_until(run, hop.local, remote).is_some()
}

pub fn at_least_once(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let flows = &run.view().flows;
    let shared = &run.view().shared;
    let latency = view::latency_max(run);
    let grace = DELIVERY_GRACE + latency * 8;
    let end = run.scenario.duration;
    let mut out = Vec::new();
    for hop in hops(run) {
        let (Some(from_cfg), Some(to_cfg)) = (
            run.scenario.brokers.get(hop.from),
            run.scenario.brokers.get(hop.to),
        ) else {
            continue;
        };
        if !from_cfg.acl.is_empty() || !to_cfg.acl.is_empty() {
            continue;
        }
        if hop.bridge.clean_session && link_disturbed(run, &hop) {
            continue;
        }
        let name = hop.bridge.name.as_str();
        let remote = hop.bridge.to.as_str();
        let link = view::subscriber(run, packets, name);
        let Some((link_since, link_connack)) = link.last_accepted else {
            continue;
        };
        let link_undisturbed = view::last_loss(run, hop.local, remote)
            .is_none_or(|f| f < link_since)
            && view::held_until(run, hop.local, remote).is_none_or(|t| t + grace <= end);
        if !link.connected_at_end || !link_undisturbed || link_since + grace > end {
            continue;
        }
        let forgets = forgets_at(run, hop.from);
        for (sub_name, spec) in run
            .scenario
            .clients
            .iter()
            .filter(|(_, c)| c.broker == hop.to)
        {
            if shared.contains(sub_name.as_str())
                || spec.ack == crate::scenario::Ack::Manual
                || spec.options.maximum_packet_size.is_some()
            {
                continue;
            }
            let sub = view::subscriber(run, packets, sub_name);
            let Some((since, connack)) = sub.last_accepted else {
                continue;
            };
            let undisturbed = view::last_loss(run, sub_name, hop.to).is_none_or(|f| f < since)
                && view::held_until(run, sub_name, hop.to).is_none_or(|t| t + grace <= end);
            if !sub.connected_at_end || sub.silenced_at_end || !undisturbed || since + grace > end {
                continue;
            }
            for f in flows.iter().filter(|f| crossing(run, &hop, f)) {
                let Some((accepted_at, accepted_event)) = f.accepted else {
                    continue;
                };
                if f.expires
                    || accepted_at + grace > end
                    || forgets.is_some_and(|c| c >= f.first_sent)
                    || (!hop.outward && !remote_session_held(run, packets, &hop, f))
                {
                    continue;
                }
                let Some((mapped, entry)) = hop.map(&f.topic) else {
                    continue;
                };
                if f.qos.min(entry.qos) == QoS::AtMostOnce {
                    continue;
                }
                let Some(g) = sub.granted.iter().find(|g| {
                    g.epoch == sub.epoch
                        && g.qos >= 1
                        && !g.changed
                        && !view::is_shared(&g.filter)
                        && g.at < f.first_sent
                        && crate::topic::matches(&g.filter, &mapped)
                }) else {
                    continue;
                };
                let received = packets.of(sub_name).any(|p| {
                    p.dir == Dir::Recv
                        && p.at >= f.first_sent
                        && matches!(&p.packet, Packet::Publish(m) if m.topic == mapped && m.payload == f.payload)
                });
                if received {
                    continue;
                }
                // Where the message stopped: the bridge's PUBLISH of it on
                // the remote side, if there was one.
                let forwarded = forwarding(packets, &hop, &mapped, &f.payload, f.first_sent);
                let stop = match forwarded {
                    Some((at, _)) if hop.outward && at < link_since => format!(
                        "{name} sent it to {} at {} on a connection that was lost, and not again after reconnecting at {}",
                        hop.to,
                        seconds(at),
                        seconds(link_since)
                    ),
                    Some((at, _)) if hop.outward => format!(
                        "{name} forwarded it to {} at {}, which did not deliver it",
                        hop.to,
                        seconds(at)
                    ),
                    Some((at, _)) => format!(
                        "{name} received it from {} at {}, and {} did not deliver it",
                        hop.from,
                        seconds(at),
                        hop.to
                    ),
                    None if hop.outward => format!("{name} never forwarded it to {}", hop.to),
                    None => format!("{} never sent it to {name}", hop.from),
                };
                let mut evidence = vec![f.first_event, accepted_event];
                evidence.extend(forwarded.map(|(_, e)| e));
                evidence.extend([link_connack, g.event, connack]);
                evidence.sort_unstable();
                out.push(super::violation(
                    AT_LEAST_ONCE,
                    AT_LEAST_ONCE_SPEC.at(hop.bridge.level),
                    format!(
                        "{sub_name} (on {}) never received {}'s QoS {} message on {:?} (on {}), accepted at {} and crossing {} as {mapped:?}: {stop}; the bridge has been connected since {} and {sub_name} (subscribed to {:?} with QoS {}) since {}",
                        hop.to,
                        f.publisher,
                        f.qos.level(),
                        f.topic,
                        hop.from,
                        seconds(accepted_at),
                        hop.describe(),
                        seconds(link_since),
                        g.filter,
                        g.qos,
                        seconds(since),
                    ),
                    view::render(run, evidence),
                ));
            }
        }
    }
    out
}

/// Whether flow `f` is a scenario client's publication on the hop's `from`
/// broker (not another bridge's: chains are not judged).
fn crossing(run: &Run, hop: &Hop, f: &Flow) -> bool {
    run.scenario
        .clients
        .get(f.publisher)
        .is_some_and(|c| c.broker == hop.from)
        && f.qos != QoS::AtMostOnce
}

/// For a message coming in: the bridge's subscription on the remote was
/// granted before `f` was published, and its session there was never new
/// again after that (session present 1 on every later CONNACK).
fn remote_session_held(run: &Run, packets: &view::Packets, hop: &Hop, f: &Flow) -> bool {
    let name = hop.bridge.name.as_str();
    let link = view::subscriber(run, packets, name);
    let subscribed = link.granted.iter().any(|g| {
        g.at < f.first_sent
            && hop
                .bridge
                .topics
                .iter()
                .any(|t| t.remote_filter() == g.filter)
    });
    let renewed = packets
        .of(name)
        .any(|p| p.dir == Dir::Recv && p.at >= f.first_sent && view::new_session(&p.packet));
    subscribed && !renewed
}

/// The bridge's PUBLISH of (`topic`, `payload`) on the remote side after
/// `since`: sent for a message going out, received for one coming in.
fn forwarding(
    packets: &view::Packets,
    hop: &Hop,
    topic: &str,
    payload: &Bytes,
    since: Duration,
) -> Option<(Duration, usize)> {
    let name = hop.bridge.name.as_str();
    let (dir, on_remote) = if hop.outward {
        (Dir::Send, topic.to_string())
    } else {
        // Coming in, the bridge received it under its remote topic.
        (Dir::Recv, String::new())
    };
    packets
        .of(name)
        .find(|p| {
            p.dir == dir
                && p.at >= since
                && matches!(&p.packet, Packet::Publish(m) if m.payload == *payload
                    && (if hop.outward { m.topic == on_remote } else { hop.bridge.in_topic(&m.topic).is_some_and(|(l, _)| l == topic) }))
        })
        .map(|p| (p.at, p.event))
}

pub fn exactly_once(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let flows = &run.view().flows;
    let mut out = Vec::new();
    for hop in hops(run) {
        // (topic on `to`, payload) -> publications that may reach it there:
        // bridged ones at QoS 2 and direct ones of `to`'s own clients.
        let mut published: BTreeMap<(String, Bytes), usize> = BTreeMap::new();
        let mut bridged: BTreeMap<(String, Bytes), usize> = BTreeMap::new();
        for f in flows {
            let Some(c) = run.scenario.clients.get(f.publisher) else {
                continue;
            };
            if c.broker == hop.from {
                if let Some((mapped, entry)) = hop.map(&f.topic)
                    && f.qos == QoS::ExactlyOnce
                    && entry.qos == QoS::ExactlyOnce
                {
                    *published
                        .entry((mapped.clone(), f.payload.clone()))
                        .or_default() += 1;
                    *bridged.entry((mapped, f.payload.clone())).or_default() += 1;
                }
            } else if c.broker == hop.to {
                *published
                    .entry((f.topic.clone(), f.payload.clone()))
                    .or_default() += 1;
            }
        }
        for (sub_name, _) in run
            .scenario
            .clients
            .iter()
            .filter(|(_, c)| c.broker == hop.to)
        {
            let filters = view::subscribed_filters(packets, sub_name).count().max(1);
            let received = super::qos2_exactly_once::new_receipts(packets, sub_name);
            for ((topic, payload), events) in received {
                let key = (topic.to_string(), payload.clone());
                if !bridged.contains_key(&key) {
                    continue;
                }
                let n = published.get(&key).copied().unwrap_or(0) * filters;
                if events.len() > n {
                    out.push(super::violation(
                        EXACTLY_ONCE,
                        EXACTLY_ONCE_SPEC.at(hop.bridge.level),
                        format!(
                            "{sub_name} (on {}) received the QoS 2 message {:?} on {:?} {} times as new, crossing {}, but it was published {} time(s)",
                            hop.to,
                            String::from_utf8_lossy(&key.1),
                            key.0,
                            events.len(),
                            hop.describe(),
                            published.get(&key).copied().unwrap_or(0),
                        ),
                        view::render(run, events.into_iter().take(4)),
                    ));
                }
            }
        }
    }
    out
}

pub fn no_loop(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let mut out = Vec::new();
    for (local, spec) in &run.scenario.brokers {
        let Some(b) = &spec.bridge else { continue };
        let name = b.name.as_str();
        // (remote topic, payload) -> how often local clients published it,
        // came in over the bridge, and went out over it.
        let mut local_origin: BTreeMap<(String, Bytes), usize> = BTreeMap::new();
        let mut came_in: BTreeMap<(String, Bytes), usize> = BTreeMap::new();
        let mut sent: BTreeMap<(String, Bytes), usize> = BTreeMap::new();
        for p in &packets.list {
            let Packet::Publish(m) = &p.packet else {
                continue;
            };
            let is_local_client = run
                .scenario
                .clients
                .get(p.client)
                .is_some_and(|c| c.broker == *local);
            if is_local_client && p.dir == Dir::Send && !m.dup {
                if let Some((remote, _)) = b.out_topic(&m.topic) {
                    *local_origin.entry((remote, m.payload.clone())).or_default() += 1;
                }
            } else if p.client == name && p.dir == Dir::Recv {
                if let Some((l, _)) = b.in_topic(&m.topic)
                    && let Some((remote, _)) = b.out_topic(&l)
                {
                    *came_in.entry((remote, m.payload.clone())).or_default() += 1;
                }
            } else if p.client == name && p.dir == Dir::Send && !m.dup && !m.retain {
                let key = (m.topic.clone(), m.payload.clone());
                let n = sent.entry(key.clone()).or_default();
                *n += 1;
                let origin = local_origin.get(&key).copied().unwrap_or(0);
                if *n > origin && came_in.get(&key).copied().unwrap_or(0) > 0 {
                    out.push(super::violation(
                        NO_LOOP,
                        NO_LOOP_SPEC.v311,
                        format!(
                            "the bridge {name} sent {:?} on {:?} back to {}, where it came from: clients of {local} published it {origin} time(s), and the bridge has sent it {n} time(s)",
                            String::from_utf8_lossy(&m.payload),
                            m.topic,
                            b.to,
                        ),
                        view::render(run, [p.event]),
                    ));
                }
            }
        }
    }
    out
}

pub fn ordering(run: &Run) -> Vec<Violation> {
    let packets = &run.view().packets;
    let flows = &run.view().flows;
    let mut out = Vec::new();
    for hop in hops(run) {
        // Flows crossing this hop whose (topic on `to`, payload) is
        // published once only on either broker, so a receipt names one.
        let mut by_key: BTreeMap<(String, Bytes), Vec<usize>> = BTreeMap::new();
        for (i, f) in flows.iter().enumerate() {
            let Some(c) = run.scenario.clients.get(f.publisher) else {
                continue;
            };
            let key = if c.broker == hop.from {
                match hop.map(&f.topic) {
                    Some((mapped, entry)) if f.qos != QoS::AtMostOnce => {
                        (mapped, f.payload.clone(), f.qos.min(entry.qos))
                    }
                    _ => continue,
                }
            } else if c.broker == hop.to {
                (f.topic.clone(), f.payload.clone(), f.qos)
            } else {
                continue;
            };
            by_key.entry((key.0, key.1)).or_default().push(i);
        }
        let crossing_once: BTreeMap<&(String, Bytes), usize> = by_key
            .iter()
            .filter(|(_, v)| v.len() == 1)
            .filter(|(_, v)| {
                run.scenario
                    .clients
                    .get(flows[v[0]].publisher)
                    .is_some_and(|c| c.broker == hop.from)
            })
            .map(|(k, v)| (k, v[0]))
            .collect();
        for (sub_name, _) in run
            .scenario
            .clients
            .iter()
            .filter(|(_, c)| c.broker == hop.to)
        {
            // Flow index -> the event of its first receipt.
            let mut first: BTreeMap<usize, usize> = BTreeMap::new();
            for p in packets.of(sub_name) {
                let (Dir::Recv, Packet::Publish(m)) = (p.dir, &p.packet) else {
                    continue;
                };
                if m.retain {
                    continue;
                }
                let filters = view::filters_matching(packets, sub_name, &m.topic);
                if filters.len() != 1 || filters.iter().any(|f| view::is_shared(f)) {
                    continue;
                }
                if let Some(&i) = crossing_once.get(&(m.topic.clone(), m.payload.clone())) {
                    first.entry(i).or_insert(p.event);
                }
            }
            // Order as `ordering` reads it, on the publisher's broker.
            for (a, got_a, b, got_b) in super::ordering::overtaken(&first, flows) {
                let (fa, fb) = (&flows[a], &flows[b]);
                out.push(super::violation(
                    ORDERING,
                    ORDERING_SPEC.at(hop.bridge.level),
                    format!(
                        "{sub_name} (on {}) received {}'s QoS {} messages on {:?} (on {}) out of order across {}: {} before {}, which {} received first",
                        hop.to,
                        fa.publisher,
                        fa.qos,
                        fa.topic,
                        hop.from,
                        hop.describe(),
                        crate::packet_json::payload(&fb.payload),
                        crate::packet_json::payload(&fa.payload),
                        hop.from,
                    ),
                    view::render(run, [fa.first_event, fb.first_event, got_b, got_a]),
                ));
            }
        }
    }
    out
}
