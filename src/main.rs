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
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Override the scenario's seed.
        #[arg(long, env = "MQTT_SIM_SEED")]
        seed: Option<u64>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check that scenario files are valid, without running them.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run one scenario once per seed and report every failing seed.
    Explore {
        file: PathBuf,
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
        shard: Option<mqtt_sim::sim::explore::Shard>,
        /// Run every seed twice and compare the traces.
        #[arg(long)]
        check_determinism: bool,
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
        /// .md (Mermaid in a fenced block) / .mmd (bare Mermaid). Without
        /// it the diagram goes to stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// svg, html or mermaid; overrides the extension of --output.
        #[arg(long, value_enum)]
        format: Option<cli::diagram::DiagramFormat>,
    },
    /// List the scenarios under a directory: name, spec ids and about text.
    List {
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Which normative statements the scenarios' `spec:` tags cover.
    Coverage {
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
        /// Where the statement lists are (mqtt-3.1.1-statements.tsv,
        /// mqtt-5.0-statements.md).
        #[arg(long, default_value = "spec")]
        spec_dir: PathBuf,
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
        } => cli::run::run(&files, seed, format),
        Command::Validate { files } => cli::validate::validate(&files),
        Command::Diagram {
            file,
            seed,
            from,
            to,
            output,
            format,
        } => cli::diagram::diagram(
            &file,
            seed,
            from.as_deref(),
            to.as_deref(),
            output.as_ref(),
            format,
        ),
        Command::List { dir } => cli::list::list(&dir),
        Command::Explore {
            file,
            seeds,
            jobs,
            fail_fast,
            shard,
            check_determinism,
        } => cli::explore::explore(
            &file,
            cli::explore::Args {
                seeds,
                jobs,
                fail_fast,
                shard,
                check_determinism,
            },
        ),
        Command::Pcap { file, seed, output } => cli::pcap::pcap(&file, seed, &output),
        Command::Coverage {
            dir,
            spec_dir,
            protocol,
            uncovered,
        } => cli::coverage::coverage(&dir, &spec_dir, protocol, uncovered),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
