//! `network:`, `faults:` and `chaos:`: links and their latency, faults at
//! fixed times, and the random fault generators, each host pair checked
//! and `clients` expanded.

use std::time::Duration;

use indexmap::IndexMap;

use super::{Ctx, MAX_EXPANDED};
use crate::error::Error;
use crate::scenario::locate::{Locator, child, item};
use crate::scenario::model::*;
use crate::scenario::raw::*;

pub(super) fn network(cx: &Ctx, n: Option<RawNetwork>) -> Result<Network, Error> {
    let d = Network::default();
    let Some(n) = n else { return Ok(d) };
    let tick = match n.tick {
        Some(t) if t.0.is_zero() => {
            return Err(cx.at_value("network.tick", "`tick` must be more than 0"));
        }
        t => t.map(|t| t.0),
    };
    let mut links = Vec::new();
    for (i, l) in n.links.unwrap_or_default().into_iter().enumerate() {
        let p = item("network.links", i);
        for pair in cx.pairs(&child(&p, "between"), &l.between, "`between`")? {
            links.push(LinkSpec {
                between: pair,
                latency: l.latency.0,
            });
        }
        if links.len() > MAX_EXPANDED {
            return Err(cx.at_value(
                &p,
                format!("too many links: at most {MAX_EXPANDED} after `clients` is expanded"),
            ));
        }
    }
    Ok(Network {
        latency: n.latency.map_or(d.latency, |l| l.0),
        tick,
        links,
    })
}

/// The faults, each before the end of the run and each heal after
/// something it heals. `chaos` says whether the file has chaos, whose
/// partitions and holds a heal may end too.
pub(super) fn faults(
    cx: &Ctx,
    raw: Vec<Timed<RawFaultAction>>,
    duration: Duration,
    chaos: bool,
) -> Result<Vec<Fault>, Error> {
    let mut out = Vec::new();
    let mut from = Vec::new();
    for (i, f) in raw.into_iter().enumerate() {
        let p = item("faults", i);
        let line = cx.line(&p);
        let Some(at) = f.at else {
            return Err(cx.at_value(&p, "a fault needs `at`: when it happens, e.g. `at: 2s`"));
        };
        let at = at.0;
        if at.max() >= duration {
            let text = crate::scenario::duration::text;
            return Err(cx.at_value(
                &child(&p, "at"),
                format!(
                    "this fault's `at` can be {}, but the run ends at {} (`duration`); a fault at or after the end never happens",
                    text(at.max()),
                    text(duration)
                ),
            ));
        }
        for action in fault_actions(cx, &p, f.action)? {
            out.push(Fault { at, line, action });
            from.push(i);
        }
        if out.len() > MAX_EXPANDED {
            return Err(cx.at_value(
                &p,
                format!("too many faults: at most {MAX_EXPANDED} after `clients` is expanded"),
            ));
        }
    }
    if !chaos {
        heals_something(cx, &out, &from)?;
    }
    Ok(out)
}

/// Each heal can end something: a partition or a hold on one of its host
/// pairs (`heal: all`: on any pair) that may start no later than the heal.
/// `from[k]` is the index in the file of `faults[k]`.
fn heals_something(cx: &Ctx, faults: &[Fault], from: &[usize]) -> Result<(), Error> {
    // The earliest start of a partition or hold, per pair in either order.
    let mut starts: std::collections::BTreeMap<(&str, &str), Duration> = Default::default();
    for f in faults {
        if let FaultAction::Partition { a, b, .. } | FaultAction::Hold(a, b) = &f.action {
            let key = if a <= b {
                (a.as_str(), b.as_str())
            } else {
                (b.as_str(), a.as_str())
            };
            let t = starts.entry(key).or_insert(f.at.min());
            *t = (*t).min(f.at.min());
        }
    }
    let first = starts.values().min().copied();
    let mut nothing: Option<usize> = None;
    let mut entry: Option<(usize, bool)> = None;
    for (f, &i) in faults.iter().zip(from) {
        let heals = match &f.action {
            FaultAction::Heal(None) => first.is_some_and(|t| t <= f.at.max()),
            FaultAction::Heal(Some((a, b))) => {
                let key = if a <= b {
                    (a.as_str(), b.as_str())
                } else {
                    (b.as_str(), a.as_str())
                };
                starts.get(&key).is_some_and(|t| *t <= f.at.max())
            }
            _ => continue,
        };
        // An entry heals something when one of its pairs does.
        entry = match entry {
            Some((j, done)) if j == i => Some((j, done || heals)),
            Some((j, false)) => {
                nothing.get_or_insert(j);
                Some((i, heals))
            }
            _ => Some((i, heals)),
        };
    }
    if let Some((j, false)) = entry {
        nothing.get_or_insert(j);
    }
    match nothing {
        Some(i) => Err(cx.at_key(
            &child(&item("faults", i), "heal"),
            "nothing to heal: no partition or hold of these hosts starts before this `heal`, so it changes nothing",
        )),
        None => Ok(()),
    }
}

