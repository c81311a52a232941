//! The corpus of broken scenario files under `tests/bad-scenarios/`, one
//! test per file. Each file must be refused by the library with a located
//! scenario error, and by the real binary (`validate`, `run` and `check`) with exit
//! code 2 and exactly the library's snippet on stderr. The snippet is an
//! insta snapshot (`snapshots/bad-scenarios/<name>.snap`): read each one as
//! a reviewer would: is the caret on the mistake, does it say what was
//! expected?

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use mqtt_sim::{ErrorKind, diagnostic, scenario};

/// The issue asks for at least this many different mistakes.
const CORPUS_MIN: usize = 30;

fn main() {
    let args = Arguments::from_args();
    let dir = Path::new("tests/bad-scenarios");
    let mut trials = Vec::new();
    let found = mqtt_sim::scenario::find(dir).expect("tests/bad-scenarios is readable");
    for (name, path) in found {
        trials.push(Trial::test(name.clone(), move || check(&path, &name)));
    }
    assert!(
        trials.len() >= CORPUS_MIN,
        "only {} files in {}; the corpus keeps at least {CORPUS_MIN}",
        trials.len(),
        dir.display()
    );
    libtest_mimic::run(&args, trials).exit();
}

fn check(path: &PathBuf, name: &str) -> Result<(), Failed> {
    let source = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    if !source.starts_with("# mistake: ") {
        return Err("each corpus file starts with `# mistake: <what is wrong>`".into());
    }
    let e = match scenario::load(path) {
        Ok(_) => return Err("the file loads, but it is in the corpus of broken files".into()),
        Err(e) => e,
    };
    if e.kind != ErrorKind::Scenario {
        return Err(format!("wrong kind {:?}: {e}", e.kind).into());
    }
    let loc = e.location.clone().ok_or("the error has no location")?;
    if loc.file != *path || loc.line == 0 || loc.column == 0 {
        return Err(format!("bad location {loc}").into());
    }
    let rendered = diagnostic::render(&e, false);
    if !rendered.contains(&format!(" {loc}\n")) {
        return Err(format!("the snippet does not name {loc}:\n{rendered}").into());
    }
    if loc.line <= source.lines().count() && !rendered.contains('^') {
        return Err(format!("no caret under line {}:\n{rendered}", loc.line).into());
    }
    for cmd in ["validate", "run", "check"] {
        let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
            .args([cmd, &path.to_string_lossy()])
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("MQTT_SIM_SEED")
            .output()
            .map_err(|e| e.to_string())?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(2) {
            return Err(format!("`{cmd}` exited with {:?}:\n{stderr}", out.status).into());
        }
        if stderr != rendered {
            return Err(format!("`{cmd}` printed\n{stderr}\ninstead of\n{rendered}").into());
        }
        if !out.stdout.is_empty() {
            return Err(format!("`{cmd}` printed on stdout").into());
        }
    }
    // Every prefix of a broken file is broken input too: none may panic.
    let mut prefix = String::new();
    for line in source.split_inclusive('\n') {
        prefix.push_str(line);
        let _ = scenario::parse(&prefix, path);
    }
    let mut settings = insta::Settings::clone_current();
    settings
        .set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/bad-scenarios"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(path);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name.to_string(), rendered));
    Ok(())
}
