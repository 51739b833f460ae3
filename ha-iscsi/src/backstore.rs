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
//! Your own storage is a `BlockTarget` too:
//!
//! ```
//! use ha_iscsi::async_trait;
//! use ha_iscsi::backstore::BlockTarget;
//!
//! /// A read-only LUN whose every block reads as 0xEE.
//! struct Pattern;
//!
//! #[async_trait]
//! impl BlockTarget for Pattern {
//!     fn block_size(&self) -> u32 { 512 }
//!     fn block_count(&self) -> u64 { 2048 }
//!     async fn read(&self, lba: u64, buf: &mut [u8]) -> ha_iscsi::Result<()> {
//!         self.check(lba, buf.len())?;
//!         buf.fill(0xEE);
//!         Ok(())
//!     }
//!     async fn write(&self, _lba: u64, _data: &[u8], _fua: bool) -> ha_iscsi::Result<()> {
//!         Err(ha_iscsi::Error::Io { op: "write".into(), message: "read-only".into() })
//!     }
//!     async fn flush(&self) -> ha_iscsi::Result<()> { Ok(()) }
//! }
//! ```

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::scsi::LogicalUnit;
#[cfg(feature = "tokio")]
use crate::scsi::{IoDone, IoOp};

/// Performs a storage operation the SCSI emulation asked for on `unit`:
/// writes hold the unit's lock shared, COMPARE AND WRITE and ORWRITE
/// exclusively, so nothing lands between their read and their write.
#[cfg(feature = "tokio")]
pub async fn perform(unit: &LogicalUnit, op: IoOp) -> Result<IoDone> {
    let storage = &*unit.storage;
    let _exclusive = if op.exclusive() {
        Some(unit.io_lock.write().await)
    } else {
        None
    };
    let _shared = if op.writes() {
        Some(unit.io_lock.read().await)
    } else {
        None
    };
    match op {
        IoOp::Read { lba, len } => {
            let mut data = vec![0u8; len];
            storage.read(lba, &mut data).await?;
            Ok(IoDone::Read(data))
        }
        IoOp::Write { lba, data, fua } => {
            storage.write(lba, &data, fua).await.map(|()| IoDone::Done)
        }
        IoOp::Flush => storage.flush().await.map(|()| IoDone::Done),
        IoOp::Unmap { lba, blocks } => storage.unmap(lba, blocks).await.map(|()| IoDone::Done),
        IoOp::WriteZeroes { lba, blocks } => storage
            .write_zeroes(lba, blocks)
            .await
            .map(|()| IoDone::Done),
        IoOp::Provisioning { lba, max } => {
            let (mapped, run) = storage.provisioning(lba, max).await?;
            Ok(IoDone::Provisioning { mapped, run })
        }
        IoOp::CompareAndWrite { lba, data, fua } => {
            let (expected, new) = data.split_at(data.len() / 2);
            let differs = storage.compare_and_write(lba, expected, new, fua).await?;
            Ok(IoDone::Compared(differs))
        }
        IoOp::OrWrite { lba, data, fua } => {
            let mut current = vec![0u8; data.len()];
            storage.read(lba, &mut current).await?;
            for (c, d) in current.iter_mut().zip(&data[..]) {
                *c |= d;
            }
            storage
                .write(lba, &current, fua)
                .await
                .map(|()| IoDone::Done)
        }
        IoOp::SaveReservations { text } => save_reservations(unit, text).await,
    }
}

/// Writes the persistent reservations to the unit's reservation file
/// (through a temporary file renamed over it, synced), off the runtime's
/// threads: PERSISTENT RESERVE OUT is rare, the sync slow.
#[cfg(feature = "tokio")]
async fn save_reservations(unit: &LogicalUnit, text: String) -> Result<IoDone> {
    let Some(path) = unit.pr_file.clone() else {
        return Ok(IoDone::Done);
    };
    let failed = |message: String| Error::Io {
        op: "save reservations".into(),
        message,
    };
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &*path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok::<(), std::io::Error>(())
    })
    .await
    .map_err(|e| failed(e.to_string()))?
    .map_err(|e| failed(e.to_string()))?;
    Ok(IoDone::Done)
}

impl LogicalUnit {
    /// Keeps persistent reservations in `path`: registrations made with
    /// APTPL (Activate Persist Through Power Loss) are written there and
    /// read back now, so they survive a restart of the target.
    pub fn with_reservation_file(self, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let saved = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(Error::Io {
                    op: format!("read {}", path.display()),
                    message: e.to_string(),
                });
            }
        };
        self.with_reservations(path, saved.as_deref())
    }
}

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

