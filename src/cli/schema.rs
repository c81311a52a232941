//! `mqtt-sim schema`: the JSON Schema of the scenario format, for editors
//! (see docs/authoring.md).

use std::path::Path;

use anyhow::Context;
use mqtt_sim::scenario::schema::schema_text;

use super::output::out;

/// Prints the schema, or writes it to `output`.
pub fn schema(output: Option<&Path>) -> anyhow::Result<u8> {
    let text = schema_text();
    match output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out!("{text}"),
    }
    Ok(0)
}
