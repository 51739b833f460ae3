//! fence-agents programs through ha-fence's runner: `fence_dummy` (status
//! file, a failing type, a run outliving its timeout) and `fence_ipmilan`
//! against OpenIPMI's simulated BMC; metadata parsed from the real agents;
//! parameters reach the agent on stdin only. Skipped with a reason
//! without fence-agents (and openipmi for the BMC); required under
//! CI=true.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use ha_fence::external::ExternalAgent;
use ha_fence::{Action, Error, Fencer, PowerState};
use support::{Bmc, have};

mod support;

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ha-fence-ext-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn fence_dummy_runs_through_the_runner() {
    if !have("fence_dummy", "fence-agents") {
        return;
    }
    let dir = scratch("dummy");
    let status_file = dir.join("status").display().to_string();
    let agent = ExternalAgent::load(
        "fence_dummy",
        kv(&[("status_file", &status_file)]),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let m = agent.metadata();
    assert_eq!(m.name, "fence_dummy");
    assert!(
        m.parameters
            .iter()
            .any(|p| p.name == "status_file" && p.default.is_some())
    );
    assert_eq!(agent.status("").await.unwrap(), PowerState::Off);
    agent.fence("", Action::On).await.unwrap();
    assert_eq!(agent.status("").await.unwrap(), PowerState::On);
    agent.fence("", Action::Off).await.unwrap();
    assert_eq!(agent.status("").await.unwrap(), PowerState::Off);
    agent.monitor().await.unwrap();
    // type=fail: every action fails.
    let failing = ExternalAgent::load(
        "fence_dummy",
        kv(&[("type", "fail"), ("power_timeout", "1")]),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert!(failing.fence("", Action::Off).await.is_err());
    // A run that outlives its timeout is killed and reported.
    let slow = ExternalAgent::load(
        "fence_dummy",
        kv(&[("status_file", &status_file), ("random_sleep_range", "20")]),
        Duration::from_secs(1),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let e = slow.fence("", Action::Off).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    if let Err(e) = e {
        assert!(matches!(e, Error::Timeout(_)), "{e}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn fence_ipmilan_fences_the_simulated_node_through_the_runner() {
    if !have("fence_ipmilan", "fence-agents")
        || !have("ipmi_sim", "openipmi")
        || !have("ipmitool", "ipmitool")
    {
        return;
    }
    let bmc = Bmc::start();
    let mut params = bmc.params(&[("cipher", "3"), ("power_wait", "0")]);
    let agent = ExternalAgent::load("fence_ipmilan", params.clone(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(agent.metadata().name, "fence_ipmilan");
    assert_eq!(agent.status("").await.unwrap(), PowerState::On);
    agent.fence("", Action::Off).await.unwrap();
    assert_eq!(bmc.ipmitool_power(), Some(false), "ipmitool reads it off");
    agent.fence("", Action::On).await.unwrap();
    assert_eq!(bmc.ipmitool_power(), Some(true));
    params.retain(|(k, _)| k != "password");
    params.push(("password".into(), "wrongpassword".into()));
    let denied = ExternalAgent::load("fence_ipmilan", params, Duration::from_secs(60))
        .await
        .unwrap();
    let e = denied.fence("", Action::Off).await.unwrap_err();
    assert!(!e.to_string().contains("wrongpassword"), "{e}");
    assert_eq!(
        bmc.ipmitool_power(),
        Some(true),
        "a refused login changes nothing"
    );
}

#[tokio::test]
async fn parameters_go_on_stdin_never_on_the_command_line() {
    let dir = scratch("argv");
    let agent = dir.join("fence_spy");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\nif [ \"$1\" = -o ]; then echo '<resource-agent name=\"fence_spy\" shortdesc=\"spy\"></resource-agent>'; exit 0; fi\n\
             echo \"$@\" > {0}/argv\ncat > {0}/stdin\nexit 0\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let spy = ExternalAgent::load(
        &agent,
        kv(&[("ip", "192.0.2.1"), ("password", "s3cret")]),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    spy.fence("node2", Action::Off).await.unwrap();
    let argv = std::fs::read_to_string(dir.join("argv")).unwrap();
    let stdin = std::fs::read_to_string(dir.join("stdin")).unwrap();
    assert!(!argv.contains("s3cret"), "{argv}");
    assert!(
        stdin.contains("password=s3cret\n")
            && stdin.contains("action=off\n")
            && stdin.contains("plug=node2\n"),
        "{stdin}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
