//! The YAML examples of the docs, shared by the tests that check them
//! (docs.rs loads them, schema.rs validates them against the schema).

/// The documents whose ```yaml blocks are scenarios or fragments of one.
pub const DOCS: [&str; 2] = ["docs/scenario-format.md", "docs/authoring.md"];

/// A block whose first line starts with this is some top-level keys, not a
/// whole scenario; [`complete`] makes it one.
pub const FRAGMENT: &str = "# fragment";

/// The ```yaml blocks of a Markdown text, with the line each starts on.
pub fn yaml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim_start().starts_with("```yaml") => {
                current = Some((i + 2, String::new()))
            }
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```yaml block");
    blocks
}

/// What a fragment is completed with: the hosts the docs' fragments name,
/// each subscribed to everything, so that a fragment's `receives` can
/// match (a matcher that never can is a load error).
const BASE: &str = "
duration: 10s
brokers:
  broker: {}
clients:
  a: {steps: [connect: {}, subscribe: {filter: '#', qos: 2}]}
  b: {steps: [connect: {}, subscribe: {filter: '#', qos: 2}]}
  sensor: {steps: [connect: {}, subscribe: {filter: '#', qos: 2}]}
  observer: {steps: [connect: {}, subscribe: {filter: '#', qos: 2}]}
";

/// A fragment completed from [`BASE`] (keys the fragment gives win).
pub fn complete(fragment: &str) -> String {
    let mut doc: serde_yaml::Mapping =
        serde_yaml::from_str(fragment).expect("a fragment is a YAML map of top-level keys");
    let base: serde_yaml::Mapping = serde_yaml::from_str(BASE).expect("BASE is YAML");
    for (k, v) in base {
        if !doc.contains_key(&k) {
            doc.insert(k, v);
        }
    }
    serde_yaml::to_string(&doc).expect("a map prints")
}
