//! From the raw file to the model: defaults, cross-references between
//! hosts, options that depend on the protocol, `clients` expansion, and the
//! line of every step, fault and expectation.

use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;

use super::duration::FixedDur;
use super::locate::{Locator, PosIndex, child, item};
use super::model::*;
use super::payload::FillerPool;
use super::raw::*;
use super::values::{ALL_CLIENTS, Fields};
use crate::error::Error;
use crate::packet_json::properties::Place;

/// Most hosts (brokers plus clients) a file may declare: room for 10,000
/// clients and their brokers. The engine's cost grows linearly with the
/// number of hosts (docs/performance.md).
pub const MAX_HOSTS: usize = 10_100;

/// Most faults after `clients` has been expanded into one fault per host
/// pair, and likewise most network links.
pub const MAX_EXPANDED: usize = 10_000;

const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(60);

/// Largest `keep_alive_factor`: beyond it keep-alive is effectively off,
/// which `keep_alive: 0s` says more clearly.
const MAX_KEEP_ALIVE_FACTOR: f64 = 100.0;

/// The smallest `maximum_packet_size`: room for a CONNECT with a short
/// client id, so that the broker can still be reached at all.
const MIN_PACKET_SIZE: u32 = 64;
/// The largest `maximum_packet_size`: the largest packet MQTT can frame
/// (a remaining length of 268,435,455 and a 5-byte fixed header).
const MAX_PACKET_SIZE: u32 = 268_435_460;

struct Ctx<'a> {
    idx: &'a PosIndex,
    file: &'a Path,
    brokers: Vec<String>,
    clients: Vec<String>,
    filler: FillerPool,
}

impl Locator for Ctx<'_> {
    fn index(&self) -> &PosIndex {
        self.idx
    }

    fn file(&self) -> &Path {
        self.file
    }
}

impl Ctx<'_> {
    fn line(&self, path: &str) -> usize {
        self.idx.value(path).line
    }

    fn is_host(&self, name: &str) -> bool {
        self.brokers.iter().chain(&self.clients).any(|h| h == name)
    }

    fn known_hosts(&self) -> String {
        self.brokers
            .iter()
            .chain(&self.clients)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One host name at `path`, which must exist.
    fn host(&self, path: &str, name: &str, place: &str) -> Result<String, Error> {
        if self.is_host(name) {
            Ok(name.to_string())
        } else {
            Err(self.at_value(
                path,
                format!(
                    "unknown host `{name}` in {place}, expected one of {}",
                    self.known_hosts()
                ),
            ))
        }
    }

    /// One entry of a host list: a host, or `clients` for all of them.
    fn hosts(&self, path: &str, name: &str, place: &str) -> Result<Vec<String>, Error> {
        if name == ALL_CLIENTS {
            Ok(self.clients.clone())
        } else {
            Ok(vec![self.host(path, name, place)?])
        }
    }

    /// A two-host list, `clients` expanded: every pair of distinct hosts.
    fn pairs(
        &self,
        path: &str,
        list: &[String],
        place: &str,
    ) -> Result<Vec<(String, String)>, Error> {
        let [a, b] = list else {
            return Err(self.at_value(
                path,
                format!(
                    "{place} needs two hosts, e.g. `[sensor, broker]`; got {}",
                    list.len()
                ),
            ));
        };
        let left = self.hosts(&item(path, 0), a, place)?;
        let right = self.hosts(&item(path, 1), b, place)?;
        if a == b && a != ALL_CLIENTS {
            return Err(self.at_value(
                path,
                format!("{place} names `{a}` twice; it needs two different hosts"),
            ));
        }
        let out: Vec<(String, String)> = left
            .iter()
            .flat_map(|x| right.iter().map(move |y| (x.clone(), y.clone())))
            .filter(|(x, y)| x != y)
            .collect();
        if out.is_empty() {
            return Err(self.at_value(
                path,
                format!("{place} names no pair of two different hosts"),
            ));
        }
        Ok(out)
    }
}

