//! What ha-fence's integration tests share: a simulated BMC (OpenIPMI's
//! `ipmi_sim` with the lab's configuration, on free loopback ports) and
//! the checks for peer programs.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `program` runs here; skips with a reason otherwise (a failure
/// under CI=true).
pub fn have(program: &str, package: &str) -> bool {
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

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The serial console (`serial ... codec VM`) is a TCP listener: its port
/// must be free for TCP, which a free UDP port says nothing about.
fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `ipmi_sim`; killed on drop.
pub struct Bmc {
    child: Child,
    dir: PathBuf,
    /// Where its LAN interface listens.
    pub addr: SocketAddr,
}

impl Drop for Bmc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The simulated machine: its start command's process.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Bmc {
    /// Starts the lab's simulated BMC (user admin/password) on free ports.
    ///
    /// A port found free can be taken by another process before ipmi_sim
    /// binds it; ipmi_sim then exits, and is started again on other ports.
    /// Ready means ipmitool got an answer; the deadline is generous because
    /// a loaded machine (tests in parallel) slows ipmi_sim's start.
    pub fn start() -> Self {
        let mut reasons = Vec::new();
        for _ in 0..3 {
            match Self::try_start() {
                Ok(bmc) => return bmc,
                Err(why) => reasons.push(why),
            }
        }
        panic!("ipmi_sim did not start: {}", reasons.join("; "));
    }

    fn try_start() -> Result<Self, String> {
        let port = free_udp_port();
        let serial = free_tcp_port();
        let dir = std::env::temp_dir().join(format!("ha-fence-bmc-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("state")).unwrap();
        let lan = include_str!("../ipmi_sim/lan.conf")
            .replace("addr 127.0.0.1 9623", &format!("addr 127.0.0.1 {port}"))
            .replace("127.0.0.1 9602", &format!("127.0.0.1 {serial}"));
        std::fs::write(dir.join("lan.conf"), lan).unwrap();
        std::fs::write(
            dir.join("hasim1.emu"),
            include_str!("../ipmi_sim/hasim1.emu"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("ipmi_sim.log")).unwrap();
        let child = Command::new("ipmi_sim")
            .current_dir(&dir)
            .args(["-c", "lan.conf", "-f", "hasim1.emu", "-s"])
            .arg(dir.join("state"))
            .arg("-n")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut bmc = Self { child, dir, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while bmc.ipmitool_power().is_none() {
            let log = || std::fs::read_to_string(bmc.dir.join("ipmi_sim.log")).unwrap_or_default();
            if let Ok(Some(status)) = bmc.child.try_wait() {
                return Err(format!(
                    "exited ({status}) on ports {port}/{serial}: {}",
                    log().trim()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer in 30 s on port {port}: {}",
                    log().trim()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(bmc)
    }

    /// `ipmitool ... chassis power status`: Some(true) on, Some(false) off.
    pub fn ipmitool_power(&self) -> Option<bool> {
        let out = Command::new("ipmitool")
            .args([
                "-I",
                "lanplus",
                "-H",
                "127.0.0.1",
                "-p",
                &self.addr.port().to_string(),
            ])
            .args([
                "-U", "admin", "-P", "password", "-C", "3", "-N", "1", "-R", "1",
            ])
            .args(["chassis", "power", "status"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("is on") {
            Some(true)
        } else if text.contains("is off") {
            Some(false)
        } else {
            None
        }
    }

    /// fence_ipmilan's parameters for this BMC.
    pub fn params(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = [
            ("ip", "127.0.0.1".to_owned()),
            ("ipport", self.addr.port().to_string()),
            ("username", "admin".to_owned()),
            ("password", "password".to_owned()),
            ("lanplus", "1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        p.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        p
    }
}
