//! The reference broker, MQTT 3.1.1 and 5.0: each connection in its
//! client's protocol level.
//!
//! It is generic over its listener and streams, so the same code serves
//! turmoil's simulated TCP and real tokio TCP. It runs on one thread: the
//! connections are `spawn_local` tasks sharing state through `Rc<RefCell<_>>`,
//! which is what makes it deterministic under turmoil.
//!
//! The broker knows nothing about scenarios or traces. It reports what it
//! decides (takeovers, keep-alive expiry, wills) through a [`Notes`] sink.
//!
//! Files: `accept` (CONNECT checks, the session taken or made, CONNACK),
//! `connection` (one connection's task: the packet loop, the end),
//! `expiry` (a session after its connection: held wills, expiry,
//! eviction), `takeover` (open connections and the takeover order),
//! `session` (sessions and the durable [`Store`]), `router` (routing and
//! retained messages), `index` (the routing index: subscriptions in a
//! topic trie), `topic` (names and filters).
//!
//! Debug builds assert, where it changes, that state kept in two places
//! agrees and that quotas hold: the routing index and the sessions'
//! subscriptions (`session`, `router`), messages in flight within
//! `INFLIGHT_MAX` and the client's Receive Maximum, queues within their
//! bounds and their byte count right, packet ids in flight unique, topic
//! aliases within both sides' maximum.
//!
//! Decisions the spec leaves open, and what this broker does:
//! - Logins: with `users` set a login is required; a wrong or missing user
//!   name or password gets CONNACK 0x04. `allow_anonymous: false` answers a
//!   CONNECT without user name with 0x05, with or without `users`.
//! - A protocol name other than "MQTT" closes without CONNACK
//!   [MQTT-3.1.2-1]; "MQTT" at a level other than 4 gets 0x01 [MQTT-3.1.2-2].
//! - Assigned client ids are `mqtt-sim-<n>`, from a counter in the store.
//! - Takeover: the old connection is closed, its will dealt with (per
//!   `takeover_will`), and only then is the new CONNACK sent; see `takeover`.
//! - Keep-alive: the connection is closed, without sending anything, once
//!   nothing was received for `keep_alive_factor` x keep-alive. Writes that
//!   block (a peer that does not read) are bounded by the same deadline.
//! - QoS 2 inbound is delivered on the first PUBLISH (method A of the spec);
//!   a resend before PUBREL only gets PUBREC again.
//! - QoS 0 messages are not queued for offline sessions; QoS 0 messages in
//!   a queue when the connection ends are dropped.
//! - A retained message keeps its QoS; a new subscription receives it at
//!   min(its QoS, granted QoS).
//! - Strict 3.1.1 (each closes the connection, [MQTT-4.8.0-1]): an empty
//!   topic filter in SUBSCRIBE or UNSUBSCRIBE [MQTT-4.7.3-1] (not SUBACK
//!   0x80, which is kept for filters that are well formed but refused); DUP=1
//!   on a QoS 0 PUBLISH [MQTT-3.3.1-2]; packet id 0 in PUBACK, PUBREC,
//!   PUBREL or PUBCOMP [MQTT-2.3.1-1] (these are `wire` checks); a control
//!   character U+0001..U+001F or U+007F..U+009F in any string (section
//!   1.5.3 allows closing; `strict_strings: false` accepts them).
//! - A PUBREC for an unknown packet id gets PUBREL, as an unknown PUBREL
//!   gets PUBCOMP: the sender's flow can always end.
//! - A full session table evicts the least recently disconnected session;
//!   only a table of connected sessions refuses (0x03, or 0x97 in 5.0).
//!
//! 5.0 decisions (docs/broker.md lists them with their reasons): CONNACK
//! properties only where they differ from their absence, Maximum Packet
//! Size always; a level above 5 gets a 5.0 CONNACK 0x84; a DISCONNECT
//! reason other than 0x00 keeps the will; a will with a delay waits in its
//! session, and any new connection for the client id cancels it; the
//! server's DISCONNECT says 0x8E on takeover, 0x8D on keep-alive expiry and
//! the reason of a protocol error; `receive_maximum` counts inbound QoS 2
//! messages awaiting PUBREL (QoS 1 is acknowledged at once and never
//! counts); a message over the client's Maximum Packet Size is dropped with
//! a note; the client's Receive Maximum is a per-connection quota, resends
//! of a resumed session included; outbound topic aliases go to the first
//! Topic Alias Maximum distinct topics of a connection; queued messages
//! expire on the broker's clock and carry the time they have left;
//! PUBACK/PUBREC say 0x87 (acl), 0x99 (payload not UTF-8 as announced),
//! 0x10 (no subscribers), 0x97 (every matching queue full).
//!
//! Subscriptions (5.0, docs/broker.md has the reasons): a malformed
//! `$share/` filter gets SUBACK 0x8F, No Local on a shared subscription
//! DISCONNECT 0x82; a shared subscription's message goes to one member,
//! round robin in client id order per group and filter, connected members
//! first, else an offline member that keeps it, else it is dropped with a
//! note; shared subscriptions get no retained messages; `$share/` is an
//! ordinary filter under 3.1.1. Routing looks subscriptions up in a topic
//! trie (`index`), emptied as sessions end, and visits sessions in client
//! id order. Queues are bounded in bytes too (`queued_bytes_max`).
//!
//! Notes (stable texts; they end up in snapshots): `assigned client id
//! <id>`, `refused <id or peer>: <why>`, `protocol violation by <id or
//! peer>: <why>`, `session of <id> discarded (clean session)`, `takeover:
//! closing old connection of <id>`, `keep-alive expired for <id> after
//! <s>s of silence`, `will of <id> published to <topic>`, `will of <id>
//! discarded (DISCONNECT)`, `will of <id> not published on takeover
//! (takeover_will: <profile>)`, and one per limit hit (see the constants).
//! 5.0 adds: `will of <id> held for its delay of <s>s`, `will of <id>
//! published to <topic> after its delay of <s>s`, `will of <id> published
//! to <topic>: its session ended`, `will of <id> cancelled: reconnected
//! within its delay`, `session of <id> expired after <s>s`, `session of
//! <id> discarded (clean start)`, `DISCONNECT from <id> with reason
//! <0xNN>` (not for 0x00), `sent DISCONNECT <0xNN> to <id> (<why>)`, and
//! `message to <topic> not sent to <id>: <n> bytes exceed its maximum
//! packet size of <max>`, `message to <topic> for <id> expired after <s>s
//! (waited <w>s)`, `payload of <id>'s message to <topic> is not UTF-8
//! though its payload format indicator says so: dropped`, `refused
//! subscription of <id> to <filter>: <why>` (a malformed shared
//! subscription), `message to <topic> dropped for $share/<group>/<filter>:
//! no member connected or keeping QoS <n> messages`. Both versions:
//! `session limit of <n> reached: evicted the session of <id>, the least
//! recently disconnected`, `queue of <id> over <n> bytes: dropped message
//! to <topic>`.
//!
//! Limits against one hostile client (`Limits`, `serve` flags; see
//! docs/broker.md, "Routing and limits"): topic levels
//! (`TOPIC_LEVELS_MAX`), connections and connections before CONNECT
//! (`CONNECTIONS_MAX`, `CONNECTING_MAX`, `CONNECT_WAIT`), subscriptions per
//! session, bytes held for unfinished packets across connections
//! (`UNFINISHED_BYTES_MAX`), retained messages examined per SUBSCRIBE
//! (`RETAINED_SCAN_MAX`). Their notes: `protocol violation by <id>: ... topic of <n>
//! levels, over the limit of <max>`, `<n> connections before CONNECT:
//! closed the oldest to make room for <peer>`, `no CONNECT from <peer>
//! within <s>s: closed`. The acl applies to every delivery path: `acl: will
//! of <id> to <topic> dropped (publish denied)`, `session of <id>
//! discarded: connected as another user`.

