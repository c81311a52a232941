//! turmoil wiring: one host per broker and per client, the fault timeline,
//! and the driver loop that steps the simulation to the scenario's end.

mod chaos;
pub mod explore;
mod faults;
mod latency;
mod seeds;
mod target;

use std::rc::Rc;
use std::sync::{Arc, mpsc};
use std::time::{Duration, UNIX_EPOCH};

use crate::broker::PORT;
use crate::client::{Client, SimConnector};
use crate::scenario::Scenario;
use crate::trace::{self, EventKind, Recorder, Report};
pub use chaos::CHAOS_EVENTS_MAX;
pub use faults::Timed;
use latency::Links;
pub use seeds::Seeds;
pub use target::{BrokerUnderTest, HostFactory, Reference, ServeFuture};

/// The target name of the built-in broker, for `only_for` and `not_for`.
pub const TARGET_REFERENCE: &str = "reference";

/// The simulation step when the scenario does not set `network.tick`.
pub const TICK_DEFAULT: Duration = Duration::from_millis(1);

/// How long one run may take in real time before it is abandoned. A broker
/// that spins without yielding would otherwise hang the harness.
pub const WALL_CLOCK_MAX_DEFAULT: Duration = Duration::from_secs(120);

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
    let spawned = std::thread::Builder::new()
        .name(format!("sim-{}", scenario.name))
        .spawn(move || {
            let _ = tx.send(run_here_with(&owned, seed, target.as_ref()));
        });
    let failed = |why: String| Report::harness_failure(seed, why);
    if let Err(e) = spawned {
        return failed(format!("cannot start the simulation thread: {e}"));
    }
    match rx.recv_timeout(opts.wall_clock_max) {
        Ok(report) => report,
        Err(mpsc::RecvTimeoutError::Timeout) => failed(format!(
            "the run did not finish within {}s of real time",
            opts.wall_clock_max.as_secs()
        )),
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
    let seeds = Seeds::new(seed);
    let tick = scenario.network.tick.unwrap_or(TICK_DEFAULT);
    let mut builder = turmoil::Builder::new();
    // Every link the driver manages gets its latency from `latency::Links`;
    // the global setting only covers links no message ever uses.
    let latency_floor = scenario.network.latency.min();
    builder
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_S))
        .rng_seed(seeds.turmoil())
        .tick_duration(tick)
        // The driver stops the run; turmoil's own limit only has to be out
        // of the way.
        .simulation_duration(scenario.duration + Duration::from_secs(3600))
        .min_message_latency(latency_floor)
        .max_message_latency(latency_floor)
        .tcp_capacity(backlog(scenario));
    let mut sim = builder.build();

    let rec = Recorder::new(Rc::new(|| turmoil::sim_elapsed().unwrap_or_default()));
    add_brokers(&mut sim, scenario, &rec, target);
    add_clients(&mut sim, scenario, &rec, &seeds);
    let mut links = Links::new(&sim, scenario, seeds.network());

    let timeline = timeline(scenario, seed);
    let mut state = faults::State::default();
    let mut harness_error = None;
    let mut next_fault = 0;
    loop {
        let now = sim.elapsed();
        while let Some(fault) = timeline.get(next_fault) {
            if fault.at > now {
                break;
            }
            state.apply(&mut sim, &mut links, &fault.action);
            rec.record_at(
                now,
                EventKind::Fault {
                    fault: fault.action.clone(),
                },
            );
            next_fault += 1;
        }
        if now >= scenario.duration {
            break;
        }
        links.before_step(&sim);
        if let Err(e) = sim.step() {
            harness_error = Some(format!("a host failed: {e}"));
            break;
        }
    }
    let end = sim.elapsed().min(scenario.duration);
    let (events, dropped) = rec.take();
    let verdicts = trace::expect::check_all(&scenario.expect, &events, target.name());
    Report {
        seed,
        end,
        events,
        dropped,
        verdicts,
        harness_error,
    }
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

/// Room in every accept backlog for each client to connect at once, twice
/// over; overflowing it panics inside turmoil.
fn backlog(s: &Scenario) -> usize {
    (s.clients.len() * 2).max(64)
}

fn add_brokers(
    sim: &mut turmoil::Sim<'_>,
    scenario: &Scenario,
    rec: &Recorder,
    target: &dyn BrokerUnderTest,
) {
    for (name, spec) in &scenario.brokers {
        let rec = rec.clone();
        let host = name.clone();
        let notes: crate::broker::Notes = Rc::new(move |text| {
            rec.record(EventKind::Note {
                host: host.clone(),
                text,
            })
        });
        let factory: Rc<HostFactory> = Rc::new(target.host(name, spec, notes));
        sim.host(name.as_str(), move || {
            let factory = factory.clone();
            async move {
                let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
                factory(listener).await?;
                Ok(())
            }
        });
    }
}

fn add_clients(sim: &mut turmoil::Sim<'_>, scenario: &Scenario, rec: &Recorder, seeds: &Seeds) {
    for (index, (name, spec)) in scenario.clients.iter().enumerate() {
        let rng = seeds.client(index);
        let spec = spec.clone();
        let rec = rec.clone();
        let name_owned = name.clone();
        sim.host(name.as_str(), move || {
            let client = Client::new(
                &name_owned,
                spec.clone(),
                SimConnector,
                rec.clone(),
                rng.clone(),
            );
            async move {
                client.run().await;
                Ok(())
            }
        });
    }
}
