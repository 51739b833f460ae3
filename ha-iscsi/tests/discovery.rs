//! libiscsi's `iscsi-ls` discovers the targets of an ha-iscsi portal: a
//! real initiator through the login phase and a discovery session
//! (skipped with a reason without libiscsi-bin; required under CI=true).

use std::process::Command;

use std::sync::Arc;

use ha_iscsi::backstore::MemoryBackstore;
use ha_iscsi::login::Auth;
use support::{IQN, have, portal};

mod support;

async fn run(tool: &'static str, args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || Command::new(tool).args(args).output().unwrap())
        .await
        .unwrap()
}

async fn iscsi_ls(url: String) -> std::process::Output {
    run("iscsi-ls", vec![url]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn iscsi_ls_discovers_the_target() {
    if !have("iscsi-ls") {
        return;
    }
    let addr = portal(Auth::None, None).await;
    let out = iscsi_ls(format!("iscsi://{addr}")).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "iscsi-ls failed");
    assert!(stdout.contains(&format!("Target:{IQN}")), "{stdout}");
    assert!(stdout.contains(&format!("Portal:{addr},1")), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_with_chap_needs_the_right_secret() {
    if !have("iscsi-ls") {
        return;
    }
    let auth = Auth::Chap {
        users: vec![("node1".into(), b"initiatorsecret".to_vec())],
        mutual: None,
    };
    let addr = portal(auth, None).await;
    let ok = iscsi_ls(format!("iscsi://node1%initiatorsecret@{addr}")).await;
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains(IQN),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for url in [
        format!("iscsi://node1%wrongsecret12@{addr}"),
        format!("iscsi://{addr}"),
    ] {
        let bad = iscsi_ls(url.clone()).await;
        assert!(!bad.status.success(), "{url} must be refused");
        assert!(!String::from_utf8_lossy(&bad.stdout).contains(IQN));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn libiscsi_tools_see_the_lun_its_identity_and_size() {
    if !have("iscsi-ls") {
        return;
    }
    // The chapter's 1 GiB disk, in memory for the test: 64 MiB.
    let store = MemoryBackstore::new(512, 131_072).unwrap();
    let addr = portal(Auth::None, Some(Arc::new(store))).await;
    let out = run("iscsi-ls", vec!["-s".into(), format!("iscsi://{addr}")]).await;
    let listing = String::from_utf8_lossy(&out.stdout);
    eprintln!("{listing}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    assert!(listing.contains("Lun:0"), "{listing}");
    let out = run("iscsi-inq", vec![format!("iscsi://{addr}/{IQN}/0")]).await;
    let inquiry = String::from_utf8_lossy(&out.stdout);
    eprintln!("{inquiry}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    assert!(inquiry.contains("HA-RS"), "{inquiry}");
    let out = run(
        "iscsi-readcapacity16",
        vec![format!("iscsi://{addr}/{IQN}/0")],
    )
    .await;
    let capacity = String::from_utf8_lossy(&out.stdout);
    eprintln!("{capacity}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    assert!(
        capacity.contains("131071") || capacity.contains(&(64u64 << 20).to_string()),
        "{capacity}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_acl_shows_an_initiator_only_its_mapped_luns() {
    use ha_iscsi::scsi::LogicalUnit;

    if !have("iscsi-ls") {
        return;
    }
    const NODE1: &str = "iqn.2025-09.com.example:node1";
    const NODE2: &str = "iqn.2025-09.com.example:node2";
    let mut portal = support::bind(support::chapter_config(Auth::None, None)).await;
    for (lun, blocks) in [(0, 2048), (1, 4096)] {
        let store = Arc::new(MemoryBackstore::new(512, blocks).unwrap());
        portal
            .map_lun(IQN, lun, LogicalUnit::new(store, &format!("disk{lun}")))
            .unwrap();
    }
    // node1 sees the target's LUN 1 as its LUN 0; node2 has no ACL.
    portal.map_acl_lun(IQN, NODE1, 0, 1, true).unwrap();
    let addr = portal.local_addr().unwrap();
    tokio::spawn(portal.serve());
    let luns = |node: &'static str| async move {
        let out = run(
            "iscsi-ls",
            vec![
                "-s".into(),
                "-i".into(),
                node.into(),
                format!("iscsi://{addr}"),
            ],
        )
        .await;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("{node}:\n{text}");
        text.lines()
            .filter(|l| l.contains("Lun:"))
            .map(|l| l.trim().to_owned())
            .collect::<Vec<_>>()
    };
    let node1 = luns(NODE1).await;
    let node2 = luns(NODE2).await;
    assert_eq!(node1.len(), 1, "{node1:?}");
    assert_eq!(node2.len(), 2, "{node2:?}");
    // iscsi-ls prints sizes from the last block's address: LUN 0 of node1
    // is the target's LUN 1 (4096 blocks), not its LUN 0 (2048).
    let size = |line: &str| line.split("Size:").nth(1).map(str::to_owned);
    assert!(node1[0].starts_with("Lun:0"), "{node1:?}");
    assert_eq!(size(&node1[0]), size(&node2[1]), "{node1:?} {node2:?}");
    assert_ne!(size(&node2[0]), size(&node2[1]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_initiator_outside_the_acl_is_refused() {
    use ha_iscsi::scsi::LogicalUnit;

    if !have("iscsi-inq") {
        return;
    }
    const NODE1: &str = "iqn.2025-09.com.example:node1";
    let config = support::chapter_config(Auth::None, Some(vec![NODE1.into()]));
    let mut portal = support::bind(config).await;
    let store = Arc::new(MemoryBackstore::new(512, 2048).unwrap());
    portal
        .map_lun(IQN, 0, LogicalUnit::new(store, "disk1"))
        .unwrap();
    let addr = portal.local_addr().unwrap();
    tokio::spawn(portal.serve());
    let url = format!("iscsi://{addr}/{IQN}/0");
    let inq = |node: &str| run("iscsi-inq", vec!["-i".into(), node.into(), url.clone()]);
    let allowed = inq(NODE1).await;
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let refused = inq("iqn.2025-09.com.example:intruder").await;
    assert!(
        !refused.status.success(),
        "an initiator outside the ACL logged in"
    );
}
