//! Two `ha-vrrpd` in network namespaces this test makes, running the
//! chapter's keepalived.conf (interface and addresses changed): the VIP is on
//! the master only, a client in a third namespace reaches it, and it moves
//! (with the client's neighbour entry) when the master stops (root only; skipped with
//! a reason otherwise, required under CI=true).

#![cfg(target_os = "linux")]

#[path = "../../ha-vrrp/tests/support/mod.rs"]
mod support;
mod vrrp_timing;
mod vrrpd;

use std::time::Duration;

use support::{
    Lan, Pair, has_address, have_root, mac, neighbour, serve_name, wait_until, who_answers,
};
use vrrp_timing::{holds_for, master_down, skew};
use vrrpd::Daemon;

/// The chapter's `advert_int` (VRRPv2: the skew's unit is a second too).
const ADVERT: Duration = Duration::from_secs(1);
/// Long enough for anything that must happen eventually; the protocol's
/// bounds are asserted on the measured times.
const EVENTUALLY: Duration = Duration::from_secs(20);
/// Without a gratuitous ARP a client's stale neighbour entry is only
/// re-resolved after its delay-probe time (5 s): sooner means the ARP did it.
const ARP_FOLLOWS: Duration = Duration::from_secs(3);

const CHAPTER: &str = include_str!("../../ha-vrrp/tests/fixtures/chapter.conf");

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
    Daemon::start(ns, &config)
}

fn has_vip(ns: &str, dev: &str) -> bool {
    has_address(ns, dev, "10.199.0.100/24")
}

#[test]
fn the_vip_lives_on_the_master_and_moves_when_it_stops() {
    if !have_root() {
        return;
    }
    let lan = Lan::new("hvd", 3);
    let (a, b, client) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    serve_name(a);
    serve_name(b);
    let master = start(a, "eth0", false);
    let _backup = start(b, "eth0", true);
    // Both start as backups; 150 wins after 3 x 1 s + 106/256 s.
    let elected = wait_until(EVENTUALLY, || has_vip(a, "eth0")).expect("the master takes the VIP");
    eprintln!("elected after {elected:?}");
    assert!(!has_vip(b, "eth0"), "the backup must not hold the VIP");
    if let Err(at) = holds_for(2 * ADVERT, || has_vip(a, "eth0") && !has_vip(b, "eth0")) {
        panic!("steady state lost after {at:?}");
    }
    assert_eq!(who_answers(client).as_deref(), Some(a.as_str()));
    assert_eq!(neighbour(client, "10.199.0.100"), Some(mac(a, "eth0")));

    // SIGTERM: the master resigns with priority 0; the backup takes over
    // after its skew ((256 - 100) / 256 s = 0.61 s), long before its
    // Master_Down_Interval, and its gratuitous ARP repoints the client's
    // neighbour entry.
    let slack = vrrp_timing::slack(|| has_vip(b, "eth0"));
    let resign_bound = skew(ADVERT, 100) + slack;
    assert!(resign_bound < master_down(ADVERT, ADVERT, 100), "{slack:?}");
    master.signal(nix::sys::signal::Signal::SIGTERM);
    let moved = wait_until(EVENTUALLY, || has_vip(b, "eth0")).expect("the backup takes the VIP");
    eprintln!("failover after SIGTERM: {moved:?} (slack {slack:?})");
    assert!(moved <= resign_bound, "{moved:?}");
    let b_mac = mac(b, "eth0");
    wait_until(ARP_FOLLOWS, || {
        neighbour(client, "10.199.0.100").as_ref() == Some(&b_mac)
    })
    .expect("the client's neighbour entry points at the new master");
    assert_eq!(who_answers(client).as_deref(), Some(b.as_str()));
    assert!(
        wait_until(EVENTUALLY, || !has_vip(a, "eth0")).is_some(),
        "the stopped master removed the VIP"
    );
    drop(master);

    // The master comes back and preempts (150 > 100) once its own down
    // timer runs out: it discards the lower master's adverts.
    let master = start(a, "eth0", false);
    let back = wait_until(EVENTUALLY, || has_vip(a, "eth0") && !has_vip(b, "eth0"))
        .expect("the returning master preempts");
    eprintln!("preempted after {back:?}");
    let a_mac = mac(a, "eth0");
    wait_until(ARP_FOLLOWS, || {
        neighbour(client, "10.199.0.100").as_ref() == Some(&a_mac)
    })
    .expect("the client's neighbour entry points back at the master");
    assert_eq!(who_answers(client).as_deref(), Some(a.as_str()));

    // SIGSTOP: a frozen master sends nothing; the backup takes over after
    // Master_Down_Interval = 3 x 1 s + 0.61 s from the last advert it heard
    // (about one interval before the signal at most; half an interval more
    // if that advert was late).
    let down = master_down(ADVERT, ADVERT, 100);
    let slack = vrrp_timing::slack(|| has_vip(b, "eth0"));
    master.signal(nix::sys::signal::Signal::SIGSTOP);
    let moved = wait_until(EVENTUALLY, || has_vip(b, "eth0"))
        .expect("the backup takes over from a frozen master");
    eprintln!("failover after SIGSTOP: {moved:?} (slack {slack:?})");
    assert!(moved <= down + slack, "{moved:?}");
    assert!(moved >= down - ADVERT - ADVERT / 2, "{moved:?}");
    wait_until(ARP_FOLLOWS, || {
        neighbour(client, "10.199.0.100").as_ref() == Some(&b_mac)
    })
    .expect("the client's neighbour entry follows the VIP to the backup");
    assert_eq!(who_answers(client).as_deref(), Some(b.as_str()));
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
    wait_until(EVENTUALLY, || has_vip(&pair.a, "vra")).expect("the master takes the VIP");
    if let Err(at) = holds_for(2 * ADVERT, || !has_vip(&pair.b, "vrb")) {
        panic!("the backup took the VIP after {at:?}: it does not hear the master over unicast");
    }
    let slack = vrrp_timing::slack(|| has_vip(&pair.b, "vrb"));
    master.signal(nix::sys::signal::Signal::SIGTERM);
    let moved =
        wait_until(EVENTUALLY, || has_vip(&pair.b, "vrb")).expect("the backup takes the VIP");
    eprintln!("failover after SIGTERM: {moved:?} (slack {slack:?})");
    assert!(moved <= skew(ADVERT, 100) + slack, "{moved:?}");
}
