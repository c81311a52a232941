//! `mqtt-sim check`: what `cargo test` does with the scenarios, for people
//! without cargo. Each scenario runs twice with its own seed (the traces
//! must be equal), its expectations must hold, and its text trace must
//! match `snapshots/<path under scenarios/>.snap`. `--update` writes new
//! and changed snapshots instead of failing on them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mqtt_sim::check::{self, snapshot};
use mqtt_sim::scenario::{self, Scenario};
use mqtt_sim::sim::RunOptions;
use similar::{ChangeTag, TextDiff};

use super::style::{self, ADDED, DIM, FAIL, OK, REMOVED, paint};
use super::{EXIT_FAILED, EXIT_INVALID};

/// Lines of unchanged context around each change in a snapshot diff.
const DIFF_CONTEXT_LINES: usize = 3;

pub fn check(paths: &[PathBuf], update: bool) -> anyhow::Result<u8> {
    let files = find(paths)?;
    if files.is_empty() {
        anyhow::bail!("no scenario files (*.yaml) under the given paths");
    }
    let mut loaded: Vec<(PathBuf, Scenario)> = Vec::new();
    let mut invalid = false;
    for f in files {
        match scenario::load(&f) {
            Ok(s) => loaded.push((f, s)),
            Err(e) => {
                style::print_error(&e);
                invalid = true;
            }
        }
    }
    if invalid {
        return Ok(EXIT_INVALID);
    }
    let mut failed = 0;
    let mut written = 0;
    for (path, s) in &loaded {
        match check_one(path, s, update)? {
            Outcome::Ok => anstream::println!("{} {}", paint(OK, "ok  "), path.display()),
            Outcome::Written => {
                written += 1;
                anstream::println!("{} {}", paint(OK, "new "), path.display());
            }
            Outcome::Failed(why) => {
                failed += 1;
                anstream::println!("{} {}: {why}", paint(FAIL, "FAIL"), path.display());
            }
        }
    }
    let summary = format!(
        "{} passed, {failed} failed{}",
        loaded.len() - failed,
        if update {
            format!(", {written} snapshots written")
        } else {
            String::new()
        }
    );
    let summary_style = if failed > 0 { FAIL } else { OK };
    anstream::println!("\n{}", paint(summary_style, &summary));
    Ok(if failed > 0 { EXIT_FAILED } else { 0 })
}

enum Outcome {
    Ok,
    Written,
    Failed(String),
}

fn check_one(path: &Path, s: &Scenario, update: bool) -> anyhow::Result<Outcome> {
    let checked = match check::run_twice(s, &RunOptions::default()) {
        Ok(c) => c,
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    if !checked.report.ok() {
        let verdicts: Vec<&str> = checked
            .text
            .lines()
            .filter(|l| {
                l.starts_with("FAIL")
                    || l.starts_with("    closest:")
                    || l.starts_with("harness error")
            })
            .collect();
        return Ok(Outcome::Failed(format!(
            "the run failed (replay: mqtt-sim run {} --seed {})\n{}",
            path.display(),
            checked.report.seed,
            verdicts.join("\n")
        )));
    }
    let Some(place) = snapshot::place(path) else {
        return Ok(Outcome::Failed(format!(
            "not under a `{}` directory, so it has no snapshot",
            snapshot::SCENARIOS_DIR
        )));
    };
    let existing = snapshot::read(&place.snap)
        .with_context(|| format!("cannot read {}", place.snap.display()))?;
    if existing
        .as_ref()
        .is_some_and(|snap| snap.matches(&checked.text))
    {
        return Ok(Outcome::Ok);
    }
    if update {
        snapshot::write(&place.snap, &place.input_file, &checked.text)
            .with_context(|| format!("cannot write {}", place.snap.display()))?;
        return Ok(Outcome::Written);
    }
    Ok(Outcome::Failed(match existing {
        None => format!(
            "no snapshot at {}; read the trace with `mqtt-sim run {}`, then accept it with `mqtt-sim check --update`",
            place.snap.display(),
            path.display()
        ),
        Some(snap) => format!(
            "the trace differs from {} (- snapshot, + this run); accept with `mqtt-sim check --update`\n{}",
            place.snap.display(),
            diff(
                &snapshot::normalize(&snap.contents),
                &snapshot::normalize(&checked.text)
            )
        ),
    }))
}

/// A line diff of `old` against `new`, coloured for the terminal.
fn diff(old: &str, new: &str) -> String {
    let diff = TextDiff::from_lines(old, new);
    let mut out = String::new();
    for (i, group) in diff.grouped_ops(DIFF_CONTEXT_LINES).iter().enumerate() {
        if i > 0 {
            out.push_str(&paint(DIM, "   ..."));
            out.push('\n');
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let line = change.value().trim_end_matches('\n');
                let text = match change.tag() {
                    ChangeTag::Delete => paint(REMOVED, &format!("-  {line}")),
                    ChangeTag::Insert => paint(ADDED, &format!("+  {line}")),
                    ChangeTag::Equal => format!("   {line}"),
                };
                out.push_str(&text);
                out.push('\n');
            }
        }
    }
    out
}

/// The `.yaml` files named or found under `paths`, sorted within each
/// directory so the output order is stable.
fn find(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_file() {
            files.push(p.clone());
            continue;
        }
        if !p.exists() {
            anyhow::bail!("{} does not exist", p.display());
        }
        let found = scenario::find(p).with_context(|| format!("cannot read {}", p.display()))?;
        files.extend(found.into_iter().map(|(_, path)| path));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_marks_changed_lines_only() {
        let out = anstream::adapter::strip_str(&diff("a\nb\nc\n", "a\nx\nc\n")).to_string();
        assert_eq!(out, "   a\n-  b\n+  x\n   c\n");
    }
}
