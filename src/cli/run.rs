//! `mqtt-sim run`: run scenarios, print their traces, check expectations.
//! With `--target` or `--target-cmd` the scenarios run against a live
//! broker in real time (see `mqtt_sim::live`).

use std::path::{Path, PathBuf};

use mqtt_sim::live::{self, Lane, LiveOptions, Outcome, Target};
use mqtt_sim::profile::Profile;
use mqtt_sim::scenario::Scenario;
use mqtt_sim::scenario::duration::parse_duration;
use mqtt_sim::sim::{self, RunOptions};
use mqtt_sim::trace::select::{self, Selection};
use mqtt_sim::trace::{Report, render};

use super::output::{out, outln};
use super::{EXIT_FAILED, EXIT_INVALID, Format, load_all_with, style};

/// The flags of `mqtt-sim run`.
#[derive(clap::Args)]
pub struct Args {
    /// Scenario files, or directories to search for them.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long, env = "MQTT_SIM_SEED")]
    seed: Option<u64>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    live: LiveArgs,
    #[command(flatten)]
    view: View,
}

/// The live options as given on the command line.
#[derive(Debug, Default, clap::Args)]
pub struct LiveArgs {
    /// Run against a live broker at tcp://HOST:PORT, in real time, instead
    /// of in simulation. Skipped scenarios are reported with the reason;
    /// skips alone exit 0, and the closing line counts them.
    #[arg(long, value_name = "tcp://HOST:PORT")]
    pub target: Option<String>,
    /// The target's name for `only_for` and `not_for` (default: live).
    #[arg(long)]
    pub target_name: Option<String>,
    /// Widen every `within` window by this much on each side in a live
    /// run (default: 500ms).
    #[arg(long)]
    pub tolerance: Option<String>,
    /// Start the broker for each live run with this shell command;
    /// `{port}` is replaced by a free loopback port. Makes `crash` and
    /// `restart` of the broker possible.
    #[arg(long, value_name = "COMMAND")]
    pub target_cmd: Option<String>,
    /// Skip live scenarios whose duration is longer (default: 60s).
    #[arg(long)]
    pub duration_max: Option<String>,
    /// What is known of the target: a shipped profile's name (mosquitto,
    /// aedes, amqtt, rumqttd) or a profile file. Names the target; without
    /// --target or --target-cmd, starts the broker as the profile says;
    /// gives its credentials to clients without a username; skips what it
    /// does not speak or configure.
    #[arg(long, value_name = "NAME|FILE")]
    pub target_profile: Option<String>,
}

impl LiveArgs {
    /// `None` for a simulated run; an error message when the options do
    /// not fit together.
    pub fn resolve(&self, seed: Option<u64>) -> Result<Option<LiveOptions>, String> {
        let profile = match &self.target_profile {
            Some(p) => Some(Profile::load(p).map_err(|e| format!("--target-profile: {e}"))?),
            None => None,
        };
        if profile.is_some() && self.target_name.is_some() {
            return Err(
                "give --target-profile or --target-name, not both: the profile names the target"
                    .into(),
            );
        }
        let target = match (&self.target, &self.target_cmd, &profile) {
            (Some(_), Some(_), _) => {
                return Err("give --target or --target-cmd, not both".into());
            }
            (Some(t), None, _) => Target::parse_addr(t)?,
            (None, Some(cmd), _) => Target::Command(cmd.clone()),
            (None, None, Some(p)) => match &p.start {
                Some(start) => Target::Start(start.clone()),
                None => {
                    return Err(format!(
                        "the profile `{}` has no `start`: give --target tcp://HOST:PORT or --target-cmd",
                        p.name
                    ));
                }
            },
            (None, None, None) => {
                if self.target_name.is_some()
                    || self.tolerance.is_some()
                    || self.duration_max.is_some()
                {
                    return Err(
                        "--target-name, --tolerance and --duration-max need --target, --target-cmd or --target-profile"
                            .into(),
                    );
                }
                return Ok(None);
            }
        };
        let mut opts = LiveOptions::new(target);
        opts.seed = seed;
        if let Some(n) = &self.target_name {
            opts.target_name = n.clone();
        }
        if let Some(p) = &profile {
            opts.target_name = p.name.clone();
        }
        opts.profile = profile.map(std::sync::Arc::new);
        if let Some(t) = &self.tolerance {
            opts.tolerance = parse_duration(t).map_err(|e| format!("--tolerance: {e}"))?;
        }
        if let Some(d) = &self.duration_max {
            opts.duration_max = parse_duration(d).map_err(|e| format!("--duration-max: {e}"))?;
        }
        Ok(Some(opts))
    }
}

/// What of each run is printed: `--client` and `--summary`.
#[derive(Debug, Default, clap::Args)]
pub struct View {
    /// Show only these clients' events (and the faults and broker notes
    /// that concern them): a name, a glob with `*`, or a group's name
    /// with `{i}`. Repeatable. Failed expectations are always shown.
    #[arg(long = "client", value_name = "NAME")]
    pub clients: Vec<String>,
    /// Print a summary of each run (counts of events, packets,
    /// closes and faults, and every failed expectation) instead of its
    /// trace.
    #[arg(long, conflicts_with = "format")]
    pub summary: bool,
}

/// A hint on stderr for runs with more clients than this: the trace is
/// long, and `--summary` or `--client` make it readable.
const HINT_CLIENTS_MIN: usize = 100;

