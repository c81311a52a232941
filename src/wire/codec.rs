//! Chooses the codec for a protocol level: [`super::v4`] (mqttbytes behind
//! workarounds) for 3.1.1, [`super::v5`] (by hand) for 5.0.

use bytes::BytesMut;

use super::header::FixedHeader;
use super::{LEVEL_V5, LEVEL_V311, Packet, WireError, v4, v5, wellformed};

/// The one protocol name this module speaks ("MQTT", for 3.1.1 and 5.0).
const PROTOCOL_NAME: &str = "MQTT";

/// Whether a CONNECT's protocol name and level can be decoded and answered.
pub(crate) fn accepts(name: &str, level: u8) -> bool {
    name == PROTOCOL_NAME && (level == LEVEL_V311 || level == LEVEL_V5)
}

/// Decodes one whole frame at a level, with every check this module makes.
pub(crate) fn decode(level: u8, h: &FixedHeader, frame: BytesMut) -> Result<Packet, WireError> {
    wellformed::fixed_header(h, level)?;
    let packet = match level {
        LEVEL_V311 => v4::decode(h, frame)?,
        LEVEL_V5 => v5::decode(h, frame)?,
        other => return Err(level_unsupported(other)),
    };
    wellformed::packet(&packet)?;
    Ok(packet)
}

pub(crate) fn encode(packet: &Packet, level: u8) -> Result<BytesMut, WireError> {
    match level {
        LEVEL_V311 => v4::encode(packet),
        LEVEL_V5 => v5::encode(packet),
        other => Err(level_unsupported(other)),
    }
}

fn level_unsupported(level: u8) -> WireError {
    WireError::unsupported(format!("protocol level {level} is not implemented"))
}
