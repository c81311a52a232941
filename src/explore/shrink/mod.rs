//! `explore --shrink`: from a failing seed to the smallest scenario that
//! still fails the same way, written as a file with an explicit `faults:`
//! list and no `chaos:`.
//!
//! 1. [`explicit`] turns the seed's generated chaos (and the file's own
//!    faults, their times drawn) into a fixed fault list. The run is the
//!    same: the driver applies each fault at the first tick at or after its
//!    time, and a fixed time draws nothing from the seed.
//! 2. [`shrink`] tries smaller candidates, each run in simulation with the
//!    same seed, and keeps one when it still fails the same way (the
//!    [`Target`]): drop faults (ddmin over whole episodes such as a
//!    partition and its heal, never half of one), shorten an episode,
//!    move it earlier or to a round time, drop clients, drop steps, shorten
//!    `duration`; and again, until a whole round changes nothing or a
//!    budget ([`RUNS_MAX`], [`WALL_TIME_MAX`]) is spent.
//!
//! **The failure must keep needing the faults.** Removing a publisher's
//! publish step also makes "the subscriber receives it" fail, on any
//! network and any broker: a shrink that slipped to such a failure would
//! be worthless as a regression test. So when the seed's scenario without
//! any fault does not fail the same way (the usual case for a failure
//! chaos found), a candidate that changes anything but the faults is kept
//! only if it, too, does not fail that way without its faults. Last,
//! expectations that the shrunk scenario breaks without its faults (those
//! about steps that were dropped) are removed; the target is never one.
//! When the failure happens without faults too, every candidate that still
//! fails is kept, and the other expectations that fail are removed.

mod budget;
pub mod ddmin;

use std::time::Duration;

use budget::Budget;
pub use budget::Limit;
use ddmin::{Verdict, minimise};

use crate::scenario::{Chaos, DurationSpec, Expectation, Fault, FaultAction, Scenario};
use crate::sim::{self, RunOptions};
use crate::trace::{self, Report};

/// Candidate runs one shrink may make.
pub const RUNS_MAX: u32 = 2_000;
/// Real time one shrink may take; the goal is 10 s per seed.
pub const WALL_TIME_MAX: Duration = Duration::from_secs(10);
/// The cap on one candidate's real time: a candidate that hangs is a
/// harness failure, not a hung shrink.
pub const RUN_WALL_CLOCK_MAX: Duration = Duration::from_secs(10);
/// The precision to which `duration` is shortened.
pub const DURATION_STEP: Duration = Duration::from_millis(100);
/// The round times a fault episode is moved to, coarsest first.
const ROUND_TIMES: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_millis(100),
    Duration::from_millis(10),
];

/// How a run failed, by content rather than by line, so that it is still
/// recognised once lines are removed from the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The expectations written at one place in the file (an expectation
    /// on a client group stands for one per member), without their line.
    Expectation(Vec<Expectation>),
    /// A broken protocol invariant, by name.
    Invariant(String),
    /// The harness could not complete the run.
    Harness,
}

impl Target {
    fn of(f: &trace::Failure, s: &Scenario) -> Target {
        match f {
            trace::Failure::Expectation { line } => Target::Expectation(
                s.expect
                    .iter()
                    .filter(|e| e.line == *line)
                    .map(|e| Expectation {
                        line: 0,
                        ..e.clone()
                    })
                    .collect(),
            ),
            trace::Failure::Invariant { name } => Target::Invariant(name.clone()),
            trace::Failure::Harness => Target::Harness,
        }
    }

    /// The first way `report`, a run of `s`, failed: its first failed
    /// expectation, else its first broken invariant, else a harness error.
    pub fn first(report: &Report, s: &Scenario) -> Option<Target> {
        report.failures().first().map(|f| Target::of(f, s))
    }

