//! The tokio driver of a target portal: accepts connections, feeds their
//! bytes to the [`Decoder`], runs the [`Login`] and then the full feature
//! phase, and writes the answers.
//!
//! The full feature phase: Text (`SendTargets`, continued over several
//! PDUs), NOP-Out answered and NOP-In keep-alive pings sent by the target
//! (a connection that stops answering them is closed), SCSI commands
//! through [`scsi`] in CmdSN order (commands ahead of a gap wait, commands
//! outside the window are ignored, as RFC 7143 3.2.2.1 says), Data-In split
//! to the initiator's MaxRecvDataSegmentLength and MaxBurstLength with the
//! status in the last PDU, Data-Out (immediate, unsolicited up to
//! FirstBurstLength when InitialR2T is No, and solicited by up to
//! MaxOutstandingR2T R2Ts of at most MaxBurstLength, DataSN checked), task
//! management (abort task, abort and clear task set, LUN reset, target warm
//! and cold reset), Logout, Reject for what is malformed, and an Async
//! Message asking initiators to log out when the portal stops.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::discovery;
use crate::error::{Error, Result};
use crate::login::{COMMAND_WINDOW, Login, LoginConfig, Outcome, SessionType, Step};
use crate::pdu::{Bhs, Decoder, Digests, Opcode, Pdu};
use crate::scsi::{self, LogicalUnit, Nexus, Request, Sense};
use crate::text;

/// The Target Transfer Tag (and Initiator Task Tag) meaning "none".
const NO_TAG: u32 = 0xffff_ffff;
/// Reject reasons (RFC 7143 11.17.1).
const REJECT_DIGEST: u8 = 0x02;
const REJECT_PROTOCOL: u8 = 0x04;
const REJECT_NOT_SUPPORTED: u8 = 0x05;
/// Task management responses (RFC 7143 11.6.1).
const TMF_COMPLETE: u8 = 0;
const TMF_NO_TASK: u8 = 1;
const TMF_NO_LUN: u8 = 2;
const TMF_NO_REASSIGN: u8 = 4;
const TMF_NOT_SUPPORTED: u8 = 5;

/// How a portal keeps connections alive and how it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortalOptions {
    /// A NOP-In ping is sent after this long without traffic (`None`: no
    /// pings).
    pub nop_interval: Option<Duration>,
    /// A ping unanswered this long closes the connection.
    pub nop_timeout: Duration,
    /// On stop, how long initiators get to log out after the Async Message
    /// asking them to.
    pub logout_wait: Duration,
}

impl Default for PortalOptions {
    fn default() -> Self {
        // LIO's defaults: nopin_timeout 15 s, nopin_response_timeout 30 s.
        Self {
            nop_interval: Some(Duration::from_secs(15)),
            nop_timeout: Duration::from_secs(30),
            logout_wait: Duration::from_secs(2),
        }
    }
}

/// One node ACL mapping: the LUN the initiator sees, the target's LUN
/// behind it, write-protected or not.
type Mapping = (u64, u64, bool);

/// Which LUNs each initiator sees.
#[derive(Debug, Clone, Default)]
struct LunMap {
    /// Each target's LUNs, by target index.
    luns: HashMap<usize, Vec<(u64, LogicalUnit)>>,
    /// Node ACLs' LUN mappings, by target index and initiator name.
    acls: HashMap<(usize, String), Vec<Mapping>>,
    /// Targets (by index) whose LUNs are write-protected for initiators
    /// without mappings of their own (targetcli's
    /// `demo_mode_write_protect`).
    demo_write_protect: Vec<usize>,
}

