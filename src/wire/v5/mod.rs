//! MQTT 5.0 (protocol level 5), decoded and encoded by hand.
//!
//! mqttbytes 0.6's v5 module is not used: its defects cannot be worked
//! around from outside (it has no AUTH, cannot read a DISCONNECT without
//! properties, writes a CONNACK its own reader refuses, accepts repeated
//! properties and trailing bytes). docs/wire.md has the reasons and
//! docs/performance.md the measurements behind this choice;
//! `tests/candidates.rs` re-runs them.
//!
//! Decoding checks every well-formedness rule the spec states for a single
//! packet; encoding writes what it is given (a harness must be able to send
//! what a broker should refuse) and refuses only what the bytes cannot say.

pub(crate) mod properties;
pub(crate) mod put;
mod reason;

pub(crate) use reason::allowed as reason_codes_allowed;

use bytes::{BufMut, BytesMut};

use super::cursor::Cursor;
use super::header::{self, FixedHeader};
use super::{
    Ack, Auth, ConnAck, Connect, Disconnect, LastWill, Packet, Publish, QoS, RetainHandling,
    SubAck, Subscribe, SubscribeFilter, UnsubAck, Unsubscribe, WireError, connect, wellformed,
};
use properties::Place;

/// Decodes one whole frame (fixed header included) whose header is `h`.
pub(crate) fn decode(h: &FixedHeader, mut frame: BytesMut) -> Result<Packet, WireError> {
    if h.header_len != 1 + header::variable_int_len(h.remaining_len) {
        return Err(WireError::malformed(
            "remaining length is a variable byte integer in more bytes than needed [MQTT-1.5.5-1]",
        ));
    }
    let body = frame.split_off(h.header_len.min(frame.len())).freeze();
    let mut c = Cursor::new(body);
    let packet_type = h.packet_type();
    let packet = match packet_type {
        header::CONNECT => Packet::Connect(read_connect(&mut c)?),
        header::CONNACK => {
            let flags = c.u8("connect acknowledge flags")?;
            if flags & 0xfe != 0 {
                return Err(WireError::malformed(format!(
                    "CONNACK acknowledge flags {flags:#010b} set reserved bits"
                )));
            }
            let code = read_reason(&mut c, packet_type)?;
            Packet::ConnAck(ConnAck {
                session_present: flags & 1 != 0,
                code,
                properties: properties::read(&mut c, Place::ConnAck)?,
            })
        }
        header::PUBLISH => Packet::Publish(read_publish(h.flags(), &mut c)?),
        header::PUBACK => Packet::PubAck(read_ack(&mut c, packet_type)?),
        header::PUBREC => Packet::PubRec(read_ack(&mut c, packet_type)?),
        header::PUBREL => Packet::PubRel(read_ack(&mut c, packet_type)?),
        header::PUBCOMP => Packet::PubComp(read_ack(&mut c, packet_type)?),
        header::SUBSCRIBE => Packet::Subscribe(read_subscribe(&mut c)?),
        header::SUBACK => {
            let packet_id = c.u16("packet identifier")?;
            let properties = properties::read(&mut c, Place::SubAck)?;
            let codes = read_reason_list(&mut c, packet_type, "SUBACK")?;
            Packet::SubAck(SubAck {
                packet_id,
                codes,
                properties,
            })
        }
        header::UNSUBSCRIBE => {
            let packet_id = c.u16("packet identifier")?;
            let properties = properties::read(&mut c, Place::Unsubscribe)?;
            let mut filters = Vec::new();
            while !c.is_empty() {
                filters.push(c.string("topic filter")?);
            }
            if filters.is_empty() {
                return Err(WireError::protocol_error(
                    "UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]",
                ));
            }
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        }
        header::UNSUBACK => {
            let packet_id = c.u16("packet identifier")?;
            let properties = properties::read(&mut c, Place::UnsubAck)?;
            let codes = read_reason_list(&mut c, packet_type, "UNSUBACK")?;
            Packet::UnsubAck(UnsubAck {
                packet_id,
                codes,
                properties,
            })
        }
        header::PINGREQ => Packet::PingReq,
        header::PINGRESP => Packet::PingResp,
        header::DISCONNECT => {
            // Without a body, the reason is 0x00 (5.0 section 3.14.2.1).
            let reason = if c.is_empty() {
                0
            } else {
                read_reason(&mut c, packet_type)?
            };
            let properties = if c.is_empty() {
                Default::default()
            } else {
                properties::read(&mut c, Place::Disconnect)?
            };
            Packet::Disconnect(Disconnect {
                reason: Some(reason),
                properties,
            })
        }
        header::AUTH => {
            // Reason and properties are omitted together, or both given
            // (5.0 section 3.15.2.1).
            if c.is_empty() {
                Packet::Auth(Auth::default())
            } else {
                let reason = read_reason(&mut c, packet_type)?;
                let properties = properties::read(&mut c, Place::Auth)?;
                Packet::Auth(Auth { reason, properties })
            }
        }
        other => {
            return Err(WireError::malformed(format!(
                "reserved packet type {other}"
            )));
        }
    };
    if !c.is_empty() {
        return Err(WireError::malformed(format!(
            "{} has {} bytes after its last field",
            packet.type_name(),
            c.remaining()
        )));
    }
    v5_rules(&packet)?;
    Ok(packet)
}

