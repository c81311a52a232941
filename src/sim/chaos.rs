//! Chaos: faults generated from the seed, following the scenario's `chaos`
//! section, as ordinary faults that the trace shows.
//!
//! Each generator draws from its own ChaCha8 stream. Events start every
//! `every` (start to start) until [`Scenario::chaos_end`]; every event ends
//! by then, so the run's last `chaos_settle` has a whole network: every
//! partition healed, every hold released, every latency back to its
//! configured value and every crashed broker restarted. A crashed client
//! stays down (clients are never restarted).
//!
//! turmoil keeps one state per link, so a hold on a partitioned link would
//! end the partition early (and a release heals it). A partition or hold
//! drawn for a link that already has one in force is therefore skipped, as
//! is a latency spike on a link with a spike in force, and a crash of a host
//! that is down. Skipping draws nothing extra, so later events do not shift.

use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::Seeds;
use super::faults::Timed;
use crate::scenario::{
    ChaosCrashes, ChaosLatency, ChaosLinks, DurationSpec, FaultAction, Scenario,
};

/// Events one generator may produce in one run; `every` is at least 1us, so
/// a long run with a tiny `every` would otherwise grow without bound.
pub const CHAOS_EVENTS_MAX: usize = 100_000;

const GEN_PARTITIONS: u64 = 0;
const GEN_HOLDS: u64 = 1;
const GEN_LATENCY: u64 = 2;
const GEN_CRASHES: u64 = 3;
/// The values of latency spikes, drawn apart from the spikes' times.
const GEN_LATENCY_VALUES: u64 = 4;

type Pair = (String, String);

/// Time intervals, [start, end), during which something is in force on a
/// key (a link or a host).
#[derive(Default)]
struct Busy<K> {
    spans: Vec<(K, Duration, Option<Duration>)>,
}

impl<K: PartialEq> Busy<K> {
    /// Whether `[start, end)` meets a span on `key`; `end: None` is forever.
    fn overlaps(&self, key: &K, start: Duration, end: Option<Duration>) -> bool {
        self.spans.iter().any(|(k, s, e)| {
            k == key
                && (*s == start || (end.is_none_or(|end| *s < end) && e.is_none_or(|e| start < e)))
        })
    }

    fn add(&mut self, key: K, start: Duration, end: Option<Duration>) {
        self.spans.push((key, start, end));
    }
}

/// An event's faults: what starts it (rank 1) and what ends it (rank 0, so
/// that at equal times an end goes before a start).
struct Gen {
    out: Vec<(Duration, u8, FaultAction)>,
}

impl Gen {
    fn start(&mut self, at: Duration, f: FaultAction) {
        self.out.push((at, 1, f));
    }
    fn end(&mut self, at: Duration, f: FaultAction) {
        self.out.push((at, 0, f));
    }
}

/// The faults chaos generates for one run, in time order.
pub fn generate(s: &Scenario, seeds: &Seeds) -> Vec<Timed> {
    if !s.chaos.is_on() {
        return Vec::new();
    }
    let end = s.chaos_end();
    let mut g = Gen { out: Vec::new() };
    let mut link_busy: Busy<Pair> = Busy::default();
    if let Some(p) = &s.chaos.partitions {
        links(
            p,
            &mut seeds.chaos(GEN_PARTITIONS),
            end,
            &mut link_busy,
            |t, a, b, g| {
                g.start(
                    t.0,
                    FaultAction::Partition {
                        a: a.clone(),
                        b: b.clone(),
                        oneway: false,
                    },
                );
                g.end(t.1, FaultAction::Heal(Some((a, b))));
            },
            &mut g,
        );
    }
    if let Some(h) = &s.chaos.holds {
        links(
            h,
            &mut seeds.chaos(GEN_HOLDS),
            end,
            &mut link_busy,
            |t, a, b, g| {
                g.start(t.0, FaultAction::Hold(a.clone(), b.clone()));
                g.end(t.1, FaultAction::Release(a, b));
            },
            &mut g,
        );
    }
    if let Some(l) = &s.chaos.latency {
        latency_spikes(s, l, seeds, end, &mut g);
    }
    if let Some(c) = &s.chaos.crashes {
        crashes(s, c, seeds, end, &mut g);
    }
    g.out.sort_by_key(|(at, rank, _)| (*at, *rank));
    g.out
        .into_iter()
        .map(|(at, _, action)| Timed { at, action })
        .collect()
}

