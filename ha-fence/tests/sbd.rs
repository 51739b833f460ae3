//! SBD against the real `sbd` tool (sbd 1.5) on a loop device the test
//! makes over a scratch file and removes after: each reads the other's
//! disks, a pill written by ours is what `sbd list` shows, our watcher
//! fences itself on a pill written by `sbd message`, acknowledges a test
//! message, and feeds its watchdog only while it can read the disk (here:
//! until its header is wiped).
//! Needs root, losetup and sbd: skipped with a reason otherwise, required
//! under CI=true.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ha_fence::sbd::{Command, Ended, SbdDisk, SbdFencer, SbdWatcher, SelfFence, Timeouts};
use ha_fence::watchdog::Watchdog;
use ha_fence::{Action, Fencer, PowerState};

mod support;

/// A loop device over a scratch file; detached and removed on drop.
struct Loop {
    device: PathBuf,
    file: PathBuf,
}

impl Loop {
    /// Starts node1's watcher on this disk, its watchdog a scratch file
    /// (each keepalive writes to it); gives the file and the running task.
    fn watch(
        &self,
        action: SelfFence,
    ) -> (
        PathBuf,
        tokio::task::JoinHandle<Result<Ended, ha_fence::Error>>,
    ) {
        let dog_path = self.file.with_extension("watchdog");
        std::fs::write(&dog_path, b"").unwrap();
        let watcher = SbdWatcher::new(
            self.device.clone(),
            "node1",
            action,
            Some(Watchdog::open(&dog_path).unwrap()),
        );
        (dog_path, tokio::spawn(watcher.run(std::future::pending())))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Process::new("losetup").arg("-d").arg(&self.device).output();
        let _ = std::fs::remove_file(&self.file);
    }
}

fn loop_device(name: &str) -> Option<Loop> {
    if !support::have("sbd", "sbd") {
        return None;
    }
    let file = std::env::temp_dir().join(format!("ha-fence-sbd-{name}-{}.img", std::process::id()));
    std::fs::File::create(&file)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    match Process::new("losetup")
        .args(["-f", "--show"])
        .arg(&file)
        .output()
    {
        Ok(out) if out.status.success() => Some(Loop {
            device: PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()),
            file,
        }),
        other => {
            let _ = std::fs::remove_file(&file);
            let why = format!("no loop device (root and losetup needed): {other:?}");
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("required under CI: {why}");
            }
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

fn sbd(device: &Path, args: &[&str]) -> String {
    let out = Process::new("sbd")
        .arg("-d")
        .arg(device)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sbd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const FAST: Timeouts = Timeouts {
    watchdog: 2,
    allocate: 2,
    loop_interval: 1,
    msgwait: 3,
};

/// Long enough for anything the watcher does on its next rounds (each
/// `loop_interval` apart) on a busy machine; only bounds a test that would
/// otherwise hang.
const EVENTUALLY: Duration = Duration::from_secs(30);

/// Waits until `ok`, polling; panics with `what` after [`EVENTUALLY`].
async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + EVENTUALLY;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "not within {EVENTUALLY:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many keepalives the watchdog file has had (each writes a byte).
fn keepalives(dog: &Path) -> u64 {
    std::fs::metadata(dog).map_or(0, |m| m.len())
}

fn slot_is_clear(device: &Path) -> bool {
    sbd(device, &["list"]).contains("node1\tclear")
}

#[tokio::test]
async fn sbd_and_ha_fence_read_each_others_disks() {
    let Some(dev) = loop_device("formats") else {
        return;
    };
    // sbd creates; ours reads.
    sbd(&dev.device, &["-1", "7", "-4", "14", "create"]);
    sbd(&dev.device, &["allocate", "node1"]);
    let disk = SbdDisk::open(&dev.device).unwrap();
    assert_eq!(
        (
            disk.header().timeouts.watchdog,
            disk.header().timeouts.msgwait
        ),
        (7, 14)
    );
    assert_eq!(disk.find("node1").unwrap(), Some(0));
    // Ours creates; sbd reads.
    let disk = SbdDisk::create(&dev.device, FAST, 512).unwrap();
    disk.allocate("node1").unwrap();
    disk.allocate("node2").unwrap();
    let dump = sbd(&dev.device, &["dump"]);
    assert!(
        dump.contains("Timeout (watchdog) : 2") && dump.contains("Timeout (msgwait)  : 3"),
        "{dump}"
    );
    let list = sbd(&dev.device, &["list"]);
    assert!(
        list.contains("node1\tclear") && list.contains("node2\tclear"),
        "{list}"
    );
}

#[tokio::test]
async fn a_pill_from_ha_fence_is_what_sbd_lists_after_msgwait() {
    let Some(dev) = loop_device("pill") else {
        return;
    };
    let disk = SbdDisk::create(&dev.device, FAST, 512).unwrap();
    disk.allocate("node1").unwrap();
    disk.allocate("node2").unwrap();
    let fencer = SbdFencer::new(vec![dev.device.clone()], "node1").unwrap();
    assert_eq!(fencer.list().await.unwrap(), ["node1", "node2"]);
    let started = Instant::now();
    fencer.fence("node2", Action::Reboot).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "confirmed only after msgwait"
    );
    let list = sbd(&dev.device, &["list"]);
    assert!(list.contains("node2\treset\tnode1"), "{list}");
    assert_eq!(fencer.status("node2").await.unwrap(), PowerState::Off);
    assert!(
        fencer.fence("node2", Action::On).await.is_err(),
        "SBD cannot power on"
    );
    assert!(fencer.fence("node9", Action::Off).await.is_err(), "no slot");
}

#[tokio::test]
async fn the_watcher_fences_itself_on_a_pill_from_sbd() {
    let Some(dev) = loop_device("watch") else {
        return;
    };
    let disk = SbdDisk::create(&dev.device, FAST, 512).unwrap();
    disk.allocate("node1").unwrap();
    // A stale pill from before is cleared at start, not obeyed.
    disk.message("node1", Command::Reset, "old").unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let action = SelfFence::Callback(Arc::new(move |c| record.lock().unwrap().push(c)));
    let (dog_path, watching) = dev.watch(action);
    until("the stale pill is cleared", || slot_is_clear(&dev.device)).await;
    // A test message is acknowledged by clearing it.
    sbd(&dev.device, &["message", "node1", "test"]);
    until("the test message is acknowledged", || {
        slot_is_clear(&dev.device)
    })
    .await;
    until("the watchdog is fed while healthy", || {
        keepalives(&dog_path) >= 2
    })
    .await;
    // The pill.
    sbd(&dev.device, &["message", "node1", "reset"]);
    let ended = tokio::time::timeout(EVENTUALLY, watching)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ended, Ended::Fenced(Command::Reset));
    assert_eq!(*seen.lock().unwrap(), [Command::Reset]);
    let _ = std::fs::remove_file(dog_path);
}

