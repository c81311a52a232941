//! A broker's `bridge:` key: the remote is another broker of the scenario,
//! the patterns and prefixes make filters, 5.0-only options only under
//! 5.0, and the bridge's client id takes no client's place on the remote.

use std::time::Duration;

use indexmap::IndexMap;

use super::Ctx;
use crate::broker::{Bridge, BridgeDirection, BridgeTopic};
use crate::error::Error;
use crate::scenario::locate::{Locator, child, item};
use crate::scenario::model::*;
use crate::scenario::raw_bridge::{RawBridge, RawBridgeDirection};
use crate::wire::QoS;

/// The default `keep_alive` of a bridge: mosquitto's.
pub const BRIDGE_KEEP_ALIVE_DEFAULT: Duration = Duration::from_secs(60);
/// The default `reconnect` of a bridge: mosquitto's `restart_timeout`
/// base.
pub const BRIDGE_RECONNECT_DEFAULT: Duration = Duration::from_secs(5);

/// The name of the bridge from `local` to `remote` in the trace.
pub fn bridge_name(local: &str, remote: &str) -> String {
    format!("{local}->{remote}")
}

/// The bridge of broker `local`, written at `path`.
pub(super) fn bridge(
    cx: &Ctx,
    path: &str,
    local: &str,
    b: RawBridge,
    protocol: Protocol,
) -> Result<Bridge, Error> {
    let to_path = child(path, "to");
    if b.to == local {
        return Err(cx.at_value(
            &to_path,
            format!("broker `{local}` bridges to itself; `to` names another broker"),
        ));
    }
    if !cx.brokers.contains(&b.to) {
        let others: Vec<&str> = cx
            .brokers
            .iter()
            .map(String::as_str)
            .filter(|n| *n != local)
            .collect();
        let what = if cx.clients.contains(&b.to) {
            format!("`{}` is a client; a bridge goes to a broker", b.to)
        } else {
            format!("unknown broker `{}` in `to`", b.to)
        };
        let message = if others.is_empty() {
            format!("{what}; this scenario has no other broker to bridge to")
        } else {
            format!("{what}, expected one of {}", others.join(", "))
        };
        return Err(cx.at_value(&to_path, message));
    }
    let protocol = b.protocol.map_or(protocol, |p| p.0);
    let v5 = protocol == Protocol::V5;
    for (key, given) in [
        ("clean_start", b.clean_start.is_some()),
        ("session_expiry", b.session_expiry.is_some()),
    ] {
        if given && !v5 {
            return Err(cx.at_key(
                &child(path, key),
                format!("`{key}` is 5.0 only; this bridge speaks 3.1.1 (set `protocol: 5.0`, or write `clean_session`)"),
            ));
        }
    }
    if b.clean_session.is_some() && b.clean_start.is_some() {
        return Err(cx.at_key(
            &child(path, "clean_start"),
            "give `clean_session` or `clean_start`, not both",
        ));
    }
    let clean = b.clean_start.or(b.clean_session).unwrap_or(true);
    let session_expiry_s = match b.session_expiry {
        Some(e) => e.0.wire(),
        None if v5 && !clean => SessionExpiry::NEVER_WIRE,
        None => 0,
    };
    if b.topics.is_empty() {
        return Err(cx.at_value(
            &child(path, "topics"),
            "a bridge needs at least one topic, e.g. `- {pattern: sensors/#, direction: out, qos: 1}`",
        ));
    }
    let mut topics = Vec::with_capacity(b.topics.len());
    for (i, t) in b.topics.into_iter().enumerate() {
        let at = item(&child(path, "topics"), i);
        let local_prefix = t.local_prefix.unwrap_or_default();
        let remote_prefix = t.remote_prefix.unwrap_or_default();
        for (key, prefix) in [
            ("local_prefix", &local_prefix),
            ("remote_prefix", &remote_prefix),
        ] {
            if prefix.contains(['+', '#']) {
                return Err(cx.at_value(
                    &child(&at, key),
                    format!("`{key}` is put in front of topic names, so it cannot hold `+` or `#`"),
                ));
            }
        }
        if t.pattern.is_empty() {
            return Err(cx.at_value(
                &child(&at, "pattern"),
                "`pattern` must be a topic filter such as `sensors/#`",
            ));
        }
        for (key, prefix) in [
            ("local_prefix", &local_prefix),
            ("remote_prefix", &remote_prefix),
        ] {
            let filter = format!("{prefix}{}", t.pattern);
            if let Err(e) = crate::topic::validate_filter(&filter) {
                let (p, what) = if prefix.is_empty() {
                    (
                        child(&at, "pattern"),
                        "`pattern` must be a topic filter".to_string(),
                    )
                } else {
                    (
                        child(&at, key),
                        format!(
                            "`{key}` and `pattern` together, `{filter}`, must make a topic filter"
                        ),
                    )
                };
                return Err(cx.at_value(&p, format!("{what}: {e}")));
            }
        }
        topics.push(BridgeTopic {
            pattern: t.pattern,
            direction: match t.direction.unwrap_or(RawBridgeDirection::Out) {
                RawBridgeDirection::In => BridgeDirection::In,
                RawBridgeDirection::Out => BridgeDirection::Out,
                RawBridgeDirection::Both => BridgeDirection::Both,
            },
            qos: t
                .qos
                .and_then(|q| QoS::try_from(q.0).ok())
                .unwrap_or(QoS::AtMostOnce),
            local_prefix,
            remote_prefix,
        });
    }
    let name = bridge_name(local, &b.to);
    Ok(Bridge {
        client_id: b.client_id.unwrap_or_else(|| name.clone()),
        to: b.to,
        name,
        clean_session: clean,
        session_expiry_s,
        keep_alive: b.keep_alive.map_or(BRIDGE_KEEP_ALIVE_DEFAULT, |k| k.0),
        reconnect: match b.reconnect.map(|r| r.0) {
            None => (BRIDGE_RECONNECT_DEFAULT, BRIDGE_RECONNECT_DEFAULT),
            Some(DurationSpec::Fixed(d)) => (d, d),
            Some(DurationSpec::Range(lo, hi)) => (lo, hi),
        },
        level: protocol.level(),
        topics,
    })
}

/// A bridge's client id must not be the client id of a client of its
/// remote broker: each connect would take the other over.
pub(super) fn client_id_clash(
    cx: &Ctx,
    brokers: &IndexMap<String, BrokerSpec>,
    clients: &IndexMap<String, ClientSpec>,
) -> Result<(), Error> {
    for (local, spec) in brokers {
        let Some(b) = &spec.bridge else { continue };
        if let Some((name, _)) = clients
            .iter()
            .find(|(_, c)| c.broker == b.to && c.options.client_id == b.client_id)
        {
            // Located at `client_id`, or at its nearest ancestor when the
            // default was taken.
            let at = child(&child(&child("brokers", local), "bridge"), "client_id");
            return Err(cx.at_value(
                &at,
                format!(
                    "the bridge {}'s client id `{}` is also client `{name}`'s on broker `{}`: each would take the other over; give the bridge another `client_id`",
                    b.name, b.client_id, b.to
                ),
            ));
        }
    }
    Ok(())
}
