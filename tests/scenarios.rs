//! One test per scenario file under `scenarios/`. Each test runs the
//! scenario, fails on a failed expectation, runs it a second time with the
//! same seed and requires an identical trace, and compares the text trace
//! with `snapshots/<path>.snap`: the whole trace, or the shorter view the
//! scenario's `snapshot:` names (a summary and a few clients' traces), for
//! scenarios of many clients.
//!
//! `MQTT_SIM_SEED=N` runs every scenario with seed N instead of its own; the
//! snapshots are then not compared, since they were recorded with the file's
//! seed. Accept new or changed snapshots with `INSTA_UPDATE=always` or
//! `cargo insta review`, and read each one first.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use mqtt_sim::golden;
use mqtt_sim::scenario;
use mqtt_sim::sim::RunOptions;

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("scenarios");
    let mut trials = Vec::new();
    let found = scenario::find(&dir).expect("the scenarios directory is readable");
    for (name, path) in found {
        trials.push(Trial::test(name.clone(), move || check(&path, &name)));
    }
    assert!(
        !trials.is_empty(),
        "no scenario files under {}",
        dir.display()
    );
    libtest_mimic::run(&args, trials).exit();
}

fn seed_override() -> Result<Option<u64>, Failed> {
    match std::env::var("MQTT_SIM_SEED") {
        Ok(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("MQTT_SIM_SEED={v} is not a number").into()),
        Err(_) => Ok(None),
    }
}

fn check(path: &PathBuf, name: &str) -> Result<(), Failed> {
    let s = scenario::load(path).map_err(|e| e.to_string())?;
    let seed = seed_override()?;
    let opts = RunOptions {
        seed,
        ..RunOptions::default()
    };
    let checked = golden::run_twice(&s, &opts).map_err(|e| e.to_string())?;
    let text = checked.text;
    if !checked.report.ok() {
        return Err(format!(
            "expectations failed (seed {}):\n{text}",
            checked.report.seed
        )
        .into());
    }
    if seed.is_none() {
        let (dir, file) = name.rsplit_once('/').unwrap_or(("", name));
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("snapshots")
                .join(dir),
        );
        settings.set_prepend_module_to_snapshot(false);
        settings.set_input_file(path);
        settings.set_omit_expression(true);
        let view = checked.view;
        settings.bind(|| insta::assert_snapshot!(file.to_string(), view));
    }
    Ok(())
}
