//! A 5.0 message's expiry counts down while it waits in the broker: the
//! PUBLISH the broker sends carries the Message Expiry Interval it got
//! less the time the message waited [MQTT-3.3.2-6], and a message whose
//! interval passed before the broker started sending it is not sent
//! [MQTT-3.3.2-5].
//!
//! The wait the trace proves is a lower bound: from the publisher's send
//! to the subscriber's receipt, less two of the run's longest latencies
//! and [`EXPIRY_SLACK`]. A receipt whose proven wait exceeds the interval
//! was sent after the message expired; one whose interval is above the
//! published one less the whole seconds of the proven wait was not
//! counted down.
//!
//! Judged: the first receipt, with DUP 0, of a message no other flow or
//! will carries, sent once by its 5.0 publisher with an interval, by a
//! subscriber on the same broker. Skipped: subscribers sharing a client id
//! with another host (or an empty or changing one); a subscriber whose
//! connection closed between the send and the receipt (the broker may
//! have started delivery on the old connection: a resend then is
//! allowed); links held by a fault (a hold delays outside the broker).

use std::collections::BTreeSet;
use std::time::Duration;

use super::trace_view::{self as view, Dir};
use super::{Run, Spec};
use crate::trace::{EventKind, Violation};
use crate::wire::Packet;

pub const NAME: &str = "message-expiry";
/// 5.0 only: the rule does not exist in 3.1.1.
pub const SPEC: Spec = Spec {
    v311: &[],
    v5: &["MQTT-3.3.2-5", "MQTT-3.3.2-6"],
};

/// Time a message may spend outside the broker beyond two latencies
/// (client send queues, the simulated TCP), taken off the proven wait.
pub const EXPIRY_SLACK: Duration = Duration::from_secs(1);

pub fn check(run: &Run) -> Vec<Violation> {
    let v = run.view();
    let unique = view::unique_flows(&v.flows, &v.wills);
    let outside = view::latency_max(run) * 2 + EXPIRY_SLACK;
    let mut out = Vec::new();
    let mut judged: BTreeSet<(&str, usize)> = BTreeSet::new();
    for p in &v.packets.list {
        let (Dir::Recv, Packet::Publish(m)) = (p.dir, &p.packet) else {
            continue;
        };
        if m.dup || v.shared.contains(p.client) || !view::is_v5(run, p.client) {
            continue;
        }
        let Some(flow) = unique.get(&(m.topic.as_str(), &m.payload)) else {
            continue;
        };
        let Some(published) = flow.properties.message_expiry_interval().filter(|s| *s > 0) else {
            continue;
        };
        let broker = view::broker_of(run, p.client).unwrap_or_default();
        if flow.sends > 1
            || p.at < flow.first_sent
            || !judged.insert((p.client, flow.first_event))
            || !view::is_v5(run, flow.publisher)
            || view::broker_of(run, flow.publisher) != Some(broker)
            || view::held_until(run, p.client, broker).is_some()
            || view::held_until(run, flow.publisher, broker).is_some()
            || closed_between(run, p.client, flow.first_sent, p.at)
        {
            continue;
        }
        let waited = (p.at - flow.first_sent).saturating_sub(outside);
        let left = i64::from(published) - i64::try_from(waited.as_secs()).unwrap_or(i64::MAX);
        let text = match m.properties.message_expiry_interval() {
            _ if waited > Duration::from_secs(u64::from(published)) => format!(
                "{} received {}'s message on {:?} after it waited over {}s in the broker, past its Message Expiry Interval of {published}s",
                p.client,
                flow.publisher,
                m.topic,
                waited.as_secs()
            ),
            Some(got) if i64::from(got) <= left => continue,
            got => format!(
                "{} received {}'s message on {:?} with Message Expiry Interval {}, though it was published with {published}s and waited over {}s in the broker",
                p.client,
                flow.publisher,
                m.topic,
                got.map_or("absent".to_string(), |s| format!("{s}s")),
                waited.as_secs()
            ),
        };
        out.push(super::violation(
            NAME,
            SPEC.v5,
            text,
            view::render(run, [flow.first_event, p.event]),
        ));
    }
    out
}

/// Whether `client`'s connection closed between `from` and `until`.
fn closed_between(run: &Run, client: &str, from: Duration, until: Duration) -> bool {
    run.events.iter().any(|e| {
        matches!(&e.kind, EventKind::Closed { client: c, .. } if c == client)
            && e.at >= from
            && e.at <= until
    })
}
