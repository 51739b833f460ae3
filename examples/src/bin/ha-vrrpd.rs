//! `ha-vrrpd`: the VRRP daemon, reading keepalived.conf.
//!
//! ```text
//! ha-vrrpd -f /etc/keepalived/keepalived.conf [-t] [-n]
//! ```
//! `-t` checks the configuration as start-up would (every interface named
//! must exist; short of opening them) and exits 0 (valid) or 1. `-n` stays in the foreground
//! (otherwise it forks, like keepalived). `-h`/`--help` prints the usage,
//! `-v`/`--version` the version. SIGTERM and SIGINT
//! stop: a master resigns with priority 0 so a backup takes over at once,
//! and every virtual address is removed. SIGHUP re-reads the file: unchanged
//! instances keep running (a master stays master), changed ones restart.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use ha_vrrp::config::{Config, Instance, Location, SyncGroup, TrackSource};
use ha_vrrp::keepalived;
use ha_vrrp::linux::instance::{GroupChannel, InstanceDriver};
use ha_vrrp::linux::security::ScriptPolicy;
use ha_vrrp::packet::Version;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// The configuration file, re-read on SIGHUP.
static CONFIG_FILE: OnceLock<PathBuf> = OnceLock::new();

const USAGE: &str = "usage: ha-vrrpd -f CONFIG [-t] [-n]
  -f FILE  keepalived.conf to read
  -t       check the configuration and exit (0 valid, 1 invalid)
  -n       stay in the foreground
  -v       print the version and exit (also --version)
  -h       print this help and exit (also --help)";

fn main() -> ExitCode {
    let mut file = None;
    let (mut check, mut foreground) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-f" => file = args.next().map(PathBuf::from),
            "-t" => check = true,
            "-n" => foreground = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "-v" | "--version" => {
                println!("ha-vrrpd version {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
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
    let _ = CONFIG_FILE.set(file.clone());
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
        if let Err(e) = validate(&imported.config) {
            eprintln!("ha-vrrpd: {e}");
            return ExitCode::from(1);
        }
        println!("Configuration file is valid");
        return ExitCode::SUCCESS;
    }
    ha_examples::logging::to_stderr("info");
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

/// What `-t`, start-up and reload all check before opening an interface:
/// the instances' settings ([`Config::check`]), that every interface they
/// name exists here ([`Config::check_interfaces`]) and the script policy.
fn validate(config: &Config) -> Result<ScriptPolicy, String> {
    config.check().map_err(|e| e.to_string())?;
    config
        .check_interfaces(&interfaces()?)
        .map_err(|e| e.to_string())?;
    let file = CONFIG_FILE.get().map(|f| f.display().to_string());
    ScriptPolicy::from_global(&config.global)
        .map_err(|e| format!("{}: {e}", file.as_deref().unwrap_or("configuration")))
}

/// The names of this network namespace's interfaces (`if_nameindex`: the
/// namespace the process is in, which `/sys/class/net` need not show).
fn interfaces() -> Result<Vec<String>, String> {
    let list =
        nix::net::if_::if_nameindex().map_err(|e| format!("cannot list the interfaces: {e}"))?;
    Ok(list
        .iter()
        .map(|i| i.name().to_string_lossy().into_owned())
        .collect())
}

/// One running instance and what it was started from.
struct Running {
    plan: Plan,
    stop: watch::Sender<bool>,
    task: JoinHandle<ha_vrrp::Result<()>>,
}

/// Everything an instance's behaviour depends on: a reload restarts the
/// instance only if this changed (where things were written aside).
struct Plan {
    instance: Instance,
    tracks: Vec<(ha_vrrp::router::Track, TrackSource)>,
    group: Option<SyncGroup>,
    version: Option<Version>,
    policy: ScriptPolicy,
}

impl PartialEq for Plan {
    fn eq(&self, other: &Self) -> bool {
        fn settings(plan: &Plan) -> impl PartialEq + use<> {
            let mut instance = plan.instance.clone();
            instance.location = Location::default();
            let tracks: Vec<_> = plan
                .tracks
                .iter()
                .cloned()
                .map(|(track, mut source)| {
                    match &mut source {
                        TrackSource::Script(s) => s.location = Location::default(),
                        TrackSource::File(f) => f.location = Location::default(),
                        TrackSource::Interface(_) => {}
                    }
                    (track, source)
                })
                .collect();
            let group = plan.group.clone().map(|mut g| {
                g.location = Location::default();
                g
            });
            (instance, tracks, group, plan.version, plan.policy.clone())
        }
        settings(self) == settings(other)
    }
}

fn plans(config: &Config, policy: &ScriptPolicy) -> Vec<Plan> {
    config
        .instances
        .iter()
        .map(|instance| Plan {
            instance: instance.clone(),
            tracks: config.tracks(instance),
            group: config.sync_group_of(&instance.name).cloned(),
            version: config.global.vrrp_version,
            policy: policy.clone(),
        })
        .collect()
}

async fn run(config: Config) -> Result<(), String> {
    // Signals first, so a stop during start-up is handled like any other.
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let policy = validate(&config)?;
    warn_insecure(&config, &policy);
    let mut running = start(&config, &policy, plans(&config, &policy)).await?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = hup.recv() => running = reload(running).await,
        }
    }
    tracing::info!("stopping: resigning and removing virtual addresses");
    stop(running.into_values().collect()).await;
    Ok(())
}

