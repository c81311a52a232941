//! Leaves a shared live broker as a scenario expects to find it, checks
//! that it did, and probes that the broker still answers at all.
//!
//! Scenarios reuse client ids and topics, and a live broker remembers
//! persistent sessions and retained messages from the run before. Before
//! and after a run on a broker that outlives the run (one at an address, or
//! a lane's broker), [`clean`]:
//! - connects once under each client id of the scenario with clean session
//!   1 (which discards its stored session);
//! - publishes an empty retained message at QoS 1 to every topic the
//!   scenario retains on (which deletes it), waiting for each PUBACK;
//!
//! and before a run, [`verify`] checks that it worked: a subscription to
//! those topics gets no retained message, and a connection with clean
//! session 0 under each client id gets `session_present = 0` (and is then
//! cleaned again). A broker that cannot be cleaned fails the lane loudly:
//! a scenario on a dirty broker proves nothing. Nothing else on the broker
//! is touched.
//!
//! [`health`] is the probe between scenarios: CONNECT, CONNACK and
//! DISCONNECT within [`HEALTH_TIMEOUT`]. Every connection here uses a
//! non-zero keep-alive ([`KEEP_ALIVE_S`]: some brokers refuse 0) and every
//! step is bounded by [`STEP_TIMEOUT`].

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use crate::scenario::{Action, ConnectOptions, Protocol, Scenario};
use crate::wire::{Connect, Packet, Publish, QoS, Reader, Subscribe, SubscribeFilter, Writer};

/// The longest one connect, acknowledgement or disconnect may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest the health probe's CONNECT-CONNACK-DISCONNECT may take.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the check waits for a retained message after its SUBACK.
pub const RETAINED_SETTLE: Duration = Duration::from_millis(150);
/// How many times the check connects under a client id before it calls
/// the session left over.
pub const SESSION_CHECKS_MAX: usize = 5;
/// The pause before the second check; each later one doubles it.
pub const SESSION_SETTLE: Duration = Duration::from_millis(300);
/// The keep-alive of the harness's own connections, in seconds.
pub const KEEP_ALIVE_S: u16 = 30;

/// The client id the harness uses to delete and look for retained messages.
const CLEANER_ID: &str = "mqtt-sim-hygiene";
/// The client id of the health probe.
const HEALTH_ID: &str = "mqtt-sim-health";

/// Who the harness's own connections log in as.
#[derive(Debug, Clone, Default)]
pub struct Login {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// What a scenario leaves behind on a broker: the client ids it connects
/// with (and how) and the topics it retains on.
struct Footprint {
    logins: Vec<ConnectOptions>,
    retained: Vec<String>,
}

fn footprint(scenario: &Scenario) -> Footprint {
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
    Footprint { logins, retained }
}

/// Discards the scenario's sessions and retained messages. A client id the
/// broker refuses (a scenario about refused logins) has no session to
/// discard and is passed over; a broker that does not answer is an error.
pub async fn clean(addr: &str, scenario: &Scenario, login: &Login) -> Result<(), String> {
    let f = footprint(scenario);
    for o in &f.logins {
        discard_session(addr, o).await?;
    }
    if !f.retained.is_empty() {
        let protocol = f.logins.first().map_or(scenario.protocol, |o| o.protocol);
        let mut c = Conn::open(addr, &cleaner(protocol, login), true).await?;
        if c.code != 0 {
            return Err(format!(
                "the broker refused the cleaner's CONNECT (code 0x{:02x})",
                c.code
            ));
        }
        for (i, topic) in f.retained.iter().enumerate() {
            c.publish_empty_retained(topic, packet_id(i)).await?;
        }
        c.close().await;
    }
    Ok(())
}

/// Checks that the scenario's retained topics hold no message and its
/// client ids no session; the error says which is left.
pub async fn verify(addr: &str, scenario: &Scenario, login: &Login) -> Result<(), String> {
    let f = footprint(scenario);
    if !f.retained.is_empty() {
        let protocol = f.logins.first().map_or(scenario.protocol, |o| o.protocol);
        let mut c = Conn::open(addr, &cleaner(protocol, login), true).await?;
        if c.code == 0 {
            let left = c.retained_on(&f.retained).await?;
            c.close().await;
            if let Some(topic) = left {
                return Err(format!(
                    "a retained message is still on `{topic}` after it was deleted"
                ));
            }
        }
    }
    // Some brokers end a session a moment after they close its connection:
    // each check after a failed one waits twice as long first, and the
    // last wait is also left before the run.
    let mut wait = Duration::ZERO;
    for o in &f.logins {
        let mut keep = o.clone();
        keep.clean = false;
        let mut tries = 0;
        loop {
            tokio::time::sleep(wait).await;
            let Some(c) = Conn::open_as_scenario(addr, &keep, false).await? else {
                break;
            };
            let stored = c.code == 0 && c.session_present;
            c.close().await;
            // The check itself may have made a session (3.1.1): discard it.
            discard_session(addr, o).await?;
            if !stored {
                break;
            }
            tries += 1;
            if tries >= SESSION_CHECKS_MAX {
                return Err(format!(
                    "client id `{}` still has a session (CONNACK session_present 1) after it was \
                     discarded, {SESSION_CHECKS_MAX} times, the last {}ms after",
                    o.client_id,
                    wait.as_millis()
                ));
            }
            wait = (wait * 2).max(SESSION_SETTLE);
        }
    }
    tokio::time::sleep(wait).await;
    Ok(())
}

/// CONNECT, CONNACK (accepted) and DISCONNECT within [`HEALTH_TIMEOUT`].
pub async fn health(addr: &str, protocol: Protocol, login: &Login) -> Result<(), String> {
    let mut o = cleaner(protocol, login);
    o.client_id = HEALTH_ID.into();
    let probe = async {
        let c = Conn::open(addr, &o, true).await?;
        let code = c.code;
        c.close().await;
        match code {
            0 => Ok(()),
            c => Err(format!("CONNACK refused the probe with code 0x{c:02x}")),
        }
    };
    match tokio::time::timeout(HEALTH_TIMEOUT, probe).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no CONNACK and DISCONNECT within {}s",
            HEALTH_TIMEOUT.as_secs()
        )),
    }
}

