//! The diagram as a Mermaid `sequenceDiagram`, for pasting into Markdown.
//!
//! One message line (`A->>B: ...`) per drawn packet; everything else (ping
//! runs, faults, closes, notes, failures) is a `Note`, so counting message
//! lines counts packets the same way the SVG counts arrows.

use std::fmt::Write as _;

use super::model::{Diagram, Item};
use crate::trace::render::seconds;

pub fn write(d: &Diagram) -> String {
    let mut out = String::from("sequenceDiagram\n");
    // Participants get ids of their own: a host may be called `end` or
    // `note`, which Mermaid reads as keywords.
    for (i, h) in d.hosts.iter().enumerate() {
        let _ = writeln!(out, "    participant h{i} as {}", text(&h.name));
    }
    let span = Span {
        last: d.hosts.len().saturating_sub(1),
    };
    for item in &d.items {
        write_item(&mut out, item, span);
    }
    write_footer(&mut out, d, span);
    out
}

/// The participants a `Note over` spans: the lowest and highest of some
/// hosts (all of them when none is given).
#[derive(Clone, Copy)]
struct Span {
    last: usize,
}

impl Span {
    fn over(self, hosts: &[usize]) -> String {
        let lo = hosts.iter().copied().min().unwrap_or(0);
        let hi = hosts.iter().copied().max().unwrap_or(self.last);
        if lo == hi {
            format!("h{lo}")
        } else {
            format!("h{lo},h{hi}")
        }
    }

    fn all(self) -> String {
        self.over(&[0, self.last])
    }
}

/// One item's line: a message line for a packet, a `Note` for the rest
/// (activations are not written).
fn write_item(out: &mut String, item: &Item, span: Span) {
    match item {
        Item::Message(m) => {
            let mark = if m.closest {
                "(closest to a failure) "
            } else {
                ""
            };
            let at = if m.sent_by_client {
                m.sent_at
            } else {
                m.received_at
            };
            let _ = writeln!(
                out,
                "    h{}->>h{}: {} {mark}{}",
                m.from,
                m.to,
                seconds(at),
                text(&m.label)
            );
        }
        Item::Pings(p) => {
            let _ = writeln!(
                out,
                "    Note over {}: {} to {} {}",
                span.over(&[p.client, p.broker]),
                seconds(p.start),
                seconds(p.end),
                text(&p.label())
            );
        }
        Item::Fault(f) => {
            let until = if f.open {
                "to the end".to_string()
            } else {
                format!("until {}", seconds(f.end))
            };
            let _ = writeln!(
                out,
                "    Note over {}: {} {} {until}",
                span.over(&f.hosts),
                seconds(f.start),
                text(&f.label)
            );
        }
        Item::Close(c) => {
            let _ = writeln!(
                out,
                "    Note over h{}: {} closed by {}",
                c.host,
                seconds(c.at),
                c.by
            );
        }
        Item::Note(n) => {
            let _ = writeln!(
                out,
                "    Note over h{}: {} {}",
                n.host,
                seconds(n.at),
                text(&n.text)
            );
        }
        Item::Active(_) => {}
    }
}

/// Notes across every participant: events left out, a harness error, and
/// each failed expectation.
fn write_footer(out: &mut String, d: &Diagram, span: Span) {
    if d.omitted > 0 {
        let _ = writeln!(
            out,
            "    Note over {}: {} events not drawn (over the limit), narrow the window with --from/--to",
            span.all(),
            d.omitted
        );
    }
    if let Some(e) = &d.harness_error {
        let _ = writeln!(
            out,
            "    Note over {}: harness error: {}",
            span.all(),
            text(e)
        );
    }
    for f in &d.failures {
        let _ = writeln!(
            out,
            "    Note over {}: FAIL expect line {}: {}",
            span.all(),
            f.line,
            text(&f.text)
        );
    }
}

/// Text safe on one Mermaid line: `#` and `;` become entity codes (Mermaid
/// reads `;` as a line break and `#..;` as an entity), and so do `<` and
/// `>` (it renders some HTML), line breaks become spaces.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn special_characters_become_entities() {
        assert_eq!(text("will/#; <b>"), "will/#35;#59; #60;b#62;");
    }
}
