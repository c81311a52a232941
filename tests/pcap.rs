//! The pcap capture of real scenario runs, read back frame by frame.
//!
//! The frames are parsed here by hand, at fixed offsets, and checksums are
//! recomputed here too, so the checks do not lean on the library that wrote
//! them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use mqtt_sim::pcap::{self, MSS};
use mqtt_sim::scenario::{self, ClosedBy, Scenario};
use mqtt_sim::sim::{self, EPOCH_S, RunOptions};
use mqtt_sim::trace::{EventKind, Report};
use mqtt_sim::wire;
use pcap_file::pcap::PcapReader;

const BROKER_PORT: u16 = 1883;

/// One frame as read back from the file.
/// An IPv4 address and a port.
type Endpoint = ([u8; 4], u16);

#[derive(Debug, Clone)]
struct Frame {
    at: Duration,
    src: Endpoint,
    dst: Endpoint,
    seq: u32,
    ack: u32,
    syn: bool,
    ack_flag: bool,
    fin: bool,
    payload: Vec<u8>,
}

impl Frame {
    fn sent_by_client(&self) -> bool {
        self.dst.1 == BROKER_PORT
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The one's-complement sum of RFC 1071, folded.
fn ones_sum(data: &[u8], mut sum: u32) -> u32 {
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// Parses one Ethernet/IPv4/TCP frame, checking both checksums.
fn parse(at: Duration, b: &[u8]) -> Frame {
    assert_eq!(be16(b, 12), 0x0800, "EtherType IPv4");
    let ip = &b[14..];
    assert_eq!(ip[0], 0x45, "IPv4 without options");
    let total = usize::from(be16(ip, 2));
    assert_eq!(total + 14, b.len(), "IPv4 total length matches the frame");
    assert_eq!(ip[9], 6, "protocol TCP");
    assert_eq!(ones_sum(&ip[..20], 0), 0xffff, "IPv4 header checksum");
    let tcp = &ip[20..total];
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&ip[12..20]);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    assert_eq!(ones_sum(tcp, ones_sum(&pseudo, 0)), 0xffff, "TCP checksum");
    let data_offset = usize::from(tcp[12] >> 4) * 4;
    let flags = tcp[13];
    Frame {
        at,
        src: ([ip[12], ip[13], ip[14], ip[15]], be16(tcp, 0)),
        dst: ([ip[16], ip[17], ip[18], ip[19]], be16(tcp, 2)),
        seq: be32(tcp, 4),
        ack: be32(tcp, 8),
        fin: flags & 0x01 != 0,
        syn: flags & 0x02 != 0,
        ack_flag: flags & 0x10 != 0,
        payload: tcp[data_offset..].to_vec(),
    }
}

fn read_frames(bytes: &[u8]) -> Vec<Frame> {
    let mut reader = PcapReader::new(bytes).expect("a pcap header");
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.expect("a well-formed pcap record");
        let at = p
            .timestamp
            .checked_sub(Duration::from_secs(EPOCH_S))
            .expect("timestamps start at the simulation's epoch");
        out.push(parse(at, &p.data));
    }
    out
}

/// What the trace says the capture must hold, frame by frame: time, whether
/// the client sent it, SYN, FIN, payload.
type Expected = (Duration, bool, bool, bool, Vec<u8>);

fn expected_frames(report: &Report) -> Vec<Expected> {
    let mut out = Vec::new();
    let none = Vec::new;
    for ev in &report.events {
        let t = ev.at;
        match &ev.kind {
            EventKind::Connected { .. } => {
                out.push((t, true, true, false, none()));
                out.push((t, false, true, false, none()));
                out.push((t, true, false, false, none()));
            }
            EventKind::Send { packet, level, .. } => {
                let bytes = wire::encode(packet, *level).expect("encodable").to_vec();
                for chunk in bytes.chunks(MSS) {
                    out.push((t, true, false, false, chunk.to_vec()));
                }
            }
            EventKind::SendRaw { bytes, .. } => {
                for chunk in bytes.chunks(MSS) {
                    out.push((t, true, false, false, chunk.to_vec()));
                }
            }
            EventKind::Recv { packet, level, .. } => {
                let bytes = wire::encode(packet, *level).expect("encodable").to_vec();
                for chunk in bytes.chunks(MSS) {
                    out.push((t, false, false, false, chunk.to_vec()));
                }
                out.push((t, true, false, false, none()));
            }
            EventKind::Closed { by, .. } => {
                let client_first = *by == ClosedBy::Client;
                out.push((t, client_first, false, true, none()));
                out.push((t, !client_first, false, true, none()));
                out.push((t, client_first, false, false, none()));
            }
            _ => {}
        }
    }
    out
}

/// Every flow's numbers chain: each segment starts where the sender's
/// previous one ended, and each ACK names the peer's next sequence number.
fn check_sequence_numbers(frames: &[Frame]) {
    use std::collections::BTreeMap;
    // (sender, receiver) -> next sequence number the sender will use
    let mut next: BTreeMap<(Endpoint, Endpoint), u32> = BTreeMap::new();
    for (i, f) in frames.iter().enumerate() {
        if f.syn {
            assert!(
                !next.contains_key(&(f.src, f.dst)),
                "frame {i}: a second SYN on one flow"
            );
        } else {
            let want = next.get(&(f.src, f.dst)).copied();
            assert_eq!(Some(f.seq), want, "frame {i}: seq continues the flow");
        }
        if f.ack_flag {
            let peer = next.get(&(f.dst, f.src)).copied();
            assert_eq!(Some(f.ack), peer, "frame {i}: ack is the peer's next seq");
        } else {
            assert!(f.syn, "frame {i}: only the first SYN lacks ACK");
        }
        let len = f.payload.len() as u32 + u32::from(f.syn) + u32::from(f.fin);
        next.insert((f.src, f.dst), f.seq.wrapping_add(len));
    }
}

fn load(path: &str) -> Scenario {
    scenario::load(Path::new(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn pcap_of(s: &Scenario) -> (Report, Vec<u8>) {
    let report = sim::run(s, &RunOptions::default());
    let cap = pcap::capture(s, &report);
    assert_eq!(cap.skipped, Vec::<String>::new());
    assert!(!cap.truncated);
    (report, cap.to_pcap().expect("writes"))
}

fn check_against_trace(name: &str, report: &Report, bytes: &[u8]) {
    let frames = read_frames(bytes);
    let want = expected_frames(report);
    assert_eq!(frames.len(), want.len(), "{name}: frame count");
    for (i, (f, w)) in frames.iter().zip(&want).enumerate() {
        let got = (f.at, f.sent_by_client(), f.syn, f.fin, f.payload.clone());
        assert_eq!(&got, w, "{name}: frame {i}");
    }
    check_sequence_numbers(&frames);
}

fn scenario_files() -> Vec<PathBuf> {
    mqtt_sim::scenario::find(Path::new("scenarios"))
        .expect("the scenarios directory is readable")
        .into_iter()
        .map(|(_, path)| path)
        .collect()
}

#[test]
fn every_scenario_captures_frame_by_frame_as_its_trace_says() {
    let files = scenario_files();
    assert!(files.len() >= 10, "the scenario files are found");
    for f in files {
        let name = f.display().to_string();
        let s = load(&name);
        let (report, bytes) = pcap_of(&s);
        check_against_trace(&name, &report, &bytes);
    }
}

#[test]
fn flapping_clients_show_one_handshake_and_one_broker_close_per_connection() {
    let s = load("scenarios/tutorial/duplicate-client-id.yaml");
    let (report, bytes) = pcap_of(&s);
    let frames = read_frames(&bytes);
    let connects = report
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Connected { .. }))
        .count();
    // a connects 6 times, b 5 times; 10 of those end in a takeover.
    assert_eq!(connects, 11);
    let syns: Vec<&Frame> = frames.iter().filter(|f| f.syn && !f.ack_flag).collect();
    assert_eq!(syns.len(), 11);
    // Each connection of a client takes its next ephemeral port.
    let a_ports: Vec<u16> = syns
        .iter()
        .filter(|f| f.src.0 == [192, 168, 0, 2])
        .map(|f| f.src.1)
        .collect();
    assert_eq!(a_ports, (49152..49158).collect::<Vec<u16>>());
    let b_ports: Vec<u16> = syns
        .iter()
        .filter(|f| f.src.0 == [192, 168, 0, 3])
        .map(|f| f.src.1)
        .collect();
    assert_eq!(b_ports, (49152..49157).collect::<Vec<u16>>());
    // The broker closes every connection that ends: it sends the first FIN.
    let fins: Vec<&Frame> = frames.iter().filter(|f| f.fin).collect();
    assert_eq!(fins.len(), 20);
    for pair in fins.chunks(2) {
        assert!(!pair[0].sent_by_client() && pair[1].sent_by_client());
    }
}

#[test]
fn a_client_that_disconnects_sends_the_first_fin() {
    let s = load("scenarios/will/disconnect-discards-will.yaml");
    let (_, bytes) = pcap_of(&s);
    let frames = read_frames(&bytes);
    let first_fin = frames.iter().position(|f| f.fin).expect("a FIN");
    assert!(frames[first_fin].sent_by_client());
    // DISCONNECT (0xe0 0x00) is the client's last data before it.
    let last_data = frames[..first_fin]
        .iter()
        .rev()
        .find(|f| f.sent_by_client() && !f.payload.is_empty())
        .expect("data before the FIN");
    assert_eq!(last_data.payload, vec![0xe0, 0x00]);
}

#[test]
fn the_file_is_the_same_byte_for_byte_on_every_run() {
    for path in [
        "scenarios/tutorial/duplicate-client-id.yaml",
        "scenarios/will/keepalive-expiry-publishes-will.yaml",
    ] {
        let s = load(path);
        let (_, first) = pcap_of(&s);
        let (_, second) = pcap_of(&s);
        assert!(first.len() > 24, "{path}: more than a header");
        assert!(first == second, "{path}: two runs differ");
    }
}

#[test]
fn the_file_header_says_ethernet_with_nanosecond_timestamps() {
    let s = load("scenarios/tutorial/clean-session.yaml");
    let (_, bytes) = pcap_of(&s);
    // Little-endian magic of the nanosecond pcap format, then version 2.4.
    assert_eq!(&bytes[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
    assert_eq!(&bytes[4..8], &[2, 0, 4, 0]);
    // Link type 1: Ethernet.
    assert_eq!(&bytes[20..24], &[1, 0, 0, 0]);
}

/// A scenario written to a temporary file, removed when dropped.
struct TempScenario(PathBuf);

impl TempScenario {
    fn new(name: &str, yaml: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("mqtt-sim-pcap-{}-{name}.yaml", std::process::id()));
        std::fs::write(&path, yaml).expect("temp file");
        TempScenario(path)
    }
}

impl Drop for TempScenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn raw_bytes_and_packets_larger_than_a_segment_are_captured_whole() {
    let big = "x".repeat(4000);
    let yaml = format!(
        "name: raw and big\nduration: 2s\nbrokers:\n  broker: {{}}\nclients:\n  c:\n    steps:\n      - connect: {{}}\n      - subscribe: {{filter: t, qos: 0}}\n      - publish: {{topic: t, payload: {big}, qos: 0}}\n      - {{at: 1s, send: {{hex: \"c000\"}}}}\n"
    );
    let file = TempScenario::new("raw-big", &yaml);
    let s = scenario::load(&file.0).expect("loads");
    let (report, bytes) = pcap_of(&s);
    assert!(
        report
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::SendRaw { .. })),
        "the trace has the raw send"
    );
    check_against_trace("raw-big", &report, &bytes);
    let frames = read_frames(&bytes);
    // The PUBLISH goes out in 3 segments and comes back in 3 more.
    let full = frames.iter().filter(|f| f.payload.len() == MSS).count();
    assert_eq!(full, 4);
    let raw = frames
        .iter()
        .find(|f| f.at == Duration::from_secs(1) && f.sent_by_client() && !f.payload.is_empty())
        .expect("the raw send's frame");
    assert_eq!(raw.payload, vec![0xc0, 0x00]);
}

fn mqtt_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("MQTT_SIM_SEED")
        .output()
        .expect("the mqtt-sim binary runs")
}

