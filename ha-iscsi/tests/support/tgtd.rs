//! tgt's `tgtd`, the reference iSCSI target, for tests that compare with
//! it: one file LUN on a loopback portal, stopped on drop. Uses only std,
//! so other crates' tests include it by path.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Whether tgtd can run here; skips with a reason otherwise (a failure
/// under CI=true).
pub fn have_tgtd() -> bool {
    let why = if Command::new("tgtd").arg("--help").output().is_err() {
        Some("tgtd is not installed (apt-get install tgt)")
    } else if std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(1)
        != 0
    {
        Some("tgtd needs root")
    } else {
        None
    };
    match why {
        None => true,
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("required under CI: {why}")
        }
        Some(why) => {
            eprintln!("SKIPPED: {why}");
            false
        }
    }
}

/// A running tgtd; stopped and its files removed on drop.
pub struct Tgtd {
    child: Child,
    control: u32,
    dir: std::path::PathBuf,
}

impl Drop for Tgtd {
    fn drop(&mut self) {
        let _ = Command::new("tgtadm")
            .args(["-C", &self.control.to_string()])
            .args(["--op", "delete", "--mode", "system"])
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts tgtd on a free loopback port with target `iqn` and LUN 1 a file
/// of `blocks` 512-byte blocks. `control` is tgtd's control port number
/// (`-C`): test binaries that may run at once pass numbers from ranges of
/// their own.
pub fn tgtd(iqn: &str, blocks: u64, control: u32) -> (Tgtd, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("tgtd-{control}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("lun.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(blocks * 512)
        .unwrap();
    let child = Command::new("tgtd")
        .args(["-f", "--iscsi", &format!("portal=127.0.0.1:{port}")])
        .args(["-C", &control.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let guard = Tgtd {
        child,
        control,
        dir,
    };
    let adm = |args: &[&str]| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("tgtadm")
                .args(["-C", &control.to_string(), "--lld", "iscsi"])
                .args(args)
                .output()
                .unwrap();
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tgtadm {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    adm(&["--op", "new", "--mode", "target", "--tid", "1", "-T", iqn]);
    let image = image.display().to_string();
    adm(&[
        "--op",
        "new",
        "--mode",
        "logicalunit",
        "--tid",
        "1",
        "--lun",
        "1",
        "-b",
        &image,
    ]);
    adm(&[
        "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL",
    ]);
    (guard, format!("127.0.0.1:{port}").parse().unwrap())
}
