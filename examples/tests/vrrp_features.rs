//! ha-vrrpd's keepalived extras on a LAN of namespaces this test makes:
//! track_script, track_interface and track_file moving the VIP, a
//! vrrp_sync_group failing over together, SIGHUP reloads, notify scripts
//! under script security, and use_vmac (root only; skipped with a reason
//! otherwise, required under CI=true).

#![cfg(target_os = "linux")]

#[path = "../../ha-vrrp/tests/support/mod.rs"]
mod support;
mod vrrp_timing;
mod vrrpd;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Lan, has_address, have_root, ip, neighbour, serve_name, wait_until, who_answers};
use vrrp_timing::{holds_for, master_down, skew};
use vrrpd::{Daemon, scratch};

/// Every instance's `advert_int` (VRRPv2: the skew's unit is a second too).
const ADVERT: Duration = Duration::from_secs(1);
/// Long enough for anything that must happen eventually; the protocol's
/// bounds are asserted on the measured times.
const EVENTUALLY: Duration = Duration::from_secs(20);

const VIP: &str = "10.199.0.100/24";
const VIP2: &str = "10.199.0.101/24";

/// A directory that script security accepts whatever the checkout's path
/// (which may be under /tmp): under the first of these that only root may
/// write. Removed on drop.
struct SecureDir(PathBuf);

impl SecureDir {
    fn new(tag: &str) -> Self {
        use std::os::unix::fs::MetadataExt;
        let base = ["/run", "/var/lib", "/root"]
            .iter()
            .map(Path::new)
            .find(|p| {
                p.ancestors().all(|a| {
                    std::fs::metadata(a).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0)
                })
            })
            .expect("a root-only directory");
        let dir = base.join(format!("ha-vrrpd-test-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        set_mode(&dir, 0o755);
        Self(dir)
    }
}

impl Drop for SecureDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An instance of the chapter's shape: `priority`, VIP `vip`, `extra` lines.
fn instance(name: &str, vrid: u8, priority: u8, vip: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    \
         virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n\
         {extra}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    )
}

fn holds(ns: &str, vip: &str) -> bool {
    has_address(ns, "eth0", vip)
}

/// Starts `master_config` on host 1 and a plain priority-100 backup on
/// host 2, and waits until host 1 holds the VIP.
fn elected(lan: &Lan, master_config: &str) -> (Daemon, Daemon) {
    let (a, b) = (&lan.hosts[0], &lan.hosts[1]);
    let master = Daemon::start(a, master_config);
    let backup = Daemon::start(b, &instance("VI_1", 51, 100, VIP, ""));
    wait_until(EVENTUALLY, || holds(a, VIP) && !holds(b, VIP))
        .expect("host 1 (priority 150) is elected");
    (master, backup)
}

#[test]
fn a_failing_track_script_lowers_the_priority_and_the_backup_takes_over() {
    if !have_root() {
        return;
    }
    let lan = Lan::new("vfs", 2);
    let (a, b) = (&lan.hosts[0], &lan.hosts[1]);
    let flag = scratch(a).join("healthy");
    std::fs::write(&flag, "").unwrap();
    let config = format!(
        "vrrp_script chk {{\n    script \"/usr/bin/test -e {}\"\n    interval 0.2\n    \
         weight -60\n    fall 2\n    rise 2\n}}\n{}",
        flag.display(),
        instance(
            "VI_1",
            51,
            150,
            VIP,
            "    track_script {\n        chk\n    }\n"
        )
    );
    let (_master, _backup) = elected(&lan, &config);
    std::fs::remove_file(&flag).unwrap();
    // 150 - 60 = 90 < 100: the backup discards the adverts and takes over
    // when its down timer runs out.
    let moved = wait_until(EVENTUALLY, || holds(b, VIP) && !holds(a, VIP))
        .expect("the backup takes over from a master whose script fails");
    eprintln!("script failure moved the VIP in {moved:?}");
    std::fs::write(&flag, "").unwrap();
    wait_until(EVENTUALLY, || holds(a, VIP) && !holds(b, VIP))
        .expect("the healthy master preempts again");
}

