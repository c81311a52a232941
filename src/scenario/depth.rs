//! The nesting limit, checked before anything else reads a file.
//!
//! Nothing in the format nests deeper than a few levels, but a YAML parser
//! that is given 50,000 nested `[` spends seconds on them (serde_yaml and
//! the position index both walk every level). This pre-scan streams
//! yaml-rust2's events, which costs nothing per level, and stops at the
//! first collection deeper than [`MAX_NESTING`] (or at yaml-rust2's own,
//! higher, nesting limit, which its scanner can hit first). A syntax error is left to
//! the real parse, which reports it better.

use yaml_rust2::Event;
use yaml_rust2::parser::Parser;

use super::locate::Pos;

/// The deepest nesting of maps and lists a scenario file may have. The
/// format needs about eight levels; the rest is headroom.
pub const MAX_NESTING: usize = 64;

/// Where the first map or list deeper than [`MAX_NESTING`] starts, if any.
pub fn too_deep(source: &str) -> Option<Pos> {
    let mut parser = Parser::new_from_str(source);
    let mut depth = 0usize;
    loop {
        let (event, marker) = match parser.next_token() {
            Ok(next) => next,
            // yaml-rust2's scanner reads ahead and has a nesting limit of
            // its own (a few hundred levels), which it can hit before the
            // events reach ours.
            Err(e) if e.info().contains("recursion limit") => {
                return Some(Pos::from_marker(e.marker()));
            }
            Err(_) => return None,
        };
        match event {
            Event::StreamEnd => return None,
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(Pos::from_marker(&marker));
                }
            }
            Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_up_to_the_limit_passes_and_one_more_is_found() {
        let nested = |n: usize| format!("a: {}{}", "[".repeat(n), "]".repeat(n));
        // The top-level map is one level.
        assert_eq!(too_deep(&nested(MAX_NESTING - 1)), None);
        let pos = too_deep(&nested(MAX_NESTING)).expect("one level too deep");
        assert_eq!((pos.line, pos.column), (1, 3 + MAX_NESTING));
    }

    #[test]
    fn fifty_thousand_levels_are_refused() {
        let deep = format!("a: {}{}", "[".repeat(50_000), "]".repeat(50_000));
        assert!(too_deep(&deep).is_some());
    }

    #[test]
    fn block_nesting_counts_too() {
        let mut text = String::new();
        for i in 0..=MAX_NESTING {
            text.push_str(&format!("{}k{i}:\n", "  ".repeat(i)));
        }
        assert!(too_deep(&text).is_some());
    }
}
