//! Ethernet II, IPv4 and TCP framing of a segment. etherparse builds the
//! headers and computes the IPv4 header checksum and the TCP checksum.

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;
use etherparse::err::packet::BuildVecWriteError;

use super::tcp::Segment;

/// TTL of every synthetic IPv4 packet (Linux's default).
const TTL: u8 = 64;

/// The advertised receive window. Simulated TCP has no flow control worth
/// showing, so it is fixed.
const WINDOW: u16 = 65535;

/// A locally administered MAC address derived from an IPv4 address, so that
/// each host has its own and it never changes between runs.
pub fn mac(addr: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = addr.octets();
    [0x02, 0x00, a, b, c, d]
}

/// The Ethernet frame of a segment.
pub fn frame(s: &Segment) -> Result<Vec<u8>, BuildVecWriteError> {
    let mut b = PacketBuilder::ethernet2(mac(s.src.0), mac(s.dst.0))
        .ipv4(s.src.0.octets(), s.dst.0.octets(), TTL)
        .tcp(s.src.1, s.dst.1, s.seq, WINDOW);
    if s.flags.syn {
        b = b.syn();
    }
    if s.flags.fin {
        b = b.fin();
    }
    if s.flags.psh {
        b = b.psh();
    }
    if s.flags.ack {
        b = b.ack(s.ack);
    }
    let mut out = Vec::with_capacity(b.size(s.payload.len()));
    b.write_to_vec(&mut out, &s.payload)?;
    Ok(out)
}
