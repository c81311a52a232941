//! The mutation check: does the scenario suite catch deliberately broken
//! brokers?
//!
//! Each [`Mutant`] is the reference broker with one planted bug. The check
//! runs every scenario once unmutated (the baseline) and once per mutant,
//! with the mutant switched on for every broker of the scenario (the loaded
//! scenario is changed in memory; no file is touched). A scenario *catches*
//! a mutant when its run fails: an expectation does not hold, or the run
//! could not complete (a host failed, the wall-clock cap was hit). Snapshots
//! are not compared: any change in behaviour changes the trace, so a
//! snapshot would catch every mutant and prove nothing about the
//! expectations. A scenario that fails its baseline cannot catch anything,
//! so it is reported and counted as catching nothing.
//!
//! Runs are independent and single-threaded; they are spread over `jobs`
//! worker threads. The wall clock is read only to report how long it took.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::scenario::{Mutant, Scenario};
use crate::sim::{self, RunOptions};

/// The cap on one run's real time in a mutation check. A mutant may hang a
/// run; that counts as caught, and should not cost the default two minutes.
pub const WALL_CLOCK_MAX_DEFAULT: Duration = Duration::from_secs(30);

/// A scenario with the name it is reported by (its path under the
/// scenario directory, without `.yaml`).
#[derive(Debug, Clone)]
pub struct Named {
    pub name: String,
    pub scenario: Scenario,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads; at least one.
    pub jobs: usize,
    /// Stop running a mutant's scenarios once one has caught it: enough to
    /// know that every mutant is caught, not to list who catches it.
    pub first_catch_only: bool,
    pub wall_clock_max: Duration,
    /// Judge runs by the protocol invariants alone: every scenario's
    /// expectations are switched off (the invariants the scenario selects
    /// stay on), so a catch is a broken invariant or an incomplete run.
    pub invariants_only: bool,
    /// Seeds each scenario with `chaos:` runs, `0..chaos_seeds`; `None`
    /// runs every scenario once at its own seed. One seed of generated
    /// chaos may never reach the code a mutant broke; many do. A run that
    /// fails unmutated at a seed cannot catch anything at that seed.
    pub chaos_seeds: Option<u64>,
}

/// The most seeds [`Options::chaos_seeds`] may ask for: the check runs
/// every mutant at every seed, so this bounds it at about a million runs
/// per chaos scenario.
pub const CHAOS_SEEDS_MAX: u64 = 40_000;

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            first_catch_only: false,
            wall_clock_max: WALL_CLOCK_MAX_DEFAULT,
            invariants_only: false,
            chaos_seeds: None,
        }
    }
}

/// Which scenarios caught one mutant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caught {
    pub mutant: Mutant,
    /// Scenario names, in suite order.
    pub by: Vec<String>,
    /// The invariants broken in the catching runs, in name order.
    pub invariants: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Matrix {
    /// Scenarios that fail without any mutant; they catch nothing.
    pub baseline_failures: Vec<String>,
    /// One entry per mutant, in the order asked for.
    pub caught: Vec<Caught>,
    /// Simulation runs made, baseline included.
    pub runs: usize,
    pub elapsed: Duration,
}

impl Matrix {
    /// Mutants that no scenario caught: each is a gap in the suite.
    pub fn uncaught(&self) -> Vec<Mutant> {
        self.caught
            .iter()
            .filter(|c| c.by.is_empty())
            .map(|c| c.mutant)
            .collect()
    }

    /// Every mutant caught and every scenario passing its baseline.
    pub fn ok(&self) -> bool {
        self.baseline_failures.is_empty() && self.uncaught().is_empty()
    }
}

/// A failed run: the mutant's index (`None` for the baseline), the
/// scenario's index, the seed it ran at (`None`: the scenario's own), and
/// the invariants it broke.
type FailedRun = (Option<usize>, usize, Option<u64>, Vec<String>);

/// `scenario` with `mutant` switched on for each of its brokers.
pub fn with_mutant(scenario: &Scenario, mutant: Option<Mutant>) -> Scenario {
    let mut s = scenario.clone();
    for spec in s.brokers.values_mut() {
        spec.mutant = mutant;
    }
    s
}

/// One run: the mutant (`None` for the baseline), the scenario's index and
/// the seed (`None`: the scenario's own).
type Job = (Option<Mutant>, usize, Option<u64>);

