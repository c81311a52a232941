//! Which statements bind a server: a committed table per protocol version,
//! one line per statement id, so that the classification is reviewed like
//! code rather than guessed from keywords. The rule it follows is written
//! at the top of `applicability-3.1.1.tsv` and `applicability-5.0.tsv`.

use std::collections::BTreeMap;

use super::CoverageError;
use super::statements::is_id;

/// Who a statement binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Applies {
    Server,
    Client,
    /// Whichever side sends or receives the packet in question.
    Both,
    /// A conformance clause or a permission: no one behaviour to check.
    Neither,
}

impl Applies {
    pub fn as_str(self) -> &'static str {
        match self {
            Applies::Server => "server",
            Applies::Client => "client",
            Applies::Both => "both",
            Applies::Neither => "neither",
        }
    }

    /// Whether a server must meet the statement.
    pub fn to_server(self) -> bool {
        matches!(self, Applies::Server | Applies::Both)
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub applies: Applies,
    pub reason: String,
}

/// The committed table for MQTT 3.1.1.
pub const TABLE_V311: &str = include_str!("applicability-3.1.1.tsv");

/// The committed table for MQTT 5.0.
pub const TABLE_V5: &str = include_str!("applicability-5.0.tsv");

/// Parses a table: `#` comment lines and blank lines are skipped; other
/// lines are `id<TAB>applies<TAB>reason`.
pub fn parse(text: &str) -> Result<BTreeMap<String, Rule>, CoverageError> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let bad =
            |what: &str| CoverageError::Format(format!("applicability line {}: {what}", i + 1));
        let mut cols = line.splitn(3, '\t');
        let id = cols.next().unwrap_or("").trim();
        let applies = cols.next().unwrap_or("").trim();
        let reason = cols.next().unwrap_or("").trim();
        if !is_id(id) {
            return Err(bad(&format!("{id:?} is not a statement id")));
        }
        let applies = match applies {
            "server" => Applies::Server,
            "client" => Applies::Client,
            "both" => Applies::Both,
            "neither" => Applies::Neither,
            other => {
                return Err(bad(&format!(
                    "{other:?} is not one of server, client, both, neither"
                )));
            }
        };
        if reason.is_empty() {
            return Err(bad("a reason is required"));
        }
        let rule = Rule {
            applies,
            reason: reason.to_string(),
        };
        if out.insert(id.to_string(), rule).is_some() {
            return Err(bad(&format!("{id} appears twice")));
        }
    }
    Ok(out)
}
