//! `mqtt-sim pcap`: run one scenario and write its traffic as a pcap file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use mqtt_sim::pcap;
use mqtt_sim::sim::{self, RunOptions};

use super::load_all;
use super::output::out;

/// The flags of `mqtt-sim pcap`.
#[derive(clap::Args)]
pub struct Args {
    file: PathBuf,
    /// Override the scenario's seed.
    #[arg(long, env = "MQTT_SIM_SEED")]
    seed: Option<u64>,
    /// The pcap file to write.
    #[arg(short, long)]
    output: PathBuf,
}

/// Exit code 0 once the file is written, whatever the run's verdict: the
/// capture is what was asked for. A failed run is reported on stderr.
pub fn pcap(args: Args) -> anyhow::Result<u8> {
    let (file, seed, out) = (args.file.as_path(), args.seed, args.output.as_path());
    let scenarios = match load_all(&[file.to_path_buf()]) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let Some(scenario) = scenarios.first() else {
        return Ok(super::EXIT_INVALID);
    };
    let opts = RunOptions {
        seed,
        ..RunOptions::default()
    };
    let report = sim::run(scenario, &opts);
    let capture = pcap::capture(scenario, &report);
    write_file(&capture, out)?;
    // The legend tells which address is which host; stdout carries nothing
    // else, so it can be saved as a hosts file for Wireshark.
    out!("{}", pcap::hosts::Hosts::of(scenario).legend());
    eprintln!(
        "wrote {} frames to {}",
        capture.segments.len(),
        out.display()
    );
    for s in &capture.skipped {
        eprintln!("not captured: {s}");
    }
    let unlisted = capture.skipped_count.saturating_sub(capture.skipped.len());
    if unlisted > 0 {
        eprintln!("not captured: {unlisted} more");
    }
    if capture.truncated {
        eprintln!(
            "the capture stopped at {} segments, before the end of the trace",
            pcap::SEGMENTS_MAX
        );
    }
    if !report.ok() {
        eprintln!(
            "FAILED {} (the run's expectations did not hold; the file shows what happened); replay: mqtt-sim run {} --seed {}",
            file.display(),
            file.display(),
            report.seed
        );
    }
    Ok(0)
}

fn write_file(capture: &pcap::Capture, out: &Path) -> anyhow::Result<()> {
    let f = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut w = BufWriter::new(f);
    capture
        .write_pcap(&mut w)
        .with_context(|| format!("cannot write {}", out.display()))?;
    w.flush()
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}
