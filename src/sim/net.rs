//! The sockets hosts use in simulation: turmoil-net's TCP, wrapped so that
//! brokers under test and the scripted client see one stable type, whatever
//! the substrate.

#![warn(missing_docs)]

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use turmoil_net::shim::tokio::net as tn;

use crate::broker::PORT;

/// A listening socket on a simulated host, bound by the harness to
/// [`PORT`] each time a broker host starts.
pub struct Listener(tn::TcpListener);

impl Listener {
    /// Binds the broker port on the host's own address `ip`, not on the
    /// wildcard: turmoil-net files every accepted connection under the
    /// concrete address and port, and looks for the listener under that
    /// key first (`find_listener`, twice per connect). Under the wildcard
    /// that first look went through every accepted connection before
    /// falling back: quadratic in the clients of a broker (see
    /// docs/performance.md).
    pub(crate) async fn bind(ip: IpAddr) -> io::Result<Listener> {
        Ok(Listener(tn::TcpListener::bind((ip, PORT)).await?))
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

/// The most one read takes from a simulated socket, and the size of the
/// scratch buffer it goes through.
const READ_SCRATCH_BYTES: usize = 64 * 1024;

thread_local! {
    /// Where reads land first. turmoil-net zeroes the whole unfilled part
    /// of the buffer it is given on every read, data or not; callers such
    /// as `read_buf` hand it kilobytes of fresh capacity each time, so a
    /// read that found nothing cost a 4 KiB memset (a fifth of the
    /// instructions of a ping-pong run). This buffer is zeroed once per
    /// thread; a read then costs a copy of the bytes it got.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_SCRATCH_BYTES]);
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        SCRATCH.with_borrow_mut(|scratch| {
            let len = buf.remaining().min(scratch.len());
            let mut got = ReadBuf::new(&mut scratch[..len]);
            ready!(Pin::new(&mut self.0).poll_read(cx, &mut got))?;
            buf.put_slice(got.filled());
            Poll::Ready(Ok(()))
        })
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
