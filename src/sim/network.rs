//! The wire between simulated hosts: every packet a host's TCP stack sends
//! goes through here, and the fault semantics of docs/faults.md live here.
//!
//! turmoil-net owns each host's TCP stack but no clock; the engine takes
//! the packets out (`egress_all`), decides per link what happens to each
//! one, and hands it back (`deliver`) when it is due:
//!
//! - **latency**: a packet is due `latency` after it was sent, rounded up
//!   to the tick, and never before the packet sent on the same link and
//!   direction before it (the receiver drops segments out of order). A
//!   range is drawn per packet from the run's network stream.
//! - **partition**: packets are dropped, in flight ones too; a connect
//!   (SYN) whose client-to-broker direction is cut is refused at once.
//! - **hold / release**: packets (in flight ones too) are kept in order and
//!   delivered at the release; `heal` does not release them.
//! - **crashed host**: its closing segments leave it. A packet that
//!   arrives while it is down bounces back as a reset, except a connect,
//!   which waits and is refused when the host restarts. A restart first
//!   resets what TCP state the crash left.
//! - **handshake and acknowledgements**: only the SYN crosses the link. The
//!   SYN-ACK and every bare ACK (including the one that completes the
//!   handshake) are delivered at once, so a connect takes one link latency
//!   and acknowledgements never delay data, as on turmoil 0.7, whose TCP
//!   had none.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use turmoil_net::{EnterGuard, Packet, TcpFlags, TcpSegment, Transport};

use crate::scenario::{DurationSpec, Scenario};

/// What a direction of a link does to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Up,
    Held,
    Down,
}

struct Link {
    latency: DurationSpec,
    /// Index 0 is from the lower host index to the higher one.
    ways: [Way; 2],
    /// When the last packet in each direction is due: FIFO per direction.
    last_due: [Duration; 2],
    /// Held packets in the order they were sent.
    held: Vec<Packet>,
}

impl Link {
    fn new(latency: DurationSpec) -> Link {
        Link {
            latency,
            ways: [Way::Up; 2],
            last_due: [Duration::ZERO; 2],
            held: Vec::new(),
        }
    }
}

/// The link table, the packets in flight and the crashed hosts.
pub struct Network {
    tick: Duration,
    latency: DurationSpec,
    rng: ChaCha8Rng,
    names: Vec<String>,
    ips: BTreeMap<IpAddr, usize>,
    links: BTreeMap<(usize, usize), Link>,
    /// Packets in flight, by due time, then receiving host (in registration
    /// order, as turmoil 0.7 delivered them), then sending order.
    in_flight: BTreeMap<(Duration, usize, u64), Packet>,
    sent: u64,
    crashed: Vec<bool>,
    /// Connects to a crashed host, refused when it restarts.
    waiting_syns: Vec<Vec<Packet>>,
    egress: Vec<Packet>,
}

impl Network {
    /// `hosts` are the host names with their addresses, in registration
    /// order.
    pub fn new(
        scenario: &Scenario,
        tick: Duration,
        hosts: Vec<(String, IpAddr)>,
        rng: ChaCha8Rng,
    ) -> Network {
        let count = hosts.len();
        let mut net = Network {
            tick,
            latency: scenario.network.latency,
            rng,
            ips: hosts
                .iter()
                .enumerate()
                .map(|(i, (_, ip))| (*ip, i))
                .collect(),
            names: hosts.into_iter().map(|(n, _)| n).collect(),
            links: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            sent: 0,
            crashed: vec![false; count],
            waiting_syns: vec![Vec::new(); count],
            egress: Vec::new(),
        };
        for l in &scenario.network.links {
            net.set_latency(&l.between.0, &l.between.1, l.latency);
        }
        net
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The link between two hosts and which of its directions goes from
    /// `from`.
    fn link(&mut self, from: usize, to: usize) -> (&mut Link, usize) {
        let key = (from.min(to), from.max(to));
        let dir = usize::from(from > to);
        let latency = self.latency;
        (
            self.links.entry(key).or_insert_with(|| Link::new(latency)),
            dir,
        )
    }

    fn link_by_name(&mut self, a: &str, b: &str) -> Option<(usize, usize)> {
        Some((self.index(a)?, self.index(b)?))
    }

    /// When the next packet is due, if any is in flight.
    pub fn next_due(&self) -> Option<Duration> {
        self.in_flight.keys().next().map(|(at, _, _)| *at)
    }

    /// Delivers what is due at `now` and routes what the hosts sent.
    /// Returns whether any packet moved. `touched`: whether any host ran
    /// since the last exchange.
    ///
    /// turmoil-net's `egress_all` visits every socket of every host, so a
    /// sweep costs the whole fleet. It is skipped when it cannot find
    /// anything: no host ran and nothing was delivered since the last
    /// sweep, which drained every stack (turmoil-net has no clock, so a
    /// stack sends nothing by itself).
    pub fn exchange(&mut self, guard: &EnterGuard, now: Duration, touched: bool) -> bool {
        let mut moved = false;
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let packet = entry.remove();
            moved = true;
            match self.ips.get(&packet.dst) {
                Some(&to) if self.crashed[to] => self.arrive_crashed(now, to, packet),
                _ => guard.deliver(packet),
            }
        }
        if !moved && !touched {
            return false;
        }
        let mut egress = std::mem::take(&mut self.egress);
        guard.egress_all(&mut egress);
        for packet in egress.drain(..) {
            moved = true;
            self.route(now, packet);
        }
        self.egress = egress;
        moved
    }