/// Latency spikes: a link's latency set to a drawn value for a while,
/// then back to its baseline.
fn latency_spikes(s: &Scenario, l: &ChaosLatency, seeds: &Seeds, end: Duration, g: &mut Gen) {
    let mut rng = seeds.chaos(GEN_LATENCY);
    let as_links = ChaosLinks {
        every: l.every,
        lasting: l.lasting,
        between: l.between.clone(),
    };
    let mut spike_busy: Busy<Pair> = Busy::default();
    let mut values = seeds.chaos(GEN_LATENCY_VALUES);
    links(
        &as_links,
        &mut rng,
        end,
        &mut spike_busy,
        |t, a, b, g| {
            // Whole milliseconds: the trace stays readable, and turmoil
            // delivers on tick boundaries anyway.
            let drawn = l.value.draw(&mut values).as_millis();
            let value = DurationSpec::Fixed(Duration::from_millis(
                u64::try_from(drawn).unwrap_or(u64::MAX),
            ));
            let baseline = baseline(s, &a, &b);
            g.start(
                t.0,
                FaultAction::Latency {
                    a: a.clone(),
                    b: b.clone(),
                    value,
                },
            );
            g.end(
                t.1,
                FaultAction::Latency {
                    a,
                    b,
                    value: baseline,
                },
            );
        },
        g,
    );
}

/// Host crashes: a broker restarts after `restart_after` (or stays down to
/// the end), a client never comes back; a host is never crashed twice at
/// once.
fn crashes(s: &Scenario, c: &ChaosCrashes, seeds: &Seeds, end: Duration, g: &mut Gen) {
    let mut rng = seeds.chaos(GEN_CRASHES);
    let mut down: Busy<String> = Busy::default();
    let mut t = Duration::ZERO;
    for _ in 0..CHAOS_EVENTS_MAX {
        t += c.every.draw(&mut rng);
        let restart_after = c.restart_after.map(|r| r.draw(&mut rng));
        let index = rng.random_range(0..c.hosts.len().max(1));
        if t >= end {
            break;
        }
        let Some(host) = c.hosts.get(index) else {
            break;
        };
        let broker = s.brokers.contains_key(host);
        let back = broker.then(|| restart_after.map_or(end, |r| (t + r).min(end)));
        if down.overlaps(host, t, back) {
            continue;
        }
        down.add(host.clone(), t, back);
        g.start(t, FaultAction::Crash(host.clone()));
        if let Some(back) = back {
            g.end(back, FaultAction::Restart(host.clone()));
        }
    }
}

/// Runs a link generator: one event every `every`, lasting `lasting`, on a
/// link drawn from `between`, ending by `end` at the latest.
fn links(
    spec: &ChaosLinks,
    rng: &mut ChaCha8Rng,
    end: Duration,
    busy: &mut Busy<Pair>,
    mut emit: impl FnMut((Duration, Duration), String, String, &mut Gen),
    g: &mut Gen,
) {
    let mut t = Duration::ZERO;
    for _ in 0..CHAOS_EVENTS_MAX {
        t += spec.every.draw(rng);
        let lasting = spec.lasting.draw(rng);
        let index = rng.random_range(0..spec.between.len().max(1));
        if t >= end {
            return;
        }
        let Some((a, b)) = spec.between.get(index) else {
            return;
        };
        let stop = (t + lasting).min(end);
        let key = normalized(a, b);
        if busy.overlaps(&key, t, Some(stop)) {
            continue;
        }
        busy.add(key, t, Some(stop));
        emit((t, stop), a.clone(), b.clone(), g);
    }
}

fn normalized(a: &str, b: &str) -> Pair {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// A link's configured latency: its `network.links` entry, or
/// `network.latency`.
fn baseline(s: &Scenario, a: &str, b: &str) -> DurationSpec {
    s.network
        .links
        .iter()
        .rev()
        .find(|l| normalized(&l.between.0, &l.between.1) == normalized(a, b))
        .map_or(s.network.latency, |l| l.latency)
}
