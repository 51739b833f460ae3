//! Our RMCP+ client against OpenIPMI's simulated BMC (`ipmi_sim`, the
//! lab's configuration): status, off, on and reboot change the simulated
//! power as ipmitool then reads it; a wrong password is refused; a dropped
//! reply is sent again; a BMC that never answers times out within the
//! bound. Skipped with a reason without openipmi and ipmitool; required
//! under CI=true.

use std::time::{Duration, Instant};

use ha_fence::ipmi::IpmiFencer;
use ha_fence::{Action, Error, Fencer, Operation, PowerState};
use support::{Bmc, have};

mod support;

fn peers() -> bool {
    have("ipmi_sim", "openipmi") && have("ipmitool", "ipmitool")
}

#[tokio::test(flavor = "multi_thread")]
async fn off_on_and_reboot_change_the_simulated_power() {
    if !peers() {
        return;
    }
    let bmc = Bmc::start();
    let fencer = IpmiFencer::from_params(&bmc.params(&[])).unwrap();
    assert_eq!(fencer.status("node1").await.unwrap(), PowerState::On);
    fencer.monitor().await.unwrap();
    let started = Instant::now();
    fencer.fence("node1", Action::Off).await.unwrap();
    eprintln!("confirmed off in {:?}", started.elapsed());
    assert_eq!(bmc.ipmitool_power(), Some(false), "ipmitool reads it off");
    assert_eq!(fencer.status("node1").await.unwrap(), PowerState::Off);
    // Off again: already off, confirmed at once.
    fencer.fence("node1", Action::Off).await.unwrap();
    fencer.fence("node1", Action::On).await.unwrap();
    assert_eq!(bmc.ipmitool_power(), Some(true));
    let steps = fencer.fence_timed(Action::Reboot).await.unwrap();
    eprintln!("reboot: {steps:?}");
    assert_eq!(bmc.ipmitool_power(), Some(true), "back on after the reboot");
    assert!(steps.confirmation > Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_are_refused() {
    if !peers() {
        return;
    }
    let bmc = Bmc::start();
    for (key, value) in [("password", "wrongpassword"), ("username", "nobody")] {
        let fencer = IpmiFencer::from_params(&bmc.params(&[(key, value)])).unwrap();
        let e = fencer.status("node1").await.unwrap_err();
        assert!(matches!(e, Error::LoginRefused(_)), "{key}: {e}");
    }
    assert_eq!(bmc.ipmitool_power(), Some(true), "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_reply_is_sent_again() {
    if !peers() {
        return;
    }
    let bmc = Bmc::start();
    // A relay that drops the BMC's first reply of each kind it sees.
    let relay = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = relay.local_addr().unwrap();
    let upstream = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    upstream.connect(bmc.addr).await.unwrap();
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = dropped.clone();
    tokio::spawn(async move {
        let (mut up, mut down) = ([0u8; 2048], [0u8; 2048]);
        let mut client = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            tokio::select! {
                Ok((n, from)) = relay.recv_from(&mut up) => {
                    client = Some(from);
                    let _ = upstream.send(&up[..n]).await;
                }
                Ok(n) = upstream.recv(&mut down) => {
                    // The payload type byte: drop the first of each.
                    if n > 5 && seen.insert(down[5]) {
                        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        continue;
                    }
                    if let Some(c) = client {
                        let _ = relay.send_to(&down[..n], c).await;
                    }
                }
            }
        }
    });
    let mut params = bmc.params(&[]);
    params.retain(|(k, _)| k != "ipport");
    params.push(("ipport".into(), relay_addr.port().to_string()));
    let fencer = IpmiFencer::from_params(&params).unwrap();
    assert_eq!(fencer.status("node1").await.unwrap(), PowerState::On);
    assert!(
        dropped.load(std::sync::atomic::Ordering::Relaxed) >= 3,
        "replies were dropped"
    );
}

#[tokio::test]
async fn a_silent_bmc_times_out_within_the_bound() {
    // A socket that never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let params: Vec<(String, String)> = [
        ("ip", "127.0.0.1"),
        ("ipport", port.as_str()),
        ("username", "admin"),
        ("password", "password"),
        ("lanplus", "1"),
        ("login_timeout", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let fencer = IpmiFencer::from_params(&params).unwrap();
    let started = Instant::now();
    let e = fencer.fence("node1", Action::Off).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e, Error::Timeout(_)), "{e}");
    // Not before login_timeout (less a timer's rounding), and not a second
    // whole wait after it, however busy the machine.
    let login_timeout = Duration::from_secs(2);
    assert!(
        took >= login_timeout - Duration::from_millis(100) && took < 2 * login_timeout,
        "{took:?}"
    );
    drop(silent);
    // Nothing listening at all: unreachable (ICMP port unreachable), at once.
    let e = fencer.status("node1").await.unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Io { operation: Operation::Receive, source, .. }
                if source.kind() == std::io::ErrorKind::ConnectionRefused
        ),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cipher_suites_1_2_and_3_log_in_and_0_is_refused() {
    if !peers() {
        return;
    }
    let bmc = Bmc::start();
    for suite in ["1", "2", "3"] {
        let fencer =
            IpmiFencer::from_params(&bmc.params(&[("cipher", suite), ("weak_cipher", "1")]))
                .unwrap();
        assert_eq!(
            fencer.status("node1").await.unwrap(),
            PowerState::On,
            "suite {suite}"
        );
    }
    // ipmi_sim would accept suite 0 (no authentication): never offered.
    let e =
        IpmiFencer::from_params(&bmc.params(&[("cipher", "0"), ("weak_cipher", "1")])).unwrap_err();
    assert!(matches!(e, Error::BadParameter(_)), "{e}");
    // Suites 1 and 2 only with the opt-in.
    for suite in ["1", "2"] {
        let e = IpmiFencer::from_params(&bmc.params(&[("cipher", suite)])).unwrap_err();
        assert!(
            matches!(&e, Error::BadParameter(m) if m.contains("weak_cipher=1")),
            "{e}"
        );
    }
}
