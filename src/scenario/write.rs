//! Writing a scenario back to the format: the file a shrunk run is saved
//! as (`explore --shrink`).
//!
//! The shrinker only removes things from a loaded scenario (clients, steps,
//! expectations) and replaces its faults, duration and seed, so the file is
//! written as an edit of the original file's YAML tree rather than from
//! the model: everything else the author wrote (brokers, client options,
//! payloads, matchers, properties) is carried over as written, and the
//! model needs no second, lossy encoding. Steps and expectations are
//! matched to their YAML items by line, the way the loader gave them their
//! `line`. Comments are not kept.
//!
//! The written text is loaded again with the normal loader and compared
//! with the scenario it stands for; a file that would not load, or would
//! load as something else, is an error instead of a file.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_yaml::{Mapping, Value};

use super::locate::{PosIndex, child, item};
use super::{Expectation, Fault, FaultAction, Scenario, Step, parse};

/// What the written file says on top of the scenario's content.
pub struct Header<'a> {
    pub name: &'a str,
    pub about: &'a str,
}

/// `source` (the text `original` was loaded from) edited to say `shrunk`:
/// `shrunk` must be `original` with clients, steps and expectations
/// removed, any faults, duration and seed, and no chaos. Fails when the
/// result would not load back as `shrunk`.
pub fn edited(
    source: &str,
    path: &Path,
    shrunk: &Scenario,
    header: &Header,
) -> Result<String, String> {
    if shrunk.chaos.is_on() {
        return Err("a written scenario must list its faults: chaos is still on".into());
    }
    let mut root: Value =
        serde_yaml::from_str(source).map_err(|e| format!("cannot read the original: {e}"))?;
    let index = PosIndex::build(source).map_err(|e| e.message)?;
    let Value::Mapping(top) = &mut root else {
        return Err("the original is not a map".into());
    };
    // The order of the keys in the file: name, about, seed, duration first.
    let mut out = Mapping::new();
    out.insert("name".into(), header.name.into());
    out.insert("about".into(), header.about.into());
    for key in ["name", "about", "seed", "duration", "chaos", "snapshot"] {
        top.shift_remove(key);
    }
    out.insert("seed".into(), shrunk.seed.into());
    out.insert("duration".into(), duration(shrunk.duration).into());
    for (k, v) in std::mem::take(top) {
        out.insert(k, v);
    }
    if let Some(Value::Mapping(clients)) = out.get_mut("clients") {
        edit_clients(clients, &index, shrunk);
    }
    if let Some(Value::Mapping(network)) = out.get_mut("network")
        && let Some(Value::Sequence(links)) = network.get_mut("links")
    {
        // A link to a removed client would name a host that is gone.
        links.retain(|l| {
            l.get("between")
                .and_then(Value::as_sequence)
                .is_none_or(|b| {
                    b.iter()
                        .filter_map(Value::as_str)
                        .all(|h| is_host(shrunk, h))
                })
        });
    }
    let wanted = lines(shrunk.expect.iter().map(|e: &Expectation| e.line));
    keep_items(&mut out, "", "expect", &index, &wanted);
    out.shift_remove("faults");
    if !shrunk.faults.is_empty() {
        let faults = shrunk
            .faults
            .iter()
            .map(fault)
            .collect::<Result<Vec<Value>, String>>()?;
        // Before the expectations, as the format's reference orders them.
        let expect = out.shift_remove("expect");
        out.insert("faults".into(), Value::Sequence(faults));
        if let Some(expect) = expect {
            out.insert("expect".into(), expect);
        }
    }
    let text = serde_yaml::to_string(&Value::Mapping(out))
        .map_err(|e| format!("cannot write YAML: {e}"))?;
    let back = parse(&text, path).map_err(|e| format!("the written file does not load: {e}"))?;
    match difference(&back, shrunk) {
        None => Ok(text),
        Some(what) => Err(format!(
            "the written file loads as a different scenario: {what} differ"
        )),
    }
}

