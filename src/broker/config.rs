//! The reference broker's configuration: what a scenario's broker entry
//! and `serve --config` set. The broker owns these types; the scenario
//! model re-exports them (`scenario::BrokerSpec` is [`Config`]), so that
//! the broker depends on nothing of the scenario format.

use std::time::Duration;

use indexmap::IndexMap;

/// The default `maximum_packet_size`: the wire module's own read limit.
pub const MAXIMUM_PACKET_SIZE_DEFAULT: u32 = crate::wire::PACKET_SIZE_MAX_DEFAULT as u32;
/// The default `topic_alias_maximum`, as the scenario format gives it.
pub const TOPIC_ALIAS_MAXIMUM_DEFAULT: u16 = 10;

/// The options of one reference broker. `Default` is the broker of
/// `brokers: {broker: {}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub keep_alive_factor: f64,
    /// 5.0 server keep alive override; zero means none.
    pub max_keep_alive: Duration,
    pub max_qos: u8,
    pub persistence: bool,
    /// When present, CONNECT must carry a matching login.
    pub users: Option<IndexMap<String, String>>,
    pub allow_anonymous: bool,
    pub takeover_will: TakeoverWill,
    /// Access control: rules that deny subscribing or publishing, in file
    /// order. Empty allows everything.
    pub acl: Vec<AclRule>,
    /// Close a connection whose strings hold control characters
    /// (U+0001..U+001F, U+007F..U+009F), as MQTT 3.1.1 section 1.5.3 allows.
    pub strict_strings: bool,
    /// 5.0: the longest session expiry granted; a client asking for more
    /// (or for `never`) gets this, and CONNACK says so. `None`: no cap.
    pub session_expiry_max: Option<Duration>,
    /// 5.0: QoS 1 and 2 PUBLISH packets a client may have unacknowledged
    /// towards the broker (CONNACK receive maximum); 65535 means no limit.
    pub receive_maximum: u16,
    /// The largest packet the broker reads, fixed header included, in bytes
    /// (5.0 CONNACK maximum packet size). Applies to 3.1.1 connections too.
    pub maximum_packet_size: u32,
    /// 5.0: the highest inbound topic alias accepted; 0 means none.
    pub topic_alias_maximum: u16,
    /// 5.0: whether retained messages are supported (CONNACK retain available).
    pub retain_available: bool,
    pub wildcard_subscription_available: bool,
    pub shared_subscription_available: bool,
    pub subscription_identifiers_available: bool,
    /// 3.1.1: how long a clean session 0 session outlives its connection;
    /// `None` keeps it until it is evicted (the 3.1.1 default).
    pub persistent_session_expiry: Option<Duration>,
    /// Stored sessions at most; see [`SESSIONS_MAX`](super::SESSIONS_MAX),
    /// its default. Lower only to test the limit without 10,000 clients.
    pub sessions_max: usize,
    /// Topic, payload and property bytes waiting in one session's queue at most; see
    /// [`QUEUED_BYTES_MAX`](super::QUEUED_BYTES_MAX), its default.
    pub queued_bytes_max: usize,
    /// Bounds on what one client can make the broker hold or do: `serve`
    /// options, defaults in `src/broker/mod.rs`. Not in scenario files.
    pub limits: Limits,
    /// A bridge to another broker (`bridge.rs`); `None`: no bridge.
    pub bridge: Option<super::Bridge>,
    /// Test-only: a deliberately broken broker, to show that scenarios and
    /// `explore` catch the bug. `None` in every real scenario.
    pub mutant: Option<Mutant>,
}

