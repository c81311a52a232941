//! `mqtt-sim report`: every scenario under a directory against each target,
//! as a Markdown table of pass, fail and skip with the spec ids, a summary
//! line per target, and what failed: per failed line its spec ids, the
//! closest events with their times, and one line saying what happened.
//!
//! Targets: `reference` runs in simulation; `tcp://HOST:PORT=NAME` runs
//! live against a running broker; `--target-profile NAME|FILE` runs live
//! against a broker the harness starts as the profile says, over `--lanes`
//! lanes at once (each with a broker of its own). A live target takes about
//! the sum of the scenarios' durations, divided by its lanes.
//!
//! `--baseline FILE` compares the one live target's failures with a list of
//! expected failures (a profile's `expected_failures`, or a file with that
//! key): any other failure, and any listed scenario that passes or is
//! skipped (unless marked `timing`), makes the command exit 1.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use mqtt_sim::live::{self, Lane, LiveOptions, Outcome, Target};
use mqtt_sim::profile::{ExpectedFailure, Profile};
use mqtt_sim::scenario::{self, Scenario, duration::parse_duration};
use mqtt_sim::sim::{self, RunOptions, TARGET_REFERENCE};
use mqtt_sim::trace::Report;

use super::output::out;
use super::{EXIT_FAILED, EXIT_INVALID, junit};

/// The most lanes one live target may use.
pub const LANES_MAX: usize = 16;
/// The most failed lines the Markdown shows per scenario and target (the
/// JUnit XML has them all).
const FAIL_LINES_SHOWN_MAX: usize = 8;
/// The most closest events the Markdown shows per failed line.
const CLOSEST_SHOWN_MAX: usize = 6;
/// The most characters of a failure's text in the one-line summary.
const WHAT_HAPPENED_CHARS_MAX: usize = 200;

/// One column of the table.
enum Column {
    Reference,
    Live(Box<LiveOptions>),
}

impl Column {
    fn name(&self) -> &str {
        match self {
            Column::Reference => TARGET_REFERENCE,
            Column::Live(o) => &o.target_name,
        }
    }
}

/// One failed expectation, broken invariant or harness error.
struct FailLine {
    text: String,
    /// The spec ids it rests on, as far as known.
    spec: Vec<String>,
    /// The events that came closest, rendered with their times.
    closest: Vec<String>,
}

/// One cell: what a scenario came to against one target.
enum Cell {
    Pass,
    Fail(Vec<FailLine>),
    Skip(String),
}

/// A row: the scenario's name under the directory, its spec ids, its
/// scenario, one cell per column.
struct Row {
    rel: String,
    spec: Vec<String>,
    scenario: Scenario,
    cells: Vec<Cell>,
}

