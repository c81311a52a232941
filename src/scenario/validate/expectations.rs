//! `expect:` entries: whose side of the wire, exactly one matcher (checked
//! against the client's protocol), at most one count, the targets it is
//! for, and the statements it rests on (its force).

use std::time::Duration;

use indexmap::IndexMap;

use super::Ctx;
use super::spec::spec_ids;
use crate::error::Error;
use crate::scenario::locate::{Locator, child, item};
use crate::scenario::model::*;
use crate::scenario::raw::*;
use crate::scenario::values::Fields;

pub(super) fn expectation(
    cx: &Ctx,
    path: &str,
    mut e: RawExpect,
    clients: &IndexMap<String, ClientSpec>,
    protocols: &[Protocol],
    duration: Duration,
) -> Result<Expectation, Error> {
    let line = cx.line(path);
    let (client, members) = expectation_clients(cx, path, e.client.take(), e.clients.take())?;
    let own = RawStep {
        receives: e.receives.take(),
        connack: e.connack.take(),
        closed: e.closed.take(),
        recv: e.recv.take(),
        send: e.send.take(),
    };
    let matcher = match (e.sequence.take(), one_matcher(cx, path, own)?) {
        (None, Some((key, m))) => {
            check_fields(cx, &child(path, key), &m, &members, clients)?;
            m
        }
        (Some(steps), None) => sequence(cx, path, steps, &members, clients)?,
        (Some(_), Some((key, _))) => {
            return Err(cx.at_key(
                &child(path, "sequence"),
                format!("an expectation has one matcher, but this one has `{key}` and `sequence`"),
            ));
        }
        (None, None) => {
            return Err(cx.at_value(
                path,
                "this expectation has no matcher, expected one of receives, connack, closed, recv, send, sequence",
            ));
        }
    };
    if matches!(matcher, Matcher::Sequence(_))
        && let Some(key) = [
            ("count", e.count),
            ("at_least", e.at_least),
            ("at_most", e.at_most),
        ]
        .into_iter()
        .find_map(|(k, n)| n.map(|_| k))
    {
        return Err(cx.at_key(
            &child(path, key),
            format!(
                "`{key}` is not allowed with `sequence`: a sequence holds when it is found once"
            ),
        ));
    }
    let count = one_count(cx, path, &e)?;
    for key in ["only_for", "not_for"] {
        let names = if key == "only_for" {
            &e.only_for
        } else {
            &e.not_for
        };
        target_names(cx, &child(path, key), names.as_deref().unwrap_or_default())?;
    }
    for_some_target(cx, path, e.only_for.as_deref(), e.not_for.as_deref())?;
    let within = e.within.map(|w| (w.0, w.1));
    super::reach::window_in_run(cx, path, within, duration)?;
    let spec = e.spec.unwrap_or_default();
    let force = spec_ids(cx, &child(path, "spec"), &spec, protocols)?;
    Ok(Expectation {
        line,
        client,
        clients: members,
        matcher,
        count,
        within,
        only_for: e.only_for,
        not_for: e.not_for,
        spec,
        force,
    })
}

/// A `sequence`: a non-empty list of single matchers, each checked as an
/// expectation's own matcher is.
fn sequence(
    cx: &Ctx,
    path: &str,
    steps: Vec<RawStep>,
    members: &[String],
    clients: &IndexMap<String, ClientSpec>,
) -> Result<Matcher, Error> {
    let at = child(path, "sequence");
    if steps.is_empty() {
        return Err(cx.at_value(&at, "a `sequence` needs at least one matcher"));
    }
    let mut out = Vec::with_capacity(steps.len());
    for (i, step) in steps.into_iter().enumerate() {
        let p = item(&at, i);
        let Some((key, m)) = one_matcher(cx, &p, step)? else {
            return Err(cx.at_value(
                &p,
                "this step of the sequence has no matcher, expected one of receives, connack, closed, recv, send",
            ));
        };
        check_fields(cx, &child(&p, key), &m, members, clients)?;
        out.push(m);
    }
    Ok(Matcher::Sequence(out))
}

