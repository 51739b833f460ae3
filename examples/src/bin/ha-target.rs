//! `ha-target`: an iSCSI target serving file, block-device and memory
//! LUNs.
//!
//! ```text
//! ha-target -c /etc/target/saveconfig.json [--state-dir DIR]
//! ha-target --iqn iqn.2025-09.com.example:storage \
//!           --lun disk1=/var/lib/iscsi/disk1.img:1G [--lun NAME=PATH[:SIZE]]... \
//!           [--ramdisk NAME=SIZE]... [--portal 0.0.0.0:3260]
//! ```
//! `-c` reads targetcli's saveconfig.json (or ha-iscsi's own JSON form).
//! The quick flags make one target in demo mode (targetcli's
//! `authentication=0`, `generate_node_acls=1`, the chapter's setup) with
//! LUNs numbered from 0 in the order given; a file LUN is created sparse
//! at SIZE if absent. With `--state-dir`, persistent reservations made
//! with APTPL survive restarts. SIGTERM and SIGINT stop: initiators are
//! asked to log out (an Async Message), then every LUN is flushed.
//!
//! The quick flags serve read-write with neither CHAP nor an initiator
//! ACL: anyone who reaches the portal reads and writes the LUNs. `--help`
//! says so, and at start a warning is logged for every portal group
//! served that way (from `-c` too), naming where it listens. A
//! `--ramdisk` larger than the memory available is refused naming the
//! flag, before anything is allocated.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use ha_iscsi::config::{Backstore, Config, PortalGroup, Storage, Target};
use ha_iscsi::launch::launch;
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: ha-target -c SAVECONFIG.json [--state-dir DIR]
       ha-target --iqn IQN (--lun NAME=PATH[:SIZE] | --ramdisk NAME=SIZE)... [--portal ADDR:PORT] [--block-size 512|4096]
  -c FILE            targetcli's saveconfig.json (or ha-iscsi's JSON form)
  --state-dir DIR    keep persistent reservations (APTPL) in DIR
  --iqn IQN          the target's name
  --lun NAME=PATH[:SIZE]
                     a file LUN (created sparse at SIZE, e.g. 1G, if absent)
  --ramdisk NAME=SIZE
                     a memory LUN, at most the memory available
  --portal ADDR:PORT where to listen, and nowhere else (default 0.0.0.0:3260:
                     every address of the host)
  --block-size N     logical block size of new LUNs (default 512)

Security: the quick flags (--iqn, --lun, --ramdisk) serve read-write WITHOUT
CHAP and WITHOUT an initiator ACL (targetcli's demo mode): anyone who can
reach the portal can read and write the LUNs. A warning is logged at start.
Bind --portal to a trusted address, or use -c with a saveconfig.json that
sets authentication (CHAP) and node ACLs.";

/// A LUN as given on the command line.
enum LunSpec {
    File {
        name: String,
        path: PathBuf,
        size: Option<u64>,
    },
    Memory {
        name: String,
        size: u64,
    },
}

/// Sizes like `1G`, `64M`, `512K` or plain bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let shift = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("bad size '{text}' (use e.g. 1G, 64M)")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("bad size '{text}' (use e.g. 1G, 64M)"))
}

fn parse_lun(spec: &str, memory: bool) -> Result<LunSpec, String> {
    let (name, rest) = spec
        .split_once('=')
        .ok_or_else(|| format!("'{spec}': expected NAME=..."))?;
    if name.is_empty() {
        return Err(format!("'{spec}': empty name"));
    }
    if memory {
        let size = parse_size(rest)?;
        let available = ha_iscsi::backstore::available_memory();
        if let Some(available) = available.filter(|a| size > *a) {
            return Err(format!(
                "--ramdisk {spec}: {rest} is more than the memory available ({} MiB)",
                available >> 20
            ));
        }
        return Ok(LunSpec::Memory {
            name: name.into(),
            size,
        });
    }
    let (path, size) = match rest.rsplit_once(':') {
        Some((path, size)) => (path, Some(parse_size(size)?)),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(format!("'{spec}': empty path"));
    }
    Ok(LunSpec::File {
        name: name.into(),
        path: path.into(),
        size,
    })
}

/// What to serve: a configuration file, or the quick flags.
enum Source {
    File(PathBuf),
    Flags {
        iqn: String,
        luns: Vec<LunSpec>,
        portal: SocketAddr,
        block_size: u32,
    },
}

