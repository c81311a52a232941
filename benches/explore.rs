//! Explore throughput: seed-runs per second for the chaos scenarios, with
//! every core (`Options::new` takes all of them).
//!
//! One iteration explores `SEEDS` seeds; throughput is reported in elements
//! per second where one element is one seed-run. Run with
//! `cargo bench --bench explore`.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mqtt_sim::explore::{self, Options, SeedSet, Shard};
use mqtt_sim::scenario;

const SCENARIOS: &[&str] = &[
    "chaos/flapping-under-partitions.yaml",
    "chaos/qos1-at-least-once.yaml",
];

/// Seeds per iteration: enough for every worker to stay busy.
const SEEDS: u64 = 16;

fn explore_bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut group = c.benchmark_group("explore");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SEEDS));
    for name in SCENARIOS {
        let s = match scenario::load(&root.join(name)) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let opts = Options::new(SeedSet {
            start: 0,
            end: SEEDS,
            shard: Shard::WHOLE,
        });
        group.bench_function(*name, |b| {
            b.iter(|| {
                let summary = explore::explore(&s, &opts, &mut |_| {});
                assert!(summary.ok(), "{name} failed under the benchmark");
                summary
            })
        });
    }
    group.finish();
}

criterion_group!(benches, explore_bench);
criterion_main!(benches);
