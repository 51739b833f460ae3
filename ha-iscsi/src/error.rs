//! The crate's error type.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong in ha-iscsi.
///
/// Errors compare equal by variant and fields; an [`Error::Io`] by its
/// operation and its I/O error's kind and message (an `io::Error` has no
/// equality of its own), and a clone of one carries a copy of that kind
/// and message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The header digest (CRC32C) did not match: the PDU must not be used.
    #[error("header digest mismatch: received {received:#010x}, computed {computed:#010x}")]
    HeaderDigest {
        /// The digest on the wire.
        received: u32,
        /// The digest of the header as received.
        computed: u32,
    },
    /// The data digest did not match: the data must not be used.
    #[error("data digest mismatch: received {received:#010x}, computed {computed:#010x}")]
    DataDigest {
        /// The digest on the wire.
        received: u32,
        /// The digest of the data as received.
        computed: u32,
    },
    /// An opcode RFC 7143 does not define.
    #[error("unknown opcode {0:#04x}")]
    Opcode(u8),
    /// A data segment longer than the receiver declared it accepts
    /// (MaxRecvDataSegmentLength).
    #[error("data segment of {len} bytes exceeds the limit of {max}")]
    DataSegmentTooLong {
        /// Its length.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// Blocks outside the backstore.
    #[error("blocks {lba}..{end} are outside the {capacity} blocks of the backstore", end = lba.saturating_add(*blocks))]
    OutOfRange {
        /// First block.
        lba: u64,
        /// How many.
        blocks: u64,
        /// The backstore's block count.
        capacity: u64,
    },
    /// A buffer that is not a whole number of blocks.
    #[error("a transfer of {len} bytes is not a whole number of {block_size}-byte blocks")]
    PartialBlock {
        /// The buffer's length.
        len: usize,
        /// The block size.
        block_size: u32,
    },
    /// An I/O operation failed: the storage under a backstore, a portal's
    /// socket, a reservation file. A custom
    /// [`BlockTarget`](crate::BlockTarget) returns its `io::Error` with
    /// `?` (an [`Operation::Other`]) or names the operation.
    #[error("{operation} failed: {source}")]
    Io {
        /// What was being done.
        operation: Operation,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A block size a backstore cannot have (one of
    /// [`BLOCK_SIZES`](crate::backstore::BLOCK_SIZES)).
    #[error("block size {0} is not one of 512, 1024, 2048, 4096")]
    BlockSize(u32),
    /// A persistent reservations file that cannot be read on (its line).
    #[error("{location}: {message}")]
    ReservationFile {
        /// The file and line.
        location: ha_core::Location,
        /// What is wrong there.
        message: String,
    },
    /// A configuration that cannot be served (two portal groups on one
    /// address).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The target refused the login (RFC 7143 11.13.5 status class and
    /// detail: 0x0201 authentication failed, 0x0202 not authorized,
    /// 0x0203 target not found...).
    #[error("login refused: status {class:#04x}{detail:02x}")]
    LoginRefused {
        /// Status class (2: initiator error, 3: target error).
        class: u8,
        /// Status detail.
        detail: u8,
    },
    /// A SCSI command ended with a status other than GOOD (the protocol
    /// worked; the logical unit refused or failed the command): CHECK
    /// CONDITION with its sense (`sense.key == 5`: ILLEGAL REQUEST, say a
    /// read past the last block), RESERVATION CONFLICT, BUSY...
    #[error("{}{}", crate::scsi::status_name(*status), sense.map(|s| format!(", sense {s}")).unwrap_or_default())]
    Scsi {
        /// The SCSI status ([`scsi::CHECK_CONDITION`](crate::scsi::CHECK_CONDITION),
        /// [`scsi::RESERVATION_CONFLICT`](crate::scsi::RESERVATION_CONFLICT)...).
        status: u8,
        /// The sense data that came with CHECK CONDITION.
        sense: Option<crate::scsi::Sense>,
    },
    /// The peer broke the protocol (an unexpected PDU, a bad answer, a
    /// mutual CHAP response that does not verify).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The connection closed or failed.
    #[error("connection: {0}")]
    Connection(ConnectionError),
    /// The operating system gave no random bytes (for CHAP challenges,
    /// ISIDs, initial sequence numbers).
    #[error("no randomness from the operating system: {0}")]
    Entropy(String),
    /// A target name the portal's configuration does not have.
    #[error("no target {0} in the portal's configuration")]
    UnknownTarget(String),
    /// A PDU that cannot be encoded (an AHS not a multiple of 4 bytes or
    /// over 1020, a data segment of 16 MiB or more).
    #[error("cannot encode the PDU: {0}")]
    Unencodable(&'static str),
}

/// The operation of an [`Error::Io`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Open (or create, or size) a backstore's file or device.
    Open(PathBuf),
    /// Read blocks.
    Read,
    /// Write blocks.
    Write,
    /// Make the writes so far stable (SYNCHRONIZE CACHE, FUA).
    Flush,
    /// Deallocate blocks (UNMAP, WRITE SAME with UNMAP).
    Unmap,
    /// Find the deallocated blocks (GET LBA STATUS).
    FindHoles,
    /// Allocate a memory backstore of this many bytes.
    Allocate(u64),
    /// Listen on a portal's address.
    Listen(SocketAddr),
    /// Read a persistent reservations file.
    ReadReservations(PathBuf),
    /// Save the persistent reservations to their file.
    SaveReservations(PathBuf),
    /// An operation this crate does not name: an `io::Error` converted
    /// with `?`, a storage operation for a logical unit that is gone.
    Other,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open(path) => write!(f, "open {}", path.display()),
            Self::Read => f.write_str("read"),
            Self::Write => f.write_str("write"),
            Self::Flush => f.write_str("flush"),
            Self::Unmap => f.write_str("unmap"),
            Self::FindHoles => f.write_str("find holes"),
            Self::Allocate(bytes) => write!(f, "allocate {bytes} bytes"),
            Self::Listen(addr) => write!(f, "listen on {addr}"),
            Self::ReadReservations(path) => write!(f, "read reservations {}", path.display()),
            Self::SaveReservations(path) => write!(f, "save reservations {}", path.display()),
            Self::Other => f.write_str("I/O"),
        }
    }
}

