//! The plug-in API: a broker from outside `src/broker` runs as the broker
//! host of any scenario, is known by its own name to `only_for`/`not_for`,
//! and is started again by a `restart`.

#[path = "../examples/plug_in_broker.rs"]
mod example;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use example::Tiny;
use mqtt_sim::broker::{BrokerConfig, Notes};
use mqtt_sim::scenario;
use mqtt_sim::sim::{self, BrokerUnderTest, HostFactory, Reference, RunOptions};

fn load(rel: &str) -> scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{rel}.yaml"));
    scenario::load(&path).expect("the scenario loads")
}

#[test]
fn the_tiny_broker_passes_plain_pubsub_and_fails_wills() {
    let opts = RunOptions::default();
    let qos0 = sim::run_with(&load("pubsub/qos0"), &opts, Arc::new(Tiny));
    assert!(qos0.ok(), "{:?}", qos0.verdicts);
    let will = sim::run_with(&load("will/drop-publishes-will"), &opts, Arc::new(Tiny));
    assert!(!will.ok(), "the tiny broker has no wills");
    // Only the reference broker writes notes.
    assert!(
        !sim::run_with(&load("tutorial/duplicate-client-id"), &opts, Arc::new(Tiny))
            .events
            .iter()
            .any(|e| matches!(e.kind, mqtt_sim::trace::EventKind::Note { .. }))
    );
}

#[test]
fn the_example_runs_the_whole_suite_and_reports_each_scenario() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let suite = mqtt_sim::suite::run_dir(&dir, Arc::new(Tiny)).expect("the suite runs");
    assert!(suite.outcomes().len() > 10);
    let passed = |name: &str| {
        let o = suite.outcomes().iter().find(|o| o.name == name)?;
        Some(o.passed())
    };
    assert_eq!(passed("pubsub/qos0"), Some(true));
    assert_eq!(passed("will/drop-publishes-will"), Some(false));
    assert_eq!(passed("session/offline-queue"), Some(false));
}

/// A scenario of one client that connects, with these expectations.
fn one_client(expect: &str) -> String {
    format!(
        "duration: 1s\nbrokers:\n  broker: {{}}\nclients:\n  a:\n    \
         steps: [{{connect: {{}}}}]\nexpect:\n{expect}"
    )
}

/// An expectation that holds for one target only.
const NAMED: &str = "  - {client: a, connack: {code: 0}}
  - {not_for: [tiny], client: a, connack: {code: 5}}
";

#[test]
fn expectations_see_the_target_by_its_name() {
    let s = scenario::parse_with(
        &one_client(NAMED),
        Path::new("named.yaml"),
        &["tiny".into()],
    )
    .expect("parses");
    let opts = RunOptions::default();
    let tiny = sim::run_with(&s, &opts, Arc::new(Tiny));
    assert!(tiny.ok(), "{:?}", tiny.verdicts);
    assert_eq!(tiny.verdicts[1].outcome, mqtt_sim::trace::Outcome::Skip);
    let reference = sim::run_with(&s, &opts, Arc::new(Reference));
    assert!(!reference.ok());
    assert_eq!(reference.verdicts.len(), 2);
}

/// The reference broker, counting how often its host is started.
struct Counting(Arc<AtomicUsize>);

impl BrokerUnderTest for Counting {
    fn name(&self) -> &str {
        "counting"
    }

    fn host(&self, host: &str, config: &BrokerConfig, notes: Notes) -> HostFactory {
        let inner = Reference.host(host, config, notes);
        let starts = self.0.clone();
        Box::new(move |listener| {
            starts.fetch_add(1, Ordering::SeqCst);
            inner(listener)
        })
    }
}

#[test]
fn a_restart_starts_the_host_again_and_the_reference_run_is_unchanged() {
    let s = load("faults/broker-restart-persistent");
    let starts = Arc::new(AtomicUsize::new(0));
    let opts = RunOptions::default();
    let counted = sim::run_with(&s, &opts, Arc::new(Counting(starts.clone())));
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    let plain = sim::run(&s, &opts);
    assert!(plain.ok());
    assert_eq!(
        mqtt_sim::trace::render::text(&counted),
        mqtt_sim::trace::render::text(&plain)
    );
}

/// The reference broker under another target's name and profile: its trace
/// judged as the profile's broker would be.
struct Profiled {
    name: &'static str,
    profile: Option<mqtt_sim::profile::Profile>,
}

impl BrokerUnderTest for Profiled {
    fn name(&self) -> &str {
        self.name
    }

    fn profile(&self) -> Option<&mqtt_sim::profile::Profile> {
        self.profile.as_ref()
    }

    fn host(&self, host: &str, config: &BrokerConfig, notes: Notes) -> HostFactory {
        Reference.host(host, config, notes)
    }
}

fn mosquitto() -> Arc<Profiled> {
    let profile = mqtt_sim::profile::Profile::load("mosquitto").expect("shipped");
    Arc::new(Profiled {
        name: "mosquitto",
        profile: Some(profile),
    })
}

#[test]
fn a_will_at_the_sessions_end_passes_the_invariants_under_the_mosquitto_profile() {
    // mosquitto's deviation is for a session ending with its connection
    // only: a 5s expiry still cuts a 30s will delay short.
    let s = load("v5/will-delay-session-expiry-shorter");
    let r = sim::run_with(&s, &RunOptions::default(), mosquitto());
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert!(r.ok(), "{:?}", r.verdicts);
}

#[test]
fn under_the_mosquitto_profile_a_session_ending_with_its_connection_keeps_the_delay() {
    // The reference publishes at the drop; mosquitto's profile says its
    // will waits out the delay, so the invariant expects it later and the
    // reference's early will is a violation under that profile.
    let s = load("v5/will-delay-session-ends-first");
    let r = sim::run_with(&s, &RunOptions::default(), mosquitto());
    let names: Vec<&str> = r.violations.iter().map(|v| v.invariant.as_str()).collect();
    assert!(names.contains(&"will"), "{names:?}");
}

/// A binding expectation, a choice the reference makes, and one for the
/// reference only: lines 8, 9 and 10.
const CHOICES: &str = "  - {client: a, connack: {code: 0}, spec: [MQTT-3.2.0-1]}
  - {client: a, connack: {session_present: true}}
  - {only_for: [reference], client: a, connack: {code: 0}}
";

#[test]
fn another_target_shows_differs_and_skip_lines_and_passes() {
    let s = scenario::parse(&one_client(CHOICES), Path::new("choices.yaml")).expect("parses");
    let r = sim::run_with(&s, &RunOptions::default(), mosquitto());
    assert!(r.ok(), "{:?}", r.verdicts);
    let text = mqtt_sim::trace::render::text(&r);
    assert!(text.contains("\nok    line 8:"), "{text}");
    assert!(
        text.contains("\ndiffers  line 9: a recv CONNACK session_present=true: 0 matched"),
        "{text}"
    );
    assert!(text.contains("    closest: "), "{text}");
    assert!(
        text.contains("\nskip  line 10: a recv CONNACK code=0: only for reference"),
        "{text}"
    );
    // Against the reference the same choice fails the run.
    let r = sim::run_with(&s, &RunOptions::default(), Arc::new(Reference));
    assert!(!r.ok());
}
