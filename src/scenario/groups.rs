//! Client groups: a client entry with `count: N` stands for N clients.
//!
//! This pass runs between serde (the typed raw file) and `validate`. It
//! turns each group into its members, `{i}` replaced by 0..N-1 in the name
//! and in every string of the entry, and each expectation on a group's
//! pattern (`client: sensor-{i}`) into one expectation per member. The
//! members' paths are aliased to the group's paths in the position index,
//! so a later error about `sensor-7` points at the group's text.
//!
//! A member is read from the group's YAML with `{i}` replaced, by the same
//! typed reader as any client, so every string of the entry takes `{i}`
//! without this module listing the format's fields. Each member is a host
//! of its own, with its own random stream, so a range such as
//! `at: 0s..1s` is drawn by each member for itself.
//!
//! Everything `{i}` can get wrong is refused here with a located error:
//! `count: 0`, a group over the host limit, a group name without `{i}`,
//! `{i}` outside a group, an unknown placeholder such as `{j}`, and names
//! that collide after expansion.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml::Value;

use super::locate::{Locator, PosIndex, child, item};
use super::raw::{RawClient, RawClientList, RawExpect, RawScenario};
use super::validate::MAX_EXPANDED;
use super::values::{KeyRule, OrderedMap, check_host_name};
use crate::error::Error;

/// The placeholder a group replaces with each member's index.
pub const PLACEHOLDER: &str = "{i}";

/// The word inside [`PLACEHOLDER`].
const INDEX_WORD: &str = "i";

/// Keys of the `clients` map: host names, or group names holding
/// placeholders (checked with each placeholder read as a digit; whether a
/// placeholder is known and belongs to a group is this pass's business).
#[derive(Debug, Clone)]
pub struct ClientKeys;

impl KeyRule for ClientKeys {
    const WHAT: &'static str = "host";
    fn check(key: &str) -> Result<(), String> {
        if placeholders(key).is_empty() {
            return check_host_name(key);
        }
        let mut probe = key.to_string();
        for word in placeholders(key) {
            probe = probe.replace(&format!("{{{word}}}"), "0");
        }
        check_host_name(&probe).map_err(|_| {
            format!(
                "invalid client group name `{key}`: use lowercase letters, digits, `-`, `_` and `{PLACEHOLDER}`"
            )
        })
    }
}

/// The words of the `{word}` placeholders in `text`, in order: `{` and `}`
/// around ASCII letters, digits and `_`. Other braces (JSON payloads, `{}`)
/// are plain text.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let word_len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if word_len > 0 && after.as_bytes().get(word_len) == Some(&b'}') {
            out.push(&after[..word_len]);
            rest = &after[word_len + 1..];
        } else {
            rest = after;
        }
    }
    out
}

/// `text` with every [`PLACEHOLDER`] replaced by `index`.
pub fn with_index(text: &str, index: u64) -> String {
    text.replace(PLACEHOLDER, &index.to_string())
}

/// Whether `text` holds the [`PLACEHOLDER`].
fn has_index(text: &str) -> bool {
    placeholders(text).contains(&INDEX_WORD)
}

struct Pass<'a> {
    idx: &'a PosIndex,
    file: &'a Path,
    /// (member path, group path) pairs, added to the index once the pass
    /// is done: the pass itself only looks up the file's own paths.
    aliases: RefCell<Vec<(String, String)>>,
}

impl Locator for Pass<'_> {
    fn index(&self) -> &PosIndex {
        self.idx
    }

    fn file(&self) -> &Path {
        self.file
    }
}

