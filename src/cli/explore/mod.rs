//! `mqtt-sim explore`: run one scenario once per seed, on all cores, and
//! report every failing seed with a replay line. `explore --merge` is in
//! `merge`, `explore --shrink` in `shrink`.

mod live;
pub mod merge;
pub mod shrink;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mqtt_sim::explore::{self, Options, Progress, SeedSet, Shard, Summary};

use super::output::outln;
use mqtt_sim::explore::shards::{FailingSeed, ScenarioId, ShardReport};

use super::{EXIT_FAILED, Format, load_all};

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// `--seeds A..B` (B excluded) or a single seed `N`.
pub fn parse_seeds(s: &str) -> Result<(u64, u64), String> {
    let num = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map_err(|_| format!("`{v}` is not a seed (a whole number from 0)"))
    };
    match s.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if a >= b {
                return Err(format!(
                    "`{s}` is empty: write START..END with START < END (END excluded)"
                ));
            }
            Ok((a, b))
        }
        None => {
            let a = num(s)?;
            Ok((a, a.saturating_add(1)))
        }
    }
}

/// `--shard K/N`: the K-th of N shards, K from 1 to N.
pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("`{s}` is not a shard: write K/N with 1 <= K <= N, e.g. 2/4");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let k: u64 = k.trim().parse().map_err(|_| bad())?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok(Shard { index: k, count: n })
}

/// The flags of `mqtt-sim explore`; `--merge` goes to [`merge`].
#[derive(clap::Args)]
pub struct Args {
    #[arg(required_unless_present = "merge")]
    file: Option<PathBuf>,
    /// Seeds to run: START..END (END excluded) or a single seed.
    #[arg(long, default_value = "0..1000", value_parser = parse_seeds)]
    seeds: (u64, u64),
    /// Worker threads (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Stop at the first failing seed.
    #[arg(long)]
    fail_fast: bool,
    /// Run only shard K of N (K from 1): every N-th seed, from the K-th.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Run every seed twice and compare the traces.
    #[arg(long)]
    check_determinism: bool,
    /// Report as text (default) or as one JSON document (for --merge).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Shrink each failing seed (at most 20) to a small scenario with an
    /// explicit `faults:` list and no `chaos:` that fails the same way,
    /// and write it as DIR/<stem>-seed-<N>-shrunk.yaml, DIR being
    /// --shrink-dir or the scenario's directory. Each shrink is bounded
    /// (2,000 runs, 10 s). Text reports only.
    #[arg(long, conflicts_with = "merge")]
    shrink: bool,
    /// Where --shrink writes its files (created if missing); default:
    /// next to the scenario.
    #[arg(long, requires = "shrink")]
    shrink_dir: Option<PathBuf>,
    /// Live: run each seed's fault schedule against this broker (see
    /// --target-profile), in real time.
    #[command(flatten)]
    live: super::run::LiveArgs,
    /// Live: seeds run at once, each against a broker of its own.
    #[arg(long, default_value_t = 1)]
    lanes: usize,
    /// Live: reruns of each failing seed, each against a fresh broker; a
    /// failure that does not repeat on every one is reported as flaky.
    #[arg(long, default_value_t = mqtt_sim::explore::live::CONFIRM_DEFAULT)]
    confirm: usize,
    /// Live: where a confirmed failing seed is written as
    /// <stem>-seed-<N>-live.yaml (default: next to the scenario).
    #[arg(long)]
    failures_dir: Option<PathBuf>,
    /// Merge the JSON reports of `explore --shard K/N --format json`
    /// into one report, checking that the shards fit together.
    #[arg(long, num_args = 1.., conflicts_with_all = ["file", "shard", "fail_fast", "check_determinism", "jobs"])]
    merge: Vec<PathBuf>,
}