/// Runs the baseline and every mutant against every scenario. `progress`
/// gets (runs done, runs planned) after each run, from worker threads.
pub fn run_all(
    scenarios: &[Named],
    mutants: &[Mutant],
    opts: &Options,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Matrix {
    let started = Instant::now();
    let jobs = plan(scenarios, mutants, opts);
    let (mut failed, runs) = run_jobs(&jobs, scenarios, mutants, opts, progress);
    failed.sort();
    let (baseline_failures, caught) = judge(&failed, scenarios, mutants);
    Matrix {
        baseline_failures,
        caught,
        runs,
        elapsed: started.elapsed(),
    }
}

/// Every run to make: the baseline first, so that in the common case its
/// verdicts are in before the mutants' runs are judged (the judging
/// happens at the end anyway), then each mutant; each scenario once, or
/// at each chaos seed.
fn plan(scenarios: &[Named], mutants: &[Mutant], opts: &Options) -> Vec<Job> {
    let seeds_of = |i: usize| -> Vec<Option<u64>> {
        match opts.chaos_seeds {
            Some(n) if scenarios[i].scenario.chaos.is_on() => {
                (0..n.min(CHAOS_SEEDS_MAX)).map(Some).collect()
            }
            _ => vec![None],
        }
    };
    std::iter::once(None)
        .chain(mutants.iter().copied().map(Some))
        .flat_map(|m| {
            (0..scenarios.len()).flat_map(move |i| seeds_of(i).into_iter().map(move |s| (m, i, s)))
        })
        .collect()
}

/// Makes the runs on `opts.jobs` worker threads. Returns every failed run,
/// in no particular order, and how many runs were made (fewer than planned
/// with `first_catch_only`).
fn run_jobs(
    jobs: &[Job],
    scenarios: &[Named],
    mutants: &[Mutant],
    opts: &Options,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> (Vec<FailedRun>, usize) {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let ran = AtomicUsize::new(0);
    let caught_once: Vec<AtomicBool> = mutants.iter().map(|_| AtomicBool::new(false)).collect();
    // (mutant index or None, scenario index, invariants broken) of every
    // failed run.
    let failed: Mutex<Vec<FailedRun>> = Mutex::default();
    let target: Arc<dyn sim::BrokerUnderTest> = Arc::new(sim::Reference);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(mutant, index, seed)) = jobs.get(i) else {
                        break;
                    };
                    let m_index = mutant.and_then(|m| mutants.iter().position(|&x| x == m));
                    let skip = opts.first_catch_only
                        && m_index
                            .and_then(|k| caught_once.get(k))
                            .is_some_and(|c| c.load(Ordering::Relaxed));
                    if !skip && let Some(named) = scenarios.get(index) {
                        let mut s = with_mutant(&named.scenario, mutant);
                        if opts.invariants_only {
                            s.expect.clear();
                        }
                        let run_opts = RunOptions {
                            seed,
                            wall_clock_max: opts.wall_clock_max,
                        };
                        let report = sim::run_with(&s, &run_opts, target.clone());
                        ran.fetch_add(1, Ordering::Relaxed);
                        if !report.ok() {
                            if let Some(c) = m_index.and_then(|k| caught_once.get(k)) {
                                c.store(true, Ordering::Relaxed);
                            }
                            let broken = report.violations.iter().map(|v| v.invariant.clone());
                            if let Ok(mut f) = failed.lock() {
                                f.push((m_index, index, seed, broken.collect()));
                            }
                        }
                    }
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
    (failed, ran.into_inner())
}

/// The verdicts from the failed runs (sorted): the baseline failures, by
/// scenario name (and seed), and for each mutant the scenarios that caught
/// it, a run that fails unmutated at the same seed not counting.
fn judge(
    failed: &[FailedRun],
    scenarios: &[Named],
    mutants: &[Mutant],
) -> (Vec<String>, Vec<Caught>) {
    let name = |i: usize| scenarios.get(i).map(|n| n.name.clone()).unwrap_or_default();
    // (scenario, seed) runs that fail unmutated.
    let baseline: Vec<(usize, Option<u64>)> = failed
        .iter()
        .filter(|(m, ..)| m.is_none())
        .map(|&(_, i, seed, _)| (i, seed))
        .collect();
    let caught = mutants
        .iter()
        .enumerate()
        .map(|(k, &mutant)| {
            let baseline = &baseline;
            let catches = || {
                failed.iter().filter(move |(m, i, seed, _)| {
                    *m == Some(k) && !baseline.contains(&(*i, *seed))
                })
            };
            let mut invariants: Vec<String> =
                catches().flat_map(|(.., v)| v.iter().cloned()).collect();
            invariants.sort();
            invariants.dedup();
            // A scenario once, however many of its seeds caught it.
            let mut by: Vec<usize> = catches().map(|&(_, i, ..)| i).collect();
            by.dedup();
            Caught {
                mutant,
                by: by.into_iter().map(name).collect(),
                invariants,
            }
        })
        .collect();
    let mut baseline_failures: Vec<String> = baseline
        .into_iter()
        .map(|(i, seed)| match seed {
            Some(seed) => format!("{} --seed {seed}", name(i)),
            None => name(i),
        })
        .collect();
    baseline_failures.dedup();
    (baseline_failures, caught)
}

/// The matrix as a Markdown table: one row per mutant, the scenarios that
/// caught it, as docs/mutants.md shows it; with `invariants`, a column of
/// the invariants broken in the catching runs (docs/invariants.md).
pub fn markdown(matrix: &Matrix, invariants: bool) -> String {
    let mut out = if invariants {
        String::from("| mutant | caught by | invariants | scenarios |\n|---|---|---|---|\n")
    } else {
        String::from("| mutant | caught by | scenarios |\n|---|---|---|\n")
    };
    let quoted = |v: &[String]| {
        if v.is_empty() {
            "**none**".to_string()
        } else {
            v.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    for c in &matrix.caught {
        let by = quoted(&c.by);
        if invariants {
            out.push_str(&format!(
                "| `{}` | {} | {} | {by} |\n",
                c.mutant.name(),
                c.by.len(),
                if c.by.is_empty() {
                    "-".to_string()
                } else {
                    quoted(&c.invariants)
                }
            ));
        } else {
            out.push_str(&format!(
                "| `{}` | {} | {by} |\n",
                c.mutant.name(),
                c.by.len()
            ));
        }
    }
    out
}
