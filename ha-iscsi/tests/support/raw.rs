//! A PDU-level initiator for tests that need to send exactly what they
//! choose: the write path's PDUs one by one, and malformed input.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use ha_iscsi::pdu::{Bhs, Decoder, Digests, Opcode, Pdu};
use ha_iscsi::text;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::IQN;

/// An initiator that speaks PDU by PDU, to send what a well-behaved
/// initiator would not.
pub struct Initiator {
    stream: TcpStream,
    decoder: Decoder,
    cmd_sn: u32,
    digests: Digests,
}

impl Initiator {
    pub async fn send(&mut self, pdu: Pdu) {
        let mut out = BytesMut::new();
        pdu.encode(self.digests, &mut out).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    /// Sends raw bytes as they are.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next PDU within `wait`; `None` if the target closed the
    /// connection or said nothing.
    pub async fn next_within(&mut self, wait: std::time::Duration) -> Option<Pdu> {
        let mut buf = [0u8; 65536];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Ok(Some(pdu)) = self.decoder.poll_pdu() {
                return Some(pdu);
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.decoder.handle_bytes(&buf[..n]),
                _ => return None,
            }
        }
    }

    pub async fn next(&mut self) -> Pdu {
        let mut buf = [0u8; 65536];
        loop {
            if let Some(pdu) = self.decoder.poll_pdu().unwrap() {
                return pdu;
            }
            let n = self.stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the target closed the connection");
            self.decoder.handle_bytes(&buf[..n]);
        }
    }

    pub async fn login(addr: std::net::SocketAddr, initial_r2t: &str) -> Self {
        Self::login_offering(
            addr,
            "iqn.2025-09.com.example:node1",
            &[("InitialR2T", initial_r2t)],
            false,
        )
        .await
    }

    /// Logs in as `name` offering `keys` (after the usual ones); with
    /// `digests`, CRC32C header and data digests.
    pub async fn login_offering(
        addr: std::net::SocketAddr,
        name: &str,
        keys: &[(&str, &str)],
        digests: bool,
    ) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut me = Self {
            stream,
            decoder: Decoder::new(1 << 20),
            cmd_sn: 1,
            digests: Digests::default(),
        };
        let mut bhs = Bhs::new(Opcode::LoginRequest);
        bhs.set_immediate(true);
        bhs.0[1] = 0x80 | 1 << 2 | 3;
        bhs.0[8..14].copy_from_slice(&[0x80, 0, 0, 1, 0, name.len() as u8]);
        bhs.set_u32_at(24, 1);
        let digest = if digests { "CRC32C" } else { "None" };
        let mut offer = vec![
            ("InitiatorName", name),
            ("TargetName", IQN),
            ("SessionType", "Normal"),
            ("HeaderDigest", digest),
            ("DataDigest", digest),
            ("ImmediateData", "Yes"),
            ("FirstBurstLength", "8192"),
            ("MaxBurstLength", "16384"),
            ("MaxRecvDataSegmentLength", "65536"),
        ];
        offer.extend_from_slice(keys);
        let mut login = Pdu::new(bhs);
        login.data = Bytes::from(text::encode(&offer));
        me.send(login).await;
        let response = me.next().await;
        assert_eq!(response.bhs.opcode(), Ok(Opcode::LoginResponse));
        assert_eq!(response.bhs.u16_at(36), 0, "login status");
        me.digests = Digests {
            header: digests,
            data: digests,
        };
        me.decoder.set_digests(me.digests);
        me
    }

    /// The digests in use.
    pub fn digests(&self) -> Digests {
        self.digests
    }

    pub fn command(&mut self, itt: u32, cdb: &[u8], expected: u32, write: bool) -> Pdu {
        let mut bhs = Bhs::new(Opcode::ScsiCommand);
        bhs.0[1] = 0x80 | if write { 0x20 } else { 0x40 };
        bhs.set_itt(itt);
        bhs.set_u32_at(20, expected);
        bhs.set_u32_at(24, self.cmd_sn);
        self.cmd_sn += 1;
        bhs.0[32..32 + cdb.len()].copy_from_slice(cdb);
        Pdu::new(bhs)
    }

    pub fn data_out(itt: u32, ttt: u32, offset: usize, data: &[u8], last: bool) -> Pdu {
        let mut bhs = Bhs::new(Opcode::DataOut);
        bhs.set_final(last);
        bhs.set_itt(itt);
        bhs.set_u32_at(20, ttt);
        bhs.set_u32_at(40, offset as u32);
        let mut pdu = Pdu::new(bhs);
        pdu.data = Bytes::copy_from_slice(data);
        pdu
    }

    /// WRITE(10) of `data` at `lba` with `immediate` bytes in the command
    /// and `unsolicited` more in Data-Out; answers R2Ts; returns the R2Ts'
    /// (offset, length) and the final status.
    pub async fn write(
        &mut self,
        itt: u32,
        lba: u32,
        data: &[u8],
        immediate: usize,
        unsolicited: usize,
    ) -> (Vec<(u32, u32)>, u8) {
        let blocks = (data.len() / 512) as u16;
        let mut cdb = [0u8; 10];
        cdb[0] = 0x2a;
        cdb[2..6].copy_from_slice(&lba.to_be_bytes());
        cdb[7..9].copy_from_slice(&blocks.to_be_bytes());
        let mut command = self.command(itt, &cdb, data.len() as u32, true);
        command.data = Bytes::copy_from_slice(&data[..immediate]);
        self.send(command).await;
        if unsolicited > 0 {
            let end = immediate + unsolicited;
            self.send(Self::data_out(
                itt,
                0xffff_ffff,
                immediate,
                &data[immediate..end],
                true,
            ))
            .await;
        }
        let mut r2ts = Vec::new();
        loop {
            let pdu = self.next().await;
            match pdu.bhs.opcode().unwrap() {
                Opcode::R2t => {
                    let (offset, len) = (pdu.bhs.u32_at(40), pdu.bhs.u32_at(44));
                    r2ts.push((offset, len));
                    let (start, end) = (offset as usize, (offset + len) as usize);
                    let ttt = pdu.bhs.u32_at(20);
                    self.send(Self::data_out(itt, ttt, start, &data[start..end], true))
                        .await;
                }
                Opcode::ScsiResponse => return (r2ts, pdu.bhs.0[3]),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    pub async fn read(&mut self, itt: u32, lba: u32, len: usize) -> Vec<u8> {
        let mut cdb = [0u8; 10];
        cdb[0] = 0x28;
        cdb[2..6].copy_from_slice(&lba.to_be_bytes());
        cdb[7..9].copy_from_slice(&((len / 512) as u16).to_be_bytes());
        let command = self.command(itt, &cdb, len as u32, false);
        self.send(command).await;
        let mut data = vec![0u8; len];
        loop {
            let pdu = self.next().await;
            assert_eq!(pdu.bhs.opcode(), Ok(Opcode::DataIn));
            let offset = pdu.bhs.u32_at(40) as usize;
            data[offset..offset + pdu.data.len()].copy_from_slice(&pdu.data);
            if pdu.bhs.0[1] & 0x01 != 0 {
                assert_eq!(pdu.bhs.0[3], 0, "GOOD with the last Data-In");
                return data;
            }
        }
    }
}
