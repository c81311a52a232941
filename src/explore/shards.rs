//! `explore` beyond one machine: the result of one shard as a JSON document
//! (`explore --shard K/N --format json`, one per job of a CI matrix), and
//! the merge of such documents into one report (`explore --merge`).
//!
//! A merge is only as good as its inputs, so it checks them: every
//! document must come from the same scenario file (name and SHA-256 of its
//! bytes), the same seed range, the same shard count and the same
//! determinism setting; each shard may appear once. Shards that are missing
//! or did not finish are reported, and make the merged result incomplete.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::explore::{Options, Summary};

/// The `format` field of every document: its schema and version.
pub const FORMAT: &str = "mqtt-sim-explore/1";

/// The scenario a document is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioId {
    /// The path as given on the command line.
    pub file: String,
    pub name: String,
    /// SHA-256 of the file's bytes, in hex.
    pub sha256: String,
}

impl ScenarioId {
    pub fn new(file: &Path, name: &str, bytes: &[u8]) -> ScenarioId {
        let digest = Sha256::digest(bytes);
        ScenarioId {
            file: file.display().to_string(),
            name: name.to_string(),
            sha256: crate::packet_json::hex::encode(&digest),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRange {
    pub start: u64,
    /// Excluded.
    pub end: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardId {
    /// From 1.
    pub index: u64,
    pub count: u64,
}

/// An expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedExpectation {
    pub line: usize,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingSeed {
    pub seed: u64,
    pub failed: Vec<FailedExpectation>,
    pub harness_error: Option<String>,
    pub nondeterministic: bool,
    /// The command that replays this seed's run.
    pub replay: String,
}

/// One shard's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardReport {
    pub format: String,
    pub scenario: ScenarioId,
    pub seeds: SeedRange,
    pub shard: ShardId,
    pub check_determinism: bool,
    /// Seeds in this shard.
    pub planned: u64,
    /// Seeds whose runs finished.
    pub done: u64,
    pub passed: u64,
    pub failed: u64,
    /// Failing seeds in seed order; at most
    /// [`crate::explore::FAILURES_KEPT_MAX`].
    pub failures: Vec<FailingSeed>,
    /// Failing seeds beyond those listed.
    pub failures_not_listed: u64,
    pub jobs: usize,
    pub elapsed_s: f64,
    pub seed_runs_per_s: f64,
}

/// The replay line of `seed`.
pub fn replay_line(file: &str, seed: u64) -> String {
    format!("mqtt-sim run {file} --seed {seed}")
}

impl ShardReport {
    pub fn new(scenario: ScenarioId, opts: &Options, s: &Summary) -> ShardReport {
        let failures = s
            .failures
            .iter()
            .map(|f| FailingSeed {
                seed: f.seed,
                failed: f
                    .failed
                    .iter()
                    .map(|v| FailedExpectation {
                        line: v.line,
                        text: v.text.clone(),
                    })
                    .collect(),
                harness_error: f.harness_error.clone(),
                nondeterministic: f.nondeterministic,
                replay: replay_line(&scenario.file, f.seed),
            })
            .collect::<Vec<_>>();
        ShardReport {
            format: FORMAT.to_string(),
            seeds: SeedRange {
                start: opts.seeds.start,
                end: opts.seeds.end,
            },
            shard: ShardId {
                index: opts.seeds.shard.index,
                count: opts.seeds.shard.count,
            },
            check_determinism: opts.check_determinism,
            planned: s.planned,
            done: s.done,
            passed: s.done - s.failed,
            failed: s.failed,
            failures_not_listed: s.failed - failures.len() as u64,
            failures,
            jobs: opts.jobs,
            elapsed_s: s.elapsed.as_secs_f64(),
            seed_runs_per_s: s.seeds_per_s(),
            scenario,
        }
    }
}

/// The merge of shard documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Merged {
    pub format: String,
    pub scenario: ScenarioId,
    pub seeds: SeedRange,
    pub shard_count: u64,
    /// The shard indices merged, in order.
    pub shards: Vec<u64>,
    /// Shard indices of `1..=shard_count` with no document.
    pub missing_shards: Vec<u64>,
    /// Shards whose runs did not all finish (interrupted or `--fail-fast`).
    pub incomplete_shards: Vec<u64>,
    pub check_determinism: bool,
    pub planned: u64,
    pub done: u64,
    pub passed: u64,
    pub failed: u64,
    pub failures: Vec<FailingSeed>,
    pub failures_not_listed: u64,
    /// Seed-runs of every shard over the sum of their times: what one job
    /// does per second.
    pub seed_runs_per_s_per_job: f64,
    /// The slowest shard's time: the matrix's time when all jobs run at once.
    pub slowest_shard_s: f64,
    /// Seed-runs over the slowest shard's time.
    pub seed_runs_per_s: f64,
}

impl Merged {
    /// Whether the whole range was explored and every seed passed.
    pub fn ok(&self) -> bool {
        self.failed == 0
            && self.missing_shards.is_empty()
            && self.incomplete_shards.is_empty()
            && self.done == self.planned
    }
}

/// Why documents cannot be merged: each line names a file and what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconsistent(pub Vec<String>);

/// Merges shard documents, each with the file it came from (for messages).
pub fn merge(docs: &[(String, ShardReport)]) -> Result<Merged, Inconsistent> {
    let Some((first_file, first)) = docs.first() else {
        return Err(Inconsistent(vec!["no documents to merge".to_string()]));
    };
    let (problems, by_index) = fit(docs, first_file, first);
    if !problems.is_empty() {
        return Err(Inconsistent(problems));
    }
    Ok(combine(docs, first, &by_index))
}

/// Whether the documents fit together, measured against the first: one
/// format, scenario, seed range, shard count and determinism setting, each
/// shard existing and given once. Returns what does not fit, and which file
/// holds each shard.
fn fit<'d>(
    docs: &'d [(String, ShardReport)],
    first_file: &str,
    first: &ShardReport,
) -> (Vec<String>, BTreeMap<u64, &'d str>) {
    let mut problems = Vec::new();
    let mut by_index: BTreeMap<u64, &str> = BTreeMap::new();
    for (file, d) in docs {
        if d.format != FORMAT {
            problems.push(format!(
                "{file}: format `{}`, expected `{FORMAT}`",
                d.format
            ));
        }
        let differs = |what: &str, a: String, b: String| {
            format!("{file}: {what} is {b}, but {first_file} has {a}")
        };
        if d.scenario.sha256 != first.scenario.sha256 || d.scenario.name != first.scenario.name {
            problems.push(differs(
                "the scenario",
                format!("`{}` ({})", first.scenario.name, first.scenario.sha256),
                format!("`{}` ({})", d.scenario.name, d.scenario.sha256),
            ));
        }
        if d.seeds != first.seeds {
            problems.push(differs(
                "the seed range",
                format!("{}..{}", first.seeds.start, first.seeds.end),
                format!("{}..{}", d.seeds.start, d.seeds.end),
            ));
        }
        if d.shard.count != first.shard.count {
            problems.push(differs(
                "the shard count",
                first.shard.count.to_string(),
                d.shard.count.to_string(),
            ));
        }
        if d.check_determinism != first.check_determinism {
            problems.push(differs(
                "--check-determinism",
                first.check_determinism.to_string(),
                d.check_determinism.to_string(),
            ));
        }
        if d.shard.index == 0 || d.shard.index > d.shard.count {
            problems.push(format!(
                "{file}: shard {}/{} does not exist",
                d.shard.index, d.shard.count
            ));
        }
        if let Some(other) = by_index.insert(d.shard.index, file) {
            problems.push(format!(
                "{file}: shard {}/{} is also in {other}; each shard may be merged once",
                d.shard.index, d.shard.count
            ));
        }
    }
    (problems, by_index)
}

/// Documents that fit, as one report: failures in seed order, counts
/// summed, the seeds a missing shard would have run counted as not done.
fn combine(
    docs: &[(String, ShardReport)],
    first: &ShardReport,
    by_index: &BTreeMap<u64, &str>,
) -> Merged {
    let count = first.shard.count;
    let mut failures: Vec<FailingSeed> = docs
        .iter()
        .flat_map(|(_, d)| d.failures.iter().cloned())
        .collect();
    failures.sort_by_key(|f| f.seed);
    let sum = |f: fn(&ShardReport) -> u64| docs.iter().map(|(_, d)| f(d)).sum::<u64>();
    let done = sum(|d| d.done);
    let total_s: f64 = docs.iter().map(|(_, d)| d.elapsed_s).sum();
    let slowest_s = docs.iter().map(|(_, d)| d.elapsed_s).fold(0.0, f64::max);
    let per_s = |s: f64| if s > 0.0 { done as f64 / s } else { 0.0 };
    // What the whole range holds, shard by shard, whether or not each
    // shard came: so a missing shard shows as seeds not done.
    let planned = (1..=count)
        .map(|index| {
            crate::explore::SeedSet {
                start: first.seeds.start,
                end: first.seeds.end,
                shard: crate::explore::Shard { index, count },
            }
            .len()
        })
        .sum();
    Merged {
        format: FORMAT.to_string(),
        scenario: first.scenario.clone(),
        seeds: first.seeds,
        shard_count: count,
        shards: by_index.keys().copied().collect(),
        missing_shards: (1..=count).filter(|i| !by_index.contains_key(i)).collect(),
        incomplete_shards: docs
            .iter()
            .filter(|(_, d)| d.done < d.planned)
            .map(|(_, d)| d.shard.index)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        check_determinism: first.check_determinism,
        planned,
        done,
        passed: sum(|d| d.passed),
        failed: sum(|d| d.failed),
        failures_not_listed: sum(|d| d.failures_not_listed),
        failures,
        seed_runs_per_s_per_job: per_s(total_s),
        slowest_shard_s: slowest_s,
        seed_runs_per_s: per_s(slowest_s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(index: u64, count: u64, failing: &[u64]) -> (String, ShardReport) {
        let set = crate::explore::SeedSet {
            start: 0,
            end: 10,
            shard: crate::explore::Shard { index, count },
        };
        let planned = set.len();
        (
            format!("shard-{index}.json"),
            ShardReport {
                format: FORMAT.to_string(),
                scenario: ScenarioId::new(Path::new("s.yaml"), "s", b"duration: 1s"),
                seeds: SeedRange { start: 0, end: 10 },
                shard: ShardId { index, count },
                check_determinism: false,
                planned,
                done: planned,
                passed: planned - failing.len() as u64,
                failed: failing.len() as u64,
                failures: failing
                    .iter()
                    .map(|&seed| FailingSeed {
                        seed,
                        failed: vec![FailedExpectation {
                            line: 3,
                            text: "x".to_string(),
                        }],
                        harness_error: None,
                        nondeterministic: false,
                        replay: replay_line("s.yaml", seed),
                    })
                    .collect(),
                failures_not_listed: 0,
                jobs: 2,
                elapsed_s: index as f64,
                seed_runs_per_s: 1.0,
            },
        )
    }

    #[test]
    fn shards_merge_into_the_whole_range() {
        let m = merge(&[doc(2, 3, &[4]), doc(1, 3, &[9, 3]), doc(3, 3, &[])]).unwrap();
        assert_eq!((m.planned, m.done, m.failed, m.passed), (10, 10, 3, 7));
        let seeds: Vec<u64> = m.failures.iter().map(|f| f.seed).collect();
        assert_eq!(seeds, [3, 4, 9]);
        assert_eq!(m.shards, [1, 2, 3]);
        assert_eq!(m.slowest_shard_s, 3.0);
        assert!(!m.ok());
        assert!(merge(&[doc(1, 2, &[]), doc(2, 2, &[])]).unwrap().ok());
    }

    #[test]
    fn missing_and_incomplete_shards_are_reported() {
        let (f, mut partial) = doc(3, 4, &[]);
        partial.done -= 1;
        let m = merge(&[doc(1, 4, &[]), (f, partial)]).unwrap();
        assert_eq!(m.missing_shards, [2, 4]);
        assert_eq!(m.incomplete_shards, [3]);
        assert_eq!(m.planned, 10);
        assert_eq!(
            m.done,
            3 + 2 - 1,
            "shard 1/4 holds 0, 4, 8; shard 3/4 holds 2, 6"
        );
        assert!(!m.ok());
    }

    #[test]
    fn inconsistent_documents_are_refused_with_the_reason() {
        let Err(Inconsistent(why)) = merge(&[doc(1, 2, &[]), doc(1, 2, &[])]) else {
            panic!("an overlap must be refused");
        };
        assert!(
            why[0].contains("shard 1/2 is also in shard-1.json"),
            "{why:?}"
        );
        let (f, mut other) = doc(2, 2, &[]);
        other.scenario = ScenarioId::new(Path::new("s.yaml"), "s", b"duration: 2s");
        other.seeds.end = 20;
        let Err(Inconsistent(why)) = merge(&[doc(1, 2, &[]), (f, other)]) else {
            panic!("another scenario must be refused");
        };
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why[0].contains("the scenario is"), "{why:?}");
        assert!(why[1].contains("the seed range is 0..20"), "{why:?}");
        assert!(merge(&[doc(1, 2, &[]), doc(2, 3, &[])]).is_err());
        assert!(merge(&[]).is_err());
    }

    #[test]
    fn a_document_survives_json() {
        let (_, d) = doc(1, 2, &[5]);
        let text = serde_json::to_string(&d).unwrap();
        let back: ShardReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, d);
        // The hash is SHA-256, as `sha256sum` prints it.
        let id = ScenarioId::new(Path::new("s.yaml"), "s", b"abc");
        assert_eq!(
            id.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
