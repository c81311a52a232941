//! CONNECT options, on a client or in a `connect` step: the clean flag and
//! the 5.0-only options per protocol, the will, raw `hex`, and the 5.0
//! property maps that the will and the steps share.

use std::time::Duration;

use super::Ctx;
use crate::error::Error;
use crate::packet_json::properties::Place;
use crate::scenario::locate::{Locator, child};
use crate::scenario::model::*;
use crate::scenario::raw::*;
use crate::scenario::values::Fields;

/// Checks CONNECT options against the protocol; `path` is the map that holds
/// them (a client, or a `connect` step's value).
pub(super) fn connect_overrides(
    cx: &mut Ctx,
    path: &str,
    c: RawConnect,
    protocol: Protocol,
) -> Result<ConnectOverrides, Error> {
    let clean = clean_flag(cx, path, &c, protocol)?;
    if protocol == Protocol::V311 {
        no_5_0_options(cx, path, &c)?;
    }
    if c.receive_maximum == Some(0) {
        return Err(cx.at_value(
            &child(path, "receive_maximum"),
            "`receive_maximum` must be from 1 to 65535 (0 is a protocol error on the wire)",
        ));
    }
    if c.maximum_packet_size == Some(0) {
        return Err(cx.at_value(
            &child(path, "maximum_packet_size"),
            "`maximum_packet_size` must be at least 1 byte (0 is a protocol error on the wire)",
        ));
    }
    let will = match c.will {
        None => None,
        Some(None) => Some(None),
        Some(Some(w)) => Some(Some(will(cx, &child(path, "will"), w, protocol)?)),
    };
    let raw = c.hex.map(|h| h.0);
    let other_options = c.client_id.is_some()
        || clean.is_some()
        || c.session_expiry.is_some()
        || c.keep_alive.is_some()
        || c.username.is_some()
        || c.password.is_some()
        || will.is_some()
        || c.receive_maximum.is_some()
        || c.maximum_packet_size.is_some()
        || c.topic_alias_maximum.is_some()
        || c.user_properties.is_some();
    if raw.is_some() && other_options {
        return Err(cx.at_key(
            &child(path, "hex"),
            "`hex` replaces the whole CONNECT packet; leave out the other connect options",
        ));
    }
    Ok(ConnectOverrides {
        client_id: c.client_id,
        clean,
        session_expiry: c.session_expiry.map(|d| d.0),
        keep_alive: c.keep_alive.map(|k| k.0),
        username: c.username,
        password: c.password,
        will,
        receive_maximum: c.receive_maximum,
        maximum_packet_size: c.maximum_packet_size,
        topic_alias_maximum: c.topic_alias_maximum,
        user_properties: c.user_properties,
        raw,
    })
}

/// The clean flag under the name the protocol gives it: `clean_session` in
/// 3.1.1, `clean_start` in 5.0.
fn clean_flag(
    cx: &Ctx,
    path: &str,
    c: &RawConnect,
    protocol: Protocol,
) -> Result<Option<bool>, Error> {
    match protocol {
        Protocol::V311 => {
            if c.clean_start.is_some() {
                return Err(cx.at_key(
                    &child(path, "clean_start"),
                    "`clean_start` is a 5.0 option; under 3.1.1 write `clean_session`",
                ));
            }
            Ok(c.clean_session)
        }
        Protocol::V5 => {
            if c.clean_session.is_some() {
                return Err(cx.at_key(
                    &child(path, "clean_session"),
                    "`clean_session` is a 3.1.1 option; under 5.0 write `clean_start`",
                ));
            }
            Ok(c.clean_start)
        }
    }
}

/// Refuses the first 5.0-only option given to a 3.1.1 client.
fn no_5_0_options(cx: &Ctx, path: &str, c: &RawConnect) -> Result<(), Error> {
    let given = [
        ("session_expiry", c.session_expiry.is_some()),
        ("receive_maximum", c.receive_maximum.is_some()),
        ("maximum_packet_size", c.maximum_packet_size.is_some()),
        ("topic_alias_maximum", c.topic_alias_maximum.is_some()),
        ("user_properties", c.user_properties.is_some()),
    ];
    match given.iter().find(|(_, g)| *g) {
        Some((key, _)) => Err(cx.at_key(
            &child(path, key),
            format!("`{key}` is a 5.0 option, and this client speaks 3.1.1"),
        )),
        None => Ok(()),
    }
}

/// The will at `wp`: its delay in whole seconds, given once, and its delay
/// and properties only under 5.0.
fn will(cx: &mut Ctx, wp: &str, w: RawWill, protocol: Protocol) -> Result<Will, Error> {
    if protocol == Protocol::V311 {
        for (key, given) in [
            ("delay", w.delay.is_some()),
            ("properties", w.properties.is_some()),
        ] {
            if given {
                return Err(cx.at_key(
                    &child(wp, key),
                    format!("the will's `{key}` is a 5.0 option, and this client speaks 3.1.1"),
                ));
            }
        }
    }
    let delay = w.delay.map_or(Duration::ZERO, |d| d.0);
    if delay.subsec_nanos() != 0 {
        return Err(cx.at_value(
            &child(wp, "delay"),
            "the will's `delay` goes on the wire in whole seconds",
        ));
    }
    let properties = properties(cx, wp, w.properties, Place::Will, protocol)?;
    if w.delay.is_some()
        && properties
            .iter()
            .any(|p| matches!(p, crate::wire::Property::WillDelayInterval(_)))
    {
        return Err(cx.at_key(
            &child(&child(wp, "properties"), "will_delay_interval"),
            "give the will delay once: as `delay` or as `will_delay_interval`, not both",
        ));
    }
    Ok(Will {
        topic: w.topic,
        payload: cx.filler.resolve(&w.payload),
        qos: w.qos.0,
        retain: w.retain,
        delay,
        properties,
    })
}

/// A 5.0 property map at `holder.properties`, checked against what the
/// spec allows in `place`; none at all under 3.1.1.
pub(super) fn properties(
    cx: &Ctx,
    holder: &str,
    fields: Option<Fields>,
    place: Place,
    protocol: Protocol,
) -> Result<crate::wire::Properties, Error> {
    let Some(fields) = fields else {
        return Ok(Default::default());
    };
    let path = child(holder, "properties");
    if protocol == Protocol::V311 {
        return Err(cx.at_key(
            &path,
            "`properties` are a 5.0 option, and this client speaks 3.1.1",
        ));
    }
    crate::packet_json::properties::from_json(&fields.0, place).map_err(|bad| {
        let p = child(&path, &bad.key);
        match bad.at_key {
            true => cx.at_key(&p, bad.message),
            false => cx.at_value(&p, bad.message),
        }
    })
}
