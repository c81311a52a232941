//! The four matcher kinds of the format (counting across clients, presence,
//! comparisons, packet order) each fail when what they state is false: the
//! shipped scenarios show them passing; here the same runs get one
//! expectation more that does not hold, and the run must fail on exactly
//! that line with a verdict that says why.

use std::path::Path;
use std::process::Command;

/// Runs `scenario` with `extra` appended to its `expect:` list (the last
/// key of both files used here); returns the exit code and stdout.
fn run_with(scenario: &str, name: &str, extra: &str) -> (Option<i32>, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(root.join(scenario)).expect("the scenario exists");
    assert!(text.ends_with('\n'), "{scenario} ends with a newline");
    text.push_str(extra);
    let dir = std::env::temp_dir().join(format!("mqtt-sim-matchers-fail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).expect("written");
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .arg("run")
        .arg(&path)
        .output()
        .expect("mqtt-sim runs");
    let _ = std::fs::remove_file(&path);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The verdict lines of a run, without the trace.
fn verdicts(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL "))
        .collect()
}

fn assert_one_failure(out: &str, code: Option<i32>, want: &str) {
    assert_eq!(code, Some(1), "{out}");
    let failed: Vec<&str> = verdicts(out)
        .into_iter()
        .filter(|l| l.starts_with("FAIL "))
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "exactly the added expectation fails: {failed:?}"
    );
    assert!(failed[0].contains(want), "{failed:?} should say {want:?}");
}

const SHARED: &str = "scenarios/pubsub/shared-exactly-one.yaml";
const PRESENCE: &str = "scenarios/v5/match-presence-and-comparisons.yaml";

#[test]
fn counting_across_clients_fails_when_a_message_reaches_fewer_members() {
    let (code, out) = run_with(
        SHARED,
        "across",
        "  - {clients: \"w-{i}\", receives: {topic: jobs, payload: job-1}, count: 2}\n",
    );
    assert_one_failure(&out, code, "1 matched, wanted 2");
}

#[test]
fn presence_fails_when_the_property_is_absent() {
    let (code, out) = run_with(
        PRESENCE,
        "presence",
        "  - {client: named, connack: {properties: {assigned_client_identifier: {present: true}}}, count: 1}\n",
    );
    assert_one_failure(&out, code, "0 matched, wanted 1");
}

#[test]
fn a_comparison_fails_when_the_value_is_out_of_range() {
    let (code, out) = run_with(
        PRESENCE,
        "comparison",
        "  - {client: away, receives: {topic: e/long, properties: {message_expiry_interval: {gt: 59}}}, count: 1}\n",
    );
    assert_one_failure(&out, code, "got 58");
}

#[test]
fn first_fails_on_a_packet_that_is_not_first_on_its_connection() {
    let (code, out) = run_with(
        SHARED,
        "first",
        "  - {client: w-0, recv: {type: SUBACK, first: true}, count: 1}\n",
    );
    assert_one_failure(&out, code, "0 matched, wanted 1");
}

#[test]
fn a_sequence_fails_when_its_packets_came_in_another_order() {
    let (code, out) = run_with(
        SHARED,
        "sequence",
        "  - client: w-0\n    sequence:\n      - receives: {topic: jobs}\n      - recv: {type: SUBACK}\n",
    );
    assert_one_failure(&out, code, "sequence");
}