    /// Whether `report`, a run of `s`, failed this way (among others).
    pub fn in_report(&self, report: &Report, s: &Scenario) -> bool {
        report.failures().iter().any(|f| Target::of(f, s) == *self)
    }

    /// The clients an expectation target is about; they cannot be dropped.
    fn clients(&self) -> Vec<&str> {
        match self {
            Target::Expectation(v) => v
                .iter()
                .flat_map(|e| e.clients.iter().map(String::as_str))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The failure in one line, as `report` (a run of `s`) tells it.
    pub fn describe(&self, report: &Report, s: &Scenario) -> String {
        match self {
            Target::Expectation(_) => report
                .verdicts
                .iter()
                .filter(|v| !v.ok)
                .find(|v| Target::of(&trace::Failure::Expectation { line: v.line }, s) == *self)
                .map_or_else(String::new, |v| format!("line {}: {}", v.line, v.text)),
            Target::Invariant(name) => report
                .violations
                .iter()
                .find(|v| &v.invariant == name)
                .map_or_else(|| name.clone(), |v| format!("invariant {name}: {}", v.text)),
            Target::Harness => format!(
                "harness: {}",
                report.harness_error.clone().unwrap_or_default()
            ),
        }
    }
}

/// How big a scenario is, as the shrink report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub faults: usize,
    pub clients: usize,
    pub steps: usize,
    pub duration: Duration,
}

impl Size {
    pub fn of(s: &Scenario) -> Size {
        Size {
            faults: s.faults.len(),
            clients: s.clients.len(),
            steps: s.clients.values().map(|c| c.steps.len()).sum(),
            duration: s.duration,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub runs_max: u32,
    pub wall_max: Duration,
    /// The clients that may be dropped; `None`: any. A client group's
    /// members cannot be written back one by one, so the CLI lists only
    /// the file's plain clients.
    pub droppable: Option<Vec<String>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runs_max: RUNS_MAX,
            wall_max: WALL_TIME_MAX,
            droppable: None,
        }
    }
}

/// Where a shrink is: runs made, and the smallest failing size so far.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub runs: u32,
    pub best: Size,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    /// The shrunk scenario: explicit faults, no chaos, the seed set.
    pub scenario: Scenario,
    pub target: Target,
    /// The failure as the original run reported it.
    pub target_text: String,
    /// The explicit scenario before shrinking, and after.
    pub before: Size,
    pub after: Size,
    pub runs: u32,
    pub elapsed: Duration,
    /// The bound that stopped the search before its fixpoint, if any.
    pub limit: Option<Limit>,
    /// The failure needs the faults: without them it does not happen.
    pub needs_faults: bool,
}

/// `scenario` as run with `seed`, its chaos written out as an explicit,
/// time-ordered fault list (hand-written faults with their times drawn),
/// and the seed set as its own.
pub fn explicit(scenario: &Scenario, seed: u64) -> Scenario {
    let tick = scenario.network.tick();
    let mut s = scenario.clone();
    s.faults = sim::timeline(scenario, seed)
        .into_iter()
        .map(|t| Fault {
            // The tick the driver applies it at: the same run, rounder times.
            at: DurationSpec::Fixed(sim::round_up(t.at, tick)),
            line: 0,
            action: t.action,
        })
        .collect();
    s.chaos = Chaos::default();
    s.seed = seed;
    s
}

fn without_faults(s: &Scenario) -> Scenario {
    Scenario {
        faults: Vec::new(),
        ..s.clone()
    }
}

