//! Two `ha-vrrpd` in two network namespaces this test makes, running the
//! chapter's keepalived.conf (interface and addresses changed): the VIP is on
//! the master only, and moves when the master stops (root only; skipped with
//! a reason otherwise, required under CI=true).

#![cfg(target_os = "linux")]

#[path = "../../ha-vrrp/tests/support/mod.rs"]
mod support;

use std::process::{Child, Command};
use std::time::Duration;

use support::{Pair, has_address, have_root, wait_until};

const CHAPTER: &str = include_str!("../../ha-vrrp/tests/fixtures/chapter.conf");

struct Daemon(Child);

impl Daemon {
    fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(ns: &str, interface: &str, backup: bool) -> Daemon {
    start_with(ns, interface, backup, "")
}

/// Starts ha-vrrpd in `ns` with the chapter's config plus `extra` lines in
/// the instance.
fn start_with(ns: &str, interface: &str, backup: bool, extra: &str) -> Daemon {
    // Only the interface, the address and the notify commands change (the
    // chapter's start and stop the haproxy service; a test must not).
    let mut config = CHAPTER
        .replace("eth0", interface)
        .replace("192.168.122.100", "10.199.0.100")
        .replace("/usr/bin/systemctl start haproxy", "/bin/true")
        .replace("/usr/bin/systemctl stop haproxy", "/bin/true");
    if backup {
        config = config
            .replace("state MASTER", "state BACKUP")
            .replace("priority 150", "priority 100");
    }
    config = config.replace("    advert_int 1\n", &format!("    advert_int 1\n{extra}"));
    let path = std::env::temp_dir().join(format!("ha-vrrpd-{ns}.conf"));
    std::fs::write(&path, config).unwrap();
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            env!("CARGO_BIN_EXE_ha-vrrpd"),
            "-n",
            "-f",
        ])
        .arg(&path)
        .spawn()
        .unwrap();
    Daemon(child)
}

fn has_vip(ns: &str, dev: &str) -> bool {
    has_address(ns, dev, "10.199.0.100/24")
}

#[test]
fn the_vip_lives_on_the_master_and_moves_when_it_stops() {
    if !have_root() {
        return;
    }
    let pair = Pair::new("hvd");
    let master = start(&pair.a, "vra", false);
    let _backup = start(&pair.b, "vrb", true);
    // Both start as backups; 150 wins after 3 x 1 s + 106/256 s.
    let elected = wait_until(Duration::from_secs(8), || has_vip(&pair.a, "vra"))
        .expect("the master takes the VIP");
    eprintln!("elected after {elected:?}");
    assert!(!has_vip(&pair.b, "vrb"), "the backup must not hold the VIP");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        has_vip(&pair.a, "vra") && !has_vip(&pair.b, "vrb"),
        "steady state"
    );

    // SIGTERM: the master resigns with priority 0; the backup takes over
    // after its skew ((256 - 100) / 256 s = 0.61 s).
    master.signal(nix::sys::signal::Signal::SIGTERM);
    let moved = wait_until(Duration::from_secs(5), || has_vip(&pair.b, "vrb"))
        .expect("the backup takes the VIP");
    eprintln!("failover after SIGTERM: {moved:?}");
    assert!(moved <= Duration::from_millis(1500), "{moved:?}");
    assert!(
        wait_until(Duration::from_secs(2), || !has_vip(&pair.a, "vra")).is_some(),
        "the stopped master removed the VIP"
    );
    drop(master);

    // The master comes back and preempts (150 > 100) once its own down
    // timer runs out: it discards the lower master's adverts.
    let master = start(&pair.a, "vra", false);
    let back = wait_until(Duration::from_secs(8), || {
        has_vip(&pair.a, "vra") && !has_vip(&pair.b, "vrb")
    })
    .expect("the returning master preempts");
    eprintln!("preempted after {back:?}");

    // SIGSTOP: a frozen master sends nothing; the backup takes over after
    // Master_Down_Interval = 3 x 1 s + 0.61 s from the last advert it heard.
    std::thread::sleep(Duration::from_millis(500));
    master.signal(nix::sys::signal::Signal::SIGSTOP);
    let moved = wait_until(Duration::from_secs(6), || has_vip(&pair.b, "vrb"))
        .expect("the backup takes over from a frozen master");
    eprintln!("failover after SIGSTOP: {moved:?}");
    assert!(moved <= Duration::from_millis(3700), "{moved:?}");
    master.signal(nix::sys::signal::Signal::SIGCONT);
}

#[test]
fn unicast_peers_elect_and_fail_over_without_multicast() {
    if !have_root() {
        return;
    }
    let pair = Pair::new("hvu");
    let a = "    unicast_src_ip 10.199.0.1\n    unicast_peer {\n        10.199.0.2\n    }\n";
    let b = "    unicast_src_ip 10.199.0.2\n    unicast_peer {\n        10.199.0.1\n    }\n";
    let master = start_with(&pair.a, "vra", false, a);
    let _backup = start_with(&pair.b, "vrb", true, b);
    wait_until(Duration::from_secs(8), || has_vip(&pair.a, "vra"))
        .expect("the master takes the VIP");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !has_vip(&pair.b, "vrb"),
        "the backup hears the master over unicast"
    );
    master.signal(nix::sys::signal::Signal::SIGTERM);
    let moved = wait_until(Duration::from_secs(5), || has_vip(&pair.b, "vrb"))
        .expect("the backup takes the VIP");
    assert!(moved <= Duration::from_millis(1500), "{moved:?}");
}
