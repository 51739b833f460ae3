//! Health checks: the [`HealthCheck`] trait and the built-in probes.
//!
//! A check is one probe of one target. It knows nothing of history: whether
//! a failure marks the target down is decided by [`Health`](crate::Health),
//! and how often probes run by the [`Checker`](crate::Checker) driver.

#[cfg(feature = "tokio")]
mod command;
#[cfg(feature = "tokio")]
mod http;
mod status;
#[cfg(feature = "tokio")]
mod tcp;

use std::fmt;
#[cfg(feature = "tokio")]
use std::io;
use std::time::Duration;

use async_trait::async_trait;

#[cfg(feature = "tokio")]
pub use command::CommandCheck;
#[cfg(feature = "tokio")]
pub use http::HttpCheck;
pub use status::StatusMatch;
#[cfg(feature = "tokio")]
pub use tcp::TcpCheck;

/// One probe of a target's health.
///
/// ha-rs's public traits all use `async-trait` so that they can be used as
/// trait objects (`Arc<dyn HealthCheck>`), which native `async fn` in traits
/// does not allow.
///
/// ```
/// use async_trait::async_trait;
/// use ha_core::{CheckError, HealthCheck};
///
/// /// Healthy while a file exists, like a keepalived `track_file`.
/// struct FileExists(std::path::PathBuf);
///
/// #[async_trait]
/// impl HealthCheck for FileExists {
///     async fn check(&self) -> Result<(), CheckError> {
///         match std::fs::metadata(&self.0) {
///             Ok(_) => Ok(()),
///             Err(e) => Err(CheckError::Other(format!("{}: {e}", self.0.display()))),
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// Probes the target once. `Ok(())` means healthy; an error carries the
    /// reason, which ends up in logs and in [`Transition`](crate::Transition)s.
    ///
    /// Implementations should bound their own run time; the
    /// [`Checker`](crate::Checker) also cancels a probe that outlives its
    /// schedule's timeout and counts it as [`CheckError::Timeout`].
    async fn check(&self) -> Result<(), CheckError>;
}

/// Why a probe failed. The wording follows HAProxy's check status lines, so
/// operators see familiar reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckError {
    /// The TCP connection could not be established (refused, unreachable...).
    Connect(String),
    /// The probe did not finish in time.
    Timeout(Duration),
    /// An HTTP check got a status outside the expected set.
    Status {
        /// The status the server answered.
        got: u16,
        /// What the check accepts.
        expected: StatusMatch,
    },
    /// The peer answered something that is not valid for the protocol.
    Protocol(String),
    /// A command check's program exited unsuccessfully.
    Exit {
        /// Exit code, or `None` if a signal ended it.
        code: Option<i32>,
        /// The signal that ended it, if any.
        signal: Option<i32>,
        /// The last lines of its standard error.
        stderr: String,
    },
    /// A command check's program could not be started.
    Spawn(String),
    /// Any other reason, for checks written by users.
    Other(String),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Connect(info) => write!(f, "Layer4 connection problem, info: {info:?}"),
            CheckError::Timeout(after) => write!(f, "timeout after {}ms", after.as_millis()),
            CheckError::Status { got, expected } => {
                write!(f, "Layer7 wrong status, code: {got}, expected: {expected}")
            }
            CheckError::Protocol(info) => write!(f, "Layer7 invalid response, info: {info:?}"),
            CheckError::Exit {
                code,
                signal,
                stderr,
            } => {
                match (code, signal) {
                    (Some(code), _) => write!(f, "external check error, code: {code}")?,
                    (None, Some(sig)) => write!(f, "external check killed by signal {sig}")?,
                    (None, None) => write!(f, "external check failed")?,
                }
                if !stderr.is_empty() {
                    write!(f, ", info: {:?}", stderr.trim_end())?;
                }
                Ok(())
            }
            CheckError::Spawn(info) => write!(f, "external check could not start, info: {info:?}"),
            CheckError::Other(info) => f.write_str(info),
        }
    }
}

impl std::error::Error for CheckError {}

#[cfg(feature = "tokio")]
/// The operating system's wording for a failed connect ("Connection refused"),
/// without Rust's "(os error N)" suffix.
fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}
