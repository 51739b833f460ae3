//! The block commands (SBC-3): READ, WRITE, WRITE AND VERIFY, VERIFY,
//! ORWRITE, WRITE SAME, UNMAP, COMPARE AND WRITE, GET LBA STATUS,
//! PRE-FETCH, SYNCHRONIZE CACHE and READ CAPACITY, over the unit's
//! [`BlockTarget`](crate::backstore::BlockTarget).
//!
//! Writes take the unit's atomic lock shared; COMPARE AND WRITE and
//! ORWRITE take it exclusively, so nothing lands between their read and
//! their write.

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

fn write_failed(e: crate::Error, lba: u64) -> Completion {
    tracing::warn!(lba, error = %e, "write failed");
    Completion::check(Sense::WRITE_ERROR)
}

async fn read_blocks(unit: &LogicalUnit, e: Extent) -> Result<Vec<u8>, Sense> {
    check_range(unit, e)?;
    let len = check_length(unit, e.blocks)?;
    let mut data = vec![0u8; len];
    if let Err(err) = unit.storage.read(e.lba, &mut data).await {
        tracing::warn!(lba = e.lba, blocks = e.blocks, error = %err, "read failed");
        return Err(Sense::READ_ERROR);
    }
    Ok(data)
}

/// READ (6/10/12/16).
pub async fn read(unit: &LogicalUnit, cdb: &[u8]) -> Completion {
    let Some(e) = extent(cdb) else {
        return Completion::check(Sense::INVALID_OPCODE);
    };
    if let Err(s) = check_protect(cdb) {
        return Completion::check(s);
    }
    match read_blocks(unit, e).await {
        Ok(data) => Completion::good(data),
        Err(s) => Completion::check(s),
    }
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
pub async fn write(unit: &LogicalUnit, cdb: &[u8], data: &[u8]) -> Completion {
    let e = match write_extent(unit, cdb, data) {
        Ok(e) => e,
        Err(answer) => return answer,
    };
    let len = (e.blocks * u64::from(unit.storage.block_size())) as usize;
    let verify = matches!(cdb[0], 0x2e | 0xae | 0x8e);
    let _shared = unit.atomic.read().await;
    if let Err(err) = unit
        .storage
        .write(e.lba, &data[..len], fua(unit, cdb) || verify)
        .await
    {
        return write_failed(err, e.lba);
    }
    if verify && cdb[1] & 0x02 != 0 {
        // BYTCHK: read back what was written and compare.
        return compare(unit, e, &data[..len], false).await;
    }
    Completion::good(Vec::new())
}

/// Compares the extent with `expected` (`repeat`: one block, compared
/// with every block); MISCOMPARE names the first differing byte.
async fn compare(unit: &LogicalUnit, e: Extent, expected: &[u8], repeat: bool) -> Completion {
    let actual = match read_blocks(unit, e).await {
        Ok(d) => d,
        Err(s) => return Completion::check(s),
    };
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
        Some(offset) => Completion::check(Sense::miscompare(offset as u32)),
        None => Completion::good(Vec::new()),
    }
}

/// VERIFY (10/12/16): the medium (BYTCHK 00b) or a comparison with the
/// data sent (01b: the whole extent, 11b: one block for every block).
pub async fn verify(unit: &LogicalUnit, cdb: &[u8], data: &[u8]) -> Completion {
    let Some(e) = extent(cdb) else {
        return Completion::check(Sense::INVALID_OPCODE);
    };
    if let Err(s) = check_protect(cdb).and_then(|()| check_range(unit, e)) {
        return Completion::check(s);
    }
    if e.blocks == 0 {
        return Completion::good(Vec::new());
    }
    let bs = unit.storage.block_size() as u64;
    match (cdb[1] >> 1) & 0x03 {
        0 => match check_length(unit, e.blocks) {
            Ok(_) => Completion::good(Vec::new()),
            Err(s) => Completion::check(s),
        },
        1 => {
            if data.len() as u64 != e.blocks.saturating_mul(bs) {
                return Completion::check(Sense::INVALID_INFORMATION_UNIT);
            }
            compare(unit, e, data, false).await
        }
        3 => {
            if data.len() as u64 != bs {
                return Completion::check(Sense::INVALID_INFORMATION_UNIT);
            }
            compare(unit, e, data, true).await
        }
        _ => Completion::check(Sense::INVALID_FIELD),
    }
}

