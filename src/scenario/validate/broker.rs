//! `brokers:` entries, and a broker's options on their own as `mqtt-sim
//! serve --config` reads them: limits, whole seconds, the ACL.

use std::path::Path;
use std::time::Duration;

use super::Ctx;
use crate::error::Error;
use crate::scenario::duration::Secs32;
use crate::scenario::locate::{Locator, PosIndex, child};
use crate::scenario::model::*;
use crate::scenario::raw::*;

/// Largest `keep_alive_factor`: beyond it keep-alive is effectively off,
/// which `keep_alive: 0s` says more clearly.
const MAX_KEEP_ALIVE_FACTOR: f64 = 100.0;

/// The smallest `maximum_packet_size`: room for a CONNECT with a short
/// client id, so that the broker can still be reached at all.
const MIN_PACKET_SIZE: u32 = 64;
/// The largest `maximum_packet_size`: the largest packet MQTT can frame
/// (a remaining length of 268,435,455 and a 5-byte fixed header).
const MAX_PACKET_SIZE: u32 = 268_435_460;

/// A broker's options written as a whole document, as `mqtt-sim serve
/// --config` reads them: the same checks as an entry under `brokers`.
pub fn broker_alone(raw: RawBroker, idx: &PosIndex, file: &Path) -> Result<BrokerSpec, Error> {
    let cx = Ctx::new(idx, file, &[]);
    // Mutants are planted bugs for testing the scenarios; a broker that
    // serves real clients must not be able to switch one on.
    if raw.mutant.is_some() {
        return Err(cx.at_key(
            "mutant",
            "`mutant` plants a bug for testing scenarios; `serve` does not take it",
        ));
    }
    broker(&cx, "", raw)
}

pub(super) fn broker(cx: &Ctx, path: &str, b: RawBroker) -> Result<BrokerSpec, Error> {
    let d = BrokerSpec::default();
    // A scenario's bridges are taken out and built by `bridge.rs` before
    // this; one left here is in `serve --config`, which dials no one yet.
    if b.bridge.is_some() {
        return Err(cx.at_key(
            &child(path, "bridge"),
            "`bridge` is for brokers of a scenario; `serve` does not run bridges yet",
        ));
    }
    let keep_alive_factor = match b.keep_alive_factor {
        None => d.keep_alive_factor,
        Some(f) if f.is_finite() && f > 0.0 && f <= MAX_KEEP_ALIVE_FACTOR => f,
        Some(f) => {
            return Err(cx.at_value(
                &child(path, "keep_alive_factor"),
                format!("`keep_alive_factor` must be more than 0 and at most {MAX_KEEP_ALIVE_FACTOR}, got {f}"),
            ));
        }
    };
    Ok(BrokerSpec {
        keep_alive_factor,
        max_keep_alive: b.max_keep_alive.map_or(d.max_keep_alive, |s| s.0),
        max_qos: b.max_qos.map_or(d.max_qos, |q| q.0),
        persistence: b.persistence.unwrap_or(d.persistence),
        users: b.users.map(|u| u.entries),
        allow_anonymous: b.allow_anonymous.unwrap_or(d.allow_anonymous),
        takeover_will: b.takeover_will.map_or(d.takeover_will, Into::into),
        acl: acl(cx, path, b.acl.unwrap_or_default())?,
        strict_strings: b.strict_strings.unwrap_or(d.strict_strings),
        session_expiry_max: whole_seconds(cx, path, "session_expiry_max", b.session_expiry_max)?,
        receive_maximum: match b.receive_maximum {
            None => d.receive_maximum,
            Some(0) => {
                return Err(cx.at_value(
                    &child(path, "receive_maximum"),
                    "`receive_maximum` must be 1 to 65535; 0 is a protocol error in 5.0",
                ));
            }
            Some(n) => n,
        },
        maximum_packet_size: match b.maximum_packet_size {
            None => d.maximum_packet_size,
            Some(n) if (MIN_PACKET_SIZE..=MAX_PACKET_SIZE).contains(&n) => n,
            Some(n) => {
                return Err(cx.at_value(
                    &child(path, "maximum_packet_size"),
                    format!("`maximum_packet_size` must be {MIN_PACKET_SIZE} to {MAX_PACKET_SIZE} bytes, got {n}"),
                ));
            }
        },
        topic_alias_maximum: b.topic_alias_maximum.unwrap_or(d.topic_alias_maximum),
        retain_available: b.retain_available.unwrap_or(d.retain_available),
        wildcard_subscription_available: b
            .wildcard_subscription_available
            .unwrap_or(d.wildcard_subscription_available),
        shared_subscription_available: b
            .shared_subscription_available
            .unwrap_or(d.shared_subscription_available),
        subscription_identifiers_available: b
            .subscription_identifiers_available
            .unwrap_or(d.subscription_identifiers_available),
        persistent_session_expiry: whole_seconds(
            cx,
            path,
            "persistent_session_expiry",
            b.persistent_session_expiry,
        )?,
        sessions_max: match b.sessions_max {
            None => d.sessions_max,
            Some(n) if (1..=crate::broker::SESSIONS_MAX).contains(&n) => n,
            Some(n) => {
                return Err(cx.at_value(
                    &child(path, "sessions_max"),
                    format!(
                        "`sessions_max` must be 1 to {}, got {n}",
                        crate::broker::SESSIONS_MAX
                    ),
                ));
            }
        },
        queued_bytes_max: match b.queued_bytes_max {
            None => d.queued_bytes_max,
            Some(n) if n >= 1 => n,
            Some(n) => {
                return Err(cx.at_value(
                    &child(path, "queued_bytes_max"),
                    format!("`queued_bytes_max` must be at least 1 byte, got {n}"),
                ));
            }
        },
        limits: d.limits,
        bridge: None,
        mutant: b.mutant.map(Into::into),
    })
}

/// A broker duration that goes on the wire in whole seconds.
fn whole_seconds(
    cx: &Ctx,
    path: &str,
    key: &str,
    d: Option<Secs32>,
) -> Result<Option<Duration>, Error> {
    match d {
        Some(Secs32(d)) if d.subsec_nanos() != 0 => Err(cx.at_value(
            &child(path, key),
            format!("`{key}` must be whole seconds; it goes on the wire in seconds"),
        )),
        other => Ok(other.map(|d| d.0)),
    }
}

fn acl(cx: &Ctx, path: &str, rules: Vec<RawAclRule>) -> Result<Vec<AclRule>, Error> {
    let mut out = Vec::with_capacity(rules.len());
    for (i, r) in rules.into_iter().enumerate() {
        if let Err(e) = crate::topic::validate_filter(&r.topic) {
            let p = child(&format!("{path}.acl[{i}]"), "topic");
            return Err(cx.at_value(&p, format!("`topic` must be a topic filter: {e}")));
        }
        out.push(AclRule {
            subscribe: r.deny.contains(RawAclAction::Subscribe),
            publish: r.deny.contains(RawAclAction::Publish),
            user: r.user,
            filter: r.topic,
        });
    }
    Ok(out)
}
