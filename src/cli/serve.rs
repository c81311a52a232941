//! `mqtt-sim serve`: the reference broker over real TCP, in real time, for
//! real clients.
//!
//! The broker is the simulation's own ([`mqtt_sim::broker::Broker`]), not
//! a copy: it is generic over its listener. It is single-threaded by design,
//! so it runs on a current-thread runtime inside a `LocalSet`.
//!
//! This is outside the simulation, so it is the one place that reads the
//! wall clock: each log line starts with a UTC timestamp. The determinism
//! guard exempts this module by its name (`serve`); keep wall-clock code
//! here and nowhere else.
//!
//! Log lines go to stdout, one per event: listening, a connection accepted,
//! its CONNECT and CONNACK, its close and why, every broker note, and the
//! stop; `log` writes them from a thread of its own, escaped, dropping
//! (and counting) lines rather than blocking the broker. Errors that stop
//! the command go to stderr.

mod log;
mod tap;

use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use mqtt_sim::broker::{self, Broker, BrokerConfig, Notes};
use mqtt_sim::scenario;
use tokio::net::TcpListener;
use tokio::task::LocalSet;

use super::{EXIT_FAILED, EXIT_INVALID};
use tap::{Log, Tapped};

/// How long accepting pauses after it failed (out of file descriptors, a
/// connection aborted before it was accepted), so that a persistent failure
/// does not spin.
const ACCEPT_RETRY_WAIT: Duration = Duration::from_millis(100);

/// The default `--listen` address.
pub const LISTEN_DEFAULT: &str = "127.0.0.1:1883";

/// The flags of `mqtt-sim serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (the log says which).
    #[arg(long, default_value = LISTEN_DEFAULT)]
    listen: String,
    /// Broker options: the keys of a scenario's broker entry, as YAML.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Levels in a topic name or filter at most; a PUBLISH, SUBSCRIBE or
    /// will beyond closes the connection.
    #[arg(long, default_value_t = broker::TOPIC_LEVELS_MAX, value_parser = at_least_one)]
    topic_levels_max: usize,
    /// Subscriptions per session at most; one more gets SUBACK 0x80 (5.0:
    /// 0x97).
    #[arg(long, default_value_t = broker::SUBSCRIPTIONS_MAX, value_parser = at_least_one)]
    subscriptions_max: usize,
    /// Open connections at most, with or without CONNECT.
    #[arg(long, default_value_t = broker::CONNECTIONS_MAX, value_parser = at_least_one)]
    connections_max: usize,
    /// Connections before CONNECT at most; one more closes the oldest.
    #[arg(long, default_value_t = broker::CONNECTING_MAX, value_parser = at_least_one)]
    connecting_max: usize,
    /// How long a connection may take to send CONNECT, e.g. `10s` (the
    /// default is `broker::CONNECT_WAIT`).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    connect_wait: Duration,
    /// Let clients publish, retain and leave wills under `$SYS` (denied by
    /// default: those are the server's topics).
    #[arg(long)]
    allow_sys_publish: bool,
    /// After a DISCONNECT with a reason code, how long to read what the
    /// client still sends before closing, so that a TCP reset does not
    /// destroy the DISCONNECT (default `broker::FAREWELL_DRAIN`).
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    farewell_drain: Duration,
    /// Bytes held at once across all connections for packets not yet
    /// complete; a connection whose packet would take more is closed (5.0:
    /// DISCONNECT 0x97).
    #[arg(long, default_value_t = broker::UNFINISHED_BYTES_MAX, value_parser = at_least_one)]
    unfinished_bytes_max: usize,
    /// Retained messages one SUBSCRIBE may examine for its wildcard
    /// filters; a filter beyond is refused (SUBACK 0x80, 5.0: 0x97).
    #[arg(long, default_value_t = broker::RETAINED_SCAN_MAX, value_parser = at_least_one)]
    retained_scan_max: usize,
}

impl Args {
    /// The limits the flags set, on top of `config`.
    fn limits(&self) -> broker::Limits {
        broker::Limits {
            topic_levels_max: self.topic_levels_max,
            subscriptions_max: self.subscriptions_max,
            connections_max: self.connections_max,
            connecting_max: self.connecting_max,
            connect_wait: self.connect_wait,
            sys_publish: self.allow_sys_publish,
            farewell_drain: self.farewell_drain,
            unfinished_bytes_max: self.unfinished_bytes_max,
            retained_scan_max: self.retained_scan_max,
        }
    }
}