/// Block sizes a backstore may have (as targetcli allows).
pub const BLOCK_SIZES: [u32; 4] = [512, 1024, 2048, 4096];

fn valid_block_size(block_size: u32) -> Result<()> {
    if BLOCK_SIZES.contains(&block_size) {
        Ok(())
    } else {
        Err(Error::Io {
            op: "configure the backstore".into(),
            message: format!("block size {block_size} is not one of 512, 1024, 2048, 4096"),
        })
    }
}

impl MemoryBackstore {
    /// `block_count` zeroed blocks of `block_size` bytes.
    pub fn new(block_size: u32, block_count: u64) -> Result<Self> {
        valid_block_size(block_size)?;
        let len = block_count
            .checked_mul(u64::from(block_size))
            .and_then(|len| usize::try_from(len).ok())
            .ok_or_else(|| Error::Io {
                op: "allocate the memory backstore".into(),
                message: format!("{block_count} blocks do not fit in memory"),
            })?;
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

/// How a [`FileBackstore`] does its I/O.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileOptions {
    /// Bypass the page cache (`O_DIRECT`): I/O goes to the device through
    /// aligned buffers. Not every file system has it (tmpfs does not); the
    /// LUN's block size must be a multiple of the device's.
    pub direct: bool,
    /// Every write is stable before it is answered, as with FUA
    /// (targetcli's `write_back=false`).
    pub write_through: bool,
}

/// Buffers for `O_DIRECT` are aligned to this (enough for 512-byte and
/// 4 KiB devices).
const DIRECT_ALIGN: usize = 4096;

/// Blocks in a file (targetcli's `fileio`) or a block device (its
/// `block`): a file is created sparse at the asked size if missing,
/// written through the page cache (or around it, with
/// [`FileOptions::direct`]), made stable by [`BlockTarget::flush`] and by
/// FUA writes (`fdatasync`), and unmapped by punching holes, so a thin
/// file stays thin.
#[derive(Debug)]
pub struct FileBackstore {
    path: PathBuf,
    file: Arc<File>,
    block_size: u32,
    block_count: u64,
    options: FileOptions,
    /// The file lives in memory (tmpfs): its I/O never waits for a
    /// device, so it is done on the runtime's thread (and FUA has nothing
    /// more stable to reach).
    in_memory: bool,
}

fn io(op: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let op = op.into();
    move |e| Error::Io {
        op,
        message: e.to_string(),
    }
}

impl FileBackstore {
    /// Opens `path`, creating it sparse with `size` bytes if it does not
    /// exist (targetcli's `fileio create NAME PATH SIZE`); an existing
    /// file keeps its size, of which whole blocks are used.
    pub fn open(path: &Path, size: Option<u64>, block_size: u32) -> Result<Self> {
        Self::open_with(path, size, block_size, FileOptions::default())
    }

    /// [`FileBackstore::open`] with I/O `options`.
    pub fn open_with(
        path: &Path,
        size: Option<u64>,
        block_size: u32,
        options: FileOptions,
    ) -> Result<Self> {
        valid_block_size(block_size)?;
        let what = || format!("open {}", path.display());
        let mut open = OpenOptions::new();
        open.read(true)
            .write(true)
            .create(size.is_some())
            .truncate(false);
        if options.direct {
            use std::os::unix::fs::OpenOptionsExt;
            open.custom_flags(libc::O_DIRECT);
        }
        let file = open.open(path).map_err(|e| Error::Io {
            op: what(),
            message: if options.direct && e.raw_os_error() == Some(libc::EINVAL) {
                "this file system does not do O_DIRECT".into()
            } else {
                e.to_string()
            },
        })?;
        let meta = file.metadata().map_err(io(what()))?;
        let mut len = meta.len();
        if std::os::unix::fs::FileTypeExt::is_block_device(&meta.file_type()) {
            // A block device (targetcli's `block`): its size is where its
            // end is; it cannot be created or resized.
            use std::io::Seek;
            len = (&file)
                .seek(std::io::SeekFrom::End(0))
                .map_err(io(what()))?;
        } else if let Some(size) = size
            && len == 0
        {
            // Sparse: no block is allocated until written.
            file.set_len(size).map_err(io(what()))?;
            len = size;
        }
        let in_memory = nix::sys::statfs::fstatfs(&file)
            .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC);
        Ok(Self {
            path: path.to_path_buf(),
            file: Arc::new(file),
            block_size,
            block_count: len / u64::from(block_size),
            in_memory: in_memory && !options.direct,
            options,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn blocking<T: Send + 'static>(
        &self,
        op: &'static str,
        work: impl FnOnce(&File) -> std::io::Result<T> + Send + 'static,
    ) -> Result<T> {
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || work(&file))
            .await
            .map_err(|e| Error::Io {
                op: op.into(),
                message: e.to_string(),
            })?
            .map_err(io(op))
    }
}

#[async_trait]
impl BlockTarget for FileBackstore {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn block_count(&self) -> u64 {
        self.block_count
    }

