//! ha-lb: an HAProxy-class TCP and HTTP load balancer, as a library.
//!
//! Work in progress: see the workspace README for what works.

pub mod balance;
pub mod config;
pub mod error;

pub use error::{Error, Result};
