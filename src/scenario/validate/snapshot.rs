//! `snapshot:`: the view of the trace that the test suite snapshots.

use indexmap::IndexMap;

use super::Ctx;
use crate::error::Error;
use crate::scenario::locate::{Locator, item};
use crate::scenario::model::*;
use crate::scenario::raw::*;

/// `snapshot:`: every pattern names at least one client, and the view
/// shows something.
pub(super) fn snapshot_view(
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
