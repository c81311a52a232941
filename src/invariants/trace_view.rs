//! Views of a trace that several invariants read: the packets each client
//! sent and received, with raw sends decoded and topic aliases resolved,
//! and small facts about clients and sessions. Helpers here stay small and
//! additive: each invariant builds what else it needs on top.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::Run;
use crate::scenario::{FaultAction, Protocol};
use crate::trace::{EventKind, render};
use bytes::Bytes;

use crate::wire::{LEVEL_V5, LEVEL_V311, Packet, Property, Publish, QoS};

/// Which way a packet went, seen from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Send,
    Recv,
}

/// One packet a client sent or received.
#[derive(Debug, Clone)]
pub struct Pkt<'a> {
    pub at: Duration,
    /// The event's index in the run, to render it.
    pub event: usize,
    pub client: &'a str,
    pub dir: Dir,
    /// A PUBLISH's topic is resolved from its topic alias; it is empty when
    /// the alias was never set on the connection.
    pub packet: Packet,
}

/// Every packet of the run in trace order, and the clients whose raw
/// sends are not whole packets (what they sent is unknown).
/// What the delivery invariants read of a run, built once
/// ([`super::Run::view`]).
pub struct View<'a> {
    pub packets: Packets<'a>,
    pub flows: Vec<Flow<'a>>,
    pub wills: Vec<WillSet<'a>>,
    pub shared: BTreeSet<&'a str>,
    /// Topic -> payload -> the flows and wills that carry it: a receipt is
    /// tied to what was published by its content, and looking that up per
    /// receipt must not cost a pass over every flow.
    by_content: BTreeMap<String, BTreeMap<Bytes, Carriers>>,
}

/// The flows and wills that carry one topic and payload: indices into
/// [`View::flows`] and [`View::wills`], in order.
#[derive(Debug, Default)]
pub struct Carriers {
    pub flows: Vec<usize>,
    pub wills: Vec<usize>,
}

const NO_CARRIERS: &Carriers = &Carriers {
    flows: Vec::new(),
    wills: Vec::new(),
};

impl<'a> View<'a> {
    pub fn of(run: &Run<'a>) -> View<'a> {
        let packets = packets(run);
        let flows = flows(&packets);
        let wills = wills(&packets);
        let mut by_content: BTreeMap<String, BTreeMap<Bytes, Carriers>> = BTreeMap::new();
        for (i, f) in flows.iter().enumerate() {
            carriers_entry(&mut by_content, &f.topic, &f.payload)
                .flows
                .push(i);
        }
        for (i, w) in wills.iter().enumerate() {
            carriers_entry(&mut by_content, &w.topic, &w.payload)
                .wills
                .push(i);
        }
        View {
            flows,
            wills,
            shared: shared_sessions(&packets),
            packets,
            by_content,
        }
    }

    /// The flows and wills whose topic and payload are these.
    pub fn carrying(&self, topic: &str, payload: &Bytes) -> &Carriers {
        self.by_content
            .get(topic)
            .and_then(|m| m.get(payload))
            .unwrap_or(NO_CARRIERS)
    }

    /// What carried each payload on this topic.
    pub fn topic(&self, topic: &str) -> Option<&BTreeMap<Bytes, Carriers>> {
        self.by_content.get(topic)
    }

    /// Every distinct topic published, with what carried each payload on it.
    pub fn topics(&self) -> impl Iterator<Item = (&str, &BTreeMap<Bytes, Carriers>)> {
        self.by_content.iter().map(|(t, m)| (t.as_str(), m))
    }
}

fn carriers_entry<'m>(
    map: &'m mut BTreeMap<String, BTreeMap<Bytes, Carriers>>,
    topic: &str,
    payload: &Bytes,
) -> &'m mut Carriers {
    map.entry(topic.to_string())
        .or_default()
        .entry(payload.clone())
        .or_default()
}

