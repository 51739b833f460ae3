//! ha-lb's configuration: a plain serde model ([`Config`]) and the importer
//! that builds it from haproxy.cfg ([`haproxy`]).
//!
//! The model is what the proxy runs; haproxy.cfg is one way to write it.
//! `defaults` sections are resolved by the importer, so every frontend and
//! pool in the model carries its complete settings. In code, [`Defaults`]
//! plays that section's part.

mod build;
pub mod haproxy;
mod model;
mod shared;

pub use build::{ConfigBuilder, Defaults};
pub use model::*;
pub use shared::Shared;
