//! Runs the scenario suite against a broker that is not the reference
//! broker: a deliberately tiny one, written here in the example, plugged in
//! through the public `sim::BrokerUnderTest` trait.
//!
//! ```sh
//! cargo run --example plug_in_broker -- [DIR]     # DIR defaults to scenarios
//! ```
//!
//! It prints `pass` or `FAIL` per scenario and a count. The tiny broker
//! forwards every PUBLISH at QoS 0 and knows nothing of sessions, wills,
//! keep-alive, retained messages or takeovers, so it fails many scenarios;
//! that is the point: the same files judge any broker. Expectations marked
//! `only_for`/`not_for` see it by its name, `tiny`.
//!
//! To plug in your own broker, implement `BrokerUnderTest::host`: return a
//! factory that the harness calls with a `sim::Listener` each time the
//! broker host starts (again after a `restart`; what the factory captures
//! survives a crash, what its future creates does not).

use std::cell::RefCell;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use mqtt_sim::broker::{BrokerConfig, Notes};
use mqtt_sim::sim::{self, BrokerUnderTest, HostFactory};
use mqtt_sim::wire::{Ack, ConnAck, LEVEL_V311, Packet, Publish, QoS, Reader, SubAck, Writer};
use mqtt_sim::{suite, topic};
use tokio::sync::mpsc;

/// Subscriptions the tiny broker keeps, over all connections; beyond this
/// a SUBSCRIBE gets 0x80 for its filters.
pub const TINY_SUBSCRIPTIONS_MAX: usize = 10_000;

/// The tiny broker: CONNACK, SUBACK, forwarding at QoS 0, the publisher's
/// QoS 1 and 2 handshakes, PINGRESP. Nothing else.
pub struct Tiny;

impl BrokerUnderTest for Tiny {
    fn name(&self) -> &str {
        "tiny"
    }

    fn host(&self, _host: &str, _config: &BrokerConfig, _notes: Notes) -> HostFactory {
        // Nothing is captured, so nothing survives a restart.
        Box::new(|listener| Box::pin(serve(listener)))
    }
}

type Subscribers = Rc<RefCell<Vec<(String, mpsc::UnboundedSender<Packet>)>>>;

async fn serve(listener: sim::Listener) -> io::Result<()> {
    let subscribers = Subscribers::default();
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::task::spawn_local(connection(stream, subscribers.clone()));
    }
}

async fn connection(stream: sim::Stream, subscribers: Subscribers) {
    let (r, w) = tokio::io::split(stream);
    let mut reader = Reader::new(r, None);
    let mut writer = Writer::new(w, LEVEL_V311);
    let (tx, mut rx) = mpsc::unbounded_channel();
    loop {
        let reply = tokio::select! {
            biased;
            forwarded = rx.recv() => forwarded,
            read = reader.read() => match read {
                Ok(Some(Packet::Disconnect(_))) | Ok(None) | Err(_) => return,
                Ok(Some(packet)) => on_packet(packet, &subscribers, &tx),
            },
        };
        if let Some(p) = reply
            && writer.write(&p).await.is_err()
        {
            return;
        }
    }
}

fn on_packet(
    packet: Packet,
    subscribers: &Subscribers,
    me: &mpsc::UnboundedSender<Packet>,
) -> Option<Packet> {
    match packet {
        Packet::Connect(_) => Some(Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0,
            properties: Default::default(),
        })),
        Packet::Subscribe(s) => {
            let mut subs = subscribers.borrow_mut();
            let codes = s
                .filters
                .iter()
                .map(|f| {
                    if subs.len() >= TINY_SUBSCRIPTIONS_MAX {
                        return 0x80;
                    }
                    subs.push((f.filter.clone(), me.clone()));
                    0
                })
                .collect();
            Some(Packet::SubAck(SubAck {
                packet_id: s.packet_id,
                codes,
                properties: Default::default(),
            }))
        }
        Packet::Publish(p) => {
            for (filter, to) in subscribers.borrow().iter() {
                if topic::matches(filter, &p.topic) {
                    // A closed subscriber's channel refuses; nothing to do.
                    let _ = to.send(Packet::Publish(Publish {
                        qos: QoS::AtMostOnce,
                        packet_id: 0,
                        dup: false,
                        retain: false,
                        ..p.clone()
                    }));
                }
            }
            match p.qos.level() {
                1 => Some(Packet::PubAck(Ack::new(p.packet_id))),
                2 => Some(Packet::PubRec(Ack::new(p.packet_id))),
                _ => None,
            }
        }
        Packet::PubRel(Ack { packet_id: id, .. }) => Some(Packet::PubComp(Ack::new(id))),
        Packet::PingReq => Some(Packet::PingResp),
        _ => None,
    }
}

#[allow(dead_code)] // tests/plugin.rs includes this file as a module
fn main() -> io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("scenarios"), PathBuf::from);
    let suite = suite::run_dir(&dir, Arc::new(Tiny))?;
    for o in suite.outcomes() {
        println!("{}  {}", if o.passed() { "pass" } else { "FAIL" }, o.name);
    }
    let passed = suite.outcomes().iter().filter(|o| o.passed()).count();
    println!(
        "{passed} of {} scenarios pass against tiny",
        suite.outcomes().len()
    );
    Ok(())
}