#[test]
fn a_tracked_interface_going_down_puts_the_master_in_fault() {
    if !have_root() {
        return;
    }
    let lan = Lan::new("vfi", 2);
    let (a, b) = (&lan.hosts[0], &lan.hosts[1]);
    ip(&[
        "-n", a, "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
    ]);
    ip(&["-n", a, "link", "set", "trk1", "up"]);
    ip(&["-n", a, "link", "set", "trk0", "up"]);
    let config = instance(
        "VI_1",
        51,
        150,
        VIP,
        "    track_interface {\n        trk0\n    }\n",
    );
    let (_master, _backup) = elected(&lan, &config);
    // FAULT resigns with priority 0: the backup takes over after its skew,
    // long before its Master_Down_Interval.
    let slack = vrrp_timing::slack(|| holds(b, VIP) && !holds(a, VIP));
    let bound = skew(ADVERT, 100) + slack;
    assert!(bound < master_down(ADVERT, ADVERT, 100), "{slack:?}");
    ip(&["-n", a, "link", "set", "trk0", "down"]);
    let moved = wait_until(EVENTUALLY, || holds(b, VIP) && !holds(a, VIP))
        .expect("the backup takes over from a faulted master");
    eprintln!("interface down moved the VIP in {moved:?} (slack {slack:?})");
    assert!(moved <= bound, "{moved:?}");
    ip(&["-n", a, "link", "set", "trk0", "up"]);
    wait_until(EVENTUALLY, || holds(a, VIP) && !holds(b, VIP))
        .expect("the master returns from FAULT and preempts");
}

#[test]
fn a_track_file_value_is_weighed() {
    if !have_root() {
        return;
    }
    let lan = Lan::new("vff", 2);
    let (a, b) = (&lan.hosts[0], &lan.hosts[1]);
    let file = scratch(a).join("weight");
    let config = format!(
        "vrrp_track_file load {{\n    file {}\n    weight -30\n    init_file 0 overwrite\n}}\n{}",
        file.display(),
        instance(
            "VI_1",
            51,
            150,
            VIP,
            "    track_file {\n        load\n    }\n"
        )
    );
    let (_master, _backup) = elected(&lan, &config);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        "0",
        "init_file"
    );
    // 150 - 2 x 30 = 90 < 100.
    std::fs::write(&file, "2\n").unwrap();
    wait_until(EVENTUALLY, || holds(b, VIP) && !holds(a, VIP))
        .expect("the backup takes over when the file lowers the priority");
    std::fs::write(&file, "0\n").unwrap();
    wait_until(EVENTUALLY, || holds(a, VIP) && !holds(b, VIP))
        .expect("the master preempts when the file is back to 0");
}

#[test]
fn a_sync_group_fails_over_together() {
    if !have_root() {
        return;
    }
    let lan = Lan::new("vfg", 2);
    let (a, b) = (&lan.hosts[0], &lan.hosts[1]);
    ip(&[
        "-n", a, "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
    ]);
    ip(&["-n", a, "link", "set", "trk1", "up"]);
    ip(&["-n", a, "link", "set", "trk0", "up"]);
    let group = "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_2\n    }\n}\n";
    // Only VI_2 tracks trk0 on host 1; the group takes VI_1 along.
    let master = format!(
        "{group}{}{}",
        instance("VI_1", 51, 150, VIP, ""),
        instance(
            "VI_2",
            52,
            150,
            VIP2,
            "    track_interface {\n        trk0\n    }\n"
        )
    );
    let backup = format!(
        "{group}{}{}",
        instance("VI_1", 51, 100, VIP, ""),
        instance("VI_2", 52, 100, VIP2, "")
    );
    let _master = Daemon::start(a, &master);
    let _backup = Daemon::start(b, &backup);
    let both = |ns: &str| holds(ns, VIP) && holds(ns, VIP2);
    let neither = |ns: &str| !holds(ns, VIP) && !holds(ns, VIP2);
    wait_until(EVENTUALLY, || both(a) && neither(b)).expect("host 1 holds both VIPs");
    // The faulted member resigns, and the group with it: both move after
    // the skew, not after a Master_Down_Interval.
    let slack = vrrp_timing::slack(|| both(b) && neither(a));
    ip(&["-n", a, "link", "set", "trk0", "down"]);
    let moved = wait_until(EVENTUALLY, || both(b) && neither(a))
        .expect("both VIPs move when one member faults");
    eprintln!("the group moved in {moved:?} (slack {slack:?})");
    assert!(moved <= skew(ADVERT, 100) + slack, "{moved:?}");
    ip(&["-n", a, "link", "set", "trk0", "up"]);
    wait_until(EVENTUALLY, || both(a) && neither(b)).expect("the group comes back together");
}

#[test]
fn sighup_applies_changes_and_leaves_unchanged_instances_alone() {
    if !have_root() {
        return;
    }
    let lan = Lan::new("vfh", 2);
    let (a, b) = (&lan.hosts[0], &lan.hosts[1]);
    let master_config = instance("VI_1", 51, 150, VIP, "");
    let (master, backup) = elected(&lan, &master_config);
    // Unchanged (only a comment added): the master stays master throughout
    // (a restarted instance would start as a backup and lose the VIP for a
    // Master_Down_Interval).
    let down = master_down(ADVERT, ADVERT, 150);
    master.reload(&format!("# reloaded\n{master_config}"));
    if let Err(at) = holds_for(down, || holds(a, VIP)) {
        panic!("an unchanged master must keep its VIP; lost after {at:?}");
    }
    // An invalid file changes nothing.
    master.reload("vrrp_instance VI_1 {\n    priority 999\n}\n");
    if let Err(at) = holds_for(down, || holds(a, VIP) && !holds(b, VIP)) {
        panic!("an invalid reload changed the master after {at:?}");
    }
    // The backup's priority rises above the master's: it preempts.
    backup.reload(&instance("VI_1", 51, 200, VIP, ""));
    wait_until(EVENTUALLY, || holds(b, VIP) && !holds(a, VIP))
        .expect("the reloaded backup, now 200, preempts");
}

