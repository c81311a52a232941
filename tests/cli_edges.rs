//! The command line's edges, as a new user hit them: closed pipes, target
//! spellings, `check` from anywhere, `.yml`, directories, JUnit output,
//! deeply nested YAML.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn mqtt_sim_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(args)
        .current_dir(dir)
        .env_remove("MQTT_SIM_SEED")
        .output()
        .expect("the mqtt-sim binary runs")
}

fn mqtt_sim(args: &[&str]) -> Output {
    mqtt_sim_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("mqtt-sim-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        TempDir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("dirs");
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const PASSING: &str = "scenarios/will/drop-publishes-will.yaml";
const FAILING: &str = "tests/fixtures/cli/false-expectation.yaml";

fn scenario_text(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("read")
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    for command in ["list", "schema"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
            .arg(command)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader goes away before the first line, as `| head -0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
        assert!(stderr.is_empty(), "{command}: {stderr}");
        assert_eq!(out.status.code(), Some(1), "{command}");
    }
}

#[test]
fn targets_other_than_tcp_are_usage_errors() {
    for target in [
        "ws://127.0.0.1:8080",
        "ssl://127.0.0.1:8883",
        "127.0.0.1:1883",
        "tcp://:1883",
    ] {
        let out = mqtt_sim(&["run", PASSING, "--target", target]);
        assert_eq!(out.status.code(), Some(2), "{target}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("tcp://HOST:PORT"), "{target}: {stderr}");
        assert!(out.stdout.is_empty(), "{target}: nothing runs");
    }
}

#[test]
fn an_unreachable_target_is_reported_once_before_anything_runs() {
    let out = mqtt_sim(&[
        "run",
        "scenarios/pubsub/qos0.yaml",
        "scenarios/pubsub/qos1.yaml",
        "--target",
        "tcp://127.0.0.1:9",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("not reachable").count(), 1, "{stderr}");
    assert!(stderr.contains("nothing was run"), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
}

#[test]
fn check_honours_seed_and_mqtt_sim_seed() {
    let out = mqtt_sim(&["check", FAILING, "--seed", "42"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("--seed 42)"),
        "{}",
        text(&out.stdout)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(["check", FAILING])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("MQTT_SIM_SEED", "43")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("--seed 43)"),
        "{}",
        text(&out.stdout)
    );
    // Snapshots are taken with each scenario's own seed: another seed
    // checks expectations and determinism only.
    let out = mqtt_sim(&["check", PASSING, "--seed", "99"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = mqtt_sim(&["check", PASSING, "--seed", "99", "--update"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn yml_files_are_scenarios_too_and_directories_are_accepted() {
    let tmp = TempDir::new("yml");
    tmp.write("scenarios/a/one.yml", &scenario_text(PASSING));
    tmp.write("scenarios/a/two.yaml", &scenario_text(PASSING));
    let list = mqtt_sim_in(&tmp.0, &["list"]);
    assert_eq!(list.status.code(), Some(0));
    let listed = text(&list.stdout);
    assert!(listed.contains("a/one.yml  "), "{listed}");
    assert!(listed.contains("a/two.yaml  "), "{listed}");
    for cmd in ["validate", "run"] {
        let out = mqtt_sim_in(&tmp.0, &[cmd, "scenarios/a"]);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", text(&out.stderr));
    }
    let out = mqtt_sim_in(&tmp.0, &["validate", "scenarios"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("one.yml") && stdout.contains("two.yaml"),
        "{stdout}"
    );
}

#[test]
fn check_works_from_inside_the_project_and_finds_unreferenced_snapshots() {
    let tmp = TempDir::new("check-anywhere");
    tmp.write("scenarios/p/x.yaml", &scenario_text(PASSING));
    let out = mqtt_sim_in(&tmp.0, &["check", "--update"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let snap = tmp.0.join("snapshots/p/x.snap");
    assert!(snap.is_file());
    let inside = tmp.0.join("scenarios/p");
    let out = mqtt_sim_in(&inside, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = mqtt_sim_in(&inside, &["check", "x.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a path from inside: {}",
        text(&out.stdout)
    );

    // The scenario is renamed: its old snapshot is reported...
    std::fs::rename(inside.join("x.yaml"), inside.join("y.yaml")).expect("rename");
    let out = mqtt_sim_in(&tmp.0, &["check", "--update"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("unreferenced snapshot"),
        "{}",
        text(&out.stdout)
    );
    let out = mqtt_sim_in(&tmp.0, &["check", "--unreferenced", "reject"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    // ... and deleted on request, and only it.
    let out = mqtt_sim_in(&tmp.0, &["check", "--unreferenced", "delete"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(!snap.exists());
    assert!(tmp.0.join("snapshots/p/y.snap").is_file());
}

#[test]
fn new_with_an_extension_does_not_double_it() {
    let tmp = TempDir::new("new-ext");
    let out = mqtt_sim_in(&tmp.0, &["new", "demo/x.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(tmp.0.join("scenarios/demo/x.yaml").is_file());
    assert!(!tmp.0.join("scenarios/demo/x.yaml.yaml").exists());
}

#[test]
fn an_empty_seed_set_is_a_usage_error() {
    for args in [
        &["--seeds", "5..5"][..],
        &["--seeds", "0..2", "--shard", "3/4"],
    ] {
        let mut all = vec!["explore", PASSING];
        all.extend_from_slice(args);
        let out = mqtt_sim(&all);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn diagram_without_output_does_not_write_svg_to_the_terminal() {
    let out = mqtt_sim(&["diagram", PASSING]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("-o FILE"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn deep_nesting_is_refused_at_once_with_a_short_error() {
    let tmp = TempDir::new("deep");
    let deep = format!(
        "name: x\nduration: 1s\nbrokers: {{b: {}{}}}\n",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let file = tmp.write("deep.yaml", &deep);
    let out = mqtt_sim(&["validate", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("deeper than 64 levels"), "{stderr}");
    assert!(stderr.len() < 2_000, "{} bytes of error", stderr.len());
}

#[test]
fn check_writes_junit_with_one_case_per_scenario_and_the_verdicts() {
    let tmp = TempDir::new("junit");
    let xml_path = tmp.0.join("check.xml");
    let out = mqtt_sim(&[
        "check",
        PASSING,
        FAILING,
        "--junit",
        xml_path.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&xml_path).expect("the XML was written");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 2, "{xml}");
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1, "{xml}");
    let failure = failures[0].text().unwrap_or_default();
    assert!(
        failure.contains("line 11: device recv CONNACK code=5"),
        "{xml}"
    );
    assert!(!failure.contains('\u{1b}'), "no terminal colours");
    let suites = doc.root_element();
    assert_eq!(suites.attribute("tests"), Some("2"));
    assert_eq!(suites.attribute("failures"), Some("1"));
}

#[test]
fn report_writes_junit_with_a_suite_per_target() {
    let tmp = TempDir::new("report-junit");
    let xml_path = tmp.0.join("report.xml");
    let out = mqtt_sim(&[
        "report",
        "tests/fixtures/live",
        "--target",
        "reference",
        "--target",
        "tcp://127.0.0.1:9=nowhere",
        "--junit",
        xml_path.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let xml = std::fs::read_to_string(&xml_path).expect("the XML was written");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|n| {
            (
                n.attribute("name").unwrap_or_default().to_string(),
                n.attribute("tests").unwrap_or_default().to_string(),
                n.attribute("skipped").unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        suites,
        [
            ("reference".into(), "1".into(), "0".into()),
            ("nowhere".into(), "1".into(), "1".into())
        ],
        "{xml}"
    );
}

/// `mutants --chaos-seeds` takes 1 to 40000 seeds; anything else is a
/// usage error that names the range, before any run.
#[test]
fn mutants_chaos_seeds_out_of_range_is_refused() {
    for n in ["0", "40001"] {
        let out = mqtt_sim(&["mutants", "scenarios/chaos", "--chaos-seeds", n]);
        assert_eq!(out.status.code(), Some(2), "{n}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("give 1 to 40000 seeds"),
            "{}",
            text(&out.stderr)
        );
    }
}

/// A scenario file that never ends (a link to /dev/zero) is refused one
/// byte past the size limit, by every command that loads one. The error's
/// snippet used to read the whole file again, and never returned.
#[cfg(unix)]
#[test]
fn an_endless_scenario_file_is_refused_at_once() {
    if !Path::new("/dev/zero").exists() {
        return;
    }
    let dir = TempDir::new("endless");
    let link = dir.0.join("zero.yaml");
    std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
    let link = link.to_string_lossy().into_owned();
    for cmd in ["validate", "run", "check"] {
        let started = std::time::Instant::now();
        let out = mqtt_sim(&[cmd, &link]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = text(&out.stderr);
        assert!(
            err.contains("the file is more than 1048576 bytes"),
            "{cmd}: {err}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{cmd} took {:?}",
            started.elapsed()
        );
    }
}

/// A UTF-8 byte order mark before the first key is read past: the file
/// validates (it was reported as "remove the `---`").
#[test]
fn a_byte_order_mark_is_read_past() {
    let dir = TempDir::new("bom");
    let path = dir.write(
        "bom.yaml",
        "\u{feff}name: bom\nduration: 1s\nbrokers: {broker: {}}\nclients: {c: {steps: [connect: {}]}}\n",
    );
    let out = mqtt_sim(&["validate", &path.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn validate_prints_an_ok_line_per_good_file_and_counts_them() {
    let tmp = TempDir::new("validate-count");
    tmp.write("scenarios/a.yaml", &scenario_text(PASSING));
    tmp.write("scenarios/b.yaml", &scenario_text(PASSING));
    let out = mqtt_sim_in(&tmp.0, &["validate", "scenarios"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ok scenarios/a.yaml"), "{stdout}");
    assert!(stdout.ends_with("2 files valid\n"), "{stdout}");
    tmp.write("scenarios/c.yaml", "duration: 5s\n");
    let out = mqtt_sim_in(&tmp.0, &["validate", "scenarios"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ok scenarios/b.yaml"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.ends_with("1 of 3 files invalid, 2 valid\n"),
        "{stderr}"
    );
}
