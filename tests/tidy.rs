//! Invariants checked in the source text, rust-analyzer's "tidy" style:
//! what ARCHITECTURE.md promises, enforced by a test rather than by prose.
//!
//! - The simulated path uses no `HashMap`/`HashSet` (iteration order would
//!   reach behaviour or output), no `SystemTime` and no `std::time::Instant`
//!   (wall clock). `tokio::time::Instant` is the simulation's paused clock
//!   and is allowed. The places outside the simulation are an explicit list.
//! - Every `select!` starts with `biased;`.
//! - `src/broker` imports nothing from `scenario`.
//! - Every `.md` or `.rs` file that a comment or a document cites exists.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file of the project, relative to its root, with `/` separators;
/// build output and version control are not the project.
fn project_files() -> Vec<String> {
    walkdir::WalkDir::new(root())
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            !(e.depth() == 1 && (name == "target" || name.starts_with('.')))
        })
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e.path().strip_prefix(root()).ok()?;
            Some(rel.to_string_lossy().replace('\\', "/"))
        })
        .collect()
}

/// This file, which quotes what it looks for as test data.
const THIS_FILE: &str = "tests/tidy.rs";

fn rust_files(under: &[&str]) -> Vec<String> {
    project_files()
        .into_iter()
        .filter(|f| f.ends_with(".rs") && under.iter().any(|u| f.starts_with(u)))
        .filter(|f| f != THIS_FILE)
        .collect()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// The text with `//` comments removed, line by line (so line numbers
/// stay). Naive about `//` inside strings, which only hides code after it.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `word` occurs in `text` as a whole identifier.
fn has_ident(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// Where the wall clock and hash-ordered collections may be used: outside
/// the simulation, each for the reason given.
const OUTSIDE_SIMULATION: &[(&str, &[&str], &str)] = &[
    (
        "src/live/",
        &["Instant", "SystemTime", "HashMap", "HashSet"],
        "live runs happen in real time",
    ),
    (
        "src/cli/serve",
        &["Instant", "SystemTime", "HashMap", "HashSet"],
        "serve is a real broker with wall-clock log lines",
    ),
    (
        "src/main.rs",
        &["Instant", "SystemTime", "HashMap", "HashSet"],
        "the command line, outside any run",
    ),
    (
        "src/cli/explore/mod.rs",
        &["Instant"],
        "explore's progress line and elapsed time",
    ),
    ("src/explore/seeds.rs", &["Instant"], "explore's throughput"),
    (
        "src/cli/explore/shrink.rs",
        &["Instant"],
        "the shrink progress line",
    ),
    (
        "src/explore/shrink/budget.rs",
        &["Instant"],
        "the shrinker's wall-time budget, outside every run",
    ),
    (
        "src/mutants.rs",
        &["Instant"],
        "how long the mutation check took",
    ),
];

/// What a file of the simulated path must not name.
fn forbidden_in(text: &str) -> Vec<&'static str> {
    let code = code_only(text);
    let mut found = Vec::new();
    for word in ["HashMap", "HashSet", "SystemTime"] {
        if has_ident(&code, word) {
            found.push(word);
        }
    }
    // `tokio::time::Instant` is the paused clock; only std's is the wall.
    let std_instant = code.contains("std::time::Instant")
        || code.match_indices("std::time::{").any(|(i, _)| {
            code[i..]
                .split('}')
                .next()
                .is_some_and(|l| has_ident(l, "Instant"))
        });
    if std_instant {
        found.push("Instant");
    }
    found
}

#[test]
fn the_simulated_path_has_no_wall_clock_and_no_hash_order() {
    let mut bad = Vec::new();
    for f in rust_files(&["src/"]) {
        let allowed: Vec<&str> = OUTSIDE_SIMULATION
            .iter()
            .filter(|(prefix, _, _)| f.starts_with(prefix))
            .flat_map(|(_, words, _)| words.iter().copied())
            .collect();
        for word in forbidden_in(&read(&f)) {
            if !allowed.contains(&word) {
                bad.push(format!("{f}: {word}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "wall clock or hash order on the simulated path (use BTreeMap/IndexMap and \
         tokio::time, or add the file to OUTSIDE_SIMULATION with a reason):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_forbidden_words_are_found() {
    assert_eq!(forbidden_in("use std::collections::HashMap;"), ["HashMap"]);
    assert_eq!(
        forbidden_in("use std::time::{Duration, Instant};"),
        ["Instant"]
    );
    assert_eq!(
        forbidden_in("let t = std::time::SystemTime::now();"),
        ["SystemTime"]
    );
    assert!(forbidden_in("use tokio::time::Instant;").is_empty());
    assert!(forbidden_in("// a HashMap would do here").is_empty());
    assert!(forbidden_in("struct MyHashMapLike;").is_empty());
}

/// The `select!` invocations of `text` whose body does not start with
/// `biased;`, by line.
fn unbiased_selects(text: &str) -> Vec<usize> {
    let code = code_only(text);
    let mut bad = Vec::new();
    for (i, _) in code.match_indices("select!") {
        let rest = &code[i + "select!".len()..];
        let body = rest.trim_start().get(1..).unwrap_or_default();
        if !body.trim_start().starts_with("biased;") {
            bad.push(code[..i].lines().count().max(1));
        }
    }
    bad
}

#[test]
fn every_select_is_biased() {
    let mut bad = Vec::new();
    for f in rust_files(&["src/", "tests/", "benches/", "examples/"]) {
        for line in unbiased_selects(&read(&f)) {
            bad.push(format!("{f}:{line}"));
        }
    }
    assert!(
        bad.is_empty(),
        "`select!` without `biased;` (its branch order would be random):\n{}",
        bad.join("\n")
    );
}

#[test]
fn an_unbiased_select_is_found() {
    let fair = "tokio::select! {\n    _ = a => {}\n}";
    let biased = "tokio::select! {\n    biased;\n    _ = a => {}\n}";
    assert_eq!(unbiased_selects(fair), [1]);
    assert!(unbiased_selects(biased).is_empty());
    assert!(unbiased_selects("// in `select!` it is cancel-safe").is_empty());
}

#[test]
fn the_broker_does_not_import_the_scenario_format() {
    let bad: Vec<String> = rust_files(&["src/broker/"])
        .into_iter()
        .filter(|f| {
            let code = code_only(&read(f));
            code.contains("crate::scenario") || code.contains("mqtt_sim::scenario")
        })
        .collect();
    assert!(
        bad.is_empty(),
        "src/broker uses `scenario`; the broker owns its configuration (broker::Config) \
         and the scenario model converts into it:\n{}",
        bad.join("\n")
    );
}

/// Names of files that documents use as examples of what a user writes,
/// not as files of this repository.
const EXAMPLE_FILES: &[&str] = &["report.md", "run.md"];

/// The `.md` and `.rs` paths cited in `text`: words of path characters
/// ending in one of those extensions. Absolute paths and URLs (after the
/// `:` of their scheme they start with `/`) are not the repository's.
fn citations(text: &str) -> Vec<String> {
    let path_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
    text.split(|c: char| !path_char(c))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| (w.ends_with(".md") || w.ends_with(".rs")) && w.len() > 3)
        .filter(|w| !w.starts_with('/') && !w.starts_with("..."))
        .map(str::to_string)
        .collect()
}

/// The part of a file that cites: a document's whole text, a Rust file's
/// comments.
fn citing_text(file: &str, text: &str) -> String {
    if file.ends_with(".rs") {
        text.lines()
            .filter_map(|l| l.split_once("//").map(|(_, c)| c))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        text.to_string()
    }
}

#[test]
fn every_cited_file_exists() {
    let files = project_files();
    let exists = |from: &str, cited: &str| {
        let dir = Path::new(from).parent().unwrap_or(Path::new(""));
        let relative: PathBuf = dir.join(cited);
        root().join(cited).is_file()
            || root().join(&relative).is_file()
            || files.iter().any(|f| {
                if cited.contains('/') {
                    f.ends_with(&format!("/{cited}"))
                } else {
                    f.rsplit('/').next() == Some(cited)
                }
            })
    };
    let mut bad = Vec::new();
    for f in files
        .iter()
        .filter(|f| (f.ends_with(".rs") || f.ends_with(".md")) && *f != THIS_FILE)
    {
        for cited in citations(&citing_text(f, &read(f))) {
            if !EXAMPLE_FILES.contains(&cited.as_str()) && !exists(f, &cited) {
                bad.push(format!("{f} cites {cited}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "files cited that are not in the repository (move what is needed into \
         ARCHITECTURE.md or docs/ and cite that):\n{}",
        bad.join("\n")
    );
}

#[test]
fn citations_are_found_in_comments_and_documents() {
    assert_eq!(
        citations("the defects (see DESIGN.md). And [x](docs/faults.md)"),
        ["DESIGN.md", "docs/faults.md"]
    );
    assert!(citations("see https://example.com/a/README.md and /tmp/x.md").is_empty());
    assert_eq!(
        citing_text("a.rs", "let s = \"x.md\"; // see y.md"),
        " see y.md"
    );
}
