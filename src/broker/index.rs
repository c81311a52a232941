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

/// Dropping a trie would recurse once per level: the children are moved
/// onto a heap stack first, so that each node drops with no children left.
impl Drop for Node {
    fn drop(&mut self) {
        let mut stack: Vec<Node> = std::mem::take(&mut self.children).into_values().collect();
        while let Some(mut node) = stack.pop() {
            stack.extend(std::mem::take(&mut node.children).into_values());
        }
    }
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
        pruned(&self.root)
    }

    /// The nodes whose filter matches `topic`, in a fixed order (by walk,
    /// which callers sort as they need). `dollar_rule: false` lets a
    /// leading wildcard match a `$` topic: the `HashMatchesSys` mutant.
    pub fn lookup(&self, topic: &str, dollar_rule: bool) -> Vec<Hit<'_>> {
        let levels: Vec<&str> = topic.split('/').collect();
        let shield = dollar_rule && topic.starts_with('$');
        let mut out = Vec::new();
        walk(&self.root, &levels, shield, &mut out);
        out
    }
}

/// Every node below `root`, root included, without recursion.
fn nodes(root: &Node) -> impl Iterator<Item = &Node> {
    let mut stack = vec![root];
    std::iter::from_fn(move || {
        let node = stack.pop()?;
        stack.extend(node.children.values());
        Some(node)
    })
}

fn count_in(root: &Node) -> usize {
    nodes(root)
        .map(|n| n.plain.len() + n.shared.values().map(BTreeSet::len).sum::<usize>())
        .sum()
}

/// Whether every node below `root` holds a subscription or leads to one,
/// and no group is left without members.
fn pruned(root: &Node) -> bool {
    nodes(root).skip(1).all(|n| {
        let groups_hold_members = n.shared.values().all(|m| !m.is_empty());
        let leads_on = !n.children.is_empty() || !n.plain.is_empty() || !n.shared.is_empty();
        leads_on && groups_hold_members
    })
}

/// Removes one subscription from the node at the end of `levels`, then
/// the nodes it leaves empty. Iterative: a filter's depth must not become
/// the depth of the call stack. The nodes that go are a tail of the path:
/// the end node, if now empty, and above it every node that held nothing
/// but the one child on the path; the first pass finds where that tail
/// starts, the second cuts it off there.
fn remove_in(root: &mut Node, levels: &[&str], group: Option<&str>, client_id: &str) {
    // The deepest node on the path that stays whatever happens below it:
    // the root, or one holding a subscription or another child.
    let mut keep = 0;
    let mut node = &mut *root;
    for (depth, level) in levels.iter().enumerate() {
        let holds = !node.plain.is_empty() || !node.shared.is_empty();
        if holds || node.children.len() > 1 {
            keep = depth;
        }
        let Some(child) = node.children.get_mut(*level) else {
            return;
        };
        node = child;
    }
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
    if !node.is_empty() {
        return;
    }
    let mut parent = &mut *root;
    for level in levels.iter().take(keep) {
        match parent.children.get_mut(*level) {
            Some(child) => parent = child,
            None => return,
        }
    }
    if let Some(level) = levels.get(keep) {
        parent.children.remove(*level);
    }
}

/// The nodes of a lookup, found with an explicit stack instead of
/// recursion, so that a deep topic cannot overflow the call stack. Each
/// entry is a node, the index of the next topic level to match, and the
/// filter levels that led there. `shield` is set for a `$` topic: no
/// wildcard at the root [MQTT-4.7.2-1]. The order of the hits is that of
/// the recursive walk this replaced (exact child before `+`), which
/// callers sort anyway.
fn walk<'a>(root: &'a Node, levels: &[&str], shield: bool, out: &mut Vec<Hit<'a>>) {
    let mut stack: Vec<(&'a Node, usize, Vec<&'a str>)> = vec![(root, 0, Vec::new())];
    while let Some((node, depth, path)) = stack.pop() {
        let at_root = depth == 0 && shield;
        // `#` matches the rest, the parent level included [MQTT-4.7.1-2].
        if !at_root && let Some((k, hash)) = node.children.get_key_value("#") {
            let mut p = path.clone();
            p.push(k);
            hit(hash, &p, out);
        }
        let Some(level) = levels.get(depth) else {
            hit(node, &path, out);
            continue;
        };
        // Pushed in reverse so that the exact child is visited first.
        if !at_root && let Some((k, plus)) = node.children.get_key_value("+") {
            let mut p = path.clone();
            p.push(k);
            stack.push((plus, depth + 1, p));
        }
        if let Some((k, child)) = node.children.get_key_value(*level) {
            let mut p = path;
            p.push(k);
            stack.push((child, depth + 1, p));
        }
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

    /// The walk, the removal and the drop used to recurse once per level:
    /// a 100,000-level filter overflowed the stack (SIGABRT under `serve`
    /// at ~29,000). The broker now refuses such topics, and the index
    /// survives them anyway.
    #[test]
    fn a_very_deep_filter_neither_overflows_the_stack_nor_leaks_nodes() {
        let deep = format!("u{}", "/".repeat(100_000));
        let mut index = Index::default();
        index.insert(&deep, None, "c");
        index.insert("u/#", None, "d");
        assert_eq!(index.len(), 2);
        assert!(index.is_pruned());
        let hits = index.lookup(&deep, true);
        let mut found: Vec<&str> = hits.iter().map(|h| h.filter.as_str()).collect();
        found.sort();
        assert!(found == ["u/#", deep.as_str()], "{} hits", found.len());
        index.remove(&deep, None, "c");
        assert_eq!(index.len(), 1);
        assert!(index.is_pruned());
        index.insert(&deep, None, "c");
        // Dropped with the deep branch still in it.
        drop(index);
    }

    #[test]
    fn removing_keeps_the_nodes_others_still_need() {
        let mut index = Index::default();
        index.insert("a/b/c/d", None, "c1");
        index.insert("a/b", None, "c2");
        index.insert("a/x/y", None, "c3");
        index.remove("a/b/c/d", None, "c1");
        assert!(index.is_pruned());
        assert!(index.contains("a/b", None, "c2"));
        assert!(index.contains("a/x/y", None, "c3"));
        assert_eq!(index.len(), 2);
        index.remove("a/b", None, "c2");
        assert!(index.is_pruned());
        assert!(index.contains("a/x/y", None, "c3"));
        index.remove("a/x/y", None, "c3");
        assert!(index.is_empty());
    }
}
