//! `mqtt-sim check`: what `cargo test` does with the scenarios, for people
//! without cargo. Each scenario runs twice with its own seed (the traces
//! must be equal), its expectations must hold, and its text trace must
//! match `snapshots/<path under scenarios/>.snap`. `--update` writes new
//! and changed snapshots instead of failing on them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mqtt_sim::golden::{self, snapshot};
use mqtt_sim::scenario::{self, Scenario};
use mqtt_sim::sim::RunOptions;
use similar::{ChangeTag, TextDiff};

use super::output::outln;
use super::style::{ADDED, DIM, FAIL, OK, REMOVED, paint};
use super::{EXIT_FAILED, EXIT_INVALID, expand, junit, load_all};

/// What `check` does with a snapshot that no scenario file refers to (its
/// scenario was renamed or deleted), as `cargo insta test --unreferenced`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Unreferenced {
    /// List them and carry on.
    Warn,
    /// List them and fail (exit 1).
    Reject,
    /// Delete them and say so.
    Delete,
    /// Say nothing.
    Ignore,
}

/// The flags of `mqtt-sim check`.
#[derive(clap::Args)]
pub struct Args {
    /// Scenario files, or directories to search for them (default: the
    /// `scenarios` directory here or in the nearest directory above).
    paths: Vec<PathBuf>,
    #[command(flatten)]
    options: Options,
}