pub struct Packets<'a> {
    pub list: Vec<Pkt<'a>>,
    pub opaque: BTreeSet<&'a str>,
    /// Each client's packets: indices into `list`, in trace order. The
    /// invariants read one client at a time; this keeps that linear in the
    /// trace instead of a pass over every packet per client.
    by_client: BTreeMap<&'a str, Vec<usize>>,
    /// Each host's events (a client's or a broker's notes): indices into
    /// the run's events, in trace order.
    events_by_host: BTreeMap<&'a str, Vec<usize>>,
    /// The fault events, in trace order.
    faults: Vec<usize>,
}

impl<'a> Packets<'a> {
    /// A client's packets, in trace order.
    pub fn of<'s>(&'s self, client: &str) -> impl Iterator<Item = &'s Pkt<'a>> + 's {
        self.by_client
            .get(client)
            .into_iter()
            .flatten()
            .map(|&i| &self.list[i])
    }

    /// The indices of a host's events in the run, in trace order.
    pub fn events_of(&self, host: &str) -> &[usize] {
        self.events_by_host.get(host).map_or(&[], Vec::as_slice)
    }

    /// The indices of the run's fault events, in trace order.
    pub fn faults(&self) -> &[usize] {
        &self.faults
    }
}

/// Topic aliases of one connection, one map per direction.
#[derive(Default)]
struct Aliases {
    send: BTreeMap<u16, String>,
    recv: BTreeMap<u16, String>,
}

impl Aliases {
    fn resolve(&mut self, dir: Dir, p: &mut Publish) {
        let Some(alias) = p.properties.iter().find_map(|q| match q {
            Property::TopicAlias(a) => Some(*a),
            _ => None,
        }) else {
            return;
        };
        let map = match dir {
            Dir::Send => &mut self.send,
            Dir::Recv => &mut self.recv,
        };
        if p.topic.is_empty() {
            p.topic = map.get(&alias).cloned().unwrap_or_default();
        } else {
            map.insert(alias, p.topic.clone());
        }
    }
}

/// The packets of a run: decoded sends and receipts, raw sends split into
/// the packets they hold (at the client's protocol level).
pub fn packets<'a>(run: &Run<'a>) -> Packets<'a> {
    let mut list = Vec::new();
    let mut opaque = BTreeSet::new();
    let mut aliases: BTreeMap<&str, Aliases> = BTreeMap::new();
    let mut by_client: BTreeMap<&'a str, Vec<usize>> = BTreeMap::new();
    let mut events_by_host: BTreeMap<&'a str, Vec<usize>> = BTreeMap::new();
    let mut faults = Vec::new();
    for (i, ev) in run.events.iter().enumerate() {
        match ev.kind.host() {
            Some(h) => events_by_host.entry(h).or_default().push(i),
            None => faults.push(i),
        }
        let (client, dir, packets) = match &ev.kind {
            EventKind::Connected { client } => {
                aliases.remove(client.as_str());
                continue;
            }
            EventKind::Send { client, packet, .. } => (client, Dir::Send, vec![packet.clone()]),
            EventKind::Recv { client, packet, .. } => (client, Dir::Recv, vec![packet.clone()]),
            EventKind::SendRaw { client, bytes } => {
                match crate::wire::decode_all(bytes, level_of(run, client)) {
                    Some(p) => (client, Dir::Send, p),
                    None => {
                        opaque.insert(client.as_str());
                        continue;
                    }
                }
            }
            _ => continue,
        };
        for mut packet in packets {
            if let Packet::Publish(p) = &mut packet {
                aliases.entry(client).or_default().resolve(dir, p);
            }
            by_client
                .entry(client.as_str())
                .or_default()
                .push(list.len());
            list.push(Pkt {
                at: ev.at,
                event: i,
                client,
                dir,
                packet,
            });
        }
    }
    Packets {
        list,
        opaque,
        by_client,
        events_by_host,
        faults,
    }
}

/// The protocol level a client speaks, from the scenario.
fn level_of(run: &Run, client: &str) -> u8 {
    match run.scenario.clients.get(client).map(|c| c.options.protocol) {
        Some(Protocol::V5) => LEVEL_V5,
        _ => LEVEL_V311,
    }
}

