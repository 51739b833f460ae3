//! SBD's on-disk layout (sbd 1.5, header version 2.1), sans IO.
//!
//! Sector 0 holds the header; node `i` has its slot (in use, name) at
//! sector `1 + 2i` and its mailbox (command, sender) at sector `2 + 2i`.
//! The header's numbers are big-endian; the C structure's natural alignment
//! leaves two bytes after `slots`. The real `sbd` tool reads what this
//! writes and the other way round.

use crate::error::{Error, Result};

/// The header's magic.
pub const MAGIC: &[u8; 8] = b"SBD_SBD_";
/// Header version written (2) and its minor version (1).
pub const VERSION: u8 = 2;
/// Minor version: the header carries a UUID.
pub const MINOR_VERSION: u8 = 1;
/// Slots on a disk.
pub const SLOTS: u8 = 255;
/// Longest node name (a 64-byte field, NUL-terminated).
pub const NAME_MAX: usize = 63;

/// The header's timeouts, in seconds (sbd's `-1`, `-2`, `-3`, `-4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Watchdog timeout: a node that cannot read its slot this long is
    /// reset by its watchdog.
    pub watchdog: u32,
    /// Slot allocation timeout.
    pub allocate: u32,
    /// Time between a node's reads of its slot.
    pub loop_interval: u32,
    /// How long a sender waits after writing a message before it counts
    /// as delivered (twice the watchdog timeout by default).
    pub msgwait: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            watchdog: 5,
            allocate: 2,
            loop_interval: 1,
            msgwait: 10,
        }
    }
}

/// Sector 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Header version (2).
    pub version: u8,
    /// Its minor version.
    pub minor_version: u8,
    /// Number of slots.
    pub slots: u8,
    /// Sector size the disk was created with.
    pub sector_size: u32,
    /// The timeouts.
    pub timeouts: Timeouts,
    /// The disk's UUID.
    pub uuid: [u8; 16],
}

fn be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Header {
    /// Sector 0's bytes (`sector_size` long).
    pub fn encode(&self) -> Vec<u8> {
        let mut s = vec![0u8; self.sector_size as usize];
        s[..8].copy_from_slice(MAGIC);
        s[8] = self.version;
        s[9] = self.slots;
        s[12..16].copy_from_slice(&self.sector_size.to_be_bytes());
        s[16..20].copy_from_slice(&self.timeouts.watchdog.to_be_bytes());
        s[20..24].copy_from_slice(&self.timeouts.allocate.to_be_bytes());
        s[24..28].copy_from_slice(&self.timeouts.loop_interval.to_be_bytes());
        s[28..32].copy_from_slice(&self.timeouts.msgwait.to_be_bytes());
        s[32] = self.minor_version;
        s[33..49].copy_from_slice(&self.uuid);
        s
    }

    /// Reads sector 0; an error if it is not an SBD header.
    pub fn decode(s: &[u8]) -> Result<Self> {
        if s.len() < 49 || &s[..8] != MAGIC {
            return Err(Error::BadParameter(
                "not an SBD device (no SBD_SBD_ header)".into(),
            ));
        }
        if s[8] != VERSION {
            return Err(Error::BadParameter(format!(
                "SBD header version {} is not supported (2)",
                s[8]
            )));
        }
        let sector_size = be(s, 12);
        if !matches!(sector_size, 512 | 1024 | 2048 | 4096) {
            return Err(Error::BadParameter(format!(
                "SBD sector size {sector_size}"
            )));
        }
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&s[33..49]);
        Ok(Self {
            version: s[8],
            minor_version: s[32],
            slots: s[9],
            sector_size,
            timeouts: Timeouts {
                watchdog: be(s, 16),
                allocate: be(s, 20),
                loop_interval: be(s, 24),
                msgwait: be(s, 28),
            },
            uuid,
        })
    }
}

/// A node's slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Allocated to a node.
    pub in_use: bool,
    /// The node's name.
    pub name: String,
}

fn name_field(name: &str) -> Result<[u8; 64]> {
    if name.is_empty() || name.len() > NAME_MAX || name.contains('\0') {
        return Err(Error::BadParameter(format!(
            "SBD node names are 1 to {NAME_MAX} bytes: '{name}'"
        )));
    }
    let mut field = [0u8; 64];
    field[..name.len()].copy_from_slice(name.as_bytes());
    Ok(field)
}

