//! The [`Fencer`] trait: what every fencing device offers, whatever it
//! talks to (an IPMI BMC, a fence-agents program, an SBD disk, a SCSI
//! LUN's reservations), and the vocabulary around it.

use async_trait::async_trait;

use crate::error::Result;

/// What to do to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Power off (or cut off from storage).
    Off,
    /// Power on (or let back to storage).
    On,
    /// Off, then on again.
    Reboot,
}

impl Action {
    /// The fence-agents name (`off`, `on`, `reboot`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
            Self::Reboot => "reboot",
        }
    }

    /// Parses a fence-agents action name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "off" => Some(Self::Off),
            "on" => Some(Self::On),
            "reboot" => Some(Self::Reboot),
            _ => None,
        }
    }
}

/// A target's power (or access) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerState {
    /// Running (or registered).
    On,
    /// Off (or fenced from storage).
    Off,
    /// The device cannot tell.
    Unknown,
}

/// A parameter's type, as fence-agents metadata names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterType {
    /// Free text.
    String,
    /// `0`/`1`, `true`/`false`, `on`/`off`.
    Boolean,
    /// A whole number.
    Integer,
    /// A number with a fraction (seconds).
    Second,
    /// One of these values.
    Select(Vec<String>),
}

/// One parameter a device takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Its name (`ip`, `username`...).
    pub name: String,
    /// Older names still accepted (`ipaddr`, `login`...).
    pub aliases: Vec<String>,
    /// Its type.
    pub kind: ParameterType,
    /// The value when not given.
    pub default: Option<String>,
    /// Must be given.
    pub required: bool,
    /// What it is for.
    pub description: String,
}

/// What a device is and takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Its agent name (`fence_ipmilan`...).
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Its parameters.
    pub parameters: Vec<Parameter>,
}

/// A fencing device.
#[async_trait]
pub trait Fencer: Send + Sync {
    /// Does `action` to `target` and returns once it is **confirmed** (off
    /// verified by status, or whatever confirmation the device has).
    /// Devices with one target (a BMC) ignore `target`'s value.
    async fn fence(&self, target: &str, action: Action) -> Result<()>;

    /// The power state of `target`.
    async fn status(&self, target: &str) -> Result<PowerState>;

    /// The targets this device can fence.
    async fn list(&self) -> Result<Vec<String>>;

    /// Whether the device itself is reachable and answers.
    async fn monitor(&self) -> Result<()>;

    /// What the device is and takes.
    fn metadata(&self) -> Metadata;
}
