//! `mqtt-sim new NAME`: a commented scenario skeleton at
//! `scenarios/NAME.yaml` that validates and runs as written, so that an
//! author starts from something that works and changes one thing at a time.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::EXIT_INVALID;
use super::output::outln;

/// The directory new scenarios go to, relative to the working directory.
const SCENARIOS_DIR: &str = "scenarios";

/// Longest NAME accepted, in bytes.
const NAME_MAX_BYTES: usize = 200;

/// The skeleton; `{NAME}` becomes the scenario's name.
const SKELETON: &str = r#"# A scenario: brokers, scripted clients, a timeline of steps, and what must
# be observed. The format is described in docs/scenario-format.md.
name: {NAME}
about: >
  Say here what this scenario shows, in a sentence or two.
spec: []                       # normative statement ids, e.g. [MQTT-3.1.2-8]
seed: 0                        # every random choice comes from this seed
duration: 5s                   # simulated time; always give a unit

brokers:
  broker: {}                   # the reference broker with its defaults

clients:
  observer:
    steps:
      - connect: {}            # waits for CONNACK
      - subscribe: {filter: demo/#, qos: 1}
  sensor:
    client_id: sensor-1        # default: the host name
    keep_alive: 60s
    steps:
      - {at: 100ms, connect: {}}
      - {at: 1s, publish: {topic: demo/temperature, payload: "21.5", qos: 1}}
      - {at: 2s, disconnect: {}}

# faults:                      # timed network events, e.g.
#   - {at: 1500ms, partition: [sensor, broker]}
#   - {at: 3s, heal: all}

expect:                        # checked at the end of every run
  - client: observer
    receives: {topic: demo/temperature, payload: "21.5"}
    count: 1
    within: [1s, 1.1s]
  - client: sensor
    connack: {session_present: false, code: 0}
"#;

/// The flags of `mqtt-sim new`.
#[derive(clap::Args)]
pub struct Args {
    /// The scenario's path under scenarios/, without `.yaml`, e.g.
    /// `will/my-case`.
    name: String,
}

pub fn new(args: Args) -> anyhow::Result<u8> {
    let name = args.name.as_str();
    if let Err(why) = check_name(name) {
        eprintln!("error: `{name}` is not a scenario name: {why}");
        return Ok(EXIT_INVALID);
    }
    // `new will/x.yaml` means will/x, not will/x.yaml.yaml.
    let name = strip_extension(name);
    let path = PathBuf::from(SCENARIOS_DIR).join(format!("{name}.yaml"));
    let title = Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().replace(['-', '_'], " "))
        .unwrap_or_default();
    let text = SKELETON.replace("{NAME}", &title);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // create_new: an existing scenario is never overwritten, not even by a
    // race between the check and the write.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "error: {} exists already; it is left as it is",
                path.display()
            );
            return Ok(EXIT_INVALID);
        }
        Err(e) => return Err(anyhow::anyhow!("cannot create {}: {e}", path.display())),
    };
    file.write_all(text.as_bytes())?;
    outln!("wrote {}", path.display());
    outln!("next: mqtt-sim run {}", path.display());
    Ok(0)
}

/// NAME is a relative path of lowercase words: what `scenarios/` holds.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > NAME_MAX_BYTES {
        return Err("give 1 to 200 characters");
    }
    let name = strip_extension(name);
    for part in name.split('/') {
        if part.is_empty() || part.starts_with(['-', '_']) {
            return Err("each part between `/` starts with a letter or digit");
        }
        let ok = part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            return Err("use lowercase letters, digits, `-` and `_`, with `/` between directories");
        }
    }
    Ok(())
}

/// NAME without a scenario file extension, if it was given one.
fn strip_extension(name: &str) -> &str {
    mqtt_sim::scenario::EXTENSIONS
        .iter()
        .find_map(|ext| name.strip_suffix(&format!(".{ext}")))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_lowercase_paths() {
        assert!(check_name("will/my-case").is_ok());
        assert!(check_name("a_1").is_ok());
        for bad in ["", "/abs", "../up", "a//b", "Caps", "a b", "a/", "-x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_skeleton_is_a_valid_scenario() {
        let text = SKELETON.replace("{NAME}", "my case");
        let parsed = mqtt_sim::scenario::parse(&text, Path::new("scenarios/my-case.yaml"));
        assert!(parsed.is_ok(), "{:?}", parsed.err().map(|e| e.to_string()));
    }
}
