//! The scenario format's version: `format: N` at the top of a file says
//! which version it was written for. A file without it is version 1; an
//! older version still loads; a newer one is refused before anything else
//! is read, so that its new keys are not reported as mistakes.

/// The newest scenario format this build reads.
pub const FORMAT_VERSION: u64 = 1;

/// The oldest scenario format this build reads.
pub const FORMAT_VERSION_MIN: u64 = 1;

/// What is wrong with the `format:` a file declares, and where: `(line,
/// column, message)`, 1-based. Reads only a block-style top-level
/// `format:` line; a flow-style one is checked by the loader with the rest.
pub fn refused(source: &str) -> Option<(usize, usize, String)> {
    for (i, line) in source.lines().enumerate() {
        let Some(rest) = line.strip_prefix("format:") else {
            continue;
        };
        let value = rest.split('#').next().unwrap_or_default().trim();
        let column = line.len() - rest.trim_start().len() + 1;
        return check(value.parse().ok(), value).map(|m| (i + 1, column, m));
    }
    None
}

/// The versions this build reads, as words: `1`, or `1 to 2`.
pub fn readable() -> String {
    if FORMAT_VERSION_MIN == FORMAT_VERSION {
        FORMAT_VERSION.to_string()
    } else {
        format!("{FORMAT_VERSION_MIN} to {FORMAT_VERSION}")
    }
}

/// Why a declared version `n` (written `text`) cannot be read, if it cannot.
pub fn check(n: Option<u64>, text: &str) -> Option<String> {
    match n {
        Some(n) if (FORMAT_VERSION_MIN..=FORMAT_VERSION).contains(&n) => None,
        Some(n) if n > FORMAT_VERSION => Some(format!(
            "this file is written for scenario format {n}, and this mqtt-sim ({}) reads \
             format {}: install a newer mqtt-sim",
            env!("CARGO_PKG_VERSION"),
            readable()
        )),
        _ => Some(format!(
            "`format` is the scenario format version the file is written for: {}; \
             found `{text}`",
            readable()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_declaration_and_the_current_version_are_read() {
        assert_eq!(refused("name: x\nduration: 1s\n"), None);
        assert_eq!(refused("format: 1   # written for 1\nduration: 1s\n"), None);
    }

    #[test]
    fn a_newer_version_is_refused_at_its_value() {
        let (line, column, m) = refused("# c\nformat: 2\nnew_key: {}\n").unwrap();
        assert_eq!((line, column), (2, 9));
        assert!(m.contains("written for scenario format 2"), "{m}");
        assert!(m.contains("install a newer mqtt-sim"), "{m}");
    }

    #[test]
    fn a_version_that_is_not_a_whole_number_is_refused() {
        let (_, _, m) = refused("format: 1.0\n").unwrap();
        assert!(m.contains("written for: 1; found `1.0`"), "{m}");
        assert!(refused("format: 0\n").is_some());
    }

    #[test]
    fn an_indented_format_key_is_not_the_file_s() {
        assert_eq!(refused("brokers:\n  b: {}\n  format: 9\n"), None);
    }
}
