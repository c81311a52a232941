//! Scenario files: YAML in, a validated [`Scenario`] out, or an error that
//! names the file, line and column and says what was expected.
//!
//! All YAML handling lives in this module, so that swapping the YAML crate
//! stays a one-module change.
//!
//! # How a file is read
//!
//! 1. **serde_yaml** deserializes the text into typed raw structs
//!    ([`raw`]) that deny unknown keys. Value checks (durations, ranges, QoS,
//!    host name spelling, payloads, packet type names, the single action of
//!    a step or fault) run inside each value's own visitor, where serde_yaml
//!    still knows the position, so those errors point at the offending key
//!    or value.
//! 2. **yaml-rust2** reads the same text again as marked events and builds a
//!    path -> position index ([`locate`]). serde_yaml keeps no positions for
//!    values it accepted, and the remaining checks need them.
//! 3. **validate** turns raw structs into the model: defaults, host
//!    references, protocol-dependent options (`clean_start` under 3.1.1, ...),
//!    `clients` expanded into one fault or link per host pair, and the `line`
//!    of every step, fault and expectation (the line of its `-` item; when
//!    the item's map starts on the line after a lone `-`, the line of its
//!    first key).
//!
//! Between 1 and 3, [`groups`] expands client groups (`count: N` with
//! `{i}`) into their members, and expectations on a group into one per
//! member.
//!
//! # Limits
//!
//! - A file is at most [`MAX_SOURCE_BYTES`] (1 MiB); every list in it is
//!   therefore bounded too.
//! - Maps and lists nest at most [`MAX_NESTING`] (64) levels deep,
//!   checked by a cheap pre-scan before the file is parsed.
//! - At most [`validate::MAX_HOSTS`] (10,100) hosts, brokers and clients
//!   together, a client group counting as its `count`; host names at most
//!   63 characters.
//! - At most [`validate::MAX_EXPANDED`] (10,000) faults, and as many network
//!   links, after `clients` is expanded into host pairs.
//! - A duration is at most 24 h ([`duration::MAX_DURATION`]) and resolves to
//!   whole microseconds.
//! - A `{size: N}` payload is at most 1 MiB ([`payload::MAX_FILLER_BYTES`]).
//!
//! # Choices the format leaves open
//!
//! - Ranges are accepted wherever the model draws a value at run time
//!   (`at`, `reconnect`, latencies, chaos timings). Where the model holds one
//!   fixed value for the run (`duration`, `tick`, `keep_alive`,
//!   `max_keep_alive`, `session_expiry`, a will's `delay`, `within`) a range
//!   is an error that says so.
//! - `keep_alive` and `max_keep_alive` are whole seconds, at most 65535 s,
//!   because that is what the wire carries.
//! - `protocol` accepts `3.1.1`, `5.0` and `5`, quoted or not.
//! - A plain number or boolean given as a payload is its text
//!   (`payload: 42` is "42"); a float in a publish or will payload is
//!   re-printed (`1.50` becomes "1.5"), so quote it to keep its spelling.
//! - `unsubscribe: {filters: [...]}` takes strings or `{filter}` maps.
//! - `connect` on a client that is already connected is not flagged here:
//!   the broker may have closed the connection in between, so only the run
//!   can tell.
//! - Chaos generators without `between` act on every client paired with its
//!   broker; `crashes.restart_after` restarts crashed brokers only.

mod depth;
pub mod duration;
mod explain;
pub mod format;
pub mod groups;
mod locate;
mod matcher;
mod model;
pub mod ops;
pub mod payload;
mod raw;
mod raw_bridge;
pub mod schema;
mod validate;
mod values;
pub mod write;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use depth::MAX_NESTING;
pub use format::FORMAT_VERSION;
pub use model::*;
pub use validate::{
    BRIDGE_KEEP_ALIVE_DEFAULT, BRIDGE_RECONNECT_DEFAULT, MAX_EXPANDED, MAX_HOSTS, bridge_name,
};

use crate::error::{Error, ErrorKind, Location};

/// Largest scenario file read, in bytes.
pub const MAX_SOURCE_BYTES: usize = 1 << 20;

/// Parses scenario text. `path` names the file in errors, and its stem is
/// the scenario's name when the file gives none.
pub fn parse(source: &str, path: &Path) -> Result<Scenario, Error> {
    parse_with(source, path, &[])
}

/// [`parse`], with `extra_targets`: the names of profiles the user passed,
/// which `only_for` and `not_for` may then use besides `reference` and the
/// shipped profiles.
pub fn parse_with(source: &str, path: &Path, extra_targets: &[String]) -> Result<Scenario, Error> {
    parse_unexplained(source, path, extra_targets).map_err(explain::explain)
}

