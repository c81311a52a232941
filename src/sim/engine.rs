//! The event-driven engine: every host of a run on one current-thread tokio
//! runtime with a paused clock, over turmoil-net's TCP.
//!
//! tokio's paused clock jumps to the next timer as soon as every task is
//! idle, so simulated time costs only what happens in it. The driver is one
//! more task: it lets the hosts run until nothing is runnable at the current
//! instant, moves packets between their TCP stacks ([`Network`]), applies
//! the faults that are due, and then sleeps until the next packet or fault
//! is due; a host timer that comes first wakes it through [`Activity`].
//!
//! Each host is a `LocalSet` of its own inside a [`OnHost`] future, which
//! tells turmoil-net which host's stack the socket calls of its tasks use.
//! A crash drops that future with everything the host created; a restart
//! builds it again from the host's [`Start`].

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::task::{JoinHandle, LocalSet};
use tokio::time::Instant;
use turmoil_net::{HostId, KernelConfig, Net};

use super::network::{Network, round_up};
use super::target::BrokerUnderTest;
use super::{Seeds, faults::Timed, net};
use crate::client::Client;
use crate::judge::{Clock, Ending, Target, judge};
use crate::scenario::{FaultAction, Scenario};
use crate::trace::{EventKind, Recorder, Report};

/// The harness error of a run stopped by the wall-clock cap; the caller
/// words it.
pub const STOPPED: &str = "stopped";

/// Starts a host's software: called at the beginning of the run and after
/// each restart.
type Start = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = io::Result<()>>>>>;

/// Whether any host ran since the driver last looked, and how to wake the
/// driver when one does.
#[derive(Default)]
struct Activity {
    ran: Cell<bool>,
    /// Whether any host ran since the network last swept the stacks'
    /// outbound queues: only a host's socket calls and the packets the
    /// network delivers give a stack something to send.
    touched: Cell<bool>,
    driver: RefCell<Option<Waker>>,
}

impl Activity {
    fn mark(&self) {
        self.ran.set(true);
        self.touched.set(true);
        if let Some(w) = self.driver.borrow().as_ref() {
            w.wake_by_ref();
        }
    }
}

/// One incarnation of a host: its tasks, run with its TCP stack current.
struct OnHost {
    id: HostId,
    set: LocalSet,
    /// The host's first task, until it ends.
    main: Option<JoinHandle<io::Result<()>>>,
    activity: Rc<Activity>,
    failure: Rc<RefCell<Option<String>>>,
    name: String,
}

impl Future for OnHost {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        turmoil_net::set_current(self.id);
        self.activity.mark();
        let _ = Pin::new(&mut self.set).poll(cx);
        if let Some(main) = &mut self.main
            && let Poll::Ready(result) = Pin::new(main).poll(cx)
        {
            self.main = None;
            let why = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("a host failed: {}: {e}", self.name)),
                Err(e) => Some(format!("a host failed: {}: {e}", self.name)),
            };
            if let Some(why) = why {
                self.failure.borrow_mut().get_or_insert(why);
            }
        }
        // Tasks the main task spawned may still run: a host ends only when
        // it is crashed or the run ends.
        Poll::Pending
    }
}

impl Drop for OnHost {
    fn drop(&mut self) {
        // Dropping the set drops the host's sockets, which talk to its
        // stack.
        turmoil_net::set_current(self.id);
        self.activity.mark();
    }
}

struct Host {
    name: String,
    id: HostId,
    start: Start,
    running: Option<JoinHandle<()>>,
}

/// Everything the driver owns during a run.
struct World {
    hosts: Vec<Host>,
    /// Each host's index in `hosts`, by name.
    index: BTreeMap<String, usize>,
    network: Network,
    activity: Rc<Activity>,
    failure: Rc<RefCell<Option<String>>>,
    clock_start: Instant,
}

