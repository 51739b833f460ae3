//! `ha-target` runs the chapter's target from targetcli's saveconfig.json
//! (its file path and portal rewritten to a temporary file and a loopback
//! port): libiscsi's `iscsi-ls` and `iscsi-inq` find the target and its
//! LUN, and SIGTERM stops it cleanly. Config errors name file:line.
//! Skipped with a reason without libiscsi-bin; required under CI=true.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IQN: &str = "iqn.2025-09.com.example:storage";

fn have(tool: &str) -> bool {
    if Command::new(tool).arg("--help").output().is_ok() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required under CI: {tool} (apt-get install libiscsi-bin)");
    }
    eprintln!("SKIPPED: {tool} is not installed (apt-get install libiscsi-bin)");
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ha-target-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The chapter's saveconfig.json with its LUN file in `dir` and its portal
/// on loopback `port`.
fn chapter_config(dir: &std::path::Path, port: u16) -> PathBuf {
    let text = include_str!("../lab/saveconfig.json")
        .replace(
            "/var/lib/iscsi/disk1.img",
            &dir.join("disk1.img").display().to_string(),
        )
        .replace("\"0.0.0.0\"", "\"127.0.0.1\"")
        .replace("\"port\": 3260", &format!("\"port\": {port}"));
    let path = dir.join("saveconfig.json");
    std::fs::write(&path, text).unwrap();
    path
}

