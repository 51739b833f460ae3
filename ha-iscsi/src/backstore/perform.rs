//! The driver's side of the SCSI emulation's storage operations: each
//! [`IoOp`] performed on a unit's [`BlockTarget`](super::BlockTarget), and
//! the reservation file read and written.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Operation, Result};
use crate::scsi::reservation::ReservationChange;
use crate::scsi::unit::Hold;
use crate::scsi::{self, Completion, IoDone, IoOp, LogicalUnit, Request, Sense, Step};

/// Runs a command to its end, performing its storage operations on the
/// unit's [`BlockTarget`](super::BlockTarget) (the driver's
/// loop for one command: [`start`](scsi::start), then [`resume`](scsi::resume) after each operation,
/// each started when the unit's other operations allow).
pub async fn execute(unit: Option<&LogicalUnit>, luns: &[u64], req: Request<'_>) -> Completion {
    let mut step = scsi::start(unit, luns, req);
    loop {
        match (step, unit) {
            (Step::Done(completion), _) => return completion,
            (Step::Io(op, pending), Some(unit)) => {
                let mut turn = Turn {
                    unit,
                    hold: None,
                    waiting: false,
                };
                while turn.hold.is_none() {
                    turn.hold = unit.lock().gate.try_begin(&op, &mut turn.waiting);
                    if turn.hold.is_none() {
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                }
                let result = perform(unit, op).await;
                drop(turn);
                step = scsi::resume(unit, pending, result);
            }
            (Step::Io(..), None) => return Completion::check(Sense::NO_SUCH_LUN),
        }
    }
}

/// A storage operation's place at its unit's gate, given back however the
/// operation ends (done, or its future dropped).
struct Turn<'a> {
    unit: &'a LogicalUnit,
    hold: Option<Hold>,
    waiting: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut state = self.unit.lock();
        match self.hold {
            Some(hold) => state.gate.end(hold),
            None if self.waiting => state.gate.give_up(),
            None => {}
        }
    }
}

/// Performs a storage operation the SCSI emulation asked for on `unit`
/// (the [`Session`](crate::session::Session) let it start only when the
/// unit's other operations allow: COMPARE AND WRITE and ORWRITE alone, so
/// nothing lands between their read and their write).
pub async fn perform(unit: &LogicalUnit, op: IoOp) -> Result<IoDone> {
    let storage = &*unit.storage;
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
        IoOp::SaveReservations { change } => save_reservations(unit, change).await,
    }
}

/// Makes a reservation change and saves it
/// ([`LogicalUnit::change_reservations`]), off the runtime's threads:
/// PERSISTENT RESERVE OUT is rare, the sync slow, and a change waits
/// there for the one before it.
async fn save_reservations(unit: &LogicalUnit, change: ReservationChange) -> Result<IoDone> {
    let unit = unit.clone();
    tokio::task::spawn_blocking(move || unit.change_reservations(&change, replace_file))
        .await
        .map_err(|e| Error::io(Operation::Other)(e.into()))?
}

/// Tells the temporary files of one process apart.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `text` atomically and durably: written to a
/// temporary file of a name no one else uses (the process id and a
/// counter, created exclusively) in the same directory, synced, renamed
/// over `path`, and the directory synced. A failure up to the rename
/// leaves `path` as it was (the temporary file is removed). The rename
/// is the point of no return: once it is done `path` holds `text` for
/// whoever reads it next, so a failed directory sync after it is logged
/// but not reported, or the change would be refused while the file
/// already holds it.
pub(crate) fn replace_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::error!(dir = %dir.display(), error = %e, "directory not synced: the new reservation file may not survive a power loss");
    }
    Ok(())
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
                return Err(Error::io(Operation::ReadReservations(path))(e));
            }
        };
        self.with_reservations(path, saved.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("ha-iscsi-replace-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("d.pr");
        replace_file(&file, "one\n").unwrap();
        replace_file(&file, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "two\n");
        // A directory where the file should be: the rename fails, and
        // the temporary file is gone.
        let taken = dir.join("taken.pr");
        std::fs::create_dir_all(taken.join("inside")).unwrap();
        assert!(replace_file(&taken, "three\n").is_err());
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["d.pr", "taken.pr"]);
        assert!(replace_file(&dir.join("missing").join("d.pr"), "four\n").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