/// The cleaner's login: the profile's credentials, the scenario's protocol.
fn cleaner(protocol: Protocol, login: &Login) -> ConnectOptions {
    ConnectOptions {
        client_id: CLEANER_ID.into(),
        protocol,
        clean: true,
        session_expiry: None,
        keep_alive: Duration::from_secs(u64::from(KEEP_ALIVE_S)),
        username: login.username.clone(),
        password: login.password.clone(),
        will: None,
        receive_maximum: None,
        maximum_packet_size: None,
        topic_alias_maximum: None,
        user_properties: Vec::new(),
        raw: None,
    }
}

/// Non-zero packet ids for the cleaner's publishes.
fn packet_id(i: usize) -> u16 {
    (i % usize::from(u16::MAX)) as u16 + 1
}

/// Connects with clean session 1 under the login's client id and
/// disconnects; a refused CONNECT is no session, hence nothing to discard.
async fn discard_session(addr: &str, o: &ConnectOptions) -> Result<(), String> {
    if let Some(c) = Conn::open_as_scenario(addr, o, true).await? {
        c.close().await;
    }
    Ok(())
}

/// How an error says that the broker closed the connection for a CONNECT.
const REFUSED_BY_CLOSE: &str = "the broker closed the connection instead of a CONNACK";

/// One connection of the harness's own, every step under [`STEP_TIMEOUT`].
struct Conn {
    reader: Reader<ReadHalf<TcpStream>>,
    writer: Writer<WriteHalf<TcpStream>>,
    code: u8,
    session_present: bool,
}

async fn step<T>(what: &str, fut: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{what}: no answer within {}s",
            STEP_TIMEOUT.as_secs()
        )),
    }
}