/// Checks a packet matcher's fields against what the trace shows under
/// the protocol of every client it looks at.
fn check_fields(
    cx: &Ctx,
    path: &str,
    m: &Matcher,
    members: &[String],
    clients: &IndexMap<String, ClientSpec>,
) -> Result<(), Error> {
    let Matcher::Packet {
        fields, direction, ..
    } = m
    else {
        return Ok(());
    };
    let mut protocols: Vec<Protocol> = members
        .iter()
        .map(|c| {
            clients.get(c).map_or_else(
                // A bridge's connection speaks the bridge's protocol.
                || {
                    cx.bridges
                        .iter()
                        .find(|b| b.0 == *c)
                        .map_or(Protocol::V311, |b| b.1)
                },
                |c| c.options.protocol,
            )
        })
        .collect();
    protocols.dedup();
    for protocol in protocols {
        crate::scenario::matcher::check(path, fields, protocol.level(), protocol.as_str())
            .map_err(|m| match m.at_key {
                true => cx.at_key(&m.path, m.message),
                false => cx.at_value(&m.path, m.message),
            })?;
    }
    super::reach::packet_matcher(cx, path, fields, *direction, members, clients)
}

/// `only_for` and `not_for` leave at least one target: an expectation
/// for no target would be skipped everywhere.
fn for_some_target(
    cx: &Ctx,
    path: &str,
    only: Option<&[String]>,
    not: Option<&[String]>,
) -> Result<(), Error> {
    let Some(only) = only else {
        return Ok(());
    };
    if only.is_empty() {
        return Err(cx.at_value(
            &child(path, "only_for"),
            "`only_for` is empty, so this expectation is for no target; name at least one, or leave `only_for` out",
        ));
    }
    let not = not.unwrap_or_default();
    if only.iter().all(|t| not.contains(t)) {
        return Err(cx.at_value(
            &child(path, "not_for"),
            format!(
                "`not_for` leaves out every target `only_for` names ({}), so this expectation is for no target and would be skipped everywhere",
                only.join(", ")
            ),
        ));
    }
    Ok(())
}