mod accept;
mod acl;
mod bridge;
mod bridge_config;
mod config;
mod connection;
mod expiry;
pub mod index;
mod router;
mod session;
mod strings;
mod takeover;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;

pub use bridge::{
    BRIDGE_ECHOES_MAX, BRIDGE_WAIT_DEFAULT, BridgeLink, Dialing, LinkEvent, LinkStream,
};
pub use bridge_config::{Bridge, BridgeDirection, BridgeTopic};
/// The name the harness and broker plug-ins know the configuration by.
pub use config::Config as BrokerConfig;
pub use config::{AclRule, Config, Limits, Mutant, TakeoverWill};
pub use router::Publication;
pub use session::{Message, Retained, Session, SessionExpiry, Store, Subscription};

use crate::wire::ReadBudget;
use takeover::Live;

/// Open connections at once, by default (`Limits::connections_max`, `serve
/// --connections-max`); a connection beyond this is closed at once, before
/// any byte is read, unless a connection still before CONNECT can be
/// closed to make room (see `CONNECTING_MAX`).
pub const CONNECTIONS_MAX: usize = 10_000;
/// Connections before their CONNECT, by default (`Limits::connecting_max`,
/// `serve --connecting-max`). One more closes the oldest of them, with a
/// note: 10,050 connections that never sent CONNECT used to fill the
/// connection table and lock every client out; now a real client, which
/// sends CONNECT at once, gets in unless more than this many connections
/// arrive before its CONNECT does.
pub const CONNECTING_MAX: usize = 1_000;
/// Stored sessions, persistent or not, by default (`Config::sessions_max`).
/// A CONNECT that needs one more evicts the least recently disconnected
/// session, with a note; when every session is connected it gets CONNACK
/// 0x03 (server unavailable) under 3.1.1, 0x97 (quota exceeded) under 5.0.
pub const SESSIONS_MAX: usize = 10_000;
/// Subscriptions per session, by default (`Limits::subscriptions_max`,
/// `serve --subscriptions-max`); a filter beyond this gets 0x80 in SUBACK.
pub const SUBSCRIPTIONS_MAX: usize = 1_000;
/// Outbound QoS 1 and 2 messages in flight per session; further messages
/// wait in the session's queue.
pub const INFLIGHT_MAX: usize = 32;
/// Messages waiting in one session's queue; a message beyond this is
/// dropped for that session, with a note.
pub const QUEUED_MAX: usize = 1_000;
/// Topic, payload and property bytes waiting in one session's queue, by default
/// (`Config::queued_bytes_max`): 16 MiB. A message that would take the
/// queue beyond it is dropped for that session, with a note, so that one
/// session that never reads cannot hold `QUEUED_MAX` large messages.
pub const QUEUED_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Topics with a retained message; a retained message for one more topic
/// is delivered but not retained, with a note.
pub const RETAINED_MAX: usize = 10_000;
/// The pause after a failed accept before the next one.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// How long a new connection may take to send CONNECT before it is
/// closed, by default (`Limits::connect_wait`, `serve --connect-wait`).
pub const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// Levels in a topic name or filter, by default (`Limits::topic_levels_max`,
/// `serve --topic-levels-max`): 200, mosquitto's limit. A PUBLISH or
/// SUBSCRIBE beyond it closes the connection (5.0: DISCONNECT 0x97, quota
/// exceeded), a will beyond it refuses the CONNECT (5.0: CONNACK 0x97), with
/// a note. Each level costs a trie node per subscription and a step of
/// every lookup; unbounded, one 65 KB SUBSCRIBE held ~70 MB.
pub const TOPIC_LEVELS_MAX: usize = 200;

