//! MQTT on the wire: the version-neutral [`Packet`] type and a framed reader
//! and writer over any `AsyncRead + AsyncWrite`.
//!
//! mqttbytes is the codec, and it is used here alone; its known defects (see
//! DESIGN.md) are worked around in this module.

mod packet;

pub use packet::*;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};

/// The largest packet a reader accepts by default, in bytes (fixed header
/// included). A limit on everything: a peer cannot make us buffer more.
pub const PACKET_SIZE_MAX_DEFAULT: usize = 1024 * 1024;

/// Why a packet could not be read or written.
#[derive(Debug)]
pub enum WireError {
    /// The transport failed.
    Io(std::io::Error),
    /// The peer sent bytes that are not a valid packet: a protocol error on
    /// this connection. The receiver closes the connection.
    Malformed(String),
    /// The packet is larger than the reader's limit.
    TooLarge { size: usize, max: usize },
    /// The stream ended in the middle of a packet.
    Truncated,
    /// The packet cannot be encoded at this protocol level.
    Unsupported(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Io(e) => write!(f, "i/o error: {e}"),
            WireError::Malformed(m) => write!(f, "malformed packet: {m}"),
            WireError::TooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds the limit of {max}")
            }
            WireError::Truncated => write!(f, "stream ended inside a packet"),
            WireError::Unsupported(m) => write!(f, "cannot encode: {m}"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<std::io::Error> for WireError {
    fn from(e: std::io::Error) -> Self {
        WireError::Io(e)
    }
}

/// Reads packets from a byte stream.
///
/// `read` is cancel-safe: bytes already received stay in the reader's buffer,
/// so it can be used as a branch of `select!`.
pub struct Reader<R> {
    stream: R,
    buf: BytesMut,
    /// The protocol level the decoder uses; `None` until a CONNECT fixes it
    /// (the broker's side starts out not knowing).
    level: Option<u8>,
    packet_size_max: usize,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// A reader for a known protocol level (a client's side).
    pub fn new(stream: R, level: Option<u8>) -> Self {
        Reader {
            stream,
            buf: BytesMut::new(),
            level,
            packet_size_max: PACKET_SIZE_MAX_DEFAULT,
        }
    }

    pub fn set_packet_size_max(&mut self, bytes: usize) {
        self.packet_size_max = bytes;
    }

    /// The next packet; `Ok(None)` when the stream ended cleanly between
    /// packets. A CONNECT read while the level is unknown fixes the level.
    pub async fn read(&mut self) -> Result<Option<Packet>, WireError> {
        let _ = (&mut self.stream, &mut self.buf, self.level, self.packet_size_max);
        todo!("wire::Reader::read")
    }
}

/// Writes packets to a byte stream at one protocol level.
pub struct Writer<W> {
    stream: W,
    level: u8,
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    pub fn new(stream: W, level: u8) -> Self {
        Writer { stream, level }
    }

    /// Changes the level, once the broker's side has read CONNECT.
    pub fn set_level(&mut self, level: u8) {
        self.level = level;
    }

    /// Encodes and writes one packet, whole, and flushes.
    pub async fn write(&mut self, packet: &Packet) -> Result<(), WireError> {
        let _ = (&mut self.stream, self.level, packet);
        todo!("wire::Writer::write")
    }

    /// Writes raw bytes as they are (the `send` step) and flushes.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        let _ = (&mut self.stream, bytes);
        todo!("wire::Writer::write_raw")
    }

    /// Shuts the write half down, sending FIN.
    pub async fn shutdown(&mut self) -> Result<(), WireError> {
        todo!("wire::Writer::shutdown")
    }
}

/// Encodes one packet at a protocol level.
pub fn encode(packet: &Packet, level: u8) -> Result<BytesMut, WireError> {
    let _ = (packet, level);
    todo!("wire::encode")
}
