//! ha-iscsi's initiator against ha-iscsi's target and against tgt's
//! `tgtd`, the reference target: discovery, login with and without CHAP,
//! INQUIRY, READ CAPACITY, WRITE with FUA and READ back, SYNCHRONIZE
//! CACHE, and persistent reservations as `fence_scsi` uses them. The same
//! scenario gives the same observations on both targets. tgtd needs root
//! and the tgt package: skipped with a reason otherwise, required under
//! CI=true.

use std::net::SocketAddr;
use std::sync::Arc;

use ha_iscsi::backstore::MemoryBackstore;
use ha_iscsi::initiator::{InitiatorConfig, Lun, Session, discover};
use ha_iscsi::login::Auth;
use ha_iscsi::scsi::LogicalUnit;
use support::tgtd::{have_tgtd, tgtd};
use support::{IQN, portal};

mod support;

const NODE1: &str = "iqn.2025-09.com.example:node1";
const NODE2: &str = "iqn.2025-09.com.example:node2";

/// What the scenario saw, as comparable lines.
async fn scenario(addr: SocketAddr, target: &str, lun: u64) -> Vec<String> {
    let mut seen = Vec::new();
    let node1 = InitiatorConfig::new(NODE1);
    let found = discover(addr, &node1).await.unwrap();
    seen.push(format!(
        "discovered {}",
        found.iter().any(|t| t.name == target)
    ));
    let mut a = Session::login(addr, target, &node1).await.unwrap();
    let mut b = Session::login(addr, target, &InitiatorConfig::new(NODE2))
        .await
        .unwrap();
    // Clear the unit attention a new nexus may have.
    for s in [&mut a, &mut b] {
        for _ in 0..3 {
            if s.test_unit_ready(lun).await.unwrap().0 == 0 {
                break;
            }
        }
    }
    let (blocks, size) = a.read_capacity(lun).await.unwrap();
    seen.push(format!("capacity {blocks} x {size}"));
    let pattern: Vec<u8> = (0..size as usize * 8).map(|i| (i % 251) as u8).collect();
    a.write(lun, 16, &pattern, true).await.unwrap();
    a.synchronize_cache(lun).await.unwrap();
    let back = b.read(lun, 16, 8).await.unwrap();
    seen.push(format!("read back by the other node: {}", back == pattern));
    // A read past the end: CHECK CONDITION, ILLEGAL REQUEST, LBA OUT OF RANGE.
    let mut cdb = [0u8; 16];
    cdb[0] = 0x88;
    cdb[2..10].copy_from_slice(&blocks.to_be_bytes());
    cdb[13] = 1;
    let o = a.command(lun, &cdb, &[], size as usize).await.unwrap();
    seen.push(format!(
        "read past the end: status {:#04x} sense {:?}",
        o.status,
        o.sense.map(|s| (s.key, s.asc, s.ascq))
    ));
    // fence_scsi: both register, node1 reserves Write Exclusive
    // Registrants Only, then preempts node2's key.
    let status = |o: ha_iscsi::initiator::Outcome| match o.sense {
        Some(s) => format!("{:#04x} {:x}/{:02x}/{:02x}", o.status, s.key, s.asc, s.ascq),
        None => format!("{:#04x}", o.status),
    };
    seen.push(format!(
        "register a: {}",
        status(
            a.persistent_reserve_out(lun, 6, 0, 0, 0xa1, false)
                .await
                .unwrap()
        )
    ));
    seen.push(format!(
        "register b: {}",
        status(
            b.persistent_reserve_out(lun, 6, 0, 0, 0xb2, false)
                .await
                .unwrap()
        )
    ));
    seen.push(format!(
        "reserve a: {}",
        status(
            a.persistent_reserve_out(lun, 1, 5, 0xa1, 0, false)
                .await
                .unwrap()
        )
    ));
    let mut keys = a.read_keys(lun).await.unwrap();
    keys.sort_unstable();
    seen.push(format!("keys {keys:x?}"));
    let write = |lba: u64| {
        let mut cdb = [0u8; 16];
        cdb[0] = 0x8a;
        cdb[2..10].copy_from_slice(&lba.to_be_bytes());
        cdb[13] = 1;
        cdb
    };
    let block = vec![0x5a; size as usize];
    let o = b.command(lun, &write(40), &block, 0).await.unwrap();
    seen.push(format!("registrant b writes: {}", status(o)));
    seen.push(format!(
        "preempt b: {}",
        status(
            a.persistent_reserve_out(lun, 4, 5, 0xa1, 0xb2, false)
                .await
                .unwrap()
        )
    ));
    // The preempted node hears of it (a unit attention), then is fenced.
    // (SPC-4 5.13.11.3 says REGISTRATIONS PREEMPTED, 2A/05, which
    // ha-iscsi sends; tgtd sends RESERVATIONS PREEMPTED, 2A/03: only the
    // key and code are compared.)
    let (ua, sense) = b.test_unit_ready(lun).await.unwrap();
    seen.push(format!(
        "b told: {ua:#04x} {:?}",
        sense.map(|s| (s.key, s.asc))
    ));
    if sense.is_some_and(|s| s.ascq == 0x05) {
        eprintln!("b told: REGISTRATIONS PREEMPTED");
    }
    let o = b.command(lun, &write(41), &block, 0).await.unwrap();
    seen.push(format!("fenced b writes: {}", status(o)));
    let o = a.command(lun, &write(42), &block, 0).await.unwrap();
    seen.push(format!("holder a writes: {}", status(o)));
    seen.push(format!("keys after {:x?}", a.read_keys(lun).await.unwrap()));
    // Leave the LUN clean: CLEAR.
    seen.push(format!(
        "clear: {}",
        status(
            a.persistent_reserve_out(lun, 3, 0, 0xa1, 0, false)
                .await
                .unwrap()
        )
    ));
    a.logout().await.unwrap();
    b.logout().await.unwrap();
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn the_initiator_works_against_ha_target() {
    let addr = portal(
        Auth::None,
        Some(Arc::new(MemoryBackstore::new(512, 8192).unwrap())),
    )
    .await;
    let seen = scenario(addr, IQN, 0).await;
    for line in &seen {
        eprintln!("{line}");
    }
    assert!(seen.contains(&"read back by the other node: true".to_owned()));
    assert!(
        seen.contains(&"fenced b writes: 0x18".to_owned()),
        "{seen:?}"
    );
    assert!(seen.contains(&"holder a writes: 0x00".to_owned()));
    let mut session = Session::login(addr, IQN, &InitiatorConfig::new(NODE1))
        .await
        .unwrap();
    let (vendor, product, _) = session.inquiry(0).await.unwrap();
    assert_eq!((vendor.as_str(), product.as_str()), ("HA-RS", "ha-iscsi"));
    session.logout().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_past_the_end_is_a_typed_scsi_error() {
    let addr = portal(
        Auth::None,
        Some(Arc::new(MemoryBackstore::new(512, 64).unwrap())),
    )
    .await;
    let mut session = Session::login(addr, IQN, &InitiatorConfig::new(NODE1))
        .await
        .unwrap();
    // A new nexus starts with a unit attention (POWER ON OCCURRED).
    for _ in 0..3 {
        if session.test_unit_ready(0).await.unwrap().0 == 0 {
            break;
        }
    }
    let e = session.read(Lun(0), 64, 1).await.unwrap_err();
    let ha_iscsi::Error::Scsi {
        status,
        sense: Some(sense),
    } = e
    else {
        panic!("expected a SCSI status, got {e:?}");
    };
    assert_eq!(status, ha_iscsi::scsi::CHECK_CONDITION);
    assert_eq!(sense.key, 5);
    assert_eq!((sense.asc, sense.ascq), (0x21, 0x00));
    assert_eq!(
        e.to_string(),
        "CHECK CONDITION, sense ILLEGAL REQUEST/LOGICAL BLOCK ADDRESS OUT OF RANGE (5/21/00)"
    );
    // The session goes on.
    assert_eq!(session.read(0, 63, 1).await.unwrap(), vec![0; 512]);
    session.logout().await.unwrap();
}

async fn chap_portal() -> SocketAddr {
    let auth = Auth::Chap {
        users: vec![("node1".into(), b"initiatorsecret".to_vec())],
        mutual: Some(("storage".into(), b"targetsecret12".to_vec())),
    };
    let mut portal = support::bind(support::chapter_config(auth, None)).await;
    let store = Arc::new(MemoryBackstore::new(512, 64).unwrap());
    portal
        .map_lun(IQN, 0, LogicalUnit::new(store, "disk1"))
        .unwrap();
    let addr = portal.local_addr().unwrap();
    tokio::spawn(portal.serve());
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn chap_and_mutual_chap_from_the_initiator() {
    let addr = chap_portal().await;
    let good = InitiatorConfig::new(NODE1).with_chap("node1", b"initiatorsecret");
    let mut s = Session::login(addr, IQN, &good).await.unwrap();
    assert_eq!(s.read_capacity(0).await.unwrap(), (64, 512));
    s.logout().await.unwrap();
    let mutual = good.clone().with_mutual_chap("storage", b"targetsecret12");
    Session::login(addr, IQN, &mutual)
        .await
        .unwrap()
        .logout()
        .await
        .unwrap();
    let wrong = InitiatorConfig::new(NODE1).with_chap("node1", b"wrongsecret1");
    let e = Session::login(addr, IQN, &wrong).await.unwrap_err();
    assert_eq!(
        e,
        ha_iscsi::Error::LoginRefused {
            class: 2,
            detail: 1
        }
    );
    let none = InitiatorConfig::new(NODE1);
    assert!(
        Session::login(addr, IQN, &none).await.is_err(),
        "CHAP is required"
    );
    // The target must prove itself too: a wrong expected secret fails.
    let suspicious = good.with_mutual_chap("storage", b"anothersecret1");
    let e = Session::login(addr, IQN, &suspicious).await.unwrap_err();
    assert!(matches!(e, ha_iscsi::Error::Protocol(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_scenario_gives_the_same_results_on_tgtd() {
    if !have_tgtd() {
        return;
    }
    let (_tgtd, tgt_addr) = tgtd(
        "iqn.2025-09.com.example:tgt",
        8192,
        100 + std::process::id() % 800,
    );
    let on_tgt = scenario(tgt_addr, "iqn.2025-09.com.example:tgt", 1).await;
    let addr = portal(
        Auth::None,
        Some(Arc::new(MemoryBackstore::new(512, 8192).unwrap())),
    )
    .await;
    let on_ours = scenario(addr, IQN, 0).await;
    for (t, o) in on_tgt.iter().zip(&on_ours) {
        eprintln!("tgtd: {t:<60} ha-iscsi: {o}");
    }
    assert_eq!(on_tgt, on_ours);
}