    /// A packet reaches a host that is down. A connect waits for the host
    /// to restart, and is refused then; anything else bounces as a reset,
    /// as on turmoil 0.7, which crosses the link back like any packet.
    fn arrive_crashed(&mut self, now: Duration, to: usize, packet: Packet) {
        let Transport::Tcp(seg) = &packet.payload else {
            return;
        };
        if seg.flags.syn && !seg.flags.ack {
            self.waiting_syns[to].push(packet);
        } else if !seg.flags.rst && !is_bare_ack(seg) {
            let rst = reply_rst(&packet, seg);
            self.route(now, rst);
        }
    }

    fn schedule(&mut self, due: Duration, packet: Packet) {
        self.sent += 1;
        let to = self.ips.get(&packet.dst).copied().unwrap_or(usize::MAX);
        self.in_flight.insert((due, to, self.sent), packet);
    }

    fn route(&mut self, now: Duration, packet: Packet) {
        let (Some(&from), Some(&to)) = (self.ips.get(&packet.src), self.ips.get(&packet.dst))
        else {
            return;
        };
        let Transport::Tcp(seg) = &packet.payload else {
            return;
        };
        let flags = seg.flags;
        let is_syn = flags.syn && !flags.ack;
        // Only the SYN of a handshake crosses the link, and TCP's bare
        // acknowledgements are bookkeeping that turmoil 0.7 did not have:
        // both arrive at once, are never lost and hold up no data.
        if (flags.syn && flags.ack) || is_bare_ack(seg) {
            return self.schedule(now, packet);
        }
        let tick = self.tick;
        let (link, dir) = self.link(from, to);
        match link.ways[dir] {
            Way::Down => {
                if is_syn {
                    let rst = reply_rst(&packet, seg);
                    self.schedule(now, rst);
                }
            }
            Way::Held => link.held.push(packet),
            Way::Up => {
                let latency = link.latency;
                let delay = latency.draw(&mut self.rng);
                let (link, dir) = self.link(from, to);
                let due = round_up(now + delay, tick).max(link.last_due[dir]);
                link.last_due[dir] = due;
                self.schedule(due, packet);
            }
        }
    }

    /// Drops what is in flight on the link from `a`'s side (both sides
    /// when `both`).
    fn drop_in_flight(&mut self, a: usize, b: usize, both: bool) {
        let (ip_a, ip_b) = (self.ip(a), self.ip(b));
        self.in_flight.retain(|_, p| {
            let on_link =
                (p.src == ip_a && p.dst == ip_b) || (both && p.src == ip_b && p.dst == ip_a);
            !on_link
        });
    }

    fn ip(&self, index: usize) -> IpAddr {
        self.ips
            .iter()
            .find(|(_, i)| **i == index)
            .map(|(ip, _)| *ip)
            .expect("every host has an address")
    }

    pub fn partition(&mut self, a: &str, b: &str, oneway: bool) {
        let Some((a, b)) = self.link_by_name(a, b) else {
            return;
        };
        let from = self.ip(a);
        let (link, dir) = self.link(a, b);
        if oneway {
            link.ways[dir] = Way::Down;
            link.held.retain(|p| p.src != from);
        } else {
            link.ways = [Way::Down; 2];
            link.held.clear();
        }
        self.drop_in_flight(a, b, !oneway);
    }

    /// Both directions work again; held packets stay held.
    pub fn heal(&mut self, a: &str, b: &str) {
        let Some((a, b)) = self.link_by_name(a, b) else {
            return;
        };
        self.link(a, b).0.ways = [Way::Up; 2];
    }

