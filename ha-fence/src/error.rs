//! The crate's error type. The kinds are the ones a fencing decision
//! needs apart: a parameter is wrong (fix the configuration), the device
//! refused the login, it cannot be reached, it did not answer in time, or
//! it answered but the fence was not confirmed.

/// What can go wrong while fencing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A parameter is missing or invalid.
    #[error("bad parameter: {0}")]
    BadParameter(String),
    /// The device refused the credentials (or the cipher suite).
    #[error("login refused: {0}")]
    LoginRefused(String),
    /// The device could not be reached.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The device did not answer in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The device answered, but the action was not confirmed (say, the
    /// power still reads on after `power_timeout`).
    #[error("not confirmed: {0}")]
    NotConfirmed(String),
    /// The device does not offer this operation (a [`Fencer`](crate::Fencer)
    /// that keeps a default).
    #[error("{0} is not supported by this device")]
    Unsupported(&'static str),
    /// The device broke its protocol (a bad integrity code, a malformed
    /// answer, an error completion code).
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl Error {
    /// Whether trying the same action again may succeed: a fence not yet
    /// confirmed (a busy device, a power still changing) or a garbled
    /// exchange. A wrong parameter or a refused login stays so; a device
    /// that cannot be reached or did not answer within the timeout is
    /// better left for the next device or level.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::NotConfirmed(_) | Self::Protocol(_))
    }
}

/// Results in ha-fence.
pub type Result<T, E = Error> = std::result::Result<T, E>;
