//! The mutation check in CI: every planted broker bug (`Mutant`) must make
//! at least one scenario under `scenarios/` fail, and every scenario must
//! pass without one. `mqtt-sim mutants` lists every catching scenario; this
//! test stops at the first per mutant, to stay fast.

use std::path::Path;

use mqtt_sim::mutants::{self, Named, Options};
use mqtt_sim::scenario::{self, Mutant};

fn suite() -> Vec<Named> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    scenario::find(&dir)
        .expect("the scenarios directory is readable")
        .into_iter()
        .map(|(name, path)| Named {
            scenario: scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}")),
            name,
        })
        .collect()
}

#[test]
fn every_mutant_is_caught_by_some_scenario() {
    let scenarios = suite();
    assert!(scenarios.len() > 10, "found {} scenarios", scenarios.len());
    let opts = Options {
        first_catch_only: true,
        ..Options::default()
    };
    let matrix = mutants::run_all(&scenarios, Mutant::ALL, &opts, &|_, _| {});
    assert_eq!(matrix.baseline_failures, Vec::<String>::new());
    assert_eq!(matrix.uncaught(), Vec::<Mutant>::new());
    assert_eq!(matrix.caught.len(), Mutant::ALL.len());
}

#[test]
fn there_are_at_least_ten_mutants_each_with_its_own_name() {
    assert!(Mutant::ALL.len() >= 10);
    let mut names: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Mutant::ALL.len());
}

#[test]
fn each_name_parses_to_its_mutant() {
    for &m in Mutant::ALL {
        // Scenarios only: `serve --config` refuses a mutant.
        let yaml = format!(
            "duration: 1s\nbrokers: {{broker: {{mutant: {}}}}}\nclients: {{c: {{}}}}\n",
            m.name()
        );
        let s = scenario::parse(&yaml, Path::new("mutant.yaml"))
            .unwrap_or_else(|e| panic!("{}: {e}", m.name()));
        assert_eq!(s.brokers["broker"].mutant, Some(m));
    }
}

/// A scenario that passes unmutated and fails with a mutant is listed as
/// catching it; one that fails unmutated catches nothing.
#[test]
fn a_catch_is_a_failing_run_and_baseline_failures_do_not_count() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let load = |rel: &str| Named {
        name: rel.to_string(),
        scenario: scenario::load(&dir.join(format!("{rel}.yaml"))).expect("loads"),
    };
    let good = load("will/disconnect-discards-will");
    let mut broken = load("pubsub/qos1");
    // An expectation that can never hold: the scenario fails its baseline.
    broken.scenario.duration = std::time::Duration::from_millis(1);
    let opts = Options {
        jobs: 2,
        ..Options::default()
    };
    let matrix = mutants::run_all(
        &[good, broken],
        &[Mutant::WillOnDisconnect, Mutant::HashMatchesSys],
        &opts,
        &|_, _| {},
    );
    assert_eq!(matrix.baseline_failures, vec!["pubsub/qos1".to_string()]);
    assert_eq!(
        matrix.caught.first().map(|c| c.by.clone()),
        Some(vec!["will/disconnect-discards-will".to_string()])
    );
    assert_eq!(matrix.uncaught(), vec![Mutant::HashMatchesSys]);
    assert!(!matrix.ok());
    assert_eq!(matrix.runs, 6);
}

/// With `chaos_seeds`, a chaos scenario runs at seeds 0..N, once per
/// mutant and once without: a scenario with no chaos still runs once. The
/// invariants alone catch the queue-dropping mutant at some seed, and the
/// scenario is named once however many seeds caught it.
#[test]
fn chaos_seeds_run_each_chaos_scenario_at_every_seed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let load = |rel: &str| Named {
        name: rel.to_string(),
        scenario: scenario::load(&dir.join(format!("{rel}.yaml"))).expect("loads"),
    };
    let opts = Options {
        jobs: 2,
        invariants_only: true,
        chaos_seeds: Some(8),
        ..Options::default()
    };
    let matrix = mutants::run_all(
        &[load("chaos/qos1-at-least-once"), load("pubsub/qos1")],
        &[Mutant::DropQueueOnReconnect],
        &opts,
        &|_, _| {},
    );
    assert_eq!(matrix.baseline_failures, Vec::<String>::new());
    // (8 seeds + 1 run) x (baseline + 1 mutant).
    assert_eq!(matrix.runs, 18);
    let caught = &matrix.caught[0];
    assert_eq!(caught.by, vec!["chaos/qos1-at-least-once".to_string()]);
    assert_eq!(caught.invariants, vec!["qos1-at-least-once".to_string()]);
}
