//! `ha-fence` with fence_ipmilan's command line and stdin protocol against
//! OpenIPMI's simulated BMC: status exit codes (0 on, 2 off), off and on
//! confirmed, a wrong password exits 3, bad arguments 2, metadata as
//! fence-agents print it. Skipped with a reason without openipmi and
//! ipmitool; required under CI=true.

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn have(program: &str, package: &str) -> bool {
    if Command::new(program)
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
    {
        return true;
    }
    let why = format!("{program} is not installed (apt-get install {package})");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required under CI: {why}");
    }
    eprintln!("SKIPPED: {why}");
    false
}

/// ipmi_sim with the lab's configuration on a free port; killed on drop.
struct Bmc {
    child: Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Drop for Bmc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_bmc() -> Bmc {
    let free = || {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (port, serial) = (free(), free());
    let dir = std::env::temp_dir().join(format!("ha-fence-bin-{}-{port}", std::process::id()));
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let lan = include_str!("../../ha-fence/tests/ipmi_sim/lan.conf")
        .replace("addr 127.0.0.1 9623", &format!("addr 127.0.0.1 {port}"))
        .replace("127.0.0.1 9602", &format!("127.0.0.1 {serial}"));
    std::fs::write(dir.join("lan.conf"), lan).unwrap();
    std::fs::write(
        dir.join("hasim1.emu"),
        include_str!("../../ha-fence/tests/ipmi_sim/hasim1.emu"),
    )
    .unwrap();
    let child = Command::new("ipmi_sim")
        .current_dir(&dir)
        .args(["-c", "lan.conf", "-f", "hasim1.emu", "-s"])
        .arg(dir.join("state"))
        .arg("-n")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let bmc = Bmc { child, dir, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while fence(&bmc, &["-o", "status"]).status.code() != Some(0) {
        assert!(Instant::now() < deadline, "ipmi_sim did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    bmc
}

fn fence(bmc: &Bmc, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ha-fence"))
        .args([
            "-a",
            "127.0.0.1",
            "-u",
            &bmc.port.to_string(),
            "-l",
            "admin",
            "-p",
            "password",
            "-P",
        ])
        .args(["--login-timeout", "1"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn the_fence_ipmilan_command_line_fences_the_simulated_node() {
    if !have("ipmi_sim", "openipmi") {
        return;
    }
    let bmc = start_bmc();
    let on = fence(&bmc, &["-o", "status"]);
    assert_eq!(
        (on.status.code(), String::from_utf8_lossy(&on.stdout).trim()),
        (Some(0), "Status: ON")
    );
    let off = fence(&bmc, &["-o", "off"]);
    assert_eq!(
        off.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&off.stdout).trim(),
        "Success: Powered OFF"
    );
    assert_eq!(
        fence(&bmc, &["-o", "status"]).status.code(),
        Some(2),
        "off exits 2"
    );
    // The stdin protocol, as Pacemaker's fencer uses it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ha-fence"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    write!(
        child.stdin.take().unwrap(),
        "# from the fencer\nip=127.0.0.1\nipport={}\nusername=admin\npassword=password\nlanplus=1\naction=on\n",
        bmc.port
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        fence(&bmc, &["-o", "status"]).status.code(),
        Some(0),
        "back on"
    );
    fence(&bmc, &["-o", "monitor"])
        .status
        .success()
        .then_some(())
        .expect("monitor");
}

#[test]
fn failures_exit_with_fence_agents_codes() {
    if !have("ipmi_sim", "openipmi") {
        return;
    }
    let bmc = start_bmc();
    let denied = Command::new(env!("CARGO_BIN_EXE_ha-fence"))
        .args([
            "-a",
            "127.0.0.1",
            "-u",
            &bmc.port.to_string(),
            "-l",
            "admin",
            "-p",
            "wrongpass",
            "-P",
            "-o",
            "status",
        ])
        .output()
        .unwrap();
    assert_eq!(denied.status.code(), Some(3), "login denied");
    assert!(
        !String::from_utf8_lossy(&denied.stderr).contains("wrongpass"),
        "no password in messages"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_ha-fence"))
        .args(["-a", "127.0.0.1", "-o", "off"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "no lanplus: bad arguments");
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let timeout = Command::new(env!("CARGO_BIN_EXE_ha-fence"))
        .args([
            "-a",
            "127.0.0.1",
            "-u",
            &silent.local_addr().unwrap().port().to_string(),
        ])
        .args([
            "-l",
            "admin",
            "-p",
            "password",
            "-P",
            "--login-timeout",
            "1",
            "-o",
            "off",
        ])
        .output()
        .unwrap();
    assert_eq!(timeout.status.code(), Some(5), "timed out");
    let metadata = Command::new(env!("CARGO_BIN_EXE_ha-fence"))
        .args(["-o", "metadata"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&metadata.stdout)
            .contains("<resource-agent name=\"fence_ipmilan\"")
    );
}

#[test]
fn the_sbd_subcommands_create_message_and_list() {
    let disk = std::env::temp_dir().join(format!("ha-fence-bin-sbd-{}.img", std::process::id()));
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let sbd = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ha-fence"))
            .args(["sbd", "-d"])
            .arg(&disk)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(sbd(&["-1", "3", "create"]).status.success());
    let dump = String::from_utf8_lossy(&sbd(&["dump"]).stdout).into_owned();
    assert!(
        dump.contains("Timeout (watchdog) : 3") && dump.contains("Timeout (msgwait)  : 6"),
        "{dump}"
    );
    assert!(sbd(&["message", "node2", "reset"]).status.success());
    let list = String::from_utf8_lossy(&sbd(&["list"]).stdout).into_owned();
    assert!(list.starts_with("0\tnode2\treset\t"), "{list}");
    assert_eq!(sbd(&["message", "node2", "explode"]).status.code(), Some(2));
    assert_eq!(sbd(&["frobnicate"]).status.code(), Some(2));
    let _ = std::fs::remove_file(disk);
}
