//! The docs' YAML examples load. Every ```yaml block in docs/*.md is a
//! complete scenario, or, when its first line is `# fragment: ...`, some
//! top-level keys that are completed from [`BASE`] (keys the fragment gives
//! win) before loading.

use std::path::Path;

use mqtt_sim::scenario;

/// What a fragment is completed with: the hosts the docs' fragments name.
const BASE: &str = "
duration: 10s
brokers:
  broker: {}
clients:
  a: {}
  b: {}
  sensor: {}
  observer: {}
";

const DOCS: [&str; 2] = ["docs/scenario-format.md", "docs/authoring.md"];

/// The ```yaml blocks of a Markdown text, with the line each starts on.
fn yaml_blocks(markdown: &str) -> Vec<(usize, String)> {
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

fn complete(fragment: &str) -> String {
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

#[test]
fn every_yaml_example_in_the_docs_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut failures = Vec::new();
    for doc in DOCS {
        let markdown = std::fs::read_to_string(root.join(doc)).expect("the doc exists");
        for (line, block) in yaml_blocks(&markdown) {
            let text = if block.starts_with("# fragment") {
                complete(&block)
            } else {
                block.clone()
            };
            if let Err(e) = scenario::parse(&text, Path::new(doc)) {
                failures.push(format!("{doc}:{line}: {e}\n{text}"));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked >= 10, "only {checked} examples found");
}

#[test]
fn the_extractor_finds_blocks_and_their_lines() {
    let md = "text\n```yaml\na: 1\n```\n```text\nx\n```\n```yaml\n# fragment: b\nb: 2\n```\n";
    let blocks = yaml_blocks(md);
    assert_eq!(
        blocks,
        vec![
            (3, "a: 1\n".to_string()),
            (9, "# fragment: b\nb: 2\n".to_string())
        ]
    );
    assert!(complete("clients: {z: {}}\n").contains("z: {}"));
    assert!(!complete("clients: {z: {}}\n").contains("observer"));
}
