//! The initiator's tokio driver: a [`Session`] on one TCP connection
//! running the sans-IO [`Handshake`](super::login::Handshake) and
//! [`Task`](super::task::Task)s, and SendTargets [`discover`]y.

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Command, DiscoveredTarget, InitiatorConfig, Lun, Outcome, login, lun_field, task};
use crate::error::ConnectionError;
use crate::negotiation::Params;
use crate::pdu::{Bhs, Decoder, Digests, Opcode, Pdu};
use crate::scsi::Sense;
use crate::text;
use crate::{Error, Result};

/// Random bytes from the operating system: ISIDs and mutual CHAP challenges.
fn entropy() -> Result<[u8; 24]> {
    crate::random()
}

fn io(e: std::io::Error) -> Error {
    Error::Connection((&e).into())
}

/// A logged-in session on one connection (re-exported at the crate root
/// as [`InitiatorSession`](crate::InitiatorSession)).
///
/// Every command takes the LUN first (a [`Lun`], or the number the
/// target maps it as), then, for READ and WRITE, the logical block
/// address: `read(lun, lba, blocks)`, `write(lun, lba, data, fua)`;
/// writing `Lun(0)` keeps the two apart at the call. A status other than GOOD is an
/// [`Error::Scsi`] (except from [`Session::command`],
/// [`Session::test_unit_ready`] and [`Session::persistent_reserve_out`],
/// which return it).
///
/// ```no_run
/// use ha_iscsi::initiator::Lun;
/// use ha_iscsi::{Error, InitiatorConfig, InitiatorSession};
///
/// # async fn demo() -> ha_iscsi::Result<()> {
/// let config = InitiatorConfig::new("iqn.2025-09.com.example:node1");
/// let addr = "192.0.2.10:3260".parse().unwrap();
/// let targets = ha_iscsi::initiator::discover(addr, &config).await?;
/// let mut session = InitiatorSession::login(addr, &targets[0].name, &config).await?;
/// let (lun, lba) = (Lun(0), 0);
/// let (blocks, block_size) = session.read_capacity(lun).await?;
/// session.write(lun, lba, &vec![0xab; block_size as usize], true).await?;
/// let back = session.read(lun, lba, 1).await?;
/// match session.read(lun, blocks, 1).await {
///     Err(Error::Scsi { sense: Some(sense), .. }) if sense.key == 5 => {} // ILLEGAL REQUEST
///     other => panic!("a read past the end: {other:?}"),
/// }
/// session.logout().await?;
/// # let _ = back;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Session {
    stream: TcpStream,
    decoder: Decoder,
    digests: Digests,
    params: Params,
    itt: u32,
    cmd_sn: u32,
    exp_stat_sn: u32,
    /// The target asked for a logout (Async Message event 1).
    logout_requested: bool,
    /// Block sizes learnt from READ CAPACITY, by LUN.
    block_sizes: HashMap<Lun, u32>,
    buf: Vec<u8>,
}

impl Session {
    /// Logs in to `target` at `addr`.
    pub async fn login(addr: SocketAddr, target: &str, config: &InitiatorConfig) -> Result<Self> {
        Self::connect(addr, Some(target), config).await
    }

    async fn connect(
        addr: SocketAddr,
        target: Option<&str>,
        config: &InitiatorConfig,
    ) -> Result<Self> {
        let stream = TcpStream::connect(addr).await.map_err(io)?;
        let _ = stream.set_nodelay(true);
        let seed = entropy()?;
        // ISID type "random" (RFC 7143 11.12.5): 0x80 | 22 random bits.
        let mut isid = [0x80, seed[0], seed[1], seed[2], seed[3], seed[4]];
        isid[0] = 0x80 | (seed[5] & 0x3f);
        let isid = config.isid.unwrap_or(isid);
        let mut challenge = [0u8; 16];
        challenge.copy_from_slice(&seed[6..22]);
        let (mut handshake, first) = login::Handshake::new(
            config.clone(),
            target.map(str::to_owned),
            isid,
            (seed[22], challenge),
        );
        let mut session = Self {
            stream,
            decoder: Decoder::new(config.max_recv.max(8192)),
            digests: Digests::default(),
            params: Params::default(),
            itt: 1,
            cmd_sn: 1,
            exp_stat_sn: 0,
            logout_requested: false,
            block_sizes: HashMap::new(),
            buf: vec![0; 65536],
        };
        session.send(&[first]).await?;
        loop {
            let response = session.receive().await?;
            match handshake.handle_response(&response)? {
                login::Next::Send(request) => session.send(&[request]).await?,
                login::Next::Done {
                    params,
                    exp_stat_sn,
                    ..
                } => {
                    session.digests = Digests {
                        header: params.header_digest,
                        data: params.data_digest,
                    };
                    session.decoder.set_digests(session.digests);
                    session.decoder.set_max_data_len(params.initiator_max_recv);
                    session.params = params;
                    session.exp_stat_sn = exp_stat_sn;
                    return Ok(session);
                }
            }
        }
    }

