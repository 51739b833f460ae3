//! The advertisement socket between two network namespaces this test makes
//! (root only; skipped with a reason otherwise, required under CI=true).

#![cfg(target_os = "linux")]

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::Duration;

use ha_vrrp::V3Checksum;
use ha_vrrp::linux::socket::{AdvertSocket, GROUP_V4};
use ha_vrrp::packet::{Advert, Auth, Interval, Path, Version};

/// Two namespaces joined by a veth pair, deleted on drop.
struct Pair {
    a: String,
    b: String,
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("ip runs");
    assert!(status.success(), "ip {args:?} failed");
}

impl Pair {
    fn new() -> Self {
        let id = std::process::id() % 100_000;
        let (a, b) = (format!("havr{id}a"), format!("havr{id}b"));
        ip(&["netns", "add", &a]);
        ip(&["netns", "add", &b]);
        let pair = Self { a, b };
        ip(&[
            "link", "add", "vra", "netns", &pair.a, "type", "veth", "peer", "name", "vrb", "netns",
            &pair.b,
        ]);
        ip(&["-n", &pair.a, "addr", "add", "10.199.0.1/24", "dev", "vra"]);
        ip(&["-n", &pair.b, "addr", "add", "10.199.0.2/24", "dev", "vrb"]);
        for (ns, dev) in [(&pair.a, "vra"), (&pair.b, "vrb")] {
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        pair
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.a]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.b]).status();
    }
}

/// Runs `f` on a thread inside namespace `ns`; sockets made there stay in it.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = File::open(format!("/var/run/netns/{ns}")).expect("namespace exists");
    std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .unwrap()
}

fn skip(reason: &str) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required under CI: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    true
}

#[tokio::test]
async fn an_advert_crosses_namespaces_with_ttl_255() {
    if !nix::unistd::Uid::effective().is_root() && skip("needs root for namespaces and raw sockets")
    {
        return;
    }
    let pair = Pair::new();
    let handle = tokio::runtime::Handle::current();
    let h = handle.clone();
    let sender = in_netns(&pair.a, move || {
        let _guard = h.enter();
        AdvertSocket::ipv4("vra", true).unwrap()
    });
    let receiver = in_netns(&pair.b, move || {
        let _guard = handle.enter();
        AdvertSocket::ipv4("vrb", true).unwrap()
    });
    let advert = Advert {
        version: Version::V2,
        vrid: 51,
        priority: 150,
        interval: Interval::from_centis(100).unwrap(),
        addresses: vec!["10.199.0.100".parse().unwrap()],
        auth: Auth::password("secret123"),
    };
    let src: IpAddr = Ipv4Addr::new(10, 199, 0, 1).into();
    let path = Path {
        src,
        dst: GROUP_V4.into(),
    };
    let bytes = advert.encode(&path, V3Checksum::default()).unwrap();
    sender.send(&bytes, GROUP_V4).await.unwrap();
    let received = tokio::time::timeout(Duration::from_secs(2), receiver.recv())
        .await
        .expect("the advert arrives")
        .unwrap();
    assert_eq!(received.src, src);
    assert_eq!(received.dst, IpAddr::from(GROUP_V4));
    assert_eq!(received.ttl, 255);
    assert_eq!(
        Advert::decode(&received.payload, &path, V3Checksum::default()).unwrap(),
        advert
    );
}