/// Builds the model. `name` is the file stem, used when the file has no
/// `name`.
pub fn build(raw: RawScenario, idx: &PosIndex, file: &Path, stem: &str) -> Result<Scenario, Error> {
    let mut cx = Ctx {
        idx,
        file,
        brokers: Vec::new(),
        clients: Vec::new(),
        filler: FillerPool::default(),
    };

    let duration = match raw.duration {
        None => {
            return Err(cx.at_value(
                "",
                "`duration` is required: the simulated time the run lasts, e.g. `duration: 10s`",
            ));
        }
        Some(d) if d.0.is_zero() => {
            return Err(cx.at_value("duration", "`duration` must be more than 0"));
        }
        Some(d) => d.0,
    };
    let protocol = raw.protocol.map_or(Protocol::V311, |p| p.0);

    let raw_brokers = match raw.brokers {
        None => {
            return Err(cx.at_value(
                "",
                "`brokers` is required: at least one broker, e.g. `brokers: {broker: {}}`",
            ));
        }
        Some(b) if b.entries.is_empty() => {
            return Err(cx.at_value(
                "brokers",
                "`brokers` needs at least one broker, e.g. `broker: {}`",
            ));
        }
        Some(b) => b.entries,
    };
    let raw_clients = match raw.clients {
        None => {
            return Err(cx.at_value(
                "",
                "`clients` is required: at least one client, e.g. `clients: {sensor: {steps: [connect: {}]}}`",
            ));
        }
        Some(c) if c.entries.is_empty() => {
            return Err(cx.at_value("clients", "`clients` needs at least one client"));
        }
        Some(c) => c.entries,
    };
    cx.brokers = raw_brokers.keys().cloned().collect();
    for name in raw_clients.keys() {
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

    let mut brokers = IndexMap::new();
    for (name, b) in raw_brokers {
        let spec = broker(&cx, &child("brokers", &name), b.unwrap_or_default())?;
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

    let network = network(&cx, raw.network)?;
    let faults = faults(&cx, raw.faults.unwrap_or_default())?;
    let chaos = match raw.chaos {
        Some(c) => chaos(&cx, c, &clients)?,
        None => Chaos::default(),
    };
    let mut expect = Vec::new();
    for (i, e) in raw.expect.unwrap_or_default().into_iter().enumerate() {
        expect.push(expectation(&cx, &item("expect", i), e, &clients)?);
    }

    let spec = raw.spec.unwrap_or_default();
    spec_ids(&cx, &spec, protocol, &clients)?;
    let snapshot = match raw.snapshot {
        Some(v) => Some(snapshot_view(&cx, v, &clients)?),
        None => None,
    };

    let invariants = invariants(&cx, raw.invariants)?;

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
    if scenario.chaos.is_on() && scenario.chaos_end().is_zero() {
        return Err(cx.at_value(
            "chaos",
            format!(
                "`duration` must be longer than chaos's settling time ({}s); lengthen `duration` or set `chaos.settle`",
                scenario.chaos_settle().as_secs_f64()
            ),
        ));
    }
    Ok(scenario)
}

/// A step that cannot start before the run ends would silently never run:
/// its `at` (any value of a range), or the earliest its `after` chain can
/// come to, must be before `duration`.
fn steps_in_time(cx: &Ctx, client: &str, steps: &[Step], duration: Duration) -> Result<(), Error> {
    let steps_path = child(&child("clients", client), "steps");
    let mut earliest = Duration::ZERO;
    for (i, step) in steps.iter().enumerate() {
        let (key, latest) = match (&step.at, &step.after) {
            (Some(at), _) => {
                earliest = earliest.max(at.min());
                ("at", at.max().max(earliest))
            }
            (None, Some(after)) => {
                earliest += after.min();
                ("after", earliest)
            }
            (None, None) => ("", earliest),
        };
        if latest >= duration {
            let path = item(&steps_path, i);
            let end = crate::scenario::duration::text(duration);
            let when = crate::scenario::duration::text(latest);
            let message = match key {
                "at" => format!(
                    "this step's `at` can be {when}, but the run ends at {end} (`duration`); a step at or after the end never runs"
                ),
                _ => format!(
                    "with `after` counted from the steps before it, this step comes at {when} at the earliest, but the run ends at {end} (`duration`); a step at or after the end never runs"
                ),
            };
            return Err(match key {
                "" => cx.at_value(&path, message),
                key => cx.at_value(&child(&path, key), message),
            });
        }
    }
    Ok(())
}

/// Every `spec:` id must be a statement of a protocol the scenario speaks
/// (the top-level one or a client's): a typo would otherwise cover nothing.
fn spec_ids(
    cx: &Ctx,
    spec: &[String],
    protocol: Protocol,
    clients: &IndexMap<String, ClientSpec>,
) -> Result<(), Error> {
    let mut protocols = vec![protocol];
    for c in clients.values() {
        if !protocols.contains(&c.options.protocol) {
            protocols.push(c.options.protocol);
        }
    }
    let known = |id: &str| {
        protocols.iter().any(|p| {
            crate::coverage::statements(p.level())
                .iter()
                .any(|s| s.id == id)
        })
    };
    for (i, id) in spec.iter().enumerate() {
        if known(id) {
            continue;
        }
        let names: Vec<&str> = protocols.iter().map(|p| p.as_str()).collect();
        let mut e = cx.at_value(
            &item("spec", i),
            format!(
                "`{id}` is not a normative statement of MQTT {}",
                names.join(" or ")
            ),
        );
        // Ids one digit apart are unrelated statements, so no nearest id is
        // guessed; the other protocol's list is the likely mix-up.
        let other = [Protocol::V311, Protocol::V5].into_iter().find(|p| {
            !protocols.contains(p)
                && crate::coverage::statements(p.level())
                    .iter()
                    .any(|s| s.id == *id)
        });
        e.help = Some(match other {
            Some(p) => format!(
                "`{id}` is a statement of MQTT {}; a scenario or client with `protocol: {}` may tag it",
                p.as_str(),
                p.as_str()
            ),
            None => "`mqtt-sim coverage` lists every statement with its id".to_string(),
        });
        return Err(e);
    }
    Ok(())
}

/// A broker's options written as a whole document, as `mqtt-sim serve
/// --config` reads them: the same checks as an entry under `brokers`.
pub fn broker_alone(raw: RawBroker, idx: &PosIndex, file: &Path) -> Result<BrokerSpec, Error> {
    let cx = Ctx {
        idx,
        file,
        brokers: Vec::new(),
        clients: Vec::new(),
        filler: FillerPool::default(),
    };
    // Mutants are planted bugs for testing the scenarios; a broker that
    // serves real clients must not be able to switch one on.
    if raw.mutant.is_some() {
        return Err(cx.at_key(
            "mutant",
            "`mutant` plants a bug for testing scenarios; `serve` does not take it",
        ));
    }
    broker(&cx, "", raw)
}

fn broker(cx: &Ctx, path: &str, b: RawBroker) -> Result<BrokerSpec, Error> {
    let d = BrokerSpec::default();
    let keep_alive_factor = match b.keep_alive_factor {
        None => d.keep_alive_factor,
        Some(f) if f.is_finite() && f > 0.0 && f <= MAX_KEEP_ALIVE_FACTOR => f,
        Some(f) => {
            return Err(cx.at_value(
                &child(path, "keep_alive_factor"),
                format!("`keep_alive_factor` must be more than 0 and at most {MAX_KEEP_ALIVE_FACTOR}, got {f}"),
            ));
        }
    };
    Ok(BrokerSpec {
        keep_alive_factor,
        max_keep_alive: b.max_keep_alive.map_or(d.max_keep_alive, |s| s.0),
        max_qos: b.max_qos.map_or(d.max_qos, |q| q.0),
        persistence: b.persistence.unwrap_or(d.persistence),
        users: b.users.map(|u| u.entries),
        allow_anonymous: b.allow_anonymous.unwrap_or(d.allow_anonymous),
        takeover_will: b.takeover_will.map_or(d.takeover_will, Into::into),
        acl: acl(cx, path, b.acl.unwrap_or_default())?,
        strict_strings: b.strict_strings.unwrap_or(d.strict_strings),
        session_expiry_max: whole_seconds(cx, path, "session_expiry_max", b.session_expiry_max)?,
        receive_maximum: match b.receive_maximum {
            None => d.receive_maximum,
            Some(0) => {
                return Err(cx.at_value(
                    &child(path, "receive_maximum"),
                    "`receive_maximum` must be 1 to 65535; 0 is a protocol error in 5.0",
                ));
            }
            Some(n) => n,
        },
        maximum_packet_size: match b.maximum_packet_size {
            None => d.maximum_packet_size,
            Some(n) if (MIN_PACKET_SIZE..=MAX_PACKET_SIZE).contains(&n) => n,
            Some(n) => {
                return Err(cx.at_value(
                    &child(path, "maximum_packet_size"),
                    format!("`maximum_packet_size` must be {MIN_PACKET_SIZE} to {MAX_PACKET_SIZE} bytes, got {n}"),
                ));
            }
        },
        topic_alias_maximum: b.topic_alias_maximum.unwrap_or(d.topic_alias_maximum),
        retain_available: b.retain_available.unwrap_or(d.retain_available),
        wildcard_subscription_available: b
            .wildcard_subscription_available
            .unwrap_or(d.wildcard_subscription_available),
        shared_subscription_available: b
            .shared_subscription_available
            .unwrap_or(d.shared_subscription_available),
        subscription_identifiers_available: b
            .subscription_identifiers_available
            .unwrap_or(d.subscription_identifiers_available),
        persistent_session_expiry: whole_seconds(
            cx,
            path,
            "persistent_session_expiry",
            b.persistent_session_expiry,
        )?,
        sessions_max: match b.sessions_max {
            None => d.sessions_max,
            Some(n) if (1..=crate::broker::SESSIONS_MAX).contains(&n) => n,
            Some(n) => {
                return Err(cx.at_value(
                    &child(path, "sessions_max"),
                    format!(
                        "`sessions_max` must be 1 to {}, got {n}",
                        crate::broker::SESSIONS_MAX
                    ),
                ));
            }
        },
        queued_bytes_max: match b.queued_bytes_max {
            None => d.queued_bytes_max,
            Some(n) if n >= 1 => n,
            Some(n) => {
                return Err(cx.at_value(
                    &child(path, "queued_bytes_max"),
                    format!("`queued_bytes_max` must be at least 1 byte, got {n}"),
                ));
            }
        },
        mutant: b.mutant.map(Into::into),
    })
}

/// A broker duration that goes on the wire in whole seconds.
fn whole_seconds(
    cx: &Ctx,
    path: &str,
    key: &str,
    d: Option<FixedDur>,
) -> Result<Option<Duration>, Error> {
    match d {
        Some(FixedDur(d)) if d.subsec_nanos() != 0 => Err(cx.at_value(
            &child(path, key),
            format!("`{key}` must be whole seconds; it goes on the wire in seconds"),
        )),
        other => Ok(other.map(|d| d.0)),
    }
}

fn acl(cx: &Ctx, path: &str, rules: Vec<RawAclRule>) -> Result<Vec<AclRule>, Error> {
    let mut out = Vec::with_capacity(rules.len());
    for (i, r) in rules.into_iter().enumerate() {
        if let Err(e) = crate::topic::validate_filter(&r.topic) {
            let p = child(&format!("{path}.acl[{i}]"), "topic");
            return Err(cx.at_value(&p, format!("`topic` must be a topic filter: {e}")));
        }
        out.push(AclRule {
            subscribe: r.deny.contains(RawAclAction::Subscribe),
            publish: r.deny.contains(RawAclAction::Publish),
            user: r.user,
            filter: r.topic,
        });
    }
    Ok(out)
}

fn client(cx: &mut Ctx, name: &str, mut c: RawClient, top: Protocol) -> Result<ClientSpec, Error> {
    let path = child("clients", name);
    let broker = match &c.broker {
        Some(b) if cx.brokers.contains(b) => b.clone(),
        Some(b) => {
            let p = child(&path, "broker");
            let what = if cx.clients.contains(b) {
                format!(
                    "`{b}` is a client, not a broker; expected one of {}",
                    cx.brokers.join(", ")
                )
            } else {
                format!(
                    "unknown host `{b}` in `broker`, expected one of {}",
                    cx.brokers.join(", ")
                )
            };
            return Err(cx.at_value(&p, what));
        }
        None => match cx.brokers.as_slice() {
            [only] => only.clone(),
            many => {
                return Err(cx.at_key(
                    &path,
                    format!(
                        "client `{name}` has no `broker`, and there are {} brokers ({}); say which one with `broker: ...`",
                        many.len(),
                        many.join(", ")
                    ),
                ));
            }
        },
    };
    let protocol = c.protocol.map_or(top, |p| p.0);
    let connect = c.take_connect();
    let o = connect_overrides(cx, &path, connect, protocol)?;
    let options = ConnectOptions {
        client_id: o.client_id.unwrap_or_else(|| name.to_string()),
        protocol,
        clean: o.clean.unwrap_or(true),
        session_expiry: o.session_expiry,
        keep_alive: o.keep_alive.unwrap_or(DEFAULT_KEEP_ALIVE),
        username: o.username,
        password: o.password,
        will: o.will.flatten(),
        receive_maximum: o.receive_maximum,
        maximum_packet_size: o.maximum_packet_size,
        topic_alias_maximum: o.topic_alias_maximum,
        user_properties: o.user_properties.unwrap_or_default(),
        raw: None,
    };
    let mut steps = Vec::new();
    let steps_path = child(&path, "steps");
    for (i, s) in c.steps.unwrap_or_default().into_iter().enumerate() {
        let sp = item(&steps_path, i);
        if s.at.is_some() && s.after.is_some() {
            return Err(cx.at_key(
                &child(&sp, "after"),
                "a step has `at` (from the start of the run) or `after` (from the end of the step before), not both",
            ));
        }
        let action = action(cx, &sp, s.action, protocol)?;
        let wait = s.wait.unwrap_or(false);
        if wait
            && !matches!(
                action,
                Action::Publish { .. } | Action::Subscribe { .. } | Action::Unsubscribe(_)
            )
        {
            return Err(cx.at_key(
                &child(&sp, "wait"),
                format!(
                    "`wait` applies to publish, subscribe and unsubscribe, whose flow ends with an acknowledgement; this step is `{}`",
                    action.name()
                ),
            ));
        }
        steps.push(Step {
            at: s.at.map(|d| d.0),
            after: s.after.map(|d| d.0),
            wait,
            line: cx.line(&sp),
            action,
        });
    }
    Ok(ClientSpec {
        broker,
        options,
        reconnect: c.reconnect.map(|d| d.0),
        connect_timeout: c.connect_timeout.map_or(CONNECT_TIMEOUT_DEFAULT, |d| d.0),
        ping: c.ping.map_or(Ping::default(), Into::into),
        ack: c.ack.map_or(Ack::default(), Into::into),
        steps,
    })
}

/// Checks CONNECT options against the protocol; `path` is the map that holds
/// them (a client, or a `connect` step's value).
fn connect_overrides(
    cx: &mut Ctx,
    path: &str,
    c: RawConnect,
    protocol: Protocol,
) -> Result<ConnectOverrides, Error> {
    let v5_only = |key: &str| {
        cx.at_key(
            &child(path, key),
            format!("`{key}` is a 5.0 option, and this client speaks 3.1.1"),
        )
    };
    let clean = match protocol {
        Protocol::V311 => {
            if c.clean_start.is_some() {
                return Err(cx.at_key(
                    &child(path, "clean_start"),
                    "`clean_start` is a 5.0 option; under 3.1.1 write `clean_session`",
                ));
            }
            c.clean_session
        }
        Protocol::V5 => {
            if c.clean_session.is_some() {
                return Err(cx.at_key(
                    &child(path, "clean_session"),
                    "`clean_session` is a 3.1.1 option; under 5.0 write `clean_start`",
                ));
            }
            c.clean_start
        }
    };
    if protocol == Protocol::V311 {
        let given = [
            ("session_expiry", c.session_expiry.is_some()),
            ("receive_maximum", c.receive_maximum.is_some()),
            ("maximum_packet_size", c.maximum_packet_size.is_some()),
            ("topic_alias_maximum", c.topic_alias_maximum.is_some()),
            ("user_properties", c.user_properties.is_some()),
        ];
        if let Some((key, _)) = given.iter().find(|(_, g)| *g) {
            return Err(v5_only(key));
        }
    }
    if c.receive_maximum == Some(0) {
        return Err(cx.at_value(
            &child(path, "receive_maximum"),
            "`receive_maximum` must be from 1 to 65535 (0 is a protocol error on the wire)",
        ));
    }
    if c.maximum_packet_size == Some(0) {
        return Err(cx.at_value(
            &child(path, "maximum_packet_size"),
            "`maximum_packet_size` must be at least 1 byte (0 is a protocol error on the wire)",
        ));
    }
    let will = match c.will {
        None => None,
        Some(None) => Some(None),
        Some(Some(w)) => {
            let wp = child(path, "will");
            if protocol == Protocol::V311 {
                for (key, given) in [
                    ("delay", w.delay.is_some()),
                    ("properties", w.properties.is_some()),
                ] {
                    if given {
                        return Err(cx.at_key(
                            &child(&wp, key),
                            format!(
                                "the will's `{key}` is a 5.0 option, and this client speaks 3.1.1"
                            ),
                        ));
                    }
                }
            }
            let delay = w.delay.map_or(Duration::ZERO, |d| d.0);
            if delay.subsec_nanos() != 0 {
                return Err(cx.at_value(
                    &child(&wp, "delay"),
                    "the will's `delay` goes on the wire in whole seconds",
                ));
            }
            let properties = properties(cx, &wp, w.properties, Place::Will, protocol)?;
            if w.delay.is_some()
                && properties
                    .iter()
                    .any(|p| matches!(p, crate::wire::Property::WillDelayInterval(_)))
            {
                return Err(cx.at_key(
                    &child(&child(&wp, "properties"), "will_delay_interval"),
                    "give the will delay once: as `delay` or as `will_delay_interval`, not both",
                ));
            }
            Some(Some(Will {
                topic: w.topic,
                payload: cx.filler.resolve(&w.payload),
                qos: w.qos.0,
                retain: w.retain,
                delay,
                properties,
            }))
        }
    };
    let raw = c.hex.map(|h| h.0);
    let other_options = c.client_id.is_some()
        || clean.is_some()
        || c.session_expiry.is_some()
        || c.keep_alive.is_some()
        || c.username.is_some()
        || c.password.is_some()
        || will.is_some()
        || c.receive_maximum.is_some()
        || c.maximum_packet_size.is_some()
        || c.topic_alias_maximum.is_some()
        || c.user_properties.is_some();
    if raw.is_some() && other_options {
        return Err(cx.at_key(
            &child(path, "hex"),
            "`hex` replaces the whole CONNECT packet; leave out the other connect options",
        ));
    }
    Ok(ConnectOverrides {
        client_id: c.client_id,
        clean,
        session_expiry: c.session_expiry.map(|d| d.0),
        keep_alive: c.keep_alive.map(|k| k.0),
        username: c.username,
        password: c.password,
        will,
        receive_maximum: c.receive_maximum,
        maximum_packet_size: c.maximum_packet_size,
        topic_alias_maximum: c.topic_alias_maximum,
        user_properties: c.user_properties,
        raw,
    })
}

/// A 5.0 property map at `holder.properties`, checked against what the
/// spec allows in `place`; none at all under 3.1.1.
fn properties(
    cx: &Ctx,
    holder: &str,
    fields: Option<Fields>,
    place: Place,
    protocol: Protocol,
) -> Result<crate::wire::Properties, Error> {
    let Some(fields) = fields else {
        return Ok(Default::default());
    };
    let path = child(holder, "properties");
    if protocol == Protocol::V311 {
        return Err(cx.at_key(
            &path,
            "`properties` are a 5.0 option, and this client speaks 3.1.1",
        ));
    }
    crate::packet_json::properties::from_json(&fields.0, place).map_err(|bad| {
        let p = child(&path, &bad.key);
        match bad.at_key {
            true => cx.at_key(&p, bad.message),
            false => cx.at_value(&p, bad.message),
        }
    })
}

/// The 5.0 subscription options of one filter at `path`.
fn subscription(
    cx: &Ctx,
    path: &str,
    filter: String,
    qos: u8,
    options: (Option<bool>, Option<bool>, Option<u8>),
    protocol: Protocol,
) -> Result<Subscription, Error> {
    let (no_local, retain_as_published, retain_handling) = options;
    if protocol == Protocol::V311 {
        let given = [
            ("no_local", no_local.is_some()),
            ("retain_as_published", retain_as_published.is_some()),
            ("retain_handling", retain_handling.is_some()),
        ];
        if let Some((key, _)) = given.iter().find(|(_, g)| *g) {
            return Err(cx.at_key(
                &child(path, key),
                format!("`{key}` is a 5.0 subscription option, and this client speaks 3.1.1"),
            ));
        }
    }
    let retain_handling = retain_handling.unwrap_or(0);
    if retain_handling > 2 {
        return Err(cx.at_value(
            &child(path, "retain_handling"),
            format!(
                "`retain_handling` is 0 (send retained messages), 1 (only for a new subscription) or 2 (never), got {retain_handling}"
            ),
        ));
    }
    Ok(Subscription {
        filter,
        qos,
        no_local: no_local.unwrap_or(false),
        retain_as_published: retain_as_published.unwrap_or(false),
        retain_handling,
    })
}

fn action(cx: &mut Ctx, step: &str, a: RawAction, protocol: Protocol) -> Result<Action, Error> {
    Ok(match a {
        RawAction::Connect(c) => {
            Action::Connect(connect_overrides(cx, &child(step, "connect"), c, protocol)?)
        }
        RawAction::Disconnect(d) => {
            let dp = child(step, "disconnect");
            if protocol == Protocol::V311 && d.reason.is_some() {
                return Err(cx.at_key(
                    &child(&dp, "reason"),
                    "a DISCONNECT `reason` is a 5.0 option, and this client speaks 3.1.1",
                ));
            }
            if let Some(r) = d.reason
                && crate::packet_json::reason::name(r, crate::packet_json::reason::In::Disconnect)
                    .is_none()
            {
                return Err(cx.at_value(
                    &child(&dp, "reason"),
                    format!("{r:#04x} is not a DISCONNECT reason code of MQTT 5.0 (e.g. 0x00 normal disconnection, 0x04 disconnect with will message)"),
                ));
            }
            let properties = properties(cx, &dp, d.properties, Place::Disconnect, protocol)?;
            Action::Disconnect {
                reason: d.reason,
                properties,
            }
        }
        RawAction::Drop => Action::Drop,
        RawAction::Silence => Action::Silence,
        RawAction::Resume => Action::Resume,
        RawAction::Subscribe(s) => {
            let p = child(step, "subscribe");
            let properties = properties(cx, &p, s.properties, Place::Subscribe, protocol)?;
            let options = (s.no_local, s.retain_as_published, s.retain_handling);
            let filters = match (s.filter, s.filters) {
                (Some(filter), None) => vec![subscription(
                    cx,
                    &p,
                    filter,
                    s.qos.unwrap_or_default().0,
                    options,
                    protocol,
                )?],
                (None, Some(list)) => {
                    if s.qos.is_some() {
                        return Err(cx.at_key(
                            &child(&p, "qos"),
                            "with `filters`, give each filter its own `qos`",
                        ));
                    }
                    if list.is_empty() {
                        return Err(cx.at_value(
                            &child(&p, "filters"),
                            "`filters` needs at least one filter",
                        ));
                    }
                    if let Some(key) = [
                        ("no_local", options.0.is_some()),
                        ("retain_as_published", options.1.is_some()),
                        ("retain_handling", options.2.is_some()),
                    ]
                    .iter()
                    .find_map(|(k, g)| g.then_some(*k))
                    {
                        return Err(cx.at_key(
                            &child(&p, key),
                            format!("with `filters`, give each filter its own `{key}`"),
                        ));
                    }
                    let mut out = Vec::with_capacity(list.len());
                    for (i, f) in list.into_iter().enumerate() {
                        let fp = item(&child(&p, "filters"), i);
                        let o = (f.no_local, f.retain_as_published, f.retain_handling);
                        out.push(subscription(cx, &fp, f.filter, f.qos.0, o, protocol)?);
                    }
                    out
                }
                (Some(_), Some(_)) => {
                    return Err(cx.at_key(
                        &child(&p, "filters"),
                        "give either `filter` or `filters`, not both",
                    ));
                }
                (None, None) => {
                    return Err(cx.at_value(
                        &p,
                        "`subscribe` needs `filter` (and optionally `qos`), or `filters: [{filter, qos}, ...]`",
                    ));
                }
            };
            Action::Subscribe {
                filters,
                properties,
            }
        }
        RawAction::Unsubscribe(u) => {
            let p = child(step, "unsubscribe");
            match (u.filter, u.filters) {
                (Some(f), None) => Action::Unsubscribe(vec![f]),
                (None, Some(list)) if !list.is_empty() => {
                    Action::Unsubscribe(list.into_iter().map(|f| f.0).collect())
                }
                (None, Some(_)) => {
                    return Err(
                        cx.at_value(&child(&p, "filters"), "`filters` needs at least one filter")
                    );
                }
                (Some(_), Some(_)) => {
                    return Err(cx.at_key(
                        &child(&p, "filters"),
                        "give either `filter` or `filters`, not both",
                    ));
                }
                (None, None) => {
                    return Err(
                        cx.at_value(&p, "`unsubscribe` needs `filter`, or `filters: [...]`")
                    );
                }
            }
        }
        RawAction::Publish(p) => {
            let pp = child(step, "publish");
            let properties = properties(cx, &pp, p.properties, Place::Publish, protocol)?;
            let alias = properties
                .iter()
                .any(|p| matches!(p, crate::wire::Property::TopicAlias(_)));
            if p.topic.is_empty() && !alias && protocol == Protocol::V5 {
                return Err(cx.at_value(
                    &child(&pp, "topic"),
                    match protocol {
                        Protocol::V311 => "`topic` must not be empty".to_string(),
                        Protocol::V5 => "`topic` is empty: under 5.0 that needs a `topic_alias` in `properties`, set earlier with the topic".to_string(),
                    },
                ));
            }
            Action::Publish {
                topic: p.topic,
                payload: cx.filler.resolve(&p.payload),
                qos: p.qos.0,
                retain: p.retain,
                properties,
            }
        }
        RawAction::Send(s) => Action::Send(s.hex.0),
    })
}

fn network(cx: &Ctx, n: Option<RawNetwork>) -> Result<Network, Error> {
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

fn faults(cx: &Ctx, raw: Vec<Timed<RawFaultAction>>) -> Result<Vec<Fault>, Error> {
    let mut out = Vec::new();
    for (i, f) in raw.into_iter().enumerate() {
        let p = item("faults", i);
        let line = cx.line(&p);
        let Some(at) = f.at else {
            return Err(cx.at_value(&p, "a fault needs `at`: when it happens, e.g. `at: 2s`"));
        };
        let at = at.0;
        let mut push = |action| out.push(Fault { at, line, action });
        match f.action {
            RawFaultAction::Partition(RawPartition::Both(list)) => {
                for (a, b) in cx.pairs(&child(&p, "partition"), &list, "`partition`")? {
                    push(FaultAction::Partition {
                        a,
                        b,
                        oneway: false,
                    });
                }
            }
            RawFaultAction::Partition(RawPartition::OneWay { from, to }) => {
                let pp = child(&p, "partition");
                let froms = cx.hosts(&child(&pp, "from"), &from, "`partition`")?;
                let tos = cx.hosts(&child(&pp, "to"), &to, "`partition`")?;
                let mut any = false;
                for a in &froms {
                    for b in tos.iter().filter(|b| *b != a) {
                        any = true;
                        push(FaultAction::Partition {
                            a: a.clone(),
                            b: b.clone(),
                            oneway: true,
                        });
                    }
                }
                if !any {
                    return Err(cx.at_value(&pp, "`partition` needs two different hosts"));
                }
            }
            RawFaultAction::Heal(RawHeal::All) => push(FaultAction::Heal(None)),
            RawFaultAction::Heal(RawHeal::Pair(list)) => {
                for pair in cx.pairs(&child(&p, "heal"), &list, "`heal`")? {
                    push(FaultAction::Heal(Some(pair)));
                }
            }
            RawFaultAction::Hold(list) => {
                for (a, b) in cx.pairs(&child(&p, "hold"), &list, "`hold`")? {
                    push(FaultAction::Hold(a, b));
                }
            }
            RawFaultAction::Release(list) => {
                for (a, b) in cx.pairs(&child(&p, "release"), &list, "`release`")? {
                    push(FaultAction::Release(a, b));
                }
            }
            RawFaultAction::Latency(l) => {
                let lp = child(&p, "latency");
                for (a, b) in cx.pairs(&child(&lp, "between"), &l.between, "`latency`")? {
                    push(FaultAction::Latency {
                        a,
                        b,
                        value: l.value.0,
                    });
                }
            }
            RawFaultAction::Crash(h) => push(FaultAction::Crash(cx.host(
                &child(&p, "crash"),
                &h,
                "`crash`",
            )?)),
            RawFaultAction::Restart(h) => {
                let hp = child(&p, "restart");
                if cx.clients.contains(&h) {
                    return Err(cx.at_value(
                        &hp,
                        format!("`restart` must name a broker; `{h}` is a client (clients are not restarted)"),
                    ));
                }
                if !cx.brokers.contains(&h) {
                    return Err(cx.at_value(
                        &hp,
                        format!(
                            "unknown broker `{h}` in `restart`, expected one of {}",
                            cx.brokers.join(", ")
                        ),
                    ));
                }
                push(FaultAction::Restart(h));
            }
        }
        if out.len() > MAX_EXPANDED {
            return Err(cx.at_value(
                &p,
                format!("too many faults: at most {MAX_EXPANDED} after `clients` is expanded"),
            ));
        }
    }
    Ok(out)
}

fn every(cx: &Ctx, path: &str, d: &super::duration::Dur) -> Result<DurationSpec, Error> {
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

fn chaos(cx: &Ctx, c: RawChaos, clients: &IndexMap<String, ClientSpec>) -> Result<Chaos, Error> {
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

/// `snapshot:`: every pattern names at least one client, and the view
/// shows something.
fn snapshot_view(
    cx: &Ctx,
    raw: RawSnapshot,
    clients: &IndexMap<String, ClientSpec>,
) -> Result<SnapshotView, Error> {
    let view = SnapshotView {
        summary: raw.summary.unwrap_or(false),
        clients: raw.clients.unwrap_or_default(),
    };
    for (i, p) in view.clients.iter().enumerate() {
        if !clients
            .keys()
            .any(|c| crate::scenario::groups::matches(p, c))
        {
            return Err(cx.at_value(
                &item("snapshot.clients", i),
                format!("`{p}` matches no client: give a client's name, a glob with `*` or a group's name with `{{i}}`"),
            ));
        }
    }
    if !view.summary && view.clients.is_empty() {
        return Err(cx.at_value(
            "snapshot",
            "`snapshot` shows nothing: set `summary: true`, name `clients`, or leave `snapshot` out to keep the whole trace",
        ));
    }
    Ok(view)
}

fn expectation(
    cx: &Ctx,
    path: &str,
    e: RawExpect,
    clients: &IndexMap<String, ClientSpec>,
) -> Result<Expectation, Error> {
    let line = cx.line(path);
    let client = match e.client {
        None => {
            return Err(cx.at_value(
                path,
                "an expectation needs `client`: whose side of the wire to look at",
            ));
        }
        Some(c) if cx.clients.contains(&c) => c,
        Some(c) => {
            let p = child(path, "client");
            let what = if cx.brokers.contains(&c) {
                format!(
                    "`{c}` is a broker; expectations look at a client, one of {}",
                    cx.clients.join(", ")
                )
            } else {
                format!(
                    "unknown client `{c}` in expectation, expected one of {}",
                    cx.clients.join(", ")
                )
            };
            return Err(cx.at_value(&p, what));
        }
    };

    let typed = |key: &str, fields: Fields, ty: &str| -> Result<Matcher, Error> {
        let mut fields = fields.0;
        if fields.contains_key("type") {
            return Err(cx.at_key(
                &child(&child(path, key), "type"),
                format!("`{key}` always matches {ty}; for other packets use `recv: {{type: ...}}`"),
            ));
        }
        fields.insert(
            "type".to_string(),
            serde_json::Value::String(ty.to_string()),
        );
        Ok(Matcher::Packet {
            direction: Direction::Recv,
            fields,
        })
    };
    let any = |key: &str, fields: Fields, direction| -> Result<Matcher, Error> {
        if !fields.0.contains_key("type") {
            return Err(cx.at_value(
                &child(path, key),
                format!("`{key}` needs a packet `type`, e.g. `{key}: {{type: DISCONNECT}}`"),
            ));
        }
        Ok(Matcher::Packet {
            direction,
            fields: fields.0,
        })
    };
    let mut matchers: Vec<(&str, Matcher)> = Vec::new();
    if let Some(f) = e.receives {
        matchers.push(("receives", typed("receives", f, "PUBLISH")?));
    }
    if let Some(f) = e.connack {
        matchers.push(("connack", typed("connack", f, "CONNACK")?));
    }
    if let Some(c) = e.closed {
        let by = c.and_then(|c| c.by).map(Into::into);
        matchers.push(("closed", Matcher::Closed { by }));
    }
    if let Some(f) = e.recv {
        matchers.push(("recv", any("recv", f, Direction::Recv)?));
    }
    if let Some(f) = e.send {
        matchers.push(("send", any("send", f, Direction::Send)?));
    }
    let matcher = match matchers.len() {
        0 => {
            return Err(cx.at_value(
                path,
                "this expectation has no matcher, expected one of receives, connack, closed, recv, send",
            ));
        }
        1 => matchers.pop(),
        _ => {
            // Report at whichever of the two comes later in the file.
            let names: Vec<&str> = matchers.iter().map(|(n, _)| *n).collect();
            let later = names
                .iter()
                .max_by_key(|n| {
                    let p = cx.idx.key(&child(path, n));
                    (p.line, p.column)
                })
                .copied()
                .unwrap_or("receives");
            return Err(cx.at_key(
                &child(path, later),
                format!(
                    "an expectation has one matcher, but this one has {}",
                    quoted(&names)
                ),
            ));
        }
    };
    let Some((key, matcher)) = matcher else {
        return Err(cx.at_value(path, "an expectation needs one matcher"));
    };
    if let Matcher::Packet { fields, .. } = &matcher {
        let protocol = clients
            .get(&client)
            .map_or(Protocol::V311, |c| c.options.protocol);
        let level = protocol.level();
        super::matcher::check(&child(path, key), fields, level, protocol.as_str()).map_err(
            |m| match m.at_key {
                true => cx.at_key(&m.path, m.message),
                false => cx.at_value(&m.path, m.message),
            },
        )?;
    }

    let mut counts: Vec<(&str, Count)> = Vec::new();
    if let Some(n) = e.count {
        counts.push(("count", Count::Exactly(n)));
    }
    if let Some(n) = e.at_least {
        counts.push(("at_least", Count::AtLeast(n)));
    }
    if let Some(n) = e.at_most {
        counts.push(("at_most", Count::AtMost(n)));
    }
    let count = match counts.as_slice() {
        [] => Count::AtLeast(1),
        [(_, c)] => *c,
        [_, (second, _), ..] => {
            let names: Vec<&str> = counts.iter().map(|(n, _)| *n).collect();
            return Err(cx.at_key(
                &child(path, second),
                format!(
                    "give at most one of count, at_least, at_most; this expectation has {}",
                    quoted(&names)
                ),
            ));
        }
    };
    Ok(Expectation {
        line,
        client,
        matcher,
        count,
        within: e.within.map(|w| (w.0, w.1)),
        only_for: e.only_for,
        not_for: e.not_for,
    })
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// `invariants:`: absent checks every invariant, `off` none, a list the
/// named ones, each of which must exist.
fn invariants(cx: &Ctx, raw: Option<RawInvariants>) -> Result<Invariants, Error> {
    let names = match raw {
        None => return Ok(Invariants::All),
        Some(RawInvariants::Off(_)) => return Ok(Invariants::Off),
        Some(RawInvariants::Only(names)) => names,
    };
    if names.is_empty() {
        return Err(cx.at_value(
            "invariants",
            "an empty list checks no invariant: write `invariants: off`",
        ));
    }
    for (i, name) in names.iter().enumerate() {
        if !INVARIANT_NAMES.contains(&name.as_str()) {
            let known: Vec<String> = INVARIANT_NAMES.iter().map(|n| format!("`{n}`")).collect();
            return Err(cx.at_value(
                &item("invariants", i),
                format!(
                    "unknown invariant `{name}`, expected one of {}",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(Invariants::Only(names))
}
