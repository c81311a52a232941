//! The names of MQTT 5.0 reason codes (5.0 section 2.4), for the text
//! trace: `reason=0x8E session taken over`.

/// Which packet a code stands in: 0x00 and 0x01..0x02 mean different
/// things in different packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    ConnAck,
    /// PUBACK, PUBREC, PUBREL, PUBCOMP.
    Ack,
    SubAck,
    UnsubAck,
    Disconnect,
    Auth,
}

/// The reason code's name in the spec's words, lowercase; `None` for a
/// value 5.0 does not define.
pub fn name(code: u8, within: In) -> Option<&'static str> {
    Some(match (code, within) {
        (0x00, In::Disconnect) => "normal disconnection",
        (0x00, In::SubAck) => "granted QoS 0",
        (0x00, _) => "success",
        (0x01, In::SubAck) => "granted QoS 1",
        (0x02, In::SubAck) => "granted QoS 2",
        (0x04, In::Disconnect) => "disconnect with will message",
        (0x10, _) => "no matching subscribers",
        (0x11, _) => "no subscription existed",
        (0x18, _) => "continue authentication",
        (0x19, _) => "re-authenticate",
        (0x80, _) => "unspecified error",
        (0x81, _) => "malformed packet",
        (0x82, _) => "protocol error",
        (0x83, _) => "implementation specific error",
        (0x84, _) => "unsupported protocol version",
        (0x85, _) => "client identifier not valid",
        (0x86, _) => "bad user name or password",
        (0x87, _) => "not authorized",
        (0x88, _) => "server unavailable",
        (0x89, _) => "server busy",
        (0x8A, _) => "banned",
        (0x8B, _) => "server shutting down",
        (0x8C, _) => "bad authentication method",
        (0x8D, _) => "keep alive timeout",
        (0x8E, _) => "session taken over",
        (0x8F, _) => "topic filter invalid",
        (0x90, _) => "topic name invalid",
        (0x91, _) => "packet identifier in use",
        (0x92, _) => "packet identifier not found",
        (0x93, _) => "receive maximum exceeded",
        (0x94, _) => "topic alias invalid",
        (0x95, _) => "packet too large",
        (0x96, _) => "message rate too high",
        (0x97, _) => "quota exceeded",
        (0x98, _) => "administrative action",
        (0x99, _) => "payload format invalid",
        (0x9A, _) => "retain not supported",
        (0x9B, _) => "QoS not supported",
        (0x9C, _) => "use another server",
        (0x9D, _) => "server moved",
        (0x9E, _) => "shared subscriptions not supported",
        (0x9F, _) => "connection rate exceeded",
        (0xA0, _) => "maximum connect time",
        (0xA1, _) => "subscription identifiers not supported",
        (0xA2, _) => "wildcard subscriptions not supported",
        _ => return None,
    })
}

/// `0x8E session taken over`, or the bare hex for an undefined code.
pub fn text(code: u8, within: In) -> String {
    match name(code, within) {
        Some(n) => format!("{code:#04X} {n}").replacen("0X", "0x", 1),
        None => format!("{code:#04X}").replacen("0X", "0x", 1),
    }
}

/// Which packet's reason codes a packet carries, for naming them.
pub fn reason_place(packet: &crate::wire::Packet) -> Option<In> {
    use crate::wire::Packet;
    Some(match packet {
        Packet::ConnAck(_) => In::ConnAck,
        Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubRel(_) | Packet::PubComp(_) => In::Ack,
        Packet::SubAck(_) => In::SubAck,
        Packet::UnsubAck(_) => In::UnsubAck,
        Packet::Disconnect(_) => In::Disconnect,
        Packet::Auth(_) => In::Auth,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_named_by_their_packet() {
        assert_eq!(text(0x8E, In::Disconnect), "0x8E session taken over");
        assert_eq!(text(0x00, In::Disconnect), "0x00 normal disconnection");
        assert_eq!(text(0x01, In::SubAck), "0x01 granted QoS 1");
        assert_eq!(text(0x00, In::ConnAck), "0x00 success");
        assert_eq!(text(0x01, In::ConnAck), "0x01");
    }
}