/// Whether a packet is a CONNACK that accepted the connection and started
/// a new session (session present 0): the client's session state, and
/// the broker's for it, begin empty.
pub fn new_session(p: &Packet) -> bool {
    matches!(p, Packet::ConnAck(c) if c.code == 0 && !c.session_present)
}

/// Whether a packet is a CONNACK that accepted the connection.
pub fn accepted(p: &Packet) -> bool {
    matches!(p, Packet::ConnAck(c) if c.code == 0)
}

/// Clients that share a client id with another client (or connect with an
/// empty one, or with ids that change): their session is not theirs
/// alone, so what one of them sees says little about it.
pub fn shared_sessions<'a>(packets: &Packets<'a>) -> BTreeSet<&'a str> {
    let mut ids: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut by_client: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for p in &packets.list {
        if let (Dir::Send, Packet::Connect(c)) = (p.dir, &p.packet) {
            ids.entry(c.client_id.as_str())
                .or_default()
                .insert(p.client);
            by_client
                .entry(p.client)
                .or_default()
                .insert(c.client_id.as_str());
        }
    }
    let mut out: BTreeSet<&str> = ids
        .iter()
        .filter(|(id, hosts)| id.is_empty() || hosts.len() > 1)
        .flat_map(|(_, hosts)| hosts.iter().copied())
        .collect();
    out.extend(
        by_client
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(c, _)| *c),
    );
    out
}

/// The broker host a client connects to.
pub fn broker_of<'a>(run: &Run<'a>, client: &str) -> Option<&'a str> {
    match run.scenario.clients.get(client) {
        Some(c) => Some(c.broker.as_str()),
        // A bridge's connection (`edge->core`) is a client of its remote.
        None => run.scenario.bridge_to(client),
    }
}

/// Whether a fault can lose the traffic between `client` and `broker`:
/// a partition of their link (a lost segment stalls the stream for good),
/// a crash or restart of either.
pub fn loses(fault: &FaultAction, client: &str, broker: &str) -> bool {
    match fault {
        FaultAction::Partition { a, b, .. } => is_link(a, b, client, broker),
        FaultAction::Crash(h) | FaultAction::Restart(h) => h == client || h == broker,
        _ => false,
    }
}

fn is_link(a: &str, b: &str, client: &str, broker: &str) -> bool {
    (a == client && b == broker) || (a == broker && b == client)
}

/// The time of the last fault that can lose the traffic between `client`
/// and `broker`, if any.
pub fn last_loss(run: &Run, client: &str, broker: &str) -> Option<Duration> {
    fault_events(run)
        .filter(|e| matches!(&e.kind, EventKind::Fault { fault } if loses(fault, client, broker)))
        .map(|e| e.at)
        .next_back()
}

/// The run's fault events, in trace order, from the view's index.
fn fault_events<'r>(run: &'r Run) -> impl DoubleEndedIterator<Item = &'r crate::trace::Event> + 'r {
    run.view()
        .packets
        .faults()
        .iter()
        .filter_map(|&i| run.events.get(i))
}

/// Until when the link between `client` and `broker` held traffic back:
/// the last release of a hold on it (a hold delays, it does not lose);
/// `Duration::MAX` for a hold never released.
pub fn held_until(run: &Run, client: &str, broker: &str) -> Option<Duration> {
    let mut until = None;
    for e in fault_events(run) {
        match &e.kind {
            EventKind::Fault {
                fault: FaultAction::Hold(a, b),
            } if is_link(a, b, client, broker) => until = Some(Duration::MAX),
            EventKind::Fault {
                fault: FaultAction::Release(a, b),
            } if is_link(a, b, client, broker) => until = Some(e.at),
            _ => {}
        }
    }
    until
}

/// The longest one-way delay any message can take in the run: the
/// network's latency, per-link latencies, latency faults and chaos.
pub fn latency_max(run: &Run) -> Duration {
    let s = run.scenario;
    let links = s.network.links.iter().map(|l| l.latency.max());
    let chaos = s.chaos.latency.iter().map(|l| l.value.max());
    let faults = run.events.iter().filter_map(|e| match &e.kind {
        EventKind::Fault {
            fault: FaultAction::Latency { value, .. },
        } => Some(value.max()),
        _ => None,
    });
    std::iter::once(s.network.latency.max())
        .chain(links)
        .chain(chaos)
        .chain(faults)
        .max()
        .unwrap_or_default()
}

