//! The crate's error types.
//!
//! [`Error`] for what fails, and [`Ignored`] for an advertisement the
//! router dropped (an expected outcome on a shared network, not a failure;
//! it converts into [`Error`] for callers that treat it as one).

use crate::packet::{Interval, Version};
use crate::router::State;

/// Errors returned by ha-vrrp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than the header and its counted addresses need.
    #[error("advertisement truncated: {len} bytes, {needed} needed")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes the header announces.
        needed: usize,
    },
    /// A version other than 2 or 3.
    #[error("unsupported VRRP version {0}")]
    Version(u8),
    /// A version the receiver is not configured for, or v2 over IPv6.
    #[error("VRRP version {version} is not accepted here")]
    UnexpectedVersion {
        /// The version received.
        version: u8,
    },
    /// A message type other than 1 (advertisement).
    #[error("unknown VRRP message type {0}")]
    Type(u8),
    /// The checksum does not match the message.
    #[error("bad checksum: computed {computed:#06x}, received {received:#06x}")]
    Checksum {
        /// What the message sums to.
        computed: u16,
        /// What the header says.
        received: u16,
    },
    /// An advertisement interval of zero.
    #[error("advertisement interval is zero")]
    ZeroInterval,
    /// An advertisement listing no address.
    #[error("advertisement lists no address")]
    NoAddresses,
    /// A VRRPv2 authentication type other than none (0) or password (1).
    #[error("unsupported VRRPv2 authentication type {0}")]
    AuthType(u8),
    /// Addresses of both families, or a family the path does not carry.
    #[error("addresses do not match the IP family of the path")]
    Family,
    /// An advertisement that cannot be put on the wire as asked.
    #[error("cannot encode advertisement: {0}")]
    Unencodable(&'static str),
    /// An invalid keepalived.conf value or structure.
    #[error("{location}: {message}")]
    Config {
        /// The file and line at fault.
        location: crate::config::Location,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A configuration file that is not UTF-8; the location names the line
    /// of the first bad byte.
    #[error("{0}: this line is not valid UTF-8")]
    NotUtf8(crate::config::Location),
    /// A configuration file that cannot be read.
    #[error("cannot read {}: {message}", path.display())]
    ReadConfig {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error, as text (so that `Error` stays `Clone + Eq`).
        message: String,
    },
    /// An advertisement the router dropped, for callers that treat it as an
    /// error.
    #[error(transparent)]
    Ignored(#[from] Ignored),
    /// The kernel refused an address change.
    #[error("cannot {action} {address}: {message}")]
    Address {
        /// `add` or `remove`.
        action: &'static str,
        /// The address, as `ip` shows it.
        address: String,
        /// The kernel's reason.
        message: String,
    },
}

/// Why a [`Router`](crate::Router) did not act on an advertisement it was
/// handed.
///
/// ```
/// use std::time::Instant;
/// use ha_vrrp::packet::{Advert, Auth, Interval, Version};
/// use ha_vrrp::{Ignored, Router, RouterConfig};
///
/// let vip = "192.168.122.100".parse().unwrap();
/// let primary = "192.168.122.11".parse().unwrap();
/// let mut router = Router::new(RouterConfig::new(51, 100, primary, vec![vip]));
/// let now = Instant::now();
/// router.handle_startup(now);
/// let advert = Advert {
///     version: Version::V3,
///     vrid: 52,
///     priority: 100,
///     interval: Interval::from_centis(100).unwrap(),
///     addresses: vec![vip],
///     auth: Auth::None,
/// };
/// let sender = "192.168.122.12".parse().unwrap();
/// match router.handle_advert(now, sender, &advert) {
///     Err(Ignored::OtherVrid { received: 52, ours: 51 }) => {} // another router's: normal
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ignored {
    /// Another virtual router's.
    #[error("advertisement for virtual router {received}, this one is {ours}")]
    OtherVrid {
        /// The advert's virtual router id.
        received: u8,
        /// This router's.
        ours: u8,
    },
    /// Another protocol version.
    #[error("{received:?} advertisement, this router speaks {ours:?}")]
    OtherVersion {
        /// The advert's version.
        received: Version,
        /// This router's.
        ours: Version,
    },
    /// A VRRPv2 password (or its absence) other than ours.
    #[error("VRRPv2 authentication does not match")]
    Auth,
    /// A VRRPv2 interval different from ours (RFC 3768 7.1).
    #[error(
        "advertisement interval {} cs differs from this router's {} cs",
        .received.centis(),
        .ours.centis()
    )]
    IntervalMismatch {
        /// The advert's interval.
        received: Interval,
        /// This router's.
        ours: Interval,
    },
    /// Not started, stopped, or in FAULT.
    #[error("the router is not running (state {state:?})")]
    NotRunning {
        /// The router's state.
        state: State,
    },
    /// Valid, but changes nothing.
    #[error("advertisement discarded: {0}")]
    Discarded(Discard),
}

/// Why a valid advertisement changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Discard {
    /// This router owns the addresses (priority 255) and never defers
    /// (RFC 9568 7.1).
    #[error("this router owns the addresses and defers to no one")]
    AddressOwner,
    /// A backup that preempts (its `preempt_delay`, if any, over) lets the
    /// master-down timer run out rather than follow a lower-priority master.
    #[error("priority {received} is below this router's {ours}, and it preempts")]
    LowerPriority {
        /// The advert's priority.
        received: u8,
        /// This router's effective priority.
        ours: u8,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ignored_advert_converts_into_an_error_and_says_why() {
        let err: Error = Ignored::Discarded(Discard::LowerPriority {
            received: 100,
            ours: 150,
        })
        .into();
        assert!(matches!(
            err,
            Error::Ignored(Ignored::Discarded(Discard::LowerPriority { .. }))
        ));
        assert_eq!(
            err.to_string(),
            "advertisement discarded: priority 100 is below this router's 150, and it preempts"
        );
        let interval = |c| Interval::from_centis(c).unwrap();
        let mismatch = Ignored::IntervalMismatch {
            received: interval(200),
            ours: interval(100),
        };
        assert_eq!(
            mismatch.to_string(),
            "advertisement interval 200 cs differs from this router's 100 cs"
        );
    }
}
