//! The fault timeline: hand-written faults with their times drawn, and how
//! each fault is applied to turmoil.

use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use crate::scenario::{Fault, FaultAction};

/// A fault with its time decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub at: Duration,
    pub action: FaultAction,
}

/// Draws each hand-written fault's time. A `latency` fault keeps its range:
/// the link then draws per message, as `network.latency` does.
pub fn schedule(faults: &[Fault], rng: &mut ChaCha8Rng) -> Vec<Timed> {
    faults
        .iter()
        .map(|f| Timed {
            at: f.at.draw(rng),
            action: f.action.clone(),
        })
        .collect()
}

/// Merges two timelines by time; at equal times `first` goes first, and
/// each list keeps its own order.
pub fn merge(first: Vec<Timed>, second: Vec<Timed>) -> Vec<Timed> {
    let mut all: Vec<(usize, Timed)> = first
        .into_iter()
        .map(|t| (0, t))
        .chain(second.into_iter().map(|t| (1, t)))
        .collect();
    all.sort_by_key(|(list, t)| (t.at, *list));
    all.into_iter().map(|(_, t)| t).collect()
}
