//! `mqtt-sim explore --shrink`: shrink each failing seed and write it as a
//! standalone scenario file (see `mqtt_sim::explore::shrink`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mqtt_sim::explore::shrink::{self, Outcome, Size};
use mqtt_sim::scenario::write::{self, Header};
use mqtt_sim::scenario::{self, Scenario};

use crate::cli::output::outln;

/// Failing seeds shrunk in one `explore --shrink`; the rest are listed as
/// not shrunk. At up to 10 s each, 20 seeds is a few minutes.
pub const SHRINK_SEEDS_MAX: usize = 20;

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Where a seed's written scenario goes: `DIR/<stem>-seed-<N>-<kind>.yaml`
/// (kind `shrunk`, or `live` for a live failure), DIR being the given
/// directory or the scenario's own.
pub fn target_path(file: &Path, dir: Option<&Path>, seed: u64, kind: &str) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    let dir = dir
        .map(Path::to_path_buf)
        .or_else(|| file.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    dir.join(format!("{stem}-seed-{seed}-{kind}.yaml"))
}

/// Shrinks each of `seeds` (failing seeds of `s`, loaded from `file`) and
/// reports each. Returns whether every shrink wrote its file.
pub fn shrink_all(file: &Path, s: &Scenario, seeds: &[u64], dir: Option<&Path>) -> bool {
    let source = match mqtt_sim::scenario::read_bounded(file)
        .and_then(|b| String::from_utf8(b).map_err(std::io::Error::other))
    {
        Ok(t) => t,
        Err(e) => {
            outln!("SHRINK not done: cannot read {}: {e}", file.display());
            return false;
        }
    };
    if let Some(d) = dir
        && let Err(e) = std::fs::create_dir_all(d)
    {
        outln!("SHRINK not done: cannot create {}: {e}", d.display());
        return false;
    }
    let opts = shrink::Options {
        // A client group's members cannot be written back one by one.
        droppable: Some(write::client_keys(&source)),
        ..shrink::Options::default()
    };
    let mut all = true;
    for &seed in seeds.iter().take(SHRINK_SEEDS_MAX) {
        let mut show = Show::new(seed);
        let outcome = shrink::shrink(s, seed, &opts, &mut |p| show.update(p));
        show.finish();
        match outcome {
            Ok(o) => all &= report(file, &source, seed, &o, dir),
            Err(e) => {
                outln!("SHRINK seed {seed}: not shrunk: {e}");
                all = false;
            }
        }
    }
    if seeds.len() > SHRINK_SEEDS_MAX {
        outln!(
            "SHRINK: {} more failing seeds not shrunk (at most {SHRINK_SEEDS_MAX} per explore)",
            seeds.len() - SHRINK_SEEDS_MAX
        );
    }
    all
}

fn sizes(before: &Size, after: &Size) -> String {
    format!(
        "faults {} -> {}, clients {} -> {}, steps {} -> {}, duration {} -> {}",
        before.faults,
        after.faults,
        before.clients,
        after.clients,
        before.steps,
        after.steps,
        write::duration(before.duration),
        write::duration(after.duration)
    )
}

fn report(file: &Path, source: &str, seed: u64, o: &Outcome, dir: Option<&Path>) -> bool {
    outln!("SHRINK seed {seed}: {}", o.target_text);
    outln!(
        "  {}; {} runs in {:.1}s",
        sizes(&o.before, &o.after),
        o.runs,
        o.elapsed.as_secs_f64()
    );
    if let Some(limit) = o.limit {
        outln!(
            "  stopped by the {} ({} runs, {}s) before no single change was left: it may shrink further",
            limit.describe(),
            shrink::RUNS_MAX,
            shrink::WALL_TIME_MAX.as_secs()
        );
    }
    if !o.needs_faults {
        outln!("  note: this failure happens without any fault too");
    }
    let name = format!("{}, seed {seed}, shrunk", o.scenario.name);
    let about = format!(
        "Shrunk by `mqtt-sim explore --shrink` from {} with seed {seed} ({}). It fails with: {}",
        file.display(),
        sizes(&o.before, &o.after),
        o.target_text
    );
    let header = Header {
        name: &name,
        about: &about,
    };
    let path = target_path(file, dir, seed, "shrunk");
    let text = match write::edited(source, &path, &o.scenario, &header) {
        Ok(t) => t,
        Err(e) => {
            outln!("  not written: {e}");
            return false;
        }
    };
    if let Err(e) = std::fs::write(&path, &text) {
        outln!("  not written: {}: {e}", path.display());
        return false;
    }
    // The file as written, loaded and run: it must fail the same way.
    let reproduces = scenario::load(&path).is_ok_and(|back| {
        let r = mqtt_sim::sim::run(&back, &mqtt_sim::sim::RunOptions::default());
        o.target.in_report(&r, &back)
    });
    outln!("  wrote {}", path.display());
    if !reproduces {
        outln!("  but it does not fail the same way when run: do not commit it");
    }
    outln!("  replay: mqtt-sim run {}", path.display());
    reproduces
}

/// Progress on stderr while one seed shrinks: a spinner on a terminal,
/// else a plain line now and then.
struct Show {
    seed: u64,
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl Show {
    fn new(seed: u64) -> Show {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                bar.set_style(style);
            }
            bar
        });
        Show {
            seed,
            bar,
            last_line: Instant::now(),
        }
    }

    fn update(&mut self, p: shrink::Progress) {
        let line = format!(
            "shrinking seed {}: {} runs; {} faults, {} clients, {} steps, {}",
            self.seed,
            p.runs,
            p.best.faults,
            p.best.clients,
            p.best.steps,
            write::duration(p.best.duration)
        );
        if let Some(bar) = &self.bar {
            bar.set_message(line);
            bar.tick();
        } else if self.last_line.elapsed() >= PLAIN_PROGRESS_EVERY {
            self.last_line = Instant::now();
            eprintln!("explore: {line}");
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
