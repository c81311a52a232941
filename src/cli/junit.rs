//! JUnit XML for CI systems (`check --junit FILE`, `report --junit FILE`):
//! one `<testsuite>` per target, one `<testcase>` per scenario, a
//! `<failure>` with the verdict text of each failed run and a `<skipped>`
//! with the reason of each skip. A run that passed with expectations or
//! invariants that `differs` (a choice the target made otherwise) or
//! expectations left out for the target (`skip`) is a passed test case
//! whose `<system-out>` lists those lines.
//!
//! The format is small enough to write by hand; what matters is the
//! escaping. Text is stripped of terminal colours, the five XML special
//! characters are escaped, and characters XML 1.0 cannot carry at all
//! (control characters other than tab, newline and carriage return) become
//! U+FFFD.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

/// What one scenario came to.
pub enum Outcome {
    Pass,
    /// A one-line summary and the full verdict text.
    Fail {
        message: String,
        text: String,
    },
    Skip(String),
}

pub struct Case {
    /// The scenario's path, as given or found.
    pub name: String,
    pub outcome: Outcome,
    /// The `differs` and `skip` lines of its run ([`notes`]), written to
    /// `<system-out>`.
    pub notes: Vec<String>,
}

/// The lines of a report that neither pass nor fail it: each expectation
/// or invariant that differs from the reference's choice, and each
/// expectation left out for the target, as the text report shows them.
pub fn notes(report: &mqtt_sim::trace::Report) -> Vec<String> {
    use mqtt_sim::trace::Outcome as O;
    let shown = |o: O| matches!(o, O::Differs | O::Skip);
    let mut out: Vec<String> = report
        .verdicts
        .iter()
        .filter(|v| shown(v.outcome))
        .map(|v| format!("{} line {}: {}", v.outcome.status(), v.line, v.text))
        .collect();
    out.extend(
        report
            .violations
            .iter()
            .filter(|v| shown(v.outcome))
            .map(|v| {
                format!(
                    "{} invariant {}: {}",
                    v.outcome.status(),
                    v.invariant,
                    v.text
                )
            }),
    );
    out
}

pub struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
}

/// Writes `suites` as a JUnit XML document to `path`.
pub fn write(path: &Path, suites: &[Suite]) -> anyhow::Result<()> {
    std::fs::write(path, document(suites))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The JUnit XML document of `suites`.
pub fn document(suites: &[Suite]) -> String {
    let count =
        |s: &Suite, f: fn(&Outcome) -> bool| s.cases.iter().filter(|c| f(&c.outcome)).count();
    let failed = |o: &Outcome| matches!(o, Outcome::Fail { .. });
    let skipped = |o: &Outcome| matches!(o, Outcome::Skip(_));
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(|s| count(s, failed)).sum();
    let skips: usize = suites.iter().map(|s| count(s, skipped)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"mqtt-sim\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skips}\">"
    );
    for s in suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
            escape(&s.name),
            s.cases.len(),
            count(s, failed),
            count(s, skipped)
        );
        for c in &s.cases {
            let head = format!(
                "    <testcase name=\"{}\" classname=\"{}\"",
                escape(&c.name),
                escape(&s.name)
            );
            match &c.outcome {
                Outcome::Pass if c.notes.is_empty() => {
                    let _ = writeln!(out, "{head}/>");
                }
                Outcome::Pass => {
                    let _ = writeln!(
                        out,
                        "{head}>\n      <system-out>{}</system-out>\n    </testcase>",
                        escape(&c.notes.join("\n"))
                    );
                }
                Outcome::Fail { message, text } => {
                    let _ = writeln!(
                        out,
                        "{head}>\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        escape(message),
                        escape(text)
                    );
                }
                Outcome::Skip(why) => {
                    let _ = writeln!(
                        out,
                        "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(why)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// `text` as XML character data or attribute value.
fn escape(text: &str) -> String {
    let plain = anstream::adapter::strip_str(text).to_string();
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_and_forbidden_characters_are_escaped() {
        // A control character XML cannot carry does not survive, whether
        // the colour stripping or the replacement takes it.
        assert_eq!(
            escape("a<b>&\"c\" 'd'\u{1}\u{1b}[31mred\u{1b}[0m"),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;red"
        );
    }
}
