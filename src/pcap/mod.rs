//! The simulated traffic of a run as a pcap file that Wireshark's MQTT
//! dissector decodes.
//!
//! What the file shows:
//! - **Capture point: each client's NIC.** The trace is the client's view,
//!   so a packet the client sent is captured at its send time and one it
//!   received at its receive time. A packet the broker sent that never
//!   reached the client (the connection was cut) is not in the trace and so
//!   not in the file.
//! - **Addresses** are turmoil's (see [`hosts`]): 192.168.0.1 upwards,
//!   brokers first, then clients, in scenario order; the broker listens on
//!   1883; each client connect attempt takes the client's next ephemeral
//!   port from 49152, as turmoil assigns them. MAC addresses are derived
//!   from the IPv4 address (02:00:a:b:c:d).
//! - **TCP** is synthetic and complete (see [`tcp`]): handshake at
//!   `connected`, one segment per MQTT packet, ACKs for what the client
//!   reads, FINs at `closed` from the side that closed first. Failed connect
//!   attempts use up a port but show no segments.
//! - **Time**: the simulation's epoch (2020-01-01T00:00:00Z) plus simulated
//!   time, at nanosecond resolution, so the file is the same byte for byte
//!   on every run with the same seed.
//! - **Payloads**: each traced packet encoded with `wire::encode` at the
//!   connection's protocol level (the level of its CONNECT, else the
//!   client's protocol); raw `send` bytes as they are. A packet that cannot
//!   be encoded is left out and listed in [`Capture::skipped`].

pub mod frame;
pub mod hosts;
pub mod tcp;

use std::io::Write;
use std::time::Duration;

use indexmap::IndexMap;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use crate::scenario::Scenario;
use crate::sim::EPOCH_S;
use crate::trace::{Event, EventKind, Report};
use crate::wire::{self, LEVEL_V5, LEVEL_V311, Packet};
use hosts::{EPHEMERAL_PORT_FIRST, Hosts, next_port};
use tcp::{Connection, Segment};

pub use tcp::{Flags, MSS};

/// The most segments one capture holds. Each event adds a handful (more for
/// packets over [`MSS`]); past this the capture stops and says so.
pub const SEGMENTS_MAX: usize = 4_000_000;

/// The most reasons [`Capture::skipped`] lists; the rest are only counted.
pub const SKIPPED_LISTED_MAX: usize = 100;

/// The pcap snapshot length: every frame fits, since segments carry at most
/// [`MSS`] bytes.
const SNAPLEN: u32 = 65535;

/// The segments of a run, ready to be written.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub segments: Vec<Segment>,
    /// What could not be captured, and why; at most [`SKIPPED_LISTED_MAX`].
    pub skipped: Vec<String>,
    /// How many events could not be captured, listed or not.
    pub skipped_count: usize,
    /// The capture hit [`SEGMENTS_MAX`] and stops short of the trace's end.
    pub truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("cannot frame a segment: {0}")]
    Frame(String),
    #[error("cannot write the pcap file: {0}")]
    File(#[from] pcap_file::PcapError),
}

/// The time a frame at simulated time `at` carries in the file.
pub fn timestamp(at: Duration) -> Duration {
    Duration::from_secs(EPOCH_S) + at
}

/// Turns a run's trace into TCP segments.
pub fn capture(scenario: &Scenario, report: &Report) -> Capture {
    let hosts = Hosts::of(scenario);
    let mut cap = Capture::default();
    let mut state: IndexMap<&str, ClientState> = IndexMap::new();
    for ev in &report.events {
        if cap.segments.len() >= SEGMENTS_MAX {
            cap.truncated = true;
            break;
        }
        let Some(client) = event_client(&ev.kind) else {
            continue;
        };
        let Some(host) = hosts.client(client) else {
            cap.skip(ev, "the client is not in the scenario");
            continue;
        };
        let st = state.entry(client).or_insert_with(|| ClientState {
            next_port: EPHEMERAL_PORT_FIRST,
            conn: None,
            level: host.protocol.level(),
        });
        cap.apply(ev, host, st);
    }
    cap
}