pub fn explore(args: Args) -> anyhow::Result<u8> {
    let Some(file) = args.file.as_deref() else {
        return merge::merge(&args.merge, args.format);
    };
    if args.shrink && matches!(args.format, Format::Json) {
        // The JSON document's schema has no place for shrink results yet.
        eprintln!("error: --shrink reports as text only; leave out --format json");
        return Ok(super::EXIT_INVALID);
    }
    let scenario = match load_all(&[file.to_path_buf()]) {
        Ok(mut s) => match s.pop() {
            Some(s) => s,
            None => return Ok(super::EXIT_INVALID),
        },
        Err(code) => return Ok(code),
    };
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let seeds = SeedSet {
        start: args.seeds.0,
        end: args.seeds.1,
        shard,
    };
    if seeds.is_empty() {
        // `--seeds 0..2 --shard 3/4`: a run of nothing would pass.
        eprintln!(
            "error: shard {}/{} of seeds {}..{} holds no seed; give more seeds or fewer shards",
            shard.index, shard.count, args.seeds.0, args.seeds.1
        );
        return Ok(super::EXIT_INVALID);
    }
    let live = match args.live.resolve(None) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(super::EXIT_INVALID);
        }
    };
    if let Some(live) = live {
        let refused = [
            (args.shrink, "--shrink"),
            (matches!(args.format, Format::Json), "--format json"),
            (args.check_determinism, "--check-determinism"),
            (args.jobs.is_some(), "--jobs (use --lanes)"),
        ];
        if let Some((_, flag)) = refused.iter().find(|(on, _)| *on) {
            eprintln!(
                "error: {flag} is for simulated runs; a live explore writes each confirmed failing seed out instead"
            );
            return Ok(super::EXIT_INVALID);
        }
        if args.lanes == 0 || args.lanes > mqtt_sim::explore::live::LANES_MAX {
            eprintln!(
                "error: --lanes must be 1 to {}",
                mqtt_sim::explore::live::LANES_MAX
            );
            return Ok(super::EXIT_INVALID);
        }
        let opts = mqtt_sim::explore::live::Options {
            live,
            seeds: (0..seeds.len()).filter_map(|i| seeds.get(i)).collect(),
            lanes: args.lanes,
            confirm: args.confirm,
            fail_fast: args.fail_fast,
        };
        return live::explore(file, &scenario, &opts, args.failures_dir.as_deref());
    }
    if args.lanes != 1
        || args.confirm != mqtt_sim::explore::live::CONFIRM_DEFAULT
        || args.failures_dir.is_some()
    {
        eprintln!(
            "error: --lanes, --confirm and --failures-dir are for live runs: give --target-profile, --target or --target-cmd"
        );
        return Ok(super::EXIT_INVALID);
    }
    let mut opts = Options::new(seeds);
    if let Some(j) = args.jobs {
        opts.jobs = j.max(1);
    }
    opts.fail_fast = args.fail_fast;
    opts.check_determinism = args.check_determinism;
    let stop = opts.stop.clone();
    // A second Ctrl-C still kills the process: the handler only asks once.
    let _ = ctrlc::set_handler(move || {
        if stop.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });

    // Hashed before the runs, so that the document names the file that ran.
    let bytes = mqtt_sim::scenario::read_bounded(file)?;
    let id = ScenarioId::new(file, &scenario.name, &bytes);

    let mut show = Show::new(opts.seeds.len());
    let summary = explore::explore(&scenario, &opts, &mut |p| show.update(p));
    show.finish();
    let doc = ShardReport::new(id, &opts, &summary);
    match args.format {
        Format::Text => report(&opts, &summary, &doc),
        Format::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
    }
    if args.shrink && !summary.failures.is_empty() {
        // A seed that failed only by running differently twice passes
        // once: shrink says so.
        let seeds: Vec<u64> = summary.failures.iter().map(|f| f.seed).collect();
        shrink::shrink_all(file, &scenario, &seeds, args.shrink_dir.as_deref());
    }
    Ok(if summary.ok() { 0 } else { EXIT_FAILED })
}

/// Progress on stderr: a bar on a terminal, else a plain line now and then.
struct Show {
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
}

impl Show {
    fn new(planned: u64) -> Show {
        let now = Instant::now();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(planned), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {pos}/{len} seeds  {per_sec}  eta {eta}  {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Show {
            bar,
            started: now,
            last_line: now,
        }
    }

    fn update(&mut self, p: Progress) {
        if let Some(bar) = &self.bar {
            bar.set_position(p.done);
            bar.set_message(format!("{} failed", p.failed));
            return;
        }
        if self.last_line.elapsed() >= PLAIN_PROGRESS_EVERY {
            self.last_line = Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            let rate = if secs > 0.0 {
                p.done as f64 / secs
            } else {
                0.0
            };
            let eta = if rate > 0.0 {
                format!("{:.0}s", (p.planned - p.done) as f64 / rate)
            } else {
                "?".to_string()
            };
            eprintln!(
                "explore: {}/{} seeds, {} failed, {rate:.1} seed-runs/s, eta {eta}",
                p.done, p.planned, p.failed
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn report(opts: &Options, s: &Summary, doc: &ShardReport) {
    print_failures(&doc.failures, doc.failures_not_listed);
    let range = format!("{}..{}", opts.seeds.start, opts.seeds.end);
    let shard = if opts.seeds.shard == Shard::WHOLE {
        String::new()
    } else {
        format!(
            " (shard {}/{})",
            opts.seeds.shard.index, opts.seeds.shard.count
        )
    };
    let stopped = if s.done < s.planned {
        if opts.fail_fast && s.failed > 0 {
            " (stopped at the first failure)"
        } else {
            " (interrupted: partial report)"
        }
    } else {
        ""
    };
    outln!(
        "explored {} of {} seeds in {range}{shard}{stopped}: {} passed, {} failed; {:.1}s, {:.1} seed-runs/s on {} threads{}",
        s.done,
        s.planned,
        s.done - s.failed,
        s.failed,
        s.elapsed.as_secs_f64(),
        s.seeds_per_s(),
        opts.jobs,
        if opts.check_determinism {
            ", every seed run twice"
        } else {
            ""
        }
    );
}

/// Each failing seed with its failed expectations and replay line, then how
/// many more failed than are listed.
pub fn print_failures(failures: &[FailingSeed], not_listed: u64) {
    for f in failures {
        outln!("FAIL seed {}", f.seed);
        if let Some(e) = &f.harness_error {
            outln!("  harness: {e}");
        }
        if f.nondeterministic {
            outln!("  two runs with this seed gave different traces");
        }
        for v in &f.failed {
            outln!("  line {}: {}", v.line, v.text);
        }
        outln!("  replay: {}", f.replay);
    }
    if not_listed > 0 {
        outln!(
            "... and {not_listed} more failing seeds (only the first {} are listed)",
            failures.len()
        );
    }
}
