//! The in-process proxy between each client and the live broker: the place
//! where a scenario's network faults happen over a real network.
//!
//! Each client's connection is an in-memory duplex pipe on the client's
//! side and a real TCP socket on the broker's side; one task per direction
//! copies bytes across and applies the link's state at the moment the bytes
//! are read:
//!
//! - partitioned: the bytes are lost, and so is everything after them on
//!   that connection, as on turmoil's TCP that never retransmits: the stream
//!   stalls and only keep-alive notices. A lost FIN keeps the other side
//!   open. A new connect is refused while the client-to-broker direction is
//!   partitioned (as in turmoil; see `Links::refuses`).
//! - held: the bytes wait and are delivered in order on release.
//! - latency: each chunk is delivered that long after it was read, never
//!   overtaking an earlier chunk.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::rc::Rc;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::client::Connector;
use crate::scenario::{DurationSpec, FaultAction, Network};

/// The client side's pipe buffer, in bytes: what a client can write before a
/// stalled link blocks it, like a socket's send buffer.
pub const PIPE_BYTES: usize = 64 * 1024;
/// One read's worth of bytes.
const CHUNK_BYTES: usize = 16 * 1024;
/// Chunks waiting in one direction (held or delayed). Beyond this the pump
/// stops reading, which pushes back on the sender as a full socket would.
pub const QUEUED_CHUNKS_MAX: usize = 4096;
/// How long opening the TCP connection to the broker may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The state of one direction of a link, `from -> to`.
#[derive(Debug, Clone, Copy)]
struct Way {
    lost: bool,
    held: bool,
    latency: DurationSpec,
}

/// Every link's state, directed, keyed by host names.
pub struct Links {
    ways: BTreeMap<(String, String), Way>,
    latency_default: DurationSpec,
    rng: ChaCha8Rng,
    /// Bumped on every change, so that pumps waiting for a release wake.
    changed: watch::Sender<u64>,
}

impl Links {
    pub fn new(network: &Network, rng: ChaCha8Rng) -> Links {
        let mut links = Links {
            ways: BTreeMap::new(),
            latency_default: network.latency,
            rng,
            changed: watch::Sender::new(0),
        };
        for l in &network.links {
            links.both(&l.between.0, &l.between.1, |w| w.latency = l.latency);
        }
        links
    }

    fn way(&self, from: &str, to: &str) -> Way {
        self.ways
            .get(&(from.to_string(), to.to_string()))
            .copied()
            .unwrap_or(Way {
                lost: false,
                held: false,
                latency: self.latency_default,
            })
    }

    fn edit(&mut self, from: &str, to: &str, f: impl FnOnce(&mut Way)) {
        let mut way = self.way(from, to);
        f(&mut way);
        self.ways.insert((from.to_string(), to.to_string()), way);
    }

    fn both(&mut self, a: &str, b: &str, f: impl Fn(&mut Way)) {
        self.edit(a, b, &f);
        self.edit(b, a, &f);
    }

    /// Applies a network fault. Crashes and restarts are not the network's
    /// business and are ignored here.
    pub fn apply(&mut self, fault: &FaultAction) {
        match fault {
            FaultAction::Partition {
                a,
                b,
                oneway: false,
            } => self.both(a, b, |w| w.lost = true),
            FaultAction::Partition { a, b, oneway: true } => self.edit(a, b, |w| w.lost = true),
            FaultAction::Heal(Some((a, b))) => self.both(a, b, |w| w.lost = false),
            FaultAction::Heal(None) => self.ways.values_mut().for_each(|w| w.lost = false),
            FaultAction::Hold(a, b) => self.both(a, b, |w| w.held = true),
            FaultAction::Release(a, b) => self.both(a, b, |w| w.held = false),
            FaultAction::Latency { a, b, value } => self.both(a, b, |w| w.latency = *value),
            FaultAction::Crash(_) | FaultAction::Restart(_) => {}
        }
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Whether a new connection from `client` to `broker` is refused. This
    /// mirrors turmoil, so a scenario means the same live and simulated:
    /// there the SYN travels the client's direction and the answer does not
    /// cross the network, so only a partition from the client refuses; with
    /// the other direction cut the connection opens and then hears nothing.
    fn refuses(&self, client: &str, broker: &str) -> bool {
        self.way(client, broker).lost
    }

    fn delay(&mut self, from: &str, to: &str) -> Duration {
        let latency = self.way(from, to).latency;
        latency.draw(&mut self.rng)
    }
}

/// What every connector of a run shares.
#[derive(Clone)]
pub struct Net {
    pub links: Rc<RefCell<Links>>,
    /// The broker's address, `host:port`.
    pub broker_addr: Rc<String>,
    /// Every pump task, so that the end of the run can stop them.
    pub tasks: Rc<RefCell<Vec<AbortHandle>>>,
}

impl Net {
    pub fn abort_all(&self) {
        for t in self.tasks.borrow_mut().drain(..) {
            t.abort();
        }
    }
}

/// Connects one client to the live broker through the proxy.
pub struct LiveConnector {
    pub client: String,
    pub net: Net,
}

impl Connector for LiveConnector {
    type Stream = DuplexStream;

