//! The tokio driver of a target portal: accepts connections and runs a
//! [`Session`] on each (socket bytes through the [`Decoder`] into the
//! session, its PDUs out, its storage operations performed on the
//! backstores, its deadlines slept on).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::backstore;
use crate::error::{Error, Result};
use crate::login::LoginConfig;
use crate::pdu::Decoder;
use crate::scsi::LogicalUnit;
use crate::session::{CloseReason, Event, LunMap, Session, SessionConfig};

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
struct Signals {
    /// Bumped by a TARGET COLD RESET of a target (by index): every
    /// connection to it closes.
    cold_reset: watch::Sender<(usize, u64)>,
    /// Set when the portal stops.
    stopping: watch::Sender<bool>,
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
        let listen = |e: std::io::Error| Error::Io {
            op: format!("listen on {addr}"),
            message: e.to_string(),
        };
        let listener = TcpListener::bind(addr).await.map_err(listen)?;
        let local = listener.local_addr().map_err(listen)?;
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

/// Serves one connection: reads PDUs into its [`Session`], writes what it
/// sends, performs its storage operations, and wakes it at its deadlines,
/// until it closes.
async fn serve_connection(
    mut stream: TcpStream,
    config: SessionConfig,
    tsih: u16,
    signals: &Signals,
) -> std::io::Result<()> {
    let seed: [u8; 17] = crate::random().map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut session = Session::new(config, tsih, seed, Instant::now().into_std());
    let result = drive(&mut stream, &mut session, signals).await;
    // Whatever ended the connection, the nexus is gone.
    session.handle_disconnect();
    result
}

async fn drive(
    stream: &mut TcpStream,
    session: &mut Session,
    signals: &Signals,
) -> std::io::Result<()> {
    let mut decoder = Decoder::new(8192);
    let mut buf = vec![0u8; 256 * 1024];
    let mut out = BytesMut::new();
    let mut cold_reset = signals.cold_reset.subscribe();
    let mut stopping = signals.stopping.subscribe();
    loop {
        let mut closing = None;
        let wake = session.poll_timeout().map(Instant::from_std);
        tokio::select! {
            read = stream.read(&mut buf) => {
                let n = read?;
                if n == 0 {
                    return Ok(());
                }
                decoder.handle_bytes(&buf[..n]);
                loop {
                    let now = Instant::now().into_std();
                    match decoder.poll_pdu() {
                        Ok(Some(pdu)) => session.handle_pdu(now, pdu),
                        Ok(None) => break,
                        Err(e) => session.handle_decode_error(now, e, decoder.last_header()),
                    }
                    perform_io(session).await;
                    closing = drain(session, &mut decoder, &mut out, signals)?;
                    if closing.is_some() {
                        break;
                    }
                    if out.len() >= 64 * 1024 {
                        stream.write_all(&out).await?;
                        out.clear();
                    }
                }
            }
            () = async { tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)).await }, if wake.is_some() => {
                session.handle_timeout(Instant::now().into_std());
            }
            Ok(()) = cold_reset.changed() => {
                let (target, _) = *cold_reset.borrow_and_update();
                session.handle_cold_reset(target);
            }
            Ok(()) = stopping.changed() => {
                if *stopping.borrow_and_update() {
                    session.handle_stop(Instant::now().into_std());
                }
            }
        }
        closing = closing.or(drain(session, &mut decoder, &mut out, signals)?);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        match closing {
            None => {}
            // What was queued went out; the connection ends in error.
            Some(CloseReason::Malformed(e)) => {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
            }
            Some(reason) => {
                tracing::debug!(?reason, "closing the connection");
                return Ok(());
            }
        }
    }
}

/// Performs the session's storage operations, one at a time, handing
/// each result back before the next (reads of a file in memory and
/// non-blocking reads complete on this task, without a hand-off).
async fn perform_io(session: &mut Session) {
    while let Some(io) = session.poll_io() {
        let result = match session.units().get(io.unit) {
            Some((_, unit)) => backstore::perform(unit, io.op).await,
            None => Err(Error::Io {
                op: "perform".into(),
                message: format!("no unit #{}", io.unit),
            }),
        };
        session.handle_io_done(io.tag, result);
    }
}

/// Encodes what the session sends into `out` and applies its events; why
/// it closed, once it did.
fn drain(
    session: &mut Session,
    decoder: &mut Decoder,
    out: &mut BytesMut,
    signals: &Signals,
) -> std::io::Result<Option<CloseReason>> {
    while let Some(transmit) = session.poll_transmit() {
        transmit
            .encode(out)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    }
    let mut close = None;
    while let Some(event) = session.poll_event() {
        match event {
            Event::LoggedIn {
                digests,
                max_data_segment,
                ..
            } => {
                decoder.set_digests(digests);
                decoder.set_max_data_len(max_data_segment);
            }
            Event::ColdReset(target) => {
                signals.cold_reset.send_modify(|(t, n)| {
                    *t = target;
                    *n += 1;
                });
            }
            Event::Close(reason) => close = Some(reason),
        }
    }
    Ok(close)
}
