//! The file as serde reads it: one struct per map of the format, with
//! `deny_unknown_fields` everywhere. Value-level checks (durations, QoS,
//! host name spelling, payloads) happen inside their types' visitors, so
//! serde_yaml reports them at the value. Cross-references (does this host
//! exist? does this option fit the protocol?) are left to `validate`.

use std::fmt;
use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::duration::{Dur, FixedDur, Secs16, Secs32, Window};
use super::payload::{Hex, RawPayload};
use super::values::{Empty, Fields, HostKeys, OrderedMap, ProtocolValue, Qos, present};
use crate::scenario::model::{Ack, ClosedBy, Mutant, Ping, SessionExpiry, TakeoverWill};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// The scenario format version the file is written for (default 1).
    #[schemars(range(min = super::format::FORMAT_VERSION_MIN, max = super::format::FORMAT_VERSION))]
    pub format: Option<u64>,
    pub name: Option<String>,
    pub about: Option<String>,
    pub spec: Option<Vec<String>>,
    pub protocol: Option<ProtocolValue>,
    pub seed: Option<u64>,
    pub duration: Option<FixedDur>,
    pub network: Option<RawNetwork>,
    pub brokers: Option<OrderedMap<Option<RawBroker>, HostKeys>>,
    pub clients: Option<OrderedMap<Option<RawClient>, super::groups::ClientKeys>>,
    pub faults: Option<Vec<Timed<RawFaultAction>>>,
    pub chaos: Option<RawChaos>,
    pub expect: Option<Vec<RawExpect>>,
    pub snapshot: Option<RawSnapshot>,
    pub invariants: Option<RawInvariants>,
    /// `trace_only: true`: the file knowingly checks nothing on a run (no
    /// expectations, `invariants: off`); its trace snapshot is its test.
    pub trace_only: Option<bool>,
}

/// `invariants: off`, or the list of the invariants to check.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged, expecting = "`off`, or a list of invariant names")]
pub enum RawInvariants {
    Off(RawOff),
    Only(Vec<String>),
}

/// The word `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawOff {
    Off,
}