impl Pass<'_> {
    /// Refuses any placeholder in `value` (at `path`): it is not inside a
    /// group. `why` ends the message with what to do instead.
    fn no_placeholders(&self, path: &str, value: &Value, why: &str) -> Result<(), Error> {
        match find_string(path, value, &|s| !placeholders(s).is_empty()) {
            Some((p, s)) => {
                let word = placeholders(&s).first().copied().unwrap_or(INDEX_WORD);
                Err(self.at_value(
                    &p,
                    format!("`{{{word}}}` is replaced only inside a client group (an entry with `count`); {why}"),
                ))
            }
            None => Ok(()),
        }
    }

    /// Refuses placeholders other than [`PLACEHOLDER`] in a group's `value`.
    fn known_placeholders_only(&self, path: &str, value: &Value) -> Result<(), Error> {
        let unknown = |s: &str| placeholders(s).iter().any(|w| *w != INDEX_WORD);
        if let Some((p, s)) = find_string(path, value, &unknown) {
            let word = placeholders(&s)
                .into_iter()
                .find(|w| *w != INDEX_WORD)
                .unwrap_or_default();
            return Err(self.at_value(
                &p,
                format!("unknown placeholder `{{{word}}}`: a client group replaces only `{PLACEHOLDER}`, the member's index"),
            ));
        }
        Ok(())
    }
}

/// The first string in `value` (map keys included) for which `hit` holds,
/// with its path in the position index's notation.
fn find_string(path: &str, value: &Value, hit: &dyn Fn(&str) -> bool) -> Option<(String, String)> {
    match value {
        Value::String(s) if hit(s) => Some((path.to_string(), s.clone())),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_string(&item(path, i), v, hit)),
        Value::Mapping(map) => map.iter().find_map(|(k, v)| {
            let key = key_text(k);
            let p = child(path, &key);
            if hit(&key) {
                return Some((p, key));
            }
            find_string(&p, v, hit)
        }),
        Value::Tagged(t) => find_string(path, &t.value, hit),
        _ => None,
    }
}

fn key_text(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

/// `value` with [`PLACEHOLDER`] replaced by `index` in every string, map
/// keys included.
fn substitute(value: &Value, index: u64) -> Value {
    match value {
        Value::String(s) if has_index(s) => Value::String(with_index(s, index)),
        Value::Sequence(items) => {
            Value::Sequence(items.iter().map(|v| substitute(v, index)).collect())
        }
        Value::Mapping(map) => Value::Mapping(
            map.iter()
                .map(|(k, v)| (substitute(k, index), substitute(v, index)))
                .collect(),
        ),
        Value::Tagged(t) => {
            let mut t = t.clone();
            t.value = substitute(&t.value, index);
            Value::Tagged(t)
        }
        other => other.clone(),
    }
}

/// Reads one member from its YAML. The value goes back through text, so
/// the member is read exactly as a hand-written entry would be (a plain
/// `5.0` or `42` reaches a string field as its text).
fn read_member<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, String> {
    let text = serde_yaml::to_string(value).map_err(|e| e.to_string())?;
    serde_yaml::from_str(&text).map_err(|e| {
        let message = e.to_string();
        // Positions inside the re-written text mean nothing to the author.
        match message.find(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        }
    })
}

fn get<'v>(map: &'v Value, key: &str) -> Option<&'v Value> {
    map.as_mapping().and_then(|m| m.get(key))
}

/// Expands the client groups of `raw` and the expectations on them. `idx`
/// gains aliases from each member's paths to its group's. `max_hosts` is
/// the host limit a group counts against.
pub fn expand(
    mut raw: RawScenario,
    idx: &mut PosIndex,
    source: &str,
    file: &Path,
    max_hosts: usize,
) -> Result<RawScenario, Error> {
    // serde_yaml has read the text as a scenario already, so it reads as a
    // plain value too; if it somehow does not, there is nothing to expand.
    let Ok(doc) = serde_yaml::from_str::<Value>(source) else {
        return Ok(raw);
    };
    let pass = Pass {
        idx: &*idx,
        file,
        aliases: RefCell::default(),
    };
    let elsewhere = "name one member (e.g. `sensor-7`) or write `clients` for every client";
    for section in ["brokers", "network", "chaos"] {
        if let Some(v) = get(&doc, section) {
            pass.no_placeholders(section, v, elsewhere)?;
        }
    }

    let broker_names: Vec<String> = raw
        .brokers
        .as_ref()
        .map(|b| b.entries.keys().cloned().collect())
        .unwrap_or_default();
    let Some(clients) = raw.clients.take() else {
        return Ok(raw);
    };
    // The host count first, so that a huge `count` is refused before
    // anything is built.
    count_hosts(&pass, &clients, broker_names.len(), max_hosts)?;
    let (clients, groups) = expand_clients(&pass, &doc, clients, &broker_names)?;
    raw.clients = Some(clients);

    if let (Some(expect), Some(values)) = (raw.expect.take(), get(&doc, "expect")) {
        let limit = usize::MAX;
        let expanded = expand_items(
            &pass,
            "expect",
            group_lists(&pass, expect, &groups)?,
            values,
            &groups,
            expectation_pattern,
            limit,
        )?;
        raw.expect = Some(expanded);
    }
    if let (Some(faults), Some(values)) = (raw.faults.take(), get(&doc, "faults")) {
        let expanded = expand_items(
            &pass,
            "faults",
            faults,
            values,
            &groups,
            fault_pattern,
            MAX_EXPANDED,
        )?;
        raw.faults = Some(expanded);
    }
    for (member, group) in pass.aliases.into_inner() {
        idx.alias(member, group);
    }
    Ok(raw)
}

