//! A block device as a LUN (targetcli's `block` backstore): a loop device
//! made by the test over a scratch file and removed after. Its size is the
//! device's, writes and reads round-trip through an initiator, UNMAP
//! discards. Needs root and losetup: skipped with a reason otherwise,
//! required under CI=true.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use ha_iscsi::backstore::{BlockTarget, FileBackstore};
use ha_iscsi::initiator::{InitiatorConfig, Session};
use ha_iscsi::login::Auth;
use support::{IQN, portal};

mod support;

/// A loop device over a scratch file; detached on drop.
struct Loop {
    device: PathBuf,
    file: PathBuf,
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.device).output();
        let _ = std::fs::remove_file(&self.file);
    }
}

fn loop_device(size: u64) -> Option<Loop> {
    let file = std::env::temp_dir().join(format!("ha-iscsi-loop-{}.img", std::process::id()));
    std::fs::File::create(&file).unwrap().set_len(size).unwrap();
    let out = Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&file)
        .output();
    match out {
        Ok(out) if out.status.success() => Some(Loop {
            device: PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()),
            file,
        }),
        other => {
            let _ = std::fs::remove_file(&file);
            let why = match other {
                Ok(out) => format!(
                    "losetup failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                Err(e) => format!("no losetup: {e}"),
            };
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("required under CI: a loop device ({why})");
            }
            eprintln!("SKIPPED: a loop device is needed (root): {why}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_loop_device_serves_as_a_lun() {
    let Some(device) = loop_device(32 << 20) else {
        return;
    };
    let store = Arc::new(FileBackstore::open(&device.device, None, 512).unwrap());
    assert_eq!(
        store.block_count(),
        (32 << 20) / 512,
        "the device's own size"
    );
    let addr = portal(Auth::None, Some(store.clone())).await;
    let mut s = Session::login(
        addr,
        IQN,
        &InitiatorConfig::new("iqn.2025-09.com.example:node1"),
    )
    .await
    .unwrap();
    assert_eq!(s.read_capacity(0).await.unwrap(), ((32 << 20) / 512, 512));
    let data: Vec<u8> = (0..64 * 1024).map(|i| (i % 253) as u8).collect();
    s.write(0, 100, &data, true).await.unwrap();
    assert_eq!(s.read(0, 100, 128).await.unwrap(), data);
    // UNMAP of the first 8 blocks written: they read back as zeroes.
    let mut list = vec![0, 22, 0, 16, 0, 0, 0, 0];
    list.extend_from_slice(&100u64.to_be_bytes());
    list.extend_from_slice(&8u32.to_be_bytes());
    list.extend_from_slice(&[0; 4]);
    let o = s
        .command(0, &[0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], &list, 0)
        .await
        .unwrap();
    assert_eq!(o.status, 0, "{o:?}");
    let back = s.read(0, 100, 16).await.unwrap();
    assert!(back[..4096].iter().all(|b| *b == 0));
    assert_eq!(back[4096..], data[4096..8192]);
    s.logout().await.unwrap();
    // The bytes went to the device.
    let mut raw = vec![0u8; 512];
    store.read(110, &mut raw).await.unwrap();
    assert_eq!(raw, data[5120..5632]);
}
