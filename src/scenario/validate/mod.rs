//! From the raw file to the model: defaults, cross-references between
//! hosts, options that depend on the protocol, `clients` expansion, and the
//! line of every step, fault and expectation.
//!
//! This file is the entry point: it checks the required sections, declares
//! the hosts and hands each section to the file named after it.

mod action;
mod bridge;
mod broker;
mod client;
mod connect;
mod context;
mod expectations;
mod invariants;
mod network;
mod reach;
mod snapshot;
mod spec;

use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;

use super::duration::FixedDur;
use super::groups::ClientKeys;
use super::locate::{Locator, PosIndex, child, item};
use super::model::*;
use super::payload::MAX_PAYLOAD_BYTES_TOTAL;
use super::raw::*;
use super::values::{HostKeys, OrderedMap};
use crate::error::Error;

pub use bridge::{BRIDGE_KEEP_ALIVE_DEFAULT, BRIDGE_RECONNECT_DEFAULT, bridge_name};
use broker::broker;
pub use broker::broker_alone;
use client::{client, steps_in_time};
use context::Ctx;
use expectations::expectation;
use invariants::invariants;
use network::{chaos, faults, network};
use snapshot::snapshot_view;
use spec::{protocols, spec_ids};

/// Most hosts (brokers plus clients) a file may declare: room for 10,000
/// clients and their brokers. The engine's cost grows linearly with the
/// number of hosts (docs/performance.md).
pub const MAX_HOSTS: usize = 10_100;

/// Most faults after `clients` has been expanded into one fault per host
/// pair, and likewise most network links.
pub const MAX_EXPANDED: usize = 10_000;

/// Builds the model. `stem` is the file's stem, used as the name when the
/// file has no `name`; `extra_targets` are the names, besides `reference`
/// and the shipped profiles, that `only_for` and `not_for` may use.
pub fn build(
    raw: RawScenario,
    idx: &PosIndex,
    file: &Path,
    stem: &str,
    extra_targets: &[String],
) -> Result<Scenario, Error> {
    let mut cx = Ctx::new(idx, file, extra_targets);
    if let Some(message) = raw
        .format
        .and_then(|n| crate::scenario::format::check(Some(n), &n.to_string()))
    {
        return Err(cx.at_value("format", message));
    }
    let duration = duration(&cx, raw.duration)?;
    let protocol = raw.protocol.map_or(Protocol::V311, |p| p.0);
    let raw_brokers = required_brokers(&cx, raw.brokers)?;
    let raw_clients = required_clients(&cx, raw.clients)?;
    declare_hosts(&mut cx, &raw_brokers, &raw_clients)?;

    let mut brokers = IndexMap::new();
    for (name, b) in raw_brokers {
        let mut b = b.unwrap_or_default();
        let raw_bridge = b.bridge.take();
        let path = child("brokers", &name);
        let mut spec = broker(&cx, &path, b)?;
        if let Some(rb) = raw_bridge {
            let made = bridge::bridge(&cx, &child(&path, "bridge"), &name, rb, protocol)?;
            let level = if made.level == crate::wire::LEVEL_V5 {
                Protocol::V5
            } else {
                Protocol::V311
            };
            cx.bridges.push((made.name.clone(), level));
            spec.bridge = Some(made);
        }
        brokers.insert(name, spec);
    }
    let mut clients = IndexMap::new();
    for (name, c) in raw_clients {
        let spec = client(&mut cx, &name, c.unwrap_or_default(), protocol)?;
        clients.insert(name, spec);
    }

    for (name, c) in &clients {
        steps_in_time(&cx, name, &c.steps, duration)?;
    }
    bridge::client_id_clash(&cx, &brokers, &clients)?;
    payloads_within_bound(&cx, &clients)?;

    let network = network(&cx, raw.network)?;
    let faults = faults(
        &cx,
        raw.faults.unwrap_or_default(),
        duration,
        raw.chaos.is_some(),
    )?;
    let chaos = match raw.chaos {
        Some(c) => chaos(&cx, c, &clients)?,
        None => Chaos::default(),
    };
    let protocols = protocols(protocol, &clients);
    let mut expect = Vec::new();
    for (i, e) in raw.expect.unwrap_or_default().into_iter().enumerate() {
        expect.push(expectation(
            &cx,
            &item("expect", i),
            e,
            &clients,
            &protocols,
            duration,
        )?);
    }

    let spec = raw.spec.unwrap_or_default();
    spec_ids(&cx, "spec", &spec, &protocols)?;
    let snapshot = match raw.snapshot {
        Some(v) => Some(snapshot_view(&cx, v, &clients)?),
        None => None,
    };

    let invariants = invariants(&cx, raw.invariants)?;
    checks_something(&cx, expect.is_empty(), &invariants, raw.trace_only)?;

    // The name titles reports and names the run's thread, which cannot
    // hold a NUL; no control character belongs in a title.
    if let Some(name) = &raw.name
        && name.chars().any(char::is_control)
    {
        return Err(cx.at_value(
            "name",
            "`name` must not hold control characters (NUL, newline, tab, ...)",
        ));
    }
    let scenario = Scenario {
        name: raw.name.unwrap_or_else(|| stem.to_string()),
        about: raw.about,
        spec,
        protocol,
        seed: raw.seed.unwrap_or(0),
        duration,
        network,
        brokers,
        clients,
        faults,
        chaos,
        expect,
        snapshot,
        invariants,
    };
    chaos_settles(&cx, &scenario)?;
    Ok(scenario)
}

