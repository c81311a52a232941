//! The routing index: every session's subscriptions in one topic trie,
//! keyed by filter levels, so that routing a PUBLISH visits the filters
//! that can match its topic instead of every session's every filter.
//!
//! A lookup walks the topic's levels once, following at each node the
//! child named like the level, the `+` child and the `#` child: its cost
//! follows the topic's depth and the number of matching filters, not the
//! number of sessions or filters stored. A filter starting with a wildcard
//! does not match a topic starting with `$` [MQTT-4.7.2-1], exactly as
//! [`topic::matches`](crate::topic::matches), which a test checks against.
//!
//! Shared subscriptions are indexed under their inner filter, by group:
//! `$share/g/a/+` is in the node `a/+`, group `g`. Nodes left empty when a
//! subscription goes are removed, so the index gives memory back when
//! sessions end. Everything is ordered (`BTreeMap`, `BTreeSet`): what a
//! lookup returns is deterministic.

use std::collections::{BTreeMap, BTreeSet};

/// Why `$share/...` is not a valid shared subscription filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareError {
    /// No ShareName, or one with `+` or `#` [MQTT-4.8.2-1], [MQTT-4.8.2-2].
    ShareName,
    /// Nothing, or no valid topic filter, after the ShareName's `/`
    /// [MQTT-4.8.2-2].
    Filter,
}

impl std::fmt::Display for ShareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ShareError::ShareName => "shared subscription without a valid ShareName",
            ShareError::Filter => "shared subscription without a valid topic filter",
        })
    }
}

/// The prefix of a shared subscription's filter (5.0 section 4.8.2).
pub const SHARE_PREFIX: &str = "$share/";

/// Splits `$share/<group>/<filter>` into its ShareName and topic filter;
/// `None` for a filter that is not a shared subscription. The ShareName is
/// at least one character without `/`, `+` or `#`, followed by `/` and a
/// valid topic filter [MQTT-4.8.2-1], [MQTT-4.8.2-2]. `$share` alone, or
/// without its `/`, is an ordinary filter.
pub fn shared_filter(filter: &str) -> Option<Result<(&str, &str), ShareError>> {
    let rest = filter.strip_prefix(SHARE_PREFIX)?;
    let Some((group, inner)) = rest.split_once('/') else {
        return Some(Err(ShareError::ShareName));
    };
    if group.is_empty() || group.contains(['+', '#']) {
        return Some(Err(ShareError::ShareName));
    }
    if crate::topic::validate_filter(inner).is_err() {
        return Some(Err(ShareError::Filter));
    }
    Some(Ok((group, inner)))
}

#[derive(Debug, Default)]
struct Node {
    /// The next level of the filters through this node: a name, `+` or `#`.
    children: BTreeMap<String, Node>,
    /// Client ids with an ordinary subscription to the filter ending here.
    plain: BTreeSet<String>,
    /// Shared subscriptions to the filter ending here: group -> members.
    shared: BTreeMap<String, BTreeSet<String>>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.plain.is_empty() && self.shared.is_empty()
    }
}

/// Who subscribed to what, by filter level.
#[derive(Debug, Default)]
pub struct Index {
    root: Node,
}

/// What one node of a lookup holds: the filter it stands for and its
/// subscribers.
pub struct Hit<'a> {
    /// The filter, without any `$share/<group>/` prefix.
    pub filter: String,
    pub plain: &'a BTreeSet<String>,
    pub shared: &'a BTreeMap<String, BTreeSet<String>>,
}

impl Index {
    /// Records that `client_id` subscribed to `filter` (the inner filter of
    /// a shared subscription, with its `group`).
    pub fn insert(&mut self, filter: &str, group: Option<&str>, client_id: &str) {
        let mut node = &mut self.root;
        for level in filter.split('/') {
            node = node.children.entry(level.to_string()).or_default();
        }
        match group {
            None => node.plain.insert(client_id.to_string()),
            Some(g) => node
                .shared
                .entry(g.to_string())
                .or_default()
                .insert(client_id.to_string()),
        };
    }

    /// Forgets one subscription, and every node it leaves empty.
    pub fn remove(&mut self, filter: &str, group: Option<&str>, client_id: &str) {
        let levels: Vec<&str> = filter.split('/').collect();
        remove_in(&mut self.root, &levels, group, client_id);
    }

