//! The spec's well-formedness checks that mqttbytes does not make (it is
//! lenient: see docs/wire.md, "Dependencies"). Each failure is `Malformed` naming the statement.
//!
//! Checks on raw bytes run before mqttbytes sees the frame, because its
//! decoding masks or drops what they look at; checks on the decoded
//! [`Packet`] run after, and are version-neutral so a v5 codec reuses them.

use bytes::Bytes;

use super::cursor::Cursor;
use super::header::{self, FixedHeader};
use super::{LEVEL_V5, Packet, Property, QoS, WireError};

/// Reserved packet types and flag bits [MQTT-2.2.2-1/2], PUBLISH QoS 3
/// [MQTT-3.3.1-4].
/// AUTH (type 15) exists only at level 5.
pub(crate) fn fixed_header(h: &FixedHeader, level: u8) -> Result<(), WireError> {
    let packet_type = h.packet_type();
    let flags = h.flags();
    let expected = match packet_type {
        header::PUBLISH => {
            if flags & 0b0110 == 0b0110 {
                return Err(WireError::malformed(
                    "PUBLISH with both QoS bits set [MQTT-3.3.1-4]",
                ));
            }
            return Ok(());
        }
        header::PUBREL | header::SUBSCRIBE | header::UNSUBSCRIBE => 0b0010,
        header::CONNECT..=header::DISCONNECT => 0,
        header::AUTH if level == LEVEL_V5 => 0,
        other => {
            return Err(WireError::malformed(format!(
                "reserved packet type {other}"
            )));
        }
    };
    if flags != expected {
        // `header::type_name` knows only 3.1.1's types; AUTH is 5.0's.
        let name = if packet_type == header::AUTH {
            "AUTH"
        } else {
            header::type_name(packet_type)
        };
        return Err(WireError::malformed(format!(
            "{name} with fixed header flags {flags:#06b}, expected {expected:#06b} [MQTT-2.2.2-1] [MQTT-2.2.2-2]"
        )));
    }
    Ok(())
}

/// Packets of 3.1.1 whose size is fixed by the spec. mqttbytes ignores
/// trailing bytes in them (and reads PINGREQ with a body as PINGREQ).
pub(crate) fn remaining_len_v4(h: &FixedHeader) -> Result<(), WireError> {
    let expected = match h.packet_type() {
        header::CONNACK
        | header::PUBACK
        | header::PUBREC
        | header::PUBREL
        | header::PUBCOMP
        | header::UNSUBACK => 2,
        header::PINGREQ | header::PINGRESP | header::DISCONNECT => 0,
        _ => return Ok(()),
    };
    if h.remaining_len != expected {
        return Err(WireError::malformed(format!(
            "{} with remaining length {}, expected {expected}",
            header::type_name(h.packet_type()),
            h.remaining_len
        )));
    }
    Ok(())
}

/// CONNACK's acknowledge flags: bits 7-1 are reserved (MQTT 3.1.1 3.2.2.1).
/// mqttbytes reads only bit 0.
pub(crate) fn connack_flags_v4(flags: u8) -> Result<(), WireError> {
    if flags & 0xfe != 0 {
        return Err(WireError::malformed(format!(
            "CONNACK acknowledge flags {flags:#010b} set reserved bits"
        )));
    }
    Ok(())
}

/// The requested-QoS byte of each SUBSCRIBE filter: mqttbytes masks off the
/// reserved bits and never sees them [MQTT-3-8.3-4].
pub(crate) fn subscribe_options_v4(body: Bytes) -> Result<(), WireError> {
    let mut cursor = Cursor::new(body);
    cursor.u16("packet identifier")?;
    while !cursor.is_empty() {
        cursor.binary("topic filter")?;
        let options = cursor.u8("requested QoS")?;
        if options & 0b1111_1100 != 0 || options & 0b11 == 0b11 {
            return Err(WireError::malformed(format!(
                "SUBSCRIBE requested QoS byte {options:#010b}: reserved bits set or QoS 3 [MQTT-3-8.3-4]"
            )));
        }
    }
    Ok(())
}

/// CONNECT flags [MQTT-3.1.2-3] [MQTT-3.1.2-11] [MQTT-3.1.2-13]
/// [MQTT-3.1.2-14] [MQTT-3.1.2-15]; the bit layout is the same in 3.1.1
/// and 5.0.
pub(crate) fn connect_flags(flags: u8) -> Result<(), WireError> {
    let will = flags & 0b0000_0100 != 0;
    let will_qos = (flags >> 3) & 0b11;
    let will_retain = flags & 0b0010_0000 != 0;
    let fail = |m: &str| Err(WireError::malformed(format!("CONNECT {m}")));
    if flags & 0b1 != 0 {
        return fail("reserved flag bit is set [MQTT-3.1.2-3]");
    }
    if !will && will_qos != 0 {
        return fail("will QoS is set without the will flag [MQTT-3.1.2-11] [MQTT-3.1.2-13]");
    }
    if !will && will_retain {
        return fail("will retain is set without the will flag [MQTT-3.1.2-11] [MQTT-3.1.2-15]");
    }
    if will_qos == 3 {
        return fail("will QoS is 3 [MQTT-3.1.2-14]");
    }
    Ok(())
}

