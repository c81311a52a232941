//! `run --target`, `run --target-cmd` and `report` as a user meets them:
//! skips, exit codes and the table. Nothing here waits for a live run.

use std::process::{Command, Output};

fn mqtt_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("MQTT_SIM_SEED")
        .output()
        .expect("the mqtt-sim binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Port 9 (discard) is not listening; a skipped scenario never connects.
const NOWHERE: &str = "tcp://127.0.0.1:9";

#[test]
fn skips_are_reported_with_reasons_and_counted_and_alone_exit_0() {
    let out = mqtt_sim(&[
        "run",
        "scenarios/keepalive/pings-keep-connection.yaml",
        "tests/fixtures/live/broker-crash.yaml",
        "--target",
        NOWHERE,
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("skipped: lasts 600s of real time, over --duration-max 60s"),
        "{stdout}"
    );
    assert!(
        stdout.contains("`crash: broker` needs a broker the harness starts"),
        "{stdout}"
    );
    assert!(stderr.contains("0 passed, 0 failed, 2 skipped"), "{stderr}");
}

#[test]
fn target_and_target_cmd_together_are_a_usage_error() {
    let out = mqtt_sim(&[
        "run",
        "scenarios/pubsub/qos0.yaml",
        "--target",
        NOWHERE,
        "--target-cmd",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not both"));
}

#[test]
fn a_broker_command_that_exits_fails_the_run() {
    let out = mqtt_sim(&[
        "run",
        "scenarios/pubsub/qos0.yaml",
        "--target-cmd",
        "exit 3",
        "--target-name",
        "broken",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("the broker command exited at once"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("FAILED scenarios/pubsub/qos0.yaml against broken"));
}

#[test]
fn report_writes_a_table_with_a_column_and_a_summary_per_target() {
    let dir = std::env::temp_dir().join(format!("mqtt-sim-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let file = dir.join("report.md");
    let target = format!("{NOWHERE}=nowhere");
    let out = mqtt_sim(&[
        "report",
        "tests/fixtures/live",
        "--target",
        "reference",
        "--target",
        &target,
        "-o",
        file.to_str().expect("a UTF-8 temp path"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(&file).expect("the report was written");
    assert!(
        md.contains("| scenario | spec | reference | nowhere |"),
        "{md}"
    );
    assert!(
        md.contains("| `broker-crash` |  | pass | skip: line 13: `crash: broker`"),
        "{md}"
    );
    assert!(
        md.contains("- reference: 1 passed, 0 failed, 0 skipped"),
        "{md}"
    );
    assert!(
        md.contains("- nowhere: 0 passed, 0 failed, 1 skipped"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn target_profile_names_the_target_and_skips_what_it_does_not_speak() {
    let out = mqtt_sim(&[
        "run",
        "scenarios/v5/pubsub-qos1.yaml",
        "--target",
        NOWHERE,
        "--target-profile",
        "aedes",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("skipped: uses MQTT 5.0; the profile `aedes` speaks 3.1.1"),
        "{stdout}"
    );
}

#[test]
fn target_profile_errors_are_usage_errors_that_say_what_to_do() {
    let out = mqtt_sim(&[
        "run",
        "scenarios/pubsub/qos0.yaml",
        "--target-profile",
        "mosquito",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("did you mean `mosquitto`"));
    let out = mqtt_sim(&[
        "run",
        "scenarios/pubsub/qos0.yaml",
        "--target-profile",
        "mosquitto",
        "--target-name",
        "m",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not both"));
}

/// A baseline that lists a scenario as an expected failure makes a skip
/// of it an unexpected result: exit 1, and the line says which.
#[test]
fn report_baseline_exits_1_on_a_result_it_does_not_predict() {
    let dir = std::env::temp_dir().join(format!("mqtt-sim-baseline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let baseline = dir.join("baseline.yaml");
    std::fs::write(
        &baseline,
        "expected_failures:\n  - scenario: broker-crash\n    about: listed to be surprised\n",
    )
    .expect("the baseline is written");
    let target = format!("{NOWHERE}=nowhere");
    let out = mqtt_sim(&[
        "report",
        "tests/fixtures/live",
        "--target",
        &target,
        "--baseline",
        baseline.to_str().expect("a UTF-8 temp path"),
        "-o",
        dir.join("r.md").to_str().expect("a UTF-8 temp path"),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("UNEXPECTED SKIP (listed as an expected failure): broker-crash"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
