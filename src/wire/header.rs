//! The fixed header: packet type, flags and remaining length.
//!
//! Parsed here rather than by mqttbytes so that the reader can refuse an
//! oversized packet as soon as its header is in, before buffering it.

use super::WireError;

pub(crate) const CONNECT: u8 = 1;
pub(crate) const CONNACK: u8 = 2;
pub(crate) const PUBLISH: u8 = 3;
pub(crate) const PUBACK: u8 = 4;
pub(crate) const PUBREC: u8 = 5;
pub(crate) const PUBREL: u8 = 6;
pub(crate) const PUBCOMP: u8 = 7;
pub(crate) const SUBSCRIBE: u8 = 8;
pub(crate) const SUBACK: u8 = 9;
pub(crate) const UNSUBSCRIBE: u8 = 10;
pub(crate) const UNSUBACK: u8 = 11;
pub(crate) const PINGREQ: u8 = 12;
pub(crate) const PINGRESP: u8 = 13;
pub(crate) const DISCONNECT: u8 = 14;
/// 5.0 only; reserved in 3.1.1.
pub(crate) const AUTH: u8 = 15;

/// The remaining length takes at most this many bytes (MQTT 3.1.1 2.2.3).
const REMAINING_LENGTH_BYTES_MAX: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FixedHeader {
    pub byte1: u8,
    /// Bytes taken by the fixed header itself: 2 to 5.
    pub header_len: usize,
    pub remaining_len: usize,
}

impl FixedHeader {
    pub(crate) fn packet_type(&self) -> u8 {
        self.byte1 >> 4
    }

    pub(crate) fn flags(&self) -> u8 {
        self.byte1 & 0x0f
    }

    pub(crate) fn frame_len(&self) -> usize {
        self.header_len + self.remaining_len
    }
}

/// The fixed header at the start of `buf`, or `None` if more bytes are needed
/// to know it.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<FixedHeader>, WireError> {
    let Some((&byte1, rest)) = buf.split_first() else {
        return Ok(None);
    };
    let mut remaining_len = 0usize;
    for (i, &byte) in rest.iter().take(REMAINING_LENGTH_BYTES_MAX).enumerate() {
        remaining_len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some(FixedHeader {
                byte1,
                header_len: 2 + i,
                remaining_len,
            }));
        }
    }
    if rest.len() >= REMAINING_LENGTH_BYTES_MAX {
        return Err(WireError::malformed(
            "remaining length encoded in more than 4 bytes",
        ));
    }
    Ok(None)
}

/// The spec's name of a packet type number.
pub(crate) fn type_name(packet_type: u8) -> &'static str {
    match packet_type {
        CONNECT => "CONNECT",
        CONNACK => "CONNACK",
        PUBLISH => "PUBLISH",
        PUBACK => "PUBACK",
        PUBREC => "PUBREC",
        PUBREL => "PUBREL",
        PUBCOMP => "PUBCOMP",
        SUBSCRIBE => "SUBSCRIBE",
        SUBACK => "SUBACK",
        UNSUBSCRIBE => "UNSUBSCRIBE",
        UNSUBACK => "UNSUBACK",
        PINGREQ => "PINGREQ",
        PINGRESP => "PINGRESP",
        DISCONNECT => "DISCONNECT",
        _ => "reserved type",
    }
}

/// The largest remaining length four bytes can encode.
pub(crate) const REMAINING_LEN_MAX: usize = 268_435_455;

/// Appends a fixed header; the body must follow.
pub(crate) fn write(
    out: &mut bytes::BytesMut,
    byte1: u8,
    remaining_len: usize,
) -> Result<(), WireError> {
    use bytes::BufMut;
    if remaining_len > REMAINING_LEN_MAX {
        return Err(WireError::unsupported(format!(
            "a body of {remaining_len} bytes exceeds the remaining length limit of {REMAINING_LEN_MAX}"
        )));
    }
    out.put_u8(byte1);
    put_variable_int(out, remaining_len);
    Ok(())
}

/// A variable byte integer (the remaining length's encoding, and 5.0's),
/// in the fewest bytes [MQTT-1.5.5-1]. The caller has checked that
/// `value <= REMAINING_LEN_MAX`.
pub(crate) fn put_variable_int(out: &mut bytes::BytesMut, value: usize) {
    use bytes::BufMut;
    let mut x = value;
    loop {
        let digit = (x % 128) as u8;
        x /= 128;
        if x == 0 {
            out.put_u8(digit);
            return;
        }
        out.put_u8(digit | 0x80);
    }
}

/// The bytes a variable byte integer of `value` takes.
pub(crate) fn variable_int_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}