    /// The members of shared subscription `group` to `filter`, if any.
    pub fn members(&self, filter: &str, group: &str) -> Option<&BTreeSet<String>> {
        let mut node = &self.root;
        for level in filter.split('/') {
            node = node.children.get(level)?;
        }
        node.shared.get(group)
    }

    /// True when no subscription is indexed and no node is left over.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// Whether `client_id` is recorded as subscribed to `filter` (the inner
    /// filter of a shared subscription, with its `group`). For the store's
    /// consistency assertions.
    pub fn contains(&self, filter: &str, group: Option<&str>, client_id: &str) -> bool {
        let mut node = &self.root;
        for level in filter.split('/') {
            let Some(child) = node.children.get(level) else {
                return false;
            };
            node = child;
        }
        match group {
            None => node.plain.contains(client_id),
            Some(g) => node.shared.get(g).is_some_and(|m| m.contains(client_id)),
        }
    }

    /// The subscriptions recorded, one per filter, group and client id.
    pub fn len(&self) -> usize {
        count_in(&self.root)
    }

    /// Whether every node below the root leads to a subscription: `remove`
    /// gives back the nodes a subscription leaves empty.
    pub fn is_pruned(&self) -> bool {
        self.root.children.values().all(pruned)
    }

    /// The nodes whose filter matches `topic`, in a fixed order (by walk,
    /// which callers sort as they need). `dollar_rule: false` lets a
    /// leading wildcard match a `$` topic: the `HashMatchesSys` mutant.
    pub fn lookup(&self, topic: &str, dollar_rule: bool) -> Vec<Hit<'_>> {
        let levels: Vec<&str> = topic.split('/').collect();
        let shield = dollar_rule && topic.starts_with('$');
        let mut out = Vec::new();
        let mut path = Vec::new();
        walk(&self.root, &levels, shield, &mut path, &mut out);
        out
    }
}

fn count_in(node: &Node) -> usize {
    node.plain.len()
        + node.shared.values().map(BTreeSet::len).sum::<usize>()
        + node.children.values().map(count_in).sum::<usize>()
}

fn pruned(node: &Node) -> bool {
    let groups_hold_members = node.shared.values().all(|m| !m.is_empty());
    !node.is_empty() && groups_hold_members && node.children.values().all(pruned)
}

fn remove_in(node: &mut Node, levels: &[&str], group: Option<&str>, client_id: &str) {
    let Some((level, rest)) = levels.split_first() else {
        match group {
            None => {
                node.plain.remove(client_id);
            }
            Some(g) => {
                if let Some(members) = node.shared.get_mut(g) {
                    members.remove(client_id);
                    if members.is_empty() {
                        node.shared.remove(g);
                    }
                }
            }
        }
        return;
    };
    if let Some(child) = node.children.get_mut(*level) {
        remove_in(child, rest, group, client_id);
        if child.is_empty() {
            node.children.remove(*level);
        }
    }
}

/// `shield` is set at the root for a `$` topic: no wildcard there.
fn walk<'a>(
    node: &'a Node,
    levels: &[&str],
    shield: bool,
    path: &mut Vec<&'a str>,
    out: &mut Vec<Hit<'a>>,
) {
    // `#` matches the rest, the parent level included [MQTT-4.7.1-2].
    if !shield && let Some((k, hash)) = node.children.get_key_value("#") {
        path.push(k);
        hit(hash, path, out);
        path.pop();
    }
    let Some((level, rest)) = levels.split_first() else {
        hit(node, path, out);
        return;
    };
    if let Some((k, child)) = node.children.get_key_value(*level) {
        path.push(k);
        walk(child, rest, false, path, out);
        path.pop();
    }
    if !shield && let Some((k, plus)) = node.children.get_key_value("+") {
        path.push(k);
        walk(plus, rest, false, path, out);
        path.pop();
    }
}

