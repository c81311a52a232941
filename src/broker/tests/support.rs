//! Test helpers: a broker with a note recorder, and clients that speak to
//! it through `wire` over in-memory duplex streams.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{DuplexStream, ReadHalf, WriteHalf};
use tokio::task::LocalSet;
use tokio::time::timeout;

use crate::broker::{Broker, BrokerConfig, Store};
use crate::wire::{
    ConnAck, Connect, LEVEL_V5, LEVEL_V311, LastWill, Packet, Property, Publish, QoS, Reader,
    SubAck, Subscribe, SubscribeFilter, WireError, Writer,
};

/// How long a test waits for something that should come; the clock is
/// paused, so this costs no real time.
const WAIT: Duration = Duration::from_secs(3600);

/// Runs a test body on a LocalSet, as turmoil's hosts do.
pub async fn local<F: Future<Output = ()>>(f: F) {
    LocalSet::new().run_until(f).await;
}

pub struct Harness {
    pub broker: Broker,
    notes: Rc<RefCell<Vec<String>>>,
    peers: RefCell<u32>,
}

impl Harness {
    pub fn new(config: BrokerConfig) -> Harness {
        Harness::with_store(config, Rc::new(RefCell::new(Store::new())))
    }

    pub fn with_store(config: BrokerConfig, store: Rc<RefCell<Store>>) -> Harness {
        let notes = Rc::new(RefCell::new(Vec::new()));
        let sink = notes.clone();
        let broker = Broker::with_store(
            config,
            Rc::new(move |n: String| sink.borrow_mut().push(n)),
            store,
        );
        Harness {
            broker,
            notes,
            peers: RefCell::new(0),
        }
    }

    /// Opens a connection to the broker; it is served by a local task.
    pub fn open(&self) -> Client {
        self.open_at(LEVEL_V311)
    }

    /// Opens a connection whose client speaks protocol `level`.
    pub fn open_at(&self, level: u8) -> Client {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let peer = {
            let mut n = self.peers.borrow_mut();
            *n += 1;
            format!("peer-{n}")
        };
        let broker = self.broker.clone();
        tokio::task::spawn_local(async move { broker.handle(theirs, peer).await });
        let (r, w) = tokio::io::split(ours);
        Client {
            reader: Reader::new(r, Some(level)),
            writer: Writer::new(w, level),
        }
    }

    /// Opens a connection and connects; asserts that it was accepted.
    pub async fn connected(&self, c: Connect) -> (Client, ConnAck) {
        let mut client = self.open_at(c.protocol_level);
        let ack = client.connect(c).await;
        assert_eq!(ack.code, 0, "{ack:?}");
        (client, ack)
    }

    /// An observer subscribed to `filter` at QoS 1.
    pub async fn observer(&self, id: &str, filter: &str) -> Client {
        let (mut c, _) = self.connected(connect(id, true)).await;
        let ack = c.subscribe(1, &[(filter, 1)]).await;
        assert_eq!(ack.codes, vec![1]);
        c
    }

    pub fn notes(&self) -> Vec<String> {
        self.notes.borrow().clone()
    }

    pub fn assert_note(&self, text: &str) {
        let notes = self.notes();
        assert!(
            notes.iter().any(|n| n == text),
            "no note {text:?} in {notes:#?}"
        );
    }
}

pub fn config() -> BrokerConfig {
    BrokerConfig::default()
}

pub fn connect(id: &str, clean: bool) -> Connect {
    Connect {
        protocol_name: "MQTT".into(),
        protocol_level: LEVEL_V311,
        client_id: id.into(),
        clean,
        keep_alive_s: 0,
        will: None,
        username: None,
        password: None,
        properties: Default::default(),
    }
}

/// A 5.0 CONNECT with these properties.
pub fn connect_v5(id: &str, clean: bool, properties: Vec<Property>) -> Connect {
    Connect {
        protocol_level: LEVEL_V5,
        properties: properties.into(),
        ..connect(id, clean)
    }
}

pub fn with_will(mut c: Connect, topic: &str, payload: &str) -> Connect {
    c.will = Some(LastWill {
        topic: topic.into(),
        payload: Bytes::from(payload.to_string()),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    });
    c
}

pub fn publish(topic: &str, payload: &str, qos: u8, packet_id: u16) -> Publish {
    Publish {
        topic: topic.into(),
        payload: Bytes::from(payload.to_string()),
        qos: QoS::try_from(qos).expect("test QoS"),
        retain: false,
        dup: false,
        packet_id,
        properties: Default::default(),
    }
}

pub struct Client {
    pub reader: Reader<ReadHalf<DuplexStream>>,
    pub writer: Writer<WriteHalf<DuplexStream>>,
}

impl Client {
    pub async fn send(&mut self, p: Packet) {
        self.writer.write(&p).await.expect("write to broker");
    }

    /// The next packet; panics on EOF or when none comes.
    pub async fn recv(&mut self) -> Packet {
        match timeout(WAIT, self.reader.read()).await {
            Ok(Ok(Some(p))) => p,
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    pub async fn recv_publish(&mut self) -> Publish {
        match self.recv().await {
            Packet::Publish(p) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Asserts that the broker closes the stream, with nothing sent first.
    pub async fn expect_closed(&mut self) {
        match timeout(WAIT, self.reader.read()).await {
            Ok(Ok(None)) | Ok(Err(WireError::Io(_))) => {}
            other => panic!("expected the broker to close, got {other:?}"),
        }
    }

    /// Asserts that nothing arrives, and the stream stays open, for `d`.
    pub async fn quiet_for(&mut self, d: Duration) {
        if let Ok(r) = timeout(d, self.reader.read()).await {
            panic!("expected nothing for {d:?}, got {r:?}");
        }
    }

    pub async fn connect(&mut self, c: Connect) -> ConnAck {
        self.send(Packet::Connect(c)).await;
        match self.recv().await {
            Packet::ConnAck(a) => a,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    pub async fn subscribe(&mut self, packet_id: u16, filters: &[(&str, u8)]) -> SubAck {
        let filters = filters
            .iter()
            .map(|&(f, qos)| SubscribeFilter::new(f, QoS::try_from(qos).expect("test QoS")))
            .collect();
        self.send(Packet::Subscribe(Subscribe {
            packet_id,
            filters,
            properties: Default::default(),
        }))
        .await;
        match self.recv().await {
            Packet::SubAck(a) => {
                assert_eq!(a.packet_id, packet_id);
                a
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }
}