fn parse_unexplained(
    source: &str,
    path: &Path,
    extra_targets: &[String],
) -> Result<Scenario, Error> {
    // A UTF-8 byte order mark may start a YAML stream (YAML 1.2 section
    // 5.2); serde_yaml took it for a second document.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let located = |line: usize, column: usize, message: String| {
        Error::new(ErrorKind::Scenario, message).at(Location {
            file: path.to_path_buf(),
            line,
            column,
        })
    };
    if source.len() > MAX_SOURCE_BYTES {
        return Err(located(
            1,
            1,
            format!(
                "the file is {} bytes; a scenario file may be at most {MAX_SOURCE_BYTES} bytes",
                source.len()
            ),
        ));
    }
    if let Some((line, column, message)) = format::refused(source) {
        return Err(located(line, column, message));
    }
    nesting(source, path)?;
    if source
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Err(located(
            1,
            1,
            "the file is empty: a scenario needs at least `duration`, `brokers` and `clients` (`mqtt-sim new NAME` writes one that runs)".to_string(),
        ));
    }
    let raw: raw::RawScenario = match serde_yaml::from_str(source) {
        Ok(raw) => raw,
        // serde_yaml reads as it goes, so a type error early in the file
        // (`name: [unclosed`) can hide the syntax error that caused it:
        // a syntax error, found by reading the whole file, comes first.
        Err(e) => {
            let syntax = serde_yaml::from_str::<serde::de::IgnoredAny>(source).err();
            return Err(from_serde(syntax.as_ref().unwrap_or(&e), source, path));
        }
    };
    let mut index = locate::PosIndex::build(source).map_err(|e| {
        located(
            e.pos.line,
            e.pos.column,
            format!("the YAML could not be read: {}", e.message),
        )
    })?;
    let raw = groups::expand(raw, &mut index, source, path, MAX_HOSTS)?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    validate::build(raw, &index, path, &stem, extra_targets)
}

/// Parses one broker's options, written as the whole document with the
/// keys of an entry under `brokers` (`mqtt-sim serve --config`). An empty
/// document is the default broker. Errors are located like [`parse`]'s.
pub fn parse_broker_config(source: &str, path: &Path) -> Result<BrokerSpec, Error> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if source.len() > MAX_SOURCE_BYTES {
        let message = format!(
            "the file is {} bytes; at most {MAX_SOURCE_BYTES}",
            source.len()
        );
        return Err(Error::new(ErrorKind::Scenario, message).at(Location {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
        }));
    }
    nesting(source, path)?;
    let raw: Option<raw::RawBroker> =
        serde_yaml::from_str(source).map_err(|e| from_serde(&e, source, path))?;
    let index = locate::PosIndex::build(source).map_err(|e| {
        Error::new(
            ErrorKind::Scenario,
            format!("the YAML could not be read: {}", e.message),
        )
        .at(Location {
            file: path.to_path_buf(),
            line: e.pos.line,
            column: e.pos.column,
        })
    })?;
    validate::broker_alone(raw.unwrap_or_default(), &index, path)
}

/// Refuses a file that nests deeper than [`MAX_NESTING`], before
/// any parser spends time on it.
fn nesting(source: &str, path: &Path) -> Result<(), Error> {
    match depth::too_deep(source) {
        None => Ok(()),
        Some(pos) => Err(Error::new(
            ErrorKind::Scenario,
            format!(
                "maps and lists nest deeper than {} levels here; a scenario needs far fewer",
                depth::MAX_NESTING
            ),
        )
        .at(Location {
            file: path.to_path_buf(),
            line: pos.line,
            column: pos.column,
        })),
    }
}

/// Reads and parses a scenario file. An unreadable file is
/// [`ErrorKind::Io`]; anything wrong inside it is [`ErrorKind::Scenario`].
pub fn load(path: &Path) -> Result<Scenario, Error> {
    load_with(path, &[])
}

/// [`load`], with the names of profiles the user passed (see
/// [`parse_with`]).
pub fn load_with(path: &Path, extra_targets: &[String]) -> Result<Scenario, Error> {
    let bytes = read_bounded(path).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot read scenario file {}: {e}", path.display()),
        )
    })?;
    if bytes.len() > MAX_SOURCE_BYTES {
        return Err(too_large(path));
    }
    let source = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let before = e.as_bytes().get(..valid).unwrap_or_default();
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        Error::new(ErrorKind::Scenario, "the file is not valid UTF-8").at(Location {
            file: path.to_path_buf(),
            line,
            column,
        })
    })?;
    parse_with(&source, path, extra_targets)
}

/// Reads a file, but never more than one byte past [`MAX_SOURCE_BYTES`]:
/// enough to tell that it is too large without reading all of it (a
/// symlink to `/dev/zero` once grew the read to 2.1 GB before the size
/// check). For `serve --config` too.
pub fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn too_large(path: &Path) -> Error {
    Error::new(
        ErrorKind::Scenario,
        format!("the file is more than {MAX_SOURCE_BYTES} bytes; a scenario file may be at most {MAX_SOURCE_BYTES} bytes"),
    )
    .at(Location {
        file: path.to_path_buf(),
        line: 1,
        column: 1,
    })
}

