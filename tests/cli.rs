//! The command line as a user meets it: exit codes and what is printed.

use std::path::Path;
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

#[test]
fn a_passing_scenario_exits_0_and_prints_its_trace() {
    let out = mqtt_sim(&["run", "scenarios/tutorial/duplicate-client-id.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("takeover"), "{stdout}");
    assert!(stdout.contains("seed 7: ok"), "{stdout}");
}

#[test]
fn a_false_expectation_exits_1_and_names_its_line() {
    let out = mqtt_sim(&["run", "tests/fixtures/cli/false-expectation.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FAIL  line 11: device recv CONNACK code=5"),
        "{stdout}"
    );
    assert!(stdout.contains("closest:"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("replay: mqtt-sim run tests/fixtures/cli/false-expectation.yaml --seed 0"),
        "{stderr}"
    );
}

#[test]
fn a_typo_in_a_nested_step_exits_2_with_line_and_column() {
    let file = "tests/fixtures/cli/nested-typo.yaml";
    for cmd in ["run", "validate"] {
        let out = mqtt_sim(&[cmd, file]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&format!("{file}:9:")), "{cmd}: {stderr}");
        assert!(stderr.contains("filtr"), "{cmd}: {stderr}");
        assert!(out.stdout.is_empty(), "{cmd}: nothing runs");
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(mqtt_sim(&["run"]).status.code(), Some(2));
    assert_eq!(mqtt_sim(&["frobnicate"]).status.code(), Some(2));
    let out = mqtt_sim(&[
        "run",
        "scenarios/tutorial/persistent-session.yaml",
        "--seed",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = mqtt_sim(&["run", "no/such/file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no/such/file.yaml"));
}

#[test]
fn json_output_is_one_object_per_line() {
    let out = mqtt_sim(&[
        "run",
        "scenarios/will/drop-publishes-will.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let mut saw_will = false;
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        if v["event"] == "recv" && v["packet"]["topic"] == "will/sensor" {
            saw_will = true;
            assert_eq!(v["client"], "observer");
            assert_eq!(v["packet"]["payload"], "gone");
        }
    }
    assert!(saw_will, "{stdout}");
    let last: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("end line");
    assert_eq!(last["event"], "end");
    assert_eq!(last["ok"], true);
}

#[test]
fn list_shows_names_and_spec_ids() {
    let out = mqtt_sim(&["list", "scenarios"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("tutorial/duplicate-client-id.yaml"),
        "{stdout}"
    );
    assert!(stdout.contains("MQTT-3.1.4-2"), "{stdout}");
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .is_dir()
    );
}

#[test]
fn the_seed_flag_and_variable_change_a_latency_range_run() {
    let file = "tests/fixtures/cli/latency-range.yaml";
    let run = |seed: &str| text(&mqtt_sim(&["run", file, "--seed", seed]).stdout);
    assert_eq!(run("1"), run("1"), "same seed, same trace");
    assert_ne!(run("1"), run("2"), "another seed draws other latencies");
    let via_env = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(["run", file])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("MQTT_SIM_SEED", "2")
        .output()
        .expect("runs");
    assert_eq!(text(&via_env.stdout), run("2"));
}
