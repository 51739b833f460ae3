//! The script runner against real programs.

use std::time::{Duration, Instant};

use ha_core::{Error, Script, ScriptStatus};

#[tokio::test]
async fn arguments_are_not_interpreted_by_a_shell() {
    let out = Script::new("printf")
        .args(["%s|%s", "$HOME", "a b; echo injected"])
        .run()
        .await
        .unwrap();
    assert_eq!(out.status, ScriptStatus::Exited(0));
    assert_eq!(out.stdout, b"$HOME|a b; echo injected");
}

#[tokio::test]
async fn shell_mode_runs_sh() {
    let out = Script::shell("echo out; echo err >&2; exit 7")
        .run()
        .await
        .unwrap();
    assert_eq!(out.status, ScriptStatus::Exited(7));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.stderr_tail(), "err");
}

#[tokio::test]
async fn environment_and_directory_are_passed() {
    let dir = std::env::temp_dir();
    let out = Script::shell("printf '%s %s' \"$HA_STATE\" \"$(pwd)\"")
        .env("HA_STATE", "MASTER")
        .current_dir(&dir)
        .run()
        .await
        .unwrap();
    let expected = format!("MASTER {}", dir.canonicalize().unwrap().display());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let marker = std::env::temp_dir().join(format!("ha-core-script-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    // The background sleep would write the marker if it survived the kill.
    let line = format!("(sleep 1; touch {}) & sleep 30", marker.display());
    let started = Instant::now();
    let out = Script::shell(line)
        .timeout(Duration::from_millis(200))
        .run()
        .await
        .unwrap();
    assert_eq!(
        out.status,
        ScriptStatus::TimedOut(Duration::from_millis(200))
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !marker.exists(),
        "a process of the group survived the timeout"
    );
}

#[tokio::test]
async fn a_background_process_left_running_does_not_block_the_caller() {
    // The hook exits at once but leaves a child holding stdout open, like a
    // notify script that starts a daemon. The run ends after a short grace,
    // and the daemon is not killed.
    let pidfile = std::env::temp_dir().join(format!("ha-core-daemon-{}", std::process::id()));
    let line = format!("sleep 30 & echo $! > {}; echo started", pidfile.display());
    let started = Instant::now();
    let out = Script::shell(line).run().await.unwrap();
    assert_eq!(out.status, ScriptStatus::Exited(0));
    assert_eq!(out.stdout, b"started\n");
    assert!(started.elapsed() < Duration::from_secs(5));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(pid);
    assert!(
        nix::sys::signal::kill(pid, None).is_ok(),
        "the daemon was killed"
    );
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = std::fs::remove_file(pidfile);
}

#[tokio::test]
async fn signals_are_reported() {
    let out = Script::shell("kill -TERM $$").run().await.unwrap();
    assert_eq!(out.status, ScriptStatus::Signaled(15));
    assert!(!out.status.success());
}

#[tokio::test]
async fn output_is_capped() {
    let out = Script::shell("head -c 100000 /dev/zero")
        .output_limit(1000)
        .run()
        .await
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 1000);
}

#[tokio::test]
async fn a_missing_program_is_an_error_naming_it() {
    let err = Script::new("/nonexistent/notify.sh")
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Spawn { .. }));
    assert!(err.to_string().contains("/nonexistent/notify.sh"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_runtime_is_not_blocked_while_a_script_runs() {
    let ticker = tokio::spawn(async {
        let mut ticks = 0;
        let mut interval = tokio::time::interval(Duration::from_millis(10));
        for _ in 0..20 {
            interval.tick().await;
            ticks += 1;
        }
        ticks
    });
    let out = Script::new("sleep").arg("0.5").run().await.unwrap();
    assert!(out.status.success());
    assert!(
        ticker.is_finished(),
        "the ticker could not run during the script"
    );
    assert_eq!(ticker.await.unwrap(), 20);
}

#[tokio::test]
async fn a_script_runs_as_the_user_it_is_given() {
    if !nix::unistd::Uid::effective().is_root() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("required under CI: needs root to switch users");
        }
        eprintln!("SKIPPED: needs root to switch users");
        return;
    }
    // 65534: nobody/nogroup on Debian.
    let out = Script::new("id")
        .args(["-u"])
        .user(65534, 65534)
        .run()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "65534");
}
