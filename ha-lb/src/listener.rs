//! Listening sockets and the accept loop: connection limits (`maxconn` in
//! `global` and per frontend), graceful stop, and the hand-off of each
//! connection to the TCP or HTTP proxy.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::proxy::http::{self, HttpRoute};
use crate::proxy::tcp::{self, TcpRoute};

/// Pending connections the kernel queues per listener.
const BACKLOG: i32 = 4096;
/// While a limit keeps being reached, it is logged at most this often.
const LIMIT_LOG_EVERY: Duration = Duration::from_secs(10);

/// What one frontend does with its connections.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    Tcp(Arc<TcpRoute>),
    Http(Arc<HttpRoute>),
}

/// Connection limits: `maxconn` in `global` (shared by every frontend) and
/// in the frontend (shared by all of the frontend's `bind` lines).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub global: Slots,
    pub frontend: Option<Slots>,
}

/// The connection slots under one `maxconn`.
#[derive(Debug, Clone)]
pub(crate) struct Slots {
    free: Arc<Semaphore>,
    max: u32,
}

impl Slots {
    pub fn new(max: u32) -> Self {
        Self {
            free: Arc::new(Semaphore::new(max as usize)),
            max,
        }
    }
}

/// Connection counters of one frontend at one moment, from
/// [`Running::frontend_counters`](crate::Running::frontend_counters):
/// plain numbers to print, compare or export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FrontendCounters {
    /// Connections accepted.
    pub connections: u64,
    /// Times the frontend stopped accepting because its own `maxconn`
    /// connections were open.
    pub maxconn_reached: u64,
    /// Times it stopped accepting because the process-wide (`global`)
    /// `maxconn` connections were open.
    pub global_maxconn_reached: u64,
}

impl fmt::Display for FrontendCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connections={} maxconn_reached={} global_maxconn_reached={}",
            self.connections, self.maxconn_reached, self.global_maxconn_reached
        )
    }
}

/// The live counters behind [`FrontendCounters`], shared by the accept
/// loops of one frontend.
#[derive(Debug)]
pub(crate) struct FrontendStats {
    name: String,
    connections: AtomicU64,
    maxconn_reached: AtomicU64,
    global_maxconn_reached: AtomicU64,
    /// When a reached limit was last logged.
    logged: Mutex<Option<Instant>>,
}

/// Which limit stopped the accept loop.
#[derive(Debug, Clone, Copy)]
enum Limit {
    Frontend,
    Global,
}

impl FrontendStats {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            connections: AtomicU64::new(0),
            maxconn_reached: AtomicU64::new(0),
            global_maxconn_reached: AtomicU64::new(0),
            logged: Mutex::new(None),
        }
    }

    pub fn counters(&self) -> FrontendCounters {
        FrontendCounters {
            connections: self.connections.load(Ordering::Relaxed),
            maxconn_reached: self.maxconn_reached.load(Ordering::Relaxed),
            global_maxconn_reached: self.global_maxconn_reached.load(Ordering::Relaxed),
        }
    }

    /// Counts a reached limit, and logs it unless it was logged lately:
    /// a loaded proxy reaches its limit each time a connection ends.
    fn reached(&self, limit: Limit, max: u32) {
        let count = match limit {
            Limit::Frontend => &self.maxconn_reached,
            Limit::Global => &self.global_maxconn_reached,
        };
        let times = count.fetch_add(1, Ordering::Relaxed) + 1;
        let mut logged = self.logged.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if logged.is_some_and(|at| now.duration_since(at) < LIMIT_LOG_EVERY) {
            return;
        }
        *logged = Some(now);
        match limit {
            Limit::Frontend => tracing::warn!(
                frontend = %self.name,
                times,
                "frontend reached its maxconn ({max}): new connections wait in the listen queue"
            ),
            Limit::Global => tracing::warn!(
                frontend = %self.name,
                times,
                "process reached the global maxconn ({max}): new connections wait in the listen queue"
            ),
        }
    }
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
    stats: Arc<FrontendStats>,
    mut signals: Signals,
) {
    loop {
        // Like HAProxy, stop accepting while at maxconn: new clients wait in
        // the kernel's backlog instead of being accepted and starved. The
        // frontend's own slot first: waiting for it must not hold a global
        // slot that other frontends could use.
        let local = match &limits.frontend {
            Some(s) => Some(permit(s, &stats, Limit::Frontend).await),
            None => None,
        };
        let global = permit(&limits.global, &stats, Limit::Global).await;
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
        stats.connections.fetch_add(1, Ordering::Relaxed);
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

/// A slot under `limit`, waiting (and counting the wait) when there is none.
async fn permit(slots: &Slots, stats: &FrontendStats, which: Limit) -> OwnedSemaphorePermit {
    if let Ok(permit) = Arc::clone(&slots.free).try_acquire_owned() {
        return permit;
    }
    stats.reached(which, slots.max);
    Arc::clone(&slots.free)
        .acquire_owned()
        .await
        .expect("never closed")
}

/// Waits until a flag turns true (or its sender is gone).
pub(crate) async fn until_set(flag: &mut watch::Receiver<bool>) {
    // The borrow `wait_for` returns is dropped here, not held across awaits.
    let _ = flag.wait_for(|set| *set).await;
}
