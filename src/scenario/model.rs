//! The validated scenario model: what the rest of the harness consumes.
//!
//! Everything here is already checked: durations are resolved, host names
//! refer to hosts that exist, options fit the protocol. Nothing downstream of
//! `scenario` needs to report a file location except expectations and steps,
//! which carry their own line for the trace and the report.

use std::time::Duration;

use bytes::Bytes;
use indexmap::IndexMap;
use rand::Rng;

pub use crate::wire::Properties;

/// A scenario's broker entry is the broker's own configuration; the
/// broker owns the type so that it imports nothing from `scenario`.
pub use crate::broker::{AclRule, Config as BrokerSpec, Mutant, TakeoverWill};

/// The MQTT protocol version a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Protocol {
    #[default]
    V311,
    V5,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::V311 => "3.1.1",
            Protocol::V5 => "5.0",
        }
    }

    /// The protocol level byte of its CONNECT.
    pub fn level(self) -> u8 {
        match self {
            Protocol::V311 => crate::wire::LEVEL_V311,
            Protocol::V5 => crate::wire::LEVEL_V5,
        }
    }
}

/// A duration, or a range a duration is drawn from uniformly at each use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationSpec {
    Fixed(Duration),
    /// Inclusive on both ends; `min <= max` is checked at load time.
    Range(Duration, Duration),
}

impl DurationSpec {
    /// Draws a value. A fixed value draws nothing, so adding a fixed
    /// duration somewhere never shifts the random stream of other consumers.
    pub fn draw(&self, rng: &mut impl Rng) -> Duration {
        match *self {
            DurationSpec::Fixed(d) => d,
            DurationSpec::Range(lo, hi) => {
                let lo_us = lo.as_micros() as u64;
                let hi_us = hi.as_micros() as u64;
                Duration::from_micros(rng.random_range(lo_us..=hi_us))
            }
        }
    }

    /// The smallest value this can draw.
    pub fn min(&self) -> Duration {
        match *self {
            DurationSpec::Fixed(d) | DurationSpec::Range(d, _) => d,
        }
    }

    /// The largest value this can draw.
    pub fn max(&self) -> Duration {
        match *self {
            DurationSpec::Fixed(d) | DurationSpec::Range(_, d) => d,
        }
    }
}

/// A parsed scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `name`, or the file's stem.
    pub name: String,
    pub about: Option<String>,
    /// Normative statement ids, e.g. `MQTT-3.1.4-2`.
    pub spec: Vec<String>,
    pub protocol: Protocol,
    pub seed: u64,
    pub duration: Duration,
    pub network: Network,
    pub brokers: IndexMap<String, BrokerSpec>,
    pub clients: IndexMap<String, ClientSpec>,
    pub faults: Vec<Fault>,
    /// Generated faults; all generators off when the file has no `chaos`.
    pub chaos: Chaos,
    pub expect: Vec<Expectation>,
    /// The view of a run that the snapshot tests keep (`snapshot:`);
    /// `None` keeps the whole text trace.
    pub snapshot: Option<SnapshotView>,
    /// The protocol invariants its runs are checked against
    /// (`invariants:`); every one unless the file says otherwise.
    pub invariants: Invariants,
}

/// The target name of the built-in broker, for `only_for` and `not_for`.
pub const TARGET_REFERENCE: &str = "reference";

/// The name of every protocol invariant, in the order they are reported:
/// what `invariants:` may list. The scenario sits below the invariants and
/// cannot ask them; a test in `crate::invariants` keeps this list equal to
/// theirs.
pub const INVARIANT_NAMES: &[&str] = &[
    "qos1-at-least-once",
    "qos2-exactly-once",
    "ordering",
    "packet-ids",
    "unsubscribe",
    "delivery-matches-subscription",
    "will",
    "keep-alive",
    "session-present",
    "retained",
    "receive-maximum",
    "shared-one-member",
    "dup-on-resend",
    "takeover",
    "topic-alias",
    "retain-flag",
    "message-expiry",
    "bridge-at-least-once",
    "bridge-exactly-once",
    "bridge-ordering",
    "bridge-no-loop",
];

/// Which protocol invariants (`crate::invariants`) a scenario's runs are
/// checked against.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Invariants {
    /// Every one: the default.
    #[default]
    All,
    /// None: `invariants: off`.
    Off,
    /// Only these, by name; each names an invariant (checked at load).
    Only(Vec<String>),
}

impl Invariants {
    /// Whether the named invariant is checked.
    pub fn includes(&self, name: &str) -> bool {
        match self {
            Invariants::All => true,
            Invariants::Off => false,
            Invariants::Only(names) => names.iter().any(|n| n == name),
        }
    }
}

