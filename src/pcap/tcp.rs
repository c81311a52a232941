//! A synthetic TCP life for each client connection, from the trace's
//! events: the segments a capture on the client's NIC would show.
//!
//! The model, per connection:
//! - `connected`: SYN, SYN-ACK, ACK, all at the event's time (the trace
//!   records only when the handshake completed).
//! - a packet the client sent: one PSH-ACK segment from the client (split at
//!   [`MSS`] when larger). The broker's next segment acknowledges it.
//! - a packet the client received: one PSH-ACK segment from the broker, then
//!   the client's ACK, both at the receive time.
//! - `closed`: FIN-ACK from the side that closed, FIN-ACK from the other,
//!   and the closing side's final ACK, all at the event's time.
//!
//! Initial sequence numbers are fixed ([`CLIENT_ISN`], [`BROKER_ISN`]): every
//! connection has its own port pair, so they cannot be confused, and fixed
//! numbers keep the capture reproducible. A connection the trace never
//! closes (the run ended, or the client host crashed) simply stops.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::broker::PORT;
use crate::scenario::ClosedBy;

/// The largest payload of one segment: Ethernet's 1500-byte MTU less the
/// IPv4 and TCP headers. A larger MQTT packet spans several segments.
pub const MSS: usize = 1460;

pub const CLIENT_ISN: u32 = 0x0000_1000;
pub const BROKER_ISN: u32 = 0x4000_1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub psh: bool,
    pub fin: bool,
}

const SYN: Flags = Flags {
    syn: true,
    ack: false,
    psh: false,
    fin: false,
};
const SYN_ACK: Flags = Flags {
    syn: true,
    ack: true,
    psh: false,
    fin: false,
};
const ACK: Flags = Flags {
    syn: false,
    ack: true,
    psh: false,
    fin: false,
};
const PSH_ACK: Flags = Flags {
    syn: false,
    ack: true,
    psh: true,
    fin: false,
};
const FIN_ACK: Flags = Flags {
    syn: false,
    ack: true,
    psh: false,
    fin: true,
};

/// One TCP segment, before it is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Simulated time since the start of the run.
    pub at: Duration,
    pub src: (Ipv4Addr, u16),
    pub dst: (Ipv4Addr, u16),
    pub seq: u32,
    /// Meaningful only with `flags.ack`; zero otherwise.
    pub ack: u32,
    pub flags: Flags,
    pub payload: Vec<u8>,
}

/// One open connection: its endpoints and the next sequence number each
/// side will send.
#[derive(Debug, Clone)]
pub struct Connection {
    client: (Ipv4Addr, u16),
    broker: (Ipv4Addr, u16),
    client_next: u32,
    broker_next: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Broker,
}

impl Connection {
    /// Opens a connection with the three-way handshake, all at `at`.
    pub fn open(
        at: Duration,
        client: Ipv4Addr,
        port: u16,
        broker: Ipv4Addr,
        out: &mut Vec<Segment>,
    ) -> Self {
        let mut c = Connection {
            client: (client, port),
            broker: (broker, PORT),
            client_next: CLIENT_ISN,
            broker_next: BROKER_ISN,
        };
        c.emit(out, at, Side::Client, SYN, Vec::new());
        c.emit(out, at, Side::Broker, SYN_ACK, Vec::new());
        c.emit(out, at, Side::Client, ACK, Vec::new());
        c
    }

    /// Bytes the client wrote.
    pub fn client_sends(&mut self, at: Duration, bytes: &[u8], out: &mut Vec<Segment>) {
        self.data(out, at, Side::Client, bytes);
    }

    /// Bytes the client read, and its acknowledgement.
    pub fn client_receives(&mut self, at: Duration, bytes: &[u8], out: &mut Vec<Segment>) {
        if bytes.is_empty() {
            return;
        }
        self.data(out, at, Side::Broker, bytes);
        self.emit(out, at, Side::Client, ACK, Vec::new());
    }