/// Shrinks the failure of `scenario` under `seed`. Fails when that seed
/// does not fail, or its explicit form does not fail the same way.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    opts: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, String> {
    let mut budget = Budget::new(opts.runs_max, opts.wall_max);
    let run_opts = RunOptions {
        seed: Some(seed),
        wall_clock_max: RUN_WALL_CLOCK_MAX,
    };
    let _ = budget.take();
    let original = sim::run(scenario, &run_opts);
    let Some(target) = Target::first(&original, scenario) else {
        return Err(format!("seed {seed} does not fail"));
    };
    let target_text = target.describe(&original, scenario);
    let start = explicit(scenario, seed);
    // Chaos promises a whole network for its last `chaos_settle`; the
    // shrunk run keeps that much after its last fault, or a shorter run
    // would fail on any broker for want of time to recover.
    let settle = scenario.chaos_settle();
    let mut search = Search {
        run_opts,
        target,
        budget,
        guard: false,
        droppable: opts.droppable.clone(),
        accepted: 0,
        best: Size::of(&start),
        progress,
    };
    if search.fails(&start) != Ok(true) {
        return Err(format!(
            "seed {seed}'s faults, written out, do not fail the same way ({target_text})"
        ));
    }
    search.guard = search.fails(&without_faults(&start)) == Ok(false);
    let mut cur = start.clone();
    while search.budget.hit.is_none() {
        let round = search.accepted;
        // Episodes pair faults in time order. A stable sort by time is
        // the order the driver applies them in anyway.
        cur.faults.sort_by_key(|f| f.at.min());
        cur = drop_faults(&mut search, cur);
        cur = shorten(&mut search, cur);
        cur = move_earlier(&mut search, cur);
        cur = drop_clients(&mut search, cur);
        cur = drop_steps(&mut search, cur);
        cur = shorten_run(&mut search, cur, settle);
        if search.accepted == round {
            break;
        }
    }
    cur.faults.sort_by_key(|f| f.at.min());
    cur = prune_expectations(&mut search, cur);
    Ok(Outcome {
        before: Size::of(&start),
        after: Size::of(&cur),
        scenario: cur,
        target: search.target,
        target_text,
        runs: search.budget.runs,
        elapsed: search.budget.elapsed(),
        limit: search.budget.hit,
        needs_faults: search.guard,
    })
}

struct Search<'a> {
    run_opts: RunOptions,
    target: Target,
    budget: Budget,
    /// Candidates that change more than faults must not fail the target
    /// without their faults (see the module's documentation).
    guard: bool,
    droppable: Option<Vec<String>>,
    /// Candidates kept so far; a round that keeps none is the fixpoint.
    accepted: u32,
    best: Size,
    progress: &'a mut dyn FnMut(Progress),
}

impl Search<'_> {
    fn run(&mut self, s: &Scenario) -> Result<Report, Limit> {
        self.budget.take()?;
        let report = sim::run(s, &self.run_opts);
        (self.progress)(Progress {
            runs: self.budget.runs,
            best: self.best,
        });
        Ok(report)
    }

    fn fails(&mut self, s: &Scenario) -> Result<bool, Limit> {
        let report = self.run(s)?;
        Ok(self.target.in_report(&report, s))
    }

    /// Whether a candidate keeps the failure; `beyond_faults`: it changes
    /// more than the faults, so the guard applies.
    fn test(&mut self, s: &Scenario, beyond_faults: bool) -> Verdict {
        let verdict = match self.fails(s) {
            Err(_) => Verdict::OutOfBudget,
            Ok(false) => Verdict::Passes,
            Ok(true) if !(self.guard && beyond_faults) => Verdict::Fails,
            Ok(true) => match self.fails(&without_faults(s)) {
                Err(_) => Verdict::OutOfBudget,
                Ok(true) => Verdict::Passes,
                Ok(false) => Verdict::Fails,
            },
        };
        if verdict == Verdict::Fails {
            self.accepted += 1;
            self.best = Size::of(s);
        }
        verdict
    }
}