/// The limits that keep one client from crashing, starving or exhausting
/// the broker. Each has a constant in `src/broker/mod.rs` for its default
/// and a `serve` flag of the same name (`--topic-levels-max`); hitting one
/// is a note (a log line under `serve`) and, where the protocol has one, a
/// reason code.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Levels in a topic name or filter, at most (a PUBLISH, SUBSCRIBE or
    /// will beyond closes the connection, as mosquitto does above 200).
    pub topic_levels_max: usize,
    /// Subscriptions per session at most; a filter beyond gets SUBACK 0x80
    /// (5.0: 0x97).
    pub subscriptions_max: usize,
    /// Open TCP connections at most, with or without CONNECT.
    pub connections_max: usize,
    /// Connections that have not sent CONNECT yet, at most: one more
    /// closes the oldest of them, so that a flood of silent connections
    /// cannot keep a real client from getting in.
    pub connecting_max: usize,
    /// How long a new connection may take to send CONNECT.
    pub connect_wait: Duration,
    /// Whether clients may publish (and retain, and leave wills) under
    /// `$SYS`, the server's own topics (5.0 section 4.7.2). True in
    /// simulation, where scenarios publish there to test `$` matching;
    /// `serve` denies it unless `--allow-sys-publish`, as mosquitto does.
    pub sys_publish: bool,
    /// After a DISCONNECT with a reason code, how long the broker reads
    /// (and discards) what the client still sends before it closes, so
    /// that closing with unread input does not reset the connection and
    /// destroy the DISCONNECT. Zero in simulation, where no reset happens
    /// and traces stay as they were; `serve` uses `FAREWELL_DRAIN`.
    pub farewell_drain: Duration,
    /// Bytes held at once, across all connections, for packets whose
    /// header has arrived but not yet all of their body (beyond the first
    /// 4 KiB of each connection's buffer). A connection whose packet would
    /// take more is closed (5.0: DISCONNECT 0x97, or CONNACK 0x97 for a
    /// CONNECT). Each connection also holds at most its packet, and no more
    /// than twice what has arrived of it.
    pub unfinished_bytes_max: usize,
    /// Retained messages one SUBSCRIBE may examine to find those its
    /// wildcard filters match; a filter whose lookup would pass it is
    /// refused (SUBACK 0x80, 5.0: 0x97), so that one packet cannot hold
    /// the broker's one thread for long.
    pub retained_scan_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            topic_levels_max: super::TOPIC_LEVELS_MAX,
            subscriptions_max: super::SUBSCRIPTIONS_MAX,
            connections_max: super::CONNECTIONS_MAX,
            connecting_max: super::CONNECTING_MAX,
            connect_wait: super::CONNECT_WAIT,
            sys_publish: true,
            farewell_drain: Duration::ZERO,
            unfinished_bytes_max: super::UNFINISHED_BYTES_MAX,
            retained_scan_max: super::RETAINED_SCAN_MAX,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            keep_alive_factor: 1.5,
            max_keep_alive: Duration::ZERO,
            max_qos: 2,
            persistence: false,
            users: None,
            allow_anonymous: true,
            takeover_will: TakeoverWill::Spec,
            acl: Vec::new(),
            strict_strings: true,
            session_expiry_max: None,
            receive_maximum: u16::MAX,
            maximum_packet_size: MAXIMUM_PACKET_SIZE_DEFAULT,
            topic_alias_maximum: TOPIC_ALIAS_MAXIMUM_DEFAULT,
            retain_available: true,
            wildcard_subscription_available: true,
            shared_subscription_available: true,
            subscription_identifiers_available: true,
            persistent_session_expiry: None,
            sessions_max: super::SESSIONS_MAX,
            queued_bytes_max: super::QUEUED_BYTES_MAX,
            limits: Limits::default(),
            bridge: None,
            mutant: None,
        }
    }
}

/// What a takeover does with the old connection's will.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TakeoverWill {
    /// Published: the old connection closed without DISCONNECT.
    #[default]
    Spec,
    /// Published unless both the old and the new connection are persistent.
    Mosquitto,
    /// Never published on a takeover.
    Never,
}

/// One access control rule: it denies the named actions on topics matching
/// `filter`, for one user or (when `user` is `None`) for everyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRule {
    pub user: Option<String>,
    /// Denies SUBSCRIBE to filters within `filter`, and delivery of messages
    /// on matching topics (so a wider wildcard subscription cannot leak them).
    pub subscribe: bool,
    /// Denies PUBLISH to matching topics: acknowledged and dropped, as
    /// 3.1.1 allows.
    pub publish: bool,
    pub filter: String,
}

