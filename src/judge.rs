//! The verdict on a finished run, judged from its trace alone: the
//! scenario's expectations that apply to the target, and the protocol
//! invariants it turns on. Every path that runs a scenario (the simulation,
//! a live broker over TCP, the replaced engine in the benchmark) ends here,
//! so that none can judge a trace differently.

use std::time::Duration;

use crate::invariants::{self, Run};
use crate::profile::{Profile, REFERENCE};
use crate::scenario::{Expectation, Scenario};
use crate::trace::{Event, Outcome, Report, Verdict, expect, tolerance};

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

/// What a run was judged against.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The name `only_for`/`not_for` know it by: `reference`, a profile's
    /// name, or whatever name the user gave.
    pub name: &'a str,
    /// Its profile, whose deviations the invariants follow; a target with
    /// none has no deviations.
    pub profile: Option<&'a Profile>,
}

impl<'a> Target<'a> {
    /// The built-in reference broker.
    pub const REFERENCE: Target<'static> = Target {
        name: REFERENCE,
        profile: None,
    };

    /// A target known by name alone, without a profile.
    pub fn named(name: &'a str) -> Target<'a> {
        Target {
            name,
            profile: None,
        }
    }

    /// Whether it is the reference broker, against which every
    /// expectation and invariant binds, choices included.
    pub fn is_reference(&self) -> bool {
        self.name == REFERENCE
    }
}

/// Judges a finished run against `target`. Every expectation gets a
/// verdict: `skip` when it is left out for the target, otherwise weighed by
/// its force (a choice that does not hold against another target than the
/// reference `differs`). No invariant is judged on a run the harness could
/// not complete: its trace stops short, so a missing delivery there says
/// nothing about the broker.
pub fn judge(scenario: &Scenario, target: Target, clock: Clock, ending: Ending) -> Report {
    let Ending {
        seed,
        end,
        events,
        dropped,
        harness_error,
    } = ending;
    // Indexed once: per-member expectations of a group of thousands would
    // otherwise each read the whole trace.
    let indexed = expect::Indexed::of(&events);
    let verdicts = scenario
        .expect
        .iter()
        .map(|e| verdict(e, &events, &indexed, target, clock))
        .collect();
    let violations = if harness_error.is_some() {
        Vec::new()
    } else {
        let mut run = Run::new(scenario, &events, target.profile);
        run.live = matches!(clock, Clock::Live { .. });
        let mut found = invariants::violations(&run);
        for v in &mut found {
            v.outcome = Outcome::of(false, v.force, target.is_reference());
        }
        found
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

/// The verdict on one expectation against `target`.
fn verdict(
    e: &Expectation,
    events: &[Event],
    indexed: &expect::Indexed,
    target: Target,
    clock: Clock,
) -> Verdict {
    if let Some(why) = e.left_out_for(target.name) {
        return Verdict::skip(e, &why);
    }
    let v = match clock {
        Clock::Simulated => expect::check_in(e, indexed),
        Clock::Live { tolerance } => tolerance::check(e, events, tolerance),
    };
    v.weighed(e.force, target.is_reference())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario::Force;

    /// Three expectations no trace of an empty run meets: a binding one,
    /// a choice, and one only for the reference.
    const THREE: &str = r#"
duration: 1s
brokers:
  broker: {}
clients:
  a:
    steps: [{connect: {}}]
expect:
  - {client: a, connack: {code: 0}, spec: [MQTT-3.2.0-1]}
  - {client: a, connack: {session_present: false}}
  - {client: a, connack: {code: 0}, only_for: [reference]}
"#;

    /// `text` judged on an empty run against `target`.
    fn judged_text(text: &str, target: Target) -> Report {
        let s = crate::scenario::parse(text, Path::new("three.yaml")).expect("parses");
        let ending = Ending {
            seed: 0,
            end: s.duration,
            events: Vec::new(),
            dropped: 0,
            harness_error: None,
        };
        judge(&s, target, Clock::Simulated, ending)
    }

    fn judged(target: Target) -> Report {
        judged_text(THREE, target)
    }

    fn outcomes(r: &Report) -> Vec<Outcome> {
        r.verdicts.iter().map(|v| v.outcome).collect()
    }

    #[test]
    fn against_the_reference_binding_and_choice_both_fail() {
        let r = judged(Target::REFERENCE);
        let forces: Vec<Force> = r.verdicts.iter().map(|v| v.force).collect();
        assert_eq!(forces, [Force::Binding, Force::Choice, Force::Choice]);
        assert_eq!(outcomes(&r), [Outcome::Fail; 3]);
        assert!(!r.ok());
    }

    #[test]
    fn against_another_target_a_choice_differs_and_a_binding_one_fails() {
        let profile = Profile::load("mosquitto").expect("shipped");
        let target = Target {
            name: "mosquitto",
            profile: Some(&profile),
        };
        let r = judged(target);
        assert_eq!(
            outcomes(&r),
            [Outcome::Fail, Outcome::Differs, Outcome::Skip]
        );
        assert_eq!(r.failures().len(), 1);
        // A differing choice shows what the target did, like a failure.
        assert!(
            r.verdicts[1].text.contains("0 matched"),
            "{}",
            r.verdicts[1].text
        );
        assert!(
            r.verdicts[2].text.ends_with(": only for reference"),
            "{}",
            r.verdicts[2].text
        );
    }

    #[test]
    fn a_run_whose_only_misses_are_choices_passes_against_another_target() {
        let r = judged_text(
            &THREE.replace("spec: [MQTT-3.2.0-1]", "only_for: [reference]"),
            Target::named("some-broker"),
        );
        assert!(r.ok(), "{:?}", r.verdicts);
        let text = crate::trace::render::text(&r);
        assert!(text.contains("differs  line "), "{text}");
        assert!(text.contains("skip  line "), "{text}");
        let json = crate::trace::render::json_lines(&r);
        let differs = json
            .lines()
            .find(|l| l.contains(r#""verdict":"differs""#))
            .expect("a differs line");
        assert!(differs.contains(r#""ok":true"#), "{differs}");
        assert!(differs.contains(r#""force":"choice""#), "{differs}");
        assert!(json.contains(r#""verdict":"skip""#), "{json}");
    }
}