    async fn read(&self, lba: u64, buf: &mut [u8]) -> Result<()> {
        self.check(lba, buf.len())?;
        let offset = lba * u64::from(self.block_size);
        if self.in_memory {
            return self.file.read_exact_at(buf, offset).map_err(io("read"));
        }
        if self.options.direct {
            let len = buf.len();
            let data = self
                .blocking("read", move |f| {
                    let mut bounce = vec![0u8; len + DIRECT_ALIGN];
                    let at = bounce.as_ptr().align_offset(DIRECT_ALIGN);
                    f.read_exact_at(&mut bounce[at..at + len], offset)?;
                    bounce.drain(..at);
                    bounce.truncate(len);
                    Ok(bounce)
                })
                .await?;
            buf.copy_from_slice(&data);
            return Ok(());
        }
        // From the page cache without leaving this thread, if it is there.
        let mut done = 0;
        #[cfg(target_os = "linux")]
        while done < buf.len() {
            match crate::nowait::read_at(&self.file, &mut buf[done..], offset + done as u64)
                .map_err(io("read"))?
            {
                crate::nowait::Attempt::Done(0) | crate::nowait::Attempt::WouldBlock => break,
                crate::nowait::Attempt::Done(n) => done += n,
            }
        }
        if done == buf.len() {
            return Ok(());
        }
        let (rest, at) = (buf.len() - done, offset + done as u64);
        let data = self
            .blocking("read", move |f| {
                let mut data = vec![0; rest];
                f.read_exact_at(&mut data, at)?;
                Ok(data)
            })
            .await?;
        buf[done..].copy_from_slice(&data);
        Ok(())
    }

    async fn write(&self, lba: u64, data: &[u8], fua: bool) -> Result<()> {
        self.check(lba, data.len())?;
        let mut offset = lba * u64::from(self.block_size);
        let mut data = data;
        let fua = fua || self.options.write_through;
        if self.in_memory {
            return self.file.write_all_at(data, offset).map_err(io("write"));
        }
        if self.options.direct {
            let len = data.len();
            let mut bounce = vec![0u8; len + DIRECT_ALIGN];
            let at = bounce.as_ptr().align_offset(DIRECT_ALIGN);
            bounce[at..at + len].copy_from_slice(data);
            return self
                .blocking("write", move |f| {
                    f.write_all_at(&bounce[at..at + len], offset)?;
                    // The device's own cache still needs flushing for FUA.
                    if fua {
                        f.sync_data()?;
                    }
                    Ok(())
                })
                .await;
        }
        // Into the page cache without leaving this thread, if it can be.
        #[cfg(target_os = "linux")]
        if !fua {
            while !data.is_empty() {
                match crate::nowait::write_at(&self.file, data, offset).map_err(io("write"))? {
                    crate::nowait::Attempt::Done(0) | crate::nowait::Attempt::WouldBlock => break,
                    crate::nowait::Attempt::Done(n) => {
                        data = &data[n..];
                        offset += n as u64;
                    }
                }
            }
            if data.is_empty() {
                return Ok(());
            }
        }
        let data = data.to_vec();
        self.blocking("write", move |f| {
            f.write_all_at(&data, offset)?;
            if fua {
                f.sync_data()?;
            }
            Ok(())
        })
        .await
    }

    async fn flush(&self) -> Result<()> {
        self.blocking("flush", File::sync_data).await
    }

    fn thin(&self) -> bool {
        true
    }

    /// From the file's holes (SEEK_DATA/SEEK_HOLE): a block is mapped if
    /// any of it is data.
    async fn provisioning(&self, lba: u64, max: u64) -> Result<(bool, u64)> {
        let size = u64::from(self.block_size);
        self.check(lba, size as usize)?;
        let (start, end) = (lba * size, (lba + max) * size);
        self.blocking("find holes", move |f| {
            use nix::unistd::{Whence, lseek};
            let seek = |offset: u64, whence| match lseek(f, offset as i64, whence) {
                Ok(at) => Ok(at as u64),
                // No data after the offset: a hole to the end.
                Err(nix::errno::Errno::ENXIO) => Ok(end),
                Err(e) => Err(std::io::Error::from(e)),
            };
            let data = seek(start, Whence::SeekData)?;
            if data >= start + size {
                // Deallocated up to the block holding the next data.
                let run = (data.min(end) - start) / size;
                return Ok((false, run.max(1)));
            }
            let hole = seek(start, Whence::SeekHole)?.min(end);
            Ok((true, (hole.div_ceil(size) - lba).max(1)))
        })
        .await
    }

