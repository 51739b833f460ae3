//! Writes through the portal, PDU by PDU, as an initiator sends them:
//! immediate data, unsolicited Data-Out (InitialR2T=No), and the rest by
//! R2T in bursts of at most MaxBurstLength; then read back.

use std::sync::Arc;

use ha_iscsi::backstore::MemoryBackstore;
use ha_iscsi::login::Auth;
use support::portal;
use support::raw::Initiator;

mod support;

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
