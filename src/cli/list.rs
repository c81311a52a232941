//! `mqtt-sim list`: the scenarios under a directory, with their spec ids.

use std::path::Path;

use anyhow::Context;
use mqtt_sim::scenario;

use super::EXIT_INVALID;

pub fn list(dir: &Path) -> anyhow::Result<u8> {
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
                    let about: Vec<&str> = about.split_whitespace().collect();
                    println!("    {}", about.join(" "));
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