    /// Ends every partition in force; held links stay held.
    pub fn heal_all(&mut self) {
        for link in self.links.values_mut() {
            if link.ways.contains(&Way::Down) {
                link.ways = [Way::Up; 2];
            }
        }
    }

    pub fn hold(&mut self, a: &str, b: &str) {
        let Some((a, b)) = self.link_by_name(a, b) else {
            return;
        };
        let (ip_a, ip_b) = (self.ip(a), self.ip(b));
        let mut taken = Vec::new();
        self.in_flight.retain(|_, p| {
            let on_link = (p.src == ip_a && p.dst == ip_b) || (p.src == ip_b && p.dst == ip_a);
            if on_link {
                taken.push(p.clone());
            }
            !on_link
        });
        let (link, _) = self.link(a, b);
        link.ways = [Way::Held; 2];
        link.held.extend(taken);
    }

    /// The link works again and what it held is delivered now, in order.
    pub fn release(&mut self, a: &str, b: &str, now: Duration) {
        let Some((a, b)) = self.link_by_name(a, b) else {
            return;
        };
        let due = now;
        let (link, _) = self.link(a, b);
        link.ways = [Way::Up; 2];
        let held = std::mem::take(&mut link.held);
        for d in &mut link.last_due {
            *d = (*d).max(due);
        }
        for packet in held {
            self.schedule(due, packet);
        }
    }

    pub fn set_latency(&mut self, a: &str, b: &str, latency: DurationSpec) {
        let Some((a, b)) = self.link_by_name(a, b) else {
            return;
        };
        self.link(a, b).0.latency = latency;
    }

    pub fn crash(&mut self, host: &str) {
        if let Some(i) = self.index(host) {
            self.crashed[i] = true;
        }
    }

    /// The host is up again. Whatever TCP state its last life left behind
    /// (connections whose close never completed) is reset, so that it can
    /// listen again, and connects that waited for it are refused.
    pub fn restart(&mut self, host: &str, now: Duration, at: Duration) {
        let Some(i) = self.index(host) else { return };
        self.crashed[i] = false;
        for entry in turmoil_net::netstat(host).entries {
            if let Some(peer) = entry.peer {
                self.schedule(
                    now,
                    reset(peer.ip(), entry.local.ip(), peer.port(), entry.local.port()),
                );
            }
        }
        for syn in std::mem::take(&mut self.waiting_syns[i]) {
            if let Transport::Tcp(seg) = &syn.payload {
                let rst = reply_rst(&syn, seg);
                self.schedule(at, rst);
            }
        }
    }
}

/// An acknowledgement that carries nothing else.
fn is_bare_ack(seg: &TcpSegment) -> bool {
    let f = seg.flags;
    f.ack && !f.syn && !f.fin && !f.rst && seg.payload.is_empty()
}

pub fn round_up(t: Duration, tick: Duration) -> Duration {
    let tick_ns = tick.as_nanos().max(1);
    let ticks = t.as_nanos().div_ceil(tick_ns);
    Duration::from_nanos(u64::try_from(ticks * tick_ns).unwrap_or(u64::MAX))
}

/// The RST the receiver of `packet` would answer with (RFC 793's rules),
/// addressed back to the sender.
fn reply_rst(packet: &Packet, seg: &TcpSegment) -> Packet {
    let (seq, ack, ack_flag) = if seg.flags.ack {
        (seg.ack, 0, false)
    } else {
        let len = seg.payload.len() as u32 + u32::from(seg.flags.syn) + u32::from(seg.flags.fin);
        (0, seg.seq.wrapping_add(len), true)
    };
    Packet {
        src: packet.dst,
        dst: packet.src,
        ttl: packet.ttl,
        payload: Transport::Tcp(TcpSegment {
            src_port: seg.dst_port,
            dst_port: seg.src_port,
            seq,
            ack,
            flags: TcpFlags {
                rst: true,
                ack: ack_flag,
                ..TcpFlags::default()
            },
            window: 0,
            payload: Bytes::new(),
        }),
    }
}

/// A bare RST from `src` to `dst`. turmoil-net aborts the connection on any
/// RST for its 4-tuple, whatever the sequence number.
fn reset(src: IpAddr, dst: IpAddr, src_port: u16, dst_port: u16) -> Packet {
    Packet {
        src,
        dst,
        ttl: 64,
        payload: Transport::Tcp(TcpSegment {
            src_port,
            dst_port,
            seq: 0,
            ack: 0,
            flags: TcpFlags {
                rst: true,
                ..TcpFlags::default()
            },
            window: 0,
            payload: Bytes::new(),
        }),
    }
}
