//! Wireshark's dissectors read the capture of every scenario: each MQTT
//! packet of the trace is decoded, with the right type and client id, in
//! the right direction, at the right time, and no frame has a bad checksum
//! or draws a warning. Needs `tshark` on PATH, so it is ignored by default:
//! `cargo test --test pcap_tshark -- --ignored` (or `.ci/pcap-tshark.sh`,
//! which installs tshark first).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use mqtt_sim::pcap::{self, hosts::Hosts};
use mqtt_sim::scenario;
use mqtt_sim::sim::{self, EPOCH_S, RunOptions};
use mqtt_sim::trace::{EventKind, Report};
use mqtt_sim::wire::Packet;

/// Separates the values of one field when a frame holds several MQTT
/// packets; a character no client id in the scenarios contains.
const AGGREGATOR: char = '\u{1f}';

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn tshark(pcap: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(args)
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn type_number(p: &Packet) -> u8 {
    match p {
        Packet::Connect(_) => 1,
        Packet::ConnAck(_) => 2,
        Packet::Publish(_) => 3,
        Packet::PubAck(_) => 4,
        Packet::PubRec(_) => 5,
        Packet::PubRel(_) => 6,
        Packet::PubComp(_) => 7,
        Packet::Subscribe(_) => 8,
        Packet::SubAck(_) => 9,
        Packet::Unsubscribe(_) => 10,
        Packet::UnsubAck(_) => 11,
        Packet::PingReq => 12,
        Packet::PingResp => 13,
        Packet::Disconnect(_) => 14,
        Packet::Auth(_) => 15,
    }
}

/// "at_ms client send|recv type client_id" for each packet of the trace.
fn expected(report: &Report) -> Vec<String> {
    let line = |at: std::time::Duration, client: &str, dir: &str, p: &Packet| {
        let id = match p {
            Packet::Connect(c) if !c.client_id.is_empty() => c.client_id.clone(),
            _ => "-".to_string(),
        };
        format!("{} {client} {dir} {} {id}", at.as_millis(), type_number(p))
    };
    report
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Send { client, packet, .. } => Some(line(e.at, client, "send", packet)),
            EventKind::Recv { client, packet, .. } => Some(line(e.at, client, "recv", packet)),
            _ => None,
        })
        .collect()
}

/// The same lines, from what tshark decodes.
fn decoded(pcap: &Path, names: &BTreeMap<Ipv4Addr, String>) -> Vec<String> {
    let aggregator = format!("aggregator={AGGREGATOR}");
    let text = tshark(
        pcap,
        &[
            "-Y",
            "mqtt",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            &aggregator,
            "-e",
            "frame.time_epoch",
            "-e",
            "tcp.srcport",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "mqtt.msgtype",
            "-e",
            "mqtt.clientid",
        ],
    );
    let name = |s: &str| -> String {
        s.parse::<Ipv4Addr>()
            .ok()
            .and_then(|a| names.get(&a).cloned())
            .unwrap_or_else(|| format!("unknown:{s}"))
    };
    let mut out = Vec::new();
    for row in text.lines() {
        let f: Vec<&str> = row.split('\t').collect();
        assert!(f.len() >= 6, "a row of 6 fields: {row:?}");
        let (secs, frac) = f[0].split_once('.').expect("seconds.fraction");
        let secs: u64 = secs.parse().expect("seconds");
        let ms_frac: u64 = format!("{frac:0<3}")[..3].parse().expect("fraction");
        let at_ms = (secs - EPOCH_S) * 1000 + ms_frac;
        let (who, dir) = if f[1] == "1883" {
            (name(f[3]), "recv")
        } else {
            (name(f[2]), "send")
        };
        let mut ids = f[5].split(AGGREGATOR);
        for t in f[4].split(AGGREGATOR) {
            let id = if t == "1" {
                ids.next().filter(|s| !s.is_empty()).unwrap_or("-")
            } else {
                "-"
            };
            out.push(format!("{at_ms} {who} {dir} {t} {id}"));
        }
    }
    out
}

fn scenario_files() -> Vec<PathBuf> {
    mqtt_sim::scenario::find(Path::new("scenarios"))
        .expect("the scenarios directory is readable")
        .into_iter()
        .map(|(_, path)| path)
        .collect()
}

#[test]
#[ignore = "needs tshark on PATH; run with --ignored"]
fn tshark_decodes_every_mqtt_packet_of_every_scenario() {
    if !tshark_available() {
        eprintln!("tshark is not on PATH: nothing checked (install it, or run .ci/pcap-tshark.sh)");
        return;
    }
    let files = scenario_files();
    assert!(!files.is_empty(), "the scenario files are found");
    let dir = std::env::temp_dir().join(format!("mqtt-sim-pcap-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut failures = Vec::new();
    for f in &files {
        let s = scenario::load(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let report = sim::run(&s, &RunOptions::default());
        let out = dir.join("out.pcap");
        let bytes = pcap::capture(&s, &report).to_pcap().expect("writes");
        std::fs::write(&out, bytes).expect("temp file");

        let names: BTreeMap<Ipv4Addr, String> = Hosts::of(&s)
            .legend()
            .lines()
            .filter_map(|l| {
                let (a, n) = l.split_once(' ')?;
                Some((a.parse().ok()?, n.to_string()))
            })
            .collect();
        let want = expected(&report);
        let got = decoded(&out, &names);
        assert!(!want.is_empty(), "{}: the trace has packets", f.display());
        if want != got {
            failures.push(format!(
                "{}: trace vs tshark\n  trace:  {want:?}\n  tshark: {got:?}",
                f.display()
            ));
        }
        let problems = tshark(
            &out,
            &[
                "-o",
                "ip.check_checksum:TRUE",
                "-o",
                "tcp.check_checksum:TRUE",
                "-Y",
                "_ws.expert.severity > 0x00400000 || ip.checksum.status == 0 || tcp.checksum.status == 0",
            ],
        );
        if !problems.trim().is_empty() {
            failures.push(format!("{}: tshark reports\n{problems}", f.display()));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
