//! A bridge's configuration: the `bridge:` key of a broker entry, as the
//! broker needs it. The scenario loader builds it (and checks it: the
//! remote is a broker of the scenario, the patterns are filters); the
//! broker only reads it. See `bridge.rs` for what a bridge does.

use std::time::Duration;

use crate::wire::{LEVEL_V311, QoS};

/// One bridge from this broker to a remote broker (mosquitto's
/// `connection` block).
#[derive(Debug, Clone, PartialEq)]
pub struct Bridge {
    /// The remote broker, as the harness dials it (a host name in
    /// simulation).
    pub to: String,
    /// The name of the bridge's connection in notes and in the trace,
    /// `<local>-><remote>`.
    pub name: String,
    /// The client id the bridge connects to the remote broker with.
    pub client_id: String,
    /// Clean Session (3.1.1) or Clean Start (5.0) of the bridge's
    /// connection; also whether its local queue outlives the link.
    pub clean_session: bool,
    /// 5.0: the Session Expiry Interval asked of the remote broker, in
    /// seconds; `u32::MAX` never expires. Unused under 3.1.1.
    pub session_expiry_s: u32,
    /// The keep-alive of the bridge's connection; zero turns it off.
    pub keep_alive: Duration,
    /// The delay before reconnecting after the link drops or a connect
    /// fails, drawn from this range each time (equal ends: fixed).
    pub reconnect: (Duration, Duration),
    /// The protocol level of the bridge's connection: 4 (3.1.1) or 5.
    pub level: u8,
    /// The topics forwarded, in file order; the first that matches a
    /// message decides its mapping (as mosquitto's remapping does).
    pub topics: Vec<BridgeTopic>,
}

impl Default for Bridge {
    fn default() -> Self {
        Bridge {
            to: String::new(),
            name: String::new(),
            client_id: String::new(),
            clean_session: true,
            session_expiry_s: 0,
            keep_alive: Duration::from_secs(60),
            reconnect: (Duration::from_secs(5), Duration::from_secs(5)),
            level: LEVEL_V311,
            topics: Vec::new(),
        }
    }
}

/// Which way a bridge topic is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeDirection {
    /// Remote to local.
    In,
    /// Local to remote.
    Out,
    /// Both ways; a message that came in over the bridge never goes back.
    Both,
}

impl BridgeDirection {
    pub fn outward(self) -> bool {
        matches!(self, BridgeDirection::Out | BridgeDirection::Both)
    }

    pub fn inward(self) -> bool {
        matches!(self, BridgeDirection::In | BridgeDirection::Both)
    }
}

/// One `topics:` entry: mosquitto's `topic pattern direction qos
/// local-prefix remote-prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeTopic {
    pub pattern: String,
    pub direction: BridgeDirection,
    /// The QoS of the bridge's subscription for this topic (local for
    /// `out`, remote for `in`, both for `both`): messages cross at
    /// min(their QoS, this).
    pub qos: QoS,
    pub local_prefix: String,
    pub remote_prefix: String,
}

impl BridgeTopic {
    /// The filter the bridge subscribes to on the local broker.
    pub fn local_filter(&self) -> String {
        format!("{}{}", self.local_prefix, self.pattern)
    }

    /// The filter the bridge subscribes to on the remote broker.
    pub fn remote_filter(&self) -> String {
        format!("{}{}", self.remote_prefix, self.pattern)
    }

    /// The remote topic of local `topic`, when this entry forwards it out.
    pub fn map_out(&self, topic: &str) -> Option<String> {
        if !self.direction.outward() || !crate::topic::matches(&self.local_filter(), topic) {
            return None;
        }
        let rest = topic.strip_prefix(self.local_prefix.as_str())?;
        Some(format!("{}{rest}", self.remote_prefix))
    }

    /// The local topic of remote `topic`, when this entry forwards it in.
    pub fn map_in(&self, topic: &str) -> Option<String> {
        if !self.direction.inward() || !crate::topic::matches(&self.remote_filter(), topic) {
            return None;
        }
        let rest = topic.strip_prefix(self.remote_prefix.as_str())?;
        Some(format!("{}{rest}", self.local_prefix))
    }
}

impl Bridge {
    /// The remote topic and the entry for a local topic going out: the
    /// first entry that matches.
    pub fn out_topic(&self, topic: &str) -> Option<(String, &BridgeTopic)> {
        self.topics
            .iter()
            .find_map(|t| t.map_out(topic).map(|r| (r, t)))
    }

    /// The local topic and the entry for a remote topic coming in.
    pub fn in_topic(&self, topic: &str) -> Option<(String, &BridgeTopic)> {
        self.topics
            .iter()
            .find_map(|t| t.map_in(topic).map(|l| (l, t)))
    }

    /// The id of the bridge's session on its own broker, mosquitto's
    /// `local_clientid` default: `local.<client_id>`.
    pub fn local_id(&self) -> String {
        format!("local.{}", self.client_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(pattern: &str, d: BridgeDirection, lp: &str, rp: &str) -> BridgeTopic {
        BridgeTopic {
            pattern: pattern.into(),
            direction: d,
            qos: QoS::AtLeastOnce,
            local_prefix: lp.into(),
            remote_prefix: rp.into(),
        }
    }

    #[test]
    fn prefixes_are_swapped_each_way() {
        let t = topic("#", BridgeDirection::Both, "site1/", "sites/1/");
        assert_eq!(t.map_out("site1/a/b").as_deref(), Some("sites/1/a/b"));
        assert_eq!(t.map_in("sites/1/a").as_deref(), Some("site1/a"));
        assert_eq!(t.map_out("other/a"), None);
        assert_eq!(t.map_in("site1/a"), None);
    }

    #[test]
    fn direction_limits_the_mapping() {
        let out = topic("s/#", BridgeDirection::Out, "", "");
        assert_eq!(out.map_out("s/1").as_deref(), Some("s/1"));
        assert_eq!(out.map_in("s/1"), None);
        let b = Bridge {
            topics: vec![topic("c/#", BridgeDirection::In, "", ""), out],
            ..Bridge::default()
        };
        assert_eq!(b.in_topic("c/1").map(|(t, _)| t).as_deref(), Some("c/1"));
        assert_eq!(b.out_topic("c/1").map(|(t, _)| t), None);
    }
}
