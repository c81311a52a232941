//! Many clients: client groups end to end, and the views that keep their
//! traces and diagrams readable (`run --client`, `run --summary`, `diagram
//! --client` and its lifeline limit).

use std::path::Path;
use std::process::{Command, Output};

use mqtt_sim::scenario;
use mqtt_sim::sim::{self, RunOptions};
use mqtt_sim::trace::render;
use mqtt_sim::trace::select::DIAGRAM_CLIENTS_MAX;

/// The 20-device version of scenarios/scale/fleet-loses-broker.yaml: the
/// views are checked on a trace a test can spell out.
const FLEET: &str = "tests/fixtures/scale/fleet-loses-broker-20.yaml";

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

/// The host column of each event line of a text trace.
fn hosts(trace: &str) -> Vec<String> {
    trace
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

#[test]
fn each_member_of_a_group_draws_its_own_connect_time() {
    let s = scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(FLEET))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.clients.len(), 21);
    let report = sim::run(&s, &RunOptions::default());
    assert!(report.ok(), "{}", render::text(&report));
    let trace = render::text(&report);
    let mut times: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("send       CONNECT client_id=\"fleet-"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(times.len(), 20, "{trace}");
    times.sort();
    times.dedup();
    assert!(times.len() >= 15, "members share connect times: {times:?}");
}

#[test]
fn run_client_shows_one_member_and_what_concerns_it() {
    let out = mqtt_sim(&["run", FLEET, "--client", "device-7"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let shown = hosts(&stdout);
    assert!(shown.iter().any(|h| h == "device-7"), "{stdout}");
    assert!(
        shown
            .iter()
            .all(|h| ["device-7", "network", "broker"].contains(&h.as_str())),
        "{stdout}"
    );
    // Its fault and the broker's notes about its client id, nobody else's.
    assert_eq!(stdout.matches("fault").count(), 1, "{stdout}");
    assert!(stdout.contains("will of fleet-7 published"), "{stdout}");
    assert!(!stdout.contains("fleet-17"), "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 3);
    assert!(stdout.ends_with("end 8.000s seed 3: ok\n"), "{stdout}");

    // A group's name selects every member; a glob some.
    let all = text(&mqtt_sim(&["run", FLEET, "--client", "device-{i}"]).stdout);
    assert_eq!(all.matches("send       CONNECT").count(), 20);
    let some = text(&mqtt_sim(&["run", FLEET, "--client", "device-1*"]).stdout);
    assert_eq!(
        some.matches("send       CONNECT").count(),
        11,
        "device-1, -10..-19"
    );

    let none = mqtt_sim(&["run", FLEET, "--client", "sensor-1"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none.stderr).contains("matches no client"));
}

#[test]
fn run_summary_counts_instead_of_listing() {
    let out = mqtt_sim(&["run", FLEET, "--summary"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.lines().count() < 15, "{stdout}");
    for line in [
        "a fleet loses its broker: 1 brokers, 21 clients; seed 3, 8.000s simulated",
        "received    CONNACK 21, PINGRESP 20, PUBLISH 20, SUBACK 21",
        "closed      by client 20",
        "faults      partition 20",
        "expect      62 passed, 0 failed",
        "end 8.000s seed 3: ok",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "{line:?} not in\n{stdout}"
        );
    }
    // A failed expectation is listed in full.
    let failing = "tests/fixtures/explore/qos1-at-least-once-mutant.yaml";
    let out = mqtt_sim(&["run", failing, "--summary", "--seed", "0"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  line 72: sub recv PUBLISH"),
        "{stdout}"
    );
}

#[test]
fn a_diagram_of_many_clients_draws_a_window_of_them() {
    let dir = std::env::temp_dir().join(format!("mqtt-sim-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("crowd.yaml");
    let crowd = DIAGRAM_CLIENTS_MAX + 8;
    std::fs::write(
        &file,
        format!(
            "duration: 1s\nbrokers: {{broker: {{}}}}\nclients:\n  c-{{i}}:\n    count: {crowd}\n    steps:\n      - connect: {{}}\n"
        ),
    )
    .expect("writable");
    let file = file.to_string_lossy().into_owned();
    let participants = |out: &Output| text(&out.stdout).matches("participant").count();

    let out = mqtt_sim(&["diagram", &file, "--format", "mermaid"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        participants(&out),
        DIAGRAM_CLIENTS_MAX + 1,
        "and the broker"
    );
    assert!(
        text(&out.stderr).contains(&format!(
            "drawing the first {DIAGRAM_CLIENTS_MAX} of {crowd} clients"
        )),
        "{}",
        text(&out.stderr)
    );
    let out = mqtt_sim(&[
        "diagram", &file, "--format", "mermaid", "--client", "c-39", "--client", "c-2",
    ]);
    assert_eq!(participants(&out), 3, "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("as c-39"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The 20-device version of the thundering herd
/// (tests/fixtures/scale/thundering-herd.yaml, 10,000 devices, measured in
/// release: docs/performance.md): every device is back on its own session
/// after the restart, those that tried while the broker was down included.
#[test]
fn a_restarted_broker_takes_the_whole_fleet_back() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scale/thundering-herd-20.yaml");
    let s = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let report = sim::run(&s, &RunOptions::default());
    let trace = render::text(&report);
    assert!(report.ok(), "{trace}");
    assert_eq!(
        trace.matches("CONNACK session_present").count(),
        40,
        "{trace}"
    );
    // Some tried while it was down and were refused at the restart.
    assert!(trace.contains("connect_failed"), "{trace}");
}

/// The full-size herd: 10,000 devices, run twice with its summary snapshot.
/// Too slow for the debug suite (every scenario walker would run it too,
/// were it under `scenarios/`); run it in release:
/// `cargo test --release --test scale -- --ignored`.
#[test]
#[ignore = "10,000 clients: run in release"]
fn the_thundering_herd_of_ten_thousand() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scale/thundering-herd.yaml");
    let s = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let checked =
        mqtt_sim::golden::run_twice(&s, &RunOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(checked.report.ok(), "{}", checked.view);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/scale"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!("thundering-herd", checked.view));
}
