//! Protocol invariants: the MQTT guarantees that must hold in every run,
//! whatever the network does and whatever the scenario expects, judged
//! from the trace alone so that they judge any target (the reference
//! broker, a plugged-in broker, a real broker over TCP).
//!
//! Each invariant is an [`Invariant`]: a stable name (what a scenario's
//! `invariants:` list names), the spec statements it rests on, and a check
//! that reads a [`Run`] and returns the [`Violation`]s it finds. [`ALL`]
//! lists them; docs/invariants.md says what each assumes.

mod bridged;
pub mod connections;
mod delivery_matches;
mod dup_on_resend;
pub mod keep_alive;
mod message_expiry;
mod ordering;
mod packet_ids;
mod qos1_at_least_once;
mod qos2_exactly_once;
mod receive_maximum;
mod retain_flag;
pub mod retained;
pub mod session_present;
mod shared_one_member;
mod takeover;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_flow_and_takeover;
mod topic_alias;
pub mod trace_view;
mod unsubscribe;
pub mod will;

use std::cell::OnceCell;
use std::time::Duration;

use crate::broker::TakeoverWill;
use crate::profile::{Behaviour, Profile};
use crate::scenario::{Force, Scenario};
use crate::trace::{Event, Outcome, Violation};

/// Violations one invariant reports in one run; beyond this the rest are
/// counted in one last violation, so that a badly broken run stays readable.
pub const VIOLATIONS_PER_INVARIANT_MAX: usize = 10;

/// What a live run adds to the one-way latency the timing bounds of the
/// connection invariants allow: a real broker runs its timers on a sweep
/// (mosquitto's is about a second: its keep-alive closes and delayed wills
/// come up to a second late), and a real network and scheduler jitter.
pub const LIVE_LATENCY_SLACK: Duration = Duration::from_secs(1);

/// What an invariant's check reads.
pub struct Run<'a> {
    pub scenario: &'a Scenario,
    pub events: &'a [Event],
    /// A run against a real broker over TCP, in wall-clock time: timing
    /// bounds gain [`LIVE_LATENCY_SLACK`].
    pub live: bool,
    /// The target's profile, whose deviations the invariants follow; none
    /// for the reference and for a target without one.
    pub profile: Option<&'a Profile>,
    /// The trace read as packets, flows, wills and shared client ids:
    /// built by the first invariant that asks, then shared by all.
    view: OnceCell<trace_view::View<'a>>,
    /// The connections, faults and timing bounds the connection and
    /// session invariants read, built once like `view`.
    sessions: OnceCell<connections::Sessions<'a>>,
}

impl<'a> Run<'a> {
    pub fn new(scenario: &'a Scenario, events: &'a [Event], profile: Option<&'a Profile>) -> Self {
        Run {
            scenario,
            events,
            live: false,
            profile,
            view: OnceCell::new(),
            sessions: OnceCell::new(),
        }
    }

    /// Whether the target's profile lists the deviation `b`.
    pub fn deviates(&self, b: Behaviour) -> bool {
        self.profile.is_some_and(|p| p.has(b))
    }

    /// What a takeover does with the old connection's will, where the
    /// target's profile says, in place of the scenario's `takeover_will`.
    pub fn takeover_will(&self) -> Option<TakeoverWill> {
        self.profile?
            .deviations
            .iter()
            .find_map(|d| d.behaviour?.takeover_will())
    }

    /// The protocol level `client` is configured with (3.1.1 for a host that
    /// is not one of the scenario's clients, such as a bridge connection).
    pub fn level_of(&self, client: &str) -> u8 {
        self.scenario
            .clients
            .get(client)
            .map_or(crate::wire::LEVEL_V311, |c| c.options.protocol.level())
    }

    /// The trace view every delivery invariant reads, built once per run.
    pub fn view(&self) -> &trace_view::View<'a> {
        self.view.get_or_init(|| trace_view::View::of(self))
    }

    /// The connections view every session invariant reads, built once.
    pub fn sessions(&self) -> &connections::Sessions<'a> {
        self.sessions
            .get_or_init(|| connections::Sessions::of(self))
    }
}

/// The statements an invariant rests on, each version in its own numbering:
/// one number can name another duty in the other version (MQTT-4.3.3-2 is
/// the QoS 2 receiver's duty in 3.1.1 and the sender's in 5.0), so a
/// violation cites the list of its client's protocol version. An empty list
/// means the rule does not exist in that version (the invariant never fires
/// there).
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub v311: &'static [&'static str],
    pub v5: &'static [&'static str],
}

impl Spec {
    /// The same statement numbers in both versions.
    pub const fn both(ids: &'static [&'static str]) -> Spec {
        Spec { v311: ids, v5: ids }
    }

    /// The ids for a connection at protocol `level`.
    pub fn at(&self, level: u8) -> &'static [&'static str] {
        if level == crate::wire::LEVEL_V5 {
            self.v5
        } else {
            self.v311
        }
    }
}

