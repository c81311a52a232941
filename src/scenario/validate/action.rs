//! What a step does: connect, disconnect, subscribe (one filter or a list,
//! with 5.0 subscription options), unsubscribe, publish, raw bytes.

use super::Ctx;
use super::connect::{connect_overrides, properties};
use crate::error::Error;
use crate::packet_json::properties::Place;
use crate::scenario::locate::{Locator, child, item};
use crate::scenario::model::*;
use crate::scenario::raw::*;

/// The 5.0 subscription options of one filter at `path`.
fn subscription(
    cx: &Ctx,
    path: &str,
    filter: String,
    qos: u8,
    options: (Option<bool>, Option<bool>, Option<u8>),
    protocol: Protocol,
) -> Result<Subscription, Error> {
    let (no_local, retain_as_published, retain_handling) = options;
    if protocol == Protocol::V311 {
        let given = [
            ("no_local", no_local.is_some()),
            ("retain_as_published", retain_as_published.is_some()),
            ("retain_handling", retain_handling.is_some()),
        ];
        if let Some((key, _)) = given.iter().find(|(_, g)| *g) {
            return Err(cx.at_key(
                &child(path, key),
                format!("`{key}` is a 5.0 subscription option, and this client speaks 3.1.1"),
            ));
        }
    }
    let retain_handling = retain_handling.unwrap_or(0);
    if retain_handling > 2 {
        return Err(cx.at_value(
            &child(path, "retain_handling"),
            format!(
                "`retain_handling` is 0 (send retained messages), 1 (only for a new subscription) or 2 (never), got {retain_handling}"
            ),
        ));
    }
    Ok(Subscription {
        filter,
        qos,
        no_local: no_local.unwrap_or(false),
        retain_as_published: retain_as_published.unwrap_or(false),
        retain_handling,
    })
}

pub(super) fn action(
    cx: &mut Ctx,
    step: &str,
    a: RawAction,
    protocol: Protocol,
) -> Result<Action, Error> {
    Ok(match a {
        RawAction::Connect(c) => {
            Action::Connect(connect_overrides(cx, &child(step, "connect"), c, protocol)?)
        }
        RawAction::Disconnect(d) => disconnect(cx, &child(step, "disconnect"), d, protocol)?,
        RawAction::Drop => Action::Drop,
        RawAction::Silence => Action::Silence,
        RawAction::Resume => Action::Resume,
        RawAction::Subscribe(s) => subscribe(cx, &child(step, "subscribe"), s, protocol)?,
        RawAction::Unsubscribe(u) => unsubscribe(cx, &child(step, "unsubscribe"), u)?,
        RawAction::Publish(p) => publish(cx, &child(step, "publish"), p, protocol)?,
        RawAction::Send(s) => Action::Send(s.hex.0),
    })
}

/// A DISCONNECT at `dp`: a reason code and properties only under 5.0, and
/// a reason code that DISCONNECT has.
fn disconnect(cx: &Ctx, dp: &str, d: RawDisconnect, protocol: Protocol) -> Result<Action, Error> {
    if protocol == Protocol::V311 && d.reason.is_some() {
        return Err(cx.at_key(
            &child(dp, "reason"),
            "a DISCONNECT `reason` is a 5.0 option, and this client speaks 3.1.1",
        ));
    }
    if let Some(r) = d.reason
        && crate::packet_json::reason::name(r, crate::packet_json::reason::In::Disconnect).is_none()
    {
        return Err(cx.at_value(
            &child(dp, "reason"),
            format!("{r:#04x} is not a DISCONNECT reason code of MQTT 5.0 (e.g. 0x00 normal disconnection, 0x04 disconnect with will message)"),
        ));
    }
    let properties = properties(cx, dp, d.properties, Place::Disconnect, protocol)?;
    Ok(Action::Disconnect {
        reason: d.reason,
        properties,
    })
}

