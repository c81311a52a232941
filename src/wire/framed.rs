//! The framed reader and writer over a byte stream.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{PACKET_SIZE_MAX_DEFAULT, Packet, WireError, codec, connect, header};

/// How much room the reader makes before a read when it does not yet know
/// the size of the next packet. Bounded: the buffer never holds more than
/// one incomplete packet (itself at most `packet_size_max`) plus this.
const READ_CHUNK_BYTES: usize = 4096;

/// The most room made at once for the rest of a known packet, so that a
/// header announcing a large packet costs memory only as its bytes arrive.
const READ_RESERVE_MAX_BYTES: usize = 64 * 1024;

/// Reads packets from a byte stream.
///
/// `read` is cancel-safe: bytes already received stay in the reader's buffer,
/// so it can be used as a branch of `select!`. After an error the connection
/// is to be closed; further reads give errors or garbage, never a panic.
pub struct Reader<R> {
    stream: R,
    buf: BytesMut,
    /// The protocol level the decoder uses; `None` until a CONNECT fixes it
    /// (the broker's side starts out not knowing).
    level: Option<u8>,
    packet_size_max: usize,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// A reader for a known protocol level (a client's side), or for a level
    /// that the first packet, which must be CONNECT, will fix (`None`, the
    /// broker's side).
    pub fn new(stream: R, level: Option<u8>) -> Self {
        Reader {
            stream,
            buf: BytesMut::new(),
            level,
            packet_size_max: PACKET_SIZE_MAX_DEFAULT,
        }
    }

    /// The largest packet accepted, fixed header included, in bytes.
    pub fn set_packet_size_max(&mut self, bytes: usize) {
        self.packet_size_max = bytes;
    }

    /// The protocol level in use: given at creation or fixed by CONNECT,
    /// as soon as its protocol name and level are read (even if the rest
    /// of it then fails to decode). The broker passes it on to its
    /// [`Writer`] with `set_level`.
    pub fn level(&self) -> Option<u8> {
        self.level
    }

    /// The next packet; `Ok(None)` when the stream ended cleanly between
    /// packets. A CONNECT read while the level is unknown fixes the level.
    ///
    /// Errors: `Truncated` at EOF inside a packet; `TooLarge` as soon as a
    /// fixed header announces more than the limit; `Malformed` for any
    /// breach of the spec's packet rules (a first packet other than CONNECT
    /// included, [MQTT-3.1.0-1]); `UnacceptableProtocol` for a CONNECT with
    /// a protocol name or level this module does not speak.
    pub async fn read(&mut self) -> Result<Option<Packet>, WireError> {
        loop {
            if let Some(packet) = self.decode_buffered()? {
                return Ok(Some(packet));
            }
            // Cancel-safe: read_buf either appends to self.buf or, if the
            // future is dropped, has read nothing.
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(WireError::Truncated)
                };
            }
        }
    }

    /// A packet from the buffer alone, or `None` if more bytes are needed
    /// (having made room for them).
    fn decode_buffered(&mut self) -> Result<Option<Packet>, WireError> {
        let Some(&byte1) = self.buf.first() else {
            self.buf.reserve(READ_CHUNK_BYTES);
            return Ok(None);
        };
        let packet_type = byte1 >> 4;
        if self.level.is_none() && packet_type != header::CONNECT {
            return Err(WireError::malformed(format!(
                "the first packet is {}, not CONNECT [MQTT-3.1.0-1]",
                header::type_name(packet_type)
            )));
        }
        let Some(h) = header::parse(&self.buf)? else {
            self.buf.reserve(READ_CHUNK_BYTES);
            return Ok(None);
        };
        let frame_len = h.frame_len();
        if frame_len > self.packet_size_max {
            if self.level.is_none() {
                // A CONNECT too large to read may still say its level, so
                // that the broker can refuse it in the client's version.
                let body = self.buf.get(h.header_len..).unwrap_or_default();
                if let Ok((name, level)) = connect::protocol(body)
                    && codec::accepts(&name, level)
                {
                    self.level = Some(level);
                }
            }
            return Err(WireError::TooLarge {
                size: frame_len,
                max: self.packet_size_max,
            });
        }
        if self.buf.len() < frame_len {
            self.buf
                .reserve((frame_len - self.buf.len()).min(READ_RESERVE_MAX_BYTES));
            return Ok(None);
        }
        let frame = self.buf.split_to(frame_len);
        let level = match self.level {
            Some(level) if packet_type != header::CONNECT => level,
            known => {
                let body = frame
                    .clone()
                    .freeze()
                    .split_off(h.header_len.min(frame.len()));
                let (name, level) = connect::protocol(&body)?;
                if !codec::accepts(&name, level) {
                    return Err(WireError::UnacceptableProtocol { name, level });
                }
                // A second CONNECT is the broker's to refuse [MQTT-3.1.0-2];
                // it does not change the level of the connection.
                known.unwrap_or(level)
            }
        };
        // Fixed before the body is decoded, so that a CONNECT that fails
        // to decode can still be answered in the client's version.
        self.level.get_or_insert(level);
        let packet = codec::decode(level, &h, frame)?;
        Ok(Some(packet))
    }
}

/// Writes packets to a byte stream at one protocol level.
///
/// `write` is not cancel-safe: dropped mid-way, it may have sent part of a
/// frame. Do not race it in `select!`.
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

    /// Encodes and writes one packet, whole, and flushes. A packet that
    /// cannot be encoded writes nothing.
    pub async fn write(&mut self, packet: &Packet) -> Result<(), WireError> {
        let frame = codec::encode(packet, self.level)?;
        self.write_raw(&frame).await
    }

    /// Writes raw bytes as they are (the `send` step) and flushes.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Shuts the write half down, sending FIN.
    pub async fn shutdown(&mut self) -> Result<(), WireError> {
        self.stream.shutdown().await?;
        Ok(())
    }
}