/// One protocol invariant.
pub struct Invariant {
    /// Stable, kebab-case: `qos1-at-least-once`.
    pub name: &'static str,
    /// The spec statements it rests on, e.g. `MQTT-4.3.3-2`, per version.
    pub spec: Spec,
    /// Binding: it checks a MUST of its statements, and a violation fails
    /// any target. A check may still report one violation as the
    /// reference's choice (a timing bound the spec does not give).
    pub force: Force,
    /// Returns what the run broke; empty when the invariant held.
    pub check: fn(&Run) -> Vec<Violation>,
}

/// Every invariant, in the order they are reported.
pub const ALL: &[Invariant] = &[
    Invariant {
        name: qos1_at_least_once::NAME,
        spec: qos1_at_least_once::SPEC,
        force: Force::Binding,
        check: qos1_at_least_once::check,
    },
    Invariant {
        name: qos2_exactly_once::NAME,
        spec: qos2_exactly_once::SPEC,
        force: Force::Binding,
        check: qos2_exactly_once::check,
    },
    Invariant {
        name: ordering::NAME,
        spec: ordering::SPEC,
        force: Force::Binding,
        check: ordering::check,
    },
    Invariant {
        name: packet_ids::NAME,
        spec: packet_ids::SPEC,
        force: Force::Binding,
        check: packet_ids::check,
    },
    Invariant {
        name: unsubscribe::NAME,
        spec: unsubscribe::SPEC,
        force: Force::Binding,
        check: unsubscribe::check,
    },
    Invariant {
        name: delivery_matches::NAME,
        spec: delivery_matches::SPEC,
        force: Force::Binding,
        check: delivery_matches::check,
    },
    will::WILL,
    keep_alive::KEEP_ALIVE,
    session_present::SESSION_PRESENT,
    retained::RETAINED,
    Invariant {
        name: receive_maximum::NAME,
        spec: receive_maximum::SPEC,
        force: Force::Binding,
        check: receive_maximum::check,
    },
    Invariant {
        name: shared_one_member::NAME,
        spec: shared_one_member::SPEC,
        force: Force::Binding,
        check: shared_one_member::check,
    },
    Invariant {
        name: dup_on_resend::NAME,
        spec: dup_on_resend::SPEC,
        force: Force::Binding,
        check: dup_on_resend::check,
    },
    Invariant {
        name: takeover::NAME,
        spec: takeover::SPEC,
        force: Force::Binding,
        check: takeover::check,
    },
    Invariant {
        name: topic_alias::NAME,
        spec: topic_alias::SPEC,
        force: Force::Binding,
        check: topic_alias::check,
    },
    Invariant {
        name: retain_flag::NAME,
        spec: retain_flag::SPEC,
        force: Force::Binding,
        check: retain_flag::check,
    },
    Invariant {
        name: message_expiry::NAME,
        spec: message_expiry::SPEC,
        force: Force::Binding,
        check: message_expiry::check,
    },
    Invariant {
        name: bridged::AT_LEAST_ONCE,
        spec: bridged::AT_LEAST_ONCE_SPEC,
        force: Force::Binding,
        check: bridged::at_least_once,
    },
    Invariant {
        name: bridged::EXACTLY_ONCE,
        spec: bridged::EXACTLY_ONCE_SPEC,
        force: Force::Binding,
        check: bridged::exactly_once,
    },
    Invariant {
        name: bridged::ORDERING,
        spec: bridged::ORDERING_SPEC,
        force: Force::Binding,
        check: bridged::ordering,
    },
    Invariant {
        name: bridged::NO_LOOP,
        spec: bridged::NO_LOOP_SPEC,
        force: Force::Choice,
        check: bridged::no_loop,
    },
];

/// Checks the invariants the scenario turns on (all by default; see
/// `Scenario::invariants`) and returns what the run broke, invariant by
/// invariant in [`ALL`]'s order. Each invariant reports at most
/// [`VIOLATIONS_PER_INVARIANT_MAX`]; one more violation then says how many
/// of its violations were left out.
pub fn violations(run: &Run) -> Vec<Violation> {
    let mut out = Vec::new();
    for inv in ALL
        .iter()
        .filter(|i| run.scenario.invariants.includes(i.name))
    {
        let mut found = (inv.check)(run);
        if inv.force == Force::Choice {
            found.iter_mut().for_each(|v| v.force = Force::Choice);
        }
        if found.len() > VIOLATIONS_PER_INVARIANT_MAX {
            let more = found.len() - VIOLATIONS_PER_INVARIANT_MAX;
            found.truncate(VIOLATIONS_PER_INVARIANT_MAX);
            let mut last = violation(
                inv.name,
                &[],
                format!("... and {more} more violations of {}", inv.name),
                Vec::new(),
            );
            last.spec_ids = found.last().map(|v| v.spec_ids.clone()).unwrap_or_default();
            found.push(last);
        }
        out.extend(found);
    }
    out
}

/// A violation of the named invariant.
pub(crate) fn violation(
    name: &str,
    spec_ids: &[&str],
    text: String,
    events: Vec<String>,
) -> Violation {
    Violation {
        force: Force::Binding,
        outcome: Outcome::Fail,
        invariant: name.to_string(),
        spec_ids: spec_ids.iter().map(|s| s.to_string()).collect(),
        text,
        events,
    }
}
