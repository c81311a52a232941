//! Unit tests of spec coverage: statement lists, the applicability table
//! and the coverage computed from tagged scenarios.

use super::*;

fn tagged(scenario: &str, ids: &[&str]) -> Tagged {
    Tagged {
        scenario: scenario.into(),
        ids: ids.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn ids_have_the_spec_shape() {
    assert!(is_id("MQTT-3.8.4-1"));
    assert!(is_id("MQTT-4.7.3-4"));
    for bad in [
        "MQTT-3.8.4",
        "mqtt-3.8.4-1",
        "MQTT-3.8.x-1",
        "MQTT--1",
        "MQTT-3..4-1",
        "",
    ] {
        assert!(!is_id(bad), "{bad}");
    }
}

#[test]
fn the_tsv_gives_ids_and_texts_and_refuses_duplicates() {
    let s = parse_tsv("MQTT-1.2.3-1\tA MUST\n\nMQTT-1.2.3-2\tB MUST\n").unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].id, "MQTT-1.2.3-2");
    assert_eq!(s[1].text, "B MUST");
    assert!(parse_tsv("MQTT-1.2.3-1\tA\nMQTT-1.2.3-1\tB\n").is_err());
    assert!(parse_tsv("not an id\tA\n").is_err());
}

#[test]
fn the_markdown_joins_the_lines_under_each_heading() {
    let s = parse_md("intro\n\n## MQTT-1.5.4-1\nfirst\nline\n\n## MQTT-1.5.4-2\nsecond\n").unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].text, "first line");
    assert_eq!(s[1].text, "second");
}

/// Parses a committed table and checks that it classifies each of
/// `statements` exactly once (a duplicate is a parse error).
fn classifies_each_once(table: &str, statements: &[Statement]) -> BTreeMap<String, Rule> {
    let table = parse_applicability(table).unwrap();
    let mut ids: Vec<&str> = statements.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    let classified: Vec<&str> = table.keys().map(String::as_str).collect();
    assert_eq!(ids, classified);
    table
}

#[test]
fn the_committed_table_classifies_every_vendored_statement_once() {
    let table = classifies_each_once(TABLE_V311, &parse_tsv(STATEMENTS_V311).unwrap());
    // Spot checks of the rule: the subject of the MUST decides.
    assert_eq!(table["MQTT-3.1.0-2"].applies, Applies::Server);
    assert_eq!(table["MQTT-3.1.0-1"].applies, Applies::Client);
    assert_eq!(table["MQTT-4.8.0-1"].applies, Applies::Both);
    assert_eq!(table["MQTT-7.1.1-1"].applies, Applies::Neither);
}

#[test]
fn the_5_0_table_classifies_every_vendored_statement_once() {
    let table = classifies_each_once(TABLE_V5, &parse_md(STATEMENTS_V5).unwrap());
    // Spot checks: the subject of the MUST decides ...
    assert_eq!(table["MQTT-3.1.0-2"].applies, Applies::Server);
    assert_eq!(table["MQTT-3.1.0-1"].applies, Applies::Client);
    assert_eq!(table["MQTT-3.3.4-9"].applies, Applies::Server);
    assert_eq!(table["MQTT-3.3.4-7"].applies, Applies::Client);
    // ... the server sends DISCONNECT in 5.0, so its sender rules bind it ...
    assert_eq!(table["MQTT-3.14.4-2"].applies, Applies::Both);
    // ... and a permission binds no one.
    assert_eq!(table["MQTT-3.1.2-12"].applies, Applies::Neither);
}

#[test]
fn a_table_line_needs_a_known_class_and_a_reason() {
    assert!(parse_applicability("MQTT-1.2.3-1\tserver\twhy\n").is_ok());
    assert!(parse_applicability("MQTT-1.2.3-1\tbroker\twhy\n").is_err());
    assert!(parse_applicability("MQTT-1.2.3-1\tserver\n").is_err());
    assert!(parse_applicability("MQTT-1.2.3-1\tserver\twhy\nMQTT-1.2.3-1\tclient\twhy\n").is_err());
}