/// A SUBSCRIBE at `p`: one `filter` with its options, or a list of
/// `filters`, each with its own.
fn subscribe(cx: &Ctx, p: &str, s: RawSubscribe, protocol: Protocol) -> Result<Action, Error> {
    let properties = properties(cx, p, s.properties, Place::Subscribe, protocol)?;
    let options = (s.no_local, s.retain_as_published, s.retain_handling);
    let filters = match (s.filter, s.filters) {
        (Some(filter), None) => vec![subscription(
            cx,
            p,
            filter,
            s.qos.unwrap_or_default().0,
            options,
            protocol,
        )?],
        (None, Some(list)) => {
            if s.qos.is_some() {
                return Err(cx.at_key(
                    &child(p, "qos"),
                    "with `filters`, give each filter its own `qos`",
                ));
            }
            filter_list(cx, p, list, options, protocol)?
        }
        (Some(_), Some(_)) => {
            return Err(cx.at_key(
                &child(p, "filters"),
                "give either `filter` or `filters`, not both",
            ));
        }
        (None, None) => {
            return Err(cx.at_value(
                p,
                "`subscribe` needs `filter` (and optionally `qos`), or `filters: [{filter, qos}, ...]`",
            ));
        }
    };
    Ok(Action::Subscribe {
        filters,
        properties,
    })
}

/// The `filters` of the SUBSCRIBE at `p`: at least one, and the
/// subscription options given per filter rather than beside the list.
fn filter_list(
    cx: &Ctx,
    p: &str,
    list: Vec<RawSubscription>,
    options: (Option<bool>, Option<bool>, Option<u8>),
    protocol: Protocol,
) -> Result<Vec<Subscription>, Error> {
    if list.is_empty() {
        return Err(cx.at_value(&child(p, "filters"), "`filters` needs at least one filter"));
    }
    if let Some(key) = [
        ("no_local", options.0.is_some()),
        ("retain_as_published", options.1.is_some()),
        ("retain_handling", options.2.is_some()),
    ]
    .iter()
    .find_map(|(k, g)| g.then_some(*k))
    {
        return Err(cx.at_key(
            &child(p, key),
            format!("with `filters`, give each filter its own `{key}`"),
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, f) in list.into_iter().enumerate() {
        let fp = item(&child(p, "filters"), i);
        let o = (f.no_local, f.retain_as_published, f.retain_handling);
        out.push(subscription(cx, &fp, f.filter, f.qos.0, o, protocol)?);
    }
    Ok(out)
}

/// An UNSUBSCRIBE at `p`: one `filter`, or a list of at least one.
fn unsubscribe(cx: &Ctx, p: &str, u: RawUnsubscribe) -> Result<Action, Error> {
    match (u.filter, u.filters) {
        (Some(f), None) => Ok(Action::Unsubscribe(vec![f])),
        (None, Some(list)) if !list.is_empty() => {
            Ok(Action::Unsubscribe(list.into_iter().map(|f| f.0).collect()))
        }
        (None, Some(_)) => {
            Err(cx.at_value(&child(p, "filters"), "`filters` needs at least one filter"))
        }
        (Some(_), Some(_)) => Err(cx.at_key(
            &child(p, "filters"),
            "give either `filter` or `filters`, not both",
        )),
        (None, None) => Err(cx.at_value(p, "`unsubscribe` needs `filter`, or `filters: [...]`")),
    }
}

/// A PUBLISH at `pp`: under 5.0 an empty topic needs a topic alias.
fn publish(cx: &mut Ctx, pp: &str, p: RawPublish, protocol: Protocol) -> Result<Action, Error> {
    let properties = properties(cx, pp, p.properties, Place::Publish, protocol)?;
    let alias = properties
        .iter()
        .any(|p| matches!(p, crate::wire::Property::TopicAlias(_)));
    if p.topic.is_empty() && !alias && protocol == Protocol::V5 {
        return Err(cx.at_value(
            &child(pp, "topic"),
            match protocol {
                Protocol::V311 => "`topic` must not be empty".to_string(),
                Protocol::V5 => "`topic` is empty: under 5.0 that needs a `topic_alias` in `properties`, set earlier with the topic".to_string(),
            },
        ));
    }
    Ok(Action::Publish {
        topic: p.topic,
        payload: cx.filler.resolve(&p.payload),
        qos: p.qos.0,
        retain: p.retain,
        properties,
    })
}
