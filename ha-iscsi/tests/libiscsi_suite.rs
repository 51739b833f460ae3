//! libiscsi's conformance suite (`iscsi-test-cu -d -t ALL`) against an
//! ha-iscsi portal, on a memory LUN and on a file LUN, and its ReadOnly
//! family on a write-protected LUN. Any failure fails the test. CUnit
//! counts skips as passes, so skips are counted apart and each must have a
//! reason listed in [`OPTIONAL`]. Skipped with a reason without
//! libiscsi-bin; required under CI=true.

use std::process::Command;
use std::sync::Arc;

use ha_iscsi::backstore::{BlockTarget, FileBackstore, MemoryBackstore};
use ha_iscsi::login::Auth;
use ha_iscsi::scsi::LogicalUnit;
use support::{IQN, have, portal_with};

mod support;

/// The suite's skip messages that name something genuinely optional, and
/// why ha-iscsi does not serve it.
const OPTIONAL: [(&str, &str); 11] = [
    (
        "--allow-sanitize flag is not set",
        "SANITIZE (optional in SBC-4) is not served: it erases the whole LUN",
    ),
    (
        "EXTENDEDCOPY is not implemented",
        "EXTENDED COPY (optional third-party copy) is not served",
    ),
    (
        "RECEIVECOPYRESULT is not implemented",
        "EXTENDED COPY's results: not served",
    ),
    (
        "RECEIVE_COPY_RESULTS is not implemented",
        "EXTENDED COPY's results: not served",
    ),
    ("LBPPB < 2", "logical and physical blocks are the same size"),
    (
        "not removable",
        "a disk, not removable media (PREVENT ALLOW, eject)",
    ),
    (
        "READDEFECTDATA10 is not implemented",
        "virtual storage has no defect list",
    ),
    (
        "READDEFECTDATA12 is not implemented",
        "virtual storage has no defect list",
    ),
    (
        "WRITEATOMIC16 is not implemented",
        "WRITE ATOMIC (16) is optional in SBC-4",
    ),
    (
        "REPORT_SUPPORTED_OPCODES is not implemented",
        "OneCommand: libiscsi counts the INVALID FIELD IN CDB it expects for MAINTENANCE IN as 'not implemented'",
    ),
    (
        "Logical unit is not write-protected",
        "covered by the read-only pass",
    ),
];

/// What one run of the suite reported.
struct Report {
    ran: u32,
    failed: u32,
    /// `Suite.Test: reason` for every skip.
    skipped: Vec<String>,
}

/// Runs `family` against LUN 0 of the portal at `addr` (the URL given
/// twice: the MultipathIO tests need a second path).
async fn run_suite(addr: std::net::SocketAddr, family: &str) -> Report {
    let url = format!("iscsi://{addr}/{IQN}/0");
    let family = family.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("iscsi-test-cu")
            .args(["-d", "-t", &family, &url, &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let row: Vec<u32> = text
        .lines()
        .find(|l| l.trim_start().starts_with("tests "))
        .unwrap_or_else(|| panic!("no summary\n{text}"))
        .split_whitespace()
        .skip(1)
        .filter_map(|w| w.parse().ok())
        .collect();
    let (mut suite, mut test) = (String::new(), String::new());
    let mut skipped = Vec::new();
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("Suite: ") {
            suite = s.trim().to_owned();
        }
        if let Some(t) = line.trim_start().strip_prefix("Test: ") {
            test = t.split(" ...").next().unwrap_or(t).trim().to_owned();
        }
        if let Some(reason) = line.split("[SKIPPED]").nth(1) {
            skipped.push(format!("{suite}.{test}: {}", reason.trim()));
        }
    }
    skipped.sort();
    skipped.dedup();
    // Total, Ran, Passed, Failed, Inactive.
    if row[3] > 0 {
        eprintln!("{text}");
    }
    Report {
        ran: row[1],
        failed: row[3],
        skipped,
    }
}

fn check(report: &Report, what: &str, at_least: u32) {
    let unexplained: Vec<&String> = report
        .skipped
        .iter()
        .filter(|s| !OPTIONAL.iter().any(|(reason, _)| s.contains(reason)))
        .collect();
    let tests_skipped = {
        let mut names: Vec<&str> = report
            .skipped
            .iter()
            .filter_map(|s| s.split(':').next())
            .collect();
        names.dedup();
        names.len()
    };
    eprintln!(
        "{what}: {} tests ran, {} passed, {} failed, {tests_skipped} skipped:",
        report.ran,
        report.ran - report.failed - tests_skipped as u32,
        report.failed,
    );
    for s in &report.skipped {
        let why = OPTIONAL
            .iter()
            .find(|(reason, _)| s.contains(reason))
            .map_or("UNEXPLAINED", |(_, why)| why);
        eprintln!("  {s} ({why})");
    }
    assert!(
        report.ran >= at_least,
        "{what}: only {} tests ran",
        report.ran
    );
    assert_eq!(report.failed, 0, "{what}: failures");
    assert!(
        unexplained.is_empty(),
        "{what}: skips without a reason: {unexplained:?}"
    );
}

async fn whole_suite(storage: Arc<dyn BlockTarget>, what: &str) {
    let unit = LogicalUnit::new(storage, "disk1");
    let addr = portal_with(Auth::None, Some(unit)).await;
    let report = run_suite(addr, "ALL").await;
    check(&report, what, 230);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_suite_passes_on_a_memory_lun() {
    if !have("iscsi-test-cu") {
        return;
    }
    whole_suite(
        Arc::new(MemoryBackstore::new(512, 131_072).unwrap()),
        "memory LUN",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_suite_passes_on_a_file_lun() {
    if !have("iscsi-test-cu") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ha-iscsi-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("disk1.img");
    let _ = std::fs::remove_file(&path);
    let store = FileBackstore::open(&path, Some(64 << 20), 512).unwrap();
    whole_suite(Arc::new(store), "file LUN").await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_protected_lun_refuses_writes() {
    if !have("iscsi-test-cu") {
        return;
    }
    let store = Arc::new(MemoryBackstore::new(512, 8192).unwrap());
    let unit = LogicalUnit::new(store, "ro").read_only(true);
    let addr = portal_with(Auth::None, Some(unit)).await;
    let report = run_suite(addr, "ALL.ReadOnly").await;
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    check(&report, "read-only LUN", 1);
}