impl LunMap {
    /// The LUNs `initiator` sees on target `target`: its ACL's mappings,
    /// or every LUN of the target if it has none.
    fn visible(&self, target: usize, initiator: &str) -> Vec<(u64, LogicalUnit)> {
        let all = self.luns.get(&target).map(Vec::as_slice).unwrap_or(&[]);
        match self.acls.get(&(target, initiator.to_owned())) {
            None if self.demo_write_protect.contains(&target) => all
                .iter()
                .map(|(n, u)| (*n, u.clone().read_only(true)))
                .collect(),
            None => all.to_vec(),
            Some(mappings) => mappings
                .iter()
                .filter_map(|(mapped, tpg_lun, read_only)| {
                    let (_, unit) = all.iter().find(|(n, _)| n == tpg_lun)?;
                    let unit = if *read_only {
                        unit.clone().read_only(true)
                    } else {
                        unit.clone()
                    };
                    Some((*mapped, unit))
                })
                .collect(),
        }
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
        let map = Arc::make_mut(&mut self.luns);
        let list = map.luns.entry(target).or_default();
        list.retain(|(n, _)| *n != lun);
        list.push((lun, unit));
        list.sort_by_key(|(n, _)| *n);
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
        let map = Arc::make_mut(&mut self.luns);
        let list = map.acls.entry((target, initiator.to_owned())).or_default();
        list.retain(|(m, ..)| *m != mapped);
        list.push((mapped, tpg_lun, read_only));
        list.sort_by_key(|(m, ..)| *m);
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
        let list = &mut Arc::make_mut(&mut self.luns).demo_write_protect;
        list.retain(|t| *t != target);
        if on {
            list.push(target);
        }
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
                    let connection = Connection::new(
                        self.config.clone(),
                        self.luns.clone(),
                        advertised.clone(),
                        handle,
                        signals.clone(),
                        self.options,
                    );
                    connections.spawn(async move {
                        if let Err(e) = connection.run(stream).await {
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

/// Serial number arithmetic (RFC 1982) on 32 bits: `a < b`.
fn sn_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 1 << 31
}

/// A SCSI command as received, before or while its data arrives.
struct Task {
    itt: u32,
    lun_field: u64,
    cdb: [u8; 16],
    /// Expected Data Transfer Length from the initiator.
    expected: usize,
    /// The R bit: the initiator takes Data-In.
    reads: bool,
    /// Where the data goes (`None`: no such LUN).
    unit: Option<LogicalUnit>,
    /// Data-Out collected so far.
    buffer: Vec<u8>,
    received: usize,
    /// Where the next R2T starts.
    next_offset: usize,
    /// R2Ts in flight: TTT, end of what each asked for, next DataSN.
    outstanding: Vec<(u32, usize, u32)>,
    /// The DataSN expected in the unsolicited burst.
    unsolicited_data_sn: u32,
    r2t_sn: u32,
}

struct Connection {
    config: Arc<LoginConfig>,
    luns: Arc<LunMap>,
    /// The LUNs this session sees (after login).
    visible: Vec<(u64, LogicalUnit)>,
    advertised: Arc<Vec<String>>,
    tsih: u16,
    signals: Arc<Signals>,
    options: PortalOptions,
    digests: Digests,
    session: Option<Outcome>,
    nexus: Option<Nexus>,
    /// The rest of a Text answer too long for one PDU.
    pending_text: Bytes,
    /// Writes waiting for their data, by ITT.
    tasks: HashMap<u32, Task>,
    /// Commands that came ahead of a CmdSN gap, by CmdSN.
    queued: BTreeMap<u32, Pdu>,
    next_ttt: u32,
    /// The TTT of the NOP-In ping waiting for its answer, and since when.
    ping: Option<(u32, Instant)>,
}

impl Connection {
    fn new(
        config: Arc<LoginConfig>,
        luns: Arc<LunMap>,
        advertised: Arc<Vec<String>>,
        tsih: u16,
        signals: Arc<Signals>,
        options: PortalOptions,
    ) -> Self {
        Self {
            config,
            luns,
            visible: Vec::new(),
            advertised,
            tsih,
            signals,
            options,
            digests: Digests::default(),
            session: None,
            nexus: None,
            pending_text: Bytes::new(),
            tasks: HashMap::new(),
            queued: BTreeMap::new(),
            next_ttt: 1,
            ping: None,
        }
    }

    fn target(&self) -> Option<usize> {
        match &self.session {
            Some(Outcome {
                session_type: SessionType::Normal(t),
                ..
            }) => Some(*t),
            _ => None,
        }
    }

    fn units(&self) -> &[(u64, LogicalUnit)] {
        &self.visible
    }

    /// The unit a LUN field names, if this session sees it.
    fn unit(&self, lun_field: u64) -> Option<LogicalUnit> {
        let lun = scsi::lun_number(lun_field);
        self.visible
            .iter()
            .find(|(n, _)| *n == lun)
            .map(|(_, u)| u.clone())
    }

    async fn run(mut self, mut stream: TcpStream) -> std::io::Result<()> {
        let result = self.serve(&mut stream).await;
        // Whatever ended the connection, the nexus is gone: what it held
        // that does not outlive it is released.
        if let Some(nexus) = &self.nexus {
            for (_, unit) in self.units() {
                unit.handle_nexus_loss(nexus);
            }
        }
        result
    }

    async fn serve(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        let seed: [u8; 17] = crate::random().map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut challenge = [0u8; 16];
        challenge.copy_from_slice(&seed[..16]);
        let stat_sn = u32::from_be_bytes([seed[0], seed[1], seed[2], seed[3]]);
        let mut login = Login::new(self.config.clone(), self.tsih, stat_sn, challenge, seed[16]);
        let mut decoder = Decoder::new(8192);
        let mut buf = vec![0u8; 256 * 1024];
        let mut out = BytesMut::new();
        let mut cold_reset = self.signals.cold_reset.subscribe();
        let mut stopping = self.signals.stopping.subscribe();
        let mut logout_deadline: Option<Instant> = None;
        let mut last_heard = Instant::now();
        loop {
            let keepalive = match (self.session.is_some(), self.ping, self.options.nop_interval) {
                (true, Some((_, sent)), _) => Some(sent + self.options.nop_timeout),
                (true, None, Some(interval)) => Some(last_heard + interval),
                _ => None,
            };
            let wake = [keepalive, logout_deadline].into_iter().flatten().min();
            let n = tokio::select! {
                read = stream.read(&mut buf) => read?,
                () = async { tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)).await }, if wake.is_some() => {
                    let now = Instant::now();
                    if logout_deadline.is_some_and(|d| now >= d) {
                        tracing::info!("initiator did not log out in time");
                        return Ok(());
                    }
                    if let Some((_, sent)) = self.ping {
                        if now >= sent + self.options.nop_timeout {
                            tracing::warn!("NOP-In ping unanswered: closing the connection");
                            return Ok(());
                        }
                    } else if keepalive.is_some_and(|k| now >= k) {
                        self.send_ping(&mut out)?;
                        stream.write_all(&out).await?;
                        out.clear();
                    }
                    continue;
                }
                Ok(()) = cold_reset.changed() => {
                    let (target, _) = *cold_reset.borrow_and_update();
                    if Some(target) == self.target() {
                        tracing::info!("target cold reset: closing the connection");
                        return Ok(());
                    }
                    continue;
                }
                Ok(()) = stopping.changed(), if logout_deadline.is_none() => {
                    if self.session.is_none() {
                        return Ok(());
                    }
                    self.send_logout_request(&mut out)?;
                    stream.write_all(&out).await?;
                    out.clear();
                    logout_deadline = Some(Instant::now() + self.options.logout_wait);
                    continue;
                }
            };
            if n == 0 {
                return Ok(());
            }
            last_heard = Instant::now();
            decoder.handle_bytes(&buf[..n]);
            loop {
                let pdu = match decoder.poll_pdu() {
                    Ok(Some(pdu)) => pdu,
                    Ok(None) => break,
                    Err(e @ (crate::Error::DataDigest { .. } | crate::Error::Opcode(_)))
                        if self.session.is_some() =>
                    {
                        // The header was sound: the PDU is refused, the
                        // connection goes on (RFC 7143 7.8, 11.17).
                        let reason = match e {
                            crate::Error::Opcode(_) => REJECT_NOT_SUPPORTED,
                            _ => REJECT_DIGEST,
                        };
                        if let Some(bhs) = decoder.last_header() {
                            self.reject_header(&bhs, reason, &mut out)?;
                            // Data lost to a digest error: its command
                            // cannot complete (ErrorRecoveryLevel 0).
                            if bhs.opcode() == Ok(Opcode::DataOut) {
                                self.fail_task(bhs.itt(), Sense::CRC_ERROR, &mut out)?;
                            }
                        }
                        continue;
                    }
                    Err(e) => {
                        stream.write_all(&out).await?;
                        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
                    }
                };
                let mut close = false;
                if self.session.is_none() {
                    match login.handle_request(&pdu) {
                        Step::Continue(r) => self.send(&r, &mut out)?,
                        Step::Done(r, outcome) => {
                            self.send(&r, &mut out)?;
                            self.digests = Digests {
                                header: outcome.params.header_digest,
                                data: outcome.params.data_digest,
                            };
                            decoder.set_digests(self.digests);
                            decoder.set_max_data_len(outcome.params.target_max_recv);
                            tracing::info!(initiator = %outcome.initiator, session = ?outcome.session_type, "iSCSI login");
                            self.nexus = Some(Nexus {
                                initiator: outcome.initiator.clone(),
                                isid: outcome.isid,
                                target_port: self.config.portal_group_tag,
                            });
                            if let SessionType::Normal(target) = outcome.session_type {
                                self.visible = self.luns.visible(target, &outcome.initiator);
                            }
                            self.session = Some(outcome);
                        }
                        Step::Fail(r) => {
                            self.send(&r, &mut out)?;
                            close = true;
                        }
                    }
                } else {
                    close = self.full_feature(pdu, &mut out).await?;
                }
                if out.len() >= 64 * 1024 || close {
                    stream.write_all(&out).await?;
                    out.clear();
                }
                if close {
                    return Ok(());
                }
            }
            if !out.is_empty() {
                stream.write_all(&out).await?;
                out.clear();
            }
        }
    }

    fn send(&self, pdu: &Pdu, out: &mut BytesMut) -> std::io::Result<()> {
        pdu.encode(self.digests, out)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Sets ExpCmdSN and MaxCmdSN of a target PDU.
    fn window(&self, bhs: &mut Bhs) {
        if let Some(s) = &self.session {
            bhs.set_u32_at(28, s.exp_cmd_sn);
            bhs.set_u32_at(32, s.exp_cmd_sn.wrapping_add(COMMAND_WINDOW - 1));
        }
    }

    /// Sets StatSN, ExpCmdSN and MaxCmdSN of a response and advances StatSN.
    fn numbers(&mut self, bhs: &mut Bhs) {
        self.window(bhs);
        let Some(s) = &mut self.session else { return };
        bhs.set_u32_at(24, s.stat_sn);
        s.stat_sn = s.stat_sn.wrapping_add(1);
    }

    /// StatSN without taking one (R2T, NOP-In pings, Async Messages).
    fn current_stat_sn(&self, bhs: &mut Bhs) {
        self.window(bhs);
        if let Some(s) = &self.session {
            bhs.set_u32_at(24, s.stat_sn);
        }
    }

    fn send_ping(&mut self, out: &mut BytesMut) -> std::io::Result<()> {
        let ttt = self.take_ttt();
        let mut r = Bhs::new(Opcode::NopIn);
        r.set_final(true);
        r.set_itt(NO_TAG);
        r.set_u32_at(20, ttt);
        self.current_stat_sn(&mut r);
        self.ping = Some((ttt, Instant::now()));
        self.send(&Pdu::new(r), out)
    }

    /// Async Message, event 1: the target asks for a logout.
    fn send_logout_request(&mut self, out: &mut BytesMut) -> std::io::Result<()> {
        let mut r = Bhs::new(Opcode::AsyncMessage);
        r.set_final(true);
        r.set_itt(NO_TAG);
        self.current_stat_sn(&mut r);
        r.0[36] = 1;
        // Parameter3: seconds the initiator has to log out.
        let wait = self.options.logout_wait.as_secs().clamp(1, 3600) as u16;
        r.0[42..44].copy_from_slice(&wait.to_be_bytes());
        self.send(&Pdu::new(r), out)
    }

    fn take_ttt(&mut self) -> u32 {
        let ttt = self.next_ttt;
        self.next_ttt = self.next_ttt.wrapping_add(1).max(1);
        if self.next_ttt == NO_TAG {
            self.next_ttt = 1;
        }
        ttt
    }

    /// Answers one PDU of the full feature phase; `true` to close.
    async fn full_feature(&mut self, pdu: Pdu, out: &mut BytesMut) -> std::io::Result<bool> {
        let b = &pdu.bhs;
        let opcode = b.opcode();
        // Commands (not Data-Out, not SNACK) carry a CmdSN; a non-immediate
        // one runs in CmdSN order.
        let numbered = matches!(
            opcode,
            Ok(Opcode::ScsiCommand
                | Opcode::TaskManagement
                | Opcode::TextRequest
                | Opcode::LogoutRequest
                | Opcode::NopOut)
        ) && !(opcode == Ok(Opcode::NopOut) && b.itt() == NO_TAG);
        if numbered && !b.immediate() {
            let cmd_sn = b.u32_at(24);
            let Some(exp) = self.session.as_ref().map(|s| s.exp_cmd_sn) else {
                return Ok(true);
            };
            let max = exp.wrapping_add(COMMAND_WINDOW - 1);
            if sn_lt(cmd_sn, exp) || sn_lt(max, cmd_sn) {
                tracing::debug!(cmd_sn, exp, "CmdSN outside the window: ignored");
                return Ok(false);
            }
            if cmd_sn != exp {
                self.queued.insert(cmd_sn, pdu);
                return Ok(false);
            }
            if let Some(s) = &mut self.session {
                s.exp_cmd_sn = exp.wrapping_add(1);
            }
            if self.dispatch(&pdu, out).await? {
                return Ok(true);
            }
            // Commands that waited for this one.
            loop {
                let Some(exp) = self.session.as_ref().map(|s| s.exp_cmd_sn) else {
                    return Ok(true);
                };
                let Some(next) = self.queued.remove(&exp) else {
                    return Ok(false);
                };
                if let Some(s) = &mut self.session {
                    s.exp_cmd_sn = exp.wrapping_add(1);
                }
                if self.dispatch(&next, out).await? {
                    return Ok(true);
                }
            }
        }
        self.dispatch(&pdu, out).await
    }

    async fn dispatch(&mut self, pdu: &Pdu, out: &mut BytesMut) -> std::io::Result<bool> {
        let b = &pdu.bhs;
        match b.opcode() {
            Ok(Opcode::TextRequest) => self.text(pdu, out).map(|()| false),
            Ok(Opcode::NopOut) => {
                if b.itt() == NO_TAG {
                    // The answer to our ping.
                    if self.ping.is_some_and(|(ttt, _)| ttt == b.u32_at(20)) {
                        self.ping = None;
                    }
                    return Ok(false);
                }
                let mut r = Bhs::new(Opcode::NopIn);
                r.set_final(true);
                r.set_lun(b.lun());
                r.set_itt(b.itt());
                r.set_u32_at(20, NO_TAG);
                self.numbers(&mut r);
                let mut response = Pdu::new(r);
                response.data = pdu.data.clone();
                self.send(&response, out)?;
                Ok(false)
            }
            Ok(Opcode::ScsiCommand) => self.scsi_command(pdu, out).await.map(|()| false),
            Ok(Opcode::DataOut) => self.data_out(pdu, out).await,
            Ok(Opcode::TaskManagement) => self.task_management(pdu, out),
            Ok(Opcode::LogoutRequest) => {
                let mut r = Bhs::new(Opcode::LogoutResponse);
                r.set_final(true);
                r.set_itt(b.itt());
                self.numbers(&mut r);
                self.send(&Pdu::new(r), out)?;
                Ok(true)
            }
            Ok(Opcode::Snack) => {
                // ErrorRecoveryLevel is 0: no SNACK (RFC 7143 11.16).
                self.reject(pdu, REJECT_NOT_SUPPORTED, out)
            }
            Ok(_) => self.reject(pdu, REJECT_PROTOCOL, out),
            Err(_) => self.reject(pdu, REJECT_NOT_SUPPORTED, out),
        }
    }

    fn text(&mut self, pdu: &Pdu, out: &mut BytesMut) -> std::io::Result<()> {
        let b = &pdu.bhs;
        let (initiator, max) = match &self.session {
            Some(s) => (s.initiator.clone(), s.params.initiator_max_recv as usize),
            None => return Ok(()),
        };
        if b.u32_at(20) == NO_TAG {
            let keys = match text::parse(&pdu.data) {
                Ok(keys) => keys,
                Err(_) => return self.reject(pdu, REJECT_PROTOCOL, out).map(|_| ()),
            };
            let answer = match keys.iter().find(|(k, _)| k == "SendTargets") {
                Some((_, value)) => {
                    discovery::send_targets(&self.config, value, &self.advertised, &initiator)
                }
                None => keys
                    .iter()
                    .map(|(k, _)| (k.clone(), "NotUnderstood".to_owned()))
                    .collect(),
            };
            self.pending_text = Bytes::from(text::encode(&answer));
        }
        let take = self.pending_text.len().min(max.max(512));
        let chunk = self.pending_text.split_to(take);
        let more = !self.pending_text.is_empty();
        let mut r = Bhs::new(Opcode::TextResponse);
        r.set_final(!more);
        r.set_bit(1, 0x40, more);
        r.set_itt(b.itt());
        r.set_u32_at(20, if more { 1 } else { NO_TAG });
        self.numbers(&mut r);
        let mut response = Pdu::new(r);
        response.data = chunk;
        self.send(&response, out)
    }

    /// Task management (RFC 7143 11.5): abort task, abort and clear task
    /// set, LUN reset, target warm and cold reset. Commands run one at a
    /// time in CmdSN order, so a task still open is one waiting for data.
    fn task_management(&mut self, pdu: &Pdu, out: &mut BytesMut) -> std::io::Result<bool> {
        let b = &pdu.bhs;
        let function = b.0[1] & 0x7f;
        let unit = self.unit(b.lun());
        let mut close = false;
        let response = match function {
            // ABORT TASK.
            1 => {
                let referenced = b.u32_at(20);
                match self.tasks.remove(&referenced) {
                    Some(_) => TMF_COMPLETE,
                    // Already answered (commands run in order): complete,
                    // unless its CmdSN never arrived.
                    None if self.queued.values().any(|p| p.bhs.itt() == referenced) => {
                        self.queued.retain(|_, p| p.bhs.itt() != referenced);
                        TMF_COMPLETE
                    }
                    None => TMF_NO_TASK,
                }
            }
            // ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET.
            2 | 3 | 5 => match unit {
                None => TMF_NO_LUN,
                Some(unit) => {
                    let field = b.lun();
                    self.tasks.retain(|_, t| t.lun_field != field);
                    self.queued.retain(|_, p| {
                        p.bhs.opcode() != Ok(Opcode::ScsiCommand) || p.bhs.lun() != field
                    });
                    if function == 5 {
                        unit.handle_reset(Sense::LUN_RESET);
                    }
                    TMF_COMPLETE
                }
            },
            // TARGET WARM RESET, TARGET COLD RESET.
            6 | 7 => {
                self.tasks.clear();
                self.queued.clear();
                for (_, unit) in self.units() {
                    unit.handle_reset(Sense::RESET);
                }
                if function == 7 {
                    // Every connection to the target closes, this one
                    // after its answer.
                    if let Some(target) = self.target() {
                        self.signals.cold_reset.send_modify(|(t, n)| {
                            *t = target;
                            *n += 1;
                        });
                    }
                    close = true;
                }
                TMF_COMPLETE
            }
            // TASK REASSIGN needs ErrorRecoveryLevel 2.
            8 => TMF_NO_REASSIGN,
            _ => TMF_NOT_SUPPORTED,
        };
        let mut r = Bhs::new(Opcode::TaskManagementResponse);
        r.set_final(true);
        r.0[2] = response;
        r.set_itt(b.itt());
        self.numbers(&mut r);
        self.send(&Pdu::new(r), out)?;
        Ok(close)
    }

    /// Starts a SCSI command: runs it if all its data is here, otherwise
    /// keeps it and asks for the rest.
    async fn scsi_command(&mut self, pdu: &Pdu, out: &mut BytesMut) -> std::io::Result<()> {
        let b = &pdu.bhs;
        let Some(session) = &self.session else {
            return Ok(());
        };
        if self.target().is_none() {
            // A discovery session has no LUNs.
            self.reject(pdu, REJECT_PROTOCOL, out)?;
            return Ok(());
        }
        let (initial_r2t, first_burst) = (
            session.params.initial_r2t,
            session.params.first_burst as usize,
        );
        let expected = b.u32_at(20) as usize;
        let writes = b.0[1] & 0x20 != 0;
        let unit = self.unit(b.lun());
        let mut cdb = [0u8; 16];
        cdb.copy_from_slice(&b.0[32..48]);
        let mut task = Task {
            itt: b.itt(),
            lun_field: b.lun(),
            cdb,
            expected,
            reads: b.0[1] & 0x40 != 0,
            unit,
            buffer: Vec::new(),
            received: 0,
            next_offset: 0,
            outstanding: Vec::new(),
            unsolicited_data_sn: 0,
            r2t_sn: 0,
        };
        if !writes || expected == 0 {
            return self.finish(task, out).await;
        }
        // A command that cannot run is answered at once, without asking
        // for its data (what comes unsolicited is dropped).
        let refused = match &self.nexus {
            Some(nexus) => scsi::precheck(task.unit.as_ref(), nexus, &task.cdb),
            None => return Ok(()),
        };
        let refused = refused.or_else(|| {
            (expected > scsi::MAX_TRANSFER * 2 + 4096)
                .then(|| scsi::Completion::check(Sense::INVALID_FIELD))
        });
        if let Some(completion) = refused {
            return self.respond(task.itt, &completion, 0, 0, out);
        }
        let immediate = pdu.data.len().min(expected);
        task.buffer = vec![0u8; expected];
        task.buffer[..immediate].copy_from_slice(&pdu.data[..immediate]);
        task.received = immediate;
        task.next_offset = if initial_r2t {
            immediate
        } else {
            first_burst.min(expected).max(immediate)
        };
        if immediate == expected {
            return self.finish(task, out).await;
        }
        let itt = task.itt;
        self.tasks.insert(itt, task);
        self.request_data(itt, out)
    }

    /// Sends R2Ts for write `itt` while it needs data and fewer than
    /// MaxOutstandingR2T are in flight.
    fn request_data(&mut self, itt: u32, out: &mut BytesMut) -> std::io::Result<()> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let max_burst = session.params.max_burst as usize;
        let max_outstanding = session.params.max_outstanding_r2t.max(1) as usize;
        loop {
            let ttt = self.next_ttt;
            let Some(task) = self.tasks.get_mut(&itt) else {
                return Ok(());
            };
            if task.outstanding.len() >= max_outstanding || task.next_offset >= task.buffer.len() {
                return Ok(());
            }
            let offset = task.next_offset;
            let len = max_burst.min(task.buffer.len() - offset);
            task.next_offset += len;
            task.outstanding.push((ttt, offset + len, 0));
            let mut r = Bhs::new(Opcode::R2t);
            r.set_final(true);
            r.set_lun(task.lun_field);
            r.set_itt(itt);
            r.set_u32_at(20, ttt);
            r.set_u32_at(36, task.r2t_sn);
            r.set_u32_at(40, offset as u32);
            r.set_u32_at(44, len as u32);
            task.r2t_sn += 1;
            self.take_ttt();
            self.current_stat_sn(&mut r);
            self.send(&Pdu::new(r), out)?;
        }
    }

    /// Takes a Data-Out; runs the command once all its data is in. A
    /// DataSN out of sequence or data outside the transfer ends the command
    /// without running it (nothing is written); its later Data-Out is
    /// dropped and the connection goes on.
    async fn data_out(&mut self, pdu: &Pdu, out: &mut BytesMut) -> std::io::Result<bool> {
        let b = &pdu.bhs;
        let itt = b.itt();
        let Some(task) = self.tasks.get_mut(&itt) else {
            // For a command already answered (refused, aborted): dropped.
            return Ok(false);
        };
        let ttt = b.u32_at(20);
        let data_sn = b.u32_at(36);
        let offset = b.u32_at(40) as usize;
        let end = offset.checked_add(pdu.data.len());
        let in_sequence = if ttt == NO_TAG {
            let ok = data_sn == task.unsolicited_data_sn;
            task.unsolicited_data_sn = task.unsolicited_data_sn.wrapping_add(1);
            ok
        } else {
            match task.outstanding.iter_mut().find(|(t, ..)| *t == ttt) {
                Some((_, _, next)) if *next == data_sn => {
                    *next = next.wrapping_add(1);
                    true
                }
                _ => false,
            }
        };
        let Some(end) = end.filter(|end| *end <= task.buffer.len() && in_sequence) else {
            tracing::warn!(
                itt,
                data_sn,
                offset,
                "Data-Out out of sequence or range: command aborted"
            );
            self.fail_task(itt, Sense::DATA_PHASE_ERROR, out)?;
            return Ok(false);
        };
        task.buffer[offset..end].copy_from_slice(&pdu.data);
        task.received += pdu.data.len();
        if b.is_final() && ttt != NO_TAG {
            task.outstanding.retain(|(t, ..)| *t != ttt);
        }
        if task.received < task.buffer.len() {
            self.request_data(itt, out)?;
            return Ok(false);
        }
        let task = self.tasks.remove(&itt).expect("present");
        self.finish(task, out).await?;
        Ok(false)
    }

    /// Ends a command still collecting data with CHECK CONDITION.
    fn fail_task(&mut self, itt: u32, sense: Sense, out: &mut BytesMut) -> std::io::Result<()> {
        if self.tasks.remove(&itt).is_some() {
            self.respond(itt, &scsi::Completion::check(sense), 0, 0, out)?;
        }
        Ok(())
    }

    /// Runs a command whose data is all in and sends its Data-In and
    /// status, with residuals: against the Data-Out the command takes for
    /// a write, against the Data-In it produced otherwise.
    async fn finish(&mut self, task: Task, out: &mut BytesMut) -> std::io::Result<()> {
        let Some(nexus) = self.nexus.clone() else {
            return Ok(());
        };
        let numbers: Vec<u64> = self.units().iter().map(|(n, _)| *n).collect();
        let block_size = task.unit.as_ref().map_or(512, |u| u.storage.block_size());
        let wanted =
            usize::try_from(scsi::data_out_length(&task.cdb, block_size)).unwrap_or(usize::MAX);
        let given = &task.buffer[..task.buffer.len().min(wanted)];
        let request = Request {
            nexus: &nexus,
            cdb: &task.cdb,
            data: given,
            announced: if task.buffer.is_empty() {
                0
            } else {
                task.expected
            },
        };
        let mut completion = scsi::execute(task.unit.as_ref(), &numbers, request).await;
        let (flags, residual) = if wanted > 0 {
            residual(task.expected, wanted)
        } else if task.reads {
            residual(task.expected, completion.data.len())
        } else {
            completion.data.clear();
            residual(task.expected, 0)
        };
        let mut data = std::mem::take(&mut completion.data);
        data.truncate(task.expected);
        if completion.status == scsi::GOOD && !data.is_empty() {
            return self.send_data_in(
                task.itt,
                task.lun_field,
                Bytes::from(data),
                flags,
                residual,
                out,
            );
        }
        self.respond(task.itt, &completion, flags, residual, out)
    }

    /// Data-In PDUs of at most MaxRecvDataSegmentLength, F at the end of
    /// each MaxBurstLength, GOOD status in the last one.
    fn send_data_in(
        &mut self,
        itt: u32,
        lun_field: u64,
        data: Bytes,
        flags: u8,
        residual: usize,
        out: &mut BytesMut,
    ) -> std::io::Result<()> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let max = (session.params.initiator_max_recv as usize).max(512);
        let burst = (session.params.max_burst as usize).max(max);
        let mut offset = 0;
        let mut data_sn = 0u32;
        while offset < data.len() {
            // A PDU never crosses a burst boundary.
            let burst_end = (offset / burst + 1) * burst;
            let end = (offset + max).min(burst_end).min(data.len());
            let last = end == data.len();
            let mut r = Bhs::new(Opcode::DataIn);
            r.set_lun(lun_field);
            r.set_itt(itt);
            r.set_u32_at(20, NO_TAG);
            r.set_u32_at(36, data_sn);
            r.set_u32_at(40, offset as u32);
            if last {
                // Status with the last Data-In (phase collapse).
                r.0[1] = 0x80 | flags | 0x01;
                r.0[3] = scsi::GOOD;
                r.set_u32_at(44, residual as u32);
                self.numbers(&mut r);
            } else {
                r.set_final(end == burst_end);
                self.window(&mut r);
            }
            let mut piece = Pdu::new(r);
            piece.data = data.slice(offset..end);
            self.send(&piece, out)?;
            offset = end;
            data_sn += 1;
        }
        Ok(())
    }

    /// Sends a SCSI Response: status, residual flags, sense data.
    fn respond(
        &mut self,
        itt: u32,
        completion: &scsi::Completion,
        flags: u8,
        residual: usize,
        out: &mut BytesMut,
    ) -> std::io::Result<()> {
        let mut r = Bhs::new(Opcode::ScsiResponse);
        r.0[1] = 0x80 | flags;
        r.0[3] = completion.status;
        r.set_itt(itt);
        r.set_u32_at(44, residual as u32);
        self.numbers(&mut r);
        let mut response = Pdu::new(r);
        if let Some(sense) = completion.sense {
            let mut d = 18u16.to_be_bytes().to_vec();
            d.extend_from_slice(&sense.fixed());
            response.data = Bytes::from(d);
        }
        self.send(&response, out)
    }

    fn reject(&mut self, pdu: &Pdu, reason: u8, out: &mut BytesMut) -> std::io::Result<bool> {
        self.reject_header(&pdu.bhs, reason, out)?;
        Ok(false)
    }

    fn reject_header(&mut self, bhs: &Bhs, reason: u8, out: &mut BytesMut) -> std::io::Result<()> {
        let mut r = Bhs::new(Opcode::Reject);
        r.set_final(true);
        r.0[2] = reason;
        r.set_itt(NO_TAG);
        self.numbers(&mut r);
        let mut response = Pdu::new(r);
        response.data = Bytes::copy_from_slice(&bhs.0);
        self.send(&response, out)
    }
}

/// Residual flags (O 0x04, U 0x02) and count for `expected` bytes
/// announced by the initiator against `actual` bytes of the command.
fn residual(expected: usize, actual: usize) -> (u8, usize) {
    match expected.cmp(&actual) {
        std::cmp::Ordering::Less => (0x04, actual - expected),
        std::cmp::Ordering::Greater => (0x02, expected - actual),
        std::cmp::Ordering::Equal => (0, 0),
    }
}