/// What the fault at `p` does, one action per host pair once `clients` is
/// expanded.
fn fault_actions(cx: &Ctx, p: &str, action: RawFaultAction) -> Result<Vec<FaultAction>, Error> {
    let mut out = Vec::new();
    match action {
        RawFaultAction::Partition(RawPartition::Both(list)) => {
            for (a, b) in cx.pairs(&child(p, "partition"), &list, "`partition`")? {
                out.push(FaultAction::Partition {
                    a,
                    b,
                    oneway: false,
                });
            }
        }
        RawFaultAction::Partition(RawPartition::OneWay { from, to }) => {
            return one_way_partition(cx, &child(p, "partition"), &from, &to);
        }
        RawFaultAction::Heal(RawHeal::All) => out.push(FaultAction::Heal(None)),
        RawFaultAction::Heal(RawHeal::Pair(list)) => {
            for pair in cx.pairs(&child(p, "heal"), &list, "`heal`")? {
                out.push(FaultAction::Heal(Some(pair)));
            }
        }
        RawFaultAction::Hold(list) => {
            for (a, b) in cx.pairs(&child(p, "hold"), &list, "`hold`")? {
                out.push(FaultAction::Hold(a, b));
            }
        }
        RawFaultAction::Release(list) => {
            for (a, b) in cx.pairs(&child(p, "release"), &list, "`release`")? {
                out.push(FaultAction::Release(a, b));
            }
        }
        RawFaultAction::Latency(l) => {
            let lp = child(p, "latency");
            for (a, b) in cx.pairs(&child(&lp, "between"), &l.between, "`latency`")? {
                out.push(FaultAction::Latency {
                    a,
                    b,
                    value: l.value.0,
                });
            }
        }
        RawFaultAction::Crash(h) => out.push(FaultAction::Crash(cx.host(
            &child(p, "crash"),
            &h,
            "`crash`",
        )?)),
        RawFaultAction::Restart(h) => out.push(restart(cx, &child(p, "restart"), h)?),
    }
    Ok(out)
}

/// `partition: {from, to}` at `pp`: one one-way partition per pair of
/// different hosts.
fn one_way_partition(cx: &Ctx, pp: &str, from: &str, to: &str) -> Result<Vec<FaultAction>, Error> {
    let froms = cx.hosts(&child(pp, "from"), from, "`partition`")?;
    let tos = cx.hosts(&child(pp, "to"), to, "`partition`")?;
    let mut out = Vec::new();
    for a in &froms {
        for b in tos.iter().filter(|b| *b != a) {
            out.push(FaultAction::Partition {
                a: a.clone(),
                b: b.clone(),
                oneway: true,
            });
        }
    }
    if out.is_empty() {
        return Err(cx.at_value(pp, "`partition` needs two different hosts"));
    }
    Ok(out)
}

/// `restart` at `hp`, which names a broker.
fn restart(cx: &Ctx, hp: &str, h: String) -> Result<FaultAction, Error> {
    if cx.clients.contains(&h) {
        return Err(cx.at_value(
            hp,
            format!("`restart` must name a broker; `{h}` is a client (clients are not restarted)"),
        ));
    }
    if !cx.brokers.contains(&h) {
        return Err(cx.at_value(
            hp,
            format!(
                "unknown broker `{h}` in `restart`, expected one of {}",
                cx.brokers.join(", ")
            ),
        ));
    }
    Ok(FaultAction::Restart(h))
}

fn every(cx: &Ctx, path: &str, d: &crate::scenario::duration::Dur) -> Result<DurationSpec, Error> {
    if d.0.min().is_zero() {
        return Err(cx.at_value(&child(path, "every"), "`every` must be more than 0"));
    }
    Ok(d.0)
}

fn chaos_between(
    cx: &Ctx,
    path: &str,
    between: Option<Vec<String>>,
    clients: &IndexMap<String, ClientSpec>,
) -> Result<Vec<(String, String)>, Error> {
    match between {
        Some(list) => cx.pairs(&child(path, "between"), &list, "`between`"),
        None => Ok(clients
            .iter()
            .map(|(name, c)| (name.clone(), c.broker.clone()))
            .collect()),
    }
}

pub(super) fn chaos(
    cx: &Ctx,
    c: RawChaos,
    clients: &IndexMap<String, ClientSpec>,
) -> Result<Chaos, Error> {
    let links = |name: &str, l: RawChaosLinks| -> Result<ChaosLinks, Error> {
        let p = child("chaos", name);
        Ok(ChaosLinks {
            every: every(cx, &p, &l.every)?,
            lasting: l.lasting.0,
            between: chaos_between(cx, &p, l.between, clients)?,
        })
    };
    let partitions = c.partitions.map(|l| links("partitions", l)).transpose()?;
    let holds = c.holds.map(|l| links("holds", l)).transpose()?;
    let latency = match c.latency {
        None => None,
        Some(l) => Some(ChaosLatency {
            every: every(cx, "chaos.latency", &l.every)?,
            lasting: l.lasting.0,
            value: l.value.0,
            between: chaos_between(cx, "chaos.latency", l.between, clients)?,
        }),
    };
    let crashes = match c.crashes {
        None => None,
        Some(k) => {
            let p = "chaos.crashes.hosts";
            let mut hosts: Vec<String> = Vec::new();
            for (i, h) in k.hosts.iter().enumerate() {
                for h in cx.hosts(&item(p, i), h, "`hosts`")? {
                    if !hosts.contains(&h) {
                        hosts.push(h);
                    }
                }
            }
            if hosts.is_empty() {
                return Err(cx.at_value(p, "`hosts` needs at least one host"));
            }
            Some(ChaosCrashes {
                every: every(cx, "chaos.crashes", &k.every)?,
                hosts,
                restart_after: k.restart_after.map(|d| d.0),
            })
        }
    };
    Ok(Chaos {
        partitions,
        holds,
        latency,
        crashes,
        settle: c.settle.map(|s| s.0),
    })
}
