//! What ha-iscsi's integration tests share: a portal on loopback with the
//! chapter's target, and the check for libiscsi's tools.
#![allow(dead_code)]

pub mod raw;
pub mod tgtd;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use ha_iscsi::backstore::BlockTarget;
use ha_iscsi::login::{Auth, LoginConfig};
use ha_iscsi::scsi::LogicalUnit;
use ha_iscsi::target::Portal;

/// The chapter's target name.
pub const IQN: &str = "iqn.2025-09.com.example:storage";

/// Serves the chapter's target (no authentication for normal sessions,
/// `discovery_auth` for discovery) on a free loopback port, with `lun` as
/// LUN 0 if given; its address.
pub async fn portal(discovery_auth: Auth, lun: Option<Arc<dyn BlockTarget>>) -> SocketAddr {
    portal_with(discovery_auth, lun.map(|s| LogicalUnit::new(s, "disk1"))).await
}

/// [`portal`] with a logical unit of the caller's making.
pub async fn portal_with(discovery_auth: Auth, unit: Option<LogicalUnit>) -> SocketAddr {
    let mut config = chapter_config(Auth::None, None);
    config.discovery_auth = discovery_auth;
    let mut portal = bind(config).await;
    if let Some(unit) = unit {
        portal.map_lun(IQN, 0, unit).unwrap();
    }
    let addr = portal.local_addr().unwrap();
    tokio::spawn(portal.serve());
    addr
}

/// The chapter's target alone, with `auth` and the initiators `allowed`
/// (`None`: any); open discovery.
pub fn chapter_config(auth: Auth, allowed: Option<Vec<String>>) -> LoginConfig {
    let mut config = LoginConfig::single(IQN, auth);
    config.targets[0].allowed = allowed;
    config
}

/// A portal for `config` on a free loopback port, not serving yet.
pub async fn bind(config: LoginConfig) -> Portal {
    Portal::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

/// Whether libiscsi's `tool` runs here; skips with a reason otherwise
/// (a failure under CI=true).
pub fn have(tool: &str) -> bool {
    if Command::new(tool).arg("--help").output().is_ok() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required under CI: {tool} (apt-get install libiscsi-bin)");
    }
    eprintln!("SKIPPED: {tool} is not installed (apt-get install libiscsi-bin)");
    false
}
