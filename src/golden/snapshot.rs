//! insta's `.snap` files, read and written without insta, so that
//! `mqtt-sim check` works where cargo does not and `check --update` writes
//! files that `cargo test` then accepts unchanged.
//!
//! The format (insta 1.x): a `---` line, a YAML header of metadata fields,
//! a `---` line, then the snapshot text and a final newline. insta writes
//! the header with its own small YAML emitter: one `key: value` line per
//! field, the value plain unless it needs quoting, then a JSON-style
//! double-quoted string. A legacy file has no leading `---`: `key: value`
//! lines up to a blank line. Two snapshots match when their texts are equal
//! after trimming trailing whitespace and turning CRLF into LF.

use std::io;
use std::path::{Component, Path, PathBuf};

/// What tests/scenarios.rs passes to insta as the asserting source file;
/// written into new snapshots so that both tools produce the same file.
pub const SOURCE: &str = "tests/scenarios.rs";

/// The directory scenario files live in, and its sibling for snapshots.
pub const SCENARIOS_DIR: &str = "scenarios";
pub const SNAPSHOTS_DIR: &str = "snapshots";

/// A snapshot file's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Header fields in file order; values unquoted. A nested value (insta's
    /// `info`) is kept as its raw indented text.
    pub metadata: Vec<(String, String)>,
    /// The snapshot text without its final newline.
    pub contents: String,
}

impl Snapshot {
    pub fn field(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Parses a `.snap` file's text.
    pub fn parse(text: &str) -> Snapshot {
        let mut lines = text.split('\n');
        let mut metadata = Vec::new();
        let header: Vec<&str> = if text.lines().next().map(str::trim_end) == Some("---") {
            lines.next();
            lines
                .by_ref()
                .take_while(|l| l.trim_end() != "---")
                .collect()
        } else {
            lines
                .by_ref()
                .take_while(|l| !l.trim().is_empty())
                .collect()
        };
        for line in header {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.starts_with([' ', '\t']) || line.starts_with("- ") {
                if let Some((_, value)) = metadata.last_mut() {
                    let value: &mut String = value;
                    if !value.is_empty() {
                        value.push('\n');
                    }
                    value.push_str(line);
                }
                continue;
            }
            if let Some((key, value)) = line.split_once(':') {
                metadata.push((key.trim().to_string(), unquote(value.trim())));
            }
        }
        let rest: Vec<&str> = lines.collect();
        let mut contents = rest.join("\n");
        if contents.ends_with('\n') {
            contents.pop();
        }
        Snapshot { metadata, contents }
    }

    /// The file text insta would write for these fields and contents.
    pub fn to_file_text(&self) -> String {
        let mut out = String::from("---\n");
        for (key, value) in &self.metadata {
            out.push_str(key);
            out.push_str(": ");
            out.push_str(&quote(value));
            out.push('\n');
        }
        out.push_str("---\n");
        out.push_str(&normalize(&self.contents));
        out.push('\n');
        out
    }

    /// Whether `text` matches this snapshot as insta compares them.
    pub fn matches(&self, text: &str) -> bool {
        normalize(&self.contents) == normalize(text)
    }
}

/// insta's normalisation before comparing: trailing whitespace goes, CRLF
/// becomes LF.
pub fn normalize(text: &str) -> String {
    text.trim_end().replace("\r\n", "\n")
}

/// Reads a snapshot; `Ok(None)` when there is none yet.
pub fn read(path: &Path) -> io::Result<Option<Snapshot>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(Snapshot::parse(&text))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes the snapshot of the scenario at `input_file` (as written in the
/// header, relative to the project root) with `text` as its contents, and
/// removes a stale `.snap.new` that insta may have left next to it.
pub fn write(path: &Path, input_file: &str, text: &str) -> io::Result<()> {
    let snapshot = Snapshot {
        metadata: vec![
            ("source".to_string(), SOURCE.to_string()),
            ("input_file".to_string(), input_file.to_string()),
        ],
        contents: normalize(text),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, snapshot.to_file_text())?;
    let pending = path.with_extension("snap.new");
    match std::fs::remove_file(&pending) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Where a scenario's snapshot lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// `snapshots/<path under scenarios/>.snap`, next to `scenarios/`.
    pub snap: PathBuf,
    /// The scenario's path from the project root, `/`-separated, as insta
    /// writes it into `input_file`.
    pub input_file: String,
    /// The scenario's path under `scenarios/` without extension: the test's
    /// name in `cargo test`.
    pub name: String,
}

/// The snapshot place of a scenario file: found through the nearest
/// enclosing directory named `scenarios`; `None` when there is none.
pub fn place(scenario: &Path) -> Option<Place> {
    let parts: Vec<Component> = scenario.components().collect();
    let at = parts
        .iter()
        .rposition(|c| c.as_os_str() == SCENARIOS_DIR)
        .filter(|&i| i + 1 < parts.len())?;
    let root: PathBuf = parts.get(..at)?.iter().collect();
    let under: Vec<String> = parts
        .get(at + 1..)?
        .iter()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let rel = under.join("/");
    let name = Path::new(&rel)
        .with_extension("")
        .to_string_lossy()
        .into_owned();
    Some(Place {
        snap: root.join(SNAPSHOTS_DIR).join(format!("{name}.snap")),
        input_file: format!("{SCENARIOS_DIR}/{rel}"),
        name,
    })
}

/// A header value as insta's emitter writes it.
fn quote(value: &str) -> String {
    if needs_quotes(value) {
        serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""))
    } else {
        value.to_string()
    }
}

