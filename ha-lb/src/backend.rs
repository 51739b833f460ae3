//! The [`Backend`] trait: how the proxy reaches one server.
//!
//! A backend opens byte streams. For a server on the network that is a TCP
//! connection ([`TcpBackend`]); for a service in the same process it can be
//! one end of an in-memory pipe ([`InProcessBackend`]), so an embedding
//! application can put its own handlers behind the balancer and have them
//! weighted, drained and health-checked like any other server (with the
//! [`HealthCheck`](crate::HealthCheck) given for the server, else by opening
//! a connection through the backend). Weight, state and health are not the
//! backend's business: the [`Pool`](crate::Pool) keeps them, so they can
//! change at run time.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use ha_core::async_trait;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::net::TcpStream;

/// A byte stream to a server.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A boxed [`Stream`].
pub type BoxStream = Box<dyn Stream>;

/// How the balancer reaches one server: each call to
/// [`connect`](Backend::connect) opens a new byte stream to it.
///
/// Implement it with [`async_trait`] (re-exported by ha-lb, so
/// no extra dependency is needed) to put anything that speaks bytes behind
/// a [`Server`](crate::config::Server).
#[async_trait]
pub trait Backend: Send + Sync + fmt::Debug {
    /// Opens a new connection to the server.
    async fn connect(&self) -> io::Result<BoxStream>;

    /// The network address health checks probe, if the server has one.
    fn address(&self) -> Option<SocketAddr>;

    /// A short description for logs (`127.0.0.1:8080`, `in-process`).
    fn describe(&self) -> String {
        match self.address() {
            Some(addr) => addr.to_string(),
            None => "in-process".to_owned(),
        }
    }
}

/// A server reached over TCP. Connections have `TCP_NODELAY` set: the proxy
/// writes whole messages, and Nagle's delay would only add latency.
#[derive(Debug, Clone)]
pub struct TcpBackend {
    addr: SocketAddr,
}

impl TcpBackend {
    /// A server at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }
}

#[async_trait]
impl Backend for TcpBackend {
    async fn connect(&self) -> io::Result<BoxStream> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        Ok(Box::new(stream))
    }

    fn address(&self) -> Option<SocketAddr> {
        Some(self.addr)
    }
}

/// What serves the other end of an [`InProcessBackend`]'s pipe.
pub type Handler = Arc<dyn Fn(DuplexStream) + Send + Sync>;

/// A server inside this process: each connection is an in-memory pipe whose
/// far end is handed to `handler` (which typically spawns a hyper connection
/// or a protocol task on it).
#[derive(Clone)]
pub struct InProcessBackend {
    handler: Handler,
    buffer: usize,
}

impl InProcessBackend {
    /// A backend whose connections `handler` serves.
    pub fn new(handler: Handler) -> Self {
        Self {
            handler,
            buffer: 64 * 1024,
        }
    }

    /// A backend whose connections `serve` serves: called with the far end
    /// of each new connection's pipe, it typically spawns a task on it.
    pub fn from_fn(serve: impl Fn(DuplexStream) + Send + Sync + 'static) -> Self {
        Self::new(Arc::new(serve))
    }
}

impl fmt::Debug for InProcessBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessBackend")
            .field("buffer", &self.buffer)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Backend for InProcessBackend {
    async fn connect(&self) -> io::Result<BoxStream> {
        let (near, far) = tokio::io::duplex(self.buffer);
        (self.handler)(far);
        Ok(Box::new(near))
    }

    fn address(&self) -> Option<SocketAddr> {
        None
    }
}
