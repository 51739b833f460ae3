//! Test hosts in network namespaces the tests make and delete themselves.
#![allow(dead_code)]

use std::fs::File;
use std::process::Command;

/// Two namespaces joined by a veth pair, deleted on drop.
pub struct Pair {
    pub a: String,
    pub b: String,
}

pub fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("ip runs");
    assert!(status.success(), "ip {args:?} failed");
}

impl Pair {
    /// Namespaces `<tag>a` and `<tag>b`, veths `vra`/`vrb`, 10.199.0.1 and .2/24.
    pub fn new(tag: &str) -> Self {
        let id = std::process::id() % 100_000;
        let (a, b) = (format!("{tag}{id}a"), format!("{tag}{id}b"));
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
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = File::open(format!("/var/run/netns/{ns}")).expect("namespace exists");
    std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .unwrap()
}

pub fn skip(reason: &str) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required under CI: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    true
}

/// Whether a root-only test may run here; skips (or fails under CI=true).
pub fn have_root() -> bool {
    nix::unistd::Uid::effective().is_root() || !skip("needs root for namespaces and raw sockets")
}
