//! The commands of the `mqtt-sim` binary, one module each, and what they
//! share.

pub mod check;
pub mod coverage;
pub mod diagram;
pub mod explore;
pub mod explore_merge;
pub mod list;
pub mod mutants;
pub mod new;
pub mod pcap;
pub mod report;
pub mod run;
pub mod serve;
pub mod style;
pub mod validate;

use std::path::PathBuf;

use clap::ValueEnum;
use mqtt_sim::scenario::{self, Scenario};

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_INVALID: u8 = 2;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Loads every file first, so that one invalid file stops the command
/// before anything runs. Errors go to stderr in their snippet form; `Err` carries the exit code.
pub fn load_all(files: &[PathBuf]) -> Result<Vec<Scenario>, u8> {
    let mut loaded = Vec::new();
    let mut invalid = false;
    for f in files {
        match scenario::load(f) {
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
