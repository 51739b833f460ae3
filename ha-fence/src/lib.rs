//! ha-fence: fencing (STONITH). A node that may still be writing to shared
//! storage is switched off (or cut off from the storage), and only a
//! **confirmed** fence lets the cluster recover its resources.
//!
//! [`Fencer`] is what every device offers. Devices: [`ipmi`] (our own
//! IPMI 2.0 RMCP+ client, fence_ipmilan's parameters), [`external`] (any
//! fence-agents program), [`sbd`] (poison pills on a shared disk, and the
//! node-side watcher with a [`watchdog`]), [`scsi`] (persistent
//! reservations over ha-iscsi's initiator, as fence_scsi). [`topology`]
//! runs them as Pacemaker does: levels, host lists and maps, delays,
//! timeouts and retries; `docs/architecture.md` says how the
//! crate fits with the others.

pub mod error;
#[cfg(feature = "tokio")]
pub mod external;
pub mod fencer;
pub mod ipmi;
pub mod metadata;
pub mod sbd;
#[cfg(feature = "scsi")]
pub mod scsi;
pub mod topology;
#[cfg(feature = "tokio")]
pub mod watchdog;

pub use error::{Error, Operation, ProtocolError, Result};
pub use fencer::{Action, Fencer, PowerState};
/// The attribute [`Fencer`] is implemented with, re-exported so that
/// writing a device needs no extra dependency.
pub use ha_core::async_trait;
pub use metadata::{Metadata, Parameter, ParameterType};