#[test]
fn the_share_counts_server_and_both_only_and_reports_typos() {
    let statements =
        parse_tsv("MQTT-1.0.0-1\ts\nMQTT-1.0.0-2\tb\nMQTT-1.0.0-3\tc\nMQTT-1.0.0-4\ts\n").unwrap();
    let table = parse_applicability(
        "MQTT-1.0.0-1\tserver\tr\nMQTT-1.0.0-2\tboth\tr\nMQTT-1.0.0-3\tclient\tr\nMQTT-1.0.0-4\tserver\tr\n",
    )
    .unwrap();
    let c = compute(
        &statements,
        Some(&table),
        &[
            tagged("a", &["MQTT-1.0.0-1", "MQTT-1.0.0-3", "MQTT-1.0.0-1"]),
            tagged("b", &["MQTT-1.0.0-1", "MQTT-9.9.9-9"]),
        ],
    );
    assert_eq!(c.rows[0].scenarios, vec!["a", "b"]);
    assert!(!c.rows[1].covered());
    assert_eq!(
        c.server_share(),
        Some(Share {
            covered: 1,
            total: 3
        })
    );
    assert_eq!(
        c.unknown,
        vec![Unknown {
            scenario: "b".into(),
            id: "MQTT-9.9.9-9".into()
        }]
    );
    let report = text(&c, false);
    assert!(report.contains("1 of 3 covered (33.3%)"), "{report}");
    assert!(
        report.contains("covered  server   MQTT-1.0.0-1  a, b"),
        "{report}"
    );
}

#[test]
fn without_a_table_there_is_no_share_and_a_partial_table_is_reported() {
    let statements = parse_tsv("MQTT-1.0.0-1\ts\nMQTT-1.0.0-2\ts\n").unwrap();
    assert_eq!(compute(&statements, None, &[]).server_share(), None);
    let table = parse_applicability("MQTT-1.0.0-1\tserver\tr\n").unwrap();
    let c = compute(&statements, Some(&table), &[]);
    assert_eq!(c.unclassified, vec!["MQTT-1.0.0-2"]);
    assert_eq!(
        c.server_share(),
        Some(Share {
            covered: 0,
            total: 1
        })
    );
}

#[test]
fn the_built_in_lists_parse() {
    use crate::wire::{LEVEL_V5, LEVEL_V311};
    assert_eq!(
        statements(LEVEL_V311).len(),
        parse_tsv(STATEMENTS_V311).unwrap().len()
    );
    assert_eq!(
        statements(LEVEL_V5).len(),
        parse_md(STATEMENTS_V5).unwrap().len()
    );
    assert!(
        statements(LEVEL_V311)
            .iter()
            .any(|s| s.id == "MQTT-3.1.2-24")
    );
    assert!(statements(LEVEL_V5).iter().any(|s| s.id == "MQTT-3.1.2-24"));
}

#[test]
fn a_statement_binds_when_it_says_must_or_must_not() {
    use crate::wire::{LEVEL_V5, LEVEL_V311};
    let binding = |level, id: &str| {
        super::statements(level)
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.is_binding())
    };
    for id in ["MQTT-3.2.0-1", "MQTT-3.1.2-24", "MQTT-1.5.3-3"] {
        assert_eq!(binding(LEVEL_V311, id), Some(true), "{id}");
    }
    for id in ["MQTT-3.3.1-7", "MQTT-3.8.3-3", "MQTT-3.10.4-1"] {
        assert_eq!(binding(LEVEL_V311, id), Some(false), "{id}");
    }
    for id in ["MQTT-3.1.2-8", "MQTT-3.3.4-2", "MQTT-1.5.4-2"] {
        assert_eq!(binding(LEVEL_V5, id), Some(true), "{id}");
    }
    for id in ["MQTT-3.1.2-12", "MQTT-3.8.3-4"] {
        assert_eq!(binding(LEVEL_V5, id), Some(false), "{id}");
    }
}