fn unquote(value: &str) -> String {
    if value.starts_with('"')
        && let Ok(s) = serde_json::from_str::<String>(value)
    {
        return s;
    }
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.replace("''", "'");
    }
    value.to_string()
}

/// insta's rule (from its YAML emitter) for when a string needs quotes.
fn needs_quotes(s: &str) -> bool {
    const WORDS: [&str; 22] = [
        "yes", "Yes", "YES", "no", "No", "NO", "True", "TRUE", "true", "False", "FALSE", "false",
        "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
    ];
    s.is_empty()
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.starts_with(['&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@'])
        || s.contains(|c: char| {
            matches!(
                c,
                ':' | '{' | '}' | '[' | ']' | ',' | '#' | '`' | '"' | '\'' | '\\'
            ) || (c.is_control() && !matches!(c, '\x07' | '\x08' | '\x0b' | '\x0c' | '\x1b'))
        })
        || WORDS.contains(&s)
        || s.starts_with('.')
        || s.starts_with("0x")
        || s.parse::<i64>().is_ok()
        || s.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "---\nsource: tests/scenarios.rs\ninput_file: scenarios/will/a.yaml\n---\n0.001s  a  connected\n\nend 1.000s seed 0: ok\n";

    #[test]
    fn a_file_parses_and_prints_back_byte_for_byte() {
        let s = Snapshot::parse(FILE);
        assert_eq!(s.field("source"), Some("tests/scenarios.rs"));
        assert_eq!(s.field("input_file"), Some("scenarios/will/a.yaml"));
        assert_eq!(s.contents, "0.001s  a  connected\n\nend 1.000s seed 0: ok");
        assert_eq!(s.to_file_text(), FILE);
    }

    #[test]
    fn quoted_nested_and_legacy_headers_are_read() {
        let s = Snapshot::parse(
            "---\nsource: tests/x.rs\ndescription: \"a: b\\n\"\ninfo:\n  k: v\nexpression: text\n---\nbody\n",
        );
        assert_eq!(s.field("description"), Some("a: b\n"));
        assert_eq!(s.field("info"), Some("  k: v"));
        assert_eq!(s.field("expression"), Some("text"));
        assert_eq!(s.contents, "body");
        let legacy = Snapshot::parse("Created: 2019\nsource: x.rs\n\nbody\nmore\n");
        assert_eq!(legacy.field("source"), Some("x.rs"));
        assert_eq!(legacy.contents, "body\nmore");
        assert_eq!(quote("a: b"), "\"a: b\"");
        assert_eq!(quote("true"), "\"true\"");
        assert_eq!(quote("scenarios/x.yaml"), "scenarios/x.yaml");
    }

    #[test]
    fn matching_ignores_trailing_whitespace_and_crlf_only() {
        let s = Snapshot::parse(FILE);
        assert!(s.matches("0.001s  a  connected\r\n\r\nend 1.000s seed 0: ok\n\n"));
        assert!(!s.matches("0.001s  a  connected\nend 1.000s seed 0: ok"));
    }

    #[test]
    fn the_place_follows_the_scenarios_directory() {
        let p = place(Path::new("/x/proj/scenarios/will/a.yaml"));
        let p = p.unwrap_or_else(|| panic!("no place"));
        assert_eq!(p.snap, Path::new("/x/proj/snapshots/will/a.snap"));
        assert_eq!(p.input_file, "scenarios/will/a.yaml");
        assert_eq!(p.name, "will/a");
        let rel = place(Path::new("scenarios/a.yaml")).map(|p| p.snap);
        assert_eq!(rel.as_deref(), Some(Path::new("snapshots/a.snap")));
        assert_eq!(place(Path::new("tests/a.yaml")), None);
    }
}
