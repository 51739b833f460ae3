//! QEMU's own iSCSI client (libiscsi inside qemu-img and qemu-io) against
//! an ha-iscsi portal: `qemu-img info` sees the LUN's size, `qemu-io`
//! writes a pattern and reads it back verified, and the bytes are on the
//! LUN. qemu's iSCSI driver comes from `scripts/qemu-iscsi` (the machine's
//! qemu-utils lacks it); skipped with a reason without it, required under
//! CI=true.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use ha_iscsi::backstore::{BlockTarget, MemoryBackstore};
use ha_iscsi::login::Auth;
use support::{IQN, portal};

mod support;

/// Where scripts/qemu-iscsi unpacked qemu (or $HA_QEMU_ISCSI).
fn qemu_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HA_QEMU_ISCSI")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/ha-rs/qemu-iscsi"));
    if dir.join("usr/bin/qemu-img").exists() {
        return Some(dir);
    }
    let why = format!(
        "no qemu with the iSCSI driver in {} (run scripts/qemu-iscsi)",
        dir.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required under CI: {why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

async fn qemu(dir: &std::path::Path, tool: &str, args: Vec<String>) -> std::process::Output {
    let program = dir.join("usr/bin").join(tool);
    let modules = dir.join("usr/lib/x86_64-linux-gnu/qemu");
    tokio::task::spawn_blocking(move || {
        Command::new(program)
            .env("QEMU_MODULE_DIR", modules)
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn qemu_writes_a_pattern_and_reads_it_back() {
    let Some(dir) = qemu_dir() else { return };
    let store = Arc::new(MemoryBackstore::new(512, 65_536).unwrap());
    let addr = portal(Auth::None, Some(store.clone())).await;
    let url = format!("iscsi://{addr}/{IQN}/0");
    let info = qemu(&dir, "qemu-img", vec!["info".into(), url.clone()]).await;
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&info.stderr)
    );
    assert!(text.contains("virtual size: 32 MiB"), "{text}");
    let io = qemu(
        &dir,
        "qemu-io",
        vec![
            "-f".into(),
            "raw".into(),
            "-c".into(),
            "write -P 0xab 1M 1M".into(),
            "-c".into(),
            "read -P 0xab 1M 1M".into(),
            url,
        ],
    )
    .await;
    let text = String::from_utf8_lossy(&io.stdout);
    assert!(
        io.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&io.stderr)
    );
    assert!(!text.contains("Pattern verification failed"), "{text}");
    let mut back = vec![0u8; 1 << 20];
    store.read(2048, &mut back).await.unwrap();
    assert!(back.iter().all(|b| *b == 0xab), "the bytes are on the LUN");
}
