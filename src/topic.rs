//! Topic names and topic filters, exactly as MQTT 3.1.1 section 4.7 defines them.
//! Shared by the broker (routing, validation) and expectations
//! (`receives: {topic: will/#}` matches as a filter).

/// Why a topic name or filter is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// Topic names and filters are at least one character long [MQTT-4.7.3-1].
    Empty,
    /// U+0000 is not allowed in any string [MQTT-4.7.3-2].
    Nul,
    /// A topic name contains `+` or `#` [MQTT-3.3.2-2].
    WildcardInName,
    /// `#` not alone in the last level [MQTT-4.7.1-2], or `+` not alone in
    /// its level [MQTT-4.7.1-3].
    BadWildcard,
}

impl std::fmt::Display for TopicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TopicError::Empty => "empty topic",
            TopicError::Nul => "topic contains U+0000",
            TopicError::WildcardInName => "wildcard in topic name",
            TopicError::BadWildcard => "misplaced wildcard in topic filter",
        })
    }
}

/// Checks a topic name, the topic of a PUBLISH or a will.
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::Empty);
    }
    if name.contains('\0') {
        return Err(TopicError::Nul);
    }
    if name.contains(['+', '#']) {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter of SUBSCRIBE or UNSUBSCRIBE.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    if filter.contains('\0') {
        return Err(TopicError::Nul);
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        match level {
            "#" if last => {}
            "+" => {}
            _ if level.contains(['+', '#']) => return Err(TopicError::BadWildcard),
            _ => {}
        }
    }
    Ok(())
}

/// Whether a valid filter matches a valid topic name.
///
/// `sport/#` matches `sport` too, because `#` also stands for the parent
/// level [MQTT-4.7.1-2]. A filter starting with a wildcard does not match a
/// topic starting with `$` [MQTT-4.7.2-1].
pub fn matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(nl)) if fl == nl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether some topic name matches both valid filters `a` and `b`: level
/// by level, `+` meets any one level and `#` the rest. Leans to `true`:
/// the `$` rule of [`matches`] is left out, so the answer is never a false
/// "no" (expectations refuse a filter on it).
pub fn filters_overlap(a: &str, b: &str) -> bool {
    let mut a = a.split('/');
    let mut b = b.split('/');
    loop {
        match (a.next(), b.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (Some("+"), Some(_)) | (Some(_), Some("+")) => {}
            (Some(x), Some(y)) if x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(validate_name("a/b"), Ok(()));
        assert_eq!(validate_name("/"), Ok(()));
        assert_eq!(validate_name("$SYS/x"), Ok(()));
        assert_eq!(validate_name(""), Err(TopicError::Empty));
        assert_eq!(validate_name("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(validate_name("a/#"), Err(TopicError::WildcardInName));
        assert_eq!(validate_name("a#"), Err(TopicError::WildcardInName));
        assert_eq!(validate_name("a\0b"), Err(TopicError::Nul));
    }

    #[test]
    fn filters() {
        for ok in ["#", "+", "a/#", "+/+", "/+", "a/+/b", "+/#", "a//b", "/"] {
            assert_eq!(validate_filter(ok), Ok(()), "{ok}");
        }
        for bad in ["a#", "a/#/b", "#/a", "a+", "a/b+", "+a/b", "##", "a/++"] {
            assert_eq!(validate_filter(bad), Err(TopicError::BadWildcard), "{bad}");
        }
        assert_eq!(validate_filter(""), Err(TopicError::Empty));
        assert_eq!(validate_filter("a\0"), Err(TopicError::Nul));
    }

    #[test]
    fn overlapping_filters() {
        for (a, b) in [
            ("a/b", "a/b"),
            ("a/#", "a"),
            ("a", "a/#"),
            ("+/b", "a/+"),
            ("#", "x/y"),
            ("status/device", "status/#"),
            ("a/+/c", "a/b/+"),
        ] {
            assert!(filters_overlap(a, b), "{a} and {b}");
        }
        for (a, b) in [
            ("staus/device", "status/#"),
            ("a/b", "a/b/c"),
            ("a/+", "a"),
            ("+", "a/b"),
            ("a/b", "a/c"),
        ] {
            assert!(!filters_overlap(a, b), "{a} and {b}");
        }
    }

    #[test]
    fn matching() {
        let yes = [
            ("a/b", "a/b"),
            ("#", "a/b/c"),
            ("#", "/"),
            ("sport/#", "sport"),
            ("sport/#", "sport/"),
            ("sport/#", "sport/tennis/player1"),
            ("sport/+", "sport/"),
            ("sport/+/player1", "sport/tennis/player1"),
            ("+", "sport"),
            ("+/+", "/finance"),
            ("/+", "/finance"),
            ("+/#", "a"),
            ("$SYS/#", "$SYS/x"),
            ("$SYS/+", "$SYS/x"),
        ];
        for (f, n) in yes {
            assert!(matches(f, n), "{f} should match {n}");
        }
        let no = [
            ("a/b", "a/c"),
            ("a/b", "a/b/c"),
            ("a/b/c", "a/b"),
            ("sport/+", "sport"),
            ("sport/+", "sport/a/b"),
            ("+", "/finance"),
            ("+", "a/b"),
            ("#", "$SYS/x"),
            ("+/x", "$SYS/x"),
            ("A", "a"),
        ];
        for (f, n) in no {
            assert!(!matches(f, n), "{f} should not match {n}");
        }
    }
}
