//! Every matcher must be able to match something: a matcher that cannot
//! makes `count: 0` pass without checking anything, and any other count
//! fail for a reason the file, not the broker, holds. So these are load
//! errors, whatever the count:
//!
//! - a packet type the client never sends (`send: {type: CONNACK}`) or
//!   never receives (`recv: {type: SUBSCRIBE}`, a DISCONNECT from a 3.1.1
//!   server);
//! - a value the packet cannot carry: packet id 0, QoS 3, a code foreign to
//!   the packet type and protocol (`wire::codes_allowed`, the codecs'
//!   table), a property value out of its range (the table of
//!   `packet_json::properties`, which the steps' properties use too);
//! - a topic that is no valid filter, or a delivered topic under `$share/`;
//! - a `receives` topic that no subscription of the client can match.
//!
//! Only literal values are checked; operator maps (`{lt: 60}`) are checked
//! for their kind by `matcher.rs`. Where a client's traffic cannot be known
//! from the file (it writes raw bytes), the checks that read its steps are
//! skipped: when in doubt, the loader does not refuse.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::Ctx;
use crate::error::Error;
use crate::packet_json::properties::{Place, from_json};
use crate::scenario::locate::{Locator, child, item};
use crate::scenario::model::*;
use crate::scenario::ops::as_ops;
use crate::wire::LEVEL_V311;

/// Packets only a server sends: a client's trace never shows them sent.
const SERVER_ONLY: [&str; 4] = ["CONNACK", "SUBACK", "UNSUBACK", "PINGRESP"];
/// Packets only a client sends: a client's trace never shows them received.
const CLIENT_ONLY: [&str; 4] = ["CONNECT", "SUBSCRIBE", "UNSUBSCRIBE", "PINGREQ"];

/// The prefix of a shared subscription's filter (5.0 section 4.8.2): a
/// delivered PUBLISH carries the topic without it.
const SHARE_PREFIX: &str = "$share/";

/// Checks the packet matcher `fields` at `path` (its `type` included) for
/// `members`, whose side of the wire it looks at in `direction`.
pub(super) fn packet_matcher(
    cx: &Ctx,
    path: &str,
    fields: &Map<String, Value>,
    direction: Direction,
    members: &[String],
    clients: &IndexMap<String, ClientSpec>,
) -> Result<(), Error> {
    let ty = fields
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let specs: Vec<&ClientSpec> = members.iter().filter_map(|m| clients.get(m)).collect();
    // A member is a client or a bridge's connection (`edge->core`), which
    // speaks its bridge's protocol.
    let mut levels: Vec<u8> = members
        .iter()
        .filter_map(|m| match clients.get(m) {
            Some(c) => Some(c.options.protocol.level()),
            None => cx
                .bridges
                .iter()
                .find(|(name, _)| name == m)
                .map(|(_, protocol)| protocol.level()),
        })
        .collect();
    direction_fits(cx, path, ty, direction, &specs, &levels)?;
    levels.sort_unstable();
    levels.dedup();
    for level in levels {
        values_fit(cx, path, ty, fields, direction, level)?;
    }
    if direction == Direction::Recv
        && ty == "PUBLISH"
        && let Some(Value::String(topic)) = fields.get("topic")
        && !topic.is_empty()
    {
        subscribed(cx, &child(path, "topic"), topic, members, clients)?;
    }
    Ok(())
}

/// Whether the client can have raw bytes on the wire that the file does
/// not describe as packets: then what it sends, and what it subscribed to,
/// cannot be read from its steps.
fn writes_raw(c: &ClientSpec) -> bool {
    c.options.raw.is_some()
        || c.steps.iter().any(|s| match &s.action {
            Action::Send(_) => true,
            Action::Connect(o) => o.raw.is_some(),
            _ => false,
        })
}

fn direction_fits(
    cx: &Ctx,
    path: &str,
    ty: &str,
    direction: Direction,
    specs: &[&ClientSpec],
    levels: &[u8],
) -> Result<(), Error> {
    let wrong = match direction {
        // Raw bytes may be any packet, even one only a server sends.
        Direction::Send if specs.iter().any(|c| writes_raw(c)) => None,
        Direction::Send if SERVER_ONLY.contains(&ty) => Some(format!(
            "a client never sends {ty}: only a server does, so this matcher can never match; for the {ty} a client receives use `recv: {{type: {ty}}}`"
        )),
        Direction::Recv if CLIENT_ONLY.contains(&ty) => Some(format!(
            "a client never receives {ty}: only a client sends it, so this matcher can never match; for the {ty} the client sent use `send: {{type: {ty}}}`"
        )),
        Direction::Recv
            if ty == "DISCONNECT"
                && !levels.is_empty()
                && levels.iter().all(|&level| level == LEVEL_V311) =>
        {
            Some(
                "a 3.1.1 server never sends DISCONNECT (only 5.0 has a server's DISCONNECT), so this matcher can never match; to see the broker close the connection use `closed: {by: broker}`"
                    .to_string(),
            )
        }
        _ => None,
    };
    match wrong {
        Some(message) => Err(cx.at_value(&child(path, "type"), message)),
        None => Ok(()),
    }
}

