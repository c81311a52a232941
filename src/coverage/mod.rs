//! Spec coverage: which normative statements the scenarios' `spec:` tags
//! cover, and what share of the statements that bind a server.
//!
//! The inputs are plain data (the statement list, the applicability table,
//! each scenario's tags), so everything here is testable without files;
//! `mqtt-sim coverage` does the reading.

mod applicability;
mod render;
mod statements;

use std::collections::BTreeMap;

pub use applicability::{Applies, Rule, TABLE_V5, TABLE_V311, parse as parse_applicability};
pub use render::text;
pub use statements::{Statement, is_id, parse_md, parse_tsv};

/// Statements read from one list; a longer list is refused, since the
/// specifications have a few hundred.
pub const STATEMENTS_MAX: usize = 10_000;

/// The statement lists under `spec/`, built into the binary so that
/// `coverage` and the load-time check of `spec:` ids work from any directory.
pub const STATEMENTS_V311: &str = include_str!("../../spec/mqtt-3.1.1-statements.tsv");
pub const STATEMENTS_V5: &str = include_str!("../../spec/mqtt-5.0-statements.md");

/// The built-in statements of a protocol level (the CONNECT's level byte,
/// [`crate::wire::LEVEL_V311`] or [`crate::wire::LEVEL_V5`]), parsed once;
/// none for another level.
pub fn statements(level: u8) -> &'static [Statement] {
    use crate::wire::{LEVEL_V5, LEVEL_V311};
    use std::sync::OnceLock;
    static V311: OnceLock<Vec<Statement>> = OnceLock::new();
    static V5: OnceLock<Vec<Statement>> = OnceLock::new();
    // The built-in lists parse (a test says so); were one broken, every
    // id would be refused as unknown, which the scenario tests would show.
    match level {
        LEVEL_V311 => V311.get_or_init(|| parse_tsv(STATEMENTS_V311).unwrap_or_default()),
        LEVEL_V5 => V5.get_or_init(|| parse_md(STATEMENTS_V5).unwrap_or_default()),
        _ => &[],
    }
}

/// A statement list or applicability table that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoverageError {
    #[error("{0}")]
    Format(String),
}

/// One scenario's tags. `scenario` is how reports name it, e.g.
/// `pubsub/overlapping-subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    pub scenario: String,
    pub ids: Vec<String>,
}

/// One statement and the scenarios that tag it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub statement: Statement,
    /// `None` when there is no table, or the table lacks this id.
    pub applies: Option<Applies>,
    /// In the order the scenarios were given, each once.
    pub scenarios: Vec<String>,
}

impl Row {
    pub fn covered(&self) -> bool {
        !self.scenarios.is_empty()
    }
}

/// A tag that names no statement of the list: most likely a typo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub scenario: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub rows: Vec<Row>,
    pub unknown: Vec<Unknown>,
    /// Statement ids the applicability table does not classify, when a
    /// table was given; they count toward no share.
    pub unclassified: Vec<String>,
    /// Whether a table was given, i.e. whether a server share exists.
    pub classified: bool,
}

/// Server-side statements covered and in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub covered: usize,
    pub total: usize,
}

impl Share {
    /// Per cent, 0 when there is nothing to cover.
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.covered as f64 * 100.0 / self.total as f64
        }
    }
}

impl Coverage {
    /// The share of statements binding a server (`server` or `both`) that
    /// some scenario tags; `None` without an applicability table.
    pub fn server_share(&self) -> Option<Share> {
        if !self.classified {
            return None;
        }
        let server: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.applies.is_some_and(Applies::to_server))
            .collect();
        Some(Share {
            covered: server.iter().filter(|r| r.covered()).count(),
            total: server.len(),
        })
    }
}

/// Matches the tags against the statements.
pub fn compute(
    statements: &[Statement],
    table: Option<&BTreeMap<String, Rule>>,
    tagged: &[Tagged],
) -> Coverage {
    let mut by_id: BTreeMap<&str, Vec<String>> = statements
        .iter()
        .map(|s| (s.id.as_str(), Vec::new()))
        .collect();
    let mut unknown = Vec::new();
    for t in tagged {
        for id in &t.ids {
            match by_id.get_mut(id.as_str()) {
                Some(list) => {
                    if !list.contains(&t.scenario) {
                        list.push(t.scenario.clone());
                    }
                }
                None => unknown.push(Unknown {
                    scenario: t.scenario.clone(),
                    id: id.clone(),
                }),
            }
        }
    }
    let mut unclassified = Vec::new();
    let rows = statements
        .iter()
        .map(|s| {
            let applies = table.and_then(|t| t.get(&s.id)).map(|r| r.applies);
            if table.is_some() && applies.is_none() {
                unclassified.push(s.id.clone());
            }
            Row {
                statement: s.clone(),
                applies,
                scenarios: by_id.remove(s.id.as_str()).unwrap_or_default(),
            }
        })
        .collect();
    Coverage {
        rows,
        unknown,
        unclassified,
        classified: table.is_some(),
    }
}

#[cfg(test)]
mod tests;
