//! What the SCSI emulation asks of a unit's storage: an [`IoOp`] goes out
//! with a [`Step`], the driver performs it on the
//! [`BlockTarget`](crate::backstore::BlockTarget) and hands back an
//! [`IoDone`] (or the error), and [`resume`](super::resume) takes the
//! command on from there.

use bytes::Bytes;

use super::Completion;

/// One operation on a unit's storage, in whole blocks already checked
/// against its capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoOp {
    /// Read `len` bytes from `lba`: answered with [`IoDone::Read`].
    Read {
        /// First block.
        lba: u64,
        /// Bytes (whole blocks).
        len: usize,
    },
    /// Write `data` from `lba`; with `fua`, stable before it completes.
    Write {
        /// First block.
        lba: u64,
        /// Whole blocks.
        data: Bytes,
        /// Force Unit Access.
        fua: bool,
    },
    /// Make every completed write stable.
    Flush,
    /// Discard blocks (they read as zeroes afterwards).
    Unmap {
        /// First block.
        lba: u64,
        /// How many.
        blocks: u64,
    },
    /// Write zeroes over blocks.
    WriteZeroes {
        /// First block.
        lba: u64,
        /// How many.
        blocks: u64,
    },
    /// Whether `lba` is mapped and how many blocks from it (at most
    /// `max`) share its state: answered with [`IoDone::Provisioning`].
    Provisioning {
        /// The block asked about.
        lba: u64,
        /// The most blocks to report.
        max: u64,
    },
    /// COMPARE AND WRITE: the first half of `data` compared with the
    /// blocks, the second half written only if they match; no other write
    /// of the unit may land in between. Answered with
    /// [`IoDone::Compared`].
    CompareAndWrite {
        /// First block.
        lba: u64,
        /// Expected blocks, then new blocks.
        data: Bytes,
        /// Force Unit Access.
        fua: bool,
    },
    /// ORWRITE: each block becomes itself OR `data`, with no other write
    /// of the unit in between.
    OrWrite {
        /// First block.
        lba: u64,
        /// Whole blocks.
        data: Bytes,
        /// Force Unit Access.
        fua: bool,
    },
    /// A PERSISTENT RESERVE OUT on a unit with a reservation file: made
    /// and saved durably by
    /// [`LogicalUnit::change_reservations`](super::LogicalUnit::change_reservations),
    /// answered with [`IoDone::Done`] or [`IoDone::Refused`]. It takes
    /// effect only once saved.
    SaveReservations {
        /// The command's change.
        change: super::reservation::ReservationChange,
    },
}

impl IoOp {
    /// Whether the operation must run with every other write of the unit
    /// held off (its read and write are one step for initiators).
    pub fn exclusive(&self) -> bool {
        matches!(self, Self::CompareAndWrite { .. } | Self::OrWrite { .. })
    }

    /// Whether the operation changes blocks (it runs alongside other
    /// writes, but never inside an exclusive one).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Self::Write { .. } | Self::Unmap { .. } | Self::WriteZeroes { .. }
        )
    }
}

/// A performed [`IoOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoDone {
    /// Done, nothing to report.
    Done,
    /// The blocks read.
    Read(Vec<u8>),
    /// Mapped or not, and for how many blocks.
    Provisioning {
        /// The block holds data.
        mapped: bool,
        /// Blocks in the same state, at least 1.
        run: u64,
    },
    /// COMPARE AND WRITE: `None` when it wrote, otherwise the offset of
    /// the first differing byte.
    Compared(Option<usize>),
    /// A reservation change the reservation rules refused: nothing
    /// changed, nothing saved.
    Refused(super::reservation::Refusal),
}

/// Where a command stands: answered, or waiting for one storage
/// operation.
#[derive(Debug)]
pub enum Step {
    /// The command's answer.
    Done(Completion),
    /// Perform the operation, then [`resume`](super::resume) with its
    /// result.
    Io(IoOp, Pending),
}

/// What a command does once its storage operation completes.
#[derive(Debug)]
pub struct Pending {
    pub(super) then: Then,
    /// The allocation length Data-In is cut to.
    pub(super) allocation: Option<usize>,
}

/// The continuations of the block commands.
#[derive(Debug)]
pub(super) enum Then {
    /// READ: the blocks are the answer.
    Read,
    /// A write; with the block extent and data to compare after it
    /// (WRITE AND VERIFY with BYTCHK).
    Written(Option<(super::block::Extent, Bytes)>),
    /// Blocks read to compare with `expected` (`repeat`: one block
    /// compared with each).
    Compare { expected: Bytes, repeat: bool },
    /// COMPARE AND WRITE.
    Compared { lba: u64 },
    /// WRITE SAME in pieces: the next block to write, the end, one
    /// piece of repeated blocks.
    WriteSame {
        lba: u64,
        at: u64,
        end: u64,
        chunk: Bytes,
    },
    /// A write (WRITE SAME's unmap or zeroes) that a flush follows
    /// without the write cache.
    FlushAfterWrite { lba: u64 },
    /// That flush.
    FlushedAfter { lba: u64 },
    /// UNMAP's extents still to discard.
    Unmap {
        extents: Vec<super::block::Extent>,
        next: usize,
    },
    /// GET LBA STATUS: descriptors so far.
    LbaStatus {
        at: u64,
        count: u64,
        room: usize,
        body: Vec<u8>,
    },
    /// SYNCHRONIZE CACHE.
    Synchronize,
    /// PERSISTENT RESERVE OUT's registrations saved.
    Saved,
}

impl Step {
    pub(super) fn io(op: IoOp, then: Then) -> Self {
        Self::Io(
            op,
            Pending {
                then,
                allocation: None,
            },
        )
    }

    pub(super) fn check(sense: super::Sense) -> Self {
        Self::Done(Completion::check(sense))
    }

    pub(super) fn good() -> Self {
        Self::Done(Completion::good(Vec::new()))
    }
}