impl World {
    /// The hosts named `names`, in that order (brokers first, as turmoil-net
    /// numbered them: `ids`), none of them started yet.
    fn new(
        names: &[String],
        ids: Vec<HostId>,
        starts: Vec<Start>,
        network: Network,
        clock_start: Instant,
    ) -> Self {
        debug_assert!(names.len() == ids.len() && ids.len() == starts.len());
        World {
            hosts: names
                .iter()
                .zip(ids)
                .zip(starts)
                .map(|((name, id), start)| Host {
                    name: name.clone(),
                    id,
                    start,
                    running: None,
                })
                .collect(),
            index: names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i))
                .collect(),
            network,
            activity: Rc::default(),
            failure: Rc::default(),
            clock_start,
        }
    }

    fn now(&self) -> Duration {
        Instant::now() - self.clock_start
    }

    fn spawn(&mut self, index: usize) {
        let host = &mut self.hosts[index];
        let set = LocalSet::new();
        let main = set.spawn_local((host.start)());
        let on_host = OnHost {
            id: host.id,
            set,
            main: Some(main),
            activity: self.activity.clone(),
            failure: self.failure.clone(),
            name: host.name.clone(),
        };
        host.running = Some(tokio::task::spawn_local(on_host));
    }

    fn crash(&mut self, name: &str) {
        if let Some(&i) = self.index.get(name)
            && let Some(task) = self.hosts[i].running.take()
        {
            task.abort();
        }
        self.network.crash(name);
    }
}

/// Runs `scenario` with `target` as every broker until its duration, or
/// until `stop` is set (the wall-clock cap); then the report has what
/// happened so far.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    target: &dyn BrokerUnderTest,
    stop: Arc<AtomicBool>,
) -> Report {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Report::harness_failure(seed, format!("cannot build the runtime: {e}")),
    };
    let seeds = Seeds::new(seed);
    // Retransmission would count egress passes, not time; a lost segment
    // stalls the stream instead, as docs/faults.md says.
    let config = KernelConfig::default()
        .retx_threshold(u32::MAX)
        .default_backlog(backlog(scenario));
    let mut net = Net::with_config(config);
    let names: Vec<String> = scenario
        .brokers
        .keys()
        .chain(scenario.clients.keys())
        .cloned()
        .collect();
    let ids: Vec<HostId> = names.iter().map(|n| net.add_host(n.as_str())).collect();
    let addresses: Vec<(String, IpAddr)> =
        names.iter().map(|n| (n.clone(), net.lookup(n))).collect();
    let tick = scenario.network.tick();
    let network = Network::new(scenario, tick, addresses.clone(), seeds.network());
    // The driver task and the run share the guard: the hosts' sockets
    // talk to the network until the very end, after the driver is done.
    let guard = Rc::new(net.enter());
    let plan = Plan {
        duration: scenario.duration,
        tick,
        timeline: super::timeline(scenario, seed),
    };

    let local = LocalSet::new();
    let report = local.block_on(&rt, async {
        let clock_start = Instant::now();
        let rec = Recorder::new(Rc::new(move || Instant::now() - clock_start));
        let starts = starts(scenario, &addresses, &rec, &seeds, target);
        let mut world = World::new(&names, ids, starts, network, clock_start);
        for i in 0..world.hosts.len() {
            world.spawn(i);
        }
        // The driver is a task of the same LocalSet as the hosts, so that
        // letting them run (`settle`) costs a turn of the LocalSet's queue,
        // not a turn of the runtime with its timer and clock bookkeeping.
        let driver = tokio::task::spawn_local(drive(world, plan, guard.clone(), rec.clone(), stop));
        let (mut world, harness_error) = match driver.await {
            Ok(done) => done,
            Err(e) => return Report::harness_failure(seed, format!("the driver failed: {e}")),
        };
        let end = world.now().min(scenario.duration);
        for h in &mut world.hosts {
            if let Some(t) = h.running.take() {
                t.abort();
            }
        }
        // Let the aborted hosts drop their sockets while the network exists.
        settle(&world.activity, &AtomicBool::new(false)).await;
        let (events, dropped) = rec.take();
        let ending = Ending {
            seed,
            end,
            events,
            dropped,
            harness_error,
        };
        let against = Target {
            name: target.name(),
            profile: target.profile(),
        };
        judge(scenario, against, Clock::Simulated, ending)
    });
    drop(local);
    drop(guard);
    report
}

