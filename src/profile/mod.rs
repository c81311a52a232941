//! Broker profiles: what the harness knows of a broker under test, as data.
//!
//! A profile is a YAML file (`profiles/<name>.yaml` ships four; a user may
//! write their own and pass its path to `--target-profile`). It says how to
//! start the broker, which protocol versions and broker options it can be
//! run with, the credentials for clients that set none, its documented
//! deviations from a MUST of the spec (each with its statement ids), and the
//! scenarios expected to fail against it. No Rust code compares target
//! names: what differs between brokers is read from here.
//!
//! This module imports only `broker` (for the takeover-will behaviours), so
//! that the scenario loader can check `only_for`/`not_for` names against
//! [`shipped_names`].

use std::path::Path;

use serde::Deserialize;

use crate::broker::TakeoverWill;

/// The name expectations use for the built-in reference broker.
pub const REFERENCE: &str = "reference";

/// The largest profile file read, in bytes; a bigger one is refused unread.
pub const PROFILE_BYTES_MAX: u64 = 256 * 1024;

/// The profiles shipped with mqtt-sim, by name, embedded in the binary.
const SHIPPED: &[(&str, &str)] = &[
    ("mosquitto", include_str!("../../profiles/mosquitto.yaml")),
    ("aedes", include_str!("../../profiles/aedes.yaml")),
    ("amqtt", include_str!("../../profiles/amqtt.yaml")),
    ("rumqttd", include_str!("../../profiles/rumqttd.yaml")),
    ("rumqttd-v5", include_str!("../../profiles/rumqttd-v5.yaml")),
];

/// The names of the shipped profiles, in a stable order.
pub fn shipped_names() -> impl Iterator<Item = &'static str> {
    SHIPPED.iter().map(|(n, _)| *n)
}

/// What the harness knows of one broker.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The name `only_for` and `not_for` use, and reports show.
    pub name: String,
    /// One line: the broker and the version the profile was written for.
    #[serde(default)]
    pub about: String,
    /// How the harness starts a fresh instance; without it the broker is
    /// only reachable at an address the user gives.
    #[serde(default)]
    pub start: Option<Start>,
    /// The protocol versions it speaks: "3.1.1", "5.0".
    pub protocols: Vec<String>,
    /// Given to every client of a scenario that sets no username of its own.
    #[serde(default)]
    pub credentials: Option<Credentials>,
    /// The scenario broker options (as written in a scenario's `brokers:`
    /// entry, e.g. `max_qos`) that its start configuration reproduces; a
    /// scenario needing another option is skipped with the reason.
    #[serde(default)]
    pub options: Vec<String>,
    /// Documented departures from a MUST of the spec.
    #[serde(default)]
    pub deviations: Vec<Deviation>,
    /// Scenarios expected to fail against it (real bugs found), each with
    /// the spec ids it breaks.
    #[serde(default)]
    pub expected_failures: Vec<ExpectedFailure>,
}

/// How to start the broker on a free loopback port.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    /// A shell command; `{port}` is the port, `{config}` the path of the
    /// written `config` template.
    pub command: String,
    /// A configuration file template; `{port}` is replaced.
    #[serde(default)]
    pub config: Option<String>,
    /// The name the configuration is written under (some brokers read the
    /// format from the extension, e.g. `rumqttd.toml`); `broker.conf` when
    /// absent.
    #[serde(default)]
    pub config_file: Option<String>,
}

/// A username and password.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
}

/// One documented departure from the spec.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    /// The statement ids it departs from.
    pub spec: Vec<String>,
    /// What the broker does instead, and where it is documented.
    pub about: String,
    /// What the invariants must expect instead, when the deviation touches
    /// what they check.
    #[serde(default)]
    pub behaviour: Option<Behaviour>,
}

/// A deviation the invariants follow, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// A takeover publishes the old connection's will unless both the old
    /// and the new connection are persistent.
    TakeoverWillUnlessBothPersistent,
    /// A 5.0 will with a delay waits its whole delay when the session ends
    /// with the connection (session expiry 0).
    WillDelayOutlastsEndedSession,
}

impl Behaviour {
    /// The reference broker's takeover-will setting that reproduces it.
    pub fn takeover_will(self) -> Option<TakeoverWill> {
        match self {
            Behaviour::TakeoverWillUnlessBothPersistent => Some(TakeoverWill::Mosquitto),
            _ => None,
        }
    }
}