/// Renders the events at these indices, as the text trace shows them.
pub fn render(run: &Run, indices: impl IntoIterator<Item = usize>) -> Vec<String> {
    indices
        .into_iter()
        .filter_map(|i| run.events.get(i))
        .map(render::event_line)
        .collect()
}

/// Whether a filter is a shared subscription (`$share/group/filter`),
/// which delivers each message to one member of the group only.
pub fn is_shared(filter: &str) -> bool {
    filter.starts_with("$share/")
}

/// One application message as its publisher sent it: the first PUBLISH of
/// it and any resends of the same packet id while it was unacknowledged.
#[derive(Debug, Clone)]
pub struct Flow<'a> {
    pub publisher: &'a str,
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    /// When, and in which event, the publisher first sent it.
    pub first_sent: Duration,
    pub first_event: usize,
    /// The publisher's connection (1 for its first) of the first send.
    pub connection: usize,
    /// How many times it was sent: more than once when resent.
    pub sends: usize,
    /// The PUBACK (QoS 1) or PUBREC (QoS 2) that accepted it (reason code
    /// below 0x80): the broker had taken it over by then.
    pub accepted: Option<(Duration, usize)>,
    /// It carries a Message Expiry Interval: it may expire undelivered.
    pub expires: bool,
    /// The RETAIN flag and the properties of its first send.
    pub retain: bool,
    pub properties: crate::wire::Properties,
}

/// Every message each client published, in the order first sent. A QoS 1
/// or 2 PUBLISH with a packet id still unacknowledged in the publisher's
/// session and the same topic and payload is a resend of its flow; the id
/// is free again after PUBACK (QoS 1) or once PUBREL is sent (QoS 2: the
/// broker then forgets the id), and a new session forgets every id.
pub fn flows<'a>(packets: &Packets<'a>) -> Vec<Flow<'a>> {
    let mut out: Vec<Flow<'a>> = Vec::new();
    // Per client: packet id -> index in `out`.
    let mut open: BTreeMap<&str, BTreeMap<u16, usize>> = BTreeMap::new();
    let mut connections: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &packets.list {
        let ids = open.entry(p.client).or_default();
        match (p.dir, &p.packet) {
            (Dir::Send, Packet::Connect(_)) => {
                *connections.entry(p.client).or_default() += 1;
            }
            (Dir::Recv, packet) if new_session(packet) => ids.clear(),
            (Dir::Send, Packet::Publish(m)) => {
                let resend = (m.qos != QoS::AtMostOnce)
                    .then(|| ids.get(&m.packet_id))
                    .flatten()
                    .and_then(|&i| out.get(i))
                    .is_some_and(|f| f.topic == m.topic && f.payload == m.payload);
                if resend {
                    if let Some(f) = ids.get(&m.packet_id).and_then(|&i| out.get_mut(i)) {
                        f.sends += 1;
                    }
                    continue;
                }
                if m.qos != QoS::AtMostOnce {
                    ids.insert(m.packet_id, out.len());
                }
                out.push(Flow {
                    publisher: p.client,
                    topic: m.topic.clone(),
                    payload: m.payload.clone(),
                    qos: m.qos,
                    first_sent: p.at,
                    first_event: p.event,
                    connection: connections.get(p.client).copied().unwrap_or(0),
                    sends: 1,
                    accepted: None,
                    expires: m
                        .properties
                        .iter()
                        .any(|q| matches!(q, Property::MessageExpiryInterval(_))),
                    retain: m.retain,
                    properties: m.properties.clone(),
                });
            }
            (Dir::Recv, Packet::PubAck(a) | Packet::PubRec(a)) => {
                let qos1 = matches!(p.packet, Packet::PubAck(_));
                if let Some(f) = ids.get(&a.packet_id).and_then(|&i| out.get_mut(i))
                    && f.accepted.is_none()
                    && (f.qos == QoS::AtLeastOnce) == qos1
                    && a.reason < 0x80
                {
                    f.accepted = Some((p.at, p.event));
                }
                if qos1 || a.reason >= 0x80 {
                    ids.remove(&a.packet_id);
                }
            }
            (Dir::Send, Packet::PubRel(a)) => {
                ids.remove(&a.packet_id);
            }
            _ => {}
        }
    }
    out
}

