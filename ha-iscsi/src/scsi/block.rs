//! The block commands (SBC-3): READ, WRITE, WRITE AND VERIFY, VERIFY,
//! ORWRITE, WRITE SAME, UNMAP, COMPARE AND WRITE, GET LBA STATUS,
//! PRE-FETCH, SYNCHRONIZE CACHE and READ CAPACITY, over the unit's
//! [`BlockTarget`](crate::backstore::BlockTarget).
//!
//! Each command is a [`Step`]: answered from the CDB, or an
//! [`IoOp`] for the driver and a continuation that takes the result. COMPARE
//! AND WRITE and ORWRITE are single [`IoOp::exclusive`] operations, so the
//! driver can keep every other write out between their read and their
//! write.

use bytes::Bytes;

use super::io::{IoDone, IoOp, Step, Then};
use super::sense::Sense;
use super::unit::LogicalUnit;
use super::{
    Completion, MAX_COMPARE_AND_WRITE, MAX_TRANSFER, MAX_UNMAP_DESCRIPTORS, be_u32, be_u64,
};

/// A command's extent: first block and number of blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// First block.
    pub lba: u64,
    /// Number of blocks.
    pub blocks: u64,
}

/// The extent of a READ, WRITE, WRITE AND VERIFY, VERIFY, ORWRITE,
/// PRE-FETCH, SYNCHRONIZE CACHE or WRITE SAME CDB (by its length class).
pub fn extent(cdb: &[u8]) -> Option<Extent> {
    let (lba, blocks) = match *cdb.first()? {
        0x08 | 0x0a if cdb.len() >= 6 => {
            let lba = u64::from(be_u32(&[0, cdb[1] & 0x1f, cdb[2], cdb[3]]));
            // A transfer length of 0 means 256 blocks in the 6-byte CDBs.
            let blocks = if cdb[4] == 0 { 256 } else { u64::from(cdb[4]) };
            (lba, blocks)
        }
        0x28 | 0x2a | 0x2e | 0x2f | 0x34 | 0x35 | 0x41 if cdb.len() >= 10 => (
            u64::from(be_u32(&cdb[2..6])),
            u64::from(u16::from_be_bytes([cdb[7], cdb[8]])),
        ),
        0xa8 | 0xaa | 0xae | 0xaf if cdb.len() >= 12 => (
            u64::from(be_u32(&cdb[2..6])),
            u64::from(be_u32(&cdb[6..10])),
        ),
        0x88 | 0x8a | 0x8b | 0x8e | 0x8f | 0x90 | 0x91 | 0x93 if cdb.len() >= 16 => {
            (be_u64(&cdb[2..10]), u64::from(be_u32(&cdb[10..14])))
        }
        0x89 if cdb.len() >= 16 => (be_u64(&cdb[2..10]), u64::from(cdb[13])),
        _ => return None,
    };
    Some(Extent { lba, blocks })
}

/// The bytes of Data-Out the command `cdb` takes (its SCSI transfer
/// length in the write direction) on a unit with `block_size`.
pub fn data_out_length(cdb: &[u8], block_size: u32) -> u64 {
    let bs = u64::from(block_size);
    let Some(&opcode) = cdb.first() else {
        return 0;
    };
    let blocks = || extent(cdb).map_or(0, |e| e.blocks);
    let byte = |i: usize| u64::from(cdb.get(i).copied().unwrap_or(0));
    match opcode {
        0x0a | 0x2a | 0xaa | 0x8a | 0x2e | 0xae | 0x8e | 0x8b => blocks().saturating_mul(bs),
        // VERIFY: BYTCHK 01b compares the whole extent, 11b one block.
        0x2f | 0xaf | 0x8f => match cdb.get(1).map(|b| (b >> 1) & 0x03) {
            Some(1) => blocks().saturating_mul(bs),
            Some(3) => bs,
            _ => 0,
        },
        // WRITE SAME: one block, none with NDOB.
        0x41 => bs,
        0x93 if byte(1) & 0x01 != 0 => 0,
        0x93 => bs,
        0x89 => blocks().saturating_mul(2 * bs),
        0x15 => byte(4),
        0x42 | 0x55 => byte(7) << 8 | byte(8),
        0x5f => byte(5) << 24 | byte(6) << 16 | byte(7) << 8 | byte(8),
        _ => 0,
    }
}

