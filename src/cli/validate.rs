//! `mqtt-sim validate`: check files without running them.

use std::path::PathBuf;

use super::load_all;
use super::output::outln;

/// `paths` are files or directories of them.
pub fn validate(paths: &[PathBuf]) -> anyhow::Result<u8> {
    let files = &super::expand(paths)?;
    let scenarios = match load_all(files) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    for (f, s) in files.iter().zip(&scenarios) {
        outln!("ok {} ({})", f.display(), s.name);
    }
    Ok(0)
}
