//! Where a LUN's blocks live: the [`BlockTarget`] trait and the backstores
//! targetcli offers, memory ([`MemoryBackstore`], its `ramdisk`) and file
//! ([`FileBackstore`], its `fileio`).
//!
//! The SCSI layer calls a `BlockTarget` with whole blocks, already checked
//! against the capacity; backstores check again (a user's own
//! implementation might be called directly). A write with `fua` (Force
//! Unit Access) returns only once the data is on stable storage; `flush`
//! (SYNCHRONIZE CACHE) makes every earlier write stable.
//!
//! Your own storage is a `BlockTarget` too. An error it returns reaches
//! the initiator as MEDIUM ERROR (READ or WRITE ERROR), so return errors
//! for storage that failed; an `io::Error` converts with `?` (an
//! [`Error::Io`]). To refuse writes, do not fail them
//! here: map the LUN with [`LogicalUnit::read_only`](crate::LogicalUnit::read_only),
//! and initiators see it write-protected (DATA PROTECT).
//!
//! ```
//! use std::fs::File;
//! use std::os::unix::fs::FileExt;
//! use std::sync::Arc;
//! use ha_iscsi::{BlockTarget, LogicalUnit, async_trait};
//!
//! /// 2048 blocks of 512 bytes in a file, read and written in place (the
//! /// calls block; [`FileBackstore`](ha_iscsi::FileBackstore) moves slow
//! /// ones off the runtime).
//! struct InPlace(File);
//!
//! #[async_trait]
//! impl BlockTarget for InPlace {
//!     fn block_size(&self) -> u32 { 512 }
//!     fn block_count(&self) -> u64 { 2048 }
//!     async fn read(&self, lba: u64, buf: &mut [u8]) -> ha_iscsi::Result<()> {
//!         self.check(lba, buf.len())?;
//!         Ok(self.0.read_exact_at(buf, lba * 512)?)
//!     }
//!     async fn write(&self, lba: u64, data: &[u8], fua: bool) -> ha_iscsi::Result<()> {
//!         self.check(lba, data.len())?;
//!         self.0.write_all_at(data, lba * 512)?;
//!         if fua {
//!             self.0.sync_data()?;
//!         }
//!         Ok(())
//!     }
//!     async fn flush(&self) -> ha_iscsi::Result<()> {
//!         Ok(self.0.sync_data()?)
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = std::env::temp_dir().join(format!("ha-iscsi-doc-{}.img", std::process::id()));
//! let file = File::options().read(true).write(true).create(true).truncate(false).open(&path)?;
//! file.set_len(2048 * 512)?;
//! let lun = LogicalUnit::new(Arc::new(InPlace(file)), "disk1");
//! // The same kind of storage, offered write-protected.
//! let archive = InPlace(File::open(&path)?);
//! let archive = LogicalUnit::new(Arc::new(archive), "archive").read_only(true);
//! # let _ = (lun, archive);
//! # std::fs::remove_file(&path)?;
//! # Ok(())
//! # }
//! ```

use std::sync::RwLock;

use crate::async_trait;

use crate::error::{Error, Operation, Result};

#[cfg(feature = "tokio")]
mod file;
#[cfg(feature = "tokio")]
mod perform;

#[cfg(feature = "tokio")]
pub use file::{FileBackstore, FileOptions};
#[cfg(feature = "tokio")]
pub use perform::{execute, perform};

