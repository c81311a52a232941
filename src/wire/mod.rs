//! MQTT on the wire: the version-neutral [`Packet`] type and a framed reader
//! and writer over any `AsyncRead + AsyncWrite`.
//!
//! mqttbytes is the codec of 3.1.1, and it is used here alone; its known
//! defects are worked around in this module. 5.0 has a codec of its own:
//!
//! - `header`: the fixed header, parsed by us so oversized packets are
//!   refused before they are buffered.
//! - `wellformed`: the spec's well-formedness checks that mqttbytes skips.
//! - `connect`: CONNECT by hand, which mqttbytes' v4 cannot carry faithfully.
//! - `v4`: conversion between [`Packet`] and mqttbytes' v4 packets.
//! - `v5`: MQTT 5.0 decoded and encoded by hand, properties and reason codes
//!   checked; chosen beside `v4` in `codec` by protocol level.
//! - `framed`: [`Reader`] and [`Writer`].
//!
//! A decode error is a [`WireError`]; [`WireError::reason_code`] gives the
//! 5.0 reason code for it (0x81 malformed, 0x82 protocol error, 0x95 too
//! large).

mod codec;
mod connect;
mod cursor;
mod error;
mod framed;
pub mod fuzz;
mod header;
mod packet;
mod properties;
mod v4;
mod v5;
mod wellformed;

#[cfg(test)]
mod tests;

pub use error::{WireError, reason};
pub use framed::{Cut, ReadBudget, Reader, Writer};
pub use packet::*;
/// Where each 5.0 property may stand, by its identifier byte (5.0 section
/// 2.2.2.2): the one table the codec and the trace's property maps share.
pub use v5::properties::{
    Place, SUBSCRIPTION_ID_MAX, allowed as property_allowed, id as property_id,
};

use bytes::BytesMut;

/// The codes a packet of the named type (`CONNACK`) may carry at protocol
/// `level`: the 5.0 reason codes of its section, or the 3.1.1 return codes
/// (CONNACK 0 to 5, SUBACK 0, 1, 2 and 0x80). `None` when the type carries
/// no code at that level. The one table the codecs and the scenario loader
/// share, so a matcher cannot ask for a code no packet can carry.
pub fn codes_allowed(type_name: &str, level: u8) -> Option<&'static [u8]> {
    use header as h;
    let ty = match type_name {
        "CONNACK" => h::CONNACK,
        "PUBACK" => h::PUBACK,
        "PUBREC" => h::PUBREC,
        "PUBREL" => h::PUBREL,
        "PUBCOMP" => h::PUBCOMP,
        "SUBACK" => h::SUBACK,
        "UNSUBACK" => h::UNSUBACK,
        "DISCONNECT" => h::DISCONNECT,
        "AUTH" => h::AUTH,
        _ => return None,
    };
    if level == LEVEL_V311 {
        return match ty {
            h::CONNACK => Some(v4::CONNACK_CODES),
            h::SUBACK => Some(v4::SUBACK_CODES),
            _ => None,
        };
    }
    Some(v5::reason_codes_allowed(ty)).filter(|c| !c.is_empty())
}

/// The largest packet a reader accepts by default, in bytes (fixed header
/// included). A limit on everything: a peer cannot make us buffer more.
pub const PACKET_SIZE_MAX_DEFAULT: usize = 1024 * 1024;

/// The packet type and the whole frame's length (fixed header included) of
/// the frame `buf` starts with, once its fixed header is in; `None` before.
/// For readers that skip frames without buffering them (`serve`'s tap).
pub fn frame_header(buf: &[u8]) -> Result<Option<(u8, usize)>, WireError> {
    Ok(header::parse(buf)?.map(|h| (h.packet_type(), h.frame_len())))
}

/// Encodes one packet at a protocol level, as one whole frame.
///
/// The packet is encoded as given, even where the spec forbids what it says
/// (an empty SUBSCRIBE, a password without a user name): the harness uses
/// this to send such packets to a broker under test, and the [`Reader`]
/// refuses them. What the frame cannot carry is refused with `Unsupported`:
/// strings over 65,535 bytes, QoS above 2, return codes 3.1.1 does not have,
/// a DISCONNECT reason code, a PUBLISH packet id that contradicts its QoS.
pub fn encode(packet: &Packet, level: u8) -> Result<BytesMut, WireError> {
    codec::encode(packet, level)
}

/// Splits bytes written in one go (a raw `send`) into the packets they
/// hold, decoded at a protocol level; `None` when they are not whole,
/// well-formed packets. For readers of the trace, which see raw sends as
/// bytes.
pub fn decode_all(mut bytes: &[u8], level: u8) -> Option<Vec<Packet>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = header::parse(bytes).ok()??.frame_len();
        let frame = bytes.get(..len)?;
        out.push(decode(frame, level).ok()?);
        bytes = &bytes[len..];
    }
    Some(out)
}

/// Decodes one whole frame at a protocol level, with every check the
/// [`Reader`] makes after it has framed the bytes: `bytes` must hold
/// exactly one packet. For tools, fuzzing and benchmarks; connections use
/// the [`Reader`].
pub fn decode(bytes: &[u8], level: u8) -> Result<Packet, WireError> {
    let h = header::parse(bytes)?.ok_or(WireError::Truncated)?;
    if h.frame_len() > PACKET_SIZE_MAX_DEFAULT {
        return Err(WireError::TooLarge {
            size: h.frame_len(),
            max: PACKET_SIZE_MAX_DEFAULT,
        });
    }
    match bytes.len().cmp(&h.frame_len()) {
        std::cmp::Ordering::Less => Err(WireError::Truncated),
        std::cmp::Ordering::Greater => Err(WireError::malformed(format!(
            "{} bytes after the packet",
            bytes.len() - h.frame_len()
        ))),
        std::cmp::Ordering::Equal => codec::decode(level, &h, BytesMut::from(bytes)),
    }
}
