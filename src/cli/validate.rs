//! `mqtt-sim validate`: check files without running them.

use std::path::PathBuf;

use super::output::outln;

/// The flags of `mqtt-sim validate`.
#[derive(clap::Args)]
pub struct Args {
    /// Scenario files, or directories to search for them.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// `args.files` are files or directories of them. Each valid file gets an
/// `ok` line on stdout and each invalid one its error on stderr; with more
/// than one file, a last line counts them (on stdout when all are valid,
/// else on stderr, so that a single bad file prints its snippet alone).
pub fn validate(args: Args) -> anyhow::Result<u8> {
    let files = &super::expand(&args.files)?;
    let mut invalid = 0;
    for f in files {
        match mqtt_sim::scenario::load(f) {
            Ok(s) => outln!("ok {} ({})", f.display(), s.name),
            Err(e) => {
                super::style::print_error(&e);
                invalid += 1;
            }
        }
    }
    let n = files.len();
    let files_word = if n == 1 { "file" } else { "files" };
    if invalid == 0 {
        if n > 1 {
            outln!("{n} {files_word} valid");
        }
        return Ok(0);
    }
    if n > 1 {
        eprintln!(
            "{invalid} of {n} {files_word} invalid, {} valid",
            n - invalid
        );
    }
    Ok(super::EXIT_INVALID)
}