/// What `check` was asked to do beyond the paths.
#[derive(clap::Args)]
pub struct Options {
    /// Write new and changed snapshots instead of failing on them.
    #[arg(long)]
    pub update: bool,
    // The snapshots were recorded with each scenario's own seed; with
    // another they are not compared (as `MQTT_SIM_SEED=N cargo test` does).
    /// Run every scenario with this seed instead of its own; snapshots
    /// are then not compared, expectations and determinism still are.
    #[arg(long, env = "MQTT_SIM_SEED")]
    pub seed: Option<u64>,
    /// What to do with snapshots that no scenario refers to.
    #[arg(long, value_enum, default_value = "warn")]
    pub unreferenced: Unreferenced,
    /// Also write the results as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// Lines of unchanged context around each change in a snapshot diff.
const DIFF_CONTEXT_LINES: usize = 3;

pub fn check(args: Args) -> anyhow::Result<u8> {
    let (paths, opts) = (args.paths.as_slice(), &args.options);
    if opts.update && opts.seed.is_some() {
        eprintln!(
            "error: --update writes snapshots, which are taken with each scenario's own seed; drop --seed (or MQTT_SIM_SEED)"
        );
        return Ok(EXIT_INVALID);
    }
    let paths = if paths.is_empty() {
        vec![default_dir()?]
    } else {
        paths.to_vec()
    };
    let files = expand(&paths)?;
    if files.is_empty() {
        anyhow::bail!("no scenario files (*.yaml, *.yml) under the given paths");
    }
    let update = opts.update;
    let loaded: Vec<(PathBuf, Scenario)> = match load_all(&files) {
        Ok(scenarios) => files.into_iter().zip(scenarios).collect(),
        Err(code) => return Ok(code),
    };
    let mut failed = 0;
    let mut written = 0;
    let mut cases = Vec::new();
    for (path, s) in &loaded {
        let outcome = match check_one(path, s, opts)? {
            Outcome::Ok(notes) => {
                outln!("{} {}", paint(OK, "ok  "), path.display());
                (junit::Outcome::Pass, notes)
            }
            Outcome::Written(notes) => {
                written += 1;
                outln!("{} {}", paint(OK, "new "), path.display());
                (junit::Outcome::Pass, notes)
            }
            Outcome::Failed(why) => {
                failed += 1;
                outln!("{} {}: {why}", paint(FAIL, "FAIL"), path.display());
                let message = why.lines().next().unwrap_or_default().to_string();
                (junit::Outcome::Fail { message, text: why }, Vec::new())
            }
        };
        let (outcome, notes) = outcome;
        cases.push(junit::Case {
            name: path.display().to_string(),
            outcome,
            notes,
        });
    }
    if let Some(file) = &opts.junit {
        let suite = junit::Suite {
            name: mqtt_sim::sim::TARGET_REFERENCE.to_string(),
            cases,
        };
        junit::write(file, &[suite])?;
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
    outln!("\n{}", paint(summary_style, &summary));
    let orphans_failed = orphans(&paths, opts.unreferenced)?;
    Ok(if failed > 0 || orphans_failed {
        EXIT_FAILED
    } else {
        0
    })
}

/// Without paths: the `scenarios` directory of the working directory or
/// of the nearest directory above it that has one, so that `check` works
/// from anywhere inside a project.
fn default_dir() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    // Relative, so that paths print as they do when given.
    cwd.ancestors()
        .enumerate()
        .find(|(_, d)| d.join(snapshot::SCENARIOS_DIR).is_dir())
        .map(|(up, _)| PathBuf::from("../".repeat(up)).join(snapshot::SCENARIOS_DIR))
        .with_context(|| {
            format!(
                "no `{}` directory here or above {}; give the scenario files or directories",
                snapshot::SCENARIOS_DIR,
                cwd.display()
            )
        })
}

/// Finds the snapshots under the snapshot directories of the checked
/// directories that belong to no scenario file, and handles them as
/// `how` says. Returns whether that fails the check.
fn orphans(paths: &[PathBuf], how: Unreferenced) -> anyhow::Result<bool> {
    if how == Unreferenced::Ignore {
        return Ok(false);
    }
    let mut found: Vec<PathBuf> = Vec::new();
    for dir in paths.iter().filter(|p| p.is_dir()) {
        let dir =
            std::fs::canonicalize(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        // A scenario directory's snapshots mirror it under `snapshots`.
        let Some(snaps) = snapshot::place(&dir.join("x.yaml"))
            .and_then(|p| p.snap.parent().map(Path::to_path_buf))
        else {
            continue;
        };
        if !snaps.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&snaps).sort_by_file_name() {
            let entry = entry.with_context(|| format!("cannot read {}", snaps.display()))?;
            let name = entry.file_name().to_string_lossy();
            let Some(stem) = name
                .strip_suffix(".snap")
                .or_else(|| name.strip_suffix(".snap.new"))
            else {
                continue;
            };
            // The directory also holds other tests' snapshots (those of
            // tests/bad-scenarios); only scenario traces are ours.
            let ours = snapshot::read(entry.path())
                .ok()
                .flatten()
                .is_some_and(|snap| snap.field("source") == Some(snapshot::SOURCE));
            if !ours {
                continue;
            }
            let rel = entry.path().strip_prefix(&snaps).unwrap_or(entry.path());
            let scenario = dir.join(rel);
            let exists = scenario::EXTENSIONS
                .iter()
                .any(|ext| scenario.with_file_name(format!("{stem}.{ext}")).is_file());
            if !exists && !found.iter().any(|f| f == entry.path()) {
                found.push(entry.path().to_path_buf());
            }
        }
    }
    for f in &found {
        if how == Unreferenced::Delete {
            std::fs::remove_file(f).with_context(|| format!("cannot delete {}", f.display()))?;
            outln!("deleted unreferenced snapshot {}", f.display());
        } else {
            let style = if how == Unreferenced::Reject {
                FAIL
            } else {
                DIM
            };
            outln!(
                "{} {}: no scenario file refers to it; `--unreferenced delete` removes it",
                paint(style, "unreferenced snapshot"),
                f.display()
            );
        }
    }
    Ok(how == Unreferenced::Reject && !found.is_empty())
}

/// What checking one scenario came to; a run that passed carries the
/// lines that neither passed nor failed it ([`junit::notes`]).
enum Outcome {
    Ok(Vec<String>),
    Written(Vec<String>),
    Failed(String),
}

fn check_one(path: &Path, s: &Scenario, opts: &Options) -> anyhow::Result<Outcome> {
    let run = RunOptions {
        seed: opts.seed,
        ..RunOptions::default()
    };
    let checked = match golden::run_twice(s, &run) {
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
                    || l.starts_with("    event:")
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
    let notes = junit::notes(&checked.report);
    if opts.seed.is_some_and(|seed| seed != s.seed) {
        // The snapshot was taken with the scenario's own seed.
        return Ok(Outcome::Ok(notes));
    }
    // Canonical, so that a path given from inside `scenarios/` (or with
    // `..`) still finds its snapshot.
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let Some(place) = snapshot::place(&canonical) else {
        return Ok(Outcome::Failed(format!(
            "not under a `{}` directory, so it has no snapshot",
            snapshot::SCENARIOS_DIR
        )));
    };
    let existing = snapshot::read(&place.snap)
        .with_context(|| format!("cannot read {}", place.snap.display()))?;
    if existing
        .as_ref()
        .is_some_and(|snap| snap.matches(&checked.view))
    {
        return Ok(Outcome::Ok(notes));
    }
    if opts.update {
        snapshot::write(&place.snap, &place.input_file, &checked.view)
            .with_context(|| format!("cannot write {}", place.snap.display()))?;
        return Ok(Outcome::Written(notes));
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
                &snapshot::normalize(&checked.view)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_marks_changed_lines_only() {
        let out = anstream::adapter::strip_str(&diff("a\nb\nc\n", "a\nx\nc\n")).to_string();
        assert_eq!(out, "   a\n-  b\n+  x\n   c\n");
    }
}
