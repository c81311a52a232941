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
use hygiene::Login;
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
    /// loopback port. The harness starts it, shares it between the
    /// scenarios of a lane, and can crash and restart it.
    Command(String),
    /// A profile's `start`: a command and a configuration file template.
    Start(crate::profile::Start),
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

    /// Whether the harness starts the broker (and so can crash, restart
    /// and replace it).
    pub fn starts_broker(&self) -> bool {
        matches!(self.target, Target::Command(_) | Target::Start(_))
    }

    /// The login of the harness's own connections: the profile's
    /// credentials.
    fn login(&self) -> Login {
        let c = self.profile.as_ref().and_then(|p| p.credentials.as_ref());
        Login {
            username: c.map(|c| c.username.clone()),
            password: c.and_then(|c| c.password.clone()),
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
    skip::reason(
        scenario,
        opts.duration_max,
        opts.starts_broker(),
        opts.profile.as_deref(),
    )
}

/// The scenario as run against a target with this profile: every client
/// without a username of its own gets the profile's credentials.
pub fn with_credentials(scenario: &Scenario, profile: Option<&Profile>) -> Scenario {
    let mut s = scenario.clone();
    if let Some(c) = profile.and_then(|p| p.credentials.as_ref()) {
        for spec in s.clients.values_mut() {
            if spec.options.username.is_none() {
                spec.options.username = Some(c.username.clone());
                spec.options.password = c.password.clone();
            }
        }
    }
    s
}

/// Runs one scenario against the live target, or says why it cannot: a
/// lane of one scenario (see [`Lane`]).
pub fn run(scenario: &Scenario, opts: &LiveOptions) -> Outcome {
    Lane::new(opts.clone()).run(scenario)
}

/// How many times a lane replaces a broker it started that died or stopped
/// answering, before it gives the target up as unhealthy.
pub const RESTARTS_MAX: usize = 3;

/// Scenarios run one after another against one target, as a CI lane runs
/// them. A broker the harness starts is started once for the lane and
/// shared (a scenario that crashes or restarts the broker gets a fresh one
/// of its own); between scenarios the broker is probed
/// ([`hygiene::health`]) and cleaned and checked ([`hygiene::clean`],
/// [`hygiene::verify`]).
///
/// A result counts only if honestly obtained: a scenario runs only after
/// the probe and the check pass, and one after which the broker no longer
/// answers fails. A broker the harness started that died or wedged is
/// replaced (at most [`RESTARTS_MAX`] times; each is in [`Lane::notes`]);
/// one it cannot replace makes every remaining scenario of the lane fail
/// as `target unhealthy`.
pub struct Lane {
    opts: LiveOptions,
    /// The lane's shared broker, once started.
    broker: Option<BrokerProcess>,
    /// Why the target is given up; every later run fails with it.
    unhealthy: Option<String>,
    restarts: usize,
    notes: Vec<String>,
    /// The name of the scenario run last on the lane's broker.
    last: Option<String>,
    /// One runtime for the lane's life: the broker process it started is
    /// waited on by the runtime that spawned it.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Lane {
    pub fn new(opts: LiveOptions) -> Lane {
        Lane {
            opts,
            broker: None,
            unhealthy: None,
            restarts: 0,
            notes: Vec::new(),
            last: None,
            runtime: None,
        }
    }

    pub fn options(&self) -> &LiveOptions {
        &self.opts
    }

    /// What happened to the target between runs (restarts), oldest first,
    /// taken: each is said once.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Why the target has been given up, if it has.
    pub fn unhealthy(&self) -> Option<&str> {
        self.unhealthy.as_deref()
    }

    /// Runs a scenario, or says why it cannot.
    pub fn run(&mut self, scenario: &Scenario) -> Outcome {
        if let Some(why) = skip_reason(scenario, &self.opts) {
            return Outcome::Skipped(why);
        }
        let scenario = &with_credentials(scenario, self.opts.profile.as_deref());
        let seed = self.opts.seed.unwrap_or(scenario.seed);
        if let Some(why) = &self.unhealthy {
            return Outcome::Ran(Report::harness_failure(
                seed,
                format!("target unhealthy: {why}; not run"),
            ));
        }
        let runtime = match self.runtime.take() {
            Some(rt) => rt,
            None => match tokio::runtime::Builder::new_current_thread()
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
            },
        };
        let local = LocalSet::new();
        let report = local.block_on(&runtime, self.run_local(scenario, seed));
        self.runtime = Some(runtime);
        // Dropping the set drops whatever is left of the run's tasks.
        drop(local);
        Outcome::Ran(report)
    }

    async fn run_local(&mut self, scenario: &Scenario, seed: u64) -> Report {
        if self.opts.starts_broker() && crashes_broker(scenario) {
            return self.run_fresh(scenario, seed).await;
        }
        let addr = match self.ready(scenario).await {
            Ok(a) => a,
            Err(why) => {
                return Report::harness_failure(seed, format!("target unhealthy: {why}; not run"));
            }
        };
        let mut none = None;
        self.last = Some(scenario.name.clone());
        let mut report = drive(scenario, &self.opts, seed, &addr, &mut none).await;
        // The run's connections were just dropped; let the broker publish
        // the wills that follow before their topics are cleaned.
        tokio::time::sleep(WILLS_SETTLE).await;
        let login = self.opts.login();
        let after = match hygiene::health(&addr, scenario.protocol, &login).await {
            Ok(()) => hygiene::clean(&addr, scenario, &login).await,
            Err(e) => Err(e),
        };
        if let Err(e) = after {
            // Whatever the verdicts, a broker that broke during the run
            // gave no result to trust.
            let gone = target_gone(&addr, &mut self.broker);
            report.harness_error.get_or_insert(gone.unwrap_or_else(|| {
                format!("the target stopped answering during or right after the run: {e}")
            }));
        }
        report
    }

    /// The address of a healthy, clean broker for the next scenario:
    /// starts the lane's broker the first time, replaces one that died or
    /// wedged, and gives the target up when it cannot.
    async fn ready(&mut self, scenario: &Scenario) -> Result<String, String> {
        let login = self.opts.login();
        loop {
            let addr = match &self.opts.target {
                Target::Addr(a) => a.clone(),
                _ => match self.broker.as_ref() {
                    Some(b) => b.addr(),
                    None => match self.start_broker().await {
                        Ok(a) => a,
                        Err(e) => return Err(self.give_up(e)),
                    },
                },
            };
            let checked = async {
                hygiene::health(&addr, scenario.protocol, &login)
                    .await
                    .map_err(|e| format!("health probe: {e}"))?;
                hygiene::clean(&addr, scenario, &login).await?;
                hygiene::verify(&addr, scenario, &login).await
            };
            let why = match checked.await {
                Ok(()) => return Ok(addr),
                Err(e) => e,
            };
            let Some(mut b) = self.broker.take() else {
                return Err(self.give_up(why));
            };
            let what = match b.exited() {
                Some(status) => format!("its process exited ({status})"),
                None => why,
            };
            b.kill().await;
            if self.restarts >= RESTARTS_MAX {
                return Err(self.give_up(format!("{what}; already restarted {RESTARTS_MAX} times")));
            }
            self.restarts += 1;
            let after = match &self.last {
                Some(l) => format!(" after `{l}` and"),
                None => String::new(),
            };
            self.notes.push(format!(
                "the target broker was restarted{after} before `{}`: {what}",
                scenario.name
            ));
        }
    }

    /// The process id of the lane's shared broker (the shell that runs the
    /// command, or what it `exec`s), while it runs.
    pub fn broker_pid(&self) -> Option<u32> {
        self.broker.as_ref()?.pid()
    }

    /// Stops the lane's broker, if it started one.
    pub fn stop(&mut self) {
        if let (Some(mut b), Some(rt)) = (self.broker.take(), self.runtime.as_ref()) {
            rt.block_on(b.kill());
        }
    }

    fn give_up(&mut self, why: String) -> String {
        self.unhealthy = Some(why.clone());
        why
    }

    /// Starts the lane's broker; its address.
    async fn start_broker(&mut self) -> Result<String, String> {
        let mut b = new_process(&self.opts.target)?;
        b.start().await.map_err(|e| e.to_string())?;
        let a = b.addr();
        self.broker = Some(b);
        Ok(a)
    }

    /// A scenario that crashes or restarts the broker, on a broker of its
    /// own, started for it and killed after it.
    async fn run_fresh(&mut self, scenario: &Scenario, seed: u64) -> Report {
        let mut p = match new_process(&self.opts.target) {
            Ok(p) => p,
            Err(e) => return Report::harness_failure(seed, e),
        };
        if let Err(e) = p.start().await {
            return Report::harness_failure(seed, e.to_string());
        }
        let addr = p.addr();
        let mut process = Some(p);
        let mut report = drive(scenario, &self.opts, seed, &addr, &mut process).await;
        if !report.ok() && report.harness_error.is_none() {
            report.harness_error = target_gone(&addr, &mut process);
        }
        if let Some(p) = &mut process {
            p.kill().await;
        }
        report
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A broker process for a target the harness starts.
fn new_process(target: &Target) -> Result<BrokerProcess, String> {
    match target {
        Target::Command(cmd) => {
            BrokerProcess::new(cmd).map_err(|e| format!("no free port for the broker: {e}"))
        }
        Target::Start(start) => BrokerProcess::from_start(start)
            .map_err(|e| format!("cannot prepare the broker's start: {e}")),
        Target::Addr(a) => Err(format!("the broker at {a} is not started by the harness")),
    }
}

/// Whether the scenario crashes or restarts one of its brokers.
fn crashes_broker(scenario: &Scenario) -> bool {
    scenario.faults.iter().any(|f| match &f.action {
        FaultAction::Crash(h) | FaultAction::Restart(h) => scenario.brokers.contains_key(h),
        _ => false,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_to_clients_without_a_username_of_their_own() {
        let s = crate::scenario::parse(
            "duration: 1s\nbrokers: {broker: {}}\nclients:\n  a:\n    steps: [connect: {}]\n  b:\n    username: bob\n    steps: [connect: {}]\n",
            std::path::Path::new("s.yaml"),
        )
        .expect("a valid scenario");
        let p = Profile::parse(
            "name: x\nprotocols: [\"3.1.1\"]\ncredentials: {username: ci, password: pw}\n",
            "p.yaml",
        )
        .expect("a valid profile");
        let run = with_credentials(&s, Some(&p));
        let a = &run.clients["a"].options;
        assert_eq!(
            (a.username.as_deref(), a.password.as_deref()),
            (Some("ci"), Some("pw"))
        );
        let b = &run.clients["b"].options;
        assert_eq!(
            (b.username.as_deref(), b.password.as_deref()),
            (Some("bob"), None)
        );
        assert_eq!(with_credentials(&s, None).clients, s.clients);
    }
}
