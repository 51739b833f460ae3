//! An attacker's iSCSI initiator: blocking TCP and ha-iscsi's PDU
//! encoding, sending exactly what it is told, well-formed or not.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ha_iscsi::pdu::{Bhs, Decoder, Digests, Opcode, Pdu};
use ha_iscsi::text;

/// Login status "success".
pub const LOGIN_OK: u16 = 0;

/// One TCP connection to a target, PDU by PDU.
pub struct Raw {
    stream: TcpStream,
    decoder: Decoder,
    /// The CmdSN the next non-immediate command carries.
    pub cmd_sn: u32,
    exp_stat_sn: u32,
    /// The keys the target answered during login.
    answered: Vec<(String, String)>,
}

/// The Login PDU from stage `csg` to `nsg` (with the T bit when they
/// differ) carrying `data`, for session `isid`.
pub fn login_pdu(isid: u32, csg: u8, nsg: u8, tsih: u16, data: Vec<u8>) -> Pdu {
    let mut bhs = Bhs::new(Opcode::LoginRequest);
    bhs.set_immediate(true);
    let transit = if csg == nsg { 0 } else { 0x80 };
    bhs.0[1] = transit | csg << 2 | nsg;
    let id = isid.to_be_bytes();
    bhs.0[8..14].copy_from_slice(&[0x80, id[0], id[1], id[2], id[3], 0]);
    bhs.set_u16_at(14, tsih);
    bhs.set_u32_at(24, 1);
    let mut pdu = Pdu::new(bhs);
    pdu.data = Bytes::from(data);
    pdu
}

/// The loopback address standing for attacking host `i`: every 127/8
/// address is this machine's, so each host of an attack has an address of
/// its own, as on a network (127.0.0.1, the normal client's, is never one).
pub fn host(i: u32) -> IpAddr {
    let [_, a, b, c] = (i + 1).to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(127, 1 + a, b, c))
}

/// A TCP connection to `addr` from `source` (any port).
pub fn tcp_from(addr: SocketAddr, source: IpAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect_timeout(&addr.into(), Duration::from_secs(10))?;
    Ok(socket.into())
}

