//! `mqtt-sim run`: run scenarios, print their traces, check expectations.

use std::path::PathBuf;

use mqtt_sim::sim::{self, RunOptions};
use mqtt_sim::trace::render;

use super::{EXIT_FAILED, Format, load_all, style};

pub fn run(files: &[PathBuf], seed: Option<u64>, format: Format) -> anyhow::Result<u8> {
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
            Format::Text => anstream::print!("{}", style::trace(&render::text(&report))),
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
