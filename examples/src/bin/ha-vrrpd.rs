//! `ha-vrrpd`: the VRRP daemon, reading keepalived.conf.
//!
//! ```text
//! ha-vrrpd -f /etc/keepalived/keepalived.conf [-t] [-n]
//! ```
//! `-t` checks the configuration and exits 0 (valid) or 1. `-n` stays in the
//! foreground (otherwise it forks, like keepalived). SIGTERM and SIGINT
//! stop: a master resigns with priority 0 so a backup takes over at once,
//! and every virtual address is removed. SIGHUP is logged and ignored
//! (reloading comes later).

use std::path::PathBuf;
use std::process::ExitCode;

use ha_vrrp::keepalived;
use ha_vrrp::linux::instance::InstanceDriver;
use ha_vrrp::packet::Version;
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: ha-vrrpd -f CONFIG [-t] [-n]
  -f FILE  keepalived.conf to read
  -t       check the configuration and exit (0 valid, 1 invalid)
  -n       stay in the foreground";

fn main() -> ExitCode {
    let mut file = None;
    let (mut check, mut foreground) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-f" => file = args.next().map(PathBuf::from),
            "-t" => check = true,
            "-n" => foreground = true,
            other => {
                eprintln!("ha-vrrpd: unknown option '{other}'\n{USAGE}");
                return ExitCode::from(1);
            }
        }
    }
    let Some(file) = file else {
        eprintln!("ha-vrrpd: no configuration file given (-f)\n{USAGE}");
        return ExitCode::from(1);
    };
    let imported = match keepalived::load(&file) {
        Ok(imported) => imported,
        Err(e) => {
            eprintln!("ha-vrrpd: {e}");
            return ExitCode::from(1);
        }
    };
    for warning in &imported.warnings {
        eprintln!("ha-vrrpd: warning: {warning}");
    }
    if check {
        println!("Configuration file is valid");
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if !foreground && let Err(e) = nix::unistd::daemon(false, false) {
        eprintln!("ha-vrrpd: cannot daemonize: {e}");
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ha-vrrpd: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(imported.config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}

async fn run(config: ha_vrrp::config::Config) -> Result<(), String> {
    let version = config.global.vrrp_version.unwrap_or(Version::V2);
    // Signals first, so a stop during start-up is handled like any other.
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    // Open every instance before starting any: a failure leaves nothing
    // running, and no address behind.
    let mut drivers = Vec::new();
    for instance in config.instances {
        drivers.push(
            InstanceDriver::open(instance, version)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running: Vec<_> = drivers
        .into_iter()
        .map(|driver| tokio::spawn(driver.run(stop_rx.clone())))
        .collect();
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = hup.recv() => tracing::warn!("SIGHUP ignored: reloading is not supported yet"),
        }
    }
    tracing::info!("stopping: resigning and removing virtual addresses");
    let _ = stop_tx.send(true);
    for task in running {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("{e}"),
            Err(e) => tracing::error!("instance task failed: {e}"),
        }
    }
    Ok(())
}
