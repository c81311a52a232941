//! `explore --shrink`: a planted bug found under chaos shrinks to a small
//! explicit fault schedule, written as a scenario file that fails the same
//! way under the bug and passes without it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mqtt_sim::explore::shrink::{self, Size};
use mqtt_sim::mutants::with_mutant;
use mqtt_sim::scenario::write::{self, Header};
use mqtt_sim::scenario::{self, Mutant, Scenario};
use mqtt_sim::sim::{self, RunOptions};
use mqtt_sim::trace::render;

const CHAOS: &str = "scenarios/chaos/qos1-at-least-once.yaml";
const FIXTURE: &str = "tests/fixtures/explore/qos1-at-least-once-mutant.yaml";
const BUG: Mutant = Mutant::DropQueueOnReconnect;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn load(path: &Path) -> Scenario {
    scenario::load(path).unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &Scenario, seed: u64) -> mqtt_sim::trace::Report {
    sim::run(
        s,
        &RunOptions {
            seed: Some(seed),
            ..RunOptions::default()
        },
    )
}

/// A fresh directory under cargo's scratch space for integration tests.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

#[test]
fn chaos_written_out_as_faults_runs_the_same() {
    let s = load(&root().join(CHAOS));
    for seed in [0, 7, 35] {
        let explicit = shrink::explicit(&s, seed);
        assert!(!explicit.chaos.is_on());
        assert!(
            explicit.faults.len() > 5,
            "seed {seed}: {}",
            explicit.faults.len()
        );
        assert_eq!(
            render::text(&run(&explicit, seed)),
            render::text(&run(&s, seed)),
            "seed {seed}"
        );
    }
}

#[test]
fn a_planted_bug_shrinks_to_a_file_that_fails_with_it_and_passes_without() {
    let path = root().join(CHAOS);
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let clean = load(&path);
    let buggy = with_mutant(&clean, Some(BUG));
    let seed = (0..50)
        .find(|&seed| !run(&buggy, seed).ok())
        .expect("the bug fails some seed in 0..50");

    let opts = shrink::Options {
        droppable: Some(write::client_keys(&source)),
        ..shrink::Options::default()
    };
    let o = shrink::shrink(&buggy, seed, &opts, &mut |_| {})
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    assert!(o.needs_faults, "the bug needs a reconnect, so a fault");
    assert!(o.after.faults <= 3, "{:?} -> {:?}", o.before, o.after);
    assert!(o.after.faults < o.before.faults);
    assert!(o.after.steps < o.before.steps, "{:?}", o.after);
    assert!(o.after.duration < o.before.duration, "{:?}", o.after);
    assert!(
        o.runs > 10 && o.limit.is_none(),
        "{} runs, {:?}",
        o.runs,
        o.limit
    );

    let header = Header {
        name: "shrunk",
        about: "from a test",
    };
    let out = scratch("explore_shrink").join("shrunk.yaml");
    // The file is the scenario without the planted bug, as it would be
    // committed: the bug lives in the broker under test, not in the file.
    let committed = with_mutant(&o.scenario, None);
    let text = write::edited(&source, &out, &committed, &header).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&out, &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text.contains("faults:") && !text.contains("chaos"),
        "{text}"
    );

    // The file loads with the normal loader, standalone: its own seed.
    let written = load(&out);
    assert_eq!(written.seed, seed);
    assert_eq!(Size::of(&written), o.after);
    let with_bug = sim::run(&with_mutant(&written, Some(BUG)), &RunOptions::default());
    assert!(
        o.target.in_report(&with_bug, &written),
        "{}\n{}",
        o.target_text,
        render::text(&with_bug)
    );
    let without = sim::run(&written, &RunOptions::default());
    assert!(without.ok(), "{text}\n{}", render::text(&without));
}

#[test]
fn explore_shrink_writes_a_file_per_failing_seed_that_replays_the_failure() {
    let dir = scratch("explore_shrink_cli");
    let out: Output = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args([
            "explore", FIXTURE, "--seeds", "0..4", "--jobs", "2", "--shrink",
        ])
        .arg("--shrink-dir")
        .arg(&dir)
        .current_dir(root())
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let failing: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("FAIL seed "))
        .collect();
    assert!(!failing.is_empty(), "{stdout}");
    for seed in failing {
        assert!(
            stdout.contains(&format!("SHRINK seed {seed}: line ")),
            "{stdout}"
        );
        let file = dir.join(format!("qos1-at-least-once-mutant-seed-{seed}-shrunk.yaml"));
        assert!(
            stdout.contains(&format!("  wrote {}", file.display())),
            "{stdout}"
        );
        // The fixture's mutant is in the file it came from, so in the
        // shrunk file too: `run` fails it.
        let replay = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
            .arg("run")
            .arg(&file)
            .output()
            .expect("the binary runs");
        assert_eq!(replay.status.code(), Some(1), "{stdout}");
    }
    assert!(stdout.contains(" runs in "), "{stdout}");
}

#[test]
fn shrink_refuses_json_reports() {
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args([
            "explore", FIXTURE, "--seeds", "0..2", "--shrink", "--format", "json",
        ])
        .current_dir(root())
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
}

/// A client group is written once for all its members, so the shrinker
/// keeps its steps whole: dropping one member's steps made a file that
/// did not load (a step's `at` past the shortened duration).
#[test]
fn a_scenario_with_a_client_group_shrinks_to_a_file_that_loads() {
    let path = root().join("scenarios/chaos/wills-retained-keep-alive.yaml");
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let buggy = with_mutant(&load(&path), Some(Mutant::HashMatchesSys));
    let seed = 0;
    assert!(!run(&buggy, seed).ok(), "the bug fails seed {seed}");
    let opts = shrink::Options {
        droppable: Some(write::client_keys(&source)),
        ..shrink::Options::default()
    };
    let o = shrink::shrink(&buggy, seed, &opts, &mut |_| {})
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    assert!(o.after.clients < o.before.clients, "{:?}", o.after);
    let header = Header {
        name: "shrunk",
        about: "from a test",
    };
    let out = scratch("explore_shrink_group").join("shrunk.yaml");
    let text = write::edited(&source, &out, &with_mutant(&o.scenario, None), &header)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("dev-{i}"), "the group stays: {text}");
    std::fs::write(&out, &text).unwrap_or_else(|e| panic!("{e}"));
    let written = load(&out);
    let with_bug = sim::run(
        &with_mutant(&written, Some(Mutant::HashMatchesSys)),
        &RunOptions::default(),
    );
    assert!(
        o.target.in_report(&with_bug, &written),
        "{}\n{}",
        o.target_text,
        render::text(&with_bug)
    );
}
