//! The `mqtt-sim` command line: argument parsing and dispatch. Each command
//! lives in its own module under `src/cli/`.
//!
//! Exit codes: 0 every run passed; 1 a run failed (an expectation did not
//! hold, or the harness could not complete it); 2 a file is invalid or the
//! command line is wrong.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cli::{EXIT_INVALID, Format};

#[derive(Parser)]
#[command(
    name = "mqtt-sim",
    version,
    about = "Deterministic MQTT protocol simulator and test harness"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios and check their expectations.
    Run {
        /// Scenario files, or directories to search for them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Override the scenario's seed.
        #[arg(long, env = "MQTT_SIM_SEED")]
        seed: Option<u64>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Run against a live broker at tcp://HOST:PORT, in real time, instead
        /// of in simulation. Skipped scenarios are reported with the reason;
        /// skips alone exit 0, and the closing line counts them.
        #[arg(long, value_name = "tcp://HOST:PORT")]
        target: Option<String>,
        /// The target's name for `only_for` and `not_for` (default: live).
        #[arg(long)]
        target_name: Option<String>,
        /// Widen every `within` window by this much on each side in a live
        /// run (default: 500ms).
        #[arg(long)]
        tolerance: Option<String>,
        /// Start the broker for each live run with this shell command;
        /// `{port}` is replaced by a free loopback port. Makes `crash` and
        /// `restart` of the broker possible.
        #[arg(long, value_name = "COMMAND")]
        target_cmd: Option<String>,
        /// Skip live scenarios whose duration is longer (default: 60s).
        #[arg(long)]
        duration_max: Option<String>,
        /// Show only these clients' events (and the faults and broker notes
        /// that concern them): a name, a glob with `*`, or a group's name
        /// with `{i}`. Repeatable. Failed expectations are always shown.
        #[arg(long = "client", value_name = "NAME")]
        clients: Vec<String>,
        /// Print a summary of each run (counts of events, packets,
        /// closes and faults, and every failed expectation) instead of its
        /// trace.
        #[arg(long, conflicts_with = "format")]
        summary: bool,
    },
    /// Run every scenario under a directory against each target and write
    /// a Markdown table of pass, fail and skip, with a summary per target.
    /// Exit code 0 once the table is written, whatever it says.
    Report {
        dir: PathBuf,
        /// `reference` (the built-in broker, in simulation) or
        /// tcp://HOST:PORT=NAME (a live broker); repeat for each column.
        #[arg(long = "target", required = true)]
        targets: Vec<String>,
        /// Widen `within` windows of live runs by this much on each side.
        #[arg(long, default_value = "500ms")]
        tolerance: String,
        /// Skip live scenarios whose duration is longer.
        #[arg(long, default_value = "60s")]
        duration_max: String,
        /// Where to write the table; stdout without it.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Also write the results as JUnit XML to this file: one test
        /// suite per target, one test case per scenario.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Check that scenario files are valid, without running them.
    Validate {
        /// Scenario files, or directories to search for them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run one scenario once per seed and report every failing seed; or,
    /// with --merge, merge the JSON reports of shards into one.
    Explore {
        #[arg(required_unless_present = "merge")]
        file: Option<PathBuf>,
        /// Seeds to run: START..END (END excluded) or a single seed.
        #[arg(long, default_value = "0..1000", value_parser = cli::explore::parse_seeds)]
        seeds: (u64, u64),
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Stop at the first failing seed.
        #[arg(long)]
        fail_fast: bool,
        /// Run only shard K of N (K from 1): every N-th seed, from the K-th.
        #[arg(long, value_parser = cli::explore::parse_shard)]
        shard: Option<mqtt_sim::explore::Shard>,
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
        /// Merge the JSON reports of `explore --shard K/N --format json`
        /// into one report, checking that the shards fit together.
        #[arg(long, num_args = 1.., conflicts_with_all = ["file", "shard", "fail_fast", "check_determinism", "jobs"])]
        merge: Vec<PathBuf>,
    },
    /// Run every scenario under DIR against each planted broker bug
    /// (mutant) and list the scenarios that catch each; exit 1 when a
    /// mutant is caught by none or a scenario fails without a mutant.
    Mutants {
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
    },
    /// Run a scenario and write its traffic as a pcap file (Wireshark).
    ///
    /// Prints each host's address and name on stdout, in /etc/hosts form.
    /// Exits 0 once the file is written, even if an expectation failed.
    Pcap {
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long, env = "MQTT_SIM_SEED")]
        seed: Option<u64>,
        /// The pcap file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Run one scenario and draw it as a message sequence chart (SVG, an
    /// HTML page, or Mermaid text). Exit code as `run`; the file is written
    /// even when the run fails.
    Diagram {
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long, env = "MQTT_SIM_SEED")]
        seed: Option<u64>,
        /// Draw from this simulated time on, e.g. `2s` or `500ms`.
        #[arg(long)]
        from: Option<String>,
        /// Draw up to this simulated time.
        #[arg(long)]
        to: Option<String>,
        /// Output file; its extension picks the format: .svg, .html, or
        /// .md (Mermaid in a fenced block) / .mmd (bare Mermaid). Required
        /// unless --format is given, which writes to stdout: a terminal is
        /// no place for an SVG.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// svg, html or mermaid; overrides the extension of --output.
        #[arg(long, value_enum)]
        format: Option<cli::diagram::DiagramFormat>,
        /// Draw only these clients' lifelines: a name, a glob with `*`, or a
        /// group's name with `{i}`; repeatable. Without it, a scenario of
        /// more than 32 clients draws its first 32.
        #[arg(long = "client", value_name = "NAME")]
        clients: Vec<String>,
    },
    /// List the scenarios under a directory: name, spec ids and about text.
    List {
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Run scenarios twice, check expectations and compare traces with
    /// their snapshots, as `cargo test` does.
    Check {
        /// Scenario files, or directories to search for them (default: the
        /// `scenarios` directory here or in the nearest directory above).
        paths: Vec<PathBuf>,
        /// Write new and changed snapshots instead of failing on them.
        #[arg(long)]
        update: bool,
        /// Run every scenario with this seed instead of its own; snapshots
        /// are then not compared, expectations and determinism still are.
        #[arg(long, env = "MQTT_SIM_SEED")]
        seed: Option<u64>,
        /// What to do with snapshots that no scenario refers to.
        #[arg(long, value_enum, default_value = "warn")]
        unreferenced: cli::check::Unreferenced,
        /// Also write the results as JUnit XML to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Write a commented scenario skeleton to scenarios/NAME.yaml.
    New {
        /// The scenario's path under scenarios/, without `.yaml`, e.g.
        /// `will/my-case`.
        name: String,
    },
    /// Run the reference broker over real TCP, in real time, for real
    /// clients; Ctrl-C stops it.
    Serve {
        /// Address to listen on; port 0 picks a free port (the log says which).
        #[arg(long, default_value = cli::serve::LISTEN_DEFAULT)]
        listen: String,
        /// Broker options: the keys of a scenario's broker entry, as YAML.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format, for editors that
    /// complete and check YAML (yaml-language-server, VS Code).
    Schema {
        /// Write the schema to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Which normative statements the scenarios' `spec:` tags cover.
    Coverage {
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
        /// Read the statement lists (mqtt-3.1.1-statements.tsv,
        /// mqtt-5.0-statements.md) from this directory instead of the
        /// copies built into the binary.
        #[arg(long)]
        spec_dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "3.1.1")]
        protocol: cli::coverage::SpecVersion,
        /// List only the statements no scenario covers, with their text.
        #[arg(long)]
        uncovered: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            files,
            seed,
            format,
            target,
            target_name,
            tolerance,
            target_cmd,
            duration_max,
            clients,
            summary,
        } => {
            let live = cli::run::LiveArgs {
                target,
                target_name,
                tolerance,
                target_cmd,
                duration_max,
            };
            let view = cli::run::View { clients, summary };
            cli::run::run(&files, seed, format, &live, &view)
        }
        Command::Report {
            dir,
            targets,
            tolerance,
            duration_max,
            output,
            junit,
        } => cli::report::report(
            &dir,
            &targets,
            &tolerance,
            &duration_max,
            output.as_ref(),
            junit.as_ref(),
        ),
        Command::Validate { files } => cli::validate::validate(&files),
        Command::Diagram {
            file,
            seed,
            from,
            to,
            output,
            format,
            clients,
        } => cli::diagram::diagram(
            &file,
            seed,
            from.as_deref(),
            to.as_deref(),
            output.as_ref(),
            format,
            &clients,
        ),
        Command::List { dir } => cli::list::list(&dir),
        Command::Check {
            paths,
            update,
            seed,
            unreferenced,
            junit,
        } => cli::check::check(
            &paths,
            &cli::check::Options {
                update,
                seed,
                unreferenced,
                junit,
            },
        ),
        Command::New { name } => cli::new::new(&name),
        Command::Serve { listen, config } => cli::serve::serve(&listen, config.as_deref()),
        Command::Explore {
            file,
            seeds,
            jobs,
            fail_fast,
            shard,
            check_determinism,
            format,
            shrink,
            shrink_dir,
            merge,
        } => match file {
            None => cli::explore::merge::merge(&merge, format),
            Some(file) => cli::explore::explore(
                &file,
                cli::explore::Args {
                    seeds,
                    jobs,
                    fail_fast,
                    shard,
                    check_determinism,
                    format,
                    shrink,
                    shrink_dir,
                },
            ),
        },
        Command::Mutants {
            dir,
            jobs,
            invariants_only,
            chaos_seeds,
        } => cli::mutants::mutants(&dir, jobs, invariants_only, chaos_seeds),
        Command::Pcap { file, seed, output } => cli::pcap::pcap(&file, seed, &output),
        Command::Schema { output } => cli::schema::schema(output.as_deref()),
        Command::Coverage {
            dir,
            spec_dir,
            protocol,
            uncovered,
        } => cli::coverage::coverage(&dir, spec_dir.as_deref(), protocol, uncovered),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
