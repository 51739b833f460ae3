//! libiscsi's `iscsi-ls` discovers the targets of an ha-iscsi portal: a
//! real initiator through the login phase and a discovery session
//! (skipped with a reason without libiscsi-bin; required under CI=true).

use std::process::Command;

use ha_iscsi::login::{Auth, LoginConfig, TargetEntry};
use ha_iscsi::negotiation::TargetLimits;
use ha_iscsi::target::Portal;

const IQN: &str = "iqn.2025-09.com.example:storage";

fn have_iscsi_ls() -> bool {
    if Command::new("iscsi-ls").arg("--help").output().is_ok() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required under CI: iscsi-ls (apt-get install libiscsi-bin)");
    }
    eprintln!("SKIPPED: iscsi-ls is not installed (apt-get install libiscsi-bin)");
    false
}

async fn portal(auth: Auth) -> std::net::SocketAddr {
    let config = LoginConfig {
        targets: vec![TargetEntry {
            name: IQN.into(),
            auth: Auth::None,
            allowed: None,
        }],
        discovery_auth: auth,
        portal_group_tag: 1,
        limits: TargetLimits::default(),
    };
    let portal = Portal::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let addr = portal.local_addr().unwrap();
    tokio::spawn(portal.serve());
    addr
}

async fn iscsi_ls(url: String) -> std::process::Output {
    tokio::task::spawn_blocking(move || Command::new("iscsi-ls").arg(url).output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn iscsi_ls_discovers_the_target() {
    if !have_iscsi_ls() {
        return;
    }
    let addr = portal(Auth::None).await;
    let out = iscsi_ls(format!("iscsi://{addr}")).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "iscsi-ls failed");
    assert!(stdout.contains(&format!("Target:{IQN}")), "{stdout}");
    assert!(stdout.contains(&format!("Portal:{addr},1")), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_with_chap_needs_the_right_secret() {
    if !have_iscsi_ls() {
        return;
    }
    let auth = Auth::Chap {
        users: vec![("node1".into(), b"initiatorsecret".to_vec())],
        mutual: None,
    };
    let addr = portal(auth).await;
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
