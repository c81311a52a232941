//! Where each value of the file is: a map from a value's path
//! (`clients.sensor.steps[2].subscribe`) to its line and column, built from
//! yaml-rust2's marked events.
//!
//! serde_yaml locates the errors raised while it deserializes, but a value
//! it deserialized successfully has no position any more. Checks that need
//! the whole file (host references, protocol-dependent options) and the
//! `line` of steps, faults and expectations look positions up here.
//!
//! A second parser reads the same text. For the files serde_yaml accepts the
//! two agree on structure; if yaml-rust2 rejects one anyway, that is reported
//! as a scenario error at its position. A path with no entry (e.g. inside an
//! alias) falls back to its nearest recorded ancestor.

use std::collections::BTreeMap;

use yaml_rust2::Event;
use yaml_rust2::parser::Parser;
use yaml_rust2::scanner::Marker;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
    index: usize,
}

impl Pos {
    pub const START: Pos = Pos {
        line: 1,
        column: 1,
        index: 0,
    };

    pub(super) fn from_marker(m: &Marker) -> Pos {
        // yaml-rust2 0.13 counts lines from 1 and columns from 0.
        Pos {
            line: m.line().max(1),
            column: m.col() + 1,
            index: m.index(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Node {
    /// Where the value starts.
    value: Pos,
    /// Where its key is, for map entries.
    key: Option<Pos>,
}

/// Path of a value: map keys joined by `.`, sequence indices as `[i]`; the
/// root is the empty path.
pub fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

pub fn item(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

fn parent_of(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    match path.rfind(['.', '[']) {
        Some(i) => path.get(..i),
        None => Some(""),
    }
}

enum Frame {
    Map {
        path: String,
        /// The key whose value comes next; `None` while a key is expected.
        key: Option<(String, Pos)>,
        /// The mapping's own node is moved to its first key's position,
        /// because yaml-rust2 marks a block mapping's start after that key.
        first: bool,
    },
    Seq {
        path: String,
        next: usize,
    },
    /// A complex (non-scalar) map key: skipped, with its nesting depth.
    SkipKey {
        depth: usize,
        pos: Pos,
    },
}

#[derive(Debug, Default)]
pub struct PosIndex {
    nodes: BTreeMap<String, Node>,
    /// The start of a second document, which the format does not allow.
    pub second_document: Option<Pos>,
    /// Paths that stand for other paths: a client group's member
    /// (`clients.sensor-7`) for its group (`clients.sensor-{i}`).
    aliases: BTreeMap<String, String>,
}

/// Why the index could not be built: yaml-rust2's message and position.
#[derive(Debug)]
pub struct IndexError {
    pub message: String,
    pub pos: Pos,
}

impl PosIndex {
    pub fn build(source: &str) -> Result<PosIndex, IndexError> {
        let mut index = PosIndex::default();
        let mut parser = Parser::new_from_str(source);
        let mut stack: Vec<Frame> = Vec::new();
        let mut documents = 0usize;
        loop {
            let (event, marker) = parser.next_token().map_err(|e| IndexError {
                message: e.info().to_string(),
                pos: Pos::from_marker(e.marker()),
            })?;
            let pos = Pos::from_marker(&marker);
            match event {
                Event::StreamEnd => break,
                Event::DocumentStart => {
                    documents += 1;
                    if documents == 2 {
                        index.second_document = Some(pos);
                    }
                }
                Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
                _ if documents > 1 => {}
                Event::Scalar(text, ..) => index.node(&mut stack, Some(text), pos, None),
                Event::Alias(_) => index.node(&mut stack, None, pos, None),
                Event::MappingStart(..) => {
                    let frame = |path| Frame::Map {
                        path,
                        key: None,
                        first: true,
                    };
                    index.node(&mut stack, None, pos, Some(frame));
                }
                Event::SequenceStart(..) => {
                    let frame = |path| Frame::Seq { path, next: 0 };
                    index.node(&mut stack, None, pos, Some(frame));
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    match stack.last_mut() {
                        Some(Frame::SkipKey { depth, pos }) => {
                            *depth -= 1;
                            if *depth == 0 {
                                let key_pos = *pos;
                                stack.pop();
                                // The complex key is done; its value follows.
                                if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                                    *key = Some(("?".to_string(), key_pos));
                                }
                            }
                        }
                        _ => {
                            stack.pop();
                        }
                    }
                }
            }
        }
        Ok(index)
    }

    /// Handles the start of a node: a scalar (`text`), an alias, or a
    /// collection (`open` builds its frame from the node's path).
    fn node(
        &mut self,
        stack: &mut Vec<Frame>,
        text: Option<String>,
        pos: Pos,
        open: Option<fn(String) -> Frame>,
    ) {
        let (path, key_pos) = match stack.last_mut() {
            None => (String::new(), None),
            Some(Frame::SkipKey { depth, .. }) => {
                if open.is_some() {
                    *depth += 1;
                }
                return;
            }
            Some(Frame::Seq { path, next }) => {
                let p = item(path, *next);
                *next += 1;
                (p, None)
            }
            Some(Frame::Map { path, key, first }) => match key.take() {
                None => {
                    // This node is a key.
                    if *first {
                        *first = false;
                        if let Some(n) = self.nodes.get_mut(path.as_str())
                            && pos.index < n.value.index
                        {
                            n.value = pos;
                        }
                    }
                    match (text, open) {
                        (Some(t), None) => *key = Some((t, pos)),
                        (None, None) => *key = Some(("*".to_string(), pos)),
                        (_, Some(_)) => stack.push(Frame::SkipKey { depth: 1, pos }),
                    }
                    return;
                }
                Some((k, kpos)) => (child(path, &k), Some(kpos)),
            },
        };
        // Later duplicates (which serde rejects anyway) keep the first entry.
        self.nodes.entry(path.clone()).or_insert(Node {
            value: pos,
            key: key_pos,
        });
        if let Some(open) = open {
            stack.push(open(path));
        }
    }

    /// Makes `path` and everything under it stand for `stands_for`.
    pub fn alias(&mut self, path: String, stands_for: String) {
        self.aliases.insert(path, stands_for);
    }

    /// `path` with its nearest aliased ancestor replaced.
    fn resolve<'p>(&self, path: &'p str) -> std::borrow::Cow<'p, str> {
        if !self.aliases.is_empty() {
            let mut p = Some(path);
            while let Some(cur) = p {
                if let Some(target) = self.aliases.get(cur) {
                    let rest = path.get(cur.len()..).unwrap_or_default();
                    return format!("{target}{rest}").into();
                }
                p = parent_of(cur);
            }
        }
        path.into()
    }

    fn lookup(&self, path: &str) -> Option<&Node> {
        let path = self.resolve(path);
        let mut p = Some(path.as_ref());
        while let Some(cur) = p {
            if let Some(n) = self.nodes.get(cur) {
                return Some(n);
            }
            p = parent_of(cur);
        }
        None
    }

    /// Where the value at `path` starts (or its nearest known ancestor).
    pub fn value(&self, path: &str) -> Pos {
        self.lookup(path).map_or(Pos::START, |n| n.value)
    }

    /// Where the key of the map entry at `path` is; the value's position
    /// for sequence items and the root.
    pub fn key(&self, path: &str) -> Pos {
        self.lookup(path)
            .map_or(Pos::START, |n| n.key.unwrap_or(n.value))
    }

    /// Whether the file has an entry at exactly this path.
    #[cfg(test)]
    pub fn has(&self, path: &str) -> bool {
        self.nodes.contains_key(path)
    }
}

/// Scenario errors located through a [`PosIndex`]: the validator and the
/// client-group pass both point their errors at the file's text this way.
pub(super) trait Locator {
    fn index(&self) -> &PosIndex;
    fn file(&self) -> &std::path::Path;

    /// A scenario error at `pos` of this file.
    fn error(&self, pos: Pos, message: impl Into<String>) -> crate::error::Error {
        crate::error::Error::new(crate::error::ErrorKind::Scenario, message).at(
            crate::error::Location {
                file: self.file().to_path_buf(),
                line: pos.line,
                column: pos.column,
            },
        )
    }

    /// An error at the value found at `path`.
    fn at_value(&self, path: &str, message: impl Into<String>) -> crate::error::Error {
        self.error(self.index().value(path), message)
    }

    /// An error at the key of the entry at `path`.
    fn at_key(&self, path: &str, message: impl Into<String>) -> crate::error::Error {
        self.error(self.index().key(path), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_values_and_items() {
        let src = "a:\n  - connect: {}\n    at: 1s\n  - drop: x\nb: [1, {c: 2}]\n";
        let idx = PosIndex::build(src).unwrap();
        assert_eq!((idx.value("a").line, idx.value("a").column), (2, 3));
        assert_eq!((idx.key("a").line, idx.key("a").column), (1, 1));
        assert_eq!((idx.value("a[0]").line, idx.value("a[0]").column), (2, 5));
        assert_eq!(
            (idx.value("a[0].at").line, idx.value("a[0].at").column),
            (3, 9)
        );
        assert_eq!((idx.key("a[0].at").line, idx.key("a[0].at").column), (3, 5));
        assert_eq!(idx.value("a[1]").line, 4);
        assert_eq!(
            (idx.value("b[1].c").line, idx.value("b[1].c").column),
            (5, 12)
        );
        // Unknown paths fall back to the nearest ancestor.
        assert_eq!(idx.value("b[1].zzz"), idx.value("b[1]"));
        assert_eq!(idx.value("nope"), idx.value(""));
    }

    #[test]
    fn complex_keys_and_second_documents() {
        let src = "? [x, y]\n: 1\nk: 2\n---\nz: 3\n";
        let idx = PosIndex::build(src).unwrap();
        assert_eq!(idx.value("k").line, 3);
        assert!(!idx.has("z"));
        assert_eq!(idx.second_document.map(|p| p.line), Some(4));
    }
}