/// The flags of `mqtt-sim report`.
#[derive(clap::Args)]
pub struct Args {
    dir: PathBuf,
    /// `reference` (the built-in broker, in simulation) or
    /// tcp://HOST:PORT=NAME (a live broker); repeat for each column.
    #[arg(long = "target")]
    targets: Vec<String>,
    /// A live column for a broker the harness starts as this profile
    /// (a shipped profile's name or a file) says; repeatable.
    #[arg(long = "target-profile", value_name = "NAME|FILE")]
    profiles: Vec<String>,
    /// Run each live column's scenarios over this many lanes at once,
    /// each with a broker of its own (only for targets the harness starts).
    #[arg(long, default_value_t = 1)]
    lanes: usize,
    /// Expected failures of the one live target: a profile (name or file)
    /// or a YAML file with an `expected_failures` list. Exit 1 on any
    /// unexpected failure, pass or skip.
    #[arg(long, value_name = "NAME|FILE")]
    baseline: Option<String>,
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
    let tolerance = match parse_duration(&args.tolerance) {
        Ok(t) => t,
        Err(e) => return invalid(&format!("--tolerance: {e}")),
    };
    let duration_max = match parse_duration(&args.duration_max) {
        Ok(t) => t,
        Err(e) => return invalid(&format!("--duration-max: {e}")),
    };
    if args.targets.is_empty() && args.profiles.is_empty() {
        return invalid("give at least one --target or --target-profile");
    }
    if args.lanes == 0 || args.lanes > LANES_MAX {
        return invalid(&format!("--lanes must be 1 to {LANES_MAX}"));
    }
    let columns = match columns(&args, tolerance, duration_max) {
        Ok(c) => c,
        Err(e) => return invalid(&e),
    };
    let baseline = match &args.baseline {
        None => None,
        Some(b) => {
            let live_columns: Vec<usize> = (0..columns.len())
                .filter(|i| matches!(columns[*i], Column::Live(_)))
                .collect();
            let [column] = live_columns[..] else {
                return invalid("--baseline needs exactly one live target");
            };
            match load_baseline(b) {
                Ok(list) => Some((column, list)),
                Err(e) => return invalid(&format!("--baseline: {e}")),
            }
        }
    };
    let dir = args.dir.as_path();
    let found = scenario::find(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    // The live columns' names (a user's own profile, `tcp://...=NAME`) are
    // names `only_for`/`not_for` may use.
    let named: Vec<String> = columns
        .iter()
        .filter_map(|c| match c {
            Column::Live(o) => Some(o.target_name.clone()),
            _ => None,
        })
        .collect();
    let mut rows = Vec::new();
    for (rel, path) in found {
        match scenario::load_with(&path, &named) {
            Ok(s) => rows.push(Row {
                rel,
                spec: s.spec.clone(),
                scenario: s,
                cells: Vec::new(),
            }),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(EXIT_INVALID);
            }
        }
    }
    // An unreachable target is said once, before anything runs, rather
    // than as a failure in every row.
    let scenarios: Vec<Scenario> = rows.iter().map(|r| r.scenario.clone()).collect();
    for c in &columns {
        if let Column::Live(o) = c
            && let Err(e) = super::run::reachable(o, &scenarios)
        {
            eprintln!("error: {e}; nothing was run");
            return Ok(EXIT_FAILED);
        }
    }
    let mut notes = Vec::new();
    for c in &columns {
        let cells = match c {
            Column::Reference => rows
                .iter()
                .map(|r| Cell::of(Outcome::Ran(sim::run(&r.scenario, &RunOptions::default()))))
                .collect(),
            Column::Live(o) => {
                let lanes = if o.starts_broker() { args.lanes } else { 1 };
                let (cells, n) = run_lanes(&rows, o, lanes);
                notes.extend(n.into_iter().map(|n| format!("{}: {n}", o.target_name)));
                cells
            }
        };
        for (row, cell) in rows.iter_mut().zip(cells) {
            row.cells.push(cell);
        }
    }

    if let Some(file) = &args.junit {
        junit::write(file, &junit_suites(&columns, &rows))?;
    }
    let verdict = baseline.as_ref().map(|(i, list)| compare(&rows, *i, list));
    let text = markdown(&args, &columns, &rows, &notes, baseline.as_ref(), tolerance);
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out!("{text}"),
    }
    for n in &notes {
        eprintln!("note: {n}");
    }
    for (i, c) in columns.iter().enumerate() {
        let (p, f, s) = counts(&rows, i);
        eprintln!("{}: {p} passed, {f} failed, {s} skipped", c.name());
    }
    if let Some(lines) = verdict {
        for l in &lines.said {
            eprintln!("{l}");
        }
        if lines.unexpected > 0 {
            eprintln!(
                "{} result(s) differ from the baseline {}",
                lines.unexpected,
                args.baseline.as_deref().unwrap_or_default()
            );
            return Ok(EXIT_FAILED);
        }
    }
    Ok(0)
}

