//! Reading the lists of normative statements: the 3.1.1 table (`id<TAB>text`
//! per line) and the 5.0 Markdown (`## id` headings, the text below).

use super::{CoverageError, STATEMENTS_MAX};

/// One normative statement of the specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// E.g. `MQTT-3.8.4-1`.
    pub id: String,
    pub text: String,
}

impl Statement {
    /// Whether it binds: its text says MUST or MUST NOT. Otherwise it
    /// describes, permits (MAY) or recommends (SHOULD).
    pub fn is_binding(&self) -> bool {
        self.text.contains("MUST")
    }
}

/// Whether `id` has the shape of a statement id: `MQTT-` then a dotted
/// section number, `-` and a number.
pub fn is_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("MQTT-") else {
        return false;
    };
    let Some((section, n)) = rest.rsplit_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(n) && section.split('.').all(digits)
}

/// Parses the 3.1.1 table. Blank lines are skipped; any other line must be
/// `id<TAB>text` with a well-formed id, and ids must be unique.
pub fn parse_tsv(text: &str) -> Result<Vec<Statement>, CoverageError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (id, body) = line.split_once('\t').unwrap_or((line, ""));
        push(&mut out, id.trim(), body.trim(), i + 1)?;
    }
    Ok(out)
}

/// Parses the 5.0 list: each `## id` heading starts a statement, and the
/// non-blank lines up to the next heading are its text.
pub fn parse_md(text: &str) -> Result<Vec<Statement>, CoverageError> {
    let mut out: Vec<Statement> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(id) = line.strip_prefix("## ") {
            push(&mut out, id.trim(), "", i + 1)?;
        } else if let Some(last) = out.last_mut() {
            let line = line.trim();
            if !line.is_empty() {
                if !last.text.is_empty() {
                    last.text.push(' ');
                }
                last.text.push_str(line);
            }
        }
    }
    Ok(out)
}

fn push(out: &mut Vec<Statement>, id: &str, text: &str, line: usize) -> Result<(), CoverageError> {
    if !is_id(id) {
        return Err(CoverageError::Format(format!(
            "line {line}: {id:?} is not a statement id"
        )));
    }
    if out.iter().any(|s| s.id == id) {
        return Err(CoverageError::Format(format!(
            "line {line}: {id} appears twice"
        )));
    }
    if out.len() >= STATEMENTS_MAX {
        return Err(CoverageError::Format(format!(
            "more than {STATEMENTS_MAX} statements"
        )));
    }
    out.push(Statement {
        id: id.to_string(),
        text: text.to_string(),
    });
    Ok(())
}
