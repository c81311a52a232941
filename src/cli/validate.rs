//! `mqtt-sim validate`: check files without running them.

use std::path::PathBuf;

use super::load_all;

pub fn validate(files: &[PathBuf]) -> anyhow::Result<u8> {
    let scenarios = match load_all(files) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    for (f, s) in files.iter().zip(&scenarios) {
        println!("ok {} ({})", f.display(), s.name);
    }
    Ok(0)
}