/// ORWRITE (16): each block becomes itself OR the data sent.
pub async fn or_write(unit: &LogicalUnit, cdb: &[u8], data: &[u8]) -> Completion {
    let e = match write_extent(unit, cdb, data) {
        Ok(e) => e,
        Err(answer) => return answer,
    };
    let _exclusive = unit.atomic.write().await;
    let mut current = match read_blocks(unit, e).await {
        Ok(d) => d,
        Err(s) => return Completion::check(s),
    };
    for (c, d) in current.iter_mut().zip(data) {
        *c |= d;
    }
    match unit.storage.write(e.lba, &current, fua(unit, cdb)).await {
        Ok(()) => Completion::good(Vec::new()),
        Err(err) => write_failed(err, e.lba),
    }
}

/// COMPARE AND WRITE: the first half of the data is compared with the
/// blocks; only if all match is the second half written. Atomic with
/// respect to every other write of the unit. `announced`: the Data-Out
/// length the initiator announced.
pub async fn compare_and_write(
    unit: &LogicalUnit,
    cdb: &[u8],
    data: &[u8],
    announced: usize,
) -> Completion {
    let Some(e) = extent(cdb) else {
        return Completion::check(Sense::INVALID_OPCODE);
    };
    if let Err(s) = check_protect(cdb).and_then(|()| check_range(unit, e)) {
        return Completion::check(s);
    }
    if e.blocks > u64::from(MAX_COMPARE_AND_WRITE) {
        return Completion::check(Sense::INVALID_FIELD);
    }
    if e.blocks == 0 {
        // Nothing to compare, but data offered for it: the count wrapped
        // (256 blocks do not fit the one-byte field) or is wrong.
        if announced > 0 {
            return Completion::check(Sense::INVALID_FIELD);
        }
        return Completion::good(Vec::new());
    }
    if unit.read_only {
        return Completion::check(Sense::WRITE_PROTECTED);
    }
    let half = (e.blocks * u64::from(unit.storage.block_size())) as usize;
    if data.len() != 2 * half {
        return Completion::check(Sense::INVALID_INFORMATION_UNIT);
    }
    let (expected, new) = data.split_at(half);
    let _exclusive = unit.atomic.write().await;
    match unit
        .storage
        .compare_and_write(e.lba, expected, new, fua(unit, cdb))
        .await
    {
        Ok(None) => Completion::good(Vec::new()),
        Ok(Some(offset)) => Completion::check(Sense::miscompare(offset as u32)),
        Err(err) => write_failed(err, e.lba),
    }
}

/// WRITE SAME (10/16): one block written over the extent (all of the rest
/// of the unit when the count is 0), or, with the UNMAP bit on a thin
/// unit, the extent unmapped (it then reads as zeroes: LBPRZ).
pub async fn write_same(unit: &LogicalUnit, cdb: &[u8], data: &[u8]) -> Completion {
    let Some(mut e) = extent(cdb) else {
        return Completion::check(Sense::INVALID_OPCODE);
    };
    let sixteen = cdb[0] == 0x93;
    let (anchor, unmap, ndob) = (
        cdb[1] & 0x10 != 0,
        cdb[1] & 0x08 != 0,
        sixteen && cdb[1] & 0x01 != 0,
    );
    if let Err(s) = check_protect(cdb) {
        return Completion::check(s);
    }
    if anchor || (ndob && !unmap) {
        return Completion::check(Sense::INVALID_FIELD);
    }
    let count = unit.storage.block_count();
    if e.blocks == 0 {
        if e.lba > count {
            return Completion::check(Sense::LBA_OUT_OF_RANGE);
        }
        e.blocks = count - e.lba;
    }
    if let Err(s) = check_range(unit, e) {
        return Completion::check(s);
    }
    if unit.read_only {
        return Completion::check(Sense::WRITE_PROTECTED);
    }
    let bs = unit.storage.block_size() as usize;
    let block: Vec<u8> = if ndob {
        vec![0; bs]
    } else if data.len() == bs {
        data.to_vec()
    } else {
        return Completion::check(Sense::INVALID_INFORMATION_UNIT);
    };
    if unmap && !unit.storage.thin() {
        return Completion::check(Sense::INVALID_FIELD);
    }
    let _shared = unit.atomic.read().await;
    let zeroes = block.iter().all(|b| *b == 0);
    let result = if unmap {
        unit.storage.unmap(e.lba, e.blocks).await
    } else if zeroes {
        unit.storage.write_zeroes(e.lba, e.blocks).await
    } else {
        // The block repeated, a megabyte at a time.
        let per = ((1usize << 20) / bs).max(1) as u64;
        let chunk: Vec<u8> = block.repeat(per.min(e.blocks) as usize);
        let mut at = e.lba;
        let end = e.lba + e.blocks;
        let mut result = Ok(());
        while at < end && result.is_ok() {
            let n = per.min(end - at);
            result = unit
                .storage
                .write(at, &chunk[..n as usize * bs], false)
                .await;
            at += n;
        }
        result
    };
    let result = match result {
        Ok(()) if !unit.lock().wce => unit.storage.flush().await,
        other => other,
    };
    match result {
        Ok(()) => Completion::good(Vec::new()),
        Err(err) => write_failed(err, e.lba),
    }
}