/// Whether `end` ends the fault episode `start` began.
fn ends(start: &FaultAction, end: &FaultAction) -> bool {
    let pair = |a: &str, b: &str, x: &str, y: &str| (a, b) == (x, y) || (a, b) == (y, x);
    match (start, end) {
        (FaultAction::Partition { a, b, .. }, FaultAction::Heal(Some((x, y))))
        | (FaultAction::Partition { a, b, .. }, FaultAction::Release(x, y))
        | (FaultAction::Hold(a, b), FaultAction::Release(x, y))
        | (FaultAction::Latency { a, b, .. }, FaultAction::Latency { a: x, b: y, .. }) => {
            pair(a, b, x, y)
        }
        (FaultAction::Partition { .. }, FaultAction::Heal(None)) => true,
        (FaultAction::Crash(h), FaultAction::Restart(r)) => h == r,
        _ => false,
    }
}

/// The faults grouped into episodes, by index: a fault and the first later
/// fault that ends it (a partition and its heal, a crash and its restart),
/// or a fault alone. `faults` is in time order.
fn episodes(faults: &[Fault]) -> Vec<Vec<usize>> {
    let mut used = vec![false; faults.len()];
    let mut out = Vec::new();
    for i in 0..faults.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let mut episode = vec![i];
        if let Some(j) =
            (i + 1..faults.len()).find(|&j| !used[j] && ends(&faults[i].action, &faults[j].action))
        {
            used[j] = true;
            episode.push(j);
        }
        out.push(episode);
    }
    out
}

fn with_faults(s: &Scenario, keep: &[Vec<usize>]) -> Scenario {
    let mut indices: Vec<usize> = keep.iter().flatten().copied().collect();
    indices.sort_unstable();
    Scenario {
        faults: indices.iter().map(|&i| s.faults[i].clone()).collect(),
        ..s.clone()
    }
}

/// ddmin over whole episodes (`episodes`). Never over single faults:
/// dropping the heal or release of an episode would leave its partition
/// or hold in force to the end of the run, which fails most scenarios on
/// any broker and would take the shrink away from the bug it was given.
fn drop_faults(search: &mut Search, cur: Scenario) -> Scenario {
    let units = episodes(&cur.faults);
    let kept = minimise(units, &mut |c: &[Vec<usize>]| {
        search.test(&with_faults(&cur, c), false)
    });
    with_faults(&cur, &kept)
}

fn at(f: &Fault) -> Duration {
    f.at.min()
}

fn tick(s: &Scenario) -> Duration {
    s.network.tick()
}

/// `cur` with fault `i` at `t`. The list need not stay in time order: the
/// driver orders faults by time, and equal times by list order.
fn with_time(cur: &Scenario, i: usize, t: Duration) -> Scenario {
    let mut s = cur.clone();
    s.faults[i].at = DurationSpec::Fixed(t);
    s
}

/// Halves each episode's span (start to end) while the failure holds.
fn shorten(search: &mut Search, mut cur: Scenario) -> Scenario {
    let tick = tick(&cur);
    for episode in episodes(&cur.faults) {
        let [i, j] = episode[..] else { continue };
        loop {
            let span = at(&cur.faults[j]).saturating_sub(at(&cur.faults[i]));
            let shorter = sim::round_up(span / 2, tick);
            if shorter >= span {
                break;
            }
            let cand = with_time(&cur, j, at(&cur.faults[i]) + shorter);
            match search.test(&cand, false) {
                Verdict::Fails => cur = cand,
                Verdict::Passes | Verdict::OutOfBudget => break,
            }
        }
    }
    cur
}

