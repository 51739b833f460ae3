//! SBD (storage-based death): poison pills on a shared disk.
//!
//! Nodes share a small disk; each has a slot and a mailbox; a node fences
//! another by writing a poison pill into its mailbox, and every node
//! watches its own mailbox and a watchdog.
//!
//! [`format`](mod@format) is the on-disk layout (sbd 1.5's, so the real `sbd` tool
//! and this crate read each other's disks), [`disk`] its I/O, [`fencer`]
//! the [`Fencer`](crate::Fencer) that sends pills, [`watcher`] the node's
//! side.

#[cfg(feature = "tokio")]
pub mod disk;
#[cfg(feature = "tokio")]
pub mod fencer;
pub mod format;
#[cfg(feature = "tokio")]
pub mod watcher;

#[cfg(feature = "tokio")]
pub use disk::SbdDisk;
#[cfg(feature = "tokio")]
pub use fencer::SbdFencer;
pub use format::{Command, Timeouts};
#[cfg(feature = "tokio")]
pub use watcher::{Ended, SbdWatcher, SelfFence};
