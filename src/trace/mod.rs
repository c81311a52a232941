//! Events, their renderers, and the expectations that read them.
//!
//! The trace is what the harness records from each client's side of the
//! wire, plus faults and the reference broker's notes. A [`Report`] is the
//! trace of one run together with the verdicts on its expectations; it is
//! what `run` prints and what the snapshot holds.

mod event;
pub mod expect;
pub mod json;
pub mod properties;
pub mod reason;
pub mod render;
pub mod select;

use std::time::Duration;

pub use event::{Clock, EVENTS_MAX, Event, EventKind, Recorder};
pub use expect::Verdict;

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
            harness_error: Some(why),
        }
    }

    /// Whether every expectation held and the run completed.
    pub fn ok(&self) -> bool {
        self.harness_error.is_none() && self.verdicts.iter().all(|v| v.ok)
    }
}