    async fn connect(&self, broker: &str) -> io::Result<DuplexStream> {
        if self.net.links.borrow().refuses(&self.client, broker) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "connection refused (partitioned)",
            ));
        }
        let addr = self.net.broker_addr.as_str();
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "timed out"))??;
        // MQTT packets are small and timing is what is measured.
        tcp.set_nodelay(true)?;
        let (ours, theirs) = tokio::io::duplex(PIPE_BYTES);
        let (client_r, client_w) = tokio::io::split(theirs);
        let (broker_r, broker_w) = tcp.into_split();
        let up = pump(
            client_r,
            broker_w,
            self.client.clone(),
            broker.to_string(),
            self.net.links.clone(),
        );
        let down = pump(
            broker_r,
            client_w,
            broker.to_string(),
            self.client.clone(),
            self.net.links.clone(),
        );
        let mut tasks = self.net.tasks.borrow_mut();
        tasks.push(tokio::task::spawn_local(up).abort_handle());
        tasks.push(tokio::task::spawn_local(down).abort_handle());
        Ok(ours)
    }
}

/// Copies one direction of one connection, applying the link's state.
async fn pump<R, W>(mut src: R, mut dst: W, from: String, to: String, links: Rc<RefCell<Links>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut changed = links.borrow().changed.subscribe();
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut src_open = true;
    // Something was lost: the stream never delivers again.
    let mut stalled = false;
    let mut last_due = Instant::now();
    loop {
        let held = links.borrow().way(&from, &to).held;
        let due = if held {
            None
        } else {
            queue.front().map(|(at, _)| *at)
        };
        if !src_open && queue.is_empty() {
            break;
        }
        let can_read = src_open && queue.len() < QUEUED_CHUNKS_MAX;
        tokio::select! {
            biased;
            read = src.read(&mut buf), if can_read => {
                let lost = stalled || links.borrow().way(&from, &to).lost;
                match read {
                    Ok(n) if n > 0 => {
                        if lost {
                            stalled = true;
                            continue;
                        }
                        let delay = links.borrow_mut().delay(&from, &to);
                        let at = (Instant::now() + delay).max(last_due);
                        last_due = at;
                        queue.push_back((at, buf.get(..n).unwrap_or_default().to_vec()));
                    }
                    // EOF or a reset: the end of this direction. A lost FIN
                    // never arrives.
                    _ => {
                        src_open = false;
                        stalled |= lost;
                    }
                }
            }
            _ = sleep_until_or_forever(due) => {
                if let Some((_, bytes)) = queue.pop_front()
                    && dst.write_all(&bytes).await.is_err()
                {
                    return;
                }
            }
            r = changed.changed() => {
                if r.is_err() {
                    // The run is over; nothing will change again.
                    return;
                }
            }
        }
    }
    if stalled {
        // Keep `dst` open: the other side must not see an end that never
        // arrived. The run's end aborts this task.
        std::future::pending::<()>().await;
    }
    let _ = dst.shutdown().await;
}

async fn sleep_until_or_forever(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
