//! `mqtt-sim coverage`: which normative statements the scenarios under a
//! directory tag, and the share of the server-side ones.
//!
//! An unknown id in a `spec:` tag is an error (exit 2) after the report is
//! printed: a typo would otherwise silently leave a statement uncovered, and
//! unknown keys in scenario files are errors for the same reason.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ValueEnum;
use mqtt_sim::coverage::{self, Tagged};
use mqtt_sim::scenario::{self, Protocol};

use super::EXIT_INVALID;
use super::output::{out, outln};

#[derive(Clone, Copy, ValueEnum)]
pub enum SpecVersion {
    #[value(name = "3.1.1")]
    V311,
    #[value(name = "5.0")]
    V5,
}

/// Statement lists larger than this are refused before parsing.
const SPEC_FILE_BYTES_MAX: u64 = 8 * 1024 * 1024;

/// The flags of `mqtt-sim coverage`.
#[derive(clap::Args)]
pub struct Args {
    #[arg(default_value = "scenarios")]
    dir: PathBuf,
    /// Read the statement lists (mqtt-3.1.1-statements.tsv,
    /// mqtt-5.0-statements.md) from this directory instead of the
    /// copies built into the binary.
    #[arg(long)]
    spec_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "3.1.1")]
    protocol: SpecVersion,
    /// List only the statements no scenario covers, with their text.
    #[arg(long)]
    uncovered: bool,
}

pub fn coverage(args: Args) -> anyhow::Result<u8> {
    let (dir, spec_dir) = (args.dir.as_path(), args.spec_dir.as_deref());
    let (version, uncovered_only) = (args.protocol, args.uncovered);
    let (file, protocol) = match version {
        SpecVersion::V311 => ("mqtt-3.1.1-statements.tsv", Protocol::V311),
        SpecVersion::V5 => ("mqtt-5.0-statements.md", Protocol::V5),
    };
    let (source, text) = match spec_dir {
        None => {
            let text = match version {
                SpecVersion::V311 => coverage::STATEMENTS_V311,
                SpecVersion::V5 => coverage::STATEMENTS_V5,
            };
            (format!("the built-in {file}"), text.to_string())
        }
        Some(dir) => {
            let path = dir.join(file);
            let size = std::fs::metadata(&path)
                .with_context(|| format!("cannot read {} (see --spec-dir)", path.display()))?
                .len();
            anyhow::ensure!(
                size <= SPEC_FILE_BYTES_MAX,
                "{} is larger than {SPEC_FILE_BYTES_MAX} bytes",
                path.display()
            );
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            // The statement texts were extracted from a PDF; a stray byte
            // there must not stop the report.
            (
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        }
    };
    let statements = match version {
        SpecVersion::V311 => coverage::parse_tsv(&text),
        SpecVersion::V5 => coverage::parse_md(&text),
    }
    .with_context(|| format!("in {source}"))?;
    let table = coverage::parse_applicability(match version {
        SpecVersion::V311 => coverage::TABLE_V311,
        SpecVersion::V5 => coverage::TABLE_V5,
    })?;

    let (tagged, mut invalid) = tags(dir, protocol)?;
    let report = coverage::compute(&statements, Some(&table), &tagged);
    outln!(
        "MQTT {}: {} statements in {}, {} scenarios under {}",
        protocol.as_str(),
        statements.len(),
        source,
        tagged.len(),
        dir.display()
    );
    out!("{}", coverage::text(&report, uncovered_only));
    for id in &report.unclassified {
        eprintln!("warning: {id} is not in the applicability table; it counts toward no share");
    }
    for u in &report.unknown {
        eprintln!(
            "error: {}: spec id {} is not a statement of MQTT {}",
            u.scenario,
            u.id,
            protocol.as_str()
        );
        invalid = true;
    }
    Ok(if invalid { EXIT_INVALID } else { 0 })
}

/// The tags of every scenario under `dir` written for `protocol`, named by
/// path without extension. Invalid files are reported and flagged.
fn tags(dir: &Path, protocol: Protocol) -> anyhow::Result<(Vec<Tagged>, bool)> {
    let mut out = Vec::new();
    let mut invalid = false;
    let found = scenario::find(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for (name, path) in found {
        match scenario::load(&path) {
            Ok(s) if s.protocol == protocol => {
                out.push(Tagged {
                    scenario: name,
                    ids: s.spec,
                });
            }
            Ok(_) => {}
            Err(e) => {
                super::style::print_error(&e);
                invalid = true;
            }
        }
    }
    Ok((out, invalid))
}