/// A deliberately planted broker bug, switched on with the broker option
/// `mutant: <name>`. Test-only: it exists so that the harness can show it
/// finds bugs (mutation testing). Each variant is consulted by the broker at
/// the one place where its bug lives; adding a mutant is one variant here,
/// its name in [`Mutant::name`] and one check in the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mutant {
    /// A resumed persistent session loses the messages queued for it while
    /// it was offline.
    DropQueueOnReconnect,
    /// The will is published after a DISCONNECT too [MQTT-3.1.2-10].
    WillOnDisconnect,
    /// Keep-alive is not enforced: a silent connection stays open forever
    /// [MQTT-3.1.2-24].
    NoKeepAlive,
    /// Keep-alive expires after 1.0 x keep-alive instead of 1.5 x
    /// [MQTT-3.1.2-24].
    KeepAliveFactorOne,
    /// A takeover leaves the old connection open [MQTT-3.1.4-2].
    NoTakeoverClose,
    /// CONNACK says session present 0 even when a session is resumed
    /// [MQTT-3.2.2-2].
    SessionPresentAlwaysFalse,
    /// Unacknowledged messages are sent again on reconnect with DUP=0
    /// [MQTT-3.3.1-1].
    RedeliverWithoutDup,
    /// A retained PUBLISH with an empty payload leaves the retained message
    /// in place [MQTT-3.3.1-10].
    RetainedNeverCleared,
    /// A filter starting with `#` or `+` matches topics starting with `$`
    /// [MQTT-4.7.2-1].
    HashMatchesSys,
    /// A QoS 2 PUBLISH resent before PUBREL is delivered again
    /// [MQTT-4.3.3-2].
    Qos2DeliveredTwice,
    /// Live forwarding of a retained PUBLISH keeps RETAIN=1 [MQTT-3.3.1-9].
    LiveKeepsRetain,
    /// Messages are delivered at the publisher's QoS, not at min(publish
    /// QoS, granted QoS).
    NoQosDowngrade,
    /// 5.0: the will is published as soon as the connection is lost, its
    /// will delay interval ignored (5.0 section 3.1.3.2.2).
    WillDelayIgnored,
    /// 5.0: a reconnect within the will delay does not cancel the will; it
    /// is published when the client comes back [MQTT-3.1.3-9].
    WillDespiteReconnect,
    /// 5.0: a session with a finite expiry interval never expires (5.0
    /// section 3.1.2.11.2).
    SessionExpiryIgnored,
    /// 5.0: a takeover closes the old connection without DISCONNECT 0x8E
    /// [MQTT-3.1.4-3].
    NoTakeoverDisconnect,
    /// 5.0: the server keep alive is announced in CONNACK but the client's
    /// own keep-alive is enforced [MQTT-3.2.2-21].
    ServerKeepAliveNotEnforced,
    /// 5.0: a DISCONNECT that sets a non-zero session expiry after CONNECT
    /// set 0 is obeyed instead of refused (5.0 section 3.14.2.2.2).
    SessionExpiryFromZeroAccepted,
    /// 5.0: the topic alias a publisher set is forwarded to subscribers
    /// instead of being taken out [MQTT-3.3.2-10 area, 5.0 section
    /// 3.3.2.3.4: an alias belongs to one connection].
    PublisherAliasForwarded,
    /// 5.0: a message's expiry interval is never counted down: it is
    /// forwarded with the interval it was published with and never expires
    /// [MQTT-3.3.2-5], [MQTT-3.3.2-6].
    ExpiryNotDecremented,
    /// 5.0: the client's Receive Maximum is ignored; up to `INFLIGHT_MAX`
    /// QoS 1 and 2 messages go out unacknowledged [MQTT-3.3.4-9].
    ReceiveMaximumIgnored,
    /// 5.0: a subscription with No Local set still gets the subscriber's
    /// own messages [MQTT-3.8.3-3].
    NoLocalIgnored,
    /// 5.0: live forwarding clears RETAIN even for a subscription with
    /// Retain As Published set (5.0 section 3.8.3.1).
    RetainAsPublishedIgnored,
    /// 5.0: retained messages are sent on every subscribe, whatever its
    /// Retain Handling says (5.0 section 3.8.3.1).
    RetainHandlingIgnored,
    /// 5.0: a message to a shared subscription goes to every member
    /// instead of one (5.0 section 4.8.2).
    SharedToEveryMember,
    /// A bridge with `clean_session: false` forgets its queued and
    /// unacknowledged messages each time its link comes up (as mosquitto
    /// #3400 and nanomq #1873 report).
    BridgeForgetsQueue,
    /// A bridge's local subscriptions lack No Local: a message that came
    /// in over the bridge goes back out over it.
    BridgeBack,
}

