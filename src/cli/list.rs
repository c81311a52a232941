//! `mqtt-sim list`: the scenarios under a directory, with their spec ids.

use std::path::Path;

use anyhow::Context;
use mqtt_sim::scenario;

use super::EXIT_INVALID;
use super::output::outln;

pub fn list(dir: &Path) -> anyhow::Result<u8> {
    let mut invalid = false;
    let found = scenario::find(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for (name, path) in found {
        match scenario::load(&path) {
            Ok(s) => {
                outln!("{name}.yaml  {}  [{}]", s.name, s.spec.join(", "));
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