fn read_name(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

impl Slot {
    /// The slot sector's bytes.
    pub fn encode(&self, sector_size: u32) -> Result<Vec<u8>> {
        let mut s = vec![0u8; sector_size as usize];
        s[0] = u8::from(self.in_use);
        s[1..65].copy_from_slice(&name_field(&self.name)?);
        Ok(s)
    }

    /// Reads a slot sector.
    pub fn decode(s: &[u8]) -> Self {
        Self {
            in_use: s.first().is_some_and(|b| *b != 0),
            name: read_name(s.get(1..65).unwrap_or_default()),
        }
    }
}

/// What a mailbox asks its node to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Nothing (a cleared mailbox).
    Clear = 0,
    /// A test message: acknowledged by clearing it.
    Test = 1,
    /// Reboot now (the poison pill).
    Reset = 2,
    /// Power off now.
    Off = 3,
    /// Stop watching.
    Exit = 4,
    /// Crash dump, then reboot.
    Crashdump = 5,
}

impl Command {
    /// The command's name as `sbd message` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Clear => "clear",
            Self::Test => "test",
            Self::Reset => "reset",
            Self::Off => "off",
            Self::Exit => "exit",
            Self::Crashdump => "crashdump",
        }
    }

    /// Every command, in its byte order.
    const ALL: [Self; 6] = [
        Self::Clear,
        Self::Test,
        Self::Reset,
        Self::Off,
        Self::Exit,
        Self::Crashdump,
    ];

    /// From its name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| *c as u8 == b)
    }
}

/// A node's mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The command (`None`: a byte no version of sbd writes).
    pub command: Option<Command>,
    /// Who sent it.
    pub from: String,
}

impl Mailbox {
    /// The mailbox sector's bytes.
    pub fn encode(&self, sector_size: u32) -> Result<Vec<u8>> {
        let mut s = vec![0u8; sector_size as usize];
        s[0] = self.command.map_or(0, |c| c as u8);
        if !self.from.is_empty() {
            s[1..65].copy_from_slice(&name_field(&self.from)?);
        }
        Ok(s)
    }

    /// Reads a mailbox sector.
    pub fn decode(s: &[u8]) -> Self {
        Self {
            command: Command::from_byte(s.first().copied().unwrap_or(0)),
            from: read_name(s.get(1..65).unwrap_or_default()),
        }
    }
}

/// The sector of slot `index`.
pub fn slot_sector(index: u8) -> u64 {
    1 + 2 * u64::from(index)
}

/// The sector of slot `index`'s mailbox.
pub fn mailbox_sector(index: u8) -> u64 {
    2 + 2 * u64::from(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Sector 0 as `sbd -d DEV -1 15 -4 30 create` wrote it (sbd 1.5.2).
    const SBD_HEADER: [u8; 49] = [
        0x53, 0x42, 0x44, 0x5f, 0x53, 0x42, 0x44, 0x5f, 0x02, 0xff, 0x00, 0x00, 0x00, 0x00, 0x02,
        0x00, //
        0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x1e, //
        0x01, 0x40, 0x36, 0xd9, 0x14, 0x4f, 0x93, 0x41, 0xfa, 0xa1, 0x54, 0x61, 0xc9, 0xdd, 0x7e,
        0x8d, //
        0x2e,
    ];

    #[test]
    fn a_header_written_by_sbd_reads_and_writes_back_the_same() {
        let mut sector = SBD_HEADER.to_vec();
        sector.resize(512, 0);
        let h = Header::decode(&sector).unwrap();
        assert_eq!(
            (h.version, h.minor_version, h.slots, h.sector_size),
            (2, 1, 255, 512)
        );
        assert_eq!(
            h.timeouts,
            Timeouts {
                watchdog: 15,
                allocate: 2,
                loop_interval: 1,
                msgwait: 30
            }
        );
        assert_eq!(h.encode(), sector);
    }

    #[test]
    fn slots_and_mailboxes_as_sbd_lays_them_out() {
        // Slot of "node1" and a reset from "vm", as sbd wrote them.
        let mut slot = vec![0x01, b'n', b'o', b'd', b'e', b'1'];
        slot.resize(512, 0);
        assert_eq!(
            Slot::decode(&slot),
            Slot {
                in_use: true,
                name: "node1".into()
            }
        );
        assert_eq!(
            Slot {
                in_use: true,
                name: "node1".into()
            }
            .encode(512)
            .unwrap(),
            slot
        );
        let mut mbox = vec![0x02, b'v', b'm'];
        mbox.resize(512, 0);
        let m = Mailbox::decode(&mbox);
        assert_eq!((m.command, m.from.as_str()), (Some(Command::Reset), "vm"));
        assert_eq!(m.encode(512).unwrap(), mbox);
        assert_eq!(
            (slot_sector(0), mailbox_sector(0), slot_sector(3)),
            (1, 2, 7)
        );
        assert!(
            Slot {
                in_use: true,
                name: "x".repeat(64)
            }
            .encode(512)
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn arbitrary_sectors_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = Header::decode(&bytes);
            let _ = Slot::decode(&bytes);
            let _ = Mailbox::decode(&bytes);
        }
    }
}
