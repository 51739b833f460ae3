//! `ha-target`: an iSCSI target serving file and memory LUNs.
//!
//! ```text
//! ha-target --iqn iqn.2025-09.com.example:storage \
//!           --lun disk1=/var/lib/iscsi/disk1.img:1G [--lun NAME=PATH[:SIZE]]... \
//!           [--ramdisk NAME=SIZE]... [--portal 0.0.0.0:3260]
//! ```
//! LUNs are numbered from 0 in the order given. A file LUN is created
//! sparse at SIZE if the file is absent. Authentication is off (targetcli's
//! `authentication=0`, the chapter's demo mode). SIGTERM and SIGINT stop:
//! every LUN is flushed first.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use ha_iscsi::backstore::{BlockTarget, FileBackstore, MemoryBackstore};
use ha_iscsi::login::{Auth, LoginConfig, TargetEntry};
use ha_iscsi::negotiation::TargetLimits;
use ha_iscsi::scsi::LogicalUnit;
use ha_iscsi::target::Portal;
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: ha-target --iqn IQN (--lun NAME=PATH[:SIZE] | --ramdisk NAME=SIZE)... [--portal ADDR:PORT] [--block-size 512|4096]
  --iqn IQN          the target's name
  --lun NAME=PATH[:SIZE]
                     a file LUN (created sparse at SIZE, e.g. 1G, if absent)
  --ramdisk NAME=SIZE
                     a memory LUN
  --portal ADDR:PORT where to listen (default 0.0.0.0:3260)
  --block-size N     logical block size of new LUNs (default 512)";

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
        return Ok(LunSpec::Memory {
            name: name.into(),
            size: parse_size(rest)?,
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

struct Options {
    iqn: String,
    luns: Vec<LunSpec>,
    portal: SocketAddr,
    block_size: u32,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut args = args.into_iter();
    let (mut iqn, mut luns) = (None, Vec::new());
    let mut portal: SocketAddr = "0.0.0.0:3260".parse().expect("literal");
    let mut block_size = 512;
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
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
    let iqn = iqn.ok_or("no target name given (--iqn)")?;
    if luns.is_empty() {
        return Err("no LUN given (--lun or --ramdisk)".into());
    }
    Ok(Options {
        iqn,
        luns,
        portal,
        block_size,
    })
}

fn open(spec: &LunSpec, block_size: u32) -> Result<(String, Arc<dyn BlockTarget>), String> {
    match spec {
        LunSpec::File { name, path, size } => {
            let store = FileBackstore::open(path, *size, block_size)
                .map_err(|e| format!("LUN {name}: {e}"))?;
            Ok((name.clone(), Arc::new(store)))
        }
        LunSpec::Memory { name, size } => {
            let store = MemoryBackstore::new(block_size, size / u64::from(block_size))
                .map_err(|e| format!("LUN {name}: {e}"))?;
            Ok((name.clone(), Arc::new(store)))
        }
    }
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
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
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
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ha-target: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    let mut stores = Vec::new();
    for spec in &options.luns {
        stores.push(open(spec, options.block_size)?);
    }
    let config = LoginConfig {
        targets: vec![TargetEntry {
            name: options.iqn.clone(),
            auth: Auth::None,
            allowed: None,
            initiator_auth: Vec::new(),
        }],
        discovery_auth: Auth::None,
        portal_group_tag: 1,
        limits: TargetLimits::default(),
    };
    let mut portal = Portal::bind(options.portal, config)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.portal))?;
    for (lun, (name, store)) in stores.iter().enumerate() {
        portal.map_lun(0, lun as u64, LogicalUnit::new(store.clone(), name));
    }
    let addr = portal.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, target = %options.iqn, luns = stores.len(), "serving");
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    tokio::select! {
        () = portal.serve() => {}
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    for (name, store) in &stores {
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
        assert_eq!(o.iqn, "iqn.x:y");
        assert_eq!(o.portal, "127.0.0.1:3261".parse().unwrap());
        assert!(matches!(&o.luns[0], LunSpec::File { size: Some(s), .. } if *s == 1 << 30));
        assert!(matches!(&o.luns[1], LunSpec::Memory { size, .. } if *size == 64 << 20));
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
        ] {
            assert!(args(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert!(parse_size("99999999999T").is_err());
    }
}