/// A LUN's storage.
#[async_trait]
pub trait BlockTarget: Send + Sync + 'static {
    /// Bytes per block (512 or 4096).
    fn block_size(&self) -> u32;

    /// Number of blocks.
    fn block_count(&self) -> u64;

    /// Reads whole blocks from `lba` into `buf`.
    async fn read(&self, lba: u64, buf: &mut [u8]) -> Result<()>;

    /// Writes whole blocks from `lba`; with `fua`, returns once they are on
    /// stable storage.
    async fn write(&self, lba: u64, data: &[u8], fua: bool) -> Result<()>;

    /// Makes every completed write stable (SYNCHRONIZE CACHE).
    async fn flush(&self) -> Result<()>;

    /// Whether [`BlockTarget::unmap`] frees space (advertised to initiators
    /// as thin provisioning, so they send UNMAP).
    fn thin(&self) -> bool {
        false
    }

    /// Discards `blocks` blocks from `lba`: they read as zeroes afterwards.
    /// The default writes zeroes.
    async fn unmap(&self, lba: u64, blocks: u64) -> Result<()> {
        self.write_zeroes(lba, blocks).await
    }

    /// Whether block `lba` is mapped (holds data; otherwise it is
    /// deallocated and reads as zeroes), and how many blocks from it, at
    /// most `max`, are in the same state (GET LBA STATUS). The default:
    /// everything is mapped.
    async fn provisioning(&self, lba: u64, max: u64) -> Result<(bool, u64)> {
        self.check(lba, self.block_size() as usize)?;
        Ok((true, max))
    }

    /// COMPARE AND WRITE: if the blocks from `lba` equal `expected`, writes
    /// `new` over them (same length) and returns `None`; otherwise writes
    /// nothing and returns the offset of the first differing byte.
    ///
    /// The SCSI layer calls this with every other write of the unit held
    /// off, so the default (read, compare, write) is atomic as far as
    /// initiators can tell. Storage shared beyond this process, or with a
    /// compare-and-swap of its own, overrides it.
    async fn compare_and_write(
        &self,
        lba: u64,
        expected: &[u8],
        new: &[u8],
        fua: bool,
    ) -> Result<Option<usize>> {
        if expected.len() != new.len() {
            return Err(Error::PartialBlock {
                len: new.len(),
                block_size: self.block_size(),
            });
        }
        let mut current = vec![0u8; expected.len()];
        self.read(lba, &mut current).await?;
        if let Some(offset) = current.iter().zip(expected).position(|(a, b)| a != b) {
            return Ok(Some(offset));
        }
        self.write(lba, new, fua).await?;
        Ok(None)
    }

    /// Writes zeroes to `blocks` blocks from `lba`, in pieces of at most
    /// 1 MiB.
    async fn write_zeroes(&self, lba: u64, blocks: u64) -> Result<()> {
        let size = u64::from(self.block_size());
        self.check(lba, usize::try_from(blocks * size).unwrap_or(usize::MAX))?;
        let per = (1 << 20) / size;
        let zeroes = vec![0u8; (per * size) as usize];
        let mut at = lba;
        while at < lba + blocks {
            let n = per.min(lba + blocks - at);
            self.write(at, &zeroes[..(n * size) as usize], false)
                .await?;
            at += n;
        }
        Ok(())
    }

    /// Checks that `len` bytes from `lba` are whole blocks inside the LUN.
    fn check(&self, lba: u64, len: usize) -> Result<()> {
        let size = self.block_size();
        if size == 0 || !len.is_multiple_of(size as usize) {
            return Err(Error::PartialBlock {
                len,
                block_size: size,
            });
        }
        let blocks = (len / size as usize) as u64;
        let capacity = self.block_count();
        if lba.checked_add(blocks).is_none_or(|end| end > capacity) {
            return Err(Error::OutOfRange {
                lba,
                blocks,
                capacity,
            });
        }
        Ok(())
    }
}

/// Blocks in memory (targetcli's `ramdisk`): gone when the process ends.
#[derive(Debug)]
pub struct MemoryBackstore {
    block_size: u32,
    blocks: RwLock<Vec<u8>>,
}

/// Bytes of memory the system can still give without swapping (Linux's
/// `MemAvailable` in `/proc/meminfo`); `None` where that is not known.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    memavailable(&text)
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn memavailable(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib = line
        .trim_start_matches("MemAvailable:")
        .trim()
        .strip_suffix("kB")?
        .trim();
    kib.parse::<u64>().ok()?.checked_mul(1024)
}

/// Block sizes a backstore may have (as targetcli allows).
pub const BLOCK_SIZES: [u32; 4] = [512, 1024, 2048, 4096];

fn valid_block_size(block_size: u32) -> Result<()> {
    if BLOCK_SIZES.contains(&block_size) {
        Ok(())
    } else {
        Err(Error::BlockSize(block_size))
    }
}

impl MemoryBackstore {
    /// `block_count` zeroed blocks of `block_size` bytes. Refused, never
    /// an allocation failure, when that is more than the memory available
    /// ([`available_memory`]): such a ramdisk could not be filled without
    /// the kernel killing the process.
    pub fn new(block_size: u32, block_count: u64) -> Result<Self> {
        valid_block_size(block_size)?;
        let wanted = block_count.saturating_mul(u64::from(block_size));
        let refused = |why: String| Error::Io {
            operation: Operation::Allocate(wanted),
            source: std::io::Error::new(std::io::ErrorKind::OutOfMemory, why),
        };
        if let Some(available) = available_memory().filter(|a| wanted > *a) {
            return Err(refused(format!(
                "more than the memory available ({} MiB)",
                available >> 20
            )));
        }
        let len = block_count
            .checked_mul(u64::from(block_size))
            .and_then(|len| usize::try_from(len).ok())
            .filter(|len| isize::try_from(*len).is_ok())
            .ok_or_else(|| refused("more than this machine can address".into()))?;
        Ok(Self {
            block_size,
            blocks: RwLock::new(vec![0; len]),
        })
    }

