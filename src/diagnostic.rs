//! An [`Error`] as a snippet for people: the file, the offending line, a
//! caret under the column, what was expected and a hint.
//!
//! ```text
//! error: clients.device.steps[1].subscribe: unknown field `filtr`
//!  --> scenarios/t.yaml:9:21
//!   |
//! 9 |       - subscribe: {filtr: a/b, qos: 1}
//!   |                     ^^^^^
//!   |
//!   = expected one of `filter`, `filters`, `qos`
//!   = help: did you mean `filter`?
//! ```
//!
//! Every command that loads scenarios prints errors through [`render`], so
//! they all look alike. The text is plain unless `styled` is set; the CLI
//! passes styled text through `anstream`, which strips the colour again
//! when the output is not a terminal or `NO_COLOR` is set.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::error::{Error, Location};
use crate::scenario::MAX_SOURCE_BYTES;

/// The longest message, note or hint printed, in characters. A message
/// quotes what it complains about, and that can be a 100 KB key; past this
/// it is cut in the middle (the snippet below it is cut by annotate-snippets).
pub const MESSAGE_CHARS_MAX: usize = 300;

/// The longest `expected` list printed, in characters: long enough for
/// every field or property name of a packet (CONNACK's 17 properties) and
/// every broker option; a longer list (10,000 client names) is cut
/// between two names, never inside one.
pub const EXPECTED_CHARS_MAX: usize = 1000;

/// The `expected` note: the whole list when it fits in
/// [`EXPECTED_CHARS_MAX`], else the names that fit and how many more.
fn expected_note(e: &Error) -> Option<String> {
    let full = e.expected_text()?;
    if full.chars().count() <= EXPECTED_CHARS_MAX {
        return Some(format!("expected {full}"));
    }
    let mut shown = String::new();
    let mut n = 0;
    for name in &e.expected {
        let item = cut(&format!("`{name}`"));
        if n > 0 && shown.chars().count() + item.chars().count() > EXPECTED_CHARS_MAX {
            break;
        }
        if n > 0 {
            shown.push_str(", ");
        }
        shown.push_str(&item);
        n += 1;
    }
    Some(format!(
        "expected one of {shown} and {} more",
        e.expected.len() - n
    ))
}

/// `text`, cut in the middle to at most [`MESSAGE_CHARS_MAX`] characters.
fn cut(text: &str) -> String {
    let n = text.chars().count();
    if n <= MESSAGE_CHARS_MAX {
        return text.to_string();
    }
    let keep = MESSAGE_CHARS_MAX / 2;
    let head: String = text.chars().take(keep).collect();
    let tail: String = text.chars().skip(n - keep).collect();
    format!("{head} [... {} characters ...] {tail}", n - 2 * keep)
}

/// Renders `e`, reading the line it points at from its file. An error
/// without a location, or whose file can no longer be read, is one line.
pub fn render(e: &Error, styled: bool) -> String {
    let source = e
        .location
        .as_ref()
        // Bounded: the error may be that the file is endless (a link to
        // /dev/zero), and reading it whole for the snippet never ended.
        .and_then(|loc| crate::scenario::read_bounded(&loc.file).ok())
        .filter(|bytes| bytes.len() <= MAX_SOURCE_BYTES)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    render_source(e, source.as_deref(), styled)
}

/// Renders `e` against `source`, the text of the file it points at (for
/// errors from [`crate::scenario::parse`], which has no file to read).
pub fn render_source(e: &Error, source: Option<&str>, styled: bool) -> String {
    let renderer = if styled {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let message = cut(&e.message);
    let title = Level::ERROR.primary_title(message.as_str());
    let mut first = match (&e.location, source) {
        (Some(loc), Some(source)) => match snippet(loc, source) {
            Some(s) => Group::with_title(title).element(s),
            None => Group::with_title(title).element(origin(loc)),
        },
        (Some(loc), None) => Group::with_title(title).element(origin(loc)),
        (None, _) => Group::with_title(title),
    };
    let expected = expected_note(e);
    let help = e.help.as_deref().map(cut);
    if let Some(expected) = &expected {
        first = first.element(Level::NOTE.no_name().message(expected.as_str()));
    }
    if let Some(help) = &help {
        first = first.element(Level::HELP.message(help.as_str()));
    }
    let mut text = renderer.render(&[first]);
    text.push('\n');
    text
}

fn origin(loc: &Location) -> annotate_snippets::Origin<'static> {
    annotate_snippets::Origin::path(loc.file.display().to_string())
        .line(loc.line)
        .char_column(loc.column)
}