impl Mutant {
    pub const ALL: &[Mutant] = &[
        Mutant::DropQueueOnReconnect,
        Mutant::WillOnDisconnect,
        Mutant::NoKeepAlive,
        Mutant::KeepAliveFactorOne,
        Mutant::NoTakeoverClose,
        Mutant::SessionPresentAlwaysFalse,
        Mutant::RedeliverWithoutDup,
        Mutant::RetainedNeverCleared,
        Mutant::HashMatchesSys,
        Mutant::Qos2DeliveredTwice,
        Mutant::LiveKeepsRetain,
        Mutant::NoQosDowngrade,
        Mutant::WillDelayIgnored,
        Mutant::WillDespiteReconnect,
        Mutant::SessionExpiryIgnored,
        Mutant::NoTakeoverDisconnect,
        Mutant::ServerKeepAliveNotEnforced,
        Mutant::SessionExpiryFromZeroAccepted,
        Mutant::PublisherAliasForwarded,
        Mutant::ExpiryNotDecremented,
        Mutant::ReceiveMaximumIgnored,
        Mutant::NoLocalIgnored,
        Mutant::RetainAsPublishedIgnored,
        Mutant::RetainHandlingIgnored,
        Mutant::SharedToEveryMember,
        Mutant::BridgeForgetsQueue,
        Mutant::BridgeBack,
    ];

    /// The kebab-case name written in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::DropQueueOnReconnect => "drop-queue-on-reconnect",
            Mutant::WillOnDisconnect => "will-on-disconnect",
            Mutant::NoKeepAlive => "no-keep-alive",
            Mutant::KeepAliveFactorOne => "keep-alive-factor-one",
            Mutant::NoTakeoverClose => "no-takeover-close",
            Mutant::SessionPresentAlwaysFalse => "session-present-always-false",
            Mutant::RedeliverWithoutDup => "redeliver-without-dup",
            Mutant::RetainedNeverCleared => "retained-never-cleared",
            Mutant::HashMatchesSys => "hash-matches-sys",
            Mutant::Qos2DeliveredTwice => "qos2-delivered-twice",
            Mutant::LiveKeepsRetain => "live-keeps-retain",
            Mutant::NoQosDowngrade => "no-qos-downgrade",
            Mutant::WillDelayIgnored => "will-delay-ignored",
            Mutant::WillDespiteReconnect => "will-despite-reconnect",
            Mutant::SessionExpiryIgnored => "session-expiry-ignored",
            Mutant::NoTakeoverDisconnect => "no-takeover-disconnect",
            Mutant::ServerKeepAliveNotEnforced => "server-keep-alive-not-enforced",
            Mutant::SessionExpiryFromZeroAccepted => "session-expiry-from-zero-accepted",
            Mutant::PublisherAliasForwarded => "publisher-alias-forwarded",
            Mutant::ExpiryNotDecremented => "expiry-not-decremented",
            Mutant::ReceiveMaximumIgnored => "receive-maximum-ignored",
            Mutant::NoLocalIgnored => "no-local-ignored",
            Mutant::RetainAsPublishedIgnored => "retain-as-published-ignored",
            Mutant::RetainHandlingIgnored => "retain-handling-ignored",
            Mutant::SharedToEveryMember => "shared-to-every-member",
            Mutant::BridgeForgetsQueue => "bridge-forgets-queue",
            Mutant::BridgeBack => "bridge-back",
        }
    }
}
