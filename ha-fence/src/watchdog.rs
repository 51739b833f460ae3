//! A Linux watchdog device (`/dev/watchdog`).
//!
//! Once opened it must be fed before its timeout or the machine resets;
//! closing it cleanly needs the magic character `V` first. This is what
//! makes SBD safe: a node that cannot read its slot stops feeding and is
//! reset by hardware.
//!
//! Feeding is a one-byte write (the kernel API takes any write as a
//! keepalive), so a plain file stands in for the device in tests; the
//! timeout is set and read with the `WDIOC_SETTIMEOUT`/`WDIOC_GETTIMEOUT`
//! ioctls, which only a real device answers. The ioctls are the module's
//! `unsafe`: nix's generated wrappers, called with a valid descriptor and
//! a pointer to a local integer.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Operation, Result};

/// The watchdog ioctls of `<linux/watchdog.h>`.
mod ioctl {
    nix::ioctl_readwrite!(wdioc_settimeout, b'W', 6, libc::c_int);
    nix::ioctl_read!(wdioc_gettimeout, b'W', 7, libc::c_int);
}
use ioctl::{wdioc_gettimeout, wdioc_settimeout};

/// An open watchdog.
#[derive(Debug)]
pub struct Watchdog {
    path: PathBuf,
    file: File,
}

impl Watchdog {
    /// Opens (and so arms) the watchdog at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io(Operation::Open, path.display(), e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Feeds it.
    pub fn keepalive(&self) -> Result<()> {
        (&self.file)
            .write_all(b"\0")
            .map_err(|e| Error::io(Operation::Write, self.path.display(), e))
    }

    /// Sets its timeout; the device's answer (it may round).
    pub fn set_timeout(&self, seconds: u32) -> Result<u32> {
        let mut value = libc::c_int::try_from(seconds)
            .map_err(|_| Error::BadParameter(format!("watchdog timeout {seconds}")))?;
        // SAFETY: the descriptor is open for the call; `value` is a valid
        // c_int the kernel reads and writes.
        unsafe { wdioc_settimeout(self.file.as_raw_fd(), &mut value) }.map_err(|e| {
            Error::BadParameter(format!(
                "{} does not take a timeout: {e}",
                self.path.display()
            ))
        })?;
        Ok(value.max(0) as u32)
    }

    /// Its timeout.
    pub fn timeout(&self) -> Result<u32> {
        let mut value: libc::c_int = 0;
        // SAFETY: as in `set_timeout`; the kernel writes `value`.
        unsafe { wdioc_gettimeout(self.file.as_raw_fd(), &mut value) }.map_err(|e| {
            Error::BadParameter(format!("{} has no timeout: {e}", self.path.display()))
        })?;
        Ok(value.max(0) as u32)
    }

    /// Disarms and closes it: the magic `V`, then close. Dropping it
    /// without this leaves it armed (the machine resets unless someone
    /// else feeds it), which is what a crashed watcher must cause.
    pub fn disarm(self) -> Result<()> {
        (&self.file)
            .write_all(b"V")
            .map_err(|e| Error::io(Operation::Write, self.path.display(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fake_device_records_keepalives_and_the_magic_close() {
        let path = std::env::temp_dir().join(format!("ha-fence-watchdog-{}", std::process::id()));
        std::fs::write(&path, b"").unwrap();
        let dog = Watchdog::open(&path).unwrap();
        dog.keepalive().unwrap();
        dog.keepalive().unwrap();
        // A plain file is no watchdog: the ioctls say so.
        assert!(matches!(dog.set_timeout(10), Err(Error::BadParameter(_))));
        assert!(dog.timeout().is_err());
        dog.disarm().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"\0\0V");
        let _ = std::fs::remove_file(path);
    }
}
