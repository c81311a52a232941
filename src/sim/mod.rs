//! The simulation: one host per broker and per client on turmoil-net's TCP,
//! the fault timeline, and the event-driven engine that runs a scenario to
//! its end (see `engine`).

mod bridge;
mod chaos;
mod engine;
mod faults;
pub mod net;
mod network;
mod seeds;
mod target;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use crate::scenario::Scenario;
use crate::trace::Report;
pub use bridge::SimLink;
pub use chaos::CHAOS_EVENTS_MAX;
pub use faults::Timed;
pub use net::{Listener, Stream};
/// The first tick at or after a time: when the driver applies a fault.
pub use network::round_up;
pub use seeds::Seeds;
pub use target::{BrokerUnderTest, HostFactory, Reference, ServeFuture};

pub use crate::scenario::TARGET_REFERENCE;

/// How long one run may take in real time before it is abandoned. A broker
/// that spins without yielding would otherwise hang the harness.
pub const WALL_CLOCK_MAX_DEFAULT: Duration = Duration::from_secs(120);

/// How long a run that hit the wall-clock cap gets to hand over its trace so
/// far. A run whose tasks never yield cannot, and its trace is lost.
pub const WALL_CLOCK_GRACE: Duration = Duration::from_secs(5);

/// Simulated time every run starts at (2020-01-01T00:00:00Z), so that
/// nothing depends on when the run happened.
pub const EPOCH_S: u64 = 1_577_836_800;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    pub wall_clock_max: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: None,
            wall_clock_max: WALL_CLOCK_MAX_DEFAULT,
        }
    }
}

/// Runs a scenario against the reference broker and checks its
/// expectations: [`run_with`] the [`Reference`] target.
pub fn run(scenario: &Scenario, opts: &RunOptions) -> Report {
    run_with(scenario, opts, Arc::new(Reference))
}

/// Runs a scenario with `target` as every broker host and checks the
/// expectations that apply to the target's name. The run happens on its own
/// thread so that a hung run can be abandoned after `wall_clock_max`; the
/// report then says so.
pub fn run_with(
    scenario: &Scenario,
    opts: &RunOptions,
    target: Arc<dyn BrokerUnderTest>,
) -> Report {
    let seed = opts.seed.unwrap_or(scenario.seed);
    let (tx, rx) = mpsc::channel();
    let owned = scenario.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_run = stop.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("sim-{}", scenario.name))
        .spawn(move || {
            let _ = tx.send(engine::run(&owned, seed, target.as_ref(), stop_run));
        });
    let failed = |why: String| Report::harness_failure(seed, why);
    if let Err(e) = spawned {
        return failed(format!("cannot start the simulation thread: {e}"));
    }
    let over_cap = format!(
        "the run did not finish within {}s of real time",
        opts.wall_clock_max.as_secs_f64()
    );
    match rx.recv_timeout(opts.wall_clock_max) {
        Ok(report) => report,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            // Ask the run to stop where it is and hand over its trace.
            stop.store(true, Ordering::Relaxed);
            match rx.recv_timeout(WALL_CLOCK_GRACE) {
                Ok(mut report) => {
                    // Expectations judged on half a run would mislead.
                    report.verdicts.clear();
                    report.violations.clear();
                    report.harness_error = Some(over_cap);
                    report
                }
                Err(_) => failed(format!("{over_cap}, and never yielded: its trace is lost")),
            }
        }
        // The thread died without sending: something panicked.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            failed("the simulation panicked (see stderr)".to_string())
        }
    }
}

/// Runs a scenario against the reference broker on the current thread.
pub fn run_here(scenario: &Scenario, seed: u64) -> Report {
    run_here_with(scenario, seed, &Reference)
}

/// Runs a scenario against `target` on the current thread.
pub fn run_here_with(scenario: &Scenario, seed: u64, target: &dyn BrokerUnderTest) -> Report {
    engine::run(scenario, seed, target, Arc::new(AtomicBool::new(false)))
}

/// Every fault of a run in the order the driver applies them: the
/// hand-written ones with their times drawn, merged with what chaos
/// generates for this seed. At equal times hand-written faults go first.
pub fn timeline(scenario: &Scenario, seed: u64) -> Vec<Timed> {
    let seeds = Seeds::new(seed);
    faults::merge(
        faults::schedule(&scenario.faults, &mut seeds.faults()),
        chaos::generate(scenario, &seeds),
    )
}