/// What the driver needs of the scenario.
struct Plan {
    duration: Duration,
    tick: Duration,
    /// Every fault, in the order they are applied.
    timeline: Vec<Timed>,
}

/// Lets every host run until none is runnable at this instant, or until
/// `stop` is set: hosts that keep each other busy at one instant (or a
/// broker that never waits) would otherwise keep the driver from ever
/// looking at the wall-clock cap, and the run's trace would be lost.
async fn settle(activity: &Activity, stop: &AtomicBool) {
    loop {
        activity.ran.set(false);
        yield_to_hosts().await;
        if !activity.ran.get() || stop.load(Ordering::Relaxed) {
            return;
        }
    }
}

/// Goes to the back of the LocalSet's queue once, so that every host task
/// queued before runs first. Unlike `tokio::task::yield_now`, which defers
/// the wake-up until the runtime has parked (a timer-wheel pass and two
/// real-clock reads for tokio's busy-time metric, every time), this stays
/// inside the LocalSet's turn; nothing else can happen in between at a
/// paused instant, since timers only fire when the runtime parks.
fn yield_to_hosts() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

/// Resolves when a host has run since the driver last settled.
fn host_ran(activity: &Activity) -> impl Future<Output = ()> + '_ {
    std::future::poll_fn(move |cx| {
        if activity.ran.get() {
            return Poll::Ready(());
        }
        *activity.driver.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
}

/// Runs the world to the end of the plan; gives the world back with the
/// harness error, if any, for the run to wind up.
async fn drive(
    mut world: World,
    plan: Plan,
    guard: Rc<turmoil_net::EnterGuard>,
    rec: Recorder,
    stop: Arc<AtomicBool>,
) -> (World, Option<String>) {
    let error = drive_world(&mut world, &plan, &guard, &rec, &stop).await;
    (world, error)
}

async fn drive_world(
    world: &mut World,
    plan: &Plan,
    guard: &turmoil_net::EnterGuard,
    rec: &Recorder,
    stop: &AtomicBool,
) -> Option<String> {
    let timeline = &plan.timeline;
    let tick = plan.tick;
    // A fault takes effect at the first tick at or after its time, before
    // anything the hosts do at that tick: it is applied once everything of
    // the tick before has happened, as turmoil 0.7 applied it between
    // steps. Time only ever stops at whole ticks, so nothing can happen in
    // between.
    let fault_tick = |f: &Timed| round_up(f.at, tick);
    let mut next_fault = 0;
    while let Some(fault) = timeline.get(next_fault)
        && fault_tick(fault).is_zero()
    {
        apply(world, guard, &fault.action, Duration::ZERO, stop).await;
        rec.record_at(
            Duration::ZERO,
            EventKind::Fault {
                fault: fault.action.clone(),
            },
        );
        next_fault += 1;
    }
    // The paused clock only moves forward; a step back would reorder the
    // trace and break every timing bound the invariants judge.
    let mut last_now = Duration::ZERO;
    loop {
        settle(&world.activity, stop).await;
        if let Some(why) = world.failure.borrow_mut().take() {
            return Some(why);
        }
        // The cap is looked at between any two steps, not only when the
        // world is idle: a burst of exchanges at one instant (thousands of
        // clients) can take longer than the cap by itself.
        if stop.load(Ordering::Relaxed) {
            return Some(STOPPED.to_string());
        }
        let now = world.now();
        debug_assert!(
            now >= last_now,
            "the simulated clock went back from {last_now:?} to {now:?}"
        );
        last_now = now;
        let touched = world.activity.touched.replace(false);
        if world.network.exchange(guard, now, touched) {
            continue;
        }
        if now >= plan.duration {
            return None;
        }
        if let Some(fault) = timeline.get(next_fault)
            && fault_tick(fault) <= now + tick
        {
            let at = fault_tick(fault).max(now);
            // The timeline is sorted, so faults take effect in its order.
            debug_assert!(
                next_fault == 0 || fault_tick(&timeline[next_fault - 1]) <= fault_tick(fault),
                "the fault timeline is out of order at entry {next_fault}"
            );
            apply(world, guard, &fault.action, at, stop).await;
            rec.record_at(
                at,
                EventKind::Fault {
                    fault: fault.action.clone(),
                },
            );
            next_fault += 1;
            continue;
        }
        let mut wake = plan.duration;
        if let Some(at) = world.network.next_due() {
            wake = wake.min(at);
        }
        if let Some(f) = timeline.get(next_fault) {
            wake = wake.min(fault_tick(f).saturating_sub(tick));
        }
        world.activity.ran.set(false);
        let clock_start = world.clock_start;
        tokio::select! {
            biased;
            _ = host_ran(&world.activity) => {}
            _ = tokio::time::sleep_until(clock_start + wake) => {}
        }
        *world.activity.driver.borrow_mut() = None;
    }
}

/// Applies a fault that takes effect at `at` (now, or the next tick).
async fn apply(
    world: &mut World,
    guard: &turmoil_net::EnterGuard,
    fault: &FaultAction,
    at: Duration,
    stop: &AtomicBool,
) {
    let net = &mut world.network;
    match fault {
        FaultAction::Partition { a, b, oneway } => net.partition(a, b, *oneway),
        FaultAction::Heal(Some((a, b))) => net.heal(a, b),
        FaultAction::Heal(None) => net.heal_all(),
        FaultAction::Hold(a, b) => net.hold(a, b),
        FaultAction::Release(a, b) => net.release(a, b, at),
        FaultAction::Latency { a, b, value } => net.set_latency(a, b, *value),
        FaultAction::Crash(h) => world.crash(h),
        FaultAction::Restart(h) => {
            // Restarting a running host crashes it first.
            world.crash(h);
            settle(&world.activity, stop).await;
            let now = world.now();
            world.network.restart(h, now, at);
            // Deliver the resets, so that the old sockets are gone before
            // the new life binds its listener.
            let touched = world.activity.touched.replace(false);
            world.network.exchange(guard, now, touched);
            if let Some(&i) = world.index.get(h) {
                world.spawn(i);
            }
        }
    }
}

/// Room in every accept backlog for each client to connect at once, twice
/// over.
fn backlog(s: &Scenario) -> usize {
    (s.clients.len() * 2).max(64)
}

/// How each host starts, brokers first and then clients, in file order.
/// `addresses` are the hosts' addresses in the same order.
fn starts(
    scenario: &Scenario,
    addresses: &[(String, IpAddr)],
    rec: &Recorder,
    seeds: &Seeds,
    target: &dyn BrokerUnderTest,
) -> Vec<Start> {
    let mut out: Vec<Start> = Vec::new();
    for (index, ((name, spec), (_, ip))) in scenario.brokers.iter().zip(addresses).enumerate() {
        let ip = *ip;
        let rec_notes = rec.clone();
        let host = name.clone();
        let notes: crate::broker::Notes = Rc::new(move |text| {
            rec_notes.record(EventKind::Note {
                host: host.clone(),
                text,
            })
        });
        let factory = match &spec.bridge {
            None => Some(target.host(name, spec, notes)),
            Some(b) => {
                let link = Rc::new(super::SimLink {
                    to: b.to.clone(),
                    name: b.name.clone(),
                    rec: rec.clone(),
                    rng: RefCell::new(seeds.bridge(index)),
                });
                target.bridged_host(name, spec, notes, link)
            }
        };
        let Some(factory) = factory.map(Rc::new) else {
            let why = format!("target {} does not run bridges", target.name());
            out.push(Rc::new(move || {
                let why = why.clone();
                Box::pin(async move { Err(io::Error::other(why)) })
            }));
            continue;
        };
        out.push(Rc::new(move || {
            let factory = factory.clone();
            Box::pin(async move {
                let listener = net::Listener::bind(ip).await?;
                factory(listener).await
            })
        }));
    }
    for (index, (name, spec)) in scenario.clients.iter().enumerate() {
        let rng = seeds.client(index);
        let spec = spec.clone();
        let rec = rec.clone();
        let name = name.clone();
        out.push(Rc::new(move || {
            let client = Client::new(
                &name,
                spec.clone(),
                net::Connector,
                rec.clone(),
                rng.clone(),
            );
            Box::pin(async move {
                client.run().await;
                Ok(())
            })
        }));
    }
    out
}