/// The `clients` map as serde reads it, and as this pass leaves it.
type RawClients = OrderedMap<Option<RawClient>, ClientKeys>;

/// Refuses the first group that brings the brokers and clients over
/// `max_hosts`.
fn count_hosts(
    pass: &Pass,
    clients: &RawClients,
    brokers: usize,
    max_hosts: usize,
) -> Result<(), Error> {
    let mut hosts = brokers as u64;
    for (name, c) in &clients.entries {
        let n = c.as_ref().and_then(|c| c.count).unwrap_or(1);
        hosts = hosts.saturating_add(n);
        if c.as_ref().is_some_and(|c| c.count.is_some()) && hosts > max_hosts as u64 {
            return Err(pass.at_value(
                &child(&child("clients", name), "count"),
                format!("too many hosts: this group brings the brokers and clients to {hosts}, and at most {max_hosts} are allowed"),
            ));
        }
    }
    Ok(())
}

/// The `clients` entries with each group replaced by its members, and the
/// groups with their sizes.
fn expand_clients(
    pass: &Pass,
    doc: &Value,
    clients: RawClients,
    broker_names: &[String],
) -> Result<(RawClients, Vec<(String, u64)>), Error> {
    let client_values = get(doc, "clients");
    let client_value = |name: &str| client_values.and_then(|c| get(c, name));
    // Every host name so far, with the entry that made it.
    let mut taken: BTreeMap<String, String> = broker_names
        .iter()
        .map(|b| (b.clone(), format!("broker `{b}`")))
        .collect();
    let mut groups: Vec<(String, u64)> = Vec::new();
    let mut out = RawClients::default();
    for (name, c) in clients.entries {
        let path = child("clients", &name);
        let value = client_value(&name).cloned().unwrap_or(Value::Null);
        let count = c.as_ref().and_then(|c| c.count);
        let Some(count) = count else {
            single_client(pass, &mut taken, &path, &name, &value)?;
            out.entries.insert(name, c);
            continue;
        };
        for (member, spec) in group_members(pass, &mut taken, &path, &name, value, count)? {
            out.entries.insert(member, Some(spec));
        }
        groups.push((name, count));
    }
    Ok((out, groups))
}

/// Checks a client entry without `count` (at `path`, written as `value`):
/// no placeholder in its name or anywhere in it, and a name that no group
/// member has taken.
fn single_client(
    pass: &Pass,
    taken: &mut BTreeMap<String, String>,
    path: &str,
    name: &str,
    value: &Value,
) -> Result<(), Error> {
    if !placeholders(name).is_empty() {
        return Err(pass.at_key(
            path,
            format!("`{name}` holds a placeholder but no `count`: a client group needs `count: N`, and a single client's name has no `{{...}}`"),
        ));
    }
    pass.no_placeholders(
        path,
        value,
        "give this client `count` and `{i}` in its name to make it a group",
    )?;
    // A client named like a broker is `validate`'s to report; one
    // named like an earlier group's member is this pass's.
    if taken.get(name).is_some_and(|t| t.starts_with("member")) {
        claim(pass, taken, path, name, format!("client `{name}`"))?;
    }
    taken.insert(name.to_string(), format!("client `{name}`"));
    Ok(())
}