/// What one client's capture remembers between events.
struct ClientState {
    next_port: u16,
    conn: Option<Connection>,
    level: u8,
}

impl Capture {
    fn apply(&mut self, ev: &Event, host: &hosts::ClientHost, st: &mut ClientState) {
        let at = ev.at;
        match &ev.kind {
            EventKind::Connected { .. } => {
                let port = st.next_port;
                st.next_port = next_port(port);
                st.level = host.protocol.level();
                // A connection still open here belonged to a crashed client
                // host: it just stops, as a real crash would leave it.
                st.conn = Some(Connection::open(
                    at,
                    host.addr,
                    port,
                    host.broker_addr,
                    &mut self.segments,
                ));
            }
            EventKind::ConnectFailed { .. } => st.next_port = next_port(st.next_port),
            EventKind::Send { packet, .. } => {
                if let Packet::Connect(c) = packet
                    && (c.protocol_level == LEVEL_V311 || c.protocol_level == LEVEL_V5)
                {
                    st.level = c.protocol_level;
                }
                let Some(bytes) = self.encode(ev, packet, st) else {
                    return;
                };
                if let Some(conn) = &mut st.conn {
                    conn.client_sends(at, &bytes, &mut self.segments);
                }
            }
            EventKind::SendRaw { bytes, .. } => match &mut st.conn {
                Some(conn) => conn.client_sends(at, bytes, &mut self.segments),
                None => self.skip(ev, "no connection"),
            },
            EventKind::Recv { packet, .. } => {
                let Some(bytes) = self.encode(ev, packet, st) else {
                    return;
                };
                if let Some(conn) = &mut st.conn {
                    conn.client_receives(at, &bytes, &mut self.segments);
                }
            }
            EventKind::Closed { by, .. } => {
                if let Some(conn) = st.conn.take() {
                    conn.close(at, *by, &mut self.segments);
                }
            }
            _ => {}
        }
    }

    /// The packet's bytes, or `None` (and a note) when there is no
    /// connection to carry them or they cannot be encoded.
    fn encode(&mut self, ev: &Event, packet: &Packet, st: &ClientState) -> Option<Vec<u8>> {
        if st.conn.is_none() {
            self.skip(ev, "no connection");
            return None;
        }
        match wire::encode(packet, st.level) {
            Ok(b) => Some(b.to_vec()),
            Err(e) => {
                self.skip(
                    ev,
                    &format!(
                        "{} not encodable at level {}: {e}",
                        packet.type_name(),
                        st.level
                    ),
                );
                None
            }
        }
    }

    fn skip(&mut self, ev: &Event, why: &str) {
        self.skipped_count += 1;
        if self.skipped.len() < SKIPPED_LISTED_MAX {
            let who = ev.kind.host().unwrap_or("-");
            self.skipped.push(format!(
                "{:.3}s {who} {}: {why}",
                ev.at.as_secs_f64(),
                ev.kind.name()
            ));
        }
    }

    /// Writes the capture as a little-endian pcap file with nanosecond
    /// timestamps and Ethernet link type.
    pub fn write_pcap<W: Write>(&self, out: W) -> Result<(), PcapError> {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::Little,
        };
        let mut w = PcapWriter::with_header(out, header)?;
        for s in &self.segments {
            let data = frame::frame(s).map_err(|e| PcapError::Frame(e.to_string()))?;
            let len = u32::try_from(data.len()).map_err(|e| PcapError::Frame(e.to_string()))?;
            w.write_packet(&PcapPacket::new(timestamp(s.at), len, &data))?;
        }
        Ok(())
    }

    /// The pcap file in memory.
    pub fn to_pcap(&self) -> Result<Vec<u8>, PcapError> {
        let mut out = Vec::new();
        self.write_pcap(&mut out)?;
        Ok(out)
    }
}

/// The client an event belongs to; faults and notes have none.
fn event_client(kind: &EventKind) -> Option<&str> {
    match kind {
        EventKind::Note { .. } | EventKind::Fault { .. } => None,
        other => other.host(),
    }
}