/// Checks `extent` against the unit's capacity and the transfer limit.
fn check_range(unit: &LogicalUnit, e: Extent) -> Result<(), Sense> {
    if e.lba
        .checked_add(e.blocks)
        .is_none_or(|end| end > unit.storage.block_count())
    {
        return Err(Sense::LBA_OUT_OF_RANGE);
    }
    Ok(())
}

fn check_length(unit: &LogicalUnit, blocks: u64) -> Result<usize, Sense> {
    blocks
        .checked_mul(u64::from(unit.storage.block_size()))
        .filter(|len| *len <= MAX_TRANSFER as u64)
        .map(|len| len as usize)
        .ok_or(Sense::INVALID_FIELD)
}

/// Protection information fields (RDPROTECT, WRPROTECT, VRPROTECT,
/// ORPROTECT) must be 0: no backstore has protection information.
fn check_protect(cdb: &[u8]) -> Result<(), Sense> {
    if cdb[0] != 0x08 && cdb[0] != 0x0a && cdb[1] & 0xe0 != 0 {
        return Err(Sense::INVALID_FIELD);
    }
    Ok(())
}

fn fua(unit: &LogicalUnit, cdb: &[u8]) -> bool {
    let forced = cdb[0] != 0x0a && cdb[1] & 0x08 != 0;
    forced || !unit.lock().wce
}

fn write_failed(e: &crate::Error, lba: u64) -> Step {
    tracing::warn!(lba, error = %e, "write failed");
    Step::check(Sense::WRITE_ERROR)
}

fn read_failed(e: &crate::Error) -> Step {
    tracing::warn!(error = %e, "read failed");
    Step::check(Sense::READ_ERROR)
}

/// Asks for the blocks of `e`, checked, to go on with `then`.
fn read_blocks(unit: &LogicalUnit, e: Extent, then: Then) -> Step {
    match check_range(unit, e).and_then(|()| check_length(unit, e.blocks)) {
        Ok(len) => Step::io(IoOp::Read { lba: e.lba, len }, then),
        Err(s) => Step::check(s),
    }
}

/// READ (6/10/12/16).
pub(super) fn read(unit: &LogicalUnit, cdb: &[u8]) -> Step {
    let Some(e) = extent(cdb) else {
        return Step::check(Sense::INVALID_OPCODE);
    };
    if let Err(s) = check_protect(cdb) {
        return Step::check(s);
    }
    read_blocks(unit, e, Then::Read)
}

/// How many whole blocks of `data` to write for a command whose CDB asks
/// for `e.blocks`: fewer when the initiator sent less (its expected
/// transfer length was shorter), never a partial block.
fn blocks_sent(unit: &LogicalUnit, e: Extent, data: &[u8]) -> Result<u64, Sense> {
    let bs = unit.storage.block_size() as usize;
    if !data.len().is_multiple_of(bs) {
        return Err(Sense::INVALID_INFORMATION_UNIT);
    }
    Ok(e.blocks.min((data.len() / bs) as u64))
}

/// The extent a write-type command (WRITE, WRITE AND VERIFY, ORWRITE)
/// writes with the data sent, checked; `Err` is its answer (an error, or
/// GOOD when no whole block came).
fn write_extent(unit: &LogicalUnit, cdb: &[u8], data: &[u8]) -> Result<Extent, Completion> {
    let e = extent(cdb).ok_or(Completion::check(Sense::INVALID_OPCODE))?;
    check_protect(cdb)
        .and_then(|()| check_range(unit, e))
        .map_err(Completion::check)?;
    if unit.read_only {
        return Err(Completion::check(Sense::WRITE_PROTECTED));
    }
    match blocks_sent(unit, e, data) {
        Ok(0) => Err(Completion::good(Vec::new())),
        Ok(blocks) => Ok(Extent { lba: e.lba, blocks }),
        Err(s) => Err(Completion::check(s)),
    }
}

