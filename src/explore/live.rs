//! Chaos against a real broker: each seed's fault schedule, the one the
//! simulation would draw ([`super::shrink::explicit`]), run in real time
//! through the live fault proxy against a fresh broker per seed, and judged
//! by the same expectations and invariants (with the live timing slack).
//!
//! A failing seed is run [`Options::confirm`] more times, each against a
//! fresh broker: a failure every rerun repeats is confirmed; one that does
//! not repeat is flaky, and both its failing and a passing report are kept,
//! so that a finding is a reproducible schedule and not an anecdote.
//!
//! Lanes are threads, each running one seed at a time with a broker of its
//! own; against `--target tcp://...` (a broker the harness does not start)
//! the seeds share that broker, cleaned between runs as every live run is.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::shrink::explicit;
use crate::live::{Lane, LiveOptions, Outcome};
use crate::scenario::Scenario;
use crate::trace::Report;

/// Confirming reruns of a failing seed, by default.
pub const CONFIRM_DEFAULT: usize = 2;
/// Lanes at most: each runs a broker and the scenario's clients in real
/// time.
pub const LANES_MAX: usize = 16;

/// How a live exploration runs.
pub struct Options {
    pub live: LiveOptions,
    pub seeds: Vec<u64>,
    /// Seeds run at once, each against its own broker.
    pub lanes: usize,
    /// Reruns of each failing seed.
    pub confirm: usize,
    /// Stop starting seeds after the first confirmed failure.
    pub fail_fast: bool,
}

/// What one seed came to.
#[derive(Debug)]
pub enum Verdict {
    Passed,
    /// The scenario cannot run against this target (a crash of a broker
    /// the harness does not start, a bridge, ...): the reason.
    Skipped(String),
    /// Failed on its first run and on every rerun.
    Confirmed {
        first: Report,
        reruns: usize,
    },
    /// Failed first, passed on at least one rerun.
    Flaky {
        first: Report,
        passed: Report,
        failed_reruns: usize,
        reruns: usize,
    },
}

/// One seed's result.
#[derive(Debug)]
pub struct SeedResult {
    pub seed: u64,
    /// The scenario as run: its chaos written out as explicit faults.
    pub scenario: Scenario,
    pub verdict: Verdict,
    /// Real time the seed took, reruns included.
    pub wall: Duration,
}

/// Runs one seed's explicit form once against a fresh broker (a lane of
/// its own, stopped after the run).
fn run_once(s: &Scenario, live: &LiveOptions) -> Outcome {
    let mut lane = Lane::new(live.clone());
    let out = lane.run(s);
    lane.stop();
    out
}

/// Runs `seed` of `scenario` live, with confirming reruns when it fails.
pub fn run_seed(scenario: &Scenario, seed: u64, live: &LiveOptions, confirm: usize) -> SeedResult {
    let started = Instant::now();
    let s = explicit(scenario, seed);
    let mut opts = live.clone();
    opts.seed = Some(seed);
    let verdict = match run_once(&s, &opts) {
        Outcome::Skipped(why) => Verdict::Skipped(why),
        Outcome::Ran(r) if r.ok() => Verdict::Passed,
        Outcome::Ran(first) => {
            let mut failed_reruns = 0;
            let mut passed = None;
            for _ in 0..confirm {
                match run_once(&s, &opts) {
                    Outcome::Ran(r) if r.ok() => {
                        passed.get_or_insert(r);
                    }
                    _ => failed_reruns += 1,
                }
            }
            match passed {
                None => Verdict::Confirmed {
                    first,
                    reruns: confirm,
                },
                Some(passed) => Verdict::Flaky {
                    first,
                    passed,
                    failed_reruns,
                    reruns: confirm,
                },
            }
        }
    };
    SeedResult {
        seed,
        scenario: s,
        verdict,
        wall: started.elapsed(),
    }
}

/// Runs every seed on `opts.lanes` lanes; `done` hears of each seed as it
/// finishes (from the lane's thread). Results come back in seed order.
pub fn explore(
    scenario: &Scenario,
    opts: &Options,
    done: &(dyn Fn(&SeedResult) + Sync),
) -> Vec<SeedResult> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results = Mutex::new(Vec::with_capacity(opts.seeds.len()));
    let lanes = opts.lanes.clamp(1, LANES_MAX).min(opts.seeds.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..lanes {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = opts.seeds.get(i) else {
                        break;
                    };
                    let r = run_seed(scenario, seed, &opts.live, opts.confirm);
                    if opts.fail_fast && matches!(r.verdict, Verdict::Confirmed { .. }) {
                        stop.store(true, Ordering::Relaxed);
                    }
                    done(&r);
                    if let Ok(mut all) = results.lock() {
                        all.push(r);
                    }
                }
            });
        }
    });
    let mut all = results.into_inner().unwrap_or_default();
    all.sort_by_key(|r| r.seed);
    all
}
