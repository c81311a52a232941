//! Leaves a shared live broker as a scenario expects to find it. Scenarios
//! reuse client ids and topics, and a live broker remembers persistent
//! sessions and retained messages from the run before. Before and after a
//! run against a broker the harness did not start, each client id of the
//! scenario connects once with clean session 1 (which discards its stored
//! session) and every topic the scenario retains on gets an empty retained
//! message (which deletes it). Nothing else on the broker is touched.
//!
//! This is best effort: failures are ignored, and every step is bounded by
//! [`STEP_TIMEOUT`].

use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;

use crate::scenario::{Action, ConnectOptions, Scenario};
use crate::wire::{Connect, Packet, Publish, QoS, Reader, Writer};

/// The longest one connect-and-disconnect may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// The client id the harness uses to delete retained messages.
const CLEANER_ID: &str = "mqtt-sim-hygiene";

pub async fn clean(addr: &str, scenario: &Scenario) {
    let mut logins: Vec<ConnectOptions> = Vec::new();
    let mut retained: Vec<String> = Vec::new();
    for spec in scenario.clients.values() {
        let mut all = vec![spec.options.clone()];
        for step in &spec.steps {
            match &step.action {
                Action::Connect(o) => all.push(spec.options.with(o)),
                Action::Publish {
                    topic,
                    retain: true,
                    ..
                } => retained.push(topic.clone()),
                _ => {}
            }
        }
        for o in all {
            if let Some(w) = o.will.as_ref().filter(|w| w.retain) {
                retained.push(w.topic.clone());
            }
            if !o.client_id.is_empty() && !logins.iter().any(|l| l.client_id == o.client_id) {
                logins.push(o);
            }
        }
    }
    retained.sort();
    retained.dedup();
    for o in &logins {
        let _ = tokio::time::timeout(STEP_TIMEOUT, session(addr, o, &[])).await;
    }
    if let Some(o) = logins.first().filter(|_| !retained.is_empty()) {
        let mut cleaner = o.clone();
        cleaner.client_id = CLEANER_ID.into();
        let _ = tokio::time::timeout(STEP_TIMEOUT, session(addr, &cleaner, &retained)).await;
    }
}

/// Connects with clean session 1 and no will, publishes an empty retained
/// message to each of `topics`, and disconnects.
async fn session(addr: &str, o: &ConnectOptions, topics: &[String]) -> Option<()> {
    let level = o.protocol.level();
    let stream = TcpStream::connect(addr).await.ok()?;
    let (r, w) = tokio::io::split(stream);
    let mut reader = Reader::new(r, Some(level));
    let mut writer = Writer::new(w, level);
    let connect = Connect {
        protocol_name: "MQTT".into(),
        protocol_level: level,
        client_id: o.client_id.clone(),
        clean: true,
        keep_alive_s: 0,
        will: None,
        username: o.username.clone(),
        password: o.password.clone().map(Bytes::from),
        properties: Default::default(),
    };
    writer.write(&Packet::Connect(connect)).await.ok()?;
    match reader.read().await.ok()?? {
        Packet::ConnAck(ack) if ack.code == 0 => {}
        _ => return None,
    }
    for topic in topics {
        let publish = Publish {
            topic: topic.clone(),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: true,
            dup: false,
            packet_id: 0,
            properties: Default::default(),
        };
        writer.write(&Packet::Publish(publish)).await.ok()?;
    }
    writer
        .write(&Packet::Disconnect(crate::wire::Disconnect::default()))
        .await
        .ok()?;
    let _ = writer.shutdown().await;
    Some(())
}