/// WRITE (6/10/12/16) and WRITE AND VERIFY (10/12/16) with their data.
pub(super) fn write(unit: &LogicalUnit, cdb: &[u8], data: &Bytes) -> Step {
    let e = match write_extent(unit, cdb, data) {
        Ok(e) => e,
        Err(answer) => return Step::Done(answer),
    };
    let len = (e.blocks * u64::from(unit.storage.block_size())) as usize;
    let verify = matches!(cdb[0], 0x2e | 0xae | 0x8e);
    let data = data.slice(..len);
    // BYTCHK: what was written is read back and compared.
    let compare = (verify && cdb[1] & 0x02 != 0).then(|| (e, data.clone()));
    let op = IoOp::Write {
        lba: e.lba,
        data,
        fua: fua(unit, cdb) || verify,
    };
    Step::io(op, Then::Written(compare))
}

/// Compares blocks read with `expected` (`repeat`: one block, compared
/// with every block); MISCOMPARE names the first differing byte.
fn compare(unit: &LogicalUnit, actual: &[u8], expected: &[u8], repeat: bool) -> Step {
    let bs = unit.storage.block_size() as usize;
    let differs = actual.iter().enumerate().position(|(i, b)| {
        let want = if repeat {
            expected[i % bs]
        } else {
            expected[i]
        };
        *b != want
    });
    match differs {
        Some(offset) => Step::check(Sense::miscompare(offset as u32)),
        None => Step::good(),
    }
}

/// VERIFY (10/12/16): the medium (BYTCHK 00b) or a comparison with the
/// data sent (01b: the whole extent, 11b: one block for every block).
pub(super) fn verify(unit: &LogicalUnit, cdb: &[u8], data: &Bytes) -> Step {
    let Some(e) = extent(cdb) else {
        return Step::check(Sense::INVALID_OPCODE);
    };
    if let Err(s) = check_protect(cdb).and_then(|()| check_range(unit, e)) {
        return Step::check(s);
    }
    if e.blocks == 0 {
        return Step::good();
    }
    let bs = unit.storage.block_size() as u64;
    let (expected_len, repeat) = match (cdb[1] >> 1) & 0x03 {
        0 => {
            return match check_length(unit, e.blocks) {
                Ok(_) => Step::good(),
                Err(s) => Step::check(s),
            };
        }
        1 => (e.blocks.saturating_mul(bs), false),
        3 => (bs, true),
        _ => return Step::check(Sense::INVALID_FIELD),
    };
    if data.len() as u64 != expected_len {
        return Step::check(Sense::INVALID_INFORMATION_UNIT);
    }
    let then = Then::Compare {
        expected: data.clone(),
        repeat,
    };
    read_blocks(unit, e, then)
}

/// ORWRITE (16): each block becomes itself OR the data sent.
pub(super) fn or_write(unit: &LogicalUnit, cdb: &[u8], data: &Bytes) -> Step {
    let e = match write_extent(unit, cdb, data) {
        Ok(e) => e,
        Err(answer) => return Step::Done(answer),
    };
    if let Err(s) = check_length(unit, e.blocks) {
        return Step::check(s);
    }
    let len = (e.blocks * u64::from(unit.storage.block_size())) as usize;
    let op = IoOp::OrWrite {
        lba: e.lba,
        data: data.slice(..len),
        fua: fua(unit, cdb),
    };
    Step::io(op, Then::Written(None))
}

