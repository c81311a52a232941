//! `mqtt-sim explore`: a planted broker bug is found, and the printed
//! replay line reproduces the failing run; sharding, the determinism check
//! and the exit codes.

use std::path::Path;
use std::process::{Command, Output};

use mqtt_sim::scenario;
use mqtt_sim::sim::{self, RunOptions};
use mqtt_sim::trace::render;

const MUTANT: &str = "tests/fixtures/explore/qos1-at-least-once-mutant.yaml";
const CHAOS: &str = "scenarios/chaos/qos1-at-least-once.yaml";
const FLAPPING: &str = "scenarios/chaos/flapping-under-partitions.yaml";

fn mqtt_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_planted_bug_is_found_and_its_replay_line_reproduces_the_failure() {
    let out = mqtt_sim(&["explore", MUTANT, "--seeds", "0..12", "--jobs", "2"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // The first failing seed: its failed expectations and its replay line.
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or_default();
    let seed: u64 = first
        .strip_prefix("FAIL seed ")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    let block: Vec<&str> = lines.take_while(|l| l.starts_with("  ")).collect();
    let failed: Vec<&str> = block
        .iter()
        .filter_map(|l| l.strip_prefix("  line "))
        .collect();
    assert!(!failed.is_empty(), "{stdout}");
    let replay = block
        .iter()
        .find_map(|l| l.strip_prefix("  replay: mqtt-sim "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(replay, format!("run {MUTANT} --seed {seed}"));

    let args: Vec<&str> = replay.split(' ').collect();
    let again = mqtt_sim(&args);
    assert_eq!(again.status.code(), Some(1));
    let trace = text(&again.stdout);
    assert_eq!(trace, text(&mqtt_sim(&args).stdout), "replays agree");
    for f in &failed {
        let (line, rest) = f.split_once(": ").unwrap_or_default();
        assert!(
            trace
                .lines()
                .any(|l| l.starts_with("FAIL") && l.contains(&format!("line {line}: {rest}"))),
            "replay lacks the failure `{f}`:\n{trace}"
        );
    }
    // The very run explore made, rendered: the replay printed exactly it.
    let s = scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(MUTANT))
        .unwrap_or_else(|e| panic!("{e}"));
    let report = sim::run(
        &s,
        &RunOptions {
            seed: Some(seed),
            ..RunOptions::default()
        },
    );
    assert_eq!(render::text(&report), trace);
    assert!(!report.ok());

    // Without the planted bug the same seeds pass.
    let clean = mqtt_sim(&["explore", CHAOS, "--seeds", "0..12", "--jobs", "2"]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stdout));
    assert!(text(&clean.stdout).contains("explored 12 of 12 seeds in 0..12: 12 passed, 0 failed"));
}

#[test]
fn fail_fast_stops_taking_seeds() {
    let out = mqtt_sim(&[
        "explore",
        MUTANT,
        "--seeds",
        "0..40",
        "--jobs",
        "1",
        "--fail-fast",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout.matches("FAIL seed").count(), 1, "{stdout}");
    assert!(
        stdout.contains("(stopped at the first failure)"),
        "{stdout}"
    );
}

#[test]
fn shards_split_the_range_and_determinism_is_checked() {
    let out = mqtt_sim(&[
        "explore",
        FLAPPING,
        "--seeds",
        "0..7",
        "--shard",
        "2/3",
        "--check-determinism",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("explored 2 of 2 seeds in 0..7 (shard 2/3): 2 passed, 0 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("every seed run twice"), "{stdout}");
}

#[test]
fn bad_arguments_and_files_exit_2() {
    for args in [
        vec!["explore", FLAPPING, "--seeds", "5..3"],
        vec!["explore", FLAPPING, "--seeds", "x"],
        vec!["explore", FLAPPING, "--shard", "0/3"],
        vec!["explore", FLAPPING, "--shard", "4/3"],
        vec!["explore", "no/such/file.yaml"],
    ] {
        let out = mqtt_sim(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}