impl Conn {
    /// As [`open`](Self::open) under one of the scenario's own logins: a
    /// broker that refuses it (a CONNACK with an error code, or closing
    /// the connection, as some do for a client id they reject) holds no
    /// session for it, which is `None`. Not answering at all is still an
    /// error, and the health probe has shown the broker answers.
    async fn open_as_scenario(
        addr: &str,
        o: &ConnectOptions,
        clean: bool,
    ) -> Result<Option<Conn>, String> {
        match Conn::open(addr, o, clean).await {
            Ok(c) if c.code == 0 => Ok(Some(c)),
            Ok(c) => {
                c.close().await;
                Ok(None)
            }
            Err(e) if e.contains(REFUSED_BY_CLOSE) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Connects as `o` (its id, protocol and login; `clean` as given; no
    /// will; keep-alive [`KEEP_ALIVE_S`]) and reads the CONNACK.
    async fn open(addr: &str, o: &ConnectOptions, clean: bool) -> Result<Conn, String> {
        let what = format!("connecting as `{}`", o.client_id);
        step(&what, async {
            let level = o.protocol.level();
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("{what}: cannot connect to {addr}: {e}"))?;
            let (r, w) = tokio::io::split(stream);
            let mut reader = Reader::new(r, Some(level));
            let mut writer = Writer::new(w, level);
            let connect = Connect {
                protocol_name: "MQTT".into(),
                protocol_level: level,
                client_id: o.client_id.clone(),
                clean,
                keep_alive_s: KEEP_ALIVE_S,
                will: None,
                username: o.username.clone(),
                password: o.password.clone().map(Bytes::from),
                properties: Default::default(),
            };
            writer
                .write(&Packet::Connect(connect))
                .await
                .map_err(|e| format!("{what}: CONNECT not written: {e}"))?;
            match reader.read().await {
                Ok(Some(Packet::ConnAck(ack))) => Ok(Conn {
                    reader,
                    writer,
                    code: ack.code,
                    session_present: ack.session_present,
                }),
                Ok(Some(p)) => Err(format!(
                    "{what}: the broker answered CONNECT with {}",
                    p.type_name()
                )),
                Ok(None) => Err(format!("{what}: {REFUSED_BY_CLOSE}")),
                Err(e) => Err(format!("{what}: unreadable CONNACK: {e}")),
            }
        })
        .await
    }

    /// Publishes an empty retained message at QoS 1 and waits for its
    /// PUBACK (a QoS 0 deletion could still be in flight when the next
    /// scenario starts).
    async fn publish_empty_retained(&mut self, topic: &str, id: u16) -> Result<(), String> {
        let what = format!("deleting the retained message on `{topic}`");
        step(&what, async {
            let publish = Publish {
                topic: topic.to_string(),
                payload: Bytes::new(),
                qos: QoS::AtLeastOnce,
                retain: true,
                dup: false,
                packet_id: id,
                properties: Default::default(),
            };
            self.writer
                .write(&Packet::Publish(publish))
                .await
                .map_err(|e| format!("{what}: {e}"))?;
            loop {
                match self.reader.read().await {
                    Ok(Some(Packet::PubAck(a))) if a.packet_id == id => return Ok(()),
                    Ok(Some(_)) => continue,
                    Ok(None) => return Err(format!("{what}: the broker closed the connection")),
                    Err(e) => return Err(format!("{what}: {e}")),
                }
            }
        })
        .await
    }

    /// Subscribes to `topics` and returns the first one on which a retained
    /// message with a payload arrives within [`RETAINED_SETTLE`] of the
    /// SUBACK.
    async fn retained_on(&mut self, topics: &[String]) -> Result<Option<String>, String> {
        let what = "looking for retained messages";
        let subscribe = Subscribe {
            packet_id: 1,
            filters: topics
                .iter()
                .map(|t| SubscribeFilter::new(t.clone(), QoS::AtMostOnce))
                .collect(),
            properties: Default::default(),
        };
        let mut found = None;
        step(what, async {
            self.writer
                .write(&Packet::Subscribe(subscribe))
                .await
                .map_err(|e| format!("{what}: {e}"))?;
            loop {
                match self.reader.read().await {
                    Ok(Some(Packet::SubAck(_))) => return Ok(()),
                    Ok(Some(Packet::Publish(p))) if p.retain && !p.payload.is_empty() => {
                        found.get_or_insert(p.topic);
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) => return Err(format!("{what}: the broker closed the connection")),
                    Err(e) => return Err(format!("{what}: {e}")),
                }
            }
        })
        .await?;
        if found.is_some() {
            return Ok(found);
        }
        let settle = async {
            loop {
                match self.reader.read().await {
                    Ok(Some(Packet::Publish(p))) if p.retain && !p.payload.is_empty() => {
                        return Some(p.topic);
                    }
                    Ok(Some(_)) => continue,
                    _ => return None,
                }
            }
        };
        Ok(tokio::time::timeout(RETAINED_SETTLE, settle)
            .await
            .ok()
            .flatten())
    }

    /// DISCONNECT and close, best effort.
    async fn close(mut self) {
        let _ = tokio::time::timeout(STEP_TIMEOUT, async {
            let _ = self
                .writer
                .write(&Packet::Disconnect(crate::wire::Disconnect::default()))
                .await;
            let _ = self.writer.shutdown().await;
        })
        .await;
    }
}
