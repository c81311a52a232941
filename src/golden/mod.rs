//! Golden-trace testing: what `cargo test` checks for each scenario, as a
//! library. Run it twice with the same seed and require the same trace
//! ([`run_twice`]), then compare the text trace with its snapshot
//! ([`snapshot`]). Both `tests/scenarios.rs` and `mqtt-sim check` use it.

pub mod snapshot;

use std::fmt;

use crate::scenario::Scenario;
use crate::sim::{self, RunOptions};
use crate::trace::{Report, render};

/// A run whose trace was the same both times.
pub struct Checked {
    pub report: Report,
    /// The text trace, as snapshotted.
    pub text: String,
}

/// Two runs with the same seed gave different traces.
#[derive(Debug)]
pub struct Nondeterministic {
    pub seed: u64,
    /// The first differing trace line, 1-based.
    pub line: usize,
    pub first: String,
    pub second: String,
}

impl fmt::Display for Nondeterministic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "two runs with seed {} differ, first at trace line {}:\n{}\n--- second run ---\n{}",
            self.seed, self.line, self.first, self.second
        )
    }
}

impl std::error::Error for Nondeterministic {}

/// Runs `s` twice with `opts` and returns the first run when both traces
/// are identical.
pub fn run_twice(s: &Scenario, opts: &RunOptions) -> Result<Checked, Nondeterministic> {
    let report = sim::run(s, opts);
    let text = render::text(&report);
    let second = render::text(&sim::run(s, opts));
    if text == second {
        return Ok(Checked { report, text });
    }
    let mut first_lines = text.lines();
    let mut second_lines = second.lines();
    let mut line = 1;
    while first_lines.next() == second_lines.next() {
        line += 1;
    }
    Err(Nondeterministic {
        seed: report.seed,
        line,
        first: text,
        second,
    })
}