fn hit<'a>(node: &'a Node, path: &[&str], out: &mut Vec<Hit<'a>>) {
    if node.plain.is_empty() && node.shared.is_empty() {
        return;
    }
    out.push(Hit {
        filter: path.join("/"),
        plain: &node.plain,
        shared: &node.shared,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic;

    const FILTERS: &[&str] = &[
        "#", "+", "+/+", "+/#", "a", "a/#", "a/+", "a/b", "a/b/c", "a/+/c", "/+", "/", "+/b/#",
        "$SYS/#", "$SYS/+", "$share", "a//b", "a/b/#",
    ];
    const TOPICS: &[&str] = &[
        "a", "a/b", "a/b/c", "a/x/c", "/", "/a", "b", "$SYS/x", "$SYS", "a//b", "x/b/y", "a/",
    ];

    fn matched(index: &Index, topic: &str) -> BTreeSet<String> {
        index
            .lookup(topic, true)
            .into_iter()
            .map(|h| h.filter)
            .collect()
    }

    #[test]
    fn the_index_matches_exactly_what_topic_matches_does() {
        let mut index = Index::default();
        for f in FILTERS {
            index.insert(f, None, "c");
        }
        for t in TOPICS {
            let want: BTreeSet<String> = FILTERS
                .iter()
                .filter(|f| topic::matches(f, t))
                .map(|f| f.to_string())
                .collect();
            assert_eq!(matched(&index, t), want, "topic {t}");
        }
    }

    #[test]
    fn share_names_follow_the_spec() {
        assert_eq!(shared_filter("a/b"), None);
        assert_eq!(shared_filter("$share"), None);
        assert_eq!(shared_filter("$share/g/a/#"), Some(Ok(("g", "a/#"))));
        assert_eq!(shared_filter("$share/g//"), Some(Ok(("g", "/"))));
        assert_eq!(shared_filter("$share/g"), Some(Err(ShareError::ShareName)));
        assert_eq!(shared_filter("$share//a"), Some(Err(ShareError::ShareName)));
        assert_eq!(
            shared_filter("$share/g+/a"),
            Some(Err(ShareError::ShareName))
        );
        assert_eq!(
            shared_filter("$share/#/a"),
            Some(Err(ShareError::ShareName))
        );
        assert_eq!(shared_filter("$share/g/"), Some(Err(ShareError::Filter)));
        assert_eq!(shared_filter("$share/g/a#"), Some(Err(ShareError::Filter)));
    }

    #[test]
    fn without_the_dollar_rule_leading_wildcards_match_dollar_topics() {
        let mut index = Index::default();
        index.insert("#", None, "c");
        index.insert("+/x", None, "c");
        assert!(index.lookup("$SYS/x", true).is_empty());
        assert_eq!(index.lookup("$SYS/x", false).len(), 2);
    }

    #[test]
    fn shared_members_are_kept_by_group() {
        let mut index = Index::default();
        index.insert("a/+", Some("g"), "c2");
        index.insert("a/+", Some("g"), "c1");
        index.insert("a/+", Some("h"), "c3");
        index.insert("a/+", None, "c4");
        let hits = index.lookup("a/b", true);
        let [h] = hits.as_slice() else {
            panic!("one node");
        };
        assert_eq!(h.filter, "a/+");
        assert_eq!(h.plain.iter().collect::<Vec<_>>(), ["c4"]);
        let groups: Vec<(&String, Vec<&String>)> = h
            .shared
            .iter()
            .map(|(g, m)| (g, m.iter().collect()))
            .collect();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].1, ["c1", "c2"]);
    }

    #[test]
    fn removing_every_subscription_gives_every_node_back() {
        let mut index = Index::default();
        for (i, f) in FILTERS.iter().enumerate() {
            let group = (i % 3 == 0).then_some("g");
            index.insert(f, group, "c1");
            index.insert(f, None, "c2");
        }
        assert_eq!(index.len(), 2 * FILTERS.len());
        assert!(index.is_pruned());
        assert!(index.contains("a/b", None, "c2"));
        assert!(index.contains("#", Some("g"), "c1"));
        assert!(!index.contains("#", None, "c1"));
        assert!(!index.contains("a/b/c/d", None, "c2"));
        for (i, f) in FILTERS.iter().enumerate() {
            let group = (i % 3 == 0).then_some("g");
            index.remove(f, group, "c1");
        }
        assert!(!index.is_empty());
        assert_eq!(index.len(), FILTERS.len());
        assert!(index.is_pruned());
        for f in FILTERS {
            index.remove(f, None, "c2");
        }
        assert!(index.is_empty(), "{index:?}");
        // Removing what is not there changes nothing and does not panic.
        index.remove("a/b", Some("g"), "nobody");
        assert!(index.is_empty());
    }
}