/// Runs every row against one live target over `lanes` lanes, each a
/// thread with a [`Lane`] of its own; longest scenarios first, each to
/// the lane that is free soonest, so that the lanes end together.
fn run_lanes(rows: &[Row], o: &LiveOptions, lanes: usize) -> (Vec<Cell>, Vec<String>) {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(rows[*i].scenario.duration));
    let mut plan: Vec<Vec<usize>> = vec![Vec::new(); lanes];
    let mut load = vec![Duration::ZERO; lanes];
    for i in order {
        if live::skip_reason(&rows[i].scenario, o).is_some() {
            plan[0].push(i);
            continue;
        }
        let lane = (0..lanes).min_by_key(|l| load[*l]).unwrap_or(0);
        load[lane] += rows[i].scenario.duration;
        plan[lane].push(i);
    }
    let results: Vec<Vec<(usize, Cell, Vec<String>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = plan
            .iter()
            .enumerate()
            .map(|(n, indices)| {
                let o = o.clone();
                scope.spawn(move || {
                    let mut lane = Lane::new(o);
                    let mut out = Vec::new();
                    for &i in indices {
                        let outcome = lane.run(&rows[i].scenario);
                        let cell = Cell::of(outcome);
                        eprintln!(
                            "[{} lane {n}] {} {}",
                            lane.options().target_name,
                            cell.word(),
                            rows[i].rel
                        );
                        out.push((i, cell, lane.take_notes()));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut cells: Vec<Option<Cell>> = (0..rows.len()).map(|_| None).collect();
    let mut notes = Vec::new();
    for (i, cell, n) in results.into_iter().flatten() {
        cells[i] = Some(cell);
        notes.extend(n);
    }
    let cells = cells
        .into_iter()
        .map(|c| {
            c.unwrap_or_else(|| {
                Cell::Fail(vec![FailLine {
                    text: "harness error: the lane running it ended early".into(),
                    spec: Vec::new(),
                    closest: Vec::new(),
                }])
            })
        })
        .collect();
    (cells, notes)
}

/// One column per `--target`, then one per `--target-profile`.
fn columns(
    args: &Args,
    tolerance: Duration,
    duration_max: Duration,
) -> Result<Vec<Column>, String> {
    let mut columns = Vec::new();
    let live = |target: Target| {
        let mut o = LiveOptions::new(target);
        o.tolerance = tolerance;
        o.duration_max = duration_max;
        o
    };
    for t in &args.targets {
        if t == TARGET_REFERENCE {
            columns.push(Column::Reference);
            continue;
        }
        let (addr, name) = t.split_once('=').unwrap_or((t, live::TARGET_NAME_DEFAULT));
        let mut o = live(Target::parse_addr(addr)?);
        o.target_name = name.to_string();
        columns.push(Column::Live(Box::new(o)));
    }
    for p in &args.profiles {
        let profile = Profile::load(p).map_err(|e| format!("--target-profile: {e}"))?;
        let Some(start) = profile.start.clone() else {
            return Err(format!(
                "the profile `{}` has no `start`: give --target tcp://HOST:PORT={}",
                profile.name, profile.name
            ));
        };
        let mut o = live(Target::Start(start));
        o.target_name = profile.name.clone();
        o.profile = Some(std::sync::Arc::new(profile));
        columns.push(Column::Live(Box::new(o)));
    }
    Ok(columns)
}

/// The expected failures named by `--baseline`.
fn load_baseline(value: &str) -> Result<Vec<ExpectedFailure>, String> {
    let is_path = value.contains('/') || value.ends_with(".yaml") || value.ends_with(".yml");
    if !is_path {
        return Profile::load(value).map(|p| p.expected_failures);
    }
    #[derive(serde::Deserialize)]
    struct Baseline {
        #[serde(default)]
        expected_failures: Vec<ExpectedFailure>,
    }
    let text = std::fs::read_to_string(value).map_err(|e| format!("{value}: {e}"))?;
    serde_yaml::from_str::<Baseline>(&text)
        .map(|b| b.expected_failures)
        .map_err(|e| format!("{value}: {e}"))
}

/// What the comparison with a baseline said, and how many results it did
/// not expect.
struct Compared {
    said: Vec<String>,
    unexpected: usize,
}

fn compare(rows: &[Row], column: usize, expected: &[ExpectedFailure]) -> Compared {
    let mut said = Vec::new();
    let mut unexpected = 0;
    for e in expected {
        if !rows.iter().any(|r| r.rel == e.scenario) {
            said.push(format!(
                "UNKNOWN SCENARIO in the baseline: {} (no such scenario)",
                e.scenario
            ));
            unexpected += 1;
        }
    }
    for r in rows {
        let listed = expected.iter().find(|e| e.scenario == r.rel);
        match (&r.cells[column], listed) {
            (Cell::Fail(lines), None) => {
                said.push(format!("UNEXPECTED FAILURE: {}", r.rel));
                for l in lines {
                    said.push(format!("    {}", l.text));
                }
                unexpected += 1;
            }
            (Cell::Fail(_), Some(_)) => said.push(format!("expected failure: {}", r.rel)),
            (Cell::Pass, Some(e)) if e.timing => said.push(format!(
                "expected failure passed this time (timing-dependent): {}",
                r.rel
            )),
            (Cell::Pass, Some(_)) => {
                said.push(format!(
                    "UNEXPECTED PASS (listed as an expected failure): {}",
                    r.rel
                ));
                unexpected += 1;
            }
            (Cell::Skip(why), Some(_)) => {
                said.push(format!(
                    "UNEXPECTED SKIP (listed as an expected failure): {}: {why}",
                    r.rel
                ));
                unexpected += 1;
            }
            _ => {}
        }
    }
    Compared { said, unexpected }
}

impl Cell {
    /// A run's cell; a failure lists the failed expectations, the broken
    /// invariants and a harness error, each with its spec ids and the
    /// events closest to it.
    fn of(outcome: Outcome) -> Cell {
        match outcome {
            Outcome::Skipped(why) => Cell::Skip(why),
            Outcome::Ran(r) if r.ok() => Cell::Pass,
            Outcome::Ran(r) => Cell::Fail(fail_lines(&r)),
        }
    }

    fn word(&self) -> &'static str {
        match self {
            Cell::Pass => "pass",
            Cell::Fail(_) => "FAIL",
            Cell::Skip(_) => "skip",
        }
    }
}

fn fail_lines(r: &Report) -> Vec<FailLine> {
    let mut out: Vec<FailLine> = r
        .verdicts
        .iter()
        .filter(|v| !v.ok)
        .map(|v| FailLine {
            text: format!("line {}: {}", v.line, v.text),
            spec: spec_ids_in(&v.text),
            closest: v.closest.clone(),
        })
        .collect();
    out.extend(r.violations.iter().map(|v| FailLine {
        text: format!("invariant {}: {}", v.invariant, v.text),
        spec: v.spec_ids.clone(),
        closest: v.events.clone(),
    }));
    if let Some(e) = &r.harness_error {
        out.push(FailLine {
            text: format!("harness error: {e}"),
            spec: Vec::new(),
            closest: Vec::new(),
        });
    }
    out
}

/// The statement ids (`MQTT-3.1.2-24`) a text mentions, in order, once each.
fn spec_ids_in(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (i, _) in text.match_indices("MQTT-") {
        let id: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .collect();
        let id = id.trim_end_matches(['.', '-']).to_string();
        if id.len() > "MQTT-".len() && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// One line: what went wrong, for a broker developer reading the table.
fn what_happened(lines: &[FailLine]) -> String {
    let harness = lines.iter().find(|l| l.text.starts_with("harness error"));
    let first = harness.or(lines.first());
    let mut text = first.map_or_else(String::new, |l| l.text.clone());
    if text.chars().count() > WHAT_HAPPENED_CHARS_MAX {
        text = text
            .chars()
            .take(WHAT_HAPPENED_CHARS_MAX)
            .collect::<String>()
            + "...";
    }
    match lines.len() {
        0 | 1 => text,
        n => format!("{text} (and {} more)", n - 1),
    }
}

fn counts(rows: &[Row], i: usize) -> (usize, usize, usize) {
    let count = |f: fn(&Cell) -> bool| {
        rows.iter()
            .filter(|r| r.cells.get(i).is_some_and(f))
            .count()
    };
    (
        count(|c| matches!(c, Cell::Pass)),
        count(|c| matches!(c, Cell::Fail(_))),
        count(|c| matches!(c, Cell::Skip(_))),
    )
}

/// One suite per target, one case per scenario.
fn junit_suites(columns: &[Column], rows: &[Row]) -> Vec<junit::Suite> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| junit::Suite {
            name: c.name().to_string(),
            cases: rows
                .iter()
                .filter_map(|r| {
                    let outcome = match r.cells.get(i)? {
                        Cell::Pass => junit::Outcome::Pass,
                        Cell::Skip(why) => junit::Outcome::Skip(why.clone()),
                        Cell::Fail(lines) => junit::Outcome::Fail {
                            message: what_happened(lines),
                            text: lines
                                .iter()
                                .flat_map(|l| {
                                    std::iter::once(l.text.clone())
                                        .chain(l.closest.iter().map(|c| format!("    {c}")))
                                })
                                .collect::<Vec<_>>()
                                .join("\n"),
                        },
                    };
                    Some(junit::Case {
                        name: r.rel.clone(),
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
    args: &Args,
    columns: &[Column],
    rows: &[Row],
    notes: &[String],
    baseline: Option<&(usize, Vec<ExpectedFailure>)>,
    tolerance: Duration,
) -> String {
    let mut out = String::new();
    let names: Vec<&str> = columns.iter().map(Column::name).collect();
    let _ = writeln!(out, "# Scenarios against {}\n", names.join(", "));
    let mut flags: Vec<String> = args
        .targets
        .iter()
        .map(|t| format!("--target {t}"))
        .collect();
    flags.extend(
        args.profiles
            .iter()
            .map(|p| format!("--target-profile {p}")),
    );
    if args.lanes > 1 {
        flags.push(format!("--lanes {}", args.lanes));
    }
    if let Some(b) = &args.baseline {
        flags.push(format!("--baseline {b}"));
    }
    let _ = writeln!(
        out,
        "Written by `mqtt-sim report {} {} --tolerance {}ms` (live `within` windows may be off by \
         that much either way). A skip is not a pass: it says why the scenario could not run \
         against that target. A failure marked *expected* is a known bug of that broker, \
         listed in its profile.\n",
        args.dir.display(),
        flags.join(" "),
        tolerance.as_millis()
    );
    let _ = writeln!(out, "## Summary\n");
    for (i, name) in names.iter().enumerate() {
        let (p, f, s) = counts(rows, i);
        let _ = writeln!(out, "- {name}: {p} passed, {f} failed, {s} skipped");
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "\nThe targets' own trouble during the runs:\n");
        for n in notes {
            let _ = writeln!(out, "- {}", cell_text(n));
        }
    }
    let expected = |i: usize, rel: &str| {
        baseline.is_some_and(|(c, list)| *c == i && list.iter().any(|e| e.scenario == rel))
    };
    let _ = writeln!(out, "\n## Results\n");
    let _ = writeln!(out, "| scenario | spec | {} |", names.join(" | "));
    let _ = writeln!(out, "|---|---|{}", "---|".repeat(names.len()));
    for r in rows {
        let shown: Vec<String> = r
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                Cell::Pass => "pass".to_string(),
                Cell::Fail(_) if expected(i, &r.rel) => "**FAIL** (expected)".to_string(),
                Cell::Fail(_) => "**FAIL**".to_string(),
                Cell::Skip(why) => format!("skip: {}", cell_text(why)),
            })
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            r.rel,
            cell_text(&r.spec.join(", ")),
            shown.join(" | ")
        );
    }
    let mut failures = String::new();
    for r in rows {
        for (name, cell) in names.iter().zip(&r.cells) {
            let Cell::Fail(lines) = cell else { continue };
            let _ = writeln!(failures, "\n### `{}` against {name}\n", r.rel);
            let _ = writeln!(
                failures,
                "What happened: {}\n",
                cell_text(&what_happened(lines))
            );
            if !r.spec.is_empty() {
                let _ = writeln!(failures, "Scenario spec: {}\n", r.spec.join(", "));
            }
            for l in lines.iter().take(FAIL_LINES_SHOWN_MAX) {
                let ids = if l.spec.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", l.spec.join(", "))
                };
                let _ = writeln!(failures, "- {}{ids}", cell_text(&l.text));
                if !l.closest.is_empty() {
                    let _ = writeln!(failures, "\n  ```");
                    for c in l.closest.iter().take(CLOSEST_SHOWN_MAX) {
                        let _ = writeln!(failures, "  {}", c.replace('\n', " "));
                    }
                    let _ = writeln!(failures, "  ```\n");
                }
            }
            if lines.len() > FAIL_LINES_SHOWN_MAX {
                let _ = writeln!(
                    failures,
                    "- ... and {} more (all of them in `--junit`, or `mqtt-sim run` on the scenario)",
                    lines.len() - FAIL_LINES_SHOWN_MAX
                );
            }
        }
    }
    if !failures.is_empty() {
        let _ = write!(out, "\n## Failures\n{failures}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_ids_are_found_in_a_failure_text_once_each() {
        assert_eq!(
            spec_ids_in("closed late [MQTT-3.1.2-24]; see MQTT-3.1.2-24, MQTT-4.3.3-2."),
            vec!["MQTT-3.1.2-24".to_string(), "MQTT-4.3.3-2".to_string()]
        );
        assert!(spec_ids_in("no ids here, MQTT- alone").is_empty());
    }

    #[test]
    fn what_happened_is_one_bounded_line_and_prefers_the_harness_error() {
        let line = |t: &str| FailLine {
            text: t.into(),
            spec: Vec::new(),
            closest: Vec::new(),
        };
        let lines = vec![line("line 3: x"), line("harness error: gone")];
        assert_eq!(what_happened(&lines), "harness error: gone (and 1 more)");
        let long = vec![line(&"y".repeat(500))];
        assert!(what_happened(&long).chars().count() <= WHAT_HAPPENED_CHARS_MAX + 3);
    }
}
