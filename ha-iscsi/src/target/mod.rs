//! The tokio driver of a target portal: listens, maps LUNs to targets and
//! initiators, accepts connections (within its
//! [`ConnectionLimits`](crate::admission::ConnectionLimits), pausing
//! after `accept` fails for lack of resources) and runs a
//! [`Session`](crate::session::Session) on each, and on stop asks every
//! initiator to log out.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::admission::{AcceptBackoff, ConnectionCounts, Connections};
use crate::error::{Error, Operation, Result};
use crate::login::LoginConfig;
use crate::scsi::LogicalUnit;
use crate::session::{LunMap, SessionConfig};

mod connection;

use connection::serve_connection;

pub use crate::session::PortalOptions;

/// A target of a portal's configuration: by its IQN, or by its position in
/// [`LoginConfig::targets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetRef<'a> {
    /// The target's IQN.
    Name(&'a str),
    /// Its index in the configuration's targets.
    Index(usize),
}

impl<'a> From<&'a str> for TargetRef<'a> {
    fn from(name: &'a str) -> Self {
        Self::Name(name)
    }
}

impl<'a> From<&'a String> for TargetRef<'a> {
    fn from(name: &'a String) -> Self {
        Self::Name(name)
    }
}

impl From<usize> for TargetRef<'_> {
    fn from(index: usize) -> Self {
        Self::Index(index)
    }
}

/// What every connection of a portal listens to.
#[derive(Debug)]
pub(crate) struct Signals {
    /// Bumped by a TARGET COLD RESET of a target (by index): every
    /// connection to it closes.
    pub(crate) cold_reset: watch::Sender<(usize, u64)>,
    /// Set when the portal stops.
    pub(crate) stopping: watch::Sender<bool>,
}

/// What a portal counts: its connections and what it refused, `accept`
/// failures. A handle: clones see the same counts, while the portal
/// serves.
#[derive(Debug, Clone)]
pub struct PortalStats(Arc<Counters>);

#[derive(Debug)]
struct Counters {
    connections: Mutex<Connections>,
    accept_failures: AtomicU64,
    buffer_full: AtomicU64,
}

impl PortalStats {
    fn new(options: &PortalOptions) -> Self {
        Self(Arc::new(Counters {
            connections: Mutex::new(Connections::new(options.connections)),
            accept_failures: AtomicU64::new(0),
            buffer_full: AtomicU64::new(0),
        }))
    }

    fn connections_mut(&self) -> std::sync::MutexGuard<'_, Connections> {
        // Plain counts: still consistent after a panic elsewhere.
        self.0.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connections held and refused.
    pub fn connections(&self) -> ConnectionCounts {
        self.connections_mut().counts()
    }

    /// Times `accept` failed for lack of descriptors or memory.
    pub fn accept_failures(&self) -> u64 {
        self.0.accept_failures.load(Ordering::Relaxed)
    }

    /// Commands refused, or connections closed, because a connection held
    /// the options' `max_buffered` ([`Session::buffer_full`](crate::session::Session::buffer_full)).
    pub fn buffer_full(&self) -> u64 {
        self.0.buffer_full.load(Ordering::Relaxed)
    }
}

/// A connection the portal's limits took, given back when it ends.
#[derive(Debug)]
pub(crate) struct Admitted {
    stats: PortalStats,
    address: IpAddr,
    logged_in: bool,
    /// The session's `buffer_full` count already added to the portal's.
    buffer_full: u64,
}

impl Admitted {
    /// The connection logged in: it no longer counts among those logging
    /// in.
    pub(crate) fn handle_logged_in(&mut self) {
        if !self.logged_in {
            self.logged_in = true;
            self.stats.connections_mut().handle_logged_in(self.address);
        }
    }

