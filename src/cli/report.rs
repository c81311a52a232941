//! `mqtt-sim report`: every scenario under a directory against each target,
//! as a Markdown table of pass, fail and skip with the spec ids, a summary
//! line per target, and what failed.
//!
//! Targets: `reference` runs in simulation; `tcp://HOST:PORT=NAME` runs
//! live (in real time, one scenario after another, so a directory of
//! scenarios takes about the sum of their durations).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mqtt_sim::live::{self, LiveOptions, Outcome, Target};
use mqtt_sim::scenario::{self, duration::parse_duration};
use mqtt_sim::sim::{self, RunOptions, TARGET_REFERENCE};

use super::output::out;
use super::{EXIT_INVALID, junit};

/// One column of the table.
enum Column {
    Reference,
    Live(LiveOptions),
}

impl Column {
    fn name(&self) -> &str {
        match self {
            Column::Reference => TARGET_REFERENCE,
            Column::Live(o) => &o.target_name,
        }
    }
}

/// One cell: what a scenario came to against one target.
enum Cell {
    Pass,
    Fail(Vec<String>),
    Skip(String),
}

/// The flags of `mqtt-sim report`.
#[derive(clap::Args)]
pub struct Args {
    dir: PathBuf,
    /// `reference` (the built-in broker, in simulation) or
    /// tcp://HOST:PORT=NAME (a live broker); repeat for each column.
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// Widen `within` windows of live runs by this much on each side.
    #[arg(long, default_value = "500ms")]
    tolerance: String,
    /// Skip live scenarios whose duration is longer.
    #[arg(long, default_value = "60s")]
    duration_max: String,
    /// Where to write the table; stdout without it.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Also write the results as JUnit XML to this file: one test
    /// suite per target, one test case per scenario.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

pub fn report(args: Args) -> anyhow::Result<u8> {
    let Args {
        dir,
        targets,
        tolerance,
        duration_max,
        output,
        junit: junit_file,
    } = args;
    let (dir, targets) = (dir.as_path(), targets.as_slice());
    let (output, junit_file) = (output.as_ref(), junit_file.as_ref());
    let tolerance = match parse_duration(&tolerance) {
        Ok(t) => t,
        Err(e) => return invalid(&format!("--tolerance: {e}")),
    };
    let duration_max = match parse_duration(&duration_max) {
        Ok(t) => t,
        Err(e) => return invalid(&format!("--duration-max: {e}")),
    };
    let columns = match columns(targets, tolerance, duration_max) {
        Ok(c) => c,
        Err(e) => return invalid(&e),
    };

    let mut rows: Vec<(String, Vec<String>, Vec<Cell>)> = Vec::new();
    let found = scenario::find(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut loaded = Vec::new();
    for (rel, path) in found {
        match scenario::load(&path) {
            Ok(s) => loaded.push((rel, s)),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(EXIT_INVALID);
            }
        }
    }
    // An unreachable target is said once, before anything runs, rather
    // than as a failure in every row.
    let scenarios: Vec<_> = loaded.iter().map(|(_, s)| s.clone()).collect();
    for c in &columns {
        if let Column::Live(o) = c
            && let Err(e) = super::run::reachable(o, &scenarios)
        {
            eprintln!("error: {e}; nothing was run");
            return Ok(super::EXIT_FAILED);
        }
    }
    for (rel, s) in loaded {
        let mut cells = Vec::new();
        for c in &columns {
            eprintln!("{rel} against {}", c.name());
            let outcome = match c {
                Column::Reference => Outcome::Ran(sim::run(&s, &RunOptions::default())),
                Column::Live(o) => live::run(&s, o),
            };
            cells.push(Cell::of(outcome));
        }
        rows.push((rel, s.spec.clone(), cells));
    }

    if let Some(file) = junit_file {
        junit::write(file, &junit_suites(&columns, &rows))?;
    }
    let text = markdown(dir, &columns, &rows, targets, tolerance);
    match output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out!("{text}"),
    }
    Ok(0)
}

/// One column per `--target`: the reference broker, or a live broker
/// reached over TCP with the tolerance and duration limit given; the
/// error names a target that is not an address.
fn columns(
    targets: &[String],
    tolerance: std::time::Duration,
    duration_max: std::time::Duration,
) -> Result<Vec<Column>, String> {
    let mut columns = Vec::new();
    for t in targets {
        if t == TARGET_REFERENCE {
            columns.push(Column::Reference);
            continue;
        }
        let (addr, name) = t.split_once('=').unwrap_or((t, live::TARGET_NAME_DEFAULT));
        let mut o = LiveOptions::new(Target::parse_addr(addr)?);
        o.target_name = name.to_string();
        o.tolerance = tolerance;
        o.duration_max = duration_max;
        columns.push(Column::Live(o));
    }
    Ok(columns)
}

