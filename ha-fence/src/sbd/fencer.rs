//! [`SbdFencer`]: fencing through SBD devices, as fence_sbd does.
//!
//! A poison pill (`reset` or `off`) goes into the victim's mailbox on every
//! device; the fence counts as confirmed once `msgwait` has passed, because
//! by then the victim has either acted on the pill or lost its watchdog.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ha_core::async_trait;

use crate::error::{Error, Operation, Result};
use crate::fencer::{Action, Fencer, PowerState};
use crate::metadata::{Metadata, Parameter, ParameterType};

use super::disk::SbdDisk;
use super::format::Command;

/// Fences through one or more SBD devices.
#[derive(Debug, Clone)]
pub struct SbdFencer {
    devices: Arc<Vec<PathBuf>>,
    /// The name written as the sender.
    from: String,
}

/// Runs `work` (the disk I/O of `operation`) off the async threads.
async fn blocking<T: Send + 'static>(
    operation: Operation,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::io(operation, "the SBD devices", std::io::Error::other(e)))?
}

impl SbdFencer {
    /// Fences through `devices`, signing messages as `from` (this node's
    /// name).
    pub fn new(devices: Vec<PathBuf>, from: &str) -> Result<Self> {
        if devices.is_empty() || devices.len() > 3 {
            return Err(Error::BadParameter("SBD takes one to three devices".into()));
        }
        Ok(Self {
            devices: Arc::new(devices),
            from: from.to_owned(),
        })
    }

    /// From fence_sbd's parameters: `devices` (comma-separated).
    pub fn from_params(params: &[(String, String)]) -> Result<Self> {
        let devices = params
            .iter()
            .rev()
            .find(|(k, _)| k == "devices")
            .map(|(_, v)| {
                v.split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(PathBuf::from)
                    .collect()
            })
            .ok_or_else(|| Error::BadParameter("devices is required".into()))?;
        let from = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "ha-fence".into());
        Self::new(devices, &from)
    }

    /// Writes `command` to `target` on every device; the longest
    /// `msgwait` of them.
    async fn send(&self, target: &str, command: Command) -> Result<Duration> {
        let (devices, target, from) = (self.devices.clone(), target.to_owned(), self.from.clone());
        blocking(Operation::Write, move || {
            let mut wait = 0;
            for path in devices.iter() {
                let disk = SbdDisk::open(path)?;
                let index = disk.find(&target)?.ok_or_else(|| {
                    Error::BadParameter(format!("{target} has no slot on {}", path.display()))
                })?;
                disk.write_to(index, command, &from)?;
                wait = wait.max(disk.header().timeouts.msgwait);
            }
            Ok(Duration::from_secs(u64::from(wait)))
        })
        .await
    }
}

#[async_trait]
impl Fencer for SbdFencer {
    async fn fence(&self, target: &str, action: Action) -> Result<()> {
        let command = match action {
            Action::Off => Command::Off,
            Action::Reboot => Command::Reset,
            Action::On => {
                return Err(Error::BadParameter("SBD cannot power a node on".into()));
            }
        };
        let msgwait = self.send(target, command).await?;
        tracing::info!(
            target,
            command = command.name(),
            ?msgwait,
            "SBD pill written; waiting msgwait"
        );
        tokio::time::sleep(msgwait).await;
        Ok(())
    }

    async fn status(&self, target: &str) -> Result<PowerState> {
        let (devices, target) = (self.devices.clone(), target.to_owned());
        blocking(Operation::Read, move || {
            let disk = SbdDisk::open(&devices[0])?;
            let index = disk
                .find(&target)?
                .ok_or_else(|| Error::BadParameter(format!("{target} has no slot")))?;
            // A pill still waiting: fenced and not back (a node that
            // comes back clears its mailbox).
            Ok(match disk.mailbox(index)?.command {
                Some(Command::Reset | Command::Off | Command::Crashdump) => PowerState::Off,
                _ => PowerState::On,
            })
        })
        .await
    }

    async fn list(&self) -> Result<Vec<String>> {
        let devices = self.devices.clone();
        blocking(Operation::Read, move || {
            let disk = SbdDisk::open(&devices[0])?;
            Ok(disk
                .list()?
                .into_iter()
                .map(|(_, slot, _)| slot.name)
                .collect())
        })
        .await
    }

    async fn monitor(&self) -> Result<()> {
        let devices = self.devices.clone();
        blocking(Operation::Open, move || {
            for path in devices.iter() {
                SbdDisk::open(path)?;
            }
            Ok(())
        })
        .await
    }

    fn metadata(&self) -> Metadata {
        Metadata {
            name: "fence_sbd".into(),
            description: "Fence agent for SBD: a poison pill on shared disks (ha-fence)".into(),
            parameters: vec![Parameter {
                name: "devices".into(),
                aliases: Vec::new(),
                kind: ParameterType::String,
                default: None,
                required: true,
                description: "SBD devices, comma-separated (one to three)".into(),
            }],
            actions: ["off", "reboot", "status", "list", "monitor", "metadata"]
                .map(String::from)
                .to_vec(),
        }
    }
}
