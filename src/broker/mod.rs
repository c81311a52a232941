//! The reference broker, MQTT 3.1.1.
//!
//! It is generic over its listener and streams, so the same code serves
//! turmoil's simulated TCP and real tokio TCP. It runs on one thread: the
//! connections are `spawn_local` tasks sharing state through `Rc<RefCell<_>>`,
//! which is what makes it deterministic under turmoil.
//!
//! The broker knows nothing about scenarios or traces. It reports what it
//! decides (takeovers, keep-alive expiry, wills) through a [`Notes`] sink.

use std::future::Future;
use std::io;
use std::rc::Rc;

use tokio::io::{AsyncRead, AsyncWrite};

pub use crate::scenario::{BrokerSpec as BrokerConfig, TakeoverWill};

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
