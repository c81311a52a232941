//! The connection and session invariants (`will`, `keep-alive`,
//! `session-present`, `retained`) on every scenario, and against the
//! mutants of the reference broker that break them.
//!
//! Until the invariants are wired into every run, this applies them to the
//! trace of each scenario under `scenarios/` itself; it stays as a
//! regression test of the invariants afterwards.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use mqtt_sim::invariants::{Invariant, Run, keep_alive, retained, session_present, will};
use mqtt_sim::mutants::with_mutant;
use mqtt_sim::scenario::{self, Mutant, Scenario};
use mqtt_sim::sim;
use mqtt_sim::trace::Violation;

/// The invariants this file checks.
const MINE: [&Invariant; 4] = [
    &will::WILL,
    &keep_alive::KEEP_ALIVE,
    &session_present::SESSION_PRESENT,
    &retained::RETAINED,
];

/// Scenarios that break one of these invariants on purpose: (scenario,
/// invariant, why). Once the scenario file can say so (`invariants:`),
/// each moves there.
const EXEMPT: &[(&str, &str, &str)] = &[];

fn scenarios() -> Vec<(String, Scenario)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    scenario::find(&dir)
        .expect("the scenarios directory is readable")
        .into_iter()
        .map(|(name, path)| {
            let s = scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, s)
        })
        .collect()
}

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.yaml"));
    scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs the scenario on the reference broker and applies `invariants`.
fn violations(s: &Scenario, invariants: &[&Invariant]) -> Vec<Violation> {
    let report = sim::run_here(s, s.seed);
    assert!(
        report.harness_error.is_none(),
        "{}: {:?}",
        s.name,
        report.harness_error
    );
    let run = Run::new(s, &report.events, None);
    invariants.iter().flat_map(|i| (i.check)(&run)).collect()
}

fn describe(v: &Violation) -> String {
    format!(
        "{} [{}]: {}\n    {}",
        v.invariant,
        v.spec_ids.join(", "),
        v.text,
        v.events.join("\n    ")
    )
}

#[test]
fn every_scenario_keeps_the_session_invariants() {
    let all = scenarios();
    assert!(all.len() >= 100, "found only {} scenarios", all.len());
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::default();
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while let Some((name, s)) = all.get(next.fetch_add(1, Ordering::Relaxed)) {
                    for v in violations(s, &MINE) {
                        let exempt = EXEMPT
                            .iter()
                            .any(|(n, i, _)| n == name && *i == v.invariant);
                        if !exempt {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{name}: {}", describe(&v)));
                        }
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `scenario` keeps `invariant` on the reference broker and breaks it with
/// `mutant` switched on.
fn caught(mutant: Mutant, scenario: &str, invariant: &Invariant) {
    let s = load(scenario);
    let clean = violations(&s, &[invariant]);
    assert!(
        clean.is_empty(),
        "{scenario} without a mutant: {:?}",
        clean.iter().map(describe).collect::<Vec<_>>()
    );
    let found = violations(&with_mutant(&s, Some(mutant)), &[invariant]);
    assert!(
        !found.is_empty(),
        "{} not caught by {} on {scenario}",
        mutant.name(),
        invariant.name
    );
}

#[test]
fn will_catches_will_on_disconnect() {
    caught(
        Mutant::WillOnDisconnect,
        "will/disconnect-discards-will",
        &will::WILL,
    );
}

#[test]
fn will_catches_will_delay_ignored() {
    caught(
        Mutant::WillDelayIgnored,
        "v5/will-delay-published",
        &will::WILL,
    );
}

#[test]
fn will_catches_will_despite_reconnect() {
    caught(
        Mutant::WillDespiteReconnect,
        "v5/will-delay-cancelled",
        &will::WILL,
    );
}

#[test]
fn keep_alive_catches_no_keep_alive() {
    caught(
        Mutant::NoKeepAlive,
        "keepalive/silent-client-expires",
        &keep_alive::KEEP_ALIVE,
    );
}

#[test]
fn keep_alive_catches_keep_alive_factor_one() {
    caught(
        Mutant::KeepAliveFactorOne,
        "keepalive/silent-client-expires",
        &keep_alive::KEEP_ALIVE,
    );
}

#[test]
fn keep_alive_catches_server_keep_alive_not_enforced() {
    caught(
        Mutant::ServerKeepAliveNotEnforced,
        "v5/lifecycle-keep-alive-expiry",
        &keep_alive::KEEP_ALIVE,
    );
}

#[test]
fn session_present_catches_session_present_always_false() {
    caught(
        Mutant::SessionPresentAlwaysFalse,
        "tutorial/persistent-session",
        &session_present::SESSION_PRESENT,
    );
}

#[test]
fn session_present_catches_session_expiry_ignored() {
    caught(
        Mutant::SessionExpiryIgnored,
        "v5/session-expiry",
        &session_present::SESSION_PRESENT,
    );
}

#[test]
fn session_present_catches_session_expiry_from_zero_accepted() {
    caught(
        Mutant::SessionExpiryFromZeroAccepted,
        "v5/session-expiry-disconnect",
        &session_present::SESSION_PRESENT,
    );
}

#[test]
fn retained_catches_retained_never_cleared() {
    caught(
        Mutant::RetainedNeverCleared,
        "retain/empty-payload-deletes",
        &retained::RETAINED,
    );
}