/// A shorter view of a run for its snapshot: the `run --summary` lines,
/// then the `run --client` trace of the chosen clients.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotView {
    pub summary: bool,
    /// Client names, globs with `*` or group names with `{i}`, as
    /// `run --client` takes them.
    pub clients: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// One-way delay of each message (default 1ms).
    pub latency: DurationSpec,
    /// Simulation step as the file sets it; `None` takes [`TICK_DEFAULT`].
    /// Read it with [`Network::tick`].
    pub tick: Option<Duration>,
    pub links: Vec<LinkSpec>,
}

/// The time resolution of packet delivery when the scenario does not set
/// `network.tick`: a packet is due at the first tick after its latency.
pub const TICK_DEFAULT: Duration = Duration::from_millis(1);

impl Network {
    /// The simulation step in force: the file's `tick`, or [`TICK_DEFAULT`].
    /// The engine steps by it and the invariants' timing bounds allow it.
    pub fn tick(&self) -> Duration {
        self.tick.unwrap_or(TICK_DEFAULT)
    }
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency: DurationSpec::Fixed(Duration::from_millis(1)),
            tick: None,
            links: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LinkSpec {
    pub between: (String, String),
    pub latency: DurationSpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ping {
    /// Send PINGREQ when idle for keep_alive; a missing PINGRESP within
    /// keep_alive means the connection is lost (as mqtt.js does).
    #[default]
    Auto,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ack {
    #[default]
    Auto,
    /// Withhold PUBACK and PUBREC.
    Manual,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    /// 5.0 only: the Will Delay Interval, whole seconds.
    pub delay: Duration,
    /// 5.0 only: the other will properties, in the order written.
    pub properties: Properties,
}

/// A 5.0 client's Session Expiry Interval (5.0 section 3.1.2.11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionExpiry {
    /// Whole seconds, less than [`SessionExpiry::NEVER_WIRE`].
    After(Duration),
    /// `never`: the session does not expire (0xFFFFFFFF on the wire).
    Never,
}

impl SessionExpiry {
    /// The value on the wire that means the session never expires.
    pub const NEVER_WIRE: u32 = u32::MAX;

    /// The Session Expiry Interval property's value, in seconds.
    pub fn wire(self) -> u32 {
        match self {
            SessionExpiry::After(d) => u32::try_from(d.as_secs()).unwrap_or(Self::NEVER_WIRE - 1),
            SessionExpiry::Never => Self::NEVER_WIRE,
        }
    }
}

/// The options a CONNECT is built from. A `connect` step may override any.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectOptions {
    /// Default: the host name. Empty sends an empty client id.
    pub client_id: String,
    pub protocol: Protocol,
    /// `clean_session` under 3.1.1, `clean_start` under 5.0.
    pub clean: bool,
    /// 5.0 only; absent sends no Session Expiry Interval, which means 0.
    pub session_expiry: Option<SessionExpiry>,
    /// Zero turns keep-alive off. Whole seconds on the wire.
    pub keep_alive: Duration,
    pub username: Option<String>,
    pub password: Option<String>,
    pub will: Option<Will>,
    /// 5.0 only, and each absent unless the file sets it: the CONNECT
    /// properties Receive Maximum, Maximum Packet Size, Topic Alias Maximum.
    pub receive_maximum: Option<u16>,
    pub maximum_packet_size: Option<u32>,
    pub topic_alias_maximum: Option<u16>,
    /// 5.0 only: CONNECT's user properties, ordered pairs; a name may repeat.
    pub user_properties: Vec<(String, String)>,
    /// Bytes to send instead of a CONNECT built from the fields above
    /// (`connect: {hex: ...}`), for malformed-CONNECT cases. Reconnects send
    /// them again.
    pub raw: Option<Bytes>,
}

/// A partial [`ConnectOptions`]: what a `connect` step overrides.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectOverrides {
    pub client_id: Option<String>,
    pub clean: Option<bool>,
    pub session_expiry: Option<SessionExpiry>,
    pub keep_alive: Option<Duration>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `Some(None)` removes the will for this connect.
    pub will: Option<Option<Will>>,
    pub receive_maximum: Option<u16>,
    pub maximum_packet_size: Option<u32>,
    pub topic_alias_maximum: Option<u16>,
    pub user_properties: Option<Vec<(String, String)>>,
    /// Raw bytes instead of CONNECT; see [`ConnectOptions::raw`].
    pub raw: Option<Bytes>,
}