/// `only_for`/`not_for` name `reference`, a shipped broker profile, or a
/// profile file the user passed.
fn target_names(cx: &Ctx, path: &str, names: &[String]) -> Result<(), Error> {
    for (i, name) in names.iter().enumerate() {
        if !cx.targets.contains(name) {
            return Err(cx.at_value(
                &item(path, i),
                format!(
                    "unknown target `{name}`, expected one of {}",
                    cx.targets.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The clients an expectation looks at, each one of the clients and not a
/// broker: `client` alone, or the members of `clients` (a list, or a
/// group's name, which the pass over groups has made a list already).
/// Returns the name reports use and the members.
fn expectation_clients(
    cx: &Ctx,
    path: &str,
    client: Option<String>,
    list: Option<RawClientList>,
) -> Result<(String, Vec<String>), Error> {
    match (client, list) {
        (Some(c), None) => {
            known_client(cx, &child(path, "client"), &c)?;
            Ok((c.clone(), vec![c]))
        }
        (None, Some(RawClientList::Many(names))) => {
            let at = child(path, "clients");
            if names.is_empty() {
                return Err(cx.at_value(&at, "`clients` needs at least one client"));
            }
            for (i, c) in names.iter().enumerate() {
                known_client(cx, &item(&at, i), c)?;
                if names[..i].contains(c) {
                    return Err(cx.at_value(
                        &item(&at, i),
                        format!("`{c}` is already in this list; each client counts once"),
                    ));
                }
            }
            Ok((format!("[{}]", names.join(", ")), names))
        }
        (None, Some(RawClientList::Group(name))) => {
            // A group's name was replaced by its members; a plain name
            // left here is one client written without a list.
            let at = child(path, "clients");
            known_client(cx, &at, &name)?;
            Err(cx.at_value(
                &at,
                format!("`clients` takes a list or a client group's name; for one client write `client: {name}`"),
            ))
        }
        (Some(_), Some(_)) => Err(cx.at_key(
            &child(path, "clients"),
            "give `client` or `clients`, not both",
        )),
        (None, None) => Err(cx.at_value(
            path,
            "an expectation needs `client` (or `clients`): whose side of the wire to look at",
        )),
    }
}

/// `c`, written at `p`, is one of the clients.
fn known_client(cx: &Ctx, p: &str, c: &str) -> Result<(), Error> {
    if cx
        .clients
        .iter()
        .chain(cx.bridges.iter().map(|b| &b.0))
        .any(|k| k == c)
    {
        return Ok(());
    }
    let what = if cx.brokers.iter().any(|b| b == c) {
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
    Err(cx.at_value(p, what))
}

/// The one matcher of an expectation or of a sequence's step, with its
/// key, or `None` when there is none: `receives` and `connack` imply their
/// packet type, `recv` and `send` name one.
fn one_matcher(cx: &Ctx, path: &str, e: RawStep) -> Result<Option<(&'static str, Matcher)>, Error> {
    let packet = |key: &str, fields: Fields, direction, implied: Option<&str>| {
        let mut fields = fields.0;
        let p = child(path, key);
        match (implied, fields.contains_key("type")) {
            (Some(ty), true) => {
                return Err(cx.at_key(
                    &child(&p, "type"),
                    format!(
                        "`{key}` always matches {ty}; for other packets use `recv: {{type: ...}}`"
                    ),
                ));
            }
            (Some(ty), false) => {
                fields.insert(
                    "type".to_string(),
                    serde_json::Value::String(ty.to_string()),
                );
            }
            (None, true) => {}
            (None, false) => {
                return Err(cx.at_value(
                    &p,
                    format!("`{key}` needs a packet `type`, e.g. `{key}: {{type: DISCONNECT}}`"),
                ));
            }
        }
        let first = match fields.shift_remove("first") {
            None => false,
            Some(serde_json::Value::Bool(b)) => b,
            Some(_) => {
                return Err(cx.at_value(&child(&p, "first"), "`first` is `true` or `false`"));
            }
        };
        Ok(Matcher::Packet {
            direction,
            fields,
            first,
        })
    };
    let mut matchers: Vec<(&'static str, Matcher)> = Vec::new();
    if let Some(f) = e.receives {
        matchers.push((
            "receives",
            packet("receives", f, Direction::Recv, Some("PUBLISH"))?,
        ));
    }
    if let Some(f) = e.connack {
        matchers.push((
            "connack",
            packet("connack", f, Direction::Recv, Some("CONNACK"))?,
        ));
    }
    if let Some(c) = e.closed {
        let by = c.and_then(|c| c.by).map(Into::into);
        matchers.push(("closed", Matcher::Closed { by }));
    }
    if let Some(f) = e.recv {
        matchers.push(("recv", packet("recv", f, Direction::Recv, None)?));
    }
    if let Some(f) = e.send {
        matchers.push(("send", packet("send", f, Direction::Send, None)?));
    }
    if matchers.len() > 1 {
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
    Ok(matchers.pop())
}

/// How often the matcher must match: at most one of `count`, `at_least`
/// and `at_most`, and at least once when none is given.
fn one_count(cx: &Ctx, path: &str, e: &RawExpect) -> Result<Count, Error> {
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
    match counts.as_slice() {
        [] => Ok(Count::AtLeast(1)),
        [(_, c)] => Ok(*c),
        [_, (second, _), ..] => {
            let names: Vec<&str> = counts.iter().map(|(n, _)| *n).collect();
            Err(cx.at_key(
                &child(path, second),
                format!(
                    "give at most one of count, at_least, at_most; this expectation has {}",
                    quoted(&names)
                ),
            ))
        }
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" and ")
}
