//! IPMI over LAN 2.0 (RMCP+): our own client, not ipmitool.
//!
//! [`packet`] is the wire format and [`crypto`] the cipher suites'
//! algorithms; [`session`] is the sans-IO login and command exchange, with
//! [`replay`] dropping replayed packets; [`client`] drives it over UDP;
//! [`agent`] is the [`Fencer`](crate::Fencer) with fence_ipmilan's
//! parameters and behaviour.

#[cfg(feature = "tokio")]
pub mod agent;
#[cfg(feature = "tokio")]
pub mod client;
pub mod crypto;
pub mod packet;
pub mod replay;
pub mod session;

#[cfg(feature = "tokio")]
pub use agent::{IpmiFencer, IpmiOptions, Method};
#[cfg(feature = "tokio")]
pub use client::{ChassisControl, Connection};
pub use session::{Credentials, Timing};