impl ConnectOptions {
    pub fn with(&self, o: &ConnectOverrides) -> ConnectOptions {
        let mut c = self.clone();
        if let Some(v) = &o.client_id {
            c.client_id = v.clone();
        }
        if let Some(v) = o.clean {
            c.clean = v;
        }
        if let Some(v) = o.session_expiry {
            c.session_expiry = Some(v);
        }
        if let Some(v) = o.keep_alive {
            c.keep_alive = v;
        }
        if let Some(v) = &o.username {
            c.username = Some(v.clone());
        }
        if let Some(v) = &o.password {
            c.password = Some(v.clone());
        }
        if let Some(v) = &o.will {
            c.will = v.clone();
        }
        if let Some(v) = o.receive_maximum {
            c.receive_maximum = Some(v);
        }
        if let Some(v) = o.maximum_packet_size {
            c.maximum_packet_size = Some(v);
        }
        if let Some(v) = o.topic_alias_maximum {
            c.topic_alias_maximum = Some(v);
        }
        if let Some(v) = &o.user_properties {
            c.user_properties = v.clone();
        }
        // Raw bytes belong to one connect step, never to the client.
        c.raw = o.raw.clone();
        c
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientSpec {
    /// The broker host this client connects to.
    pub broker: String,
    pub options: ConnectOptions,
    /// Reconnect this long after losing the connection; `None` means never.
    pub reconnect: Option<DurationSpec>,
    /// How long a connect may take, TCP and CONNACK, before the client
    /// gives it up (mqtt.js's `connectTimeout`).
    pub connect_timeout: Duration,
    pub ping: Ping,
    pub ack: Ack,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Measured from the start of the run; `None` runs right after the
    /// previous step finished (or `after` it).
    pub at: Option<DurationSpec>,
    /// Measured from the end of the previous step (the start of the run for
    /// the first); never set together with `at`.
    pub after: Option<DurationSpec>,
    /// The step finishes when its flow completes (PUBACK, PUBCOMP, SUBACK,
    /// UNSUBACK), not when its packet is written. Only on publish,
    /// subscribe and unsubscribe.
    pub wait: bool,
    /// The step's line in the file, 1-based.
    pub line: usize,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Subscription {
    pub filter: String,
    pub qos: u8,
    /// The 5.0 subscription options; false, false and 0 under 3.1.1.
    pub no_local: bool,
    pub retain_as_published: bool,
    /// 0 send retained messages, 1 only for a new subscription, 2 never.
    pub retain_handling: u8,
}

// A connect step's options are the largest variant; steps are built once
// per file and few, so boxing them would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Connect(ConnectOverrides),
    /// `reason` and `properties` are 5.0 only.
    Disconnect {
        reason: Option<u8>,
        properties: Properties,
    },
    Drop,
    Silence,
    Resume,
    /// `properties` (a Subscription Identifier, user properties) is 5.0 only.
    Subscribe {
        filters: Vec<Subscription>,
        properties: Properties,
    },
    Unsubscribe(Vec<String>),
    Publish {
        /// Empty with a `topic_alias` property: the alias stands for it.
        topic: String,
        payload: Bytes,
        qos: u8,
        retain: bool,
        /// 5.0 only: the PUBLISH properties in the order written.
        properties: Properties,
    },
    /// Raw bytes, written as they are.
    Send(Bytes),
}

impl Action {
    /// The step's name as written in the file.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Connect(_) => "connect",
            Action::Disconnect { .. } => "disconnect",
            Action::Drop => "drop",
            Action::Silence => "silence",
            Action::Resume => "resume",
            Action::Subscribe { .. } => "subscribe",
            Action::Unsubscribe(_) => "unsubscribe",
            Action::Publish { .. } => "publish",
            Action::Send(_) => "send",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub at: DurationSpec,
    pub line: usize,
    pub action: FaultAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Both directions unless `oneway`, in which case only `a -> b`.
    Partition {
        a: String,
        b: String,
        oneway: bool,
    },
    /// `None` heals every partition.
    Heal(Option<(String, String)>),
    Hold(String, String),
    Release(String, String),
    Latency {
        a: String,
        b: String,
        value: DurationSpec,
    },
    Crash(String),
    Restart(String),
}

/// Faults generated from the seed rather than listed by hand. Parsed and
/// validated here; `sim` decides how to run them. Each generator is off when
/// `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chaos {
    pub partitions: Option<ChaosLinks>,
    pub holds: Option<ChaosLinks>,
    pub latency: Option<ChaosLatency>,
    pub crashes: Option<ChaosCrashes>,
    /// `chaos.settle`: how long the run goes on without chaos at its end;
    /// `None` takes [`Scenario::chaos_settle`]'s default.
    pub settle: Option<Duration>,
}

impl Chaos {
    /// Whether any generator is on.
    pub fn is_on(&self) -> bool {
        self.partitions.is_some()
            || self.holds.is_some()
            || self.latency.is_some()
            || self.crashes.is_some()
    }
}

/// `connect_timeout` when a client does not set it (mqtt.js's default).
pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

/// What the default settling time adds for the last redeliveries once the
/// network is whole again.
pub const CHAOS_SETTLE_MARGIN: Duration = Duration::from_secs(1);

impl Scenario {
    /// The remote broker of the bridge named `name` in the trace
    /// (`edge->core`), if one of the brokers has that bridge.
    pub fn bridge_to(&self, name: &str) -> Option<&str> {
        self.brokers
            .values()
            .filter_map(|b| b.bridge.as_ref())
            .find(|b| b.name == name)
            .map(|b| b.to.as_str())
    }

