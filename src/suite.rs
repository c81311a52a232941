//! Running a directory of scenarios against a broker, from a broker's own
//! tests: the stable library surface for using mqtt-sim as a
//! dev-dependency (docs/stability.md says what "stable" promises).
//!
//! A broker implemented in Rust plugs in through [`BrokerUnderTest`] and
//! runs in simulation, deterministically, inside `cargo test`:
//!
//! ```
//! use std::sync::Arc;
//! use mqtt_sim::{sim, suite};
//!
//! // `sim::Reference` is the built-in broker; yours implements
//! // `sim::BrokerUnderTest` (see examples/plug_in_broker.rs).
//! let suite = suite::run_dir("scenarios/tutorial", Arc::new(sim::Reference)).unwrap();
//! assert!(suite.outcomes().len() >= 3);
//! // Fails the test with every unexpected result, each with its reasons.
//! suite.assert_as_expected(&[]);
//! ```
//!
//! A broker that fails some scenarios on purpose lists them, by their path
//! under the directory without `.yaml`, in `assert_as_expected`; one that
//! then passes is reported too, so the list cannot go stale.

#![warn(missing_docs)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::scenario;
use crate::sim::{self, BrokerUnderTest, RunOptions};
use crate::trace::{self, Report};

/// The result of one scenario file.
#[derive(Debug)]
pub struct Outcome {
    /// The file's path under the directory, without `.yaml`:
    /// `session/takeover`.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The run's report, or why the file did not load.
    pub result: Result<Report, Error>,
}

impl Outcome {
    /// Whether the file loaded and its run passed.
    pub fn passed(&self) -> bool {
        matches!(&self.result, Ok(r) if r.ok())
    }

    /// Why it failed, one line per failed expectation, broken invariant or
    /// harness error; empty when it passed.
    pub fn reasons(&self) -> Vec<String> {
        let report = match &self.result {
            Ok(r) => r,
            Err(e) => return vec![format!("does not load: {e}")],
        };
        let mut out: Vec<String> = report
            .verdicts
            .iter()
            .filter(|v| v.failed())
            .map(|v| format!("line {}: {}", v.line, v.text))
            .collect();
        out.extend(
            report
                .violations
                .iter()
                .filter(|v| v.outcome == trace::Outcome::Fail)
                .map(|v| {
                    format!(
                        "invariant {} [{}]: {}",
                        v.invariant,
                        v.spec_ids.join(", "),
                        v.text
                    )
                }),
        );
        out.extend(report.harness_error.iter().map(|e| format!("harness: {e}")));
        out
    }
}

/// The results of a directory of scenarios, in file order.
#[derive(Debug)]
pub struct Suite {
    outcomes: Vec<Outcome>,
}

/// Runs every scenario file under `dir` (sorted by path) against `target`
/// in simulation, each with its own seed. A file that does not load is a
/// failed outcome, not an error; only an unreadable directory is.
pub fn run_dir(dir: impl AsRef<Path>, target: Arc<dyn BrokerUnderTest>) -> std::io::Result<Suite> {
    let mut outcomes = Vec::new();
    for (name, path) in scenario::find(dir.as_ref())? {
        let result = scenario::load(&path)
            .map(|s| sim::run_with(&s, &RunOptions::default(), target.clone()));
        outcomes.push(Outcome { name, path, result });
    }
    Ok(Suite { outcomes })
}

impl Suite {
    /// Every file's outcome, in file order.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// The outcomes that did not pass.
    pub fn failures(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| !o.passed())
    }

    /// What differs from `expected_failures` (names as in
    /// [`Outcome::name`]): scenarios that failed and are not listed, and
    /// listed ones that passed or do not exist. `None` when there is
    /// nothing.
    pub fn unexpected(&self, expected_failures: &[&str]) -> Option<String> {
        let mut out = String::new();
        for o in &self.outcomes {
            let listed = expected_failures.contains(&o.name.as_str());
            if !o.passed() && !listed {
                let _ = writeln!(out, "FAIL {} ({})", o.name, o.path.display());
                for r in o.reasons() {
                    let _ = writeln!(out, "    {r}");
                }
            } else if o.passed() && listed {
                let _ = writeln!(out, "PASS {}: listed as an expected failure", o.name);
            }
        }
        for name in expected_failures {
            if !self.outcomes.iter().any(|o| o.name == *name) {
                let _ = writeln!(out, "NONE {name}: listed, but no such scenario");
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// Panics, listing every unexpected result with its reasons, unless
    /// the scenarios that fail are exactly `expected_failures`.
    pub fn assert_as_expected(&self, expected_failures: &[&str]) {
        if let Some(text) = self.unexpected(expected_failures) {
            let passed = self.outcomes.iter().filter(|o| o.passed()).count();
            panic!(
                "{passed} of {} scenarios passed; unexpected results:\n{text}",
                self.outcomes.len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_or_missing_expected_failure_is_unexpected() {
        let suite = run_dir("scenarios/tutorial", Arc::new(sim::Reference)).unwrap();
        assert!(suite.outcomes().iter().all(Outcome::passed));
        let first = suite.outcomes()[0].name.clone();
        let text = suite.unexpected(&[first.as_str(), "no/such"]).unwrap();
        assert!(text.contains(&format!("PASS {first}: listed")), "{text}");
        assert!(text.contains("NONE no/such"), "{text}");
        assert_eq!(suite.unexpected(&[]), None);
    }

    #[test]
    fn a_file_that_does_not_load_fails_with_its_error() {
        let dir = std::env::temp_dir().join(format!("mqtt-sim-suite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("broken.yaml"), "duration: 1s\n").unwrap();
        let suite = run_dir(&dir, Arc::new(sim::Reference)).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let text = suite.unexpected(&[]).unwrap();
        assert!(text.contains("FAIL broken"), "{text}");
        assert!(text.contains("does not load"), "{text}");
    }
}
