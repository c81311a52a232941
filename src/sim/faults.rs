//! The fault timeline: hand-written faults with their times drawn, and how
//! each fault is applied to turmoil.

use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use super::latency::Links;
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

/// What the faults in force are, for `heal: all`.
#[derive(Debug, Default)]
pub struct State {
    /// Partitions in force, in the order they were made.
    partitioned: Vec<(String, String)>,
}

impl State {
    /// Applies one fault to the simulation.
    pub fn apply(&mut self, sim: &mut turmoil::Sim<'_>, links: &mut Links, fault: &FaultAction) {
        match fault {
            FaultAction::Partition { a, b, oneway } => {
                if *oneway {
                    sim.partition_oneway(a.as_str(), b.as_str());
                } else {
                    sim.partition(a.as_str(), b.as_str());
                }
                self.partitioned.push((a.clone(), b.clone()));
            }
            FaultAction::Heal(Some((a, b))) => {
                // turmoil's repair makes both directions healthy, which also
                // ends a one-way partition.
                sim.repair(a.as_str(), b.as_str());
                self.partitioned
                    .retain(|(x, y)| !((x == a && y == b) || (x == b && y == a)));
            }
            FaultAction::Heal(None) => {
                for (a, b) in self.partitioned.drain(..) {
                    sim.repair(a.as_str(), b.as_str());
                }
            }
            FaultAction::Hold(a, b) => sim.hold(a.as_str(), b.as_str()),
            FaultAction::Release(a, b) => sim.release(a.as_str(), b.as_str()),
            FaultAction::Latency { a, b, value } => links.set(a, b, *value),
            FaultAction::Crash(h) => sim.crash(h.as_str()),
            // turmoil's bounce starts the host's software again whether it
            // was crashed or running; a running broker is restarted.
            FaultAction::Restart(h) => sim.bounce(h.as_str()),
        }
    }
}
