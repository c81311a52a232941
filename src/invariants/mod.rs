//! Protocol invariants: the MQTT guarantees that must hold in every run,
//! whatever the network does and whatever the scenario expects, judged
//! from the trace alone so that they judge any target (the reference
//! broker, a plugged-in broker, a real broker over TCP).
//!
//! Each invariant is an [`Invariant`]: a stable name (what a scenario's
//! `invariants:` list names), the spec statements it rests on, and a check
//! that reads a [`Run`] and returns the [`Violation`]s it finds. [`ALL`]
//! lists them; docs/invariants.md says what each assumes.

pub mod connections;
pub mod keep_alive;
pub mod retained;
pub mod session_present;
pub mod will;

use crate::scenario::Scenario;
use crate::trace::{Event, Violation};

/// Violations one invariant reports in one run; beyond this the rest are
/// counted in one last violation, so that a badly broken run stays readable.
pub const VIOLATIONS_PER_INVARIANT_MAX: usize = 10;

/// What an invariant's check reads.
pub struct Run<'a> {
    pub scenario: &'a Scenario,
    pub events: &'a [Event],
    /// The target's name, for `only_for`/`not_for` and broker profiles.
    pub target: &'a str,
}

/// One protocol invariant.
pub struct Invariant {
    /// Stable, kebab-case: `qos1-at-least-once`.
    pub name: &'static str,
    /// The spec statements it rests on, e.g. `MQTT-4.3.3-2`.
    pub spec_ids: &'static [&'static str],
    /// Returns what the run broke; empty when the invariant held.
    pub check: fn(&Run) -> Vec<Violation>,
}

/// Every invariant, in the order they are reported.
pub const ALL: &[Invariant] = &[
    will::WILL,
    keep_alive::KEEP_ALIVE,
    session_present::SESSION_PRESENT,
    retained::RETAINED,
];

/// Looks an invariant up by name.
pub fn by_name(name: &str) -> Option<&'static Invariant> {
    ALL.iter().find(|i| i.name == name)
}