/// Bytes held across all connections for packets not yet complete, by
/// default (`Limits::unfinished_bytes_max`, `serve --unfinished-bytes-max`):
/// 128 MiB, 128 packets of the default 1 MiB maximum in flight at once. A
/// connection whose next read would take more is closed (5.0: DISCONNECT
/// 0x97, quota exceeded), with a note. Each connection's buffer also grows
/// only as its packet's bytes arrive (at most twice them, never beyond the
/// packet), so the 1 MB packet a client never finishes holds 1 MB, not
/// the 2.4 MB it did; without a total, 10,000 connections could each hold
/// the packet size maximum.
pub const UNFINISHED_BYTES_MAX: usize = 128 * 1024 * 1024;

/// Retained messages one SUBSCRIBE may examine for its wildcard filters,
/// by default (`Limits::retained_scan_max`, `serve --retained-scan-max`):
/// 500,000, fifty lookups in a full retained store (`RETAINED_MAX`), about
/// 50 ms. A filter whose lookup would pass it is refused (SUBACK 0x80, 5.0:
/// 0x97), with a note. A wildcard filter examines the retained topics that
/// start with its levels before the first wildcard, all of them when it
/// starts with one: one SUBSCRIBE of 1,000 distinct `+/<n>` filters over
/// 10,000 retained messages held the broker 0.9 s.
pub const RETAINED_SCAN_MAX: usize = 500_000;

/// How long `serve` drains a connection after its DISCONNECT with a reason
/// code (`Limits::farewell_drain`, `serve --farewell-drain`).
pub const FAREWELL_DRAIN: Duration = Duration::from_millis(200);

/// The TCP port the broker listens on, in simulation and by default in `serve`.
pub const PORT: u16 = 1883;

/// Where the broker's notes go: the trace in simulation, a log line in `serve`.
pub type Notes = Rc<dyn Fn(String)>;

/// A source of accepted connections.
pub trait Listener {
    type Stream: AsyncRead + AsyncWrite + Unpin + 'static;
    /// Accepts the next connection; the string names the peer for notes.
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, String)>>;
}