struct Options {
    source: Source,
    state_dir: Option<PathBuf>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut args = args.into_iter();
    let (mut iqn, mut luns, mut file, mut state_dir) = (None, Vec::new(), None, None);
    let mut portal: SocketAddr = "0.0.0.0:3260".parse().expect("literal");
    let mut block_size = 512;
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "-c" => file = Some(PathBuf::from(value("-c")?)),
            "--state-dir" => state_dir = Some(PathBuf::from(value("--state-dir")?)),
            "--iqn" => iqn = Some(value("--iqn")?),
            "--lun" => luns.push(parse_lun(&value("--lun")?, false)?),
            "--ramdisk" => luns.push(parse_lun(&value("--ramdisk")?, true)?),
            "--portal" => {
                let text = value("--portal")?;
                portal = text
                    .parse()
                    .map_err(|_| format!("--portal '{text}': expected ADDR:PORT"))?;
            }
            "--block-size" => {
                let text = value("--block-size")?;
                block_size = match text.as_str() {
                    "512" => 512,
                    "4096" => 4096,
                    _ => return Err(format!("--block-size '{text}': 512 or 4096")),
                };
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    // Each ramdisk fits alone; together they must too.
    let ramdisks: u64 = luns
        .iter()
        .map(|l| match l {
            LunSpec::Memory { size, .. } => *size,
            LunSpec::File { .. } => 0,
        })
        .fold(0, u64::saturating_add);
    let available = ha_iscsi::backstore::available_memory();
    if let Some(available) = available.filter(|a| ramdisks > *a) {
        return Err(format!(
            "--ramdisk: {ramdisks} bytes in all is more than the memory available ({} MiB)",
            available >> 20
        ));
    }
    let source = match (file, iqn) {
        (Some(_), Some(_)) => return Err("-c and --iqn exclude each other".into()),
        (Some(file), None) if luns.is_empty() => Source::File(file),
        (Some(_), None) => return Err("-c and --lun/--ramdisk exclude each other".into()),
        (None, None) => return Err("no configuration (-c) or target name (--iqn) given".into()),
        (None, Some(_)) if luns.is_empty() => {
            return Err("no LUN given (--lun or --ramdisk)".into());
        }
        (None, Some(iqn)) => Source::Flags {
            iqn,
            luns,
            portal,
            block_size,
        },
    };
    Ok(Options { source, state_dir })
}

/// The quick flags as a configuration: one target in demo mode.
fn flags_config(iqn: &str, luns: &[LunSpec], portal: SocketAddr, block_size: u32) -> Config {
    let backstores: Vec<Backstore> = luns
        .iter()
        .map(|spec| {
            let (name, storage) = match spec {
                LunSpec::File { name, path, size } => (
                    name.clone(),
                    Storage::Fileio {
                        path: path.clone(),
                        size: *size,
                    },
                ),
                LunSpec::Memory { name, size } => (name.clone(), Storage::Ramdisk { size: *size }),
            };
            Backstore {
                name,
                storage,
                block_size,
                read_only: false,
                write_through: false,
                direct: false,
            }
        })
        .collect();
    let group = PortalGroup {
        tag: 1,
        portals: vec![portal],
        luns: backstores
            .iter()
            .enumerate()
            .map(|(i, b)| (i as u64, b.name.clone()))
            .collect(),
        authentication: false,
        generate_node_acls: true,
        demo_mode_write_protect: false,
        chap: None,
        mutual_chap: None,
        acls: Vec::new(),
    };
    Config {
        backstores,
        targets: vec![Target {
            iqn: iqn.to_owned(),
            portal_groups: vec![group],
        }],
        discovery_chap: None,
    }
}

/// A warning for every portal group anyone reaching it may use: no CHAP
/// and no initiator ACL.
fn open_access(config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    for target in &config.targets {
        for group in &target.portal_groups {
            let (chap, acl) = (group.authentication, !group.generate_node_acls);
            if chap && acl {
                continue;
            }
            let missing = match (chap, acl) {
                (false, false) => "without CHAP and without an initiator ACL",
                (false, true) => "without CHAP",
                _ => "without an initiator ACL",
            };
            let access = if group.demo_mode_write_protect && !acl {
                "read-only"
            } else {
                "read-write"
            };
            let portals: Vec<String> = group
                .portals
                .iter()
                .map(|p| {
                    if p.ip().is_unspecified() {
                        format!("{p} (every address of the host)")
                    } else {
                        p.to_string()
                    }
                })
                .collect();
            warnings.push(format!(
                "target {} (portal group {}) is served {access} {missing} on {}: \
                 anyone who reaches it can use its LUNs",
                target.iqn,
                group.tag,
                portals.join(", ")
            ));
        }
    }
    warnings
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ha-target: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match &options.source {
        Source::File(path) => match Config::load(path) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("ha-target: {e}");
                return ExitCode::from(1);
            }
        },
        Source::Flags {
            iqn,
            luns,
            portal,
            block_size,
        } => flags_config(iqn, luns, *portal, *block_size),
    };
    ha_examples::logging::to_stderr("info");
    for warning in open_access(&config) {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ha-target: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(config, options.state_dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ha-target: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(config: Config, state_dir: Option<PathBuf>) -> Result<(), String> {
    if let Some(dir) = &state_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let launched = launch(&config, state_dir.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut serving = tokio::task::JoinSet::new();
    let mut counts = Vec::new();
    for portal in launched.portals {
        let addr = portal.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(%addr, "serving");
        counts.push((addr, portal.stats()));
        let mut stopped = stopped.clone();
        serving.spawn(portal.serve_until(async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
    }
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("stopping: asking initiators to log out");
    stop.send_replace(true);
    while serving.join_next().await.is_some() {}
    // What each portal refused over its limits while it served.
    for (addr, stats) in &counts {
        let c = stats.connections();
        tracing::info!(
            %addr,
            refused_portal = c.refused_portal,
            refused_address = c.refused_address,
            refused_logging_in = c.refused_logging_in + c.refused_address_logging_in,
            accept_failures = stats.accept_failures(),
            buffer_full = stats.buffer_full(),
            "portal stopped"
        );
    }
    for (name, store) in &launched.backstores {
        if let Err(e) = store.flush().await {
            tracing::error!(lun = %name, error = %e, "flush failed");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Result<Options, String> {
        parse_args(text.split_whitespace().map(String::from))
    }

    #[test]
    fn quick_flags() {
        let o = args("--iqn iqn.x:y --lun disk1=/var/lib/iscsi/disk1.img:1G --ramdisk r=64M --portal 127.0.0.1:3261").unwrap();
        let Source::Flags {
            iqn,
            luns,
            portal,
            block_size,
        } = o.source
        else {
            panic!("flags");
        };
        assert!(matches!(&luns[0], LunSpec::File { size: Some(s), .. } if *s == 1 << 30));
        assert!(matches!(&luns[1], LunSpec::Memory { size, .. } if *size == 64 << 20));
        let config = flags_config(&iqn, &luns, portal, block_size);
        let group = &config.targets[0].portal_groups[0];
        assert_eq!(config.targets[0].iqn, "iqn.x:y");
        assert_eq!(group.portals, vec!["127.0.0.1:3261".parse().unwrap()]);
        assert_eq!(group.luns.get(&1).map(String::as_str), Some("r"));
        assert!(group.generate_node_acls && !group.authentication);
        let warnings = open_access(&config);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("read-write without CHAP and without an initiator ACL")
                && warnings[0].contains("127.0.0.1:3261"),
            "{warnings:?}"
        );
        assert!(matches!(
            args("-c /etc/target/saveconfig.json").unwrap().source,
            Source::File(_)
        ));
        for bad in [
            "--lun d=/x:1G",
            "--iqn a --lun d=/x:1Q",
            "--iqn a --lun =/x",
            "--iqn a --lun d",
            "--iqn a --ramdisk d=0",
            "--iqn a --lun d=/x --portal nowhere",
            "--iqn a --lun d=/x --block-size 1000",
            "--iqn a --lun",
            "--iqn a",
            "--iqn a --lun d=/x --bogus",
            "-c f --iqn a --lun d=/x",
            "-c f --lun d=/x",
            "--state-dir",
        ] {
            assert!(args(bad).is_err(), "{bad}");
        }
        let err = args("--iqn a --ramdisk r=16T").err().unwrap();
        assert!(
            err.starts_with("--ramdisk r=16T: ") && err.contains("memory available"),
            "{err}"
        );
        // Two ramdisks, each fitting alone, too large together.
        if let Some(available) = ha_iscsi::backstore::available_memory() {
            let half = format!("{}K", (available >> 11) + 1024);
            let err = args(&format!("--iqn a --ramdisk a={half} --ramdisk b={half}"))
                .err()
                .unwrap();
            assert!(err.starts_with("--ramdisk: "), "{err}");
        }
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert!(parse_size("99999999999T").is_err());
    }
}