    /// How long a chaos run ends without chaos: `chaos.settle`, or by
    /// default long enough for a connection that chaos left half-open to be
    /// noticed and replaced: the longer of max(2, keep_alive_factor) x the
    /// longest keep-alive (a client's ping and its timeout, or the broker's
    /// expiry) and the longest `connect_timeout` (a CONNACK lost to a
    /// partition), plus the longest reconnect delay, plus
    /// [`CHAOS_SETTLE_MARGIN`]. Only the clients chaos touches count
    /// ([`Scenario::chaos_clients`]).
    pub fn chaos_settle(&self) -> Duration {
        self.chaos_settle_why().0
    }

    /// [`Scenario::chaos_settle`], and how it was reached in words, naming
    /// the clients whose keep-alive, connect timeout and reconnect set it.
    pub fn chaos_settle_why(&self) -> (Duration, String) {
        if let Some(s) = self.chaos.settle {
            return (s, "`chaos.settle`".to_string());
        }
        let touched = self.chaos_clients();
        let clients = || {
            self.clients
                .iter()
                .filter(|(n, _)| touched.iter().any(|t| t == *n))
        };
        let factor = self
            .brokers
            .values()
            .map(|b| b.keep_alive_factor)
            .fold(2.0_f64, f64::max);
        let longest = |f: &dyn Fn(&ClientSpec) -> Duration| -> (Duration, String) {
            clients().map(|(n, c)| (f(c), n.clone())).fold(
                (Duration::ZERO, String::new()),
                |best, x| {
                    if x.0 > best.0 { x } else { best }
                },
            )
        };
        let (keep_alive, ka_client) = longest(&|c| c.options.keep_alive);
        let (reconnect, re_client) = longest(&|c| c.reconnect.map(|r| r.max()).unwrap_or_default());
        let (connect, ct_client) = longest(&|c| c.connect_timeout);
        let secs = |d: Duration| format!("{}s", d.as_secs_f64());
        let waiting = keep_alive.mul_f64(factor);
        let mut why = if waiting >= connect {
            format!(
                "{factor} x the keep-alive {} of `{ka_client}`",
                secs(keep_alive)
            )
        } else {
            format!("the connect timeout {} of `{ct_client}`", secs(connect))
        };
        if !reconnect.is_zero() {
            why.push_str(&format!(
                " + the reconnect delay {} of `{re_client}`",
                secs(reconnect)
            ));
        }
        why.push_str(&format!(" + {} margin", secs(CHAOS_SETTLE_MARGIN)));
        (waiting.max(connect) + reconnect + CHAOS_SETTLE_MARGIN, why)
    }

    /// The clients chaos can disturb: those in a pair of its partitions,
    /// holds or latency, and the clients of a broker it may crash (or a
    /// client it may crash). Every client when none is named.
    pub fn chaos_clients(&self) -> Vec<String> {
        let c = &self.chaos;
        let mut linked: Vec<&str> = Vec::new();
        for links in [&c.partitions, &c.holds].into_iter().flatten() {
            linked.extend(
                links
                    .between
                    .iter()
                    .flat_map(|(a, b)| [a.as_str(), b.as_str()]),
            );
        }
        if let Some(l) = &c.latency {
            linked.extend(l.between.iter().flat_map(|(a, b)| [a.as_str(), b.as_str()]));
        }
        let crashed: Vec<&str> = c
            .crashes
            .iter()
            .flat_map(|k| k.hosts.iter().map(String::as_str))
            .collect();
        let touched: Vec<String> = self
            .clients
            .iter()
            .filter(|(n, spec)| {
                linked.contains(&n.as_str())
                    || crashed.contains(&n.as_str())
                    || crashed.contains(&spec.broker.as_str())
            })
            .map(|(n, _)| n.clone())
            .collect();
        if touched.is_empty() {
            self.clients.keys().cloned().collect()
        } else {
            touched
        }
    }

