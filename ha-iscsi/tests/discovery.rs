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