fn temp_out(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mqtt-sim-pcap-{}-{name}.pcap", std::process::id()))
}

#[test]
fn the_command_writes_the_file_and_prints_a_hosts_legend() {
    let out = temp_out("cli");
    let path = out.to_string_lossy().into_owned();
    let run = mqtt_sim(&[
        "pcap",
        "scenarios/tutorial/duplicate-client-id.yaml",
        "-o",
        &path,
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "192.168.0.1 broker\n192.168.0.2 a\n192.168.0.3 b\n"
    );
    let written = std::fs::read(&out).expect("the file exists");
    let _ = std::fs::remove_file(&out);
    let s = load("scenarios/tutorial/duplicate-client-id.yaml");
    let (_, bytes) = pcap_of(&s);
    assert!(
        written == bytes,
        "the command writes what the library makes"
    );
}

#[test]
fn the_seed_option_reaches_the_run() {
    let out = temp_out("seed");
    let path = out.to_string_lossy().into_owned();
    let file = "tests/fixtures/cli/latency-range.yaml";
    let run = mqtt_sim(&["pcap", file, "--seed", "12345", "-o", &path]);
    assert_eq!(run.status.code(), Some(0));
    let written = std::fs::read(&out).expect("the file exists");
    let _ = std::fs::remove_file(&out);
    let s = load(file);
    let report = sim::run(
        &s,
        &RunOptions {
            seed: Some(12345),
            ..RunOptions::default()
        },
    );
    let bytes = pcap::capture(&s, &report).to_pcap().expect("writes");
    assert!(written == bytes);
}

#[test]
fn a_failed_expectation_still_writes_the_file_and_exits_0() {
    let out = temp_out("failed");
    let path = out.to_string_lossy().into_owned();
    let run = mqtt_sim(&[
        "pcap",
        "tests/fixtures/cli/false-expectation.yaml",
        "-o",
        &path,
    ]);
    assert_eq!(run.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&run.stderr).contains("FAILED"));
    assert!(out.exists());
    let _ = std::fs::remove_file(&out);
}

