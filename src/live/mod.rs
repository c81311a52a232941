//! Runs a scenario against a real broker over real TCP, in real time.
//!
//! One run is one current-thread tokio runtime with a `LocalSet`. Each
//! client is the ordinary [`Client`](crate::client::Client) with a
//! [`LiveConnector`](proxy::LiveConnector), which puts an in-process proxy
//! between the client and the broker so that partitions, holds and latency
//! work over a real network (see [`proxy`]). The recorder's clock is real
//! elapsed time since the run started: this module is outside the
//! simulation, and the only place besides the CLI where the wall clock is
//! read.
//!
//! Timing varies live, so expectations are the oracle: `within` windows are
//! widened by the tolerance (see [`crate::trace::tolerance`]). A scenario that cannot be run
//! live is skipped with the reason (see [`skip`]); a skip is not a pass.

pub mod hygiene;
pub mod process;
pub mod proxy;
pub mod skip;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::task::{AbortHandle, LocalSet};

use crate::client::Client;
use crate::judge::{self, Clock, Ending, judge};
use crate::profile::Profile;
use crate::scenario::{FaultAction, Scenario};
use crate::sim::Seeds;
use crate::trace::{EventKind, Recorder, Report};
use process::BrokerProcess;
use proxy::{Links, LiveConnector, Net};

/// The longest scenario a live run accepts by default.
pub const DURATION_MAX_DEFAULT: Duration = Duration::from_secs(60);
/// The widening of `within` windows by default.
pub const TOLERANCE_DEFAULT: Duration = Duration::from_millis(500);
/// The pause between the end of a run and cleaning up after it.
const WILLS_SETTLE: Duration = Duration::from_millis(50);
/// The target name when `--target-name` is not given.
pub const TARGET_NAME_DEFAULT: &str = "live";

/// Where the live broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A running broker at `host:port`.
    Addr(String),
    /// A command that starts a broker; `{port}` in it is replaced by a free
    /// loopback port. The harness starts it for each run and can crash and
    /// restart it.
    Command(String),
}

/// The one scheme `--target` takes: plain MQTT over TCP.
pub const TARGET_SCHEME: &str = "tcp://";

/// How long the up-front reachability check waits for a TCP connection.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

impl Target {
    /// Parses `tcp://host:port`. Anything else (`ws://`, `ssl://`,
    /// `mqtts://`, a bare `host:port`) is refused with what is accepted:
    /// only plain TCP is supported, and a bare address is refused rather
    /// than guessed at.
    pub fn parse_addr(text: &str) -> Result<Target, String> {
        let accepted = "a live target is tcp://HOST:PORT (plain MQTT over TCP; \
                        WebSocket and TLS targets are not supported)";
        let Some(rest) = text.strip_prefix(TARGET_SCHEME) else {
            return Err(format!("`{text}` is not a broker address: {accepted}"));
        };
        match rest.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok() =>
            {
                Ok(Target::Addr(rest.to_string()))
            }
            _ => Err(format!("`{text}` is not a broker address: {accepted}")),
        }
    }
}

/// Whether a TCP connection to the target at `addr` (`host:port`) opens,
/// within [`PROBE_TIMEOUT`]. Used once before a live run, so that an
/// unreachable target is one clear error rather than a failure per
/// scenario, and after a failed run, to name a target that went away.
pub fn probe(addr: &str) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .collect();
    let mut last = format!("{addr} resolves to no address");
    for a in addrs {
        match std::net::TcpStream::connect_timeout(&a, PROBE_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub target: Target,
    /// The name `only_for` and `not_for` use.
    pub target_name: String,
    pub tolerance: Duration,
    pub duration_max: Duration,
    /// Overrides the scenario's seed (it still draws ranges).
    pub seed: Option<u64>,
    /// The target's broker profile, whose deviations the invariants
    /// follow; none: no deviations. Shared, since one profile serves every
    /// run against its target.
    pub profile: Option<Arc<Profile>>,
}

impl LiveOptions {
    pub fn new(target: Target) -> LiveOptions {
        LiveOptions {
            target,
            target_name: TARGET_NAME_DEFAULT.into(),
            tolerance: TOLERANCE_DEFAULT,
            duration_max: DURATION_MAX_DEFAULT,
            seed: None,
            profile: None,
        }
    }
}

/// What a live run came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    Ran(Report),
    /// The scenario cannot run against this target; the reason says why.
    Skipped(String),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Ran(r) if r.ok())
    }
}

/// Why `scenario` would be skipped against this target, if it would.
pub fn skip_reason(scenario: &Scenario, opts: &LiveOptions) -> Option<String> {
    let starts_broker = matches!(opts.target, Target::Command(_));
    skip::reason(
        scenario,
        &opts.target_name,
        opts.duration_max,
        starts_broker,
    )
}

/// Runs a scenario against the live target, or says why it cannot.
pub fn run(scenario: &Scenario, opts: &LiveOptions) -> Outcome {
    if let Some(why) = skip_reason(scenario, opts) {
        return Outcome::Skipped(why);
    }
    let seed = opts.seed.unwrap_or(scenario.seed);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Outcome::Ran(Report::harness_failure(
                seed,
                format!("cannot start a runtime: {e}"),
            ));
        }
    };
    let local = LocalSet::new();
    let report = local.block_on(&runtime, run_local(scenario, opts, seed));
    // Dropping the set drops whatever is left of the run's tasks.
    drop(local);
    Outcome::Ran(report)
}

