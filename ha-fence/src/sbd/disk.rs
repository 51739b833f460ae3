//! An SBD device's I/O.
//!
//! The header, the slots and the mailboxes are read and written sector by
//! sector around the page cache (`O_DIRECT`, so nodes sharing the disk see
//! each other's writes) and synchronously (a message is on the disk when
//! the call returns). Files work too (for tests and for file systems
//! without `O_DIRECT`, through the page cache and `fdatasync`).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Operation, Result};

use super::format::{
    Command, Header, MINOR_VERSION, Mailbox, SLOTS, Slot, Timeouts, VERSION, mailbox_sector,
    slot_sector,
};

/// I/O buffers are aligned to this for `O_DIRECT`.
const ALIGN: usize = 4096;

/// An opened SBD device.
#[derive(Debug)]
pub struct SbdDisk {
    path: PathBuf,
    file: File,
    header: Header,
}

fn io(path: &Path, operation: Operation) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(operation, path.display(), e)
}

/// Opens `path` for sector I/O, around the page cache where the file
/// system allows it.
fn open_device(path: &Path) -> Result<File> {
    let direct = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT | libc::O_SYNC)
        .open(path);
    match direct {
        Ok(f) => Ok(f),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_SYNC)
            .open(path)
            .map_err(io(path, Operation::Open)),
        Err(e) => Err(io(path, Operation::Open)(e)),
    }
}

/// Reads `len` bytes at `offset` through an aligned buffer.
fn read_at(file: &File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len + ALIGN];
    let at = buf.as_ptr().align_offset(ALIGN);
    file.read_exact_at(&mut buf[at..at + len], offset)?;
    buf.drain(..at);
    buf.truncate(len);
    Ok(buf)
}

/// Writes `data` at `offset` through an aligned buffer, synchronously.
fn write_at(file: &File, offset: u64, data: &[u8]) -> std::io::Result<()> {
    let mut buf = vec![0u8; data.len() + ALIGN];
    let at = buf.as_ptr().align_offset(ALIGN);
    buf[at..at + data.len()].copy_from_slice(data);
    file.write_all_at(&buf[at..at + data.len()], offset)?;
    file.sync_data()
}

/// A random (version 4) UUID for a new header.
fn new_uuid() -> Result<[u8; 16]> {
    let mut u: [u8; 16] = ha_core::random::bytes().map_err(Error::Entropy)?;
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    Ok(u)
}