    fn range(&self, lba: u64, len: usize) -> std::ops::Range<usize> {
        let start = lba as usize * self.block_size as usize;
        start..start + len
    }
}

#[async_trait]
impl BlockTarget for MemoryBackstore {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn block_count(&self) -> u64 {
        let len = self.blocks.read().expect("not poisoned").len();
        len as u64 / u64::from(self.block_size)
    }

    async fn read(&self, lba: u64, buf: &mut [u8]) -> Result<()> {
        self.check(lba, buf.len())?;
        let blocks = self.blocks.read().expect("not poisoned");
        buf.copy_from_slice(&blocks[self.range(lba, buf.len())]);
        Ok(())
    }

    async fn write(&self, lba: u64, data: &[u8], _fua: bool) -> Result<()> {
        self.check(lba, data.len())?;
        let range = self.range(lba, data.len());
        self.blocks.write().expect("not poisoned")[range].copy_from_slice(data);
        Ok(())
    }

    async fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn thin(&self) -> bool {
        true
    }

    async fn unmap(&self, lba: u64, blocks: u64) -> Result<()> {
        let len = usize::try_from(blocks * u64::from(self.block_size)).unwrap_or(usize::MAX);
        self.check(lba, len)?;
        let range = self.range(lba, len);
        self.blocks.write().expect("not poisoned")[range].fill(0);
        Ok(())
    }

    /// A block of zeroes counts as deallocated: memory keeps no map, and
    /// an unmapped block is exactly one that reads as zeroes.
    async fn provisioning(&self, lba: u64, max: u64) -> Result<(bool, u64)> {
        let size = self.block_size as usize;
        self.check(lba, size)?;
        let blocks = self.blocks.read().expect("not poisoned");
        let start = lba as usize * size;
        let zero = |i: usize| blocks[i..i + size].iter().all(|b| *b == 0);
        let mapped = !zero(start);
        let mut run = 1u64;
        let mut at = start + size;
        while run < max && at < blocks.len() && zero(at) != mapped {
            run += 1;
            at += size;
        }
        Ok((mapped, run))
    }
}

#[cfg(all(test, feature = "tokio"))]
#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) async fn round_trip(store: &dyn BlockTarget) {
        let size = store.block_size() as usize;
        let data: Vec<u8> = (0..size * 3).map(|i| (i % 251) as u8).collect();
        store.write(5, &data, false).await.unwrap();
        let mut back = vec![0; size * 3];
        store.read(5, &mut back).await.unwrap();
        assert_eq!(back, data);
        let last = store.block_count() - 1;
        let mut one = vec![0; size];
        store.read(last, &mut one).await.unwrap();
        assert_eq!(
            store.read(last, &mut vec![0; size * 2]).await,
            Err(Error::OutOfRange {
                lba: last,
                blocks: 2,
                capacity: store.block_count()
            })
        );
        assert!(matches!(
            store.write(0, &[0; 100], false).await,
            Err(Error::PartialBlock { len: 100, .. })
        ));
        assert!(store.read(u64::MAX, &mut one).await.is_err(), "no overflow");
        store.unmap(6, 1).await.unwrap();
        store.read(5, &mut back).await.unwrap();
        assert_eq!(&back[..size], &data[..size]);
        assert!(
            back[size..size * 2].iter().all(|b| *b == 0),
            "unmapped reads zero"
        );
        assert_eq!(&back[size * 2..], &data[size * 2..]);
    }

    #[tokio::test]
    async fn memory_blocks_round_trip() {
        round_trip(&MemoryBackstore::new(512, 2048).unwrap()).await;
        round_trip(&MemoryBackstore::new(4096, 64).unwrap()).await;
        assert!(MemoryBackstore::new(0, 1).is_err());
        assert!(MemoryBackstore::new(1000, 1).is_err());
        assert_eq!(
            MemoryBackstore::new(1000, 1).err(),
            Some(Error::BlockSize(1000))
        );
    }

    #[test]
    fn a_ramdisk_larger_than_memory_is_refused_not_aborted() {
        // 16 TiB: more than any test machine has; refused with the size.
        let err = MemoryBackstore::new(512, 1 << 35).unwrap_err();
        assert!(
            matches!(&err, Error::Io { operation: Operation::Allocate(n), .. } if *n == 16 << 40),
            "{err}"
        );
        assert!(err.to_string().contains("memory available"), "{err}");
        assert!(MemoryBackstore::new(4096, u64::MAX).is_err(), "no overflow");
        assert_eq!(
            memavailable("MemTotal: 100 kB\nMemAvailable:    2048 kB\n"),
            Some(2 << 20)
        );
        assert_eq!(memavailable("MemTotal: 100 kB\n"), None);
    }
}