fn read_connect(c: &mut Cursor) -> Result<Connect, WireError> {
    let protocol_name = c.string("protocol name")?;
    let protocol_level = c.u8("protocol level")?;
    let flags = c.u8("connect flags")?;
    wellformed::connect_flags(flags)?;
    let keep_alive_s = c.u16("keep alive")?;
    let properties = properties::read(c, Place::Connect)?;
    let client_id = c.string("client identifier")?;
    let will = if flags & connect::flag::WILL != 0 {
        let properties = properties::read(c, Place::Will)?;
        Some(LastWill {
            topic: c.string("will topic")?,
            payload: c.binary("will payload")?,
            qos: connect::will_qos(flags)?,
            retain: flags & connect::flag::WILL_RETAIN != 0,
            properties,
        })
    } else {
        None
    };
    let username = if flags & connect::flag::USERNAME != 0 {
        Some(c.string("user name")?)
    } else {
        None
    };
    let password = if flags & connect::flag::PASSWORD != 0 {
        Some(c.binary("password")?)
    } else {
        None
    };
    Ok(Connect {
        protocol_name,
        protocol_level,
        client_id,
        clean: flags & connect::flag::CLEAN != 0,
        keep_alive_s,
        will,
        username,
        password,
        properties,
    })
}

fn read_publish(flags: u8, c: &mut Cursor) -> Result<Publish, WireError> {
    let qos = QoS::try_from((flags >> 1) & 0b11)
        .map_err(|_| WireError::malformed("PUBLISH with both QoS bits set [MQTT-3.3.1-4]"))?;
    let topic = c.string("topic name")?;
    let packet_id = if qos == QoS::AtMostOnce {
        0
    } else {
        c.u16("packet identifier")?
    };
    let properties = properties::read(c, Place::Publish)?;
    Ok(Publish {
        topic,
        payload: c.rest(),
        qos,
        retain: flags & 0b0001 != 0,
        dup: flags & 0b1000 != 0,
        packet_id,
        properties,
    })
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP: reason and properties may be left out
/// from the end (5.0 section 3.4.2.1).
fn read_ack(c: &mut Cursor, packet_type: u8) -> Result<Ack, WireError> {
    let packet_id = c.u16("packet identifier")?;
    let reason = if c.is_empty() {
        0
    } else {
        read_reason(c, packet_type)?
    };
    let properties = if c.is_empty() {
        Default::default()
    } else {
        properties::read(c, Place::Ack)?
    };
    Ok(Ack {
        packet_id,
        reason,
        properties,
    })
}

fn read_subscribe(c: &mut Cursor) -> Result<Subscribe, WireError> {
    let packet_id = c.u16("packet identifier")?;
    let properties = properties::read(c, Place::Subscribe)?;
    let mut filters = Vec::new();
    while !c.is_empty() {
        let filter = c.string("topic filter")?;
        let options = c.u8("subscription options")?;
        if options & 0b1100_0000 != 0 {
            return Err(WireError::malformed(format!(
                "SUBSCRIBE options {options:#010b} set reserved bits [MQTT-3.8.3-5]"
            )));
        }
        let qos = QoS::try_from(options & 0b11)
            .map_err(|_| WireError::malformed("SUBSCRIBE with maximum QoS 3"))?;
        let retain_handling = match (options >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtNewSubscribe,
            2 => RetainHandling::DoNotSend,
            _ => {
                return Err(WireError::protocol_error(
                    "SUBSCRIBE with Retain Handling 3",
                ));
            }
        };
        filters.push(SubscribeFilter {
            filter,
            qos,
            no_local: options & 0b0100 != 0,
            retain_as_published: options & 0b1000 != 0,
            retain_handling,
        });
    }
    if filters.is_empty() {
        return Err(WireError::protocol_error(
            "SUBSCRIBE without topic filters [MQTT-3.8.3-2]",
        ));
    }
    Ok(Subscribe {
        packet_id,
        filters,
        properties,
    })
}

fn read_reason(c: &mut Cursor, packet_type: u8) -> Result<u8, WireError> {
    let code = c.u8("reason code")?;
    reason_allowed(code, packet_type)?;
    Ok(code)
}

/// The payload of SUBACK and UNSUBACK: one reason code per filter, at least
/// one.
fn read_reason_list(c: &mut Cursor, packet_type: u8, name: &str) -> Result<Vec<u8>, WireError> {
    let codes = c.rest().to_vec();
    if codes.is_empty() {
        return Err(WireError::protocol_error(format!(
            "{name} without reason codes"
        )));
    }
    for &code in &codes {
        reason_allowed(code, packet_type)?;
    }
    Ok(codes)
}

fn reason_allowed(code: u8, packet_type: u8) -> Result<(), WireError> {
    if reason::allowed(packet_type).contains(&code) {
        return Ok(());
    }
    Err(WireError::malformed(format!(
        "reason code {code:#04x} does not exist for {}",
        type_name(packet_type)
    )))
}

/// The checks of `wellformed::packet` that 5.0 words differently: an empty topic
/// name is allowed with a Topic Alias, and the 3.1.1 password rule is gone.
fn v5_rules(p: &Packet) -> Result<(), WireError> {
    if let Packet::Publish(publish) = p
        && publish.topic.is_empty()
    {
        let alias = publish
            .properties
            .iter()
            .any(|p| matches!(p, super::Property::TopicAlias(_)));
        if !alias {
            return Err(WireError::protocol_error(
                "PUBLISH with an empty topic name and no Topic Alias",
            ));
        }
    }
    Ok(())
}

fn type_name(packet_type: u8) -> &'static str {
    if packet_type == header::AUTH {
        "AUTH"
    } else {
        header::type_name(packet_type)
    }
}

