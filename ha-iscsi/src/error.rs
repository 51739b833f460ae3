//! The crate's error type.

/// What can go wrong in ha-iscsi.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
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
    /// The storage under a backstore failed.
    #[error("{op} failed: {message}")]
    Io {
        /// What was being done ("read", "write", "flush", "open ...").
        op: String,
        /// The operating system's message.
        message: String,
    },
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

impl From<std::io::Error> for Error {
    /// An operating system error outside a backstore or a connection (a
    /// socket that cannot listen, a file that cannot be opened).
    fn from(e: std::io::Error) -> Self {
        Self::Io {
            op: "I/O".into(),
            message: e.to_string(),
        }
    }
}

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
