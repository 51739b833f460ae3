//! The crate's error type.
//!
//! The kinds are the ones a fencing decision needs apart: a parameter is
//! wrong (fix the configuration), the device refused the login, it cannot
//! be reached, it did not answer in time, it broke its protocol, it
//! answered but the fence was not confirmed, or it failed otherwise; and,
//! for a whole topology, no device can fence the host or every level
//! failed ([`Error::Exhausted`], with each [`Attempt`]).
//!
//! The kind a [`Fencer`](crate::Fencer) returns decides what a
//! [`Topology`](crate::topology::Topology) does next:
//! [`Error::is_transient`] ones are tried again, the others go straight
//! to the next device or level.

use std::fmt;
use std::io;

use crate::fencer::Action;

/// What can go wrong while fencing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter is missing or invalid. Not tried again.
    #[error("bad parameter: {0}")]
    BadParameter(String),
    /// The device refused the credentials (or the cipher suite). Not
    /// tried again.
    #[error("login refused: {0}")]
    LoginRefused(String),
    /// An I/O operation on the device failed: it cannot be reached (no
    /// route, nothing listens, a disk or watchdog that does not answer).
    /// Not tried again.
    #[error("cannot {operation} {device}: {source}")]
    Io {
        /// What was being done.
        operation: Operation,
        /// The device: an address, a path, a program.
        device: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The device's agent reports that it cannot reach the device
    /// (fence-agents' exit code 4, an iSCSI connection that failed); its
    /// words. Not tried again: the next device or level is.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The device did not answer in time. Not tried again: the next
    /// device or level is.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The device answered, but the action was not confirmed (say, the
    /// power still reads on after `power_timeout`). Tried again.
    #[error("not confirmed: {0}")]
    NotConfirmed(String),
    /// The device failed in a way no other kind says (a device of your
    /// own reporting its own error); its words. Tried again, as Pacemaker
    /// tries any failure again.
    #[error("device failed: {0}")]
    Device(String),
    /// The device broke its protocol. Tried again.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The iSCSI initiator under SCSI-PR fencing failed. Tried again,
    /// unless the login was refused or the connection lost.
    #[cfg(feature = "scsi")]
    #[error("iSCSI: {0}")]
    Iscsi(#[source] ha_iscsi::Error),
    /// No device of the topology can fence the host (none is listed for
    /// it, or none said it can): nothing was tried.
    #[error("no device can fence {host}")]
    NoDevice {
        /// The host.
        host: String,
    },
    /// Devices were tried, and no level (or, without levels, no device)
    /// fenced the host: every failure, in the order they happened.
    #[error("all fencing options targeting {host} failed: {}", Attempts(attempts))]
    Exhausted {
        /// The host.
        host: String,
        /// The failed attempts, one per device and action that failed.
        attempts: Vec<Attempt>,
    },
    /// The device does not offer this operation (a [`Fencer`](crate::Fencer)
    /// that keeps a default).
    #[error("{0} is not supported by this device")]
    Unsupported(&'static str),
    /// The operating system gave no randomness (session ids, UUIDs,
    /// delays).
    #[error("no randomness: {0}")]
    Entropy(#[source] ha_core::Error),
}

/// The I/O operation of an [`Error::Io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Open a socket toward the device.
    Bind,
    /// Connect a socket to the device.
    Connect,
    /// Send to the device.
    Send,
    /// Receive from the device.
    Receive,
    /// Open the device (a disk, a watchdog).
    Open,
    /// Read from the device.
    Read,
    /// Write to the device.
    Write,
    /// Start a program (a fence agent).
    Run,
    /// Wait for a program to finish.
    Wait,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Bind => "open a socket for",
            Self::Connect => "connect to",
            Self::Send => "send to",
            Self::Receive => "receive from",
            Self::Open => "open",
            Self::Read => "read",
            Self::Write => "write",
            Self::Run => "run",
            Self::Wait => "wait for",
        })
    }
}

