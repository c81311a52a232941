//! The verdict on a finished run, judged from its trace alone: the
//! scenario's expectations that apply to the target, and the protocol
//! invariants it turns on. Every path that runs a scenario (the simulation,
//! a live broker over TCP, the replaced engine in the benchmark) ends here,
//! so that none can judge a trace differently.

use std::time::Duration;

use crate::invariants::{self, Run};
use crate::scenario::Scenario;
use crate::trace::{Event, Report, expect, tolerance};

/// The clock a run was recorded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Simulated time: every `within` window is exact, and so are the
    /// invariants' timing bounds.
    Simulated,
    /// Wall-clock time against a real broker: each `within` window is
    /// widened by `tolerance` on both sides, and the invariants' timing
    /// bounds gain [`invariants::LIVE_LATENCY_SLACK`].
    Live { tolerance: Duration },
}

/// What a run left behind, before it is judged.
#[derive(Debug)]
pub struct Ending {
    pub seed: u64,
    /// When the run ended, in its own clock.
    pub end: Duration,
    pub events: Vec<Event>,
    /// Events dropped over [`crate::trace::EVENTS_MAX`].
    pub dropped: usize,
    /// Why the harness could not complete the run, if it could not.
    pub harness_error: Option<String>,
}

/// Judges a finished run against `target` (the name `only_for`/`not_for`
/// and broker profiles know it by). No invariant is judged on a run the
/// harness could not complete: its trace stops short, so a missing
/// delivery there says nothing about the broker.
pub fn judge(scenario: &Scenario, target: &str, clock: Clock, ending: Ending) -> Report {
    let Ending {
        seed,
        end,
        events,
        dropped,
        harness_error,
    } = ending;
    let verdicts = match clock {
        Clock::Simulated => expect::check_all(&scenario.expect, &events, target),
        Clock::Live { tolerance } => {
            tolerance::check_all(&scenario.expect, &events, target, tolerance)
        }
    };
    let violations = if harness_error.is_some() {
        Vec::new()
    } else {
        let mut run = Run::new(scenario, &events, target);
        run.live = matches!(clock, Clock::Live { .. });
        invariants::violations(&run)
    };
    Report {
        seed,
        end,
        events,
        dropped,
        verdicts,
        violations,
        harness_error,
    }
}
