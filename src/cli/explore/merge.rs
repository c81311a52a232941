//! `mqtt-sim explore --merge FILES...`: the JSON reports of the shards of
//! a CI matrix (`explore --shard K/N --format json`) merged into one
//! report, after checking that they fit together.

use std::path::PathBuf;

use mqtt_sim::explore::shards::{self, Inconsistent, Merged, ShardReport};

use super::print_failures;
use crate::cli::{EXIT_FAILED, EXIT_INVALID, Format};

pub fn merge(files: &[PathBuf], format: Format) -> anyhow::Result<u8> {
    let mut docs = Vec::new();
    let mut unreadable = false;
    for f in files {
        let name = f.display().to_string();
        let doc = std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                serde_json::from_str::<ShardReport>(&text)
                    .map_err(|e| format!("not a report of `explore --format json` ({e})"))
            });
        match doc {
            Ok(d) => docs.push((name, d)),
            Err(why) => {
                eprintln!("error: {name}: {why}");
                unreadable = true;
            }
        }
    }
    if unreadable {
        return Ok(EXIT_INVALID);
    }
    let merged = match shards::merge(&docs) {
        Ok(m) => m,
        Err(Inconsistent(problems)) => {
            eprintln!("error: these reports do not fit together:");
            for p in problems {
                eprintln!("  {p}");
            }
            return Ok(EXIT_INVALID);
        }
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&merged)?),
        Format::Text => text(&merged),
    }
    Ok(if merged.ok() { 0 } else { EXIT_FAILED })
}

fn text(m: &Merged) {
    print_failures(&m.failures, m.failures_not_listed);
    let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    if !m.missing_shards.is_empty() {
        println!(
            "missing shards: {} (of {}); their seeds were not explored",
            list(&m.missing_shards),
            m.shard_count
        );
    }
    if !m.incomplete_shards.is_empty() {
        println!(
            "incomplete shards: {} (interrupted or stopped at a failure)",
            list(&m.incomplete_shards)
        );
    }
    println!(
        "merged {} of {} shards of seeds {}..{} of {} (sha256 {}): explored {} of {} seeds: {} passed, {} failed{}",
        m.shards.len(),
        m.shard_count,
        m.seeds.start,
        m.seeds.end,
        m.scenario.file,
        m.scenario.sha256.get(..12).unwrap_or_default(),
        m.done,
        m.planned,
        m.passed,
        m.failed,
        if m.check_determinism {
            ", every seed run twice"
        } else {
            ""
        }
    );
    println!(
        "throughput: {:.1} seed-runs/s per job; the slowest shard took {:.1}s, {:.1} seed-runs/s across the matrix",
        m.seed_runs_per_s_per_job, m.slowest_shard_s, m.seed_runs_per_s
    );
}
