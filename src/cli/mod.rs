//! The commands of the `mqtt-sim` binary, one module each, and what they
//! share.

pub mod check;
pub mod coverage;
pub mod diagram;
pub mod explore;
pub mod junit;
pub mod list;
pub mod mutants;
pub mod new;
pub mod output;
pub mod pcap;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod schema;
pub mod serve;
pub mod style;
pub mod validate;

use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use mqtt_sim::scenario::{self, Scenario};

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_INVALID: u8 = 2;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The scenario files named in `paths` or found under the directories
/// among them (`*.yaml` and `*.yml`, sorted within each directory so the
/// order is stable).
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let found =
                scenario::find(p).with_context(|| format!("cannot read {}", p.display()))?;
            if found.is_empty() {
                anyhow::bail!("no scenario files (*.yaml, *.yml) under {}", p.display());
            }
            files.extend(found.into_iter().map(|(_, path)| path));
        } else {
            // A missing file is reported when it is loaded, with the others.
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// Loads every file first, so that one invalid file stops the command
/// before anything runs. Errors go to stderr in their snippet form; `Err` carries the exit code.
pub fn load_all(files: &[PathBuf]) -> Result<Vec<Scenario>, u8> {
    load_all_with(files, &[])
}

/// [`load_all`], where `only_for`/`not_for` may also name `extra_targets`
/// (the target the user named: `--target-name`, a profile file's name).
pub fn load_all_with(files: &[PathBuf], extra_targets: &[String]) -> Result<Vec<Scenario>, u8> {
    let mut loaded = Vec::new();
    let mut invalid = false;
    for f in files {
        match scenario::load_with(f, extra_targets) {
            Ok(s) => loaded.push(s),
            Err(e) => {
                style::print_error(&e);
                invalid = true;
            }
        }
    }
    if invalid {
        Err(EXIT_INVALID)
    } else {
        Ok(loaded)
    }
}
