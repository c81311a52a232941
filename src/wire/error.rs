//! The error type of the wire module, and the boundary where mqttbytes'
//! errors (which do not implement `std::error::Error`) become ours.

/// Why a packet could not be read or written.
#[derive(Debug)]
pub enum WireError {
    /// The transport failed.
    Io(std::io::Error),
    /// The peer sent bytes that are not a valid packet: a protocol error on
    /// this connection. The receiver closes the connection. The message names
    /// the spec statement that was broken, where there is one.
    Malformed(String),
    /// The bytes parse, but break a rule that 5.0 calls a Protocol Error
    /// (a property given twice, a value out of its range, ...). Only the
    /// 5.0 codec makes this distinction; 3.1.1 has no reason codes.
    ProtocolError(String),
    /// The packet is larger than the reader's limit.
    TooLarge { size: usize, max: usize },
    /// Room for the rest of an unfinished packet would take the readers'
    /// shared [`ReadBudget`](super::ReadBudget) past its limit: `held` by
    /// all readers, `wanted` more by this one.
    OverBudget {
        held: usize,
        wanted: usize,
        max: usize,
    },
    /// The stream ended in the middle of a packet.
    Truncated,
    /// The packet cannot be encoded (or a stream cannot be decoded) at this
    /// protocol level.
    Unsupported(String),
    /// A CONNECT names a protocol this module does not speak: anything but
    /// `"MQTT"` at level 4 (3.1.1) or 5 (5.0).
    ///
    /// What the broker does with it is its call, but the spec says: for
    /// `name == "MQTT"` with another level, answer CONNACK 0x01 and close
    /// [MQTT-3.1.2-2]; for any other name, close without answering
    /// [MQTT-3.1.2-1]. MQTT 3.1's `"MQIsdp"`/3 lands here too: 3.1 is not an
    /// OASIS standard and this harness does not model it.
    UnacceptableProtocol { name: String, level: u8 },
}

impl WireError {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        WireError::Malformed(message.into())
    }

    pub(crate) fn protocol_error(message: impl Into<String>) -> Self {
        WireError::ProtocolError(message.into())
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        WireError::Unsupported(message.into())
    }

    /// The 5.0 reason code that a receiver gives for this error in its
    /// CONNACK or DISCONNECT, where the spec names one.
    pub fn reason_code(&self) -> Option<u8> {
        match self {
            WireError::Malformed(_) => Some(reason::MALFORMED_PACKET),
            WireError::ProtocolError(_) => Some(reason::PROTOCOL_ERROR),
            WireError::TooLarge { .. } => Some(reason::PACKET_TOO_LARGE),
            WireError::OverBudget { .. } => Some(reason::QUOTA_EXCEEDED),
            WireError::UnacceptableProtocol { .. } => Some(reason::UNSUPPORTED_PROTOCOL_VERSION),
            WireError::Io(_) | WireError::Truncated | WireError::Unsupported(_) => None,
        }
    }
}

/// The 5.0 reason codes that decoding errors map to.
pub mod reason {
    pub const MALFORMED_PACKET: u8 = 0x81;
    pub const PROTOCOL_ERROR: u8 = 0x82;
    pub const UNSUPPORTED_PROTOCOL_VERSION: u8 = 0x84;
    pub const PACKET_TOO_LARGE: u8 = 0x95;
    pub const QUOTA_EXCEEDED: u8 = 0x97;
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Io(e) => write!(f, "i/o error: {e}"),
            WireError::Malformed(m) => write!(f, "malformed packet: {m}"),
            WireError::ProtocolError(m) => write!(f, "protocol error: {m}"),
            WireError::TooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds the limit of {max}")
            }
            WireError::OverBudget { held, wanted, max } => write!(
                f,
                "unfinished packets hold {held} bytes: {wanted} more would pass the limit of {max}"
            ),
            WireError::Truncated => write!(f, "stream ended inside a packet"),
            WireError::Unsupported(m) => write!(f, "unsupported: {m}"),
            WireError::UnacceptableProtocol { name, level } => {
                write!(f, "unacceptable protocol {name:?} at level {level}")
            }
        }
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WireError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for WireError {
    fn from(e: std::io::Error) -> Self {
        WireError::Io(e)
    }
}

/// mqttbytes' errors, said in words a trace reader understands. Only decode
/// errors reach this: encode errors are turned into `Unsupported` where they
/// happen, because there the cause is our packet, not the peer's bytes.
pub(crate) fn from_mqttbytes(e: mqttbytes::Error) -> WireError {
    use mqttbytes::Error as E;
    let message = match e {
        E::TopicNotUtf8 => "a string is not well-formed UTF-8 [MQTT-1.5.3-1]".to_string(),
        E::PacketIdZero => "packet identifier 0 [MQTT-2.3.1-1]".to_string(),
        E::InvalidQoS(q) => format!("QoS {q} is not 0, 1 or 2"),
        E::InvalidConnectReturnCode(c) => format!("unknown CONNACK return code {c:#04x}"),
        E::InvalidSubscribeReasonCode(c) => format!("unknown SUBACK return code {c:#04x}"),
        E::InvalidPacketType(t) => format!("reserved packet type {t}"),
        E::BoundaryCrossed(n) => {
            format!("a length prefix of {n} bytes runs past the end of the packet")
        }
        E::MalformedPacket => "the packet ends before its fields do".to_string(),
        E::MalformedRemainingLength => "remaining length encoded in more than 4 bytes".to_string(),
        E::PayloadRequired => "the packet has no body but needs one".to_string(),
        E::PayloadSizeIncorrect => "the remaining length is wrong for this packet".to_string(),
        E::IncorrectPacketFormat => "the packet's fields are inconsistent".to_string(),
        // The framer hands mqttbytes whole frames, so the remaining kinds
        // (InsufficientBytes, size limits, v5 properties) are not expected;
        // say what mqttbytes said rather than guess.
        other => format!("rejected by the decoder: {other:?}"),
    };
    WireError::Malformed(message)
}
