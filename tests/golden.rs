//! `mqtt-sim check` and `mqtt-sim new` in a scratch project: a new
//! scenario has no snapshot (exit 1), `check --update` writes one that insta
//! itself then accepts unchanged, a changed trace shows as a line diff
//! (exit 1), and a failed expectation fails the check.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mqtt_sim::golden::{self, snapshot};
use mqtt_sim::scenario;
use mqtt_sim::sim::RunOptions;
use mqtt_sim::trace::{render, select};

fn mqtt_sim(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(args)
        .current_dir(dir)
        .env_remove("MQTT_SIM_SEED")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("NO_COLOR")
        .output()
        .expect("the mqtt-sim binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An empty project directory of its own for one test.
fn project(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch directory can be created");
    dir
}

#[test]
fn new_then_check_update_writes_a_snapshot_insta_accepts() {
    let dir = project("check-round-trip");
    let out = mqtt_sim(&dir, &["new", "demo/case"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file = dir.join("scenarios/demo/case.yaml");
    let written = std::fs::read_to_string(&file).expect("new wrote the file");

    let again = mqtt_sim(&dir, &["new", "demo/case"]);
    assert_eq!(again.status.code(), Some(2), "new refuses to overwrite");
    assert_eq!(
        std::fs::read_to_string(&file).ok().as_deref(),
        Some(written.as_str())
    );

    for cmd in ["validate", "run"] {
        let out = mqtt_sim(&dir, &[cmd, "scenarios/demo/case.yaml"]);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", text(&out.stdout));
    }

    let out = mqtt_sim(&dir, &["check"]);
    assert_eq!(out.status.code(), Some(1), "no snapshot yet");
    assert!(
        text(&out.stdout).contains("no snapshot at"),
        "{}",
        text(&out.stdout)
    );

    let out = mqtt_sim(&dir, &["check", "--update"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let snap = dir.join("snapshots/demo/case.snap");
    let bytes = std::fs::read(&snap).expect("check --update wrote the snapshot");

    let out = mqtt_sim(&dir, &["check", "scenarios"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // insta reads what check wrote: same fields, same contents.
    let s = scenario::load(&file).expect("the skeleton loads");
    let trace = golden::run_twice(&s, &RunOptions::default())
        .expect("the skeleton is deterministic")
        .text;
    let read = insta::Snapshot::from_file(&snap).expect("insta reads the file");
    assert_eq!(read.metadata().source(), Some(snapshot::SOURCE));
    assert_eq!(
        read.metadata().input_file(),
        Some("scenarios/demo/case.yaml")
    );
    let contents = read.as_text().map(ToString::to_string);
    assert_eq!(contents.as_deref(), Some(trace.trim_end()));

    // ... and insta's own assertion accepts it and leaves it as it is.
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir.join("snapshots/demo"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(&file);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!("case", trace));
    assert_eq!(std::fs::read(&snap).ok(), Some(bytes));
}

#[test]
fn a_changed_trace_is_shown_as_a_diff_and_fails() {
    let dir = project("check-diff");
    assert_eq!(mqtt_sim(&dir, &["new", "case"]).status.code(), Some(0));
    assert_eq!(
        mqtt_sim(&dir, &["check", "--update"]).status.code(),
        Some(0)
    );
    let snap = dir.join("snapshots/case.snap");
    let old = std::fs::read_to_string(&snap).expect("written");
    let edited = old.replace("payload=\"21.5\"", "payload=\"20.0\"");
    assert_ne!(edited, old);
    std::fs::write(&snap, &edited).expect("writable");

    let out = mqtt_sim(&dir, &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("the trace differs"), "{stdout}");
    assert!(
        stdout.contains(
            "-  1.000s  sensor    send       PUBLISH topic=\"demo/temperature\" payload=\"20.0\""
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "+  1.000s  sensor    send       PUBLISH topic=\"demo/temperature\" payload=\"21.5\""
        ),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\x1b'),
        "no colour when not a terminal: {stdout}"
    );

    let forced = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .arg("check")
        .current_dir(&dir)
        .env("CLICOLOR_FORCE", "1")
        .env_remove("NO_COLOR")
        .output()
        .expect("runs");
    assert!(text(&forced.stdout).contains("\x1b["), "colour when forced");

    assert_eq!(
        mqtt_sim(&dir, &["check", "--update"]).status.code(),
        Some(0)
    );
    assert_eq!(std::fs::read_to_string(&snap).ok(), Some(old));
}

#[test]
fn a_failed_expectation_fails_the_check_and_is_not_snapshotted() {
    let dir = project("check-failed");
    std::fs::create_dir_all(dir.join("scenarios")).expect("creatable");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cli/false-expectation.yaml");
    std::fs::copy(fixture, dir.join("scenarios/false.yaml")).expect("copyable");
    let out = mqtt_sim(&dir, &["check", "--update"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FAIL scenarios/false.yaml: the run failed"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL  line 11"), "{stdout}");
    assert!(!dir.join("snapshots/false.snap").exists());
}

#[test]
fn an_invalid_file_exits_2_with_its_snippet() {
    let dir = project("check-invalid");
    std::fs::create_dir_all(dir.join("scenarios")).expect("creatable");
    std::fs::write(
        dir.join("scenarios/bad.yaml"),
        "duration: 10\nbrokers: {b: {}}\nclients: {a: {}}\n",
    )
    .expect("writable");
    let out = mqtt_sim(&dir, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--> scenarios/bad.yaml:1:11"), "{stderr}");
    assert!(stderr.contains("^^"), "{stderr}");
}

const CROWD: &str = "duration: 1s\nbrokers: {broker: {}}\nclients:\n  c-{i}:\n    count: 5\n    steps: [{connect: {}}]\n";

fn parse_ok(yaml: &str) -> Result<scenario::Scenario, String> {
    scenario::parse(yaml, Path::new("s.yaml")).map_err(|e| e.to_string())
}

#[test]
fn a_snapshot_view_is_the_summary_and_the_chosen_clients() {
    let s = parse_ok(&format!(
        "{CROWD}snapshot:\n  summary: true\n  clients: [c-3]\n"
    ))
    .expect("the scenario loads");
    let report = mqtt_sim::sim::run_here(&s, s.seed);
    let view = select::snapshot(&s, &report);
    let whole = render::text(&report);
    assert!(view.starts_with(&select::summary(&s, &report)), "{view}");
    assert!(view.contains("\n== c-3\n"), "{view}");
    assert!(view.contains("c-3 "), "{view}");
    assert!(!view.contains("c-2 "), "{view}");
    assert!(whole.contains("c-2 "), "{whole}");
    // Without `snapshot:` the view is the whole trace.
    let plain = parse_ok(CROWD).expect("the scenario loads");
    assert_eq!(select::snapshot(&plain, &report), whole);
}

/// A scenario whose `snapshot:` names a shorter view is compared with that
/// view, as `cargo test` compares it: the scale scenarios pass `check`.
#[test]
fn check_compares_the_view_a_snapshot_key_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = mqtt_sim(root, &["check", "scenarios/scale"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("3 passed, 0 failed"), "{stdout}");
}