    /// When chaos stops generating faults: every generated fault has ended
    /// by then, and the rest of the run settles.
    pub fn chaos_end(&self) -> Duration {
        self.duration.saturating_sub(self.chaos_settle())
    }
}

/// A generator that acts on links: one event every `every`, each `lasting`
/// that long, on a link drawn from `between`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChaosLinks {
    pub every: DurationSpec,
    pub lasting: DurationSpec,
    /// Host pairs, `clients` already expanded. When the file gives no
    /// `between`, every client paired with its broker.
    pub between: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChaosLatency {
    pub every: DurationSpec,
    pub lasting: DurationSpec,
    /// The delay a link gets while the event lasts.
    pub value: DurationSpec,
    /// As in [`ChaosLinks::between`].
    pub between: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChaosCrashes {
    pub every: DurationSpec,
    /// Hosts a crash is drawn from, `clients` already expanded.
    pub hosts: Vec<String>,
    /// When set, a crashed broker restarts this long after its crash.
    /// Clients are never restarted.
    pub restart_after: Option<DurationSpec>,
}

/// How many matching events an expectation wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Exactly(usize),
    AtLeast(usize),
    AtMost(usize),
}

impl Count {
    pub fn holds(&self, n: usize) -> bool {
        match *self {
            Count::Exactly(k) => n == k,
            Count::AtLeast(k) => n >= k,
            Count::AtMost(k) => n <= k,
        }
    }
}

/// Which direction a packet matcher looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Send,
    Recv,
}

/// Who closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedBy {
    Broker,
    Client,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// A packet the client sent or received, compared field by field against
    /// the packet's JSON form (see `trace`). Only the named fields count. A
    /// `topic` field is matched as a topic filter, so `will/#` works.
    /// `receives` and `connack` in the file become this with `type` set.
    Packet {
        direction: Direction,
        fields: serde_json::Map<String, serde_json::Value>,
        /// `first: true`: only the first packet in this direction on its
        /// connection can match.
        first: bool,
    },
    /// The client's connection was closed; `by: None` matches either side.
    Closed { by: Option<ClosedBy> },
    /// `sequence`: these matchers match the client's events in this order,
    /// other events between them allowed. Never nested, never empty.
    Sequence(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// The expectation's line in the file, 1-based.
    pub line: usize,
    /// Whose side of the wire, as reports name it: the client, or for
    /// `clients`, the list or group as written.
    pub client: String,
    /// The clients whose events count, together: `client` alone, or the
    /// members of `clients`.
    pub clients: Vec<String>,
    pub matcher: Matcher,
    pub count: Count,
    /// Inclusive window of simulated time.
    pub within: Option<(Duration, Duration)>,
    pub only_for: Option<Vec<String>>,
    pub not_for: Option<Vec<String>>,
    /// The statement ids it rests on (`spec:` on the expectation).
    pub spec: Vec<String>,
    /// Binding when one of `spec` is a MUST or MUST NOT statement.
    pub force: Force,
}

/// What a verdict weighs against a target other than the reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Force {
    /// It states a MUST or MUST NOT of the spec: failing it fails any target.
    Binding,
    /// The spec allows other behaviour (MAY, SHOULD, or silence) and the
    /// reference chose this one: another target may differ.
    #[default]
    Choice,
}

impl Force {
    /// `binding` or `choice`, as reports write it.
    pub fn name(self) -> &'static str {
        match self {
            Force::Binding => "binding",
            Force::Choice => "choice",
        }
    }
}

impl Expectation {
    /// Whether this expectation applies to the named target.
    pub fn applies_to(&self, target: &str) -> bool {
        self.left_out_for(target).is_none()
    }

    /// Why the expectation does not apply to the named target, or `None`
    /// when it does.
    pub fn left_out_for(&self, target: &str) -> Option<String> {
        if let Some(only) = &self.only_for
            && !only.iter().any(|t| t == target)
        {
            return Some(format!("only for {}", only.join(", ")));
        }
        if let Some(not) = &self.not_for
            && not.iter().any(|t| t == target)
        {
            return Some(format!("not for {}", not.join(", ")));
        }
        None
    }
}
