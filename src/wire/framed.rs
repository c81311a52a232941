//! The framed reader and writer over a byte stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{PACKET_SIZE_MAX_DEFAULT, Packet, WireError, codec, connect, header};

/// How much room the reader makes before a read when it does not yet know
/// the size of the next packet. Bounded: the buffer never holds more than
/// one incomplete packet (itself at most `packet_size_max`) plus this.
const READ_CHUNK_BYTES: usize = 4096;

/// The most room made at once for the rest of a known packet, so that a
/// header announcing a large packet costs memory only as its bytes arrive:
/// the buffer grows by doubling from here, and never beyond the packet's
/// own length, so it holds at most twice the bytes received (and never
/// more than the packet). `BytesMut::reserve` alone would double past the
/// packet's end: an unfinished 1 MB packet held 2 MB that way.
const READ_RESERVE_MAX_BYTES: usize = 64 * 1024;

/// Bytes that readers sharing it may hold for packets not yet complete,
/// beyond a first `READ_CHUNK_BYTES` each: one budget across all of a
/// broker's connections, so that many connections each sending the start
/// of a large packet cannot hold `connections × packet_size_max` bytes.
/// A reader whose next growth would pass it fails with
/// [`WireError::OverBudget`]. Cheap to clone: clones share the count.
#[derive(Clone, Debug)]
pub struct ReadBudget {
    held: Arc<AtomicUsize>,
    max: usize,
}

impl ReadBudget {
    pub fn new(max: usize) -> ReadBudget {
        ReadBudget {
            held: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Bytes held now by all readers sharing this budget.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Takes `bytes` more, or fails with what is held and the limit.
    fn take(&self, bytes: usize) -> Result<(), WireError> {
        let mut held = self.held.load(Ordering::Relaxed);
        loop {
            let next = held.saturating_add(bytes);
            if next > self.max {
                return Err(WireError::OverBudget {
                    held,
                    wanted: bytes,
                    max: self.max,
                });
            }
            match self
                .held
                .compare_exchange_weak(held, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => held = now,
            }
        }
    }

    fn give_back(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::Relaxed);
    }
}

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
    /// The shared budget for unfinished packets, and what this reader has
    /// taken from it (the room made for the packet being received).
    budget: Option<ReadBudget>,
    taken: usize,
}

impl<R> Drop for Reader<R> {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl<R> Reader<R> {
    fn give_back(&mut self) {
        if let Some(b) = &self.budget {
            b.give_back(self.taken);
        }
        self.taken = 0;
    }
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
            budget: None,
            taken: 0,
        }
    }

    /// Makes this reader take the room it makes for unfinished packets
    /// (beyond `READ_CHUNK_BYTES`) from `budget`, shared with other readers.
    pub fn set_budget(&mut self, budget: ReadBudget) {
        self.give_back();
        self.budget = Some(budget);
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
            self.make_room(frame_len)?;
            return Ok(None);
        }
        let frame = self.buf.split_to(frame_len);
        // What is left after a frame that filled the room made for it
        // holds no allocation of its own: the room goes back.
        self.give_back();
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

impl<R> Reader<R> {
    /// Makes room for more of the frame of `frame_len` bytes that the
    /// buffer starts with, once the room there is full: double what is
    /// held (at least `READ_RESERVE_MAX_BYTES` more), never past the frame
    /// (or past `READ_CHUNK_BYTES`, for a small one).
    /// The buffer is reallocated by hand because `BytesMut::reserve` may
    /// double past the frame's end.
    fn make_room(&mut self, frame_len: usize) -> Result<(), WireError> {
        if self.buf.capacity() > self.buf.len() {
            return Ok(());
        }
        let len = self.buf.len();
        let room = len.max(READ_RESERVE_MAX_BYTES).min(frame_len - len);
        // Never less than a read chunk: room for the packets that follow a
        // small one, so that a burst of them is read in few reads.
        let cap = (len + room).max(READ_CHUNK_BYTES);
        if cap > READ_CHUNK_BYTES
            && let Some(budget) = &self.budget
        {
            let more = cap
                .saturating_sub(READ_CHUNK_BYTES)
                .saturating_sub(self.taken);
            budget.take(more)?;
            self.taken += more;
        }
        let mut bigger = BytesMut::with_capacity(cap);
        bigger.extend_from_slice(&self.buf);
        self.buf = bigger;
        Ok(())
    }
}

/// A write that failed: whether any of the frame's `size` bytes went out
/// before the `error`.
#[derive(Debug)]
pub struct Cut {
    pub started: bool,
    pub size: usize,
    pub error: WireError,
}

impl Cut {
    fn after(written: usize, size: usize, error: WireError) -> Cut {
        Cut {
            started: written > 0,
            size,
            error,
        }
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

    /// Like [`write`](Self::write), but a failure also says whether part
    /// of the frame went out first: a peer that closes after reading a
    /// packet's header (one over its size limit) cuts the write short, and
    /// the packet was then sent, in part.
    pub async fn write_or_cut(&mut self, packet: &Packet) -> Result<(), Cut> {
        let frame = codec::encode(packet, self.level).map_err(|error| Cut {
            started: false,
            size: 0,
            error,
        })?;
        let mut written = 0;
        while written < frame.len() {
            let rest = frame.get(written..).unwrap_or_default();
            match self.stream.write(rest).await {
                Ok(0) => {
                    let error = std::io::Error::from(std::io::ErrorKind::WriteZero);
                    return Err(Cut::after(written, frame.len(), error.into()));
                }
                Ok(n) => written += n,
                Err(e) => return Err(Cut::after(written, frame.len(), e.into())),
            }
        }
        self.stream
            .flush()
            .await
            .map_err(|e| Cut::after(written, frame.len(), e.into()))
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
