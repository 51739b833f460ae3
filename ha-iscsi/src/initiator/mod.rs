//! An iSCSI initiator: discovery, login with CHAP or mutual CHAP, and SCSI
//! commands (TEST UNIT READY, INQUIRY, READ CAPACITY, READ, WRITE,
//! SYNCHRONIZE CACHE, PERSISTENT RESERVE IN/OUT, or any CDB).
//!
//! The protocol is sans IO ([`login::Handshake`], [`task::Task`]); this
//! module's [`Session`] drives them over a tokio TCP stream, one command
//! at a time, answering the target's NOP-In pings on the way. ha-fence's
//! SCSI fencing and ha-iscsi's own tests use it (with the `tokio`
//! feature).

pub mod login;
pub mod task;

#[cfg(feature = "tokio")]
mod connection;

#[cfg(feature = "tokio")]
pub use connection::{Session, discover};
pub use task::{Command, Outcome};

/// Who the initiator is and how it logs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiatorConfig {
    /// Its iSCSI name.
    pub name: String,
    /// CHAP user and secret, if the target asks.
    pub chap: Option<(String, Vec<u8>)>,
    /// For mutual CHAP: the target's expected name and secret.
    pub mutual: Option<(String, Vec<u8>)>,
    /// Offer CRC32C header digests.
    pub header_digest: bool,
    /// Offer CRC32C data digests.
    pub data_digest: bool,
    /// The largest data segment it receives.
    pub max_recv: u32,
    /// The session id (ISID) to log in with; `None`: a random one per
    /// session. With a fixed ISID every session of this initiator is the
    /// same I_T nexus, which persistent reservations are made for (an
    /// initiator like open-iscsi keeps one per interface).
    pub isid: Option<[u8; 6]>,
}

impl InitiatorConfig {
    /// An initiator named `name`, without authentication or digests.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            chap: None,
            mutual: None,
            header_digest: false,
            data_digest: false,
            max_recv: 262_144,
            isid: None,
        }
    }

    /// With a fixed ISID (see [`InitiatorConfig::isid`]).
    pub fn with_isid(mut self, isid: [u8; 6]) -> Self {
        self.isid = Some(isid);
        self
    }

    /// With CHAP credentials.
    pub fn with_chap(mut self, user: &str, secret: &[u8]) -> Self {
        self.chap = Some((user.to_owned(), secret.to_vec()));
        self
    }

    /// With mutual CHAP: the target must answer as `user` with `secret`.
    pub fn with_mutual_chap(mut self, user: &str, secret: &[u8]) -> Self {
        self.mutual = Some((user.to_owned(), secret.to_vec()));
        self
    }
}

/// A target SendTargets reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredTarget {
    /// Its name.
    pub name: String,
    /// Its portals (`ip:port,tag`).
    pub addresses: Vec<String>,
}

/// A logical unit number, as the target maps it: the first argument of
/// every [`Session`] command, a type of its own so that it cannot be
/// swapped with the block address that follows it (`Lun(0)`); a plain
/// `u64` converts too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Lun(pub u64);

impl From<u64> for Lun {
    fn from(lun: u64) -> Self {
        Self(lun)
    }
}

impl std::fmt::Display for Lun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LUN {}", self.0)
    }
}

/// The SAM LUN field for LUN `lun` (peripheral addressing under 256, flat
/// above), as targets expect it.
pub fn lun_field(lun: u64) -> u64 {
    if lun < 256 {
        lun << 48
    } else {
        (0x4000 | (lun & 0x3fff)) << 48
    }
}
