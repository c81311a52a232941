//! The text report of `mqtt-sim coverage`.

use std::fmt::Write;

use super::Coverage;

/// One line per statement: `covered` or `-`, who it binds, the id, and the
/// scenarios that tag it (or, with `uncovered_only`, only the uncovered
/// statements, with their text); then the server share.
pub fn text(c: &Coverage, uncovered_only: bool) -> String {
    let mut out = String::new();
    let id_width = c
        .rows
        .iter()
        .map(|r| r.statement.id.len())
        .max()
        .unwrap_or(0);
    for r in &c.rows {
        if uncovered_only && r.covered() {
            continue;
        }
        let mark = if r.covered() { "covered" } else { "-" };
        let applies = r.applies.map_or("?", |a| a.as_str());
        let rest = if uncovered_only {
            r.statement.text.clone()
        } else {
            r.scenarios.join(", ")
        };
        let line = format!(
            "{mark:<8} {applies:<8} {:<id_width$}  {rest}",
            r.statement.id
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let covered = c.rows.iter().filter(|r| r.covered()).count();
    let _ = writeln!(out);
    let _ = writeln!(out, "all statements: {covered} of {} covered", c.rows.len());
    match c.server_share() {
        Some(s) => {
            let _ = writeln!(
                out,
                "server-side statements (server or both): {} of {} covered ({:.1}%)",
                s.covered,
                s.total,
                s.percent()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "server-side statements: no applicability table for this protocol"
            );
        }
    }
    out
}
