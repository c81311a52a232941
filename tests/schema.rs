//! `mqtt-sim schema`: the committed schema is the one the binary prints,
//! every valid scenario and docs example validates against it, and
//! files that are invalid for a reason the schema can see are rejected.

use std::path::{Path, PathBuf};
use std::process::Command;

use mqtt_sim::scenario;
use serde_json::Value;

mod markdown;
use markdown::{DOCS, FRAGMENT, complete, yaml_blocks};

const COMMITTED: &str = "docs/scenario.schema.json";

/// Files of tests/bad-scenarios that the schema alone rejects, an unknown
/// key or a value of the wrong kind, each with where the mistake is. The
/// others are wrong in ways only the loader sees (a host that does not
/// exist, an option of the other protocol, a range backwards, a limit).
const REJECTED: &[(&str, &str)] = &[
    ("bad-hex.yaml", "/clients/a/steps/1/send/hex"),
    (
        "bridge-unknown-direction.yaml",
        "/brokers/edge/bridge/topics/0/direction",
    ),
    (
        "bad-payload-form.yaml",
        "/clients/a/steps/1/publish/payload",
    ),
    ("bad-protocol.yaml", "/protocol"),
    ("bad-within-one-bound.yaml", "/expect/0/within"),
    ("bare-number-duration.yaml", "/duration"),
    ("field-of-another-packet.yaml", "/expect/0/recv/topic"),
    (
        "matcher-value-wrong-kind.yaml",
        "/expect/0/connack/session_present",
    ),
    ("mqttjs-connack-fields.yaml", "/expect/0/connack/returnCode"),
    (
        "mqttjs-session-present.yaml",
        "/expect/0/connack/sessionPresent",
    ),
    ("negative-seed.yaml", "/seed"),
    ("odd-hex.yaml", "/clients/a/steps/1/send/hex"),
    ("qos-3.yaml", "/clients/a/steps/1/publish/qos"),
    ("step-without-action.yaml", "/clients/a/steps/1"),
    ("two-actions.yaml", "/clients/a/steps/1"),
    (
        "v5-unknown-property.yaml",
        "/clients/a/steps/1/publish/properties/contentType",
    ),
    (
        "v5-property-not-allowed-in-publish.yaml",
        "/clients/a/steps/1/publish/properties/server_keep_alive",
    ),
    (
        "typo-broker-option.yaml",
        "/brokers/broker/keep_alive_factr",
    ),
    ("typo-chaos.yaml", "/chaos/partition"),
    ("typo-client-option.yaml", "/clients/a/clientid"),
    ("typo-closed-field.yaml", "/expect/0/closed/bye"),
    ("typo-expectation-field.yaml", "/expect/0/cuont"),
    ("typo-matcher-field.yaml", "/expect/0/receives/paylod"),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join(COMMITTED)).expect("the schema is committed");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::draft7::new(&schema).unwrap_or_else(|e| panic!("{COMMITTED} is no schema: {e}"))
}

/// The YAML text as the JSON an editor's schema check sees.
fn as_json(yaml: &str) -> Value {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("not YAML: {e}"))
}

/// The schema's complaints about `yaml`, one line each.
fn complaints(v: &jsonschema::Validator, yaml: &str) -> Vec<String> {
    let doc = as_json(yaml);
    v.iter_errors(&doc)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect()
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root().join(dir))
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect()
}

#[test]
fn the_committed_schema_is_what_the_command_prints() {
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .arg("schema")
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).expect("UTF-8");
    let committed = std::fs::read_to_string(root().join(COMMITTED)).unwrap_or_default();
    assert!(
        printed == committed,
        "{COMMITTED} is stale; write it again with `cargo run -- schema -o {COMMITTED}`"
    );
}

#[test]
fn schema_writes_to_a_file_with_output() {
    let dir = std::env::temp_dir().join(format!("mqtt-sim-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("s.json");
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(["schema", "-o"])
        .arg(&file)
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "with -o nothing goes to stdout");
    let written = std::fs::read_to_string(&file).expect("the file is written");
    assert_eq!(written, scenario::schema::schema_text());
    let _ = std::fs::remove_dir_all(&dir);

    let bad = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(["schema", "-o", "/nonexistent-dir/s.json"])
        .output()
        .expect("the binary runs");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("cannot write /nonexistent-dir/s.json"),
        "{err}"
    );
}

#[test]
fn every_valid_scenario_validates() {
    let v = validator();
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in ["scenarios", "tests/fixtures"] {
        for path in yaml_files(dir) {
            if scenario::load(&path).is_err() {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            let errors = complaints(&v, &text);
            if !errors.is_empty() {
                failures.push(format!("{}:\n  {}", path.display(), errors.join("\n  ")));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 60, "only {checked} scenarios found");
}

/// Full examples as written; fragments completed as the docs test loads
/// them.
#[test]
fn every_docs_example_validates() {
    let v = validator();
    let (mut full, mut fragments) = (0, 0);
    let mut failures = Vec::new();
    for doc in DOCS {
        let markdown = std::fs::read_to_string(root().join(doc)).expect("the doc exists");
        for (line, block) in yaml_blocks(&markdown) {
            let text = if block.starts_with(FRAGMENT) {
                fragments += 1;
                complete(&block)
            } else {
                full += 1;
                block
            };
            let errors = complaints(&v, &text);
            if !errors.is_empty() {
                failures.push(format!("{doc}:{line}:\n  {}", errors.join("\n  ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        full >= 2 && fragments >= 10,
        "only {full} full examples and {fragments} fragments found"
    );
}

/// Each file is rejected, and only for its mistake: every complaint is
/// about the mistake's place or a map or list around it (a value that may
/// take several forms is reported where the forms part).
#[test]
fn the_schema_rejects_unknown_keys_and_wrong_kinds() {
    let v = validator();
    let mut wrong = Vec::new();
    for (name, mistake) in REJECTED {
        let path = root().join("tests/bad-scenarios").join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            scenario::load(&path).is_err(),
            "{name} loads, so it is no bad scenario"
        );
        let doc = as_json(&text);
        let places: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| e.instance_path().to_string())
            .collect();
        let around = |p: &String| {
            mistake
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if places.is_empty() {
            wrong.push(format!("{name}: accepted"));
        } else if !places.iter().all(around) {
            wrong.push(format!(
                "{name}: complaints at {places:?}, the mistake is at {mistake}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
