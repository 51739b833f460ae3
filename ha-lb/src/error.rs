//! The crate's error type.

use std::io;
use std::path::PathBuf;

use crate::config::Location;

/// Errors returned by ha-lb's API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A configuration is invalid; the location names file and line.
    #[error("{location}: {message}")]
    Config {
        /// Where the offending text is.
        location: Location,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A configuration uses a feature ha-lb does not support yet.
    #[error("{location}: {feature} is not supported yet")]
    Unsupported {
        /// Where the offending text is.
        location: Location,
        /// The feature, as written.
        feature: String,
    },
    /// A listening socket could not be opened.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A runtime command named a server that does not exist.
    #[error("no such server {pool}/{server}")]
    NoSuchServer {
        /// The pool searched.
        pool: String,
        /// The server asked for.
        server: String,
    },
    /// A runtime command tried to add a server whose name is taken.
    #[error("server {pool}/{server} already exists")]
    ServerExists {
        /// The pool.
        pool: String,
        /// The server name.
        server: String,
    },
    /// A weight outside HAProxy's range 0..=256.
    #[error("invalid weight {0}: expected 0 to 256")]
    InvalidWeight(u32),
    /// A health-check setting was refused by ha-core.
    #[error(transparent)]
    Core(#[from] ha_core::Error),
    /// Any other I/O error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