async fn run_local(scenario: &Scenario, opts: &LiveOptions, seed: u64) -> Report {
    let mut process = None;
    let addr = match &opts.target {
        Target::Addr(a) => {
            hygiene::clean(a, scenario).await;
            a.clone()
        }
        Target::Command(cmd) => {
            let mut p = match BrokerProcess::new(cmd) {
                Ok(p) => p,
                Err(e) => {
                    return Report::harness_failure(
                        seed,
                        format!("no free port for the broker: {e}"),
                    );
                }
            };
            if let Err(e) = p.start().await {
                return Report::harness_failure(seed, e.to_string());
            }
            let a = p.addr();
            process = Some(p);
            a
        }
    };
    let mut report = drive(scenario, opts, seed, &addr, &mut process).await;
    if !report.ok() && report.harness_error.is_none() {
        report.harness_error = target_gone(&addr, &mut process);
    }
    match &mut process {
        Some(p) => p.kill().await,
        None => {
            // The run's connections were just dropped; let the broker
            // publish the wills that follow before their topics are
            // cleaned.
            tokio::time::sleep(WILLS_SETTLE).await;
            hygiene::clean(&addr, scenario).await;
        }
    }
    report
}

/// After a failed run: the target itself as the cause, when it went away
/// during the run (its process exited, or it no longer accepts
/// connections), so that the report does not read as the broker's
/// misbehaviour. A broker the scenario crashed on purpose is not running
/// and not asked.
fn target_gone(addr: &str, process: &mut Option<BrokerProcess>) -> Option<String> {
    match process {
        Some(p) => p.exited().map(|status| {
            format!("the target broker's process exited during the run ({status}); failures after that are its absence")
        }),
        None => probe(addr).err().map(|e| {
            format!("the target stopped accepting connections during the run ({e}); failures after that are its absence")
        }),
    }
}

/// Starts every client of the scenario, each through the proxy, with the
/// seed stream it has in simulation; returns how to abort each, by name.
fn spawn_clients(
    scenario: &Scenario,
    net: &Net,
    rec: &Recorder,
    seeds: &Seeds,
) -> BTreeMap<String, AbortHandle> {
    let mut clients = BTreeMap::new();
    for (index, (name, spec)) in scenario.clients.iter().enumerate() {
        let connector = LiveConnector {
            client: name.clone(),
            net: net.clone(),
        };
        let client = Client::new(
            name,
            spec.clone(),
            connector,
            rec.clone(),
            seeds.client(index),
        );
        let handle = tokio::task::spawn_local(client.run());
        clients.insert(name.clone(), handle.abort_handle());
    }
    clients
}

/// Runs the clients and the fault timeline for the scenario's duration.
async fn drive(
    scenario: &Scenario,
    opts: &LiveOptions,
    seed: u64,
    addr: &str,
    process: &mut Option<BrokerProcess>,
) -> Report {
    let seeds = Seeds::new(seed);
    let start = tokio::time::Instant::now();
    let rec = Recorder::new(Rc::new(move || start.elapsed()));
    let net = Net {
        // Live there is no turmoil: its stream draws the proxy's latency,
        // the job it has in simulation.
        links: Rc::new(RefCell::new(Links::new(
            &scenario.network,
            ChaCha8Rng::seed_from_u64(seeds.turmoil()),
        ))),
        broker_addr: Rc::new(addr.to_string()),
        tasks: Rc::default(),
    };
    let clients = spawn_clients(scenario, &net, &rec, &seeds);

    let mut harness_error = None;
    // The same schedule the simulation plays (chaos is skipped before this).
    for crate::sim::Timed { at, action: fault } in crate::sim::timeline(scenario, seed) {
        if at >= scenario.duration {
            break;
        }
        tokio::time::sleep_until(start + at).await;
        rec.record(EventKind::Fault {
            fault: fault.clone(),
        });
        net.links.borrow_mut().apply(&fault);
        match &fault {
            FaultAction::Crash(host) => {
                if let Some(client) = clients.get(host) {
                    // Dropping the client drops its end of the pipe: the
                    // broker sees the connection end, as after a crash.
                    client.abort();
                } else if let Some(p) = process.as_mut() {
                    p.kill().await;
                }
            }
            FaultAction::Restart(host) if scenario.brokers.contains_key(host) => {
                if let Some(p) = process.as_mut()
                    && let Err(e) = p.start().await
                {
                    harness_error = Some(format!("restart of {host} failed: {e}"));
                    break;
                }
            }
            _ => {}
        }
    }
    if harness_error.is_none() {
        tokio::time::sleep_until(start + scenario.duration).await;
    }
    for c in clients.values() {
        c.abort();
    }
    net.abort_all();
    let (events, dropped) = rec.take();
    let ending = Ending {
        seed,
        end: scenario.duration,
        events,
        dropped,
        harness_error,
    };
    let clock = Clock::Live {
        tolerance: opts.tolerance,
    };
    let target = judge::Target {
        name: &opts.target_name,
        profile: opts.profile.as_deref(),
    };
    judge(scenario, target, clock, ending)
}