impl Listener for turmoil::net::TcpListener {
    type Stream = turmoil::net::TcpStream;
    async fn accept(&self) -> io::Result<(Self::Stream, String)> {
        let (s, addr) = turmoil::net::TcpListener::accept(self).await?;
        Ok((s, addr.to_string()))
    }
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept(&self) -> io::Result<(Self::Stream, String)> {
        let (s, addr) = tokio::net::TcpListener::accept(self).await?;
        Ok((s, addr.to_string()))
    }
}

/// The reference broker. Cheap to clone: all clones share one state.
#[derive(Clone)]
pub struct Broker {
    inner: Rc<Inner>,
}

struct Inner {
    config: BrokerConfig,
    notes: Notes,
    store: Rc<RefCell<Store>>,
    /// Connections that are open now; never survives a restart.
    live: RefCell<Live>,
    /// What the connections' readers hold for unfinished packets, shared.
    unfinished: ReadBudget,
}

impl Broker {
    pub fn new(config: BrokerConfig, notes: Notes) -> Broker {
        Broker::with_store(config, notes, Rc::new(RefCell::new(Store::new())))
    }

    /// The state that would survive a restart with `persistence: true` lives
    /// in one [`Store`]; this constructor lets the harness keep it outside
    /// the host's future.
    ///
    /// No connection survives a restart, so what belonged to connections
    /// alone goes: sessions with clean session 1, and queued QoS 0 messages.
    pub fn with_store(config: BrokerConfig, notes: Notes, store: Rc<RefCell<Store>>) -> Broker {
        store.borrow_mut().all_offline();
        let unfinished = ReadBudget::new(config.limits.unfinished_bytes_max);
        Broker {
            inner: Rc::new(Inner {
                unfinished,
                config,
                notes,
                store,
                live: RefCell::new(Live::default()),
            }),
        }
    }

    /// Accept loop: one `spawn_local` task per connection. Runs forever: an
    /// accept error is noted and retried after `ACCEPT_RETRY`. A panic in a connection task is re-raised here, so
    /// that the host fails visibly instead of the panic being swallowed.
    pub async fn serve<L: Listener>(&self, listener: L) -> io::Result<()> {
        let mut tasks = JoinSet::new();
        self.inner.store.borrow_mut().restart_expiry_clocks();
        // Sessions kept from before a restart wait again for what was due.
        for (client_id, offline_since) in self.waiting_sessions() {
            let broker = self.clone();
            tasks.spawn_local(async move { broker.linger(client_id, offline_since).await });
        }
        loop {
            tokio::select! {
                biased;
                Some(joined) = tasks.join_next() => {
                    if let Err(e) = joined
                        && e.is_panic()
                    {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let broker = self.clone();
                        tasks.spawn_local(async move { broker.handle(stream, peer).await });
                    }
                    Err(e) => {
                        // Accept errors are mostly about one connection
                        // (aborted, out of descriptors for a moment);
                        // returning would drop every open connection.
                        self.note(format!("accept failed: {e}"));
                        tokio::time::sleep(ACCEPT_RETRY).await;
                    }
                },
            }
        }
    }

    /// Serves one already-accepted connection to its end.
    pub async fn handle<S: AsyncRead + AsyncWrite + Unpin + 'static>(
        &self,
        stream: S,
        peer: String,
    ) {
        connection::run(self.clone(), stream, peer).await;
    }

    fn note(&self, text: String) {
        (self.inner.notes)(text);
    }

    /// Why `topic` (a name or filter) is refused for its depth: more than
    /// `topic_levels_max` levels. `None` when it is within the limit.
    fn too_deep(&self, topic: &str) -> Option<String> {
        let max = self.config().limits.topic_levels_max;
        let levels = topic.bytes().filter(|&b| b == b'/').count() + 1;
        (levels > max).then(|| format!("topic of {levels} levels, over the limit of {max}"))
    }

    /// Whether a client may publish to `topic`: its acl's publish rule,
    /// and `$SYS` only where `sys_publish` allows it.
    fn may_publish(&self, user: Option<&str>, topic: &str) -> bool {
        let sys = topic == "$SYS" || topic.starts_with("$SYS/");
        (!sys || self.config().limits.sys_publish)
            && acl::allows(&self.config().acl, user, acl::Action::Publish, topic)
    }

    fn config(&self) -> &BrokerConfig {
        &self.inner.config
    }

    /// Whether the test-only planted bug `m` is switched on; see
    /// [`Mutant`].
    fn mutant(&self, m: Mutant) -> bool {
        self.inner.config.mutant == Some(m)
    }
}