/// `args.files` are files or directories of them.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let Args {
        files: paths,
        seed,
        format,
        live: live_args,
        view,
    } = args;
    let live = match live_args.resolve(seed) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_INVALID);
        }
    };
    let files = &super::expand(&paths)?;
    let named: Vec<String> = live.iter().map(|l| l.target_name.clone()).collect();
    let scenarios = match load_all_with(files, &named) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    if let Some(l) = &live
        && let Err(e) = reachable(l, &scenarios)
    {
        eprintln!("error: {e}; nothing was run");
        return Ok(EXIT_FAILED);
    }
    let selections = match selections(&scenarios, &view.clients) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_INVALID);
        }
    };
    let mut runs = Runs {
        opts: RunOptions {
            seed,
            ..RunOptions::default()
        },
        live: live.map(Lane::new),
        format,
        view,
        many: files.len() > 1,
    };
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for ((file, s), selection) in files.iter().zip(&scenarios).zip(&selections) {
        match runs.one(file, s, selection.as_ref()) {
            Verdict::Passed => passed += 1,
            Verdict::Failed => failed += 1,
            Verdict::Skipped => skipped += 1,
        }
    }
    if files.len() > 1 || skipped > 0 {
        if skipped > 0 {
            eprintln!("{passed} passed, {failed} failed, {skipped} skipped");
        } else {
            eprintln!("{passed} passed, {failed} failed");
        }
    }
    // Skips alone do not fail the command: they say that a scenario does
    // not apply to this target, and the closing line counts them.
    Ok(if failed > 0 { EXIT_FAILED } else { 0 })
}

/// The `--client` selection of each scenario: `None` for every one when
/// no client was named, and the first error otherwise.
fn selections(
    scenarios: &[Scenario],
    clients: &[String],
) -> Result<Vec<Option<Selection>>, String> {
    if clients.is_empty() {
        return Ok(scenarios.iter().map(|_| None).collect());
    }
    scenarios
        .iter()
        .map(|s| Selection::new(s, clients).map(Some))
        .collect()
}

/// What one scenario's run came to.
enum Verdict {
    Passed,
    Failed,
    Skipped,
}

/// What the runs of one `mqtt-sim run` share.
struct Runs {
    opts: RunOptions,
    /// `None` for a simulated run; the scenarios share the lane's target.
    live: Option<Lane>,
    format: Format,
    view: View,
    /// More than one file runs: each gets a heading, and a summary line
    /// closes.
    many: bool,
}

impl Runs {
    /// Runs one scenario, live or simulated, and prints it; a failure is
    /// also said on stderr, with a replay line in simulation.
    fn one(&mut self, file: &Path, s: &Scenario, selection: Option<&Selection>) -> Verdict {
        let outcome = match &mut self.live {
            Some(lane) => {
                let o = lane.run(s);
                for note in lane.take_notes() {
                    eprintln!("note: {note}");
                }
                o
            }
            None => Outcome::Ran(sim::run(s, &self.opts)),
        };
        if self.many && matches!(self.format, Format::Text) {
            outln!("== {}", file.display());
        }
        let report = match outcome {
            Outcome::Ran(r) => r,
            Outcome::Skipped(why) => {
                match self.format {
                    Format::Text => outln!("skipped: {why}"),
                    Format::Json => {
                        outln!("{}", serde_json::json!({"event": "skipped", "reason": why}))
                    }
                }
                eprintln!("SKIPPED {}: {why}", file.display());
                return Verdict::Skipped;
            }
        };
        self.print(s, &report, selection);
        if report.ok() {
            return Verdict::Passed;
        }
        match &self.live {
            Some(l) => eprintln!(
                "FAILED {} against {}",
                file.display(),
                l.options().target_name
            ),
            None => eprintln!(
                "FAILED {}; replay: mqtt-sim run {} --seed {}",
                file.display(),
                file.display(),
                report.seed
            ),
        }
        Verdict::Failed
    }

    /// Prints a run as `--summary`, `--client` and `--format` ask.
    fn print(&self, s: &Scenario, report: &Report, selection: Option<&Selection>) {
        let format = self.format;
        if self.view.summary {
            print!("{}", select::summary(s, report));
        } else if let Some(sel) = selection {
            print_report(&sel.report(s, report), format);
        } else {
            print_report(report, format);
            if s.clients.len() >= HINT_CLIENTS_MIN && matches!(format, Format::Text) {
                eprintln!(
                    "note: {} clients; `--summary` or `--client NAME` give a shorter view",
                    s.clients.len()
                );
            }
        }
    }
}

/// A running target that none of `scenarios` can reach is reported once,
/// before anything runs. Scenarios that would be skipped do not need it.
pub fn reachable(live: &LiveOptions, scenarios: &[Scenario]) -> Result<(), String> {
    let Target::Addr(addr) = &live.target else {
        return Ok(());
    };
    if scenarios
        .iter()
        .all(|s| live::skip_reason(s, live).is_some())
    {
        return Ok(());
    }
    live::probe(addr).map_err(|e| format!("the target {} is not reachable: {e}", live.target_name))
}

fn print_report(report: &Report, format: Format) {
    match format {
        Format::Text => out!("{}", style::trace(&render::text(report))),
        Format::Json => out!("{}", render::json_lines(report)),
    }
}
