//! Invariants checked in the source text, rust-analyzer's "tidy" style:
//! what ARCHITECTURE.md promises, enforced by a test rather than by prose.
//!
//! - The simulated path uses no `HashMap`/`HashSet` (iteration order would
//!   reach behaviour or output), no `SystemTime` and no `std::time::Instant`
//!   (wall clock). `tokio::time::Instant` is the simulation's paused clock
//!   and is allowed. The places outside the simulation are an explicit list.
//! - Every `select!` starts with `biased;`.
//! - The library's modules only import the layers below them (`LAYERS`),
//!   so no import circle spans two of them.
//! - Every source file starts with a `//!` comment saying what it holds.
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
        "src/cli/explore/live.rs",
        &["Instant"],
        "a live explore's total wall time",
    ),
    (
        "src/explore/live.rs",
        &["Instant"],
        "live explore runs in real time and reports each seed's wall time",
    ),
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

/// The layers of the library, bottom up: each top-level module of `src/`
/// and the top-level modules it may import (`crate::x`). A module may only
/// import modules listed before it, so the table itself has no circle, and
/// neither can the code. ARCHITECTURE.md's code map says the same in words.
const LAYERS: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("topic", &[]),
    ("wire", &[]),
    // The packet vocabulary: the JSON form of packets, properties, reason
    // names, hex. Below both the scenario file and the trace.
    ("packet_json", &["wire"]),
    // The spec's normative statements, which scenarios tag.
    ("coverage", &["wire"]),
    // The reference broker owns its configuration; the scenario converts
    // into it, never the reverse.
    ("broker", &["topic", "wire"]),
    // What the harness knows of a broker under test, as data: below the
    // scenario, whose loader checks `only_for`/`not_for` names against it.
    ("profile", &["broker"]),
    (
        "scenario",
        &[
            "error",
            "topic",
            "wire",
            "packet_json",
            "coverage",
            "broker",
            "profile",
        ],
    ),
    ("diagnostic", &["error", "scenario"]),
    ("trace", &["topic", "wire", "packet_json", "scenario"]),
    (
        "invariants",
        &[
            "topic",
            "wire",
            "packet_json",
            "broker",
            "profile",
            "scenario",
            "trace",
        ],
    ),
    // Expectations and invariants on a finished trace: one verdict for
    // every way of running.
    ("judge", &["profile", "scenario", "trace", "invariants"]),
    (
        "client",
        &[
            "topic",
            "wire",
            "packet_json",
            "broker",
            "scenario",
            "trace",
        ],
    ),
    (
        "sim",
        &[
            "wire", "broker", "profile", "scenario", "trace", "judge", "client",
        ],
    ),
    // A directory of scenarios against a broker, for a broker's own tests.
    ("suite", &["error", "scenario", "trace", "sim"]),
    // Golden-trace testing: run twice and compare, snapshots.
    ("golden", &["scenario", "trace", "sim"]),
    ("mutants", &["broker", "scenario", "trace", "sim"]),
    ("diagram", &["wire", "packet_json", "scenario", "trace"]),
    ("pcap", &["wire", "broker", "scenario", "trace", "sim"]),
    (
        "live",
        &[
            "wire", "broker", "profile", "scenario", "trace", "judge", "client", "sim",
        ],
    ),
    // Many runs of one scenario: seeds over threads, shards and their
    // merge, shrinking a failing seed.
    (
        "explore",
        &["packet_json", "scenario", "trace", "sim", "live"],
    ),
];

/// The top-level module a file of `src/` belongs to: `src/x.rs` and
/// `src/x/...` are `x`. The crate root and the binary are above every layer.
fn top_module(file: &str) -> Option<&str> {
    let rest = file.strip_prefix("src/")?;
    let top = match rest.split_once('/') {
        Some((dir, _)) => dir,
        None => rest.strip_suffix(".rs")?,
    };
    (!matches!(top, "lib" | "main" | "cli")).then_some(top)
}

/// The top-level modules `code` names through `crate::` paths, with the
/// line of each: `crate::x::...` and each first segment of
/// `crate::{x, y::z}`. `super::` paths never leave a top-level module
/// (that is what `crate::` is for), so they are not read.
fn crate_imports(code: &str) -> Vec<(usize, String)> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `mqtt_sim_crate::` or the like
        }
        let line = code[..i].lines().count().max(1);
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Only the first segment of each top-level item of the group.
            let mut depth = 0;
            let mut item_start = true;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        found.push((line, ident(&group[k..])));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.push((line, ident(rest)));
        }
    }
    found
}

#[test]
fn the_crate_imports_of_a_file_are_found() {
    let code = "use crate::wire::Packet;\nuse crate::{scenario::{A, B}, trace};\nfn f() { crate::sim::run(); }";
    let names: Vec<(usize, String)> = crate_imports(code);
    let names: Vec<(usize, &str)> = names.iter().map(|(l, n)| (*l, n.as_str())).collect();
    assert_eq!(
        names,
        [(1, "wire"), (2, "scenario"), (2, "trace"), (3, "sim")]
    );
    assert_eq!(top_module("src/invariants/will.rs"), Some("invariants"));
    assert_eq!(top_module("src/topic.rs"), Some("topic"));
    assert_eq!(top_module("src/main.rs"), None);
    assert_eq!(top_module("src/cli/run.rs"), None);
}

#[test]
fn the_layer_table_only_points_down() {
    for (i, (module, allowed)) in LAYERS.iter().enumerate() {
        for a in *allowed {
            let below = LAYERS[..i].iter().any(|(m, _)| m == a);
            assert!(
                below,
                "LAYERS: `{module}` may import `{a}`, which is not listed before it"
            );
        }
    }
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let mut bad = Vec::new();
    let mut unplaced = std::collections::BTreeSet::new();
    for f in rust_files(&["src/"]) {
        let Some(module) = top_module(&f) else {
            continue;
        };
        let Some((_, allowed)) = LAYERS.iter().find(|(m, _)| *m == module) else {
            unplaced.insert(module.to_string());
            continue;
        };
        for (line, import) in crate_imports(&code_only(&read(&f))) {
            let known = LAYERS.iter().any(|(m, _)| *m == import);
            if import != module && known && !allowed.contains(&import.as_str()) {
                bad.push(format!("{f}:{line}: `{module}` imports `crate::{import}`"));
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "top-level modules missing from LAYERS in tests/tidy.rs (place each \
         in the table, above what it imports): {unplaced:?}"
    );
    assert!(
        bad.is_empty(),
        "imports against the layers (tests/tidy.rs, LAYERS; ARCHITECTURE.md): \
         move the shared part down, or pass it in from above:\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_source_file_says_what_it_holds() {
    let bad: Vec<String> = rust_files(&["src/", "tests/", "benches/", "examples/"])
        .into_iter()
        .filter(|f| !read(f).trim_start().starts_with("//!"))
        .collect();
    assert!(
        bad.is_empty(),
        "source files that do not start with a `//!` comment saying what they hold:\n{}",
        bad.join("\n")
    );
}

/// Names of files that documents use as examples of what a user writes,
/// not as files of this repository.
const EXAMPLE_FILES: &[&str] = &[
    "report.md",
    "run.md",
    // docs/ci.md: what a broker's own repository writes.
    "mqtt-sim-report.md",
    "tests/mqtt_sim.rs",
];

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