/// Opens every planned instance, then starts them all: a failure leaves
/// nothing of these running, and no address behind.
async fn start(
    config: &Config,
    policy: &ScriptPolicy,
    plans: Vec<Plan>,
) -> Result<HashMap<String, Running>, String> {
    let mut channels: HashMap<String, GroupChannel> = HashMap::new();
    let mut opened = Vec::new();
    for plan in plans {
        let channel = plan.group.as_ref().map(|g| {
            channels
                .entry(g.name.clone())
                .or_insert_with(|| broadcast::channel(64).0)
                .clone()
        });
        let driver = InstanceDriver::open(plan.instance.clone(), config, policy, channel)
            .await
            .map_err(|e| e.to_string())?;
        opened.push((plan, driver));
    }
    Ok(opened
        .into_iter()
        .map(|(plan, driver)| {
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(driver.run(stop_rx));
            let name = plan.instance.name.clone();
            (name, Running { plan, stop, task })
        })
        .collect())
}

/// Stops instances: each master resigns and removes its addresses.
async fn stop(instances: Vec<Running>) {
    for r in &instances {
        let _ = r.stop.send(true);
    }
    for r in instances {
        match r.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("{e}"),
            Err(e) => tracing::error!("instance task failed: {e}"),
        }
    }
}

/// SIGHUP: re-reads the configuration. Instances whose settings are
/// unchanged keep running undisturbed (a master stays master); changed,
/// removed and added ones are stopped and started, together with the rest
/// of their sync group. An invalid file changes nothing.
async fn reload(mut running: HashMap<String, Running>) -> HashMap<String, Running> {
    let Some(file) = CONFIG_FILE.get() else {
        return running;
    };
    let imported = match keepalived::load(file) {
        Ok(imported) => imported,
        Err(e) => {
            tracing::error!("reload refused, still running the previous configuration: {e}");
            return running;
        }
    };
    for warning in &imported.warnings {
        tracing::warn!("{warning}");
    }
    let config = imported.config;
    let policy = match validate(&config) {
        Ok(policy) => policy,
        Err(e) => {
            tracing::error!("reload refused, still running the previous configuration: {e}");
            return running;
        }
    };
    let mut plans = plans(&config, &policy);
    let unchanged = |plan: &Plan| {
        running
            .get(&plan.instance.name)
            .is_some_and(|r| r.plan == *plan)
    };
    // A changed member restarts its whole group (they share a channel).
    let restart_groups: HashSet<String> = plans
        .iter()
        .filter(|p| !unchanged(p))
        .filter_map(|p| p.group.as_ref().map(|g| g.name.clone()))
        .collect();
    let keep: HashSet<String> = plans
        .iter()
        .filter(|p| unchanged(p))
        .filter(|p| {
            p.group
                .as_ref()
                .is_none_or(|g| !restart_groups.contains(&g.name))
        })
        .map(|p| p.instance.name.clone())
        .collect();
    let leaving: Vec<String> = running
        .keys()
        .filter(|name| !keep.contains(*name))
        .cloned()
        .collect();
    stop(leaving.iter().filter_map(|n| running.remove(n)).collect()).await;
    plans.retain(|p| !keep.contains(&p.instance.name));
    tracing::info!(
        kept = keep.len(),
        restarted = plans.len(),
        stopped = leaving.len(),
        "configuration reloaded"
    );
    match start(&config, &policy, plans).await {
        Ok(started) => running.extend(started),
        Err(e) => tracing::error!("reload could not start every instance: {e}"),
    }
    running
}

/// keepalived's warning: scripts running as root without script security.
fn warn_insecure(config: &Config, policy: &ScriptPolicy) {
    let has_scripts = !config.scripts.is_empty()
        || config.instances.iter().any(|i| {
            i.notify.is_some()
                || i.notify_master.is_some()
                || i.notify_backup.is_some()
                || i.notify_fault.is_some()
                || i.notify_stop.is_some()
        });
    if has_scripts && !policy.secure && policy.user.is_none_or(|(uid, _)| uid == 0) {
        tracing::warn!(
            "scripts run as root without enable_script_security: anyone who can change them can run code as root"
        );
    }
}