/// COMPARE AND WRITE: the first half of the data is compared with the
/// blocks; only if all match is the second half written. Atomic with
/// respect to every other write of the unit. `announced`: the Data-Out
/// length the initiator announced.
pub(super) fn compare_and_write(
    unit: &LogicalUnit,
    cdb: &[u8],
    data: &Bytes,
    announced: usize,
) -> Step {
    let Some(e) = extent(cdb) else {
        return Step::check(Sense::INVALID_OPCODE);
    };
    if let Err(s) = check_protect(cdb).and_then(|()| check_range(unit, e)) {
        return Step::check(s);
    }
    if e.blocks > u64::from(MAX_COMPARE_AND_WRITE) {
        return Step::check(Sense::INVALID_FIELD);
    }
    if e.blocks == 0 {
        // Nothing to compare, but data offered for it: the count wrapped
        // (256 blocks do not fit the one-byte field) or is wrong.
        if announced > 0 {
            return Step::check(Sense::INVALID_FIELD);
        }
        return Step::good();
    }
    if unit.read_only {
        return Step::check(Sense::WRITE_PROTECTED);
    }
    let half = (e.blocks * u64::from(unit.storage.block_size())) as usize;
    if data.len() != 2 * half {
        return Step::check(Sense::INVALID_INFORMATION_UNIT);
    }
    let op = IoOp::CompareAndWrite {
        lba: e.lba,
        data: data.clone(),
        fua: fua(unit, cdb),
    };
    Step::io(op, Then::Compared { lba: e.lba })
}

/// WRITE SAME (10/16): one block written over the extent (all of the rest
/// of the unit when the count is 0), or, with the UNMAP bit on a thin
/// unit, the extent unmapped (it then reads as zeroes: LBPRZ).
pub(super) fn write_same(unit: &LogicalUnit, cdb: &[u8], data: &[u8]) -> Step {
    let Some(mut e) = extent(cdb) else {
        return Step::check(Sense::INVALID_OPCODE);
    };
    let sixteen = cdb[0] == 0x93;
    let (anchor, unmap, ndob) = (
        cdb[1] & 0x10 != 0,
        cdb[1] & 0x08 != 0,
        sixteen && cdb[1] & 0x01 != 0,
    );
    if let Err(s) = check_protect(cdb) {
        return Step::check(s);
    }
    if anchor || (ndob && !unmap) {
        return Step::check(Sense::INVALID_FIELD);
    }
    let count = unit.storage.block_count();
    if e.blocks == 0 {
        if e.lba > count {
            return Step::check(Sense::LBA_OUT_OF_RANGE);
        }
        e.blocks = count - e.lba;
    }
    if let Err(s) = check_range(unit, e) {
        return Step::check(s);
    }
    if unit.read_only {
        return Step::check(Sense::WRITE_PROTECTED);
    }
    let bs = unit.storage.block_size() as usize;
    let block: Vec<u8> = if ndob {
        vec![0; bs]
    } else if data.len() == bs {
        data.to_vec()
    } else {
        return Step::check(Sense::INVALID_INFORMATION_UNIT);
    };
    if unmap && !unit.storage.thin() {
        return Step::check(Sense::INVALID_FIELD);
    }
    let (lba, blocks) = (e.lba, e.blocks);
    if unmap {
        return Step::io(IoOp::Unmap { lba, blocks }, Then::FlushAfterWrite { lba });
    }
    if block.iter().all(|b| *b == 0) {
        let op = IoOp::WriteZeroes { lba, blocks };
        return Step::io(op, Then::FlushAfterWrite { lba });
    }
    // The block repeated, a megabyte at a time.
    let per = ((1usize << 20) / bs).max(1) as u64;
    let chunk = Bytes::from(block.repeat(per.min(blocks) as usize));
    write_same_next(unit, lba, lba, lba + blocks, chunk)
}

/// The next piece of a WRITE SAME, or the flush after the last.
fn write_same_next(unit: &LogicalUnit, lba: u64, at: u64, end: u64, chunk: Bytes) -> Step {
    if at >= end {
        return flush_after_write(unit, lba);
    }
    let bs = unit.storage.block_size() as usize;
    let n = ((chunk.len() / bs) as u64).min(end - at);
    let op = IoOp::Write {
        lba: at,
        data: chunk.slice(..n as usize * bs),
        fua: false,
    };
    let then = Then::WriteSame {
        lba,
        at: at + n,
        end,
        chunk,
    };
    Step::io(op, then)
}

/// Without the write cache, what was just written is made stable.
fn flush_after_write(unit: &LogicalUnit, lba: u64) -> Step {
    if unit.lock().wce {
        return Step::good();
    }
    Step::io(IoOp::Flush, Then::FlushedAfter { lba })
}