    /// The negotiated parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Whether the target asked this session to log out.
    pub fn logout_requested(&self) -> bool {
        self.logout_requested
    }

    async fn send(&mut self, pdus: &[Pdu]) -> Result<()> {
        let mut out = BytesMut::new();
        for pdu in pdus {
            pdu.encode(self.digests, &mut out)?;
        }
        self.stream.write_all(&out).await.map_err(io)
    }

    /// The next PDU, answering NOP-In pings and noting Async Messages on
    /// the way.
    async fn receive(&mut self) -> Result<Pdu> {
        loop {
            if let Some(pdu) = self.decoder.poll_pdu()? {
                let b = &pdu.bhs;
                match b.opcode() {
                    Ok(Opcode::NopIn) if b.itt() == 0xffff_ffff => {
                        // A ping: answer with its TTT, immediately.
                        let mut r = Bhs::new(Opcode::NopOut);
                        r.set_immediate(true);
                        r.set_final(true);
                        r.set_itt(0xffff_ffff);
                        r.set_u32_at(20, b.u32_at(20));
                        r.set_u32_at(24, self.cmd_sn);
                        r.set_u32_at(28, self.exp_stat_sn);
                        self.send(&[Pdu::new(r)]).await?;
                        continue;
                    }
                    Ok(Opcode::AsyncMessage) => {
                        if b.0[36] == 1 {
                            self.logout_requested = true;
                        }
                        continue;
                    }
                    _ => return Ok(pdu),
                }
            }
            let n = self.stream.read(&mut self.buf).await.map_err(io)?;
            if n == 0 {
                return Err(Error::Connection(ConnectionError {
                    kind: std::io::ErrorKind::UnexpectedEof,
                    message: "closed by the target".into(),
                }));
            }
            self.decoder.handle_bytes(&self.buf[..n]);
        }
    }

    /// Notes the StatSN of a response.
    fn took_status(&mut self, b: &Bhs) {
        self.exp_stat_sn = b.u32_at(24).wrapping_add(1);
    }

    fn next_itt(&mut self) -> u32 {
        let itt = self.itt;
        self.itt = self.itt.wrapping_add(1);
        if self.itt == 0xffff_ffff {
            self.itt = 1;
        }
        itt
    }

    /// Runs `command` and waits for its outcome.
    pub async fn execute(&mut self, command: Command<'_>) -> Result<Outcome> {
        let itt = self.next_itt();
        let (mut task, pdus) =
            task::Task::start(itt, command, &self.params, self.cmd_sn, self.exp_stat_sn)?;
        self.cmd_sn = self.cmd_sn.wrapping_add(1);
        self.send(&pdus).await?;
        loop {
            let pdu = self.receive().await?;
            if pdu.bhs.opcode() == Ok(Opcode::Reject) {
                return Err(Error::Protocol(format!(
                    "rejected, reason {:#04x}",
                    pdu.bhs.0[2]
                )));
            }
            if pdu.bhs.itt() != itt {
                return Err(Error::Protocol(format!(
                    "a PDU for task {:#x}",
                    pdu.bhs.itt()
                )));
            }
            let (more, outcome) = task.handle_pdu(&pdu)?;
            if !more.is_empty() {
                self.send(&more).await?;
            }
            if let Some(outcome) = outcome {
                if matches!(pdu.bhs.opcode(), Ok(Opcode::ScsiResponse)) || pdu.bhs.0[1] & 0x01 != 0
                {
                    self.took_status(&pdu.bhs);
                }
                return Ok(outcome);
            }
        }
    }

    /// Runs a CDB on `lun`; CHECK CONDITION and other non-GOOD statuses
    /// are returned, not turned into errors.
    pub async fn command(
        &mut self,
        lun: impl Into<Lun>,
        cdb: &[u8],
        data_out: &[u8],
        data_in_len: usize,
    ) -> Result<Outcome> {
        let lun = lun.into();
        self.execute(Command {
            lun_field: lun_field(lun.0),
            cdb,
            data_out: Bytes::copy_from_slice(data_out),
            data_in_len,
        })
        .await
    }