#[test]
fn bad_files_and_arguments_exit_2() {
    let out = temp_out("bad");
    let path = out.to_string_lossy().into_owned();
    let missing = mqtt_sim(&["pcap", "no/such/file.yaml", "-o", &path]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(!out.exists(), "nothing is written for a bad file");
    let invalid = mqtt_sim(&["pcap", "tests/fixtures/cli/nested-typo.yaml", "-o", &path]);
    assert_eq!(invalid.status.code(), Some(2));
    let no_output = mqtt_sim(&["pcap", "scenarios/tutorial/clean-session.yaml"]);
    assert_eq!(no_output.status.code(), Some(2));
    let unwritable = mqtt_sim(&[
        "pcap",
        "scenarios/tutorial/clean-session.yaml",
        "-o",
        "/no/such/dir/out.pcap",
    ]);
    assert_eq!(unwritable.status.code(), Some(2));
}

/// The capture's addressing model, checked against turmoil-net, the TCP
/// the engine runs on: hosts numbered from 192.168.0.1 in registration
/// order (brokers first), and each connect attempt, refused ones included,
/// taking the next ephemeral port.
#[test]
fn turmoil_net_assigns_the_addresses_and_ports_the_capture_assumes() {
    use turmoil_net::fixture::ClientServer;
    use turmoil_net::shim::tokio::net::{TcpListener, TcpStream};
    let checked = ClientServer::new()
        .server("broker", async {
            let listener = TcpListener::bind(("0.0.0.0", BROKER_PORT))
                .await
                .expect("the broker port is free");
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        })
        .run("c", async {
            let first = TcpStream::connect(("broker", BROKER_PORT)).await?;
            assert_eq!(first.local_addr()?, "192.168.0.2:49152".parse()?);
            assert_eq!(first.peer_addr()?, "192.168.0.1:1883".parse()?);
            drop(first);
            // Nothing listens on 1884: refused, yet a port is used up.
            assert!(TcpStream::connect(("broker", 1884)).await.is_err());
            let third = TcpStream::connect(("broker", BROKER_PORT)).await?;
            assert_eq!(third.local_addr()?, "192.168.0.2:49154".parse()?);
            Ok::<(), Box<dyn std::error::Error>>(())
        });
    checked.expect("the addressing model holds");
}