/// UNMAP with its parameter list of block descriptors.
pub async fn unmap(unit: &LogicalUnit, cdb: &[u8], data: &[u8]) -> Completion {
    if cdb[1] & 0x01 != 0 {
        // ANCHOR: anchored blocks are not supported.
        return Completion::check(Sense::INVALID_FIELD);
    }
    if data.is_empty() {
        return Completion::good(Vec::new());
    }
    if data.len() < 8 {
        return Completion::check(Sense::PARAMETER_LENGTH);
    }
    let declared = u16::from_be_bytes([data[2], data[3]]) as usize;
    let list = &data[8..];
    let usable = declared.min(list.len()) / 16;
    if usable as u32 > MAX_UNMAP_DESCRIPTORS {
        return Completion::check(Sense::INVALID_FIELD);
    }
    if unit.read_only {
        return Completion::check(Sense::WRITE_PROTECTED);
    }
    let mut extents = Vec::with_capacity(usable);
    for d in list.chunks_exact(16).take(usable) {
        let e = Extent {
            lba: be_u64(&d[0..8]),
            blocks: u64::from(be_u32(&d[8..12])),
        };
        if let Err(s) = check_range(unit, e) {
            return Completion::check(s);
        }
        extents.push(e);
    }
    let _shared = unit.atomic.read().await;
    for e in extents.into_iter().filter(|e| e.blocks > 0) {
        if let Err(err) = unit.storage.unmap(e.lba, e.blocks).await {
            return write_failed(err, e.lba);
        }
    }
    Completion::good(Vec::new())
}

/// GET LBA STATUS: mapped and deallocated runs from the given block on.
pub async fn lba_status(unit: &LogicalUnit, cdb: &[u8]) -> Completion {
    let lba = be_u64(&cdb[2..10]);
    let alloc = be_u32(&cdb[10..14]) as usize;
    let count = unit.storage.block_count();
    if lba >= count {
        return Completion::check(Sense::LBA_OUT_OF_RANGE);
    }
    // As many descriptors as the allocation length holds, at least one.
    let room = (alloc.saturating_sub(8) / 16).clamp(1, 64);
    let mut body = Vec::new();
    let mut at = lba;
    while at < count && body.len() / 16 < room {
        let max = (count - at).min(u64::from(u32::MAX));
        let (mapped, run) = match unit.storage.provisioning(at, max).await {
            Ok(r) => r,
            Err(err) => {
                tracing::warn!(lba = at, error = %err, "provisioning status failed");
                return Completion::check(Sense::READ_ERROR);
            }
        };
        let run = run.clamp(1, max);
        body.extend_from_slice(&at.to_be_bytes());
        body.extend_from_slice(&(run as u32).to_be_bytes());
        body.extend_from_slice(&[u8::from(!mapped), 0, 0, 0]);
        at += run;
    }
    let mut d = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    d.extend_from_slice(&[0; 4]);
    d.extend_from_slice(&body);
    Completion::good(d)
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
pub async fn synchronize(unit: &LogicalUnit, cdb: &[u8]) -> Completion {
    if let Some(Err(s)) = extent(cdb).map(|e| check_range(unit, e)) {
        return Completion::check(s);
    }
    match unit.storage.flush().await {
        Ok(()) => Completion::good(Vec::new()),
        Err(e) => {
            tracing::warn!(error = %e, "flush failed");
            Completion::check(Sense::WRITE_ERROR)
        }
    }
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