/// One whole frame.
pub(crate) fn encode(p: &Packet) -> Result<BytesMut, WireError> {
    let mut body = BytesMut::new();
    let byte1 = match p {
        Packet::Connect(c) => {
            write_connect(&mut body, c)?;
            header::CONNECT << 4
        }
        Packet::ConnAck(a) => {
            body.put_u8(u8::from(a.session_present));
            body.put_u8(a.code);
            properties::write(&mut body, &a.properties)?;
            header::CONNACK << 4
        }
        Packet::Publish(p) => {
            if (p.qos == QoS::AtMostOnce) != (p.packet_id == 0) {
                return Err(WireError::unsupported(format!(
                    "PUBLISH at QoS {} with packet identifier {}: QoS 0 has none, QoS 1 and 2 need one",
                    p.qos, p.packet_id
                )));
            }
            put::string(&mut body, &p.topic, "topic name")?;
            if p.qos != QoS::AtMostOnce {
                body.put_u16(p.packet_id);
            }
            properties::write(&mut body, &p.properties)?;
            body.extend_from_slice(&p.payload);
            (header::PUBLISH << 4)
                | (u8::from(p.dup) << 3)
                | (p.qos.level() << 1)
                | u8::from(p.retain)
        }
        Packet::PubAck(a) => write_ack(&mut body, a, header::PUBACK << 4)?,
        Packet::PubRec(a) => write_ack(&mut body, a, header::PUBREC << 4)?,
        Packet::PubRel(a) => write_ack(&mut body, a, (header::PUBREL << 4) | 0b0010)?,
        Packet::PubComp(a) => write_ack(&mut body, a, header::PUBCOMP << 4)?,
        Packet::Subscribe(s) => {
            body.put_u16(s.packet_id);
            properties::write(&mut body, &s.properties)?;
            for f in &s.filters {
                put::string(&mut body, &f.filter, "topic filter")?;
                body.put_u8(
                    f.qos.level()
                        | (u8::from(f.no_local) << 2)
                        | (u8::from(f.retain_as_published) << 3)
                        | ((f.retain_handling as u8) << 4),
                );
            }
            (header::SUBSCRIBE << 4) | 0b0010
        }
        Packet::SubAck(s) => {
            body.put_u16(s.packet_id);
            properties::write(&mut body, &s.properties)?;
            body.extend_from_slice(&s.codes);
            header::SUBACK << 4
        }
        Packet::Unsubscribe(u) => {
            body.put_u16(u.packet_id);
            properties::write(&mut body, &u.properties)?;
            for f in &u.filters {
                put::string(&mut body, f, "topic filter")?;
            }
            (header::UNSUBSCRIBE << 4) | 0b0010
        }
        Packet::UnsubAck(u) => {
            body.put_u16(u.packet_id);
            properties::write(&mut body, &u.properties)?;
            body.extend_from_slice(&u.codes);
            header::UNSUBACK << 4
        }
        Packet::PingReq => header::PINGREQ << 4,
        Packet::PingResp => header::PINGRESP << 4,
        Packet::Disconnect(d) => {
            write_reason_and_properties(&mut body, d.reason.unwrap_or(0), &d.properties, false)?;
            header::DISCONNECT << 4
        }
        Packet::Auth(a) => {
            write_reason_and_properties(&mut body, a.reason, &a.properties, true)?;
            header::AUTH << 4
        }
    };
    let mut frame = BytesMut::with_capacity(body.len() + 5);
    header::write(&mut frame, byte1, body.len())?;
    frame.extend_from_slice(&body);
    Ok(frame)
}