/// The literal values of `fields` fit the packet type `ty` at `level`.
fn values_fit(
    cx: &Ctx,
    path: &str,
    ty: &str,
    fields: &Map<String, Value>,
    direction: Direction,
    level: u8,
) -> Result<(), Error> {
    let protocol = if level == LEVEL_V311 { "3.1.1" } else { "5.0" };
    for (key, value) in fields {
        let p = child(path, key);
        match key.as_str() {
            "packet_id" => {
                if let Some(n) = literal(value)
                    && !(1..=u64::from(u16::MAX)).contains(&n)
                {
                    return Err(cx.at_value(
                        &p,
                        format!("a packet identifier is 1 to 65535, so {n} can never match"),
                    ));
                }
            }
            "qos" => {
                if let Some(n) = literal(value)
                    && n > 2
                {
                    return Err(
                        cx.at_value(&p, format!("QoS is 0, 1 or 2, so {n} can never match"))
                    );
                }
            }
            "code" | "reason" => code_fits(cx, &p, ty, value, level, protocol)?,
            "codes" => {
                if let Value::Array(list) = value {
                    for (i, v) in list.iter().enumerate() {
                        code_fits(cx, &item(&p, i), ty, v, level, protocol)?;
                    }
                }
            }
            "topic" if ty == "PUBLISH" => topic_fits(cx, &p, value, direction)?,
            "properties" => {
                if let Value::Object(props) = value
                    && let Some(place) = place(ty)
                {
                    properties_fit(cx, &p, props, place)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A whole number written as it is, not an operator map.
fn literal(v: &Value) -> Option<u64> {
    v.as_u64()
}

fn code_fits(
    cx: &Ctx,
    p: &str,
    ty: &str,
    value: &Value,
    level: u8,
    protocol: &str,
) -> Result<(), Error> {
    let Some(n) = literal(value) else {
        return Ok(());
    };
    let Some(allowed) = crate::wire::codes_allowed(ty, level) else {
        return Ok(());
    };
    if u8::try_from(n).is_ok_and(|c| allowed.contains(&c)) {
        return Ok(());
    }
    let list: Vec<String> = allowed.iter().map(|c| hex(*c)).collect();
    let shown = u8::try_from(n).map_or_else(|_| n.to_string(), hex);
    Err(cx.at_value(
        p,
        format!(
            "a {ty} under MQTT {protocol} never carries the code {shown}, so this can never match; its codes are {}",
            list.join(", ")
        ),
    ))
}

/// `0x8E`, as the trace writes codes.
fn hex(c: u8) -> String {
    format!("0x{c:02X}")
}

fn topic_fits(cx: &Ctx, p: &str, value: &Value, direction: Direction) -> Result<(), Error> {
    let Value::String(topic) = value else {
        return Ok(());
    };
    // An empty topic is what a 5.0 client sends with a topic alias.
    if topic.is_empty() {
        return Ok(());
    }
    if let Err(e) = crate::topic::validate_filter(topic) {
        return Err(cx.at_value(
            p,
            format!(
                "`{topic}` is no valid topic filter ({e}), so it can never match a topic; `#` stands alone at the end, `+` alone in its level"
            ),
        ));
    }
    if direction == Direction::Recv && topic.starts_with(SHARE_PREFIX) {
        return Err(cx.at_value(
            p,
            format!(
                "a delivered PUBLISH never has a topic under `{SHARE_PREFIX}`: the broker sends the topic it was published to, so match the part after the group name"
            ),
        ));
    }
    Ok(())
}

/// The property place of a packet type's properties.
fn place(ty: &str) -> Option<Place> {
    Some(match ty {
        "CONNECT" => Place::Connect,
        "CONNACK" => Place::ConnAck,
        "PUBLISH" => Place::Publish,
        "PUBACK" | "PUBREC" | "PUBREL" | "PUBCOMP" => Place::Ack,
        "SUBSCRIBE" => Place::Subscribe,
        "SUBACK" => Place::SubAck,
        "UNSUBSCRIBE" => Place::Unsubscribe,
        "UNSUBACK" => Place::UnsubAck,
        "DISCONNECT" => Place::Disconnect,
        "AUTH" => Place::Auth,
        _ => return None,
    })
}

/// The literal property values are in their ranges, by the table the
/// steps' properties are read with.
fn properties_fit(
    cx: &Ctx,
    p: &str,
    props: &Map<String, Value>,
    place: Place,
) -> Result<(), Error> {
    for (k, v) in props {
        if as_ops(v).is_some() {
            continue;
        }
        let mut one = Map::new();
        one.insert(k.clone(), v.clone());
        if let Err(bad) = from_json(&one, place) {
            // Names were checked against the packet's shape already.
            return Err(cx.at_value(
                &child(p, k),
                format!("{}, so this can never match", bad.message),
            ));
        }
    }
    Ok(())
}

/// `topic` (itself a filter in the matcher) can reach a member of
/// `members`: some member has a subscription that can match it, or some
/// client publishes on a topic it matches (then `count: 0` checks that the
/// broker does not deliver it unasked), or the file cannot tell. A client
/// that shares its client id with another may be given that one's
/// session, so their subscriptions count together.
fn subscribed(
    cx: &Ctx,
    p: &str,
    topic: &str,
    members: &[String],
    clients: &IndexMap<String, ClientSpec>,
) -> Result<(), Error> {
    // The broker may publish under `$` itself ($SYS).
    if topic.starts_with('$') {
        return Ok(());
    }
    match published(clients) {
        None => return Ok(()),
        Some(topics) if topics.iter().any(|t| crate::topic::matches(topic, t)) => {
            return Ok(());
        }
        Some(_) => {}
    }
    let mut shown: Vec<String> = Vec::new();
    for m in members {
        let Some(filters) = filters_of(m, clients) else {
            return Ok(());
        };
        if filters
            .iter()
            .any(|f| crate::topic::filters_overlap(topic, unshared(f)))
        {
            return Ok(());
        }
        let list = if filters.is_empty() {
            "none".to_string()
        } else {
            filters
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        shown.push(format!("{m}: {list}"));
    }
    let whose = match members {
        [one] => format!("`{one}`"),
        _ => "these clients".to_string(),
    };
    Err(cx.at_value(
        p,
        format!(
            "nothing can deliver `{topic}` to {whose}: no subscribe step has a filter that matches it (filters of {}), and no client publishes on a topic it matches",
            shown.join("; ")
        ),
    ))
}

/// The topics the clients publish on, wills included, or `None` when the
/// file cannot tell (raw bytes, or an empty topic that a topic alias
/// stands for).
fn published(clients: &IndexMap<String, ClientSpec>) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    for c in clients.values() {
        if writes_raw(c) {
            return None;
        }
        let wills =
            std::iter::once(c.options.will.as_ref()).chain(c.steps.iter().map(
                |s| match &s.action {
                    Action::Connect(o) => o.will.as_ref().and_then(Option::as_ref),
                    _ => None,
                },
            ));
        out.extend(wills.flatten().map(|w| w.topic.as_str()));
        for s in &c.steps {
            if let Action::Publish { topic, .. } = &s.action {
                if topic.is_empty() {
                    return None;
                }
                out.push(topic);
            }
        }
    }
    Some(out)
}

/// A shared subscription's filter without `$share/GROUP/`.
fn unshared(f: &str) -> &str {
    f.strip_prefix(SHARE_PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .map_or(f, |(_, filter)| filter)
}

/// The filters `name` and every client sharing one of its client ids
/// subscribe to, or `None` when one of them writes raw bytes (which may
/// be a SUBSCRIBE the file does not show).
fn filters_of(name: &str, clients: &IndexMap<String, ClientSpec>) -> Option<Vec<String>> {
    let ids = |c: &ClientSpec| -> Vec<String> {
        let mut ids = vec![c.options.client_id.clone()];
        for s in &c.steps {
            if let Action::Connect(o) = &s.action
                && let Some(id) = &o.client_id
            {
                ids.push(id.clone());
            }
        }
        // An empty id is the server's to assign: never shared.
        ids.retain(|i| !i.is_empty());
        ids
    };
    let me = clients.get(name)?;
    let mine = ids(me);
    let mut out: Vec<String> = Vec::new();
    for (other, c) in clients {
        if other != name && !ids(c).iter().any(|i| mine.contains(i)) {
            continue;
        }
        if writes_raw(c) {
            return None;
        }
        for s in &c.steps {
            if let Action::Subscribe { filters, .. } = &s.action {
                for f in filters {
                    if !out.contains(&f.filter) {
                        out.push(f.filter.clone());
                    }
                }
            }
        }
    }
    Some(out)
}

/// Where an expectation's window starts after the run has ended.
pub(super) fn window_in_run(
    cx: &Ctx,
    path: &str,
    within: Option<(std::time::Duration, std::time::Duration)>,
    duration: std::time::Duration,
) -> Result<(), Error> {
    if let Some((from, _)) = within
        && from > duration
    {
        let text = crate::scenario::duration::text;
        return Err(cx.at_value(
            &item(&child(path, "within"), 0),
            format!(
                "this window starts at {}, after the run ends at {} (`duration`), so nothing can match in it",
                text(from),
                text(duration)
            ),
        ));
    }
    Ok(())
}
