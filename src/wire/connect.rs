//! CONNECT, decoded and encoded by hand.
//!
//! mqttbytes 0.6's v4 CONNECT cannot carry what 3.1.1 allows, so it is not
//! used for this packet: it reads the password as a UTF-8 string (3.1.1 says
//! binary data), it turns an empty user name or password into "absent" on
//! both read and write, and it accepts protocol level 5 with a v4 body. The
//! reader also needs the protocol name and level before choosing a codec.

use bytes::{BufMut, Bytes, BytesMut};

use super::cursor::Cursor;
use super::{Connect, LastWill, Properties, QoS, WireError, header, wellformed};

/// Protocol name and level, the first fields of every version's CONNECT.
/// Reads from a slice so that peeking copies nothing.
pub(crate) fn protocol(body: &[u8]) -> Result<(String, u8), WireError> {
    let short = || WireError::malformed("the packet ends inside the protocol name or level");
    let (len, rest) = body.split_first_chunk::<2>().ok_or_else(short)?;
    let len = usize::from(u16::from_be_bytes(*len));
    let name = rest.get(..len).ok_or_else(short)?;
    let level = *rest.get(len).ok_or_else(short)?;
    let name = std::str::from_utf8(name).map_err(|_| {
        WireError::malformed("protocol name is not well-formed UTF-8 [MQTT-1.5.3-1]")
    })?;
    wellformed::no_null(name, "protocol name")?;
    Ok((name.to_string(), level))
}

/// The body (after the fixed header) of a 3.1.1 CONNECT.
pub(crate) fn decode_v4(body: Bytes) -> Result<Connect, WireError> {
    let mut cursor = Cursor::new(body);
    let protocol_name = cursor.string("protocol name")?;
    let protocol_level = cursor.u8("protocol level")?;
    let flags = cursor.u8("connect flags")?;
    wellformed::connect_flags(flags)?;
    wellformed::password_needs_username_v4(flags)?;
    let keep_alive_s = cursor.u16("keep alive")?;
    let client_id = cursor.string("client identifier")?;
    let will = if flags & flag::WILL != 0 {
        let topic = cursor.string("will topic")?;
        let payload = cursor.binary("will message")?;
        Some(LastWill {
            topic,
            payload,
            qos: will_qos(flags)?,
            retain: flags & flag::WILL_RETAIN != 0,
            properties: Properties::default(),
        })
    } else {
        None
    };
    let username = if flags & flag::USERNAME != 0 {
        Some(cursor.string("user name")?)
    } else {
        None
    };
    let password = if flags & flag::PASSWORD != 0 {
        Some(cursor.binary("password")?)
    } else {
        None
    };
    if !cursor.is_empty() {
        return Err(WireError::malformed(format!(
            "CONNECT has {} bytes after its last field",
            cursor.remaining()
        )));
    }
    Ok(Connect {
        protocol_name,
        protocol_level,
        client_id,
        clean: flags & flag::CLEAN != 0,
        keep_alive_s,
        will,
        username,
        password,
        properties: Properties::default(),
    })
}

/// The will QoS bits of checked connect flags.
pub(crate) fn will_qos(flags: u8) -> Result<QoS, WireError> {
    QoS::try_from((flags >> flag::WILL_QOS_SHIFT) & 0b11)
        .map_err(|_| WireError::malformed("CONNECT will QoS is 3 [MQTT-3.1.2-14]"))
}

/// A whole 3.1.1 CONNECT frame. The protocol name and level are written as
/// the packet gives them, so a scripted client can offer a level the broker
/// should refuse; the flags follow from the fields, so a password without a
/// user name is encoded as asked (a broker under test must refuse it).
pub(crate) fn encode_v4(c: &Connect) -> Result<BytesMut, WireError> {
    let mut flags = 0u8;
    if c.clean {
        flags |= flag::CLEAN;
    }
    let mut body = BytesMut::new();
    put_binary(&mut body, c.protocol_name.as_bytes(), "protocol name")?;
    body.put_u8(c.protocol_level);
    let flags_at = body.len();
    body.put_u8(0);
    body.put_u16(c.keep_alive_s);
    put_binary(&mut body, c.client_id.as_bytes(), "client identifier")?;
    if let Some(will) = &c.will {
        flags |= flag::WILL | (will.qos.level() << flag::WILL_QOS_SHIFT);
        if will.retain {
            flags |= flag::WILL_RETAIN;
        }
        put_binary(&mut body, will.topic.as_bytes(), "will topic")?;
        put_binary(&mut body, &will.payload, "will message")?;
    }
    if let Some(username) = &c.username {
        flags |= flag::USERNAME;
        put_binary(&mut body, username.as_bytes(), "user name")?;
    }
    if let Some(password) = &c.password {
        flags |= flag::PASSWORD;
        put_binary(&mut body, password, "password")?;
    }
    if let Some(slot) = body.get_mut(flags_at) {
        *slot = flags;
    }
    let mut frame = BytesMut::with_capacity(body.len() + 5);
    header::write(&mut frame, header::CONNECT << 4, body.len())?;
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// A length-prefixed field; refuses what the two-byte prefix cannot say.
fn put_binary(out: &mut BytesMut, bytes: &[u8], field: &str) -> Result<(), WireError> {
    let len = u16::try_from(bytes.len()).map_err(|_| too_long(field, bytes.len()))?;
    out.put_u16(len);
    out.extend_from_slice(bytes);
    Ok(())
}

pub(crate) fn too_long(field: &str, len: usize) -> WireError {
    WireError::unsupported(format!(
        "{field} of {len} bytes exceeds the 65535 bytes a length prefix can say"
    ))
}

pub(crate) mod flag {
    pub const CLEAN: u8 = 0b0000_0010;
    pub const WILL: u8 = 0b0000_0100;
    pub const WILL_QOS_SHIFT: u8 = 3;
    pub const WILL_RETAIN: u8 = 0b0010_0000;
    pub const PASSWORD: u8 = 0b0100_0000;
    pub const USERNAME: u8 = 0b1000_0000;
}