/// The located line with a caret under the token that starts at the
/// column; `None` when the location lies outside the text.
fn snippet<'a>(
    loc: &Location,
    source: &'a str,
) -> Option<Snippet<'a, annotate_snippets::Annotation<'a>>> {
    let line = source.lines().nth(loc.line.checked_sub(1)?)?;
    let start = line
        .char_indices()
        .nth(loc.column.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i);
    let rest = line.get(start..).unwrap_or_default();
    let width = token_len(rest);
    Some(
        Snippet::source(line)
            .line_start(loc.line)
            .path(loc.file.display().to_string())
            .annotation(AnnotationKind::Primary.span(start..start + width)),
    )
}

/// Bytes of the YAML token at the start of `rest`: a word up to the next
/// space or flow indicator, or the one indicator character itself.
fn token_len(rest: &str) -> usize {
    const STOP: &[char] = &[',', ':', '{', '}', '[', ']', '#'];
    let word: usize = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && !STOP.contains(c))
        .map(char::len_utf8)
        .sum();
    if word > 0 {
        word
    } else {
        rest.chars().next().map_or(0, char::len_utf8)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::error::ErrorKind;

    fn located(line: usize, column: usize) -> Error {
        Error::new(ErrorKind::Scenario, "unknown field `filtr`").at(Location {
            file: PathBuf::from("t.yaml"),
            line,
            column,
        })
    }

    #[test]
    fn the_caret_sits_under_the_token_at_the_column() {
        let e = located(2, 5).expecting(vec!["filter".into(), "qos".into()]);
        let text = render_source(&e, Some("a: 1\nb: {filtr: x}\n"), false);
        let lines: Vec<&str> = text.lines().collect();
        let code = lines.iter().position(|l| l.ends_with("b: {filtr: x}"));
        let code = code.unwrap_or_else(|| panic!("no source line in:\n{text}"));
        let caret = lines.get(code + 1).copied().unwrap_or_default();
        let at = code_column(lines[code], "b: {");
        assert_eq!(caret.find('^'), Some(at), "{text}");
        assert_eq!(caret.matches('^').count(), "filtr".len(), "{text}");
        assert!(text.contains("t.yaml:2:5"), "{text}");
        assert!(text.contains("expected `filter` or `qos`"), "{text}");
    }

    #[test]
    fn a_long_expected_list_is_cut_between_names() {
        let mut e = located(1, 1);
        e.expected = (0..2000).map(|i| format!("client-{i}")).collect();
        let text = render_source(&e, Some("x: 1\n"), false);
        assert!(text.contains("`client-0`, `client-1`,"), "{text}");
        assert!(text.contains("` and "), "{text}");
        assert!(!text.contains("characters ...]"), "{text}");
        let mut short = located(1, 1);
        // CONNACK's 17 property names take about 500 characters.
        short.expected = (0..17)
            .map(|i| format!("a_property_name_{i:02}_xxxxxx"))
            .collect();
        let text = render_source(&short, Some("x: 1\n"), false);
        assert!(text.contains("`a_property_name_16_xxxxxx`"), "{text}");
        assert!(!text.contains(" more"), "{text}");
    }

    #[test]
    fn a_huge_message_is_cut() {
        let key = "x".repeat(100_000);
        let e = Error::new(ErrorKind::Scenario, format!("unknown field `{key}`"));
        let text = render_source(&e, None, false);
        assert!(text.len() < 2 * MESSAGE_CHARS_MAX, "{} bytes", text.len());
        assert!(text.contains("characters ...]"), "{text}");
    }

    fn code_column(line: &str, before: &str) -> usize {
        line.find(before).map_or(0, |i| i + before.len())
    }

    #[test]
    fn a_location_past_the_text_still_renders() {
        let text = render_source(&located(9, 40), Some("a: 1\n"), false);
        assert!(text.contains("t.yaml:9:40"), "{text}");
        let text = render_source(&located(1, 40), Some("a: 1\n"), false);
        assert!(text.contains("t.yaml:1:"), "{text}");
    }

    #[test]
    fn an_unlocated_error_is_one_line() {
        let e = Error::new(ErrorKind::Io, "cannot read x.yaml");
        assert_eq!(render(&e, false), "error: cannot read x.yaml\n");
    }
}