    /// Like [`Session::command`], but anything but GOOD is an
    /// [`Error::Scsi`].
    async fn good(
        &mut self,
        lun: Lun,
        cdb: &[u8],
        data_out: &[u8],
        data_in_len: usize,
    ) -> Result<Vec<u8>> {
        let outcome = self.command(lun, cdb, data_out, data_in_len).await?;
        if outcome.status != crate::scsi::GOOD {
            return Err(Error::Scsi {
                status: outcome.status,
                sense: outcome.sense,
            });
        }
        Ok(outcome.data)
    }

    /// TEST UNIT READY: its status and sense.
    pub async fn test_unit_ready(&mut self, lun: impl Into<Lun>) -> Result<(u8, Option<Sense>)> {
        let lun = lun.into();
        let o = self.command(lun, &[0; 6], &[], 0).await?;
        Ok((o.status, o.sense))
    }

    /// Standard INQUIRY: vendor, product and revision.
    pub async fn inquiry(&mut self, lun: impl Into<Lun>) -> Result<(String, String, String)> {
        let lun = lun.into();
        let d = self.good(lun, &[0x12, 0, 0, 0, 96, 0], &[], 96).await?;
        if d.len() < 36 {
            return Err(Error::Protocol("short INQUIRY data".into()));
        }
        let field = |r: std::ops::Range<usize>| String::from_utf8_lossy(&d[r]).trim().to_owned();
        Ok((field(8..16), field(16..32), field(32..36)))
    }

    /// READ CAPACITY (16): number of blocks and block size.
    pub async fn read_capacity(&mut self, lun: impl Into<Lun>) -> Result<(u64, u32)> {
        let lun = lun.into();
        let mut cdb = [0u8; 16];
        cdb[0] = 0x9e;
        cdb[1] = 0x10;
        cdb[13] = 32;
        let d = self.good(lun, &cdb, &[], 32).await?;
        if d.len() < 12 {
            return Err(Error::Protocol("short READ CAPACITY data".into()));
        }
        let last = u64::from_be_bytes(d[0..8].try_into().unwrap_or_default());
        let size = u32::from_be_bytes(d[8..12].try_into().unwrap_or_default());
        self.block_sizes.insert(lun, size);
        Ok((last + 1, size))
    }

    async fn block_size(&mut self, lun: Lun) -> Result<u32> {
        match self.block_sizes.get(&lun) {
            Some(size) => Ok(*size),
            None => Ok(self.read_capacity(lun).await?.1),
        }
    }

    /// READ (16) on LUN `lun` of `blocks` blocks from logical block
    /// address `lba` (the block size, from READ CAPACITY, is asked once
    /// and kept). Past the last block: an [`Error::Scsi`] with ILLEGAL
    /// REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE.
    pub async fn read(&mut self, lun: impl Into<Lun>, lba: u64, blocks: u32) -> Result<Vec<u8>> {
        let lun = lun.into();
        let size = self.block_size(lun).await?;
        let mut cdb = [0u8; 16];
        cdb[0] = 0x88;
        cdb[2..10].copy_from_slice(&lba.to_be_bytes());
        cdb[10..14].copy_from_slice(&blocks.to_be_bytes());
        self.good(lun, &cdb, &[], blocks as usize * size as usize)
            .await
    }

    /// WRITE (16) on LUN `lun` of `data`, whole blocks, from logical block
    /// address `lba`; with `fua` (Force Unit Access), stable when
    /// answered. A write-protected LUN answers DATA PROTECT (an
    /// [`Error::Scsi`]).
    pub async fn write(
        &mut self,
        lun: impl Into<Lun>,
        lba: u64,
        data: &[u8],
        fua: bool,
    ) -> Result<()> {
        let lun = lun.into();
        let size = self.block_size(lun).await?;
        if size == 0 || !data.len().is_multiple_of(size as usize) {
            return Err(Error::PartialBlock {
                len: data.len(),
                block_size: size,
            });
        }
        let mut cdb = [0u8; 16];
        cdb[0] = 0x8a;
        cdb[1] = if fua { 0x08 } else { 0 };
        cdb[2..10].copy_from_slice(&lba.to_be_bytes());
        cdb[10..14].copy_from_slice(&((data.len() / size as usize) as u32).to_be_bytes());
        self.good(lun, &cdb, data, 0).await.map(drop)
    }

