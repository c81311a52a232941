//! `mqtt-sim list`: the scenarios under a directory, with their spec ids.

use std::path::PathBuf;

use anyhow::Context;
use mqtt_sim::scenario;

use super::EXIT_INVALID;
use super::output::outln;

/// The flags of `mqtt-sim list`.
#[derive(clap::Args)]
pub struct Args {
    #[arg(default_value = "scenarios")]
    dir: PathBuf,
}

pub fn list(args: Args) -> anyhow::Result<u8> {
    let dir = args.dir.as_path();
    let mut invalid = false;
    let found = scenario::find(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for (_, path) in found {
        // The path under `dir`, with the file's own extension (`.yml` too).
        let shown = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        match scenario::load(&path) {
            Ok(s) => {
                outln!("{shown}  {}  [{}]", s.name, s.spec.join(", "));
                if let Some(about) = &s.about {
                    let about: Vec<&str> = about.split_whitespace().collect();
                    outln!("    {}", about.join(" "));
                }
            }
            Err(e) => {
                super::style::print_error(&e);
                invalid = true;
            }
        }
    }
    Ok(if invalid { EXIT_INVALID } else { 0 })
}
