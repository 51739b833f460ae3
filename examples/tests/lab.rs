//! `ha-lab` in its default (loopback) mode runs every drill and passes:
//! the README's first command, as CI runs it.

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::process::Command;

/// A base port whose lab ports are all free now.
/// A block of 40 ports for one lab run. Each test asks for its own `slot`
/// and each process gets its own lane, so tests running in parallel (threads
/// of one process under `cargo test`, or processes with consecutive pids
/// under nextest) never probe the same block and then race to bind it.
fn free_base(slot: u16) -> u16 {
    let lane = (std::process::id() % 97) as u16 * 3 + slot;
    let start = 20_000 + lane * 40;
    (0..3)
        .map(|k| start + k * 12_000)
        .find(|&base| {
            let tcp =
                |ip: [u8; 4], port: u16| TcpListener::bind((Ipv4Addr::from(ip), port)).is_ok();
            let udp = |ip: [u8; 4], port: u16| UdpSocket::bind((Ipv4Addr::from(ip), port)).is_ok();
            tcp([127, 0, 0, 100], base)
                && tcp([127, 0, 0, 1], base + 1)
                && tcp([127, 0, 0, 1], base + 2)
                && udp([127, 0, 0, 11], base + 32)
                && udp([127, 0, 0, 12], base + 32)
        })
        .expect("free ports")
}

#[test]
fn every_drill_passes_on_loopback() {
    let base = free_base(0);
    let out = Command::new(env!("CARGO_BIN_EXE_ha-lab"))
        .args(["--json", "--base-port", &base.to_string()])
        .output()
        .expect("ha-lab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let drills = json["drills"].as_array().expect("drills");
    let names: Vec<&str> = drills.iter().filter_map(|d| d["drill"].as_str()).collect();
    assert_eq!(
        names,
        ["alternate", "web-down", "vrrp-term", "vrrp-stop", "restore"]
    );
    for d in drills {
        assert_eq!(d["passed"], true, "{d:#}");
    }
    assert!(out.status.success(), "exit status {:?}", out.status);
    assert!(stderr.contains("No interface address or ARP entry moves"));
    // The measured failovers are real numbers within their bounds.
    let term = &drills[2];
    let measured = term["measured_ms"].as_f64().expect("a failover time");
    assert!(measured > 500.0, "the backup waits its skew: {measured} ms");
}

#[test]
fn a_single_drill_and_bad_options() {
    let base = free_base(1);
    let out = Command::new(env!("CARGO_BIN_EXE_ha-lab"))
        .args([
            "--drill",
            "alternate",
            "--json",
            "--base-port",
            &base.to_string(),
        ])
        .output()
        .expect("ha-lab runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["drills"].as_array().unwrap().len(), 1);
    let out = Command::new(env!("CARGO_BIN_EXE_ha-lab"))
        .args(["--drill", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no drill called 'nonsense'"));
}

#[test]
fn every_drill_passes_in_network_namespaces() {
    if !nix::unistd::Uid::effective().is_root() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("required under CI: ha-lab --netns needs root");
        }
        eprintln!("SKIPPED: ha-lab --netns needs root");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ha-lab"))
        .args(["--netns", "--json"])
        .output()
        .expect("ha-lab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["mode"], "netns");
    let drills = json["drills"].as_array().expect("drills");
    assert_eq!(drills.len(), 5);
    for d in drills {
        assert_eq!(d["passed"], true, "{d:#}");
    }
    assert!(out.status.success(), "exit status {:?}", out.status);
}
