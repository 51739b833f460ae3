//! The tokio driver of a target portal: listens, maps LUNs to targets and
//! initiators, accepts connections and runs a
//! [`Session`](crate::session::Session) on each, and on stop asks every
//! initiator to log out.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

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

/// A listening portal.
#[derive(Debug)]
pub struct Portal {
    listener: TcpListener,
    config: Arc<LoginConfig>,
    luns: Arc<LunMap>,
    /// The addresses SendTargets reports (`ip:port`).
    advertised: Vec<String>,
    options: PortalOptions,
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
        })
    }

    /// Sets keep-alive and stop behaviour.
    pub fn set_options(&mut self, options: PortalOptions) {
        self.options = options;
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
        let tsih = Arc::new(AtomicU16::new(1));
        let advertised = Arc::new(self.advertised);
        let signals = Arc::new(Signals {
            cold_reset: watch::channel((usize::MAX, 0)).0,
            stopping: watch::channel(false).0,
        });
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                accepted = self.listener.accept() => {
                    let Ok((stream, peer)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let handle = tsih.fetch_add(1, Ordering::Relaxed).max(1);
                    let config = SessionConfig {
                        config: self.config.clone(),
                        luns: self.luns.clone(),
                        advertised: advertised.clone(),
                        options: self.options,
                    };
                    let signals = signals.clone();
                    connections.spawn(async move {
                        if let Err(e) = serve_connection(stream, config, handle, &signals).await {
                            tracing::info!(%peer, error = %e, "iSCSI connection ended");
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        signals.stopping.send_replace(true);
        let wait = self.options.logout_wait + Duration::from_millis(500);
        let _ = tokio::time::timeout(wait, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        connections.shutdown().await;
    }
}
