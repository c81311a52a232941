//! What each protocol invariant costs on a recorded trace, at 100, 1,000
//! and 10,000 clients: the table in docs/invariants.md ("What they cost").
//! Run with `cargo bench --bench invariants`; a filter picks cases, e.g.
//! `cargo bench --bench invariants -- '/10000'`.
//!
//! Each case runs its scenario once (outside the measurement) and then
//! times, on the finished trace: `views`, the readings of the trace the
//! invariants share (`Run::view`, `Run::sessions`, built once per run);
//! each invariant's own check on those views; and `all`, every invariant
//! with the views, which is what judging adds to a run.

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mqtt_sim::invariants::{self, Run};
use mqtt_sim::scenario::{self, Scenario};
use mqtt_sim::sim;

/// Clients per connect burst: the reference broker keeps at most
/// `broker::CONNECTING_MAX` (1,000) connections waiting for their CONNECT.
const BURST: usize = 500;

/// `n` clients in bursts of [`BURST`], burst `k` connecting at `k` x 100ms;
/// each subscribes at QoS 1 to a topic of its own and publishes one QoS 1
/// message to it at 2s, which comes back to it. The work per client is the
/// same whatever `n` is.
pub fn qos1_clients(n: usize, invariants_on: bool) -> Scenario {
    let mut yaml = String::from("seed: 1\nduration: 3s\nbrokers:\n  broker: {}\nclients:\n");
    for k in 0..n.div_ceil(BURST) {
        let count = BURST.min(n - k * BURST);
        yaml.push_str(&format!(
            "  g{k}-{{i}}:\n    count: {count}\n    steps:\n      - {{at: {}ms, connect: {{}}}}\n      - subscribe: {{filter: \"t/{k}/{{i}}\", qos: 1}}\n      - {{at: 2s, publish: {{topic: \"t/{k}/{{i}}\", payload: hello, qos: 1}}}}\n",
            k * 100
        ));
    }
    yaml.push_str(
        "expect:\n  - client: g0-{i}\n    receives: {topic: \"t/0/{i}\", qos: 1}\n    count: 1\n",
    );
    if !invariants_on {
        yaml.push_str("invariants: off\n");
    }
    scenario::parse(&yaml, Path::new("generated.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

fn per_invariant(c: &mut Criterion) {
    let mut g = c.benchmark_group("invariants");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    for n in [100, 1_000, 10_000] {
        let s = qos1_clients(n, true);
        let report = sim::run_here(&s, s.seed);
        assert!(report.ok(), "{n} clients: {:?}", report.violations);
        let events = &report.events;
        g.bench_with_input(BenchmarkId::new("views", n), &n, |b, _| {
            b.iter(|| {
                let run = Run::new(&s, events, None);
                run.view();
                run.sessions();
            })
        });
        // The views built once, as a run shares them among the invariants.
        let run = Run::new(&s, events, None);
        run.view();
        run.sessions();
        for inv in invariants::ALL {
            g.bench_with_input(BenchmarkId::new(inv.name, n), &n, |b, _| {
                b.iter(|| (inv.check)(&run))
            });
        }
        g.bench_with_input(BenchmarkId::new("all", n), &n, |b, _| {
            b.iter(|| invariants::violations(&Run::new(&s, events, None)))
        });
    }
    g.finish();
}

criterion_group!(benches, per_invariant);
criterion_main!(benches);
