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
    /// List the scenarios under a directory: name, spec ids and about text.
    List {
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
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
        Command::Serve { listen, config } => cli::serve::serve(&listen, config.as_deref()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
