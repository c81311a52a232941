//! `mqtt-sim diagram` as a user meets it: files written, exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn mqtt_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("MQTT_SIM_SEED")
        .output()
        .expect("the mqtt-sim binary runs")
}

fn out_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("diagram-cli");
    std::fs::create_dir_all(&dir).expect("create the output directory");
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const FLAPPING: &str = "scenarios/tutorial/duplicate-client-id.yaml";

#[test]
fn svg_is_written_and_a_passing_run_exits_0() {
    let out = out_path("flapping.svg");
    let o = mqtt_sim(&[
        "diagram",
        FLAPPING,
        "--from",
        "2s",
        "--to",
        "5s",
        "-o",
        out.to_str().unwrap_or_default(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let svg = std::fs::read_to_string(&out).expect("the SVG was written");
    roxmltree::Document::parse(&svg).expect("the SVG parses");
    assert!(svg.contains("2.000s to 5.000s"));
}

#[test]
fn html_extension_writes_a_page() {
    let out = out_path("flapping.html");
    let o = mqtt_sim(&["diagram", FLAPPING, "-o", out.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let page = std::fs::read_to_string(&out).expect("the page was written");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"));
}

#[test]
fn mermaid_goes_to_stdout() {
    let o = mqtt_sim(&["diagram", FLAPPING, "--format", "mermaid"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with("sequenceDiagram\n"));
}

#[test]
fn a_failed_run_exits_1_and_still_writes_the_file() {
    let out = out_path("false.svg");
    let o = mqtt_sim(&[
        "diagram",
        "tests/fixtures/cli/false-expectation.yaml",
        "-o",
        out.to_str().unwrap_or_default(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let svg = std::fs::read_to_string(&out).expect("the SVG was written");
    assert!(svg.contains("class=\"failed\""), "{svg}");
}

#[test]
fn bad_arguments_and_files_exit_2() {
    let bad_window = mqtt_sim(&["diagram", FLAPPING, "--from", "2", "--format", "mermaid"]);
    assert_eq!(bad_window.status.code(), Some(2));
    assert!(text(&bad_window.stderr).contains("--from"));
    let reversed = mqtt_sim(&["diagram", FLAPPING, "--from", "5s", "--to", "2s"]);
    assert_eq!(reversed.status.code(), Some(2));
    let unknown_ext = mqtt_sim(&["diagram", FLAPPING, "-o", "out.png"]);
    assert_eq!(unknown_ext.status.code(), Some(2));
    let invalid = mqtt_sim(&[
        "diagram",
        "tests/fixtures/cli/nested-typo.yaml",
        "--format",
        "svg",
    ]);
    assert_eq!(invalid.status.code(), Some(2));
}

#[test]
fn a_window_starting_after_the_end_is_an_error() {
    let o = mqtt_sim(&["diagram", FLAPPING, "--format", "svg", "--from", "20s"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("--from 20s is at or after the end of the run (10s"),
        "{stderr}"
    );
    assert!(o.stdout.is_empty());
}
