//! [`SbdWatcher`]: the node's side of SBD.
//!
//! Every `loop` seconds it reads its own mailbox; a `test` is acknowledged
//! (cleared), a pill (`reset`, `off`, `crashdump`) makes it fence itself
//! through its [`SelfFence`] action, `exit` stops it. The watchdog is fed
//! only after a good read: a node that loses its disk stops feeding and is
//! reset by the watchdog (without a watchdog device, the watcher fences
//! itself once the disk has been unreadable for the watchdog timeout).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Operation, Result};
use crate::watchdog::Watchdog;

use super::disk::SbdDisk;
use super::format::Command;

/// What a node does to itself when told to die.
#[derive(Clone)]
pub enum SelfFence {
    /// Reboot at once (`b` to `/proc/sysrq-trigger`).
    Reboot,
    /// Power off at once (`o` to `/proc/sysrq-trigger`).
    PowerOff,
    /// End this process with the code.
    Exit(i32),
    /// Call this (tests, or an embedding service's own shutdown).
    Callback(Arc<dyn Fn(Command) + Send + Sync>),
}

impl std::fmt::Debug for SelfFence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Reboot => f.write_str("Reboot"),
            Self::PowerOff => f.write_str("PowerOff"),
            Self::Exit(code) => write!(f, "Exit({code})"),
            Self::Callback(_) => f.write_str("Callback"),
        }
    }
}

impl SelfFence {
    fn act(&self, command: Command) {
        let sysrq = |key: &[u8]| {
            if let Err(e) = std::fs::write("/proc/sysrq-trigger", key) {
                tracing::error!(error = %e, "cannot self-fence through sysrq; exiting");
                std::process::exit(1);
            }
        };
        match (self, command) {
            (Self::Callback(f), c) => f(c),
            (Self::Exit(code), _) => std::process::exit(*code),
            (Self::PowerOff, _) | (_, Command::Off) => sysrq(b"o"),
            (Self::Reboot, _) => sysrq(b"b"),
        }
    }
}

/// A node watching its SBD slot.
#[derive(Debug)]
pub struct SbdWatcher {
    device: PathBuf,
    name: String,
    action: SelfFence,
    watchdog: Option<Watchdog>,
}

/// How a watch ended (without the node dying).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Told to (`exit`) or stopped by the caller.
    Stopped,
    /// Fenced itself (the action returned: a callback).
    Fenced(Command),
}

impl SbdWatcher {
    /// A watcher for node `name` on `device`; `watchdog` is fed while the
    /// disk is readable.
    pub fn new(device: PathBuf, name: &str, action: SelfFence, watchdog: Option<Watchdog>) -> Self {
        Self {
            device,
            name: name.to_owned(),
            action,
            watchdog,
        }
    }

    /// Watches until told to stop, fenced, or `stop` completes. At start
    /// the node's slot is allocated and a pill left from before (the node
    /// was fenced and has come back) is cleared.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<Ended> {
        let (device, name) = (self.device.clone(), self.name.clone());
        let (index, loop_interval, watchdog_timeout) = tokio::task::spawn_blocking(move || {
            let disk = SbdDisk::open(&device)?;
            let index = disk.allocate(&name)?;
            let mailbox = disk.mailbox(index)?;
            if mailbox.command != Some(Command::Clear) {
                tracing::warn!(
                    command = mailbox.command.map_or("unknown", Command::name),
                    from = %mailbox.from,
                    "a message was waiting at start: cleared"
                );
                disk.write_to(index, Command::Clear, &name)?;
            }
            let t = disk.header().timeouts;
            Ok::<_, Error>((index, t.loop_interval.max(1), t.watchdog.max(1)))
        })
        .await
        .map_err(|e| {
            Error::io(
                Operation::Read,
                self.device.display(),
                std::io::Error::other(e),
            )
        })??;
        let interval = Duration::from_secs(u64::from(loop_interval));
        let patience = Duration::from_secs(u64::from(watchdog_timeout));
        tracing::info!(device = %self.device.display(), node = %self.name, slot = index, "SBD watching");
        tokio::pin!(stop);
        let mut last_good = Instant::now();
        loop {
            let device = self.device.clone();
            let read =
                tokio::task::spawn_blocking(move || SbdDisk::open(&device)?.mailbox(index)).await;
            match read {
                Ok(Ok(mailbox)) => {
                    last_good = Instant::now();
                    match mailbox.command {
                        Some(Command::Clear) | None => {}
                        Some(Command::Test) => {
                            tracing::info!(from = %mailbox.from, "SBD test message: acknowledged");
                            let (device, name) = (self.device.clone(), self.name.clone());
                            let _ = tokio::task::spawn_blocking(move || {
                                SbdDisk::open(&device)?.write_to(index, Command::Clear, &name)
                            })
                            .await;
                        }
                        Some(Command::Exit) => {
                            tracing::info!(from = %mailbox.from, "SBD exit message: stopping");
                            return self.finish(Ended::Stopped);
                        }
                        Some(pill) => {
                            tracing::error!(from = %mailbox.from, command = pill.name(), "SBD pill: fencing this node");
                            self.action.act(pill);
                            return Ok(Ended::Fenced(pill));
                        }
                    }
                    // Healthy: the only place the watchdog is fed.
                    if let Some(dog) = &self.watchdog {
                        dog.keepalive()?;
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "SBD device unreadable"),
                Err(e) => tracing::warn!(error = %e, "SBD read task failed"),
            }
            if self.watchdog.is_none() && last_good.elapsed() > patience {
                tracing::error!(
                    ?patience,
                    "SBD device lost for the watchdog timeout: fencing this node"
                );
                self.action.act(Command::Reset);
                return Ok(Ended::Fenced(Command::Reset));
            }
            tokio::select! {
                () = &mut stop => return self.finish(Ended::Stopped),
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// A clean stop: the watchdog is disarmed.
    fn finish(self, ended: Ended) -> Result<Ended> {
        if let Some(dog) = self.watchdog {
            dog.disarm()?;
        }
        Ok(ended)
    }
}
