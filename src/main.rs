//! The `mqtt-sim` command line. Exit codes: 0 every run passed; 1 a run
//! failed (an expectation did not hold, or the harness could not complete
//! it); 2 a file is invalid or the command line is wrong.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use mqtt_sim::scenario::{self, Scenario};
use mqtt_sim::sim::{self, RunOptions};
use mqtt_sim::trace::render;

const EXIT_FAILED: u8 = 1;
const EXIT_INVALID: u8 = 2;

#[derive(Parser)]
#[command(name = "mqtt-sim", version, about = "Deterministic MQTT protocol simulator and test harness")]
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
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            files,
            seed,
            format,
        } => run(&files, seed, format),
        Command::Validate { files } => validate(&files),
        Command::List { dir } => list(&dir),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// Loads every file first, so that one invalid file stops the command
/// before anything runs.
fn load_all(files: &[PathBuf]) -> Result<Vec<Scenario>, u8> {
    let mut loaded = Vec::new();
    let mut invalid = false;
    for f in files {
        match scenario::load(f) {
            Ok(s) => loaded.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                invalid = true;
            }
        }
    }
    if invalid { Err(EXIT_INVALID) } else { Ok(loaded) }
}

fn run(files: &[PathBuf], seed: Option<u64>, format: Format) -> anyhow::Result<u8> {
    let scenarios = match load_all(files) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let opts = RunOptions {
        seed,
        ..RunOptions::default()
    };
    let mut failed = 0;
    for (file, s) in files.iter().zip(&scenarios) {
        let report = sim::run(s, &opts);
        if files.len() > 1 && matches!(format, Format::Text) {
            println!("== {}", file.display());
        }
        match format {
            Format::Text => print!("{}", render::text(&report)),
            Format::Json => print!("{}", render::json_lines(&report)),
        }
        if !report.ok() {
            failed += 1;
            eprintln!(
                "FAILED {}; replay: mqtt-sim run {} --seed {}",
                file.display(),
                file.display(),
                report.seed
            );
        }
    }
    if files.len() > 1 {
        eprintln!("{} passed, {} failed", files.len() - failed, failed);
    }
    Ok(if failed > 0 { EXIT_FAILED } else { 0 })
}

fn validate(files: &[PathBuf]) -> anyhow::Result<u8> {
    let scenarios = match load_all(files) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    for (f, s) in files.iter().zip(&scenarios) {
        println!("ok {} ({})", f.display(), s.name);
    }
    Ok(0)
}

fn list(dir: &Path) -> anyhow::Result<u8> {
    let mut invalid = false;
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        match scenario::load(path) {
            Ok(s) => {
                let rel = path.strip_prefix(dir).unwrap_or(path);
                println!("{}  {}  [{}]", rel.display(), s.name, s.spec.join(", "));
                if let Some(about) = &s.about {
                    println!("    {}", about.split_whitespace().collect::<Vec<_>>().join(" "));
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                invalid = true;
            }
        }
    }
    Ok(if invalid { EXIT_INVALID } else { 0 })
}