    /// The closing handshake, started by `by`.
    pub fn close(mut self, at: Duration, by: ClosedBy, out: &mut Vec<Segment>) {
        let (first, second) = match by {
            ClosedBy::Client => (Side::Client, Side::Broker),
            ClosedBy::Broker => (Side::Broker, Side::Client),
        };
        self.emit(out, at, first, FIN_ACK, Vec::new());
        self.emit(out, at, second, FIN_ACK, Vec::new());
        self.emit(out, at, first, ACK, Vec::new());
    }

    fn data(&mut self, out: &mut Vec<Segment>, at: Duration, from: Side, bytes: &[u8]) {
        let chunks = bytes.chunks(MSS);
        let last = chunks.len().saturating_sub(1);
        for (i, chunk) in chunks.enumerate() {
            let flags = if i == last { PSH_ACK } else { ACK };
            self.emit(out, at, from, flags, chunk.to_vec());
        }
    }

    /// Appends one segment and advances the sender's sequence number by
    /// what the segment occupies (payload, plus one for SYN and for FIN).
    fn emit(
        &mut self,
        out: &mut Vec<Segment>,
        at: Duration,
        from: Side,
        flags: Flags,
        payload: Vec<u8>,
    ) {
        let (src, dst, seq, peer_next) = match from {
            Side::Client => (self.client, self.broker, self.client_next, self.broker_next),
            Side::Broker => (self.broker, self.client, self.broker_next, self.client_next),
        };
        let occupies = payload.len() as u32 + u32::from(flags.syn) + u32::from(flags.fin);
        let next = seq.wrapping_add(occupies);
        match from {
            Side::Client => self.client_next = next,
            Side::Broker => self.broker_next = next,
        }
        out.push(Segment {
            at,
            src,
            dst,
            seq,
            ack: if flags.ack { peer_next } else { 0 },
            flags,
            payload,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (Ipv4Addr, Ipv4Addr) {
        (Ipv4Addr::new(192, 168, 0, 2), Ipv4Addr::new(192, 168, 0, 1))
    }

    #[test]
    fn handshake_data_and_close_chain_their_numbers() {
        let (c, b) = addrs();
        let mut out = Vec::new();
        let t = Duration::from_millis(5);
        let mut conn = Connection::open(t, c, 49152, b, &mut out);
        conn.client_sends(t, &[1, 2, 3], &mut out);
        conn.client_receives(t, &[4, 5], &mut out);
        conn.close(t, ClosedBy::Broker, &mut out);
        let summary: Vec<(bool, u32, u32, usize)> = out
            .iter()
            .map(|s| (s.src.0 == c, s.seq, s.ack, s.payload.len()))
            .collect();
        let (ci, bi) = (CLIENT_ISN, BROKER_ISN);
        assert_eq!(
            summary,
            vec![
                (true, ci, 0, 0),           // SYN
                (false, bi, ci + 1, 0),     // SYN-ACK
                (true, ci + 1, bi + 1, 0),  // ACK
                (true, ci + 1, bi + 1, 3),  // CONNECT, say
                (false, bi + 1, ci + 4, 2), // CONNACK
                (true, ci + 4, bi + 3, 0),  // its ACK
                (false, bi + 3, ci + 4, 0), // broker's FIN
                (true, ci + 4, bi + 4, 0),  // client's FIN
                (false, bi + 4, ci + 5, 0), // last ACK
            ]
        );
        assert!(out[6].flags.fin && out[7].flags.fin && !out[8].flags.fin);
    }

    #[test]
    fn a_packet_larger_than_the_mss_spans_segments() {
        let (c, b) = addrs();
        let mut out = Vec::new();
        let mut conn = Connection::open(Duration::ZERO, c, 49152, b, &mut out);
        out.clear();
        conn.client_sends(Duration::ZERO, &vec![0; MSS * 2 + 1], &mut out);
        let lens: Vec<usize> = out.iter().map(|s| s.payload.len()).collect();
        assert_eq!(lens, vec![MSS, MSS, 1]);
        assert!(!out[0].flags.psh && out[2].flags.psh);
        assert_eq!(out[2].seq, CLIENT_ISN + 1 + 2 * MSS as u32);
    }
}