    async fn unmap(&self, lba: u64, blocks: u64) -> Result<()> {
        let size = u64::from(self.block_size);
        self.check(lba, usize::try_from(blocks * size).unwrap_or(usize::MAX))?;
        let (offset, len) = ((lba * size) as i64, (blocks * size) as i64);
        self.blocking("unmap", move |f| {
            use nix::fcntl::{FallocateFlags, fallocate};
            fallocate(
                f,
                FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE,
                offset,
                len,
            )
            .map_err(std::io::Error::from)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    async fn round_trip(store: &dyn BlockTarget) {
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
    }

    #[tokio::test]
    async fn a_file_is_created_sparse_and_survives_a_reopen() {
        let dir = std::env::temp_dir().join(format!("ha-iscsi-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("disk1.img");
        let _ = std::fs::remove_file(&path);
        let store = FileBackstore::open(&path, Some(64 << 20), 512).unwrap();
        assert_eq!(store.block_count(), (64 << 20) / 512);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 64 << 20);
        assert!(
            meta.blocks() * 512 < 1 << 20,
            "sparse: {} blocks",
            meta.blocks()
        );
        round_trip(&store).await;
        store.write(100, &[0xab; 4096], true).await.unwrap();
        store.flush().await.unwrap();
        drop(store);
        let store = FileBackstore::open(&path, Some(1 << 20), 512).unwrap();
        assert_eq!(
            store.block_count(),
            (64 << 20) / 512,
            "an existing file keeps its size"
        );
        let mut back = [0; 4096];
        store.read(100, &mut back).await.unwrap();
        assert_eq!(back, [0xab; 4096]);
        assert!(FileBackstore::open(&dir.join("missing.img"), None, 512).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_file_in_memory_is_served_on_the_runtime_thread() {
        // tmpfs takes the direct path; skipped where /dev/shm is not tmpfs.
        let dir = Path::new("/dev/shm");
        let Ok(fs) = nix::sys::statfs::statfs(dir) else {
            eprintln!("SKIPPED: no /dev/shm");
            return;
        };
        if fs.filesystem_type() != nix::sys::statfs::TMPFS_MAGIC {
            eprintln!("SKIPPED: /dev/shm is not tmpfs");
            return;
        }
        let path = dir.join(format!("ha-iscsi-shm-{}.img", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store = FileBackstore::open(&path, Some(8 << 20), 512).unwrap();
        assert!(store.in_memory);
        round_trip(&store).await;
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn direct_and_write_through_files_round_trip() {
        let dir = std::env::temp_dir().join(format!("ha-iscsi-direct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("disk.img");
        let _ = std::fs::remove_file(&path);
        let through = FileOptions {
            write_through: true,
            ..FileOptions::default()
        };
        round_trip(&FileBackstore::open_with(&path, Some(8 << 20), 512, through).unwrap()).await;
        let direct = FileOptions {
            direct: true,
            ..FileOptions::default()
        };
        match FileBackstore::open_with(&path, None, 512, direct) {
            Ok(store) => round_trip(&store).await,
            // Some file systems (tmpfs, some overlays) have no O_DIRECT:
            // then the error says so.
            Err(e) => assert!(e.to_string().contains("O_DIRECT"), "{e}"),
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn unmapping_a_file_punches_a_hole() {
        let dir = std::env::temp_dir().join(format!("ha-iscsi-hole-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("disk.img");
        let _ = std::fs::remove_file(&path);
        let store = FileBackstore::open(&path, Some(16 << 20), 4096).unwrap();
        store.write(0, &vec![1u8; 4 << 20], false).await.unwrap();
        store.flush().await.unwrap();
        let before = std::fs::metadata(&path).unwrap().blocks();
        store.unmap(0, 512).await.unwrap();
        let after = std::fs::metadata(&path).unwrap().blocks();
        assert!(after < before, "{after} < {before} (512-byte units)");
        let mut back = vec![9u8; 4096];
        store.read(0, &mut back).await.unwrap();
        assert!(back.iter().all(|b| *b == 0));
        let _ = std::fs::remove_dir_all(dir);
    }
}