    /// The session's count of commands refused for its byte bound is now
    /// `count`.
    pub(crate) fn report_buffer_full(&mut self, count: u64) {
        if count > self.buffer_full {
            let new = count - self.buffer_full;
            self.stats.0.buffer_full.fetch_add(new, Ordering::Relaxed);
            self.buffer_full = count;
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.stats
            .connections_mut()
            .handle_close(self.address, self.logged_in);
    }
}

/// Where a portal's connections come from: its listener (a test's stands
/// in for a system out of descriptors).
pub(crate) trait Incoming {
    /// The next connection.
    fn accept(&self) -> impl Future<Output = std::io::Result<(TcpStream, SocketAddr)>> + Send;
}

impl Incoming for TcpListener {
    fn accept(&self) -> impl Future<Output = std::io::Result<(TcpStream, SocketAddr)>> + Send {
        TcpListener::accept(self)
    }
}

/// A listening portal.
#[derive(Debug)]
pub struct Portal {
    listener: TcpListener,
    config: Arc<LoginConfig>,
    luns: Arc<LunMap>,
    /// The addresses SendTargets reports (`ip:port`).
    advertised: Vec<String>,
    options: PortalOptions,
    stats: PortalStats,
}

impl Portal {
    /// Listens on `addr` for the targets in `config`.
    pub async fn bind(addr: SocketAddr, config: LoginConfig) -> Result<Self> {
        let listen = || Error::io(Operation::Listen(addr));
        let listener = TcpListener::bind(addr).await.map_err(listen())?;
        let local = listener.local_addr().map_err(listen())?;
        Ok(Self {
            listener,
            config: Arc::new(config),
            luns: Arc::default(),
            advertised: vec![local.to_string()],
            options: PortalOptions::default(),
            stats: PortalStats::new(&PortalOptions::default()),
        })
    }

    /// Sets keep-alive, limits and stop behaviour (before it serves).
    pub fn set_options(&mut self, options: PortalOptions) {
        self.options = options;
        *self.stats.connections_mut() = Connections::new(options.connections);
    }

    /// Its counts, readable while it serves.
    pub fn stats(&self) -> PortalStats {
        self.stats.clone()
    }

    /// The index in the configuration of the target `target` names.
    fn target_index(&self, target: TargetRef<'_>) -> Result<usize> {
        match target {
            TargetRef::Name(name) => self
                .config
                .targets
                .iter()
                .position(|t| t.name == name)
                .ok_or_else(|| Error::UnknownTarget(name.to_owned())),
            TargetRef::Index(index) if index < self.config.targets.len() => Ok(index),
            TargetRef::Index(index) => Err(Error::UnknownTarget(format!("#{index}"))),
        }
    }

    /// Maps `unit` as LUN `lun` of `target` (its IQN, or its position in
    /// the configuration).
    pub fn map_lun<'a>(
        &mut self,
        target: impl Into<TargetRef<'a>>,
        lun: u64,
        unit: LogicalUnit,
    ) -> Result<()> {
        let target = self.target_index(target.into())?;
        Arc::make_mut(&mut self.luns).map_lun(target, lun, unit);
        Ok(())
    }

    /// Maps LUN `tpg_lun` of `target` as LUN `mapped` for the initiator
    /// named `initiator` only (targetcli's `mapped_luns` of a node ACL),
    /// write-protected if `read_only`. An initiator with mappings sees just
    /// those; one without sees every LUN of the target.
    pub fn map_acl_lun<'a>(
        &mut self,
        target: impl Into<TargetRef<'a>>,
        initiator: &str,
        mapped: u64,
        tpg_lun: u64,
        read_only: bool,
    ) -> Result<()> {
        let target = self.target_index(target.into())?;
        Arc::make_mut(&mut self.luns).map_acl_lun(target, initiator, mapped, tpg_lun, read_only);
        Ok(())
    }

    /// Write-protects the LUNs of `target` for initiators that have no LUN
    /// mappings of their own (demo mode's write protection).
    pub fn set_demo_write_protect<'a>(
        &mut self,
        target: impl Into<TargetRef<'a>>,
        on: bool,
    ) -> Result<()> {
        let target = self.target_index(target.into())?;
        Arc::make_mut(&mut self.luns).set_demo_write_protect(target, on);
        Ok(())
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts and serves connections until the task is dropped.
    pub async fn serve(self) {
        self.serve_until(std::future::pending()).await;
    }

    /// Accepts and serves connections until `stop` completes; then asks
    /// every initiator to log out (an Async Message), waits up to the
    /// options' `logout_wait` for them, and returns.
    pub async fn serve_until(self, stop: impl Future<Output = ()>) {
        let Self {
            listener,
            config,
            luns,
            advertised,
            options,
            stats,
        } = self;
        let template = SessionConfig {
            config,
            luns,
            advertised: Arc::new(advertised),
            options,
        };
        serve_incoming(&listener, template, stats, stop).await;
    }
}

