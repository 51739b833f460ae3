//! Virtual addresses added and removed over rtnetlink inside a namespace
//! this test makes (root only; skipped with a reason otherwise, required
//! under CI=true).

#![cfg(target_os = "linux")]

mod support;

use std::process::Command;

use ha_vrrp::linux::address::{Addresses, Vip};
use support::{Pair, have_root, in_netns};

fn shown(ns: &str) -> String {
    let out = Command::new("ip")
        .args(["-n", ns, "-4", "addr", "show", "dev", "vra"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_vip_is_added_with_prefix_and_label_and_removed() {
    if !have_root() {
        return;
    }
    let pair = Pair::new("hava");
    let handle = tokio::runtime::Handle::current();
    let (addresses, index) = in_netns(&pair.a, move || {
        let _guard = handle.enter();
        let index = nix::net::if_::if_nametoindex("vra").unwrap();
        (Addresses::open().unwrap(), index)
    });
    let vip = Vip {
        addr: "10.199.0.100".parse().unwrap(),
        prefix: 24,
        label: Some("vra:vi1".into()),
    };
    addresses.add(index, &vip).await.unwrap();
    let after_add = shown(&pair.a);
    assert!(after_add.contains("inet 10.199.0.100/24"), "{after_add}");
    assert!(after_add.contains("vra:vi1"), "{after_add}");
    // Idempotent both ways.
    addresses.add(index, &vip).await.unwrap();
    addresses.remove(index, &vip).await.unwrap();
    let after_remove = shown(&pair.a);
    assert!(!after_remove.contains("10.199.0.100"), "{after_remove}");
    assert!(
        after_remove.contains("10.199.0.1/24"),
        "the primary stays: {after_remove}"
    );
    addresses.remove(index, &vip).await.unwrap();
}

#[tokio::test]
async fn a_gratuitous_arp_updates_the_neighbours_cache() {
    use ha_vrrp::linux::arp::ArpSender;
    if !have_root() {
        return;
    }
    let pair = Pair::new("havg");
    // Neighbours only learn from gratuitous ARP for addresses they already
    // have an entry for (Linux's default arp_accept=0); make one, stale.
    support::ip(&[
        "-n",
        &pair.b,
        "neigh",
        "add",
        "10.199.0.100",
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        "vrb",
        "nud",
        "stale",
    ]);
    let handle = tokio::runtime::Handle::current();
    let (addresses, arp, index) = in_netns(&pair.a, move || {
        let _guard = handle.enter();
        let index = nix::net::if_::if_nametoindex("vra").unwrap();
        (
            Addresses::open().unwrap(),
            ArpSender::open(index).unwrap(),
            index,
        )
    });
    let mac = addresses.mac(index).await.unwrap();
    let dropped = arp
        .announce(mac, &["10.199.0.100".parse().unwrap()], 3)
        .unwrap();
    assert_eq!(dropped, 0);
    let expected = mac.map(|b| format!("{b:02x}")).join(":");
    for _ in 0..50 {
        let out = Command::new("ip")
            .args(["-n", &pair.b, "neigh", "show", "10.199.0.100"])
            .output()
            .unwrap();
        let shown = String::from_utf8(out.stdout).unwrap();
        if shown.contains(&expected) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the neighbour entry never pointed at {expected}");
}
