//! Each invariant catches the planted broker bugs (mutants) it is for, on
//! an existing scenario or a small one written here, with the scenario's
//! expectations switched off: the invariants alone see the bug. Each
//! scenario passes every invariant without the mutant (tests/scenarios.rs
//! and the `None` runs below), so the violation is the bug's.

use std::path::Path;

use mqtt_sim::mutants::with_mutant;
use mqtt_sim::scenario::{self, Mutant};
use mqtt_sim::sim;

/// The invariants a scenario's run breaks with `mutant` switched on and
/// its expectations off.
fn broken(file: &str, mutant: Option<Mutant>) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let mut s = scenario::load(&path).expect("the scenario loads");
    s.expect.clear();
    let s = with_mutant(&s, mutant);
    let report = sim::run_here(&s, s.seed);
    assert_eq!(report.harness_error, None);
    let mut names: Vec<String> = report
        .violations
        .iter()
        .map(|v| v.invariant.clone())
        .collect();
    names.dedup();
    names
}

/// `file` breaks no invariant as it is, and breaks `invariant` (among
/// others perhaps) with `mutant` on.
fn catches(file: &str, mutant: Mutant, invariant: &str) {
    assert_eq!(
        broken(file, None),
        Vec::<String>::new(),
        "{file} without a mutant"
    );
    let with = broken(file, Some(mutant));
    assert!(
        with.iter().any(|n| n == invariant),
        "{file} with {} broke {with:?}, not {invariant}",
        mutant.name()
    );
}

#[test]
fn receive_maximum_catches_receive_maximum_ignored() {
    catches(
        "v5/pubsub-receive-maximum.yaml",
        Mutant::ReceiveMaximumIgnored,
        "receive-maximum",
    );
}

#[test]
fn shared_one_member_catches_shared_to_every_member() {
    catches(
        "v5/shared-round-robin.yaml",
        Mutant::SharedToEveryMember,
        "shared-one-member",
    );
}

#[test]
fn dup_on_resend_catches_redeliver_without_dup() {
    catches(
        "v5/pubsub-redelivery-dup.yaml",
        Mutant::RedeliverWithoutDup,
        "dup-on-resend",
    );
}

#[test]
fn takeover_catches_no_takeover_close() {
    catches("v5/takeover.yaml", Mutant::NoTakeoverClose, "takeover");
}

#[test]
fn takeover_catches_no_takeover_disconnect() {
    catches("v5/takeover.yaml", Mutant::NoTakeoverDisconnect, "takeover");
}

#[test]
fn topic_alias_catches_publisher_alias_forwarded() {
    catches(
        "v5/pubsub-topic-alias-not-forwarded.yaml",
        Mutant::PublisherAliasForwarded,
        "topic-alias",
    );
}

#[test]
fn retain_flag_catches_live_keeps_retain() {
    catches(
        "v5/retain-live-clears-retain.yaml",
        Mutant::LiveKeepsRetain,
        "retain-flag",
    );
}

#[test]
fn retain_flag_catches_retain_as_published_ignored() {
    catches(
        "v5/subscribe-retain-as-published.yaml",
        Mutant::RetainAsPublishedIgnored,
        "retain-flag",
    );
}

#[test]
fn retain_flag_catches_retain_handling_ignored() {
    catches(
        "v5/subscribe-retain-handling.yaml",
        Mutant::RetainHandlingIgnored,
        "retain-flag",
    );
}

#[test]
fn message_expiry_catches_expiry_not_decremented() {
    catches(
        "v5/message-expiry.yaml",
        Mutant::ExpiryNotDecremented,
        "message-expiry",
    );
}

#[test]
fn delivery_matches_subscription_catches_no_local_ignored() {
    catches(
        "v5/subscribe-no-local.yaml",
        Mutant::NoLocalIgnored,
        "delivery-matches-subscription",
    );
}

/// A scenario with a mutant of the reference broker, run, its
/// expectations aside: what the invariants alone say.
fn mutated(yaml: &str, mutant: Option<Mutant>) -> Vec<String> {
    let mut s = scenario::parse(yaml, Path::new("mutant.yaml")).expect("parses");
    s.expect.clear();
    let s = with_mutant(&s, mutant);
    let report = sim::run_here(&s, s.seed);
    assert_eq!(report.harness_error, None);
    report
        .violations
        .iter()
        .map(|v| v.invariant.clone())
        .collect()
}

const OFFLINE_QUEUE: &str = "
duration: 3s
brokers: {broker: {}}
clients:
  sub:
    clean_session: false
    steps:
      - connect: {}
      - subscribe: {filter: q/#, qos: 1}
      - {at: 500ms, disconnect: {}}
      - {at: 1500ms, connect: {}}
  pub:
    steps:
      - {at: 1s, connect: {}}
      - publish: {topic: q/a, payload: m1, qos: 1}
";

#[test]
fn qos1_at_least_once_catches_the_mutant_that_drops_the_offline_queue() {
    assert_eq!(mutated(OFFLINE_QUEUE, None), Vec::<String>::new());
    assert_eq!(
        mutated(OFFLINE_QUEUE, Some(Mutant::DropQueueOnReconnect)),
        vec!["qos1-at-least-once"]
    );
}

const QOS2_RESENT: &str = "
duration: 2s
brokers: {broker: {}}
clients:
  sub:
    steps: [{connect: {}}, {subscribe: {filter: q/2, qos: 2}}]
  pub:
    steps:
      - {at: 500ms, connect: {}}
      # PUBLISH QoS 2, topic q/2, packet id 7, payload once; then with DUP 1
      - send: {hex: \"340b0003712f3200076f6e6365\"}
      - send: {hex: \"3c0b0003712f3200076f6e6365\"}
";

#[test]
fn qos2_exactly_once_catches_the_mutant_that_delivers_a_resend_again() {
    assert_eq!(mutated(QOS2_RESENT, None), Vec::<String>::new());
    assert_eq!(
        mutated(QOS2_RESENT, Some(Mutant::Qos2DeliveredTwice)),
        vec!["qos2-exactly-once"]
    );
}

#[test]
fn bridge_at_least_once_catches_bridge_forgets_queue() {
    catches(
        "bridge/qos1-partition-heal.yaml",
        Mutant::BridgeForgetsQueue,
        "bridge-at-least-once",
    );
}

#[test]
fn bridge_no_loop_catches_bridge_back() {
    catches(
        "bridge/both-directions-no-loop.yaml",
        Mutant::BridgeBack,
        "bridge-no-loop",
    );
}