fn write_connect(body: &mut BytesMut, c: &Connect) -> Result<(), WireError> {
    put::string(body, &c.protocol_name, "protocol name")?;
    body.put_u8(c.protocol_level);
    let mut flags = 0u8;
    if c.clean {
        flags |= connect::flag::CLEAN;
    }
    if let Some(w) = &c.will {
        flags |= connect::flag::WILL | (w.qos.level() << connect::flag::WILL_QOS_SHIFT);
        if w.retain {
            flags |= connect::flag::WILL_RETAIN;
        }
    }
    if c.username.is_some() {
        flags |= connect::flag::USERNAME;
    }
    if c.password.is_some() {
        flags |= connect::flag::PASSWORD;
    }
    body.put_u8(flags);
    body.put_u16(c.keep_alive_s);
    properties::write(body, &c.properties)?;
    put::string(body, &c.client_id, "client identifier")?;
    if let Some(w) = &c.will {
        properties::write(body, &w.properties)?;
        put::string(body, &w.topic, "will topic")?;
        put::binary(body, &w.payload, "will payload")?;
    }
    if let Some(u) = &c.username {
        put::string(body, u, "user name")?;
    }
    if let Some(p) = &c.password {
        put::binary(body, p, "password")?;
    }
    Ok(())
}

fn write_ack(body: &mut BytesMut, a: &Ack, byte1: u8) -> Result<u8, WireError> {
    body.put_u16(a.packet_id);
    write_reason_and_properties(body, a.reason, &a.properties, false)?;
    Ok(byte1)
}

/// The shortest form the spec allows: nothing for success without
/// properties, the reason alone without properties, else both. AUTH has no
/// reason-only form.
fn write_reason_and_properties(
    body: &mut BytesMut,
    reason: u8,
    properties: &super::Properties,
    both_or_nothing: bool,
) -> Result<(), WireError> {
    if reason == 0 && properties.is_empty() {
        return Ok(());
    }
    body.put_u8(reason);
    if !properties.is_empty() || both_or_nothing {
        properties::write(body, properties)?;
    }
    Ok(())
}
