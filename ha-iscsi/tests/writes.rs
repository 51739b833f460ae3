//! Writes through the portal, PDU by PDU, as an initiator sends them:
//! immediate data, unsolicited Data-Out (InitialR2T=No), and the rest by
//! R2T in bursts of at most MaxBurstLength; then read back.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ha_iscsi::backstore::MemoryBackstore;
use ha_iscsi::login::Auth;
use ha_iscsi::pdu::{Bhs, Decoder, Digests, Opcode, Pdu};
use ha_iscsi::text;
use support::{IQN, portal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod support;

struct Initiator {
    stream: TcpStream,
    decoder: Decoder,
    cmd_sn: u32,
}

impl Initiator {
    async fn send(&mut self, pdu: Pdu) {
        let mut out = BytesMut::new();
        pdu.encode(Digests::default(), &mut out).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    async fn next(&mut self) -> Pdu {
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

    async fn login(addr: std::net::SocketAddr, initial_r2t: &str) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut me = Self {
            stream,
            decoder: Decoder::new(1 << 20),
            cmd_sn: 1,
        };
        let mut bhs = Bhs::new(Opcode::LoginRequest);
        bhs.set_immediate(true);
        bhs.0[1] = 0x80 | 1 << 2 | 3;
        bhs.0[8..14].copy_from_slice(&[0x80, 0, 0, 1, 0, 1]);
        bhs.set_u32_at(24, 1);
        let mut login = Pdu::new(bhs);
        login.data = Bytes::from(text::encode(&[
            ("InitiatorName", "iqn.2025-09.com.example:node1"),
            ("TargetName", IQN),
            ("SessionType", "Normal"),
            ("InitialR2T", initial_r2t),
            ("ImmediateData", "Yes"),
            ("FirstBurstLength", "8192"),
            ("MaxBurstLength", "16384"),
            ("MaxRecvDataSegmentLength", "65536"),
        ]));
        me.send(login).await;
        let response = me.next().await;
        assert_eq!(response.bhs.opcode(), Ok(Opcode::LoginResponse));
        assert_eq!(response.bhs.u16_at(36), 0, "login status");
        me
    }

    fn command(&mut self, itt: u32, cdb: &[u8], expected: u32, write: bool) -> Pdu {
        let mut bhs = Bhs::new(Opcode::ScsiCommand);
        bhs.0[1] = 0x80 | if write { 0x20 } else { 0x40 };
        bhs.set_itt(itt);
        bhs.set_u32_at(20, expected);
        bhs.set_u32_at(24, self.cmd_sn);
        self.cmd_sn += 1;
        bhs.0[32..32 + cdb.len()].copy_from_slice(cdb);
        Pdu::new(bhs)
    }

    fn data_out(itt: u32, ttt: u32, offset: usize, data: &[u8], last: bool) -> Pdu {
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
    async fn write(
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

    async fn read(&mut self, itt: u32, lba: u32, len: usize) -> Vec<u8> {
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

async fn lab_portal() -> std::net::SocketAddr {
    let store = MemoryBackstore::new(512, 4096).unwrap();
    portal(Auth::None, Some(Arc::new(store))).await
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn a_write_with_initial_r2t_takes_immediate_data_then_bursts() {
    let addr = lab_portal().await;
    let mut initiator = Initiator::login(addr, "Yes").await;
    let data = pattern(40_960, 7);
    let (r2ts, status) = initiator.write(1, 8, &data, 4096, 0).await;
    assert_eq!(status, 0);
    // 36 KiB after the immediate 4 KiB, in bursts of at most 16 KiB.
    assert_eq!(r2ts, [(4096, 16384), (20480, 16384), (36864, 4096)]);
    assert_eq!(initiator.read(2, 8, data.len()).await, data);
}

#[tokio::test]
async fn unsolicited_data_fills_the_first_burst_without_initial_r2t() {
    let addr = lab_portal().await;
    let mut initiator = Initiator::login(addr, "No").await;
    let data = pattern(20_480, 3);
    // FirstBurstLength 8192: 4096 immediate + 4096 unsolicited.
    let (r2ts, status) = initiator.write(1, 100, &data, 4096, 4096).await;
    assert_eq!(status, 0);
    assert_eq!(r2ts, [(8192, 12288)]);
    assert_eq!(initiator.read(2, 100, data.len()).await, data);
    // All of it immediate: no R2T at all.
    let small = pattern(2048, 9);
    let (r2ts, status) = initiator.write(3, 200, &small, 2048, 0).await;
    assert_eq!((r2ts.len(), status), (0, 0));
    assert_eq!(initiator.read(4, 200, small.len()).await, small);
}

#[tokio::test]
async fn a_write_past_the_end_is_refused_and_its_data_ignored() {
    let addr = lab_portal().await;
    let mut initiator = Initiator::login(addr, "No").await;
    let data = pattern(4096, 1);
    let (r2ts, status) = initiator.write(1, 4094, &data, 1024, 1024).await;
    assert_eq!((r2ts.len(), status), (0, 2), "CHECK CONDITION, no R2T");
    // The connection still works.
    let (_, status) = initiator.write(2, 0, &data, 4096, 0).await;
    assert_eq!(status, 0);
}
