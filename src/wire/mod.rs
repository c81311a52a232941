//! MQTT on the wire: the version-neutral [`Packet`] type and a framed reader
//! and writer over any `AsyncRead + AsyncWrite`.
//!
//! mqttbytes is the codec, and it is used here alone; its known defects (see
//! DESIGN.md) are worked around in this module:
//!
//! - `header`: the fixed header, parsed by us so oversized packets are
//!   refused before they are buffered.
//! - `check`: the spec's well-formedness checks that mqttbytes skips.
//! - `connect`: CONNECT by hand, which mqttbytes' v4 cannot carry faithfully.
//! - `v4`: conversion between [`Packet`] and mqttbytes' v4 packets; a `v5`
//!   module will sit beside it, chosen in `codec`.
//! - `framed`: [`Reader`] and [`Writer`].
//!
//! Only MQTT 3.1.1 (level 4) is implemented. Level 5 is refused:
//! `UnacceptableProtocol` when a CONNECT asks for it, `Unsupported` when
//! encoding or decoding at it.

mod check;
mod codec;
mod connect;
mod cursor;
mod error;
mod framed;
mod header;
mod packet;
mod properties;
mod v4;

#[cfg(test)]
mod tests;

pub use error::WireError;
pub use framed::{Reader, Writer};
pub use packet::*;

use bytes::BytesMut;

/// The largest packet a reader accepts by default, in bytes (fixed header
/// included). A limit on everything: a peer cannot make us buffer more.
pub const PACKET_SIZE_MAX_DEFAULT: usize = 1024 * 1024;

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
