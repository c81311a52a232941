//! Which scenarios cannot be run against a live target, and why. A skipped
//! scenario is never a pass: the reason is reported with it.
//!
//! The rules:
//! - the scenario lasts longer than `--duration-max` (a live run takes its
//!   `duration` in real time);
//! - a broker of it bridges to another (no profile has a bridge template
//!   yet, so the harness cannot configure a live pair);
//! - it has more than one broker (a live target is one broker);
//! - it has `chaos` (`run` and `report` do not draw faults live; `explore
//!   --target-profile` runs each seed's schedule);
//! - it crashes or restarts a broker that the harness did not start (no
//!   `--target-cmd`);
//! - a client speaks a protocol version the target's profile does not
//!   (`protocols` of `--target-profile`);
//! - its broker has options other than the defaults that the target's
//!   profile does not list in `options` (without a profile, the live
//!   broker's configuration is unknown, so any such option skips).

use std::time::Duration;

use crate::profile::Profile;
use crate::scenario::duration;
use crate::scenario::{BrokerSpec, FaultAction, Scenario, TakeoverWill};

/// Why `scenario` cannot run against the live target, if it cannot;
/// `profile` is what is known of the target.
pub fn reason(
    scenario: &Scenario,
    duration_max: Duration,
    harness_starts_broker: bool,
    profile: Option<&Profile>,
) -> Option<String> {
    if scenario.duration > duration_max {
        return Some(format!(
            "lasts {} of real time, over --duration-max {}",
            duration::text(scenario.duration),
            duration::text(duration_max)
        ));
    }
    if let Some(b) = scenario.brokers.values().find_map(|b| b.bridge.as_ref()) {
        return Some(format!(
            "has the bridge {}; live runs do not configure bridges yet (no profile has a bridge template)",
            b.name
        ));
    }
    if scenario.brokers.len() != 1 {
        return Some(format!(
            "has {} brokers; a live target is one broker",
            scenario.brokers.len()
        ));
    }
    let c = &scenario.chaos;
    if c.partitions.is_some() || c.holds.is_some() || c.latency.is_some() || c.crashes.is_some() {
        return Some(
            "has chaos; run and report do not draw faults live: `mqtt-sim explore FILE --target-profile NAME` runs each seed's fault schedule".into(),
        );
    }
    if !harness_starts_broker {
        for f in &scenario.faults {
            let (what, host) = match &f.action {
                FaultAction::Crash(h) => ("crash", h),
                FaultAction::Restart(h) => ("restart", h),
                _ => continue,
            };
            if scenario.brokers.contains_key(host) {
                return Some(format!(
                    "line {}: `{what}: {host}` needs a broker the harness starts (--target-cmd)",
                    f.line
                ));
            }
        }
    }
    if let Some(p) = profile {
        let mut versions: Vec<&str> = std::iter::once(scenario.protocol.as_str())
            .chain(
                scenario
                    .clients
                    .values()
                    .map(|c| c.options.protocol.as_str()),
            )
            .collect();
        versions.sort_unstable();
        versions.dedup();
        if let Some(v) = versions.iter().find(|v| !p.speaks(v)) {
            return Some(format!(
                "uses MQTT {v}; the profile `{}` speaks {}",
                p.name,
                p.protocols.join(", ")
            ));
        }
    }
    let options: Vec<String> = scenario
        .brokers
        .values()
        .flat_map(non_default_options)
        .collect();
    let missing: Vec<&String> = options
        .iter()
        .filter(|o| !profile.is_some_and(|p| supports(p, o)))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let shown: Vec<&str> = missing.iter().map(|o| o.as_str()).collect();
    Some(match profile {
        Some(p) => format!(
            "its broker needs {}, which the profile `{}` does not configure (its `options`)",
            shown.join(", "),
            p.name
        ),
        None => format!(
            "its broker needs {}; the target's configuration is unknown \
             (--target-profile names a profile whose `options` list them)",
            shown.join(", ")
        ),
    })
}

/// Whether the profile's `options` has `option` (as [`non_default_options`]
/// writes it, `name: value`): by its name alone, or name and value.
fn supports(p: &Profile, option: &str) -> bool {
    let name = option.split(':').next().unwrap_or(option).trim();
    p.options.iter().any(|o| o == name || o == option)
}

/// The broker options that differ from the defaults, as a file writes them.
pub fn non_default_options(b: &BrokerSpec) -> Vec<String> {
    let d = BrokerSpec::default();
    let mut out = general_options(b, &d);
    let optional_duration =
        |name: &str, v: Option<Duration>| v.map(|d| format!("{name}: {}", duration::text(d)));
    out.extend(optional_duration(
        "session_expiry_max",
        b.session_expiry_max,
    ));
    out.extend(optional_duration(
        "persistent_session_expiry",
        b.persistent_session_expiry,
    ));
    out.extend(limit_options(b, &d));
    out.extend(availability_options(b, &d));
    out
}

