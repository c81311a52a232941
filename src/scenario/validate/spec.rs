//! `spec:` ids, at the top level (the normative statements a scenario
//! covers) and on an expectation (the statements it rests on, which give
//! it its force).

use indexmap::IndexMap;

use super::Ctx;
use crate::coverage::Statement;
use crate::error::Error;
use crate::scenario::locate::{Locator, item};
use crate::scenario::model::*;

/// The protocol versions a scenario speaks: the top-level one, then each
/// other one a client sets, in order of appearance.
pub(super) fn protocols(
    protocol: Protocol,
    clients: &IndexMap<String, ClientSpec>,
) -> Vec<Protocol> {
    let mut protocols = vec![protocol];
    for c in clients.values() {
        if !protocols.contains(&c.options.protocol) {
            protocols.push(c.options.protocol);
        }
    }
    protocols
}

/// Every id in the `spec` list at `path` must be a statement of a protocol
/// the scenario speaks (a typo would otherwise cover nothing). The force of
/// the list: binding when one of its statements says MUST or MUST NOT in
/// one of those protocols.
pub(super) fn spec_ids(
    cx: &Ctx,
    path: &str,
    spec: &[String],
    protocols: &[Protocol],
) -> Result<Force, Error> {
    let statements = |id: &str| {
        protocols
            .iter()
            .filter_map(move |p| {
                crate::coverage::statements(p.level())
                    .iter()
                    .find(|s| s.id == id)
            })
            .collect::<Vec<&Statement>>()
    };
    let mut force = Force::Choice;
    for (i, id) in spec.iter().enumerate() {
        let found = statements(id);
        if found.iter().any(|s| s.is_binding()) {
            force = Force::Binding;
        }
        if found.is_empty() {
            return Err(unknown(cx, &item(path, i), id, protocols));
        }
    }
    Ok(force)
}

/// An id that names no statement of the scenario's protocols, with the
/// other protocol's list as the likely mix-up, or else the nearest id.
fn unknown(cx: &Ctx, at: &str, id: &str, protocols: &[Protocol]) -> Error {
    let names: Vec<&str> = protocols.iter().map(|p| p.as_str()).collect();
    let mut e = cx.at_value(
        at,
        format!(
            "`{id}` is not a normative statement of MQTT {}",
            names.join(" or ")
        ),
    );
    let other = [Protocol::V311, Protocol::V5].into_iter().find(|p| {
        !protocols.contains(p)
            && crate::coverage::statements(p.level())
                .iter()
                .any(|s| s.id == *id)
    });
    // Ids one digit apart are unrelated statements, so the nearest id is
    // shown as a pointer, not offered as the meant one.
    let nearest = protocols
        .iter()
        .flat_map(|p| crate::coverage::statements(p.level()))
        .map(|s| (strsim::levenshtein(&s.id, id), s.id.as_str()))
        .min()
        .map(|(_, near)| format!("the nearest id is `{near}`; "))
        .unwrap_or_default();
    e.help = Some(match other {
        Some(p) => format!(
            "`{id}` is a statement of MQTT {}; a scenario or client with `protocol: {}` may tag it",
            p.as_str(),
            p.as_str()
        ),
        None => format!("{nearest}`mqtt-sim coverage` lists every statement with its id"),
    });
    e
}