/// One filter a SUBACK granted.
#[derive(Debug, Clone)]
pub struct Granted {
    pub filter: String,
    /// The granted QoS (a SUBACK code below 0x80).
    pub qos: u8,
    /// The SUBACK, its time and event.
    pub at: Duration,
    pub event: usize,
    /// The client's session it belongs to: see [`Subscriber::epoch`].
    pub epoch: usize,
    /// 5.0 No Local: the client's own messages are not sent back.
    pub no_local: bool,
    /// The client later subscribed to or unsubscribed from the same
    /// filter, changing what this grant promised.
    pub changed: bool,
}

/// What one client saw as a subscriber.
#[derive(Debug, Clone, Default)]
pub struct Subscriber {
    /// How many new sessions (CONNACK session present 0) it started: the
    /// session a grant or a receipt belongs to. A CONNACK with session
    /// present 1 continues the session, so equal epochs mean the session
    /// survived in between.
    pub epoch: usize,
    /// The last CONNACK that accepted it: time and event.
    pub last_accepted: Option<(Duration, usize)>,
    /// Its connection was open at the end of the run.
    pub connected_at_end: bool,
    /// It was silenced (a `silence` step without a `resume`) at the end.
    pub silenced_at_end: bool,
    pub granted: Vec<Granted>,
}

/// The subscriber's view of one client: its sessions and grants.
pub fn subscriber(run: &Run, packets: &Packets, client: &str) -> Subscriber {
    let mut s = Subscriber::default();
    // Packet id of a SUBSCRIBE in flight -> its filters and No Local flags.
    let mut asked: BTreeMap<u16, Vec<(String, bool)>> = BTreeMap::new();
    for p in packets.of(client) {
        match (p.dir, &p.packet) {
            (Dir::Recv, packet) if accepted(packet) => {
                if new_session(packet) {
                    s.epoch += 1;
                }
                s.last_accepted = Some((p.at, p.event));
            }
            (Dir::Send, Packet::Subscribe(sub)) => {
                for g in s.granted.iter_mut() {
                    g.changed |= sub.filters.iter().any(|f| f.filter == g.filter);
                }
                asked.insert(
                    sub.packet_id,
                    sub.filters
                        .iter()
                        .map(|f| (f.filter.clone(), f.no_local))
                        .collect(),
                );
            }
            (Dir::Send, Packet::Unsubscribe(u)) => {
                for g in s.granted.iter_mut() {
                    g.changed |= u.filters.contains(&g.filter);
                }
            }
            (Dir::Recv, Packet::SubAck(ack)) => {
                let Some(filters) = asked.remove(&ack.packet_id) else {
                    continue;
                };
                for ((filter, no_local), &code) in filters.into_iter().zip(&ack.codes) {
                    if code < 0x80 {
                        s.granted.push(Granted {
                            filter,
                            qos: code,
                            at: p.at,
                            event: p.event,
                            epoch: s.epoch,
                            no_local,
                            changed: false,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    let mut last_closed = None;
    for &i in packets.events_of(client) {
        let Some(ev) = run.events.get(i) else {
            continue;
        };
        match &ev.kind {
            EventKind::Closed { client: c, .. } if c == client => last_closed = Some(i),
            EventKind::Silence { client: c } if c == client => s.silenced_at_end = true,
            EventKind::Resume { client: c } if c == client => s.silenced_at_end = false,
            _ => {}
        }
    }
    s.connected_at_end = match (s.last_accepted, last_closed) {
        (Some((_, accepted)), Some(closed)) => closed < accepted,
        (accepted, _) => accepted.is_some(),
    };
    s
}

/// A will a client's CONNECT set: the broker may publish it whenever that
/// connection ends, so its message can appear at any time after.
#[derive(Debug, Clone)]
pub struct WillSet<'a> {
    pub client: &'a str,
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
}

/// Every will set by a CONNECT, one per CONNECT.
pub fn wills<'a>(packets: &Packets<'a>) -> Vec<WillSet<'a>> {
    packets
        .list
        .iter()
        .filter_map(|p| match (p.dir, &p.packet) {
            (Dir::Send, Packet::Connect(c)) => c.will.as_ref().map(|w| WillSet {
                client: p.client,
                topic: w.topic.clone(),
                payload: w.payload.clone(),
                qos: w.qos,
            }),
            _ => None,
        })
        .collect()
}

/// Whether a client on `broker` sent bytes that are not whole packets:
/// what it published there is unknown.
pub fn opaque_on(run: &Run, packets: &Packets, broker: &str) -> bool {
    packets
        .opaque
        .iter()
        .any(|c| broker_of(run, c) == Some(broker))
}

/// The clients whose receipts the delivery invariants judge, with their
/// broker: each has a session of its own (no client id shared with
/// another host), on a broker where every publication is known (no
/// client there sent bytes that are not whole packets).
pub fn judged_clients<'r>(run: &'r Run) -> impl Iterator<Item = (&'r str, &'r str)> + 'r {
    let v = run.view();
    run.scenario
        .clients
        .iter()
        .filter(move |(name, spec)| {
            !v.shared.contains(name.as_str()) && !opaque_on(run, &v.packets, &spec.broker)
        })
        .map(|(name, spec)| (name.as_str(), spec.broker.as_str()))
}

/// The filters a client ever subscribed to that match `topic`.
pub fn filters_matching<'s>(packets: &'s Packets, client: &str, topic: &str) -> BTreeSet<&'s str> {
    subscribed_filters(packets, client)
        .filter(|f| crate::topic::matches(f, topic))
        .collect()
}

