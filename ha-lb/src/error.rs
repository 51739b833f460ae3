//! The crate's error type.

use std::io;
use std::path::PathBuf;

use crate::config::Location;

/// Errors returned by ha-lb's API.
///
/// Its `Debug` is its message (which already names the cause), so that
/// `?` out of `main` and `unwrap` print
/// `frontend 'web' is in http mode and cannot use pool 'webs', which is in
/// tcp mode` rather than the fields; a location shows only for a
/// configuration read from a file (`haproxy.cfg:12: ...`). Match on the
/// variants for the fields.
#[derive(thiserror::Error)]
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
    /// A haproxy.cfg line or an ACL is invalid; the location names file and
    /// line, the message what was expected.
    #[error("{}{message}", at(location))]
    Config {
        /// Where the offending text is.
        location: Location,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A configuration uses a feature ha-lb does not have.
    #[error("{}{feature} is not supported by ha-lb", at(location))]
    Unsupported {
        /// Where the offending text is.
        location: Location,
        /// The feature, as written.
        feature: String,
    },
    /// [`haproxy::load`](crate::config::haproxy::load) was given no file.
    #[error("no configuration file given")]
    NoConfigFile,
    /// A frontend routes to a pool the configuration does not have.
    #[error("{}frontend '{frontend}' uses unknown pool '{pool}'", at(location))]
    UnknownPool {
        /// The frontend.
        frontend: String,
        /// The pool it names.
        pool: String,
        /// Where the frontend names it.
        location: Location,
    },
    /// An HTTP frontend routes to a TCP pool, which HAProxy refuses too.
    /// The message names both; it starts with `file:line: ` only for a
    /// configuration read from a file.
    #[error(
        "{}frontend '{frontend}' is in http mode and cannot use pool '{pool}', which is in tcp mode",
        at(location)
    )]
    ModeMismatch {
        /// The frontend.
        frontend: String,
        /// The pool.
        pool: String,
        /// Where the frontend names it.
        location: Location,
    },
    /// A `use_backend` condition names an ACL its frontend does not have.
    #[error("{}frontend '{frontend}' has no ACL named '{acl}'", at(location))]
    UnknownAcl {
        /// The frontend.
        frontend: String,
        /// The ACL name.
        acl: String,
        /// Where the rule is.
        location: Location,
    },
    /// An ACL value cannot be what its criterion tests (a bad network for
    /// `src`, a bad header name for `hdr`).
    #[error(
        "{}acl '{acl}': invalid value '{value}', expected {expected}",
        at(location)
    )]
    InvalidAcl {
        /// The ACL name.
        acl: String,
        /// The value as written.
        value: String,
        /// What the criterion needs.
        expected: &'static str,
        /// Where the ACL is.
        location: Location,
    },
    /// A server's host name did not resolve when the configuration was
    /// checked (names are resolved once, at start, as HAProxy does).
    #[error("{}could not resolve address '{host}'", at(location))]
    Resolve {
        /// The host name.
        host: String,
        /// Where the server is declared.
        location: Location,
    },
    /// A server's health-check settings were refused by ha-core (an interval
    /// of 0, `rise 0`...).
    #[error("{}server '{server}': {source}", at(location))]
    InvalidCheck {
        /// The server.
        server: String,
        /// Where the server is declared.
        location: Location,
        /// What ha-core refused.
        #[source]
        source: ha_core::Error,
    },
    /// An HTTP health check names a method that is not a valid HTTP token.
    #[error("{}invalid HTTP method '{method}' for health checks", at(location))]
    InvalidCheckMethod {
        /// The method as written.
        method: String,
        /// Where the pool is declared.
        location: Location,
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
    /// A run-time change named a server its pool does not have.
    #[error("no such server {pool}/{server}")]
    NoSuchServer {
        /// The pool searched.
        pool: String,
        /// The server asked for.
        server: String,
    },
    /// A server name is taken in its pool (a server added at run time, or
    /// one declared twice in a configuration built in code).
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
    /// Another error from ha-core.
    #[error(transparent)]
    Core(#[from] ha_core::Error),
    /// Any other I/O error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// `file:line: ` for a location read from a file; nothing for a
/// configuration built in code.
fn at(location: &Location) -> String {
    if location.line == 0 && location.file.as_os_str().is_empty() {
        String::new()
    } else {
        format!("{location}: ")
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