/// The names of the clients as the file writes them: plain clients, and
/// client groups by their `{i}` name.
pub fn client_keys(source: &str) -> Vec<String> {
    let root: Value = serde_yaml::from_str(source).unwrap_or(Value::Null);
    root.get("clients")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn is_host(s: &Scenario, h: &str) -> bool {
    h == "clients" || s.clients.contains_key(h) || s.brokers.contains_key(h)
}

fn edit_clients(clients: &mut Mapping, index: &PosIndex, shrunk: &Scenario) {
    let keys: Vec<String> = clients
        .keys()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    for key in keys {
        let Some(spec) = shrunk.clients.get(&key) else {
            // A group's members (`sensor-{i}`) are kept or removed all
            // together; the shrinker never removes one, so a group stays.
            if !key.contains("{i}") {
                clients.shift_remove(key.as_str());
            }
            continue;
        };
        if let Some(Value::Mapping(client)) = clients.get_mut(key.as_str()) {
            let wanted = lines(spec.steps.iter().map(|s: &Step| s.line));
            keep_items(client, &child("clients", &key), "steps", index, &wanted);
        }
    }
}

fn lines(of: impl Iterator<Item = usize>) -> BTreeSet<usize> {
    of.collect()
}

/// Keeps the items of the list `map[key]` (at `parent.key` in the file)
/// whose line is wanted, the line the loader gives the step, fault or
/// expectation of that item; drops the key when none is left.
fn keep_items(
    map: &mut Mapping,
    parent: &str,
    key: &str,
    index: &PosIndex,
    wanted: &BTreeSet<usize>,
) {
    let path = child(parent, key);
    let Some(Value::Sequence(list)) = map.get_mut(key) else {
        return;
    };
    let mut i = 0;
    list.retain(|_| {
        let line = index.value(&item(&path, i)).line;
        i += 1;
        wanted.contains(&line)
    });
    if list.is_empty() {
        map.shift_remove(key);
    }
}

/// A fault as the file writes it: `at`, then its action.
fn fault(f: &Fault) -> Result<Value, String> {
    let mut m = Mapping::new();
    let at = match f.at {
        super::DurationSpec::Fixed(d) => duration(d),
        super::DurationSpec::Range(lo, hi) => format!("{}..{}", duration(lo), duration(hi)),
    };
    m.insert("at".into(), at.into());
    let action = serde_yaml::to_value(fault_action(&f.action)).map_err(|e| e.to_string())?;
    if let Value::Mapping(a) = action {
        m.extend(a);
    }
    Ok(Value::Mapping(m))
}

/// A duration the loader reads back exactly: whole seconds, whole
/// milliseconds, or milliseconds with a fraction down to the microsecond
/// (the format's resolution; it has no `us` unit).
pub fn duration(d: Duration) -> String {
    let us = d.as_micros();
    if us.is_multiple_of(1_000_000) && us > 0 {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1_000) {
        format!("{}ms", us / 1_000)
    } else {
        let frac = format!("{:03}", us % 1_000);
        format!("{}.{}ms", us / 1_000, frac.trim_end_matches('0'))
    }
}

/// What differs between two scenarios in what a run does and checks
/// (names, `about`, lines and the snapshot view aside), or `None`.
pub fn difference(a: &Scenario, b: &Scenario) -> Option<&'static str> {
    let steps = |s: &Scenario| -> Vec<(String, Vec<Step>)> {
        s.clients
            .iter()
            .map(|(n, c)| {
                let steps = c
                    .steps
                    .iter()
                    .map(|s| Step {
                        line: 0,
                        ..s.clone()
                    })
                    .collect();
                (n.clone(), steps)
            })
            .collect()
    };
    let clients = |s: &Scenario| -> Vec<super::ClientSpec> {
        s.clients
            .values()
            .map(|c| super::ClientSpec {
                steps: Vec::new(),
                ..c.clone()
            })
            .collect()
    };
    let faults = |s: &Scenario| -> Vec<Fault> {
        s.faults
            .iter()
            .map(|f| Fault {
                line: 0,
                ..f.clone()
            })
            .collect()
    };
    let expect = |s: &Scenario| -> Vec<Expectation> {
        s.expect
            .iter()
            .map(|e| Expectation {
                line: 0,
                ..e.clone()
            })
            .collect()
    };
    if a.seed != b.seed || a.duration != b.duration || a.protocol != b.protocol {
        Some("seed, duration or protocol")
    } else if a.brokers != b.brokers {
        Some("brokers")
    } else if a.network != b.network {
        Some("network")
    } else if clients(a) != clients(b) {
        Some("clients")
    } else if steps(a) != steps(b) {
        Some("steps")
    } else if faults(a) != faults(b) || a.chaos != b.chaos {
        Some("faults")
    } else if expect(a) != expect(b) {
        Some("expectations")
    } else {
        None
    }
}

/// A fault in the scenario file's own shape.
pub fn fault_action(f: &FaultAction) -> serde_json::Value {
    match f {
        FaultAction::Partition {
            a,
            b,
            oneway: false,
        } => serde_json::json!({ "partition": [a, b] }),
        FaultAction::Partition { a, b, oneway: true } => {
            serde_json::json!({ "partition": { "from": a, "to": b } })
        }
        FaultAction::Heal(Some((a, b))) => serde_json::json!({ "heal": [a, b] }),
        FaultAction::Heal(None) => serde_json::json!({ "heal": "all" }),
        FaultAction::Hold(a, b) => serde_json::json!({ "hold": [a, b] }),
        FaultAction::Release(a, b) => serde_json::json!({ "release": [a, b] }),
        FaultAction::Latency { a, b, value } => {
            serde_json::json!({ "latency": { "between": [a, b], "value": value.text() } })
        }
        FaultAction::Crash(h) => serde_json::json!({ "crash": h }),
        FaultAction::Restart(h) => serde_json::json!({ "restart": h }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_so_that_they_read_back() {
        for us in [
            0u64,
            1,
            999,
            1_000,
            1_500,
            1_000_000,
            2_500_000,
            123_456_789,
        ] {
            let d = Duration::from_micros(us);
            let text = duration(d);
            assert_eq!(
                super::super::duration::parse_duration(&text),
                Ok(d),
                "{text}"
            );
        }
        assert_eq!(duration(Duration::from_millis(2500)), "2500ms");
        assert_eq!(duration(Duration::from_micros(1_500)), "1.5ms");
        assert_eq!(duration(Duration::from_secs(3)), "3s");
    }
}
