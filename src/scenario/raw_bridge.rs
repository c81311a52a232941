//! The serde types of a broker's `bridge:` key (docs/scenario-format.md,
//! "Several brokers: bridges"); `validate/bridge.rs` turns them into the
//! broker's [`crate::broker::Bridge`].

use schemars::JsonSchema;
use serde::Deserialize;

use super::duration::{Dur, Secs16};
use super::raw::RawSessionExpiry;
use super::values::{ProtocolValue, Qos};

/// `bridge:` under a broker: it connects to broker `to` as a client and
/// forwards the topics listed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBridge {
    /// Another broker of the scenario.
    pub to: String,
    /// Default: `<local>-><remote>`.
    pub client_id: Option<String>,
    /// The bridge's session on the remote broker, and whether its local
    /// queue outlives the link (default true). Under 5.0 it sets Clean
    /// Start, and `false` with no `session_expiry` asks for `never`.
    pub clean_session: Option<bool>,
    /// 5.0: Clean Start of the bridge's connection.
    pub clean_start: Option<bool>,
    /// 5.0: the Session Expiry Interval asked of the remote broker.
    pub session_expiry: Option<RawSessionExpiry>,
    /// Default 60s; 0s turns keep-alive off.
    pub keep_alive: Option<Secs16>,
    /// Delay before reconnecting after the link drops (default 5s); a
    /// range draws anew each time.
    pub reconnect: Option<Dur>,
    /// Default: the scenario's protocol.
    pub protocol: Option<ProtocolValue>,
    pub topics: Vec<RawBridgeTopic>,
}

/// One forwarded topic, mosquitto's `topic` line.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBridgeTopic {
    /// A topic filter, without the prefixes.
    pub pattern: String,
    /// Default `out`, as in mosquitto.
    pub direction: Option<RawBridgeDirection>,
    /// Default 0, as in mosquitto.
    pub qos: Option<Qos>,
    pub local_prefix: Option<String>,
    pub remote_prefix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawBridgeDirection {
    /// Remote to local.
    In,
    /// Local to remote.
    Out,
    /// Both ways.
    Both,
}