/// UNMAP with its parameter list of block descriptors.
pub(super) fn unmap(unit: &LogicalUnit, cdb: &[u8], data: &[u8]) -> Step {
    if cdb[1] & 0x01 != 0 {
        // ANCHOR: anchored blocks are not supported.
        return Step::check(Sense::INVALID_FIELD);
    }
    if data.is_empty() {
        return Step::good();
    }
    if data.len() < 8 {
        return Step::check(Sense::PARAMETER_LENGTH);
    }
    let declared = u16::from_be_bytes([data[2], data[3]]) as usize;
    let list = &data[8..];
    let usable = declared.min(list.len()) / 16;
    if usable as u32 > MAX_UNMAP_DESCRIPTORS {
        return Step::check(Sense::INVALID_FIELD);
    }
    if unit.read_only {
        return Step::check(Sense::WRITE_PROTECTED);
    }
    let mut extents = Vec::with_capacity(usable);
    for d in list.chunks_exact(16).take(usable) {
        let e = Extent {
            lba: be_u64(&d[0..8]),
            blocks: u64::from(be_u32(&d[8..12])),
        };
        if let Err(s) = check_range(unit, e) {
            return Step::check(s);
        }
        if e.blocks > 0 {
            extents.push(e);
        }
    }
    unmap_next(extents, 0)
}

fn unmap_next(extents: Vec<Extent>, next: usize) -> Step {
    let Some(e) = extents.get(next).copied() else {
        return Step::good();
    };
    let op = IoOp::Unmap {
        lba: e.lba,
        blocks: e.blocks,
    };
    Step::io(
        op,
        Then::Unmap {
            extents,
            next: next + 1,
        },
    )
}

/// GET LBA STATUS: mapped and deallocated runs from the given block on.
pub(super) fn lba_status(unit: &LogicalUnit, cdb: &[u8]) -> Step {
    let lba = be_u64(&cdb[2..10]);
    let alloc = be_u32(&cdb[10..14]) as usize;
    let count = unit.storage.block_count();
    if lba >= count {
        return Step::check(Sense::LBA_OUT_OF_RANGE);
    }
    // As many descriptors as the allocation length holds, at least one.
    let room = (alloc.saturating_sub(8) / 16).clamp(1, 64);
    lba_status_next(lba, count, room, Vec::new())
}

fn lba_status_next(at: u64, count: u64, room: usize, body: Vec<u8>) -> Step {
    if at < count && body.len() / 16 < room {
        let max = (count - at).min(u64::from(u32::MAX));
        let op = IoOp::Provisioning { lba: at, max };
        return Step::io(
            op,
            Then::LbaStatus {
                at,
                count,
                room,
                body,
            },
        );
    }
    let mut d = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    d.extend_from_slice(&[0; 4]);
    d.extend_from_slice(&body);
    Step::Done(Completion::good(d))
}