/// The `count` members of group `name` (at `path`, written as `value`),
/// each read from the group's YAML with `{i}` replaced by its index, and
/// each path aliased to the group's.
fn group_members(
    pass: &Pass,
    taken: &mut BTreeMap<String, String>,
    path: &str,
    name: &str,
    value: Value,
    count: u64,
) -> Result<Vec<(String, RawClient)>, Error> {
    if count == 0 {
        return Err(pass.at_value(
            &child(path, "count"),
            "`count` must be at least 1: the number of clients this entry stands for",
        ));
    }
    if let Some(word) = placeholders(name).into_iter().find(|w| *w != INDEX_WORD) {
        return Err(pass.at_key(
            path,
            format!("unknown placeholder `{{{word}}}` in `{name}`: a client group replaces only `{PLACEHOLDER}`, the member's index"),
        ));
    }
    if !has_index(name) {
        return Err(pass.at_key(
            path,
            format!("client group `{name}` has `count` but no `{PLACEHOLDER}` in its name, so its members would share one name; write e.g. `{name}-{PLACEHOLDER}`"),
        ));
    }
    if let Err(why) = check_host_name(&with_index(name, count - 1)) {
        return Err(pass.at_key(path, format!("group `{name}`'s last member: {why}")));
    }
    pass.known_placeholders_only(path, &value)?;
    let mut template = value;
    if let Some(map) = template.as_mapping_mut() {
        map.remove("count");
    }
    let mut members = Vec::new();
    for i in 0..count {
        let member = with_index(name, i);
        claim(
            pass,
            taken,
            path,
            &member,
            format!("member `{member}` of group `{name}`"),
        )?;
        let spec: RawClient = read_member(&substitute(&template, i)).map_err(|why| {
            pass.at_key(path, format!("member `{member}` of group `{name}`: {why}"))
        })?;
        pass.idx_alias(&child("clients", &member), path);
        members.push((member, spec));
    }
    Ok(members)
}

impl Pass<'_> {
    /// Makes the position index answer for `member`'s paths with
    /// `group`'s.
    fn idx_alias(&self, member: &str, group: &str) {
        self.aliases
            .borrow_mut()
            .push((member.to_string(), group.to_string()));
    }
}

/// Records `name` as taken by `what`, or refuses it when an earlier entry
/// already made a host of that name.
fn claim(
    pass: &Pass,
    taken: &mut BTreeMap<String, String>,
    path: &str,
    name: &str,
    what: String,
) -> Result<(), Error> {
    if let Some(first) = taken.get(name) {
        return Err(pass.at_key(
            path,
            format!("duplicate host `{name}`: {what} has the same name as {first}; host names are unique across brokers, clients and group members"),
        ));
    }
    taken.insert(name.to_string(), what);
    Ok(())
}

/// Which group an item (an expectation or a fault) of `section` repeats
/// for, found by `pattern_of`; `None` when it holds no placeholder.
type PatternOf = fn(&Value) -> Option<(String, String)>;

/// Repeats each item of `section` that names a client group by its
/// pattern once per member, `{i}` replaced; other items stay as they are.
/// `limit` bounds the items after expansion.
fn expand_items<T: serde::de::DeserializeOwned>(
    pass: &Pass,
    section: &str,
    items: Vec<T>,
    values: &Value,
    groups: &[(String, u64)],
    pattern_of: PatternOf,
    limit: usize,
) -> Result<Vec<T>, Error> {
    let values = values.as_sequence().cloned().unwrap_or_default();
    let mut out = Vec::with_capacity(items.len());
    for (k, (raw, value)) in items.into_iter().zip(values).enumerate() {
        let path = item(section, k);
        let Some((at, pattern)) = pattern_of(&value) else {
            pass.idx_alias(&item(section, out.len()), &path);
            out.push(raw);
            continue;
        };
        pass.known_placeholders_only(&path, &value)?;
        let Some((_, count)) = groups.iter().find(|(g, _)| *g == pattern) else {
            let known: Vec<&str> = groups.iter().map(|(g, _)| g.as_str()).collect();
            let known = if known.is_empty() {
                "this file has no client group".to_string()
            } else {
                format!("expected one of {}", known.join(", "))
            };
            return Err(pass.at_value(
                &child(&path, &at),
                format!("`{pattern}` is not a client group; `{{i}}` stands for a member's index only where a group is named, {known}"),
            ));
        };
        if out.len() as u64 + count > limit as u64 {
            return Err(pass.at_value(
                &path,
                format!(
                    "too many {section} entries: at most {limit} once client groups are expanded"
                ),
            ));
        }
        for i in 0..*count {
            let member: T = read_member(&substitute(&value, i))
                .map_err(|why| pass.at_value(&path, format!("for member {i}: {why}")))?;
            pass.idx_alias(&item(section, out.len()), &path);
            out.push(member);
        }
    }
    Ok(out)
}

