//! The sockets hosts use in simulation: turmoil-net's TCP, wrapped so that
//! brokers under test and the scripted client see one stable type, whatever
//! the substrate.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use turmoil_net::shim::tokio::net as tn;

use crate::broker::PORT;

/// A listening socket on a simulated host, bound by the harness to
/// [`PORT`] each time a broker host starts.
pub struct Listener(tn::TcpListener);

impl Listener {
    pub(crate) async fn bind() -> io::Result<Listener> {
        Ok(Listener(tn::TcpListener::bind(("0.0.0.0", PORT)).await?))
    }

    /// Accepts the next connection and the peer's address.
    pub async fn accept(&self) -> io::Result<(Stream, SocketAddr)> {
        let (s, addr) = self.0.accept().await?;
        Ok((Stream(s), addr))
    }
}

impl crate::broker::Listener for Listener {
    type Stream = Stream;
    async fn accept(&self) -> io::Result<(Stream, String)> {
        let (s, addr) = Listener::accept(self).await?;
        Ok((s, addr.to_string()))
    }
}

/// One simulated TCP connection.
pub struct Stream(tn::TcpStream);

impl Stream {
    /// Connects to `host`'s broker port.
    pub async fn connect(host: &str) -> io::Result<Stream> {
        Ok(Stream(tn::TcpStream::connect((host, PORT)).await?))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The scripted client's way to its broker in simulation.
pub struct Connector;

impl crate::client::Connector for Connector {
    type Stream = Stream;
    async fn connect(&self, broker: &str) -> io::Result<Stream> {
        Stream::connect(broker).await
    }
}
