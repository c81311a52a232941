//! `mqtt-sim scenarios DIR`: writes the scenario suite this version ships
//! (embedded at build time by build.rs) into DIR, so that a broker's CI
//! that installed mqtt-sim with `cargo install` runs the suite matching the
//! installed version (docs/ci.md). Never overwrites a file.

use std::path::PathBuf;

use super::EXIT_INVALID;
use super::output::outln;

include!(concat!(env!("OUT_DIR"), "/shipped_scenarios.rs"));

/// The flags of `mqtt-sim scenarios`.
#[derive(clap::Args)]
pub struct Args {
    /// The directory to write the suite into (created if missing); a file
    /// that already exists there is an error, and nothing is written.
    pub dir: PathBuf,
}

pub fn scenarios(args: Args) -> anyhow::Result<u8> {
    let taken: Vec<PathBuf> = SHIPPED
        .iter()
        .map(|(rel, _)| args.dir.join(rel))
        .filter(|p| p.exists())
        .collect();
    if let Some(first) = taken.first() {
        eprintln!(
            "error: {} of the {} scenario files already exist under {} (the first: {}); \
             nothing was written. Give an empty or new directory.",
            taken.len(),
            SHIPPED.len(),
            args.dir.display(),
            first.display()
        );
        return Ok(EXIT_INVALID);
    }
    for (rel, text) in SHIPPED {
        let path = args.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
    }
    outln!(
        "wrote {} scenario files of mqtt-sim {} under {}",
        SHIPPED.len(),
        env!("CARGO_PKG_VERSION"),
        args.dir.display()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::SHIPPED;

    #[test]
    fn the_embedded_suite_is_every_file_under_scenarios() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let on_disk = mqtt_sim::scenario::find(&dir).unwrap();
        let yaml: Vec<_> = on_disk
            .iter()
            .filter(|(_, p)| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        assert_eq!(SHIPPED.len(), yaml.len());
        for (name, path) in yaml {
            let text = std::fs::read_to_string(path).unwrap();
            let shipped = SHIPPED
                .iter()
                .find(|(rel, _)| *rel == format!("{name}.yaml"));
            assert_eq!(shipped.map(|(_, t)| *t), Some(text.as_str()), "{name}");
        }
    }
}