/// A serde_yaml error as a located scenario error. Its message loses the
/// " at line L column C" that serde_yaml writes into it, since the location
/// is carried separately.
fn from_serde(e: &serde_yaml::Error, source: &str, path: &Path) -> Error {
    let mut message = e.to_string();
    let (line, column) = match e.location() {
        Some(l) => {
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            if let Some(i) = message.find(&suffix) {
                message.replace_range(i..i + suffix.len(), "");
            }
            (l.line(), l.column())
        }
        // serde_yaml gives no position for a second document; find it.
        None => match locate::PosIndex::build(source)
            .ok()
            .and_then(|i| i.second_document)
        {
            Some(p) => (p.line, p.column),
            None => (1, 1),
        },
    };
    if message.contains("more than one document") {
        message = "a scenario file holds one YAML document; remove the `---` that starts another"
            .to_string();
    }
    let (line, column) = match relocate(&mut message, source, line, column) {
        Some(better) => better,
        None => (line, column),
    };
    Error::new(ErrorKind::Scenario, message).at(Location {
        file: path.to_path_buf(),
        line,
        column,
    })
}

/// A better place (and wording) for some of serde_yaml's syntax errors:
///
/// - an unclosed `{` or `[` is reported at the end of the file, after the
///   last line; the place where the unclosed collection starts, which
///   serde_yaml names in the message, is where the fix goes;
/// - a tab in the indentation is "a character that cannot start any
///   token"; say that it is a tab;
/// - a duplicate key is reported at the start of its map; point at the
///   second occurrence of the key instead.
fn relocate(
    message: &mut String,
    source: &str,
    line: usize,
    column: usize,
) -> Option<(usize, usize)> {
    let lines: Vec<&str> = source.lines().collect();
    // A value our own deserializer refused (a misspelt mutant name) is
    // reported at the map around it: point at the value itself, the first
    // occurrence of it from there on.
    if let Some(word) = message
        .split_once("unknown variant `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(w, _)| w)
        .filter(|w| !w.is_empty())
    {
        let from = line.checked_sub(1)?;
        for (i, text) in lines.iter().enumerate().skip(from) {
            let start = if i == from {
                column.saturating_sub(1)
            } else {
                0
            };
            if let Some(at) = text.get(start..).and_then(|t| t.find(word)) {
                let col = text.get(..start + at)?.chars().count() + 1;
                return Some((i + 1, col));
            }
        }
        return None;
    }
    if let Some(key) = message
        .strip_prefix("duplicate field `")
        .or_else(|| message.split_once(": duplicate field `").map(|(_, k)| k))
        .and_then(|rest| rest.strip_suffix('`'))
    {
        let indent = column.checked_sub(1)?;
        let key_prefix = format!("{key}:");
        let second = lines
            .iter()
            .enumerate()
            .skip(line.checked_sub(1)?)
            .filter(|(_, l)| {
                l.get(..indent)
                    .is_some_and(|p| p.trim().is_empty() || p.trim() == "-")
                    && l.get(indent..).is_some_and(|k| k.starts_with(&key_prefix))
            })
            .nth(1)?;
        *message = format!("{message}: this key is already given above; give each key once");
        return Some((second.0 + 1, column));
    }
    if message.contains("cannot start any token")
        && let Some(text) = lines.get(line.checked_sub(1)?)
        && let Some(tab) = text.find('\t')
        && text.get(..tab).is_some_and(|p| p.trim().is_empty())
    {
        *message = "a tab in the indentation; YAML indents with spaces only".to_string();
        return Some((line, tab + 1));
    }
    let (problem, context) = message.split_once(", while parsing ")?;
    let (what, at) = context.rsplit_once(" at line ")?;
    let (l, c) = at.split_once(" column ")?;
    let (l, c) = (l.parse().ok()?, c.parse().ok()?);
    if line > lines.len() {
        *message =
            format!("{problem} before the end of the file: {what} starts here and is not closed");
        return Some((l, c));
    }
    // `name: [unclosed` with more lines after it: the parser stops a
    // line or more later, but the fix goes where the `[` or `{` is.
    if what.starts_with("a flow ") && l < line {
        *message = format!("{problem} on line {line}: {what} starts here and is not closed");
        return Some((l, c));
    }
    None
}

/// The file extensions of scenario files.
pub const EXTENSIONS: [&str; 2] = ["yaml", "yml"];

/// Whether `path` names a scenario file by its extension.
pub fn is_scenario_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e == *x))
}

/// The scenario files (`.yaml`, `.yml`) under `dir`, sorted by path, each with its name: the
/// path under `dir` without the extension, with `/` separators (the test
/// name and the snapshot path).
pub fn find(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        let path = entry.path();
        if !entry.file_type().is_file() || !is_scenario_file(path) {
            continue;
        }
        let rel = path.strip_prefix(dir).unwrap_or(path).with_extension("");
        found.push((rel.to_string_lossy().replace('\\', "/"), path.to_path_buf()));
    }
    Ok(found)
}