impl Error {
    /// An [`Error::Io`] of `operation`, for `map_err`.
    pub fn io(operation: Operation) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { operation, source }
    }
}

impl From<io::Error> for Error {
    /// An I/O error of an [`Operation::Other`]: what `?` gives a custom
    /// [`BlockTarget`](crate::BlockTarget) on its own storage.
    fn from(source: io::Error) -> Self {
        Self::Io {
            operation: Operation::Other,
            source,
        }
    }
}

impl Clone for Error {
    fn clone(&self) -> Self {
        match self {
            Self::HeaderDigest { received, computed } => Self::HeaderDigest {
                received: *received,
                computed: *computed,
            },
            Self::DataDigest { received, computed } => Self::DataDigest {
                received: *received,
                computed: *computed,
            },
            Self::Opcode(op) => Self::Opcode(*op),
            Self::DataSegmentTooLong { len, max } => Self::DataSegmentTooLong {
                len: *len,
                max: *max,
            },
            Self::OutOfRange {
                lba,
                blocks,
                capacity,
            } => Self::OutOfRange {
                lba: *lba,
                blocks: *blocks,
                capacity: *capacity,
            },
            Self::PartialBlock { len, block_size } => Self::PartialBlock {
                len: *len,
                block_size: *block_size,
            },
            Self::Io { operation, source } => Self::Io {
                operation: operation.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            Self::BlockSize(size) => Self::BlockSize(*size),
            Self::ReservationFile { location, message } => Self::ReservationFile {
                location: location.clone(),
                message: message.clone(),
            },
            Self::Config(message) => Self::Config(message.clone()),
            Self::LoginRefused { class, detail } => Self::LoginRefused {
                class: *class,
                detail: *detail,
            },
            Self::Scsi { status, sense } => Self::Scsi {
                status: *status,
                sense: *sense,
            },
            Self::Protocol(message) => Self::Protocol(message.clone()),
            Self::Connection(e) => Self::Connection(e.clone()),
            Self::Entropy(message) => Self::Entropy(message.clone()),
            Self::UnknownTarget(name) => Self::UnknownTarget(name.clone()),
            Self::Unencodable(what) => Self::Unencodable(what),
        }
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Self::Io { operation, source },
                Self::Io {
                    operation: other_operation,
                    source: other_source,
                },
            ) => {
                operation == other_operation
                    && source.kind() == other_source.kind()
                    && source.to_string() == other_source.to_string()
            }
            (
                Self::HeaderDigest { received, computed },
                Self::HeaderDigest {
                    received: r,
                    computed: c,
                },
            )
            | (
                Self::DataDigest { received, computed },
                Self::DataDigest {
                    received: r,
                    computed: c,
                },
            ) => (received, computed) == (r, c),
            (Self::Opcode(a), Self::Opcode(b)) => a == b,
            (
                Self::DataSegmentTooLong { len, max },
                Self::DataSegmentTooLong { len: l, max: m },
            ) => (len, max) == (l, m),
            (
                Self::OutOfRange {
                    lba,
                    blocks,
                    capacity,
                },
                Self::OutOfRange {
                    lba: l,
                    blocks: b,
                    capacity: c,
                },
            ) => (lba, blocks, capacity) == (l, b, c),
            (
                Self::PartialBlock { len, block_size },
                Self::PartialBlock {
                    len: l,
                    block_size: b,
                },
            ) => (len, block_size) == (l, b),
            (Self::BlockSize(a), Self::BlockSize(b)) => a == b,
            (
                Self::LoginRefused { class, detail },
                Self::LoginRefused {
                    class: c,
                    detail: d,
                },
            ) => (class, detail) == (c, d),
            (
                Self::Scsi { status, sense },
                Self::Scsi {
                    status: t,
                    sense: s,
                },
            ) => (status, sense) == (t, s),
            (
                Self::ReservationFile { location, message },
                Self::ReservationFile {
                    location: l,
                    message: m,
                },
            ) => (location, message) == (l, m),
            (Self::Config(a), Self::Config(b))
            | (Self::Protocol(a), Self::Protocol(b))
            | (Self::Entropy(a), Self::Entropy(b))
            | (Self::UnknownTarget(a), Self::UnknownTarget(b)) => a == b,
            (Self::Connection(a), Self::Connection(b)) => a == b,
            (Self::Unencodable(a), Self::Unencodable(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Error {}

/// How a connection failed: the operating system's kind of error (an
/// unexpected end of stream when the peer closed it) and its message.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{message}")]
pub struct ConnectionError {
    /// What happened (refused, reset, timed out, closed by the peer...).
    pub kind: std::io::ErrorKind,
    /// The message.
    pub message: String,
}

impl From<&std::io::Error> for ConnectionError {
    fn from(e: &std::io::Error) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// Results in ha-iscsi.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::io;

    use super::{Error, Operation};

    #[test]
    fn an_io_error_keeps_its_source_and_operation() {
        let e: Error = io::Error::new(io::ErrorKind::PermissionDenied, "no").into();
        let source = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            source.map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );
        assert!(matches!(
            e,
            Error::Io {
                operation: Operation::Other,
                ..
            }
        ));
        let e = Error::io(Operation::Open("/nonexistent/disk.img".into()))(io::Error::from(
            io::ErrorKind::NotFound,
        ));
        assert_eq!(
            e.to_string(),
            "open /nonexistent/disk.img failed: entity not found"
        );
        assert_eq!(e.clone(), e);
        assert_ne!(
            e,
            Error::io(Operation::Read)(io::ErrorKind::NotFound.into())
        );
    }

    #[test]
    fn errors_compare_by_variant_and_fields() {
        assert_eq!(Error::BlockSize(1000), Error::BlockSize(1000));
        assert_ne!(Error::BlockSize(1000), Error::BlockSize(999));
        assert_ne!(Error::Protocol("x".into()), Error::Entropy("x".into()));
        let scsi = Error::Scsi {
            status: 2,
            sense: Some(crate::scsi::Sense::LBA_OUT_OF_RANGE),
        };
        assert_eq!(scsi.clone(), scsi);
    }
}
