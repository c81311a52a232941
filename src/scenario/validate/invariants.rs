//! `invariants:`: which of the invariants a run checks.

use super::Ctx;
use crate::error::Error;
use crate::scenario::locate::{Locator, item};
use crate::scenario::model::*;
use crate::scenario::raw::*;

/// `invariants:`: absent checks every invariant, `off` none, a list the
/// named ones, each of which must exist.
pub(super) fn invariants(cx: &Ctx, raw: Option<RawInvariants>) -> Result<Invariants, Error> {
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
