//! Chooses the codec for a protocol level. Today that is [`super::v4`]
//! alone; a `v5` module slots in as one more arm in each match.

use bytes::BytesMut;

use super::header::FixedHeader;
use super::{LEVEL_V5, LEVEL_V311, Packet, WireError, check, v4};

/// The one protocol name this module speaks ("MQTT", for 3.1.1 and 5.0).
const PROTOCOL_NAME: &str = "MQTT";

/// Whether a CONNECT's protocol name and level can be decoded and answered.
pub(crate) fn accepts(name: &str, level: u8) -> bool {
    name == PROTOCOL_NAME && level == LEVEL_V311
}

/// Decodes one whole frame at a level, with every check this module makes.
pub(crate) fn decode(level: u8, h: &FixedHeader, frame: BytesMut) -> Result<Packet, WireError> {
    check::fixed_header(h)?;
    let packet = match level {
        LEVEL_V311 => v4::decode(h, frame)?,
        other => return Err(level_unsupported(other)),
    };
    check::packet(&packet)?;
    Ok(packet)
}

pub(crate) fn encode(packet: &Packet, level: u8) -> Result<BytesMut, WireError> {
    match level {
        LEVEL_V311 => v4::encode(packet),
        other => Err(level_unsupported(other)),
    }
}

fn level_unsupported(level: u8) -> WireError {
    match level {
        LEVEL_V5 => WireError::unsupported("MQTT 5.0 (protocol level 5) is not implemented yet"),
        other => WireError::unsupported(format!("protocol level {other} is not implemented")),
    }
}
