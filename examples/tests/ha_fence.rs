//! `ha-fence` with fence_ipmilan's command line and stdin protocol against
//! OpenIPMI's simulated BMC: status exit codes (0 on, 2 off), off and on
//! confirmed, a wrong password exits 3, bad arguments 2, metadata as
//! fence-agents print it, the password from a command (`-S`,
//! `passwd_script=`) and never echoed. Skipped with a reason without
//! openipmi and ipmitool; required under CI=true. `--help`, `--version`
//! and hostile arguments need no BMC.

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Output, Stdio};

// The simulated BMC and the peer checks, as ha-fence's own tests use them.
#[path = "../../ha-fence/tests/support/mod.rs"]
mod support;
use support::{Bmc, have};

/// The simulated BMC, if its programs are here (a failure under CI=true).
fn start_bmc() -> Option<Bmc> {
    (have("ipmi_sim", "openipmi") && have("ipmitool", "ipmitool")).then(Bmc::start)
}

/// `ha-fence` with fence_ipmilan's options against the BMC at `port`.
fn agent(port: u16, password: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ha-fence"))
        .args(["-a", "127.0.0.1", "-u", &port.to_string()])
        .args(["-l", "admin", "-p", password, "-P"])
        .args(extra)
        .output()
        .unwrap()
}

/// Runs ha-fence with `text` on its standard input, as Pacemaker's fencer
/// passes parameters.
fn on_stdin(text: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ha-fence"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn fence(bmc: &Bmc, extra: &[&str]) -> Output {
    let mut args = vec!["--login-timeout", "1"];
    args.extend_from_slice(extra);
    agent(bmc.addr.port(), "password", &args)
}

#[test]
fn the_fence_ipmilan_command_line_fences_the_simulated_node() {
    let Some(bmc) = start_bmc() else {
        return;
    };
    let on = fence(&bmc, &["-o", "status"]);
    assert_eq!(
        (on.status.code(), String::from_utf8_lossy(&on.stdout).trim()),
        (Some(0), "Status: ON")
    );
    let off = fence(&bmc, &["-o", "off"]);
    assert_eq!(
        off.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&off.stdout).trim(),
        "Success: Powered OFF"
    );
    assert_eq!(
        fence(&bmc, &["-o", "status"]).status.code(),
        Some(2),
        "off exits 2"
    );
    // The stdin protocol, as Pacemaker's fencer uses it.
    let out = on_stdin(&format!(
        "# from the fencer\nip=127.0.0.1\nipport={}\nusername=admin\npassword=password\nlanplus=1\naction=on\n",
        bmc.addr.port()
    ));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        fence(&bmc, &["-o", "status"]).status.code(),
        Some(0),
        "back on"
    );
    fence(&bmc, &["-o", "monitor"])
        .status
        .success()
        .then_some(())
        .expect("monitor");
}