/// Moves each episode, keeping its span: to a round time near its start
/// (rounded down, whole seconds first), then earlier by halves of its
/// start while the failure holds.
fn move_earlier(search: &mut Search, mut cur: Scenario) -> Scenario {
    let tick = tick(&cur);
    for episode in episodes(&cur.faults) {
        let shifted = |cur: &Scenario, to: Duration| {
            let from = at(&cur.faults[episode[0]]);
            let mut s = cur.clone();
            for &k in &episode {
                let t = at(&cur.faults[k]);
                s.faults[k].at = DurationSpec::Fixed(if to >= from {
                    t + (to - from)
                } else {
                    t.saturating_sub(from - to)
                });
            }
            s
        };
        let start = at(&cur.faults[episode[0]]);
        let round: Vec<Duration> = ROUND_TIMES
            .iter()
            .filter(|r| **r >= tick)
            .flat_map(|r| {
                // Earlier only: moving later too could undo the halving
                // below round after round, and never reach a fixpoint.
                [round_down(start, *r)]
            })
            .filter(|t| *t != start)
            .collect();
        for to in round {
            match search.test(&shifted(&cur, to), false) {
                Verdict::Fails => {
                    cur = shifted(&cur, to);
                    break;
                }
                Verdict::Passes => {}
                Verdict::OutOfBudget => return cur,
            }
        }
        loop {
            let start = at(&cur.faults[episode[0]]);
            let to = sim::round_up(start / 2, tick);
            if to >= start {
                break;
            }
            let cand = shifted(&cur, to);
            match search.test(&cand, false) {
                Verdict::Fails => cur = cand,
                Verdict::Passes | Verdict::OutOfBudget => break,
            }
        }
    }
    cur
}

fn round_down(t: Duration, to: Duration) -> Duration {
    let to_us = to.as_micros().max(1);
    Duration::from_micros(u64::try_from(t.as_micros() / to_us * to_us).unwrap_or(u64::MAX))
}

/// Whether fault `f` names host `name`.
fn names(f: &FaultAction, name: &str) -> bool {
    match f {
        FaultAction::Partition { a, b, .. }
        | FaultAction::Hold(a, b)
        | FaultAction::Release(a, b)
        | FaultAction::Latency { a, b, .. }
        | FaultAction::Heal(Some((a, b))) => a == name || b == name,
        FaultAction::Crash(h) | FaultAction::Restart(h) => h == name,
        FaultAction::Heal(None) => false,
    }
}

/// `s` without client `name`: its expectations, the faults and links that
/// name it go too.
fn without_client(s: &Scenario, name: &str) -> Scenario {
    let mut out = s.clone();
    out.clients.shift_remove(name);
    out.expect.retain(|e| !e.clients.iter().any(|c| c == name));
    out.faults.retain(|f| !names(&f.action, name));
    out.network
        .links
        .retain(|l| l.between.0 != name && l.between.1 != name);
    out.snapshot = None;
    out
}

fn drop_clients(search: &mut Search, mut cur: Scenario) -> Scenario {
    let names: Vec<String> = cur.clients.keys().cloned().collect();
    for name in names {
        let needed = search.target.clients().contains(&name.as_str());
        let allowed = search.droppable.as_ref().is_none_or(|d| d.contains(&name));
        if needed || !allowed {
            continue;
        }
        let cand = without_client(&cur, &name);
        match search.test(&cand, true) {
            Verdict::Fails => cur = cand,
            Verdict::Passes => {}
            Verdict::OutOfBudget => break,
        }
    }
    cur
}

fn drop_steps(search: &mut Search, mut cur: Scenario) -> Scenario {
    let names: Vec<String> = cur.clients.keys().cloned().collect();
    for name in names {
        // A group's members share the steps the file writes once: they
        // are kept as they are.
        if search
            .droppable
            .as_ref()
            .is_some_and(|d| !d.contains(&name))
        {
            continue;
        }
        let n = cur.clients.get(&name).map_or(0, |c| c.steps.len());
        let with_steps = |cur: &Scenario, keep: &[usize]| {
            let mut s = cur.clone();
            if let Some(c) = s.clients.get_mut(&name) {
                c.steps = keep.iter().map(|&i| c.steps[i].clone()).collect();
            }
            s
        };
        let kept = minimise((0..n).collect(), &mut |c: &[usize]| {
            search.test(&with_steps(&cur, c), true)
        });
        cur = with_steps(&cur, &kept);
    }
    cur
}