/// Keep-alive, QoS, persistence, authentication, takeover and string
/// checking, where `b` differs from `d`.
fn general_options(b: &BrokerSpec, d: &BrokerSpec) -> Vec<String> {
    let mut out = Vec::new();
    if b.keep_alive_factor != d.keep_alive_factor {
        out.push(format!("keep_alive_factor: {}", b.keep_alive_factor));
    }
    if b.max_keep_alive != d.max_keep_alive {
        out.push(format!(
            "max_keep_alive: {}",
            duration::text(b.max_keep_alive)
        ));
    }
    if b.max_qos != d.max_qos {
        out.push(format!("max_qos: {}", b.max_qos));
    }
    if b.persistence != d.persistence {
        out.push(format!("persistence: {}", b.persistence));
    }
    if b.users.is_some() {
        out.push("users".into());
    }
    if b.allow_anonymous != d.allow_anonymous {
        out.push(format!("allow_anonymous: {}", b.allow_anonymous));
    }
    if b.takeover_will != d.takeover_will {
        let name = match b.takeover_will {
            TakeoverWill::Spec => "spec",
            TakeoverWill::Mosquitto => "mosquitto",
            TakeoverWill::Never => "never",
        };
        out.push(format!("takeover_will: {name}"));
    }
    if b.strict_strings != d.strict_strings {
        out.push(format!("strict_strings: {}", b.strict_strings));
    }
    out
}

/// The numeric limits (packet sizes, aliases, sessions, queued bytes) where
/// `b` differs from `d`.
fn limit_options(b: &BrokerSpec, d: &BrokerSpec) -> Vec<String> {
    let numbers = [
        (
            "receive_maximum",
            u64::from(b.receive_maximum),
            u64::from(d.receive_maximum),
        ),
        (
            "maximum_packet_size",
            u64::from(b.maximum_packet_size),
            u64::from(d.maximum_packet_size),
        ),
        (
            "topic_alias_maximum",
            u64::from(b.topic_alias_maximum),
            u64::from(d.topic_alias_maximum),
        ),
        ("sessions_max", b.sessions_max as u64, d.sessions_max as u64),
        (
            "queued_bytes_max",
            b.queued_bytes_max as u64,
            d.queued_bytes_max as u64,
        ),
    ];
    numbers
        .into_iter()
        .filter(|(_, v, default)| v != default)
        .map(|(name, v, _)| format!("{name}: {v}"))
        .collect()
}

/// The 5.0 `*_available` flags where `b` differs from `d`.
fn availability_options(b: &BrokerSpec, d: &BrokerSpec) -> Vec<String> {
    let flags = [
        ("retain_available", b.retain_available, d.retain_available),
        (
            "wildcard_subscription_available",
            b.wildcard_subscription_available,
            d.wildcard_subscription_available,
        ),
        (
            "shared_subscription_available",
            b.shared_subscription_available,
            d.shared_subscription_available,
        ),
        (
            "subscription_identifiers_available",
            b.subscription_identifiers_available,
            d.subscription_identifiers_available,
        ),
    ];
    flags
        .into_iter()
        .filter(|(_, v, default)| v != default)
        .map(|(name, v, _)| format!("{name}: {v}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_and_5_0_options_are_non_default_options() {
        assert!(non_default_options(&BrokerSpec::default()).is_empty());
        let b = BrokerSpec {
            sessions_max: 3,
            session_expiry_max: Some(Duration::from_secs(60)),
            retain_available: false,
            ..BrokerSpec::default()
        };
        assert_eq!(
            non_default_options(&b),
            vec![
                "session_expiry_max: 60s".to_string(),
                "sessions_max: 3".to_string(),
                "retain_available: false".to_string(),
            ]
        );
    }
}

#[cfg(test)]
mod profile_tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        crate::scenario::parse(text, std::path::Path::new("s.yaml")).expect("a valid scenario")
    }

    fn profile(text: &str) -> Profile {
        Profile::parse(text, "p.yaml").expect("a valid profile")
    }

    const MAX_QOS_1: &str =
        "duration: 1s\nbrokers: {broker: {max_qos: 1}}\nclients:\n  a:\n    steps: [connect: {}]\n";

    #[test]
    fn a_bridge_skips_with_its_name_whatever_the_profile() {
        let s = scenario(
            "duration: 1s\nbrokers:\n  core: {}\n  edge:\n    bridge: {to: core, topics: [{pattern: t/#}]}\nclients:\n  a: {broker: edge}\n",
        );
        let p = profile("name: any\nprotocols: [\"3.1.1\"]\n");
        for profile in [None, Some(&p)] {
            let why = reason(&s, Duration::from_secs(60), true, profile).expect("skipped");
            assert_eq!(
                why,
                "has the bridge edge->core; live runs do not configure bridges yet (no profile has a bridge template)"
            );
        }
    }

    #[test]
    fn a_profile_skips_a_protocol_it_does_not_speak() {
        let s = scenario(
            "protocol: 5.0\nduration: 1s\nbrokers: {broker: {}}\nclients:\n  a:\n    steps: [connect: {}]\n",
        );
        let p = profile("name: old\nprotocols: [\"3.1.1\"]\n");
        let why = reason(&s, Duration::from_secs(60), false, Some(&p)).expect("skipped");
        assert_eq!(why, "uses MQTT 5.0; the profile `old` speaks 3.1.1");
    }

    #[test]
    fn an_option_runs_when_the_profile_lists_its_name_or_its_value() {
        let s = scenario(MAX_QOS_1);
        let max = Duration::from_secs(60);
        for listed in ["[max_qos]", "[\"max_qos: 1\"]"] {
            let p = profile(&format!(
                "name: b\nprotocols: [\"3.1.1\"]\noptions: {listed}\n"
            ));
            assert_eq!(reason(&s, max, false, Some(&p)), None, "{listed}");
        }
        let other = profile("name: b\nprotocols: [\"3.1.1\"]\noptions: [\"max_qos: 0\"]\n");
        let why = reason(&s, max, false, Some(&other)).expect("skipped");
        assert!(
            why.contains("needs max_qos: 1, which the profile `b` does not configure"),
            "{why}"
        );
        let why = reason(&s, max, false, None).expect("skipped without a profile");
        assert!(why.contains("--target-profile"), "{why}");
    }
}
