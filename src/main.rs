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
    /// List the scenarios under a directory: name, spec ids and about text.
    List {
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
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
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