/// 3.1.1 only: 5.0 allows a password without a user name.
pub(crate) fn password_needs_username_v4(flags: u8) -> Result<(), WireError> {
    let password = flags & 0b0100_0000 != 0;
    let username = flags & 0b1000_0000 != 0;
    if password && !username {
        return Err(WireError::malformed(
            "CONNECT password flag is set without the user name flag [MQTT-3.1.2-22]",
        ));
    }
    Ok(())
}

/// Checks on a decoded packet, whatever the version.
pub(crate) fn packet(p: &Packet) -> Result<(), WireError> {
    match p {
        Packet::Connect(c) => {
            no_null(&c.protocol_name, "protocol name")?;
            no_null(&c.client_id, "client identifier")?;
            if let Some(will) = &c.will {
                no_null(&will.topic, "will topic")?;
            }
            if let Some(username) = &c.username {
                no_null(username, "user name")?;
            }
        }
        Packet::Publish(publish) => {
            // 5.0: a Topic Alias stands in for an empty topic name.
            let alias = publish
                .properties
                .iter()
                .any(|p| matches!(p, Property::TopicAlias(_)));
            if !(alias && publish.topic.is_empty()) {
                topic_name(&publish.topic)?;
            }
            if publish.qos != QoS::AtMostOnce && publish.packet_id == 0 {
                return Err(WireError::malformed(
                    "PUBLISH with QoS > 0 and packet identifier 0 [MQTT-2.3.1-1]",
                ));
            }
            if publish.qos == QoS::AtMostOnce && publish.dup {
                return Err(WireError::malformed(
                    "QoS 0 PUBLISH with DUP=1 [MQTT-3.3.1-2]",
                ));
            }
        }
        Packet::Subscribe(s) => {
            packet_id_nonzero(s.packet_id, "SUBSCRIBE")?;
            if s.filters.is_empty() {
                return Err(WireError::malformed(
                    "SUBSCRIBE without topic filters [MQTT-3.8.3-3]",
                ));
            }
            // An empty filter is not a filter at all [MQTT-4.7.3-1]: the
            // receiver closes [MQTT-4.8.0-1], as mosquitto does, rather than
            // answering SUBACK 0x80 as for a misplaced wildcard.
            for f in &s.filters {
                topic_filter(&f.filter)?;
            }
        }
        Packet::Unsubscribe(u) => {
            packet_id_nonzero(u.packet_id, "UNSUBSCRIBE")?;
            if u.filters.is_empty() {
                return Err(WireError::malformed(
                    "UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]",
                ));
            }
            for f in &u.filters {
                topic_filter(f)?;
            }
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            packet_id_nonzero(a.packet_id, p.type_name())?;
        }
        Packet::ConnAck(_)
        | Packet::SubAck(_)
        | Packet::UnsubAck(_)
        | Packet::PingReq
        | Packet::PingResp
        | Packet::Disconnect(_)
        | Packet::Auth(_) => {}
    }
    Ok(())
}

/// [MQTT-1.5.3-2]
pub(crate) fn no_null(s: &str, field: &str) -> Result<(), WireError> {
    if s.contains('\u{0}') {
        return Err(WireError::malformed(format!(
            "{field} contains U+0000 [MQTT-1.5.3-2]"
        )));
    }
    Ok(())
}

fn packet_id_nonzero(id: u16, packet: &str) -> Result<(), WireError> {
    if id == 0 {
        return Err(WireError::malformed(format!(
            "{packet} with packet identifier 0 [MQTT-2.3.1-1]"
        )));
    }
    Ok(())
}

fn topic_name(topic: &str) -> Result<(), WireError> {
    no_null(topic, "topic name")?;
    if topic.is_empty() {
        return Err(WireError::malformed(
            "PUBLISH with an empty topic name [MQTT-4.7.3-1]",
        ));
    }
    if topic.contains(['+', '#']) {
        return Err(WireError::malformed(format!(
            "PUBLISH topic name {topic:?} contains a wildcard [MQTT-3.3.2-2]"
        )));
    }
    Ok(())
}

/// Only emptiness and U+0000, for SUBSCRIBE and UNSUBSCRIBE: where the
/// wildcards may stand is the broker's to judge.
fn topic_filter(filter: &str) -> Result<(), WireError> {
    no_null(filter, "topic filter")?;
    if filter.is_empty() {
        return Err(WireError::malformed("an empty topic filter [MQTT-4.7.3-1]"));
    }
    Ok(())
}