impl Cell {
    /// A run's cell; a failure lists the failed expectations, the broken
    /// invariants and a harness error.
    fn of(outcome: Outcome) -> Cell {
        match outcome {
            Outcome::Skipped(why) => Cell::Skip(why),
            Outcome::Ran(r) if r.ok() => Cell::Pass,
            Outcome::Ran(r) => {
                let mut why: Vec<String> = r
                    .verdicts
                    .iter()
                    .filter(|v| !v.ok)
                    .map(|v| format!("line {}: {}", v.line, v.text))
                    .collect();
                why.extend(
                    r.violations
                        .iter()
                        .map(|v| format!("invariant {}: {}", v.invariant, v.text)),
                );
                if let Some(e) = r.harness_error {
                    why.push(format!("harness error: {e}"));
                }
                Cell::Fail(why)
            }
        }
    }
}

/// One suite per target, one case per scenario.
fn junit_suites(
    columns: &[Column],
    rows: &[(String, Vec<String>, Vec<Cell>)],
) -> Vec<junit::Suite> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| junit::Suite {
            name: c.name().to_string(),
            cases: rows
                .iter()
                .filter_map(|(rel, _, cells)| {
                    let outcome = match cells.get(i)? {
                        Cell::Pass => junit::Outcome::Pass,
                        Cell::Skip(why) => junit::Outcome::Skip(why.clone()),
                        Cell::Fail(why) => junit::Outcome::Fail {
                            message: why.first().cloned().unwrap_or_default(),
                            text: why.join("\n"),
                        },
                    };
                    Some(junit::Case {
                        name: rel.clone(),
                        outcome,
                        notes: Vec::new(),
                    })
                })
                .collect(),
        })
        .collect()
}

fn invalid(msg: &str) -> anyhow::Result<u8> {
    eprintln!("error: {msg}");
    Ok(EXIT_INVALID)
}

/// Table cells cannot hold `|` or line breaks.
fn cell_text(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(
    dir: &Path,
    columns: &[Column],
    rows: &[(String, Vec<String>, Vec<Cell>)],
    targets: &[String],
    tolerance: std::time::Duration,
) -> String {
    let mut out = String::new();
    let names: Vec<&str> = columns.iter().map(Column::name).collect();
    let _ = writeln!(out, "# Scenarios against {}\n", names.join(", "));
    let args: Vec<String> = targets.iter().map(|t| format!("--target {t}")).collect();
    let _ = writeln!(
        out,
        "Written by `mqtt-sim report {} {} --tolerance {}ms` (live `within` windows may be off by \
         that much either way). A skip is not a pass: it says why the scenario could not run \
         against that target.\n",
        dir.display(),
        args.join(" "),
        tolerance.as_millis()
    );
    let _ = writeln!(out, "## Summary\n");
    for (i, name) in names.iter().enumerate() {
        let count =
            |f: fn(&Cell) -> bool| rows.iter().filter(|r| r.2.get(i).is_some_and(f)).count();
        let _ = writeln!(
            out,
            "- {name}: {} passed, {} failed, {} skipped",
            count(|c| matches!(c, Cell::Pass)),
            count(|c| matches!(c, Cell::Fail(_))),
            count(|c| matches!(c, Cell::Skip(_)))
        );
    }
    let _ = writeln!(out, "\n## Results\n");
    let _ = writeln!(out, "| scenario | spec | {} |", names.join(" | "));
    let _ = writeln!(out, "|---|---|{}", "---|".repeat(names.len()));
    for (rel, spec, cells) in rows {
        let shown: Vec<String> = cells
            .iter()
            .map(|c| match c {
                Cell::Pass => "pass".to_string(),
                Cell::Fail(_) => "**FAIL**".to_string(),
                Cell::Skip(why) => format!("skip: {}", cell_text(why)),
            })
            .collect();
        let _ = writeln!(
            out,
            "| `{rel}` | {} | {} |",
            cell_text(&spec.join(", ")),
            shown.join(" | ")
        );
    }
    let mut failures = String::new();
    for (rel, _, cells) in rows {
        for (name, cell) in names.iter().zip(cells) {
            if let Cell::Fail(why) = cell {
                let _ = writeln!(failures, "\n### `{rel}` against {name}\n");
                for w in why {
                    let _ = writeln!(failures, "- {}", cell_text(w));
                }
            }
        }
    }
    if !failures.is_empty() {
        let _ = write!(out, "\n## Failures\n{failures}");
    }
    out
}