impl SbdDisk {
    /// Initializes `path` as an SBD device (as `sbd -d PATH create`):
    /// the header with `timeouts`, every slot and mailbox cleared.
    pub fn create(path: &Path, timeouts: Timeouts, sector_size: u32) -> Result<Self> {
        if !matches!(sector_size, 512 | 1024 | 2048 | 4096) {
            return Err(Error::BadParameter(format!("sector size {sector_size}")));
        }
        let file = open_device(path)?;
        let header = Header {
            version: VERSION,
            minor_version: MINOR_VERSION,
            slots: SLOTS,
            sector_size,
            timeouts,
            uuid: new_uuid()?,
        };
        let size = u64::from(sector_size);
        let sectors = 1 + 2 * u64::from(SLOTS) + 1;
        let blank = vec![0u8; (sectors - 1) as usize * sector_size as usize];
        write_at(&file, size, &blank).map_err(io(path, Operation::Write))?;
        write_at(&file, 0, &header.encode()).map_err(io(path, Operation::Write))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            header,
        })
    }

    /// Opens an SBD device and reads its header.
    pub fn open(path: &Path) -> Result<Self> {
        let file = open_device(path)?;
        let sector0 = read_at(&file, 0, ALIGN).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::BadParameter(format!("{}: too small to be an SBD device", path.display()))
            } else {
                io(path, Operation::Read)(e)
            }
        })?;
        let header = Header::decode(&sector0).map_err(|e| match e {
            Error::BadParameter(m) => Error::BadParameter(format!("{}: {m}", path.display())),
            other => other,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            header,
        })
    }

    /// The device.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    fn read_sector(&self, sector: u64) -> Result<Vec<u8>> {
        let size = self.header.sector_size;
        read_at(&self.file, sector * u64::from(size), size as usize)
            .map_err(io(&self.path, Operation::Read))
    }

    fn write_sector(&self, sector: u64, data: &[u8]) -> Result<()> {
        write_at(
            &self.file,
            sector * u64::from(self.header.sector_size),
            data,
        )
        .map_err(io(&self.path, Operation::Write))
    }

    /// Slot `index`.
    pub fn slot(&self, index: u8) -> Result<Slot> {
        Ok(Slot::decode(&self.read_sector(slot_sector(index))?))
    }

    /// Slot `index`'s mailbox.
    pub fn mailbox(&self, index: u8) -> Result<Mailbox> {
        Ok(Mailbox::decode(&self.read_sector(mailbox_sector(index))?))
    }

    /// The allocated slots with their mailboxes (`sbd list`).
    pub fn list(&self) -> Result<Vec<(u8, Slot, Mailbox)>> {
        let mut out = Vec::new();
        for index in 0..self.header.slots {
            let slot = self.slot(index)?;
            if slot.in_use {
                out.push((index, slot, self.mailbox(index)?));
            }
        }
        Ok(out)
    }

    /// The slot allocated to `name`.
    pub fn find(&self, name: &str) -> Result<Option<u8>> {
        for index in 0..self.header.slots {
            let slot = self.slot(index)?;
            if slot.in_use && slot.name == name {
                return Ok(Some(index));
            }
        }
        Ok(None)
    }

    /// `name`'s slot, allocated (with a cleared mailbox) if it has none.
    pub fn allocate(&self, name: &str) -> Result<u8> {
        if let Some(index) = self.find(name)? {
            return Ok(index);
        }
        for index in 0..self.header.slots {
            if !self.slot(index)?.in_use {
                let clear = Mailbox {
                    command: Some(Command::Clear),
                    from: String::new(),
                };
                self.write_sector(
                    mailbox_sector(index),
                    &clear.encode(self.header.sector_size)?,
                )?;
                let slot = Slot {
                    in_use: true,
                    name: name.to_owned(),
                };
                self.write_sector(slot_sector(index), &slot.encode(self.header.sector_size)?)?;
                return Ok(index);
            }
        }
        Err(Error::BadParameter(format!(
            "{}: no free slot for {name}",
            self.path.display()
        )))
    }

    /// Writes `command` from `from` into `name`'s mailbox (as `sbd
    /// message NAME CMD`), allocating its slot if needed.
    pub fn message(&self, name: &str, command: Command, from: &str) -> Result<()> {
        let index = self.allocate(name)?;
        self.write_to(index, command, from)
    }

    /// Writes `command` into slot `index`'s mailbox.
    pub fn write_to(&self, index: u8, command: Command, from: &str) -> Result<()> {
        let mailbox = Mailbox {
            command: Some(command),
            from: from.to_owned(),
        };
        self.write_sector(
            mailbox_sector(index),
            &mailbox.encode(self.header.sector_size)?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_allocate_message_and_list() {
        let path = std::env::temp_dir().join(format!("ha-fence-sbd-{}.img", std::process::id()));
        std::fs::File::create(&path)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        let disk = SbdDisk::create(&path, Timeouts::default(), 512).unwrap();
        let again = SbdDisk::open(&path).unwrap();
        assert_eq!(again.header(), disk.header());
        assert_eq!(disk.allocate("node1").unwrap(), 0);
        assert_eq!(disk.allocate("node2").unwrap(), 1);
        assert_eq!(disk.allocate("node1").unwrap(), 0, "already there");
        disk.message("node2", Command::Reset, "node1").unwrap();
        let list = again.list().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            (
                list[1].1.name.as_str(),
                list[1].2.command,
                list[1].2.from.as_str()
            ),
            ("node2", Some(Command::Reset), "node1")
        );
        std::fs::write(&path, b"not sbd").unwrap();
        assert!(matches!(SbdDisk::open(&path), Err(Error::BadParameter(_))));
        let _ = std::fs::remove_file(path);
    }
}