#[test]
fn the_password_comes_from_a_command_and_is_never_echoed() {
    let Some(bmc) = start_bmc() else {
        return;
    };
    let port = bmc.addr.port().to_string();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ha-fence"))
            .args(["-a", "127.0.0.1", "-u", &port, "-l", "admin", "-P"])
            .args(["--login-timeout", "1"])
            .args(args)
            .output()
            .unwrap()
    };
    let status = run(&["-S", "echo password", "-o", "status"]);
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    // The script wins over -p, as in fence-agents.
    let status = run(&[
        "-p",
        "wrongpass",
        "--password-script",
        "printf 'password\n'",
        "-o",
        "status",
    ]);
    assert_eq!(status.status.code(), Some(0));
    let denied = run(&["-S", "echo hunter2pw", "-o", "status"]);
    assert_eq!(denied.status.code(), Some(3), "login denied");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&denied.stdout),
        String::from_utf8_lossy(&denied.stderr)
    );
    assert!(!said.contains("hunter2pw"), "{said}");
    let failed = run(&["-S", "exit 7", "-o", "status"]);
    assert_eq!(
        failed.status.code(),
        Some(2),
        "a failed script: bad arguments"
    );
    // On stdin, as Pacemaker's fencer passes it.
    let out = on_stdin(&format!(
        "ip=127.0.0.1\nipport={port}\nusername=admin\npasswd_script=echo password\nlanplus=1\naction=status\n",
    ));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn help_and_version_answer_and_hostile_arguments_are_bad_arguments() {
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_ha-fence"))
            .args(args)
            .output()
            .unwrap()
    };
    for flag in ["-h", "--help"] {
        let help = run(&[flag.as_ref()]);
        assert_eq!(help.status.code(), Some(0), "{flag}");
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(
            text.contains("--password-script") && text.contains("passwd_script"),
            "{text}"
        );
    }
    for flag in ["-V", "--version"] {
        let version = run(&[flag.as_ref()]);
        assert_eq!(version.status.code(), Some(0), "{flag}");
        assert_eq!(
            String::from_utf8_lossy(&version.stdout).trim(),
            concat!("ha-fence ", env!("CARGO_PKG_VERSION"))
        );
    }
    let kg = run(&[
        "-a",
        "127.0.0.1",
        "-P",
        "--hexadecimal-kg",
        "0x€1",
        "-o",
        "off",
    ]
    .map(std::ffi::OsStr::new));
    assert_eq!(
        kg.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&kg.stderr)
    );
    assert!(String::from_utf8_lossy(&kg.stderr).contains("hexadecimal_kg"));
    {
        use std::os::unix::ffi::OsStrExt;
        let not_utf8 = run(&[
            "-p".as_ref(),
            std::ffi::OsStr::from_bytes(b"hunter2\xff"),
            "-a".as_ref(),
            "127.0.0.1".as_ref(),
        ]);
        assert_eq!(not_utf8.status.code(), Some(2));
        assert!(!String::from_utf8_lossy(&not_utf8.stderr).contains("hunter2"));
    }
}

#[test]
fn failures_exit_with_fence_agents_codes() {
    let Some(bmc) = start_bmc() else {
        return;
    };
    let denied = agent(bmc.addr.port(), "wrongpass", &["-o", "status"]);
    assert_eq!(denied.status.code(), Some(3), "login denied");
    assert!(
        !String::from_utf8_lossy(&denied.stderr).contains("wrongpass"),
        "no password in messages"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_ha-fence"))
        .args(["-a", "127.0.0.1", "-o", "off"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "no lanplus: bad arguments");
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let timeout = agent(
        silent.local_addr().unwrap().port(),
        "password",
        &["--login-timeout", "1", "-o", "off"],
    );
    assert_eq!(timeout.status.code(), Some(5), "timed out");
    let metadata = Command::new(env!("CARGO_BIN_EXE_ha-fence"))
        .args(["-o", "metadata"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&metadata.stdout)
            .contains("<resource-agent name=\"fence_ipmilan\"")
    );
}

#[test]
fn the_sbd_subcommands_create_message_and_list() {
    let disk = std::env::temp_dir().join(format!("ha-fence-bin-sbd-{}.img", std::process::id()));
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let sbd = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ha-fence"))
            .args(["sbd", "-d"])
            .arg(&disk)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(sbd(&["-1", "3", "create"]).status.success());
    let dump = String::from_utf8_lossy(&sbd(&["dump"]).stdout).into_owned();
    assert!(
        dump.contains("Timeout (watchdog) : 3") && dump.contains("Timeout (msgwait)  : 6"),
        "{dump}"
    );
    assert!(sbd(&["message", "node2", "reset"]).status.success());
    let list = String::from_utf8_lossy(&sbd(&["list"]).stdout).into_owned();
    assert!(list.starts_with("0\tnode2\treset\t"), "{list}");
    assert_eq!(sbd(&["message", "node2", "explode"]).status.code(), Some(2));
    assert_eq!(sbd(&["frobnicate"]).status.code(), Some(2));
    let _ = std::fs::remove_file(disk);
}
