//! The crate's error type: what can go wrong when configuring or running the
//! shared pieces. A failed health probe is not an error of this kind: it is a
//! [`CheckError`](crate::CheckError), an expected outcome of checking.

use std::io;
use std::path::PathBuf;

use crate::location::Location;

/// Errors returned by ha-core's API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A duration string could not be parsed.
    #[error("invalid duration {input:?}: {reason}")]
    InvalidDuration {
        /// The text as given.
        input: String,
        /// What was expected instead.
        reason: String,
    },
    /// Rise and fall thresholds must both be at least 1.
    #[error("invalid health thresholds rise {rise}, fall {fall}: both must be at least 1")]
    InvalidThresholds {
        /// The rise threshold given.
        rise: u32,
        /// The fall threshold given.
        fall: u32,
    },
    /// A check schedule had a zero interval, which would spin.
    #[error("invalid check schedule: {0}")]
    InvalidSchedule(&'static str),
    /// A configuration file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: io::Error,
    },
    /// A configuration file is not UTF-8; the location names the line of the
    /// first bad byte.
    #[error("{0}: this line is not valid UTF-8")]
    NotUtf8(Location),
    /// The operating system's random number source failed.
    #[error("the system's random number source failed: {0}")]
    Entropy(#[source] io::Error),
    /// A program could not be started.
    #[error("cannot run {program:?}: {source}")]
    Spawn {
        /// The program that was to be run.
        program: String,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },
    /// Waiting for a program failed.
    #[error("waiting for {program:?} failed: {source}")]
    Wait {
        /// The program that was run.
        program: String,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
