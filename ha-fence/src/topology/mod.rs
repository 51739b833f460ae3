//! Fencing topologies as Pacemaker runs them.
//!
//! Devices come with their `pcmk_*` parameters ([`DeviceOptions`]), and
//! levels are tried from 1 upward, every device of a level having to
//! succeed before the level counts.
//!
//! [`Plan`] decides, for one host, which device does what when (levels,
//! host checks, delays, tries); [`Topology::fence`] runs a plan against
//! the devices' [`Fencer`]s, doing the waiting. A fence counts only when
//! confirmed: each [`Fencer`] confirms before it returns Ok (IPMI reads
//! the power back, SBD waits `msgwait`, SCSI reads the keys, fence-agents
//! poll status).

#[cfg(feature = "tokio")]
mod driver;
pub mod options;
pub mod plan;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fencer::Fencer;

pub use options::{DeviceOptions, DeviceOptionsBuilder, HostCheck};
pub use plan::{Plan, Request};

/// A fencing device in a topology.
#[derive(Clone)]
pub struct Device {
    /// Its name (the stonith resource's id).
    pub name: String,
    /// What does the fencing.
    pub fencer: Arc<dyn Fencer>,
    /// Its `pcmk_*` options.
    pub options: DeviceOptions,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("name", &self.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Devices and fencing levels (Pacemaker's `fencing-topology`).
#[derive(Debug, Clone, Default)]
pub struct Topology {
    devices: Vec<Device>,
    /// Per host: level number to device names.
    levels: HashMap<String, BTreeMap<u32, Vec<String>>>,
    /// The seed of the delays' random part: fixed for tests, else drawn
    /// for each fence.
    seed: Option<u64>,
}

/// What a successful fence went through.
///
/// The levels that failed before it are not kept here (their errors carry
/// I/O errors, which compare and clone poorly); each failed attempt is
/// logged as it happens, and when no level succeeds they are all in
/// [`Error::Exhausted`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fenced {
    /// The level that did it (0: no levels, one device).
    pub level: u32,
    /// The devices that did it.
    pub devices: Vec<String>,
}

impl Topology {
    /// Adds a device (replacing one of the same name).
    pub fn add_device(&mut self, device: Device) {
        self.devices.retain(|d| d.name != device.name);
        self.devices.push(device);
    }

    /// Sets `host`'s level `level` to `devices` (all must succeed).
    pub fn add_level(&mut self, host: &str, level: u32, devices: &[&str]) -> Result<()> {
        if level == 0 || level > 9 {
            return Err(Error::BadParameter(format!(
                "fencing level {level}: 1 to 9"
            )));
        }
        for name in devices {
            if !self.devices.iter().any(|d| d.name == *name) {
                return Err(Error::BadParameter(format!(
                    "fencing level {level} of {host}: no device '{name}'"
                )));
            }
        }
        self.levels
            .entry(host.to_owned())
            .or_default()
            .insert(level, devices.iter().map(|d| (*d).to_owned()).collect());
        Ok(())
    }

    /// Draws the random part of delays from `seed` instead of the
    /// operating system (reproducible runs, tests).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The device named `name`.
    pub fn device(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.name == name)
    }
}
