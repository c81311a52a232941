//! The event-driven engine (`sim::run_here`) side by side with the turmoil
//! 0.7 engine it replaced (`tick::run_here`, in `tick.rs` beside this file
//! and no longer part of the library), on the cases of
//! docs/performance.md. Run with `cargo bench --bench engine`; a filter
//! picks cases, e.g. `cargo bench --bench engine -- clients`.
//!
//! Throughput is in simulated milliseconds per second for single runs, so
//! `Kelem/s` reads as "simulated seconds per wall second", and in seed-runs
//! per second for explore. The turmoil 0.7 engine is left out where one run
//! would take minutes.

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mqtt_sim::explore::{self, Options, SeedSet, Shard};
use mqtt_sim::scenario::{self, Scenario};
use mqtt_sim::sim;

mod tick;
mod tick_latency;

const NEW: &str = "event-driven";
const OLD: &str = "turmoil-0.7";

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn parse(yaml: &str) -> Scenario {
    scenario::parse(yaml, Path::new("generated.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

/// One client at keep-alive 60s, pinging for a day.
fn day_of_pings() -> Scenario {
    parse(
        "duration: 24h\nbrokers:\n  broker: {}\nclients:\n  device:\n    keep_alive: 60s\n    ping: auto\n    steps: [{connect: {}}]\nexpect:\n  - {client: device, closed: {}, count: 0}\n",
    )
}

/// `n` clients, one of them a publisher: each other client connects at 0
/// and subscribes to `t/all` at 100ms; the publisher's one QoS 1 message to
/// `t/all` at 200ms fans out to all of them, and each acknowledges it. The
/// work per client is the same whatever `n` is. (A publish from every
/// client would not be: the reference broker scans every session per
/// publish, see docs/performance.md.) A YAML alias keeps 10,000 clients
/// under the file size limit.
pub fn clients(n: usize) -> Scenario {
    let mut yaml = String::from(
        "duration: 1s\nbrokers:\n  broker: {}\nclients:\n  p: {steps: [{connect: {}}, {at: 200ms, publish: {topic: t/all, payload: x, qos: 1}}]}\n  c0: &c {steps: [{connect: {}}, {at: 100ms, subscribe: {filter: t/all, qos: 1}}]}\n",
    );
    for i in 1..n - 1 {
        yaml.push_str(&format!("  c{i}: *c\n"));
    }
    yaml.push_str(&format!(
        "expect:\n  - {{client: c{}, receives: {{topic: t/all}}, count: 1}}\n",
        n - 2
    ));
    parse(&yaml)
}

fn run_case(c: &mut Criterion, group: &str, s: &Scenario, old_too: bool) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(s.duration.as_millis() as u64));
    g.bench_function(NEW, |b| {
        b.iter(|| {
            let r = sim::run_here(s, s.seed);
            assert!(
                r.ok(),
                "{group} failed: {:?} {:?}",
                r.harness_error,
                r.verdicts
            );
            r
        })
    });
    if old_too {
        g.bench_function(OLD, |b| {
            b.iter(|| {
                let r = tick::run_here(s, s.seed);
                assert!(r.ok(), "{group} failed on turmoil 0.7");
                r
            })
        });
    }
    g.finish();
}

fn single_runs(c: &mut Criterion) {
    run_case(
        c,
        "duplicate-client-id",
        &load("tutorial/duplicate-client-id.yaml"),
        true,
    );
    run_case(
        c,
        "pings-keep-connection",
        &load("keepalive/pings-keep-connection.yaml"),
        true,
    );
    // turmoil 0.7 needs about 300s of CPU for a simulated day.
    run_case(c, "day-of-pings", &day_of_pings(), false);
}

fn many_clients(c: &mut Criterion) {
    let mut g = c.benchmark_group("clients");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    // 10,000 clients take seconds per run: measured with the CLI instead
    // (docs/performance.md), as criterion wants ten samples.
    for n in [10, 100, 1_000] {
        let s = clients(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new(NEW, n), &s, |b, s| {
            b.iter(|| {
                let r = sim::run_here(s, s.seed);
                assert!(
                    r.ok(),
                    "{n} clients failed: {:?} {:?}",
                    r.harness_error,
                    r.verdicts
                );
                r
            })
        });
        // turmoil 0.7 polls every host every tick: 100 clients already
        // take seconds per run.
        if n <= 100 {
            g.bench_with_input(BenchmarkId::new(OLD, n), &s, |b, s| {
                b.iter(|| {
                    let r = tick::run_here(s, s.seed);
                    assert!(r.ok(), "{n} clients failed on turmoil 0.7");
                    r
                })
            });
        }
    }
    g.finish();
}

/// scenarios/scale/fan-out.yaml grown to `n` subscribers with its connects
/// spread over 0s..5s, the publish at 6s and the expectations per member,
/// as `benches/spread/gen.sh` writes it (docs/performance.md, "Spread
/// traffic").
fn spread_fan_out(n: usize) -> Scenario {
    parse(&format!(
        "seed: 5\nduration: 8s\nbrokers:\n  broker: {{}}\nclients:\n  sub-{{i}}:\n    count: {n}\n    client_id: subscriber-{{i}}\n    steps:\n      - {{at: 0s..5s, connect: {{}}}}\n      - subscribe: {{filter: news/#, qos: 1}}\n  publisher:\n    steps:\n      - connect: {{}}\n      - {{at: 6s, publish: {{topic: news/today, payload: hello fleet, qos: 1}}}}\nexpect:\n  - client: sub-{{i}}\n    receives: {{topic: news/today, payload: hello fleet, qos: 1, dup: false}}\n    count: 1\n    within: [6s, 6.1s]\n  - client: sub-{{i}}\n    send: {{type: PUBACK}}\n    count: 1\n  - client: publisher\n    recv: {{type: PUBACK}}\n    count: 1\n"
    ))
}

/// The spread fan-out, cost per subscriber side by side: 1,000 and 3,000
/// here; 9,990 takes seconds per run and is measured with the CLI.
fn spread(c: &mut Criterion) {
    let mut g = c.benchmark_group("spread-fan-out");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    for n in [1_000, 3_000] {
        let s = spread_fan_out(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new(NEW, n), &s, |b, s| {
            b.iter(|| {
                let r = sim::run_here(s, s.seed);
                assert!(r.ok(), "{n} subscribers failed: {:?}", r.harness_error);
                r
            })
        });
    }
    g.finish();
}

/// Seeds per explore iteration: enough to keep both cores busy.
const SEEDS: u64 = 32;

fn explore_qos1(c: &mut Criterion) {
    let s = load("chaos/qos1-at-least-once.yaml");
    let mut g = c.benchmark_group("explore-qos1-at-least-once");
    g.sample_size(10);
    g.throughput(Throughput::Elements(SEEDS));
    let opts = Options::new(SeedSet {
        start: 0,
        end: SEEDS,
        shard: Shard::WHOLE,
    });
    let jobs = opts.jobs;
    g.bench_function(NEW, |b| {
        b.iter(|| {
            let summary = explore::explore(&s, &opts, &mut |_| {});
            assert!(summary.ok());
            summary
        })
    });
    // The same seeds on as many threads through the turmoil 0.7 engine.
    g.bench_function(OLD, |b| {
        b.iter(|| {
            std::thread::scope(|scope| {
                for job in 0..jobs as u64 {
                    let s = &s;
                    scope.spawn(move || {
                        for seed in (job..SEEDS).step_by(jobs) {
                            assert!(tick::run_here(s, seed).ok());
                        }
                    });
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, single_runs, many_clients, spread, explore_qos1);
criterion_main!(benches);
