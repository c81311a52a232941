//! Events, their renderers, and the expectations that read them.
//!
//! The trace is what the harness records from each client's side of the
//! wire, plus faults and the reference broker's notes. A [`Report`] is the
//! trace of one run together with the verdicts on its expectations; it is
//! what `run` prints and what the snapshot holds.

mod event;
pub mod expect;
pub mod render;
pub mod select;
pub mod tolerance;

use std::time::Duration;

pub use event::{Clock, EVENTS_MAX, Event, EventKind, Recorder};
pub use expect::{Outcome, Verdict};

use crate::scenario::Force;

/// The outcome of one run.
#[derive(Debug, Clone)]
pub struct Report {
    pub seed: u64,
    /// Simulated time at which the run ended.
    pub end: Duration,
    pub events: Vec<Event>,
    /// Events dropped over [`EVENTS_MAX`].
    pub dropped: usize,
    pub verdicts: Vec<Verdict>,
    /// Protocol invariants the run broke, judged from the trace alone
    /// whatever the scenario expects. Any one fails the run.
    pub violations: Vec<Violation>,
    /// Set when the harness could not complete the run: a host panicked, or
    /// the wall-clock cap was hit. Such a run fails.
    pub harness_error: Option<String>,
}

impl Report {
    /// A run the harness could not complete: no events, no verdicts, and
    /// the reason, so the run fails.
    pub fn harness_failure(seed: u64, why: String) -> Report {
        Report {
            seed,
            end: Duration::ZERO,
            events: Vec::new(),
            dropped: 0,
            verdicts: Vec::new(),
            violations: Vec::new(),
            harness_error: Some(why),
        }
    }

    /// Whether the run completed and nothing failed it: every expectation
    /// and invariant held, or differs from a reference's choice, or was
    /// left out for the target.
    pub fn ok(&self) -> bool {
        self.harness_error.is_none()
            && self.verdicts.iter().all(|v| v.outcome != Outcome::Fail)
            && self.violations.iter().all(|v| v.outcome != Outcome::Fail)
    }

    /// What made the run fail, one entry per failed expectation, broken
    /// invariant or harness error, in a stable order: two runs fail "the
    /// same way" when these are equal. Empty when the run passed.
    pub fn failures(&self) -> Vec<Failure> {
        let mut out: Vec<Failure> = self
            .verdicts
            .iter()
            .filter(|v| v.outcome == Outcome::Fail)
            .map(|v| Failure::Expectation { line: v.line })
            .collect();
        out.extend(
            self.violations
                .iter()
                .filter(|v| v.outcome == Outcome::Fail)
                .map(|v| Failure::Invariant {
                    name: v.invariant.clone(),
                }),
        );
        if self.harness_error.is_some() {
            out.push(Failure::Harness);
        }
        out.sort();
        out.dedup();
        out
    }
}

/// One protocol invariant broken in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Binding when what was broken is a MUST; a choice when it is a bound
    /// the reference keeps but the spec does not give (how late a close
    /// may come).
    pub force: Force,
    /// `Fail`, or `Differs` for a choice against a target other than the
    /// reference.
    pub outcome: Outcome,
    /// The invariant's stable name, as a scenario's `invariants:` list
    /// names it.
    pub invariant: String,
    /// The spec statements it rests on, e.g. `MQTT-4.3.3-2`.
    pub spec_ids: Vec<String>,
    /// What was broken, in one line.
    pub text: String,
    /// The events that break it, rendered as in the text trace.
    pub events: Vec<String>,
}

/// One reason a run failed, without its details: see [`Report::failures`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failure {
    /// The expectation at this line of the scenario file did not hold.
    Expectation { line: usize },
    /// The named invariant was broken.
    Invariant { name: String },
    /// The harness could not complete the run.
    Harness,
}