/// Every filter a client sent in a SUBSCRIBE, in trace order.
pub fn subscribed_filters<'s>(packets: &'s Packets, client: &str) -> impl Iterator<Item = &'s str> {
    packets
        .of(client)
        .filter(|p| p.dir == Dir::Send)
        .filter_map(|p| match &p.packet {
            Packet::Subscribe(s) => Some(s.filters.iter()),
            _ => None,
        })
        .flatten()
        .map(|f| f.filter.as_str())
}

/// The packet id a client's acknowledgement releases: a PUBACK, a PUBCOMP
/// or a PUBREC with a reason of 0x80 or more that it sent ends the
/// broker's PUBLISH of that id.
pub fn released_by_client(p: &Pkt) -> Option<u16> {
    match (p.dir, &p.packet) {
        (Dir::Send, Packet::PubAck(a) | Packet::PubComp(a)) => Some(a.packet_id),
        (Dir::Send, Packet::PubRec(a)) if a.reason >= 0x80 => Some(a.packet_id),
        _ => None,
    }
}

/// The flows whose topic and payload no other flow or will carries, by
/// that content: a receipt with that topic and payload is that message.
pub fn unique_flows<'v>(
    flows: &'v [Flow],
    wills: &[WillSet],
) -> BTreeMap<(&'v str, &'v Bytes), &'v Flow<'v>> {
    let mut seen: BTreeMap<(&str, &Bytes), usize> = BTreeMap::new();
    for f in flows {
        *seen.entry((f.topic.as_str(), &f.payload)).or_default() += 1;
    }
    let willed: BTreeSet<(&str, &Bytes)> = wills
        .iter()
        .map(|w| (w.topic.as_str(), &w.payload))
        .collect();
    flows
        .iter()
        .filter(|f| seen.get(&(f.topic.as_str(), &f.payload)) == Some(&1))
        .filter(|f| !willed.contains(&(f.topic.as_str(), &f.payload)))
        .map(|f| ((f.topic.as_str(), &f.payload), f))
        .collect()
}

/// Whether the scenario makes `client` speak 5.0.
pub fn is_v5(run: &Run, client: &str) -> bool {
    level_of(run, client) == LEVEL_V5
}
