//! Test hosts in network namespaces the tests make and delete themselves.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

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

/// Hosts on one Ethernet segment: a bridge `br0` in its own namespace and,
/// per host, a namespace whose `eth0` is plugged into it. Host `i` (from 1)
/// has 10.199.0.i/24 and fd00:199::i/64 (no duplicate address detection, so
/// IPv6 is usable at once). Everything is deleted on drop.
pub struct Lan {
    switch: String,
    pub hosts: Vec<String>,
}

impl Lan {
    pub fn new(tag: &str, hosts: usize) -> Self {
        let id = std::process::id() % 100_000;
        let switch = format!("{tag}{id}sw");
        ip(&["netns", "add", &switch]);
        let mut lan = Self {
            switch,
            hosts: Vec::new(),
        };
        // Snooping off: the VRRP groups are link-local and must reach all.
        ip(&[
            "-n",
            &lan.switch,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip(&["-n", &lan.switch, "link", "set", "br0", "up"]);
        for i in 1..=hosts {
            let ns = format!("{tag}{id}h{i}");
            ip(&["netns", "add", &ns]);
            lan.hosts.push(ns.clone());
            sysctl(&ns, "net.ipv6.conf.all.accept_dad", "0");
            sysctl(&ns, "net.ipv6.conf.default.accept_dad", "0");
            let port = format!("p{i}");
            ip(&[
                "link",
                "add",
                "eth0",
                "netns",
                &ns,
                "type",
                "veth",
                "peer",
                "name",
                &port,
                "netns",
                &lan.switch,
            ]);
            ip(&[
                "-n",
                &lan.switch,
                "link",
                "set",
                &port,
                "master",
                "br0",
                "up",
            ]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.199.0.{i}/24"),
                "dev",
                "eth0",
            ]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("fd00:199::{i}/64"),
                "dev",
                "eth0",
                "nodad",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        lan
    }

    /// Unplugs host `i` (from 1) from the bridge; its link stays up, so
    /// nothing but the traffic stops (a partition, not an interface fault).
    pub fn unplug(&self, i: usize) {
        self.port(i, &["nomaster"]);
    }

    /// Plugs host `i` back in.
    pub fn plug(&self, i: usize) {
        self.port(i, &["master", "br0"]);
    }

    fn port(&self, i: usize, setting: &[&str]) {
        let port = format!("p{i}");
        let mut args = vec!["-n", &self.switch, "link", "set", &port];
        args.extend_from_slice(setting);
        ip(&args);
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in self.hosts.iter().chain(std::iter::once(&self.switch)) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Sets `/proc/sys/<key>` inside `ns` (no dependency on procps' sysctl).
fn sysctl(ns: &str, key: &str, value: &str) {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    let status = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "sh",
            "-c",
            &format!("echo {value} > {path}"),
        ])
        .status()
        .expect("sh runs");
    assert!(status.success(), "setting {key} in {ns} failed");
}

/// The MAC address of `dev` in `ns`, as `ip` prints it.
pub fn mac(ns: &str, dev: &str) -> String {
    let out = Command::new("ip")
        .args(["-n", ns, "link", "show", "dev", dev])
        .output()
        .expect("ip runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    words.find(|w| *w == "link/ether");
    words.next().expect("an Ethernet address").to_owned()
}

/// The MAC address `ns`'s neighbour table has for `addr`, if any.
pub fn neighbour(ns: &str, addr: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["-n", ns, "neigh", "show", addr])
        .output()
        .expect("ip runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    words.find(|w| *w == "lladdr");
    words.next().map(str::to_owned)
}

/// Whether `ns` has `addr` (as written by `ip addr`, e.g. "10.0.0.1/24") on `dev`.
pub fn has_address(ns: &str, dev: &str, addr: &str) -> bool {
    let out = Command::new("ip")
        .args(["-n", ns, "addr", "show", "dev", dev])
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .any(|word| word == addr)
}

/// Polls `ok` every 10 ms for up to `limit`; how long it took, if it held.
pub fn wait_until(limit: Duration, mut ok: impl FnMut() -> bool) -> Option<Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Serves this host's name on TCP port 8080 in namespace `ns`, forever
/// (the test process ends with the test).
pub fn serve_name(ns: &str) {
    let name = ns.to_owned();
    let listener = in_netns(ns, || TcpListener::bind("0.0.0.0:8080").unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = (&stream).write_all(name.as_bytes());
        }
    });
}

/// Which host answers on the VIP, asked from namespace `client`.
pub fn who_answers(client: &str) -> Option<String> {
    in_netns(client, || {
        let vip = "10.199.0.100:8080".parse().unwrap();
        let mut stream = TcpStream::connect_timeout(&vip, Duration::from_secs(1)).ok()?;
        let mut name = String::new();
        stream.read_to_string(&mut name).ok()?;
        Some(name)
    })
}
