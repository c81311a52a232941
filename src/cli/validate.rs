//! `mqtt-sim validate`: check files without running them.

use std::path::PathBuf;

use super::load_all;
use super::output::outln;

/// The flags of `mqtt-sim validate`.
#[derive(clap::Args)]
pub struct Args {
    /// Scenario files, or directories to search for them.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// `args.files` are files or directories of them.
pub fn validate(args: Args) -> anyhow::Result<u8> {
    let files = &super::expand(&args.files)?;
    let scenarios = match load_all(files) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    for (f, s) in files.iter().zip(&scenarios) {
        outln!("ok {} ({})", f.display(), s.name);
    }
    Ok(0)
}