fn wait_for_port(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "ha-target exited");
        assert!(Instant::now() < deadline, "ha-target did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_chapters_saveconfig_serves_its_target() {
    if !have("iscsi-ls") {
        return;
    }
    let dir = scratch("chapter");
    let port = free_port();
    let config = chapter_config(&dir, port);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ha-target"))
        .arg("-c")
        .arg(&config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_port(port, &mut child);
    let ls = Command::new("iscsi-ls")
        .args(["-s", &format!("iscsi://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert!(listing.contains(&format!("Target:{IQN}")), "{listing}");
    assert!(listing.contains("Lun:0"), "{listing}");
    let inq = Command::new("iscsi-inq")
        .arg(format!("iscsi://127.0.0.1:{port}/{IQN}/0"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&inq.stdout).contains("ha-iscsi"));
    let meta = std::fs::metadata(dir.join("disk1.img")).unwrap();
    assert_eq!(meta.len(), 1 << 30, "created at the configured size");
    // SIGTERM: a clean stop.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "ha-target did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `ha-target -c PATH`, expecting it to refuse the configuration
/// (exit 1); what it printed on stderr.
fn refused(path: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ha-target"))
        .arg("-c")
        .arg(path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

#[test]
fn a_bad_config_is_refused_with_its_line() {
    let dir = scratch("bad");
    let path = dir.join("saveconfig.json");
    let text = include_str!("../lab/saveconfig.json").replace("fileio/disk1", "fileio/disk2");
    std::fs::write(&path, text).unwrap();
    let stderr = refused(&path);
    assert!(
        stderr.contains(&format!("{}:31: ", path.display())) && stderr.contains("disk2"),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ha-target"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

/// Starts `ha-target` on a file LUN at `image` on a loopback port.
fn start_target(image: &std::path::Path, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ha-target"))
        .args([
            "--iqn",
            IQN,
            "--portal",
            &format!("127.0.0.1:{port}"),
            "--lun",
        ])
        .arg(format!("disk1={}:64M", image.display()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, &mut child);
    child
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn acknowledged_writes_survive_kill_9_and_a_torn_connection() {
    use ha_iscsi::initiator::{InitiatorConfig, Session};

    let dir = scratch("safety");
    let image = dir.join("disk1.img");
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let node = InitiatorConfig::new("iqn.2025-09.com.example:node1");
    let (fua, synced) = (pattern(64 * 1024, 1), pattern(64 * 1024, 2));
    let mut target = start_target(&image, port);
    runtime.block_on(async {
        let mut s = Session::login(addr, IQN, &node).await.unwrap();
        // Acknowledged with FUA, and acknowledged then synchronized.
        s.write(0, 0, &fua, true).await.unwrap();
        s.write(0, 1000, &synced, false).await.unwrap();
        s.synchronize_cache(0).await.unwrap();
        // A big write torn off mid-transfer: the connection drops while
        // its data is still going out.
        let torn = pattern(8 << 20, 3);
        let mut other = Session::login(addr, IQN, &node).await.unwrap();
        let write = other.write(0, 4096, &torn, false);
        let result = tokio::time::timeout(Duration::from_millis(2), write).await;
        assert!(
            result.is_err(),
            "the 8 MiB write was torn before it completed"
        );
        drop(other);
        // The target still serves, and what was acknowledged is there.
        assert_eq!(s.read(0, 0, 128).await.unwrap(), fua);
    });
    // kill -9: no chance to flush anything.
    target.kill().unwrap();
    target.wait().unwrap();
    let mut target = start_target(&image, port);
    runtime.block_on(async {
        let mut s = Session::login(addr, IQN, &node).await.unwrap();
        assert_eq!(
            s.read(0, 0, 128).await.unwrap(),
            fua,
            "FUA write after kill -9"
        );
        assert_eq!(
            s.read(0, 1000, 128).await.unwrap(),
            synced,
            "synchronized write after kill -9"
        );
        s.logout().await.unwrap();
    });
    target.kill().unwrap();
    target.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// A running `ha-target`, killed when dropped (a failing test leaves no
/// process behind).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ha-target` with `args`, its stderr read line by line: the lines up
/// to and including the one saying where it serves, and that address.
fn start_logged(args: &[&str]) -> (Running, Vec<String>, std::net::SocketAddr) {
    use std::io::BufRead;
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_ha-target"))
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = std::io::BufReader::new(child.0.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(wait)
            .unwrap_or_else(|e| panic!("ha-target did not say where it serves ({e}): {lines:?}"));
        let addr = line
            .contains("serving")
            .then(|| line.split("addr=").nth(1))
            .flatten()
            .map(|a| a.trim().parse().unwrap());
        lines.push(line);
        if let Some(addr) = addr {
            return (child, lines, addr);
        }
    }
}

#[test]
fn the_quick_flags_warn_they_serve_without_chap_and_bind_only_where_told() {
    let (target, lines, addr) =
        start_logged(&["--iqn", IQN, "--ramdisk", "r=1M", "--portal", "127.0.0.1:0"]);
    let warning = lines
        .iter()
        .find(|l| l.contains("WARN"))
        .unwrap_or_else(|| panic!("no warning: {lines:?}"));
    assert!(
        warning.contains("without CHAP and without an initiator ACL")
            && warning.contains("read-write")
            && warning.contains(IQN),
        "{warning}"
    );
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    std::net::TcpStream::connect(addr).expect("serves where told");
    // 127.0.0.2 is this host's loopback too, but not where it was told.
    let elsewhere = std::net::SocketAddr::new([127, 0, 0, 2].into(), addr.port());
    assert!(
        std::net::TcpStream::connect_timeout(&elsewhere, Duration::from_secs(5)).is_err(),
        "listens on {elsewhere} too"
    );
    drop(target);
    let help = Command::new(env!("CARGO_BIN_EXE_ha-target"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("WITHOUT\nCHAP and WITHOUT an initiator ACL"),
        "{help}"
    );
}

#[test]
fn an_absurd_ramdisk_is_refused_naming_the_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_ha-target"))
        .args([
            "--iqn",
            IQN,
            "--ramdisk",
            "r=16T",
            "--portal",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--ramdisk r=16T: 16T is more than the memory available"),
        "{stderr}"
    );
    // From a configuration file the same size is refused, not aborted.
    let dir = scratch("ramdisk");
    let path = dir.join("config.json");
    let text = include_str!("../lab/saveconfig.json");
    let mut config: serde_json::Value = serde_json::from_str(text).unwrap();
    config["storage_objects"][0] = serde_json::json!({
        "plugin": "rd_mcp", "name": "disk1", "size": 16u64 << 40
    });
    let tpg = &mut config["targets"][0]["tpgs"][0];
    tpg["luns"][0]["storage_object"] = "/backstores/ramdisk/disk1".into();
    tpg["portals"][0]["ip_address"] = "127.0.0.1".into();
    tpg["portals"][0]["port"] = 0.into();
    std::fs::write(&path, config.to_string()).unwrap();
    let stderr = refused(&path);
    assert!(
        stderr.contains("ramdisk 'disk1'") && stderr.contains("memory available"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
