//! `mqtt-sim mutants [DIR]`: run the scenario suite against every planted
//! broker bug and print, per mutant, the scenarios that caught it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mqtt_sim::mutants::{self, Named, Options};
use mqtt_sim::scenario::Mutant;

use super::output::out;
use super::{EXIT_FAILED, load_all};

/// How many plain progress lines at most when stderr is not a terminal.
const PLAIN_PROGRESS_LINES: usize = 10;

/// The flags of `mqtt-sim mutants`.
#[derive(clap::Args)]
pub struct Args {
    #[arg(default_value = "scenarios")]
    dir: PathBuf,
    /// Worker threads (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Switch every scenario's expectations off and judge each run by
    /// the protocol invariants alone; the table gains the invariants
    /// that caught each mutant.
    #[arg(long)]
    invariants_only: bool,
    /// Run each scenario with `chaos:` at seeds 0..N instead of once at
    /// its own seed (at most 40000); a mutant is caught by a scenario
    /// when any of its seeds that passes unmutated fails with it.
    #[arg(long, value_name = "N")]
    chaos_seeds: Option<u64>,
}

pub fn mutants(args: Args) -> anyhow::Result<u8> {
    let Args {
        dir,
        jobs,
        invariants_only,
        chaos_seeds,
    } = args;
    let dir = dir.as_path();
    if let Some(n) = chaos_seeds
        && !(1..=mutants::CHAOS_SEEDS_MAX).contains(&n)
    {
        anyhow::bail!(
            "--chaos-seeds {n}: give 1 to {} seeds",
            mutants::CHAOS_SEEDS_MAX
        );
    }
    let found = mqtt_sim::scenario::find(dir)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
    if found.is_empty() {
        anyhow::bail!("no scenario files under {}", dir.display());
    }
    let paths: Vec<_> = found.iter().map(|(_, p)| p.clone()).collect();
    let loaded = match load_all(&paths) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let scenarios: Vec<Named> = found
        .into_iter()
        .zip(loaded)
        .map(|((name, _), scenario)| Named { name, scenario })
        .collect();
    let mut opts = Options {
        invariants_only,
        chaos_seeds,
        ..Options::default()
    };
    if let Some(j) = jobs {
        opts.jobs = j.max(1);
    }
    eprintln!(
        "{} mutants x {} scenarios (+ baseline) on {} threads",
        Mutant::ALL.len(),
        scenarios.len(),
        opts.jobs
    );
    let progress = Progress::new();
    let matrix = mutants::run_all(&scenarios, Mutant::ALL, &opts, &|done, planned| {
        progress.update(done, planned)
    });
    progress.bar.finish_and_clear();
    out!("{}", mutants::markdown(&matrix, invariants_only));
    eprintln!(
        "{} runs in {:.1}s",
        matrix.runs,
        matrix.elapsed.as_secs_f64()
    );
    Ok(verdict(&matrix, invariants_only))
}

/// Says on stderr what is wrong with the suite and returns the exit code:
/// 1 when a scenario fails without a mutant, or, unless `invariants_only`,
/// when a mutant is caught by none.
fn verdict(matrix: &mutants::Matrix, invariants_only: bool) -> u8 {
    for s in &matrix.baseline_failures {
        eprintln!("error: {s} fails without any mutant; fix it first (`mqtt-sim check`)");
    }
    if invariants_only {
        // Some mutants no invariant can see (docs/invariants.md says which):
        // the figure is the result, and only a failing baseline is an error.
        let caught = matrix.caught.len() - matrix.uncaught().len();
        eprintln!(
            "{caught} of {} mutants caught by invariants alone",
            matrix.caught.len()
        );
        return if matrix.baseline_failures.is_empty() {
            0
        } else {
            EXIT_FAILED
        };
    }
    for m in matrix.uncaught() {
        eprintln!(
            "error: no scenario catches mutant {}: add a scenario whose expectations fail with it",
            m.name()
        );
    }
    if matrix.ok() { 0 } else { EXIT_FAILED }
}

/// Progress on stderr: a bar on a terminal, else at most
/// `PLAIN_PROGRESS_LINES` plain lines. Updated from worker threads.
struct Progress {
    bar: ProgressBar,
    terminal: bool,
    /// The runs done at the last plain line.
    last_plain: Mutex<usize>,
}

impl Progress {
    fn new() -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(
            None,
            if terminal {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} runs {elapsed}") {
            bar.set_style(style);
        }
        Progress {
            bar,
            terminal,
            last_plain: Mutex::new(0),
        }
    }

    fn update(&self, done: usize, planned: usize) {
        self.bar.set_length(planned as u64);
        self.bar.set_position(done as u64);
        if !self.terminal
            && let Ok(mut last) = self.last_plain.lock()
        {
            let step = planned.div_ceil(PLAIN_PROGRESS_LINES).max(1);
            if done >= *last + step || done == planned {
                *last = done;
                eprintln!("{done}/{planned} runs");
            }
        }
    }
}
