//! `ha-vrrpd -t`, `--help` and `--version`: what needs no root.
//!
//! The configurations use `lo`, the one interface every machine (and
//! network namespace) has.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A keepalived.conf with one instance, plus `extra` lines inside it.
fn config(name: &str, extra: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ha-vrrpd-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "vrrp_instance VI_1 {{\n    interface lo\n    virtual_router_id 51\n    priority 100\n{extra}    virtual_ipaddress {{\n        192.168.122.100\n    }}\n}}\n"
        ),
    )
    .unwrap();
    path
}

fn vrrpd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ha-vrrpd"))
        .args(args)
        .output()
        .unwrap()
}

fn check(path: &std::path::Path) -> Output {
    vrrpd(&["-t", "-f", path.to_str().unwrap()])
}

#[test]
fn check_mode_refuses_the_intervals_start_up_refuses_with_file_and_line() {
    let good = config("good.conf", "    advert_int 1\n");
    let out = check(&good);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Configuration file is valid"));

    // Below keepalived's 0.01 s: refused at the advert_int line.
    let tiny = config("tiny.conf", "    advert_int 0.001\n");
    let out = check(&tiny);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tiny.conf:5: `advert_int`"), "{stderr}");

    // VRRPv2 carries whole seconds: start-up refuses 0.5 s, so -t does.
    let half = config("half.conf", "    advert_int 0.5\n");
    let out = check(&half);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("half.conf:1: advert_int 500ms cannot be sent with VRRP version 2"),
        "{stderr}"
    );
}

#[test]
fn check_mode_refuses_an_interface_this_machine_does_not_have() {
    // Like keepalived's configuration test, as start-up refuses it.
    let missing = "ha-no-such0";
    let text = format!(
        "vrrp_instance VI_1 {{\n    interface {missing}\n    virtual_router_id 51\n    \
         priority 100\n    virtual_ipaddress {{\n        192.168.122.100\n    }}\n}}\n"
    );
    let path = config("missing.conf", "");
    std::fs::write(&path, text).unwrap();
    let out = check(&path);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "missing.conf:1: interface {missing} for vrrp_instance VI_1 does not exist on this machine"
        )),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("valid"),
        "{out:?}"
    );

    // A virtual address's `dev` is an interface start-up opens too.
    let text = format!(
        "vrrp_instance VI_1 {{\n    interface lo\n    virtual_router_id 51\n    \
         priority 100\n    virtual_ipaddress {{\n        192.168.123.100 dev {missing}\n    }}\n}}\n"
    );
    let dev = config("dev.conf", "");
    std::fs::write(&dev, text).unwrap();
    let out = check(&dev);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "dev.conf:1: interface {missing} for vrrp_instance VI_1"
        )),
        "{stderr}"
    );
}

#[test]
fn check_mode_refuses_an_instance_of_two_families() {
    let path = config(
        "mixed.conf",
        "    version 3\n    unicast_peer {\n        2001:db8::2\n    }\n",
    );
    let out = check(&path);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "mixed.conf:1: unicast_peer 2001:db8::2 is not of the instance's family (IPv4)"
        ),
        "{stderr}"
    );
}

#[test]
fn a_long_auth_pass_is_never_printed() {
    let path = config(
        "auth.conf",
        "    authentication {\n        auth_type PASS\n        auth_pass hunter2secret\n    }\n",
    );
    let out = check(&path);
    assert!(out.status.success(), "{out:?}");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("auth.conf:7: `auth_pass` truncated to 8 characters"),
        "{all}"
    );
    assert!(!all.contains("hunter2"), "{all}");
}

#[test]
fn help_and_version_print_on_stdout_and_succeed() {
    for flag in ["-h", "--help"] {
        let out = vrrpd(&[flag]);
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("usage: ha-vrrpd"),
            "{out:?}"
        );
    }
    for flag in ["-v", "--version"] {
        let out = vrrpd(&[flag]);
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("ha-vrrpd version "),
            "{out:?}"
        );
    }
}
