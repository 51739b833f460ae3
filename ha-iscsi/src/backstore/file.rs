//! The file backstore (targetcli's `fileio`): a regular file or a block
//! device, read and written in place.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::async_trait;

use super::{BlockTarget, valid_block_size};
use crate::error::{Error, Operation, Result};

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

fn io(operation: Operation) -> impl FnOnce(std::io::Error) -> Error {
    Error::io(operation)
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
        let what = || Operation::Open(path.to_path_buf());
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
            operation: what(),
            source: if options.direct && e.raw_os_error() == Some(libc::EINVAL) {
                std::io::Error::new(e.kind(), "this file system does not do O_DIRECT")
            } else {
                e
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
        operation: Operation,
        work: impl FnOnce(&File) -> std::io::Result<T> + Send + 'static,
    ) -> Result<T> {
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || work(&file))
            .await
            .map_err(|e| Error::io(operation.clone())(e.into()))?
            .map_err(io(operation))
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
            return self
                .file
                .read_exact_at(buf, offset)
                .map_err(io(Operation::Read));
        }
        if self.options.direct {
            let len = buf.len();
            let data = self
                .blocking(Operation::Read, move |f| {
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
                .map_err(io(Operation::Read))?
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
            .blocking(Operation::Read, move |f| {
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
            return self
                .file
                .write_all_at(data, offset)
                .map_err(io(Operation::Write));
        }
        if self.options.direct {
            let len = data.len();
            let mut bounce = vec![0u8; len + DIRECT_ALIGN];
            let at = bounce.as_ptr().align_offset(DIRECT_ALIGN);
            bounce[at..at + len].copy_from_slice(data);
            return self
                .blocking(Operation::Write, move |f| {
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
                match crate::nowait::write_at(&self.file, data, offset)
                    .map_err(io(Operation::Write))?
                {
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
        self.blocking(Operation::Write, move |f| {
            f.write_all_at(&data, offset)?;
            if fua {
                f.sync_data()?;
            }
            Ok(())
        })
        .await
    }

    async fn flush(&self) -> Result<()> {
        self.blocking(Operation::Flush, File::sync_data).await
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
        self.blocking(Operation::FindHoles, move |f| {
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
        self.blocking(Operation::Unmap, move |f| {
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
    use crate::backstore::tests::round_trip;
    use std::os::unix::fs::MetadataExt;

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
