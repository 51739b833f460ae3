//! Bad input from the network: an unknown opcode, wrong header and data
//! digests, a CmdSN outside the window, a data segment over the declared
//! limit, and garbage. The connection gets a Reject or is closed, other
//! sessions carry on, and nothing is written.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ha_iscsi::backstore::{BlockTarget, MemoryBackstore};
use ha_iscsi::login::Auth;
use ha_iscsi::pdu::{Bhs, Opcode, Pdu};
use support::portal;
use support::raw::Initiator;

mod support;

const NODE1: &str = "iqn.2025-09.com.example:node1";
const NODE2: &str = "iqn.2025-09.com.example:node2";
const TUR: [u8; 6] = [0; 6];
const WAIT: Duration = Duration::from_millis(300);

async fn setup() -> (SocketAddr, Arc<MemoryBackstore>) {
    let store = Arc::new(MemoryBackstore::new(512, 2048).unwrap());
    let addr = portal(Auth::None, Some(store.clone())).await;
    (addr, store)
}

/// The status of a TEST UNIT READY.
async fn tur(initiator: &mut Initiator, itt: u32) -> u8 {
    let command = initiator.command(itt, &TUR, 0, false);
    initiator.send(command).await;
    let response = initiator.next().await;
    assert_eq!(response.bhs.opcode(), Ok(Opcode::ScsiResponse));
    response.bhs.0[3]
}

async fn untouched(store: &MemoryBackstore) -> bool {
    let mut all = vec![0u8; 2048 * 512];
    store.read(0, &mut all).await.unwrap();
    all.iter().all(|b| *b == 0)
}

fn write10(lba: u32, blocks: u16) -> [u8; 10] {
    let mut cdb = [0u8; 10];
    cdb[0] = 0x2a;
    cdb[2..6].copy_from_slice(&lba.to_be_bytes());
    cdb[7..9].copy_from_slice(&blocks.to_be_bytes());
    cdb
}

#[tokio::test]
async fn an_unknown_opcode_is_rejected_and_the_connection_goes_on() {
    let (addr, _) = setup().await;
    let mut i = Initiator::login_offering(addr, NODE1, &[], false).await;
    let mut bad = Bhs::new(Opcode::NopOut);
    bad.0[0] = 0x1f;
    bad.set_final(true);
    i.send(Pdu::new(bad)).await;
    let reject = i.next().await;
    assert_eq!(
        (reject.bhs.opcode(), reject.bhs.0[2]),
        (Ok(Opcode::Reject), 0x05)
    );
    assert_eq!(reject.data[0], 0x1f, "the Reject quotes the header");
    assert_eq!(tur(&mut i, 2).await, 0);
}

#[tokio::test]
async fn a_wrong_header_digest_closes_only_that_connection() {
    let (addr, store) = setup().await;
    let mut bad = Initiator::login_offering(addr, NODE1, &[], true).await;
    let mut other = Initiator::login_offering(addr, NODE2, &[], true).await;
    let mut command = bad.command(1, &write10(0, 1), 512, true);
    command.data = Bytes::from(vec![0xee; 512]);
    let mut wire = BytesMut::new();
    command.encode(bad.digests(), &mut wire).unwrap();
    wire[48] ^= 0xff; // the header digest
    bad.send_bytes(&wire).await;
    assert!(
        bad.next_within(WAIT).await.is_none(),
        "closed without an answer"
    );
    assert!(untouched(&store).await);
    assert_eq!(tur(&mut other, 1).await, 0, "the other session carries on");
}

#[tokio::test]
async fn a_wrong_data_digest_is_rejected_and_nothing_is_written() {
    let (addr, store) = setup().await;
    let mut i = Initiator::login_offering(addr, NODE1, &[], true).await;
    // Immediate data with a bad digest: the command is rejected, not run.
    let mut command = i.command(1, &write10(0, 1), 512, true);
    command.data = Bytes::from(vec![0xee; 512]);
    let mut wire = BytesMut::new();
    command.encode(i.digests(), &mut wire).unwrap();
    let last = wire.len() - 1;
    wire[last] ^= 0xff;
    i.send_bytes(&wire).await;
    let reject = i.next().await;
    assert_eq!(
        (reject.bhs.opcode(), reject.bhs.0[2]),
        (Ok(Opcode::Reject), 0x02)
    );
    assert!(untouched(&store).await);
    // Sent again, sound, with the same CmdSN: it runs.
    i.send(command).await;
    let response = i.next().await;
    assert_eq!(
        (response.bhs.opcode(), response.bhs.0[3]),
        (Ok(Opcode::ScsiResponse), 0)
    );
    let mut block = [0u8; 512];
    store.read(0, &mut block).await.unwrap();
    assert_eq!(block, [0xee; 512]);
}