/// A run checks something: an expectation or an invariant, unless the
/// file says `trace_only: true`, and then it checks nothing indeed (the
/// key is not a way to skip checks that are written).
fn checks_something(
    cx: &Ctx,
    no_expectations: bool,
    invariants: &Invariants,
    trace_only: Option<bool>,
) -> Result<(), Error> {
    let nothing = no_expectations && *invariants == Invariants::Off;
    match (nothing, trace_only.unwrap_or(false)) {
        (true, false) => Err(cx.at_value(
            "invariants",
            "with `invariants: off` and no `expect`, a run of this scenario checks nothing and always passes; add an expectation, turn invariants back on, or say `trace_only: true` if the trace snapshot is the only test",
        )),
        (false, true) => Err(cx.at_value(
            "trace_only",
            "`trace_only: true` says a run checks nothing, but this file has expectations or invariants on; leave `trace_only` out",
        )),
        _ => Ok(()),
    }
}

/// `duration`, which every file gives and which is more than 0.
fn duration(cx: &Ctx, raw: Option<FixedDur>) -> Result<Duration, Error> {
    match raw {
        None => Err(cx.at_value(
            "",
            "`duration` is required: the simulated time the run lasts, e.g. `duration: 10s`",
        )),
        Some(d) if d.0.is_zero() => Err(cx.at_value("duration", "`duration` must be more than 0")),
        Some(d) => Ok(d.0),
    }
}

/// The entries of `brokers`, which every file gives, with at least one.
fn required_brokers(
    cx: &Ctx,
    raw: Option<OrderedMap<Option<RawBroker>, HostKeys>>,
) -> Result<IndexMap<String, Option<RawBroker>>, Error> {
    match raw {
        None => Err(cx.at_value(
            "",
            "`brokers` is required: at least one broker, e.g. `brokers: {broker: {}}`",
        )),
        Some(b) if b.entries.is_empty() => Err(cx.at_value(
            "brokers",
            "`brokers` needs at least one broker, e.g. `broker: {}`",
        )),
        Some(b) => Ok(b.entries),
    }
}

/// The entries of `clients` (groups already expanded), which every file
/// gives, with at least one.
fn required_clients(
    cx: &Ctx,
    raw: Option<OrderedMap<Option<RawClient>, ClientKeys>>,
) -> Result<IndexMap<String, Option<RawClient>>, Error> {
    match raw {
        None => Err(cx.at_value(
            "",
            "`clients` is required: at least one client, e.g. `clients: {sensor: {steps: [connect: {}]}}`",
        )),
        Some(c) if c.entries.is_empty() => {
            Err(cx.at_value("clients", "`clients` needs at least one client"))
        }
        Some(c) => Ok(c.entries),
    }
}

/// Records the host names in `cx`: unique across brokers and clients, and
/// at most [`MAX_HOSTS`] of them.
fn declare_hosts(
    cx: &mut Ctx,
    brokers: &IndexMap<String, Option<RawBroker>>,
    clients: &IndexMap<String, Option<RawClient>>,
) -> Result<(), Error> {
    cx.brokers = brokers.keys().cloned().collect();
    for name in clients.keys() {
        let path = child("clients", name);
        if cx.brokers.contains(name) {
            return Err(cx.at_key(
                &path,
                format!("duplicate host `{name}`: a broker already has this name; host names are unique across brokers and clients"),
            ));
        }
        if cx.brokers.len() + cx.clients.len() >= MAX_HOSTS {
            return Err(cx.at_key(
                &path,
                format!("too many hosts: at most {MAX_HOSTS} brokers and clients together"),
            ));
        }
        cx.clients.push(name.clone());
    }
    if cx.brokers.len() > MAX_HOSTS {
        let over = cx.brokers.get(MAX_HOSTS).cloned().unwrap_or_default();
        return Err(cx.at_key(
            &child("brokers", &over),
            format!("too many hosts: at most {MAX_HOSTS} brokers and clients together"),
        ));
    }
    Ok(())
}

/// With chaos on, the run must outlast chaos's settling time, or no fault
/// would ever be generated.
fn chaos_settles(cx: &Ctx, scenario: &Scenario) -> Result<(), Error> {
    if scenario.chaos.is_on() && scenario.chaos_end().is_zero() {
        let (settle, why) = scenario.chaos_settle_why();
        return Err(cx.at_value(
            "chaos",
            format!(
                "`duration` must be longer than chaos's settling time ({}s: {why}); lengthen `duration` or set `chaos.settle`",
                settle.as_secs_f64()
            ),
        ));
    }
    Ok(())
}

/// Refuses a file whose clients' payloads (PUBLISH and raw `send` steps,
/// wills) add up to more than [`MAX_PAYLOAD_BYTES_TOTAL`]: each is at most
/// 1 MiB and they share one buffer at load, but a run copies each into
/// packets, so 10,000 clients publishing 1 MiB each validated and then
/// aborted the run on allocation. The error is at the step that crosses
/// the bound.
fn payloads_within_bound(cx: &Ctx, clients: &IndexMap<String, ClientSpec>) -> Result<(), Error> {
    let mut total: usize = 0;
    for (name, c) in clients {
        let will = c.options.will.as_ref().map_or(0, |w| w.payload.len());
        total = total.saturating_add(will);
        for (i, step) in c.steps.iter().enumerate() {
            let bytes = match &step.action {
                Action::Publish { payload, .. } => payload.len(),
                Action::Send(b) => b.len(),
                _ => 0,
            };
            total = total.saturating_add(bytes);
            if total > MAX_PAYLOAD_BYTES_TOTAL {
                let path = item(&child(&child("clients", name), "steps"), i);
                return Err(cx.at_value(
                    &path,
                    format!(
                        "the clients' payloads add up to more than {MAX_PAYLOAD_BYTES_TOTAL} bytes by this step; a run copies every one of them, so a file may hold at most that much"
                    ),
                ));
            }
        }
    }
    Ok(())
}