/// A scenario expected to fail against the broker.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// The scenario's path under `scenarios/`, without `.yaml`.
    pub scenario: String,
    /// The statement ids the broker breaks there.
    #[serde(default)]
    pub spec: Vec<String>,
    /// What the broker does.
    pub about: String,
    /// The failure depends on timing: a pass is reported, not counted as
    /// unexpected.
    #[serde(default)]
    pub timing: bool,
}

impl Profile {
    /// A shipped profile by name, or a profile file by path: a value with a
    /// `/` or ending in `.yaml`/`.yml` is a path.
    pub fn load(name_or_path: &str) -> Result<Profile, String> {
        let is_path = name_or_path.contains('/')
            || name_or_path.ends_with(".yaml")
            || name_or_path.ends_with(".yml");
        if !is_path {
            return match SHIPPED.iter().find(|(n, _)| *n == name_or_path) {
                Some((n, text)) => Profile::parse(text, &format!("profiles/{n}.yaml")),
                None => Err(unknown(name_or_path)),
            };
        }
        let path = Path::new(name_or_path);
        let text = read_bounded(path)?;
        Profile::parse(&text, name_or_path)
    }

    /// Parses a profile's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Profile, String> {
        let p: Profile = serde_yaml::from_str(text).map_err(|e| match e.location() {
            Some(l) => format!("{origin}:{}:{}: {e}", l.line(), l.column()),
            None => format!("{origin}: {e}"),
        })?;
        p.check().map_err(|e| format!("{origin}: {e}"))?;
        Ok(p)
    }

    fn check(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name == REFERENCE {
            return Err(format!(
                "`name` must be a broker's name, not empty or `{REFERENCE}`"
            ));
        }
        if self.protocols.is_empty() {
            return Err("`protocols` must name at least one of 3.1.1, 5.0".into());
        }
        for v in &self.protocols {
            if v != "3.1.1" && v != "5.0" {
                return Err(format!("`protocols`: `{v}` is not 3.1.1 or 5.0"));
            }
        }
        Ok(())
    }

    /// Whether it speaks the protocol version written as "3.1.1" or "5.0".
    pub fn speaks(&self, version: &str) -> bool {
        self.protocols.iter().any(|v| v == version)
    }

    /// Whether one of its deviations is `b`.
    pub fn has(&self, b: Behaviour) -> bool {
        self.deviations.iter().any(|d| d.behaviour == Some(b))
    }
}

fn unknown(name: &str) -> String {
    let names: Vec<&str> = shipped_names().collect();
    let near = names
        .iter()
        .map(|n| (strsim::levenshtein(n, name), *n))
        .min()
        .filter(|(d, _)| *d <= 2)
        .map(|(_, n)| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
    format!(
        "no broker profile `{name}`{near}; shipped: {}, or give a file's path",
        names.join(", ")
    )
}

fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let shown = path.display();
    let f = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut text = String::new();
    f.take(PROFILE_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{shown}: {e}"))?;
    if text.len() as u64 > PROFILE_BYTES_MAX {
        return Err(format!(
            "{shown}: larger than {PROFILE_BYTES_MAX} bytes; a profile is a short file"
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_loads_under_its_own_name() {
        for name in shipped_names() {
            let p = Profile::load(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.name, name);
        }
    }

    #[test]
    fn an_unknown_name_says_what_is_near_and_what_ships() {
        let e = Profile::load("mosquito").unwrap_err();
        assert!(e.contains("did you mean `mosquitto`"), "{e}");
        assert!(e.contains("aedes, amqtt, rumqttd"), "{e}");
    }

    #[test]
    fn an_unknown_key_is_a_located_error() {
        let e = Profile::parse("name: x\nprotocols: [\"3.1.1\"]\nport: 1\n", "p.yaml").unwrap_err();
        assert!(e.starts_with("p.yaml:3:"), "{e}");
    }

    #[test]
    fn a_protocol_version_must_be_one_the_harness_speaks() {
        let e = Profile::parse("name: x\nprotocols: [\"3.1\"]\n", "p.yaml").unwrap_err();
        assert!(e.contains("`3.1` is not 3.1.1 or 5.0"), "{e}");
    }
}