#[tokio::test]
async fn a_watcher_that_loses_its_disk_stops_feeding_the_watchdog() {
    let Some(dev) = loop_device("lost") else {
        return;
    };
    let disk = SbdDisk::create(&dev.device, FAST, 512).unwrap();
    disk.allocate("node1").unwrap();
    drop(disk);
    let (dog_path, watching) = dev.watch(SelfFence::Callback(Arc::new(|_| {})));
    until("the watchdog is fed while the disk is there", || {
        keepalives(&dog_path) >= 1
    })
    .await;
    // The disk becomes unusable: its header is wiped.
    let wiped = Process::new("dd")
        .args(["if=/dev/zero", "bs=512", "count=1", "oflag=direct,sync"])
        .arg(format!("of={}", dev.device.display()))
        .output()
        .unwrap();
    assert!(wiped.status.success());
    // A healthy watcher feeds every loop_interval; one that lost its disk
    // stops (a round already past its read may feed once more). Quiet for
    // three intervals means it stopped, and it must stay quiet for as long
    // again.
    let interval = Duration::from_secs(FAST.loop_interval.into());
    let quiet = 3 * interval;
    let deadline = Instant::now() + EVENTUALLY;
    let (mut count, mut since) = (keepalives(&dog_path), Instant::now());
    while since.elapsed() < quiet {
        assert!(
            Instant::now() < deadline,
            "still fed {EVENTUALLY:?} after the disk was wiped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = keepalives(&dog_path);
        if now != count {
            (count, since) = (now, Instant::now());
        }
    }
    let before = keepalives(&dog_path);
    let started = Instant::now();
    while started.elapsed() < quiet {
        assert_eq!(
            keepalives(&dog_path),
            before,
            "no keepalive without the disk"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(before >= 1, "it was fed before");
    watching.abort();
    let _ = std::fs::remove_file(dog_path);
}
