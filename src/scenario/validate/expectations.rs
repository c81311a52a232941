//! `expect:` entries: whose side of the wire, exactly one matcher (checked
//! against the client's protocol), at most one count, the targets it is
//! for, and the statements it rests on (its force).

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
) -> Result<Expectation, Error> {
    let line = cx.line(path);
    let client = expectation_client(cx, path, e.client.take())?;
    let (key, matcher) = one_matcher(cx, path, &mut e)?;
    if let Matcher::Packet { fields, .. } = &matcher {
        let protocol = clients
            .get(&client)
            .map_or(Protocol::V311, |c| c.options.protocol);
        let level = protocol.level();
        crate::scenario::matcher::check(&child(path, key), fields, level, protocol.as_str())
            .map_err(|m| match m.at_key {
                true => cx.at_key(&m.path, m.message),
                false => cx.at_value(&m.path, m.message),
            })?;
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
    let spec = e.spec.unwrap_or_default();
    let force = spec_ids(cx, &child(path, "spec"), &spec, protocols)?;
    Ok(Expectation {
        line,
        client,
        matcher,
        count,
        within: e.within.map(|w| (w.0, w.1)),
        only_for: e.only_for,
        not_for: e.not_for,
        spec,
        force,
    })
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

/// The client an expectation looks at: one of the clients, not a broker.
fn expectation_client(cx: &Ctx, path: &str, client: Option<String>) -> Result<String, Error> {
    match client {
        None => Err(cx.at_value(
            path,
            "an expectation needs `client`: whose side of the wire to look at",
        )),
        Some(c) if cx.clients.contains(&c) => Ok(c),
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
            Err(cx.at_value(&p, what))
        }
    }
}

/// The expectation's one matcher, with its key: `receives` and `connack`
/// imply their packet type, `recv` and `send` name one.
fn one_matcher(cx: &Ctx, path: &str, e: &mut RawExpect) -> Result<(&'static str, Matcher), Error> {
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
    let mut matchers: Vec<(&'static str, Matcher)> = Vec::new();
    if let Some(f) = e.receives.take() {
        matchers.push(("receives", typed("receives", f, "PUBLISH")?));
    }
    if let Some(f) = e.connack.take() {
        matchers.push(("connack", typed("connack", f, "CONNACK")?));
    }
    if let Some(c) = e.closed.take() {
        let by = c.and_then(|c| c.by).map(Into::into);
        matchers.push(("closed", Matcher::Closed { by }));
    }
    if let Some(f) = e.recv.take() {
        matchers.push(("recv", any("recv", f, Direction::Recv)?));
    }
    if let Some(f) = e.send.take() {
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
    matcher.ok_or_else(|| cx.at_value(path, "an expectation needs one matcher"))
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
