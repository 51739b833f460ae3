//! A portal's accept loop: each connection admitted by the portal's
//! limits (or closed at once), a pause after `accept` fails for lack of
//! descriptors or memory, a session served on each, and on stop every
//! initiator asked to log out.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::Signals;
use super::connection::serve_connection;
use super::stats::{Admitted, PortalStats};
use crate::admission::AcceptBackoff;
use crate::session::SessionConfig;

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
                stats.note_accept_failure();
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
        let admitted = Admitted::new(stats.clone(), address);
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
    use crate::login::{Auth, LoginConfig};
    use crate::session::PortalOptions;

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
