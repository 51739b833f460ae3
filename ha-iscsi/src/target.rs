//! The tokio driver of a target portal: accepts connections, feeds their
//! bytes to the [`Decoder`], runs the [`Login`] and then the full feature
//! phase, and writes the answers.
//!
//! **So far** the full feature phase answers Text (`SendTargets`,
//! continued over several PDUs when the answer is longer than the initiator
//! receives), NOP-Out, Logout, and SCSI commands without data from the
//! initiator through [`scsi`] (Data-In split to the
//! initiator's MaxRecvDataSegmentLength with the status in the last one,
//! residuals, sense data), and writes: immediate data, unsolicited
//! Data-Out up to FirstBurstLength when InitialR2T is No, and R2Ts for the
//! rest (at most MaxBurstLength each, one outstanding), the write done and
//! answered once every byte is in. Task management and SNACK are answered
//! with a Reject ("command not supported") for now.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::discovery;
use crate::login::{COMMAND_WINDOW, Login, LoginConfig, Outcome, SessionType, Step};
use crate::pdu::{Bhs, Decoder, Digests, Opcode, Pdu};
use crate::scsi::{self, LogicalUnit};
use crate::text;

/// The Target Transfer Tag meaning "none".
const NO_TTT: u32 = 0xffff_ffff;
/// Reject reason: command not supported (RFC 7143 11.17.1).
const REJECT_NOT_SUPPORTED: u8 = 0x05;
/// Reject reason: protocol error.
const REJECT_PROTOCOL: u8 = 0x04;

/// A listening portal.
#[derive(Debug)]
pub struct Portal {
    listener: TcpListener,
    config: Arc<LoginConfig>,
    luns: Arc<Luns>,
    /// The addresses SendTargets reports (`ip:port`).
    advertised: Vec<String>,
}

impl Portal {
    /// Listens on `addr` for the targets in `config`.
    pub async fn bind(addr: SocketAddr, config: LoginConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok(Self {
            listener,
            config: Arc::new(config),
            luns: Arc::default(),
            advertised: vec![local.to_string()],
        })
    }

    /// Maps `unit` as LUN `lun` of the target at `target` (its index in
    /// the configuration).
    pub fn map_lun(&mut self, target: usize, lun: u64, unit: LogicalUnit) {
        let luns = Arc::make_mut(&mut self.luns);
        let list = luns.entry(target).or_default();
        list.retain(|(n, _)| *n != lun);
        list.push((lun, unit));
        list.sort_by_key(|(n, _)| *n);
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts and serves connections until the task is dropped.
    pub async fn serve(self) {
        let tsih = Arc::new(AtomicU16::new(1));
        let advertised = Arc::new(self.advertised);
        loop {
            let Ok((stream, peer)) = self.listener.accept().await else {
                continue;
            };
            let config = self.config.clone();
            let luns = self.luns.clone();
            let advertised = advertised.clone();
            let handle = tsih.fetch_add(1, Ordering::Relaxed).max(1);
            tokio::spawn(async move {
                let connection = Connection::new(config, luns, advertised, handle);
                if let Err(e) = connection.run(stream).await {
                    tracing::info!(%peer, error = %e, "iSCSI connection ended");
                }
            });
        }
    }
}

/// Random bytes for CHAP challenges, from the kernel.
fn entropy() -> std::io::Result<[u8; 17]> {
    use std::io::Read;
    let mut bytes = [0u8; 17];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// Each target's LUNs, by target index.
type Luns = HashMap<usize, Vec<(u64, LogicalUnit)>>;

struct Connection {
    config: Arc<LoginConfig>,
    luns: Arc<Luns>,
    advertised: Arc<Vec<String>>,
    tsih: u16,
    digests: Digests,
    session: Option<Outcome>,
    /// The rest of a Text answer too long for one PDU.
    pending_text: Bytes,
    /// Writes waiting for their data, by ITT.
    writes: HashMap<u32, WriteTask>,
    next_ttt: u32,
}

/// A write command collecting its data.
struct WriteTask {
    unit: LogicalUnit,
    lun_field: u64,
    lba: u64,
    fua: bool,
    buffer: Vec<u8>,
    received: usize,
    /// Where the next R2T starts.
    next_offset: usize,
    /// The R2T in flight: its TTT and the end of what it asked for.
    outstanding: Option<(u32, usize)>,
    r2t_sn: u32,
}

impl Connection {
    fn new(
        config: Arc<LoginConfig>,
        luns: Arc<Luns>,
        advertised: Arc<Vec<String>>,
        tsih: u16,
    ) -> Self {
        Self {
            config,
            luns,
            advertised,
            tsih,
            digests: Digests::default(),
            session: None,
            pending_text: Bytes::new(),
            writes: HashMap::new(),
            next_ttt: 1,
        }
    }

    async fn run(mut self, mut stream: TcpStream) -> std::io::Result<()> {
        let seed = entropy()?;
        let mut challenge = [0u8; 16];
        challenge.copy_from_slice(&seed[..16]);
        let stat_sn = u32::from_be_bytes([seed[0], seed[1], seed[2], seed[3]]);
        let mut login = Login::new(self.config.clone(), self.tsih, stat_sn, challenge, seed[16]);
        let mut decoder = Decoder::new(8192);
        let mut buf = vec![0u8; 65536];
        let mut out = BytesMut::new();
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            decoder.handle_bytes(&buf[..n]);
            loop {
                let pdu = match decoder.poll_pdu() {
                    Ok(Some(pdu)) => pdu,
                    Ok(None) => break,
                    Err(e) => {
                        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
                    }
                };
                let mut close = false;
                match &self.session {
                    None => match login.handle_request(&pdu) {
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
                            self.session = Some(outcome);
                        }
                        Step::Fail(r) => {
                            self.send(&r, &mut out)?;
                            close = true;
                        }
                    },
                    Some(_) => close = self.full_feature(&pdu, &mut out).await?,
                }
                stream.write_all(&out).await?;
                out.clear();
                if close {
                    return Ok(());
                }
            }
        }
    }

