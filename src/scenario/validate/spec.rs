//! `spec:`: the ids of the normative statements a scenario covers.

use indexmap::IndexMap;

use super::Ctx;
use crate::error::Error;
use crate::scenario::locate::{Locator, item};
use crate::scenario::model::*;

/// Every `spec:` id must be a statement of a protocol the scenario speaks
/// (the top-level one or a client's): a typo would otherwise cover nothing.
pub(super) fn spec_ids(
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