#[tokio::test]
async fn write_data_with_a_wrong_digest_ends_the_command_and_writes_nothing() {
    let (addr, store) = setup().await;
    let mut i = Initiator::login_offering(
        addr,
        NODE1,
        &[("InitialR2T", "Yes"), ("ImmediateData", "No")],
        true,
    )
    .await;
    let command = i.command(1, &write10(8, 2), 1024, true);
    i.send(command).await;
    let r2t = i.next().await;
    assert_eq!(r2t.bhs.opcode(), Ok(Opcode::R2t));
    let data_out = Initiator::data_out(1, r2t.bhs.u32_at(20), 0, &[0xdd; 1024], true);
    let mut wire = BytesMut::new();
    data_out.encode(i.digests(), &mut wire).unwrap();
    let last = wire.len() - 1;
    wire[last] ^= 0x01;
    i.send_bytes(&wire).await;
    let reject = i.next().await;
    assert_eq!(reject.bhs.opcode(), Ok(Opcode::Reject));
    let response = i.next().await;
    assert_eq!(
        (response.bhs.opcode(), response.bhs.0[3]),
        (Ok(Opcode::ScsiResponse), 2)
    );
    // ABORTED COMMAND, PROTOCOL SERVICE CRC ERROR.
    assert_eq!(
        (
            response.data[2 + 2],
            response.data[2 + 12],
            response.data[2 + 13]
        ),
        (0x0b, 0x47, 0x05)
    );
    assert!(untouched(&store).await);
    assert_eq!(tur(&mut i, 2).await, 0);
}

#[tokio::test]
async fn a_cmd_sn_outside_the_window_is_ignored() {
    let (addr, _) = setup().await;
    let mut i = Initiator::login_offering(addr, NODE1, &[], false).await;
    let mut stray = i.command(1, &TUR, 0, false);
    stray.bhs.set_u32_at(24, 1000);
    i.send(stray).await;
    assert!(i.next_within(WAIT).await.is_none(), "no answer");
    // Below the window too (an old CmdSN).
    let mut old = i.command(2, &TUR, 0, false);
    old.bhs.set_u32_at(24, 0);
    i.send(old).await;
    assert!(i.next_within(WAIT).await.is_none(), "no answer");
}

#[tokio::test]
async fn an_oversized_data_segment_closes_the_connection_and_writes_nothing() {
    let (addr, store) = setup().await;
    let mut big = Initiator::login_offering(addr, NODE1, &[], false).await;
    let mut other = Initiator::login_offering(addr, NODE2, &[], false).await;
    // Over the target's MaxRecvDataSegmentLength (256 KiB).
    let mut command = big.command(1, &write10(0, 1024), 512 * 1024, true);
    command.data = Bytes::from(vec![0xcc; 512 * 1024]);
    big.send(command).await;
    assert!(big.next_within(WAIT).await.is_none(), "closed");
    assert!(untouched(&store).await);
    assert_eq!(tur(&mut other, 1).await, 0);
}

#[tokio::test]
async fn garbage_never_hurts_other_sessions() {
    let (addr, store) = setup().await;
    let mut other = Initiator::login_offering(addr, NODE2, &[], false).await;
    let mut seed = 0x2545_f491_u64;
    for round in 0..20u32 {
        let mut i = Initiator::login_offering(addr, NODE1, &[], round % 2 == 0).await;
        let mut junk = vec![0u8; 64 + (round as usize * 97) % 4000];
        for b in junk.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        // Never a write command with data: garbage that happens to be one
        // would be a valid write, not bad input.
        junk[0] = 0x3f;
        i.send_bytes(&junk).await;
        let _ = i.next_within(Duration::from_millis(50)).await;
        assert_eq!(tur(&mut other, round + 1).await, 0, "round {round}");
    }
    assert!(untouched(&store).await);
}