pub fn serve(args: Args) -> anyhow::Result<u8> {
    let listen = args.listen.as_str();
    let mut config = match args.config.as_deref() {
        None => BrokerConfig::default(),
        Some(path) => match load_config(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(EXIT_INVALID);
            }
        },
    };
    config.limits = args.limits();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let code = LocalSet::new().block_on(&runtime, run(listen, config));
    log::finish();
    code
}

/// Reads a broker config file: the keys of one entry under a scenario's
/// `brokers`, parsed by the scenario parser itself.
fn load_config(path: &Path) -> Result<BrokerConfig, String> {
    let bytes = scenario::read_bounded(path)
        .map_err(|e| format!("cannot read broker config file {}: {e}", path.display()))?;
    if bytes.len() > scenario::MAX_SOURCE_BYTES {
        return Err(format!(
            "{}: the file is more than {} bytes",
            path.display(),
            scenario::MAX_SOURCE_BYTES
        ));
    }
    let source = String::from_utf8(bytes)
        .map_err(|_| format!("{}: the file is not valid UTF-8", path.display()))?;
    scenario::parse_broker_config(&source, path).map_err(|e| e.to_string())
}

async fn run(listen: &str, config: BrokerConfig) -> anyhow::Result<u8> {
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return Ok(EXIT_INVALID);
        }
    };
    let mut stop = match StopSignals::register() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot handle Ctrl-C and SIGTERM: {e}");
            return Ok(EXIT_FAILED);
        }
    };
    let log: Log = Rc::new(|text| log_line(&text));
    match listener.local_addr() {
        Ok(addr) => log_line(&format!("listening on {addr}")),
        Err(_) => log_line(&format!("listening on {listen}")),
    }
    let notes: Notes = Rc::new(|text| log_line(&format!("note: {text}")));
    let broker = Broker::new(config, notes);
    let served = Logged {
        inner: listener,
        log,
    };
    tokio::select! {
        biased;
        why = stop.wait() => {
            log_line(&format!("stopping: {why}"));
            Ok(0)
        }
        r = broker.serve(served) => {
            let why = match r {
                Ok(()) => "the accept loop ended".to_string(),
                Err(e) => e.to_string(),
            };
            eprintln!("error: the broker stopped: {why}");
            Ok(EXIT_FAILED)
        }
    }
    // Leaving `select!` drops the broker's accept loop and with it every
    // connection task, which closes their sockets.
}

/// The signals that stop the broker: Ctrl-C, and SIGTERM where there is
/// one. They are registered before the "listening" line, so that a signal
/// sent once that line is out is never lost (or, for SIGINT inherited as
/// ignored by a background job, never ignored).
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    #[cfg(unix)]
    fn register() -> io::Result<StopSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn register() -> io::Result<StopSignals> {
        Ok(StopSignals {})
    }

    /// Resolves when a stop signal arrives; says which.
    #[cfg(unix)]
    async fn wait(&mut self) -> &'static str {
        tokio::select! {
            biased;
            _ = self.interrupt.recv() => "interrupted (Ctrl-C)",
            _ = self.terminate.recv() => "terminated (SIGTERM)",
        }
    }

    #[cfg(not(unix))]
    async fn wait(&mut self) -> &'static str {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "interrupted (Ctrl-C)",
            // Without a Ctrl-C handler the broker would run until killed.
            Err(_) => "Ctrl-C cannot be handled here",
        }
    }
}

/// A tokio listener whose connections are tapped and logged. A failed
/// accept is logged and retried: one bad connection must not stop the
/// broker, whose accept loop ends at the first error it sees.
struct Logged {
    inner: TcpListener,
    log: Log,
}

impl broker::Listener for Logged {
    type Stream = Tapped<tokio::net::TcpStream>;

    async fn accept(&self) -> io::Result<(Self::Stream, String)> {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let peer = addr.to_string();
                    (self.log)(format!("[{peer}] accepted"));
                    let tapped = Tapped::new(stream, peer.clone(), self.log.clone());
                    return Ok((tapped, peer));
                }
                Err(e) => {
                    (self.log)(format!("accept failed: {e}; retrying"));
                    tokio::time::sleep(ACCEPT_RETRY_WAIT).await;
                }
            }
        }
    }
}

/// A limit of 1 or more: 0 would refuse everything.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// One log line on stdout, after the wall-clock time in UTC; see `log`:
/// escaped, and never blocking the broker.
fn log_line(text: &str) {
    log::line(text);
}
