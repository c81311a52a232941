//! The shrink figures of issue 13: for every mutant that some chaos
//! scenario's seeds catch by the protocol invariants alone, shrink its
//! failing seeds and report faults before -> after, runs and seconds per
//! failing seed.
//!
//! `cargo run --release --example shrink_figures -- [SEEDS] [PER_PAIR] [SCENARIO]`
//! (defaults `0..200`, 5 and every scenario): explores each scenario under
//! `scenarios/chaos/` (or those whose name holds SCENARIO) with each
//! mutant over SEEDS, every expectation switched off, so that a failure is
//! a broken invariant; shrinks the first PER_PAIR failing seeds of each
//! (mutant, scenario) pair, writes each shrunk file to a temporary
//! directory, loads it back and checks that it fails the same way. Prints
//! a Markdown table, one row per pair, and a line per pair on stderr as it
//! goes.

use std::path::Path;
use std::time::Duration;

use mqtt_sim::explore::shrink;
use mqtt_sim::explore::{self, Options, SeedSet, Shard};
use mqtt_sim::mutants::with_mutant;
use mqtt_sim::scenario::write::{self, Header};
use mqtt_sim::scenario::{self, Mutant};
use mqtt_sim::sim::{self, RunOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (start, end) = args
        .first()
        .and_then(|s| s.split_once(".."))
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .unwrap_or((0u64, 200u64));
    let per_pair: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let only = args.get(2).cloned().unwrap_or_default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = std::env::temp_dir().join(format!("mqtt-sim-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("a temporary directory");
    let scenarios = scenario::find(&root.join("scenarios/chaos")).expect("scenarios/chaos");

    println!(
        "seeds {start}..{end}, at most {per_pair} failing seeds shrunk per pair, release build"
    );
    println!();
    println!(
        "| mutant | scenario | failing seeds | shrunk | faults before -> after (max after) | runs (median, max) | seconds (median, max) | reproduces |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let (mut total, mut over_3, mut over_10s) = (0usize, 0usize, 0usize);
    for &mutant in Mutant::ALL {
        for (name, path) in &scenarios {
            let source = std::fs::read_to_string(path).expect("readable");
            if !name.contains(&only) {
                continue;
            }
            let mut clean = scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
            clean.expect.clear();
            let buggy = with_mutant(&clean, Some(mutant));
            let mut opts = Options::new(SeedSet {
                start,
                end,
                shard: Shard::WHOLE,
            });
            opts.wall_clock_max = sim::WALL_CLOCK_MAX_DEFAULT;
            let summary = explore::explore(&buggy, &opts, &mut |_| {});
            if summary.failed == 0 {
                continue;
            }
            let shrink_opts = shrink::Options {
                droppable: Some(write::client_keys(&source)),
                ..shrink::Options::default()
            };
            let mut rows = Vec::new();
            let mut reproduced = 0;
            for f in summary.failures.iter().take(per_pair) {
                let Ok(o) = shrink::shrink(&buggy, f.seed, &shrink_opts, &mut |_| {}) else {
                    continue;
                };
                let file = out_dir
                    .join(format!("{}-{name}-{}.yaml", mutant.name(), f.seed).replace('/', "-"));
                let header = Header {
                    name: "shrunk",
                    about: "shrink figures",
                };
                // The file is the clean scenario's: the mutant is switched
                // on again when it is run.
                let written =
                    write::edited(&source, &file, &with_mutant(&o.scenario, None), &header);
                if let Err(e) = &written {
                    eprintln!("  seed {}: not written: {e}", f.seed);
                }
                if let Ok(text) = written
                    && std::fs::write(&file, text).is_ok()
                    && let Ok(mut back) = scenario::load(&file)
                {
                    back.expect.clear();
                    let r = sim::run(&with_mutant(&back, Some(mutant)), &RunOptions::default());
                    if o.target.in_report(&r, &back) {
                        reproduced += 1;
                    }
                }
                if o.after.faults > 3 {
                    eprintln!(
                        "  seed {} keeps {} faults: {:?}",
                        f.seed, o.after.faults, o.scenario.faults
                    );
                }
                total += 1;
                over_3 += usize::from(o.after.faults > 3);
                over_10s += usize::from(o.elapsed > Duration::from_secs(10));
                rows.push(o);
            }
            let mut runs: Vec<u32> = rows.iter().map(|o| o.runs).collect();
            let mut secs: Vec<f64> = rows.iter().map(|o| o.elapsed.as_secs_f64()).collect();
            runs.sort_unstable();
            secs.sort_by(f64::total_cmp);
            let faults: Vec<String> = rows
                .iter()
                .map(|o| format!("{}->{}", o.before.faults, o.after.faults))
                .collect();
            let max_after = rows.iter().map(|o| o.after.faults).max().unwrap_or(0);
            eprintln!(
                "{} x {name}: {} failing seeds, {} shrunk",
                mutant.name(),
                summary.failed,
                rows.len()
            );
            println!(
                "| `{}` | `{name}` | {}/{} | {} | {} ({max_after}) | {}, {} | {:.2}, {:.2} | {reproduced}/{} |",
                mutant.name(),
                summary.failed,
                summary.done,
                rows.len(),
                faults.join(", "),
                runs.get(runs.len() / 2).copied().unwrap_or(0),
                runs.last().copied().unwrap_or(0),
                secs.get(secs.len() / 2).copied().unwrap_or(0.0),
                secs.last().copied().unwrap_or(0.0),
                rows.len(),
            );
        }
    }
    println!();
    println!(
        "{total} failing seeds shrunk; {over_3} with more than 3 faults; {over_10s} over 10 s"
    );
    let _ = std::fs::remove_dir_all(&out_dir);
}
