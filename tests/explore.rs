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

/// `explore --format json` of the whole range, parsed.
fn json(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = mqtt_sim(args);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", text(&out.stdout)));
    (out.status.code(), doc)
}

fn failing_seeds(doc: &serde_json::Value) -> Vec<u64> {
    doc["failures"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["seed"].as_u64()).collect())
        .unwrap_or_default()
}

#[test]
fn shard_reports_merge_into_what_one_machine_finds() {
    let dir = std::env::temp_dir().join(format!("mqtt-sim-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let whole_args = [
        "explore", MUTANT, "--seeds", "0..12", "--jobs", "2", "--format", "json",
    ];
    let (code, whole) = json(&whole_args);
    assert_eq!(code, Some(1));
    let mut files = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let mut args = whole_args.to_vec();
        args.extend(["--shard", &shard]);
        let out = mqtt_sim(&args);
        let file = dir.join(format!("shard-{k}.json"));
        std::fs::write(&file, &out.stdout).expect("writable");
        files.push(file.to_string_lossy().into_owned());
    }
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let mut args = vec!["explore", "--format", "json", "--merge"];
    args.extend(&files);
    let (code, merged) = json(&args);
    assert_eq!(code, Some(1), "failures make the merge fail");
    assert!(!failing_seeds(&whole).is_empty());
    assert_eq!(failing_seeds(&merged), failing_seeds(&whole));
    for key in ["planned", "done", "passed", "failed"] {
        assert_eq!(merged[key], whole[key], "{key}");
    }
    assert_eq!(merged["missing_shards"], serde_json::json!([]));
    // The failed expectations and replay lines come through unchanged.
    assert_eq!(merged["failures"][0], whole["failures"][0]);
    assert_eq!(
        merged["failures"][0]["replay"],
        format!("mqtt-sim run {MUTANT} --seed {}", failing_seeds(&whole)[0])
    );

    // The text report; a missing shard is named and fails the merge.
    let mut args = vec!["explore", "--merge"];
    args.extend(&files[..2]);
    let out = mqtt_sim(&args);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("missing shards: 3 (of 3)"), "{stdout}");
    assert!(
        stdout.contains("merged 2 of 3 shards of seeds 0..12"),
        "{stdout}"
    );

    // Shards that do not fit together are refused with the reason.
    let other = dir.join("other.json");
    let (_, doc) = json(&[
        "explore", CHAOS, "--seeds", "0..12", "--shard", "3/3", "--format", "json",
    ]);
    std::fs::write(&other, doc.to_string()).expect("writable");
    let mut args = vec!["explore", "--merge"];
    args.extend(&files[..2]);
    let other_s = other.to_string_lossy().into_owned();
    args.push(&other_s);
    let out = mqtt_sim(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the scenario is"),
        "{}",
        text(&out.stderr)
    );
    args.truncate(3);
    args.push(files[0]);
    let out = mqtt_sim(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is also in"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&other, "not json").expect("writable");
    let out = mqtt_sim(&["explore", "--merge", &other_s]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
