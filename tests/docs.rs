//! The docs' YAML examples load. Every ```yaml block in docs/*.md is a
//! complete scenario, or, when its first line is `# fragment: ...`, some
//! top-level keys that are completed ([`markdown::complete`]) before
//! loading.

use std::path::Path;

use mqtt_sim::scenario;

mod markdown;
use markdown::{DOCS, FRAGMENT, complete, yaml_blocks};

#[test]
fn every_yaml_example_in_the_docs_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut failures = Vec::new();
    for doc in DOCS {
        let markdown = std::fs::read_to_string(root.join(doc)).expect("the doc exists");
        for (line, block) in yaml_blocks(&markdown) {
            let text = if block.starts_with(FRAGMENT) {
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

/// docs/ci.md's example profile is one `--target-profile` accepts.
#[test]
fn the_example_profile_in_the_ci_recipe_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join("docs/ci.md")).expect("the doc exists");
    let profiles: Vec<String> = yaml_blocks(&markdown)
        .into_iter()
        .map(|(_, block)| block)
        .filter(|block| block.starts_with("name:"))
        .collect();
    assert_eq!(profiles.len(), 1, "docs/ci.md shows one profile");
    if let Err(e) = mqtt_sim::profile::Profile::parse(&profiles[0], "docs/ci.md") {
        panic!("{e}");
    }
}
