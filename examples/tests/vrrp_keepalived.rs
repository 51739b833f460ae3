//! ha-vrrpd and real keepalived elect one master together: each pair runs
//! on a bridged LAN of namespaces this test makes, with the higher priority
//! on either side. Per mode (v2 with PASS, v3 over IPv4, v3 over IPv6,
//! unicast) and direction: election, SIGTERM failover, preemption on return,
//! a partition and its healing, SIGSTOP failover and thaw. Root and
//! keepalived are needed; without them the tests skip with a reason
//! (required under CI=true).

#![cfg(target_os = "linux")]

#[path = "../../ha-vrrp/tests/support/mod.rs"]
mod support;
mod vrrp_timing;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{Lan, has_address, have_root, skip, wait_until};
use vrrp_timing::holds_for;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Daemon {
    Keepalived,
    HaVrrpd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The chapter's configuration: VRRPv2, advert_int 1, PASS auth.
    V2Pass,
    /// VRRPv3 over IPv4, advert_int 0.5.
    V3Ipv4,
    /// VRRPv3 over IPv6 (link-local sources, ff02::12), advert_int 0.5.
    V3Ipv6,
    /// VRRPv2 with `unicast_src_ip`/`unicast_peer`, advert_int 1.
    Unicast,
}

impl Mode {
    fn advert(self) -> Duration {
        match self {
            Mode::V2Pass | Mode::Unicast => Duration::from_secs(1),
            Mode::V3Ipv4 | Mode::V3Ipv6 => Duration::from_millis(500),
        }
    }

    /// The VIP as `ip addr` prints it.
    fn vip(self) -> &'static str {
        match self {
            Mode::V3Ipv6 => "fd00:199::100/64",
            _ => "10.199.0.100/24",
        }
    }

    /// RFC skew for `priority`: (256 - priority) / 256 of the interval (v3),
    /// of a second (v2).
    fn skew(self, priority: u32) -> Duration {
        vrrp_timing::skew(self.skew_unit(), priority)
    }

    fn skew_unit(self) -> Duration {
        match self {
            Mode::V2Pass | Mode::Unicast => Duration::from_secs(1),
            _ => self.advert(),
        }
    }

    /// Master_Down_Interval of a backup of `priority`.
    fn down(self, priority: u32) -> Duration {
        vrrp_timing::master_down(self.advert(), self.skew_unit(), priority)
    }

    /// keepalived.conf for host `me` (1 or 2) of the pair.
    fn config(self, me: usize, master: bool) -> String {
        let (state, priority) = if master {
            ("MASTER", 150)
        } else {
            ("BACKUP", 100)
        };
        let version = match self {
            Mode::V3Ipv4 | Mode::V3Ipv6 => "    vrrp_version 3\n",
            _ => "",
        };
        let advert = match self.advert().as_millis() {
            1000 => "1",
            _ => "0.5",
        };
        let auth = match self {
            Mode::V2Pass | Mode::Unicast => {
                "    authentication {\n        auth_type PASS\n        auth_pass secret123\n    }\n"
            }
            _ => "",
        };
        let unicast = match self {
            Mode::Unicast => format!(
                "    unicast_src_ip 10.199.0.{me}\n    unicast_peer {{\n        10.199.0.{}\n    }}\n",
                3 - me
            ),
            _ => String::new(),
        };
        format!(
            "global_defs {{\n    router_id host{me}\n{version}}}\n\
             vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    \
             virtual_router_id 51\n    priority {priority}\n    advert_int {advert}\n\
             {auth}    virtual_ipaddress {{\n        {}\n    }}\n{unicast}}}\n",
            self.vip()
        )
    }
}

/// A VRRP daemon running in a namespace; killed (with its children) on drop.
struct Running {
    daemon: Daemon,
    child: Child,
    dir: PathBuf,
}

