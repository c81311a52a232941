//! `explore --target-cmd`: each seed's chaos schedule against a real broker
//! (the project's own `serve`, started fresh for every run), in real time:
//! a few seconds per seed.

use std::path::Path;
use std::process::{Command, Output};

const SCENARIO: &str = "tests/fixtures/live-chaos/chaos-short.yaml";

fn serve_cmd() -> String {
    format!(
        "{} serve --listen 127.0.0.1:{{port}}",
        env!("CARGO_BIN_EXE_mqtt-sim")
    )
}

fn explore(file: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .arg("explore")
        .arg(file)
        .args(["--target-cmd", &serve_cmd()])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("mqtt-sim runs")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn seeds_run_live_with_their_drawn_faults_and_pass() {
    let out = explore(Path::new(SCENARIO), &["--seeds", "0..2", "--lanes", "2"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for seed in 0..2 {
        let line = t
            .lines()
            .find(|l| l.starts_with(&format!("seed {seed}: ok (")))
            .unwrap_or_else(|| panic!("no ok line for seed {seed}: {t}"));
        // The drawn partitions were applied: at least one fault each.
        assert!(!line.contains("(0 faults"), "{line}");
    }
    assert!(
        t.contains("2 passed, 0 failed (confirmed), 0 flaky, 0 skipped"),
        "{t}"
    );
}

/// An expectation that fails on every run: the seed is rerun, confirmed,
/// and written out with its explicit faults, a file that loads and fails
/// the same way in simulation.
#[test]
fn a_failing_seed_is_confirmed_by_reruns_and_written_out() {
    let dir = std::env::temp_dir().join(format!("mqtt-sim-explore-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let file = dir.join("always-fails.yaml");
    let mut text_in = std::fs::read_to_string(SCENARIO).expect("the fixture");
    text_in.push_str("  - {client: sub, receives: {topic: t/a, payload: one}, count: 0}\n");
    std::fs::write(&file, text_in).expect("written");
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .arg("explore")
        .arg(&file)
        .args(["--target-cmd", &serve_cmd()])
        // The target is the reference broker, so every expectation binds
        // (against another broker this one, citing no MUST, would only
        // differ).
        .args([
            "--target-name",
            "reference",
            "--seeds",
            "3",
            "--confirm",
            "1",
        ])
        .arg("--failures-dir")
        .arg(&dir)
        .output()
        .expect("mqtt-sim runs");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("seed 3: FAILED, and again on 1 of 1 reruns"),
        "{t}"
    );
    assert!(t.contains("1 matched, wanted 0"), "{t}");
    let written = dir.join("always-fails-seed-3-live.yaml");
    assert!(t.contains(&format!("wrote {}", written.display())), "{t}");
    let back = mqtt_sim::scenario::load(&written).expect("the written file loads");
    assert!(!back.faults.is_empty(), "the drawn faults are written out");
    assert!(!back.chaos.is_on(), "and chaos is off");
    let sim = mqtt_sim::sim::run(&back, &mqtt_sim::sim::RunOptions::default());
    assert!(!sim.ok(), "it fails in simulation too");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn live_only_flags_without_a_target_and_simulation_only_flags_with_one_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(["explore", SCENARIO, "--lanes", "2"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("mqtt-sim runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("are for live runs"), "{}", text(&out));
    let out = explore(Path::new(SCENARIO), &["--shrink"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("--shrink is for simulated runs"),
        "{}",
        text(&out)
    );
}

/// Every seed refused (the broker needs an option the target is not known
/// to have): nothing ran, which is no pass.
#[test]
fn a_scenario_no_seed_of_which_can_run_live_exits_2() {
    let out = explore(
        Path::new("scenarios/chaos/qos1-at-least-once.yaml"),
        &["--seeds", "0..2"],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("seed 0: skipped: its broker needs persistence: true"),
        "{t}"
    );
    assert!(t.contains("no seed could run"), "{t}");
}
