//! Listening sockets and the accept loop: connection limits (`maxconn` in
//! `global` and per frontend), graceful stop, and the hand-off of each
//! connection to the TCP or HTTP proxy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::proxy::http::{self, HttpRoute};
use crate::proxy::tcp::{self, TcpRoute};

/// Pending connections the kernel queues per listener.
const BACKLOG: i32 = 4096;

/// What one frontend does with its connections.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    Tcp(Arc<TcpRoute>),
    Http(Arc<HttpRoute>),
}

/// Connection limits: `maxconn` in `global` and in the frontend (shared by
/// all of the frontend's `bind` lines).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub global: Option<Arc<Semaphore>>,
    pub frontend: Option<Arc<Semaphore>>,
}

/// Signals from the running load balancer to its connections.
#[derive(Debug, Clone)]
pub(crate) struct Signals {
    /// Stop accepting; HTTP connections close after their current request.
    pub stop: watch::Receiver<bool>,
    /// The grace period is over: drop every connection.
    pub kill: watch::Receiver<bool>,
    /// Held by every connection task: when all clones are gone, the last
    /// connection has ended.
    pub alive: mpsc::Sender<()>,
}

/// Opens a listening socket (`SO_REUSEADDR`, `SO_REUSEPORT`, non-blocking).
///
/// `SO_REUSEPORT`, as HAProxy sets by default: a new process can listen
/// while the old one drains (reloads), and two instances can share an
/// address while a VRRP backup takes it over from a frozen master.
pub(crate) fn bind_socket(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Accepts connections until stopped.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    route: Route,
    limits: Limits,
    mut signals: Signals,
) {
    loop {
        // Like HAProxy, stop accepting while at maxconn: new clients wait in
        // the kernel's backlog instead of being accepted and starved.
        let global = match &limits.global {
            Some(s) => Some(Arc::clone(s).acquire_owned().await.expect("never closed")),
            None => None,
        };
        let local = match &limits.frontend {
            Some(s) => Some(Arc::clone(s).acquire_owned().await.expect("never closed")),
            None => None,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = until_set(&mut signals.stop) => return,
        };
        let route = route.clone();
        let signals = signals.clone();
        tokio::spawn(async move {
            let _permits = (global, local);
            let Signals {
                stop,
                mut kill,
                alive,
            } = signals;
            let _alive = alive;
            tokio::select! {
                biased;
                () = serve(stream, peer, route, stop) => {}
                () = until_set(&mut kill) => {}
            }
        });
    }
}

async fn serve(stream: TcpStream, peer: SocketAddr, route: Route, mut stop: watch::Receiver<bool>) {
    match route {
        Route::Tcp(route) => Box::pin(tcp::serve(stream, peer, route)).await,
        Route::Http(route) => {
            // An idle client costs only this small future: the HTTP
            // machinery (buffers, parser state) is allocated, boxed, once the
            // first bytes arrive. That keeps thousands of idle connections
            // cheap, as HAProxy's on-demand buffers do.
            if http::first_bytes(&stream, &route, &mut stop).await {
                Box::pin(http::serve(stream, peer, route, stop)).await;
            }
        }
    }
}

/// Waits until a flag turns true (or its sender is gone).
pub(crate) async fn until_set(flag: &mut watch::Receiver<bool>) {
    // The borrow `wait_for` returns is dropped here, not held across awaits.
    let _ = flag.wait_for(|set| *set).await;
}
