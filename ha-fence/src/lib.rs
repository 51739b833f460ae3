//! Fencing (STONITH): switching off, or cutting off from its storage, a
//! node that may still be writing to shared storage.
//!
//! Only a **confirmed** fence lets a cluster recover the node's
//! resources, so every [`Fencer`] returns Ok from `fence` only once the
//! action is confirmed. A device of your own needs only `fence`; a
//! [`Topology`](topology::Topology) runs devices as Pacemaker does (levels,
//! host lists and maps, delays, timeouts and tries):
//!
#![cfg_attr(feature = "tokio", doc = "```")]
#![cfg_attr(not(feature = "tokio"), doc = "```ignore")]
//! use std::collections::BTreeMap;
//! use std::sync::{Arc, Mutex};
//!
//! use ha_fence::topology::{Device, DeviceOptions, Fenced, Topology};
//! use ha_fence::{Action, Fencer, PowerState, Result, async_trait};
//!
//! /// A switched PDU, one outlet per node (kept in memory here; a real one
//! /// would be driven over its network interface).
//! #[derive(Default)]
//! struct Pdu {
//!     outlets: Mutex<BTreeMap<String, PowerState>>,
//! }
//!
//! #[async_trait]
//! impl Fencer for Pdu {
//!     // A real PDU switches the outlet, then reads it back: Ok means the
//!     // state is confirmed.
//!     async fn fence(&self, outlet: &str, action: Action) -> Result<()> {
//!         let state = match action {
//!             Action::Off => PowerState::Off,
//!             Action::On | Action::Reboot => PowerState::On,
//!         };
//!         let mut outlets = self.outlets.lock().expect("not poisoned");
//!         outlets.insert(outlet.to_owned(), state);
//!         Ok(())
//!     }
//!
//!     async fn status(&self, outlet: &str) -> Result<PowerState> {
//!         let outlets = self.outlets.lock().expect("not poisoned");
//!         Ok(outlets.get(outlet).copied().unwrap_or(PowerState::On))
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<()> {
//!     let pdu = Arc::new(Pdu::default());
//!     let mut topology = Topology::default();
//!     // pcmk_host_map="node1:1;node2:2"
//!     topology.add_device(Device {
//!         name: "pdu".into(),
//!         fencer: pdu.clone(),
//!         options: DeviceOptions::builder()
//!             .plug("node1", "1")
//!             .plug("node2", "2")
//!             .build(),
//!     });
//!     topology.add_level("node2", 1, &["pdu"])?;
//!
//!     // Returns once the PDU has confirmed outlet 2 off.
//!     let fenced = topology.fence("node2", Action::Off).await?;
//!     assert_eq!(
//!         fenced,
//!         Fenced {
//!             level: 1,
//!             devices: vec!["pdu".into()]
//!         }
//!     );
//!     assert_eq!(pdu.status("2").await?, PowerState::Off);
//!     Ok(())
//! }
//! ```
//!
//! The devices that come with the crate: [`ipmi`] (our own IPMI 2.0 RMCP+
//! client with fence_ipmilan's parameters), [`external`] (any
//! fence-agents program), [`sbd`] (poison pills on a shared disk, and the
//! node-side watcher with a [`watchdog`]), [`scsi`] (persistent
//! reservations over ha-iscsi's initiator, as fence_scsi). [`metadata`]
//! reads and writes fence-agents' metadata.
//!
//! Features:
//! - `tokio` (default): the drivers (the IPMI client and fencer, the
//!   fence-agents runner, SBD disk I/O and watcher, the watchdog,
//!   `Topology::fence`). Without it the crate is its pure core: the
//!   RMCP+ codec and session, the SBD disk format, the topology's
//!   [`Plan`](topology::Plan), metadata.
//! - `scsi` (default): SCSI-PR fencing over ha-iscsi (needs `tokio`).

/// What logs and `Debug` output show in place of a password or a key.
pub(crate) const REDACTED: &str = "<redacted>";

pub mod error;
#[cfg(feature = "tokio")]
pub mod external;
pub mod fencer;
pub mod ipmi;
pub mod metadata;
pub mod params;
pub mod sbd;
#[cfg(feature = "scsi")]
pub mod scsi;
pub mod topology;
#[cfg(feature = "tokio")]
pub mod watchdog;

pub use error::{Attempt, Error, Operation, ProtocolError, Result};
pub use fencer::{Action, Fencer, PowerState};
/// The attribute [`Fencer`] is implemented with, re-exported so that
/// writing a device needs no extra dependency.
pub use ha_core::async_trait;
pub use metadata::{Metadata, Parameter, ParameterType};

// The README's example is compiled too (it needs the drivers).
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