    fn send(&self, pdu: &Pdu, out: &mut BytesMut) -> std::io::Result<()> {
        pdu.encode(self.digests, out)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Sets StatSN, ExpCmdSN and MaxCmdSN of a response and advances StatSN.
    fn numbers(&mut self, bhs: &mut Bhs) {
        let Some(s) = &mut self.session else { return };
        bhs.set_u32_at(24, s.stat_sn);
        s.stat_sn = s.stat_sn.wrapping_add(1);
        bhs.set_u32_at(28, s.exp_cmd_sn);
        bhs.set_u32_at(32, s.exp_cmd_sn.wrapping_add(COMMAND_WINDOW - 1));
    }

    /// Answers one PDU of the full feature phase; `true` to close.
    async fn full_feature(&mut self, pdu: &Pdu, out: &mut BytesMut) -> std::io::Result<bool> {
        let b = &pdu.bhs;
        if let Some(s) = &mut self.session
            && !b.immediate()
            && b.opcode_byte() != Opcode::DataOut as u8
        {
            // A non-immediate command takes its CmdSN.
            s.exp_cmd_sn = b.u32_at(24).wrapping_add(1);
        }
        match b.opcode() {
            Ok(Opcode::TextRequest) => {
                let (initiator, max) = match &self.session {
                    Some(s) => (s.initiator.clone(), s.params.initiator_max_recv as usize),
                    None => return Ok(true),
                };
                if b.u32_at(20) == NO_TTT {
                    let keys = match text::parse(&pdu.data) {
                        Ok(keys) => keys,
                        Err(_) => return self.reject(pdu, REJECT_PROTOCOL, out),
                    };
                    let answer = match keys.iter().find(|(k, _)| k == "SendTargets") {
                        Some((_, value)) => discovery::send_targets(
                            &self.config,
                            value,
                            &self.advertised,
                            &initiator,
                        ),
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
                r.set_u32_at(20, if more { 1 } else { NO_TTT });
                self.numbers(&mut r);
                let mut response = Pdu::new(r);
                response.data = chunk;
                self.send(&response, out)?;
                Ok(false)
            }
            Ok(Opcode::NopOut) => {
                if b.itt() == NO_TTT {
                    // A reply to our ping, or a ping that wants no answer.
                    return Ok(false);
                }
                let mut r = Bhs::new(Opcode::NopIn);
                r.set_final(true);
                r.set_lun(b.lun());
                r.set_itt(b.itt());
                r.set_u32_at(20, NO_TTT);
                self.numbers(&mut r);
                let mut response = Pdu::new(r);
                response.data = pdu.data.clone();
                self.send(&response, out)?;
                Ok(false)
            }
            Ok(Opcode::ScsiCommand) => {
                self.scsi_command(pdu, out).await?;
                Ok(false)
            }
            Ok(Opcode::DataOut) => {
                self.data_out(pdu, out).await?;
                Ok(false)
            }
            Ok(Opcode::LogoutRequest) => {
                let mut r = Bhs::new(Opcode::LogoutResponse);
                r.set_final(true);
                r.set_itt(b.itt());
                self.numbers(&mut r);
                self.send(&Pdu::new(r), out)?;
                Ok(true)
            }
            Ok(_) => self.reject(pdu, REJECT_NOT_SUPPORTED, out),
            Err(_) => self.reject(pdu, REJECT_PROTOCOL, out),
        }
    }

    /// Runs a SCSI command and sends its Data-In and status.
    async fn scsi_command(&mut self, pdu: &Pdu, out: &mut BytesMut) -> std::io::Result<()> {
        let b = &pdu.bhs;
        let (target, max) = match &self.session {
            Some(Outcome {
                session_type: SessionType::Normal(t),
                params,
                ..
            }) => (*t, (params.initiator_max_recv as usize).max(512)),
            _ => {
                self.reject(pdu, REJECT_PROTOCOL, out)?;
                return Ok(());
            }
        };
        let expected = b.u32_at(20) as usize;
        let writes = b.0[1] & 0x20 != 0;
        let lun = scsi::lun_number(b.lun());
        let luns = self.luns.get(&target).map(Vec::as_slice).unwrap_or(&[]);
        let numbers: Vec<u64> = luns.iter().map(|(n, _)| *n).collect();
        let unit = luns.iter().find(|(n, _)| *n == lun).map(|(_, u)| u.clone());
        let mut completion = if writes {
            match self.start_write(pdu, unit, expected, out).await? {
                // Waiting for data; answered when it is all in.
                None => return Ok(()),
                Some(completion) => completion,
            }
        } else {
            scsi::execute(unit.as_ref(), &numbers, &b.0[32..48]).await
        };
        let itt = b.itt();
        let lun_field = b.lun();
        let mut data = std::mem::take(&mut completion.data);
        let (overflow, residual) = if data.len() > expected {
            let extra = data.len() - expected;
            data.truncate(expected);
            (true, extra)
        } else {
            (false, expected - data.len())
        };
        let flags = if overflow {
            0x04
        } else if residual > 0 {
            0x02
        } else {
            0
        };
        if completion.status == scsi::GOOD && !data.is_empty() {
            let data = Bytes::from(data);
            let pieces = data.len().div_ceil(max);
            for i in 0..pieces {
                let last = i + 1 == pieces;
                let mut r = Bhs::new(Opcode::DataIn);
                r.set_lun(lun_field);
                r.set_itt(itt);
                r.set_u32_at(20, NO_TTT);
                r.set_u32_at(36, i as u32);
                r.set_u32_at(40, (i * max) as u32);
                if last {
                    // Status with the last Data-In (phase collapse).
                    r.0[1] = 0x80 | flags | 0x01;
                    r.0[3] = scsi::GOOD;
                    r.set_u32_at(44, residual as u32);
                    self.numbers(&mut r);
                } else if let Some(s) = &self.session {
                    r.set_u32_at(28, s.exp_cmd_sn);
                    r.set_u32_at(32, s.exp_cmd_sn.wrapping_add(COMMAND_WINDOW - 1));
                }
                let mut piece = Pdu::new(r);
                piece.data = data.slice(i * max..((i + 1) * max).min(data.len()));
                self.send(&piece, out)?;
            }
            return Ok(());
        }
        self.respond(itt, &completion, flags, residual, out)
    }

    /// Starts a write: checks it, keeps its immediate data and asks for the
    /// rest. `Some` completes the command at once (an error, or all data
    /// came with it, written here).
    async fn start_write(
        &mut self,
        pdu: &Pdu,
        unit: Option<LogicalUnit>,
        expected: usize,
        out: &mut BytesMut,
    ) -> std::io::Result<Option<scsi::Completion>> {
        let check = |sense| {
            Some(scsi::Completion {
                status: scsi::CHECK_CONDITION,
                data: Vec::new(),
                sense: Some(sense),
            })
        };
        let Some(unit) = unit else {
            return Ok(check(scsi::Sense {
                key: 0x05,
                asc: 0x25,
                ascq: 0x00,
            }));
        };
        let cdb = &pdu.bhs.0[32..48];
        let Some((lba, blocks, fua)) = scsi::write_extent(cdb) else {
            return Ok(check(scsi::Sense::INVALID_OPCODE));
        };
        // WRPROTECT needs protection information, which no backstore has.
        if cdb[0] != 0x0a && cdb[1] & 0xe0 != 0 {
            return Ok(check(scsi::Sense::INVALID_FIELD));
        }
        if let Err(sense) = scsi::check_write(&unit, lba, blocks, expected) {
            return Ok(check(sense));
        }
        let Some(session) = &self.session else {
            return Ok(None);
        };
        let immediate = pdu.data.len().min(expected);
        let unsolicited_end = if session.params.initial_r2t {
            immediate
        } else {
            (session.params.first_burst as usize)
                .min(expected)
                .max(immediate)
        };
        if immediate == expected {
            // Everything came with the command.
            return Ok(Some(
                scsi::write(&unit, lba, &pdu.data[..expected], fua).await,
            ));
        }
        let mut buffer = vec![0u8; expected];
        buffer[..immediate].copy_from_slice(&pdu.data[..immediate]);
        let task = WriteTask {
            unit,
            lun_field: pdu.bhs.lun(),
            lba,
            fua,
            buffer,
            received: immediate,
            next_offset: unsolicited_end,
            outstanding: None,
            r2t_sn: 0,
        };
        let itt = pdu.bhs.itt();
        self.writes.insert(itt, task);
        self.request_data(itt, out)?;
        Ok(None)
    }

    /// Sends the next R2T of write `itt`, if it needs one and none is out.
    fn request_data(&mut self, itt: u32, out: &mut BytesMut) -> std::io::Result<()> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let (max_burst, exp_cmd_sn, stat_sn) = (
            session.params.max_burst as usize,
            session.exp_cmd_sn,
            session.stat_sn,
        );
        let ttt = self.next_ttt;
        let Some(task) = self.writes.get_mut(&itt) else {
            return Ok(());
        };
        if task.outstanding.is_some() || task.next_offset >= task.buffer.len() {
            return Ok(());
        }
        let offset = task.next_offset;
        let len = max_burst.min(task.buffer.len() - offset);
        task.next_offset += len;
        task.outstanding = Some((ttt, offset + len));
        let mut r = Bhs::new(Opcode::R2t);
        r.set_final(true);
        r.set_lun(task.lun_field);
        r.set_itt(itt);
        r.set_u32_at(20, ttt);
        // R2Ts carry StatSN without taking one.
        r.set_u32_at(24, stat_sn);
        r.set_u32_at(28, exp_cmd_sn);
        r.set_u32_at(32, exp_cmd_sn.wrapping_add(COMMAND_WINDOW - 1));
        r.set_u32_at(36, task.r2t_sn);
        r.set_u32_at(40, offset as u32);
        r.set_u32_at(44, len as u32);
        task.r2t_sn += 1;
        self.next_ttt = self.next_ttt.wrapping_add(1).max(1);
        self.send(&Pdu::new(r), out)
    }

    /// Takes a Data-Out for a write; answers the write once all is in.
    async fn data_out(&mut self, pdu: &Pdu, out: &mut BytesMut) -> std::io::Result<()> {
        let b = &pdu.bhs;
        let itt = b.itt();
        let Some(task) = self.writes.get_mut(&itt) else {
            // For a command already answered (say, refused): dropped.
            return Ok(());
        };
        let offset = b.u32_at(40) as usize;
        let Some(end) = offset
            .checked_add(pdu.data.len())
            .filter(|end| *end <= task.buffer.len())
        else {
            self.writes.remove(&itt);
            self.reject(pdu, REJECT_PROTOCOL, out)?;
            return Ok(());
        };
        task.buffer[offset..end].copy_from_slice(&pdu.data);
        task.received += pdu.data.len();
        if b.is_final()
            && let Some((ttt, _)) = task.outstanding
            && b.u32_at(20) == ttt
        {
            task.outstanding = None;
        }
        if task.received < task.buffer.len() {
            return self.request_data(itt, out);
        }
        let task = self.writes.remove(&itt).expect("present");
        let completion = scsi::write(&task.unit, task.lba, &task.buffer, task.fua).await;
        self.respond(itt, &completion, 0, 0, out)
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
        let mut r = Bhs::new(Opcode::Reject);
        r.set_final(true);
        r.0[2] = reason;
        r.set_itt(0xffff_ffff);
        self.numbers(&mut r);
        let mut response = Pdu::new(r);
        response.data = Bytes::copy_from_slice(&pdu.bhs.0);
        self.send(&response, out)?;
        Ok(false)
    }
}
