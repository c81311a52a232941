//! Faults and chaos: the generated timeline heals everything before the
//! settling period, faults show in the trace when they take effect, and a
//! latency range is drawn uniformly.

use std::path::Path;
use std::time::Duration;

use mqtt_sim::scenario::{self, FaultAction, Scenario};
use mqtt_sim::sim;
use mqtt_sim::trace::EventKind;
use mqtt_sim::wire::{Ack, Packet};

fn load(rel: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    match scenario::load(&path) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

#[test]
fn chaos_ends_every_fault_before_the_settling_period() {
    let s = load("scenarios/chaos/qos1-at-least-once.yaml");
    let end = s.chaos_end();
    assert_eq!(
        end,
        Duration::from_secs(24),
        "30s minus the 6s default settle"
    );
    let mut kinds = [0usize; 4];
    for seed in 0..200 {
        let timeline = sim::timeline(&s, seed);
        // Link faults in force, and whether the broker is down.
        let mut links: Vec<((String, String), &str)> = Vec::new();
        let mut spikes: Vec<(String, String)> = Vec::new();
        let mut down = false;
        for t in &timeline {
            assert!(t.at <= end, "seed {seed}: {t:?} after the chaos window");
            match &t.action {
                FaultAction::Partition { a, b, oneway } => {
                    assert!(!oneway);
                    assert!(
                        !links.iter().any(|(p, _)| *p == pair(a, b)),
                        "seed {seed}: partition on a link with a fault in force"
                    );
                    links.push((pair(a, b), "partition"));
                    kinds[0] += 1;
                }
                FaultAction::Heal(Some((a, b))) => {
                    let before = links.len();
                    links.retain(|x| *x != (pair(a, b), "partition"));
                    assert_eq!(
                        links.len() + 1,
                        before,
                        "seed {seed}: heal without partition"
                    );
                }
                FaultAction::Hold(a, b) => {
                    assert!(
                        !links.iter().any(|(p, _)| *p == pair(a, b)),
                        "seed {seed}: hold on a link with a fault in force"
                    );
                    links.push((pair(a, b), "hold"));
                    kinds[1] += 1;
                }
                FaultAction::Release(a, b) => {
                    let before = links.len();
                    links.retain(|x| *x != (pair(a, b), "hold"));
                    assert_eq!(links.len() + 1, before, "seed {seed}: release without hold");
                }
                FaultAction::Latency { a, b, value } => {
                    if value.max() == Duration::from_millis(1) {
                        let before = spikes.len();
                        spikes.retain(|p| *p != pair(a, b));
                        assert_eq!(
                            spikes.len() + 1,
                            before,
                            "seed {seed}: restore without spike"
                        );
                    } else {
                        assert!(value.min() >= Duration::from_millis(20));
                        assert!(value.max() <= Duration::from_millis(200));
                        assert!(!spikes.contains(&pair(a, b)));
                        spikes.push(pair(a, b));
                        kinds[2] += 1;
                    }
                }
                FaultAction::Crash(h) => {
                    assert_eq!(h, "broker");
                    assert!(!down, "seed {seed}: crash of a crashed broker");
                    down = true;
                    kinds[3] += 1;
                }
                FaultAction::Restart(_) => {
                    assert!(down, "seed {seed}: restart of a running broker");
                    down = false;
                }
                other => panic!("chaos does not generate {other:?}"),
            }
        }
        assert!(links.is_empty(), "seed {seed}: left in force: {links:?}");
        assert!(spikes.is_empty(), "seed {seed}: spikes left: {spikes:?}");
        assert!(!down, "seed {seed}: the broker is left down");
    }
    assert!(
        kinds.iter().all(|&k| k > 100),
        "every generator generates: {kinds:?}"
    );
    assert_ne!(sim::timeline(&s, 1), sim::timeline(&s, 2), "seeds differ");
    assert_eq!(sim::timeline(&s, 1), sim::timeline(&s, 1), "a seed repeats");
}

#[test]
fn every_fault_shows_in_the_trace_when_it_takes_effect() {
    let s = load("scenarios/chaos/qos1-at-least-once.yaml");
    for seed in [3, 4] {
        let timeline = sim::timeline(&s, seed);
        let report = sim::run_here(&s, seed);
        let faults: Vec<(Duration, FaultAction)> = report
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Fault { fault } => Some((e.at, fault.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(faults.len(), timeline.len());
        for ((at, f), t) in faults.iter().zip(&timeline) {
            assert_eq!(*f, t.action);
            // Applied at the first tick at or after its time (tick 1ms).
            assert!(
                *at >= t.at && *at < t.at + Duration::from_millis(1),
                "{at:?} vs {t:?}"
            );
        }
        assert!(report.ok(), "seed {seed}: {:?}", report.verdicts);
    }
}

/// PUBACK round trips over a link with latency 10ms..30ms each way: a
/// uniform draw gives a mean near 40ms; turmoil's own exponential curve
/// would give about 28ms.
#[test]
fn a_latency_range_is_drawn_uniformly() {
    let steps: String = (1..=200)
        .map(|i| {
            format!(
                "      - {{at: {}ms, publish: {{topic: t, payload: x, qos: 1}}}}\n",
                i * 100
            )
        })
        .collect();
    let yaml = format!(
        "duration: 21s\nnetwork:\n  latency: 10ms..30ms\nbrokers:\n  broker: {{}}\nclients:\n  c:\n    steps:\n      - connect: {{}}\n{steps}"
    );
    let s = match scenario::parse(&yaml, Path::new("uniform.yaml")) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let report = sim::run_here(&s, 5);
    let mut sent = std::collections::BTreeMap::new();
    let mut rtts = Vec::new();
    for e in &report.events {
        match &e.kind {
            EventKind::Send {
                packet: Packet::Publish(p),
                ..
            } => {
                sent.insert(p.packet_id, e.at);
            }
            EventKind::Recv {
                packet: Packet::PubAck(Ack { packet_id: id, .. }),
                ..
            } => {
                if let Some(t) = sent.remove(id) {
                    rtts.push((e.at - t).as_secs_f64() * 1000.0);
                }
            }
            _ => {}
        }
    }
    assert_eq!(rtts.len(), 200);
    let mean = rtts.iter().sum::<f64>() / rtts.len() as f64;
    let min = rtts.iter().cloned().fold(f64::MAX, f64::min);
    let max = rtts.iter().cloned().fold(0.0, f64::max);
    assert!((36.0..=44.0).contains(&mean), "mean round trip {mean}ms");
    assert!(min >= 20.0 && max <= 62.0, "round trips {min}ms..{max}ms");
    // Both halves of the range are well used, as a uniform draw would.
    let low = rtts.iter().filter(|&&r| r < 40.0).count();
    assert!((70..=130).contains(&low), "{low} of 200 below the mean");
}

#[test]
fn chaos_needs_a_duration_longer_than_its_settling_time() {
    // max(2 x 2s keep-alive, 30s connect timeout) + 1s.
    let yaml = "duration: 5s\nbrokers: {broker: {}}\nclients:\n  c:\n    keep_alive: 2s\n    steps: [{connect: {}}]\nchaos:\n  partitions: {every: 1s, lasting: 1s}\n";
    let err = match scenario::parse(yaml, Path::new("short.yaml")) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("settling time (31s: the connect timeout 30s of `c` + 1s margin)"),
        "{err}"
    );
}
