//! How fast simulated time runs: each tutorial scenario, run once per
//! iteration on the current thread.
//!
//! Throughput is reported in elements per second where one element is one
//! simulated millisecond, so `Kelem/s` reads as "simulated seconds per wall
//! second". Run with `cargo bench --bench simulate`.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mqtt_sim::{scenario, sim};

const SCENARIOS: &[&str] = &[
    "tutorial/persistent-session.yaml",
    "tutorial/clean-session.yaml",
    "tutorial/duplicate-client-id.yaml",
    "keepalive/pings-keep-connection.yaml",
];

fn simulate(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    for name in SCENARIOS {
        let s = match scenario::load(&root.join(name)) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        group.throughput(Throughput::Elements(s.duration.as_millis() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                let report = sim::run_here(&s, s.seed);
                assert!(report.ok(), "{name} failed under the benchmark");
                report
            })
        });
    }
    group.finish();
}

criterion_group!(benches, simulate);
criterion_main!(benches);
