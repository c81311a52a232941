//! `mqtt-sim schema`: the JSON Schema of the scenario format, for editors
//! (see docs/authoring.md).

use std::path::PathBuf;

use anyhow::Context;
use mqtt_sim::scenario::schema::schema_text;

use super::output::out;

/// The flags of `mqtt-sim schema`.
#[derive(clap::Args)]
pub struct Args {
    /// Write the schema to this file instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// Prints the schema, or writes it to `args.output`.
pub fn schema(args: Args) -> anyhow::Result<u8> {
    let text = schema_text();
    match args.output.as_deref() {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out!("{text}"),
    }
    Ok(0)
}
