//! A portal's limits on real sockets: a connection over a bound (per
//! address, not logged in, per portal) is closed at once and counted,
//! while logged-in sessions go on; a command past a connection's byte
//! bound is refused and counted.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ha_iscsi::admission::{ConnectionCounts, ConnectionLimits};
use ha_iscsi::backstore::MemoryBackstore;
use ha_iscsi::initiator::InitiatorConfig;
use ha_iscsi::login::Auth;
use ha_iscsi::target::{PortalOptions, PortalStats};
use ha_iscsi::{InitiatorSession, LogicalUnit};
use support::IQN;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

mod support;

async fn portal(limits: ConnectionLimits) -> (SocketAddr, PortalStats) {
    portal_with(PortalOptions {
        connections: limits,
        ..PortalOptions::default()
    })
    .await
}

async fn portal_with(options: PortalOptions) -> (SocketAddr, PortalStats) {
    let mut portal = support::bind(support::chapter_config(Auth::None, None)).await;
    portal.set_options(options);
    let store = Arc::new(MemoryBackstore::new(512, 65_536).unwrap());
    portal
        .map_lun(IQN, 0, LogicalUnit::new(store, "disk1"))
        .unwrap();
    let (addr, stats) = (portal.local_addr().unwrap(), portal.stats());
    tokio::spawn(portal.serve());
    (addr, stats)
}

/// A connection to `addr` from loopback address `from` (127.0.0.x are
/// all this host's).
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::from(from), 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Whether the target closed `stream` without a word.
async fn closed_at_once(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut byte)).await;
    matches!(read, Ok(Ok(0)) | Ok(Err(_)))
}

/// Waits (polling the portal's counts, 30 s at most) until `done` holds.
async fn until(stats: &PortalStats, done: impl Fn(ConnectionCounts) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done(stats.connections()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            stats.connections()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn log_in(addr: SocketAddr) -> ha_iscsi::Result<InitiatorSession> {
    let config = InitiatorConfig::new("iqn.2025-09.com.example:node1");
    InitiatorSession::login(addr, IQN, &config).await
}

#[tokio::test]
async fn connections_over_a_bound_are_closed_and_counted() {
    let limits = ConnectionLimits {
        per_portal: 6,
        per_address: 4,
        logging_in: 3,
        logging_in_per_address: 2,
    };
    let (addr, stats) = portal(limits).await;
    let mut session = log_in(addr).await.unwrap();
    // Two idle connections from one address: a third is closed at once,
    // and so is a login from there.
    let mut idle = vec![
        connect_from([127, 0, 0, 1], addr).await,
        connect_from([127, 0, 0, 1], addr).await,
    ];
    let mut third = connect_from([127, 0, 0, 1], addr).await;
    assert!(closed_at_once(&mut third).await);
    assert!(log_in(addr).await.is_err());
    let counts = stats.connections();
    assert_eq!(counts.refused_address_logging_in, 2);
    assert_eq!((counts.open, counts.logging_in), (3, 2));
    // The logged-in session is not disturbed.
    assert_eq!(session.test_unit_ready(0).await.unwrap().0, 0);
    // Another address may still connect, until the portal holds 3 not
    // logged in.
    idle.push(connect_from([127, 0, 0, 2], addr).await);
    let mut fourth = connect_from([127, 0, 0, 3], addr).await;
    assert!(closed_at_once(&mut fourth).await);
    assert_eq!(stats.connections().refused_logging_in, 1);
    // One idle connection goes: a login from the first address gets in,
    // and then that address holds its 4.
    drop(idle.remove(0));
    until(&stats, |c| c.logging_in == 2).await;
    let mut second = log_in(addr).await.unwrap();
    assert_eq!(second.test_unit_ready(0).await.unwrap().0, 0);
    idle.push(connect_from([127, 0, 0, 1], addr).await);
    let mut over = connect_from([127, 0, 0, 1], addr).await;
    assert!(closed_at_once(&mut over).await);
    assert_eq!(stats.connections().refused_address, 1);
    drop(idle);
    session.logout().await.unwrap();
    second.logout().await.unwrap();
    until(&stats, |c| c.open == 0).await;
}

#[tokio::test]
async fn the_portal_holds_at_most_its_bound() {
    let limits = ConnectionLimits {
        per_portal: 3,
        ..ConnectionLimits::default()
    };
    let (addr, stats) = portal(limits).await;
    let mut session = log_in(addr).await.unwrap();
    let held = vec![
        connect_from([127, 0, 0, 2], addr).await,
        connect_from([127, 0, 0, 3], addr).await,
    ];
    let mut over = connect_from([127, 0, 0, 4], addr).await;
    assert!(closed_at_once(&mut over).await);
    assert_eq!(stats.connections().refused_portal, 1);
    assert_eq!(session.test_unit_ready(0).await.unwrap().0, 0);
    // Room again once one goes.
    drop(held);
    until(&stats, |c| c.open == 1).await;
    let _again = connect_from([127, 0, 0, 4], addr).await;
    until(&stats, |c| c.open == 2 && c.refused_portal == 1).await;
    session.logout().await.unwrap();
}

#[tokio::test]
async fn a_read_past_the_byte_bound_is_refused_and_counted() {
    let (addr, stats) = portal_with(PortalOptions {
        max_buffered: 24 << 20,
        ..PortalOptions::default()
    })
    .await;
    let mut session = log_in(addr).await.unwrap();
    // 4 MiB fits in 24 MiB beside the room kept for a command window of
    // PDUs (about 17 MiB at the target's 256 KiB data segments); 8 MiB
    // never can.
    assert_eq!(session.read(0, 0, 8192).await.unwrap().len(), 4 << 20);
    let err = session.read(0, 0, 16_384).await.unwrap_err();
    assert!(
        matches!(&err, ha_iscsi::Error::Scsi { status: 2, .. }),
        "{err}"
    );
    assert_eq!(stats.buffer_full(), 1);
    assert_eq!(session.test_unit_ready(0).await.unwrap().0, 0);
    session.logout().await.unwrap();
}