/// `snapshot:`, the view of the trace that the test suite snapshots.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSnapshot {
    pub summary: Option<bool>,
    pub clients: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub latency: Option<Dur>,
    pub tick: Option<FixedDur>,
    pub links: Option<Vec<RawLink>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    pub between: Vec<String>,
    pub latency: Dur,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBroker {
    pub keep_alive_factor: Option<f64>,
    pub max_keep_alive: Option<Secs16>,
    pub max_qos: Option<Qos>,
    pub persistence: Option<bool>,
    pub users: Option<OrderedMap<String>>,
    pub allow_anonymous: Option<bool>,
    pub takeover_will: Option<RawTakeoverWill>,
    pub acl: Option<Vec<RawAclRule>>,
    pub strict_strings: Option<bool>,
    pub session_expiry_max: Option<Secs32>,
    pub receive_maximum: Option<u16>,
    pub maximum_packet_size: Option<u32>,
    pub topic_alias_maximum: Option<u16>,
    pub retain_available: Option<bool>,
    pub wildcard_subscription_available: Option<bool>,
    pub shared_subscription_available: Option<bool>,
    pub subscription_identifiers_available: Option<bool>,
    pub persistent_session_expiry: Option<Secs32>,
    pub sessions_max: Option<usize>,
    pub queued_bytes_max: Option<usize>,
    /// A bridge to another broker of the scenario.
    pub bridge: Option<super::raw_bridge::RawBridge>,
    /// Test-only: see [`Mutant`].
    pub mutant: Option<RawMutant>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAclRule {
    pub deny: RawAclActions,
    pub topic: String,
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawAclAction {
    Subscribe,
    Publish,
}

/// `deny: publish` or `deny: [subscribe, publish]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged, expecting = "`subscribe`, `publish`, or a list of them")]
pub enum RawAclActions {
    One(RawAclAction),
    Many(Vec<RawAclAction>),
}

impl RawAclActions {
    pub fn contains(&self, a: RawAclAction) -> bool {
        match self {
            RawAclActions::One(x) => *x == a,
            RawAclActions::Many(v) => v.contains(&a),
        }
    }
}

/// A mutant's kebab-case name; the names live once, in [`Mutant::name`].
#[derive(Debug, Clone, Copy)]
pub struct RawMutant(pub Mutant);

impl<'de> Deserialize<'de> for RawMutant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Mutant::ALL
            .iter()
            .find(|m| m.name() == name)
            .map(|m| RawMutant(*m))
            .ok_or_else(|| {
                let names: Vec<String> = Mutant::ALL
                    .iter()
                    .map(|m| format!("`{}`", m.name()))
                    .collect();
                serde::de::Error::custom(format!(
                    "unknown variant `{name}`, expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

impl From<RawMutant> for Mutant {
    fn from(v: RawMutant) -> Self {
        v.0
    }
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawTakeoverWill {
    Spec,
    Mosquitto,
    Never,
}

impl From<RawTakeoverWill> for TakeoverWill {
    fn from(v: RawTakeoverWill) -> Self {
        match v {
            RawTakeoverWill::Spec => TakeoverWill::Spec,
            RawTakeoverWill::Mosquitto => TakeoverWill::Mosquitto,
            RawTakeoverWill::Never => TakeoverWill::Never,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawPing {
    Auto,
    Off,
}

impl From<RawPing> for Ping {
    fn from(v: RawPing) -> Self {
        match v {
            RawPing::Auto => Ping::Auto,
            RawPing::Off => Ping::Off,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawAck {
    Auto,
    Manual,
}

impl From<RawAck> for Ack {
    fn from(v: RawAck) -> Self {
        match v {
            RawAck::Auto => Ack::Auto,
            RawAck::Manual => Ack::Manual,
        }
    }
}

/// The options that build a CONNECT, shared by a client and its `connect`
/// steps.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConnect {
    pub client_id: Option<String>,
    pub clean_session: Option<bool>,
    pub clean_start: Option<bool>,
    pub session_expiry: Option<RawSessionExpiry>,
    pub keep_alive: Option<Secs16>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `will: ~` in a `connect` step removes the client's will.
    #[serde(default, deserialize_with = "present")]
    pub will: Option<Option<RawWill>>,
    pub receive_maximum: Option<u16>,
    pub maximum_packet_size: Option<u32>,
    pub topic_alias_maximum: Option<u16>,
    /// Ordered `[name, value]` pairs; a name may repeat.
    pub user_properties: Option<Vec<(String, String)>>,

    /// Bytes sent instead of a CONNECT built from the options, for
    /// malformed-CONNECT cases; only in a `connect` step.
    pub hex: Option<Hex>,
}

/// A client: its own options plus the CONNECT options, listed again rather
/// than flattened because serde's `flatten` defeats both
/// `deny_unknown_fields` and serde_yaml's error positions.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    pub broker: Option<String>,
    pub protocol: Option<ProtocolValue>,
    pub reconnect: Option<Dur>,
    pub connect_timeout: Option<FixedDur>,
    pub ping: Option<RawPing>,
    pub ack: Option<RawAck>,
    pub steps: Option<Vec<Timed<RawAction>>>,
    pub client_id: Option<String>,
    pub clean_session: Option<bool>,
    pub clean_start: Option<bool>,
    pub session_expiry: Option<RawSessionExpiry>,
    pub keep_alive: Option<Secs16>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub will: Option<RawWill>,
    pub receive_maximum: Option<u16>,
    pub maximum_packet_size: Option<u32>,
    pub topic_alias_maximum: Option<u16>,
    /// Ordered `[name, value]` pairs; a name may repeat.
    pub user_properties: Option<Vec<(String, String)>>,

    /// Makes the entry a client group of this many members (`groups`).
    pub count: Option<u64>,
}

impl RawClient {
    /// Moves the CONNECT options out, leaving the rest.
    pub fn take_connect(&mut self) -> RawConnect {
        RawConnect {
            client_id: self.client_id.take(),
            clean_session: self.clean_session.take(),
            clean_start: self.clean_start.take(),
            session_expiry: self.session_expiry.take(),
            keep_alive: self.keep_alive.take(),
            username: self.username.take(),
            password: self.password.take(),
            will: self.will.take().map(Some),
            receive_maximum: self.receive_maximum.take(),
            maximum_packet_size: self.maximum_packet_size.take(),
            topic_alias_maximum: self.topic_alias_maximum.take(),
            user_properties: self.user_properties.take(),
            hex: None,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWill {
    pub topic: String,
    #[serde(default)]
    pub payload: RawPayload,
    #[serde(default)]
    pub qos: Qos,
    #[serde(default)]
    pub retain: bool,
    pub delay: Option<Secs32>,
    /// 5.0 will properties by their spec names.
    #[serde(default)]
    #[schemars(schema_with = "super::schema::will_properties")]
    pub properties: Option<Fields>,
}

/// `session_expiry`: a duration in whole seconds, or `never`.
#[derive(Debug, Clone, Copy)]
pub struct RawSessionExpiry(pub SessionExpiry);

impl<'de> Deserialize<'de> for RawSessionExpiry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSessionExpiry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number of seconds such as `300s`, or `never`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSessionExpiry, E> {
                if v.trim() == "never" {
                    return Ok(RawSessionExpiry(SessionExpiry::Never));
                }
                let d = Secs32::deserialize(de::value::StrDeserializer::<E>::new(v))?.0;
                whole_seconds(d, v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSessionExpiry, E> {
                let d = Secs32::deserialize(de::value::U64Deserializer::<E>::new(v))?.0;
                whole_seconds(d, &v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSessionExpiry, E> {
                let d = Secs32::deserialize(de::value::I64Deserializer::<E>::new(v))?.0;
                whole_seconds(d, &v.to_string())
            }
        }
        fn whole_seconds<E: de::Error>(
            d: std::time::Duration,
            v: &str,
        ) -> Result<RawSessionExpiry, E> {
            if d.subsec_nanos() != 0 {
                return Err(E::custom(format!(
                    "`{}` is not a whole number of seconds; the session expiry goes on the wire in seconds",
                    v.trim()
                )));
            }
            Ok(RawSessionExpiry(SessionExpiry::After(d)))
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDisconnect {
    pub reason: Option<u8>,
    #[serde(default)]
    #[schemars(schema_with = "super::schema::disconnect_properties")]
    pub properties: Option<Fields>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSubscription {
    pub filter: String,
    #[serde(default)]
    pub qos: Qos,
    pub no_local: Option<bool>,
    pub retain_as_published: Option<bool>,
    pub retain_handling: Option<u8>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSubscribe {
    pub filter: Option<String>,
    pub qos: Option<Qos>,
    pub no_local: Option<bool>,
    pub retain_as_published: Option<bool>,
    pub retain_handling: Option<u8>,
    pub filters: Option<Vec<RawSubscription>>,
    /// 5.0 SUBSCRIBE properties.
    #[serde(default)]
    #[schemars(schema_with = "super::schema::subscribe_properties")]
    pub properties: Option<Fields>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUnsubscribeFilter {
    pub filter: String,
}

/// `unsubscribe: {filters: [...]}` takes bare strings or `{filter}` maps.
#[derive(Debug)]
pub struct RawUnsubscribeItem(pub String);

impl<'de> Deserialize<'de> for RawUnsubscribeItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawUnsubscribeItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a topic filter, or `{filter: ...}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawUnsubscribeItem, E> {
                Ok(RawUnsubscribeItem(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawUnsubscribeItem, A::Error> {
                let f =
                    RawUnsubscribeFilter::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawUnsubscribeItem(f.filter))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUnsubscribe {
    pub filter: Option<String>,
    pub filters: Option<Vec<RawUnsubscribeItem>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPublish {
    pub topic: String,
    #[serde(default)]
    pub payload: RawPayload,
    #[serde(default)]
    pub qos: Qos,
    #[serde(default)]
    pub retain: bool,
    /// 5.0 PUBLISH properties.
    #[serde(default)]
    #[schemars(schema_with = "super::schema::publish_properties")]
    pub properties: Option<Fields>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSend {
    pub hex: Hex,
}

#[derive(Debug)]
pub enum RawAction {
    Connect(RawConnect),
    Disconnect(RawDisconnect),
    Drop,
    Silence,
    Resume,
    Subscribe(RawSubscribe),
    Unsubscribe(RawUnsubscribe),
    Publish(RawPublish),
    Send(RawSend),
}

/// The set of action keys a timed map ([`Timed`]) may hold.
pub trait ActionSet: Sized {
    /// What one item is called in messages: "step", "fault".
    const WHAT: &'static str;
    const NAMES: &'static [&'static str];
    /// Whether `after` and `wait` are accepted besides `at` (steps: yes;
    /// faults, which have no "before" to be after: no).
    const STEP_TIMING: bool;
    /// Reads the value of action `name`, one of [`Self::NAMES`].
    fn read<'de, M: MapAccess<'de>>(name: &str, map: &mut M) -> Result<Self, M::Error>;
}

impl ActionSet for RawAction {
    const WHAT: &'static str = "step";
    const STEP_TIMING: bool = true;
    const NAMES: &'static [&'static str] = &[
        "connect",
        "disconnect",
        "drop",
        "silence",
        "resume",
        "subscribe",
        "unsubscribe",
        "publish",
        "send",
    ];

    fn read<'de, M: MapAccess<'de>>(name: &str, map: &mut M) -> Result<Self, M::Error> {
        Ok(match name {
            "connect" => RawAction::Connect(map.next_value::<Option<_>>()?.unwrap_or_default()),
            "disconnect" => {
                RawAction::Disconnect(map.next_value::<Option<_>>()?.unwrap_or_default())
            }
            "drop" => {
                map.next_value::<Option<Empty>>()?;
                RawAction::Drop
            }
            "silence" => {
                map.next_value::<Option<Empty>>()?;
                RawAction::Silence
            }
            "resume" => {
                map.next_value::<Option<Empty>>()?;
                RawAction::Resume
            }
            "subscribe" => RawAction::Subscribe(map.next_value()?),
            "unsubscribe" => RawAction::Unsubscribe(map.next_value()?),
            "publish" => RawAction::Publish(map.next_value()?),
            _ => RawAction::Send(map.next_value()?),
        })
    }
}

/// `partition: [a, b]` or `partition: {from: a, to: b}`.
#[derive(Debug)]
pub enum RawPartition {
    Both(Vec<String>),
    OneWay { from: String, to: String },
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOneWay {
    from: String,
    to: String,
}

impl<'de> Deserialize<'de> for RawPartition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPartition;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("two hosts `[a, b]`, or one direction `{from: a, to: b}`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawPartition, A::Error> {
                Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(RawPartition::Both)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawPartition, A::Error> {
                let w = RawOneWay::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawPartition::OneWay {
                    from: w.from,
                    to: w.to,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `heal: [a, b]` or `heal: all`.
#[derive(Debug)]
pub enum RawHeal {
    All,
    Pair(Vec<String>),
}

impl<'de> Deserialize<'de> for RawHeal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("two hosts `[a, b]`, or `all`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawHeal, E> {
                if v == "all" {
                    Ok(RawHeal::All)
                } else {
                    Err(E::custom(format!(
                        "`heal: {v}` is not understood, expected two hosts `[a, b]` or `all`"
                    )))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawHeal, A::Error> {
                Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(RawHeal::Pair)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLatencyFault {
    pub between: Vec<String>,
    pub value: Dur,
}

#[derive(Debug)]
pub enum RawFaultAction {
    Partition(RawPartition),
    Heal(RawHeal),
    Hold(Vec<String>),
    Release(Vec<String>),
    Latency(RawLatencyFault),
    Crash(String),
    Restart(String),
}

impl ActionSet for RawFaultAction {
    const WHAT: &'static str = "fault";
    const STEP_TIMING: bool = false;
    const NAMES: &'static [&'static str] = &[
        "partition",
        "heal",
        "hold",
        "release",
        "latency",
        "crash",
        "restart",
    ];

    fn read<'de, M: MapAccess<'de>>(name: &str, map: &mut M) -> Result<Self, M::Error> {
        Ok(match name {
            "partition" => RawFaultAction::Partition(map.next_value()?),
            "heal" => RawFaultAction::Heal(map.next_value()?),
            "hold" => RawFaultAction::Hold(map.next_value()?),
            "release" => RawFaultAction::Release(map.next_value()?),
            "latency" => RawFaultAction::Latency(map.next_value()?),
            "crash" => RawFaultAction::Crash(map.next_value()?),
            _ => RawFaultAction::Restart(map.next_value()?),
        })
    }
}

/// A map with exactly one action key from `A::NAMES` plus an optional
/// `at` (and, for steps, `after` and `wait`). Missing and doubled actions
/// are reported at the map.
#[derive(Debug)]
pub struct Timed<A> {
    pub at: Option<Dur>,
    pub after: Option<Dur>,
    pub wait: Option<bool>,
    pub action: A,
}

enum TimedKey {
    At,
    After,
    Wait,
    Action(&'static str),
}

struct TimedKeySeed<A>(PhantomData<A>);

impl<'de, A: ActionSet> DeserializeSeed<'de> for TimedKeySeed<A> {
    type Value = TimedKey;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TimedKey, D::Error> {
        d.deserialize_str(self)
    }
}

impl<A: ActionSet> Visitor<'_> for TimedKeySeed<A> {
    type Value = TimedKey;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} name", A::WHAT)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<TimedKey, E> {
        match v {
            "at" => return Ok(TimedKey::At),
            "after" if A::STEP_TIMING => return Ok(TimedKey::After),
            "wait" if A::STEP_TIMING => return Ok(TimedKey::Wait),
            _ => {}
        }
        match A::NAMES.iter().find(|n| **n == v) {
            Some(n) => Ok(TimedKey::Action(n)),
            None => Err(E::custom(format!(
                "unknown {} `{v}`, expected one of {}",
                A::WHAT,
                A::NAMES.join(", ")
            ))),
        }
    }
}

impl<'de, A: ActionSet> Deserialize<'de> for Timed<A> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<A>(PhantomData<A>);
        impl<'de, A: ActionSet> Visitor<'de> for V<A> {
            type Value = Timed<A>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a {} (a map with one of {} and an optional `at`)",
                    A::WHAT,
                    A::NAMES.join(", ")
                )
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Timed<A>, M::Error> {
                let mut at: Option<Dur> = None;
                let mut after: Option<Dur> = None;
                let mut wait: Option<bool> = None;
                let mut action: Option<(&'static str, A)> = None;
                fn once<'de, M: MapAccess<'de>, T: Deserialize<'de>>(
                    slot: &mut Option<T>,
                    name: &str,
                    map: &mut M,
                ) -> Result<(), M::Error> {
                    if slot.is_some() {
                        return Err(de::Error::custom(format!("duplicate field `{name}`")));
                    }
                    *slot = Some(map.next_value()?);
                    Ok(())
                }
                while let Some(key) = map.next_key_seed(TimedKeySeed::<A>(PhantomData))? {
                    match key {
                        TimedKey::At => once(&mut at, "at", &mut map)?,
                        TimedKey::After => once(&mut after, "after", &mut map)?,
                        TimedKey::Wait => once(&mut wait, "wait", &mut map)?,
                        TimedKey::Action(name) => {
                            if let Some((first, _)) = &action {
                                return Err(de::Error::custom(format!(
                                    "a {} has exactly one action, but this one has `{first}` and `{name}`",
                                    A::WHAT
                                )));
                            }
                            action = Some((name, A::read(name, &mut map)?));
                        }
                    }
                }
                match action {
                    Some((_, action)) => Ok(Timed {
                        at,
                        after,
                        wait,
                        action,
                    }),
                    None => Err(de::Error::custom(format!(
                        "this {} has no action, expected one of {}",
                        A::WHAT,
                        A::NAMES.join(", ")
                    ))),
                }
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChaos {
    pub partitions: Option<RawChaosLinks>,
    pub holds: Option<RawChaosLinks>,
    pub latency: Option<RawChaosLatency>,
    pub crashes: Option<RawChaosCrashes>,
    pub settle: Option<FixedDur>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChaosLinks {
    pub every: Dur,
    pub lasting: Dur,
    pub between: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChaosLatency {
    pub every: Dur,
    pub lasting: Dur,
    pub value: Dur,
    pub between: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChaosCrashes {
    pub every: Dur,
    pub hosts: Vec<String>,
    pub restart_after: Option<Dur>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawClosedBy {
    Broker,
    Client,
}

impl From<RawClosedBy> for ClosedBy {
    fn from(v: RawClosedBy) -> Self {
        match v {
            RawClosedBy::Broker => ClosedBy::Broker,
            RawClosedBy::Client => ClosedBy::Client,
        }
    }
}

/// `clients: [a, b]`, or `clients: w-{i}` for a client group's members;
/// the pass over groups turns a group's name into the list of its members.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a list of client names, or a client group's name"
)]
pub enum RawClientList {
    Group(String),
    Many(Vec<String>),
}

/// One matcher of a `sequence`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "super::schema::receives")]
    pub receives: Option<Fields>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "super::schema::connack")]
    pub connack: Option<Fields>,
    #[serde(default, deserialize_with = "present")]
    pub closed: Option<Option<RawClosed>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "super::schema::any_packet")]
    pub recv: Option<Fields>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "super::schema::any_packet")]
    pub send: Option<Fields>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawClosed {
    pub by: Option<RawClosedBy>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub client: Option<String>,
    /// Several clients counted together: a list, or a client group's name.
    pub clients: Option<RawClientList>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "super::schema::receives")]
    pub receives: Option<Fields>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "super::schema::connack")]
    pub connack: Option<Fields>,
    #[serde(default, deserialize_with = "present")]
    pub closed: Option<Option<RawClosed>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "super::schema::any_packet")]
    pub recv: Option<Fields>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "super::schema::any_packet")]
    pub send: Option<Fields>,
    /// Matchers that must match the client's events in this order.
    pub sequence: Option<Vec<RawStep>>,
    pub count: Option<usize>,
    pub at_least: Option<usize>,
    pub at_most: Option<usize>,
    pub within: Option<Window>,
    pub only_for: Option<Vec<String>>,
    pub not_for: Option<Vec<String>>,
    pub spec: Option<Vec<String>>,
}