/// The accept loop of a portal: connections from `incoming` admitted by
/// the portal's limits and served with `template`, until `stop`.
pub(crate) async fn serve_incoming(
    incoming: &impl Incoming,
    template: SessionConfig,
    stats: PortalStats,
    stop: impl Future<Output = ()>,
) {
    let options = template.options;
    let tsih = Arc::new(AtomicU16::new(1));
    let signals = Arc::new(Signals {
        cold_reset: watch::channel((usize::MAX, 0)).0,
        stopping: watch::channel(false).0,
    });
    let mut connections = tokio::task::JoinSet::new();
    let mut backoff = AcceptBackoff::new();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = incoming.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                let Some(pause) = backoff.handle_error(&e) else {
                    continue;
                };
                stats.0.accept_failures.fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(pause) => continue,
                }
            }
        };
        backoff.handle_accepted();
        let address = peer.ip().to_canonical();
        if stats.connections_mut().handle_accept(address).is_err() {
            // Closed at once, before anything is read from it.
            drop(stream);
            continue;
        }
        let admitted = Admitted {
            stats: stats.clone(),
            address,
            logged_in: false,
            buffer_full: 0,
        };
        let _ = stream.set_nodelay(true);
        let handle = tsih.fetch_add(1, Ordering::Relaxed).max(1);
        let config = template.clone();
        let signals = signals.clone();
        connections.spawn(async move {
            let mut admitted = admitted;
            if let Err(e) = serve_connection(stream, config, handle, &signals, &mut admitted).await
            {
                tracing::info!(%peer, error = %e, "iSCSI connection ended");
            }
        });
    }
    signals.stopping.send_replace(true);
    let wait = options.logout_wait + Duration::from_millis(500);
    let _ = tokio::time::timeout(wait, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.shutdown().await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::login::Auth;

    /// A system out of descriptors: every accept fails with EMFILE, at
    /// once.
    #[derive(Default)]
    struct OutOfDescriptors {
        calls: AtomicUsize,
    }

    impl Incoming for OutOfDescriptors {
        fn accept(&self) -> impl Future<Output = std::io::Result<(TcpStream, SocketAddr)>> + Send {
            self.calls.fetch_add(1, Ordering::Relaxed);
            std::future::ready(Err(std::io::Error::from_raw_os_error(24)))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn accept_pauses_while_descriptors_are_exhausted() {
        let incoming = OutOfDescriptors::default();
        let template = SessionConfig {
            config: Arc::new(LoginConfig::single("iqn.2025-09.com.example:t", Auth::None)),
            luns: Arc::default(),
            advertised: Arc::new(Vec::new()),
            options: PortalOptions::default(),
        };
        let stats = PortalStats::new(&template.options);
        // Three seconds of the paused clock: accepts at 0, 10, 30, 70,
        // 150, 310, 630, 1270 and 2270 ms, the pause doubling to 1 s,
        // where retrying at once would spin without end.
        let stop = tokio::time::sleep(Duration::from_secs(3));
        serve_incoming(&incoming, template, stats.clone(), stop).await;
        assert_eq!(incoming.calls.load(Ordering::Relaxed), 9);
        assert_eq!(stats.accept_failures(), 9);
    }
}
