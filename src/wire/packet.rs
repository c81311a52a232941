//! The packet type that the broker, the client and the trace share, in the
//! shape of MQTT 5.0: one type serves both versions. Codecs for a protocol
//! version convert to and from it. What 3.1.1 does not have is empty there
//! (no properties, reason codes 0 or `None`), and its codec refuses to
//! encode anything else.

use bytes::Bytes;

pub use super::properties::{Properties, Property};

/// The protocol level byte of CONNECT: 4 is 3.1.1, 5 is 5.0.
pub const LEVEL_V311: u8 = 4;
pub const LEVEL_V5: u8 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Connect),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    /// 5.0 only.
    Auth(Auth),
}

impl Packet {
    /// The packet type's name as the spec writes it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Packet::Connect(_) => "CONNECT",
            Packet::ConnAck(_) => "CONNACK",
            Packet::Publish(_) => "PUBLISH",
            Packet::PubAck(_) => "PUBACK",
            Packet::PubRec(_) => "PUBREC",
            Packet::PubRel(_) => "PUBREL",
            Packet::PubComp(_) => "PUBCOMP",
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::SubAck(_) => "SUBACK",
            Packet::Unsubscribe(_) => "UNSUBSCRIBE",
            Packet::UnsubAck(_) => "UNSUBACK",
            Packet::PingReq => "PINGREQ",
            Packet::PingResp => "PINGRESP",
            Packet::Disconnect(_) => "DISCONNECT",
            Packet::Auth(_) => "AUTH",
        }
    }
}

/// Quality of service of a PUBLISH, a will or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// The number on the wire and in scenarios: 0, 1 or 2.
    pub fn level(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for QoS {
    /// The number, which is not 0, 1 or 2.
    type Error = u8;

    fn try_from(level: u8) -> Result<Self, u8> {
        match level {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            other => Err(other),
        }
    }
}

impl std::fmt::Display for QoS {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.level())
    }
}

/// CONNECT (3.1.1 section 3.1, 5.0 section 3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// "MQTT" for 3.1.1 and 5.0. Kept as received so the broker can check it.
    pub protocol_name: String,
    /// 4 for 3.1.1, 5 for 5.0. Kept as received so the broker can check it.
    pub protocol_level: u8,
    pub client_id: String,
    /// Clean Session (3.1.1) or Clean Start (5.0).
    pub clean: bool,
    pub keep_alive_s: u16,
    pub will: Option<LastWill>,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// The will properties of 5.0 (will delay, message expiry, ...).
    pub properties: Properties,
}

/// CONNACK (3.1.1 section 3.2, 5.0 section 3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    /// The 3.1.1 return code or the 5.0 reason code.
    pub code: u8,
    pub properties: Properties,
}

/// CONNACK return codes of 3.1.1.
pub mod connack_code {
    pub const ACCEPTED: u8 = 0x00;
    pub const UNACCEPTABLE_PROTOCOL_VERSION: u8 = 0x01;
    pub const IDENTIFIER_REJECTED: u8 = 0x02;
    pub const SERVER_UNAVAILABLE: u8 = 0x03;
    pub const BAD_USERNAME_OR_PASSWORD: u8 = 0x04;
    pub const NOT_AUTHORIZED: u8 = 0x05;
}

/// PUBLISH (3.1.1 section 3.3, 5.0 section 3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    /// Zero when qos is 0.
    pub packet_id: u16,
    pub properties: Properties,
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP: a packet id, and in 5.0 a reason
/// code and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub packet_id: u16,
    /// 0x00 (success) under 3.1.1.
    pub reason: u8,
    pub properties: Properties,
}

impl Ack {
    /// A successful acknowledgement without properties: all that 3.1.1 has.
    pub fn new(packet_id: u16) -> Ack {
        Ack {
            packet_id,
            reason: 0,
            properties: Properties::default(),
        }
    }
}

/// What a 5.0 subscription does with retained messages when it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetainHandling {
    #[default]
    SendAtSubscribe = 0,
    SendAtNewSubscribe = 1,
    DoNotSend = 2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeFilter {
    pub filter: String,
    pub qos: QoS,
    /// The subscription options of 5.0; false, false and the default
    /// under 3.1.1.
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

impl SubscribeFilter {
    /// A filter with the options 3.1.1 has: the QoS alone.
    pub fn new(filter: impl Into<String>, qos: QoS) -> SubscribeFilter {
        SubscribeFilter {
            filter: filter.into(),
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::default(),
        }
    }
}

/// SUBSCRIBE (3.1.1 section 3.8, 5.0 section 3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: u16,
    pub filters: Vec<SubscribeFilter>,
    pub properties: Properties,
}

/// SUBACK (3.1.1 section 3.9, 5.0 section 3.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    pub packet_id: u16,
    /// One per filter: the granted QoS, or a failure code (0x80 in 3.1.1).
    pub codes: Vec<u8>,
    pub properties: Properties,
}

/// UNSUBSCRIBE (3.1.1 section 3.10, 5.0 section 3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub filters: Vec<String>,
    pub properties: Properties,
}

/// UNSUBACK (3.1.1 section 3.11, 5.0 section 3.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    pub packet_id: u16,
    /// One reason code per filter in 5.0; empty under 3.1.1.
    pub codes: Vec<u8>,
    pub properties: Properties,
}

impl UnsubAck {
    /// The UNSUBACK of 3.1.1: a packet id alone.
    pub fn new(packet_id: u16) -> UnsubAck {
        UnsubAck {
            packet_id,
            codes: Vec::new(),
            properties: Properties::default(),
        }
    }
}

/// DISCONNECT (3.1.1 section 3.14, 5.0 section 3.14).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// 5.0 only; `None` under 3.1.1.
    pub reason: Option<u8>,
    pub properties: Properties,
}

/// AUTH (5.0 section 3.15).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    pub reason: u8,
    pub properties: Properties,
}
