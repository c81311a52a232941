//! The wall-clock cap: a run that takes too long in real time is stopped,
//! and its report keeps the trace up to the cap, then says why it stopped.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mqtt_sim::broker::{BrokerConfig, Notes};
use mqtt_sim::scenario;
use mqtt_sim::sim::{self, BrokerUnderTest, HostFactory, Reference, RunOptions};
use mqtt_sim::trace::render;

/// The reference broker with a chore that takes `pause` of real time every
/// simulated millisecond: a broker far slower than the simulation.
struct Slow(Duration);

impl BrokerUnderTest for Slow {
    fn name(&self) -> &str {
        "slow"
    }

    fn host(&self, host: &str, config: &BrokerConfig, notes: Notes) -> HostFactory {
        let inner = Reference.host(host, config, notes);
        let pause = self.0;
        Box::new(move |listener| {
            let serve = inner(listener);
            Box::pin(async move {
                tokio::task::spawn_local(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        std::thread::sleep(pause);
                    }
                });
                serve.await
            })
        })
    }
}

const SCENARIO: &str = r#"
name: a long run
duration: 1h
brokers:
  broker: {}
clients:
  a:
    keep_alive: 1s
    ping: auto
    steps: [{connect: {}}]
expect:
  - {client: a, connack: {code: 0}}
"#;

#[test]
fn a_run_that_hits_the_cap_prints_its_trace_then_the_harness_failure() {
    let s = scenario::parse(SCENARIO, Path::new("long.yaml")).expect("the scenario loads");
    let opts = RunOptions {
        seed: None,
        wall_clock_max: Duration::from_secs(1),
    };
    let report = sim::run_with(&s, &opts, Arc::new(Slow(Duration::from_millis(1))));
    let text = render::text(&report);
    let error = report.harness_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("did not finish within 1s of real time"),
        "{text}"
    );
    assert!(!report.ok());
    // What happened before the cap is there, in order, and the harness
    // failure comes after it.
    let connack = text.find("CONNACK").expect("the CONNACK is in the trace");
    let failure = text.find("harness error:").expect("the failure is printed");
    assert!(connack < failure, "{text}");
    // It stopped early: an hour of this would take an hour.
    assert!(report.end > Duration::ZERO && report.end < Duration::from_secs(60));
}

/// The reference broker with a chore that, from 100ms of simulated time
/// on, never lets the instant end: it spins, waking itself, so the hosts
/// are never all idle and simulated time never moves again.
struct Spinning;

impl BrokerUnderTest for Spinning {
    fn name(&self) -> &str {
        "spinning"
    }

    fn host(&self, host: &str, config: &BrokerConfig, notes: Notes) -> HostFactory {
        let inner = Reference.host(host, config, notes);
        Box::new(move |listener| {
            let serve = inner(listener);
            Box::pin(async move {
                tokio::task::spawn_local(async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    loop {
                        std::thread::sleep(Duration::from_millis(1));
                        // Wakes itself at once, as a busy host does: the
                        // engine's settling never sees every host idle.
                        let mut again = false;
                        std::future::poll_fn(|cx| {
                            if again {
                                return std::task::Poll::Ready(());
                            }
                            again = true;
                            cx.waker().wake_by_ref();
                            std::task::Poll::Pending
                        })
                        .await;
                    }
                });
                serve.await
            })
        })
    }
}

#[test]
fn a_run_capped_inside_one_busy_instant_keeps_its_trace() {
    let s = scenario::parse(SCENARIO, Path::new("long.yaml")).expect("the scenario loads");
    let opts = RunOptions {
        seed: None,
        wall_clock_max: Duration::from_secs(1),
    };
    let report = sim::run_with(&s, &opts, Arc::new(Spinning));
    let text = render::text(&report);
    let error = report.harness_error.as_deref().unwrap_or_default();
    // Not "never yielded: its trace is lost": the engine looked at the cap
    // between two rounds of the busy instant.
    assert!(
        error.contains("did not finish within 1s of real time") && !error.contains("lost"),
        "{text}"
    );
    let connack = text.find("CONNACK").expect("the CONNACK is in the trace");
    let failure = text.find("harness error:").expect("the failure is printed");
    assert!(connack < failure, "{text}");
    // Time stopped at the busy instant.
    assert_eq!(report.end, Duration::from_millis(100), "{text}");
}