impl Raw {
    /// Connects to `addr` from attacking host 0 ([`host`]).
    pub fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        Self::connect_from(addr, host(0))
    }

    /// Connects to `addr` from `source`.
    pub fn connect_from(addr: SocketAddr, source: IpAddr) -> std::io::Result<Self> {
        let stream = tcp_from(addr, source)?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            decoder: Decoder::new(1 << 24),
            cmd_sn: 1,
            exp_stat_sn: 0,
            answered: Vec::new(),
        })
    }

    /// What the target answered for `key` during login.
    pub fn answered(&self, key: &str) -> Option<&str> {
        self.answered
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The client's port, naming the connection in `/proc/net/tcp`.
    pub fn local_port(&self) -> u16 {
        self.stream.local_addr().map_or(0, |a| a.port())
    }

    /// Sends `pdu` without digests.
    pub fn send(&mut self, pdu: &Pdu) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        pdu.encode(Digests::default(), &mut out)
            .map_err(std::io::Error::other)?;
        self.stream.write_all(&out)
    }

    /// Sends `bytes` as they are.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The PDUs the target has sent so far, without waiting; `None` once
    /// it has closed the connection.
    pub fn drain(&mut self) -> Option<Vec<Pdu>> {
        let mut buf = [0u8; 65536];
        self.stream.set_nonblocking(true).ok()?;
        let open = loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break false,
                Ok(n) => self.decoder.handle_bytes(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
                Err(_) => break false,
            }
        };
        self.stream.set_nonblocking(false).ok()?;
        let mut pdus = Vec::new();
        while let Ok(Some(pdu)) = self.decoder.poll_pdu() {
            pdus.push(pdu);
        }
        open.then_some(pdus)
    }

    /// Stops sending and waits up to `wait` for the target to close its
    /// side, so that it has read everything sent (a connection dropped
    /// with unread replies would be reset, and the target could lose
    /// what was sent before reading it). Whether it closed.
    pub fn finish(mut self, wait: Duration) -> bool {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 65536];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if self
                .stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .is_err()
            {
                return true;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return true,
            }
        }
        false
    }

    /// Sends `command` and waits for its SCSI status (the Data-In
    /// carrying it, or a SCSI Response), answering nothing else.
    pub fn status_of(&mut self, command: &Pdu, wait: Duration) -> Option<u8> {
        self.send(command).ok()?;
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let pdu = self.next_within(left)?;
            let itt = pdu.bhs.itt() == command.bhs.itt();
            match pdu.bhs.opcode() {
                Ok(Opcode::ScsiResponse) if itt => return Some(pdu.bhs.0[3]),
                Ok(Opcode::DataIn) if itt && pdu.bhs.0[1] & 0x01 != 0 => {
                    return Some(pdu.bhs.0[3]);
                }
                _ => {}
            }
        }
        None
    }

    /// The next PDU within `wait`; `None` if the target closed the
    /// connection, sent something undecodable or said nothing.
    pub fn next_within(&mut self, wait: Duration) -> Option<Pdu> {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 65536];
        loop {
            if let Some(pdu) = self.decoder.poll_pdu().ok()? {
                if pdu.bhs.opcode() != Ok(Opcode::R2t) && pdu.bhs.opcode() != Ok(Opcode::DataIn) {
                    self.exp_stat_sn = pdu.bhs.u32_at(24).wrapping_add(1);
                }
                return Some(pdu);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok()?;
            match self.stream.read(&mut buf) {
                Ok(n) if n > 0 => self.decoder.handle_bytes(&buf[..n]),
                _ => return None,
            }
        }
    }

    /// Logs in to `target` as `name` with session `isid`, through the
    /// security stage (AuthMethod None) then the operational one: the
    /// connection in full-feature phase, or the login status the target
    /// answered (`None`: it closed or said nothing).
    pub fn login(
        addr: SocketAddr,
        target: &str,
        name: &str,
        isid: u32,
    ) -> std::io::Result<Result<Self, Option<u16>>> {
        Self::login_from(addr, host(0), target, name, isid)
    }

    /// [`login`](Self::login) from `source`.
    pub fn login_from(
        addr: SocketAddr,
        source: IpAddr,
        target: &str,
        name: &str,
        isid: u32,
    ) -> std::io::Result<Result<Self, Option<u16>>> {
        let mut me = Self::connect_from(addr, source)?;
        let security = text::encode(&[
            ("InitiatorName", name),
            ("TargetName", target),
            ("SessionType", "Normal"),
            ("AuthMethod", "None"),
        ]);
        let operational = text::encode(&[
            ("HeaderDigest", "None"),
            ("DataDigest", "None"),
            ("ImmediateData", "Yes"),
            ("InitialR2T", "Yes"),
            ("FirstBurstLength", "65536"),
            ("MaxBurstLength", "262144"),
            ("MaxRecvDataSegmentLength", "65536"),
            ("MaxOutstandingR2T", "1"),
            ("ErrorRecoveryLevel", "0"),
        ]);
        let wait = Duration::from_secs(10);
        me.send(&login_pdu(isid, 0, 1, 0, security))?;
        let mut stage = 0;
        let mut pending = Some(operational);
        for _ in 0..8 {
            let Some(response) = me.next_within(wait) else {
                return Ok(Err(None));
            };
            let status = response.bhs.u16_at(36);
            if response.bhs.opcode() != Ok(Opcode::LoginResponse) || status != LOGIN_OK {
                return Ok(Err(Some(status)));
            }
            if let Ok(keys) = text::parse(&response.data) {
                me.answered.extend(keys);
            }
            let tsih = response.bhs.u16_at(14);
            let transit = response.bhs.0[1] & 0x80 != 0;
            if transit {
                stage = response.bhs.0[1] & 0x03;
            }
            if stage == 3 {
                me.exp_stat_sn = response.bhs.u32_at(24).wrapping_add(1);
                return Ok(Ok(me));
            }
            // Operational stage: offer the keys once, then ask again to
            // go on until the target agrees.
            let data = pending.take().unwrap_or_default();
            let mut next = login_pdu(isid, 1, 3, tsih, data);
            next.bhs.set_u32_at(28, me.exp_stat_sn);
            me.send(&next)?;
        }
        Ok(Err(None))
    }

    /// A SCSI command on `lun` (the LUN field as sent) with `cdb`,
    /// expecting `expected` bytes; `immediate` sets the I bit (no CmdSN
    /// step).
    pub fn command(
        &mut self,
        itt: u32,
        lun: u64,
        cdb: &[u8],
        expected: u32,
        write: bool,
        immediate: bool,
    ) -> Pdu {
        let mut bhs = Bhs::new(Opcode::ScsiCommand);
        bhs.set_immediate(immediate);
        bhs.0[1] = 0x80 | if write { 0x20 } else { 0x40 };
        bhs.set_lun(lun);
        bhs.set_itt(itt);
        bhs.set_u32_at(20, expected);
        bhs.set_u32_at(24, self.cmd_sn);
        bhs.set_u32_at(28, self.exp_stat_sn);
        if !immediate {
            self.cmd_sn = self.cmd_sn.wrapping_add(1);
        }
        bhs.0[32..32 + cdb.len()].copy_from_slice(cdb);
        Pdu::new(bhs)
    }

    /// TEST UNIT READY, taking the UNIT ATTENTION a new nexus may get
    /// first (tgtd's power on), as initiators do. Uses ITT 0x7fff_fffe.
    pub fn clear_unit_attention(&mut self, lun: u64) {
        let tur = self.command(0x7fff_fffe, lun, &[0; 6], 0, false, false);
        let _ = self.status_of(&tur, Duration::from_secs(10));
    }

    /// A NOP-Out ping the target must answer: the PDUs that came before
    /// its NOP-In, once it came back (everything sent before it has then
    /// been taken in); `None` if the target closed the connection or did
    /// not answer within `wait`.
    pub fn ping(&mut self, itt: u32, wait: Duration) -> Option<Vec<Pdu>> {
        let mut bhs = Bhs::new(Opcode::NopOut);
        bhs.set_immediate(true);
        bhs.set_final(true);
        bhs.set_itt(itt);
        bhs.set_u32_at(20, 0xffff_ffff);
        bhs.set_u32_at(24, self.cmd_sn);
        bhs.set_u32_at(28, self.exp_stat_sn);
        self.send(&Pdu::new(bhs)).ok()?;
        let deadline = Instant::now() + wait;
        let mut before = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let pdu = self.next_within(left)?;
            if pdu.bhs.opcode() == Ok(Opcode::NopIn) && pdu.bhs.itt() == itt {
                return Some(before);
            }
            before.push(pdu);
        }
        None
    }
}
