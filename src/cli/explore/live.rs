//! `mqtt-sim explore FILE --target-profile NAME` (or `--target`,
//! `--target-cmd`): each seed's chaos schedule run against a real broker
//! (see `mqtt_sim::explore::live`). A confirmed failure is written out as
//! a scenario with its explicit `faults:` list, to replay live or in
//! simulation.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use mqtt_sim::explore::live::{self, Options, SeedResult, Verdict};
use mqtt_sim::scenario::write::{self, Header};
use mqtt_sim::scenario::{self, Scenario};
use mqtt_sim::trace::{Outcome, Report};

use crate::cli::output::outln;

/// Verdict lines printed for one failing run; the written file replays
/// the rest.
const FAIL_LINES_MAX: usize = 8;

/// The failed expectations and broken invariants of a run, one line each.
fn failure_lines(r: &Report) -> Vec<String> {
    let mut out: Vec<String> = r
        .verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Fail)
        .map(|v| format!("FAIL  line {}: {}", v.line, v.text))
        .collect();
    out.extend(
        r.violations
            .iter()
            .filter(|v| v.outcome == Outcome::Fail)
            .map(|v| {
                format!(
                    "FAIL  invariant {} [{}]: {}",
                    v.invariant,
                    v.spec_ids.join(", "),
                    v.text
                )
            }),
    );
    if let Some(e) = &r.harness_error {
        out.push(format!("ERROR harness: {e}"));
    }
    out
}

fn print_failures(r: &Report) {
    let lines = failure_lines(r);
    for l in lines.iter().take(FAIL_LINES_MAX) {
        outln!("    {l}");
    }
    if lines.len() > FAIL_LINES_MAX {
        outln!("    ... and {} more", lines.len() - FAIL_LINES_MAX);
    }
}

/// Writes a confirmed seed's scenario, with its explicit faults, and says
/// how to replay it.
fn write_seed(file: &Path, source: &str, r: &SeedResult, dir: Option<&Path>, target: &str) {
    let name = format!("{}, seed {}, live", r.scenario.name, r.seed);
    let about = format!(
        "The fault schedule of seed {} of {}, written out by `mqtt-sim explore --target-profile` after it failed against {target} on its first run and on every confirming rerun.",
        r.seed,
        file.display()
    );
    let header = Header {
        name: &name,
        about: &about,
    };
    let path = super::shrink::target_path(file, dir, r.seed, "live");
    let text = match write::edited(source, &path, &r.scenario, &header) {
        Ok(t) => t,
        Err(e) => {
            outln!("  not written: {e}");
            return;
        }
    };
    if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(d)
    {
        outln!("  not written: {}: {e}", d.display());
        return;
    }
    if let Err(e) = std::fs::write(&path, &text) {
        outln!("  not written: {}: {e}", path.display());
        return;
    }
    if let Err(e) = scenario::load(&path) {
        outln!("  wrote {}, but it does not load: {e}", path.display());
        return;
    }
    outln!("  wrote {}", path.display());
    outln!(
        "  replay: mqtt-sim run {} --target-profile {target}",
        path.display()
    );
}

/// Runs the live exploration and prints it; the exit code.
pub fn explore(
    file: &Path,
    scenario: &Scenario,
    opts: &Options,
    dir: Option<&Path>,
) -> anyhow::Result<u8> {
    let source = String::from_utf8_lossy(&scenario::read_bounded(file)?).into_owned();
    let target = opts.live.target_name.clone();
    outln!(
        "explore {} against {target}, live: {} seeds on {} lanes, {} confirming reruns per failure, a fresh broker per run where the harness starts it",
        file.display(),
        opts.seeds.len(),
        opts.lanes,
        opts.confirm
    );
    let started = Instant::now();
    let printed = Mutex::new(());
    let done = |r: &SeedResult| {
        let _guard = printed.lock();
        let wall = r.wall.as_secs_f64();
        let faults = r.scenario.faults.len();
        match &r.verdict {
            Verdict::Passed => outln!("seed {}: ok ({faults} faults, {wall:.1}s)", r.seed),
            Verdict::Skipped(why) => outln!("seed {}: skipped: {why}", r.seed),
            Verdict::Confirmed { first, reruns } => {
                outln!(
                    "seed {}: FAILED, and again on {reruns} of {reruns} reruns ({faults} faults, {wall:.1}s)",
                    r.seed
                );
                print_failures(first);
            }
            Verdict::Flaky {
                first,
                failed_reruns,
                reruns,
                ..
            } => {
                outln!(
                    "seed {}: FLAKY: failed, then failed on {failed_reruns} of {reruns} reruns and passed on the others ({faults} faults, {wall:.1}s)",
                    r.seed
                );
                print_failures(first);
            }
        }
    };
    let results = live::explore(scenario, opts, &done);
    let wall = started.elapsed().as_secs_f64();
    let count = |f: fn(&Verdict) -> bool| results.iter().filter(|r| f(&r.verdict)).count();
    let passed = count(|v| matches!(v, Verdict::Passed));
    let confirmed = count(|v| matches!(v, Verdict::Confirmed { .. }));
    let flaky = count(|v| matches!(v, Verdict::Flaky { .. }));
    let skipped = count(|v| matches!(v, Verdict::Skipped(_)));
    for r in &results {
        match &r.verdict {
            Verdict::Confirmed { .. } => {
                outln!("CONFIRMED seed {}", r.seed);
                write_seed(file, &source, r, dir, &target);
            }
            Verdict::Flaky { first, passed, .. } => {
                // Both runs, so that the difference can be read.
                outln!(
                    "FLAKY seed {}: the failing run's trace, then a passing one's",
                    r.seed
                );
                outln!("{}", mqtt_sim::trace::render::text(first));
                outln!("{}", mqtt_sim::trace::render::text(passed));
            }
            _ => {}
        }
    }
    let ran = results.len().saturating_sub(skipped);
    let per_seed = if results.is_empty() {
        0.0
    } else {
        results.iter().map(|r| r.wall.as_secs_f64()).sum::<f64>() / results.len() as f64
    };
    outln!(
        "explored {} of {} seeds live against {target}: {passed} passed, {confirmed} failed (confirmed), {flaky} flaky, {skipped} skipped; {wall:.1}s, {per_seed:.1}s per seed",
        results.len(),
        opts.seeds.len(),
    );
    if ran == 0 {
        // A run of nothing is no pass: every seed was refused.
        eprintln!("error: no seed could run against {target}; the skip lines say why");
        return Ok(super::super::EXIT_INVALID);
    }
    Ok(if confirmed + flaky == 0 {
        0
    } else {
        super::super::EXIT_FAILED
    })
}