/// How a device broke its protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A datagram that is not RMCP/IPMI.
    #[error("not an RMCP/IPMI datagram")]
    NotRmcp,
    /// An RMCP datagram that is not an IPMI 2.0 session packet.
    #[error("not an IPMI 2.0 (RMCP+) session packet")]
    NotRmcpPlus,
    /// An OEM payload, which this client does not use.
    #[error("an OEM payload")]
    OemPayload,
    /// A packet or message shorter than its fields say.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// Bytes after a packet that carries no integrity trailer.
    #[error("trailing bytes after the payload")]
    TrailingBytes,
    /// An integrity trailer whose padding or next-header byte is wrong.
    #[error("malformed integrity trailer")]
    MalformedTrailer,
    /// An integrity code that does not verify (a wrong key, or tampering).
    #[error("the integrity check failed")]
    IntegrityCheckFailed,
    /// An authenticated or encrypted packet outside a session.
    #[error("a protected packet outside a session")]
    ProtectedOutsideSession,
    /// An encrypted payload that does not decrypt.
    #[error("a payload that does not decrypt")]
    Undecryptable,
    /// An IPMI message whose checksum is wrong.
    #[error("IPMI message checksum")]
    BadChecksum,
    /// A login message (named) that is malformed or for another session.
    #[error("malformed {0}")]
    MalformedLogin(&'static str),
    /// A command answered with a non-zero completion code.
    #[error("command {netfn:#04x}/{cmd:#04x} failed with completion code {code:#04x}")]
    CompletionCode {
        /// The request's network function.
        netfn: u8,
        /// The command.
        cmd: u8,
        /// The completion code.
        code: u8,
    },
    /// An answer without the data it must carry (named).
    #[error("an empty {0} answer")]
    EmptyAnswer(&'static str),
    /// Something the exchange did not ask for at this point (named).
    #[error("{0} out of turn")]
    OutOfTurn(&'static str),
    /// Fence-agent metadata that cannot be read.
    #[error("agent metadata: {0}")]
    Metadata(String),
    /// A fence agent that failed to print its metadata (its exit code).
    #[error("the agent's metadata action exited with {0}")]
    MetadataExit(i32),
}

impl Error {
    /// Whether trying the same action again may succeed: a fence not yet
    /// confirmed (a busy device, a power still changing), a device's own
    /// failure ([`Error::Device`]), a garbled exchange, an iSCSI error
    /// other than a refused login or a lost connection. A wrong parameter
    /// or a refused login stays so; a device that cannot be reached or did
    /// not answer within the timeout is better left for the next device or
    /// level.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::NotConfirmed(_) | Self::Device(_) | Self::Protocol(_) => true,
            #[cfg(feature = "scsi")]
            Self::Iscsi(_) => true,
            _ => false,
        }
    }

    /// An [`Error::Io`] of `operation` on `device`.
    pub fn io(operation: Operation, device: impl fmt::Display, source: io::Error) -> Self {
        Self::Io {
            operation,
            device: device.to_string(),
            source,
        }
    }
}

/// One device's failed action while fencing a host through a
/// [`Topology`](crate::topology::Topology), after all its tries.
///
/// Its `Display` reads like Pacemaker's fencer log:
/// `level 1: 'off' using ipmi failed after 2 tries: not confirmed: still on`.
#[derive(Debug)]
pub struct Attempt {
    /// The level (0: the topology has no levels for the host).
    pub level: u32,
    /// The device's name.
    pub device: String,
    /// The action (for a reboot through several devices, `off` or `on`).
    pub action: Action,
    /// How many times it was tried.
    pub tries: u32,
    /// Its last failure.
    pub error: Error,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.level > 0 {
            write!(f, "level {}: ", self.level)?;
        }
        write!(f, "'{}' using {} failed", self.action.name(), self.device)?;
        if self.tries > 1 {
            write!(f, " after {} tries", self.tries)?;
        }
        write!(f, ": {}", self.error)
    }
}

/// The attempts of an [`Error::Exhausted`], `; `-separated.
struct Attempts<'a>(&'a [Attempt]);

impl fmt::Display for Attempts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, attempt) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{attempt}")?;
        }
        Ok(())
    }
}

/// Results in ha-fence.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exhausted_fence_names_the_host_and_every_failure_per_level() {
        let e = Error::Exhausted {
            host: "node2".into(),
            attempts: vec![
                Attempt {
                    level: 1,
                    device: "ipmi".into(),
                    action: Action::Off,
                    tries: 1,
                    error: Error::Unreachable("no route to host".into()),
                },
                Attempt {
                    level: 2,
                    device: "pdu".into(),
                    action: Action::Off,
                    tries: 2,
                    error: Error::NotConfirmed("pdu still reads on".into()),
                },
            ],
        };
        assert_eq!(
            e.to_string(),
            "all fencing options targeting node2 failed: \
             level 1: 'off' using ipmi failed: unreachable: no route to host; \
             level 2: 'off' using pdu failed after 2 tries: not confirmed: pdu still reads on"
        );
        assert!(!e.is_transient());
        let without_levels = Attempt {
            level: 0,
            device: "agent".into(),
            action: Action::Reboot,
            tries: 1,
            error: Error::Device("relay stuck".into()),
        };
        assert_eq!(
            without_levels.to_string(),
            "'reboot' using agent failed: device failed: relay stuck"
        );
        assert!(without_levels.error.is_transient());
    }
}
