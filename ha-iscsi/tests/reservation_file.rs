//! The persistent-reservation file under pressure: changes from two
//! sessions at once leave the file holding what is in force, and a save
//! that fails changes nothing, in memory or on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ha_iscsi::backstore::{BlockTarget, MemoryBackstore};
use ha_iscsi::initiator::Lun;
use ha_iscsi::login::Auth;
use ha_iscsi::scsi::reservation::Reservations;
use ha_iscsi::{InitiatorConfig, InitiatorSession, LogicalUnit, Sense};
use support::{IQN, portal_with};

mod support;

/// A fresh directory for one test's reservation file.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ha-iscsi-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn unit(file: &Path) -> LogicalUnit {
    let store: Arc<dyn BlockTarget> = Arc::new(MemoryBackstore::new(512, 64).unwrap());
    LogicalUnit::new(store, "disk1")
        .with_reservation_file(file)
        .unwrap()
}

fn on_disk(file: &Path) -> Reservations {
    Reservations::parse(&std::fs::read_to_string(file).unwrap()).unwrap()
}

async fn login(addr: std::net::SocketAddr, node: &str) -> InitiatorSession {
    let config = InitiatorConfig::new(&format!("iqn.2025-09.com.example:{node}"));
    InitiatorSession::login(addr, IQN, &config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_from_two_sessions_at_once_leave_the_file_as_in_force() {
    let dir = scratch("pr-race");
    let file = dir.join("disk1.pr");
    let unit = unit(&file);
    let addr = portal_with(Auth::None, Some(unit.clone())).await;
    let (mut one, mut two) = (login(addr, "node1").await, login(addr, "node2").await);
    for round in 1..=40u64 {
        // REGISTER AND IGNORE EXISTING KEY with APTPL from both at once.
        let (a, b) = tokio::join!(
            one.persistent_reserve_out(Lun(0), 6, 0, 0, round * 2, true),
            two.persistent_reserve_out(Lun(0), 6, 0, 0, round * 2 + 1, true),
        );
        assert_eq!(
            (a.unwrap().status, b.unwrap().status),
            (0, 0),
            "round {round}"
        );
        let in_force = unit.reservations();
        assert_eq!(in_force.registrations.len(), 2);
        assert_eq!(on_disk(&file), in_force, "round {round}");
    }
    // Only the file itself is left: every temporary name was renamed
    // over it.
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(names.len(), 1, "{names:?}");
    one.logout().await.unwrap();
    two.logout().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_save_that_fails_changes_nothing() {
    let dir = scratch("pr-fail");
    let file = dir.join("disk1.pr");
    let unit = unit(&file);
    let addr = portal_with(Auth::None, Some(unit.clone())).await;
    let mut session = login(addr, "node1").await;
    let c = session
        .persistent_reserve_out(Lun(0), 6, 0, 0, 7, true)
        .await
        .unwrap();
    assert_eq!(c.status, 0);
    let saved = std::fs::read(&file).unwrap();
    let in_force = unit.reservations();
    // The directory goes away: the next save cannot be written.
    let away = dir.with_extension("away");
    let _ = std::fs::remove_dir_all(&away);
    std::fs::rename(&dir, &away).unwrap();
    let c = session
        .persistent_reserve_out(Lun(0), 0, 0, 7, 9, true)
        .await
        .unwrap();
    assert_eq!((c.status, c.sense), (2, Some(Sense::COMMUNICATION_FAILURE)));
    assert_eq!(unit.reservations(), in_force);
    assert_eq!(session.read_keys(Lun(0)).await.unwrap(), [7]);
    std::fs::rename(&away, &dir).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), saved);
    // The state in force still changes once the file can be written, and
    // a restart reads it back.
    let c = session
        .persistent_reserve_out(Lun(0), 0, 0, 7, 9, true)
        .await
        .unwrap();
    assert_eq!(c.status, 0);
    assert_eq!(self::unit(&file).reservations(), unit.reservations());
    session.logout().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