#[test]
fn notify_scripts_run_under_script_security_and_insecure_ones_do_not() {
    if !have_root() {
        return;
    }
    let lan = Lan::new("vfn", 2);
    let a = &lan.hosts[0];
    let secure = SecureDir::new(a);
    let dir = secure.0.clone();
    let secure_out = dir.join("secure.out");
    let script = dir.join("notify.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", secure_out.display()),
    )
    .unwrap();
    set_mode(&script, 0o755);
    set_mode(&dir, 0o755);
    // A copy anyone may edit: refused.
    let open_dir = dir.join("open");
    std::fs::create_dir_all(&open_dir).unwrap();
    set_mode(&open_dir, 0o777);
    let insecure_out = dir.join("insecure.out");
    let insecure = open_dir.join("notify.sh");
    std::fs::write(
        &insecure,
        format!("#!/bin/sh\necho ran >> {}\n", insecure_out.display()),
    )
    .unwrap();
    set_mode(&insecure, 0o755);
    let extra = format!(
        "    notify {}\n    notify_master {}\n",
        script.display(),
        insecure.display()
    );
    let config = format!(
        "global_defs {{\n    enable_script_security\n    script_user root\n}}\n{}",
        instance("VI_1", 51, 150, VIP, &extra)
    );
    let (master, _backup) = elected(&lan, &config);
    wait_until(EVENTUALLY, || {
        std::fs::read_to_string(&secure_out).is_ok_and(|t| t.contains("MASTER"))
    })
    .expect("the secure generic notify ran");
    let text = std::fs::read_to_string(&secure_out).unwrap();
    assert!(text.contains("INSTANCE VI_1 MASTER 150"), "{text}");
    // A stopping daemon waits for every notify script it started (and runs
    // the STOP notify): once it has exited, a script it had let run would
    // have written its file.
    master.stop();
    let text = std::fs::read_to_string(&secure_out).unwrap();
    assert!(text.contains("INSTANCE VI_1 STOP"), "{text}");
    assert!(
        !insecure_out.exists(),
        "a script in a world-writable directory must not run"
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn use_vmac_keeps_the_virtual_mac_across_a_failover() {
    if !have_root() {
        return;
    }
    let lan = Lan::new("vfv", 3);
    let (a, b, client) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    serve_name(a);
    serve_name(b);
    let vmac = "    use_vmac\n";
    let master = Daemon::start(a, &instance("VI_1", 51, 150, VIP, vmac));
    let _backup = Daemon::start(b, &instance("VI_1", 51, 100, VIP, vmac));
    let on_vmac = |ns: &str| has_address(ns, "vrrp.51", VIP);
    wait_until(EVENTUALLY, || on_vmac(a) && !on_vmac(b))
        .expect("the master puts the VIP on its macvlan");
    assert!(!holds(a, VIP), "not on the base interface");
    assert_eq!(who_answers(client).as_deref(), Some(a.as_str()));
    let virtual_mac = "00:00:5e:00:01:33";
    assert_eq!(
        neighbour(client, "10.199.0.100").as_deref(),
        Some(virtual_mac)
    );
    let slack = vrrp_timing::slack(|| on_vmac(b));
    master.stop();
    let moved = wait_until(EVENTUALLY, || on_vmac(b)).expect("the backup takes over");
    assert!(
        moved <= skew(ADVERT, 100) + slack,
        "{moved:?} (slack {slack:?})"
    );
    // The client's cache is still right; the bridge learned the MAC's new
    // port from the gratuitous ARP sent from the new master's macvlan (an
    // unlearned port would flood, which also reaches it: the name says
    // who answered).
    wait_until(EVENTUALLY, || {
        who_answers(client).as_deref() == Some(b.as_str())
    })
    .expect("the client reaches the new master");
    assert_eq!(
        neighbour(client, "10.199.0.100").as_deref(),
        Some(virtual_mac)
    );
    let link = Command::new("ip")
        .args(["-n", a, "link", "show", "vrrp.51"])
        .output()
        .unwrap();
    assert!(
        !link.status.success(),
        "the stopped master deleted its macvlan"
    );
}