/// Goes on with a block command after its storage operation.
pub(super) fn resume(unit: &LogicalUnit, then: Then, result: crate::Result<IoDone>) -> Step {
    match (then, result) {
        (Then::Read, Ok(IoDone::Read(data))) => Step::Done(Completion::good(data)),
        (Then::Read | Then::Compare { .. }, Err(e)) => read_failed(&e),
        (Then::Written(Some((e, expected))), Ok(_)) => read_blocks(
            unit,
            e,
            Then::Compare {
                expected,
                repeat: false,
            },
        ),
        (Then::Written(None) | Then::FlushedAfter { .. }, Ok(_)) => Step::good(),
        (Then::FlushedAfter { lba } | Then::Compared { lba }, Err(e)) => write_failed(&e, lba),
        (Then::Compare { expected, repeat }, Ok(IoDone::Read(actual))) => {
            compare(unit, &actual, &expected, repeat)
        }
        (Then::Compared { .. }, Ok(IoDone::Compared(None))) => Step::good(),
        (Then::Compared { .. }, Ok(IoDone::Compared(Some(offset)))) => {
            Step::check(Sense::miscompare(offset as u32))
        }
        (
            Then::WriteSame {
                lba,
                at,
                end,
                chunk,
            },
            Ok(_),
        ) => write_same_next(unit, lba, at, end, chunk),
        (Then::WriteSame { lba, .. } | Then::FlushAfterWrite { lba }, Err(e)) => {
            write_failed(&e, lba)
        }
        (Then::FlushAfterWrite { lba }, Ok(_)) => flush_after_write(unit, lba),
        (Then::Unmap { extents, next }, Ok(_)) => unmap_next(extents, next),
        (
            Then::LbaStatus {
                at,
                count,
                room,
                mut body,
            },
            Ok(IoDone::Provisioning { mapped, run }),
        ) => {
            let max = (count - at).min(u64::from(u32::MAX));
            let run = run.clamp(1, max);
            body.extend_from_slice(&at.to_be_bytes());
            body.extend_from_slice(&(run as u32).to_be_bytes());
            body.extend_from_slice(&[u8::from(!mapped), 0, 0, 0]);
            lba_status_next(at + run, count, room, body)
        }
        (Then::LbaStatus { at, .. }, Err(e)) => {
            tracing::warn!(lba = at, error = %e, "provisioning status failed");
            Step::check(Sense::READ_ERROR)
        }
        (Then::Synchronize, Ok(_)) => Step::good(),
        (Then::Synchronize, Err(e)) => {
            tracing::warn!(error = %e, "flush failed");
            Step::check(Sense::WRITE_ERROR)
        }
        (Then::Saved, Ok(IoDone::Done)) => Step::good(),
        (Then::Saved, Ok(IoDone::Refused(refusal))) => Step::Done(super::refused(refusal)),
        (Then::Saved, Err(e)) => {
            // As LIO answers an APTPL file it could not write
            // (core_scsi3_update_and_write_aptpl:
            // TCM_LOGICAL_UNIT_COMMUNICATION_FAILURE, NOT READY 08h/00h in
            // its sense table), but unlike LIO the change did not take
            // effect: the initiator's view and the file still agree.
            tracing::error!(error = %e, "persistent reservations not saved: the change is not made");
            Step::check(Sense::COMMUNICATION_FAILURE)
        }
        (Then::Written(_) | Then::Unmap { .. }, Err(e)) => write_failed(&e, 0),
        (then, Ok(done)) => {
            // The driver answered another operation than the one asked.
            tracing::error!(?then, ?done, "storage answered the wrong operation");
            Step::check(Sense::INTERNAL_TARGET_FAILURE)
        }
    }
}

/// PRE-FETCH (10/16): the extent is checked; nothing is cached ahead (the
/// backstore's own cache decides), so the answer is GOOD, not CONDITION
/// MET.
pub fn prefetch(unit: &LogicalUnit, cdb: &[u8]) -> Completion {
    match extent(cdb).map(|e| check_range(unit, e)) {
        Some(Ok(())) => Completion::good(Vec::new()),
        Some(Err(s)) => Completion::check(s),
        None => Completion::check(Sense::INVALID_OPCODE),
    }
}

/// SYNCHRONIZE CACHE (10/16): every completed write made stable.
pub(super) fn synchronize(unit: &LogicalUnit, cdb: &[u8]) -> Step {
    if let Some(Err(s)) = extent(cdb).map(|e| check_range(unit, e)) {
        return Step::check(s);
    }
    Step::io(IoOp::Flush, Then::Synchronize)
}

/// READ CAPACITY (10) or, with `sixteen`, (16) with thin provisioning
/// (LBPME, LBPRZ) when the storage unmaps.
pub fn capacity(unit: &LogicalUnit, sixteen: bool) -> Completion {
    let s = &unit.storage;
    let last = s.block_count().saturating_sub(1);
    if !sixteen {
        let mut d = (last.min(u64::from(u32::MAX)) as u32)
            .to_be_bytes()
            .to_vec();
        d.extend_from_slice(&s.block_size().to_be_bytes());
        return Completion::good(d);
    }
    let mut d = vec![0u8; 32];
    d[..8].copy_from_slice(&last.to_be_bytes());
    d[8..12].copy_from_slice(&s.block_size().to_be_bytes());
    if s.thin() {
        d[14] = 0x80 | 0x40;
    }
    Completion::good(d)
}