/// The earliest a client's last step can start (the loader requires it to
/// be before `duration`): its `at` at the latest, or its `after` chain at
/// the earliest.
fn last_step_start(s: &Scenario) -> Duration {
    let mut latest = Duration::ZERO;
    for c in s.clients.values() {
        let mut earliest = Duration::ZERO;
        for step in &c.steps {
            let start = match (&step.at, &step.after) {
                (Some(at), _) => {
                    earliest = earliest.max(at.min());
                    at.max().max(earliest)
                }
                (None, Some(after)) => {
                    earliest += after.min();
                    earliest
                }
                (None, None) => earliest,
            };
            latest = latest.max(start);
        }
    }
    latest
}

/// Bisects `duration` down to the shortest (to [`DURATION_STEP`]) that
/// still fails, keeping `settle` after the last fault.
fn shorten_run(search: &mut Search, mut cur: Scenario, settle: Duration) -> Scenario {
    let last_fault = cur.faults.iter().map(at).max().unwrap_or_default();
    let mut lo = (last_step_start(&cur) + tick(&cur)).max(last_fault + settle);
    let mut hi = cur.duration;
    while hi > lo + DURATION_STEP {
        let mid = sim::round_up(lo + (hi - lo) / 2, DURATION_STEP);
        if mid >= hi || mid <= last_step_start(&cur) {
            break;
        }
        let cand = Scenario {
            duration: mid,
            ..cur.clone()
        };
        match search.test(&cand, true) {
            Verdict::Fails => {
                hi = mid;
                cur = cand;
            }
            Verdict::Passes => lo = mid,
            Verdict::OutOfBudget => break,
        }
    }
    cur
}

/// Drops the expectations that only fail because of the shrinking: with
/// the guard, those the shrunk scenario breaks without its faults; without
/// it, every failing one but the target. One run, outside the budget: the
/// result must be known.
fn prune_expectations(search: &mut Search, mut cur: Scenario) -> Scenario {
    let probe = if search.guard {
        without_faults(&cur)
    } else {
        cur.clone()
    };
    search.budget.runs += 1;
    let report = sim::run(&probe, &search.run_opts);
    let broken: Vec<usize> = report
        .verdicts
        .iter()
        .filter(|v| !v.ok)
        .map(|v| v.line)
        .collect();
    let target = search.target.clone();
    cur.expect.retain(|e| {
        !broken.contains(&e.line)
            || Target::of(&trace::Failure::Expectation { line: e.line }, &probe) == target
    });
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(ms: u64, action: FaultAction) -> Fault {
        Fault {
            at: DurationSpec::Fixed(Duration::from_millis(ms)),
            line: 0,
            action,
        }
    }

    #[test]
    fn episodes_pair_each_fault_with_what_ends_it() {
        let p = |a: &str, b: &str| FaultAction::Partition {
            a: a.into(),
            b: b.into(),
            oneway: false,
        };
        let faults = vec![
            fault(1, p("a", "broker")),
            fault(2, FaultAction::Crash("broker".into())),
            fault(3, FaultAction::Hold("b".into(), "broker".into())),
            fault(4, FaultAction::Heal(Some(("broker".into(), "a".into())))),
            fault(5, FaultAction::Restart("broker".into())),
            fault(6, FaultAction::Release("b".into(), "broker".into())),
            fault(7, FaultAction::Crash("c".into())),
        ];
        assert_eq!(
            episodes(&faults),
            vec![vec![0, 3], vec![1, 4], vec![2, 5], vec![6]]
        );
    }

    #[test]
    fn round_down_keeps_whole_units() {
        assert_eq!(
            round_down(Duration::from_micros(2_345_678), Duration::from_secs(1)),
            Duration::from_secs(2)
        );
        assert_eq!(
            round_down(Duration::from_micros(2_345_678), Duration::from_millis(100)),
            Duration::from_millis(2_300)
        );
    }
}
