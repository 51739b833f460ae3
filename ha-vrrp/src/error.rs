//! The crate's error type.

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

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
