//! `mqtt-sim coverage` as a user meets it, on small fixture directories
//! whose figures are counted by hand in the comments; and the force the
//! statements give: every binding invariant rests on a MUST, and every
//! `not_for: [<broker>]` on a deviation the broker's profile documents.

use std::process::{Command, Output};

fn mqtt_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the mqtt-sim binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const TAGGED: &str = "tests/fixtures/coverage/tagged";

/// The fixture list has six statements: MQTT-3.8.4-1, 3.8.4-2, 3.10.4-5
/// (server), 4.8.0-1 (both), 3.1.0-1 (client), 7.1.1-1 (neither). The
/// tagged scenarios cover 3.8.4-1 (a and sub/b), 3.1.0-1 (a), 4.8.0-1 and
/// 7.1.1-1 (sub/b). Server-side: 3.8.4-1 and 4.8.0-1 of four, 50%.
#[test]
fn the_share_matches_a_hand_count() {
    let out = mqtt_sim(&[
        "coverage",
        "tests/fixtures/coverage/tagged",
        "--spec-dir",
        "tests/fixtures/coverage/spec",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}{stdout}", text(&out.stderr));
    assert!(stdout.contains("6 statements"), "{stdout}");
    assert!(stdout.contains("3 scenarios"), "{stdout}");
    assert!(
        stdout.contains("covered  server   MQTT-3.8.4-1   a, sub/b\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("covered  both     MQTT-4.8.0-1   sub/b\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-        server   MQTT-3.8.4-2\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("all statements: 4 of 6 covered"),
        "{stdout}"
    );
    assert!(
        stdout.contains("server-side statements (server or both): 2 of 4 covered (50.0%)"),
        "{stdout}"
    );
}

/// Against the vendored 3.1.1 list, the same tags cover the same two
/// server-side statements of the table's 102 (68 server + 34 both).
#[test]
fn the_vendored_list_is_the_default() {
    let out = mqtt_sim(&["coverage", "tests/fixtures/coverage/tagged"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("141 statements in the built-in mqtt-3.1.1-statements.tsv"),
        "{stdout}"
    );
    assert!(stdout.contains("2 of 106 covered (1.9%)"), "{stdout}");
}

#[test]
fn uncovered_lists_only_the_uncovered_with_their_text() {
    let out = mqtt_sim(&[
        "coverage",
        "tests/fixtures/coverage/tagged",
        "--spec-dir",
        "tests/fixtures/coverage/spec",
        "--uncovered",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("-        server   MQTT-3.10.4-5  Even where no Topic Subscriptions"),
        "{stdout}"
    );
    assert!(!stdout.contains("covered  server"), "{stdout}");
}

#[test]
fn an_unknown_id_is_an_error_that_names_the_scenario() {
    let out = mqtt_sim(&["coverage", "tests/fixtures/coverage/typo"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    // The scenario does not load: the id is checked with the rest of the file.
    assert!(
        stderr.contains("error: `MQTT-3.8.4-99` is not a normative statement of MQTT 3.1.1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("tests/fixtures/coverage/typo/c.yaml:1:22"),
        "{stderr}"
    );
    // The report is still printed.
    assert!(text(&out.stdout).contains("0 scenarios"));
}

/// The statement lists are built in: coverage works from any directory.
#[test]
fn coverage_works_outside_the_repository() {
    let dir = std::env::temp_dir();
    let scenarios = format!(
        "{}/tests/fixtures/coverage/tagged",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(["coverage", &scenarios])
        .current_dir(&dir)
        .output()
        .expect("the mqtt-sim binary runs");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("2 of 106 covered (1.9%)"), "{stdout}");
}

#[test]
fn a_missing_spec_dir_exits_2() {
    let out = mqtt_sim(&["coverage", TAGGED, "--spec-dir", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--spec-dir"));
}

/// 5.0 has its own applicability table: the share is of the 5.0
/// statements classified `server` or `both`, counted here from the table
/// itself; 3.1.1 scenarios do not count (ids mean other things in 5.0).
#[test]
fn five_point_oh_has_a_server_share_of_its_own() {
    let table = mqtt_sim::coverage::parse_applicability(mqtt_sim::coverage::TABLE_V5)
        .expect("the 5.0 table parses");
    let server = table.values().filter(|r| r.applies.to_server()).count();
    let out = mqtt_sim(&[
        "coverage",
        "tests/fixtures/coverage/tagged",
        "--protocol",
        "5.0",
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("not in the applicability table"),
        "{stderr}"
    );
    assert!(stdout.contains("0 scenarios"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "server-side statements (server or both): 0 of {server} covered (0.0%)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("-        both     MQTT-1.5.4-1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-        client   MQTT-3.1.0-1"),
        "{stdout}"
    );
}

/// The repository's own scenarios use only known ids.
#[test]
fn the_scenarios_have_no_unknown_ids() {
    let out = mqtt_sim(&["coverage"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A binding invariant rests on a MUST in each version it judges (a version
/// with no ids is one the rule does not exist in), and every id it cites
/// for a version is in that version's statement list: the same number can
/// mean another duty in the other version.
#[test]
fn every_binding_invariant_rests_on_a_must_of_each_version_it_judges() {
    use mqtt_sim::scenario::Force;
    use mqtt_sim::wire::{LEVEL_V5, LEVEL_V311};
    for inv in mqtt_sim::invariants::ALL {
        let mut judged = 0;
        for level in [LEVEL_V311, LEVEL_V5] {
            let ids = inv.spec.at(level);
            let list = mqtt_sim::coverage::statements(level);
            for id in ids {
                assert!(
                    list.iter().any(|s| s.id == *id),
                    "{} cites {id}, which is not in the list of protocol level {level}",
                    inv.name
                );
            }
            if inv.force == Force::Binding && !ids.is_empty() {
                judged += 1;
                assert!(
                    ids.iter()
                        .any(|id| list.iter().any(|s| s.id == *id && s.is_binding())),
                    "{} cites no MUST statement of protocol level {level}",
                    inv.name
                );
            }
        }
        assert!(
            inv.force != Force::Binding || judged > 0,
            "{} is binding but cites nothing",
            inv.name
        );
    }
}

/// `not_for: [<broker>]` is for a deviation from a MUST that the broker's
/// profile documents, never for optional behaviour: each such expectation
/// is binding and cites a statement its profile's `deviations:` list.
#[test]
fn not_for_a_broker_rests_on_a_deviation_its_profile_documents() {
    use mqtt_sim::profile::{Profile, REFERENCE};
    use mqtt_sim::scenario::{self, Force};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for (name, path) in scenario::find(&dir).expect("scenarios/ is readable") {
        let s = scenario::load(&path).expect("every scenario loads");
        for e in &s.expect {
            for broker in e.not_for.iter().flatten().filter(|b| *b != REFERENCE) {
                let profile = Profile::load(broker).expect("a shipped profile");
                let documented = profile
                    .deviations
                    .iter()
                    .flat_map(|d| &d.spec)
                    .any(|id| e.spec.contains(id));
                assert!(
                    e.force == Force::Binding && documented,
                    "{name} line {}: not_for: [{broker}] without a binding spec id that \
                     profiles/{broker}.yaml lists under deviations",
                    e.line
                );
            }
        }
    }
}

/// Every statement id the project cites (scenarios, broker profiles, the
/// source: invariants, broker, client, wire) is in the statement list of
/// 3.1.1 or 5.0, so a report never names a statement that does not exist.
/// The coverage tests' own made-up ids are left out.
#[test]
fn every_cited_statement_id_is_in_a_statement_list() {
    use mqtt_sim::coverage::statements;
    use mqtt_sim::wire::{LEVEL_V5, LEVEL_V311};
    let known: std::collections::BTreeSet<&str> = statements(LEVEL_V311)
        .iter()
        .chain(statements(LEVEL_V5))
        .map(|s| s.id.as_str())
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut unknown = Vec::new();
    let mut cited = 0;
    for dir in ["scenarios", "profiles", "src"] {
        for entry in walkdir::WalkDir::new(root.join(dir)).sort_by_file_name() {
            let entry = entry.expect("the tree is readable");
            let path = entry.path();
            let wanted = path
                .extension()
                .is_some_and(|e| e == "rs" || e == "yaml" || e == "yml");
            if !entry.file_type().is_file() || !wanted || path.ends_with("coverage/tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(path).expect("a text file");
            for (i, _) in text.match_indices("MQTT-") {
                let tail: String = text[i + 5..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
                    .collect();
                let id = format!("MQTT-{}", tail.trim_end_matches(['.', '-']));
                let id = id.as_str();
                if !mqtt_sim::coverage::is_id(id) {
                    continue;
                }
                cited += 1;
                if !known.contains(id) {
                    unknown.push(format!("{}: {id}", path.display()));
                }
            }
        }
    }
    assert!(cited > 300, "only {cited} citations found");
    assert!(
        unknown.is_empty(),
        "ids in no statement list:\n{}",
        unknown.join("\n")
    );
}
