//! Reads and writes that never block: `preadv2`/`pwritev2` with
//! `RWF_NOWAIT` (Linux 4.14+), which move data only if it can be done from
//! and to the page cache at once and otherwise answer `EAGAIN`.
//!
//! The file backstore tries these on the runtime's thread first and hands
//! the I/O to the blocking pool only when the kernel would have to wait:
//! a cached block costs one system call instead of a thread hand-off.
//! `nix` has no wrapper for them, hence this module's `unsafe`.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;

/// What a non-blocking attempt achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Moved this many bytes (possibly fewer than asked).
    Done(usize),
    /// Would have blocked, or the kernel or file system cannot tell: use
    /// the blocking path.
    WouldBlock,
}

fn outcome(n: isize) -> std::io::Result<Attempt> {
    if n >= 0 {
        return Ok(Attempt::Done(n as usize));
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        // EOPNOTSUPP/EINVAL: a kernel or file system without RWF_NOWAIT.
        Some(libc::EAGAIN | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS) => {
            Ok(Attempt::WouldBlock)
        }
        _ => Err(e),
    }
}

/// Reads into `buf` at `offset` if the data is in the page cache.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<Attempt> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `iov` describes `buf`, which outlives the call and is
    // exclusively borrowed; the descriptor is open for the call's length.
    let n = unsafe {
        libc::preadv2(
            file.as_raw_fd(),
            &iov,
            1,
            offset as libc::off_t,
            libc::RWF_NOWAIT,
        )
    };
    outcome(n)
}

/// Writes `data` at `offset` if it can go to the page cache at once.
pub fn write_at(file: &File, data: &[u8], offset: u64) -> std::io::Result<Attempt> {
    let iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: `iov` describes `data`, which outlives the call; the kernel
    // only reads from it for a write.
    let n = unsafe {
        libc::pwritev2(
            file.as_raw_fd(),
            &iov,
            1,
            offset as libc::off_t,
            libc::RWF_NOWAIT,
        )
    };
    outcome(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn cached_data_moves_without_blocking() {
        let path = std::env::temp_dir().join(format!("ha-iscsi-nowait-{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.write_all_at(&[7u8; 4096], 0).unwrap();
        let mut back = [0u8; 4096];
        // Either done from the cache or refused: never an error, never
        // wrong data.
        if let Attempt::Done(n) = read_at(&file, &mut back, 0).unwrap() {
            assert!(back[..n].iter().all(|b| *b == 7));
        }
        if let Attempt::Done(n) = write_at(&file, &[9u8; 512], 512).unwrap() {
            assert_eq!(n, 512);
            file.read_exact_at(&mut back[..512], 512).unwrap();
            assert_eq!(back[..512], [9u8; 512]);
        }
        let _ = std::fs::remove_file(path);
    }
}
