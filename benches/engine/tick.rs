//! The turmoil 0.7 engine that the event-driven one replaced, kept only so
//! that this benchmark can measure both side by side. It runs the
//! reference broker only, through the library's public API.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use mqtt_sim::broker::{Broker, PORT, Store};
use mqtt_sim::client::{Client, SimConnector};
use mqtt_sim::judge::{Clock, Ending, Target, judge};
use mqtt_sim::scenario::{FaultAction, Scenario};
use mqtt_sim::sim::{EPOCH_S, Seeds, timeline};
use mqtt_sim::trace::{EventKind, Recorder, Report};

use crate::tick_latency::Links;

/// Runs a scenario against the reference broker on the current thread,
/// stepping turmoil 0.7 one tick at a time.
pub fn run_here(scenario: &Scenario, seed: u64) -> Report {
    let seeds = Seeds::new(seed);
    let tick = scenario.network.tick();
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
    add_brokers(&mut sim, scenario, &rec);
    add_clients(&mut sim, scenario, &rec, &seeds);
    let mut links = Links::new(&sim, scenario, seeds.network());

    let timeline = timeline(scenario, seed);
    let mut state = State::default();
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
    let ending = Ending {
        seed,
        end,
        events,
        dropped,
        harness_error,
    };
    judge(scenario, Target::REFERENCE, Clock::Simulated, ending)
}

/// Room in every accept backlog for each client to connect at once, twice
/// over; overflowing it panics inside turmoil.
fn backlog(s: &Scenario) -> usize {
    (s.clients.len() * 2).max(64)
}

fn add_brokers(sim: &mut turmoil::Sim<'_>, scenario: &Scenario, rec: &Recorder) {
    for (name, spec) in &scenario.brokers {
        let rec = rec.clone();
        let host = name.clone();
        let notes: mqtt_sim::broker::Notes = Rc::new(move |text| {
            rec.record(EventKind::Note {
                host: host.clone(),
                text,
            })
        });
        let durable = spec
            .persistence
            .then(|| Rc::new(RefCell::new(Store::default())));
        let config = spec.clone();
        sim.host(name.as_str(), move || {
            let store = durable.clone().unwrap_or_default();
            let broker = Broker::with_store(config.clone(), notes.clone(), store);
            async move {
                let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
                broker.serve(listener).await?;
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
