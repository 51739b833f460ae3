//! libiscsi's conformance suite (`iscsi-test-cu`) against an ha-iscsi
//! portal, for the command families implemented so far, on a memory LUN
//! and a file LUN. Any failure fails the test; skips are counted and named
//! (CUnit counts them as passes). Skipped with a reason without
//! libiscsi-bin; required under CI=true.

use std::process::Command;
use std::sync::Arc;

use ha_iscsi::backstore::{BlockTarget, FileBackstore, MemoryBackstore};
use ha_iscsi::login::Auth;
use support::{IQN, have, portal};

mod support;

/// The families whose commands ha-iscsi serves today.
const FAMILIES: [&str; 11] = [
    "SCSI.TestUnitReady",
    "SCSI.Inquiry",
    "SCSI.ReadCapacity10",
    "SCSI.ReadCapacity16",
    "SCSI.Read6",
    "SCSI.Read10",
    "SCSI.Read12",
    "SCSI.Read16",
    "SCSI.Write10",
    "SCSI.Write12",
    "SCSI.Write16",
];

/// Runs the families; returns (ran, failed, skipped lines).
async fn run_suite(addr: std::net::SocketAddr) -> (u32, u32, Vec<String>) {
    let (mut ran, mut failed, mut skipped) = (0, 0, Vec::new());
    for family in FAMILIES {
        let url = format!("iscsi://{addr}/{IQN}/0");
        let out = tokio::task::spawn_blocking(move || {
            Command::new("iscsi-test-cu")
                .args(["-d", "-t", family, &url])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let row: Vec<u32> = text
            .lines()
            .find(|l| l.trim_start().starts_with("tests "))
            .unwrap_or_else(|| panic!("{family}: no summary\n{text}"))
            .split_whitespace()
            .skip(1)
            .filter_map(|w| w.parse().ok())
            .collect();
        // Total, Ran, Passed, Failed, Inactive.
        ran += row[1];
        failed += row[3];
        if row[3] > 0 {
            eprintln!("{family} failed:\n{text}");
        }
        skipped.extend(
            text.lines()
                .filter_map(|l| l.split("[SKIPPED]").nth(1))
                .map(|s| format!("{family}: {}", s.trim())),
        );
    }
    skipped.sort();
    skipped.dedup();
    (ran, failed, skipped)
}

async fn check(storage: Arc<dyn BlockTarget>, what: &str) {
    let addr = portal(Auth::None, Some(storage)).await;
    let (ran, failed, skipped) = run_suite(addr).await;
    eprintln!("{what}: {ran} tests ran, {failed} failed; skips:");
    for s in &skipped {
        eprintln!("  {s}");
    }
    assert!(ran >= 40, "{ran} tests ran");
    assert_eq!(failed, 0, "{what}: failures");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_suite_passes_on_a_memory_lun() {
    if !have("iscsi-test-cu") {
        return;
    }
    check(
        Arc::new(MemoryBackstore::new(512, 131_072).unwrap()),
        "memory LUN",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_suite_passes_on_a_file_lun() {
    if !have("iscsi-test-cu") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ha-iscsi-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("disk1.img");
    let _ = std::fs::remove_file(&path);
    let store = FileBackstore::open(&path, Some(64 << 20), 512).unwrap();
    check(Arc::new(store), "file LUN").await;
    let _ = std::fs::remove_dir_all(dir);
}
