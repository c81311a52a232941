//! `clients:` entries: the broker each one talks to, its CONNECT options
//! with their defaults, its steps, and whether each step can start before
//! the run ends.

use std::time::Duration;

use super::Ctx;
use super::action::action;
use super::connect::connect_overrides;
use crate::error::Error;
use crate::scenario::locate::{Locator, child, item};
use crate::scenario::model::*;
use crate::scenario::raw::*;

const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(60);

pub(super) fn client(
    cx: &mut Ctx,
    name: &str,
    mut c: RawClient,
    top: Protocol,
) -> Result<ClientSpec, Error> {
    let path = child("clients", name);
    let broker = client_broker(cx, name, &path, c.broker.as_ref())?;
    let protocol = c.protocol.map_or(top, |p| p.0);
    let connect = c.take_connect();
    let o = connect_overrides(cx, &path, connect, protocol)?;
    let options = ConnectOptions {
        client_id: o.client_id.unwrap_or_else(|| name.to_string()),
        protocol,
        clean: o.clean.unwrap_or(true),
        session_expiry: o.session_expiry,
        keep_alive: o.keep_alive.unwrap_or(DEFAULT_KEEP_ALIVE),
        username: o.username,
        password: o.password,
        will: o.will.flatten(),
        receive_maximum: o.receive_maximum,
        maximum_packet_size: o.maximum_packet_size,
        topic_alias_maximum: o.topic_alias_maximum,
        user_properties: o.user_properties.unwrap_or_default(),
        raw: None,
    };
    let steps = steps(cx, &path, c.steps.unwrap_or_default(), protocol)?;
    Ok(ClientSpec {
        broker,
        options,
        reconnect: c.reconnect.map(|d| d.0),
        connect_timeout: c.connect_timeout.map_or(CONNECT_TIMEOUT_DEFAULT, |d| d.0),
        ping: c.ping.map_or(Ping::default(), Into::into),
        ack: c.ack.map_or(Ack::default(), Into::into),
        steps,
    })
}

/// The broker client `name` (at `path`) talks to: the one its `broker`
/// names, or the only one there is.
fn client_broker(
    cx: &Ctx,
    name: &str,
    path: &str,
    broker: Option<&String>,
) -> Result<String, Error> {
    match broker {
        Some(b) if cx.brokers.contains(b) => Ok(b.clone()),
        Some(b) => {
            let p = child(path, "broker");
            let what = if cx.clients.contains(b) {
                format!(
                    "`{b}` is a client, not a broker; expected one of {}",
                    cx.brokers.join(", ")
                )
            } else {
                format!(
                    "unknown host `{b}` in `broker`, expected one of {}",
                    cx.brokers.join(", ")
                )
            };
            Err(cx.at_value(&p, what))
        }
        None => match cx.brokers.as_slice() {
            [only] => Ok(only.clone()),
            many => Err(cx.at_key(
                path,
                format!(
                    "client `{name}` has no `broker`, and there are {} brokers ({}); say which one with `broker: ...`",
                    many.len(),
                    many.join(", ")
                ),
            )),
        },
    }
}

/// The steps of the client at `path`, each with `at` or `after` (not both), and `wait`
/// only on a step whose flow ends with an acknowledgement.
fn steps(
    cx: &mut Ctx,
    path: &str,
    raw: Vec<Timed<RawAction>>,
    protocol: Protocol,
) -> Result<Vec<Step>, Error> {
    let mut steps = Vec::new();
    let steps_path = child(path, "steps");
    for (i, s) in raw.into_iter().enumerate() {
        let sp = item(&steps_path, i);
        if s.at.is_some() && s.after.is_some() {
            return Err(cx.at_key(
                &child(&sp, "after"),
                "a step has `at` (from the start of the run) or `after` (from the end of the step before), not both",
            ));
        }
        let action = action(cx, &sp, s.action, protocol)?;
        let wait = s.wait.unwrap_or(false);
        if wait
            && !matches!(
                action,
                Action::Publish { .. } | Action::Subscribe { .. } | Action::Unsubscribe(_)
            )
        {
            return Err(cx.at_key(
                &child(&sp, "wait"),
                format!(
                    "`wait` applies to publish, subscribe and unsubscribe, whose flow ends with an acknowledgement; this step is `{}`",
                    action.name()
                ),
            ));
        }
        steps.push(Step {
            at: s.at.map(|d| d.0),
            after: s.after.map(|d| d.0),
            wait,
            line: cx.line(&sp),
            action,
        });
    }
    Ok(steps)
}

/// A step that cannot start before the run ends would silently never run:
/// its `at` (any value of a range), or the earliest its `after` chain can
/// come to, must be before `duration`.
pub(super) fn steps_in_time(
    cx: &Ctx,
    client: &str,
    steps: &[Step],
    duration: Duration,
) -> Result<(), Error> {
    let steps_path = child(&child("clients", client), "steps");
    let mut earliest = Duration::ZERO;
    for (i, step) in steps.iter().enumerate() {
        let (key, latest) = match (&step.at, &step.after) {
            (Some(at), _) => {
                earliest = earliest.max(at.min());
                ("at", at.max().max(earliest))
            }
            (None, Some(after)) => {
                earliest += after.min();
                ("after", earliest)
            }
            (None, None) => ("", earliest),
        };
        if latest >= duration {
            let path = item(&steps_path, i);
            let end = crate::scenario::duration::text(duration);
            let when = crate::scenario::duration::text(latest);
            let message = match key {
                "at" => format!(
                    "this step's `at` can be {when}, but the run ends at {end} (`duration`); a step at or after the end never runs"
                ),
                _ => format!(
                    "with `after` counted from the steps before it, this step comes at {when} at the earliest, but the run ends at {end} (`duration`); a step at or after the end never runs"
                ),
            };
            return Err(match key {
                "" => cx.at_value(&path, message),
                key => cx.at_value(&child(&path, key), message),
            });
        }
    }
    Ok(())
}
