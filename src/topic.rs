//! Topic names and filters, as MQTT 3.1.1 section 4.7 defines them. Shared by
//! the broker (routing) and expectations (`receives: {topic: will/#}`).

/// Whether `filter` matches `topic`. The filter is assumed valid (see
/// [`is_valid_filter`]); an invalid one matches what its levels spell.
///
/// `#` matches the parent level too (`sport/#` matches `sport`) and a topic
/// beginning with `$` is not matched by a filter beginning with a wildcard
/// [MQTT-4.7.2-1].
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether a subscription filter is well formed: not empty, `#` only as the
/// whole last level, `+` only as a whole level [MQTT-4.7.1-2], [MQTT-4.7.1-3].
pub fn is_valid_filter(filter: &str) -> bool {
    if filter.is_empty() {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    let last = levels.len() - 1;
    levels.iter().enumerate().all(|(i, level)| match *level {
        "#" => i == last,
        "+" => true,
        l => !l.contains('#') && !l.contains('+'),
    })
}

/// Whether a topic name (in a PUBLISH) is well formed: not empty, and free
/// of wildcards [MQTT-3.3.2-2], [MQTT-4.7.3-1].
pub fn is_valid_name(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_the_spec_says() {
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "a/b/c"));
        assert!(matches("sport/+", "sport/"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        assert!(!matches("#", "$SYS/x"));
        assert!(!matches("+/x", "$SYS/x"));
        assert!(matches("$SYS/#", "$SYS/x"));
    }

    #[test]
    fn filter_validity() {
        for ok in ["a", "a/#", "#", "+", "+/+/#", "a/+/b", "/", "a//b"] {
            assert!(is_valid_filter(ok), "{ok}");
        }
        for bad in ["", "a/#/b", "a#", "a/b+", "#/a", "sport+"] {
            assert!(!is_valid_filter(bad), "{bad}");
        }
    }
}
