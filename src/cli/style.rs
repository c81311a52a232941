//! Colour on the terminal, and only there.
//!
//! Everything coloured is written through `anstream`, which drops the
//! escape codes when the stream is not a terminal, when `NO_COLOR` is set,
//! or when `CLICOLOR=0`; `CLICOLOR_FORCE=1` keeps them. The text that
//! becomes a snapshot is built plain and is coloured only on its way out.

use anstyle::{AnsiColor, Style};
use mqtt_sim::Error;
use mqtt_sim::diagnostic;

pub const FAIL: Style = AnsiColor::Red.on_default().bold();
pub const OK: Style = AnsiColor::Green.on_default();
pub const DIM: Style = Style::new().dimmed();
pub const REMOVED: Style = AnsiColor::Red.on_default();
pub const ADDED: Style = AnsiColor::Green.on_default();

/// Prints a scenario error in its snippet form on stderr.
pub fn print_error(e: &Error) {
    anstream::eprint!("{}", diagnostic::render(e, true));
}

/// `text` wrapped in `style`'s escape codes.
pub fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// A text trace with its verdict lines coloured: `ok` green, `FAIL` and the
/// final `FAILED` red.
pub fn trace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        let style = if body.starts_with("FAIL  ")
            || (body.starts_with("end ") && body.ends_with(": FAILED"))
        {
            Some(FAIL)
        } else if body.starts_with("ok    ") || (body.starts_with("end ") && body.ends_with(": ok"))
        {
            Some(OK)
        } else {
            None
        };
        match style {
            Some(s) => out.push_str(&paint(s, body)),
            None => out.push_str(body),
        }
        out.push_str(newline);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_verdict_lines_are_coloured_and_stripping_restores_the_text() {
        let plain = "0.001s  a  connected\n\nok    line 3: x\nFAIL  line 4: y\n\nend 1.000s seed 0: FAILED\n";
        let coloured = trace(plain);
        assert_ne!(coloured, plain);
        assert!(coloured.starts_with("0.001s  a  connected\n"));
        assert!(coloured.contains(&paint(FAIL, "FAIL  line 4: y")));
        assert!(coloured.contains(&paint(OK, "ok    line 3: x")));
        assert_eq!(anstream::adapter::strip_str(&coloured).to_string(), plain);
    }
}
