//! The tokio driver of a target portal: listens, maps LUNs to targets and
//! initiators, accepts connections (within its
//! [`ConnectionLimits`](crate::admission::ConnectionLimits), pausing
//! after `accept` fails for lack of resources) and runs a
//! [`Session`](crate::session::Session) on each, and on stop asks every
//! initiator to log out.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admission::Connections;
use crate::error::{Error, Operation, Result};
use crate::login::LoginConfig;
use crate::scsi::LogicalUnit;
use crate::session::{LunMap, SessionConfig};

mod accept;
mod connection;
mod stats;

use accept::serve_incoming;
pub use stats::PortalStats;

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
