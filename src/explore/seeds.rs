//! Exploring seeds: one run of a scenario per seed, on several threads, and
//! the seeds whose runs failed.
//!
//! Every run goes through [`crate::sim::run`], so each runs
//! single-threaded on a thread of its own under the wall-clock cap: a hung
//! seed is reported as a failure and its thread is abandoned, and the
//! exploration goes on. The wall clock is read here only to report
//! throughput; nothing inside a simulation sees it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::scenario::Scenario;
use crate::sim::{RunOptions, WALL_CLOCK_MAX_DEFAULT, run};
use crate::trace::{Report, Verdict, render};

/// Failing seeds kept in a [`Summary`] with their verdicts; beyond this
/// only the count grows.
pub const FAILURES_KEPT_MAX: usize = 10_000;

/// How often the progress callback is called when no run finishes.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// A slice of a seed range for one CI job: shard `index` of `count`
/// (1-based) takes every `count`-th seed, starting with the `index`-th, so
/// that slow seeds spread evenly over the shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };
}

/// The seeds `start..end` (end excluded) that belong to `shard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedSet {
    pub start: u64,
    pub end: u64,
    pub shard: Shard,
}

impl SeedSet {
    pub fn len(&self) -> u64 {
        let span = self.end.saturating_sub(self.start);
        let skip = self.shard.index.saturating_sub(1);
        let count = self.shard.count.max(1);
        if span <= skip {
            0
        } else {
            (span - skip).div_ceil(count)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th seed of the set.
    pub fn get(&self, i: u64) -> Option<u64> {
        if i >= self.len() {
            return None;
        }
        let offset = self.shard.index.saturating_sub(1) + i * self.shard.count.max(1);
        self.start.checked_add(offset)
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub seeds: SeedSet,
    /// Worker threads; at least one.
    pub jobs: usize,
    /// Stop taking new seeds after the first failure.
    pub fail_fast: bool,
    /// Run every seed twice and compare the traces' fingerprints.
    pub check_determinism: bool,
    /// The cap on each run's real time.
    pub wall_clock_max: Duration,
    /// Set from outside (Ctrl-C) to stop after the runs in progress.
    pub stop: Arc<AtomicBool>,
}

impl Options {
    pub fn new(seeds: SeedSet) -> Options {
        Options {
            seeds,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            fail_fast: false,
            check_determinism: false,
            wall_clock_max: WALL_CLOCK_MAX_DEFAULT,
            stop: Arc::default(),
        }
    }
}

/// A seed whose run failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub seed: u64,
    /// The expectations that did not hold.
    pub failed: Vec<Verdict>,
    pub harness_error: Option<String>,
    /// Two runs with this seed gave different traces.
    pub nondeterministic: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub planned: u64,
    pub done: u64,
    pub failed: u64,
}

#[derive(Debug, Clone)]
pub struct Summary {
    /// Seeds in the set.
    pub planned: u64,
    /// Seeds whose runs finished.
    pub done: u64,
    /// Simulation runs made: `done`, or twice that with the determinism
    /// check.
    pub runs: u64,
    /// Failing seeds in seed order, at most [`FAILURES_KEPT_MAX`].
    pub failures: Vec<Failure>,
    /// Failing seeds in all, kept or not.
    pub failed: u64,
    pub elapsed: Duration,
}

impl Summary {
    /// Seed-runs per second of real time: seeds explored, not counting the
    /// determinism check's second runs.
    pub fn seeds_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.done as f64 / s } else { 0.0 }
    }

    /// Whether every seed in the set ran and passed.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.done == self.planned
    }
}

/// A fingerprint of a run's trace and verdicts, for the determinism check.
pub fn fingerprint(report: &Report) -> u64 {
    // DefaultHasher::new() uses fixed keys: the same text hashes the same
    // within one build, which is all a comparison of two runs needs.
    let mut h = DefaultHasher::new();
    render::text(report).hash(&mut h);
    h.finish()
}

/// Runs the scenario once per seed in `opts.seeds`. `progress` is called on
/// the calling thread after each finished seed and every
/// [`PROGRESS_EVERY`] in between.
pub fn explore(scenario: &Scenario, opts: &Options, progress: &mut dyn FnMut(Progress)) -> Summary {
    let started = Instant::now();
    let planned = opts.seeds.len();
    let next = AtomicU64::new(0);
    let mut summary = Summary {
        planned,
        done: 0,
        runs: 0,
        failures: Vec::new(),
        failed: 0,
        elapsed: Duration::ZERO,
    };
    let (tx, rx) = mpsc::channel::<Option<Failure>>();
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                while !opts.stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(seed) = opts.seeds.get(i) else {
                        break;
                    };
                    let outcome = one(scenario, seed, opts);
                    // Set here, not where outcomes are collected, so that this
                    // worker takes no further seed.
                    if outcome.is_some() && opts.fail_fast {
                        opts.stop.store(true, Ordering::Relaxed);
                    }
                    if tx.send(outcome).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        loop {
            match rx.recv_timeout(PROGRESS_EVERY) {
                Ok(outcome) => {
                    summary.done += 1;
                    if let Some(f) = outcome {
                        summary.failed += 1;
                        if summary.failures.len() < FAILURES_KEPT_MAX {
                            summary.failures.push(f);
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            progress(Progress {
                planned,
                done: summary.done,
                failed: summary.failed,
            });
        }
    });
    summary.runs = if opts.check_determinism {
        summary.done * 2
    } else {
        summary.done
    };
    summary.failures.sort_by_key(|f| f.seed);
    summary.elapsed = started.elapsed();
    summary
}

/// One seed: `None` when it passed.
fn one(scenario: &Scenario, seed: u64, opts: &Options) -> Option<Failure> {
    let run_opts = RunOptions {
        seed: Some(seed),
        wall_clock_max: opts.wall_clock_max,
    };
    let report = run(scenario, &run_opts);
    let nondeterministic = opts.check_determinism
        && report.harness_error.is_none()
        && fingerprint(&report) != fingerprint(&run(scenario, &run_opts));
    if report.ok() && !nondeterministic {
        return None;
    }
    Some(Failure {
        seed,
        failed: report.verdicts.into_iter().filter(|v| v.failed()).collect(),
        harness_error: report.harness_error,
        nondeterministic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(start: u64, end: u64, index: u64, count: u64) -> Vec<u64> {
        let s = SeedSet {
            start,
            end,
            shard: Shard { index, count },
        };
        (0..s.len()).filter_map(|i| s.get(i)).collect()
    }

    #[test]
    fn shards_split_a_range_without_overlap_or_gap() {
        assert_eq!(set(0, 10, 1, 1), (0..10).collect::<Vec<_>>());
        assert_eq!(set(0, 10, 1, 3), vec![0, 3, 6, 9]);
        assert_eq!(set(0, 10, 2, 3), vec![1, 4, 7]);
        assert_eq!(set(0, 10, 3, 3), vec![2, 5, 8]);
        assert_eq!(set(5, 7, 3, 3), Vec::<u64>::new());
        assert_eq!(set(7, 5, 1, 1), Vec::<u64>::new());
        let s = SeedSet {
            start: u64::MAX - 1,
            end: u64::MAX,
            shard: Shard::WHOLE,
        };
        assert_eq!(s.get(0), Some(u64::MAX - 1));
        assert_eq!(s.get(1), None);
    }
}