    /// SYNCHRONIZE CACHE (10): every write so far made stable.
    pub async fn synchronize_cache(&mut self, lun: impl Into<Lun>) -> Result<()> {
        let lun = lun.into();
        self.good(lun, &[0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[], 0)
            .await
            .map(drop)
    }

    /// PERSISTENT RESERVE IN with `service` (0 READ KEYS, 1 READ
    /// RESERVATION, 2 REPORT CAPABILITIES, 3 READ FULL STATUS): the
    /// parameter data.
    pub async fn persistent_reserve_in(
        &mut self,
        lun: impl Into<Lun>,
        service: u8,
    ) -> Result<Vec<u8>> {
        let lun = lun.into();
        let cdb = [0x5e, service & 0x1f, 0, 0, 0, 0, 0, 0x20, 0, 0];
        self.good(lun, &cdb, &[], 0x2000).await
    }

    /// The registered keys (READ KEYS).
    pub async fn read_keys(&mut self, lun: impl Into<Lun>) -> Result<Vec<u64>> {
        let lun = lun.into();
        let d = self.persistent_reserve_in(lun, 0).await?;
        let len = d
            .get(4..8)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
        Ok(d.get(8..8 + len)
            .unwrap_or_default()
            .chunks_exact(8)
            .map(|k| u64::from_be_bytes(k.try_into().unwrap_or_default()))
            .collect())
    }

    /// PERSISTENT RESERVE OUT: `service` (0 REGISTER, 1 RESERVE, 2
    /// RELEASE, 3 CLEAR, 4 PREEMPT, 5 PREEMPT AND ABORT, 6 REGISTER AND
    /// IGNORE EXISTING KEY), reservation `kind` (1, 3, 5-8), the keys and
    /// APTPL. The status (GOOD, RESERVATION CONFLICT, CHECK CONDITION).
    pub async fn persistent_reserve_out(
        &mut self,
        lun: impl Into<Lun>,
        service: u8,
        kind: u8,
        key: u64,
        service_key: u64,
        aptpl: bool,
    ) -> Result<Outcome> {
        let lun = lun.into();
        let mut params = key.to_be_bytes().to_vec();
        params.extend_from_slice(&service_key.to_be_bytes());
        params.extend_from_slice(&[0, 0, 0, 0, u8::from(aptpl), 0, 0, 0]);
        let cdb = [0x5f, service & 0x1f, kind & 0x0f, 0, 0, 0, 0, 0, 24, 0];
        self.command(lun, &cdb, &params, 0).await
    }

    /// Logs out (closing the session).
    pub async fn logout(mut self) -> Result<()> {
        let mut bhs = Bhs::new(Opcode::LogoutRequest);
        bhs.set_immediate(true);
        bhs.set_final(true);
        let itt = self.next_itt();
        bhs.set_itt(itt);
        bhs.set_u32_at(24, self.cmd_sn);
        bhs.set_u32_at(28, self.exp_stat_sn);
        self.send(&[Pdu::new(bhs)]).await?;
        let response = self.receive().await?;
        match response.bhs.opcode() {
            Ok(Opcode::LogoutResponse) if response.bhs.0[2] == 0 => Ok(()),
            other => Err(Error::Protocol(format!("{other:?} answering a logout"))),
        }
    }
}

/// SendTargets=All on a discovery session to `addr`.
pub async fn discover(addr: SocketAddr, config: &InitiatorConfig) -> Result<Vec<DiscoveredTarget>> {
    let mut session = Session::connect(addr, None, config).await?;
    let mut text = Vec::new();
    let mut ttt = 0xffff_ffffu32;
    let mut first = true;
    loop {
        let mut bhs = Bhs::new(Opcode::TextRequest);
        bhs.set_immediate(true);
        bhs.set_final(true);
        let itt = session.next_itt();
        bhs.set_itt(itt);
        bhs.set_u32_at(20, ttt);
        bhs.set_u32_at(24, session.cmd_sn);
        bhs.set_u32_at(28, session.exp_stat_sn);
        let mut request = Pdu::new(bhs);
        if first {
            request.data = Bytes::from(text::encode(&[("SendTargets", "All")]));
            first = false;
        }
        session.send(&[request]).await?;
        let response = session.receive().await?;
        if response.bhs.opcode() != Ok(Opcode::TextResponse) {
            return Err(Error::Protocol(format!(
                "{:?} answering SendTargets",
                response.bhs.opcode()
            )));
        }
        session.took_status(&response.bhs);
        text.extend_from_slice(&response.data);
        if response.bhs.0[1] & 0x40 == 0 {
            break;
        }
        ttt = response.bhs.u32_at(20);
    }
    let keys =
        text::parse(&text).map_err(|e| Error::Protocol(format!("SendTargets text: {e:?}")))?;
    let mut targets: Vec<DiscoveredTarget> = Vec::new();
    for (k, v) in keys {
        match k.as_str() {
            "TargetName" => targets.push(DiscoveredTarget {
                name: v,
                addresses: Vec::new(),
            }),
            "TargetAddress" => {
                if let Some(t) = targets.last_mut() {
                    t.addresses.push(v);
                }
            }
            _ => {}
        }
    }
    session.logout().await?;
    Ok(targets)
}