impl Running {
    fn start(daemon: Daemon, ns: &str, config: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("vrrp-interop-{ns}"));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("keepalived.conf");
        std::fs::write(&conf, config).unwrap();
        let log = File::create(dir.join("log")).unwrap();
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]);
        match daemon {
            Daemon::Keepalived => {
                command
                    .args(["keepalived", "-n", "-l", "-D", "-P", "-f"])
                    .arg(&conf)
                    .arg("-p")
                    .arg(dir.join("keepalived.pid"))
                    .arg("-r")
                    .arg(dir.join("vrrp.pid"));
            }
            Daemon::HaVrrpd => {
                command
                    .args([env!("CARGO_BIN_EXE_ha-vrrpd"), "-n", "-f"])
                    .arg(&conf);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self { daemon, child, dir }
    }

    fn pid(&self) -> Pid {
        // `ip netns exec` execs the daemon: the child is the daemon.
        Pid::from_raw(self.child.id() as i32)
    }

    /// The process that sends adverts: keepalived's VRRP child.
    fn vrrp_pid(&self) -> Pid {
        match self.daemon {
            Daemon::HaVrrpd => self.pid(),
            Daemon::Keepalived => {
                let mut pid = None;
                wait_until(Duration::from_secs(5), || {
                    pid = self.keepalived_child();
                    pid.is_some()
                });
                pid.expect("keepalived writes its VRRP child's pid")
            }
        }
    }

    fn keepalived_child(&self) -> Option<Pid> {
        let text = std::fs::read_to_string(self.dir.join("vrrp.pid")).ok()?;
        Some(Pid::from_raw(text.trim().parse().ok()?))
    }

    fn signal(&self, signal: Signal) {
        let pid = if matches!(signal, Signal::SIGSTOP | Signal::SIGCONT) {
            self.vrrp_pid()
        } else {
            self.pid()
        };
        kill(pid, signal).unwrap();
    }

    /// Sends SIGTERM and waits for the daemon to exit.
    fn stop(mut self) {
        self.signal(Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            eprintln!("--- {:?} log ---\n{log}", self.daemon);
        }
        if let Some(child) = self.keepalived_child() {
            let _ = kill(child, Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn have_peers() -> bool {
    if !have_root() {
        return false;
    }
    let found = Command::new("keepalived")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    found || !skip("keepalived is not installed (apt-get install keepalived)")
}

/// The whole drill for one mode with `high` (priority 150, host 1) and
/// `low` (priority 100, host 2).
fn drill(tag: &str, mode: Mode, high: Daemon, low: Daemon) {
    if !have_peers() {
        return;
    }
    let lan = Lan::new(tag, 2);
    let (h1, h2) = (&lan.hosts[0], &lan.hosts[1]);
    let vip = mode.vip();
    let holds = |ns: &str| has_address(ns, "eth0", vip);
    let advert = mode.advert();
    let down = |priority| mode.down(priority);
    let only = |winner: &str, loser: &str| holds(winner) && !holds(loser);
    // Deadlines for what must happen eventually: generous, they only bound
    // a test that would otherwise hang. The protocol's bounds are asserted
    // on the measured times below, with `slack` for a busy machine.
    let eventually = down(100) + Duration::from_secs(15);

    let mut master = Running::start(high, h1, &mode.config(1, true));
    let backup = Running::start(low, h2, &mode.config(2, false));
    // Both start as backups; the higher priority's down timer fires first.
    let elected = wait_until(eventually, || only(h1, h2))
        .unwrap_or_else(|| panic!("{high:?} (150) takes the VIP from {low:?} (100)"));
    eprintln!("{mode:?} {high:?} over {low:?}: elected after {elected:?}");
    if let Err(at) = holds_for(2 * advert, || only(h1, h2)) {
        panic!("steady state: the VIP only on {high:?}, until {at:?}");
    }

    // SIGTERM: priority 0, so the backup takes over after its skew, well
    // before its Master_Down_Interval.
    let slack = vrrp_timing::slack(|| holds(h2));
    assert!(
        mode.skew(100) + slack < down(100),
        "the machine is too slow to tell a resignation from a timeout: slack {slack:?}"
    );
    master.signal(Signal::SIGTERM);
    let moved = wait_until(eventually, || holds(h2))
        .unwrap_or_else(|| panic!("{low:?} takes the VIP when {high:?} resigns"));
    eprintln!("SIGTERM failover to {low:?}: {moved:?} (slack {slack:?})");
    assert!(moved <= mode.skew(100) + slack, "{moved:?}");
    master.stop();

    // The higher priority returns and preempts.
    master = Running::start(high, h1, &mode.config(1, true));
    let back = wait_until(eventually, || only(h1, h2))
        .unwrap_or_else(|| panic!("{high:?} preempts {low:?} on return"));
    eprintln!("preempted after {back:?}");

    // A partition makes both masters; once healed, one advert settles it.
    lan.unplug(1);
    wait_until(eventually, || holds(h2))
        .unwrap_or_else(|| panic!("{low:?} becomes master in the partition"));
    assert!(holds(h1), "{high:?} stays master in the partition");
    let slack = vrrp_timing::slack(|| only(h1, h2));
    lan.plug(1);
    let healed = wait_until(eventually, || only(h1, h2))
        .unwrap_or_else(|| panic!("one master after the partition heals"));
    eprintln!("both master for {healed:?} after the heal (slack {slack:?})");
    assert!(healed <= advert + slack, "{healed:?}");

    // SIGSTOP: silence; the backup waits Master_Down_Interval from the
    // last advert it heard (about one interval before the signal at most;
    // half an interval more if the master's last advert was late).
    let slack = vrrp_timing::slack(|| holds(h2));
    master.signal(Signal::SIGSTOP);
    let moved = wait_until(eventually, || holds(h2))
        .unwrap_or_else(|| panic!("{low:?} takes over from a frozen {high:?}"));
    eprintln!("SIGSTOP failover to {low:?}: {moved:?} (slack {slack:?})");
    assert!(moved <= down(100) + slack, "{moved:?}");
    assert!(
        moved >= down(100) - advert - advert / 2,
        "taken over before Master_Down_Interval: {moved:?}"
    );
    master.signal(Signal::SIGCONT);
    let thawed = wait_until(eventually, || only(h1, h2))
        .unwrap_or_else(|| panic!("{high:?} is master again after SIGCONT"));
    eprintln!("one master {thawed:?} after the thaw");
    drop(backup);
}

#[test]
fn v2_pass_keepalived_over_ha_vrrpd() {
    drill("kv2k", Mode::V2Pass, Daemon::Keepalived, Daemon::HaVrrpd);
}

#[test]
fn v2_pass_ha_vrrpd_over_keepalived() {
    drill("kv2h", Mode::V2Pass, Daemon::HaVrrpd, Daemon::Keepalived);
}

#[test]
fn v3_ipv4_keepalived_over_ha_vrrpd() {
    drill("kv34k", Mode::V3Ipv4, Daemon::Keepalived, Daemon::HaVrrpd);
}

#[test]
fn v3_ipv4_ha_vrrpd_over_keepalived() {
    drill("kv34h", Mode::V3Ipv4, Daemon::HaVrrpd, Daemon::Keepalived);
}

#[test]
fn v3_ipv6_keepalived_over_ha_vrrpd() {
    drill("kv36k", Mode::V3Ipv6, Daemon::Keepalived, Daemon::HaVrrpd);
}

#[test]
fn v3_ipv6_ha_vrrpd_over_keepalived() {
    drill("kv36h", Mode::V3Ipv6, Daemon::HaVrrpd, Daemon::Keepalived);
}

#[test]
fn unicast_keepalived_over_ha_vrrpd() {
    drill("kvuk", Mode::Unicast, Daemon::Keepalived, Daemon::HaVrrpd);
}

#[test]
fn unicast_ha_vrrpd_over_keepalived() {
    drill("kvuh", Mode::Unicast, Daemon::HaVrrpd, Daemon::Keepalived);
}
