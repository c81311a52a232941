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
    /// List the scenarios under a directory: name, spec ids and about text.
    List {
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Run scenarios twice, check expectations and compare traces with
    /// their snapshots, as `cargo test` does.
    Check {
        /// Scenario files, or directories to search for them.
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// Write new and changed snapshots instead of failing on them.
        #[arg(long)]
        update: bool,
    },
    /// Write a commented scenario skeleton to scenarios/NAME.yaml.
    New {
        /// The scenario's path under scenarios/, without `.yaml`, e.g.
        /// `will/my-case`.
        name: String,
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
        Command::Check { paths, update } => cli::check::check(&paths, update),
        Command::New { name } => cli::new::new(&name),
        Command::Pcap { file, seed, output } => cli::pcap::pcap(&file, seed, &output),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