/// Each `clients: w-{i}` (a group's name) becomes the list of the group's
/// members, counted together; a name with `{i}` that is no group's is an
/// error.
fn group_lists(
    pass: &Pass,
    mut expect: Vec<RawExpect>,
    groups: &[(String, u64)],
) -> Result<Vec<RawExpect>, Error> {
    for (k, e) in expect.iter_mut().enumerate() {
        let Some(RawClientList::Group(name)) = &e.clients else {
            continue;
        };
        if !has_index(name) {
            continue;
        }
        let Some((_, count)) = groups.iter().find(|(g, _)| g == name) else {
            let known: Vec<&str> = groups.iter().map(|(g, _)| g.as_str()).collect();
            return Err(pass.at_value(
                &child(&item("expect", k), "clients"),
                format!(
                    "`{name}` is not a client group, expected one of {}",
                    if known.is_empty() {
                        "none: this file has no client group".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        };
        let members = (0..*count).map(|i| with_index(name, i)).collect();
        e.clients = Some(RawClientList::Many(members));
    }
    Ok(expect)
}

/// An expectation repeats for the group its `client` names; `{i}`
/// elsewhere needs that.
fn expectation_pattern(value: &Value) -> Option<(String, String)> {
    // `clients: w-{i}` counts the members together: one expectation.
    if get(value, "clients").is_some() {
        return None;
    }
    find_string("", value, &|s| !placeholders(s).is_empty())?;
    let client = get(value, "client")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some(("client".to_string(), client.to_string()))
}

/// A fault repeats for the group it names: the first host in it that
/// holds a placeholder (`crash: sensor-{i}`, `partition: [sensor-{i}, broker]`).
fn fault_pattern(value: &Value) -> Option<(String, String)> {
    find_string("", value, &|s| !placeholders(s).is_empty())
}

/// Whether `name` matches `pattern`: `*` stands for any text and `{i}` for
/// a member's index (digits).
pub fn matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p {
            [] => n.is_empty(),
            [b'*', rest @ ..] => (0..=n.len()).any(|k| go(rest, &n[k..])),
            [b'{', b'i', b'}', rest @ ..] => {
                let digits = n.iter().take_while(|b| b.is_ascii_digit()).count();
                (1..=digits).any(|k| go(rest, &n[k..]))
            }
            [c, rest @ ..] => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Action, FaultAction, Scenario, parse};

    fn ok(src: &str) -> Scenario {
        parse(src, Path::new("t.yaml")).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The error's line, column and message.
    fn err(src: &str) -> (usize, usize, String) {
        let e = parse(src, Path::new("t.yaml")).expect_err("the file must be refused");
        let loc = e.location.clone().expect("a located error");
        (loc.line, loc.column, e.to_string())
    }

    const GROUP: &str = "\
duration: 5s
brokers: {broker: {}}
clients:
  monitor: {}
  sensor-{i}:
    count: 3
    client_id: fleet-{i}
    username: user-{i}
    will: {topic: \"will/{i}\", payload: \"gone {i}\", qos: 1}
    steps:
      - {at: 0s..1s, connect: {}}
      - subscribe: {filter: \"cmd/{i}\", qos: 1}
      - publish: {topic: \"up/{i}\", payload: \"hello from {i}\"}
faults:
  - {at: 2s, partition: [\"sensor-{i}\", broker]}
  - {at: 3s, crash: sensor-1}
expect:
  - client: sensor-{i}
    receives: {topic: \"cmd/{i}\"}
    count: 0
  - client: sensor-1
    connack: {code: 0}
";

    #[test]
    fn members_get_their_index_in_every_string() {
        let s = ok(GROUP);
        let names: Vec<&str> = s.clients.keys().map(String::as_str).collect();
        assert_eq!(names, ["monitor", "sensor-0", "sensor-1", "sensor-2"]);
        let c = &s.clients["sensor-2"];
        assert_eq!(c.options.client_id, "fleet-2");
        assert_eq!(c.options.username.as_deref(), Some("user-2"));
        let will = c.options.will.as_ref().expect("a will");
        assert_eq!(
            (will.topic.as_str(), &will.payload[..]),
            ("will/2", &b"gone 2"[..])
        );
        match &c.steps[1].action {
            Action::Subscribe { filters, .. } => assert_eq!(filters[0].filter, "cmd/2"),
            other => panic!("{other:?}"),
        }
        match &c.steps[2].action {
            Action::Publish { topic, payload, .. } => {
                assert_eq!(
                    (topic.as_str(), &payload[..]),
                    ("up/2", &b"hello from 2"[..])
                )
            }
            other => panic!("{other:?}"),
        }
        // Each member keeps the range, so each draws its own `at`; and
        // every member's steps carry the group's lines.
        assert!(c.steps[0].at.is_some_and(|a| a.min() != a.max()));
        assert_eq!(c.steps[0].line, 11);
        assert_eq!(s.clients["sensor-0"].steps[2].line, 13);
    }

    #[test]
    fn expectations_and_faults_on_a_group_repeat_per_member() {
        let s = ok(GROUP);
        let expect: Vec<(&str, usize)> = s
            .expect
            .iter()
            .map(|e| (e.client.as_str(), e.line))
            .collect();
        assert_eq!(
            expect,
            [
                ("sensor-0", 18),
                ("sensor-1", 18),
                ("sensor-2", 18),
                ("sensor-1", 21)
            ]
        );
        let faults: Vec<(String, usize)> = s
            .faults
            .iter()
            .map(|f| (format!("{:?}", f.action), f.line))
            .collect();
        assert_eq!(faults.len(), 4);
        assert!(matches!(&s.faults[1].action, FaultAction::Partition { a, .. } if a == "sensor-1"));
        assert_eq!(faults[3].1, 16, "{faults:?}");
        assert!(faults[..3].iter().all(|(_, line)| *line == 15));
    }

    #[test]
    fn errors_point_at_the_mistake() {
        let with =
            |client: &str| format!("duration: 5s\nbrokers: {{broker: {{}}}}\nclients:\n{client}");
        let (l, c, m) = err(&with("  s-{i}:\n    count: 0\n"));
        assert_eq!((l, c), (5, 12), "{m}");
        assert!(m.contains("at least 1"), "{m}");
        let (l, _, m) = err(&with("  s:\n    count: 2\n"));
        assert_eq!(l, 4);
        assert!(m.contains("no `{i}`"), "{m}");
        let (l, _, m) = err(&with("  s-{i}: {}\n"));
        assert_eq!(l, 4);
        assert!(m.contains("no `count`"), "{m}");
        let (l, c, m) = err(&with("  s:\n    client_id: id-{i}\n"));
        assert_eq!((l, c), (5, 16), "{m}");
        assert!(m.contains("only inside a client group"), "{m}");
        let (l, c, m) = err(&with("  s-{i}:\n    count: 2\n    client_id: id-{j}\n"));
        assert_eq!((l, c), (6, 16), "{m}");
        assert!(m.contains("unknown placeholder `{j}`"), "{m}");
        let (l, _, m) = err(&with("  s-{j}:\n    count: 2\n"));
        assert_eq!(l, 4);
        assert!(m.contains("unknown placeholder `{j}`"), "{m}");
        let (l, _, m) = err(&with("  s-1: {}\n  s-{i}:\n    count: 3\n"));
        assert_eq!(l, 5);
        assert!(m.contains("duplicate host `s-1`"), "{m}");
        let (l, _, m) = err(&with("  s-{i}:\n    count: 11\n  s-1{i}:\n    count: 1\n"));
        assert_eq!(l, 6);
        assert!(m.contains("duplicate host `s-10`"), "{m}");
        let (l, c, m) = err(&with("  s-{i}:\n    count: 20000\n"));
        assert_eq!((l, c), (5, 12), "{m}");
        assert!(m.contains("too many hosts"), "{m}");
        let src = with("  s-{i}:\n    count: 2\nexpect:\n  - client: t-{i}\n    closed: {}\n");
        let (l, c, m) = err(&src);
        assert_eq!((l, c), (7, 13), "{m}");
        assert!(m.contains("not a client group"), "{m}");
        let src = with("  s: {}\nfaults:\n  - {at: 1s, crash: \"s-{i}\"}\n");
        let (l, _, m) = err(&src);
        assert_eq!(l, 6);
        assert!(m.contains("this file has no client group"), "{m}");
        let src = "duration: 5s\nbrokers:\n  b-{i}: {}\nclients: {s: {}}\n";
        let (l, _, m) = err(src);
        // Brokers are never a group: their names are plain host names.
        assert_eq!(l, 3);
        assert!(m.contains("invalid host name `b-{i}`"), "{m}");
    }

    /// The scale scenarios are read and expanded within the host limit.
    #[test]
    fn the_large_scale_scenarios_expand() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/scale");
        let cases = [
            ("fleet-loses-broker.yaml", 1001, 1000 * 3 + 2, 1000),
            ("fan-out.yaml", 1001, 1000 * 2 + 1, 0),
            ("flapping-fleet.yaml", 200, 400, 0),
        ];
        for (file, clients, expect, faults) in cases {
            let path = dir.join(file);
            let source = std::fs::read_to_string(&path).expect("readable fixture");
            let raw: RawScenario = serde_yaml::from_str(&source).expect("valid YAML");
            let mut idx = PosIndex::build(&source).expect("indexable");
            let raw =
                expand(raw, &mut idx, &source, &path, 10_000).unwrap_or_else(|e| panic!("{e}"));
            let members = raw.clients.as_ref().map_or(0, |c| c.entries.len());
            assert_eq!(members, clients, "{file}");
            assert_eq!(raw.expect.as_ref().map_or(0, Vec::len), expect, "{file}");
            assert_eq!(raw.faults.as_ref().map_or(0, Vec::len), faults, "{file}");
            // They also fit the host limit the engine allows.
            let raw: RawScenario = serde_yaml::from_str(&source).expect("valid YAML");
            expand(raw, &mut idx, &source, &path, crate::scenario::MAX_HOSTS)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }

    #[test]
    fn placeholders_are_words_in_braces() {
        assert_eq!(placeholders("sensor-{i}"), vec!["i"]);
        assert_eq!(placeholders("{i}/{j}/{index_2}"), vec!["i", "j", "index_2"]);
        assert!(placeholders(r#"{"temp": 21}"#).is_empty());
        assert!(placeholders("{} { i } {").is_empty());
        assert_eq!(with_index("a-{i}/{i}", 42), "a-42/42");
    }

    #[test]
    fn group_names_are_checked_as_host_names() {
        assert!(ClientKeys::check("sensor-{i}").is_ok());
        assert!(ClientKeys::check("sensor").is_ok());
        assert!(ClientKeys::check("Sensor-{i}").is_err());
        assert!(ClientKeys::check("a{").is_err());
    }

    #[test]
    fn patterns_match_names_globs_and_groups() {
        assert!(matches("device-7", "device-7"));
        assert!(!matches("device-7", "device-70"));
        assert!(matches("device-*", "device-70"));
        assert!(matches("device-1*", "device-1"));
        assert!(!matches("device-1*", "device-2"));
        assert!(matches("device-{i}", "device-123"));
        assert!(!matches("device-{i}", "device-"));
        assert!(!matches("device-{i}", "device-x"));
        assert!(matches("a-{i}-b", "a-12-b"));
    }
}
